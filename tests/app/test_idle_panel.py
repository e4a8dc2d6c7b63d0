"""Idle power through the real driver: dim, panel off, the wake press, burn-in shift."""

import queue

import pytest

from gpiozero.pins.mock import MockFactory, MockPWMPin

from stretchbox.adapters.display import RecordingSerial, make_device
from tests.bus_frames import frames_from_ssd1306
from stretchbox.adapters.routines import load_builtin
from stretchbox.app import build
from stretchbox.platform import Platform, SimClock
from stretchbox.config import Config
from stretchbox.core.session import Tick
from stretchbox.render import Renderer


@pytest.fixture
def rig():
    """The whole device on simulated time, its panel a real ssd1306 over a recording bus."""
    clock, inbox, serial = SimClock(), queue.Queue(), RecordingSerial()
    serial.clock = clock
    factory = MockFactory(pin_class=MockPWMPin)
    device = build(Config(), load_builtin()[:1], Platform(pin_factory=factory, clock=clock, inbox=inbox,
                   open_display=lambda: make_device("ssd1306", serial), render=Renderer((128, 64)).render))
    yield clock, inbox, serial, factory, device
    factory.reset()


def test_idle_panel_dims_switches_off_and_the_wake_press_only_wakes(rig):
    clock, inbox, serial, factory, device = rig
    app = device.app

    def advance(to):
        while (d := app.next_deadline()) is not None and d <= to:
            clock.now = d
            app.step(Tick(d))
        clock.now = to
        app.step(Tick(to))

    def commands(since):
        return [c.payload for c in serial.calls if c.kind == "command" and c.t >= since]

    advance(1.0)
    advance(30.0)
    assert bytes([0x81, 8]) in commands(30.0)  # contrast down to dim_contrast
    advance(89.9)
    assert bytes([0xAE]) not in commands(30.0)
    advance(90.0)
    assert bytes([0xAE]) in commands(90.0)  # panel off
    pin = factory.pin("GPIO17")
    clock.now = 100.0
    pin.drive_low()
    pin.drive_high()
    while not inbox.empty():
        app.step(inbox.get_nowait())
    assert bytes([0xAF]) in commands(100.0) and bytes([0x81, 255]) in commands(100.0)  # on, full contrast
    assert app.session.state == "idle"  # the wake press did not start the routine
    clock.now = 101.0
    pin.drive_low()
    pin.drive_high()
    while not inbox.empty():
        app.step(inbox.get_nowait())
    assert app.session.state == "running"  # the next press does


def test_a_static_screen_moves_a_pixel_now_and_then(rig):
    clock, inbox, serial, factory, device = rig
    for t in (0.0, 29.0):  # before dimming, shift_every is 60 s: no move
        device.app.step(Tick(t))
    frames = frames_from_ssd1306(serial.calls)
    first = frames[-1][1]
    from stretchbox.core.idle import Idle, IdleConfig
    device.app.idle = Idle(IdleConfig(dim_after=1e6, off_after=1e6, shift_every=10.0), now=29.0)
    device.app.step(Tick(39.0))
    moved = frames_from_ssd1306(serial.calls)[-1][1]
    assert moved.getbbox() == tuple(v + d for v, d in zip(first.getbbox(), (1, 0, 1, 0)))
