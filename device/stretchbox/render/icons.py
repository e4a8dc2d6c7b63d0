"""Stretch icons: the built-in pictograms, or a routine's own PNG, read when the routine was loaded.

A frame's ``icon`` names a built-in icon (``core.icons.BUILTIN_ICONS``); any
other name is a routine's own icon, whose checked PNG bytes the loader put in
``Frame.icon_png`` (see ``adapters.icons``: the renderer never opens a routine's
files). Such a picture is scaled to fit the icon box and dithered to 1 bit
(Floyd-Steinberg). The picture is what stands out: with transparency the opaque
pixels, else a light background is inverted so the figure is lit on the dark panel.

Anything wrong gives the generic icon: ``load_icon`` raises ``IconError``
(carrying the generic picture as ``fallback``), ``resolve_icon`` returns
``(image, problem)`` and never raises.

>>> image, problem = resolve_icon("calf")
>>> image.mode, image.size, problem
('1', (48, 48), None)
>>> resolve_icon("shoulder")[1]
"icon 'shoulder' is not a built-in icon, and the routine brought no picture for it"
"""

from __future__ import annotations

import io
import warnings

from PIL import Image  # ImageOps and ImageStat where icons are drawn: the splash draws none


from ..core.icons import BUILTIN_ICONS, GENERIC_ICON, MAX_ICON_SIDE
from .assets import Assets, default_assets

GENERIC = GENERIC_ICON
BOX = 48  # the built-in icons' size, and the default box


class IconError(ValueError):
    """Why a routine's icon cannot be used; ``fallback`` is the generic icon to show instead."""

    def __init__(self, message: str, fallback: Image.Image | None = None):
        super().__init__(message)
        self.fallback = fallback


def load_icon(name: str, png: bytes | None = None, *, box: int = BOX, assets: Assets | None = None) -> Image.Image:
    """The icon ``name`` (built-in, or the routine's own ``png``) as a ``box`` x ``box`` mode "1" image, or
    IconError (with the generic one)."""
    assets = assets or default_assets()
    try:
        if not name or name in BUILTIN_ICONS:
            return fit_builtin(assets.open_icon(name or GENERIC), box)
        if png is None:
            raise IconError(f"icon '{name}' is not a built-in icon, and the routine brought no picture for it")
        return from_png(name, png, box)
    except IconError as exc:
        raise IconError(str(exc), fit_builtin(assets.open_icon(GENERIC), box)) from None


def resolve_icon(name: str, png: bytes | None = None, *, box: int = BOX,
                 assets: Assets | None = None) -> tuple[Image.Image, str | None]:
    """``(image, None)``, or ``(generic image, why)`` when the icon cannot be used."""
    try:
        return load_icon(name, png, box=box, assets=assets), None
    except IconError as exc:
        assert exc.fallback is not None
        return exc.fallback, str(exc)


def from_png(name: str, png: bytes, box: int = BOX) -> Image.Image:
    """A routine's own PNG (checked when it was loaded), scaled to fit ``box`` x ``box`` and dithered to 1 bit,
    or IconError."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(png), formats=["PNG"]) as im:  # reads the header only
                w, h = im.size
                if w > MAX_ICON_SIDE or h > MAX_ICON_SIDE:
                    raise IconError(f"icon '{name}' is {w}x{h}; at most {MAX_ICON_SIDE}x{MAX_ICON_SIDE}")
                im.load()
                image = im.copy()
    except IconError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise IconError(f"icon '{name}' is a decompression bomb") from None
    except Exception as exc:  # any decoder failure means "not a usable PNG"
        raise IconError(f"icon '{name}' is not a usable PNG ({type(exc).__name__})") from None
    grey = _ink(image)
    grey.thumbnail((box, box), Image.Resampling.LANCZOS)
    canvas = Image.new("L", (box, box), 0)
    canvas.paste(grey, ((box - grey.width) // 2, (box - grey.height) // 2))
    return canvas.convert("1", dither=Image.Dither.FLOYDSTEINBERG)


def _ink(image: Image.Image) -> Image.Image:
    """Grey levels where bright = lit: opacity if the picture has transparency, else luminance
    with a light background (judged by the border) inverted."""
    from PIL import ImageOps, ImageStat

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
    from PIL import ImageOps

    image = image.convert("1")
    if image.size == (box, box):
        return image
    grey = ImageOps.pad(image.convert("L"), (box, box), method=Image.Resampling.LANCZOS, color=0)
    return grey.point(lambda p: 255 if p >= 96 else 0).convert("1")


class Icons:
    """Each icon loaded once per box size, with a mirrored copy for the right side.

    ``problems`` maps an icon name to why it fell back to generic.
    """

    def __init__(self, assets: Assets | None = None):
        self.assets = assets or default_assets()
        self._cache: dict[tuple, Image.Image] = {}
        self.problems: dict[str, str] = {}

    def get(self, name: str, box: int, *, mirrored: bool = False, png: bytes | None = None) -> Image.Image:
        key = (name, box, mirrored, png)
        if key not in self._cache:
            from PIL import ImageOps

            image, problem = resolve_icon(name, png, box=box, assets=self.assets)
            if problem:
                self.problems[name] = problem
            self._cache[key] = ImageOps.mirror(image) if mirrored else image
        return self._cache[key]
