"""Frames to 1-bit images (Pillow only): ``Renderer(size).render(frame)`` or ``render(frame)``.

Fonts and icons come from ``Assets`` (the shipped package data) and load once
per renderer; ``load_icon``/``resolve_icon`` give a built-in icon, or a routine's own
from the PNG bytes its loader read (the renderer opens no routine file).
"""

from .assets import Assets
from .icons import IconError, load_icon, resolve_icon
from .screens import Renderer, render

__all__ = ["Assets", "IconError", "Renderer", "load_icon", "render", "resolve_icon"]
