"""A readable text log of the screens, for a terminal or a pipe with no display.

One line whenever what the screen says changes, so every second of a
countdown gets its own line (``HOLD  30 LEFT``, ``HOLD  29 LEFT``, ...): a log
that moves like the panel does, never one that looks frozen for ten seconds.
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
        counting = f" ({frame.seconds} s)" if frame.seconds is not None else ""  # the power menu counts down
        return f"{frame.title}  {frame.text}{counting}".rstrip()
    label = frame.title or frame.screen.upper()
    return f"{label:<12}{secs}{side}  {frame.name}{where}"


class TextScreen:
    """An App output that prints a line whenever the screen's line changes (each second of a countdown).

    >>> import io
    >>> from .core.frame import Frame
    >>> out = io.StringIO()
    >>> screen = TextScreen(out)
    >>> for t, s in ((0.0, 30), (0.5, 30), (1.0, 29)):
    ...     screen.frame(Frame("hold", title="HOLD", name="Calf", side="left", seconds=s), t)
    >>> print(out.getvalue(), end="")
    HOLD          30 LEFT  Calf
    HOLD          29 LEFT  Calf
    """

    def __init__(self, out: TextIO):
        self.out = out
        self._last: str | None = None

    def effects(self, effects: list[Effect], now: float) -> None:
        pass

    def next_deadline(self) -> float | None:
        return None

    def frame(self, frame: Frame, now: float) -> None:
        line = describe(frame)
        if line != self._last:
            self.out.write(line + "\n")
            self.out.flush()
        self._last = line
