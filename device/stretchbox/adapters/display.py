"""luma devices: the real OLED drivers, the emulators, and a recording serial interface.

Layering as in luma: serial interface -> device -> image. Off a Pi the real
ssd1306/sh1106 drivers run over ``RecordingSerial``, so tests and ``simulate
--display`` see the exact bytes a panel would receive; ``decode_ssd1306`` and
``decode_sh1106`` turn those bytes back into the image.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import IO

from PIL import Image

# luma.oled drivers whose 1-bit pages we know how to decode (others still work, unrecorded)
DRIVERS = ("ssd1306", "sh1106", "ssd1309", "ssd1305", "sh1107")
EMULATORS = {"terminal": "asciiblock", "asciiblock": "asciiblock", "asciiart": "asciiart", "pygame": "pygame",
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


class FaultySerial(RecordingSerial):
    """Raises OSError(121, Remote I/O error) on every ``every``-th call: a loose I2C wire."""

    def __init__(self, every: int, clock: Callable[[], float] = lambda: 0.0):
        super().__init__(clock=clock)
        self.every = every
        self.count = 0
        self.faults = 0

    def _record(self, kind: str, payload: bytes) -> None:
        self.count += 1
        if self.count % self.every == 0:
            self.faults += 1
            raise OSError(121, "Remote I/O error")
        super()._record(kind, payload)


def make_device(name: str, serial=None, *, width: int = 128, height: int = 64, rotate: int = 0):
    """A real luma.oled driver over ``serial`` (a recording one if None); raises OSError like the bus."""
    import luma.oled.device as oled

    if name not in DRIVERS:
        raise ValueError(f"unknown display driver {name!r} (one of {', '.join(DRIVERS)})")
    return getattr(oled, name)(serial or RecordingSerial(), width=width, height=height, rotate=rotate)


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
    from luma.core import cmdline
    from luma.core.error import DeviceNotFoundError, DevicePermissionError

    parser = cmdline.create_parser(description="stretchbox")
    args = parser.parse_args(luma_args(display))
    try:
        device = cmdline.create_device(args)
    except (DeviceNotFoundError, DevicePermissionError) as exc:
        raise OSError(f"display not reachable: {exc}") from exc
    device.persist = True  # we choose the final screen ourselves (see PanelOutput.final)
    return device


def emulator(name: str, *, width: int = 128, height: int = 64, rotate: int = 0):
    """A luma.emulator device (needs the ``emulator`` extra: pygame)."""
    import luma.emulator.device as em

    cls = getattr(em, EMULATORS[name])
    return cls(width=width, height=height, rotate=rotate, mode="1", transform="none", scale=1) \
        if name in ("terminal", "asciiblock", "asciiart") else cls(width=width, height=height, rotate=rotate, mode="1")


def decode_ssd1306(data: bytes, width: int = 128, height: int = 64) -> Image.Image:
    """GDDRAM bytes (page-major, LSB = top row of the page) back into an image."""
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


def frames_from_ssd1306(calls: list[BusCall], width: int = 128, height: int = 64) -> list[tuple[float, Image.Image]]:
    """Every frame an ssd1306 driver sent: its column/page window command, then one data block."""
    out = []
    for i, call in enumerate(calls):
        if call.kind == "data" and len(call.payload) == width * height // 8 and i > 0 \
                and calls[i - 1].kind == "command" and calls[i - 1].payload[:1] == b"\x21":
            out.append((call.t, decode_ssd1306(call.payload, width, height)))
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
                out.append((t, decode_ssd1306(b"".join(pages[p] for p in range(height // 8)), width, height)))
                pages = {}
            page = None
    return out
