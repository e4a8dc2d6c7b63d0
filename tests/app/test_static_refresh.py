"""A static screen gets the partial-update driver's periodic full frame too (adapters/panel.py).

The whole device on simulated time, its panel luma's real ``i2c`` class and our ssd1306/sh1106
driver (adapters/partial.py) over the emulated bus (tests/doubles/i2c_bus.py), whose chip model
decodes every byte into panel RAM. A routine is paused (a static screen: it only dims, never goes
off), the panel's RAM is corrupted with no bus error, and the loop runs on its own deadlines: the
panel must show the picture again within ``REFRESH_EVERY``, with the idle wake-up budget kept.
"""

from __future__ import annotations

import dataclasses
import math
import queue

import pytest
from gpiozero.pins.mock import MockFactory, MockPWMPin
from luma.core.interface.serial import i2c

from stretchbox.adapters import partial
from stretchbox.adapters.display import RetryingSerial
from stretchbox.adapters.panel import PanelOutput
from stretchbox.adapters.routines import load_builtin
from stretchbox.app import build, simulate
from stretchbox.config import Config
from stretchbox.core.idle import IdleConfig
from stretchbox.platform import Platform, SimClock
from stretchbox.render import Renderer
from tests.doubles.i2c_bus import gddram, install, one_panel

IDLE_WAKEUPS = 1.5  # issue #14's budget, wake-ups per second at idle
PAUSE_AT, CORRUPT_AT = 8.0, 20.0
# No burn-in shift: the paused screen does not change at all (with it, a shift every minute redraws it).
CONFIG = dataclasses.replace(Config(), idle=IdleConfig(shift_every=0), pause_timeout=86400.0)


def paused_run(monkeypatch, chip: str, until: float, driver_clock=None):
    """Start the default routine, pause it at PAUSE_AT, scramble the panel's RAM at CORRUPT_AT, run
    the loop's own deadlines to ``until``. Returns the panel, the steps' times, the picture shown."""
    board, panel = one_panel(chip)
    install(monkeypatch, board)
    clock, inbox, factory = SimClock(), queue.Queue(), MockFactory(pin_class=MockPWMPin)
    panel.clock, panel.keep_history = clock, True
    render = Renderer((128, 64)).render
    shown: list = []

    def draw(frame):
        image = render(frame)
        shown.append(image)
        return image

    try:
        device = build(CONFIG, load_builtin()[:1], Platform(
            pin_factory=factory, clock=clock, inbox=inbox, render=draw,
            open_display=lambda: partial.PARTIAL[chip](RetryingSerial(i2c(port=1)), clock=driver_clock or clock)))
        steps: list[float] = []
        step = device.app.step
        device.app.step = lambda event: (steps.append(clock.now), step(event))[1]
        a = factory.pin("GPIO17")
        actions = [(0.0, a.drive_low), (0.0, a.drive_high), (PAUSE_AT, a.drive_low), (PAUSE_AT, a.drive_high),
                   (CORRUPT_AT, lambda: panel.ram[3].__setitem__(slice(0, 64), bytes(range(64))))]
        simulate(device.app, actions, inbox, clock, until=until)
    finally:
        factory.reset()
    assert device.app.session.state == "paused" and panel.lit
    return panel, steps, gddram(shown[-1]), device


def first_right(panel, picture: bytes, since: float) -> float | None:
    """When the panel's RAM first equals ``picture`` again after ``since``."""
    return next((t for t, data in panel.history if t > since and data == picture), None)


@pytest.mark.parametrize("chip", ["ssd1306", "sh1106"])
def test_a_corrupted_panel_on_a_static_screen_is_repaired_within_the_refresh_period(monkeypatch, chip):
    until = CORRUPT_AT + 2 * partial.REFRESH_EVERY
    panel, steps, picture, device = paused_run(monkeypatch, chip, until)
    repaired = first_right(panel, picture, CORRUPT_AT)
    assert repaired is not None and repaired - CORRUPT_AT <= partial.REFRESH_EVERY
    assert panel.gddram() == picture  # and right at the end
    # The picture did not change after the pause: only the refreshes wrote to the RAM, one per period
    # counted from the first frame (t=0), each the whole frame.
    writes = sorted({t for t, _ in panel.history if t > PAUSE_AT})
    assert writes == [partial.REFRESH_EVERY, 2 * partial.REFRESH_EVERY]
    output = next(o for o in device.app.outputs if isinstance(o, PanelOutput))
    assert output.refreshes == 2


@pytest.mark.parametrize("chip", ["ssd1306", "sh1106"])
def test_the_refresh_keeps_the_idle_wake_up_budget(monkeypatch, chip):
    until = 3600.0
    _, steps, _, device = paused_run(monkeypatch, chip, until)
    quiet = [t for t in steps if t > CORRUPT_AT]
    assert len(quiet) / (until - CORRUPT_AT) <= IDLE_WAKEUPS
    output = next(o for o in device.app.outputs if isinstance(o, PanelOutput))
    assert output.refreshes == until // partial.REFRESH_EVERY  # one per period, no more
    # Each refresh is one wake-up of the loop: the steps after the pause are the dimming and the refreshes.
    assert [t for t in quiet if t % partial.REFRESH_EVERY == 0] == [
        partial.REFRESH_EVERY * k for k in range(1, int(until // partial.REFRESH_EVERY) + 1)]


def test_control_without_the_upkeep_deadline_the_static_screen_stays_wrong(monkeypatch):
    monkeypatch.setattr(PanelOutput, "upkeep_deadline", lambda self: None)
    panel, _, picture, _ = paused_run(monkeypatch, "ssd1306", CORRUPT_AT + 2 * partial.REFRESH_EVERY)
    assert first_right(panel, picture, CORRUPT_AT) is None and panel.gddram() != picture


def test_a_driver_on_another_clock_costs_one_warning_not_a_busy_loop(monkeypatch, caplog):
    """The driver's clock must be the loop's; if it is not (here: stopped), the panel output finds it
    out at the first refresh it asks for, says so once, and stops waking the loop for it."""
    _, steps, _, device = paused_run(monkeypatch, "ssd1306", 3600.0, driver_clock=lambda: 0.0)
    assert len([t for t in steps if t > CORRUPT_AT]) <= 3
    assert [r.message for r in caplog.records if "clock" in r.message] == [
        "the display driver's clock is not the loop's: no periodic full frame on a static screen"]
