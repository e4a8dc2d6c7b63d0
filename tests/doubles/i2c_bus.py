"""An emulated I2C bus with SSD1306/SH1106 panels on it, standing in for ``smbus2.SMBus``.

Why: luma's real ``i2c`` interface class translates bus errors (errno 121/EIO in
``command()`` become ``luma.core.error.DeviceNotFoundError``, ``data()`` lets
``OSError`` through). Faults injected *below* that class, on this bus, go through
luma's own translation, as a loose wire on a Pi does.

The panels decode what they receive the way the chips do (command bytes with
their argument counts, the column/page address pointers, GDDRAM writes), so a
test reads what the panel shows, not what the driver meant to send. A panel
starts in its power-on reset state (display off, charge pump off, page
addressing, RAM full of noise): a panel that lost power and was not
re-initialised shows nothing, and data written to it lands in the wrong place.

Use it in-process with ``install(monkeypatch, board)`` (luma's ``i2c(port=1)``
then opens the board's bus through ``smbus2.SMBus``: the production, managed,
``i2c_rdwr`` path), or in a subprocess through ``tests/doubles/site`` (a
``sitecustomize`` that does the same from an environment variable).
"""

from __future__ import annotations

import errno
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field

CONTROL_COMMAND, CONTROL_DATA = 0x00, 0x40

# Argument bytes that follow each multi-byte command opcode, per chip (datasheets).
SSD1306_ARGS = {0x20: 1, 0x21: 2, 0x22: 2, 0x26: 6, 0x27: 6, 0x29: 5, 0x2A: 5, 0x81: 1, 0x8D: 1,
                0xA3: 2, 0xA8: 1, 0xD3: 1, 0xD5: 1, 0xD9: 1, 0xDA: 1, 0xDB: 1}
SH1106_ARGS = {0x81: 1, 0xA8: 1, 0xAD: 1, 0xD3: 1, 0xD5: 1, 0xD9: 1, 0xDA: 1, 0xDB: 1}


def gddram(image) -> bytes:
    """A 1-bit picture as display RAM bytes (page-major, LSB = top row): what ``Panel.visible()``
    returns while the panel shows it. Compare bytes instead of decoding every history entry."""
    from PIL import Image

    image = image.convert("1")
    width, height = image.size
    pages = []
    for top in range(0, height, 8):
        strip = image.crop((0, top, width, top + 8))  # one page: 8 rows
        # a row per column, bottom pixel first: tobytes() packs MSB first, so bit 0 is the top row
        pages.append(strip.transpose(Image.Transpose.TRANSPOSE).transpose(Image.Transpose.FLIP_LEFT_RIGHT).tobytes())
    return b"".join(pages)


def wire_clocks(payload_bytes: int) -> int:
    """SCL clocks of one write transaction: START, the address byte, the control byte, the payload, STOP.

    Every byte is 9 clocks (8 bits and the ACK); START and STOP count one clock each.
    A whole ssd1306 frame (a 6-byte command, then 1024 data bytes) is 74 + 9236 clocks:
    93.1 ms at 100 kHz, 23.3 ms at 400 kHz. Gaps the controller leaves between
    transactions are not modelled (a lower bound).
    """
    return 9 * (2 + payload_bytes) + 2


@dataclass(frozen=True)
class Transaction:
    """One write as the wire carried it: when it started and ended (the bus's clock), what it held."""

    start: float
    end: float
    address: int
    control: int
    payload_bytes: int
    ok: bool = True

    @property
    def wire_bytes(self) -> int:
        return 2 + self.payload_bytes  # address and control bytes included, as ``Bus.bytes_on_wire``


def remote_io_error() -> OSError:
    """What the Pi's I2C controller reports when nothing acknowledges (a NACK)."""
    return OSError(errno.EREMOTEIO, "Remote I/O error")


def io_error() -> OSError:
    return OSError(errno.EIO, "Input/output error")


@dataclass
class Panel:
    """One OLED controller at one address: command decoder, address pointers, display RAM."""

    chip: str = "ssd1306"  # ssd1306 | sh1106
    width: int = 128
    height: int = 64
    plugged: bool = True
    seed: int = 0
    inits: int = 0  # how many times the init sequence (display on with charge pump) was seen
    frames_written: int = 0  # data transactions received
    history: list = field(default_factory=list)  # (clock(), visible bytes) after each data write
    clock: Callable[[], float] = lambda: 0.0
    keep_history: bool = False

    def __post_init__(self):
        if self.chip not in ("ssd1306", "sh1106"):
            raise ValueError(f"no model of {self.chip!r}")
        self.columns = 132 if self.chip == "sh1106" else self.width
        self.pages = self.height // 8
        self.power_on_reset()

    # ---- state -----------------------------------------------------------------
    def power_on_reset(self) -> None:
        """The chip's state after power comes back: nothing of what was drawn survives."""
        noise = random.Random(self.seed)
        self.ram = [bytearray(noise.getrandbits(8) for _ in range(self.columns)) for _ in range(self.pages)]
        self.display_on = False
        self.charge_pump = False
        self.contrast = 0x7F
        self.inverted = False
        self.addressing = 2  # page addressing at reset (SSD1306 datasheet 10.1.3)
        self.col_start, self.col_end = 0, self.columns - 1
        self.page_start, self.page_end = 0, self.pages - 1
        self.column, self.page = 0, 0
        self._pending: list[int] = []
        self._needs = 0

    def unplug(self) -> None:
        self.plugged = False

    def plug(self) -> None:
        """Power comes back with the wire: the controller starts from its reset state."""
        self.plugged = True
        self.seed += 1
        self.power_on_reset()

    @property
    def lit(self) -> bool:
        """Whether anything is on the glass (SH1106 has its DC-DC on by default)."""
        return self.plugged and self.display_on and (self.charge_pump or self.chip == "sh1106")

    def gddram(self) -> bytes:
        """The visible window of display RAM, page-major, LSB = top row (as luma sends it)."""
        offset = 2 if self.chip == "sh1106" else 0
        return b"".join(bytes(row[offset:offset + self.width]) for row in self.ram)

    def visible(self) -> bytes:
        """What the glass shows: the RAM when lit, else all dark (bytes as ``gddram``)."""
        return self.gddram() if self.lit else bytes(self.width * self.pages)

    def image(self):
        """The visible picture as a 1-bit PIL image."""
        from PIL import Image

        image = Image.new("1", (self.width, self.height))
        data = self.visible()
        pixels = image.load()
        for page in range(self.pages):
            for x in range(self.width):
                byte = data[page * self.width + x]
                for bit in range(8):
                    if byte >> bit & 1:
                        pixels[x, page * 8 + bit] = 1
        return image

    # ---- what arrives over the wire ------------------------------------------------
    def receive(self, control: int, payload: list[int]) -> None:
        if control == CONTROL_COMMAND:
            for byte in payload:
                self._command_byte(byte)
        elif control == CONTROL_DATA:
            for byte in payload:
                self._data_byte(byte)
            self.frames_written += 1
            if self.keep_history:
                self.history.append((self.clock(), self.visible()))
        else:
            raise ValueError(f"control byte 0x{control:02X} not modelled")

    def _command_byte(self, byte: int) -> None:
        if self._needs:
            self._pending.append(byte)
            self._needs -= 1
            if self._needs == 0:
                self._execute(self._pending)
            return
        args = (SH1106_ARGS if self.chip == "sh1106" else SSD1306_ARGS).get(byte, 0)
        self._pending = [byte]
        self._needs = args
        if args == 0:
            self._execute(self._pending)

    def _execute(self, cmd: list[int]) -> None:
        op = cmd[0]
        if op == 0xAE:
            self.display_on = False
        elif op == 0xAF:
            if not self.display_on and (self.charge_pump or self.chip == "sh1106"):
                self.inits += 1
            self.display_on = True
        elif op == 0x81:
            self.contrast = cmd[1]
        elif op in (0xA6, 0xA7):
            self.inverted = op == 0xA7
        elif 0xB0 <= op <= 0xB7:
            self.page = op & 0x07
        elif 0x00 <= op <= 0x0F:
            self.column = (self.column & 0xF0) | op
        elif 0x10 <= op <= 0x1F:
            self.column = (self.column & 0x0F) | ((op & 0x0F) << 4)
        elif self.chip == "ssd1306":
            if op == 0x8D:
                self.charge_pump = bool(cmd[1] & 0x04)
            elif op == 0x20:
                self.addressing = cmd[1] & 0x03
            elif op == 0x21:
                self.col_start, self.col_end = cmd[1] & 0x7F, cmd[2] & 0x7F
                self.column = self.col_start
            elif op == 0x22:
                self.page_start, self.page_end = cmd[1] & 0x07, cmd[2] & 0x07
                self.page = self.page_start

    def _data_byte(self, byte: int) -> None:
        if self.page < self.pages and self.column < self.columns:
            self.ram[self.page][self.column] = byte
        if self.chip == "sh1106" or self.addressing == 2:  # page mode: the column moves, the page stays
            self.column = min(self.column + 1, self.columns - 1) if self.chip == "sh1106" else \
                (self.column + 1 if self.column < self.col_end else self.col_start)
            return
        if self.addressing == 0:  # horizontal: along the page, then the next page of the window
            if self.column < self.col_end:
                self.column += 1
            else:
                self.column = self.col_start
                self.page = self.page + 1 if self.page < self.page_end else self.page_start
        else:  # vertical
            if self.page < self.page_end:
                self.page += 1
            else:
                self.page = self.page_start
                self.column = self.column + 1 if self.column < self.col_end else self.col_start


@dataclass
class Bus:
    """One ``/dev/i2c-N``: the panels on it by address, and the faults the wire will produce."""

    panels: dict[int, Panel] = field(default_factory=dict)
    nack_rate: float = 0.0  # share of transactions refused with errno 121
    eio_rate: float = 0.0  # share failing with EIO
    partial: bool = True  # a refused data transfer may have written a prefix first (as a mid-transfer NACK)
    seed: int = 0
    transactions: int = 0
    faults: int = 0
    bytes_on_wire: int = 0
    permission: bool = True  # False: opening /dev/i2c-N is refused (not in group i2c)
    opened: int = 0  # handles opened on /dev/i2c-N ...
    closed: int = 0  # ... and closed again
    most_open: int = 0  # the most handles open at once
    # Wire time (None: a transfer takes no time). With a clock rate, each transfer blocks its
    # caller for ``wire_clocks`` of what it carries, as the Pi's I2C ioctl does: the owner loop
    # waits for the wire. ``log`` then holds a ``Transaction`` per write, stamped with ``clock``.
    scl_hz: float | None = None
    clock: Callable[[], float] = time.perf_counter
    log: list | None = None  # a list to record into (None: no log)

    @property
    def open_handles(self) -> int:
        """File descriptors on /dev/i2c-N that nobody closed (a leak grows this without bound)."""
        return self.opened - self.closed

    def __post_init__(self):
        self._rng = random.Random(self.seed)

    def transfer(self, address: int, control: int, payload: list[int]) -> None:
        """One write transaction: address, control byte, payload; may be refused."""
        self.transactions += 1
        start = self.clock()
        panel = self.panels.get(address)
        if panel is None or not panel.plugged:
            self.faults += 1
            self._wire(start, address, control, 0, clocks=9 + 2, ok=False)  # refused at the address byte
            raise remote_io_error()
        roll = self._rng.random()
        if roll < self.nack_rate + self.eio_rate:
            self.faults += 1
            sent = self._rng.randrange(len(payload)) if self.partial and control == CONTROL_DATA and payload else 0
            if sent:
                panel.receive(control, payload[:sent])
            self._wire(start, address, control, sent, clocks=wire_clocks(sent), ok=False)
            raise remote_io_error() if roll < self.nack_rate else io_error()
        self.bytes_on_wire += 2 + len(payload)
        self._wire(start, address, control, len(payload), clocks=wire_clocks(len(payload)))
        panel.receive(control, payload)

    def _wire(self, start: float, address: int, control: int, payload_bytes: int, *, clocks: int,
              ok: bool = True) -> None:
        """Hold the caller for the wire time of what was sent (if modelled) and log the transaction."""
        if self.scl_hz:  # ``clock`` must then be a real one: this waits for it
            end = start + clocks / self.scl_hz
            while (left := end - self.clock()) > 0:
                time.sleep(left)
        if self.log is not None:
            self.log.append(Transaction(start, self.clock(), address, control, payload_bytes, ok))

    def probe(self, address: int) -> int:
        """A read of one byte: what an address scan does; answers only where a panel is plugged."""
        self.transactions += 1
        panel = self.panels.get(address)
        if panel is None or not panel.plugged:
            raise remote_io_error()
        return 0x43 if not panel.display_on else 0x03  # status byte: display off flag in bit 6


@dataclass
class Board:
    """The Pi's I2C adapters by port number (a missing port is I2C not enabled)."""

    buses: dict[int, Bus] = field(default_factory=dict)

    def smbus_class(self):
        """A class with the smbus2.SMBus methods luma and the check use, opening this board's buses."""
        board = self

        class EmulatedSMBus:
            def __init__(self, bus=None, force=False):
                self.fd = None
                self._bus: Bus | None = None
                if bus is not None:
                    self.open(bus)

            def open(self, bus):
                path = f"/dev/i2c-{bus}"
                if bus not in board.buses:
                    raise FileNotFoundError(errno.ENOENT, "No such file or directory", path)
                if not board.buses[bus].permission:
                    raise PermissionError(errno.EACCES, "Permission denied", path)
                self._bus = board.buses[bus]
                self._bus.opened += 1
                self._bus.most_open = max(self._bus.most_open, self._bus.open_handles)
                self.fd = 3

            def close(self):  # like smbus2: close() twice closes one fd; open() twice leaks the first
                if self._bus is not None:
                    self._bus.closed += 1
                self._bus, self.fd = None, None

            def __enter__(self):
                return self

            def __exit__(self, *exc):
                self.close()

            def _open_bus(self) -> Bus:
                if self._bus is None:
                    raise OSError(errno.EBADF, "Bad file descriptor")
                return self._bus

            def write_i2c_block_data(self, i2c_addr, register, data, force=None):
                if len(data) > 32:
                    raise ValueError("Data length cannot exceed 32 bytes")
                self._open_bus().transfer(i2c_addr, register, list(data))

            def i2c_rdwr(self, *i2c_msgs):
                for msg in i2c_msgs:
                    raw = bytes(msg)
                    self._open_bus().transfer(msg.addr, raw[0], list(raw[1:]))

            def read_byte(self, i2c_addr, force=None):
                return self._open_bus().probe(i2c_addr)

            def write_quick(self, i2c_addr, force=None):
                self._open_bus().probe(i2c_addr)

        return EmulatedSMBus


def one_panel(chip: str = "ssd1306", *, address: int = 0x3C, port: int = 1, width: int = 128,
              height: int = 64, **bus_options) -> tuple[Board, Panel]:
    """The usual wiring: one panel on /dev/i2c-1."""
    panel = Panel(chip, width, height)
    board = Board({port: Bus({address: panel}, **bus_options)})
    return board, panel


def install(monkeypatch, board: Board) -> None:
    """Make ``smbus2.SMBus`` open ``board``'s buses for the rest of the test (luma imports it lazily)."""
    import smbus2

    monkeypatch.setattr(smbus2, "SMBus", board.smbus_class())
