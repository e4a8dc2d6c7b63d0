"""luma devices: the real OLED drivers, the emulators, and a recording serial interface.

Layering as in luma: serial interface -> device -> image. Off a Pi the real
ssd1306/sh1106 drivers run over ``RecordingSerial``, so tests and ``simulate
--display`` see the exact bytes a panel would receive (tests/bus_frames.py turns
them back into images).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import IO

from luma.core.error import Error as LumaError

from ..config import DRIVERS

# Everything a panel raises when the wire, its power or the chip fails: the one place that says so.
# luma's i2c interface turns errno 121/EIO on a command into DeviceNotFoundError (a luma Error, not
# an OSError), while data() lets smbus2's OSError through; opening reports DeviceNotFoundError or
# DevicePermissionError. Any of them is a display fault, never a crash.
DISPLAY_FAULTS: tuple[type[BaseException], ...] = (OSError, LumaError)

# Times a transaction is sent before its refusal goes up (RetryingSerial). At 5 % of transactions
# refused at random, five refusals in a row happen once in ~10^5 transactions (a frame is 2 to 16).
# The loop waits meanwhile: an absent panel refuses its address at once (~0.1 ms); a 1 KB ssd1306
# frame refused at its end costs its wire time (~23 ms at 400 kHz, ~93 ms at 100 kHz) per try.
TRIES = 5

# luma.emulator's devices (they need pygame); the pixel-exact "terminal" display is adapters/terminal.py.
EMULATORS = {"asciiblock": "asciiblock", "asciiart": "asciiart", "pygame": "pygame",
             "capture": "capture", "gifanim": "gifanim"}


@dataclass
class BusCall:
    t: float
    kind: str  # command | data
    payload: bytes


@dataclass
class RecordingSerial:
    """A luma serial interface that keeps every call: what the panel would have received."""

    clock: Callable[[], float] = lambda: 0.0
    calls: list[BusCall] = field(default_factory=list)
    sink: IO[str] | None = None  # write each call as a JSON line as it happens
    start: float = 0.0

    def command(self, *cmd: int) -> None:
        self._record("command", bytes(cmd))

    def data(self, data) -> None:
        self._record("data", bytes(data))

    def cleanup(self) -> None:
        pass

    def _record(self, kind: str, payload: bytes) -> None:
        call = BusCall(self.clock(), kind, payload)
        self.calls.append(call)
        if self.sink is not None:
            import json  # here: the display module is imported before the first frame, json is not needed for it

            self.sink.write(json.dumps({"t": round(call.t - self.start, 3), "kind": kind, "hex": payload.hex()}) + "\n")


class RetryingSerial:
    """A luma serial interface that sends a refused transaction again at once, up to ``tries`` times.

    On a noisy wire a NACK or EIO is usually gone by the next transaction; an
    unplugged panel refuses every one, and after ``tries`` refusals in a row
    luma's own error goes up (``DeviceNotFoundError`` from ``command()``,
    ``OSError`` from ``data()``) for the panel output to back off. A refused
    data write may have landed in part and moved the chip's address pointer,
    so it is sent again after the addressing command that came before it
    (luma's ssd1306 and sh1106 send one before every block of data). Wraps
    luma's real ``i2c``: the faults still go through luma's translation.

    >>> serial = RetryingSerial(RecordingSerial())
    >>> serial.command(0x21, 0, 127); serial.data([1, 2]); serial.refused
    Counter()
    """

    def __init__(self, serial, tries: int | None = None):
        self.serial = serial
        self.tries = TRIES if tries is None else tries
        self.refused: Counter[str] = Counter()  # by the type luma raised
        self._address: tuple[int, ...] | None = None  # the last command: where the next data goes

    def command(self, *cmd: int) -> None:
        self._send(lambda: self.serial.command(*cmd))
        self._address = cmd

    def data(self, data) -> None:
        def again():
            if self._address is not None:
                self.serial.command(*self._address)
            self.serial.data(data)

        self._send(lambda: self.serial.data(data), again)

    def _send(self, first: Callable[[], None], again: Callable[[], None] | None = None) -> None:
        for n in range(self.tries):
            try:
                (first if n == 0 or again is None else again)()
                return
            except DISPLAY_FAULTS as exc:
                self.refused[type(exc).__name__] += 1
                if n == self.tries - 1:
                    raise

    def cleanup(self) -> None:
        self.serial.cleanup()


def make_device(name: str, serial=None, *, width: int = 128, height: int = 64, rotate: int = 0):
    """A real luma.oled driver over ``serial`` (a recording one if None); raises OSError like the bus.

    luma raises ``DeviceDisplayModeError`` for a size the chip does not have.

    >>> serial = RecordingSerial()
    >>> make_device("ssd1306", serial).mode, sum(len(c.payload) for c in serial.calls) > 1024  # luma clears it
    ('1', True)
    """
    import luma.oled.device as oled

    if name not in DRIVERS:
        raise ValueError(f"unknown display driver {name!r} (one of {', '.join(DRIVERS)})")
    return getattr(oled, name)(serial if serial is not None else RecordingSerial(), width=width, height=height,
                               rotate=rotate)


def device_driver(name: str, serial, *, width: int = 128, height: int = 64, rotate: int = 0,
                  clock: Callable[[], float] | None = None):
    """The driver the device itself draws with over ``serial``: adapters/partial.py's for the chips it
    verifies (only what changed goes on the wire; ``clock`` times its periodic full frame), luma's own
    for the others. ``make_device`` is luma's stock driver, the baseline it is measured against.

    >>> serial = RecordingSerial()
    >>> device = device_driver("ssd1306", serial); del serial.calls[:]
    >>> from PIL import Image
    >>> device.display(Image.new("1", (128, 64))); [c.payload.hex() for c in serial.calls]  # nothing changed
    []
    """
    from .partial import PARTIAL, device_class

    if name not in DRIVERS:
        raise ValueError(f"unknown display driver {name!r} (one of {', '.join(DRIVERS)})")
    timing = {"clock": clock} if clock is not None and name in PARTIAL else {}
    return device_class(name)(serial, width=width, height=height, rotate=rotate, **timing)


def device_from_args(argv: Sequence[str]):
    """A device from luma.core.cmdline options, e.g. ``["--display", "sh1106", "--interface", "i2c"]``.

    luma's own defaults (ssd1305, mode RGB) are not ours: ``--display`` is required and the mode
    is always 1. Emulator names (pygame, asciiblock...) work when luma.emulator is installed.
    """
    from luma.core import cmdline
    from luma.core.error import DeviceNotFoundError, DevicePermissionError

    argv = list(argv)
    if not any(a in ("-d", "--display") or a.startswith("--display=") for a in argv):
        raise ValueError("give the display type: --display ssd1306 (luma's default, ssd1305, is rarely right)")
    parser = cmdline.create_parser(description="stretchbox display")
    args = parser.parse_args(argv)
    if args.mode != "1" and "--mode" in argv:
        raise ValueError(f"the screens are 1-bit: --mode 1, not {args.mode}")
    args.mode = "1"
    try:
        device = _create_device(cmdline, args)
    except (DeviceNotFoundError, DevicePermissionError) as exc:
        raise OSError(f"display not reachable: {exc}") from exc
    except ImportError as exc:  # luma imports RPi.GPIO and spidev only when it opens an SPI panel
        raise OSError(f"display not reachable: no Python module {exc.name or exc} here "
                      "(an SPI panel needs RPi.GPIO, e.g. python3-rpi-lgpio, and spidev)") from exc
    if device is None:
        raise ValueError(f"luma cannot make a display {args.display!r}")
    return device


# A command each chip ignores: sent first, it tells whether anything answers at the address.
NOP = {"ssd1306": 0xE3, "sh1106": 0xE3, "ssd1309": 0xE3, "ssd1305": 0xE3, "sh1107": 0xE3}


def _create_device(cmdline, args):
    """luma's ``cmdline.create_device``, except that a panel that does not answer costs nothing.

    luma's oled drivers open the bus, then send their init sequence from the
    constructor: when that raises, nobody holds the half-made device but luma's
    own atexit hook, which keeps it (~340 KB for an ssd1306) and its open
    ``/dev/i2c-N`` handle until exit. Retried once a second with the panel
    unplugged, that is a leak of file descriptors and memory. Here the bus is
    closed whenever making the device fails, and a NOP is sent first, so a
    missing panel is found before any device exists. Over I2C the driver talks
    through a ``RetryingSerial``: one refused transaction does not lose a frame
    (or the init sequence, ~20 transactions on an sh1106).
    """
    import luma.core.framebuffer

    from .partial import device_class

    if args.display not in cmdline.get_display_types().get("oled", []):
        return cmdline.create_device(args)
    interface = getattr(cmdline.make_interface(args), args.interface)()  # opens /dev/i2c-N (or spidev)
    if args.interface == "i2c":
        interface = RetryingSerial(interface)
    try:
        if args.interface == "i2c" and args.display in NOP:
            interface.command(NOP[args.display])  # nothing at the address: DeviceNotFoundError, no device made
        framebuffer = getattr(luma.core.framebuffer, args.framebuffer)(num_segments=args.num_segments,
                                                                        debug=args.debug)
        return device_class(args.display)(serial_interface=interface,  # ssd1306/sh1106: partial updates
                                          **dict(vars(args), framebuffer=framebuffer))
    except BaseException:
        interface.cleanup()
        raise


def luma_args(display) -> list[str]:
    """luma.core.cmdline options for a config's display section (always --display and --mode 1)."""
    args = ["--display", display.driver, "--interface", display.interface, "--width", str(display.width),
            "--height", str(display.height), "--rotate", str(display.rotate), "--mode", "1"]
    if display.interface == "i2c":
        args += ["--i2c-port", str(display.i2c_port), "--i2c-address", f"0x{display.i2c_address:02X}"]
    else:
        args += ["--spi-port", str(display.spi_port), "--spi-device", str(display.spi_device)]
    return args


def device_from_config(display):
    """The configured panel on the real bus, built by luma's own cmdline helpers."""
    device = device_from_args(luma_args(display))
    device.persist = True  # we choose the final screen ourselves (see PanelOutput.final)
    return device


def emulator_missing() -> bool:
    """True when luma.emulator (the ``emulator`` extra) is not installed."""
    try:
        import luma.emulator.device  # noqa: F401 - only to say what is missing
    except ImportError:
        return True
    return False


def dummy(*, width: int = 128, height: int = 64, rotate: int = 0):
    """luma's own test double: keeps the last image, sends nothing."""
    from luma.core.device import dummy

    return dummy(width=width, height=height, rotate=rotate, mode="1")


def emulator(name: str, *, width: int = 128, height: int = 64, rotate: int = 0):
    """A luma.emulator device (needs the ``emulator`` extra: pygame)."""
    import luma.emulator.device as em

    cls = getattr(em, EMULATORS[name])
    return cls(width=width, height=height, rotate=rotate, mode="1", transform="none", scale=1) \
        if name in ("asciiblock", "asciiart") else cls(width=width, height=height, rotate=rotate, mode="1")
