"""Panel power while nobody is stretching: dim, then off, and a small shift against burn-in.

Rules:

* Only static screens (idle, done, paused, power menus) go dim and off; a
  running routine keeps the panel on, since the user glances at it.
* ``dim_after`` seconds after the last activity the panel dims; ``off_after``
  seconds after it, the panel switches off, except on a paused routine,
  which only dims: a press there must resume, not just wake the panel (the
  session ends a forgotten pause by itself). Any button edge is activity.
* The press that wakes a panel that is off does nothing else: its down and up
  edges are swallowed here and never reach the session.
* A static screen moves by a pixel every ``shift_every`` seconds, through a
  small cycle of offsets, so no pixel stays lit in one place for hours.

Time is an input, like everywhere in the core.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


ON, DIM, OFF = "on", "dim", "off"
SHIFTS = ((0, 0), (1, 0), (1, 1), (0, 1))


@dataclass(frozen=True)
class IdleConfig:
    dim_after: float = 30.0
    off_after: float = 90.0
    shift_every: float = 60.0


class Idle:
    """Tracks activity; says how bright the panel is and which events to swallow."""

    def __init__(self, config: IdleConfig | None = None, now: float = 0.0):
        self.config = config or IdleConfig()
        self.static = True
        self.may_sleep = True
        self._since = now  # last activity, or when the screen became static
        from .gestures import Swallowed  # here: the config imports this module before the splash

        self._swallowed = Swallowed()

    def level(self, now: float) -> str:
        if not self.static:
            return ON
        quiet = now - self._since
        if quiet >= self.config.off_after and self.may_sleep:
            return OFF
        if quiet >= self.config.dim_after:
            return DIM
        return ON

    def shift(self, now: float) -> tuple[int, int]:
        """Pixel offset for the screen at ``now`` (always (0, 0) while a routine runs)."""
        if not self.static or self.config.shift_every <= 0:
            return SHIFTS[0]
        k = int((now - self._since) // self.config.shift_every)
        return SHIFTS[k % len(SHIFTS)]

    def next_deadline(self, now: float) -> float | None:
        if not self.static:
            return None
        times = [self._since + self.config.dim_after]
        if self.may_sleep:
            times.append(self._since + self.config.off_after)
        if self.config.shift_every > 0:
            k = math.floor((now - self._since) / self.config.shift_every) + 1
            times.append(self._since + k * self.config.shift_every)
        return min((t for t in times if t > now), default=None)

    def admit(self, event: object) -> bool:
        """Record activity; False when the event must not reach the session (a wake-up press)."""
        from .gestures import Pressed, Released  # here: the config imports this module before the splash

        if isinstance(event, Pressed):
            asleep = self.level(event.t) == OFF
            self._since = event.t
            if asleep:
                self._swallowed.add(event.button)
                return False
            return True
        if isinstance(event, Released):
            self._since = max(self._since, event.t)
        return not self._swallowed.takes(event)

    def observe(self, static: bool, now: float, *, may_sleep: bool = True) -> None:
        """Tell it whether the screen is static now (and may go dark); a change counts as activity."""
        if static != self.static or may_sleep != self.may_sleep:
            self.static = static
            self.may_sleep = may_sleep
            self._since = now
