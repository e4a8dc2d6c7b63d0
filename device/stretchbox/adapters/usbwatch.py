"""Noticing a USB stick being mounted, without polling the filesystem.

The kernel marks ``/proc/self/mountinfo`` with POLLPRI|POLLERR whenever the mount
table changes, so one daemon thread blocks in ``poll()`` on it (and on a wake-up
pipe for ``stop()``), re-reads the table when woken, and puts ``StickMounted`` /
``StickRemoved`` events for mount points under the prefix (``/media/stretchbox``,
where the udev rule mounts sticks) into the queue the app passes in. The thread
does nothing else: the import runs on the app's own thread.

With ``systemd-mount --automount=yes`` the mount point first appears as an
``autofs`` entry and the stick's filesystem is mounted on top of it at first
access. A mount point counts as present while any entry sits on it, so a stick
is announced once, when its automount point appears; the import's first read
triggers the real mount (the kernel blocks that read until the mount is done).

``new_mounts`` / ``gone_mounts`` are pure functions over mountinfo text and are
what the tests exercise without mounting anything.
"""

from __future__ import annotations

import logging
import os
import queue
import re
import select
import threading
from dataclasses import dataclass
from pathlib import Path

from .signals import start_thread

log = logging.getLogger(__name__)

MOUNTINFO = Path("/proc/self/mountinfo")
DEFAULT_PREFIX = Path("/media/stretchbox")


@dataclass(frozen=True)
class StickMounted:
    path: Path


@dataclass(frozen=True)
class StickRemoved:
    path: Path


_OCTAL = re.compile(r"\\([0-7]{3})")


def _unescape(field: str) -> str:
    """mountinfo writes space, tab, newline and backslash as ``\\040`` and friends."""
    return _OCTAL.sub(lambda m: chr(int(m.group(1), 8)), field)


def mount_points(mountinfo: str, prefix: str | os.PathLike) -> set[Path]:
    """Mount points strictly below ``prefix`` in mountinfo text (see proc(5): field 5)."""
    base = Path(prefix)
    found = set()
    for line in mountinfo.splitlines():
        fields = line.split(" ")
        if len(fields) < 5:
            continue
        point = Path(_unescape(fields[4]))
        if point != base and base in point.parents:
            found.add(point)
    return found


def new_mounts(before: str, after: str, prefix: str | os.PathLike) -> list[Path]:
    """Mount points under ``prefix`` in ``after`` that were not in ``before``, sorted."""
    return sorted(mount_points(after, prefix) - mount_points(before, prefix))


def gone_mounts(before: str, after: str, prefix: str | os.PathLike) -> list[Path]:
    """Mount points under ``prefix`` in ``before`` that are gone in ``after``, sorted."""
    return sorted(mount_points(before, prefix) - mount_points(after, prefix))


def changes(before: str, after: str, prefix: str | os.PathLike) -> list[StickMounted | StickRemoved]:
    """The events between two readings of the mount table: removals first."""
    return ([StickRemoved(p) for p in gone_mounts(before, after, prefix)]
            + [StickMounted(p) for p in new_mounts(before, after, prefix)])


class MountWatcher:
    """Watch the mount table; put StickMounted/StickRemoved into ``inbox``.

    >>> inbox = queue.Queue()
    >>> watcher = MountWatcher(inbox, "/media/stretchbox").start()   # doctest: +SKIP
    >>> inbox.get()                                                  # doctest: +SKIP
    StickMounted(path=PosixPath('/media/stretchbox/sda1'))
    >>> watcher.stop()                                               # doctest: +SKIP

    ``mountinfo`` can be any file for tests: ``check()`` re-reads it and enqueues
    the differences (on a regular file ``poll()`` never reports POLLPRI, so the
    thread just waits for ``stop()``; it never spins).
    """

    def __init__(self, inbox: queue.Queue, prefix: str | os.PathLike = DEFAULT_PREFIX, *,
                 mountinfo: str | os.PathLike = MOUNTINFO):
        self.inbox = inbox
        self.prefix = Path(prefix)
        self.mountinfo = Path(mountinfo)
        self._last = ""
        self._fd: int | None = None
        self._wake_r, self._wake_w = -1, -1
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def _read(self) -> str:
        if self._fd is None:
            return self.mountinfo.read_text(errors="replace")
        os.lseek(self._fd, 0, os.SEEK_SET)
        chunks = []
        while chunk := os.read(self._fd, 65536):
            chunks.append(chunk)
        return b"".join(chunks).decode(errors="replace")

    def check(self) -> list[StickMounted | StickRemoved]:
        """Re-read the mount table, enqueue and return what changed since the last reading."""
        with self._lock:
            text = self._read()
            events = changes(self._last, text, self.prefix)
            self._last = text
        for event in events:
            self.inbox.put(event)
        return events

    def start(self, *, announce_existing: bool = True) -> MountWatcher:
        """Read the table now (a stick already in at boot is announced unless told not to), then watch."""
        self._fd = os.open(self.mountinfo, os.O_RDONLY)
        if announce_existing:
            self.check()
        else:
            self._last = self._read()
        self._wake_r, self._wake_w = os.pipe()
        self._thread = start_thread(self._run, "usbwatch")
        return self

    def _run(self) -> None:
        poller = select.poll()
        assert self._fd is not None
        poller.register(self._fd, select.POLLPRI | select.POLLERR)
        poller.register(self._wake_r, select.POLLIN)
        while True:
            ready = poller.poll()
            if any(fd == self._wake_r for fd, _ in ready):
                return
            try:
                self.check()
            except Exception:  # never let the watcher die silently: log and keep watching
                log.exception("reading %s failed", self.mountinfo)

    def stop(self) -> None:
        """Wake the thread, wait for it, close the files. Safe to call twice."""
        if self._thread is not None:
            os.write(self._wake_w, b"x")
            self._thread.join(timeout=5)
            self._thread = None
        for fd in (self._fd, self._wake_r, self._wake_w):
            if fd is not None and fd >= 0:
                os.close(fd)
        self._fd, self._wake_r, self._wake_w = None, -1, -1

    def __enter__(self) -> MountWatcher:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
