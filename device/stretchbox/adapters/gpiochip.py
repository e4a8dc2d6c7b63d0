"""gpiozero pins on the kernel's GPIO character device, through libgpiod: nothing polls.

gpiozero's default pin factory on a Pi, lgpio, starts two threads of its own: one polls
every watched input with a 0.5 ms timeout (about 1,200-1,700 wake-ups a second, measured
on a real kernel in tests/vm/) and one wakes 50 times a second for PWM and waves. A
device that waits for a button for hours should not. Here each line is a libgpiod line
request; the kernel debounces (``debounce_period``, the same "stable for bounce_time"
rule as lgpio) and queues edge events; one thread sleeps in ``epoll_wait`` with no
timeout on every watched request and hands each event to gpiozero. Plain inputs and
outputs only: a pin asked for PWM (a passive buzzer) raises ``PinPWMUnsupported``, and
``sound_devices`` gives that one device gpiozero's default factory.

The factory is a gpiozero ``LocalPiFactory``: the Pi's pin names ("GPIO17", "BOARD11"),
its fixed pull-ups and its board detection are gpiozero's own.
"""

from __future__ import annotations

import datetime
import logging
import os
import select
import threading
from pathlib import Path

import gpiod
from gpiod.line import Bias, Direction, Edge, Value
from gpiozero.exc import (PinFixedPull, PinInvalidBounce, PinInvalidEdges, PinInvalidFunction, PinInvalidPull,
                          PinSetInput)
from gpiozero.pins.local import LocalPiFactory, LocalPiPin

log = logging.getLogger("stretchbox")

CONSUMER = "stretchbox"  # what `gpioinfo` shows as the owner of a line
# The Pi's own GPIO controllers, by the label their driver gives the chip (Pi 5's header is on RP1).
PI_GPIO_LABELS = ("pinctrl-rp1", "pinctrl-bcm2711", "pinctrl-bcm2835")
PULLS = {"up": Bias.PULL_UP, "down": Bias.PULL_DOWN, "floating": Bias.DISABLED}
EDGES = {"both": Edge.BOTH, "rising": Edge.RISING, "falling": Edge.FALLING}


def pi_gpio_chip(devices: Path = Path("/dev")) -> Path:
    """The character device of the Pi's header GPIOs: found by its label, not by its number,
    which differs between Pi models and kernels; /dev/gpiochip0 when no label is known."""
    labels = {}
    for path in sorted(devices.glob("gpiochip*")):
        try:
            with gpiod.Chip(str(path)) as chip:
                labels[chip.get_info().label] = path
        except OSError:
            continue
    for label in PI_GPIO_LABELS:
        if label in labels:
            return labels[label]
    return devices / "gpiochip0"


class ChipFactory(LocalPiFactory):
    """gpiozero's local Pi factory with pins on one GPIO chip through libgpiod (see the module)."""

    def __init__(self, chip: Path | str | None = None):
        super().__init__()
        self.chip_path = str(chip or pi_gpio_chip())
        try:  # fail here, at once, naming the device, when the chip cannot be opened
            with gpiod.Chip(self.chip_path) as chip_:
                self.chip_label = chip_.get_info().label
        except OSError as exc:
            raise OSError(exc.errno, f"{self.chip_path}: {exc.strerror or exc}") from exc
        self.pin_class = ChipPin
        self.edges = EdgeWatch()

    def close(self):
        """Release this factory's lines and end its thread. Not PiFactory.close(): LocalPiFactory's pins
        are one dict shared by every local factory, and a passive buzzer's pin may be lgpio's."""
        try:
            for pin in [p for p in self.pins.values() if isinstance(p, ChipPin) and p.factory is self]:
                try:
                    pin.close()
                except OSError as exc:  # one pin's failure keeps neither the others nor the thread open
                    log.warning("GPIO%d: closing: %s", pin.number, exc)
        finally:
            self.edges.close()


class EdgeWatch:
    """One thread in ``epoll_wait`` without a timeout on every watched line; a pipe wakes it to stop."""

    def __init__(self):
        self._epoll = select.epoll()
        self._wake_read, self._wake_write = os.pipe()
        self._epoll.register(self._wake_read, select.EPOLLIN)
        self._pins: dict[int, ChipPin] = {}
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._closed = False

    def watch(self, pin: ChipPin) -> None:
        with self._lock:
            self._pins[pin.fd] = pin
            self._epoll.register(pin.fd, select.EPOLLIN)  # takes effect in a wait already under way
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="gpio-edges", daemon=True)
                self._thread.start()

    def unwatch(self, pin: ChipPin) -> None:
        with self._lock:
            if self._pins.get(pin.fd) is pin:
                del self._pins[pin.fd]
                self._epoll.unregister(pin.fd)

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
            thread, self._thread = self._thread, None
        if thread is not None:
            os.write(self._wake_write, b"\0")
            thread.join()
        self._epoll.close()
        os.close(self._wake_read)
        os.close(self._wake_write)

    def _run(self) -> None:
        while True:
            for fd, _ in self._epoll.poll():  # no timeout: asleep until an edge or close()
                if fd == self._wake_read:
                    return
                with self._lock:  # a pin closed since this batch is gone from here; a pin that got its
                    pin = self._pins.get(fd)  # fd number since reads nothing (its fd does not block)
                if pin is not None:
                    pin.deliver_events()


class ChipPin(LocalPiPin):
    """One header GPIO as a libgpiod line request of its own, reconfigured in place when gpiozero
    changes its function, pull, debounce or edges."""

    def __init__(self, factory: ChipFactory, info):
        super().__init__(factory, info)
        # As gpiozero's lgpio pins start: an input with no pull until the device asks for one.
        self._settings = gpiod.LineSettings(direction=Direction.INPUT, bias=Bias.DISABLED)
        self._request = gpiod.request_lines(factory.chip_path, consumer=CONSUMER,
                                            config={self._number: self._settings})
        self.fd = self._request.fd
        os.set_blocking(self.fd, False)  # the edge thread reads only what is there, never waits in read()
        self._lock = threading.Lock()  # the request is used by the edge thread and by gpiozero's callers
        self._bounce = datetime.timedelta(0)  # the kernel's debounce, set together with edge detection
        self._edges = "both"
        self._watched = False
        self._failed = False

    def close(self):
        """Give the line back to the kernel (its edge detection and debounce go with the request); the
        factories forget the pin, so asking again (this factory or another, as the passive buzzer's
        fallback does) requests the line anew. Close this factory before gpiozero's default one: that
        one's close() walks the pins dict all local factories share."""
        self.factory.edges.unwatch(self)
        self._watched = False
        with self._lock:
            request, self._request = self._request, None
            if request is not None:
                request.release()
                self.factory.pins.pop(self.info, None)

    def _reconfigure(self, **changes) -> None:
        s = self._settings
        self._settings = gpiod.LineSettings(
            direction=changes.get("direction", s.direction), edge_detection=changes.get("edge_detection", s.edge_detection),
            bias=changes.get("bias", s.bias), debounce_period=changes.get("debounce_period", s.debounce_period),
            output_value=changes.get("output_value", s.output_value))
        with self._lock:
            self._request.reconfigure_lines({self._number: self._settings})

    def _get_function(self):
        return "output" if self._settings.direction == Direction.OUTPUT else "input"

    def _set_function(self, value):
        if value not in ("input", "output"):
            raise PinInvalidFunction(f'invalid function "{value}" for pin {self!r}')
        if value == "output":
            self.output_with_state(self._settings.output_value == Value.ACTIVE)
        else:
            self._reconfigure(direction=Direction.INPUT)

    def output_with_state(self, state):
        """An output at ``state`` in one reconfigure: no blip at the other level first (active-low parts)."""
        self._disable_event_detect()
        self._reconfigure(direction=Direction.OUTPUT, edge_detection=Edge.NONE, bias=Bias.AS_IS,
                          debounce_period=datetime.timedelta(0),
                          output_value=Value.ACTIVE if state else Value.INACTIVE)

    def _get_state(self):
        with self._lock:
            return self._request.get_value(self._number) == Value.ACTIVE

    def _set_state(self, value):
        if self._get_function() == "input":
            raise PinSetInput(f"cannot set state of pin {self!r}")
        level = Value.ACTIVE if value else Value.INACTIVE
        with self._lock:
            self._request.set_value(self._number, level)
        self._settings.output_value = level  # a later reconfigure keeps the level

    def _get_pull(self):
        return {Bias.PULL_UP: "up", Bias.PULL_DOWN: "down"}.get(self._settings.bias, "floating")

    def _set_pull(self, value):
        if self._get_function() != "input":
            raise PinFixedPull(f"cannot set pull on non-input pin {self!r}")
        if self.info.pull not in (value, ""):
            raise PinFixedPull(f"{self!r} has a physical pull-{self.info.pull} resistor")
        if value not in PULLS:
            raise PinInvalidPull(f'invalid pull "{value}" for pin {self!r}')
        self._reconfigure(bias=PULLS[value])

    def _get_bounce(self):
        return self._bounce.total_seconds() or None

    def _set_bounce(self, value):
        """Kept until edges are watched, then set with them in one reconfigure: a kernel that had not
        yet the fix "gpiolib: cdev: fix uninitialised kfifo" mishandles edges added after a debounce."""
        if value is not None and value < 0:
            raise PinInvalidBounce("bounce must be 0 or greater")
        self._bounce = datetime.timedelta(seconds=value or 0)
        if self._watched:
            self._reconfigure(debounce_period=self._bounce)

    def _get_edges(self):
        return self._edges

    def _set_edges(self, value):
        if value not in EDGES:
            raise PinInvalidEdges(f'invalid edge specification "{value}" for pin {self!r}')
        callback = self.when_changed
        self.when_changed = None  # as gpiozero's own pins do: detection off, edges changed, on again
        try:
            self._edges = value
        finally:
            self.when_changed = callback

    def _enable_event_detect(self):
        self._reconfigure(edge_detection=EDGES[self._edges], debounce_period=self._bounce)
        self.factory.edges.watch(self)
        self._watched = True

    def _disable_event_detect(self):
        if self._watched:
            self.factory.edges.unwatch(self)
            self._watched = False
            self._reconfigure(edge_detection=Edge.NONE, debounce_period=datetime.timedelta(0))

    def deliver_events(self) -> None:
        """Called on the edge thread when the request's fd is readable: every queued edge to gpiozero.
        A failed read is logged once and the line left unwatched; the thread goes on for the others."""
        with self._lock:
            if self._request is None or not self._watched:  # closed while the thread was on its way
                return
            try:
                events = self._request.read_edge_events()
            except BlockingIOError:  # nothing queued (another pin's fd number, from an older batch)
                return
            except OSError:
                if not self._failed:
                    self._failed = True
                    log.exception("GPIO%d: reading its edges failed; the pin is no longer watched", self._number)
                failed = True
            else:
                failed = False
        if failed:
            self.factory.edges.unwatch(self)
            self._watched = False
            return
        for event in events:
            try:
                self._call_when_changed(event.timestamp_ns / 1e9, event.event_type == event.Type.RISING_EDGE)
            except Exception:  # noqa: BLE001 - a callback's fault is not the line's: it stays watched
                log.exception("GPIO%d: an edge's callback failed", self._number)
