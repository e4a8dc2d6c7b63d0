"""What a session leaves behind: one record per session, as the history file keeps it.

Pure data: the session (core.session) fills a ``SessionLog`` as it runs, in monotonic
seconds; the history adapter adds the wall clock (and whether it can be trusted) and
the boot, and keeps one JSON line per session (``SessionRecord.to_dict``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

RECORD_VERSION = 1


class Ending(StrEnum):
    """How a session ended (the values are what the history file and ``history --json`` say)."""

    FINISHED = "finished"  # the plan ran out (skips included)
    STOPPED = "stopped"  # the user stopped it
    TIMED_OUT = "timed-out"  # left paused for pause_timeout
    INTERRUPTED = "interrupted"  # cut by a crash or a power loss, and not resumed


@dataclass
class SideLog:
    """One hold of the plan: a stretch's side (``side`` None for a stretch without sides)."""

    stretch: int  # 1-based
    name: str
    side: str | None
    planned: int | None  # seconds; None for an open hold
    held: float = 0.0  # seconds actually held, pauses excluded
    skipped: bool = False
    extended: int = 0  # seconds added with the extend gesture

    def to_dict(self) -> dict:
        return {"stretch": self.stretch, "name": self.name, "side": self.side, "planned": self.planned,
                "held": round(self.held, 1), "skipped": self.skipped, "extended": self.extended}


@dataclass
class SessionLog:
    """A session as the core knows it: monotonic seconds only."""

    routine: str
    routine_hash: str
    started: float  # monotonic
    sides: list[SideLog] = field(default_factory=list)
    pauses: int = 0
    paused: float = 0.0  # seconds spent paused (and in lead-ins)
    ended: Ending | None = None
    duration: float = 0.0  # monotonic, start to end

    def held(self) -> float:
        return sum(s.held for s in self.sides)

    def to_dict(self) -> dict:
        return {"routine": {"name": self.routine, "hash": self.routine_hash},
                "ended": str(self.ended) if self.ended else None, "duration": round(self.duration, 1),
                "pauses": self.pauses, "paused": round(self.paused, 1),
                "sides": [s.to_dict() for s in self.sides]}
