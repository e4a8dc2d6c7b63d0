"""Press-to-display latency and CPU per minute, in real time, through gpiozero's MockFactory.

The whole device runs as on the Pi: real gpiozero Buttons on mock pins, the
owner loop in its own thread, the real luma ssd1306 driver over a recording
serial interface. A press is a pin edge; its latency is the time until the
driver sends the frame that shows its effect. Compared in the same run with
a baseline loop that polls every 100 ms (the common alternative). On a Pi
add lgpio's debounce (25 ms) before the edge is reported; Python there is
roughly 8-10x slower than on this machine. Run: `python benchmarks/bench_latency.py`.
"""

from __future__ import annotations

import queue
import statistics
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "device"))

from gpiozero.pins.mock import MockFactory, MockPWMPin  # noqa: E402

from stretchbox.adapters.display import RecordingSerial, make_device  # noqa: E402
from stretchbox.adapters.routines import load_builtin  # noqa: E402
from stretchbox.app import build, run_loop  # noqa: E402
from stretchbox.platform import Platform
from stretchbox.config import Config  # noqa: E402
from stretchbox.core.session import Tick  # noqa: E402
from stretchbox.render import Renderer  # noqa: E402

PRESSES = 40
CPU_SECONDS = 15.0


def polling_loop(app, inbox, clock, should_stop, period=0.1):
    """Baseline: wake every ``period`` s, take what is queued, redraw (no deadlines)."""
    while not should_stop():
        time.sleep(period)
        while True:
            try:
                event = inbox.get_nowait()
            except queue.Empty:
                break
            if event is not None:
                app.step(event)
        app.step(Tick(clock()))


def measure(loop_name: str, loop) -> tuple[list[float], float]:
    clock = time.perf_counter
    serial = RecordingSerial(clock=clock)
    inbox: queue.Queue = queue.Queue()
    factory = MockFactory(pin_class=MockPWMPin)
    stop = threading.Event()
    try:
        device = build(Config(), load_builtin()[:1], Platform(pin_factory=factory, clock=clock, inbox=inbox,
                       open_display=lambda: make_device("ssd1306", serial), render=Renderer((128, 64)).render,
                       idle=False))

        thread = threading.Thread(target=loop, args=(device.app, inbox, clock), kwargs={"should_stop": stop.is_set},
                                  name=loop_name)
        thread.start()
        pin = factory.pin("GPIO17")
        pin.drive_low()
        pin.drive_high()  # start the routine
        time.sleep(0.5)
        latencies = []
        for i in range(PRESSES):
            time.sleep(0.05 + (i % 7) * 0.013)  # land at different points of the second
            before = len(serial.calls)
            pin.drive_low()
            t0 = clock()
            pin.drive_high()  # the press gesture is complete at release
            while True:
                shown = [c for c in serial.calls[before:] if c.kind == "data" and c.t >= t0]
                if shown:
                    latencies.append((shown[0].t - t0) * 1000)
                    break
                time.sleep(0.0005)
        # CPU of the owner thread while a routine runs untouched
        if device.app.session.state == "paused":
            pin.drive_low()
            pin.drive_high()
        # CPU of the whole process while a routine runs untouched (this thread only sleeps)
        wall0, cpu0 = time.perf_counter(), time.process_time()
        time.sleep(CPU_SECONDS)
        cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
        stop.set()
        inbox.put(None)
        thread.join()
    finally:
        factory.reset()
    return latencies, cpu / wall * 60.0


def main() -> None:
    rows = []
    for name, loop in (("ours: deadlines + events", run_loop), ("baseline: poll every 100 ms", polling_loop)):
        latencies, cpu = measure(name, loop)
        latencies.sort()
        p95 = latencies[int(0.95 * (len(latencies) - 1))]
        rows.append((name, statistics.median(latencies), p95, cpu))
    print(f"{PRESSES} presses each (A: pause/resume), real time, MockFactory pins, ssd1306 over a recording bus")
    print(f"{'loop':<30} {'median ms':>10} {'p95 ms':>8} {'CPU s per routine minute':>25}")
    for name, median, p95, cpu in rows:
        print(f"{name:<30} {median:>10.2f} {p95:>8.2f} {cpu:>25.3f}")
    ours, base = rows
    print(f"baseline/ours: latency median {base[1] / ours[1]:.1f}x, p95 {base[2] / ours[2]:.1f}x; "
          f"CPU {base[3] / ours[3]:.1f}x  (CPU measured over {CPU_SECONDS:.0f} s of a running routine)")


if __name__ == "__main__":
    main()
