"""The OLED as an App output: render on change, idle brightness, and survival of bus faults.

A display that fails (a loose wire, a panel unplugged or never connected, at
start or mid-routine) must never stop the timer or the buzzer. A transaction
refused now and then is sent again at once, below this class (``RetryingSerial``
in display.py); a fault that reaches it is one refused again and again. It is
logged once per outage, the device is closed (re-opening it re-initialises a
panel that lost power), and drawing is retried on the loop's own deadlines with
exponential backoff up to ``BACKOFF_MAX``, or sooner when the picture changes
(each second of a countdown). Drawing resumes with the current frame when the
panel answers again.

A picture is sent only when it changed, except when the driver says a whole
frame is due (``refresh_due()``, adapters/partial.py: every ``REFRESH_EVERY``
seconds, against a panel that reset or was corrupted without a bus error):
the output asks the loop to wake for it (``upkeep_deadline``), so a static
screen (idle, paused, done) gets it too; not while the panel is off (waking it
sends a whole frame). The driver's clock must be the loop's (both
``time.monotonic`` on the device; the simulation gives both its clock).
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from ..core.frame import Frame
from ..core.output import Changes, Output
from .display import DISPLAY_FAULTS

__all__ = ["BACKOFF_FIRST", "BACKOFF_MAX", "PanelOutput"]

log = logging.getLogger(__name__)

BACKOFF_FIRST, BACKOFF_MAX = 0.5, 30.0


class PanelOutput(Output):
    """Draws frames on a luma device opened by ``open_device``; a display fault never escapes it."""

    def __init__(self, open_device: Callable[[], object], render: Callable[[Frame], object], *,
                 contrast: int = 255, dim_contrast: int = 8):
        self.open_device = open_device
        self.render = render
        self.contrast = contrast
        self.dim_contrast = dim_contrast
        self.device = None
        self.frames_shown = 0
        self.frames_skipped = 0
        self.faults = 0
        self._shown = Changes()  # the image bytes the panel shows now (forgotten after a fault: redraw)
        self._level: str | None = None
        self._frames = Changes()
        self._image = None
        self._retry_at: float | None = None
        self._backoff = BACKOFF_FIRST
        self._in_a_row = 0  # faults since the last good frame
        self.refreshes = 0  # unchanged pictures drawn again because the driver's full frame was due
        self._upkeep = True  # False once the driver's clock proved not to be the loop's

    # ---- Output ----------------------------------------------------------
    def next_deadline(self) -> float | None:
        return self._retry_at

    def upkeep_deadline(self) -> float | None:
        """The driver's next full frame, to be drawn even if the picture stays (None: panel closed,
        off, backing off, or a driver without one)."""
        if self.device is None or self._retry_at is not None or self._level in (None, "off"):
            return None
        return self._refresh_due()

    def frame(self, frame: Frame, now: float) -> None:
        changed = self._frames.new(frame)
        if changed:
            self._image = self._shifted(self.render(frame), frame.shift)
        if self._retry_at is not None and now < self._retry_at and not changed:
            return  # backing off; a new picture (the next second) or _retry_at tries again
        if self.device is None and not self._reopen(now):
            return
        try:
            self._set_level(frame.level)
            if frame.level != "off":
                self._show(self._image, now)
        except DISPLAY_FAULTS as exc:
            self._fault(exc, now)
            return
        if self._in_a_row:
            log.warning("display is answering again after %d fault(s)", self._in_a_row)
        self._in_a_row = 0
        self._backoff = BACKOFF_FIRST
        self._retry_at = None

    # ---- internals -----------------------------------------------------------
    def _reopen(self, now: float) -> bool:
        try:
            self.device = self.open_device()
        except DISPLAY_FAULTS as exc:
            self._fault(exc, now)
            return False
        self._level = None
        self._shown.forget()
        return True

    def _fault(self, exc: BaseException, now: float) -> None:
        self.faults += 1
        self._in_a_row += 1
        if self._in_a_row == 1:  # once per outage, not per frame
            log.warning("display fault (%s: %s); retrying with backoff, the timer goes on",
                        type(exc).__name__, exc)
        if self.device is not None:
            self._release(self.device)  # refused again and again: re-initialise the panel next time
            self.device = None
        self._shown.forget()
        self._level = None
        self._retry_at = now + self._backoff
        self._backoff = min(self._backoff * 2, BACKOFF_MAX)

    @staticmethod
    def _release(device) -> None:
        """Close a device we give up on (its bus handle), without drawing on it: it may be gone."""
        device.persist = True  # luma's cleanup would otherwise try to blank a panel that is not answering
        try:
            device.cleanup()
        except DISPLAY_FAULTS:
            pass

    def _set_level(self, level: str) -> None:
        if level == self._level:
            return
        if level == "off":
            self.device.hide()
        else:
            if self._level in (None, "off"):
                self.device.show()
            self.device.contrast(self.dim_contrast if level == "dim" else self.contrast)
        self._level = level

    def _refresh_due(self) -> float | None:
        due = getattr(self.device, "refresh_due", None) if self._upkeep else None
        return due() if due is not None else None

    def _show(self, image, now: float | None = None) -> None:
        data = image.tobytes()
        due = self._refresh_due() if now is not None else None
        owed = due is not None and due <= now
        if not owed and not self._shown.differs(data):
            self.frames_skipped += 1
            return
        self.device.display(image)
        if owed and not self._shown.differs(data):
            self.refreshes += 1
            after = self._refresh_due()
            if after is not None and after <= now:  # it did not refresh: waking for it again would spin
                log.warning("the display driver's clock is not the loop's: no periodic full frame on a static "
                            "screen")
                self._upkeep = False
        else:
            self.frames_shown += 1
        self._shown.remember(data)

    @staticmethod
    def _shifted(image, shift: tuple[int, int]):
        if shift == (0, 0):
            return image
        moved = image.copy()
        moved.paste(0, (0, 0) + image.size)
        moved.paste(image, shift)
        return moved

    def final(self, frame: Frame | None) -> None:
        """Last screen at exit: ``frame`` stays lit after we exit (persist), or None blanks the panel."""
        device = self.device
        if device is None:
            return
        try:
            if frame is None:
                device.clear()
                device.persist = False
            else:
                self._show(self._shifted(self.render(frame), (0, 0)))
                device.persist = True
            device.cleanup()
        except DISPLAY_FAULTS as exc:
            log.warning("display fault at exit (%s: %s)", type(exc).__name__, exc)
