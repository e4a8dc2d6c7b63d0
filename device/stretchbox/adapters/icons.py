"""A routine's own icon files: found beside the routine, checked, and read once, when the routine is loaded.

This module exists so that no icon file is touched while a screen is drawn: the
loader (``routines.load_routine``) gives each stretch whose ``icon:`` is not a
built-in name the bytes of its checked PNG (``Stretch.icon_png``), and the
renderer only decodes those. The USB import checks the icons it copies with the
same ``check_icon``. The name rule is ``core.routine.ICON_NAME``; which file a name
means, and the limits, live in ``core.icons``.

Such a file came off a USB stick, so it is read defensively:

* a plain file name only (``core.routine.ICON_NAME``): no folders, not hidden;
* ``name`` or ``name.png`` beside the routine, matched without regard to case
  (FAT sticks mangle it), and no symbolic link (a link could point anywhere);
* at most ``MAX_ICON_BYTES`` (256 KiB) on disk and ``MAX_ICON_SIDE`` pixels
  each way, checked from the PNG header before anything is decoded; Pillow's
  decompression-bomb warning is an error too; then decoded once in full.

Anything wrong leaves ``icon_png`` None: the generic icon is drawn.

>>> read_icon("calf", "/nonexistent")
(None, None)
>>> read_icon("../../etc/passwd", "/tmp")
(None, "icon '../../etc/passwd' must be a plain file name beside the routine")
"""

from __future__ import annotations

import dataclasses
import io
import os
import warnings
from pathlib import Path

from ..core.icons import BUILTIN_ICONS as CORE_ICONS
from ..core.icons import MAX_ICON_BYTES, MAX_ICON_SIDE, icon_file_names, icon_filename
from ..core.routine import ICON_NAME, Routine
from .files import read_regular

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


def read_icon(name: str, routine_dir: str | os.PathLike | None,
              listing: list[Path] | None = None) -> tuple[bytes | None, str | None]:
    """``(png bytes, None)`` for a routine's own sound icon; ``(None, None)`` for a built-in name;
    ``(None, why)`` when the generic icon must be drawn instead. Never raises.

    ``listing`` is the routine folder's entries when the caller has them (one listing per routine).
    """
    if not name or name in BUILTIN_ICONS:
        return None, None
    if not routine_dir:
        return None, f"icon '{name}' is not a built-in icon ({', '.join(CORE_ICONS)})"
    if not ICON_NAME.match(name):
        return None, f"icon '{name}' must be a plain file name beside the routine"
    folder = Path(routine_dir).resolve()
    wanted = icon_file_names(name)
    try:
        entries = listing if listing is not None else sorted(folder.iterdir())
    except OSError as exc:
        return None, f"cannot read the routine's folder: {exc.strerror or exc}"
    match = next((p for p in entries if p.name.lower() in wanted), None)
    if match is None:
        return None, f"no icon file '{name}' or '{name}.png' beside the routine"
    if match.is_symlink() or match.resolve().parent != folder:
        return None, f"icon '{match.name}' is a link out of the routine's folder"
    if not match.is_file():
        return None, f"icon '{match.name}' is not a file"
    try:
        size, raw = read_regular(match, MAX_ICON_BYTES, follow_symlinks=False)
    except OSError as exc:
        return None, f"cannot read icon '{match.name}': {exc.strerror or exc}"
    if size > MAX_ICON_BYTES:
        return None, f"icon '{match.name}' is {size:,} bytes; the limit is {MAX_ICON_BYTES:,}"
    why = check_icon(raw)
    return (None, f"icon '{match.name}' {why}") if why else (raw, None)


def with_icons(routine: Routine) -> Routine:
    """The routine with each own icon read (``Stretch.icon_png``); built-in names and unusable files: None."""
    if all(s.icon in BUILTIN_ICONS for s in routine.stretches):
        return routine  # no file to look for (the built-in routines)
    folder = Path(os.path.dirname(routine.source)) if routine.source else None
    listing: list[Path] | None = None
    if folder is not None:
        try:
            listing = sorted(folder.resolve().iterdir())
        except OSError:
            listing = None  # read_icon says why, per icon
    stretches = []
    for stretch in routine.stretches:
        png, _why = read_icon(stretch.icon, folder, listing)
        stretches.append(dataclasses.replace(stretch, icon_png=png))
    return dataclasses.replace(routine, stretches=tuple(stretches))
