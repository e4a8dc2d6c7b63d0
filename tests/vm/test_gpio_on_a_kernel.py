"""The pins through libgpiod on a real kernel: tests/vm/guest_gpiochip.py, run inside the VM of
tests/vm/kernel.py against gpio-sim chips. Each of its tests must pass there; none may be skipped."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from tests.vm import kernel


def test_the_pins_pass_every_test_on_a_real_kernel(tmp_path):
    kernel.require()
    # LG_WD: lgpio (the passive buzzer's pins) makes its notification pipe there, not in the read-only cwd.
    boot = kernel.boot('LG_WD="$TMPDIR" "$PY" -m pytest -q -p no:cacheprovider tests/vm/guest_gpiochip.py '
                       '--junitxml="$OUT/junit.xml"', tmp_path)
    assert boot.status == 0, boot.output
    suite = ET.parse(boot.out / "junit.xml").getroot().find("testsuite")
    counts = {k: int(suite.get(k)) for k in ("tests", "failures", "errors", "skipped")}
    assert counts == {"tests": 12, "failures": 0, "errors": 0, "skipped": 0}, boot.output
