"""Composition root: one owner thread, one session, the outputs that act on its effects.

``App.step(event)`` is the whole program for one event: the session decides,
the outputs (screen, buzzer, logs) carry the effects out. The real device
loop, ``stretchbox simulate`` and the tests all go through it, so what the
simulation shows is what the device does.
"""

from __future__ import annotations

import dataclasses
import logging
import queue
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from .core.frame import Frame
from .core.gestures import Pressed, Released
from .core.idle import Idle
from .config import Config
from .core.gestures import GestureConfig
from .core.session import DONE, IDLE, STATIC_STATES, Effect, Event, PowerOff, Session, SessionConfig, Tick


log = logging.getLogger(__name__)


class Output(Protocol):
    """Something that acts on what the session decided (screen, buzzer, log)."""

    def effects(self, effects: list[Effect], now: float) -> None: ...

    def frame(self, frame: Frame, now: float) -> None: ...

    def next_deadline(self) -> float | None: ...


class App:
    """Steps the session with events and hands effects and frames to the outputs.

    The frame is recomputed after every event; outputs decide whether it changed.
    ``idle`` (optional) dims and blanks static screens and swallows the wake-up press.
    ``frames`` says whether anything draws the frames: only then does the loop wake at
    every second of a countdown and for the idle panel's dimming and shifting (the
    device always draws; ``simulate --json`` does not, and steps once per event).
    """

    NOTICE_SECONDS = 8.0

    def __init__(self, session: Session, outputs: Iterable[Output] = (), idle: Idle | None = None, *,
                 frames: bool = True):
        self.session = session
        self.outputs = list(outputs)
        self.idle = idle
        self.frames = frames
        self.last_frame: Frame | None = None
        # events that are not the session's (a USB import finished, ...): type -> handler(event)
        self.handlers: dict[type, Callable[[object], None]] = {}
        self._notice: Frame | None = None
        self._notice_until: float | None = None

    def notify(self, frame: Frame) -> None:
        """Show ``frame`` for a few seconds at the next idle moment (never over a running routine)."""
        self._notice, self._notice_until = frame, None

    def next_deadline(self) -> float | None:
        """When the loop must step next if no event comes (None: only an event can change anything)."""
        times = [self.session.next_deadline(redraw=self.frames), self._notice_until]
        times += [o.next_deadline() for o in self.outputs]
        if self.idle and self.frames:
            times.append(self.idle.next_deadline(self.session.now))
        return min((t for t in times if t is not None), default=None)

    def settled(self) -> bool:
        """True when nothing more happens without input but the idle panel's dimming and shifting:
        no step, countdown, hold or timeout of the session, no cue playing, no notice, no retry."""
        times = [self.session.next_deadline(redraw=False), self._notice_until]
        return all(t is None for t in times + [o.next_deadline() for o in self.outputs])

    def step(self, event) -> list[Effect]:
        if not isinstance(event, (Pressed, Released, Tick)):
            self.handlers[type(event)](event)
            if not hasattr(event, "t"):
                return []  # e.g. a stick appeared: its import reports back later, with a time
            event = Tick(event.t)
        if event.t < self.session.now:
            # An event stamped on another thread just before a Tick we already took.
            event = dataclasses.replace(event, t=self.session.now)
        now = event.t
        if self.idle and not self.idle.admit(event):
            event = Tick(now)  # the press that woke the panel does nothing else
        if isinstance(event, Pressed) and self._notice_until is not None:
            self._notice = self._notice_until = None  # a press dismisses a notice on screen, and acts
        effects = self.session.handle(event)
        frame = self._notice_frame(now) or self.session.frame(now)
        if self.idle:
            state = self.session.state
            self.idle.observe(state in STATIC_STATES, now, may_sleep=state in (IDLE, DONE))
            frame = dataclasses.replace(frame, level=self.idle.level(now), shift=self.idle.shift(now))
        for output in self.outputs:
            output.effects(effects, now)
        self.last_frame = frame
        for output in self.outputs:
            output.frame(frame, now)
        return effects

    def _notice_frame(self, now: float) -> Frame | None:
        if self._notice is None or self.session.state not in (IDLE, DONE):
            return None
        if self._notice_until is None:
            self._notice_until = now + self.NOTICE_SECONDS
        if now >= self._notice_until:
            self._notice = self._notice_until = None
            return None
        return self._notice



@dataclass(frozen=True)
class ImportDone:
    """A USB import finished on the worker thread; the owner thread applies it.

    ``routines`` are what the library holds now (read back after the import,
    whatever happened); ``library_changed`` is observed when the import itself failed.
    """

    t: float
    report: object
    routines: list
    problems: list
    library_changed: bool | None = None


class UsbImports:
    """Imports each mounted stick on one worker thread, so the timer never waits for a slow stick.

    The worker only reads the stick and writes the library (atomically); the
    owner thread swaps the session's routines and shows the result.
    """

    def __init__(self, app: App, library: Path, inbox: queue.Queue, clock: Callable[[], float]):
        from .adapters.usbwatch import StickMounted, StickRemoved

        self.app, self.library, self.inbox, self.clock = app, library, inbox, clock
        self._jobs: queue.Queue = queue.Queue()
        self._worker: threading.Thread | None = None
        app.handlers[StickMounted] = self.mounted
        app.handlers[StickRemoved] = lambda event: None  # nothing is read from a stick after its import
        app.handlers[ImportDone] = self.apply

    def mounted(self, event) -> None:
        self._jobs.put(event.path)
        if self._worker is None:
            self._worker = threading.Thread(target=self._work, name="usb-import", daemon=True)
            self._worker.start()

    def _work(self) -> None:
        while True:
            self.inbox.put(self.import_one(Path(self._jobs.get())))

    def import_one(self, path: Path) -> ImportDone:
        """Import one stick and read the library back; never raises (a stick must not kill the worker)."""
        from .adapters.library.importer import import_routines
        from .adapters.library.store import current_dir, load_library

        report, problems, changed = None, [], None
        before = current_dir(self.library)
        try:
            report = import_routines(path, self.library)
        except Exception as exc:  # noqa: BLE001 - a bug must not leave the device showing an old library silently
            log.exception("USB import failed")
            problems, changed = [str(exc)], current_dir(self.library) != before
        routines, load_problems = load_library(self.library)  # never raises: what the device offers now
        return ImportDone(self.clock(), report, routines, problems + load_problems, changed)

    def apply(self, done: ImportDone) -> None:
        if done.routines:
            self.app.session.replace_routines(done.routines)
        self.app.notify(import_notice(done.report, done.problems, done.library_changed))


def import_notice(report, problems: list, library_changed: bool | None = None) -> Frame:
    """What the OLED says after a stick: how many routines, the first problem as file:line: message,
    and whether the report reached the stick (a new paragraph)."""
    if report is None:
        state = {True: "The library changed.", False: "The library was not changed."}.get(library_changed)
        text = "\n".join(filter(None, [str(problems[0]) if problems else "", state]))
        return Frame("error", title="USB IMPORT FAILED", text=text)
    note = report.report_note()
    n = len(report.imported)
    first = report.first_problem()
    if report.exit_code == 2:
        return Frame("error", title="NOTHING IMPORTED", text="\n".join(filter(None, [report.why_unchanged(), note])))
    title = f"{n} ROUTINE{'S' if n != 1 else ''} IMPORTED"
    if first:
        return Frame("error", title=title, text="\n".join(filter(None, [first, note])))
    return Frame("message", title=title, text="\n".join(filter(None, ["from the USB stick", note])))


def run_loop(app: App, inbox: queue.Queue, clock: Callable[[], float], *,
             should_stop: Callable[[], bool] = lambda: False, notifier=None, pinger=None) -> None:
    """The device loop: wait for an event or the next deadline, never longer, never busy.

    With systemd: READY=1 once the first frame is drawn, WATCHDOG=1 from this
    loop only (a hung loop stops the pings and systemd restarts us), STOPPING=1.
    """
    app.step(Tick(clock()))
    if notifier is not None:
        notifier.ready()
    while not should_stop():
        if pinger is not None and pinger.due(clock()):
            pinger.ping(clock())
        times = [app.next_deadline(), pinger.next_deadline() if pinger is not None else None]
        deadline = min((t for t in times if t is not None), default=None)
        timeout = None if deadline is None else max(0.0, deadline - clock())
        try:
            event = inbox.get(timeout=timeout)
        except queue.Empty:
            event = Tick(clock())
        if event is None:  # a wake-up from a signal handler
            continue
        app.step(event)
    if notifier is not None:
        notifier.stopping()


@dataclass(frozen=True)
class ScheduledPress:
    """``--press T:BUTTON[:HOLD]``: down at ``t``, up at ``t + hold``."""

    t: float
    button: str
    hold: float = 0.0

    # Past about 58 days, float seconds lose the sub-nanosecond precision the countdown's
    # whole seconds rely on; the longest routine the format allows lasts under 21 days.
    LAST = 5_000_000.0

    @classmethod
    def parse(cls, text: str, buttons: tuple[str, ...] = ("a", "b")) -> ScheduledPress:
        parts = text.split(":")
        if len(parts) not in (2, 3):
            raise ValueError(f"expected T:BUTTON or T:BUTTON:HOLD, got {text!r}")
        try:
            t = float(parts[0])
            hold = float(parts[2]) if len(parts) == 3 else 0.0
        except ValueError:
            raise ValueError(f"times are seconds, got {text!r}") from None
        button = parts[1].strip().lower()
        if button not in buttons:
            raise ValueError(f"button must be one of {', '.join(buttons)}, got {parts[1]!r}")
        if not (0 <= t <= cls.LAST and 0 <= hold <= cls.LAST and t + hold <= cls.LAST):  # also nan, inf
            raise ValueError(f"times must be from 0 to {cls.LAST:,.0f} seconds, got {text!r}")
        return cls(t, button, hold)


def press_events(presses: Iterable[ScheduledPress]) -> list[Event]:
    """Scheduled presses as Pressed/Released events in time order (stable for ties)."""
    events: list[tuple[float, int, Event]] = []
    for n, p in enumerate(presses):
        events.append((p.t, 2 * n, Pressed(p.button, p.t)))
        events.append((p.t + p.hold, 2 * n + 1, Released(p.button, p.t + p.hold)))
    return [e for _, _, e in sorted(events, key=lambda x: (x[0], x[1]))]


class SimClock:
    """Simulated monotonic time: it moves only when the simulation says so."""

    def __init__(self, now: float = 0.0):
        self.now = now

    def __call__(self) -> float:
        return self.now


class SimulationTooLong(RuntimeError):
    """``simulate`` took more steps than it was allowed (frames drawn every second of a very long run)."""


def simulate(app: App, schedule: list[tuple[float, Callable[[], None]]], inbox: queue.Queue,
             clock: SimClock, *, max_steps: int = 1_000_000) -> None:
    """Run the app on simulated time until nothing more can happen.

    ``schedule`` holds (time, action) pairs: an action drives a (mock) pin or
    puts an event in ``inbox`` itself, exactly as the hardware would. Time
    jumps straight to the next deadline or action: a whole routine takes
    milliseconds, through exactly the code the device runs. It ends when no
    action is left and the app has settled (a routine done or never started,
    the last cue played): the idle panel would only dim and shift from there.
    Without frames (``App.frames``) the steps are the events, not the seconds.
    """
    pending = sorted(schedule, key=lambda x: x[0])
    for _ in range(max_steps):
        while not inbox.empty():
            app.step(inbox.get_nowait())
        if not pending and app.settled():
            return
        deadline = app.next_deadline()
        next_t = pending[0][0] if pending else None
        if deadline is not None and (next_t is None or deadline < next_t):
            clock.now = max(clock.now, deadline)
            app.step(Tick(clock.now))
        elif pending:
            t, action = pending.pop(0)
            clock.now = max(clock.now, t)
            action()
        else:
            return
    raise SimulationTooLong(f"simulation did not finish within {max_steps:,} steps (at {clock.now:g} s)")


def direct_presses(presses: Iterable[ScheduledPress], inbox: queue.Queue) -> list[tuple[float, Callable[[], None]]]:
    """A schedule that puts button events straight into ``inbox`` (no GPIO)."""
    return [(e.t, (lambda e=e: inbox.put(e))) for e in press_events(presses)]


class PowerOutput:
    """Runs the configured power-off command when the user confirms it in the power menu.

    ``run`` is injected: the device starts the real command; ``simulate`` and
    the tests record it instead of switching the laptop off.
    """

    def __init__(self, command: tuple[str, ...], run: Callable[[tuple[str, ...]], None] | None = None):
        self.command = command
        self.run = run or self._spawn
        self.requested: list[float] = []

    @staticmethod
    def _spawn(command: tuple[str, ...]) -> None:
        import subprocess

        try:  # never wait on it: systemd will stop us (SIGTERM) as part of the shutdown
            subprocess.Popen(list(command), stdin=subprocess.DEVNULL)
        except OSError:
            log.exception("power-off command %s failed", command)

    def effects(self, effects: list[Effect], now: float) -> None:
        for e in effects:
            if isinstance(e, PowerOff):
                self.requested.append(e.t)
                log.warning("power-off confirmed: running %s", " ".join(self.command))
                self.run(self.command)

    def frame(self, frame: Frame, now: float) -> None:
        pass

    def next_deadline(self) -> float | None:
        return None


@dataclass
class Device:
    """The whole device, composed: what ``build`` returns and ``close`` takes apart."""

    app: App
    config: Config
    buttons: object | None = None
    buzzer: object | None = None  # BuzzerOutput
    panel: object | None = None  # PanelOutput
    gpio: list = dataclasses.field(default_factory=list)
    power: PowerOutput | None = None

    def close(self) -> None:
        if self.buzzer is not None:
            self.buzzer.off()
        if self.buttons is not None:
            self.buttons.close()
        for device in self.gpio:
            device.close()


def session_config(config: Config) -> SessionConfig:
    b = config.buttons
    gestures = (GestureConfig.one_button(stop_hold=max(b.a_hold, 3.0)) if b.mode == "one"
                else GestureConfig.two_button(b.a_hold, b.b_hold, b.both_hold))
    return SessionConfig(resume_lead=config.resume_lead, pause_timeout=config.pause_timeout, gestures=gestures)


def sound_devices(buzzer, pin_factory) -> tuple[object | None, object | None]:
    """The configured buzzer (active: Buzzer, passive: TonalBuzzer) and optional vibration motor."""
    from gpiozero import Buzzer, DigitalOutputDevice, TonalBuzzer
    from gpiozero.tones import Tone

    sound = None
    if buzzer.kind == "active":
        sound = Buzzer(buzzer.pin, pin_factory=pin_factory)
    elif buzzer.kind == "passive":  # A3..A7 around A5: the patterns' pitches, loud on a piezo
        sound = TonalBuzzer(buzzer.pin, mid_tone=Tone("A5"), octaves=2, pin_factory=pin_factory)
    motor = DigitalOutputDevice(buzzer.vibration_pin, pin_factory=pin_factory) if buzzer.vibration_pin else None
    return sound, motor


def build(config: Config, routines: list, *, pin_factory, clock: Callable[[], float], inbox: queue.Queue,
          open_display: Callable[[], object] | None = None, render: Callable[[Frame], object] | None = None,
          on_pin: Callable[[float, str, int], None] | None = None, first_outputs: Iterable[Output] = (),
          idle: bool = True, power_off: Callable[[tuple[str, ...]], None] | None = None,
          frames: bool = True) -> Device:
    """Compose the device from its config: the same code on a Pi, in ``simulate`` and in tests.

    ``pin_factory`` is gpiozero's (MockFactory off a Pi); ``open_display``
    returns a luma device (a real driver, an emulator, or one over a
    recording serial interface) and may raise OSError, which is survived.
    ``frames=False`` (nothing draws: ``simulate`` without frame outputs) steps only on events.
    """
    from .adapters.buttons import ButtonsInput
    from .adapters.buzzer import BuzzerOutput
    from .adapters.panel import PanelOutput

    session = Session(routines, session_config(config))
    b, z = config.buttons, config.buzzer
    pins = {"a": b.a} if b.mode == "one" else {"a": b.a, "b": b.b}
    buttons = ButtonsInput(pins, inbox, clock=clock, bounce_time=b.bounce_time, pin_factory=pin_factory)
    sound, motor = sound_devices(z, pin_factory)
    gpio = [d for d in (sound, motor) if d is not None]
    buzzer = BuzzerOutput(sound, motor, quiet=z.quiet, overrides=lambda: session.routine.cue_overrides(),
                          on_pin=on_pin)
    power = PowerOutput(config.power_command, power_off or (lambda command: log.warning(
        "power-off requested (not run here): %s", " ".join(command))))
    outputs: list = list(first_outputs) + [buzzer, power]
    panel = None
    if open_display is not None and render is not None:
        panel = PanelOutput(open_display, render, contrast=config.display.contrast,
                            dim_contrast=config.display.dim_contrast)
        outputs.append(panel)
    app = App(session, outputs, Idle(config.idle, now=clock()) if idle else None, frames=frames)
    return Device(app, config, buttons, buzzer, panel, gpio, power)
