"""Frames to 1-bit images: one function per screen, Pillow only.

Design rules for a panel glanced at from arm's length, outdoors:
* white on black, bold type; nothing that matters is small or inverted;
* the countdown is the biggest thing on a timing screen (digits >= 24 px),
  the icon is >= 40 px tall on the hold screen, the side is a word and an arrow;
* every string passes through ``fit``/``wrap`` so nothing is cut mid-glyph;
* fonts ship in assets/fonts (never Pillow's default font), so images are stable.
"""

from __future__ import annotations

import re
from functools import lru_cache

from PIL import Image, ImageDraw, ImageFont

from ..core.frame import Frame, clock_text
from .assets import Assets, default_assets
from .icons import Icons
from .text import fit, width, wrap


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

    def digits(self, draw: ImageDraw.ImageDraw, right: int, top: int, seconds: int | None, size: int) -> int:
        """The big countdown, right-aligned at ``right``; m:ss from 100 s up. Returns its width."""
        if seconds is None:
            return 0
        text = str(seconds) if seconds < 100 else clock_text(seconds)
        f = self.font(size)
        while width(f, text) > right - 2 and size > 12:
            size -= 2
            f = self.font(size)
        draw.text((right, top), text, font=f, fill=1, anchor="ra")
        return width(f, text)

    def icon(self, image: Image.Image, frame: Frame, xy: tuple[int, int], box: int, *, mirrored: bool | None = None):
        flip = frame.side == "right" if mirrored is None else mirrored
        image.paste(self.icons.get(frame.icon, box, mirrored=flip, png=frame.icon_png), xy)

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

    def name_line(self, draw: ImageDraw.ImageDraw, frame: Frame, y: int, size: int = 11) -> None:
        """Stretch name on the left, ``3/6`` on the right."""
        count = f"{frame.index}/{frame.count}" if frame.count else ""
        f = self.font(size)
        cw = width(f, count) + 4 if count else 0
        self.text(draw, (0, y), frame.name, size, max_width=self.size[0] - cw)
        if count:
            draw.text((self.size[0] - 1, y), count, font=f, fill=1, anchor="ra")

    # ---- 128x64 screens -------------------------------------------------------
    def splash(self, image, draw, frame: Frame) -> None:
        self.text(draw, (64, 14), frame.title or "stretchbox", 17, anchor="ma", max_width=128)
        self.text(draw, (64, 40), frame.text or "starting...", 11, bold=False, anchor="ma", max_width=128)

    def idle(self, image, draw, frame: Frame) -> None:
        if frame.count > 1:
            draw.text((127, 0), f"{frame.index}/{frame.count}", font=self.font(10, False), fill=1, anchor="ra")
        y = self.lines(draw, (0, 0), frame.title, 13, 2, bold=True, max_width=104 if frame.count > 1 else 128)
        self.text(draw, (0, max(y, 18) + 2), f"{frame.detail}  {clock_text(frame.duration)}", 11, bold=False)
        self.text(draw, (0, 48), frame.text.upper(), 11)

    def prepare(self, image, draw, frame: Frame) -> None:
        self.icon(image, frame, (0, 0), 32)
        self.text(draw, (36, 0), frame.title or "NEXT", 12, max_width=44)
        self.digits(draw, 127, -2, frame.seconds, 30)
        self.side(draw, frame, 36, 16, 11)
        self.text(draw, (0, 33), frame.name, 12)
        self.lines(draw, (0, 46), frame.text, 9, 2, spacing=0)

    def hold(self, image, draw, frame: Frame) -> None:
        self.icon(image, frame, (0, 0), 48)
        self.side(draw, frame, 52, 0)
        self.digits(draw, 127, 12, frame.seconds, 36)
        self.name_line(draw, frame, 48)
        self.progress(draw, frame)

    def switch(self, image, draw, frame: Frame) -> None:
        self.text(draw, (64, 0), frame.title or "SWITCH SIDES", 13, anchor="ma", max_width=128)
        self.icon(image, frame, (0, 16), 48)
        self.side(draw, frame, 54, 18, 12)
        self.digits(draw, 127, 33, frame.seconds, 28)

    def rest(self, image, draw, frame: Frame) -> None:
        self.text(draw, (0, 0), frame.title or "REST", 14)
        self.digits(draw, 127, -2, frame.seconds, 34)
        self.text(draw, (0, 36), "next:", 10, bold=False)
        self.text(draw, (0, 48), frame.name, 12)

    def paused(self, image, draw, frame: Frame) -> None:
        draw.rectangle((4, 4, 15, 43), fill=1)  # the universal pause sign, big
        draw.rectangle((24, 4, 35, 43), fill=1)
        self.text(draw, (44, 0), frame.title or "PAUSED", 14, max_width=84)
        self.digits(draw, 127, 17, frame.seconds, 28)
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
        size = next((n for n in (18, 16, 14) if width(self.font(n), title) <= room), 14)  # shrink before shortening
        self.text(draw, (0, 18 - size), title, size, max_width=room)
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

    # ---- 128x32 (the other common SSD1306) ----------------------------------------
    def compact_hold(self, image, draw, frame: Frame) -> None:
        self.icon(image, frame, (0, 0), 32)
        self.side(draw, frame, 36, 0, 11)
        self.text(draw, (36, 16), frame.name, 10, bold=False, max_width=48)
        self.digits(draw, 127, 2, frame.seconds, 28)

    compact_lead_in = compact_hold

    def compact_prepare(self, image, draw, frame: Frame) -> None:
        self.icon(image, frame, (0, 0), 32)
        room = 128 - 36 - self.digits(draw, 127, 2, frame.seconds, 24) - 4
        title = frame.title or frame.screen.upper()
        if frame.screen == "switch" and width(self.font(10), title) > room:
            title = title.split()[0]  # SWITCH, with the side under it, says it all
        size = next((n for n in (11, 10) if width(self.font(n), title) <= room), 10)  # shrink before shortening
        self.text(draw, (36, 0), title, size, max_width=room)
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
        self.digits(draw, 127, 2, frame.seconds, 24)

    def compact_idle(self, image, draw, frame: Frame) -> None:
        self.text(draw, (0, 0), frame.title, 12)
        self.text(draw, (0, 17), f"{clock_text(frame.duration)}  {frame.text}", 10, bold=False)

    def compact_done(self, image, draw, frame: Frame) -> None:
        self.text(draw, (0, 0), f"{frame.title or 'DONE'}  {clock_text(frame.duration)}", 13)
        self.text(draw, (0, 18), f"{frame.completed}/{frame.count} done, {frame.skipped} skipped", 10, bold=False)

    def compact_error(self, image, draw, frame: Frame) -> None:
        self.text(draw, (0, 0), frame.title or "PROBLEM", 11)
        self.lines(draw, (0, 13), frame.text, 9, 2, spacing=0)

    def compact_message(self, image, draw, frame: Frame) -> None:
        self.text(draw, (0, 0), frame.title, 12)
        self.lines(draw, (0, 15), frame.text, 9, 2, spacing=0)

    compact_splash = compact_message


def render(frame: Frame, size: tuple[int, int] = (128, 64), assets: Assets | None = None) -> Image.Image:
    """One frame as a mode "1" image, by a renderer kept per (size, assets).

    >>> render(Frame("splash")).size
    (128, 64)
    """
    return _renderer(tuple(size), assets).render(frame)


@lru_cache(maxsize=8)
def _renderer(size: tuple[int, int], assets: Assets | None) -> Renderer:
    return Renderer(size, assets)
