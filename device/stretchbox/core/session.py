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
  powers off; B or the menu timeout goes back to where it was opened.

Time is an input (``event.t``, monotonic seconds); nothing here sleeps.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Callable, Union

from .frame import Frame
from .gestures import A, B, BOTH, PRESS, Gesture, GestureConfig, Gestures, Pressed, Released
from .routine import Routine


class State(StrEnum):
    """Where the session is; the values are what ``simulate --json`` prints."""

    IDLE = "idle"
    RUNNING = "running"
    PAUSED = "paused"
    LEAD_IN = "lead-in"
    DONE = "done"
    CONFIRM_OFF = "confirm-off"
    POWERING_OFF = "powering-off"


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
    LEAD_IN_ENDS = "lead-in ends"
    PAUSE_TIMEOUT = "pause timeout"
    MENU_TIMEOUT = "menu timeout"
    POWER_OFF_FAILS = "power-off fails"


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
    # the handlers of ``back`` and of the power menu over a running routine
    RESTART_HOLD = "restart-hold"
    PREVIOUS_SIDE = "previous-side"
    RESTART_SIDE = "restart-side"
    PAUSE_FOR_MENU = "pause-for-menu"
    # timeouts
    NEXT_STEP = "next-step"
    HOLD_DONE = "hold-done"
    COMPLETE = "complete"
    COUNT = "count"
    GO = "go"
    WAKE = "wake"


class Guard(StrEnum):
    """A condition that picks one of a cell's outcomes (the values are the doc's words)."""

    LAST_STEP = "last step"
    LAST_SIDE = "no side after this one"
    NO_LEAD_IN = "resume_lead is 0"
    HOLD_UNDER_WAY = "3 s or more of the hold have run"
    FROM_PAUSED = "opened on a paused routine"
    FROM_DONE = "opened on the summary"


IDLE, RUNNING, PAUSED, LEAD_IN, DONE, CONFIRM_OFF, POWERING_OFF = State
PREPARE, HOLD, SWITCH, REST = Phase
STATIC_STATES = (IDLE, PAUSED, DONE, CONFIRM_OFF, POWERING_OFF)
CONFIRM_TIMEOUT = 10.0
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
_SKIP_RUNNING = (Then(Action.SKIP, DONE, when=Guard.LAST_SIDE), Then(Action.SKIP, RUNNING))
_SKIP_PAUSED = (Then(Action.SKIP, DONE, when=Guard.LAST_SIDE), Then(Action.SKIP, PAUSED))
_BACK_RUNNING = (Then(Action.BACK, RUNNING, do=Action.PREVIOUS_SIDE),)
_BACK_PAUSED = (Then(Action.BACK, PAUSED, do=Action.PREVIOUS_SIDE),)
_BACK_IN_HOLD_RUNNING = (Then(Action.BACK, RUNNING, when=Guard.HOLD_UNDER_WAY, do=Action.RESTART_HOLD),) \
    + _BACK_RUNNING
_BACK_IN_HOLD_PAUSED = (Then(Action.BACK, PAUSED, when=Guard.HOLD_UNDER_WAY, do=Action.RESTART_HOLD),) \
    + _BACK_PAUSED
_MENU = (Then(Action.POWER_MENU, CONFIRM_OFF),)
_MENU_PAUSING = (Then(Action.POWER_MENU, CONFIRM_OFF, do=Action.PAUSE_FOR_MENU),)
_NEXT_STEP = (Then(Action.NEXT_STEP, RUNNING),)
_RESUME = (Then(Action.RESUME, RUNNING),)
_CANCEL = (Then(Action.CANCEL, PAUSED, when=Guard.FROM_PAUSED), Then(Action.CANCEL, DONE, when=Guard.FROM_DONE),
           Then(Action.CANCEL, IDLE))

# Every transition of the session, one row per state (and phase of a routine under way).
# Gestures missing from a row do nothing; see the rules above, and docs/session.md.
TABLE: dict[Where, dict[Input, Cell]] = {
    (IDLE, None): {
        Input.A_PRESS: (Then(Action.START, RUNNING),),
        Input.B_PRESS: (Then(Action.NEXT_ROUTINE, IDLE),),
        Input.A_SHORT_HOLD: (Then(Action.NEXT_ROUTINE, IDLE),),  # one button: A's 1 s hold is B's press
        Input.CHORD: _MENU,
    },
    (RUNNING, PREPARE): {
        Input.A_PRESS: _PAUSE, Input.A_HOLD: _STOP, Input.A_SHORT_HOLD: _SKIP_RUNNING,
        Input.B_PRESS: _SKIP_RUNNING, Input.B_HOLD: _BACK_RUNNING, Input.CHORD: _MENU_PAUSING,
        Input.STEP_ENDS: _NEXT_STEP,
    },
    (RUNNING, HOLD): {
        Input.A_PRESS: _PAUSE, Input.A_HOLD: _STOP, Input.A_SHORT_HOLD: _SKIP_RUNNING,
        Input.B_PRESS: _SKIP_RUNNING, Input.B_HOLD: _BACK_IN_HOLD_RUNNING, Input.CHORD: _MENU_PAUSING,
        Input.STEP_ENDS: (Then(Action.COMPLETE, DONE, when=Guard.LAST_STEP), Then(Action.HOLD_DONE, RUNNING)),
        Input.COUNTDOWN: (Then(Action.COUNT, RUNNING),),
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
        Input.A_PRESS: _PAUSE, Input.A_HOLD: _STOP, Input.A_SHORT_HOLD: _SKIP_RUNNING,
        Input.B_PRESS: _SKIP_RUNNING, Input.B_HOLD: _BACK_IN_HOLD_RUNNING, Input.CHORD: _MENU_PAUSING,
        Input.LEAD_IN_ENDS: (Then(Action.GO, RUNNING),),
    },
    (PAUSED, PREPARE): {
        Input.A_PRESS: _RESUME, Input.A_HOLD: _STOP, Input.A_SHORT_HOLD: _SKIP_PAUSED,
        Input.B_PRESS: _SKIP_PAUSED, Input.B_HOLD: _BACK_PAUSED, Input.CHORD: _MENU,
        Input.PAUSE_TIMEOUT: _STOP,
    },
    (PAUSED, HOLD): {
        Input.A_PRESS: (Then(Action.RESUME, RUNNING, when=Guard.NO_LEAD_IN), Then(Action.RESUME, LEAD_IN)),
        Input.A_HOLD: _STOP, Input.A_SHORT_HOLD: _SKIP_PAUSED,
        Input.B_PRESS: _SKIP_PAUSED, Input.B_HOLD: _BACK_IN_HOLD_PAUSED, Input.CHORD: _MENU,
        Input.PAUSE_TIMEOUT: _STOP,
    },
    (PAUSED, SWITCH): {
        Input.A_PRESS: _RESUME, Input.A_HOLD: _STOP, Input.A_SHORT_HOLD: _SKIP_PAUSED,
        Input.B_PRESS: _SKIP_PAUSED, Input.B_HOLD: _BACK_PAUSED, Input.CHORD: _MENU,
        Input.PAUSE_TIMEOUT: _STOP,
    },
    (PAUSED, REST): {
        Input.A_PRESS: _RESUME, Input.A_HOLD: _STOP, Input.A_SHORT_HOLD: _SKIP_PAUSED,
        Input.B_PRESS: _SKIP_PAUSED, Input.B_HOLD: (Then(Action.BACK, PAUSED, do=Action.RESTART_SIDE),),
        Input.CHORD: _MENU,
        Input.PAUSE_TIMEOUT: _STOP,
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
        Input.POWER_OFF_FAILS: (Then(Action.WAKE, IDLE),),  # still alive: the power-off command failed
    },
}
TIMEOUTS = (Input.STEP_ENDS, Input.COUNTDOWN, Input.LEAD_IN_ENDS, Input.PAUSE_TIMEOUT, Input.MENU_TIMEOUT,
            Input.POWER_OFF_FAILS)


class IllegalEvent(Exception):
    """An event the session cannot take (e.g. time running backwards)."""


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
    seconds: int


@dataclass(frozen=True)
class PhaseStarted:
    t: float
    phase: str  # prepare | hold | switch | rest | paused | lead-in | done | idle
    stretch: int | None  # 1-based
    name: str
    side: str | None
    seconds: float


@dataclass(frozen=True)
class Cue:
    t: float
    cue: str  # prepare | go | switch-side | countdown | next-stretch | paused | resumed | done
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
    t: float
    summary: Summary


Effect = Union[PhaseStarted, Cue, ButtonAction, Finished, PowerOff]


def plan(routine: Routine) -> tuple[Step, ...]:
    """The routine as a flat list of timed steps."""
    steps: list[Step] = []
    last = len(routine.stretches) - 1
    for i, s in enumerate(routine.stretches):
        for n, side in enumerate(s.sides.order):
            lead = (PREPARE, s.timing.prepare) if n == 0 else (SWITCH, s.timing.switch)
            if lead[1] > 0:
                steps.append(Step(lead[0], i, side, lead[1]))
            steps.append(Step(HOLD, i, side, s.timing.hold))
        if i < last and s.timing.rest > 0:
            steps.append(Step(REST, i, None, s.timing.rest))
    return tuple(steps)


@dataclass
class SessionConfig:
    resume_lead: float = 3.0
    pause_timeout: float = 600.0
    gestures: GestureConfig = field(default_factory=GestureConfig)

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
    ['ButtonAction', 'PhaseStarted', 'Cue']
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
        self._paused_at = 0.0
        self._menu_at = 0.0
        self._before_menu = IDLE
        self._hold_status: dict[int, str] = {}  # step index -> completed | skipped
        self._pending_routines: tuple[Routine, ...] = ()  # a library that arrived mid-routine
        self.summary: Summary | None = None

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
        """The next of the last COUNTDOWN_FROM whole seconds of a running hold (a countdown cue)."""
        left = min(math.ceil(self._deadline - self.now - 1e-9) - 1, COUNTDOWN_FROM)
        return self._deadline - left if left >= 1 else None

    def remaining(self, now: float | None = None) -> float:
        """Seconds left in the current step (frozen while paused or in lead-in)."""
        now = self.now if now is None else now
        if self._state == RUNNING:
            return max(0.0, self._deadline - now)
        if self._state in (PAUSED, LEAD_IN):
            return self._remaining
        return 0.0

    def replace_routines(self, routines: list[Routine] | tuple[Routine, ...]) -> None:
        """A new library (USB import). A running routine keeps its own copy of the plan;
        the selection follows the routine's name when it is still there."""
        if not routines:
            raise ValueError("a session needs at least one routine")
        current = self.routine.name
        names = [r.name for r in routines]
        if self._state in (IDLE, DONE, CONFIRM_OFF, POWERING_OFF):
            self.routines = tuple(routines)
            self.selected = names.index(current) if current in names else 0
        else:
            self._pending_routines = tuple(routines)

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
        return next(then for then in cell if then.when is None or GUARDS[then.when](self, t))

    def _apply(self, then: Then, t: float, out: list[Effect]) -> None:
        """Take a transition: the one place the state changes. Handlers see the new state, and the old as ``was``."""
        was, self._state = self._state, then.to
        HANDLERS[then.handler](self, t, out, was)

    # ---- guards ----------------------------------------------------------
    # Each is asked before the transition, in the state it leaves, at the input's time ``t``.
    def _last_step(self, t: float) -> bool:
        return self._i + 1 >= len(self._steps)

    def _last_side(self, t: float) -> bool:
        return not any(h > self._current_hold() for h in self._holds())

    def _no_lead_in(self, t: float) -> bool:
        return not self.config.resume_lead > 0

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
        self._deadline = t + step.seconds
        self._remaining = float(step.seconds)
        if self._state == PAUSED:
            self._paused_at = t  # navigating while paused counts as being here
            out.append(self._phase(t, PAUSED, step, step.seconds))
        else:
            out.append(self._phase(t, step.phase, step, step.seconds))
            cue = self._prepare_cue(i, came_from) if step.phase is PREPARE else ENTRY_CUES[step.phase]
            if cue:
                out.append(Cue(t, cue, step.side))

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
        return PhaseStarted(t, phase, step.stretch + 1, s.name, step.side, round(seconds, 3))

    def _finish(self, t: float, out: list[Effect], *, stopped: bool) -> None:
        self.summary = self._summary(t, stopped)
        out.append(PhaseStarted(t, DONE, None, self.routine.name, None, 0))
        out.append(Cue(t, "done"))
        out.append(Finished(t, self.summary))

    def _summary(self, t: float, stopped: bool) -> Summary:
        per_stretch: dict[int, list[str]] = {}
        for i, step in enumerate(self._steps):
            if step.phase is HOLD:
                per_stretch.setdefault(step.stretch, []).append(self._hold_status.get(i, "pending"))
        completed = sum(all(s == "completed" for s in v) for v in per_stretch.values())
        skipped = sum(any(s == "skipped" for s in v) and not all(s == "completed" for s in v)
                      for v in per_stretch.values())
        return Summary(round(t - self._started_at, 3), completed, skipped, len(per_stretch), stopped)

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

    def _do_go(self, t: float, out: list[Effect], was: State) -> None:
        """The lead-in is over: the hold goes on with the time it had left."""
        step = self._steps[self._i]
        self._deadline = t + self._remaining
        out.append(self._phase(t, step.phase, step, self._remaining))
        out.append(Cue(t, "go", step.side))

    def _do_start(self, t: float, out: list[Effect], was: State) -> None:
        self._steps = plan(self.routine)
        self._hold_status = {}
        self._started_at = t
        self.summary = None
        self._enter(0, t, out, None)

    def _do_next_routine(self, t: float, out: list[Effect], was: State) -> None:
        self.selected = (self.selected + 1) % len(self.routines)

    def _do_pause(self, t: float, out: list[Effect], was: State) -> None:
        if was == RUNNING:
            self._remaining = max(0.0, self._deadline - t)
        self._paused_at = t
        step = self._steps[self._i]
        out.append(self._phase(t, PAUSED, step, round(self._remaining, 3)))
        out.append(Cue(t, "paused"))

    def _do_resume(self, t: float, out: list[Effect], was: State) -> None:
        step = self._steps[self._i]
        out.append(Cue(t, "resumed"))
        if self._state == LEAD_IN:
            self._deadline = t + self.config.resume_lead
            out.append(self._phase(t, LEAD_IN, step, self.config.resume_lead))
        else:
            self._deadline = t + self._remaining
            out.append(self._phase(t, step.phase, step, round(self._remaining, 3)))

    def _do_stop(self, t: float, out: list[Effect], was: State) -> None:
        self._finish(t, out, stopped=True)

    def _do_dismiss(self, t: float, out: list[Effect], was: State) -> None:
        if self._pending_routines:
            pending, self._pending_routines = self._pending_routines, ()
            self.replace_routines(pending)
        out.append(PhaseStarted(t, IDLE, None, self.routine.name, None, 0))

    def _do_power_menu(self, t: float, out: list[Effect], was: State) -> None:
        self._before_menu = was
        self._menu_at = t

    def _do_pause_for_menu(self, t: float, out: list[Effect], was: State) -> None:
        self._do_pause(t, out, was)
        self._do_power_menu(t, out, PAUSED)

    def _do_cancel(self, t: float, out: list[Effect], was: State) -> None:
        if self._state == PAUSED:
            self._paused_at = t

    def _do_power_off(self, t: float, out: list[Effect], was: State) -> None:
        self._menu_at = t
        out.append(PowerOff(t))

    def _do_wake(self, t: float, out: list[Effect], was: State) -> None:
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
        step = self._steps[self._i]
        left = self._deadline - t if self._state == RUNNING else self._remaining
        return step.seconds - left

    def _do_skip(self, t: float, out: list[Effect], was: State) -> None:
        hold = self._current_hold()
        if self._hold_status.get(hold) != "completed":
            self._hold_status[hold] = "skipped"
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
                         duration=r.total_seconds())
        if self._state == DONE:
            s = self.summary
            assert s is not None
            return Frame("done", title="STOPPED" if s.stopped else "DONE", name=r.name,
                         completed=s.completed, skipped=s.skipped, count=s.total, duration=round(s.duration))
        step = self._steps[self._i]
        stretch = r.stretches[step.stretch]
        shown = math.ceil(self.remaining(now) - 1e-9)
        common = dict(name=stretch.name, icon=stretch.icon, icon_png=stretch.icon_png, side=step.side,
                      seconds=shown,
                      index=step.stretch + 1, count=len(r.stretches), text=stretch.cue,
                      progress=self._progress(now))
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
            return Frame("rest", title="REST", detail=f"next: {nxt.name}", **common)
        return Frame(screen, title=title, **common)

    def _progress(self, now: float) -> float:
        total = sum(s.seconds for s in self._steps) or 1
        done = sum(s.seconds for s in self._steps[: self._i])
        # whole seconds, like the countdown: the frame only changes when the number does
        done += self._steps[self._i].seconds - math.ceil(self.remaining(now) - 1e-9)
        return max(0.0, min(1.0, done / total))


# When each timeout falls due (only asked where the table has an entry for it).
DEADLINES: dict[Input, Callable[[Session], float | None]] = {
    Input.STEP_ENDS: lambda s: s._deadline,
    Input.COUNTDOWN: Session._next_countdown,
    Input.LEAD_IN_ENDS: lambda s: s._deadline,
    Input.PAUSE_TIMEOUT: lambda s: s._paused_at + s.config.pause_timeout,
    Input.MENU_TIMEOUT: lambda s: s._menu_at + CONFIRM_TIMEOUT,
    Input.POWER_OFF_FAILS: lambda s: s._menu_at + POWER_OFF_GRACE,
}

GUARDS: dict[Guard, Callable[[Session, float], bool]] = {
    Guard.LAST_STEP: Session._last_step,
    Guard.LAST_SIDE: Session._last_side,
    Guard.NO_LEAD_IN: Session._no_lead_in,
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
    Action.SKIP: Session._do_skip,
    Action.RESTART_HOLD: Session._do_restart_hold,
    Action.PREVIOUS_SIDE: Session._do_previous_side,
    Action.RESTART_SIDE: Session._do_restart_side,
    Action.DISMISS: Session._do_dismiss,
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
