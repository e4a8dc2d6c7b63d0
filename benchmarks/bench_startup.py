"""Process start to first frame, against a bare `python -c pass` in the same run.

`stretchbox run --first-frame-only` draws the splash on luma's dummy device
(the real driver path minus the bus) and prints the monotonic time of that
first frame; the clock is system-wide, so the parent can subtract its own
time just before starting the process. Medians of several runs each.
Run: `python benchmarks/bench_startup.py`.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time

RUNS = 15


def bare() -> float:
    start = time.monotonic()
    subprocess.run([sys.executable, "-c", "pass"], check=True)
    return (time.monotonic() - start) * 1000


def first_frame() -> tuple[float, float]:
    start = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "stretchbox", "run", "--display", "dummy", "--pins", "mock",
                           "--first-frame-only"], check=True, capture_output=True, text=True)
    end = time.monotonic()
    line = next(x for x in proc.stdout.splitlines() if x.startswith("first-frame "))
    return (float(line.split()[1]) - start) * 1000, (end - start) * 1000


def imported_at_first_frame() -> list[str]:
    code = ("import sys, runpy; sys.argv=['stretchbox','run','--display','dummy','--pins','mock','--first-frame-only'];"
            "from stretchbox.cli import main; main();"
            "print(' '.join(sorted({m.split('.')[0] for m in sys.modules})))")
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout
    return out.strip().splitlines()[-1].split()


def main() -> None:
    # As on the device, where the installer precompiles (this machine may set PYTHONDONTWRITEBYTECODE).
    import compileall
    from pathlib import Path

    import stretchbox

    compileall.compile_dir(str(Path(stretchbox.__file__).parent), quiet=1)
    bare_ms = [bare() for _ in range(RUNS)]
    frames = [first_frame() for _ in range(RUNS)]
    first_ms = [f for f, _ in frames]
    b, f = statistics.median(bare_ms), statistics.median(first_ms)
    print(f"{RUNS} runs each, medians (this machine; a Pi Zero 2 W is roughly 8-10x slower)")
    print(f"{'python -c pass':<36} {b:8.1f} ms")
    print(f"{'stretchbox run: start to first frame':<36} {f:8.1f} ms   ({f / b:.1f}x bare python, +{f - b:.0f} ms)")
    heavy = [m for m in ("gpiozero", "yaml", "luma", "PIL") if m in imported_at_first_frame()]
    print(f"imported when the splash is drawn: {', '.join(heavy) or 'none of gpiozero/yaml/luma/PIL'} "
          "(gpiozero and the routines come after it)")


if __name__ == "__main__":
    main()
