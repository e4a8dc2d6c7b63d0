"""``simulate``'s output files, opened before any work: a path that cannot be written is a usage error
at once, not after the whole simulation."""

from __future__ import annotations

import os
import stat
import sys
import tempfile
from pathlib import Path

from ...core.errors import UsageError

EXIT_INVALID = 1


class OutputFiles:
    """The output files of ``simulate``, opened before any work so a path that cannot be written
    is a usage error at once, not after the whole simulation. Files it created are removed
    again if the run stops early; a write that fails at the end is one line and exit 1."""

    def __init__(self):
        self.created: list[Path] = []
        self.opened: list = []

    def folder(self, option: str, path: Path) -> None:
        missing = [p for p in [path, *path.parents] if not p.exists()]  # made here: removed on a later refusal
        self.created += reversed(missing)
        try:
            path.mkdir(parents=True, exist_ok=True)
        except FileExistsError:
            raise UsageError(f"{option}: {path} is a file, not a folder") from None
        except OSError as exc:
            raise UsageError(f"{option}: cannot make the folder {path}: {exc.strerror or exc}") from None
        try:
            with tempfile.TemporaryFile(dir=path):
                pass
        except OSError as exc:
            raise UsageError(f"{option}: cannot write in {path}: {exc.strerror or exc}") from None

    def open(self, option: str, path: Path):
        try:
            mode = os.stat(path).st_mode
            if stat.S_ISDIR(mode):
                raise UsageError(f"{option}: {path} is a folder; give a file name")
            if not stat.S_ISREG(mode):
                raise UsageError(f"{option}: {path} is not a regular file")
            existed = True
        except FileNotFoundError:
            existed = False
        except OSError as exc:
            raise UsageError(f"{option}: cannot write {path}: {exc.strerror or exc}") from None
        if any(os.path.realpath(f.name) == os.path.realpath(path) for f in self.opened):
            raise UsageError(f"{option}: {path} is already another output")
        try:
            f = open(path, "ab")  # not truncated until the end: a run stopped early leaves it as it was
        except OSError as exc:
            raise UsageError(f"{option}: cannot write {path}: {exc.strerror or exc}") from None
        if not existed:
            self.created.append(path)
        self.opened.append(f)
        return _Sink(f)

    @staticmethod
    def finish(option: str, sink) -> None:
        """Close ``sink``; a write that failed on the way is one line and exit 1."""
        try:
            sink.close()
        except OSError as exc:
            sink.error = sink.error or exc
        if sink.error is not None:
            print(f"stretchbox: {option}: cannot write {sink.name}: {sink.error.strerror or sink.error}",
                  file=sys.stderr)
            raise SystemExit(EXIT_INVALID)

    def discard(self) -> None:
        for f in self.opened:
            f.close()
        for path in reversed(self.created):
            try:
                path.rmdir() if path.is_dir() else path.unlink()
            except OSError:
                pass


class _Sink:
    """An output file that keeps its first write error rather than raising it inside a luma call
    (where it would pass for a display fault); ``OutputFiles.finish`` reports it."""

    def __init__(self, f):
        self.f, self.name, self.error = f, f.name, None
        self.started = False

    def _start(self) -> None:
        if not self.started:  # now it is written: drop what was there before
            self.started = True
            self.f.seek(0)
            self.f.truncate()

    def write(self, data) -> int:
        if self.error is None:
            try:
                self._start()
                self.f.write(data.encode() if isinstance(data, str) else data)
            except OSError as exc:
                self.error = exc
        return len(data)

    def close(self) -> None:
        self._start()
        self.f.close()
