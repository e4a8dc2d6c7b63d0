"""Frames to 1-bit images (Pillow only): ``Renderer(size).render(frame)``."""

from .screens import Renderer, render

__all__ = ["Renderer", "render"]
