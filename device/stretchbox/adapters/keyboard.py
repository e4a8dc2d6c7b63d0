"""The laptop's keyboard as the device's buttons (``stretchbox run`` off a Pi).

A terminal sends characters, not key-down/key-up, so holds get keys of their
own: space = A press, n = B press, x = A hold (stop), b = B hold (back),
s = both held (shutdown), q = quit. The reader thread only enqueues
timestamped events; all logic stays on the owner thread.

The terminal is touched only when stdin is one and this process is in its
foreground process group: run in the background (``cmd &``, or under
``timeout``, which puts its command in a process group of its own) a
``tcsetattr`` would stop the process with SIGTTOU, and a signal arriving then
surfaced as ``termios.error: (4, 'Interrupted system call')``. So: no keys in
the background, every termios call retried on EINTR, and the saved mode put
back on every exit path (``close``, and at exit) with SIGTTOU blocked, which
lets a process that was sent to the background since restore what it changed.
Ctrl-Z puts the mode back before the process stops; SIGCONT (``fg``) sets
cbreak again when we are in the foreground (shells do not restore it).

The reader thread blocks without a timeout (a timeout woke the process twice a
second, ``benchmarks/bench_wakeups.py``): on the terminal and on a wake-up pipe
that the SIGTSTP/SIGCONT handler writes to, since job control is what moves us
in and out of the foreground. Where the handlers could not be installed (not
started from the main thread) it re-checks every ``RECHECK`` seconds instead.
"""

from __future__ import annotations

import atexit
import errno
import os
import queue
import select
import signal
import sys
import termios
import threading
import time
from collections.abc import Callable

from ..core.gestures import A, B, Pressed, Released
from .jobcontrol import chain
from .signals import start_thread

HELP = "keys: space = A (start/pause/resume), n = B (skip), x = hold A (stop), b = hold B (back), q = quit"
SHORT_HELP = "keys: space=A n=B x=hold A b=hold B s=hold both q=quit"  # for a 64-column terminal

# key -> (buttons, how long they are held)
KEYS: dict[str, tuple[tuple[str, ...], float]] = {
    " ": ((A,), 0.0),
    "n": ((B,), 0.0),
    "x": ((A,), 2.05),
    "b": ((B,), 1.05),
    "s": ((A, B), 3.05),
}
RECHECK = 0.5  # seconds between foreground checks when no job-control signal can wake the reader


def in_foreground(fd: int) -> bool:
    """True when ``fd`` is a terminal whose foreground process group is ours (keys reach us)."""
    try:
        return os.isatty(fd) and os.tcgetpgrp(fd) == os.getpgrp()
    except OSError:
        return False


def retry_eintr(call: Callable, *args):
    """``call(*args)``, again when a signal interrupted it (termios is not covered by PEP 475)."""
    while True:
        try:
            return call(*args)
        except (termios.error, InterruptedError) as exc:
            if exc.args[:1] != (errno.EINTR,):
                raise


def restore_mode(fd: int, mode: list) -> None:
    """Put ``mode`` back on the terminal, even from the background: with SIGTTOU blocked the
    kernel lets tcsetattr through instead of stopping the process."""
    old = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTTOU})
    try:
        retry_eintr(termios.tcsetattr, fd, termios.TCSADRAIN, mode)
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


def cbreak(mode: list) -> list:
    """``mode`` with single keys and no echo (signals from ^C, ^Z still work), as tty.setcbreak."""
    new = [list(x) if isinstance(x, list) else x for x in mode]
    new[3] &= ~(termios.ECHO | termios.ICANON)
    new[6][termios.VMIN] = 1
    new[6][termios.VTIME] = 0
    return new


class Keyboard:
    """Reads single keys from a terminal in cbreak mode and puts button events in ``inbox``."""

    def __init__(self, inbox: queue.Queue, clock: Callable[[], float] = time.monotonic,
                 stream=None, edge: Callable[[str, bool], None] | None = None):
        """``edge(button, down)`` moves a button; by default it puts the event in ``inbox``.

        Off a Pi, ``edge`` drives gpiozero's mock pins instead, so the keys go
        through the same Button objects the real buttons do.
        """
        self.inbox = inbox
        self.clock = clock
        self.stream = stream or sys.stdin
        self.keys = KEYS
        self.edge = edge or self._enqueue
        self.quit = threading.Event()
        self._saved = None
        self._old: dict[int, object] = {}
        self._wake_r: int | None = None  # a byte in this pipe: job control happened, look again
        self._wake_w: int | None = None

    @staticmethod
    def available(stream=None) -> bool:
        """stdin is a terminal and we are in its foreground process group."""
        stream = stream or sys.stdin
        try:
            return in_foreground(stream.fileno())
        except (AttributeError, ValueError, OSError):
            return False

    def start(self) -> bool:
        """Keys on (cbreak mode) and the reader thread started; False, touching nothing, when
        stdin is not a terminal we own (see ``available``)."""
        if not self.available(self.stream):
            return False
        fd = self.stream.fileno()
        saved = retry_eintr(termios.tcgetattr, fd)
        self._saved = saved
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_w, False)
        atexit.register(self.close)  # an exception or sys.exit before cmd_run's finally
        retry_eintr(termios.tcsetattr, fd, termios.TCSAFLUSH, cbreak(saved))
        if threading.current_thread() is threading.main_thread():
            for signum in (signal.SIGTSTP, signal.SIGCONT):
                self._old[signum] = signal.signal(signum, self._on_signal)
        start_thread(self._read, "keyboard")
        return True

    def close(self) -> None:
        """The terminal as we found it; safe to call twice, from the background, or after an error."""
        saved, self._saved = self._saved, None
        for signum, old in self._old.items():
            if signal.getsignal(signum) == self._on_signal:
                try:
                    signal.signal(signum, old)
                except ValueError:  # not the main thread
                    pass
        self._old = {}
        if saved is not None:
            atexit.unregister(self.close)
            try:
                restore_mode(self.stream.fileno(), saved)
            except (termios.error, OSError, ValueError):
                pass  # the terminal is gone (hung up): nothing left to restore

    def _on_signal(self, signum, frame) -> None:
        saved, fd = self._saved, self.stream.fileno()
        if saved is not None and signum == signal.SIGTSTP:
            try:
                restore_mode(fd, saved)
            except (termios.error, OSError):
                pass
        elif saved is not None and signum == signal.SIGCONT and in_foreground(fd):
            try:
                retry_eintr(termios.tcsetattr, fd, termios.TCSANOW, cbreak(saved))
            except (termios.error, OSError):
                pass
        self._wake()  # before chain: for SIGTSTP it stops the process until SIGCONT
        chain(self._old.get(signum), signum, frame)

    def _wake(self) -> None:
        if self._wake_w is None:
            return
        try:
            os.write(self._wake_w, b"!")
        except OSError:  # full (already woken)
            pass

    def _read(self) -> None:
        fd = self.stream.fileno()
        timeout = None if self._old else RECHECK  # no handlers: nothing writes to the wake-up pipe
        while not self.quit.is_set():
            # In the background a read would stop us (SIGTTIN): wait for job control (fg sends SIGCONT).
            watched = [fd, self._wake_r] if in_foreground(fd) else [self._wake_r]
            ready, _, _ = select.select(watched, [], [], timeout)
            if self._wake_r in ready:
                os.read(self._wake_r, 64)
            if fd not in ready:
                continue
            key = os.read(fd, 1).decode(errors="replace").lower()
            if key == "q":
                self.quit.set()
                self.inbox.put(None)
                return
            if key in self.keys:
                buttons, hold = self.keys[key]
                for b in buttons:
                    self.edge(b, True)
                if hold:
                    time.sleep(hold)  # stands in for the finger on the key; not UI logic
                for b in buttons:
                    self.edge(b, False)

    def _enqueue(self, button: str, down: bool) -> None:
        self.inbox.put((Pressed if down else Released)(button, self.clock()))
