"""The names of the built-in stretch icons (the pictures live in assets/icons)."""

BUILTIN_ICONS = ("seated-hamstring", "hip-flexor", "wide-leg-fold", "piriformis", "it-band", "calf", "generic")
GENERIC_ICON = "generic"  # shown for a stretch without an icon, or whose icon cannot be used
