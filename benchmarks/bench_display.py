"""Display cost of the default routine: ours (draw on change) against redraw-every-second and 10 fps.

All three run in this process, through the same real luma.oled ssd1306 driver
over a recording serial interface, on simulated time (the routine's 7 minutes
take seconds). Reported: frames sent, bytes on the bus (what the I2C wire
carries: ~23 ms per frame at 400 kHz), and CPU per frame for rendering and for
luma's packing, as medians.

Then the partial updates (adapters/partial.py, what a real panel gets) for the
ssd1306 and the sh1106: bytes against the changed-bytes lower bound and against
luma's driver redrawing every second, wire time per routine and per frame at
100 and 400 kHz, and CPU per display() against luma's on the same frames.
Run: `make bench` or `python benchmarks/bench_display.py`.
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
from stretchbox.adapters.partial import PARTIAL, pack  # noqa: E402
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



def bytes_on_bus(serial) -> int:
    """Every byte a recording serial interface was given, commands and data."""
    return sum(len(c.payload) for c in serial.calls)

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


def fixed_rate(routine, period: float, presses=(), chip: str = "ssd1306"):
    """The common pattern: redraw the current screen every ``period`` seconds, changed or not."""
    serial = RecordingSerial()
    device = make_device(chip, serial)
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
        rows.append((name, len(display_ms), bytes_on_bus(serial), statistics.median(render_ms),
                     statistics.median(display_ms), (sum(render_ms) + sum(display_ms)) / 1000, end))
    base = rows[0]
    print(f"\n{title}: {base[6]:.0f} s of simulated time, luma.oled ssd1306 over a recording serial interface")
    print(f"{'strategy':<22} {'frames':>7} {'bus bytes':>10} {'wire s @400k':>12} {'render ms':>10} "
          f"{'display ms':>11} {'CPU s':>7} {'x ours':>7}")
    for name, frames, sent, r_ms, d_ms, cpu, _ in rows:
        print(f"{name:<22} {frames:>7} {sent:>10} {sent / I2C_BYTES_PER_S:>12.1f} {r_ms:>10.3f} {d_ms:>11.3f} "
              f"{cpu:>7.3f} {sent / base[2]:>7.1f}")


# ---- partial updates (adapters/partial.py) -----------------------------------------------------
START_STOP_CLOCKS = 2  # per transaction, besides 9 clocks for each byte (address, control, payload)


def wire_s(payloads, hz: float) -> float:
    """Seconds on the wire for these transactions (each: address + control byte + payload)."""
    return sum(9 * (2 + n) + START_STOP_CLOCKS for n in payloads) / hz


def partial_run(routine, chip: str):
    """The app (draw on change) over our partial driver on a recording serial interface, simulated time.
    Returns the serial, the images displayed, and each display() call's transactions (payload sizes)."""
    serial = RecordingSerial()
    clock, inbox, factory = SimClock(), queue.Queue(), MockFactory(pin_class=MockPWMPin)
    device = PARTIAL[chip](serial, clock=clock)
    images, per_frame = [], []
    display = device.display

    def recorded(image):
        start = len(serial.calls)
        display(image)
        images.append(image.copy())
        per_frame.append([len(c.payload) for c in serial.calls[start:]])

    device.display = recorded
    try:
        built = build(Config(), [routine], Platform(pin_factory=factory, clock=clock, inbox=inbox,
                      open_display=lambda: device, render=Renderer((128, 64)).render, idle=False))
        pin = factory.pin("GPIO17")
        simulate(built.app, [(0.0, pin.drive_low), (0.0, pin.drive_high)], inbox, clock)
    finally:
        factory.reset()
    return serial, images, per_frame, device


def lower_bound(images, width: int = 128) -> int:
    """GDDRAM bytes that differ between consecutive frames (the first against luma's cleared panel)."""
    previous, total = [bytes(width)] * 8, 0
    for image in images:
        pages = pack(image)
        total += sum(a != b for old, new in zip(previous, pages) for a, b in zip(old, new))
        previous = pages
    return total


def cpu_per_frame(driver, images, repeat: int = 3) -> list[float]:
    """CPU ms of each display() call over the frame sequence, best of ``repeat`` passes per frame."""
    best = [float("inf")] * len(images)
    for _ in range(repeat):
        for i, image in enumerate(images):
            start = time.process_time_ns()
            driver.display(image)
            best[i] = min(best[i], (time.process_time_ns() - start) / 1e6)
    return best


def pct(values, q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def partial_table(routine) -> list[dict]:
    print("\npartial updates, default routine, draw on change; stock = luma's driver redrawing every second")
    out = []
    for chip in ("ssd1306", "sh1106"):
        serial, images, per_frame, device = partial_run(routine, chip)
        bound = lower_bound(images)
        frame_bytes = sum(sum(p) for p in per_frame)
        stock_serial, *_ = fixed_rate(routine, 1.0, chip=chip)
        luma_cpu = cpu_per_frame(make_device(chip, RecordingSerial()), images)
        ours_cpu = cpu_per_frame(PARTIAL[chip](RecordingSerial(), refresh_every=None), images)
        row = dict(chip=chip, frames=len(images), bound=bound, frame_bytes=frame_bytes, total=bytes_on_bus(serial),
                   stock=bytes_on_bus(stock_serial), full=device.counts["full"], windows=device.counts["windows"],
                   luma_ms=statistics.median(luma_cpu), ours_ms=statistics.median(ours_cpu))
        print(f"{chip}: {row['frames']} frames ({row['full']} full incl. luma's clear, {row['windows']} windows); "
              f"changed-bytes lower bound {bound:,}; bytes sent by display() {frame_bytes:,} "
              f"= {frame_bytes / bound:.2f}x the bound; on the bus in all {bytes_on_bus(serial):,} "
              f"(luma at 1 Hz: {bytes_on_bus(stock_serial):,} = {bytes_on_bus(stock_serial) / bytes_on_bus(serial):.1f}x ours)")
        for hz in (100_000, 400_000):
            routine_s = wire_s([len(c.payload) for c in serial.calls], hz)
            stock_s = wire_s([len(c.payload) for c in stock_serial.calls], hz)
            frames_ms = [wire_s(p, hz) * 1000 for p in per_frame]
            print(f"  wire @{hz // 1000} kHz: routine {routine_s:.2f} s (luma at 1 Hz {stock_s:.1f} s); per frame "
                  f"median {statistics.median(frames_ms):.2f} ms, p95 {pct(frames_ms, 0.95):.2f}, "
                  f"max {max(frames_ms):.2f}")
            row[f"routine_{hz}"], row[f"stock_{hz}"] = routine_s, stock_s
            row[f"frame_{hz}"] = (statistics.median(frames_ms), pct(frames_ms, 0.95), max(frames_ms))
        print(f"  CPU per frame (median of per-frame best of 3, same frames, same process): luma display() "
              f"{row['luma_ms']:.3f} ms, ours {row['ours_ms']:.3f} ms = 1/{row['luma_ms'] / row['ours_ms']:.1f}; "
              f"Pi Zero 2 W estimate x8-10: luma {row['luma_ms'] * 8:.1f}-{row['luma_ms'] * 10:.1f} ms, "
              f"ours {row['ours_ms'] * 8:.2f}-{row['ours_ms'] * 10:.2f} ms")
        out.append(row)
    return out


def main() -> None:
    routine = load_builtin()[0]
    table("default routine", routine)
    table("default routine with a 5-minute pause (A at 60 s and 360 s)", routine, (60.0, 360.0))
    print("\nrender/display: median CPU ms per frame drawn; x ours: bus bytes relative to ours")
    partial_table(routine)
    print(f"\nwire time: 9 clocks per byte (address, control byte, payload) + {START_STOP_CLOCKS} for start/stop, "
          "per transaction; the Linux driver's per-transaction latency is not included")


if __name__ == "__main__":
    main()
