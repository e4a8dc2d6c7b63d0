"""Ctrl-Z for programs that change the terminal: put it back, stop, and pick up again on SIGCONT.

A program with its own SIGTSTP handler must stop itself: the handler restores
what it changed, then ``stop_self`` sends SIGTSTP with the default action (so
the process stops, as the shell expects) and reinstalls the handler once
continued. Handlers installed one after another pass each signal on with
``chain``, so the last in line does the stopping.
"""

from __future__ import annotations

import os
import signal


def stop_self() -> None:
    """Stop this process as Ctrl-Z would (the default SIGTSTP action), from inside a SIGTSTP
    handler, and put the handlers back as they were once continued."""
    installed = signal.signal(signal.SIGTSTP, signal.SIG_DFL)
    os.kill(os.getpid(), signal.SIGTSTP)  # stops here until SIGCONT
    signal.signal(signal.SIGTSTP, installed)


def chain(old, signum: int, frame) -> None:
    """Pass a signal on to the handler installed before ours; SIGTSTP's default is to stop."""
    if callable(old):
        old(signum, frame)
    elif signum == signal.SIGTSTP and old in (signal.SIG_DFL, None):
        stop_self()
