"""Composition root: one owner thread, one session, the outputs that act on its effects.

``App.step(event)`` is the whole program for one event: the session decides,
the outputs (screen, buzzer, logs) carry the effects out. The real device
loop, ``stretchbox simulate`` and the tests all go through it, so what the
simulation shows is what the device does.

``build(config, routines, platform)`` composes the device (buttons, sound, outputs,
the USB watcher and importer, the keyboard, the notifier) on any platform
(platform.py); the command line's entry points are ``run``, ``simulate_command``
and ``check``.
"""

from __future__ import annotations

import dataclasses
import io
import logging
import queue
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from .adapters import export
from .adapters.buttons import ButtonsInput, mock_pin_factory, real_pin_factory, release_pins
from .adapters.buzzer import BuzzerOutput, sound_devices
from .adapters.journal import JournalFile
from .adapters.keyboard import HELP, Keyboard
from .adapters.library import importer, store
from .adapters.outputs.files import OutputFiles
from .adapters.outputs.timeline import json_line, summary_record, write_table
from .adapters.panel import PanelOutput
from .adapters.replay import dumps, record
from .adapters.signals import signals_blocked, start_thread
from .adapters.state import StateKeeper
from .adapters.systemd import Notifier, WatchdogPinger
from .adapters.usbwatch import MountWatcher, StickMounted, StickRemoved
from .check import I2CTarget, run_check
from .commands import EXIT_INVALID, EXIT_OK, routines_from
from .config import DEFAULT_PATH, DRIVERS, Config, state_folder
from .core.errors import StretchboxError, UsageError
from .core.frame import Frame, final_frame, safe_to_unplug_frame, splash_frame
from .core.gestures import A, GestureConfig, Pressed, Released, Swallowed
from .core.history import csv_text, sessions
from .core.idle import Idle
from .core.output import Output
from .core.routine import Routine
from .core.session import DONE, IDLE, STATIC_STATES, Effect, PowerOff, Session, SessionConfig, Tick
from .platform import DisplayChoice, Platform, SimClock, Simulation, device_platform, open_display, simulation
from .render import Renderer
from .render.gif import write_gif, write_sheet

log = logging.getLogger(__name__)


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
        self._swallowed = Swallowed()  # buttons whose press dismissed a notice, until released

    def notify(self, frame: Frame) -> None:
        """Show ``frame`` for a few seconds at the next idle moment (never over a running routine)."""
        self._notice, self._notice_until = frame, None

    def next_deadline(self) -> float | None:
        """When the loop must step next if no event comes (None: only an event can change anything)."""
        times = [self.session.next_deadline(redraw=self.frames), self._notice_until]
        times += [o.next_deadline() for o in self.outputs] + [o.upkeep_deadline() for o in self.outputs]
        if self.idle and self.frames:
            times.append(self.idle.next_deadline(self.session.now))
        return min((t for t in times if t is not None), default=None)

    def settled(self) -> bool:
        """True when nothing more happens without input but the idle panel's dimming and shifting and
        the outputs' upkeep (the panel's periodic full frame): no step, countdown, hold or timeout of the
        session, no cue playing, no notice, no retry."""
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
        event = self._dismissing(event)
        effects = self.session.handle(event)
        self.carry_out(effects, now)
        return effects

    def carry_out(self, effects: list[Effect], now: float) -> None:
        """The outputs act on the effects, then draw the frame: after the effects, so what they tell the
        session (the history's streak on the done screen) is on it."""
        for output in self.outputs:
            output.effects(effects, now)
        frame = self._notice_frame(now) or self.session.frame(now)
        if self.idle:
            state = self.session.state
            self.idle.observe(state in STATIC_STATES, now, may_sleep=state in (IDLE, DONE))
            frame = dataclasses.replace(frame, level=self.idle.level(now), shift=self.idle.shift(now))
        self.last_frame = frame
        for output in self.outputs:
            output.frame(frame, now)

    def _dismissing(self, event):
        """A press on a notice (an import report) dismisses it and does nothing else: its release and any
        hold are swallowed too, so B on a problem screen never jumps to the next routine."""
        if isinstance(event, Pressed) and self._notice_until is not None:
            self._notice = self._notice_until = None
            self._swallowed.add(event.button)
            return Tick(event.t)
        return Tick(event.t) if self._swallowed.takes(event) else event

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

    def __init__(self, app: App, library: Path, inbox: queue.Queue, clock: Callable[[], float],
                 state: StateKeeper | None = None):
        self.app, self.library, self.inbox, self.clock = app, library, inbox, clock
        self.state = state  # told of each import (the history's "since the last import", the stick's clock)
        self._jobs: queue.Queue = queue.Queue()
        self._worker: threading.Thread | None = None
        app.handlers[StickMounted] = self.mounted
        app.handlers[StickRemoved] = lambda event: None  # nothing is read from a stick after its import
        app.handlers[ImportDone] = self.apply

    def mounted(self, event) -> None:
        self._jobs.put(event.path)
        if self._worker is None:
            self._worker = start_thread(self._work, "usb-import")

    def _work(self) -> None:
        while True:
            self.inbox.put(self.import_one(Path(self._jobs.get())))

    def import_one(self, path: Path) -> ImportDone:
        """Import one stick and read the library back; never raises (a stick must not kill the worker)."""
        report, problems, changed = None, [], None
        before = store.current_dir(self.library)
        try:
            report = importer.import_routines(path, self.library)
        except Exception as exc:  # noqa: BLE001 - a bug must not leave the device showing an old library silently
            log.exception("USB import failed")
            problems, changed = [str(exc)], store.current_dir(self.library) != before
        routines, load_problems = store.load_library(self.library)  # never raises: what the device offers now
        self._export_history(path)
        return ImportDone(self.clock(), report, routines, problems + load_problems, changed)

    def _export_history(self, stick: Path) -> None:
        """A stick that asks for it (``stretchbox/EXPORT-HISTORY``) gets the history as CSV: staged in the
        state folder here, written to the stick by the privileged export unit (the service cannot write it)."""
        if self.state is None or not export.export_requested(stick):
            return
        try:
            # the owner thread's snapshot: reading the file here could race an append or a rotation
            export.stage_export(self.state.folder, csv_text(sessions(list(self.state.entries))))
            export.start_export(stick.name)
        except (OSError, ValueError) as exc:
            log.error("history export to %s: %s", stick, exc)

    def apply(self, done: ImportDone) -> None:
        if done.routines:  # an offer whose routine the stick changed is answered: interrupted, in the history
            self.app.carry_out(self.app.session.replace_routines(done.routines), done.t)
        if self.state is not None and done.report is not None and done.report.library_changed:
            self.state.imported(len(done.report.imported), done.report.newest_file, done.t)
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


def run_loop(app: App, inbox: queue.SimpleQueue | queue.Queue, clock: Callable[[], float], *,
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


class SimulationTooLong(StretchboxError, RuntimeError):
    """``simulate`` took more steps than it was allowed (frames drawn every second of a very long run)."""


def simulate(app: App, schedule: list[tuple[float, Callable[[], None]]], inbox: queue.Queue,
             clock: SimClock, *, max_steps: int = 1_000_000, until: float | None = None) -> None:
    """Run the app on simulated time until nothing more can happen.

    ``schedule`` holds (time, action) pairs: an action drives a (mock) pin or
    puts an event in ``inbox`` itself, exactly as the hardware would. Time
    jumps straight to the next deadline or action: a whole routine takes
    milliseconds, through exactly the code the device runs. It ends when no
    action is left and the app has settled (a routine done or never started,
    the last cue played): the idle panel would only dim and shift from there.
    With ``until`` it runs to that time instead, settled or not, waking at every
    deadline the device loop would (the panel's upkeep too).
    Without frames (``App.frames``) the steps are the events, not the seconds.
    """
    pending = sorted(schedule, key=lambda x: x[0])
    for _ in range(max_steps):
        while not inbox.empty():
            app.step(inbox.get_nowait())
        if until is None and not pending and app.settled():
            return
        deadline = app.next_deadline()
        if until is not None and deadline is not None and deadline > until:
            deadline = None
        next_t = pending[0][0] if pending else None
        if deadline is not None and (next_t is None or deadline < next_t):
            app.step(Tick(clock.advance(deadline)))
        elif pending:
            t, action = pending.pop(0)
            clock.advance(t)
            action()
        else:
            if until is not None:
                clock.advance(until)
            return
    raise SimulationTooLong(f"simulation did not finish within {max_steps:,} steps (at {clock.now:g} s)")


class PowerOutput(Output):
    """Runs the configured power-off command when the user confirms it in the power menu.

    ``run`` is the platform's: the device starts the real command; ``simulate`` and
    the tests record it instead of switching the laptop off.
    """

    def __init__(self, command: tuple[str, ...], run: Callable[[tuple[str, ...]], None]):
        self.command = command
        self.run = run
        self.requested: list[float] = []

    def effects(self, effects: list[Effect], now: float) -> None:
        for e in effects:
            if isinstance(e, PowerOff):
                self.requested.append(e.t)
                log.warning("power-off confirmed: running %s", " ".join(self.command))
                self.run(self.command)


@dataclass
class Device:
    """The whole device, composed: what ``build`` returns; ``run`` and ``simulate`` drive it, ``close``
    takes it apart."""

    app: App
    config: Config
    platform: Platform
    buttons: ButtonsInput
    buzzer: BuzzerOutput
    power: PowerOutput
    usb: UsbImports
    watcher: MountWatcher
    notifier: Notifier
    panel: PanelOutput | None = None
    gpio: list = dataclasses.field(default_factory=list)
    keyboard: Keyboard | None = None
    state: StateKeeper | None = None

    def resume(self) -> None:
        """Take up what a crash or a power cut left in the journal (with a state folder)."""
        if self.state is not None:
            self.app.carry_out(self.state.resume(), self.platform.clock())

    def resume_from(self, path: Path) -> None:
        """``simulate --journal FILE``: take up that journal, as the device would (this boot's or another's)."""
        journal = JournalFile(path.parent, name=path.name)
        saved = journal.read()
        if saved is None:
            raise UsageError(f"--journal: {path} is not a journal this device can read (see the line above)")
        now = self.platform.clock()
        effects, refused = self.app.session.restore(saved["state"], now, same_boot=journal.written_this_boot(saved))
        if refused is not None:
            raise UsageError(f"--journal: {path}: not resumed: {refused}")
        self.app.carry_out(effects, now)

    def close(self) -> None:
        self.buzzer.off()
        self.buttons.close()
        for device in self.gpio:
            device.close()

    def run(self, *, start: bool = False, problems: list = ()) -> None:
        """The device loop until SIGTERM/SIGINT (or q on the keyboard); then the final screen.

        ``start`` presses A at once; ``problems`` (the library's) are shown at the first idle moment.
        """
        clock, inbox = self.platform.clock, self.platform.inbox
        stop = _stop_on_signals(inbox)
        if problems:
            self.app.notify(Frame("error", title="ROUTINE PROBLEM", text=str(problems[0])))
        self.resume()
        watching = self._watch_usb()
        if self.keyboard is not None:
            self.keyboard.start()
        if start:
            now = clock()
            inbox.put(Pressed(A, now))
            inbox.put(Released(A, now))
        try:
            run_loop(self.app, inbox, clock, notifier=self.notifier, pinger=WatchdogPinger(self.notifier),
                     should_stop=lambda: stop.is_set() or (self.keyboard is not None and self.keyboard.quit.is_set()))
        finally:
            if self.state is not None:
                self.state.stop(clock())
            if watching:
                self.watcher.stop()
            if self.keyboard:
                self.keyboard.close()
            self.close()
            if self.panel is not None:
                self.panel.final(final_frame(self.app.session.state, self.config.display.final_screen))

    def _watch_usb(self) -> bool:
        """Start watching for sticks (one already in at power-on is imported too); False if we cannot."""
        try:
            self.watcher.start(announce_existing=True)
        except OSError as exc:
            logging.getLogger("stretchbox").warning("not watching for USB sticks: %s", exc)
            return False
        return True

    def simulate(self, presses: list[ScheduledPress], *, max_steps: int = 1_000_000) -> None:
        """The presses through the mock pins, on the platform's simulated clock, until all is done."""
        factory, pins = self.platform.pin_factory, self.config.buttons.pins()
        schedule = []
        for p in presses:
            for name in p.button:  # "ab": both buttons, for the power menu
                pin = factory.pin(pins[name])
                schedule.append((p.t, pin.drive_low))
                schedule.append((p.t + p.hold, pin.drive_high))
        simulate(self.app, schedule, self.platform.inbox, self.platform.clock, max_steps=max_steps)
        self.close()


def _stop_on_signals(inbox: queue.SimpleQueue) -> threading.Event:
    """SIGTERM and SIGINT set the returned event and wake the loop: the owner thread cleans up.

    The handler runs in the main thread between any two bytecodes, so it takes no lock the loop may
    hold: the inbox is a SimpleQueue (reentrant put), and only the handler ever sets the event."""
    stop = threading.Event()

    def on_signal(signum, frame):
        stop.set()
        inbox.put(None)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    return stop


def session_config(config: Config) -> SessionConfig:
    b = config.buttons
    gestures = (GestureConfig.one_button(stop_hold=max(b.a_hold, 3.0)) if b.mode == "one"
                else GestureConfig.two_button(b.a_hold, b.b_hold, b.both_hold))
    return SessionConfig(resume_lead=config.resume_lead, pause_timeout=config.pause_timeout, gestures=gestures,
                         extend=config.extend, halfway=config.halfway, offer_timeout=config.offer_timeout)


def build(config: Config, routines: list, platform: Platform) -> Device:
    """Compose the device from its config on a platform: the same code on a Pi, in ``simulate`` and in tests.

    ``platform.open_display`` returns a luma device (a real driver, an emulator, or one over a
    recording serial interface) and may raise OSError, which is survived.
    """
    clock, inbox, factory = platform.clock, platform.inbox, platform.pin_factory
    session = Session(routines, session_config(config))
    b, z = config.buttons, config.buzzer
    pins = b.pins()
    buttons = ButtonsInput(pins, inbox, clock=clock, bounce_time=b.bounce_time, pin_factory=factory)
    sound, motor = sound_devices(z, factory)
    buzzer = BuzzerOutput(sound, motor, quiet=z.quiet, overrides=lambda: session.routine.cue_overrides(),
                          on_pin=platform.on_pin)
    power = PowerOutput(config.power_command, platform.power_off or (lambda command: log.warning(
        "power-off requested (not run here): %s", " ".join(command))))
    outputs: list = list(platform.outputs) + [buzzer, power]
    panel = None
    if platform.open_display is not None and platform.render is not None:
        panel = PanelOutput(platform.open_display, platform.render, contrast=config.display.contrast,
                            dim_contrast=config.display.dim_contrast)
        outputs.append(panel)
    state = StateKeeper(platform.state, session, clock) if platform.state is not None else None
    if state is not None:
        outputs.append(state)  # last: the journal's fsync comes after the frame is drawn and the cue started
    app = App(session, outputs, Idle(config.idle, now=clock()) if platform.idle else None, frames=platform.frames)
    usb = UsbImports(app, Path(config.paths.library), inbox, clock, state)
    keyboard = None
    if platform.keys:
        def edge(button: str, down: bool) -> None:
            if button not in pins:  # one-button mode: B's pin may be anything's, or nothing
                return
            pin = factory.pin(pins[button])
            pin.drive_low() if down else pin.drive_high()

        keyboard = Keyboard(inbox, edge=edge)
    return Device(app, config, platform, buttons, buzzer, power, usb, MountWatcher(inbox, config.paths.usb_mounts),
                  Notifier(), panel, [d for d in (sound, motor) if d is not None], keyboard, state)


# ---- the entry points the command line calls: each composes, runs, and answers with an exit code ----------
def run(config: Config, routine: Path | None, display: DisplayChoice, pins: str, *, start: bool = False,
        state_dir: Path | None = None) -> int:
    """``stretchbox run`` after the splash: the routines, the platform, the device loop; exit 0."""
    problems: list = []
    if routine:
        routines = routines_from(routine)
    else:
        routines, problems = store.load_library(Path(config.paths.library))
        if not routines:
            for problem in problems:
                print(problem, file=sys.stderr)
            return EXIT_INVALID
    platform = device_platform(display, pins, time.monotonic)
    platform.state = state_folder(config, state_dir)
    try:
        with signals_blocked():  # threads the pins start (edges; lgpio's) leave the signals to the loop
            device = build(config, routines, platform)
        if platform.keys and not display.shows_keys:  # the terminal panel has them below it
            print(HELP, file=sys.stderr)
        elif not platform.real_pins and not platform.keys and sys.stdin.isatty():
            print("no keys: stretchbox is not in the terminal's foreground (under timeout, or with &)",
                  file=sys.stderr)
        device.run(start=start, problems=problems)
    finally:
        display.close()
        platform.close()
    return EXIT_OK


def simulate_routine(config: Config, routine: Routine, presses: list[ScheduledPress], sim: Simulation, *,
                     max_steps: int = 1_000_000, journal: Path | None = None) -> Device:
    """``stretchbox simulate``: the routine on the simulation's clock and mock pins; the device, run.
    ``journal``: start from that resume journal, as the device would (this boot's or another's)."""
    try:
        device = build(config, [routine], sim.platform)
        if journal is not None:
            device.resume_from(journal)
        else:
            device.resume()
        device.simulate(presses, max_steps=max_steps)
    finally:
        sim.platform.close()
    return device


def check(config: Config, display_name: str | None, pins: str, timeout: float) -> int:
    """``stretchbox check``: exit 0 when every check passed, 1 when one failed (each FAIL with its fix)."""
    name = display_name or "config"
    display = open_display(name, config)
    if display.open is None:
        raise UsageError("check needs a pixel display (config, a driver name, dummy or an emulator)")
    factory = mock_pin_factory() if pins == "mock" else real_pin_factory()
    inbox: queue.Queue = queue.Queue()
    b, z, d = config.buttons, config.buzzer, config.display
    config_file = config.source if config.source != "<defaults>" else str(DEFAULT_PATH)

    buzzer_pins = ([z.pin] if z.kind != "none" else []) + ([f"vibration {z.vibration_pin}"] if z.vibration_pin else [])
    try:
        report = run_check(
            open_device=display.open, render=display.render, buttons=b.pins(), inbox=inbox,
            open_button=lambda button, pin: ButtonsInput({button: pin}, inbox, clock=time.monotonic,
                                                         bounce_time=b.bounce_time, pin_factory=factory),
            open_buzzer=lambda: _open_buzzer(z, factory), buzzer_pin=", ".join(buzzer_pins),
            press_timeout=timeout, config_file=config_file,
            i2c=I2CTarget(d.i2c_port, d.i2c_address, config_file)
            if (name == "config" or name in DRIVERS) and d.interface == "i2c" else None)
    finally:
        if factory is not None:
            release_pins(factory)
    print("\n".join(["stretchbox check", *report.lines]))
    return EXIT_OK if report.ok else EXIT_INVALID


def _open_buzzer(z, factory) -> BuzzerOutput | None:
    """The buzzer, then the motor, for ``check``; a motor that fails does not leak the buzzer."""
    if z.kind == "none" and not z.vibration_pin:
        return None
    sound = sound_devices(dataclasses.replace(z, vibration_pin=None), factory)[0]
    try:
        motor = sound_devices(dataclasses.replace(z, kind="none"), factory)[1]
    except Exception:
        if sound is not None:
            sound.close()
        raise
    return BuzzerOutput(sound, motor)


def boot_frames(config: Config, out: Path) -> int:
    """The splash and SAFE TO UNPLUG as replay files: the bytes luma's driver for the configured
    panel sends to draw them on a panel that was just powered on (see adapters/replay.py)."""
    d = config.display
    if d.interface != "i2c":
        print(f"boot-frames: the panel is on {d.interface}: the early splash and SAFE TO UNPLUG "
              "are drawn over I2C only", file=sys.stderr)
        return EXIT_OK
    render = Renderer((d.width, d.height)).render
    out.mkdir(parents=True, exist_ok=True)
    for name, frame in (("splash", splash_frame()), ("safe-to-unplug", safe_to_unplug_frame())):
        replay = record(render(frame), driver=d.driver, port=d.i2c_port, address=d.i2c_address,
                        width=d.width, height=d.height, rotate=d.rotate, contrast=d.contrast)
        (out / f"{name}.json").write_text(dumps(replay))
    return EXIT_OK


@dataclass(frozen=True)
class SimulateOutputs:
    """Where ``simulate`` writes: JSON lines or a table on stdout; PNGs, a GIF, a sheet; a driver's bus log."""

    json: bool = False
    frames: Path | None = None
    gif: Path | None = None
    gif_speed: float = 8.0
    sheet: Path | None = None
    driver: str | None = None
    bus_log: Path | None = None

    @property
    def captures(self) -> bool:
        return bool(self.frames or self.gif or self.sheet)

    @property
    def draws(self) -> bool:
        """Something draws every second (frames are rendered), not only the timeline."""
        return self.captures or self.driver is not None


def simulate_command(config: Config, routine: Routine, presses: list[ScheduledPress], outputs: SimulateOutputs, *,
                     max_steps: int | None = None, state: Path | None = None, journal: Path | None = None) -> int:
    """``stretchbox simulate`` once its options are checked: the output files opened first, then the run."""
    files, gif, sheet, bus_log = _open_outputs(outputs)
    out = sys.stdout
    sim = simulation(config, emit=(lambda r: out.write(json_line(r) + "\n")) if outputs.json else None,
                     capture=outputs.captures, driver=outputs.driver, bus_log=bus_log)
    sim.platform.state = state
    try:
        device = simulate_routine(config, routine, presses, sim, journal=journal,
                                  **({"max_steps": max_steps} if max_steps else {}))
    except SimulationTooLong as exc:
        files.discard()
        raise UsageError(f"{exc}: drawing every second is too long here; drop --frames, --gif, --sheet and "
                         "--display, or press less") from None
    if sim.recorder is not None:
        _write_captures(outputs, sim.recorder, sim.clock.now, gif=gif, sheet=sheet)
    if bus_log is not None:
        files.finish("--bus-log", bus_log)
    summary = summary_record(sim.timeline)
    if outputs.json:
        out.write(json_line(summary) + "\n")
    else:
        write_table(device.app.session.routine, sim.timeline.records, summary, out)
    return EXIT_OK


def _open_outputs(outputs: SimulateOutputs):
    """``--frames``' folder made and ``--gif``, ``--sheet``, ``--bus-log`` opened, before any work."""
    files = OutputFiles()
    try:
        if outputs.frames:
            files.folder("--frames", outputs.frames)
        gif = files.open("--gif", outputs.gif) if outputs.gif else None
        sheet = files.open("--sheet", outputs.sheet) if outputs.sheet else None
        bus_log = files.open("--bus-log", outputs.bus_log) if outputs.bus_log else None
    except UsageError:
        files.discard()
        raise
    return files, gif, sheet, bus_log


def _write_captures(outputs: SimulateOutputs, recorder, end: float, *, gif=None, sheet=None) -> None:
    """The PNGs, GIF and sheet, into the folder and files opened before the run; a failure is one line, exit 1."""
    def put(option: str, sink, data: bytes) -> None:
        sink.write(data)
        OutputFiles.finish(option, sink)

    if outputs.frames:
        try:
            n = recorder.write_pngs(outputs.frames)
        except OSError as exc:
            print(f"stretchbox: --frames: cannot write in {outputs.frames}: {exc.strerror or exc}", file=sys.stderr)
            raise SystemExit(EXIT_INVALID) from None
        print(f"{n} screens written to {outputs.frames}", file=sys.stderr)
    if gif is not None:
        buffer = io.BytesIO()
        ms = write_gif(recorder.frames, buffer, end=end, speed=outputs.gif_speed)
        put("--gif", gif, buffer.getvalue())
        print(f"{len(recorder.frames)} frames, {ms / 1000:.1f} s, written to {outputs.gif}", file=sys.stderr)
    if sheet is not None:
        seen, shown = set(), []
        for (t, image), frame in zip(recorder.frames, recorder.screens):
            key = (frame.screen, frame.title, frame.side == "right")
            if key not in seen:
                seen.add(key)
                shown.append((f"{frame.screen} at {t:.0f} s", image))
        buffer = io.BytesIO()
        write_sheet(shown, buffer)
        put("--sheet", sheet, buffer.getvalue())
        print(f"{len(shown)} screens on {outputs.sheet}", file=sys.stderr)
