"""Press and hold gestures from timestamped button-down and button-up events.

Rules (the whole contract of this module):

1. A *press* is reported when a button is released before any of its hold
   thresholds; it is reported at the release time.
2. A button's *longest* hold threshold fires the moment it is reached (at
   ``down + threshold``, exactly), not on release. ``next_deadline()`` says when.
3. Shorter thresholds (one-button mode: 1 s skip below a 3 s stop) fire on
   release, because the button may still be on its way to the longer one.
4. A press that became a hold does nothing else: its release reports nothing.
5. Both buttons down at once is a chord: neither button reports anything on
   its own any more, and the chord fires once both have been down for
   ``chord_hold`` seconds.

Time is an input; nothing here sleeps or reads a clock.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class Button(StrEnum):
    """The buttons, and the chord of both (their values are what ``simulate --json`` prints)."""

    A = "a"
    B = "b"
    BOTH = "ab"


class Kind(StrEnum):
    """What a gesture was: released before any hold threshold, or held to one."""

    PRESS = "press"
    HOLD = "hold"


A, B, BOTH = Button.A, Button.B, Button.BOTH
PRESS, HOLD = Kind.PRESS, Kind.HOLD


@dataclass(frozen=True)
class Pressed:
    """A button went down at monotonic time ``t`` (seconds)."""

    button: str
    t: float


@dataclass(frozen=True)
class Released:
    """A button came up at monotonic time ``t`` (seconds)."""

    button: str
    t: float


@dataclass(frozen=True)
class Gesture:
    """What the user meant: ``kind`` is ``press`` or ``hold`` (with its threshold)."""

    button: str
    kind: Kind
    t: float
    seconds: float = 0.0


@dataclass(frozen=True)
class GestureConfig:
    """Hold thresholds per button, shortest first."""

    holds: dict[str, tuple[float, ...]] = field(default_factory=lambda: {A: (2.0,), B: (1.0,)})
    chord_hold: float = 3.0

    @classmethod
    def two_button(cls, a_hold: float = 2.0, b_hold: float = 1.0, chord_hold: float = 3.0) -> GestureConfig:
        return cls({A: (a_hold,), B: (b_hold,)}, chord_hold)

    @classmethod
    def one_button(cls, skip_hold: float = 1.0, stop_hold: float = 3.0) -> GestureConfig:
        return cls({A: (skip_hold, stop_hold)}, chord_hold=stop_hold)


@dataclass
class _Down:
    since: float
    spent: bool = False  # a hold fired, or it joined a chord: its release reports nothing


class Swallowed:
    """Buttons whose press was taken for something else (waking the panel, dismissing a notice): their
    release is dropped too, so that press does nothing more (no press, no hold)."""

    def __init__(self):
        self._buttons: set[str] = set()

    def add(self, button: str) -> None:
        self._buttons.add(button)

    def takes(self, event: object) -> bool:
        """True for the release of a swallowed press: the caller drops it."""
        if isinstance(event, Released) and event.button in self._buttons:
            self._buttons.discard(event.button)
            return True
        return False


class Gestures:
    """Turns Pressed/Released into Gestures; see the module rules."""

    def __init__(self, config: GestureConfig | None = None):
        self.config = config or GestureConfig()
        self._down: dict[str, _Down] = {}
        self._chord_since: float | None = None

    @property
    def buttons(self) -> tuple[str, ...]:
        return tuple(self.config.holds)

    def next_deadline(self) -> float | None:
        """When the next hold (or chord) fires if nothing is released first."""
        times = [self._chord_since + self.config.chord_hold] if self._chord_since is not None else []
        for button, down in self._down.items():
            if not down.spent:
                times.append(down.since + self.config.holds[button][-1])
        return min(times, default=None)

    def due(self, now: float) -> list[Gesture]:
        """Holds whose time has come by ``now``, each stamped with its exact time."""
        fired = []
        if self._chord_since is not None and now >= self._chord_since + self.config.chord_hold:
            fired.append(Gesture(BOTH, HOLD, self._chord_since + self.config.chord_hold, self.config.chord_hold))
            self._chord_since = None
        for button, down in self._down.items():
            longest = self.config.holds[button][-1]
            if not down.spent and now >= down.since + longest:
                down.spent = True
                fired.append(Gesture(button, HOLD, down.since + longest, longest))
        return sorted(fired, key=lambda g: g.t)

    def pressed(self, event: Pressed) -> list[Gesture]:
        if event.button not in self.config.holds or event.button in self._down:
            return []  # unknown button, or a repeated edge: ignore
        self._down[event.button] = _Down(event.t)
        if len(self._down) > 1:
            for down in self._down.values():
                down.spent = True
            self._chord_since = event.t
        return []

    def released(self, event: Released) -> list[Gesture]:
        down = self._down.pop(event.button, None)
        if down is None:
            return []
        self._chord_since = None
        if down.spent:
            return []
        held = event.t - down.since
        reached = [th for th in self.config.holds[event.button] if held >= th]
        if reached:
            return [Gesture(event.button, HOLD, event.t, reached[-1])]
        return [Gesture(event.button, PRESS, event.t)]

    def reset(self) -> None:
        """Forget buttons in flight (e.g. the panel woke up on this press)."""
        for down in self._down.values():
            down.spent = True
        self._chord_since = None
