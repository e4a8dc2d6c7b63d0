"""The laptop's keyboard as the device's buttons (``stretchbox run`` off a Pi).

A terminal sends characters, not key-down/key-up, so holds get keys of their
own: space = A press, n = B press, x = A hold (stop), b = B hold (back),
s = both held (shutdown), q = quit. The reader thread only enqueues
timestamped events; all logic stays on the owner thread.
"""

from __future__ import annotations

import os
import queue
import select
import sys
import termios
import threading
import time
import tty
from collections.abc import Callable

from ..core.gestures import A, B, Pressed, Released

HELP = "keys: space = A (start/pause/resume), n = B (skip), x = hold A (stop), b = hold B (back), q = quit"

# key -> (buttons, how long they are held)
KEYS: dict[str, tuple[tuple[str, ...], float]] = {
    " ": ((A,), 0.0),
    "n": ((B,), 0.0),
    "x": ((A,), 2.05),
    "b": ((B,), 1.05),
    "s": ((A, B), 3.05),
}
QUIT = object()


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

    @staticmethod
    def available(stream=None) -> bool:
        stream = stream or sys.stdin
        try:
            return stream.isatty()
        except (AttributeError, ValueError):
            return False

    def start(self) -> None:
        fd = self.stream.fileno()
        self._saved = termios.tcgetattr(fd)
        tty.setcbreak(fd)
        threading.Thread(target=self._read, name="keyboard", daemon=True).start()

    def close(self) -> None:
        if self._saved is not None:
            termios.tcsetattr(self.stream.fileno(), termios.TCSADRAIN, self._saved)
            self._saved = None

    def _read(self) -> None:
        fd = self.stream.fileno()
        while not self.quit.is_set():
            ready, _, _ = select.select([fd], [], [], 0.5)
            if not ready:
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
