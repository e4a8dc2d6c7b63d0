"""What differs between a Pi, a laptop and the simulation, in one object.

A :class:`Platform` holds the clock, gpiozero's pin factory (None: the real
pins), how the display is opened and drawn, how power-off runs, the inbox the
owner loop reads, and the outputs only this platform has (a text log, the
simulation's timeline). ``app.build`` composes the same device from any of them.
"""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from .adapters import display as displays
from .adapters.display import DISPLAY_FAULTS
from .adapters.outputs.capture import memo_render
from .config import DRIVERS
from .core.errors import UsageError
from .core.frame import Frame, splash_frame
from .render import Renderer

if TYPE_CHECKING:
    import queue

    from .adapters.outputs.capture import FrameRecorder
    from .adapters.outputs.timeline import Timeline

# Only what `run` needs for its splash is imported above: the rest (the session, gpiozero's mock
# pins, the keyboard, subprocess, YAML's config checks, logging, the Pi probe) where it is used, after
# the first frame is on the panel (benchmarks/bench_startup.py lists what is imported by then).


class SimClock:
    """Simulated monotonic time: it moves only when the simulation says so, and never back."""

    def __init__(self, now: float = 0.0):
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, to: float) -> float:
        """Move to ``to`` (a time already passed leaves the clock where it is); the time now."""
        self.now = max(self.now, to)
        return self.now


def _simple_queue() -> queue.SimpleQueue:
    import queue  # here: `run` makes its platform after the splash

    return queue.SimpleQueue()


@dataclass
class Platform:
    """What the device runs on. ``pin_factory`` None means gpiozero's own default; ``real_pins``: the
    Pi's own pins, not mock ones; ``power_off`` None means a power-off is only logged (off a Pi, in tests)."""

    clock: Callable[[], float]
    # SimpleQueue: its put() is reentrant, so the SIGTERM handler may call it even when the signal lands
    # while the loop holds a queue.Queue's lock inside get() (which would deadlock the process).
    inbox: queue.SimpleQueue = field(default_factory=_simple_queue)
    pin_factory: object | None = None
    real_pins: bool = False
    open_display: Callable[[], object] | None = None
    render: Callable[[Frame], object] | None = None
    power_off: Callable[[tuple[str, ...]], None] | None = None
    outputs: list = field(default_factory=list)  # drawn to before the buzzer and the panel
    on_pin: Callable[[float, str, int], None] | None = None
    frames: bool = True  # something draws every second (False: `simulate --json` steps per event)
    idle: bool = True  # dim and blank static screens
    keys: bool = False  # the terminal's keys drive the mock pins
    state: Path | None = None  # the state folder (journal, history); None: nothing is kept (a preview)

    def close(self) -> None:
        """Give the pins back (adapters/buttons.py release_pins)."""
        if self.pin_factory is not None:
            from .adapters.buttons import release_pins

            release_pins(self.pin_factory)


class DisplayChoice:
    """How frames reach a screen: extra outputs (a text log), or a luma device and a renderer.

    ``splash`` opens the device early and draws one frame; the device it
    opened is handed to the panel output as its first ``open()``. A fault is
    kept in ``fault`` for the caller to log once logging is set up (importing
    logging before the first frame costs start-up time).
    """

    def __init__(self, outputs=(), open=None, render=None, close=lambda: None, shows_keys: bool = False):
        self.outputs, self._open, self.render, self.close = list(outputs), open, render, close
        self.shows_keys = shows_keys  # the terminal panel has the key help below it
        self._ready: list = []
        self.fault: str | None = None  # why the last splash was not drawn

    @property
    def open(self):
        if self._open is None:
            return None
        return lambda: self._ready.pop() if self._ready else self._open()

    def splash(self, frame) -> None:
        if self._open is None or self.render is None:
            return
        try:
            if self._ready:  # a second frame (a refused config) goes to the device already open
                device = self._ready[-1]
            else:
                device = self._open()
                self._ready.append(device)  # the panel output's even if this frame fails: it owns the bus handle
            device.display(self.render(frame))
        except DISPLAY_FAULTS as exc:  # the panel output retries with backoff and logs the fault once
            self.fault = f"{type(exc).__name__}: {exc}"


def open_display(name: str | None, config) -> DisplayChoice:
    """``--display NAME`` (None: the configured panel on a Pi, else the terminal or a text log)."""
    if name is None:
        from .adapters.probe import on_a_pi

        name = "config" if on_a_pi() else _terminal_or_text(config.display)
    if name == "text":
        from .adapters.outputs.textscreen import TextScreen

        return DisplayChoice([TextScreen(sys.stdout)])
    d = config.display
    render = memo_render(Renderer(d.frame_size).render)  # the panel's size, turned as luma turns it
    if name == "terminal":  # pixel-exact, in this terminal; no pygame needed
        from .adapters.terminal import TerminalPanel

        terminal: list = []

        def open_terminal():  # the frame as rendered: upright, as a person sees a panel mounted on its side
            if not terminal:
                width, height = d.frame_size
                terminal.append(TerminalPanel(sys.stdout, width=width, height=height, help=_key_help()))
            return terminal[0]
        return DisplayChoice(open=open_terminal, render=render, close=lambda: terminal and terminal[0].cleanup(),
                             shows_keys=True)
    if name in displays.EMULATORS:
        if displays.emulator_missing():
            raise UsageError(f"display {name!r} needs the emulator extra: pip install 'stretchbox[emulator]'")
        made = []

        def open_emulator():
            if not made:  # an emulator cannot fail like a bus; open it once
                made.append(displays.emulator(name, width=d.width, height=d.height, rotate=d.rotate))
            return made[0]
        return DisplayChoice(open=open_emulator, render=render)
    if name == "dummy":  # luma's own test double: keeps the last image, sends nothing
        return DisplayChoice(open=lambda: displays.dummy(width=d.width, height=d.height, rotate=d.rotate),
                             render=render)
    if name == "config" or name in DRIVERS:
        if name != "config":
            check_driver(name, d)
        panel = d if name == "config" else dataclasses.replace(d, driver=name)
        return DisplayChoice(open=lambda: displays.device_from_config(panel), render=render)
    raise UsageError(f"unknown display {name!r}: config, {', '.join(DRIVERS)}, terminal, "
                     f"{', '.join(displays.EMULATORS)} or text")


def check_driver(name: str, display) -> None:
    """A UsageError when luma's driver ``name`` cannot drive the configured panel's size."""
    from .adapters.configfile import display_problem

    problem = display_problem(name, display.width, display.height, display.rotate)
    if problem:
        raise UsageError(f"--display: {problem} (the config's size)")


def _key_help() -> tuple[str, ...]:
    from .adapters.keyboard import HELP, SHORT_HELP, Keyboard

    return (HELP, SHORT_HELP) if Keyboard.available() else ("no keys: stdin is not this terminal's foreground",)


def _terminal_or_text(display) -> str:
    """The emulated panel when the terminal can hold it exactly (half blocks, else braille), else a text log."""
    import shutil

    from .adapters.terminal import choose_layout, needed

    if not sys.stdout.isatty():
        return "text"
    size, (width, height) = shutil.get_terminal_size(), display.frame_size
    if choose_layout(size.columns, size.lines, width, height, _key_help()):
        return "terminal"
    print(f"terminal is {size.columns}x{size.lines}; the emulated panel needs "
          f"{needed(width, height, _key_help())}: showing a text log "
          "(or enlarge it, or use --display pygame)", file=sys.stderr)
    return "text"


def device_platform(display: DisplayChoice, pins: str, clock: Callable[[], float]) -> Platform:
    """A Pi (``pins`` real: the real pins, the real power-off) or a laptop (mock pins the keys drive).

    ``pins`` auto is real on a Pi. Made after the splash: gpiozero's import is slow on a Pi Zero.
    """
    from .adapters.buttons import mock_pin_factory, real_pin_factory
    from .adapters.keyboard import Keyboard
    from .adapters.power import spawn
    from .adapters.probe import on_a_pi

    if pins == "auto":
        pins = "real" if on_a_pi() else "mock"
    real = pins == "real"
    factory = real_pin_factory() if real else mock_pin_factory()
    return Platform(clock, pin_factory=factory, real_pins=real, open_display=display.open, render=display.render,
                    power_off=spawn if real else None, outputs=display.outputs,
                    keys=not real and Keyboard.available())  # off a Pi a power-off is only logged


@dataclass
class Simulation:
    """``stretchbox simulate``'s platform and what it records: the timeline, the frames, the bus."""

    platform: Platform
    clock: SimClock
    timeline: Timeline
    recorder: FrameRecorder | None = None


def simulation(config, *, emit: Callable[[dict], None] | None = None, capture: bool = False,
               driver: str | None = None, bus_log=None) -> Simulation:
    """Simulated time and mock pins; ``capture`` keeps every frame (PNGs, GIF, sheet); ``driver``
    draws through the device's own driver for that chip (partial updates for the ssd1306 and sh1106,
    on the simulated clock) over a recording serial interface, logged to ``bus_log``: what the
    device sends."""
    from .adapters.buttons import mock_pin_factory
    from .adapters.outputs.capture import FrameRecorder
    from .adapters.outputs.timeline import Timeline

    clock = SimClock()
    timeline = Timeline(emit=emit)
    frames = capture or driver is not None
    d = config.display
    render = memo_render(Renderer(d.frame_size).render) if frames else None
    recorder, open_device = None, None
    if capture:
        recorder = FrameRecorder(render)
        recorder.frame(splash_frame(), 0.0)  # as `run` starts
    if driver is not None:
        serial = displays.RecordingSerial(clock=clock, sink=bus_log)
        open_device = lambda: displays.device_driver(driver, serial, width=d.width, height=d.height,  # noqa: E731
                                                     rotate=d.rotate, clock=clock)
    platform = Platform(clock, pin_factory=mock_pin_factory(), open_display=open_device, render=render,
                        outputs=[timeline] + ([recorder] if recorder else []), frames=frames,
                        on_pin=lambda t, pin, state: timeline.add({"t": round(t, 3), "event": "pin", "pin": pin,
                                                                    "state": state}))
    return Simulation(platform, clock, timeline, recorder)

