"""Partial panel updates for the ssd1306 and sh1106: only the changed pages and columns go on the wire.

luma.oled's ``ssd1306``/``sh1106`` send the whole 1 KB frame on every
``display()`` (~93 ms at the Zero's default 100 kHz I2C) and pack it pixel by
pixel in Python. The classes here are luma's own drivers (their init sequences,
``rotate``, ``contrast``, ``cleanup``) with ``display()`` replaced:

- the image is packed by Pillow into GDDRAM bytes (page-major, LSB = top row):
  ``ROTATE_270`` makes each panel column a row whose ``tobytes()`` holds the
  column's pages bottom-up, MSB = bottom row, so page ``p`` is a strided slice;
- each page is compared with the frame the panel last ACKNOWLEDGED (every
  transaction of it went through); changed columns become windows: on the
  ssd1306 a rectangle of pages and columns in horizontal addressing mode (as
  luma's init sets it: ``0x21`` column window, ``0x22`` page window, then the
  data), chosen to cost the fewest bytes on the wire; on the sh1106 (page
  addressing only) ``0xB0|page`` and the column's low/high nibbles, with luma's
  2-column offset (132-column RAM), then the data;
- a full frame (luma's exact bytes) is sent on the first draw, after
  ``invalidate()``, after any exception escaping a command or data write (the
  RAM is then unknown: a refused write may have landed in part), when the
  display is switched on again after ``hide()``, and every ``refresh_every``
  seconds (injected clock; ``refresh_due()`` says when, so the panel output
  draws a picture that has not changed then too). That periodic full frame first replays luma's init
  sequence (without its display-off) and the current contrast, and ends with
  display-on: a panel that browned out and reset with no bus error (dark, page
  addressing, RAM noise) is lit and right again within ``refresh_every``. The
  chips' status byte cannot tell us instead: luma's i2c interface has no read,
  and many SSD1306 I2C boards do not support reads at all.

Contrast (``0x81``) only sets the segment current and display off (``0xAE``,
sleep) keeps the GDDRAM on both chips (SSD1306 and SH1106 datasheets: "display
data ... held" in sleep / power-save mode); neither is verified on glass here,
so waking from ``hide()`` costs one full frame anyway.

Every window is one addressing command followed by one data write, so
``RetryingSerial`` (which sends a refused data write again after the command
before it) puts it at the same place. Other monochrome chips (ssd1305/1309,
sh1107, ...) keep luma's full frame: their addressing is not modelled here.

>>> from stretchbox.adapters.display import RecordingSerial
>>> from PIL import Image
>>> serial = RecordingSerial()
>>> device = ssd1306(serial)
>>> image = Image.new("1", (128, 64)); image.putpixel((5, 9), 1)
>>> del serial.calls[:]; device.display(image); [c.payload.hex() for c in serial.calls]
['210505220101', '02']
"""

from __future__ import annotations

import math
import re
import time
from collections import Counter
from collections.abc import Callable

import luma.oled.device as oled
from PIL import Image

__all__ = ["PARTIAL", "REFRESH_EVERY", "device_class", "pack", "sh1106", "ssd1306"]

# Seconds between full frames with the init sequence replayed: the longest a silently reset panel stays wrong.
REFRESH_EVERY = 300.0

# Bytes a window costs beyond its data, on the wire: its addressing command's payload plus, for the command
# and for the data write, the address and control bytes of the transaction.
SSD1306_WINDOW = 6 + 2 + 2
SH1106_WINDOW = 3 + 2 + 2


def pack(image: Image.Image) -> list[bytes]:
    """A 1-bit image (in the panel's own orientation) as its GDDRAM pages: page-major, LSB = top row.

    >>> image = Image.new("1", (4, 16)); image.putpixel((1, 0), 1); image.putpixel((2, 15), 1)
    >>> [page.hex() for page in pack(image)]
    ['00010000', '00008000']
    """
    pages = image.size[1] // 8
    raw = image.transpose(Image.Transpose.ROTATE_270).tobytes()  # a row per column: its pages bottom-up
    return [raw[pages - 1 - p::pages] for p in range(pages)]


def _runs(max_gap: int) -> re.Pattern[bytes]:
    """Runs of changed bytes (non-zero in an XOR), joined across gaps that cost less than a new window."""
    return re.compile(rb"[^\x00](?:\x00{0,%d}[^\x00])*" % max_gap)


def changed_spans(old: bytes, new: bytes, pattern: re.Pattern[bytes]) -> list[tuple[int, int]]:
    """[start, end) column spans where ``new`` differs from ``old``, small gaps bridged."""
    if old == new:
        return []
    n = len(new)
    diff = (int.from_bytes(old, "little") ^ int.from_bytes(new, "little")).to_bytes(n, "little")
    return [m.span() for m in pattern.finditer(diff)]


class _Partial:
    """The partial-update ``display()`` on top of one of luma's 1-bit drivers (mixed in before it)."""

    window_cost = 0
    max_gap = 0

    def __init__(self, serial_interface=None, *, clock: Callable[[], float] = time.monotonic,
                 refresh_every: float | None = REFRESH_EVERY, **kwargs):
        self.clock = clock
        self.refresh_every = refresh_every
        self.counts: Counter[str] = Counter()  # full, partial, unchanged frames; windows sent
        self._acked: list[bytes] | None = None  # the pages the panel acknowledged last; None: unknown
        self._init: list[tuple[int, ...]] | None = []  # luma's init commands, recorded until its first draw
        self._recorded_init: list[tuple[int, ...]] = []
        self._level: int | None = None  # the contrast last acknowledged
        self._hidden = False  # hide() was called last (luma's constructor ends with show())
        self._full_at = 0.0
        self._spans = _runs(self.max_gap)
        super().__init__(serial_interface, **kwargs)

    # ---- what can disturb the RAM -------------------------------------------------
    def invalidate(self) -> None:
        """The panel's RAM is unknown: the next ``display()`` sends a whole frame."""
        self._acked = None

    def command(self, *cmd: int) -> None:
        if self._init is not None:
            self._init.append(cmd)
        try:
            super().command(*cmd)
        except BaseException:
            self._acked = None  # a refused command may have left the chip mid-command
            raise

    def data(self, data) -> None:
        try:
            super().data(data)
        except BaseException:
            self._acked = None  # a refused write may have landed in part
            raise

    def contrast(self, level: int) -> None:
        super().contrast(level)
        self._level = level

    def hide(self) -> None:
        super().hide()
        self._hidden = True

    def show(self) -> None:
        if self._hidden:
            self._acked = None  # waking: one full frame, in case the panel lost power while dark
        super().show()
        self._hidden = False

    def refresh_due(self) -> float | None:
        """When ``display()`` next sends the periodic full frame, on this driver's clock: a picture that
        does not change must still be drawn then (the panel output wakes for it). Minus infinity when a
        whole frame is owed now (the RAM is unknown); None without a periodic refresh."""
        if self.refresh_every is None:
            return None
        if self._acked is None:
            return -math.inf
        return self._full_at + self.refresh_every

    # ---- drawing ------------------------------------------------------------------
    def display(self, image: Image.Image) -> None:
        assert image.mode == self.mode
        assert image.size == self.size
        if self._init is not None:  # luma's constructor draws (clear) once its init sequence is sent
            self._recorded_init, self._init = self._init, None
        pages = pack(self.preprocess(image))
        now = self.clock()
        acked, self._acked = self._acked, None  # unknown until every write of this frame went through
        refresh = acked is not None and self.refresh_every is not None and now - self._full_at >= self.refresh_every
        if refresh:
            self._replay_init()
        if acked is None or refresh:
            self._full(pages)
            self._full_at = now
            self.counts["full"] += 1
        else:
            sent = self._changes(acked, pages)
            self.counts["partial" if sent else "unchanged"] += 1
            self.counts["windows"] += sent
        if refresh and not self._hidden:
            self.command(self._const.DISPLAYON)
        self._acked = pages

    def _replay_init(self) -> None:
        """luma's init sequence again, without its display-off (no flicker), then the current contrast."""
        for i, cmd in enumerate(self._recorded_init):
            if i == 0 and cmd[:1] == (self._const.DISPLAYOFF,):
                cmd = cmd[1:]
            if cmd:
                self.command(*cmd)
        if self._level is not None:
            self.command(self._const.SETCONTRAST, self._level)

    def _full(self, pages: list[bytes]) -> None:
        raise NotImplementedError

    def _changes(self, acked: list[bytes], pages: list[bytes]) -> int:
        raise NotImplementedError


class ssd1306(_Partial, oled.ssd1306):
    """luma's ssd1306 sending only changed rectangles (column window 0x21, page window 0x22).

    Needs luma's horizontal addressing mode (its init sends 0x20 0x00): a window's
    data fills its columns, then the next page of the window.
    """

    window_cost = SSD1306_WINDOW
    max_gap = SSD1306_WINDOW

    def _window(self, c0: int, c1: int, p0: int, p1: int) -> tuple[int, ...]:
        """The addressing command for columns c0..c1 and pages p0..p1 (inclusive, panel coordinates)."""
        return (self._const.COLUMNADDR, self._colstart + c0, self._colstart + c1, self._const.PAGEADDR, p0, p1)

    def _full(self, pages: list[bytes]) -> None:
        self.command(*self._window(0, self._w - 1, 0, self._pages - 1))
        self.data(list(b"".join(pages)))

    def _changes(self, acked: list[bytes], pages: list[bytes]) -> int:
        spans = [changed_spans(old, new, self._spans) for old, new in zip(acked, pages)]
        plan = self._plan(spans)
        for c0, c1, p0, p1 in plan:
            self.command(*self._window(c0, c1 - 1, p0, p1))
            self.data(list(b"".join(pages[p][c0:c1] for p in range(p0, p1 + 1))))
        return len(plan)

    def _plan(self, spans: list[list[tuple[int, int]]]) -> list[tuple[int, int, int, int]]:
        """The cheapest cover of the changed spans by windows (c0, c1 exclusive, p0, p1 inclusive):
        each page's spans on their own, or one rectangle over a run of pages (a DP over 8 pages)."""
        n = len(spans)
        best: list[tuple[int, list]] = [(0, [])] + [(0, [])] * n
        for i in range(n):
            if not spans[i]:
                best[i + 1] = best[i]
                continue
            cost, plan = best[i]
            own = [(a, b, i, i) for a, b in spans[i]]
            choice = (cost + sum(b - a + self.window_cost for a, b in spans[i]), plan + own)
            lo, hi = spans[i][0][0], spans[i][-1][1]
            for p in range(i - 1, -1, -1):
                if spans[p]:
                    lo, hi = min(lo, spans[p][0][0]), max(hi, spans[p][-1][1])
                cost = best[p][0] + (i - p + 1) * (hi - lo) + self.window_cost
                if cost < choice[0]:
                    choice = (cost, best[p][1] + [(lo, hi, p, i)])
            best[i + 1] = choice
        return best[n][1]


class sh1106(_Partial, oled.sh1106):
    """luma's sh1106 sending only changed column spans of changed pages (page addressing: 0xB0|page,
    low and high column nibbles, luma's column offset)."""

    window_cost = SH1106_WINDOW
    max_gap = SH1106_WINDOW

    def _address(self, page: int, column: int) -> tuple[int, int, int]:
        column += self._page_address_offset
        return (0xB0 | page, column & 0x0F, 0x10 | column >> 4)

    def _full(self, pages: list[bytes]) -> None:
        for page, data in enumerate(pages):
            self.command(*self._address(page, 0))
            self.data(list(data))

    def _changes(self, acked: list[bytes], pages: list[bytes]) -> int:
        sent = 0
        for page, (old, new) in enumerate(zip(acked, pages)):
            for c0, c1 in changed_spans(old, new, self._spans):
                self.command(*self._address(page, c0))
                self.data(list(new[c0:c1]))
                sent += 1
        return sent


PARTIAL = {"ssd1306": ssd1306, "sh1106": sh1106}


def device_class(name: str):
    """The driver class for luma.oled's ``name``: ours for the chips verified here, luma's otherwise."""
    return PARTIAL.get(name) or getattr(oled, name)
