"""Wake-ups of the real program on real pins: a real kernel's GPIO character device (gpio-sim), libgpiod vs lgpio.

``bench_wakeups.py`` measures with mock pins, which start no thread of their own. This one
boots tests/vm's kernel (QEMU, the CPU emulated) with a gpio-sim chip labelled like the Pi
Zero 2 W's, and there runs ``stretchbox run --display dummy --pins real``, idle and running
(``--start``), once on the device's pins (libgpiod, adapters/gpiochip.py) and once on
gpiozero's default factory on a Pi, lgpio (``GPIOZERO_PIN_FACTORY=lgpio``). The lines can
have one owner at a time, so the four runs go one after another, each beside its own
baseline (the venv's Python in ``queue.get(timeout=1)``) over the same window.
Wake-ups as in bench_wakeups.py: voluntary context switches summed over all threads.

Run: ``python benchmarks/bench_pins_on_a_kernel.py [--duration S]`` (default 20 s per run;
about 4 min in all with the boot). Needs what tests/vm/build.sh needs (root for apt-get, once).
On a Pi, ``--here`` runs the same four on its own pins, no VM (stop the service first: a line
has one owner; the lgpio runs need python3-lgpio).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
VARIANTS = (("libgpiod", "idle"), ("libgpiod", "running"), ("lgpio", "idle"), ("lgpio", "running"))
TARGETS = {"idle": 1.5, "running": 3.0}


def here(duration: float, warmup: float) -> None:
    """On this machine's real pins (the VM's, or a Pi's): each variant beside a baseline, one after
    the other; one line each."""
    sys.path.insert(0, str(HERE))
    from bench_wakeups import start, stop, switches

    options = ["--display", "dummy", "--pins", "real"]
    print(f"wake-ups/s over {duration:.0f} s after {warmup:.0f} s of warm-up, stretchbox run {' '.join(options)}; "
          f"{os.uname().release}, {os.uname().machine}")
    print(f"{'pins':<9} {'state':<8} {'threads':>7} {'per s':>8} {'baseline':>8} {'target':>12}")
    for pins, state in VARIANTS:
        os.environ.pop("GPIOZERO_PIN_FACTORY", None)
        if pins == "lgpio":
            os.environ["GPIOZERO_PIN_FACTORY"] = "lgpio"
        with tempfile.TemporaryDirectory() as tmpdir:
            procs = {}
            for name in ("baseline", state):
                cwd = Path(tmpdir) / name
                cwd.mkdir()
                procs[name] = start(name, cwd, options)
            try:
                time.sleep(warmup)
                for name, (proc, _) in procs.items():
                    if proc.poll() is not None:
                        raise SystemExit(f"{pins} {name}: exited {proc.returncode}: "
                                         f"{(Path(tmpdir) / name / 'stderr').read_text()}")
                before = {name: switches(proc.pid) for name, (proc, _) in procs.items()}
                t0 = time.monotonic()
                time.sleep(duration)
                after = {name: switches(proc.pid) for name, (proc, _) in procs.items()}
                window = time.monotonic() - t0
                log = (Path(tmpdir) / state / "stderr").read_text()
            finally:
                stop(procs, timeout=30)
        rate = {name: sum(after[name][t] - before[name].get(t, 0) for t in after[name]) / window for name in procs}
        verdict = f"<= {TARGETS[state]:g} {'ok' if rate[state] <= TARGETS[state] else 'MISSED'}"
        print(f"{pins:<9} {state:<8} {len(after[state]):>7} {rate[state]:>8.2f} {rate['baseline']:>8.2f} "
              f"{verdict:>12}")
        used = [line for line in log.splitlines() if "GPIO:" in line]
        print(f"{'':<9} {used[0] if used else 'no GPIO line in the log'}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=20.0, help="seconds measured per run (default 20)")
    # Start-up in the VM reads every module over 9p on an emulated CPU, ~10 s, and each read is a
    # wake-up: the window starts well after it.
    parser.add_argument("--warmup", type=float, default=25.0, help="seconds before measuring (default 25)")
    parser.add_argument("--here", action="store_true", help="on this machine's pins (a Pi's), not in the VM")
    args = parser.parse_args()
    if args.here:
        here(args.duration, args.warmup)
        return
    sys.path.insert(0, str(HERE.parent))
    from tests.vm import kernel

    reason = kernel.prepare()
    if reason is not None:
        raise SystemExit(f"no VM: {reason}")
    with tempfile.TemporaryDirectory() as out:
        boot = kernel.boot(f'{kernel.SIM_CHIP}\n"$PY" benchmarks/{Path(__file__).name} '
                           f"--here --duration {args.duration} --warmup {args.warmup}", Path(out),
                           timeout=120 + 6 * (args.duration + args.warmup) * len(VARIANTS))
    print(boot.output, end="")
    if boot.status != 0:
        raise SystemExit(boot.status)


if __name__ == "__main__":
    main()
