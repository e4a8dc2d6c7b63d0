"""What a session leaves behind: one record per session, as the history file keeps it.

Pure data: the session (core.session) fills a ``SessionLog`` as it runs, in monotonic
seconds; the history adapter adds the wall clock (and whether it can be trusted) and
the boot, and keeps one JSON line per session (``SessionRecord.to_dict``).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from enum import StrEnum

from .frame import clock_text
from .text import printable, quote

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


# ---- what the history file keeps ----------------------------------------------------------------------

CLOCKS = ("ntp", "rtc", "usb")  # what made a wall clock trustworthy (None: nothing did)
SIDES = ("left", "right", None)  # a hold's side, as core.routine.Sides.order names it
MAX_NUMBER = 10 ** 10  # no count or seconds (nor an epoch) of a real line comes near: a bigger one is hostile
BALANCE = 0.8  # a side held under this share of the other side's seconds is flagged as shortchanged
ENDING_TEXT = {Ending.FINISHED: "finished", Ending.STOPPED: "stopped", Ending.TIMED_OUT: "timed out",
               Ending.INTERRUPTED: "interrupted"}


def _need(ok: bool, reason: str) -> None:
    """ValueError(reason) unless ok: for fixed reasons. A reason that quotes a value is built in an ``if``
    of its own, only once the check failed (quoting every value of thousands of lines is slow)."""
    if not ok:
        raise ValueError(reason)


def _number(d: dict, key: str, *, optional: bool = False) -> float | None:
    """A number from 0 to MAX_NUMBER at ``d[key]`` (so never NaN or infinity, which Python's JSON reader takes)."""
    value = d.get(key)
    if value is None and optional:
        return None
    if not (isinstance(value, (int, float)) and not isinstance(value, bool) and 0 <= value <= MAX_NUMBER):
        raise ValueError(f"'{key}' must be a number of seconds, got {quote(value)}")
    return value


def _whole(d: dict, key: str, low: int = 0, *, optional: bool = False) -> int | None:
    value = d.get(key)
    if value is None and optional:
        return None
    if not (isinstance(value, int) and not isinstance(value, bool) and low <= value <= MAX_NUMBER):
        raise ValueError(f"'{key}' must be a whole number from {low}, got {quote(value)}")
    return value


def _text(d: dict, key: str, *, optional: bool = False) -> str | None:
    value = d.get(key)
    if value is None and optional:
        return None
    _need(isinstance(value, str), f"'{key}' must be text")
    return value


def _head(d: object, event: str) -> dict:
    _need(isinstance(d, dict), "not a JSON object")
    if not (d.get("v") == RECORD_VERSION and type(d.get("v")) is int):
        raise ValueError(f"version {quote(d.get('v'))}, this device reads {RECORD_VERSION}")
    _need(d.get("event") == event, f"not a {event} line")
    return d


def _wall(d: dict) -> tuple[str | None, str | None]:
    clock, boot = d.get("clock"), _text(d, "boot", optional=True)
    _need(clock in CLOCKS or clock is None, f"'clock' must be one of {', '.join(CLOCKS)} or null")
    return clock, boot


def side_from_dict(d: object) -> SideLog:
    _need(isinstance(d, dict), "a side is not a JSON object")
    _need(d.get("side") in SIDES, "'side' must be left, right or null")
    _need(isinstance(d.get("skipped"), bool), "'skipped' must be true or false")
    return SideLog(stretch=_whole(d, "stretch", 1), name=_text(d, "name"), side=d["side"],
                   planned=_whole(d, "planned", optional=True), held=_number(d, "held"),
                   skipped=d["skipped"], extended=_whole(d, "extended"))


def log_from_dict(d: object) -> SessionLog:
    """A log's object, as ``SessionLog.to_dict`` writes it, back into a SessionLog (not yet ended, started
    at 0): the history line's and the resume journal's. ValueError with a short reason."""
    _need(isinstance(d, dict), "the log is not a JSON object")
    routine = d.get("routine")
    _need(isinstance(routine, dict), "'routine' must be an object with a name and a hash")
    sides = d.get("sides")
    _need(isinstance(sides, list), "'sides' must be a list")
    return SessionLog(routine=_text(routine, "name"), routine_hash=_text(routine, "hash"), started=0.0,
                      sides=[side_from_dict(s) for s in sides], pauses=_whole(d, "pauses"), paused=_number(d, "paused"))


@dataclass
class SessionRecord:
    """A session as the history file keeps it: the log, the wall clock at start and end (epoch seconds,
    None when not known), which source made that clock trustworthy (``clock``, one of CLOCKS; None: the
    wall times are the Pi's guess and no calendar is drawn from them) and the boot it ran in."""

    log: SessionLog
    start_wall: float | None = None
    end_wall: float | None = None
    clock: str | None = None
    boot: str | None = None
    id: str | None = None  # the boot and monotonic start: a session found in the journal again is not kept twice

    @property
    def trusted(self) -> bool:
        return self.clock is not None and self.start_wall is not None

    def to_dict(self) -> dict:
        """The JSON line's object. A session is recorded once it has ended: without an ending, ValueError."""
        _need(self.log.ended is not None, "a session is recorded once it has ended")
        return {"v": RECORD_VERSION, "event": "session", "start": self.start_wall, "end": self.end_wall,
                "clock": self.clock, "boot": self.boot, "id": self.id, **self.log.to_dict()}

    @classmethod
    def from_dict(cls, d: object) -> SessionRecord:
        """The record of a history line, or ValueError with a short reason (the line may be anything).
        The monotonic start means nothing after the boot it was read in: it comes back as 0."""
        d = _head(d, "session")
        ended = d.get("ended")
        _need(ended in [e.value for e in Ending], f"'ended' must be one of {', '.join(e.value for e in Ending)}")
        clock, boot = _wall(d)
        log = log_from_dict(d)
        log.ended, log.duration = Ending(ended), _number(d, "duration")
        return cls(log, _number(d, "start", optional=True), _number(d, "end", optional=True), clock, boot,
                   _text(d, "id", optional=True))


@dataclass(frozen=True)
class ImportMarker:
    """A line saying routines were imported from a stick (``routines`` of them): "5 since the last import"
    counts the sessions after the last one."""

    routines: int
    wall: float | None = None
    clock: str | None = None
    boot: str | None = None

    def to_dict(self) -> dict:
        return {"v": RECORD_VERSION, "event": "import", "wall": self.wall, "clock": self.clock, "boot": self.boot,
                "routines": self.routines}

    @classmethod
    def from_dict(cls, d: object) -> ImportMarker:
        d = _head(d, "import")
        clock, boot = _wall(d)
        return cls(_whole(d, "routines"), _number(d, "wall", optional=True), clock, boot)


Entry = SessionRecord | ImportMarker


def entry_from_dict(d: object) -> Entry:
    """A history line's object as a session or an import marker; ValueError with a short reason."""
    _need(isinstance(d, dict), "not a JSON object")
    kind = d.get("event")
    if kind not in ("session", "import"):
        raise ValueError(f"unknown event {quote(kind)}")
    return SessionRecord.from_dict(d) if kind == "session" else ImportMarker.from_dict(d)


def sessions(entries: list[Entry]) -> list[SessionRecord]:
    return [e for e in entries if isinstance(e, SessionRecord)]


# ---- summaries --------------------------------------------------------------------------------------------

def local_date(epoch: float) -> date:
    """The calendar day of ``epoch`` in this machine's time zone (tests pass their own ``day``)."""
    return date.fromtimestamp(epoch)


@dataclass
class StretchTotal:
    """Held seconds of one stretch (by name) over many sessions, per side (None: a stretch without sides)."""

    name: str
    held: dict[str | None, float] = field(default_factory=dict)

    def shortchanged(self) -> str | None:
        """The side held under BALANCE of the other side's seconds, or None when they are even enough."""
        if "left" not in self.held or "right" not in self.held:  # held on one side only, as planned
            return None
        left, right = self.held["left"], self.held["right"]
        if left < BALANCE * right:
            return "left"
        if right < BALANCE * left:
            return "right"
        return None


def side_totals(records: list[SessionRecord]) -> list[StretchTotal]:
    """Held seconds per stretch and side over ``records``, stretches in the order first met."""
    totals: dict[str, StretchTotal] = {}
    for record in records:
        for s in record.log.sides:
            total = totals.setdefault(s.name, StretchTotal(s.name))
            total.held[s.side] = total.held.get(s.side, 0.0) + s.held
    return list(totals.values())


def totals_line(records: list[SessionRecord]) -> dict:
    """``side_totals`` as the last line of ``history --json`` (a side never held is null)."""
    return {"v": RECORD_VERSION, "event": "totals", "totals": [
        {"stretch": t.name, **{k or "none": round(t.held[k], 1) if k in t.held else None for k in SIDES},
         "short": t.shortchanged()} for t in side_totals(records)]}


def _week(day: date) -> date:
    """The Monday of ``day``'s ISO calendar week."""
    return day - timedelta(days=day.weekday())


@dataclass(frozen=True)
class Week:
    """Sessions of this week, and what "this week" means: a calendar week, or "since this boot" when the
    wall clock cannot be trusted (then no calendar is drawn from it)."""

    records: list[SessionRecord]
    label: str


def this_week(records: list[SessionRecord], today: date | None, boot: str | None,
              day: Callable[[float], date] = local_date) -> Week:
    """The sessions of ``today``'s calendar week (trusted wall clock only); with ``today`` None (no
    trusted clock now), the sessions of this boot."""
    if today is None:
        return Week([r for r in records if boot is not None and r.boot == boot], "since this boot")
    monday = _week(today)
    return Week([r for r in records if r.trusted and _week(day(r.start_wall)) == monday], "this week")


def week_streak(records: list[SessionRecord], today: date, day: Callable[[float], date] = local_date) -> int:
    """Calendar weeks in a row, up to ``today``'s, with at least one finished session (trusted wall clock
    only). A week not over yet breaks nothing: with no finished session this week, the count ends last week."""
    weeks = {_week(day(r.start_wall)) for r in records
             if r.trusted and r.log.ended == Ending.FINISHED}
    week = _week(today)
    if week not in weeks:
        week -= timedelta(days=7)
    count = 0
    while week in weeks:
        count, week = count + 1, week - timedelta(days=7)
    return count


def finished_counts(entries: list[Entry]) -> tuple[int, int | None]:
    """Finished sessions in all, and since the last import marker (None when there was none)."""
    total, since = 0, None
    for e in entries:
        if isinstance(e, ImportMarker):
            since = 0
        elif e.log.ended == Ending.FINISHED:
            total += 1
            since = None if since is None else since + 1
    return total, since


def ordinal(n: int) -> str:
    """English ordinals.

    >>> [ordinal(n) for n in (1, 2, 3, 4, 11, 12, 13, 21, 22, 23, 101, 111, 112)]
    ['1st', '2nd', '3rd', '4th', '11th', '12th', '13th', '21st', '22nd', '23rd', '101st', '111th', '112th']
    """
    suffix = "th" if n % 100 in (11, 12, 13) else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def streak_line(entries: list[Entry], today: date | None, day: Callable[[float], date] = local_date) -> str:
    """The done screen's line: a weekly streak when the clock is trusted (``today`` not None), else counts
    that need no calendar. Only what was done, never what was missed."""
    if today is not None:
        records = sessions(entries)
        streak = week_streak(records, today, day)
        if streak >= 2:
            return f"{ordinal(streak)} week in a row"
        done = [r for r in this_week(records, today, None, day).records if r.log.ended == Ending.FINISHED]
        if done:
            return f"{_plural(len(done), 'session')} this week"
    total, since = finished_counts(entries)
    return _plural(total, "session") + ("" if since is None else f", {since} since the last import")


# ---- the export file and the table ------------------------------------------------------------------------

CSV_HEADER = ("date", "routine", "stretch", "side", "planned", "held", "skipped", "extended", "ended")


def _cell(text: str) -> str:
    """A spreadsheet runs a cell starting with = + - @ as a formula: a routine name is made plain text."""
    return "'" + text if text[:1] in ("=", "+", "-", "@") else text


def csv_rows(records: list[SessionRecord], day: Callable[[float], date] = local_date) -> list[tuple[str, ...]]:
    """The export file's rows: the header, then one per side per session (date empty when not trusted)."""
    rows: list[tuple[str, ...]] = [CSV_HEADER]
    for r in records:
        when = day(r.start_wall).isoformat() if r.trusted else ""
        for s in r.log.sides:
            rows.append((when, _cell(r.log.routine), _cell(s.name), s.side or "",
                         "" if s.planned is None else str(s.planned), f"{s.held:.1f}",
                         "yes" if s.skipped else "no", str(s.extended), str(r.log.ended)))
    return rows


def csv_text(records: list[SessionRecord], day: Callable[[float], date] = local_date) -> str:
    """``csv_rows`` as CSV text (CRLF line ends, as spreadsheets expect)."""
    out = io.StringIO()
    csv.writer(out).writerows(csv_rows(records, day))
    return out.getvalue()


def _mss(seconds: float) -> str:
    """Held seconds as the screens write times (``clock_text``), to the nearest second."""
    return clock_text(round(seconds))


def screen_lines(entries: list[Entry], today: date | None, boot: str | None,
                 day: Callable[[float], date] = local_date) -> tuple[str, ...]:
    """The device's history screen: this week's sessions (or this boot's, with no trusted clock), the
    seconds held, the left/right balance, and a stretch whose sides are uneven."""
    week = this_week(sessions(entries), today, boot, day)
    totals = side_totals(week.records)
    held: dict[str | None, float] = {}
    for total in totals:
        for side, seconds in total.held.items():
            held[side] = held.get(side, 0.0) + seconds
    lines = [f"{_plural(len(week.records), 'session')} {week.label}", f"held {_mss(sum(held.values()))}"]
    if "left" in held or "right" in held:
        lines.append(f"left {_mss(held.get('left', 0.0))}  right {_mss(held.get('right', 0.0))}")
    uneven = [t.name for t in totals if t.shortchanged()]
    if uneven:
        lines.append(f"uneven: {uneven[0]}")
    return tuple(lines)


def history_table(records: list[SessionRecord], day: Callable[[float], date] = local_date) -> list[str]:
    """What ``stretchbox history`` prints: one row per session, then held seconds per stretch and side."""
    rows = [("date", "routine", "held", "done", "skipped", "ended")]
    for r in records:
        when = day(r.start_wall).isoformat() if r.trusted else "unknown date"
        skipped = {s.stretch for s in r.log.sides if s.skipped}
        done = {s.stretch for s in r.log.sides if s.held > 0} - skipped
        rows.append((when, printable(r.log.routine), _mss(r.log.held()), str(len(done)), str(len(skipped)),
                     ENDING_TEXT[r.log.ended]))
    lines = _columns(rows, right=(2, 3, 4))
    totals = [("stretch", "left", "right", "no side", "")]
    for t in side_totals(records):
        short = t.shortchanged()
        totals.append((printable(t.name), *(_mss(t.held[k]) if k in t.held else "-" for k in SIDES),
                       f"{short} under {BALANCE:.0%} of the other side" if short else ""))
    return lines + ["", "Held per stretch and side:"] + _columns(totals, right=(1, 2, 3))


def _columns(rows: list[tuple[str, ...]], right: tuple[int, ...]) -> list[str]:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return ["  ".join(cell.rjust(w) if i in right else cell.ljust(w)
                      for i, (cell, w) in enumerate(zip(row, widths))).rstrip() for row in rows]
