"""Animated GIFs and contact sheets of rendered screens (for the README and for looking)."""

from __future__ import annotations

from pathlib import Path
from typing import BinaryIO

from PIL import Image, ImageDraw

from .screens import font


def enlarge(image: Image.Image, scale: int) -> Image.Image:
    return image.convert("L").resize((image.width * scale, image.height * scale), Image.Resampling.NEAREST)


# A GIF frame's delay is 16 bits of hundredths of a second.
MAX_DELAY_MS = 65535 * 10


def write_gif(frames: list[tuple[float, Image.Image]], path: Path | BinaryIO, *, end: float, speed: float = 8.0,
              scale: int = 2) -> int:
    """``frames`` are (time, image) with distinct images; each shows until the next, ``speed`` times faster.

    Returns the playing time in milliseconds. GIF delays are whole 10 ms; very
    short frames are kept at 20 ms (browsers slow anything shorter down), very
    long ones at the format's longest (about 11 minutes). ``path`` may be a binary file.
    """
    if not frames:
        raise ValueError("no frames to write")
    images, durations = [], []
    for i, (t, image) in enumerate(frames):
        nxt = frames[i + 1][0] if i + 1 < len(frames) else end
        ms = min(MAX_DELAY_MS, max(20, int(round((nxt - t) * 1000 / speed / 10)) * 10))
        images.append(enlarge(image, scale).convert("P"))
        durations.append(ms)
    images[0].save(path, format="GIF", save_all=True, append_images=images[1:], duration=durations, loop=0,
                   optimize=False, disposal=1)
    return sum(durations)


def write_sheet(images: list[tuple[str, Image.Image]], path: Path | BinaryIO, *, columns: int = 3,
                scale: int = 2) -> None:
    """Every screen with its label under it, on one PNG."""
    if not images:
        raise ValueError("no screens for the sheet")
    w, h = images[0][1].width * scale, images[0][1].height * scale
    pad, label = 8, 14
    rows = (len(images) + columns - 1) // columns
    sheet = Image.new("L", (columns * (w + pad) + pad, rows * (h + pad + label) + pad), 60)
    draw = ImageDraw.Draw(sheet)
    for i, (name, image) in enumerate(images):
        x = pad + (i % columns) * (w + pad)
        y = pad + (i // columns) * (h + pad + label)
        sheet.paste(enlarge(image, scale), (x, y))
        draw.text((x, y + h + 2), name, font=font(10, False), fill=230)
    sheet.save(path, format="PNG", optimize=False)
