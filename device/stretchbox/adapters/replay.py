"""Panel frames recorded once with luma's own driver, replayed over I2C without Pillow or luma.

The boot splash and SAFE TO UNPLUG have to be drawn where the service cannot
draw: early in boot, before Python has imported Pillow and luma, and at the very
end of a shutdown, when every filesystem is read-only and the service is gone.
``record`` runs the configured luma.oled driver over ``RecordingSerial`` and
keeps every transaction it sends (its init sequence, the clear, the contrast,
the frame) as the bytes that go on the wire: the control byte luma's ``i2c``
interface puts first (0x00 command, 0x40 data), then the payload. ``play``
sends them again with smbus2 alone, one I2C write each, and writes nothing.

    python -m stretchbox.adapters.replay [--adapter i2c-N] FILE

``--adapter i2c-N``: do nothing unless FILE is for that adapter (the splash unit
runs once for every I2C adapter that appears). Exit 0 when drawn (or not ours),
1 when the bus refused, 2 for a bad file or usage.
"""

from __future__ import annotations

import json
import sys

FORMAT = 1
CONTROL = {"command": 0x00, "data": 0x40}  # luma.core.interface.serial.i2c's cmd_mode, data_mode
CHUNK = 4096  # luma's i2c sends data in blocks of at most 4096 bytes (one i2c_rdwr message each)


def record(image, *, driver: str = "ssd1306", port: int = 1, address: int = 0x3C, width: int = 128,
           height: int = 64, rotate: int = 0, contrast: int = 255) -> dict:
    """What luma's ``driver`` sends to show ``image`` on a panel that was just powered on.

    >>> from PIL import Image
    >>> replay = record(Image.new("1", (128, 64), 1))
    >>> bytes.fromhex(replay["writes"][0])[:2].hex()  # a command: control 0x00, then display off
    '00ae'
    >>> bytes.fromhex(replay["writes"][-1]) == bytes([0x40]) + bytes([0xFF]) * 1024  # the frame, all lit
    True
    """
    from .display import RecordingSerial, make_device

    serial = RecordingSerial()
    device = make_device(driver, serial, width=width, height=height, rotate=rotate)
    device.persist = True  # no blanking at interpreter exit: there is only a recorder behind it
    device.contrast(contrast)
    device.display(image if image.mode == device.mode else image.convert(device.mode))
    writes = []
    for call in serial.calls:
        control = CONTROL[call.kind]
        step = len(call.payload) if call.kind == "command" else CHUNK
        for start in range(0, len(call.payload), step):
            writes.append((bytes([control]) + call.payload[start:start + step]).hex())
    return {"format": FORMAT, "driver": driver, "port": port, "address": address, "writes": writes}


def dumps(replay: dict) -> str:
    """The file's text: stable, so an unchanged frame gives an unchanged file."""
    return json.dumps(replay, sort_keys=True, separators=(",", ":")) + "\n"


def load(path: str) -> dict:
    """A replay file, checked; ValueError says what is wrong with it."""
    with open(path, encoding="ascii") as f:
        try:
            replay = json.load(f)
        except ValueError as exc:
            raise ValueError(f"{path}: not a replay file ({exc})") from None
    if not isinstance(replay, dict) or replay.get("format") != FORMAT:
        raise ValueError(f"{path}: not a replay file of format {FORMAT}")
    port, address, writes = replay.get("port"), replay.get("address"), replay.get("writes")
    if not isinstance(port, int) or not isinstance(address, int) or not 0x03 <= address <= 0x77:
        raise ValueError(f"{path}: port and address must be numbers (address 0x03-0x77)")
    if not isinstance(writes, list) or not writes:
        raise ValueError(f"{path}: no writes")
    try:
        replay["writes"] = [bytes.fromhex(w) for w in writes]
    except (TypeError, ValueError):
        raise ValueError(f"{path}: writes must be hex strings") from None
    if any(len(w) < 2 or w[0] not in CONTROL.values() for w in replay["writes"]):
        raise ValueError(f"{path}: each write is a control byte (00 or 40) and a payload")
    return replay


def play(replay: dict) -> int:
    """Send every write of a loaded replay to /dev/i2c-<port>; the number sent. Raises OSError."""
    import smbus2

    with smbus2.SMBus(replay["port"]) as bus:
        for write in replay["writes"]:
            bus.i2c_rdwr(smbus2.i2c_msg.write(replay["address"], write))
    return len(replay["writes"])


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    adapter = None
    if len(args) == 3 and args[0] == "--adapter":
        adapter = args[1]
        args = args[2:]
    if len(args) != 1:
        print("usage: python -m stretchbox.adapters.replay [--adapter i2c-N] FILE", file=sys.stderr)
        return 2
    try:
        replay = load(args[0])
    except (OSError, ValueError) as exc:
        print(f"stretchbox replay: {exc}", file=sys.stderr)
        return 2
    if adapter is not None and adapter != f"i2c-{replay['port']}":
        return 0  # another adapter (the HDMI DDC buses, ...): not the panel's
    try:
        play(replay)
    except OSError as exc:
        print(f"stretchbox replay: /dev/i2c-{replay['port']} address 0x{replay['address']:02X}: {exc}",
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
