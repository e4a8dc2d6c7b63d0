"""Process start to first frame, against a bare `python -c pass` in the same run.

`stretchbox run --first-frame-only` draws the splash on luma's dummy device
(the real driver path minus the bus) and prints the monotonic time of that
first frame; the clock is system-wide, so the parent can subtract its own
time just before starting the process. The runs are interleaved (bare, ours,
ours with a config file, bare, ...) so a busy moment of the machine weighs on
all of them alike; medians of ``RUNS`` each. With a config file (the device's
/etc/stretchbox/config.yaml) YAML must be read before the splash can be drawn,
unless the file is unchanged since the last start (adapters/splashcache.py):
both are measured, the second with a state folder a full start has filled.
Run: `python benchmarks/bench_startup.py`.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
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


def remembered(options: tuple[str, ...]) -> None:
    """One whole start (it stores the display settings for the next splash), stopped once it runs."""
    proc = subprocess.Popen([sys.executable, "-m", "stretchbox", "run", "--display", "dummy", "--pins", "mock",
                             *options], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    time.sleep(3)
    proc.terminate()
    proc.wait(10)


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
    with tempfile.TemporaryDirectory() as empty, tempfile.TemporaryDirectory() as filled:
        with_config = ("--config", str(CONFIG))
        remembered(with_config + ("--state-dir", filled))
        bare_ms, first_ms, config_ms, cached_ms = [], [], [], []
        for _ in range(RUNS):
            bare_ms.append(bare())
            first_ms.append(first_frame("--state-dir", empty)[0])
            config_ms.append(first_frame(*with_config, "--state-dir", empty)[0])
            cached_ms.append(first_frame(*with_config, "--state-dir", filled)[0])
    b = statistics.median(bare_ms)
    print(f"{RUNS} runs each, interleaved, medians (this machine; a Pi Zero 2 W is roughly 8-10x slower)")
    print(f"{'python -c pass':<52} {b:8.1f} ms")
    for label, runs in (("stretchbox run: start to first frame", first_ms),
                        ("  with a config file, first start (YAML first)", config_ms),
                        ("  with a config file, unchanged since last start", cached_ms)):
        m = statistics.median(runs)
        print(f"{label:<52} {m:8.1f} ms   ({m / b:.2f}x bare python, +{m - b:.0f} ms)")
    heavy = [m for m in ("gpiozero", "yaml", "logging", "luma", "PIL") if m in imported_at_first_frame()]
    print(f"imported when the splash is drawn: {', '.join(heavy) or 'none of gpiozero/yaml/logging/luma/PIL'} "
          "(gpiozero, the session and the routines come after it)")


if __name__ == "__main__":
    main()
