"""The device's memory: the resume journal and the history, kept from the session's effects.

An App output, the last: a ``Checkpoint`` replaces the journal (None clears it) once
the step's frame is on the panel and its cue started (``frame``), so an SD card's fsync
never delays what the user sees or hears; a ``Finished`` appends the session to the
history at once, with the wall clock and whether it can be trusted, so the done
screen's streak counts it. At start-up ``resume`` takes up a journal left by a crash or a power cut
(core.session.Session.restore says how). A disk that refuses is logged once per
kind of failure and survived: the timer never stops for its memory.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

from ..core.history import (
    CLOCKS, Ending, Entry, ImportMarker, SessionLog, SessionRecord, local_date, screen_lines, sessions, streak_line,
)
from ..core.output import Output
from ..core.session import Checkpoint, Effect, Finished, Session
from .files import display_path
from .history import HistoryFile
from .journal import JournalFile
from .wallclock import WallClock

log = logging.getLogger(__name__)


def session_id(origin: dict, started: float) -> str | None:
    """A session's identity across restarts: the boot it started in, its monotonic start and its wall
    clock at the start (two `simulate` runs start at 0.000 in one boot). None: the journal's are not numbers."""
    try:
        return f"{origin.get('boot') or 'unknown'}:{float(started):.3f}:{float(origin.get('wall') or 0):.3f}"
    except (TypeError, ValueError, OverflowError):
        return None


class StateKeeper(Output):
    """The journal and the history in ``folder`` for ``session``; ``clock`` is the loop's monotonic clock."""

    def __init__(self, folder: Path, session: Session, clock: Callable[[], float], *,
                 wall: WallClock | None = None, boot: str | None = None):
        self.folder = Path(folder)
        self.session = session
        self.clock = clock
        self.journal = JournalFile(self.folder, boot)
        self.history = HistoryFile(self.folder)
        self.boot = self.journal.boot
        self.wall = wall or WallClock()
        # the session under way: when it started by the wall clock, and in which boot (a resumed one keeps its own)
        self._origin: dict = {}
        self._offered: dict = {}  # the same, for a journal's session that may come back as interrupted
        self._failed: set[str] = set()
        self._pending: list[dict | None] = []  # the last checkpoint not yet written (None: clear the journal)
        try:
            self.entries: list[Entry] = self.history.read()
        except OSError as exc:  # an unreadable card must not stop the timer: start with no history shown
            log.error("%s: cannot read the history: %s", display_path(self.history.path), exc)
            self.entries = []
        self.refresh()

    # ---- start-up ----------------------------------------------------------------------------
    def resume(self) -> list[Effect]:
        """Take up the journal, if one was left: the session's effects (the outputs carry them out)."""
        saved = self.journal.read()
        if saved is None:
            return []
        state = saved["state"]
        origin = state.get("origin") if isinstance(state.get("origin"), dict) else {}
        sid = session_id(origin, state.get("started"))
        if sid is not None and self._recorded(sid):
            log.warning("%s: journal of a session already in the history: dropped", display_path(self.journal.path))
            self._clear()
            return []
        now = self.clock()
        self._offered = origin
        effects, refused = self.session.restore(state, now, same_boot=self.journal.written_this_boot(saved))
        if refused is not None:
            log.warning("%s: not resumed: %s", display_path(self.journal.path), refused)
            if not any(isinstance(e, Checkpoint) for e in effects):
                self._clear()
            return effects
        step = self.session.step
        if step is not None:  # taken up at once (same boot): it is this session's origin from now on
            self._origin, self._offered = origin, {}
            stretch = self.session.routine.stretches[step.stretch].name
            log.warning("resumed (same boot): stretch %d %s, side %s, %s, %.1f s left", step.stretch + 1, stretch,
                        step.side or "none", step.phase, self.session.remaining(now))
        else:
            log.warning("an unfinished session is on offer (the Pi was rebooted): %s", state.get("routine"))
        return effects

    def _recorded(self, sid: str | None) -> bool:
        return any(r.id == sid for r in sessions(self.entries[-20:]))

    # ---- the effects -------------------------------------------------------------------------------
    def effects(self, effects: list[Effect], now: float) -> None:
        for e in effects:
            if isinstance(e, Checkpoint):
                self._pending = [e.data]  # only the last of a step counts
            elif isinstance(e, Finished) and e.log is not None:
                self._record(e.log, now)

    def stop(self, now: float) -> None:
        """The program is stopping (SIGTERM, q): the routine under way is kept paused where it is."""
        checkpoint = self.session.suspended(now)
        if checkpoint is not None:
            self._pending = []
            self._write(checkpoint.data, now)

    def frame(self, frame, now: float) -> None:
        """After the panel drew: the step's checkpoint, written."""
        if self._pending:
            data, self._pending = self._pending[0], []
            if data is None:
                self._clear()
            else:
                self._write(data, now)

    def _write(self, data: dict, now: float) -> None:
        if not self._origin or self._origin.get("started") != data.get("started"):
            if self._offered and self._offered.get("started") == data.get("started"):
                self._origin, self._offered = self._offered, {}  # the offer was taken up
            else:  # a new session: its wall clock at start
                wall, source = self.wall.wall_clock()
                self._origin = {"boot": self.boot, "started": data.get("started"),
                                "wall": wall - (now - float(data.get("started") or now)), "clock": source}
        self._safely("journal", lambda: self.journal.write(dict(data, origin=self._origin)))

    def _clear(self) -> None:
        self._safely("journal", self.journal.clear)

    def _record(self, session_log: SessionLog, now: float) -> None:
        interrupted = session_log.ended == Ending.INTERRUPTED
        origin = self._offered if interrupted else self._origin
        if interrupted:
            self._offered = {}
        else:
            self._origin = {}
        wall, source = self.wall.wall_clock()
        start = origin.get("wall") if isinstance(origin.get("wall"), (int, float)) else None
        clock = origin.get("clock") if origin.get("clock") in CLOCKS else None
        # the end by a clock as trusted as the start's, or not at all (a reboot-resume may end on a guess)
        end = None if interrupted or (clock is not None and source is None) else wall
        record = SessionRecord(session_log, start_wall=start, end_wall=end, clock=clock,
                               boot=origin.get("boot") if isinstance(origin.get("boot"), str) else self.boot,
                               id=session_id(origin, session_log.started))
        if not self._recorded(record.id):
            self._append(record, (wall, source))

    def _append(self, entry: Entry, clock: tuple[float, str | None]) -> None:
        """``entry`` into the history file and, once it is there, onto the screens."""
        if self._safely("history", lambda: self.history.append(entry)):
            self.entries.append(entry)
        self.refresh(clock)

    def imported(self, routines: int, newest_file: float | None, now: float) -> None:
        """Routines came from a stick: a marker for "N since the last import", and the stick's newest file
        time as a lower bound of the wall clock (a laptop set it)."""
        if newest_file is not None:
            self.wall.note_stick_time(newest_file, now)
        wall, source = self.wall.wall_clock()
        self._append(ImportMarker(routines, wall, source, self.boot), (wall, source))

    def _safely(self, what: str, action: Callable[[], None]) -> bool:
        try:
            action()
        except (OSError, ValueError) as exc:
            if what not in self._failed:  # once per kind: a full disk must not flood the journal
                self._failed.add(what)
                log.error("%s: cannot keep the %s: %s", display_path(self.folder), what, exc)
            return False
        self._failed.discard(what)
        return True

    # ---- what the screens show ----------------------------------------------------------------------
    def refresh(self, clock: tuple[float, str | None] | None = None) -> None:
        """The history screen's lines and the done screen's streak, from the entries and the clock now
        (``clock``: the caller's reading of it, just taken)."""
        wall, source = clock or self.wall.wall_clock()
        try:
            today = local_date(wall) if source is not None else None
        except (ValueError, OverflowError, OSError):  # a clock no calendar can show
            today = None
        self.session.history_lines = screen_lines(self.entries, today, self.boot)
        self.session.streak_line = streak_line(self.entries, today)
