"""Display cost of the default routine: ours (draw on change) against redraw-every-second and 10 fps.

All three run in this process, through the same real luma.oled ssd1306 driver
over a recording serial interface, on simulated time (the routine's 7 minutes
take seconds). Reported: frames sent, bytes on the bus (what the I2C wire
carries: ~23 ms per frame at 400 kHz), and CPU per frame for rendering and for
luma's packing, as medians. Run: `make bench` or `python benchmarks/bench_display.py`.
"""

from __future__ import annotations

import queue
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "device"))

from gpiozero.pins.mock import MockFactory, MockPWMPin  # noqa: E402

from stretchbox.adapters.display import RecordingSerial, make_device  # noqa: E402
from stretchbox.adapters.routines import load_builtin  # noqa: E402
from stretchbox.app import build, simulate  # noqa: E402
from stretchbox.platform import Platform, SimClock
from stretchbox.config import Config  # noqa: E402
from stretchbox.core.gestures import A  # noqa: E402
from stretchbox.core.session import DONE, Session, Tick  # noqa: E402
from stretchbox.render import Renderer  # noqa: E402

I2C_BYTES_PER_S = 400_000 / 9  # 400 kHz, 9 clocks per byte (8 bits + ACK)


class Timed:
    """Wraps a function and keeps the CPU time of each call."""

    def __init__(self, fn):
        self.fn, self.times = fn, []

    def __call__(self, *args):
        start = time.process_time_ns()
        try:
            return self.fn(*args)
        finally:
            self.times.append((time.process_time_ns() - start) / 1e6)


def ours(routine, presses=()):
    serial = RecordingSerial()
    render = Timed(Renderer((128, 64)).render)
    device = make_device("ssd1306", serial)
    display = Timed(device.display)
    device.display = display  # count the driver's work only when we call it
    clock, inbox, factory = SimClock(), queue.Queue(), MockFactory(pin_class=MockPWMPin)
    try:
        built = build(Config(), [routine], Platform(pin_factory=factory, clock=clock, inbox=inbox,
                      open_display=lambda: device, render=render, idle=False))
        pin = factory.pin("GPIO17")
        schedule = [(0.0, pin.drive_low), (0.0, pin.drive_high)]
        for t in presses:
            schedule += [(t, pin.drive_low), (t, pin.drive_high)]
        simulate(built.app, schedule, inbox, clock)
    finally:
        factory.reset()
    return serial, render.times, display.times, clock.now


def fixed_rate(routine, period: float, presses=()):
    """The common pattern: redraw the current screen every ``period`` seconds, changed or not."""
    serial = RecordingSerial()
    device = make_device("ssd1306", serial)
    renderer = Renderer((128, 64))
    render, display = Timed(renderer.render), Timed(device.display)
    session = Session([routine])
    session.press(A, 0.0)
    pending = sorted(presses)
    t = 0.0
    while session.state != DONE:
        while pending and pending[0] <= t:
            session.press(A, pending.pop(0))
        session.handle(Tick(t))
        display(render(session.frame(t)))
        t = round(t + period, 6)
    return serial, render.times, display.times, t


def table(title: str, routine, presses=()) -> None:
    rows = []
    for name, run in (("ours: draw on change", lambda: ours(routine, presses)),
                      ("redraw every second", lambda: fixed_rate(routine, 1.0, presses)),
                      ("redraw at 10 fps", lambda: fixed_rate(routine, 0.1, presses))):
        serial, render_ms, display_ms, end = run()
        rows.append((name, len(display_ms), sum(len(c.payload) for c in serial.calls), statistics.median(render_ms),
                     statistics.median(display_ms), (sum(render_ms) + sum(display_ms)) / 1000, end))
    base = rows[0]
    print(f"\n{title}: {base[6]:.0f} s of simulated time, luma.oled ssd1306 over a recording serial interface")
    print(f"{'strategy':<22} {'frames':>7} {'bus bytes':>10} {'wire s @400k':>12} {'render ms':>10} "
          f"{'display ms':>11} {'CPU s':>7} {'x ours':>7}")
    for name, frames, sent, r_ms, d_ms, cpu, _ in rows:
        print(f"{name:<22} {frames:>7} {sent:>10} {sent / I2C_BYTES_PER_S:>12.1f} {r_ms:>10.3f} {d_ms:>11.3f} "
              f"{cpu:>7.3f} {sent / base[2]:>7.1f}")


def main() -> None:
    routine = load_builtin()[0]
    table("default routine", routine)
    table("default routine with a 5-minute pause (A at 60 s and 360 s)", routine, (60.0, 360.0))
    print("\nrender/display: median CPU ms per frame drawn; x ours: bus bytes relative to ours")


if __name__ == "__main__":
    main()
