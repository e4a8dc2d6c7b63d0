"""adapters/journal.py on real files: atomic writes (temp, fsync, rename, fsync of the folder), and a journal
that is missing, torn, empty, binary, huge or of another version read as None (one log line), never a crash."""

import json
import logging
import os

import pytest

from stretchbox.adapters import journal as journal_module
from stretchbox.adapters.journal import JOURNAL_VERSION, MAX_JOURNAL, NAME, JournalFile, current_boot_id

STATE = {"routine": {"name": "Post-run", "hash": "c0ffee"}, "stretch": 2, "side": "right", "phase": "hold",
         "left": 18.0, "paused": False}


def said(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == journal_module.__name__]


def test_write_read_clear(tmp_path, caplog):
    j = JournalFile(tmp_path / "state", boot="boot-1")  # the folder is made on the first write
    with caplog.at_level(logging.INFO):
        assert j.read() is None  # missing: silently
        j.write(STATE)
        assert j.read() == {"boot": "boot-1", "state": STATE}
        j.write({**STATE, "left": 3.0})
        assert j.read()["state"]["left"] == 3.0 and j.writes == 2
        j.clear()
        j.clear()  # twice: nothing to do
        assert j.read() is None
    assert said(caplog) == []
    assert os.listdir(tmp_path / "state") == []  # no temp file left behind
    assert JournalFile(tmp_path).boot == current_boot_id()


def test_a_write_is_temp_fsync_rename_fsync_of_the_folder(tmp_path, monkeypatch):
    j = JournalFile(tmp_path, boot="b")
    j.write(STATE)
    calls = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd):
        calls.append(("fsync", "folder" if os.path.isdir(f"/proc/self/fd/{fd}") else "file"))
        real_fsync(fd)

    def replace(a, b):
        with open(a) as f:
            calls.append(("replace", os.path.basename(a), os.path.basename(b), json.load(f)["state"]))
        real_replace(a, b)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)
    j.write({"x": 1})
    assert calls == [("fsync", "file"), ("replace", f".{NAME}.tmp", NAME, {"x": 1}), ("fsync", "folder")]


def test_a_failed_write_leaves_the_old_journal(tmp_path, monkeypatch):
    j = JournalFile(tmp_path, boot="b")
    j.write(STATE)

    def full(fd, data):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "write", full)
    with pytest.raises(OSError):
        j.write({"x": 1})
    monkeypatch.undo()
    assert j.read()["state"] == STATE and j.writes == 1


def corpus() -> list[tuple[str, bytes]]:
    good = json.dumps({"v": JOURNAL_VERSION, "boot": "b", "state": STATE}).encode()
    cases = [("empty", b""), ("blank", b"  \n"), ("binary", bytes(range(256)) * 4), ("nul", b"\x00" * 512),
             ("not utf-8", b'{"v": 1, "state": {"a": "\xff"}}'), ("a list", b"[1, 2]"), ("a number", b"1"),
             ("state not a mapping", b'{"v": 1, "boot": "b", "state": [1]}'), ("no state", b'{"v": 1}'),
             ("version 2", json.dumps({"v": 2, "state": STATE}).encode()),
             ("version true", json.dumps({"v": True, "state": STATE}).encode()),
             ("deep", b"[" * 100_000), ("huge", b"{" + b" " * (MAX_JOURNAL + 1) + b"}")]
    cases += [(f"torn at {n}", good[:n]) for n in range(len(good))]  # every cut of a good journal
    return cases


@pytest.mark.parametrize("name, data", corpus(), ids=lambda x: x if isinstance(x, str) else "")
def test_garbage_is_none_with_one_log_line_naming_the_file(tmp_path, caplog, name, data):
    j = JournalFile(tmp_path, boot="b")
    j.path.write_bytes(data)
    with caplog.at_level(logging.INFO):
        assert j.read() is None
    lines = said(caplog)
    assert len(lines) == 1 and lines[0].startswith(f"{j.path}: journal ignored: ") and len(lines[0]) < 300
    j.write(STATE)  # and the next write replaces it
    assert j.read()["state"] == STATE


def test_the_whole_good_journal_is_read(tmp_path):
    """The corpus' cuts stop one byte short: the whole file is the control."""
    j = JournalFile(tmp_path, boot="b")
    j.path.write_bytes(json.dumps({"v": JOURNAL_VERSION, "boot": 7, "state": STATE}).encode())
    assert j.read() == {"boot": None, "state": STATE}  # a boot that is not text is no boot


@pytest.mark.parametrize("kind", ["folder", "fifo", "symlink"])
def test_a_journal_that_is_not_a_regular_file_is_ignored_without_hanging(tmp_path, caplog, kind):
    j = JournalFile(tmp_path, boot="b")
    if kind == "folder":
        j.path.mkdir()
    elif kind == "fifo":
        os.mkfifo(j.path)
    else:
        (tmp_path / "elsewhere.json").write_text(json.dumps({"v": 1, "boot": "b", "state": STATE}))
        j.path.symlink_to(tmp_path / "elsewhere.json")
    with caplog.at_level(logging.INFO):
        assert j.read() is None
    assert len(said(caplog)) == 1


def test_the_boot_id(tmp_path):
    (tmp_path / "boot_id").write_text("6f2b0f0e-1d4c-4c1a-9a53-0c1f6d1b2e3f\n")
    assert current_boot_id(tmp_path / "boot_id") == "6f2b0f0e-1d4c-4c1a-9a53-0c1f6d1b2e3f"
    assert current_boot_id(tmp_path / "missing") is None
    (tmp_path / "empty").write_text("")
    assert current_boot_id(tmp_path / "empty") is None
    (tmp_path / "binary").write_bytes(b"\xff\xfe")
    assert current_boot_id(tmp_path / "binary") is None
    if os.path.exists("/proc/sys/kernel/random/boot_id"):
        assert current_boot_id() == current_boot_id() and len(current_boot_id()) == 36
