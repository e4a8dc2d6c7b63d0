"""A real Linux kernel under QEMU, with a simulated GPIO chip: for the tests that must reach the
kernel's GPIO character device (line requests, edge events, the kernel's debounce).

This machine's own kernel has no gpio-sim and loads no modules. tests/vm/build.sh builds
Debian's stock kernel, gpio-sim, and an initramfs into ``.vm/``; ``boot()`` starts it with
the host's root shared read-only (so the project's venv runs in it as it is) and a scratch
folder shared read-write, runs a shell script there as root, and returns its exit status and
output. QEMU emulates the CPU (TCG): this machine's KVM does not run a nested guest. A boot
takes ~6 s; Python in it runs ~3x slower than here.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
VM_DIR = ROOT / ".vm"
PYTHON = Path(os.environ.get("VIRTUAL_ENV") or ROOT / ".venv") / "bin" / "python"

# A Pi Zero 2 W's board revision, for gpiozero's board detection (LocalPiFactory reads it from
# /proc/cpuinfo when there is no device tree): bind-mounted over the guest's /proc/cpuinfo.
ZERO_2_W_CPUINFO = "processor\t: 0\nHardware\t: BCM2835\nRevision\t: 902120\nModel\t\t: Raspberry Pi Zero 2 W Rev 1.0\n"

# Before the script: the board revision over /proc/cpuinfo. gpio-sim chips are made by the script
# (tests/vm/guest_gpiochip.py SimChip; SIM_CHIP makes the one chip a Zero 2 W has).
SETUP = r"""
printf '%s' "$CPUINFO" > /run/cpuinfo && mount --bind /run/cpuinfo /proc/cpuinfo
"""
SIM_CHIP = '"$PY" -c "from tests.vm.guest_gpiochip import SimChip; SimChip.make(\'pi\', \'pinctrl-bcm2835\')"'



@dataclass
class Boot:
    status: int
    output: str  # the script's stdout and stderr
    out: Path  # the shared folder: what the script left there


def unavailable() -> str | None:
    """Why the VM cannot run here, or None."""
    if shutil.which("qemu-system-x86_64") is None and os.geteuid() != 0:
        return "qemu-system-x86_64 is not installed (and apt-get needs root)"
    if os.uname().machine != "x86_64":
        return "the VM is Debian's amd64 kernel"
    return None


def prepare() -> str | None:
    """Build the VM once (tests/vm/build.sh): None when it is ready, else why not."""
    reason = unavailable()
    if reason is None:
        result = subprocess.run(["bash", str(ROOT / "tests/vm/build.sh"), str(VM_DIR)],
                                capture_output=True, text=True)
        if result.returncode != 0:
            reason = f"tests/vm/build.sh failed:\n{result.stderr[-3000:]}"
    return reason


def require() -> None:
    """``prepare()`` for a test: skip when the VM cannot be built, but fail under CI=true."""
    reason = prepare()
    if reason is not None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI must run the GPIO tests on a real kernel: {reason}")
        pytest.skip(reason)


def boot(script: str, out: Path, *, timeout: float = 900, memory_mb: int = 1024) -> Boot:
    """Run ``script`` (sh) as root in the VM, after SETUP, with ``$PY`` (the venv's Python),
    ``$ROOT`` (the project) and ``$OUT`` (``out``, shared read-write) set; cwd is ``$ROOT``; ``$TMPDIR``
    a tmpfs. The host's files are read-only in the VM."""
    out.mkdir(parents=True, exist_ok=True)
    for name in ("status", "console.log"):
        (out / name).unlink(missing_ok=True)
    (out / "run.sh").write_text(
        f"export PY={PYTHON} ROOT={ROOT} OUT=/run/out CPUINFO='{ZERO_2_W_CPUINFO}'\n"
        f"{SETUP}\ncd \"$ROOT\"\n{script}\n")
    command = [
        "qemu-system-x86_64", "-accel", "tcg", "-cpu", "max", "-smp", "2", "-m", str(memory_mb),
        "-nographic", "-no-reboot", "-net", "none",
        "-kernel", str(VM_DIR / "vmlinuz"), "-initrd", str(VM_DIR / "initramfs.gz"),
        "-append", "console=ttyS0 quiet panic=-1",
        "-virtfs", "local,path=/,mount_tag=host,security_model=none,readonly=on,multidevs=remap",
        "-virtfs", f"local,path={out},mount_tag=out,security_model=none",
    ]
    try:
        qemu = subprocess.run(command, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        pytest.fail(f"the VM ran over {timeout} s; its output so far:\n{_read(out / 'console.log')}")
    status = _read(out / "status").strip()
    if not status:
        pytest.fail(f"the VM stopped without running the script (qemu {qemu.returncode}):\n{qemu.stdout[-3000:]}"
                    f"{qemu.stderr[-2000:]}")
    return Boot(int(status), _read(out / "console.log"), out)


def _read(path: Path) -> str:
    try:
        return path.read_text(errors="replace")
    except FileNotFoundError:
        return ""
