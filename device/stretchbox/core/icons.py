"""THE icon rules: the built-in icon names, what an ``icon:`` value may be, and a routine's own icon limits.

Everything that decides about icons imports from here: the routine validation
(the name rule), the loader and the USB import (which file a name means, and
how big it may be) and the renderer (which names are built in).

>>> [icon_filename(n) for n in ("calf2", "Calf2.PNG")]
['calf2.png', 'Calf2.PNG']
>>> icon_file_names("Calf2")
('calf2', 'calf2.png')
>>> bool(ICON_NAME.match("../x.png")), bool(ICON_NAME.match("my-icon.png"))
(False, True)
"""

import re

# The icons the renderer draws (the pictures live in assets/icons).
BUILTIN_ICONS = ("seated-hamstring", "hip-flexor", "wide-leg-fold", "piriformis", "it-band", "calf", "generic")
GENERIC = "generic"

# An ``icon:`` value: a built-in name, or a plain file name beside the routine (no folders, not hidden).
MAX_ICON_NAME = 64  # characters
ICON_NAME = re.compile(rf"^[A-Za-z0-9][A-Za-z0-9_.-]{{0,{MAX_ICON_NAME - 1}}}$")

# A routine's own icon file came off a USB stick: at most this big on disk, and this many pixels each way
# (checked from the PNG header before anything is decoded).
MAX_ICON_BYTES = 256 * 1024
MAX_ICON_SIDE = 1024


def icon_filename(icon: str) -> str:
    """The file an ``icon:`` value names, as the library stores it: ``calf2`` -> ``calf2.png``; ``Calf2.PNG`` stays."""
    return icon if icon.lower().endswith(".png") else f"{icon}.png"


def icon_file_names(icon: str) -> tuple[str, str]:
    """The file names (lower case) an ``icon:`` value matches beside its routine, ignoring case: ``name`` or
    ``name.png``."""
    return (icon.lower(), f"{icon.lower()}.png")
