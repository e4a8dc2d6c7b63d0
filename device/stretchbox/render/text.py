"""Text that fits: shortening and wrapping by rule, never a glyph cut in half.

Every string drawn on the panel goes through ``fit`` or ``wrap``: both measure
whole strings with the font and drop words, then characters, adding an
ellipsis, until the result fits the box. A text that must be read whole (a
cue, a why, the history's lines) goes through the pager instead: ``paginate``
splits it into pages of whole lines, ``page_at`` picks the page for the
seconds a step has run.
"""

from __future__ import annotations

import math
from functools import lru_cache

from PIL import ImageFont

ELLIPSIS = "…"


@lru_cache(maxsize=4096)  # measuring is most of a render's cost, and a panel shows the same strings over and over
def width(font: ImageFont.FreeTypeFont, text: str) -> int:
    left, _, right, _ = font.getbbox(text) if text else (0, 0, 0, 0)
    return right - min(left, 0)


def fit(text: str, font: ImageFont.FreeTypeFont, max_width: int) -> str:
    """``text`` if it fits, else shortened at a word (or, failing that, a character) with an ellipsis."""
    text = " ".join(text.split())
    if width(font, text) <= max_width:
        return text
    words = text.split(" ")
    for n in range(len(words) - 1, 0, -1):
        candidate = " ".join(words[:n]).rstrip(",.;:-") + ELLIPSIS
        if width(font, candidate) <= max_width and n > 1:
            return candidate
    for n in range(len(text) - 1, 0, -1):
        candidate = text[:n].rstrip() + ELLIPSIS
        if width(font, candidate) <= max_width:
            return candidate
    return ELLIPSIS if width(font, ELLIPSIS) <= max_width else ""


def wrap(text: str, font: ImageFont.FreeTypeFont, max_width: int, max_lines: int) -> list[str]:
    """Greedy word wrap into at most ``max_lines`` lines; what is left goes on the last, shortened by ``fit``."""
    words = text.split()
    if max_lines <= 1 or not words:
        return [fit(text, font, max_width)] if words and max_lines >= 1 else []
    lines: list[str] = []
    current = ""
    for i, word in enumerate(words):
        candidate = f"{current} {word}".strip()
        if current and width(font, candidate) > max_width:
            lines.append(current)
            current = word
            if len(lines) == max_lines - 1:
                current = " ".join(words[i:])
                break
        else:
            current = candidate
    lines.append(current)
    return [fit(line, font, max_width) for line in lines]


# ---- the pager: a long text as pages of whole lines, shown in turn -----------------------------------

# How long a page stays: at least MIN_PAGE_SECONDS, more for a page of many words, read at
# WORDS_PER_SECOND from arm's length while holding a stretch (silent reading is ~4 words/s at a desk).
MIN_PAGE_SECONDS = 3
WORDS_PER_SECOND = 2.5


def split_lines(text: str, font: ImageFont.FreeTypeFont, max_width: int) -> tuple[str, ...]:
    """Every word of ``text``, greedily in lines no wider than ``max_width``; nothing dropped, no ellipsis.

    A line breaks only between words, except a single word wider than the line, which is split
    between letters (the only way to show it whole).
    """
    return _split_lines(" ".join(text.split()), font, max_width)


@lru_cache(maxsize=256)
def _split_lines(text: str, font: ImageFont.FreeTypeFont, max_width: int) -> tuple[str, ...]:
    lines: list[str] = []
    current = ""
    for word in text.split(" ") if text else ():
        candidate = f"{current} {word}" if current else word
        if width(font, candidate) <= max_width:
            current = candidate
            continue
        if current:
            lines.append(current)
        current = word
        while width(font, current) > max_width and len(current) > 1:  # one word wider than the line
            cut = max(n for n in range(1, len(current)) if n == 1 or width(font, current[:n]) <= max_width)
            lines.append(current[:cut])
            current = current[cut:]
    if current:
        lines.append(current)
    return tuple(lines)


def paginate(text: str | tuple[str, ...], font: ImageFont.FreeTypeFont, max_width: int,
             rows: int) -> tuple[tuple[str, ...], ...]:
    """``text`` as pages of at most ``rows`` lines (``split_lines``); ``()`` for an empty text.

    A tuple is several paragraphs (the offer's and history's lines): each starts a new line.
    """
    paragraphs = (text,) if isinstance(text, str) else text
    lines = tuple(line for paragraph in paragraphs for line in split_lines(paragraph, font, max_width))
    rows = max(1, rows)
    return tuple(lines[i:i + rows] for i in range(0, len(lines), rows))


def page_seconds(page: tuple[str, ...]) -> int:
    """How many seconds ``page`` stays on the panel."""
    words = sum(len(line.split()) for line in page)
    return max(MIN_PAGE_SECONDS, math.ceil(words / WORDS_PER_SECOND))


def page_at(pages: tuple[tuple[str, ...], ...], elapsed: int) -> int:
    """Which page shows ``elapsed`` whole seconds into a step: each for its ``page_seconds``, then round again."""
    if len(pages) <= 1:
        return 0
    spans = [page_seconds(p) for p in pages]
    t = max(0, int(elapsed)) % sum(spans)
    for i, span in enumerate(spans):
        if t < span:
            return i
        t -= span
    return len(pages) - 1  # not reached: t < sum(spans)
