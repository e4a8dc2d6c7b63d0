"""luma devices: the real OLED drivers, the emulators, and a recording serial interface.

Layering as in luma: serial interface -> device -> image. Off a Pi the real
ssd1306/sh1106 drivers run over ``RecordingSerial``, so tests and ``simulate
--display`` see the exact bytes a panel would receive; ``decode_ssd1306`` and
``decode_sh1106`` turn those bytes back into the image.
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import IO

from luma.core.error import Error as LumaError
from PIL import Image

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

# luma.oled's drivers, by how they take a 1-bit image. Monochrome chips pack pages of 8 rows
# (ssd1306 and sh1106 bytes decode with decode_gddram / decode_sh1106); greyscale ones take
# mode "1" too; colour ones need RGB (ChangeDrivenDisplay converts).
MONOCHROME = ("ssd1306", "sh1106", "ssd1309", "ssd1305", "ssd1315", "ssd1316", "sh1107", "ch1115")
GREYSCALE = ("ssd1322", "ssd1322_nhd", "ssd1325", "ssd1327", "ssd1362", "ssd1363")
COLOUR = ("ssd1331", "ssd1351")
DRIVERS = MONOCHROME + GREYSCALE + COLOUR
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
            self.sink.write(json.dumps({"t": round(call.t - self.start, 3), "kind": kind, "hex": payload.hex()}) + "\n")

    @property
    def bytes_sent(self) -> int:
        return sum(len(c.payload) for c in self.calls)

    def data_bytes(self) -> bytes:
        return b"".join(c.payload for c in self.calls if c.kind == "data")


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
    >>> make_device("ssd1306", serial).mode, serial.bytes_sent > 1024  # luma clears the panel at start
    ('1', True)
    """
    import luma.oled.device as oled

    if name not in DRIVERS:
        raise ValueError(f"unknown display driver {name!r} (one of {', '.join(DRIVERS)})")
    cls = getattr(oled, name)
    serial = serial if serial is not None else RecordingSerial()
    if name in GREYSCALE:
        return cls(serial, width=width, height=height, rotate=rotate, mode="1")
    return cls(serial, width=width, height=height, rotate=rotate)


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


def emulator(name: str, *, width: int = 128, height: int = 64, rotate: int = 0):
    """A luma.emulator device (needs the ``emulator`` extra: pygame)."""
    import luma.emulator.device as em

    cls = getattr(em, EMULATORS[name])
    return cls(width=width, height=height, rotate=rotate, mode="1", transform="none", scale=1) \
        if name in ("asciiblock", "asciiart") else cls(width=width, height=height, rotate=rotate, mode="1")


def decode_gddram(data: bytes, width: int = 128, height: int = 64) -> Image.Image:
    """GDDRAM bytes (page-major, LSB = top row of the page) back into an image.

    >>> decode_gddram(bytes([0b10000001] + [0] * 127), 128, 8).getbbox()
    (0, 0, 1, 8)
    """
    image = Image.new("1", (width, height))
    pixels = image.load()
    pages = height // 8
    if len(data) != width * pages:
        raise ValueError(f"expected {width * pages} bytes for one frame, got {len(data)}")
    for page in range(pages):
        for x in range(width):
            byte = data[page * width + x]
            for bit in range(8):
                if byte >> bit & 1:
                    pixels[x, page * 8 + bit] = 1
    return image


decode_ssd1306 = decode_gddram


def frames_from_ssd1306(calls: list[BusCall], width: int = 128, height: int = 64) -> list[tuple[float, Image.Image]]:
    """Every frame an ssd1306 driver sent: its column/page window command, then one data block."""
    out = []
    for i, call in enumerate(calls):
        if call.kind == "data" and len(call.payload) == width * height // 8 and i > 0 \
                and calls[i - 1].kind == "command" and calls[i - 1].payload[:1] == b"\x21":
            out.append((call.t, decode_gddram(call.payload, width, height)))
    return out


def frames_from_sh1106(calls: list[BusCall], width: int = 128, height: int = 64) -> list[tuple[float, Image.Image]]:
    """Every frame an sh1106 driver sent: per page, (0xB0+page, 0x02, 0x10) then ``width`` bytes."""
    out, pages, t = [], {}, 0.0
    page = None
    for call in calls:
        if call.kind == "command" and len(call.payload) == 3 and 0xB0 <= call.payload[0] <= 0xB7:
            page = call.payload[0] - 0xB0
        elif call.kind == "data" and page is not None and len(call.payload) == width:
            pages[page] = call.payload
            t = call.t
            if page == height // 8 - 1 and len(pages) == height // 8:
                out.append((t, decode_gddram(b"".join(pages[p] for p in range(height // 8)), width, height)))
                pages = {}
            page = None
    return out


def decode_sh1106(calls: list[BusCall], width: int = 128, height: int = 64) -> Image.Image:
    """The last whole frame an sh1106 driver sent; ValueError if there is none."""
    frames = frames_from_sh1106(calls, width, height)
    if not frames:
        raise ValueError("no whole sh1106 frame in these calls")
    return frames[-1][1]


class ChangeDrivenDisplay:
    """Shows an image only when it differs from the last one shown.

    luma's ssd1306/sh1106 resend the whole 1 KB frame on every ``display()``;
    this sends nothing for an unchanged picture. ``invalidate()`` forces the
    next one through (after a bus fault, or when the panel was re-opened).

    >>> from luma.core.device import dummy
    >>> panel = ChangeDrivenDisplay(dummy(mode="1"))
    >>> black = Image.new("1", (128, 64))
    >>> panel.show(black), panel.show(black), (panel.frames_shown, panel.frames_skipped)
    (True, False, (1, 1))
    """

    def __init__(self, device):
        self.device = device
        self.frames_shown = 0
        self.frames_skipped = 0
        self._last: tuple | None = None

    def show(self, image: Image.Image) -> bool:
        key = (image.mode, image.size, image.tobytes())
        if key == self._last:
            self.frames_skipped += 1
            return False
        mode = getattr(self.device, "mode", image.mode)
        self._last = None  # if display() raises, the panel state is unknown: resend next time
        self.device.display(image if image.mode == mode else image.convert(mode))
        self._last = key
        self.frames_shown += 1
        return True

    def invalidate(self) -> None:
        self._last = None


def ascii_art(image: Image.Image) -> str:
    """A 1-bit image as block characters, two pixel rows per text line.

    >>> print(ascii_art(Image.new("1", (4, 2), 1)))
    ████
    """
    image = image.convert("1")
    w, h = image.size
    px = image.load()
    chars = {(0, 0): " ", (1, 0): "\u2580", (0, 1): "\u2584", (1, 1): "\u2588"}
    rows = []
    for y in range(0, h, 2):
        rows.append("".join(chars[(px[x, y] != 0, y + 1 < h and px[x, y + 1] != 0)] for x in range(w)).rstrip())
    return "\n".join(rows)


def _dummy_base():
    from luma.core.device import dummy
    return dummy


class TextLogDisplay(_dummy_base()):
    """A luma device (luma's ``dummy``, keeping the last image) that prints each picture it is
    given as block-character art: the screens readable in a log with no terminal or window.

    >>> import io
    >>> out = io.StringIO()
    >>> TextLogDisplay(out, width=8, height=4).display(Image.new("1", (8, 4), 1))
    >>> out.getvalue().splitlines()[1]
    '████████'
    """

    def __init__(self, out: IO[str] | None = None, *, width: int = 128, height: int = 64, rotate: int = 0,
                 clock: Callable[[], float] | None = None):
        super().__init__(width=width, height=height, rotate=rotate, mode="1")
        self.out = out if out is not None else sys.stdout
        self.clock = clock

    def display(self, image: Image.Image) -> None:
        super().display(image)
        stamp = f" t={self.clock():.1f}" if self.clock else ""
        rule = "-" * self.width
        self.out.write(f"+{stamp} {rule}"[: self.width + 1] + "\n" + ascii_art(self.image) + "\n")
        self.out.flush()
