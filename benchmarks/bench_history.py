"""What keeping the history and the journal costs: bytes per session line, sessions per generation, and the
time of an append (one write + fsync), of a journal write (temp, fsync, rename, fsync of the folder) and of
reading two full generations, as medians on this machine's disk (an SD card is slower: fsync dominates).

Run: `make bench` or `python benchmarks/bench_history.py [FOLDER]` (default: a temp folder; give a folder on the
disk to measure, as /tmp may be RAM).
"""

from __future__ import annotations

import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "device"))

from stretchbox.adapters.history import ROTATE_AT, HistoryFile  # noqa: E402
from stretchbox.adapters.journal import JournalFile  # noqa: E402
from stretchbox.adapters.routines import load_builtin  # noqa: E402
from stretchbox.core.history import Ending, SessionLog, SessionRecord, SideLog  # noqa: E402


def builtin_session() -> SessionRecord:
    """The built-in routine done whole, with a SHA-256 routine hash and a boot id: a typical line."""
    routine = load_builtin()[0]
    sides = [SideLog(n, s.name, side, s.timing.hold, float(s.timing.hold))
             for n, s in enumerate(routine.stretches, 1) for side in s.sides.order]
    log = SessionLog(routine.name, "f" * 64, 0.0, sides, pauses=1, paused=12.5, ended=Ending.FINISHED, duration=420.0)
    return SessionRecord(log, 1_795_459_800.0, 1_795_460_220.0, "ntp", "6f2b0f0e-1d4c-4c1a-9a53-0c1f6d1b2e3f")


def ms(samples: list[float]) -> str:
    return f"{statistics.median(samples) * 1000:.2f} ms"


def main(folder: Path) -> None:
    record = builtin_session()
    line = len(json.dumps(record.to_dict(), ensure_ascii=False, separators=(",", ":")).encode()) + 1
    print(f"history line of the built-in routine: {line} bytes; {ROTATE_AT // line} sessions per "
          f"{ROTATE_AT // 1024} KiB generation, {2 * ROTATE_AT // line} kept in all")
    history = HistoryFile(folder / "state")
    appends = []
    while not history.old_path.exists() or history.path.stat().st_size < ROTATE_AT - line:
        t = time.perf_counter()
        history.append(record)
        appends.append(time.perf_counter() - t)
    reads = []
    for _ in range(5):
        t = time.perf_counter()
        n = len(history.read())
        reads.append(time.perf_counter() - t)
    journal = JournalFile(folder / "state", boot="bench")
    state = {"routine": {"name": record.log.routine, "hash": "f" * 64}, "stretch": 4, "side": "right",
             "phase": "hold", "left": 18.0, "paused": False}
    writes = []
    for _ in range(200):
        t = time.perf_counter()
        journal.write(state)
        writes.append(time.perf_counter() - t)
    print(f"append (write + fsync): {ms(appends)} median over {len(appends)}")
    print(f"read both generations ({n} sessions): {ms(reads)} median of {len(reads)}")
    print(f"journal write (temp, fsync, rename, fsync folder): {ms(writes)} median over {journal.writes}")


if __name__ == "__main__":
    if len(sys.argv) > 1:
        main(Path(sys.argv[1]))
    else:
        with tempfile.TemporaryDirectory() as tmp:
            main(Path(tmp))
