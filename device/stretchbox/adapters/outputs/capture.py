"""Capturing what the screen shows during ``simulate``: PNG per distinct screen, GIF, sheet."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from ...core.frame import Frame
from ...core.output import Changes, Output


class FrameRecorder(Output):
    """An App output that keeps each distinct screen image with the time it appeared."""

    def __init__(self, render: Callable[[Frame], object], start: float = 0.0):
        self.render = render
        self.start = start
        self.frames: list[tuple[float, object]] = []
        self.screens: list[Frame] = []
        self._images = Changes()

    def frame(self, frame: Frame, now: float) -> None:
        image = self.render(frame)
        if self._images.new(image.tobytes()):
            self.frames.append((now - self.start, image))
            self.screens.append(frame)

    def write_pngs(self, folder: Path) -> int:
        folder.mkdir(parents=True, exist_ok=True)
        for (t, image), frame in zip(self.frames, self.screens):
            image.save(folder / f"{t:09.3f}-{frame.screen}.png", optimize=False)
        return len(self.frames)


def memo_render(render: Callable[[Frame], object]) -> Callable[[Frame], object]:
    """Render each distinct frame once, however many outputs ask for it."""
    last: list = [None, None]

    def cached(frame: Frame):
        if frame != last[0]:
            last[0], last[1] = frame, render(frame)
        return last[1]
    return cached
