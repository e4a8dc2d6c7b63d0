"""The panel in a terminal, pixel for pixel: half blocks where they fit, else braille, never rescaled.

``TerminalPanel`` is a luma device (a subclass of luma's ``dummy``, so it keeps
the last image) that the App's panel output drives like any other: ``display``,
``show``/``hide``, ``contrast``, ``cleanup`` with ``persist``. Being a device,
and not an App output, it gets the panel path's change detection, idle
dimming and the final screen for free, and needs no pygame (luma.emulator's
``asciiblock`` rescales 128 pixels to the terminal's width, so glyphs come
out grey and soft).

Two exact renderings of a 1-bit image:

* half blocks: one cell is 1x2 pixels (`` ▀▄█``), 128x64 in 128x32 cells;
* braille (U+2800..U+28FF): one cell is 2x4 pixels, 64x16 cells, so the
  panel fits an ordinary 80x24 terminal. Braille numbers its dots 1-2-3-7
  down the left column and 4-5-6-8 down the right; dot n is bit n-1.

The larger one the terminal can hold is used, with the key help below it and
at least two lines left under that for log messages, which scroll in a region
of their own (DECSTBM: a region needs two lines) so they never scroll the
panel away. The size is read
on every frame and on SIGWINCH (then the last image is redrawn at once); a
change of layout clears and redraws everything, otherwise only the rows
that changed are rewritten in place, with the cursor hidden and saved and
restored around them: no flicker, and nothing at all for an unchanged frame.
``cleanup`` (called by the panel's ``final``, by ``close`` and at exit) shows
the cursor again, resets the attributes and the scroll region, and leaves
the final frame on screen when ``persist`` is set. Ctrl-Z does the same
before the process stops, and SIGCONT (``fg``) redraws everything.

>>> import io
>>> from PIL import Image
>>> out = io.StringIO()
>>> panel = TerminalPanel(out, width=4, height=4, size=lambda: (40, 10), signals=False)
>>> panel.layout()
('half', 4, 2)
>>> image = Image.new("1", (4, 4))
>>> image.putpixel((0, 0), 1)
>>> braille_rows(image), halfblock_rows(image)
(['⠁⠀'], ['▀   ', '    '])
"""

from __future__ import annotations

import os
import shutil
import signal
import sys
import textwrap
import threading
from collections.abc import Callable, Sequence
from typing import IO

from luma.core.device import dummy
from PIL import Image

from .jobcontrol import chain

HALF_BLOCKS = (" ", "\u2580", "\u2584", "\u2588")  # index: top pixel | bottom pixel << 1
# (dx, dy) -> bit of the braille pattern: dots 1, 2, 3, 7 left column; 4, 5, 6, 8 right column
BRAILLE_DOTS = ((0, 0, 0x01), (0, 1, 0x02), (0, 2, 0x04), (1, 0, 0x08),
                (1, 1, 0x10), (1, 2, 0x20), (0, 3, 0x40), (1, 3, 0x80))
BRAILLE_BLANK = 0x2800
# pixels per cell, (columns, rows), for each rendering, largest first
CELLS = {"half": (1, 2), "braille": (2, 4)}
LOG_LINES = 2  # under the help: the smallest scroll region terminals accept

CSI = "\x1b["
SAVE, RESTORE = "\x1b7", "\x1b8"  # DECSC/DECRC: cursor position and attributes
HIDE_CURSOR, SHOW_CURSOR = CSI + "?25l", CSI + "?25h"
RESET = CSI + "0m"
LIT, DIM = CSI + "0;97;40m", CSI + "0;90;40m"  # white on black like the OLED; grey when dimmed
FOOTER = CSI + "0;2m"


def _lit(image: Image.Image) -> tuple[Callable[[int, int], bool], int, int]:
    w, h = image.size
    px = image.convert("1").tobytes("raw", "1")  # rows padded to whole bytes, MSB first
    stride = (w + 7) // 8

    def lit(x: int, y: int) -> bool:
        return x < w and y < h and bool(px[y * stride + x // 8] & (0x80 >> (x % 8)))
    return lit, w, h


def halfblock_rows(image: Image.Image) -> list[str]:
    """One string per two pixel rows, one character per pixel column."""
    lit, w, h = _lit(image)
    return ["".join(HALF_BLOCKS[lit(x, y) | lit(x, y + 1) << 1] for x in range(w)) for y in range(0, h, 2)]


def braille_rows(image: Image.Image) -> list[str]:
    """One string per four pixel rows, one braille character per two pixel columns."""
    lit, w, h = _lit(image)
    return ["".join(chr(BRAILLE_BLANK + sum(bit for dx, dy, bit in BRAILLE_DOTS if lit(x + dx, y + dy)))
                    for x in range(0, w, 2)) for y in range(0, h, 4)]


RENDER = {"half": halfblock_rows, "braille": braille_rows}


def panel_cells(mode: str, width: int, height: int) -> tuple[int, int]:
    cw, ch = CELLS[mode]
    return -(-width // cw), -(-height // ch)


def footer_lines(help: Sequence[str], columns: int) -> list[str]:
    """The first help text that fits on one line of ``columns``, else the last one wrapped."""
    for text in help:
        if len(text) <= columns:
            return [text]
    return textwrap.wrap(help[-1], max(columns, 1)) if help else []


def choose_layout(columns: int, lines: int, width: int, height: int,
                  help: Sequence[str] = ()) -> tuple[str, int, int] | None:
    """(mode, cell columns, cell rows) of the largest exact rendering that fits with the help below
    it and LOG_LINES for log messages; None when even braille does not fit.

    >>> choose_layout(80, 24, 128, 64, ["space = A  q = quit"]), choose_layout(128, 35, 128, 64, ["q"])
    (('braille', 64, 16), ('half', 128, 32))
    >>> choose_layout(63, 40, 128, 64) is None
    True
    """
    for mode in CELLS:
        cols, rows = panel_cells(mode, width, height)
        if columns >= cols and lines >= rows + len(footer_lines(help, columns)) + LOG_LINES:
            return mode, cols, rows
    return None


def needed(width: int, height: int, help: Sequence[str] = ()) -> str:
    """What each rendering needs, for messages: '64x19 (braille) or 128x35 (half blocks)'."""
    parts = []
    for mode, name in (("braille", "braille"), ("half", "half blocks")):
        cols, rows = panel_cells(mode, width, height)
        parts.append(f"{cols}x{rows + len(footer_lines(help, cols)) + LOG_LINES} ({name})")
    return " or ".join(parts)


class TerminalPanel(dummy):
    """A luma device drawing into a terminal (see the module's docstring).

    ``out`` is the terminal (default stdout); ``size`` returns (columns, lines) and defaults to the
    terminal's own (80x24 when ``out`` is none); the picture is shown as rendered, never rotated
    (``rotate`` is for a panel mounted on its side, not for a terminal); ``help`` holds the key help, longest first (the first that fits one line is
    shown); ``signals`` installs handlers for SIGWINCH (redraw at the new size), SIGTSTP (restore
    the terminal, then stop) and SIGCONT (redraw): main thread only; tests pass False.
    """

    def __init__(self, out: IO[str] | None = None, *, width: int = 128, height: int = 64,
                 help: Sequence[str] = (), size: Callable[[], tuple[int, int]] | None = None,
                 signals: bool = True):
        super().__init__(width=width, height=height, rotate=0, mode="1")
        self.out = out if out is not None else sys.stdout
        self.help = tuple(help)
        self._size = size or self._terminal_size
        self.frames_drawn = 0  # display() calls that wrote something
        self.bytes_written = 0
        self._shown: tuple[list[str], str] | None = None  # (rows, style) on screen now
        self._key: tuple | None = None  # (layout, columns, lines) of the last full redraw
        self._style = LIT
        self._on = True
        self._closed = False
        self._busy = False
        self._again = False
        self._old: dict[int, object] = {}
        if signals and threading.current_thread() is threading.main_thread():
            for signum in (signal.SIGWINCH, signal.SIGTSTP, signal.SIGCONT):
                self._old[signum] = signal.signal(signum, self._on_signal)

    # ---- luma device -----------------------------------------------------------
    def display(self, image: Image.Image) -> None:
        assert image.size == self.size
        self.image = image.convert("1") if image.mode != "1" else image.copy()
        self._draw()

    def show(self) -> None:
        self._on = True
        self._draw()

    def hide(self) -> None:
        self._on = False  # an OLED switched off: a black panel
        self._draw()

    def contrast(self, level: int) -> None:
        assert 0 <= level <= 255
        self._style = LIT if level >= 128 else DIM
        self._draw()

    def cleanup(self) -> None:
        """The terminal as we found it (cursor, attributes, scroll region); the last frame stays
        when ``persist`` is set, else the panel and help are erased."""
        if self._closed:
            return
        self._closed = True
        for signum, old in self._old.items():
            if signal.getsignal(signum) == self._on_signal:  # not if someone chained onto ours since
                try:
                    signal.signal(signum, old)
                except ValueError:  # not the main thread
                    pass
        out = [SAVE, CSI + "r", RESTORE]  # DECSTBM homes the cursor: keep the log's position
        if not self.persist and self._key is not None and self._key[0] is not None:
            (_, _, rows), columns, _ = self._key
            erase = rows + len(footer_lines(self.help, columns))
            out += [SAVE] + [f"{CSI}{r + 1};1H{CSI}2K" for r in range(erase)] + [RESTORE]
        out += [RESET, SHOW_CURSOR]
        try:
            self._write("".join(out))
        except (OSError, ValueError):
            pass  # the terminal is gone

    # ---- drawing ---------------------------------------------------------------
    def layout(self) -> tuple[str, int, int] | None:
        columns, lines = self._size()
        return choose_layout(columns, lines, self.width, self.height, self.help)

    def _draw(self) -> None:
        if self._closed:
            return
        if self._busy:  # a SIGWINCH handler interrupting a draw on the same thread: draw again after
            self._again = True
            return
        self._busy = True
        try:
            self._again = True
            while self._again:
                self._again = False
                self._draw_once()
        finally:
            self._busy = False

    def _draw_once(self) -> None:
        columns, lines = self._size()
        layout = choose_layout(columns, lines, self.width, self.height, self.help)
        out: list[str] = []
        if (layout, columns, lines) != self._key:  # first frame, resize, or another rendering: all anew
            self._key, self._shown = (layout, columns, lines), None
            out.append(HIDE_CURSOR + CSI + "r" + RESET + CSI + "H" + CSI + "2J")
            if layout is None:
                out.append(f"terminal {columns}x{lines} is too small for the panel: it needs "
                           f"{needed(self.width, self.height, self.help)}\r\n")
            else:
                rows = layout[2]
                footer = footer_lines(self.help, columns)
                out += [f"{CSI}{rows + 1 + i};1H{FOOTER}{line}{RESET}" for i, line in enumerate(footer)]
                top = rows + len(footer) + 1
                out.append(f"{CSI}{top};{lines}r{CSI}{top};1H")  # log lines scroll below the panel
        if layout is not None and self.image is not None:
            mode, cols, rows = layout
            blank = chr(BRAILLE_BLANK) if mode == "braille" else " "
            picture = RENDER[mode](self.image) if self._on else [blank * cols] * rows
            shown = self._shown
            changed = [i for i in range(rows) if shown is None or shown[1] != self._style or shown[0][i] != picture[i]]
            if changed:
                out.append(SAVE + self._style)
                out += [f"{CSI}{i + 1};1H{picture[i]}" for i in changed]
                out.append(RESET + RESTORE)
                self.frames_drawn += 1
            self._shown = (picture, self._style)
        if out:
            self._write("".join(out))

    def _write(self, text: str) -> None:
        """All of ``text``, even when a signal cuts a write short: with PYTHONUNBUFFERED (systemd sets
        it, so do many shells) sys.stdout writes straight to the file and drops what a write(2)
        interrupted by SIGWINCH did not take, leaving half a character on the terminal."""
        data = text.encode(getattr(self.out, "encoding", None) or "utf-8", errors="replace")
        try:
            fd = self.out.fileno()
        except (AttributeError, OSError, ValueError):  # io.StringIO and the like
            self.out.write(text)
            self.out.flush()
        else:
            self.out.flush()  # whatever was written through the stream before
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
        self.bytes_written += len(data)

    def _terminal_size(self) -> tuple[int, int]:
        try:
            size = os.get_terminal_size(self.out.fileno())
        except (AttributeError, OSError, ValueError):  # not a terminal: $COLUMNS/$LINES, else 80x24
            size = shutil.get_terminal_size((80, 24))
        return size.columns, size.lines

    def _on_signal(self, signum, frame) -> None:
        if not self._closed:
            if signum == signal.SIGTSTP:  # Ctrl-Z: the shell gets its terminal back as it was
                try:
                    self._write(SAVE + CSI + "r" + RESTORE + RESET + SHOW_CURSOR)
                except OSError:
                    pass
            else:  # SIGWINCH: the size changed; SIGCONT: back from a stop, the screen may be anything
                if signum == signal.SIGCONT:
                    self._key = None
                self._draw()
        chain(self._old.get(signum), signum, frame)
