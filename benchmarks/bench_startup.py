"""Process start to first frame, against a bare `python -c pass` in the same run.

`stretchbox run --first-frame-only` draws the splash on luma's dummy device
(the real driver path minus the bus) and prints the monotonic time of that
first frame; the clock is system-wide, so the parent can subtract its own
time just before starting the process. The runs are interleaved (bare, ours,
ours with a config file, bare, ...) so a busy moment of the machine weighs on
all of them alike; medians of ``RUNS`` each. With a config file (the device's
/etc/stretchbox/config.yaml) YAML must be read before the splash can be drawn.
Run: `python benchmarks/bench_startup.py`.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from pathlib import Path

RUNS = 31
CONFIG = Path(__file__).resolve().parent.parent / "systemd" / "config.example.yaml"


def bare() -> float:
    start = time.monotonic()
    subprocess.run([sys.executable, "-c", "pass"], check=True)
    return (time.monotonic() - start) * 1000


def first_frame(*config: str) -> tuple[float, float]:
    start = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "stretchbox", "run", "--display", "dummy", "--pins", "mock",
                           "--first-frame-only", *config], check=True, capture_output=True, text=True)
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
    bare_ms, first_ms, config_ms = [], [], []
    for _ in range(RUNS):
        bare_ms.append(bare())
        first_ms.append(first_frame()[0])
        config_ms.append(first_frame("--config", str(CONFIG))[0])
    b, f, c = statistics.median(bare_ms), statistics.median(first_ms), statistics.median(config_ms)
    print(f"{RUNS} runs each, interleaved, medians (this machine; a Pi Zero 2 W is roughly 8-10x slower)")
    print(f"{'python -c pass':<44} {b:8.1f} ms")
    print(f"{'stretchbox run: start to first frame':<44} {f:8.1f} ms   ({f / b:.2f}x bare python, +{f - b:.0f} ms)")
    print(f"{'  the same with a config file (YAML first)':<44} {c:8.1f} ms   ({c / b:.2f}x bare python, +{c - b:.0f} ms)")
    heavy = [m for m in ("gpiozero", "yaml", "logging", "luma", "PIL") if m in imported_at_first_frame()]
    print(f"imported when the splash is drawn: {', '.join(heavy) or 'none of gpiozero/yaml/logging/luma/PIL'} "
          "(gpiozero, the session and the routines come after it)")


if __name__ == "__main__":
    main()
