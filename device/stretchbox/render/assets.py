"""The fonts and icons the renderer draws with, found as package data.

The package ``stretchbox.assets`` is the repo's ``assets/`` folder in a
checkout (editable install) and ``stretchbox/assets`` inside an installed
wheel; everything is read through that one handle, once. It is found by the
import system's spec, a plain folder; ``importlib.resources`` (which imports
zipfile and tempfile: ~4 ms of the splash's start-up here) only when the
package is not a folder.

>>> Assets().font(24).getbbox("30")[3] > 16
True
"""

from __future__ import annotations

import io
from functools import lru_cache
from importlib.util import find_spec
from pathlib import Path
from typing import TYPE_CHECKING

from PIL import Image, ImageFont

if TYPE_CHECKING:
    from importlib.resources.abc import Traversable

PACKAGE = "stretchbox.assets"

BOLD = "DejaVuSans-Bold.ttf"
REGULAR = "DejaVuSans.ttf"
PIXEL = "terminus-bold.otb"  # a bitmap font: crisp in mode "1", only at its built-in sizes
PIXEL_SIZES = (12, 14, 16, 18, 20, 22, 24, 28, 32)


def shipped() -> Path | Traversable:
    """The shipped assets: the package's folder, or its resources when it is not a folder (a zip)."""
    spec = find_spec(PACKAGE)
    for location in (spec.submodule_search_locations or []) if spec is not None else []:
        if Path(location, "fonts").is_dir():
            return Path(location)
    from importlib.resources import files

    return files(PACKAGE)


class Assets:
    """Fonts by size (cached) and the built-in icon files; ``root`` defaults to the shipped assets."""

    def __init__(self, root: Path | Traversable | None = None):
        self.root = root if root is not None else shipped()
        self._fonts: dict[tuple[str, int], ImageFont.FreeTypeFont] = {}

    def font(self, size: int, bold: bool = True) -> ImageFont.FreeTypeFont:
        """DejaVu Sans (Bold) at ``size`` px; never Pillow's build-dependent default font."""
        return self._load(BOLD if bold else REGULAR, size)

    def pixel(self, size: int = 12) -> ImageFont.FreeTypeFont:
        """Terminus Bold, a pixel font for small text (6x12 px cells at 12)."""
        if size not in PIXEL_SIZES:
            raise ValueError(f"the pixel font has sizes {PIXEL_SIZES}, not {size}")
        return self._load(PIXEL, size)

    def _load(self, name: str, size: int) -> ImageFont.FreeTypeFont:
        key = (name, size)
        if key not in self._fonts:
            resource = self.root / "fonts" / key[0]
            source = str(resource) if isinstance(resource, Path) else io.BytesIO(resource.read_bytes())
            self._fonts[key] = ImageFont.truetype(source, size)
        return self._fonts[key]

    def icon_file(self, name: str) -> Traversable:
        return self.root / "icons" / f"{name}.png"

    def open_icon(self, name: str) -> Image.Image:
        """A built-in icon (48x48, mode "1"); FileNotFoundError if there is none by that name."""
        with self.icon_file(name).open("rb") as f:
            image = Image.open(f, formats=["PNG"])
            image.load()
        return image.convert("1")


@lru_cache(maxsize=1)
def default_assets() -> Assets:
    return Assets()
