"""Inside tests/vm's VM, as root: boot the container tests/vm/test_unit_on_a_kernel.py laid out, press
button A on the gpio-sim chip, and write what was seen as JSON. Usage: guest_unit.py ARGV_JSON OUT_JSON.

Not named test_*: the host's pytest does not collect it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from tests.system.test_unit_in_container import UNIT, booted, wait_until  # noqa: E402
from tests.vm.guest_gpiochip import CONFIGFS, SimChip  # noqa: E402

CONTROL = "stretchbox-no-gpio.service"
BOOT_TIMEOUT = 300  # s: systemd and Python on an emulated CPU


def writable_tmp(paths: list[str]) -> None:
    """nspawn's --volatile root needs a writable /tmp; the host's is read-only here. A tmpfs goes over it,
    with the host folders the container binds (pytest's tmp_path, perhaps the project) bound back."""
    os.makedirs("/run/hosttmp", exist_ok=True)
    subprocess.run(["mount", "--bind", "/tmp", "/run/hosttmp"], check=True)
    subprocess.run(["mount", "-t", "tmpfs", "tmpfs", "/tmp"], check=True)
    for top in sorted({Path(p).parts[2] for p in paths if Path(p).parts[:2] == ("/", "tmp")}):
        os.makedirs(f"/tmp/{top}")
        subprocess.run(["mount", "--bind", f"/run/hosttmp/{top}", f"/tmp/{top}"], check=True)


def main() -> None:
    argv = json.loads(Path(sys.argv[1]).read_text())
    out: dict = {}
    binds = [a.split("=", 1)[1].split(":")[0] for a in argv if a.startswith("--bind")]
    writable_tmp(binds + [str(Path(__file__).resolve())])
    state = Path("/run/state")
    state.mkdir()
    at = argv.index("-b")
    argv = argv[:at] + [f"--bind={state}:/var/lib/stretchbox"] + argv[at:]
    chip = SimChip(CONFIGFS / "pi")  # made by the boot script (kernel.SIM_CHIP)
    out["proc_devices"] = Path("/proc/devices").read_text()
    # What a Pi's udev rules make of the node (root:gpio, 0660); the VM has no udev. The group's number
    # is the container's (its /etc/group is bound in).
    group_file = next(a.split("=", 1)[1].split(":")[0] for a in argv if a.endswith(":/etc/group"))
    gpio_gid = next(int(f[2]) for f in (line.split(":") for line in Path(group_file).read_text().splitlines())
                    if f[0] == "gpio")
    os.chown("/dev/gpiochip0", 0, gpio_gid)
    os.chmod("/dev/gpiochip0", 0o660)
    os.environ["SYSTEMD_NSPAWN_UNIFIED_HIERARCHY"] = "1"
    console = Path("/run/console.log")
    try:
        with booted(argv, console, state, Path("/run"), boot_timeout=BOOT_TIMEOUT) as c:
            see(c, state, chip, out)
    finally:
        Path(sys.argv[2]).with_name("console.txt").write_text(console.read_text() if console.exists() else "")
    Path(sys.argv[2]).write_text(json.dumps(out))


def see(c, state: Path, chip: SimChip, out: dict) -> None:
    """Start the service, press A, read what happened; then the control."""
    out["device_allow"] = " ".join(line.split("=", 1)[1] for line in c.systemctl(
        "show", UNIT, "-p", "DeviceAllow").stdout.splitlines())
    started = c.systemctl("start", UNIT, check=False, timeout=BOOT_TIMEOUT)  # Type=notify: after the first frame
    out["start"] = started.returncode
    if started.returncode != 0:
        out["journal"] = c.journal(UNIT) + c.journal()[-6000:]
        return
    out["frames_before_press"] = len(c.panel())
    chip.drive(17, False)  # button A down ...
    time.sleep(0.3)
    chip.drive(17, True)  # ... and up
    try:
        wait_until(lambda: (state / "journal.json").exists() and len(c.panel()) > out["frames_before_press"],
                   60, "the routine to start")
    except AssertionError:
        pass
    out["frames_after_press"] = len(c.panel())
    out["journal_file"] = "present" if (state / "journal.json").exists() else "missing"
    out["active"] = c.show(UNIT, "ActiveState")["ActiveState"]
    out["journal"] = c.journal(UNIT)
    c.systemctl("stop", UNIT, timeout=BOOT_TIMEOUT)
    c.systemctl("start", CONTROL, check=False, timeout=BOOT_TIMEOUT)
    try:
        c.wait_journal("libgpiod cannot be used", unit=CONTROL, timeout=BOOT_TIMEOUT)
    except AssertionError:
        pass
    out["control_journal"] = c.journal(CONTROL)


if __name__ == "__main__":
    main()
