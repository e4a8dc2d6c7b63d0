"""Reading a recorded bus back: the images luma's ssd1306 / sh1106 drivers sent (tests only)."""

from __future__ import annotations

import json

from PIL import Image

from stretchbox.adapters.display import BusCall, RecordingSerial
from tests.doubles.i2c_bus import CONTROL_COMMAND, CONTROL_DATA, Panel


def bytes_sent(serial: RecordingSerial) -> int:
    """Every byte a recording serial interface was given, commands and data."""
    return sum(len(c.payload) for c in serial.calls)


def panel_states(log: bytes, chip: str = "ssd1306") -> list[tuple[float, bytes]]:
    """Each call of a ``--bus-log`` file fed to a freshly powered chip model (tests/doubles/i2c_bus.py):
    (time, what the glass shows) after each call."""
    panel, states = Panel(chip), []
    for line in log.decode().splitlines():
        call = json.loads(line)
        panel.receive(CONTROL_COMMAND if call["kind"] == "command" else CONTROL_DATA, list(bytes.fromhex(call["hex"])))
        states.append((call["t"], panel.visible()))
    return states


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
