"""Files from outside (a USB stick, a laptop): showing their names, reading them safely.

``display_path(path)`` is how any file name is shown: in messages, reports, logs.
Names on a stick need not be UTF-8 (``b'\\xff.yaml'`` arrives as a surrogate that a
strict UTF-8 stdout refuses to print) and may hold a newline (which would forge
a second output line); both come out escaped, on one line.

``read_regular(path, limit)`` reads a regular file and nothing else: a FIFO, a
socket, a device or a folder named like a routine never blocks the reader and
never gets read; a file larger than ``limit`` is not read at all.

And the device's own files, written to survive a power cut: ``write_durable``
(a new file, fsynced), ``fsync_dir`` (a name made, renamed or removed in a
folder), ``replace_durably`` (a file replaced whole: the old or the new, never half).
"""

from __future__ import annotations

import os
import stat
from contextlib import suppress
from pathlib import Path

from ..core.text import printable


def display_path(path: str | bytes | os.PathLike) -> str:
    """A file name as shown to people: one line, every odd character escaped.

    >>> display_path(os.fsdecode(b"stick/\\xff\\n.yaml"))
    'stick/\\\\xff\\\\n.yaml'
    >>> display_path(b"caf\\xc3\\xa9.yml")
    'café.yml'
    """
    return printable(os.fsdecode(path))


def exists(path: str | os.PathLike) -> bool:
    """False only when nothing is at ``path``; True also when it cannot even be looked up (a name
    too long, a symlink loop, no permission), so that the reader reports why, located.

    ``Path.exists`` raises for some of those (ENAMETOOLONG) and says False for others.
    """
    try:
        os.stat(path)
    except (FileNotFoundError, NotADirectoryError):
        return False
    except OSError:
        return True
    return True


def is_folder(path: str | os.PathLike) -> bool:
    """``Path.is_dir`` that never raises: a path that cannot be looked up is not a folder."""
    try:
        return stat.S_ISDIR(os.stat(path).st_mode)
    except OSError:
        return False


_KINDS = ((stat.S_ISDIR, "a folder"), (stat.S_ISFIFO, "a FIFO (named pipe)"), (stat.S_ISSOCK, "a socket"),
          (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"), (stat.S_ISLNK, "a symbolic link"))


class NotRegularFile(OSError):
    """``path`` exists but is not a regular file; ``kind`` says what it is ("a folder", "a socket", ...)."""

    def __init__(self, path: str | os.PathLike, kind: str):
        super().__init__(f"not a regular file ({kind})")
        self.filename = os.fspath(path)
        self.kind = kind


def _kind(mode: int) -> str:
    return next((name for test, name in _KINDS if test(mode)), "not a regular file")


def read_regular(path: str | os.PathLike, limit: int, *, follow_symlinks: bool = True) -> tuple[int, bytes]:
    """``(size, bytes)`` of a regular file: at most ``limit + 1`` bytes, none when its size is over ``limit``.

    The path is checked with stat before it is opened (opening some devices
    does something), opened non-blocking (a FIFO swapped in meanwhile cannot
    block) and checked again on the open file. ``follow_symlinks=False`` refuses
    a symlink (a stick's file must be the file itself). NotRegularFile for
    anything else; other OSErrors pass through.
    """
    st = os.stat(path, follow_symlinks=follow_symlinks)
    if not stat.S_ISREG(st.st_mode):
        raise NotRegularFile(path, _kind(st.st_mode))
    flags = os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC | (0 if follow_symlinks else os.O_NOFOLLOW)
    fd = os.open(path, flags)
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise NotRegularFile(path, _kind(st.st_mode))
        if st.st_size > limit:
            return st.st_size, b""
        chunks, total = [], 0
        while total <= limit:  # asks for what stat said is there (+1 to see growth), not a whole buffer
            chunk = os.read(fd, min(65536, limit + 1 - total, max(st.st_size - total, 4095) + 1))
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
        return max(st.st_size, total), b"".join(chunks)
    finally:
        os.close(fd)


def fsync_dir(path: str | os.PathLike) -> None:
    """Make a name made, renamed or removed in the folder ``path`` survive a power cut."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_durable(path: str | os.PathLike, data: bytes, mode: int = 0o644) -> None:
    """Create ``path`` (it must not exist), write everything, fsync."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, mode)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
        os.fsync(fd)
    finally:
        os.close(fd)


def replace_durably(path: Path, data: bytes, mode: int = 0o640) -> None:
    """Replace ``path`` whole: a temp file beside it (one a power cut left is dropped first), fsync,
    rename over ``path``, fsync of the folder. After a power cut it holds the old data or the new."""
    temp = path.with_name(f".{path.name}.tmp")
    with suppress(FileNotFoundError):
        os.unlink(temp)
    try:
        write_durable(temp, data, mode)
        os.replace(temp, path)
    except OSError:
        with suppress(OSError):
            os.unlink(temp)  # a disk full mid-write: no half file left beside the good one
        raise
    fsync_dir(path.parent)
