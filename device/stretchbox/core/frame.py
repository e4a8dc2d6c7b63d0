"""The view model of one screen: what to show, never how.

A Frame is plain, hashable data, so the display adapter can skip a redraw by
comparing it with the last one, and golden-image tests can build any screen
without running a session.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# Every screen the device can show.
SCREENS = ("splash", "idle", "prepare", "hold", "switch", "rest", "paused", "lead-in", "done", "error", "message",
           "offer", "history")


@dataclass(frozen=True)
class Frame:
    """One screen's content.

    ``seconds`` is the whole number shown as the big countdown (rounded up,
    so a 30 s hold shows 30 first and 1 in its last second). ``index`` is the
    1-based stretch number out of ``count``. ``side`` is ``left``, ``right``
    or None; the renderer mirrors the icon on the right side.

    ``routine_left`` is the planned seconds of the routine still ahead (None: an
    open hold makes it unknown, or not a routine screen). ``open_hold``: the
    hold counts up (``seconds`` is the time held so far) until the user presses.
    ``extended``: seconds added to this side's hold. ``elapsed``: whole seconds
    this step has run, so a renderer can page a long text without a clock.
    ``why`` is the stretch's reason, shown during the rest before it.
    ``lines`` are extra text rows of the offer and history screens.
    """

    screen: str
    title: str = ""
    name: str = ""
    icon: str = ""
    icon_png: bytes | None = field(default=None, repr=False)  # a routine's own icon, read when it was loaded
    side: str | None = None
    seconds: int | None = None
    index: int = 0
    count: int = 0
    text: str = ""
    detail: str = ""
    progress: float = 0.0
    paused_screen: str = ""
    completed: int = 0
    skipped: int = 0
    duration: int = 0
    level: str = "on"  # panel brightness: on | dim | off (idle power, see core.idle)
    shift: tuple[int, int] = (0, 0)  # burn-in offset in pixels for static screens
    routine_left: int | None = None
    open_hold: bool = False
    extended: int = 0
    elapsed: int = 0
    why: str = ""
    lines: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.screen not in SCREENS:
            raise ValueError(f"unknown screen {self.screen!r}")


def clock_text(seconds: int) -> str:
    """``75`` -> ``1:15``; used for totals, not the big countdown."""
    minutes, secs = divmod(max(0, int(seconds)), 60)
    return f"{minutes}:{secs:02d}"


def splash_frame() -> Frame:
    """The first screen: drawn by `run` as it starts, and earlier in boot by the splash unit."""
    return Frame("splash", title="stretchbox", text="starting...")


def safe_to_unplug_frame() -> Frame:
    """Drawn by the systemd-shutdown hook once every filesystem is read-only, and only then."""
    return Frame("message", title="SAFE TO UNPLUG", text="stretchbox has shut down")


def final_frame(state: str, setting: str) -> Frame | None:
    """What stays on the panel after exit. After a power-off the system is still shutting down
    (filesystems are written until the end): SAFE TO UNPLUG comes later, from the shutdown hook."""
    if state == "powering-off":
        return Frame("message", title="SHUTTING DOWN", text="wait for SAFE TO UNPLUG")
    if setting == "blank":
        return None
    return Frame("message", title="stretchbox", text="stopped")
