"""Press to the last byte of the resulting frame on the I2C wire, and CPU per minute, in real time.

The whole device runs as on the Pi: real gpiozero input devices on MockFactory
pins, the owner loop in its own thread, and the panel opened the production
way (``device_from_config``: luma's real ``i2c`` class in managed mode, the
real ssd1306 driver, our ``RetryingSerial``) over the project's emulated I2C
bus (``tests/doubles/i2c_bus.py``) standing in for ``smbus2.SMBus``.

The bus models the wire from what was actually sent: each transaction blocks
the loop, as the Pi's I2C ioctl does, for 9 clocks a byte (address and control
byte included) plus START and STOP, at 100 kHz (the Zero 2 W's default) and
400 kHz (``dtparam=i2c_arm_baudrate=400000``). A press is a pin driven low
(and high again at once: a tap; the press gesture completes at release, so a
real finger's time on the button comes on top). Its latency runs to the end
of the last transaction the loop sent while handling that press's events: a
frame that was already on the wire, or queued before it, delays it, as on the
Pi. Whatever the driver sends (a whole 1 KB frame today, fewer bytes with
partial updates) is what is timed and counted.

Compared, in the same run, with a loop that polls every 100 ms. Not modelled:
lgpio's debounce (add 25 ms on a Pi), the I2C controller's gaps between
transactions, and Python on a Pi Zero 2 W being roughly 8-10x slower (the CPU
parts, not the wire). Run: ``make bench`` or ``python benchmarks/bench_latency.py``.
"""

from __future__ import annotations

import queue
import random
import statistics
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "device"), str(ROOT)]

import smbus2  # noqa: E402
from gpiozero.pins.mock import MockFactory, MockPWMPin  # noqa: E402

from stretchbox.adapters.display import device_from_config  # noqa: E402
from stretchbox.adapters.routines import load_builtin  # noqa: E402
from stretchbox.app import build, run_loop  # noqa: E402
from stretchbox.platform import Platform  # noqa: E402
from stretchbox.config import Config  # noqa: E402
from stretchbox.core.gestures import Pressed, Released  # noqa: E402
from stretchbox.core.session import Tick  # noqa: E402
from stretchbox.render import Renderer  # noqa: E402
from tests.doubles.i2c_bus import CONTROL_DATA, one_panel, wire_clocks  # noqa: E402

PRESSES = 40
CPU_SECONDS = 10.0
RATES = (100_000, 400_000)
CPU_AT = 400_000  # CPU is measured in this run only (the wire's waits cost none)


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


class StepLog:
    """Wraps ``app.step``: for each event, the range of bus transactions its handling sent."""

    def __init__(self, app, bus_log: list):
        self.bus_log, self.steps, self.done = bus_log, [], threading.Condition()
        step = app.step

        def logged(event):
            first = len(self.bus_log)
            try:
                return step(event)
            finally:
                with self.done:
                    self.steps.append((event, first, len(self.bus_log)))
                    self.done.notify_all()

        app.step = logged  # run_loop and polling_loop call app.step: the instance attribute wins

    def press_handled(self, t0: float, timeout: float = 5.0) -> tuple[int, int]:
        """Wait until the Released of the press made at ``t0`` was handled; the bus log range its
        events (Pressed and Released stamped from ``t0`` on) sent, as (first, end)."""
        deadline = time.monotonic() + timeout
        with self.done:
            while not any(isinstance(e, Released) and e.t >= t0 for e, _, _ in self.steps):
                if not self.done.wait(deadline - time.monotonic()):
                    raise TimeoutError("the press was never handled")
            sent = [(a, b) for e, a, b in self.steps if isinstance(e, (Pressed, Released)) and e.t >= t0 and b > a]
        if not sent:
            raise RuntimeError("handling the press sent nothing to the panel")
        return min(a for a, _ in sent), max(b for _, b in sent)


def measure(loop, scl_hz: int, cpu_seconds: float) -> dict:
    clock = time.perf_counter
    board, panel = one_panel("ssd1306", scl_hz=scl_hz, clock=clock, log=[])
    bus = board.buses[1]
    real_smbus, smbus2.SMBus = smbus2.SMBus, board.smbus_class()  # luma's i2c(port=1) opens this board
    inbox: queue.Queue = queue.Queue()
    factory = MockFactory(pin_class=MockPWMPin)
    stop = threading.Event()
    config = Config()
    rng = random.Random(1)
    presses = []
    try:
        device = build(config, load_builtin()[:1], Platform(pin_factory=factory, clock=clock, inbox=inbox,
                       open_display=lambda: device_from_config(config.display), render=Renderer((128, 64)).render,
                       idle=False))
        steps = StepLog(device.app, bus.log)
        thread = threading.Thread(target=loop, args=(device.app, inbox, clock), kwargs={"should_stop": stop.is_set})
        thread.start()
        pin = factory.pin(config.buttons.a)
        pin.drive_low()
        pin.drive_high()  # start the routine
        time.sleep(0.5)
        for i in range(PRESSES):
            # Pausing taps land anywhere in the countdown's second (a frame may be on the wire then);
            # resuming taps come soon after (a paused screen is static: nothing else is sent).
            time.sleep(rng.uniform(0.03, 1.03) if i % 2 == 0 else rng.uniform(0.03, 0.1))
            t0 = clock()
            pin.drive_low()
            pin.drive_high()
            first, end = steps.press_handled(t0)
            own = bus.log[first:end]
            waited = [t for t in bus.log[:first] if t.end > t0]  # on the wire or sent after the press, before ours
            presses.append({"latency": (own[-1].end - t0) * 1000,
                            "bytes": sum(t.wire_bytes for t in own),
                            "wire": sum(wire_clocks(t.payload_bytes) for t in own) / scl_hz * 1000,
                            "behind": bool(waited)})
            if not any(t.control == CONTROL_DATA for t in own):
                raise RuntimeError("the press's frame sent no display data")
        if device.app.session.state == "paused":
            pin.drive_low()
            pin.drive_high()
        # CPU of the whole process while a routine runs untouched (this thread only sleeps)
        wall0, cpu0 = time.perf_counter(), time.process_time()
        time.sleep(cpu_seconds)
        cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
        stop.set()
        inbox.put(None)
        thread.join()
    finally:
        factory.reset()
        smbus2.SMBus = real_smbus
    if panel.gddram() != panel.visible() or not panel.lit:
        raise RuntimeError("the emulated panel is not showing what was drawn")
    return {"presses": presses, "cpu": cpu / wall * 60.0 if cpu_seconds else None}


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[round(q * (len(values) - 1))]


def main() -> None:
    rows = []
    for name, loop in (("ours: deadlines + events", run_loop), ("baseline: poll every 100 ms", polling_loop)):
        for hz in RATES:
            r = measure(loop, hz, CPU_SECONDS if hz == CPU_AT else 0.0)
            lat = [p["latency"] for p in r["presses"]]
            rows.append((name, hz, statistics.median(lat), pct(lat, 0.95), max(lat),
                         statistics.median(p["bytes"] for p in r["presses"]),
                         statistics.median(p["wire"] for p in r["presses"]),
                         sum(p["behind"] for p in r["presses"]), r["cpu"]))
    print(f"{PRESSES} taps each (A: pause/resume) in a running routine, real time; MockFactory pins; "
          "luma ssd1306 over luma's i2c class on the emulated bus, wire time modelled from what was sent")
    print(f"{'loop':<28} {'I2C':>7} {'p50 ms':>7} {'p95 ms':>7} {'max ms':>7} {'frame bytes':>11} "
          f"{'frame wire ms':>13} {'behind a frame':>14} {'CPU s/min':>9}")
    for name, hz, p50, p95, worst, nbytes, wire, behind, cpu in rows:
        print(f"{name:<28} {hz // 1000:>4}kHz {p50:>7.1f} {p95:>7.1f} {worst:>7.1f} {nbytes:>11.0f} {wire:>13.1f} "
              f"{behind:>11}/{PRESSES} {'-' if cpu is None else f'{cpu:.3f}':>9}")
    print("latency: pin driven low to the last byte of the press's frame on the wire (p95 by nearest rank); "
          "frame bytes/wire ms: medians of what handling the press sent (address and control bytes included); "
          "behind a frame: taps that waited for a frame already on the wire or sent before theirs; "
          f"CPU: the process over {CPU_SECONDS:.0f} s of a running routine, per minute, at {CPU_AT // 1000} kHz")
    by = {(n, hz): (p50, wire) for n, hz, p50, _, _, _, wire, *_ in rows}
    for hz in RATES:
        (ours, wire), (base, _) = by[(rows[0][0], hz)], by[(rows[-1][0], hz)]
        cpu = ours - wire
        print(f"{hz // 1000} kHz: baseline/ours median {base / ours:.1f}x; ours = {wire:.1f} ms wire + {cpu:.1f} ms "
              f"here; Pi Zero 2 W ESTIMATE (Python 8-10x slower, + lgpio's 25 ms debounce): "
              f"{wire + 8 * cpu + 25:.0f}-{wire + 10 * cpu + 25:.0f} ms")


if __name__ == "__main__":
    main()
