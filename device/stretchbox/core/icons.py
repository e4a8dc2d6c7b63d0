"""THE icon rules besides the name's: the built-in icon names, which file an ``icon:`` value means, and the
limits of a routine's own icon file.

Everything that decides about icons imports from here: the loader and the USB
import (which file a name means, and how big it may be) and the renderer (which
names are built in). The rule for the ``icon:`` value itself is
``core.routine.ICON_NAME`` (beside the other field rules, which the JSON Schema
is built from).

>>> [icon_filename(n) for n in ("calf2", "Calf2.PNG")]
['calf2.png', 'Calf2.PNG']
>>> icon_file_names("Calf2")
('calf2', 'calf2.png')
"""

# The icons the renderer draws (the pictures live in assets/icons).
BUILTIN_ICONS = ("seated-hamstring", "hip-flexor", "wide-leg-fold", "piriformis", "it-band", "calf", "generic")
GENERIC_ICON = "generic"  # shown for a stretch without an icon, or whose icon cannot be used

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
