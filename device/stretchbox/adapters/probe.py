"""What ``stretchbox check`` asks the hardware directly, as plain facts (the advice is check.py's).

* ``scan_i2c``: open ``/dev/i2c-PORT`` with smbus2 and read one byte at each
  address, as ``i2cdetect -r`` does. It never raises: a missing bus (I2C not
  enabled), a refused one (not in group ``i2c``) and any other bus error come
  back in the result.
* ``gpio_fault``: what an exception from opening a gpiozero device means: the
  pin is busy (gpiozero's ``GPIOPinInUse`` within one process; lgpio's
  ``error('GPIO busy')`` or ``EBUSY`` when another process, such as
  stretchbox.service, holds the line), or no pin factory loads at all.
* ``display_fault``: what a display fault (``DISPLAY_FAULTS``) means: the
  bus is missing, not permitted, or the panel did not answer.
"""

from __future__ import annotations

import errno
import os
from dataclasses import dataclass, field
from pathlib import Path

NO_ANSWER = (errno.EREMOTEIO, errno.ENXIO)  # a NACK: nothing at that address


@dataclass(frozen=True)
class BusScan:
    """One scan of ``/dev/i2c-PORT``.

    ``problem`` is None when the bus opened, else ``"missing"`` (no such
    device file: I2C is not enabled), ``"permission"`` (the file is there but
    refused) or ``"error"`` (anything else; ``error`` says what).
    ``answering``: the addresses that acknowledged; ``errors``: addresses
    that failed otherwise than with a NACK (a stuck or noisy bus).
    """

    port: int
    problem: str | None = None
    error: str = ""
    answering: tuple[int, ...] = ()
    errors: dict[int, str] = field(default_factory=dict)

    @property
    def path(self) -> str:
        return f"/dev/i2c-{self.port}"


def scan_i2c(port: int, addresses: tuple[int, ...]) -> BusScan:
    """Which of ``addresses`` answer on ``/dev/i2c-PORT``; never raises.

    >>> scan_i2c(99, (0x3C,)).problem in ("missing", "error")
    True
    """
    try:
        from smbus2 import SMBus

        bus = SMBus(port)
    except FileNotFoundError:
        return BusScan(port, "missing", f"/dev/i2c-{port} does not exist")
    except PermissionError as exc:
        return BusScan(port, "permission", str(exc))
    except Exception as exc:  # noqa: BLE001 - a diagnosis never crashes: report whatever it was
        return BusScan(port, "error", f"{type(exc).__name__}: {exc}")
    answering, errors = [], {}
    try:
        for address in addresses:
            try:
                bus.read_byte(address)
            except OSError as exc:
                if exc.errno not in NO_ANSWER:
                    errors[address] = exc.strerror or str(exc)
            except Exception as exc:  # noqa: BLE001
                errors[address] = f"{type(exc).__name__}: {exc}"
            else:
                answering.append(address)
    finally:
        try:
            bus.close()
        except Exception:  # noqa: BLE001 - closing a broken bus must not hide the scan
            pass
    return BusScan(port, answering=tuple(answering), errors=errors)


def gpio_fault(exc: BaseException) -> str | None:
    """``"busy"`` when the pin is held elsewhere, ``"factory"`` when no pin factory loads, ``"gpio"``
    for any other gpiozero or lgpio error (a pin name, PWM on a pin without it); None: not a GPIO fault.

    >>> from gpiozero.exc import GPIOPinInUse, BadPinFactory, PinPWMUnsupported
    >>> [gpio_fault(e) for e in (GPIOPinInUse("pin GPIO17 is already in use"), BadPinFactory("none"),
    ...                          PinPWMUnsupported("no PWM"), ValueError("x"))]
    ['busy', 'factory', 'gpio', None]
    """
    from gpiozero.exc import BadPinFactory, GPIOPinInUse, GPIOZeroError

    for cause in _chain(exc):
        if isinstance(cause, GPIOPinInUse):
            return "busy"
        if isinstance(cause, OSError) and cause.errno == errno.EBUSY:
            return "busy"
        # lgpio (the default factory on Bookworm) raises lgpio.error("GPIO busy") when the kernel
        # refuses a line another process holds; gpiozero lets it through. Matched by module and text:
        # lgpio is not importable off a Pi.
        if type(cause).__module__ == "lgpio" and "busy" in str(cause).lower():
            return "busy"
        if isinstance(cause, BadPinFactory):
            return "factory"
    if isinstance(exc, GPIOZeroError) or type(exc).__module__ == "lgpio":
        return "gpio"
    return None


@dataclass(frozen=True)
class GpioAccess:
    """Why a pin factory may not load: the GPIO chip device and lgpio's need for a writable folder."""

    chip: str
    chip_exists: bool
    chip_usable: bool
    cwd_writable: bool


def gpio_access(chip: str = "/dev/gpiochip0", cwd: str | None = None) -> GpioAccess:
    """Facts for a ``"factory"`` fault: lgpio opens ``chip`` and makes a pipe in the current folder."""
    exists = os.path.exists(chip)
    return GpioAccess(chip, exists, exists and os.access(chip, os.R_OK | os.W_OK),
                      os.access(cwd or os.getcwd(), os.W_OK))


def display_fault(exc: BaseException) -> str:
    """``"missing"`` (no bus device file), ``"permission"``, or ``"panel"`` (the panel did not answer).

    luma turns smbus2's FileNotFoundError and PermissionError into its own
    DeviceNotFoundError and DevicePermissionError; the display adapter may wrap
    those in an OSError (``raise ... from``), so the whole chain is read.
    """
    from luma.core.error import DeviceNotFoundError, DevicePermissionError

    for cause in _chain(exc):
        if isinstance(cause, (DevicePermissionError, PermissionError)):
            return "permission"
        if isinstance(cause, FileNotFoundError) or (
                isinstance(cause, DeviceNotFoundError) and "device not found:" in str(cause).lower()):
            return "missing"  # luma: "I2C device not found: /dev/i2c-1" (opening), not "... on address"
        if isinstance(cause, DeviceNotFoundError) and str(cause) == "SPI device not found":
            return "missing"
    return "panel"


def _chain(exc: BaseException):
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        yield exc
        exc = exc.__cause__ or exc.__context__


def on_a_pi() -> bool:
    """True on a Raspberry Pi (its device tree names the model)."""
    for model in ("/proc/device-tree/model", "/sys/firmware/devicetree/base/model"):
        try:
            if "raspberry pi" in Path(model).read_text(errors="replace").lower():
                return True
        except OSError:
            continue
    return False
