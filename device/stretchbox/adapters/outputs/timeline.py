"""The simulation's timeline: effects as JSON records, and the readable table.

An Output for ``App``: it records what the device would do, in the order it
does it, with times in seconds since the routine started.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, TextIO

from ...core.frame import clock_text
from ...core.output import Output
from ...core.routine import Routine
from ...core.session import ButtonAction, Cue, Effect, Finished, PhaseStarted


def _t(value: float) -> float:
    return round(value, 3)


class Timeline(Output):
    """Collects effects as records; ``emit`` (if given) receives each as it happens."""

    def __init__(self, emit: Callable[[dict], None] | None = None, start: float = 0.0):
        self.records: list[dict] = []
        self.emit = emit
        self.start = start

    def add(self, record: dict) -> None:
        self.records.append(record)
        if self.emit:
            self.emit(record)

    def effects(self, effects: list[Effect], now: float) -> None:
        for e in effects:
            rec = self.record(e)
            if rec is not None:
                self.add(rec)

    def record(self, e: Effect) -> dict[str, Any] | None:
        t = _t(e.t - self.start)
        if isinstance(e, PhaseStarted):
            if e.phase == "idle":
                return None
            return {"t": t, "event": "phase", "phase": e.phase, "stretch": e.stretch, "name": e.name,
                    "side": e.side, "seconds": e.seconds, "routine_left": e.routine_left}
        if isinstance(e, Cue):
            return {"t": t, "event": "cue", "cue": e.cue}
        if isinstance(e, ButtonAction):
            return {"t": t, "event": "button", "button": e.button, "gesture": e.gesture, "action": e.action}
        if isinstance(e, Finished):
            self.summary = e.summary
            return None
        return None


def summary_record(timeline: Timeline) -> dict[str, Any]:
    s = getattr(timeline, "summary", None)
    if s is None:
        return {"event": "summary", "duration": 0, "completed": 0, "skipped": 0, "stopped": False, "total": 0}
    return {"event": "summary", "duration": _t(s.duration), "completed": s.completed, "skipped": s.skipped,
            "stopped": s.stopped, "total": s.total}


def json_line(record: dict) -> str:
    return json.dumps(record, ensure_ascii=False, separators=(", ", ": "))


def write_table(routine: Routine, records: list[dict], summary: dict, out: TextIO) -> None:
    """The timeline as a table a routine author can read, with the planned total."""
    n = len(routine.stretches)
    out.write(f"{routine.name}: {n} stretch{'es' if n != 1 else ''}, "
              f"{clock_text(routine.total_seconds())} planned\n\n")
    out.write(f"{'time':>7}  {'what':<12} {'stretch':<28} {'side':<6} {'secs':>5}\n")
    for r in records:
        when = clock_text(int(r["t"])) + f".{int(round((r['t'] % 1) * 1000)):03d}"
        if r["event"] == "phase":
            where = f"{r['stretch']}. {r['name']}" if r["stretch"] else r["name"]
            secs = "" if r["phase"] == "done" else "open" if r["seconds"] is None else f"{r['seconds']:g}"
            out.write(f"{when:>7}  {r['phase']:<12} {where[:28]:<28} {r['side'] or '':<6} {secs:>5}\n")
        elif r["event"] == "cue":
            out.write(f"{when:>7}    cue: {r['cue']}\n")
        elif r["event"] == "button":
            out.write(f"{when:>7}    button {r['button'].upper()} {r['gesture']} -> {r['action']}\n")
    state = "stopped" if summary.get("stopped") else "finished"
    out.write(f"\n{state} after {clock_text(int(summary['duration']))} ({summary['duration']:g} s): "
              f"{summary['completed']} of {summary['total']} stretches done, {summary['skipped']} skipped\n")
