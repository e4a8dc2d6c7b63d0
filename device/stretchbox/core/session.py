"""THE state machine of a stretching session: ``Session.handle(event) -> effects``.

Rules, all in one place:

* States: idle -> running <-> paused -> lead-in -> running ... -> done -> idle.
* A routine is a plan of steps. Per stretch: prepare, hold (first side),
  switch, hold (second side), rest; one hold without sides; no rest after the
  last stretch. Steps of 0 s are left out of the plan; holds never are.
* Every deadline is absolute. When a deadline passes, the next step starts
  *at the deadline*, not when the late Tick arrived, so time never drifts.
* The session acts only at its own deadlines: a step ends, a countdown cue
  (the last 3 s of a hold), a hold gesture, a timeout. The number on the
  screen also changes at each whole second of a step: ``next_deadline()``
  includes those seconds for a loop that draws, ``next_deadline(redraw=False)``
  leaves them out, so a loop without a screen steps once per event.
* A *side* is a hold plus the prepare/switch that leads into it; a rest
  belongs to the side before it. Skip leaves the current side (counted as
  skipped if its hold had not finished) and starts the next side, or the
  next stretch. Back restarts the current hold when 3 s or more of it have
  run; otherwise it goes to the start of the previous side.
* Back from a rest restarts the side it follows (the one just finished).
* Skip and back while paused move and stay paused. A pause left alone for
  ``pause_timeout`` seconds ends the routine (stopped), so a forgotten
  device never sits paused forever.
* Resuming a paused hold first runs a lead-in (``resume_lead`` s) to get back
  into position; the hold then goes on with the time it had left.
* The action of each gesture in each state comes from ``ACTIONS`` below; a
  gesture with no entry does nothing (reported as action ``none``).
* Both buttons held 3 s open the power menu (a running routine pauses):
  A powers off, B or 10 s without an answer goes back to where it was.

Time is an input (``event.t``, monotonic seconds); nothing here sleeps.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Union

from .frame import Frame
from .gestures import A, B, BOTH, Gesture, GestureConfig, Gestures, Pressed, Released
from .routine import Routine

IDLE = "idle"
RUNNING = "running"
PAUSED = "paused"
LEAD_IN = "lead-in"
DONE = "done"
CONFIRM_OFF = "confirm-off"
POWERING_OFF = "powering-off"
STATIC_STATES = (IDLE, PAUSED, DONE, CONFIRM_OFF, POWERING_OFF)
CONFIRM_TIMEOUT = 10.0
POWER_OFF_GRACE = 60.0  # if we are still running this long after power-off, it failed

COUNTDOWN_FROM = 3
BACK_GRACE = 3.0

# (state, button, gesture kind, hold threshold or 0) -> action. Everything else: "none".
# The thresholds are those of the gesture configuration in use (two- or one-button).
ACTIONS: dict[tuple[str, str, str], str] = {
    (IDLE, A, "press"): "start",
    (IDLE, B, "press"): "next-routine",
    (RUNNING, A, "press"): "pause",
    (RUNNING, A, "stop"): "stop",
    (RUNNING, B, "press"): "skip",
    (RUNNING, B, "back"): "back",
    (LEAD_IN, A, "press"): "pause",
    (LEAD_IN, A, "stop"): "stop",
    (LEAD_IN, B, "press"): "skip",
    (LEAD_IN, B, "back"): "back",
    (PAUSED, A, "press"): "resume",
    (PAUSED, A, "stop"): "stop",
    (PAUSED, B, "press"): "skip",
    (PAUSED, B, "back"): "back",
    # one-button mode: A's 1 s hold does what B's press does
    (IDLE, A, "skip"): "next-routine",
    (RUNNING, A, "skip"): "skip",
    (LEAD_IN, A, "skip"): "skip",
    (PAUSED, A, "skip"): "skip",
    (DONE, A, "press"): "dismiss",
    (DONE, B, "press"): "dismiss",
    # both buttons held: the power menu; A confirms, B (or 10 s) cancels
    (IDLE, BOTH, "chord"): "power-menu",
    (RUNNING, BOTH, "chord"): "power-menu",
    (LEAD_IN, BOTH, "chord"): "power-menu",
    (PAUSED, BOTH, "chord"): "power-menu",
    (DONE, BOTH, "chord"): "power-menu",
    (CONFIRM_OFF, A, "press"): "power-off",
    (CONFIRM_OFF, B, "press"): "cancel",
}


class IllegalEvent(Exception):
    """An event the session cannot take (e.g. time running backwards)."""


@dataclass(frozen=True)
class Tick:
    """Nothing happened but time passed; sent when a deadline is reached."""

    t: float


Event = Union[Pressed, Released, Tick]


@dataclass(frozen=True)
class Step:
    """One timed piece of the plan. ``stretch`` is 0-based."""

    phase: str  # prepare | hold | switch | rest
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
            lead = ("prepare", s.timing.prepare) if n == 0 else ("switch", s.timing.switch)
            if lead[1] > 0:
                steps.append(Step(lead[0], i, side, lead[1]))
            steps.append(Step("hold", i, side, s.timing.hold))
        if i < last and s.timing.rest > 0:
            steps.append(Step("rest", i, None, s.timing.rest))
    return tuple(steps)


@dataclass
class SessionConfig:
    resume_lead: float = 3.0
    pause_timeout: float = 600.0
    gestures: GestureConfig = field(default_factory=GestureConfig)

    @property
    def one_button(self) -> bool:
        return B not in self.gestures.holds


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
        self.state = IDLE
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
    def routine(self) -> Routine:
        return self.routines[self.selected]

    @property
    def step(self) -> Step | None:
        return self._steps[self._i] if self.state in (RUNNING, PAUSED, LEAD_IN) else None

    def next_deadline(self, *, redraw: bool = True) -> float | None:
        """When something next happens if no button is touched (None: nothing will).

        With ``redraw`` (a screen is watching) that includes the next whole second of the
        running step, when the number shown changes; without it, only when the session
        itself acts: its cost then grows with the events, not with the seconds.
        """
        times = [self.gestures.next_deadline()]
        if self.state in (RUNNING, LEAD_IN):
            times += [self._deadline, self._next_second() if redraw else self._next_countdown()]
        elif self.state == PAUSED:
            times.append(self._paused_at + self.config.pause_timeout)
        elif self.state == CONFIRM_OFF:
            times.append(self._menu_at + CONFIRM_TIMEOUT)
        elif self.state == POWERING_OFF:
            times.append(self._menu_at + POWER_OFF_GRACE)
        return min((t for t in times if t is not None), default=None)

    def _next_second(self) -> float | None:
        """The next whole-second boundary of the running step or lead-in, before its end."""
        whole = math.ceil(self._deadline - self.now - 1e-9)
        return self._deadline - (whole - 1) if whole > 1 else None

    def _next_countdown(self) -> float | None:
        """The next of the last COUNTDOWN_FROM whole seconds of a running hold (a countdown cue)."""
        if self.state != RUNNING or self._steps[self._i].phase != "hold":
            return None
        left = min(math.ceil(self._deadline - self.now - 1e-9) - 1, COUNTDOWN_FROM)
        return self._deadline - left if left >= 1 else None

    def remaining(self, now: float | None = None) -> float:
        """Seconds left in the current step (frozen while paused or in lead-in)."""
        now = self.now if now is None else now
        if self.state == RUNNING:
            return max(0.0, self._deadline - now)
        if self.state in (PAUSED, LEAD_IN):
            return self._remaining
        return 0.0

    def replace_routines(self, routines: list[Routine] | tuple[Routine, ...]) -> None:
        """A new library (USB import). A running routine keeps its own copy of the plan;
        the selection follows the routine's name when it is still there."""
        if not routines:
            raise ValueError("a session needs at least one routine")
        current = self.routine.name
        names = [r.name for r in routines]
        if self.state in (IDLE, DONE, CONFIRM_OFF, POWERING_OFF):
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
            due = self.next_deadline(redraw=False)  # the seconds between only change the picture
            if due is None or due > until:
                return
            self.now = max(self.now, due)
            held = self.gestures.due(due)
            if held:
                for g in held:
                    self._gesture(g, out)
                continue
            if self.state == CONFIRM_OFF:
                self._do_cancel(due, out)
            elif self.state == POWERING_OFF:  # still alive: the power-off command failed
                self.state = IDLE
                out.append(PhaseStarted(due, "idle", None, self.routine.name, None, 0))
            elif self.state == PAUSED:
                self._finish(due, out, stopped=True)
            elif self.state == LEAD_IN and due >= self._deadline:
                self._end_lead_in(out)
            elif self.state == RUNNING and due >= self._deadline:
                self._step_done(out)
            else:
                self._count(due, out)

    # ---- timeline ------------------------------------------------------
    def _count(self, t: float, out: list[Effect]) -> None:
        """One of the last whole seconds of a hold: a countdown tick."""
        left = round(self._deadline - t) if self.state == RUNNING else None
        if left is not None and self._steps[self._i].phase == "hold" and 1 <= left <= COUNTDOWN_FROM:
            out.append(Cue(t, "countdown"))

    def _enter(self, i: int, t: float, out: list[Effect], cue_from: int | None) -> None:
        """Start step ``i`` at time ``t`` with its full duration."""
        self._i = i
        step = self._steps[i]
        self._step_start = t
        self._deadline = t + step.seconds
        self._remaining = float(step.seconds)
        if self.state == PAUSED:
            self._paused_at = t  # navigating while paused counts as being here
            out.append(self._phase(t, "paused", step, step.seconds))
        else:
            out.append(self._phase(t, step.phase, step, step.seconds))
            cue = self._entry_cue(i, cue_from)
            if cue:
                out.append(Cue(t, cue, step.side))

    def _entry_cue(self, i: int, came_from: int | None) -> str | None:
        step = self._steps[i]
        if step.phase == "hold":
            return "go"
        if step.phase == "switch":
            return "switch-side"
        prev = self._steps[came_from] if came_from is not None else None
        if step.phase == "rest":
            return "next-stretch"
        # prepare: the routine's start, or a new stretch not already announced by its rest
        if prev is None:
            return "prepare"
        if prev.phase == "rest" and prev.stretch == step.stretch - 1:
            return None
        return "next-stretch" if prev.stretch != step.stretch else "prepare"

    def _phase(self, t: float, phase: str, step: Step, seconds: float) -> PhaseStarted:
        s = self.routine.stretches[step.stretch]
        return PhaseStarted(t, phase, step.stretch + 1, s.name, step.side, round(seconds, 3))

    def _step_done(self, out: list[Effect]) -> None:
        t = self._deadline
        self.now = max(self.now, t)
        if self._steps[self._i].phase == "hold":
            self._hold_status[self._i] = "completed"
        if self._i + 1 < len(self._steps):
            self._enter(self._i + 1, t, out, self._i)
        else:
            self._finish(t, out, stopped=False)

    def _end_lead_in(self, out: list[Effect]) -> None:
        t = self._deadline
        self.state = RUNNING
        step = self._steps[self._i]
        self._deadline = t + self._remaining
        out.append(self._phase(t, step.phase, step, self._remaining))
        out.append(Cue(t, "go", step.side))

    def _finish(self, t: float, out: list[Effect], *, stopped: bool) -> None:
        self.state = DONE
        self.summary = self._summary(t, stopped)
        out.append(PhaseStarted(t, "done", None, self.routine.name, None, 0))
        out.append(Cue(t, "done"))
        out.append(Finished(t, self.summary))

    def _summary(self, t: float, stopped: bool) -> Summary:
        per_stretch: dict[int, list[str]] = {}
        for i, step in enumerate(self._steps):
            if step.phase == "hold":
                per_stretch.setdefault(step.stretch, []).append(self._hold_status.get(i, "pending"))
        completed = sum(all(s == "completed" for s in v) for v in per_stretch.values())
        skipped = sum(any(s == "skipped" for s in v) and not all(s == "completed" for s in v)
                      for v in per_stretch.values())
        return Summary(round(t - self._started_at, 3), completed, skipped, len(per_stretch), stopped)

    # ---- gestures and actions -----------------------------------------
    def _gesture(self, g: Gesture, out: list[Effect]) -> None:
        self.now = max(self.now, g.t)
        kind = self._meaning(g)
        action = ACTIONS.get((self.state, g.button, kind), "none")
        out.append(ButtonAction(g.t, g.button, g.kind, action))
        if action != "none":
            getattr(self, "_do_" + action.replace("-", "_"))(g.t, out)

    def _meaning(self, g: Gesture) -> str:
        """Map a gesture to the name the action table uses (press / stop / back)."""
        if g.kind == "press":
            return "press"
        if g.button == BOTH:
            return "chord"
        if self.config.one_button:
            # one button: hold 1 s = skip (B's press), hold 3 s = stop
            short, long_ = self.config.gestures.holds[A][0], self.config.gestures.holds[A][-1]
            if g.seconds >= long_:
                return "stop"
            if g.seconds >= short:
                return "skip"
        return "stop" if g.button == A else "back"

    def _do_power_menu(self, t: float, out: list[Effect]) -> None:
        if self.state in (RUNNING, LEAD_IN):
            self._do_pause(t, out)
        self._before_menu = self.state
        self._menu_at = t
        self.state = CONFIRM_OFF

    def _do_cancel(self, t: float, out: list[Effect]) -> None:
        self.state = self._before_menu
        if self.state == PAUSED:
            self._paused_at = t

    def _do_power_off(self, t: float, out: list[Effect]) -> None:
        self.state = POWERING_OFF
        self._menu_at = t
        out.append(PowerOff(t))

    def _do_start(self, t: float, out: list[Effect]) -> None:
        self._steps = plan(self.routine)
        self._hold_status = {}
        self._started_at = t
        self.summary = None
        self.state = RUNNING
        self._enter(0, t, out, None)

    def _do_next_routine(self, t: float, out: list[Effect]) -> None:
        self.selected = (self.selected + 1) % len(self.routines)

    def _do_pause(self, t: float, out: list[Effect]) -> None:
        if self.state == RUNNING:
            self._remaining = max(0.0, self._deadline - t)
        self.state = PAUSED
        self._paused_at = t
        step = self._steps[self._i]
        out.append(self._phase(t, "paused", step, round(self._remaining, 3)))
        out.append(Cue(t, "paused"))

    def _do_resume(self, t: float, out: list[Effect]) -> None:
        step = self._steps[self._i]
        out.append(Cue(t, "resumed"))
        if step.phase == "hold" and self.config.resume_lead > 0:
            self.state = LEAD_IN
            self._deadline = t + self.config.resume_lead
            out.append(self._phase(t, "lead-in", step, self.config.resume_lead))
        else:
            self.state = RUNNING
            self._deadline = t + self._remaining
            out.append(self._phase(t, step.phase, step, round(self._remaining, 3)))

    def _do_stop(self, t: float, out: list[Effect]) -> None:
        self._finish(t, out, stopped=True)

    def _do_dismiss(self, t: float, out: list[Effect]) -> None:
        self.state = IDLE
        if self._pending_routines:
            pending, self._pending_routines = self._pending_routines, ()
            self.replace_routines(pending)
        out.append(PhaseStarted(t, "idle", None, self.routine.name, None, 0))

    def _current_hold(self) -> int:
        """The hold of the side we are on: this step, the next hold (lead), or the last (rest)."""
        i = self._i
        step = self._steps[i]
        if step.phase == "rest":
            while self._steps[i].phase != "hold":
                i -= 1
            return i
        while self._steps[i].phase != "hold":
            i += 1
        return i

    def _side_start(self, hold: int) -> int:
        """The first step of a side: the prepare or switch leading into ``hold``."""
        if hold > 0 and self._steps[hold - 1].phase in ("prepare", "switch") \
                and self._steps[hold - 1].stretch == self._steps[hold].stretch:
            return hold - 1
        return hold

    def _holds(self) -> list[int]:
        return [i for i, s in enumerate(self._steps) if s.phase == "hold"]

    def _do_skip(self, t: float, out: list[Effect]) -> None:
        hold = self._current_hold()
        if self._hold_status.get(hold) != "completed":
            self._hold_status[hold] = "skipped"
        later = [h for h in self._holds() if h > hold]
        self._move(t, self._side_start(later[0]) if later else None, out)

    def _do_back(self, t: float, out: list[Effect]) -> None:
        hold = self._current_hold()
        step = self._steps[self._i]
        into = self._hold_elapsed(t) if self._i == hold else 0.0
        if self._i == hold and into >= BACK_GRACE:
            target = hold
        else:
            earlier = [h for h in self._holds() if h < hold]
            target = self._side_start(earlier[-1] if earlier else hold)
            if step.phase == "rest":
                target = self._side_start(hold)
        for h in self._holds():
            if h >= target:
                self._hold_status.pop(h, None)
        self._move(t, target, out)

    def _hold_elapsed(self, t: float) -> float:
        step = self._steps[self._i]
        left = self._deadline - t if self.state == RUNNING else self._remaining
        return step.seconds - left

    def _move(self, t: float, target: int | None, out: list[Effect]) -> None:
        came_from = self._i
        if target is None:
            self._finish(t, out, stopped=False)
            return
        if self.state == LEAD_IN:
            self.state = RUNNING
        self._enter(target, t, out, came_from)

    # ---- view ------------------------------------------------------------
    def frame(self, now: float | None = None) -> Frame:
        """What the screen shows at ``now``."""
        now = self.now if now is None else now
        r = self.routine
        if self.state == CONFIRM_OFF:
            left = math.ceil(max(0.0, self._menu_at + CONFIRM_TIMEOUT - now) - 1e-9)
            return Frame("message", title="POWER OFF?", text="A: yes, power off   B: no", seconds=left)
        if self.state == POWERING_OFF:
            return Frame("message", title="POWERING OFF", text="Wait until the green light stops blinking")
        if self.state == IDLE:
            n = len(r.stretches)
            start = "press A to start" if not self.config.one_button else "press to start"
            return Frame("idle", title=r.name, index=self.selected + 1, count=len(self.routines),
                         text=start, detail=f"{n} stretch{'es' if n != 1 else ''}",
                         duration=r.total_seconds())
        if self.state == DONE:
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
        if self.state == PAUSED:
            return Frame("paused", title="PAUSED", paused_screen=step.phase, **common)
        if self.state == LEAD_IN:
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
