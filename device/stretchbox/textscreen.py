"""A readable text log of the screens, for a terminal or a pipe with no display.

One line whenever what the screen says changes, plus the countdown every
ten seconds and its last three: enough to follow a routine from a log.
"""

from __future__ import annotations

from typing import TextIO

from .core.frame import Frame, clock_text
from .core.session import Effect


def describe(frame: Frame) -> str:
    """One line saying what a screen shows."""
    side = f" {frame.side.upper()}" if frame.side else ""
    secs = f" {frame.seconds:>3}" if frame.seconds is not None else ""
    where = f" [{frame.index}/{frame.count}]" if frame.count and frame.screen not in ("idle", "done") else ""
    if frame.screen == "idle":
        return (f"IDLE  {frame.title}: {frame.detail}, {clock_text(frame.duration)} "
                f"({frame.text}) [{frame.index}/{frame.count}]")
    if frame.screen == "done":
        return (f"{frame.title}  {frame.name}: {frame.completed} of {frame.count} done, "
                f"{frame.skipped} skipped, {clock_text(frame.duration)}")
    if frame.screen in ("error", "message", "splash"):
        return f"{frame.title}  {frame.text}".rstrip()
    label = frame.title or frame.screen.upper()
    return f"{label:<12}{secs}{side}  {frame.name}{where}"


class TextScreen:
    """An App output that prints screen changes."""

    def __init__(self, out: TextIO):
        self.out = out
        self._last: tuple | None = None

    def effects(self, effects: list[Effect], now: float) -> None:
        pass

    def next_deadline(self) -> float | None:
        return None

    def frame(self, frame: Frame, now: float) -> None:
        key = (frame.screen, frame.name, frame.side, frame.title, frame.text)
        ticking = frame.seconds is not None and (frame.seconds % 10 == 0 or frame.seconds <= 3)
        if key != self._last or (ticking and frame.screen in ("hold", "lead-in")
                                 and self._last_seconds != frame.seconds):
            self.out.write(describe(frame) + "\n")
            self.out.flush()
        self._last = key
        self._last_seconds = frame.seconds

    _last_seconds: int | None = None
