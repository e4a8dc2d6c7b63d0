"""The buttons: gpiozero input devices whose callbacks only enqueue timestamped events.

gpiozero runs callbacks on its own thread (an exception there silently kills
every later callback), so nothing happens in them but a ``queue.put``: the
owner thread does all the logic. Holds are worked out in the core from the
timestamps, never with ``when_held``: so a ``DigitalInputDevice`` (pulled up,
active low, as a ``Button``) and not a ``Button``, whose hold thread would wake
ten times a second for nothing and take 0.1 s to stop at every close.
"""

from __future__ import annotations

import logging
import os
import queue
from collections.abc import Callable

from ..core.gestures import A, B, Pressed, Released


class ButtonsInput:
    """Buttons A (and B in two-button mode) on gpiozero pins, with an injected ``pin_factory``.

    >>> from gpiozero.pins.mock import MockFactory
    >>> import queue
    >>> factory, inbox = MockFactory(), queue.Queue()
    >>> buttons = ButtonsInput({"a": "GPIO17"}, inbox, clock=lambda: 12.5, pin_factory=factory)
    >>> factory.pin("GPIO17").drive_low()
    >>> inbox.get_nowait()
    Pressed(button='a', t=12.5)
    >>> buttons.close()
    """

    def __init__(self, pins: dict[str, str], inbox: queue.Queue, *, clock: Callable[[], float],
                 bounce_time: float | None = 0.025, pin_factory=None):
        from gpiozero import DigitalInputDevice

        self.inbox = inbox
        self.clock = clock
        self.buttons = {}
        for name, pin in pins.items():
            if name not in (A, B):
                raise ValueError(f"unknown button {name!r}")
            button = DigitalInputDevice(pin, pull_up=True, bounce_time=bounce_time or None, pin_factory=pin_factory)
            button.when_activated = self._callback(Pressed, name)
            button.when_deactivated = self._callback(Released, name)
            self.buttons[name] = button

    def _callback(self, kind, name: str) -> Callable[[], None]:
        def enqueue() -> None:
            self.inbox.put(kind(name, self.clock()))
        return enqueue

    def close(self) -> None:
        for button in self.buttons.values():
            button.close()


def real_pin_factory():
    """The Pi's pins through libgpiod (adapters/gpiochip.py), which never polls; None, gpiozero's own
    default (lgpio, which polls), when libgpiod is missing or cannot open the chip, or when
    ``GPIOZERO_PIN_FACTORY`` names a factory (gpiozero's own way to choose one): said once in the log."""
    chosen = os.environ.get("GPIOZERO_PIN_FACTORY")
    if chosen:
        logging.getLogger("stretchbox").info("GPIO: GPIOZERO_PIN_FACTORY=%s, gpiozero's factory", chosen)
        return None
    try:
        from .gpiochip import ChipFactory

        factory = ChipFactory()
    except (ImportError, OSError) as exc:
        logging.getLogger("stretchbox").warning(
            "GPIO: libgpiod cannot be used (%s); gpiozero's default pins instead, which poll", exc)
        return None
    logging.getLogger("stretchbox").info("GPIO: %s (%s) through libgpiod", factory.chip_path, factory.chip_label)
    return factory


def release_pins(factory) -> None:
    """Give a factory's pins back: a MockFactory is reset (its close() would not forget its pins), a real
    factory closed (its lines released)."""
    reset = getattr(factory, "reset", None)
    (reset or factory.close)()


def mock_pin_factory():
    """gpiozero's MockFactory with PWM pins: the pins off a Pi (keys drive them) and in ``simulate``."""
    from gpiozero.pins.mock import MockFactory, MockPWMPin

    return MockFactory(pin_class=MockPWMPin)
