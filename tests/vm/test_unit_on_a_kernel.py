"""The installed unit, every sandbox option in force, on a real kernel's GPIO: real pins, no mock.

tests/system/test_unit_in_container.py runs the unit under real systemd, but this machine's
kernel has no GPIO, so there the pins are gpiozero's MockFactory and ``DeviceAllow=char-gpiochip``
resolves to nothing. Here the same container (systemd-nspawn, the host's systemd 252 as its PID 1,
the tree ``install.sh --root`` lays out) boots inside tests/vm's kernel, which has a gpio-sim chip
labelled like the Zero 2 W's as /dev/gpiochip0. The service runs as installed (``--pins real``): its
drop-in only adds the emulated OLED and a Pi's /proc/cpuinfo (the x86 kernel has no board revision).
The test presses button A by pulling GPIO17 low on the chip, from outside the container.

Shown: the unit's device policy lets libgpiod open the chip (``DeviceAllow=char-gpiochip`` resolves
on this kernel), its seccomp filter lets it request lines and wait for edges, the kernel's edge
reaches the session (the routine starts and its journal is written), and the negative control: with
``DeviceAllow=char-gpiochip`` taken out, the same service is refused the chip (EPERM) and says so.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import uuid

from tests.system import test_unit_in_container as box
from tests.vm import kernel

DROPIN = f"""\
# tests/vm/test_unit_on_a_kernel.py: the OLED (emulated, as in tests/system) and a Pi's board revision.
[Service]
Environment=PYTHONPATH={box.TEST_DIR}/tests/doubles/site
Environment='STRETCHBOX_EMULATED_I2C={{"chip": "ssd1306", "panel_log": "{box.PANEL_LOG}"}}'
BindReadOnlyPaths={box.TEST_DIR}/fixtures/pi-cpuinfo:/proc/cpuinfo
"""
NO_GPIO_DROPIN = """\
# The negative control: the device policy without the GPIO chip.
[Service]
DeviceAllow=
DeviceAllow=char-i2c rw
"""


def test_the_installed_unit_runs_on_the_kernels_gpio_and_its_device_policy_is_what_allows_it(tmp_path):
    reason = box.why_not()
    if reason:
        import pytest

        if os.environ.get("CI") == "true":
            pytest.fail(f"CI must run the unit on a real kernel: {reason}")
        pytest.skip(reason)
    kernel.require()
    tree = tmp_path / "tree"
    root, units, fixtures, users = tree / "root", tree / "root/etc/systemd/system", tree / "fixtures", tree / "users"
    box.install_tree(root)
    box.complete_venv(root)
    subprocess.run(["systemctl", f"--root={root}", "enable", box.UNIT], check=True, capture_output=True, timeout=60)
    (units / f"{box.UNIT}.d").mkdir()
    (units / f"{box.UNIT}.d/50-test-on-a-kernel.conf").write_text(DROPIN)
    # The control: the installed unit under another name, the same drop-in, and the GPIO left out.
    shutil.copy(units / box.UNIT, units / "stretchbox-no-gpio.service")
    (units / "stretchbox-no-gpio.service.d").mkdir()
    (units / "stretchbox-no-gpio.service.d/50-test-on-a-kernel.conf").write_text(DROPIN + NO_GPIO_DROPIN)
    fixtures.mkdir()
    (fixtures / "pi-cpuinfo").write_text(box.PI_CPUINFO)
    box.make_users(tree / "sysusers.conf", box.DEVICE_USERS, users)
    (tree / "machine-id").write_text(uuid.uuid4().hex + "\n")
    # Read-only in the VM: everything made above. Written there: the state and the journal (tmpfs).
    argv = ["systemd-nspawn", "-D", "/", "--volatile=yes", "--register=no", "--keep-unit", "--console=pipe",
            "-q", "--system-call-filter=bpf", f"--machine=stretchbox-vm-{uuid.uuid4().hex[:8]}",
            f"--bind-ro={root}/opt/stretchbox:/opt/stretchbox",
            f"--bind-ro={root}/etc/stretchbox:/etc/stretchbox",
            f"--bind-ro={units}:/etc/systemd/system",
            f"--bind-ro={tree}/sysusers.conf:/etc/sysusers.d/stretchbox.conf",
            f"--bind-ro={tree}/machine-id:/etc/machine-id",
            *(f"--bind-ro={users}/etc/{name}:/etc/{name}" for name in box.USER_FILES),
            f"--bind-ro={kernel.ROOT}/tests:{box.TEST_DIR}/tests",
            f"--bind-ro={fixtures}:{box.TEST_DIR}/fixtures",
            "--bind=/dev/gpiochip0",
            "-b", "systemd.firstboot=off"]
    (tmp_path / "argv.json").write_text(json.dumps(argv))
    boot = kernel.boot(f'{kernel.SIM_CHIP}\n"$PY" tests/vm/guest_unit.py {tmp_path / "argv.json"} "$OUT/result.json"', tmp_path / "vm",
                       memory_mb=1536)
    assert boot.status == 0, boot.output
    result = json.loads((boot.out / "result.json").read_text())

    # The unit as installed: the device policy names the chip, and this kernel registers that name.
    words = result["device_allow"].split()
    allowed = set(zip(words[::2], words[1::2]))  # ProtectClock=yes adds char-rtc r
    assert {("char-i2c", "rw"), ("char-gpiochip", "rw")} <= allowed, result["device_allow"]
    assert "gpiochip" in result["proc_devices"]
    # The service opened the chip through libgpiod inside its sandbox, and a press on GPIO17 started the
    # routine: a new frame on the panel, and the resume journal written to its state directory.
    assert "GPIO: /dev/gpiochip0 (pinctrl-bcm2835) through libgpiod" in result["journal"], result["journal"]
    assert "libgpiod cannot be used" not in result["journal"]
    assert result["frames_after_press"] > result["frames_before_press"], result
    assert result["journal_file"] == "present", result
    assert result["active"] == "active", result
    # The control: the same unit without DeviceAllow=char-gpiochip is refused the chip by the policy.
    assert "GPIO: libgpiod cannot be used ([Errno 1] /dev/gpiochip0: Operation not permitted)" in \
        result["control_journal"], result["control_journal"]
