"""Frames to 1-bit images: one function per screen, Pillow only.

Design rules for a panel glanced at from arm's length, outdoors:
* white on black, bold type; nothing that matters is small or inverted;
* the countdown is the biggest thing on a timing screen (digits >= 24 px),
  the icon is >= 40 px tall on the hold screen, the side is a word and an arrow;
* every string passes through ``fit``/``wrap`` so nothing is cut mid-glyph;
  a text that must be read whole (cue, why, the offer's and history's lines)
  is paged instead (``body``: text.paginate), never shortened;
* the routine's time left sits in the name line (or beside the title), small,
  so the countdown stays the biggest thing;
* fonts ship in assets/fonts (never Pillow's default font), so images are stable.
"""

from __future__ import annotations

import re
from functools import lru_cache

from PIL import Image, ImageDraw, ImageFont

from ..core.frame import Frame, clock_text
from .assets import Assets, default_assets
from .icons import Icons
from .text import fit, page_at, paginate, width, wrap

# Rows of the pixel font (Terminus 12: ink in rows 1-11 of its 12-px cell), one under the other.
BODY_STEP = 11
COMPACT_STEP = 13  # two rows on a 128x32 panel, spread over its height


def font(size: int, bold: bool = True) -> ImageFont.FreeTypeFont:
    """A shipped font at ``size`` px (DejaVu Sans Bold, or DejaVu Sans), loaded once."""
    return default_assets().font(size, bold)


class Renderer:
    """``Renderer((128, 64)).render(frame)`` -> a mode "1" image. Fonts and icons load once.

    >>> from stretchbox.core.frame import Frame
    >>> Renderer((128, 64)).render(Frame("hold", name="Calf", icon="calf", side="left", seconds=30)).size
    (128, 64)
    """

    def __init__(self, size: tuple[int, int] = (128, 64), assets: Assets | None = None, icons: Icons | None = None):
        self.panel = (int(size[0]), int(size[1]))
        # Layouts exist for 128x64 and 128x32 (compact); another panel gets the nearest one, centred
        # on a larger panel or shrunk to fit a smaller one.
        self.size = (128, 64) if self.panel[1] >= 64 else (128, 32)
        self.assets = assets or default_assets()
        self.icons = icons or Icons(self.assets)
        self.compact = self.size[1] < 64

    def font(self, size: int, bold: bool = True) -> ImageFont.FreeTypeFont:
        return self.assets.font(size, bold)

    def largest_fitting(self, text: str, sizes: tuple[int, ...], room: int, *, bold: bool = True,
                        extra: int = 0) -> int | None:
        """The first of ``sizes`` (largest first) in which ``text``, plus ``extra`` pixels, fits ``room``;
        None when none does (the caller then shortens at its smallest): shrink before shortening."""
        return next((n for n in sizes if width(self.font(n, bold), text) + extra <= room), None)

    def render(self, frame: Frame) -> Image.Image:
        image = Image.new("1", self.size, 0)
        draw = ImageDraw.Draw(image)
        draw.fontmode = "1"  # no antialiasing: crisp pixels on a 1-bit panel
        screen = frame.screen.replace("-", "_")
        painter = getattr(self, "compact_" + screen, None) if self.compact else None
        (painter or getattr(self, screen))(image, draw, frame)
        return self._to_panel(image)

    def _to_panel(self, image: Image.Image) -> Image.Image:
        pw, ph = self.panel
        if (pw, ph) == self.size:
            return image
        if pw >= self.size[0] and ph >= self.size[1]:
            out = Image.new("1", self.panel, 0)
            out.paste(image, ((pw - self.size[0]) // 2, (ph - self.size[1]) // 2))
            return out
        small = image.convert("L")
        small.thumbnail(self.panel, Image.Resampling.LANCZOS)
        out = Image.new("L", self.panel, 0)
        out.paste(small, ((pw - small.width) // 2, (ph - small.height) // 2))
        return out.point(lambda p: 255 if p >= 96 else 0).convert("1")

    # ---- pieces -------------------------------------------------------------
    def text(self, draw: ImageDraw.ImageDraw, xy: tuple[int, int], text: str, size: int, *, bold: bool = True,
             max_width: int | None = None, anchor: str = "la") -> int:
        """Draw one line, shortened to ``max_width``; returns the width drawn."""
        f = self.font(size, bold)
        limit = max_width if max_width is not None else self.size[0] - xy[0]
        line = fit(text, f, limit)
        if line:
            draw.text(xy, line, font=f, fill=1, anchor=anchor)
        return width(f, line)

    def lines(self, draw: ImageDraw.ImageDraw, xy: tuple[int, int], text: str, size: int, max_lines: int, *,
              bold: bool = False, max_width: int | None = None, spacing: int = 1, pixel: bool = False) -> int:
        """Word-wrapped into at most ``max_lines`` lines that fit the panel; returns the next free row."""
        f = self.assets.pixel(size) if pixel else self.font(size, bold)
        x, y = xy
        limit = max_width if max_width is not None else self.size[0] - x
        step = size + spacing
        ink = f.getbbox("Mgjy")[3]  # how far below its top a line's ink reaches
        room = (self.size[1] - y - ink) // step + 1 if self.size[1] - y >= ink else 0
        budget = min(max_lines, room)
        paragraphs = [p for p in re.split(r"\n|\s{2,}", text.strip()) if p.strip()]  # 2+ spaces: a new line
        for i, paragraph in enumerate(paragraphs):
            lines = wrap(paragraph, f, limit, budget)
            if len(lines) >= budget and i + 1 < len(paragraphs):  # no room for the rest: the last line says so
                lines = wrap(" ".join(paragraphs[i:]), f, limit, budget)
            for line in lines:
                draw.text((x, y), line, font=f, fill=1)
                y += step
            budget -= len(lines)
            if budget <= 0:
                break
        return y

    def digits(self, draw: ImageDraw.ImageDraw, right: int, top: int, seconds: int | None, size: int, *,
               left: int = 2, clock: bool = False) -> int:
        """The big countdown, right-aligned at ``right`` and shrunk to start at ``left`` or after;
        m:ss from 100 s up (always with ``clock``). Returns its width."""
        if seconds is None:
            return 0
        text = countdown_text(seconds, clock)
        f = self.font(size)
        while width(f, text) > right - left and size > 12:
            size -= 2
            f = self.font(size)
        draw.text((right, top), text, font=f, fill=1, anchor="ra")
        return width(f, text)

    def icon(self, image: Image.Image, frame: Frame, xy: tuple[int, int], box: int, *, mirrored: bool | None = None):
        flip = frame.side == "right" if mirrored is None else mirrored
        image.paste(self.icons.get(frame.icon, box, mirrored=flip, png=frame.icon_png), xy)

    def side_width(self, frame: Frame, size: int = 13) -> int:
        """How wide ``side`` draws: the word, a gap and the arrow."""
        return width(self.font(size), frame.side.upper()) + 3 + size - 3 if frame.side else 0

    def side(self, draw: ImageDraw.ImageDraw, frame: Frame, x: int, y: int, size: int = 13) -> None:
        """LEFT with an arrow pointing left, RIGHT with one pointing right: a word and a shape."""
        if not frame.side:
            return
        word = frame.side.upper()
        f = self.font(size)
        w = width(f, word)
        arrow = size - 3
        if frame.side == "left":
            draw.polygon([(x, y + size // 2), (x + arrow, y + 1), (x + arrow, y + size - 1)], fill=1)
            draw.text((x + arrow + 3, y), word, font=f, fill=1)
        else:
            draw.text((x, y), word, font=f, fill=1)
            ax = x + w + 3
            draw.polygon([(ax + arrow, y + size // 2), (ax, y + 1), (ax, y + size - 1)], fill=1)

    def progress(self, draw: ImageDraw.ImageDraw, frame: Frame) -> None:
        w, h = self.size
        draw.rectangle((0, h - 2, w - 1, h - 1), outline=0, fill=0)
        filled = round((w - 1) * max(0.0, min(1.0, frame.progress)))
        if filled:
            draw.rectangle((0, h - 2, filled, h - 1), fill=1)

    def name_line(self, draw: ImageDraw.ImageDraw, frame: Frame, y: int, size: int = 11, *,
                  right: str | None = None) -> None:
        """Stretch name on the left; on the right ``right``, else the time left (in a lighter face, so the
        name keeps more letters), else ``3/6``."""
        left = time_left(frame) if right is None else ""
        count = right if right is not None else left or (f"{frame.index}/{frame.count}" if frame.count else "")
        f = self.font(size - 1, False) if left else self.font(size)
        cw = width(f, count) + 4 if count else 0
        self.text(draw, (0, y), frame.name, size, max_width=self.size[0] - cw)
        if count:
            draw.text((self.size[0] - 1, y + 1 if left else y), count, font=f, fill=1, anchor="ra")

    def body(self, draw: ImageDraw.ImageDraw, xy: tuple[int, int], text: str | tuple[str, ...], rows: int,
             elapsed: int, *, max_width: int | None = None, step: int = BODY_STEP) -> None:
        """A text read whole, in the pixel font: the page of ``rows`` lines that ``elapsed`` falls on."""
        f = self.assets.pixel(12)
        x, y = xy
        pages = paginate(text, f, max_width if max_width is not None else self.size[0] - x, rows)
        if pages:
            for i, line in enumerate(pages[page_at(pages, elapsed)]):
                draw.text((x, y + i * step), line, font=f, fill=1)

    def count_up(self, draw: ImageDraw.ImageDraw, x: int, y: int, size: int) -> int:
        """An open hold's mark: an arrow pointing up, beside a number that counts up. Returns its width."""
        draw.polygon([(x, y + size * 2 // 3), (x + size // 2, y), (x + size, y + size * 2 // 3)], fill=1)
        draw.rectangle((x + size // 2 - size // 6, y + size * 2 // 3, x + size // 2 + size // 6, y + size), fill=1)
        return size + 1

    def short_title(self, frame: Frame, size: int, room: int) -> str:
        """The title, or its first word when the whole is too wide: SWITCH, with the side under it, says it all."""
        title = frame.title or frame.screen.upper()
        return title if width(self.font(size), title) <= room else title.split()[0]

    def title_and_left(self, draw: ImageDraw.ImageDraw, frame: Frame, xy: tuple[int, int], room: int) -> bool:
        """``NEXT 6:52``: the title, then the time left without "left" (the hold screen says it in full),
        shrunk to fit ``room``; the time is left out (returns False) only when even the smaller title leaves
        no room for it."""
        title = self.short_title(frame, 10, room)
        left = time_left(frame).removesuffix(" left")
        need = 4 + width(self.font(10, False), left) if left else 0
        size = self.largest_fitting(title, (11, 10), room, extra=need)
        if size is None:
            size, left = self.largest_fitting(title, (11, 10), room) or 10, ""
        took = self.text(draw, xy, title, size, max_width=room)
        if left:
            self.text(draw, (xy[0] + took + 4, xy[1] + 1), left, 10, bold=False)
        return bool(left) or frame.routine_left is None

    # ---- 128x64 screens -------------------------------------------------------
    def splash(self, image, draw, frame: Frame) -> None:
        self.text(draw, (64, 14), frame.title or "stretchbox", 17, anchor="ma", max_width=128)
        self.text(draw, (64, 40), frame.text or "starting...", 11, bold=False, anchor="ma", max_width=128)

    def idle(self, image, draw, frame: Frame) -> None:
        if frame.count > 1:
            draw.text((127, 0), f"{frame.index}/{frame.count}", font=self.font(10, False), fill=1, anchor="ra")
        y = self.lines(draw, (0, 0), frame.title, 13, 2, bold=True, max_width=104 if frame.count > 1 else 128)
        line = f"{frame.detail}  {total_text(frame)}"
        size = self.largest_fitting(line, (11, 10), 128, bold=False) or 10
        self.text(draw, (0, max(y, 18) + 2), line, size, bold=False)
        self.text(draw, (0, 48), frame.text.upper(), 11)

    def prepare(self, image, draw, frame: Frame) -> None:
        """Icon, title with the time left, side and countdown above; the name, whole; the whole cue, two lines
        a page."""
        self.icon(image, frame, (0, 0), 28)
        room = 128 - 32 - self.digits(draw, 127, -2, frame.seconds, 30) - 4
        if self.title_and_left(draw, frame, (32, 0), room):
            self.text(draw, (0, 27), frame.name, 11)
        else:  # a wide countdown leaves the title no room for the time: it goes beside the name
            self.name_line(draw, frame, 27)
        self.side(draw, frame, 32, 15, 11)
        self.body(draw, (0, 41), frame.text, 2, frame.elapsed)

    switch = prepare  # the same job: get into position, read the cue

    def hold(self, image, draw, frame: Frame) -> None:
        """A countdown with a bar; an open hold counts up (arrow, m:ss, no bar) until B; ``+15`` when extended."""
        self.icon(image, frame, (0, 0), 48)
        self.side(draw, frame, 52, 0)
        left = 52
        if frame.open_hold:
            left += self.count_up(draw, left, 22, 14) + 2
        elif frame.extended:
            left += self.text(draw, (left, 17), f"+{frame.extended}", 12) + 3
        self.digits(draw, 127, 12, frame.seconds, 36, left=left, clock=frame.open_hold)
        self.name_line(draw, frame, 48, right="B: done" if frame.open_hold else None)
        if not frame.open_hold:
            self.progress(draw, frame)

    def rest(self, image, draw, frame: Frame) -> None:
        """Title and time left, what is next, and the next stretch's why (or its cue), three lines a page."""
        took = self.text(draw, (0, 0), frame.title or "REST", 12, max_width=60)
        room = 128 - self.digits(draw, 127, -2, frame.seconds, 28) - 4
        f = self.font(10, False)
        left = next((t for t in (time_left(frame), time_left(frame).removesuffix(" left"))
                     if width(f, t) <= room - took - 6), "")  # a time is never shortened: "left" goes first
        self.text(draw, (took + 6, 3), left, 10, bold=False)
        self.text(draw, (0, 14), frame.detail or frame.name, 11, max_width=room)
        self.body(draw, (0, 30), frame.why or frame.text, 3, frame.elapsed)

    def paused(self, image, draw, frame: Frame) -> None:
        draw.rectangle((4, 4, 15, 43), fill=1)  # the universal pause sign, big
        draw.rectangle((24, 4, 35, 43), fill=1)
        self.text(draw, (44, 0), frame.title or "PAUSED", 14, max_width=84)
        self.digits(draw, 127, 17, frame.seconds, 28, clock=frame.open_hold)  # an open hold's time held: m:ss
        self.name_line(draw, frame, 50)

    def lead_in(self, image, draw, frame: Frame) -> None:
        self.icon(image, frame, (0, 0), 48)
        self.text(draw, (52, 0), frame.title or "GET READY", 11, max_width=76)
        self.side(draw, frame, 52, 14, 11)
        self.digits(draw, 127, 16, frame.seconds, 34)
        self.name_line(draw, frame, 50)

    def done(self, image, draw, frame: Frame) -> None:
        took = self.text(draw, (127, 3), clock_text(frame.duration), 14, anchor="ra", max_width=60)
        title, room = frame.title or "DONE", 128 - took - 6
        size = self.largest_fitting(title, (18, 16, 14), room) or 14
        self.text(draw, (0, 18 - size), title, size, max_width=room)
        if frame.detail:  # the streak, in the room of the routine's name (shown again on idle)
            self.text(draw, (0, 22), f"{frame.completed}/{frame.count} done, {frame.skipped} skipped", 11)
            self.body(draw, (0, 38), frame.detail, 2, frame.elapsed)
            return
        self.text(draw, (0, 24), f"{frame.completed}/{frame.count} stretches done", 11)
        self.text(draw, (0, 38), f"{frame.skipped} skipped", 11)
        self.text(draw, (0, 52), frame.name, 10, bold=False)

    def error(self, image, draw, frame: Frame) -> None:
        draw.polygon([(7, 0), (14, 13), (0, 13)], fill=1)  # a warning triangle
        draw.rectangle((6, 4, 8, 9), fill=0)
        draw.rectangle((6, 11, 8, 12), fill=0)
        self.text(draw, (18, 1), frame.title or "PROBLEM", 10, max_width=110)
        self.lines(draw, (0, 16), frame.text, 12, 4, spacing=0, pixel=True)

    def message(self, image, draw, frame: Frame) -> None:
        y = self.lines(draw, (0, 0), frame.title, 13, 2, bold=True, spacing=2)
        if frame.seconds is not None:
            draw.text((127, 0), str(frame.seconds), font=self.font(11), fill=1, anchor="ra")
        self.lines(draw, (0, y + 3), frame.text, 12, 3, spacing=0, pixel=True)

    def offer(self, image, draw, frame: Frame) -> None:
        """Resume after a reboot? The stretch, its side and time left in it; the answers, two lines a page."""
        self.text(draw, (0, 0), frame.title or "RESUME?", 13)
        self.text(draw, (0, 15), frame.name, 12)
        if frame.seconds is not None:
            self.text(draw, (127, 29), f"{clock_text(frame.seconds)} left", 11, anchor="ra", max_width=64)
        self.side(draw, frame, 0, 29, 11)
        self.body(draw, (0, 41), frame.lines, 2, frame.elapsed)

    def history(self, image, draw, frame: Frame) -> None:
        self.text(draw, (0, 0), frame.title or "HISTORY", 13)
        self.body(draw, (0, 17), frame.lines, 4, frame.elapsed)

    # ---- 128x32 (the other common SSD1306) ----------------------------------------
    def compact_hold(self, image, draw, frame: Frame) -> None:
        """The side over the time left (the name when unknown; ``+15`` and the time when extended; "B: done" on
        an open hold, whose m:ss counts up beside an up arrow); the countdown on the right; the icon left of
        them when it leaves the countdown its room (a m:ss countdown takes it; the name was on the prepare
        screen)."""
        regular, bold = self.font(10, False), self.font(10)
        opened = frame.open_hold and frame.screen == "hold"  # a lead-in's number counts down, open hold or not
        plus = f"+{frame.extended}" if frame.extended and not opened else ""
        if opened:
            under = "B: done"
        elif plus:
            under = time_left(frame).removesuffix(" left")  # beside "+15" the short form; dropped if no room
        else:
            under = time_left(frame) or frame.name
        column = max(self.side_width(frame, 11), width(bold, plus) if plus else min(width(regular, under), 48))
        arrow = 16 if opened else 0
        number = 0 if frame.seconds is None else width(self.font(28), countdown_text(frame.seconds, opened))
        x = 36 if 36 + column + 2 + arrow + number <= 128 else 0
        if x:
            self.icon(image, frame, (0, 0), 32)
        self.side(draw, frame, x, 0, 11)
        shown = self.digits(draw, 127, 2, frame.seconds, 28, left=x + column + 2 + arrow, clock=opened)
        if arrow:
            self.count_up(draw, 127 - shown - arrow, 6, 14)
        room = 128 - shown - arrow - 4 - x
        if not plus:
            self.text(draw, (x, 16), under, 10, bold=False, max_width=min(48, room))
            return
        took = self.text(draw, (x, 16), plus, 10, max_width=room)
        if under and took + 5 + width(regular, under) <= room:
            self.text(draw, (x + took + 5, 16), under, 10, bold=False)

    compact_lead_in = compact_hold

    def compact_prepare(self, image, draw, frame: Frame) -> None:
        """The countdown stays; left of it, in turn: icon, title (with the time left) and name or side,
        then the cue (the why on rest) two lines a page."""
        shown = self.digits(draw, 127, 2, frame.seconds, 24)
        text = (frame.why or frame.text) if frame.screen == "rest" else frame.text
        room = 128 - shown - 6
        pages = ((),) + paginate(text, self.assets.pixel(12), room, 2)  # () is the icon page
        page = pages[page_at(pages, frame.elapsed)]
        if page:
            for i, line in enumerate(page):
                draw.text((0, 4 + i * COMPACT_STEP), line, font=self.assets.pixel(12), fill=1)
            return
        self.icon(image, frame, (0, 0), 32)
        room = 128 - 36 - shown - 4
        self.title_and_left(draw, frame, (36, 0), room)
        if frame.screen == "switch" and frame.side:
            self.side(draw, frame, 36, 16, 11)  # what to switch to matters more than the name
        else:
            self.text(draw, (36, 16), frame.name, 10, bold=False, max_width=room)

    compact_switch = compact_prepare
    compact_rest = compact_prepare

    def compact_paused(self, image, draw, frame: Frame) -> None:
        draw.rectangle((2, 2, 9, 29), fill=1)
        draw.rectangle((15, 2, 22, 29), fill=1)
        self.text(draw, (30, 0), "PAUSED", 12, max_width=60)
        self.text(draw, (30, 18), frame.name, 10, bold=False, max_width=60)
        self.digits(draw, 127, 2, frame.seconds, 24, clock=frame.open_hold)

    def compact_idle(self, image, draw, frame: Frame) -> None:
        self.text(draw, (0, 0), frame.title, 12)
        line = f"{total_text(frame)}  {frame.text}"
        size = self.largest_fitting(line, (10, 9), 128, bold=False) or 9
        self.text(draw, (0, 17), line, size, bold=False)

    def compact_done(self, image, draw, frame: Frame) -> None:
        """Title and time; under it the counts, and in turn the streak when there is one."""
        self.text(draw, (0, 0), f"{frame.title or 'DONE'}  {clock_text(frame.duration)}", 13)
        counts = f"{frame.completed}/{frame.count} done, {frame.skipped} skipped"
        if frame.detail:
            self.body(draw, (0, 17), (counts, frame.detail), 1, frame.elapsed)
        else:
            self.text(draw, (0, 18), counts, 10, bold=False)

    def compact_offer(self, image, draw, frame: Frame) -> None:
        """Title and time left in the stretch; under it, in turn: the stretch and side, each answer."""
        took = 0
        if frame.seconds is not None:
            took = self.text(draw, (127, 1), f"{clock_text(frame.seconds)} left", 10, bold=False, anchor="ra",
                             max_width=60)
        self.text(draw, (0, 0), frame.title or "RESUME?", 12, max_width=128 - took - 4)
        stretch = f"{frame.name}, {frame.side}" if frame.side else frame.name
        self.body(draw, (0, 18), (stretch, *frame.lines), 1, frame.elapsed)

    def compact_history(self, image, draw, frame: Frame) -> None:
        """The title is the first line of the first page: two lines a page read faster than a title and one."""
        self.body(draw, (0, 4), (frame.title or "HISTORY", *frame.lines), 2, frame.elapsed, step=COMPACT_STEP)

    def compact_error(self, image, draw, frame: Frame) -> None:
        self.text(draw, (0, 0), frame.title or "PROBLEM", 11)
        self.lines(draw, (0, 13), frame.text, 9, 2, spacing=0)

    def compact_message(self, image, draw, frame: Frame) -> None:
        self.text(draw, (0, 0), frame.title, 12)
        self.lines(draw, (0, 15), frame.text, 9, 2, spacing=0)

    compact_splash = compact_message


def countdown_text(seconds: int, clock: bool = False) -> str:
    """The big number: plain seconds under 100 (fewer digits, bigger), m:ss above, and always for a count up."""
    return str(seconds) if seconds < 100 and not clock else clock_text(seconds)


def time_left(frame: Frame) -> str:
    """``4:12 left``, or "" when the routine's time left is unknown: an open hold ahead has no end
    to count to, and a guess (or the word "open" in a corner) would read as this step's state."""
    return "" if frame.routine_left is None else f"{clock_text(frame.routine_left)} left"


def total_text(frame: Frame) -> str:
    """An idle routine's length: ``7:08``; with open holds ``4:10 + open``, or ``open`` when every hold is."""
    if frame.open_hold:
        return f"{clock_text(frame.duration)} + open" if frame.duration else "open"
    return clock_text(frame.duration)


def render(frame: Frame, size: tuple[int, int] = (128, 64), assets: Assets | None = None) -> Image.Image:
    """One frame as a mode "1" image, by a renderer kept per (size, assets).

    >>> render(Frame("splash")).size
    (128, 64)
    """
    return _renderer(tuple(size), assets).render(frame)


@lru_cache(maxsize=8)
def _renderer(size: tuple[int, int], assets: Assets | None) -> Renderer:
    return Renderer(size, assets)
