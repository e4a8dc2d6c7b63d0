"""The history file: one JSON line per session (and per import), appended, never rewritten.

A power cut is the normal way a gym-bag device is switched off, so every append
is one ``os.write`` on an ``O_APPEND`` descriptor followed by ``fsync``: a cut
leaves at most a torn LAST line. Reading skips a line it cannot use (torn,
garbage, another version) with one log line naming the file and the line, and
the next append starts on a fresh line even after a torn last line without its
newline. The file is bounded: at ``ROTATE_AT`` bytes ``history.jsonl`` becomes
``history.1.jsonl`` (the one older generation kept) and a new file begins;
reading reads both, oldest first.
"""

from __future__ import annotations

import json
import logging
import os
import stat
from pathlib import Path

from ..core.history import Entry, entry_from_dict
from .files import display_path, fsync_dir

log = logging.getLogger(__name__)

NAME, OLD_NAME = "history.jsonl", "history.1.jsonl"
ROTATE_AT = 256 * 1024  # bytes: about 180 sessions of the built-in routine per generation (the README says so)
MAX_LINE = 128 * 1024  # bytes: the longest real line (100 stretches, both sides, 40-character names) is ~36 KB


class HistoryFile:
    """The history in ``folder`` (the state folder): ``append`` an entry, ``read`` them all back."""

    def __init__(self, folder: str | os.PathLike):
        self.folder = Path(folder)
        self.path, self.old_path = self.folder / NAME, self.folder / OLD_NAME

    def append(self, entry: Entry) -> None:
        """One line, durably: rotate first when the file reached ROTATE_AT. OSError when the disk refuses
        (the caller logs it: a session not recorded must not stop the timer); ValueError for an entry
        that cannot be a line (no ending yet, or longer than MAX_LINE)."""
        line = (json.dumps(entry.to_dict(), ensure_ascii=False, allow_nan=False, separators=(",", ":"))
                + "\n").encode()
        if len(line) > MAX_LINE:
            raise ValueError(f"a history line of {len(line):,} bytes is over the {MAX_LINE:,}-byte limit")
        self.folder.mkdir(parents=True, exist_ok=True)
        fd = self._open()
        try:
            size = os.fstat(fd).st_size
            if size >= ROTATE_AT:
                os.close(fd)
                fd = -1
                os.replace(self.path, self.old_path)
                fd = self._open()
                size = 0
            if size and os.pread(fd, 1, size - 1) != b"\n":  # a torn last line: end it, start afresh
                line = b"\n" + line
            written = os.write(fd, line)
            if written != len(line):  # a regular file writes short only when the disk is full
                raise OSError(f"{display_path(self.path)}: disk full ({written} of {len(line)} bytes written)")
            os.fsync(fd)
        finally:
            if fd >= 0:
                os.close(fd)
        if size == 0:  # a new file (or a rotation): its name must survive a power cut too
            fsync_dir(self.folder)

    def _open(self) -> int:
        return os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW, 0o640)

    def read(self) -> list[Entry]:
        """Every entry of both generations, oldest first; a missing file is no entries."""
        return _read(self.old_path) + _read(self.path)


def _read(path: Path) -> list[Entry]:
    """The entries of one file, read line by line (at most MAX_LINE bytes of a line are held)."""
    try:  # non-blocking, and a regular file only: a FIFO or a folder by that name never hangs the reader
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            os.close(fd)
            raise OSError("not a regular file")
    except FileNotFoundError:
        return []
    except OSError as exc:
        log.warning("%s: not read: %s", display_path(path), exc.strerror or exc)
        return []
    f = os.fdopen(fd, "rb")
    entries: list[Entry] = []
    with f:
        for number, line in enumerate(_lines(f), 1):
            if not line.strip():
                continue
            if len(line) > MAX_LINE:
                log.warning("%s:%d: line skipped: over %s bytes", display_path(path), number, f"{MAX_LINE:,}")
                continue
            try:
                entries.append(entry_from_dict(json.loads(line)))
            except (ValueError, RecursionError) as exc:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
                why = str(exc) if line.endswith(b"\n") else "torn (cut before its end of line)"
                log.warning("%s:%d: line skipped: %s", display_path(path), number, why[:120])
    return entries


def _lines(f):
    """The file's lines; a line over MAX_LINE comes back as its first MAX_LINE + 1 bytes (then refused),
    the rest of it read and dropped in pieces."""
    while True:
        line = f.readline(MAX_LINE + 1)
        if not line:
            return
        if len(line) > MAX_LINE and not line.endswith(b"\n"):
            while (rest := f.readline(MAX_LINE)) and not rest.endswith(b"\n"):
                pass
        yield line
