"""Text that fits: shortening and wrapping by rule, never a glyph cut in half.

Every string drawn on the panel goes through ``fit`` or ``wrap``: both measure
whole strings with the font and drop words, then characters, adding an
ellipsis, until the result fits the box.
"""

from __future__ import annotations

from PIL import ImageFont

ELLIPSIS = "…"


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
