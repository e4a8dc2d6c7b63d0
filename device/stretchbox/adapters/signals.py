"""Signals sent to the process reach the main thread, where the loop waits.

The kernel hands a process-directed signal (systemctl stop's SIGTERM, Ctrl-C, the
shell's SIGTSTP/SIGCONT, SIGWINCH) to any thread that does not block it, and it
skips a thread that is stopped: after Ctrl-Z and ``fg`` the SIGCONT often lands on
a worker. CPython runs Python handlers only in the main thread, and only once that
thread wakes, so a main thread blocked on the inbox would not hear the signal until
its next deadline (minutes when idle). Threads started through here, and threads
that libraries start inside ``signals_blocked()`` (lgpio's, when the pin factory is
made), block these signals, so the kernel delivers them to the main thread and its
wait is interrupted at once.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

MAIN_THREAD_SIGNALS = frozenset({signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGTSTP, signal.SIGCONT,
                                 signal.SIGWINCH})


@contextmanager
def signals_blocked() -> Iterator[None]:
    """Block the main thread's signals in this thread for a while: threads created meanwhile keep them
    blocked for good (a new thread inherits its creator's mask); pending ones arrive on leaving."""
    old = signal.pthread_sigmask(signal.SIG_BLOCK, MAIN_THREAD_SIGNALS)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


def start_thread(target: Callable[[], object], name: str) -> threading.Thread:
    """A daemon thread that never takes the main thread's signals."""
    thread = threading.Thread(target=target, name=name, daemon=True)
    with signals_blocked():
        thread.start()
    return thread
