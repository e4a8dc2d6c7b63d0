"""A routine's own icon files: where a library routine's icon is, and whether some bytes are an acceptable icon.

This module exists so that the USB import and the library share one icon check.
The name rule and the limits live in ``core.icons``.
"""

from __future__ import annotations

import io
import warnings
from pathlib import Path

from ..core.icons import BUILTIN_ICONS as CORE_ICONS
from ..core.icons import MAX_ICON_BYTES, MAX_ICON_SIDE, icon_filename
from ..core.routine import Routine

# The icons the renderer draws, as a set; their names live in the core.
BUILTIN_ICONS = frozenset(CORE_ICONS)


def icon_path(routine: Routine, icon: str) -> Path | None:
    """A library routine's own icon file, or None (built-in name, missing: draw the generic icon)."""
    if icon in BUILTIN_ICONS or not routine.source:
        return None
    path = Path(routine.source).parent / icon_filename(icon)
    return path if path.is_file() and not path.is_symlink() else None


def check_icon(raw: bytes) -> str | None:
    """Why these bytes are not an acceptable icon, or None when they are a sound PNG.

    The pixel size is checked from the header before anything is decoded.
    """
    if len(raw) > MAX_ICON_BYTES:
        return f"is {len(raw):,} bytes; the limit is {MAX_ICON_BYTES:,}"
    from PIL import Image, UnidentifiedImageError

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(raw), formats=["PNG"]) as im:
                w, h = im.size
                if w > MAX_ICON_SIDE or h > MAX_ICON_SIDE:
                    return f"is {w}x{h} pixels; at most {MAX_ICON_SIDE}x{MAX_ICON_SIDE}"
                im.verify()
            with Image.open(io.BytesIO(raw), formats=["PNG"]) as im:
                im.load()
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        return "is a decompression bomb (claims a huge image)"
    except UnidentifiedImageError:
        return "is not a PNG image"
    except Exception as exc:  # noqa: BLE001 - a third-party decoder on hostile bytes: any failure means "damaged"
        return f"is a damaged PNG ({type(exc).__name__})"
    return None
