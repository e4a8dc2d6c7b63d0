"""Buttons pressed from outside the process: lines read from a FIFO drive gpiozero's own mock pins.

Why: a service started by systemd has no terminal and no test code inside it, yet
a test must press its buttons (the power menu: both held 3 s, then A). Without
GPIO hardware the service uses gpiozero's ``MockFactory`` (``GPIOZERO_PIN_FACTORY=mock``,
chosen by gpiozero itself); this reader does to its pins what gpiozero's own tests
do: ``drive_low()`` (pressed, the buttons pull up) and ``drive_high()``. gpiozero
then runs the devices' callbacks in this thread, as it runs them in lgpio's
thread on a Pi.

Protocol: one line per change, ``<pin> low`` or ``<pin> high`` (``GPIO17 low``).
A writer may open, write some lines and close; the reader opens the FIFO again.
Started from ``tests/doubles/site/sitecustomize.py`` when
``STRETCHBOX_EMULATED_BUTTONS='{"fifo": "/path"}'`` is set.
"""

from __future__ import annotations

import sys
import threading


def apply(line: str) -> str | None:
    """Carry out one line on gpiozero's current pin factory; returns a complaint, or None."""
    words = line.split()
    if not words:
        return None
    if len(words) != 2 or words[1] not in ("low", "high"):
        return f"expected '<pin> low|high', got {line.strip()!r}"
    from gpiozero import Device
    from gpiozero.pins.mock import MockFactory

    factory = Device.pin_factory
    if not isinstance(factory, MockFactory):
        return f"gpiozero's pin factory is {type(factory).__name__}, not MockFactory: {line.strip()!r} ignored"
    pin = factory.pin(words[0])
    pin.drive_low() if words[1] == "low" else pin.drive_high()
    return None


def _serve(fifo: str) -> None:
    while True:
        with open(fifo) as lines:  # blocks until a writer opens it; EOF when the writer closes
            for line in lines:
                try:
                    complaint = apply(line)
                except Exception as exc:  # keep serving: a bad line must not end the test double
                    complaint = f"{line.strip()!r}: {type(exc).__name__}: {exc}"
                if complaint:
                    print(f"fifo_buttons: {complaint}", file=sys.stderr, flush=True)


def serve(fifo: str) -> threading.Thread:
    """Read ``fifo`` on a daemon thread for the rest of the process."""
    thread = threading.Thread(target=_serve, args=(fifo,), name="fifo-buttons", daemon=True)
    thread.start()
    return thread
