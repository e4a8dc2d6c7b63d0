"""Stretch icons: the built-in pictograms, or a routine's own PNG beside its file.

A routine's icon is read defensively (it came off a USB stick): a plain file
name inside the routine's folder only (no links out), at most 256 KiB and
1024x1024 pixels checked before decoding, then scaled to fit and dithered to
1 bit. Anything wrong shows the generic icon; ``IconError`` says why.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

from PIL import Image, ImageOps

from ..resources import data_dir

GENERIC = "generic"
MAX_BYTES = 256 * 1024
MAX_SIDE = 1024


class IconError(ValueError):
    """Why a routine's icon could not be used (the generic one is shown instead)."""


def builtin_dir() -> Path:
    return data_dir("assets") / "icons"


def _routine_icon_path(name: str, routine_dir: str) -> Path:
    if not routine_dir:
        raise IconError(f"icon '{name}' is not a built-in icon")
    if os.sep in name or (os.altsep and os.altsep in name) or name in (".", "..") or name.startswith("."):
        raise IconError(f"icon '{name}' must be a plain file name beside the routine")
    folder = Path(routine_dir).resolve()
    wanted = {name.lower(), f"{name.lower()}.png"}
    try:
        match = next((p for p in sorted(folder.iterdir()) if p.name.lower() in wanted), None)
    except OSError as exc:
        raise IconError(f"cannot read the routine's folder: {exc.strerror or exc}") from None
    if match is None:
        raise IconError(f"no icon file '{name}' or '{name}.png' beside the routine")
    if match.is_symlink() or match.resolve().parent != folder:
        raise IconError(f"icon '{match.name}' is a link out of the routine's folder")
    return match


def load_file(path: Path, box: int) -> Image.Image:
    """A PNG scaled to fit ``box`` x ``box`` and dithered to 1 bit, or IconError."""
    try:
        size = path.stat().st_size
        if size > MAX_BYTES:
            raise IconError(f"icon '{path.name}' is {size:,} bytes; at most {MAX_BYTES:,}")
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path, formats=["PNG"]) as im:
                if im.width > MAX_SIDE or im.height > MAX_SIDE:
                    raise IconError(f"icon '{path.name}' is {im.width}x{im.height}; at most {MAX_SIDE}x{MAX_SIDE}")
                im.load()
                image = im.convert("RGBA")
    except IconError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise IconError(f"icon '{path.name}' is a decompression bomb") from None
    except Exception as exc:  # hostile bytes: any decoder failure means "not a usable PNG"
        raise IconError(f"icon '{path.name}' is not a usable PNG ({type(exc).__name__})") from None
    # transparent areas are background (black); then fit and dither
    background = Image.new("RGBA", image.size, (0, 0, 0, 255))
    grey = Image.alpha_composite(background, image).convert("L")
    grey.thumbnail((box, box), Image.Resampling.LANCZOS)
    canvas = Image.new("L", (box, box), 0)
    canvas.paste(grey, ((box - grey.width) // 2, (box - grey.height) // 2))
    return canvas.convert("1", dither=Image.Dither.FLOYDSTEINBERG)


class Icons:
    """Loads each icon once per size; mirrored copies for the right side."""

    def __init__(self, folder: Path | None = None):
        self.folder = folder or builtin_dir()
        self._cache: dict[tuple, Image.Image] = {}
        self.problems: dict[tuple[str, str], str] = {}

    def get(self, name: str, box: int, *, mirrored: bool = False, routine_dir: str = "") -> Image.Image:
        key = (name, box, mirrored, routine_dir)
        if key not in self._cache:
            image = self._load(name or GENERIC, box, routine_dir)
            self._cache[key] = ImageOps.mirror(image) if mirrored else image
        return self._cache[key]

    def _load(self, name: str, box: int, routine_dir: str) -> Image.Image:
        builtin = self.folder / f"{name}.png"
        try:
            if "/" not in name and builtin.is_file():
                return self._fit(Image.open(builtin).convert("1"), box)
            return load_file(_routine_icon_path(name, routine_dir), box)
        except IconError as exc:
            self.problems[(name, routine_dir)] = str(exc)
            return self._fit(Image.open(self.folder / f"{GENERIC}.png").convert("1"), box)

    @staticmethod
    def _fit(image: Image.Image, box: int) -> Image.Image:
        if image.size == (box, box):
            return image
        grey = ImageOps.pad(image.convert("L"), (box, box), method=Image.Resampling.LANCZOS, color=0)
        return grey.point(lambda p: 255 if p >= 96 else 0).convert("1")  # a low threshold keeps strokes bold
