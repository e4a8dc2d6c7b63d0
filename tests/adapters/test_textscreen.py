"""The text log (`run` in a pipe or a small terminal): one line per second of every countdown."""

import io
import queue
import re

from gpiozero.pins.mock import MockFactory, MockPWMPin

from stretchbox.adapters.routines import load_builtin
from stretchbox.app import build, simulate
from stretchbox.platform import Platform, SimClock
from stretchbox.config import Config
from stretchbox.core.frame import Frame
from stretchbox.adapters.outputs.textscreen import TextScreen

COUNTING = re.compile(r"^(?P<label>NEXT|HOLD|SWITCH SIDES|REST|GET READY)\s+(?P<s>\d+)(?P<rest>.*)$")


def log_of_the_default_routine() -> list[str]:
    out, clock, inbox = io.StringIO(), SimClock(), queue.Queue()
    factory = MockFactory(pin_class=MockPWMPin)
    try:
        device = build(Config(), load_builtin()[:1], Platform(pin_factory=factory, clock=clock, inbox=inbox,
                       outputs=[TextScreen(out)]))
        a = factory.pin(Config().buttons.a)
        simulate(device.app, [(0.0, a.drive_low), (0.0, a.drive_high)], inbox, clock)
        device.close()
    finally:
        factory.reset()
    return out.getvalue().splitlines()


def runs(lines: list[str]) -> list[tuple[str, list[int]]]:
    """Consecutive countdown lines of one screen (label and the rest of the line) with their seconds."""
    out: list[tuple[str, list[int]]] = []
    for line in lines:
        m = COUNTING.match(line)
        if not m:
            continue
        key = f"{m['label']} {m['rest'].strip()}"
        if out and out[-1][0] == key:
            out[-1][1].append(int(m["s"]))
        else:
            out.append((key, [int(m["s"])]))
    return out


def test_every_second_of_every_countdown_has_its_own_line():
    lines = log_of_the_default_routine()
    holds = [(key, secs) for key, secs in runs(lines) if key.startswith("HOLD")]
    assert len(holds) == sum(len(s.sides.order) for s in load_builtin()[0].stretches) == 11
    for key, secs in holds:
        assert secs == list(range(30, 0, -1)), key
    for key, secs in runs(lines):
        assert secs == list(range(secs[0], 0, -1)), f"{key}: {secs}"  # no second skipped or repeated
    assert lines[-1].startswith("DONE")


def test_a_line_is_printed_only_when_it_changes():
    out = io.StringIO()
    screen = TextScreen(out)
    hold = Frame("hold", title="HOLD", name="Calf", side="right", seconds=5, index=6, count=6)
    for t in range(10):  # the loop may show one second's frame many times (a press, a buzzer step)
        screen.frame(hold, t / 10)
    screen.frame(Frame("paused", title="PAUSED", name="Calf", side="right", seconds=5, index=6, count=6), 1.0)
    assert out.getvalue().splitlines() == ["HOLD           5 RIGHT  Calf [6/6]", "PAUSED         5 RIGHT  Calf [6/6]"]


def test_the_power_menu_counts_down_too():
    out = io.StringIO()
    screen = TextScreen(out)
    for s in (9, 8):
        screen.frame(Frame("message", title="POWER OFF?", text="A: yes, power off   B: no", seconds=s), 9.0 - s)
    assert out.getvalue().splitlines() == ["POWER OFF?  A: yes, power off   B: no (9 s)",
                                           "POWER OFF?  A: yes, power off   B: no (8 s)"]
