"""adapters/history.py on real files: appends survive a torn last line at any byte, garbage is skipped with one
log line naming file and line, and the file rotates at ROTATE_AT keeping one older generation."""

import json
import logging
import os
from pathlib import Path

import pytest

from stretchbox.adapters import history as history_module
from stretchbox.adapters.history import MAX_LINE, NAME, OLD_NAME, ROTATE_AT, HistoryFile
from stretchbox.core.history import Ending, ImportMarker, SessionLog, SessionRecord, SideLog

ROOT = Path(__file__).resolve().parents[2]


def record(n: int, ended: Ending = Ending.FINISHED) -> SessionRecord:
    log = SessionLog("Post-run", "c0ffee", 0.0, [SideLog(1, "Calf", "left", 30, 30.0 + n),
                                                  SideLog(1, "Calf", "right", 30, 29.5)],
                     ended=ended, duration=float(n))
    return SessionRecord(log, 1_795_435_200.0 + n, None, "ntp", "boot-1")


def warnings(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == history_module.__name__]


def test_append_then_read_gives_the_entries_back_in_order(tmp_path):
    h = HistoryFile(tmp_path / "state")  # made on the first append
    assert h.read() == []
    entries = [record(1), ImportMarker(4, 1_795_435_300.0, "ntp", "boot-1"), record(2, Ending.INTERRUPTED)]
    for e in entries:
        h.append(e)
    assert h.read() == entries
    text = h.path.read_text()
    assert text.count("\n") == 3 and text.endswith("\n")
    assert [json.loads(line)["event"] for line in text.splitlines()] == ["session", "import", "session"]
    assert oct(h.path.stat().st_mode & 0o777) == "0o640"


def test_each_append_is_one_write_on_an_append_descriptor_then_fsync(tmp_path, monkeypatch):
    h = HistoryFile(tmp_path)
    h.append(record(0))
    calls = []
    real_write, real_fsync = os.write, os.fsync
    monkeypatch.setattr(os, "write", lambda fd, data: calls.append(("write", os.get_blocking(fd), bytes(data)))
                        or real_write(fd, data))
    monkeypatch.setattr(os, "fsync", lambda fd: calls.append(("fsync",)) or real_fsync(fd))
    h.append(record(1))
    assert [c[0] for c in calls] == ["write", "fsync"]
    assert calls[0][2].endswith(b"\n") and calls[0][2].count(b"\n") == 1


def test_a_torn_last_line_at_every_byte_is_skipped_and_the_next_append_starts_a_fresh_line(tmp_path, caplog):
    h = HistoryFile(tmp_path)
    h.append(record(1))
    h.append(record(2))
    whole = h.path.read_bytes()
    last_start = whole.rindex(b"\n", 0, len(whole) - 1) + 1
    for cut in range(last_start, len(whole) + 1):
        h.path.write_bytes(whole[:cut])
        caplog.clear()
        with caplog.at_level(logging.WARNING):
            got = h.read()
        complete = cut >= len(whole) - 1  # cut exactly before the newline: the JSON is whole, and kept
        assert got == ([record(1), record(2)] if complete else [record(1)]), cut
        torn = cut not in (last_start,) and not complete
        assert warnings(caplog) == ([f"{h.path}:2: line skipped: torn (cut before its end of line)"] if torn else []), cut
        h.append(record(3))  # a power cut, then the device records the next session
        caplog.clear()
        with caplog.at_level(logging.WARNING):
            after = h.read()
        assert after == ([record(1), record(2), record(3)] if complete else [record(1), record(3)]), cut
        assert len(warnings(caplog)) == (1 if torn else 0), cut
        assert h.path.read_bytes().endswith(b"\n")


GARBAGE = [b"not json\n", b"\x00\xff\xfe binary\n", b"[1, 2]\n", b'{"v": 2, "event": "session"}\n',
           b'{"v": 1, "event": "session"}\n', b"\xef\xbb\xbf{}\n", b"[" * 100_000 + b"\n", b'{"v": 1e999}\n',
           b"1" * 5000 + b"\n"]


def test_garbage_lines_are_skipped_with_one_log_line_each_naming_file_and_line(tmp_path, caplog):
    h = HistoryFile(tmp_path)
    h.append(record(1))
    with open(h.path, "ab") as f:
        for g in GARBAGE:
            f.write(g)
        f.write(b"\n   \n")  # blank lines: nothing to say
    h.append(record(2))
    with caplog.at_level(logging.WARNING):
        assert h.read() == [record(1), record(2)]
    said = warnings(caplog)
    assert len(said) == len(GARBAGE)
    assert [s.split(": ")[0] for s in said] == [f"{h.path}:{n}" for n in range(2, 2 + len(GARBAGE))]
    assert all(len(s) < 250 and "\n" not in s for s in said)


def test_a_line_over_max_line_is_skipped_without_being_held_whole(tmp_path, caplog):
    h = HistoryFile(tmp_path)
    with open(h.path, "wb") as f:
        f.write(b'{"a": "' + b"x" * (MAX_LINE + MAX_LINE // 2) + b'"}\n')  # under ROTATE_AT: no rotation
    h.append(record(1))
    with caplog.at_level(logging.WARNING):
        assert h.read() == [record(1)]
    assert warnings(caplog) == [f"{h.path}:1: line skipped: over {MAX_LINE:,} bytes"]


def test_the_longest_real_line_fits_max_line_three_times():
    from stretchbox.core.routine import MAX_DURATION, MAX_NAME, MAX_STRETCHES

    sides = [SideLog(i // 2 + 1, "é" * MAX_NAME, ("left", "right")[i % 2], MAX_DURATION, float(MAX_DURATION), False,
                     MAX_DURATION) for i in range(2 * MAX_STRETCHES)]
    log = SessionLog("é" * MAX_NAME, "f" * 64, 0.0, sides, 10 ** 6, 10 ** 6, Ending.FINISHED, 10 ** 6)
    assert 3 * line_of(SessionRecord(log, 1e10, 1e10, "ntp", "6f2b0f0e-1d4c-4c1a-9a53-0c1f6d1b2e3f")) < MAX_LINE


def test_an_entry_too_long_for_a_line_is_refused_before_writing(tmp_path):
    r = record(1)
    r.log.sides = r.log.sides * (MAX_LINE // 80)
    h = HistoryFile(tmp_path)
    with pytest.raises(ValueError, match="over the"):
        h.append(r)
    assert not h.path.exists()


def test_rotation_keeps_one_older_generation_and_reading_reads_both(tmp_path):
    h = HistoryFile(tmp_path)
    sizes = [0]
    n = 0
    while not h.old_path.exists():
        h.append(record(n))
        sizes.append(h.path.stat().st_size)
        n += 1
    assert sizes[-3] < ROTATE_AT <= sizes[-2]  # rotated at the first append after the file reached ROTATE_AT
    assert h.old_path.stat().st_size == sizes[-2] and h.path.read_text().count("\n") == 1
    assert h.read() == [record(i) for i in range(n)]
    first = n
    while not (h.path.stat().st_size < 1000 and n > first + 10):  # until the second rotation
        h.append(record(n))
        n += 1
    assert sorted(p.name for p in tmp_path.iterdir()) == [OLD_NAME, NAME]  # the oldest generation is gone
    assert h.read() == [record(i) for i in range(first - 1, n)]
    assert max(p.stat().st_size for p in tmp_path.iterdir()) < ROTATE_AT + MAX_LINE


def test_a_torn_old_generation_is_read_too(tmp_path, caplog):
    h = HistoryFile(tmp_path)
    h.old_path.write_bytes(json.dumps(record(1).to_dict()).encode() + b"\n{\"v\": 1, \"ev")
    h.append(record(2))
    with caplog.at_level(logging.WARNING):
        assert h.read() == [record(1), record(2)]
    assert warnings(caplog) == [f"{h.old_path}:2: line skipped: torn (cut before its end of line)"]


@pytest.mark.parametrize("kind", ["folder", "fifo", "unreadable"])
def test_a_history_that_is_not_a_readable_file_is_logged_once_never_hangs(tmp_path, caplog, kind):
    h = HistoryFile(tmp_path)
    if kind == "folder":
        h.path.mkdir()
    elif kind == "fifo":
        os.mkfifo(h.path)
    else:
        h.path.write_text(json.dumps(record(1).to_dict()) + "\n")
        h.path.chmod(0)
        if os.access(h.path, os.R_OK):
            pytest.skip("running as root: permissions do not stop reads")
    with caplog.at_level(logging.WARNING):
        assert h.read() == []
    assert len(warnings(caplog)) == 1 and str(h.path) in warnings(caplog)[0]


def line_of(r: SessionRecord) -> int:
    return len(json.dumps(r.to_dict(), ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode()) + 1


def test_the_readme_quotes_the_rotation_size_and_what_it_holds():
    from tests.cli.test_history_cli import at, session

    r = session(at(9), "ntp", boot="6f2b0f0e-1d4c-4c1a-9a53-0c1f6d1b2e3f")
    r.log.routine_hash = "f" * 64  # a SHA-256 in hex: the longest hash a routine would carry
    sessions = round(ROTATE_AT / line_of(r), -1)
    readme = " ".join((ROOT / "README.md").read_text().split())
    assert f"rotates at {ROTATE_AT // 1024} KiB (about {sessions:.0f} sessions of the built-in routine)" in readme
    assert f"`{NAME}`" in readme and f"`{OLD_NAME}`" in readme
