"""THE state machine of a stretching session: ``Session.handle(event) -> effects``.

Every transition is one entry of ``TABLE`` below: (where, input) -> (action, next
state). *Where* is the state, and for a routine under way also the phase of its
current step (``running · hold``, ``paused · rest``). Inputs are the gestures
and the timeouts alike. docs/session.md is this table rendered (regenerate it
with ``make session-doc``; a test fails when it is out of date).

Rules, all in one place:

* States: idle -> running <-> paused -> lead-in -> running ... -> done -> idle;
  from idle, running, lead-in, paused or done, the power menu (confirm-off)
  -> powering-off.
* A routine is a plan of steps, each in one phase. Per stretch: prepare, hold
  (first side), switch, hold (second side), rest; one hold without sides; no
  rest after the last stretch, so the plan always ends with a hold. Steps of
  0 s are left out of the plan; holds never are.
* Inputs (gestures: see gestures.py; the seconds are the defaults):
  ``A press``/``B press`` (released before the button's hold threshold),
  ``A hold`` (A held to its longest threshold: 2 s, or 3 s with one button),
  ``A short hold`` (one-button mode: A released between 1 s and 3 s),
  ``B hold`` (1 s), ``A+B hold`` (both buttons held 3 s: neither counts on
  its own), and the timeouts: ``step ends``, ``countdown`` (each of
  the last 3 whole seconds of a hold), ``lead-in ends``, ``pause timeout``
  (``pause_timeout`` s alone in a pause), ``menu timeout`` (10 s without an
  answer), ``power-off fails`` (still running 60 s after powering off).
* A timeout is scheduled only where the table has an entry for it. A gesture
  with no entry does nothing (reported as action ``none``); a timeout with
  no entry is a bug and raises ``IllegalTransition``.
* A cell may list outcomes with a guard each (``when``); the first whose
  guard holds is taken, and the last has none. ``do`` names the handler when
  it differs from the action reported (``back`` is three handlers).
* Every deadline is absolute. When a deadline passes, the next step starts
  *at the deadline*, not when the late Tick arrived, so time never drifts.
  ``next_deadline()`` also includes each whole second of a step for a loop
  that draws; ``next_deadline(redraw=False)`` leaves those out, so a loop
  without a screen steps once per event.
* A *side* is a hold plus the prepare/switch that leads into it; a rest
  belongs to the side before it. ``skip`` leaves the current side (counted
  as skipped if its hold had not finished) and starts the next side, or the
  next stretch; past the last side the routine is done (not stopped).
* ``back``: ``restart-hold`` restarts the current hold (3 s or more of it
  have run); ``previous-side`` goes to the start of the previous side (the
  first side restarts); ``restart-side`` (from a rest) restarts the side the
  rest follows.
* Skip and back while paused move and stay paused; the pause timeout starts
  again there. A pause left alone for ``pause_timeout`` s ends the routine
  (stopped), so a forgotten device never sits paused forever.
* Resuming a paused hold first runs a lead-in (``resume_lead`` s) to get back
  into position; the hold then goes on with the time it had left.
* The power menu pauses a running routine first (``pause-for-menu``); A
  powers off; B or the menu timeout goes back to where it was opened (from the
  history or the offer: idle, the offer still pending), and so does a power-off
  that failed (still running 60 s later).

Time is an input (``event.t``, monotonic seconds); nothing here sleeps.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Callable, Union

from .frame import Frame
from .gestures import A, B, BOTH, PRESS, Gesture, GestureConfig, Gestures, Pressed, Released
from .history import Ending, SessionLog, SideLog, log_from_dict
from .routine import MAX_DURATION, Routine


class State(StrEnum):
    """Where the session is; the values are what ``simulate --json`` prints."""

    IDLE = "idle"
    RUNNING = "running"
    PAUSED = "paused"
    LEAD_IN = "lead-in"
    DONE = "done"
    CONFIRM_OFF = "confirm-off"
    POWERING_OFF = "powering-off"
    OFFER = "offer"  # after a reboot mid-routine: resume it, or start over?
    HISTORY = "history"  # this week's sessions and the balance of the sides


class Phase(StrEnum):
    """The kind of a step of the plan."""

    PREPARE = "prepare"
    HOLD = "hold"
    SWITCH = "switch"
    REST = "rest"


class Input(StrEnum):
    """What the session reacts to: gestures, and its own timeouts."""

    A_PRESS = "A press"
    A_HOLD = "A hold"
    A_SHORT_HOLD = "A short hold"
    B_PRESS = "B press"
    B_HOLD = "B hold"
    CHORD = "A+B hold"
    STEP_ENDS = "step ends"
    COUNTDOWN = "countdown"
    HALFWAY = "halfway"
    LEAD_IN_ENDS = "lead-in ends"
    PAUSE_TIMEOUT = "pause timeout"
    MENU_TIMEOUT = "menu timeout"
    POWER_OFF_FAILS = "power-off fails"
    OFFER_TIMEOUT = "offer timeout"
    HISTORY_TIMEOUT = "history timeout"
    TAP_WINDOW_ENDS = "tap window ends"


class Action(StrEnum):
    """What a transition does; a gesture's is reported as ``ButtonAction.action``."""

    NONE = "none"  # a gesture with no entry
    START = "start"
    NEXT_ROUTINE = "next-routine"
    PAUSE = "pause"
    RESUME = "resume"
    STOP = "stop"
    SKIP = "skip"
    BACK = "back"
    DISMISS = "dismiss"
    POWER_MENU = "power-menu"
    POWER_OFF = "power-off"
    CANCEL = "cancel"
    EXTEND = "extend"
    START_OVER = "start-over"
    OFFER = "offer"
    HISTORY = "history"
    CLOSE = "close"
    # the handlers of ``back`` and of the power menu over a running routine
    RESTART_HOLD = "restart-hold"
    PREVIOUS_SIDE = "previous-side"
    RESTART_SIDE = "restart-side"
    PAUSE_FOR_MENU = "pause-for-menu"
    TIME_OUT = "time-out"  # the pause timeout's stop: the history says timed-out
    RESUME_OFFERED = "resume-offered"
    LATER = "later"
    # timeouts
    NEXT_STEP = "next-step"
    HOLD_DONE = "hold-done"
    COMPLETE = "complete"
    COUNT = "count"
    HALFWAY = "halfway"
    PAUSED_CUE = "paused-cue"
    GO = "go"
    WAKE = "wake"


class Guard(StrEnum):
    """A condition that picks one of a cell's outcomes (the values are the doc's words)."""

    LAST_STEP = "last step"
    LAST_SIDE = "no side after this one"
    NO_LEAD_IN = "resume_lead is 0, or the step is no hold"
    TAPPED_TWICE = "A pressed again within 0.6 s of a press that paused a timed hold (extend > 0)"
    OPEN_LAST = "an open hold, the last step"
    OPEN_HOLD = "an open hold"
    OFFER_PENDING = "an unfinished session is on offer"
    HOLD_UNDER_WAY = "3 s or more of the hold have run"
    FROM_PAUSED = "opened on a paused routine"
    FROM_DONE = "opened on the summary"


IDLE, RUNNING, PAUSED, LEAD_IN, DONE, CONFIRM_OFF, POWERING_OFF, OFFER, HISTORY = State
PREPARE, HOLD, SWITCH, REST = Phase
STATIC_STATES = (IDLE, PAUSED, DONE, CONFIRM_OFF, POWERING_OFF, OFFER, HISTORY)
CONFIRM_TIMEOUT = 10.0
HISTORY_SECONDS = 30.0  # the history screen goes back to idle by itself
EXTEND_WINDOW = 0.6  # the second tap of the extend gesture, after the first (which paused)
OPEN_HOLD_LIMIT = MAX_DURATION  # an open hold nobody ends is done after this long
HALFWAY_FROM = 20  # a halfway cue only for timed holds at least this long
POWER_OFF_GRACE = 60.0  # if we are still running this long after power-off, it failed

COUNTDOWN_FROM = 3
BACK_GRACE = 3.0


@dataclass(frozen=True)
class Then:
    """One outcome of a cell: report ``action``, run the handler ``do`` (default: ``action``), go ``to``."""

    action: Action
    to: State
    when: Guard | None = None
    do: Action | None = None

    @property
    def handler(self) -> Action:
        return self.do or self.action


Where = tuple[State, Phase | None]
Cell = tuple[Then, ...]

# Cells that recur, named once. ``_X_RUNNING`` / ``_X_PAUSED``: the same move, staying running or paused.
_PAUSE = (Then(Action.PAUSE, PAUSED),)
_STOP = (Then(Action.STOP, DONE),)
_TIME_OUT = (Then(Action.STOP, DONE, do=Action.TIME_OUT),)
_SKIP_RUNNING = (Then(Action.SKIP, DONE, when=Guard.LAST_SIDE), Then(Action.SKIP, RUNNING))
_SKIP_PAUSED = (Then(Action.SKIP, DONE, when=Guard.LAST_SIDE), Then(Action.SKIP, PAUSED))
_BACK_RUNNING = (Then(Action.BACK, RUNNING, do=Action.PREVIOUS_SIDE),)
_BACK_PAUSED = (Then(Action.BACK, PAUSED, do=Action.PREVIOUS_SIDE),)
_BACK_IN_HOLD_RUNNING = (Then(Action.BACK, RUNNING, when=Guard.HOLD_UNDER_WAY, do=Action.RESTART_HOLD),) \
    + _BACK_RUNNING
_BACK_IN_HOLD_PAUSED = (Then(Action.BACK, PAUSED, when=Guard.HOLD_UNDER_WAY, do=Action.RESTART_HOLD),) \
    + _BACK_PAUSED
# B (or one button's short hold) in an open hold: "done, next" — the hold counts as held, not skipped.
_DONE_OPEN_RUNNING = (Then(Action.COMPLETE, DONE, when=Guard.OPEN_LAST),
                      Then(Action.HOLD_DONE, RUNNING, when=Guard.OPEN_HOLD)) + _SKIP_RUNNING
_DONE_OPEN_PAUSED = (Then(Action.COMPLETE, DONE, when=Guard.OPEN_LAST),
                     Then(Action.HOLD_DONE, PAUSED, when=Guard.OPEN_HOLD)) + _SKIP_PAUSED
_MENU = (Then(Action.POWER_MENU, CONFIRM_OFF),)
_MENU_PAUSING = (Then(Action.POWER_MENU, CONFIRM_OFF, do=Action.PAUSE_FOR_MENU),)
_NEXT_STEP = (Then(Action.NEXT_STEP, RUNNING),)
_RESUME = (Then(Action.RESUME, RUNNING),)
_CANCEL = (Then(Action.CANCEL, PAUSED, when=Guard.FROM_PAUSED), Then(Action.CANCEL, DONE, when=Guard.FROM_DONE),
           Then(Action.CANCEL, IDLE))
_CLOSE = (Then(Action.CLOSE, IDLE),)

# Every transition of the session, one row per state (and phase of a routine under way).
# Gestures missing from a row do nothing; see the rules above, and docs/session.md.
TABLE: dict[Where, dict[Input, Cell]] = {
    (IDLE, None): {
        Input.A_PRESS: (Then(Action.START, RUNNING),),
        Input.B_PRESS: (Then(Action.NEXT_ROUTINE, IDLE),),
        Input.A_SHORT_HOLD: (Then(Action.NEXT_ROUTINE, IDLE),),  # one button: A's 1 s hold is B's press
        Input.A_HOLD: (Then(Action.HISTORY, HISTORY),),
        Input.B_HOLD: (Then(Action.OFFER, OFFER, when=Guard.OFFER_PENDING),),
        Input.CHORD: _MENU,
    },
    (OFFER, None): {
        Input.A_PRESS: (Then(Action.RESUME, RUNNING, when=Guard.NO_LEAD_IN, do=Action.RESUME_OFFERED),
                        Then(Action.RESUME, LEAD_IN, do=Action.RESUME_OFFERED)),
        Input.B_PRESS: (Then(Action.START_OVER, IDLE),),
        Input.A_SHORT_HOLD: (Then(Action.START_OVER, IDLE),),
        Input.CHORD: _MENU,
        Input.OFFER_TIMEOUT: (Then(Action.LATER, IDLE),),
    },
    (HISTORY, None): {
        Input.A_PRESS: _CLOSE, Input.B_PRESS: _CLOSE, Input.CHORD: _MENU,
        Input.HISTORY_TIMEOUT: _CLOSE,
    },
    (RUNNING, PREPARE): {
        Input.A_PRESS: _PAUSE, Input.A_HOLD: _STOP, Input.A_SHORT_HOLD: _SKIP_RUNNING,
        Input.B_PRESS: _SKIP_RUNNING, Input.B_HOLD: _BACK_RUNNING, Input.CHORD: _MENU_PAUSING,
        Input.STEP_ENDS: _NEXT_STEP,
    },
    (RUNNING, HOLD): {
        Input.A_PRESS: _PAUSE, Input.A_HOLD: _STOP, Input.A_SHORT_HOLD: _DONE_OPEN_RUNNING,
        Input.B_PRESS: _DONE_OPEN_RUNNING, Input.B_HOLD: _BACK_IN_HOLD_RUNNING, Input.CHORD: _MENU_PAUSING,
        Input.STEP_ENDS: (Then(Action.COMPLETE, DONE, when=Guard.LAST_STEP), Then(Action.HOLD_DONE, RUNNING)),
        Input.COUNTDOWN: (Then(Action.COUNT, RUNNING),),
        Input.HALFWAY: (Then(Action.HALFWAY, RUNNING),),
    },
    (RUNNING, SWITCH): {
        Input.A_PRESS: _PAUSE, Input.A_HOLD: _STOP, Input.A_SHORT_HOLD: _SKIP_RUNNING,
        Input.B_PRESS: _SKIP_RUNNING, Input.B_HOLD: _BACK_RUNNING, Input.CHORD: _MENU_PAUSING,
        Input.STEP_ENDS: _NEXT_STEP,
    },
    (RUNNING, REST): {
        Input.A_PRESS: _PAUSE, Input.A_HOLD: _STOP, Input.A_SHORT_HOLD: _SKIP_RUNNING,
        Input.B_PRESS: _SKIP_RUNNING, Input.B_HOLD: (Then(Action.BACK, RUNNING, do=Action.RESTART_SIDE),),
        Input.CHORD: _MENU_PAUSING,
        Input.STEP_ENDS: _NEXT_STEP,
    },
    (LEAD_IN, HOLD): {  # a resumed hold; a lead-in only ever leads into a hold
        Input.A_PRESS: _PAUSE, Input.A_HOLD: _STOP, Input.A_SHORT_HOLD: _DONE_OPEN_RUNNING,
        Input.B_PRESS: _DONE_OPEN_RUNNING, Input.B_HOLD: _BACK_IN_HOLD_RUNNING, Input.CHORD: _MENU_PAUSING,
        Input.LEAD_IN_ENDS: (Then(Action.GO, RUNNING),),
    },
    (PAUSED, PREPARE): {
        Input.A_PRESS: _RESUME, Input.A_HOLD: _STOP, Input.A_SHORT_HOLD: _SKIP_PAUSED,
        Input.B_PRESS: _SKIP_PAUSED, Input.B_HOLD: _BACK_PAUSED, Input.CHORD: _MENU,
        Input.PAUSE_TIMEOUT: _TIME_OUT,
    },
    (PAUSED, HOLD): {
        Input.A_PRESS: (Then(Action.EXTEND, RUNNING, when=Guard.TAPPED_TWICE),
                        Then(Action.RESUME, RUNNING, when=Guard.NO_LEAD_IN), Then(Action.RESUME, LEAD_IN)),
        Input.A_HOLD: _STOP, Input.A_SHORT_HOLD: _DONE_OPEN_PAUSED,
        Input.B_PRESS: _DONE_OPEN_PAUSED, Input.B_HOLD: _BACK_IN_HOLD_PAUSED, Input.CHORD: _MENU,
        Input.PAUSE_TIMEOUT: _TIME_OUT,
        Input.TAP_WINDOW_ENDS: (Then(Action.PAUSED_CUE, PAUSED),),  # no second tap: now it was a pause
    },
    (PAUSED, SWITCH): {
        Input.A_PRESS: _RESUME, Input.A_HOLD: _STOP, Input.A_SHORT_HOLD: _SKIP_PAUSED,
        Input.B_PRESS: _SKIP_PAUSED, Input.B_HOLD: _BACK_PAUSED, Input.CHORD: _MENU,
        Input.PAUSE_TIMEOUT: _TIME_OUT,
    },
    (PAUSED, REST): {
        Input.A_PRESS: _RESUME, Input.A_HOLD: _STOP, Input.A_SHORT_HOLD: _SKIP_PAUSED,
        Input.B_PRESS: _SKIP_PAUSED, Input.B_HOLD: (Then(Action.BACK, PAUSED, do=Action.RESTART_SIDE),),
        Input.CHORD: _MENU,
        Input.PAUSE_TIMEOUT: _TIME_OUT,
    },
    (DONE, None): {
        Input.A_PRESS: (Then(Action.DISMISS, IDLE),),
        Input.B_PRESS: (Then(Action.DISMISS, IDLE),),
        Input.CHORD: _MENU,
    },
    (CONFIRM_OFF, None): {
        Input.A_PRESS: (Then(Action.POWER_OFF, POWERING_OFF),),
        Input.B_PRESS: _CANCEL,
        Input.MENU_TIMEOUT: _CANCEL,
    },
    (POWERING_OFF, None): {
        # still alive: the power-off command failed; back where the menu was opened (a routine stays paused)
        Input.POWER_OFF_FAILS: (Then(Action.WAKE, PAUSED, when=Guard.FROM_PAUSED),
                                Then(Action.WAKE, DONE, when=Guard.FROM_DONE), Then(Action.WAKE, IDLE)),
    },
}
TIMEOUTS = (Input.STEP_ENDS, Input.COUNTDOWN, Input.HALFWAY, Input.LEAD_IN_ENDS, Input.PAUSE_TIMEOUT,
            Input.MENU_TIMEOUT, Input.POWER_OFF_FAILS, Input.OFFER_TIMEOUT, Input.HISTORY_TIMEOUT,
            Input.TAP_WINDOW_ENDS)


class IllegalEvent(Exception):
    """An event the session cannot take (e.g. time running backwards)."""


class RoutineGone(Exception):
    """A journal's routine is no longer on the device, or has changed: the journal is not taken up."""


class IllegalTransition(IllegalEvent):
    """An input the table has no entry for where the session is (gestures excepted: they do nothing)."""


@dataclass(frozen=True)
class Tick:
    """Nothing happened but time passed; sent when a deadline is reached."""

    t: float


Event = Union[Pressed, Released, Tick]


@dataclass(frozen=True)
class Step:
    """One timed piece of the plan. ``stretch`` is 0-based."""

    phase: Phase
    stretch: int
    side: str | None
    seconds: int | None  # None: an open hold

    @property
    def open(self) -> bool:
        """An open hold: it counts up until a press ends it (only a hold can be open)."""
        return self.seconds is None


@dataclass(frozen=True)
class PhaseStarted:
    t: float
    phase: str  # prepare | hold | switch | rest | paused | lead-in | done | idle
    stretch: int | None  # 1-based
    name: str
    side: str | None
    seconds: float | None  # None: an open hold (it counts up)
    routine_left: float | None = None  # planned seconds of the routine left; None: an open hold is ahead


@dataclass(frozen=True)
class Cue:
    t: float
    cue: str  # a name of core.routine.CUES
    side: str | None = None  # the side a hold or a switch goes to (a tonal buzzer rises to the right)


@dataclass(frozen=True)
class PowerOff:
    """The user confirmed power-off: run the configured command."""

    t: float


@dataclass(frozen=True)
class ButtonAction:
    t: float
    button: str
    gesture: str  # press | hold
    action: str


@dataclass(frozen=True)
class Summary:
    duration: float
    completed: int
    skipped: int
    total: int
    stopped: bool


@dataclass(frozen=True)
class Finished:
    """A session ended (or one cut by a power loss was found): ``log`` is its history record."""

    t: float
    summary: Summary
    log: SessionLog | None = None


@dataclass(frozen=True)
class Checkpoint:
    """Where the routine is, for the resume journal: written at phase boundaries, pause, resume and
    extend (not every second: SD cards wear). ``data`` None: no routine under way, clear the journal."""

    t: float
    data: dict | None


Effect = Union[PhaseStarted, Cue, ButtonAction, Finished, PowerOff, Checkpoint]


SNAPSHOT_VERSION = 1  # the shape of a Checkpoint's data (the journal file has its own envelope version: adapters/journal.py)


def _number(seconds: float) -> float:
    """Seconds as reported: to the millisecond, and a whole number as an int (``30``, not ``30.0``)."""
    rounded = round(seconds, 3)
    return int(rounded) if float(rounded).is_integer() else rounded


def _journal_maps(data: dict) -> tuple[dict[int, float], dict[int, str]]:
    """A journal's extensions and hold outcomes, keyed by step index again (JSON keys are text)."""
    return ({int(k): float(v) for k, v in data.get("extra", {}).items()},
            {int(k): str(v) for k, v in data.get("status", {}).items()})


def journal_log(d: object) -> SessionLog:
    """A journal's ``log`` back into a SessionLog: the history's reader of a log (core.history.log_from_dict),
    with the session's monotonic start, which the journal keeps; ValueError on a bad one."""
    log = log_from_dict(d)
    log.started = float(d["started"])  # type: ignore[index]  (a dict: log_from_dict checked)
    return log


def plan(routine: Routine) -> tuple[Step, ...]:
    """The routine as a flat list of timed steps."""
    steps: list[Step] = []
    last = len(routine.stretches) - 1
    for i, s in enumerate(routine.stretches):
        for n, side in enumerate(s.sides.order):
            lead = (PREPARE, s.timing.prepare) if n == 0 else (SWITCH, s.timing.switch)
            if lead[1] > 0:
                steps.append(Step(lead[0], i, side, lead[1]))
            steps.append(Step(HOLD, i, side, s.timing.hold))  # None: open
        if i < last and s.timing.rest > 0:
            steps.append(Step(REST, i, None, s.timing.rest))
    return tuple(steps)


@dataclass
class SessionConfig:
    resume_lead: float = 3.0
    pause_timeout: float = 600.0
    gestures: GestureConfig = field(default_factory=GestureConfig)
    extend: float = 15.0  # seconds the extend gesture adds to the hold in progress (0: off)
    halfway: bool = False  # a halfway cue in timed holds (a routine's ``cues: {halfway: ...}`` wins)
    offer_timeout: float = 60.0  # the resume offer's screen gives way to idle (the offer stays)

    @property
    def one_button(self) -> bool:
        return B not in self.gestures.holds


# The cue a step starts with (a prepare's depends on where it came from: see Session._prepare_cue).
ENTRY_CUES: dict[Phase, str | None] = {HOLD: "go", SWITCH: "switch-side", REST: "next-stretch", PREPARE: None}
PRESSES = {A: Input.A_PRESS, B: Input.B_PRESS}


class Session:
    """A stretching session over a list of routines; feed it events, act on the effects.

    >>> from stretchbox.core.routine import routine_from_mapping
    >>> r = routine_from_mapping({"schema": 1, "name": "Calf", "stretches": [{"name": "Calf", "icon": "calf"}]})
    >>> s = Session([r])
    >>> [type(e).__name__ for e in s.press(A, 0.0)]
    ['ButtonAction', 'PhaseStarted', 'Cue', 'Checkpoint']
    >>> s.next_deadline(), s.next_deadline(redraw=False)  # the shown number changes; the prepare step ends
    (1.0, 5.0)
    """

    def __init__(self, routines: list[Routine] | tuple[Routine, ...], config: SessionConfig | None = None):
        if not routines:
            raise ValueError("a session needs at least one routine")
        self.routines = tuple(routines)
        self.config = config or SessionConfig()
        self.gestures = Gestures(self.config.gestures)
        self.selected = 0
        self._state = IDLE
        self.now = 0.0
        self._steps: tuple[Step, ...] = ()
        self._i = 0
        self._step_start = 0.0  # when the current step (re)started its clock
        self._deadline = 0.0  # when the current step ends (running) or lead-in ends
        self._remaining = 0.0  # frozen time left while paused / in lead-in
        self._started_at = 0.0
        self._shift = 0.0  # this boot's clock minus the session's own (a session taken up after a reboot)
        self._paused_at = 0.0
        self._menu_at = 0.0
        self._before_menu = IDLE
        self._hold_status: dict[int, str] = {}  # step index -> completed | skipped
        self._pending_routines: tuple[Routine, ...] = ()  # a library that arrived mid-routine
        self.summary: Summary | None = None
        self._extra: dict[int, float] = {}  # step index -> seconds added by the extend gesture
        self._tapped_at: float | None = None  # a press that paused a timed hold: a second tap extends it
        self._halfway_cued = False  # this visit of the current hold had its halfway cue
        self.log: SessionLog | None = None  # the session under way, for the history
        self._log_mark = 0.0  # accounting: when held or paused time was last counted
        self._offer: dict | None = None  # a journal from another boot, on offer until answered or a start
        # its routine and the step it was cut in (the selection may move on while it waits)
        self._offer_routine: Routine | None = None
        self._offer_step: Step | None = None
        self._offer_at = 0.0
        self._history_at = 0.0
        # What the adapters know and the core shows: the history screen's lines, the done screen's streak.
        self.history_lines: tuple[str, ...] = ()
        self.streak_line = ""

    # ---- queries -------------------------------------------------------
    @property
    def state(self) -> State:
        return self._state

    @property
    def where(self) -> Where:
        """The row of ``TABLE`` the session is in: its state, and the phase of a routine under way."""
        return (self._state, self.step.phase if self.step else None)

    @property
    def routine(self) -> Routine:
        return self.routines[self.selected]

    @property
    def step(self) -> Step | None:
        return self._steps[self._i] if self._state in (RUNNING, PAUSED, LEAD_IN) else None

    def next_deadline(self, *, redraw: bool = True) -> float | None:
        """When something next happens if no button is touched (None: nothing will).

        With ``redraw`` (a screen is watching) that includes the next whole second of the
        running step, when the number shown changes; without it, only when the session
        itself acts: its cost then grows with the events, not with the seconds.
        """
        times = [self.gestures.next_deadline()] + [t for t, _ in self._timeouts()]
        if redraw and self._state in (RUNNING, LEAD_IN):
            times.append(self._next_second())
        return min((t for t in times if t is not None), default=None)

    def _timeouts(self) -> list[tuple[float, Input]]:
        """The timeouts the table has an entry for here, with when each falls due."""
        row = TABLE[self.where]
        return [(t, i) for i in TIMEOUTS if i in row and (t := DEADLINES[i](self)) is not None]

    def _next_second(self) -> float | None:
        """The next whole-second boundary of the running step or lead-in, before its end."""
        whole = math.ceil(self._deadline - self.now - 1e-9)
        return self._deadline - (whole - 1) if whole > 1 else None

    def _next_countdown(self) -> float | None:
        """The next of the last COUNTDOWN_FROM whole seconds of a running timed hold (a countdown cue)."""
        if self._is_open():
            return None
        left = min(math.ceil(self._deadline - self.now - 1e-9) - 1, COUNTDOWN_FROM)
        return self._deadline - left if left >= 1 else None

    def _duration(self, i: int) -> float:
        """Step ``i``'s seconds as it runs now: planned, plus any extension; an open hold's limit."""
        seconds = self._steps[i].seconds
        return (OPEN_HOLD_LIMIT if seconds is None else seconds) + self._extra.get(i, 0.0)

    def _is_open(self, i: int | None = None) -> bool:
        return self._steps[self._i if i is None else i].open

    def routine_left(self, now: float | None = None) -> float | None:
        """Planned seconds of the routine still ahead (skips, backs and extensions included); None while an
        open hold is here or ahead, since nobody knows how long it lasts."""
        if self.step is None:
            return 0.0 if self._state == DONE else None
        if any(s.open for s in self._steps[self._i:]):
            return None
        return self.remaining(now) + sum(self._duration(j) for j in range(self._i + 1, len(self._steps)))

    def _halfway_on(self) -> bool:
        return self.routine.halfway if self.routine.halfway is not None else self.config.halfway

    def _next_halfway(self) -> float | None:
        """The midpoint of a running timed hold of HALFWAY_FROM s or more, once per visit."""
        seconds = self._steps[self._i].seconds
        if self._halfway_cued or seconds is None or seconds < HALFWAY_FROM or not self._halfway_on():
            return None
        due = self._deadline - self._duration(self._i) / 2  # the middle of the hold as it stands (extended)
        return due if due >= self.now - 1e-9 else None

    def remaining(self, now: float | None = None) -> float:
        """Seconds left in the current step (frozen while paused or in lead-in)."""
        now = self.now if now is None else now
        if self._state == RUNNING:
            return max(0.0, self._deadline - now)
        if self._state in (PAUSED, LEAD_IN):
            return self._remaining
        return 0.0

    def replace_routines(self, routines: list[Routine] | tuple[Routine, ...]) -> list[Effect]:
        """A new library (USB import): taken at once when no routine is under way or on offer, else when
        it ends (a running routine keeps its own plan). The selection follows the routine's name when it is
        still there. An offer whose routine the new library changed or dropped is answered: interrupted."""
        if not routines:
            raise ValueError("a session needs at least one routine")
        under_way = self.log is not None and self.log.ended is None  # also paused behind the power menu
        if not under_way and self._state != OFFER:
            return self._take_library(tuple(routines), self.now)
        self._pending_routines = tuple(routines)
        return []

    def _take_library(self, routines: tuple[Routine, ...], t: float) -> list[Effect]:
        current = self.routine.name
        names = [r.name for r in routines]
        self.routines = routines
        self.selected = names.index(current) if current in names else 0
        if self._offer is None:
            return []
        try:
            self._journal_routine(self._offer)
        except RoutineGone:
            offer, self._offer = self._offer, None
            return self._interrupted(offer, t)
        return []

    def _take_pending(self, t: float, out: list[Effect]) -> None:
        """Back to idle: a library that arrived meanwhile is the device's now."""
        if self._pending_routines:
            pending, self._pending_routines = self._pending_routines, ()
            out.extend(self._take_library(pending, t))

    # ---- events --------------------------------------------------------
    def handle(self, event: Event) -> list[Effect]:
        """Apply everything due up to ``event.t``, then the event itself."""
        if event.t < self.now - 1e-9:
            raise IllegalEvent(f"time went backwards: {event.t} < {self.now}")
        out: list[Effect] = []
        self._advance(event.t, out)
        self.now = max(self.now, event.t)
        if isinstance(event, Pressed):
            self.gestures.pressed(event)
        elif isinstance(event, Released):
            for g in self.gestures.released(event):
                self._gesture(g, out)
        return out

    def press(self, button: str, t: float, hold: float = 0.0) -> list[Effect]:
        """Convenience for tests: down at ``t``, up at ``t + hold``."""
        return self.handle(Pressed(button, t)) + self.handle(Released(button, t + hold))

    def _advance(self, until: float, out: list[Effect]) -> None:
        while True:
            timeouts = self._timeouts()  # before the clock moves: the countdown's is counted from now
            due = self.next_deadline(redraw=False)  # the seconds between only change the picture
            if due is None or due > until:
                return
            self.now = max(self.now, due)
            held = self.gestures.due(due)
            if held:
                for g in held:
                    self._gesture(g, out)
                continue
            t, timeout = min(timeouts)
            self._apply(self.outcome(timeout, t), t, out)

    def _gesture(self, g: Gesture, out: list[Effect]) -> None:
        self.now = max(self.now, g.t)
        then = self.outcome(self._input(g), g.t)
        out.append(ButtonAction(g.t, g.button, g.kind, then.action if then else Action.NONE))
        if then:
            self._apply(then, g.t, out)

    def _input(self, g: Gesture) -> Input | None:
        """The table's input for a gesture (None: a button the table does not know)."""
        if g.kind == PRESS:
            return PRESSES.get(g.button)
        if g.button == BOTH:
            return Input.CHORD
        if self.config.one_button and g.button == A:
            # one button: hold 1 s = skip (B's press), hold 3 s = stop
            short, long_ = self.config.gestures.holds[A][0], self.config.gestures.holds[A][-1]
            return Input.A_SHORT_HOLD if short <= g.seconds < long_ else Input.A_HOLD
        return {A: Input.A_HOLD, B: Input.B_HOLD}.get(g.button)

    def outcome(self, what: Input | None, t: float) -> Then | None:
        """The table's outcome for ``input`` here at ``t``: the first whose guard holds (None: a gesture
        with no entry). "What does a B hold do during a rest?" is ``outcome(Input.B_HOLD, t)`` there."""
        cell = TABLE[self.where].get(what) if what is not None else None
        if cell is None:
            if what in TIMEOUTS:
                raise IllegalTransition(f"{what} in {where_label(self.where)}")
            return None
        then = next((then for then in cell if then.when is None or GUARDS[then.when](self, t)), None)
        if then is None and what in TIMEOUTS:
            raise IllegalTransition(f"{what} in {where_label(self.where)}: no outcome")
        return then

    def _apply(self, then: Then, t: float, out: list[Effect]) -> None:
        """Take a transition: the one place the state changes. Handlers see the new state, and the old as ``was``."""
        self._account(t)
        was, self._state = self._state, then.to
        if self._tapped_at is not None and then.handler not in (Action.PAUSE, Action.EXTEND, Action.PAUSED_CUE):
            if then.to in (PAUSED, CONFIRM_OFF):  # the pause stands (a skip or the menu came first): its cue now
                out.append(Cue(t, "paused"))
            self._tapped_at = None
        HANDLERS[then.handler](self, t, out, was)

    def _account(self, t: float) -> None:
        """Count the time since the last transition: held (a running hold) or paused (stopped mid-routine)."""
        log = self.log
        if log is None or log.ended is not None or self.step is None and self._state not in (CONFIRM_OFF,):
            self._log_mark = t
            return
        dt = max(0.0, t - self._log_mark)
        self._log_mark = t
        if self._state == RUNNING and self._steps[self._i].phase is HOLD:
            side = self._side_log(self._i)
            if side is not None:
                side.held += dt
        elif self._state in (PAUSED, LEAD_IN, CONFIRM_OFF):
            log.paused += dt

    def _side_log(self, hold: int) -> SideLog | None:
        holds = self._holds()
        return self.log.sides[holds.index(hold)] if self.log is not None and hold in holds else None

    # ---- guards ----------------------------------------------------------
    # Each is asked before the transition, in the state it leaves, at the input's time ``t``.
    def _last_step(self, t: float) -> bool:
        return self._i + 1 >= len(self._steps)

    def _last_side(self, t: float) -> bool:
        return not any(h > self._current_hold() for h in self._holds())

    def _no_lead_in(self, t: float) -> bool:
        step = self._offer_step if self._state == OFFER else self._steps[self._i]
        assert step is not None
        return not self.config.resume_lead > 0 or step.phase is not HOLD

    def _tapped_twice(self, t: float) -> bool:
        return self._tapped_at is not None and t - self._tapped_at < EXTEND_WINDOW  # TAP_WINDOW_ENDS at the end

    def _open_last(self, t: float) -> bool:
        return self._is_open() and self._last_step(t)

    def _open_hold(self, t: float) -> bool:
        return self._is_open()

    def _offer_pending(self, t: float) -> bool:
        return self._offer is not None

    def _hold_under_way(self, t: float) -> bool:
        return self._hold_elapsed(t) >= BACK_GRACE

    def _from_paused(self, t: float) -> bool:
        return self._before_menu == PAUSED

    def _from_done(self, t: float) -> bool:
        return self._before_menu == DONE

    # ---- timeline ------------------------------------------------------
    def _enter(self, i: int, t: float, out: list[Effect], came_from: int | None) -> None:
        """Start step ``i`` at time ``t`` with its full duration."""
        self._i = i
        step = self._steps[i]
        self._step_start = t
        self._remaining = self._duration(i)
        self._deadline = t + self._remaining
        self._halfway_cued = False
        if self._state == PAUSED:
            self._paused_at = t  # navigating while paused counts as being here
            out.append(self._phase(t, PAUSED, step, self._remaining))
        else:
            out.append(self._phase(t, step.phase, step, self._remaining))
            cue = self._prepare_cue(i, came_from) if step.phase is PREPARE else ENTRY_CUES[step.phase]
            if cue:
                out.append(Cue(t, cue, step.side))
        out.append(self._checkpoint(t))

    def _prepare_cue(self, i: int, came_from: int | None) -> str | None:
        """The routine's start, or a new stretch not already announced by its rest."""
        step = self._steps[i]
        prev = self._steps[came_from] if came_from is not None else None
        if prev is None:
            return "prepare"
        if prev.phase is REST and prev.stretch == step.stretch - 1:
            return None
        return "next-stretch" if prev.stretch != step.stretch else "prepare"

    def _phase(self, t: float, phase: str, step: Step, seconds: float) -> PhaseStarted:
        s = self.routine.stretches[step.stretch]
        shown = None if step.open else _number(seconds)
        left = self.routine_left(t)
        return PhaseStarted(t, phase, step.stretch + 1, s.name, step.side, shown,
                            None if left is None else _number(left))

    def _finish(self, t: float, out: list[Effect], *, stopped: bool, ending: Ending | None = None) -> None:
        self.summary = self._summary(t, stopped)
        log = self.log
        if log is not None:
            log.ended = ending or (Ending.STOPPED if stopped else Ending.FINISHED)
            log.duration = t - self._shift - log.started
        out.append(PhaseStarted(t, DONE, None, self.routine.name, None, 0, 0))
        out.append(Cue(t, "done"))
        out.append(Finished(t, self.summary, log))
        out.append(Checkpoint(t, None))

    def _summary(self, t: float, stopped: bool) -> Summary:
        per_stretch: dict[int, list[str]] = {}
        for i, step in enumerate(self._steps):
            if step.phase is HOLD:
                per_stretch.setdefault(step.stretch, []).append(self._hold_status.get(i, "pending"))
        completed = sum(all(s == "completed" for s in v) for v in per_stretch.values())
        skipped = sum(any(s == "skipped" for s in v) and not all(s == "completed" for s in v)
                      for v in per_stretch.values())
        return Summary(round(t - self._shift - self._started_at, 3), completed, skipped, len(per_stretch), stopped)

    # ---- the resume journal ------------------------------------------------
    def _checkpoint(self, t: float) -> Checkpoint:
        """Where the routine is now, as plain data (``restore`` reads it back)."""
        step = self._steps[self._i]
        running = self._state == RUNNING
        left = max(0.0, self._deadline - t) if running else self._remaining
        assert self.log is not None
        log = self.log.to_dict()
        # unrounded, unlike the history's line: a session restored many times must not lose its rounding each time
        log.update(started=self.log.started, paused=self.log.paused)
        for side, entry in zip(self.log.sides, log["sides"]):
            entry["held"] = side.held
        return Checkpoint(t, {
            "v": SNAPSHOT_VERSION, "routine": self.routine.name, "hash": self.routine.content_hash(),
            "step": self._i, "stretch": step.stretch + 1, "side": step.side, "phase": str(step.phase),
            "left": round(left, 3), "running": running, "t": round(t, 3), "started": self._started_at, "shift": self._shift,
            "extra": {str(k): v for k, v in self._extra.items()},
            "status": {str(k): v for k, v in self._hold_status.items()}, "log": log,
        })

    def suspended(self, t: float) -> Checkpoint | None:
        """The routine under way as a paused checkpoint at ``t`` (None: none is): the program is stopping
        cleanly, so a restart takes it up with the time it had left, not less the time it was off."""
        if self.step is None or self._state not in (RUNNING, PAUSED, LEAD_IN):
            return None
        self._account(t)
        checkpoint = self._checkpoint(t)
        assert checkpoint.data is not None
        checkpoint.data.update(running=False, left=round(self.remaining(t), 3))
        return checkpoint

    def restore(self, data: dict, t: float, *, same_boot: bool) -> tuple[list[Effect], str | None]:
        """Take up a journal at start-up: the effects, and why it was refused (None: taken up).

        The same boot (a crash, the watchdog): paused where it was, the time the service was down
        counted as gone, at most the rest of that step. Another boot: the Pi has no clock to say how
        long it was off, so the idle screen offers it (OFFER) and nothing resumes by itself.
        A journal for a routine that changed or is gone is refused; its session is still kept in
        the history (as interrupted) when its log can be read.
        """
        if self._state != IDLE:
            return [], "a routine is already under way"
        self.now = max(self.now, t)
        try:
            index, routine = self._journal_routine(data)
            steps = plan(routine)
            i, written = int(data["step"]), float(data["t"])
            if not 0 <= i < len(steps) or not 0 <= float(data["left"]) <= MAX_DURATION * 2 \
                    or not math.isfinite(written) or not math.isfinite(float(data["started"])):
                raise ValueError("the step is not in the plan")
            log = journal_log(data["log"])
            if len(log.sides) != sum(s.phase is HOLD for s in steps):
                raise ValueError("its sides are not the plan's")
            _journal_maps(data)  # read now: a bad one is refused before anything changes
        except RoutineGone as exc:
            return self._interrupted(data, t), str(exc)
        except (KeyError, TypeError, ValueError, AttributeError, OverflowError) as exc:
            return [], f"unreadable ({type(exc).__name__}: {exc})"
        if not same_boot:
            self.selected = index
            self._offer, self._offer_at, self._offer_routine, self._offer_step = data, t, routine, steps[i]
            self._state = OFFER
            return [PhaseStarted(t, OFFER, steps[i].stretch + 1, routine.stretches[steps[i].stretch].name,
                                 steps[i].side, None if steps[i].open else _number(float(data["left"])))], None
        return self._take_up(index, data, steps, log, t, elapsed=t - written), None

    def _journal_routine(self, data: dict) -> tuple[int, Routine]:
        if data.get("v") != SNAPSHOT_VERSION:
            raise ValueError(f"version {data.get('v')!r}")
        names = [r.name for r in self.routines]
        if data["routine"] not in names:
            raise RoutineGone(f"its routine {data['routine']!r} is no longer on the device")
        index = names.index(data["routine"])
        if self.routines[index].content_hash() != data["hash"]:
            raise RoutineGone(f"its routine {data['routine']!r} has changed since")
        return index, self.routines[index]

    def _take_up(self, index: int, data: dict, steps: tuple[Step, ...], log: SessionLog, t: float, *,
                 elapsed: float, shift: float = 0.0) -> list[Effect]:
        """Continue the journal's session, paused at its step. ``shift``: this clock minus the journal's
        (another boot's monotonic clock starts again from 0; the time the Pi was off is no one's)."""
        self.selected = index
        self._steps, self._i, self.log = steps, int(data["step"]), log
        self._extra, self._hold_status = _journal_maps(data)
        self._started_at = float(data["started"])
        self._shift = float(data.get("shift", 0.0)) + shift
        left = float(data["left"])
        if data.get("running"):
            # The service was down since the journal was written: count that time as gone (held, in a hold).
            gone = min(left, max(0.0, elapsed))
            left -= gone
            if steps[self._i].phase is HOLD:
                side = self._side_log(self._i)
                if side is not None:
                    side.held += gone
        self._remaining = min(left, self._duration(self._i))
        self._deadline = t + self._remaining
        self._state, self._paused_at, self._log_mark = PAUSED, t, t
        self.summary = None
        step = steps[self._i]
        return [self._phase(t, PAUSED, step, self._remaining), self._checkpoint(t)]

    def _interrupted(self, data: dict, t: float) -> list[Effect]:
        """The journal's session as an interrupted one, for the history (nothing if its log is unreadable)."""
        try:
            log = journal_log(data["log"])
            log.ended = Ending.INTERRUPTED
            log.duration = max(0.0, float(data["t"]) - float(data.get("shift", 0.0)) - log.started)
        except (KeyError, TypeError, ValueError, AttributeError, OverflowError):
            return [Checkpoint(t, None)]
        per_stretch: dict[int, list[SideLog]] = {}
        for side in log.sides:
            per_stretch.setdefault(side.stretch, []).append(side)
        done = sum(all(not s.skipped and s.held > 0 and (s.planned is None or s.held >= s.planned - 0.05)
                       for s in sides) for sides in per_stretch.values())
        skipped = sum(any(s.skipped for s in sides) for sides in per_stretch.values())
        summary = Summary(round(log.duration, 3), done, skipped, len(per_stretch), True)
        return [Finished(t, summary, log), Checkpoint(t, None)]

    # ---- handlers: (self, t, out, was); the state is already the new one --------------
    def _do_next_step(self, t: float, out: list[Effect], was: State) -> None:
        self._enter(self._i + 1, t, out, self._i)

    def _do_hold_done(self, t: float, out: list[Effect], was: State) -> None:
        self._hold_status[self._i] = "completed"
        self._enter(self._i + 1, t, out, self._i)

    def _do_complete(self, t: float, out: list[Effect], was: State) -> None:
        self._hold_status[self._i] = "completed"
        self._finish(t, out, stopped=False)

    def _do_count(self, t: float, out: list[Effect], was: State) -> None:
        """One of the last whole seconds of a hold: a countdown tick."""
        if 1 <= round(self._deadline - t) <= COUNTDOWN_FROM:
            out.append(Cue(t, "countdown"))

    def _do_halfway(self, t: float, out: list[Effect], was: State) -> None:
        self._halfway_cued = True
        out.append(Cue(t, "halfway"))

    def _do_go(self, t: float, out: list[Effect], was: State) -> None:
        """The lead-in is over: the hold goes on with the time it had left."""
        step = self._steps[self._i]
        self._deadline = t + self._remaining
        out.append(self._phase(t, step.phase, step, self._remaining))
        out.append(Cue(t, "go", step.side))
        out.append(self._checkpoint(t))

    def _do_start(self, t: float, out: list[Effect], was: State) -> None:
        if self._offer is not None:  # starting afresh answers the offer: that session was interrupted
            out.extend(self._interrupted(self._offer, t))
            self._offer = None
        self._steps = plan(self.routine)
        self._hold_status = {}
        self._extra = {}
        self._started_at = self._log_mark = t
        self._shift = 0.0
        self.summary = None
        r = self.routine
        self.log = SessionLog(r.name, r.content_hash(), t, [
            SideLog(s.stretch + 1, r.stretches[s.stretch].name, s.side, s.seconds)
            for s in self._steps if s.phase is HOLD])
        self._enter(0, t, out, None)

    def _do_next_routine(self, t: float, out: list[Effect], was: State) -> None:
        self.selected = (self.selected + 1) % len(self.routines)

    def _do_pause(self, t: float, out: list[Effect], was: State) -> None:
        if was == RUNNING:
            self._remaining = max(0.0, self._deadline - t)
        self._paused_at = t
        if self.log is not None:
            self.log.pauses += 1
        step = self._steps[self._i]
        # A timed hold paused by a press: a second tap within EXTEND_WINDOW extends it instead of resuming,
        # so the paused cue waits for the window to close (TAP_WINDOW_ENDS): an extension never sounds "paused".
        extendable = step.phase is HOLD and was in (RUNNING, LEAD_IN) and self.config.extend > 0 \
            and not self._is_open()
        self._tapped_at = t if extendable else None
        out.append(self._phase(t, PAUSED, step, round(self._remaining, 3)))
        if not extendable:
            out.append(Cue(t, "paused"))
        out.append(self._checkpoint(t))

    def _do_paused_cue(self, t: float, out: list[Effect], was: State) -> None:
        self._tapped_at = None
        out.append(Cue(t, "paused"))

    def _do_extend(self, t: float, out: list[Effect], was: State) -> None:
        """The second tap: this side's hold gets ``extend`` more seconds and goes on at once (no lead-in:
        nobody moved). The tap that paused was no pause."""
        added = self.config.extend
        self._tapped_at = None  # the gesture is complete
        self._extra[self._i] = self._extra.get(self._i, 0.0) + added
        self._remaining += added
        self._deadline = t + self._remaining
        if self.log is not None:
            self.log.pauses = max(0, self.log.pauses - 1)
            side = self._side_log(self._i)
            if side is not None:
                side.extended += round(added)
        step = self._steps[self._i]
        out.append(self._phase(t, step.phase, step, round(self._remaining, 3)))
        out.append(Cue(t, "extend", step.side))
        out.append(self._checkpoint(t))

    def _do_resume(self, t: float, out: list[Effect], was: State) -> None:
        step = self._steps[self._i]
        out.append(Cue(t, "resumed"))
        if self._state == LEAD_IN:
            self._deadline = t + self.config.resume_lead
            out.append(self._phase(t, LEAD_IN, step, self.config.resume_lead))
        else:
            self._deadline = t + self._remaining
            out.append(self._phase(t, step.phase, step, round(self._remaining, 3)))
        out.append(self._checkpoint(t))

    def _do_resume_offered(self, t: float, out: list[Effect], was: State) -> None:
        """A on the offer: the journal's session, taken up where it was written, through the lead-in."""
        data, self._offer = self._offer, None
        assert data is not None
        target = self._state  # lead-in, or running (the table's NO_LEAD_IN)
        # still in the library: a library that changed it answered the offer (_take_library)
        index, routine = self._journal_routine(data)
        out.extend(self._take_up(index, data, plan(routine), journal_log(data["log"]), t,
                                 elapsed=0.0, shift=t - float(data["t"])))
        self._state = target
        self._do_resume(t, out, PAUSED)

    def _do_start_over(self, t: float, out: list[Effect], was: State) -> None:
        if self._offer is not None:
            out.extend(self._interrupted(self._offer, t))
            self._offer = None
        self._do_back_to_idle(t, out, was)

    def _do_back_to_idle(self, t: float, out: list[Effect], was: State) -> None:
        """Idle again from a screen over it (the offer timed out, the history closed, a notice dismissed):
        a library that arrived meanwhile is taken, and the idle screen is announced."""
        self._take_pending(t, out)
        out.append(PhaseStarted(t, IDLE, None, self.routine.name, None, 0))

    def _do_offer(self, t: float, out: list[Effect], was: State) -> None:
        self._offer_at = t

    def _do_history(self, t: float, out: list[Effect], was: State) -> None:
        self._history_at = t

    def _do_stop(self, t: float, out: list[Effect], was: State) -> None:
        self._finish(t, out, stopped=True)

    def _do_time_out(self, t: float, out: list[Effect], was: State) -> None:
        self._finish(t, out, stopped=True, ending=Ending.TIMED_OUT)

    def _do_power_menu(self, t: float, out: list[Effect], was: State) -> None:
        self._before_menu = was
        self._menu_at = t

    def _do_pause_for_menu(self, t: float, out: list[Effect], was: State) -> None:
        self._do_pause(t, out, was)
        if self._tapped_at is not None:  # the menu paused it, no tap: the paused cue now
            self._tapped_at = None
            out.insert(-1, Cue(t, "paused"))
        self._do_power_menu(t, out, PAUSED)

    def _do_cancel(self, t: float, out: list[Effect], was: State) -> None:
        if self._state == PAUSED:
            self._paused_at = t
        elif self._state == IDLE:
            self._take_pending(t, out)

    def _do_power_off(self, t: float, out: list[Effect], was: State) -> None:
        self._menu_at = t
        out.append(PowerOff(t))

    def _do_wake(self, t: float, out: list[Effect], was: State) -> None:
        if self._state == PAUSED:
            self._paused_at = t
            step = self._steps[self._i]
            out.append(self._phase(t, PAUSED, step, self._remaining))
        elif self._state == IDLE:
            out.append(PhaseStarted(t, IDLE, None, self.routine.name, None, 0))

    # ---- moving along the plan: skip and back ----------------------------
    def _current_hold(self) -> int:
        """The hold of the side we are on: this step, the next hold (lead), or the last (rest)."""
        i = self._i
        step = self._steps[i]
        if step.phase is REST:
            while self._steps[i].phase is not HOLD:
                i -= 1
            return i
        while self._steps[i].phase is not HOLD:
            i += 1
        return i

    def _side_start(self, hold: int) -> int:
        """The first step of a side: the prepare or switch leading into ``hold``."""
        if hold > 0 and self._steps[hold - 1].phase in (PREPARE, SWITCH) \
                and self._steps[hold - 1].stretch == self._steps[hold].stretch:
            return hold - 1
        return hold

    def _holds(self) -> list[int]:
        return [i for i, s in enumerate(self._steps) if s.phase is HOLD]

    def _hold_elapsed(self, t: float) -> float:
        left = self._deadline - t if self._state == RUNNING else self._remaining
        return self._duration(self._i) - left

    def _do_skip(self, t: float, out: list[Effect], was: State) -> None:
        hold = self._current_hold()
        if self._hold_status.get(hold) != "completed":
            self._hold_status[hold] = "skipped"
            side = self._side_log(hold)
            if side is not None:
                side.skipped = True
        if self._state == DONE:  # the table's LAST_SIDE: past the last side
            self._finish(t, out, stopped=False)
            return
        later = [h for h in self._holds() if h > hold]
        self._enter(self._side_start(later[0]), t, out, self._i)

    def _do_restart_hold(self, t: float, out: list[Effect], was: State) -> None:
        self._go_back_to(t, self._i, out)

    def _do_previous_side(self, t: float, out: list[Effect], was: State) -> None:
        hold = self._current_hold()
        earlier = [h for h in self._holds() if h < hold]
        self._go_back_to(t, self._side_start(earlier[-1] if earlier else hold), out)

    def _do_restart_side(self, t: float, out: list[Effect], was: State) -> None:
        self._go_back_to(t, self._side_start(self._current_hold()), out)

    def _go_back_to(self, t: float, target: int, out: list[Effect]) -> None:
        """Start step ``target`` again: the holds from there on are to be done again."""
        for h in self._holds():
            if h >= target:
                self._hold_status.pop(h, None)
                side = self._side_log(h)
                if side is not None:
                    side.skipped = False
        self._extra = {i: s for i, s in self._extra.items() if i < target}
        self._enter(target, t, out, self._i)


    # ---- view ------------------------------------------------------------
    def frame(self, now: float | None = None) -> Frame:
        """What the screen shows at ``now``."""
        now = self.now if now is None else now
        r = self.routine
        if self._state == CONFIRM_OFF:
            left = math.ceil(max(0.0, self._menu_at + CONFIRM_TIMEOUT - now) - 1e-9)
            return Frame("message", title="POWER OFF?", text="A: yes, power off   B: no", seconds=left)
        if self._state == POWERING_OFF:
            return Frame("message", title="POWERING OFF", text="Wait until the green light stops blinking")
        if self._state == IDLE:
            n = len(r.stretches)
            start = "press A to start" if not self.config.one_button else "press to start"
            return Frame("idle", title=r.name, index=self.selected + 1, count=len(self.routines),
                         text=start, detail=f"{n} stretch{'es' if n != 1 else ''}",
                         duration=r.total_seconds(), open_hold=r.has_open_holds(), lines=self._offer_lines())
        if self._state == OFFER:
            assert self._offer is not None
            step, r = self._offer_step, self._offer_routine
            assert step is not None and r is not None
            stretch = r.stretches[step.stretch]
            return Frame("offer", title="RESUME?", name=stretch.name, icon=stretch.icon, icon_png=stretch.icon_png,
                         side=step.side, seconds=None if step.open else math.ceil(float(self._offer["left"]) - 1e-9),
                         index=step.stretch + 1, count=len(r.stretches), open_hold=step.open,
                         lines=("A: resume", "B: start over" if not self.config.one_button else "hold 1 s: start over"))
        if self._state == HISTORY:
            return Frame("history", title="HISTORY", lines=self.history_lines or ("no sessions yet",),
                         elapsed=int(max(0.0, now - self._history_at)))
        if self._state == DONE:
            s = self.summary
            assert s is not None
            return Frame("done", title="STOPPED" if s.stopped else "DONE", name=r.name,
                         completed=s.completed, skipped=s.skipped, count=s.total, duration=round(s.duration),
                         detail=self.streak_line)
        step = self._steps[self._i]
        stretch = r.stretches[step.stretch]
        open_hold = step.open
        run = self._duration(self._i) - self.remaining(now)  # seconds this step has run
        shown = math.floor(run + 1e-9) if open_hold else math.ceil(self.remaining(now) - 1e-9)
        left = self.routine_left(now)
        common = dict(name=stretch.name, icon=stretch.icon, icon_png=stretch.icon_png, side=step.side,
                      seconds=shown,
                      index=step.stretch + 1, count=len(r.stretches), text=stretch.cue,
                      progress=self._progress(now), open_hold=open_hold, extended=round(self._extra.get(self._i, 0)),
                      elapsed=math.floor(run + 1e-9),
                      routine_left=None if left is None else math.ceil(left - 1e-9))
        if self._state == PAUSED:
            return Frame("paused", title="PAUSED", paused_screen=step.phase, **common)
        if self._state == LEAD_IN:
            lead = math.ceil(max(0.0, self._deadline - now) - 1e-9)
            return Frame("lead-in", title="GET READY", **{**common, "seconds": lead})
        screen = step.phase
        title = {"prepare": "NEXT", "hold": "HOLD", "switch": "SWITCH SIDES", "rest": "REST"}[screen]
        if screen == "rest" and step.stretch + 1 < len(r.stretches):
            nxt = r.stretches[step.stretch + 1]
            common.update(name=nxt.name, icon=nxt.icon, icon_png=nxt.icon_png, side=nxt.sides.order[0], text=nxt.cue)
            return Frame("rest", title="REST", detail=f"next: {nxt.name}", why=nxt.why, **common)
        return Frame(screen, title=title, **common)

    def _offer_lines(self) -> tuple[str, ...]:
        """Idle after the offer's screen timed out: the offer stays, one gesture away, until the next start."""
        if self._offer is None:
            return ()
        step = self._offer_step
        assert step is not None and self._offer_routine is not None
        where = self._offer_routine.stretches[step.stretch].name + (f", {step.side}" if step.side else "")
        how = "hold B: resume" if not self.config.one_button else "A starts afresh"
        return (f"unfinished: {where}", how)

    def _progress(self, now: float) -> float:
        """Planned seconds done over the plan's (open holds count nothing), in whole seconds like the countdown:
        the frame only changes when the number does."""
        timed = [0 if s.seconds is None else s.seconds for s in self._steps]
        total = sum(timed) or 1
        done = sum(timed[: self._i])
        if not self._is_open():
            done += timed[self._i] - math.ceil(self.remaining(now) - self._extra.get(self._i, 0.0) - 1e-9)
        return max(0.0, min(1.0, done / total))


# When each timeout falls due (only asked where the table has an entry for it).
DEADLINES: dict[Input, Callable[[Session], float | None]] = {
    Input.STEP_ENDS: lambda s: s._deadline,
    Input.COUNTDOWN: Session._next_countdown,
    Input.LEAD_IN_ENDS: lambda s: s._deadline,
    Input.PAUSE_TIMEOUT: lambda s: s._paused_at + s.config.pause_timeout,
    Input.MENU_TIMEOUT: lambda s: s._menu_at + CONFIRM_TIMEOUT,
    Input.POWER_OFF_FAILS: lambda s: s._menu_at + POWER_OFF_GRACE,
    Input.HALFWAY: Session._next_halfway,
    Input.OFFER_TIMEOUT: lambda s: s._offer_at + s.config.offer_timeout,
    Input.HISTORY_TIMEOUT: lambda s: s._history_at + HISTORY_SECONDS,
    Input.TAP_WINDOW_ENDS: lambda s: None if s._tapped_at is None else s._tapped_at + EXTEND_WINDOW,
}

GUARDS: dict[Guard, Callable[[Session, float], bool]] = {
    Guard.LAST_STEP: Session._last_step,
    Guard.LAST_SIDE: Session._last_side,
    Guard.NO_LEAD_IN: Session._no_lead_in,
    Guard.TAPPED_TWICE: Session._tapped_twice,
    Guard.OPEN_LAST: Session._open_last,
    Guard.OPEN_HOLD: Session._open_hold,
    Guard.OFFER_PENDING: Session._offer_pending,
    Guard.HOLD_UNDER_WAY: Session._hold_under_way,
    Guard.FROM_PAUSED: Session._from_paused,
    Guard.FROM_DONE: Session._from_done,
}

# The handler of each action (``Then.do`` when given, else ``Then.action``).
HANDLERS: dict[Action, Callable[[Session, float, list[Effect], State], None]] = {
    Action.START: Session._do_start,
    Action.NEXT_ROUTINE: Session._do_next_routine,
    Action.PAUSE: Session._do_pause,
    Action.RESUME: Session._do_resume,
    Action.STOP: Session._do_stop,
    Action.TIME_OUT: Session._do_time_out,
    Action.EXTEND: Session._do_extend,
    Action.HALFWAY: Session._do_halfway,
    Action.PAUSED_CUE: Session._do_paused_cue,
    Action.RESUME_OFFERED: Session._do_resume_offered,
    Action.START_OVER: Session._do_start_over,
    Action.LATER: Session._do_back_to_idle,
    Action.OFFER: Session._do_offer,
    Action.HISTORY: Session._do_history,
    Action.CLOSE: Session._do_back_to_idle,
    Action.SKIP: Session._do_skip,
    Action.RESTART_HOLD: Session._do_restart_hold,
    Action.PREVIOUS_SIDE: Session._do_previous_side,
    Action.RESTART_SIDE: Session._do_restart_side,
    Action.DISMISS: Session._do_back_to_idle,
    Action.POWER_MENU: Session._do_power_menu,
    Action.PAUSE_FOR_MENU: Session._do_pause_for_menu,
    Action.POWER_OFF: Session._do_power_off,
    Action.CANCEL: Session._do_cancel,
    Action.NEXT_STEP: Session._do_next_step,
    Action.HOLD_DONE: Session._do_hold_done,
    Action.COMPLETE: Session._do_complete,
    Action.COUNT: Session._do_count,
    Action.GO: Session._do_go,
    Action.WAKE: Session._do_wake,
}


def where_label(where: Where) -> str:
    state, phase = where
    return f"{state} · {phase}" if phase else str(state)


def cell_markdown(cell: Cell) -> str:
    """One cell: ``action`` (handler) -> next state, one line per outcome with its guard."""
    lines = []
    for then in cell:
        text = f"`{then.action}`" + (f" ({then.do})" if then.do else "") + f" → {then.to}"
        if then.when:
            text += f" if {then.when}"
        elif len(cell) > 1:
            text = "else " + text
        lines.append(text)
    return "<br>".join(lines)


def table_markdown() -> str:
    """``TABLE`` as a markdown document (docs/session.md): the rules, then where x input."""
    rules = (__doc__ or "").split("Rules, all in one place:", 1)[-1].split("Time is an input", 1)[0]
    rules = rules.strip().replace("``", "`")
    inputs = list(Input)
    lines = [
        "# The session's transitions",
        "",
        "Generated from `TABLE` in `device/stretchbox/core/session.py`; do not edit by hand.",
        "`make session-doc` rewrites it, and `tests/core/test_session_table.py` fails while it is out of date.",
        "",
        "## Rules",
        "",
        rules,
        "",
        "## The table",
        "",
        "A row is where the session is (state · phase of the current step); a column is an input.",
        "A cell: `action reported` (handler, when it differs) → next state, with a guard when the outcome",
        "depends on one (the first that holds is taken). An empty cell: a gesture does nothing (`none`);",
        "a timeout is never scheduled there.",
        "",
        "| where | " + " | ".join(inputs) + " |",
        "|---|" + "---|" * len(inputs),
    ]
    for where, row in TABLE.items():
        cells = [cell_markdown(row[i]) if i in row else "" for i in inputs]
        lines.append(f"| **{where_label(where)}** | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"
