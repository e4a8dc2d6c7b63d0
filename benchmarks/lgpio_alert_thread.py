"""Wake-ups of lgpio's own threads (alerts, tx) with one watched line: what `--pins mock` cannot show.

gpiozero's LGPIOFactory (the default on a Pi) watches every input with
``lgpio.gpio_claim_alert``; lgpio's C library then runs ``lgPthAlert``, which
calls ``ppoll`` on the watched lines with a 0.5 ms timeout (``tspec = {0, 5e5}``
in lgPthAlerts.c) as long as one alert is active: it implements debounce and
watchdog by looking at the clock, so it never blocks for long. Off a Pi there is
no /dev/gpiochip, so this script runs that compiled thread against a stand-in:
an alert record whose line fd is the read end of a pipe (the thread only polls
and reads it), and counts the thread's voluntary context switches. It also
starts lgpio's tx thread (``lgPthTxStart``, which ``lgGpiochipOpen`` starts on
every chip opened: PWM and waves) and counts its wake-ups with nothing to send.

Not part of ``make bench`` (it needs lgpio's extension module: the test extra installs it
on x86_64 Linux, python3-lgpio on a Pi): ``python benchmarks/lgpio_alert_thread.py [PATH/_lgpio*.so] [--seconds S]``.
The real kernel and the real lgpio, in a VM: ``benchmarks/bench_pins_on_a_kernel.py``.
"""

from __future__ import annotations

import argparse
import ctypes
import os
import time
from pathlib import Path


class LineInf(ctypes.Structure):
    """lgLineInf_t from lgGpio.h (the fields the alert thread reads: fd, eFlags, debounce, watchdog)."""

    _fields_ = [("banned", ctypes.c_int), ("mode", ctypes.c_int), ("lFlags", ctypes.c_int),
                ("eFlags", ctypes.c_int), ("group_size", ctypes.c_int), ("fd", ctypes.c_int),
                ("debounce_us", ctypes.c_int), ("watchdog_us", ctypes.c_int), ("alertFunc", ctypes.c_void_p),
                ("userdata", ctypes.c_void_p), ("offset", ctypes.c_uint32), ("offsets", ctypes.c_void_p),
                ("values", ctypes.c_void_p)]


def switches(tid: int) -> int:
    for line in Path(f"/proc/self/task/{tid}/status").read_text().splitlines():
        if line.startswith("voluntary_ctxt_switches:"):
            return int(line.split()[1])
    raise LookupError(tid)


def cpu_seconds(tid: int) -> float:
    fields = Path(f"/proc/self/task/{tid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("library", nargs="?", help="lgpio's _lgpio extension (default: import _lgpio)")
    parser.add_argument("--seconds", type=float, default=5.0)
    args = parser.parse_args()
    if args.library is None:
        import _lgpio  # noqa: F401  (lgpio's extension: the C library is linked into it)

        args.library = _lgpio.__file__
    lib = ctypes.CDLL(args.library)
    lib.lgGpioCreateAlertRec.restype = ctypes.c_void_p
    lib.lgGpioCreateAlertRec.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.POINTER(LineInf), ctypes.c_int]

    read_end, write_end = os.pipe()
    chip = ctypes.create_string_buffer(4096)  # lgChipObj_t: read only when an edge is reported
    # Both edges, as gpiozero asks. lgpio releases differ by an int before ``fd`` (``banned``): the
    # pipe goes in both places, so ``fd`` is the pipe whichever layout the library was built with;
    # no debounce and no watchdog, so the thread never reports and never reads the dummy chip.
    line = LineInf(eFlags=3, group_size=read_end, fd=read_end)
    before = {int(t) for t in os.listdir("/proc/self/task")}
    lib.lgPthAlertStart()
    time.sleep(0.2)
    (tid,) = {int(t) for t in os.listdir("/proc/self/task")} - before
    idle_before = switches(tid)
    time.sleep(1.0)
    waiting = switches(tid) - idle_before  # no alert yet: the thread waits on a condition variable
    lib.lgGpioCreateAlertRec(chip, 17, ctypes.byref(line), -1)  # what gpio_claim_alert does last
    time.sleep(0.2)
    n0, c0, t0 = switches(tid), cpu_seconds(tid), time.monotonic()
    time.sleep(args.seconds)
    n1, c1, t1 = switches(tid), cpu_seconds(tid), time.monotonic()
    print(f"lgpio alert thread ({Path(args.library).name}): {waiting} wake-ups in 1 s with no alert; "
          f"{(n1 - n0) / (t1 - t0):.0f} wake-ups/s with one watched line and no edge, "
          f"over {t1 - t0:.1f} s, using {(c1 - c0) / (t1 - t0) * 100:.1f} % of a core (this machine)")
    before = {int(t) for t in os.listdir("/proc/self/task")}
    lib.lgPthTxStart()
    time.sleep(0.2)
    (tx,) = {int(t) for t in os.listdir("/proc/self/task")} - before
    n0, t0 = switches(tx), time.monotonic()
    time.sleep(args.seconds)
    n1, t1 = switches(tx), time.monotonic()
    print(f"lgpio tx thread: {(n1 - n0) / (t1 - t0):.0f} wake-ups/s with nothing to send")
    os._exit(0)  # the C thread polls a record on this stack's objects: leave without tearing down


if __name__ == "__main__":
    main()
