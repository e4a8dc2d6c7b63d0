"""Stretch icons: the built-in pictograms, or a routine's own PNG beside its file.

A routine's ``icon:`` names a built-in icon (``core.icons.BUILTIN_ICONS``) or
a PNG in the routine's own folder (``name`` or ``name.png``, matched without
regard to case, as FAT sticks mangle it). Such a file came off a USB stick, so
it is read defensively:

* a plain file name only: no ``/`` or ``\\``, not absolute, no ``.``/``..``,
  no hidden file, and no symbolic link (a link could point anywhere);
* at most ``MAX_BYTES`` (256 KiB) on disk and ``MAX_PIXELS`` (1024x1024),
  checked from the PNG header before anything is decoded; Pillow's
  decompression-bomb warning is an error too;
* scaled to fit the icon box and dithered to 1 bit (Floyd-Steinberg). The
  picture is what stands out: with transparency the opaque pixels, else a
  light background is inverted so the figure is lit on the dark panel.

Anything wrong gives the generic icon: ``load_icon`` raises ``IconError``
(carrying the generic picture as ``fallback``), ``resolve_icon`` returns
``(image, problem)`` and never raises.

>>> image, problem = resolve_icon("calf")
>>> image.mode, image.size, problem
('1', (48, 48), None)
>>> resolve_icon("../../etc/passwd", "/tmp")[1]
"icon '../../etc/passwd' must be a plain file name beside the routine"
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

from PIL import Image, ImageOps, ImageStat

from ..core.icons import BUILTIN_ICONS, GENERIC_ICON
from .assets import Assets, default_assets

GENERIC = GENERIC_ICON
BOX = 48  # the built-in icons' size, and the default box
MAX_BYTES = 256 * 1024
MAX_SIDE = 1024
MAX_PIXELS = MAX_SIDE * MAX_SIDE


class IconError(ValueError):
    """Why a routine's icon cannot be used; ``fallback`` is the generic icon to show instead."""

    def __init__(self, message: str, fallback: Image.Image | None = None):
        super().__init__(message)
        self.fallback = fallback


def load_icon(name: str, routine_dir: str | os.PathLike | None = None, *, box: int = BOX,
              assets: Assets | None = None) -> Image.Image:
    """The icon ``name`` as a ``box`` x ``box`` mode "1" image, or IconError (with the generic one)."""
    assets = assets or default_assets()
    try:
        if not name or name in BUILTIN_ICONS:
            return fit_builtin(assets.open_icon(name or GENERIC), box)
        return load_file(routine_icon_path(name, routine_dir), box)
    except IconError as exc:
        raise IconError(str(exc), fit_builtin(assets.open_icon(GENERIC), box)) from None


def resolve_icon(name: str, routine_dir: str | os.PathLike | None = None, *, box: int = BOX,
                 assets: Assets | None = None) -> tuple[Image.Image, str | None]:
    """``(image, None)``, or ``(generic image, why)`` when the icon cannot be used."""
    try:
        return load_icon(name, routine_dir, box=box, assets=assets), None
    except IconError as exc:
        assert exc.fallback is not None
        return exc.fallback, str(exc)


def routine_icon_path(name: str, routine_dir: str | os.PathLike | None) -> Path:
    """The file ``name`` or ``name.png`` in ``routine_dir``, refusing anything that leaves it."""
    if not routine_dir:
        raise IconError(f"icon '{name}' is not a built-in icon ({', '.join(BUILTIN_ICONS)})")
    if ("/" in name or "\\" in name or "\0" in name or os.path.isabs(name) or name.startswith(".")
            or (os.altsep and os.altsep in name)):
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
    if not match.is_file():
        raise IconError(f"icon '{match.name}' is not a file")
    return match


def load_file(path: Path, box: int = BOX) -> Image.Image:
    """A PNG within the limits, scaled to fit ``box`` x ``box`` and dithered to 1 bit, or IconError."""
    try:
        size = path.stat().st_size
        if size > MAX_BYTES:
            raise IconError(f"icon '{path.name}' is {size:,} bytes; at most {MAX_BYTES:,}")
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path, formats=["PNG"]) as im:  # reads the header only
                w, h = im.size
                if w > MAX_SIDE or h > MAX_SIDE or w * h > MAX_PIXELS:
                    raise IconError(f"icon '{path.name}' is {w}x{h}; at most {MAX_SIDE}x{MAX_SIDE}")
                im.load()
                image = im.copy()
    except IconError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise IconError(f"icon '{path.name}' is a decompression bomb") from None
    except Exception as exc:  # hostile bytes: any decoder failure means "not a usable PNG"
        raise IconError(f"icon '{path.name}' is not a usable PNG ({type(exc).__name__})") from None
    grey = _ink(image)
    grey.thumbnail((box, box), Image.Resampling.LANCZOS)
    canvas = Image.new("L", (box, box), 0)
    canvas.paste(grey, ((box - grey.width) // 2, (box - grey.height) // 2))
    return canvas.convert("1", dither=Image.Dither.FLOYDSTEINBERG)


def _ink(image: Image.Image) -> Image.Image:
    """Grey levels where bright = lit: opacity if the picture has transparency, else luminance
    with a light background (judged by the border) inverted."""
    if image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info:
        alpha = image.convert("RGBA").getchannel("A")
        if alpha.getextrema()[0] < 255:
            return alpha
    grey = image.convert("L")
    w, h = grey.size
    border = [grey.crop(b) for b in ((0, 0, w, 1), (0, h - 1, w, h), (0, 0, 1, h), (w - 1, 0, w, h))]
    mean = sum(ImageStat.Stat(b).mean[0] * b.width * b.height for b in border) / sum(b.width * b.height for b in border)
    return ImageOps.invert(grey) if mean > 127 else grey


def fit_builtin(image: Image.Image, box: int) -> Image.Image:
    """A built-in 1-bit icon at ``box`` px: as is at its own size, else resampled with a low
    threshold so the 4 px strokes stay bold."""
    image = image.convert("1")
    if image.size == (box, box):
        return image
    grey = ImageOps.pad(image.convert("L"), (box, box), method=Image.Resampling.LANCZOS, color=0)
    return grey.point(lambda p: 255 if p >= 96 else 0).convert("1")


class Icons:
    """Each icon loaded once per box size, with a mirrored copy for the right side.

    ``problems`` maps ``(name, routine_dir)`` to why an icon fell back to generic.
    """

    def __init__(self, assets: Assets | None = None):
        self.assets = assets or default_assets()
        self._cache: dict[tuple, Image.Image] = {}
        self.problems: dict[tuple[str, str], str] = {}

    def get(self, name: str, box: int, *, mirrored: bool = False, routine_dir: str = "") -> Image.Image:
        key = (name, box, mirrored, routine_dir)
        if key not in self._cache:
            image, problem = resolve_icon(name, routine_dir, box=box, assets=self.assets)
            if problem:
                self.problems[(name, routine_dir)] = problem
            self._cache[key] = ImageOps.mirror(image) if mirrored else image
        return self._cache[key]
