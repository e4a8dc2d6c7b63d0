"""The README's images, made by ``stretchbox simulate``: ``python tools/screens.py [OUTDIR]`` (default docs/).

``make screens`` runs this file, and tests/render/test_screens.py renders the same
into a temporary folder and compares it with the committed images, so the
arguments live here only: a change of screens that is not followed by
``make screens`` fails the test.

Four single screens (the hold with time left, the rest with the why, the resume offer
after a reboot, the history screen) are the real session's frames at chosen moments of
the default routine, on a fake clock (``session_frames``), drawn by the renderer.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# image file -> `stretchbox simulate` arguments ({out} is the image's path)
SCREENS: dict[str, list[str]] = {
    "post-run.gif": ["--gif", "{out}", "--press", "20:a", "--press", "24:a", "--press", "100:b",
                     "--press", "200:b:1.2"],
    "screens.png": ["--sheet", "{out}", "--press", "20:a", "--press", "24:a", "--press", "100:b",
                    "--press", "150:ab:3.2", "--press", "155:b", "--press", "170:a:2.2"],
}


# the single screens session_frames() makes, in its order
FRAMES = ("hold-time-left.png", "rest-why.png", "offer.png", "history.png")


def session_frames() -> dict:
    """Image file -> the Frame the real session shows there, on the default routine (a fake clock)."""
    from datetime import date, datetime, timezone

    from stretchbox.adapters.routines import load_builtin
    from stretchbox.core.gestures import A
    from stretchbox.core.history import Ending, SessionLog, SessionRecord, SideLog, screen_lines
    from stretchbox.core.session import Checkpoint, Session, Tick

    routine = load_builtin()[0]

    def at(t: float, *presses: float):
        s = Session([routine])
        out = s.press(A, 0.0)
        for p in presses:
            out += s.handle(Tick(p)) + s.press(A, p)
        out += s.handle(Tick(t))
        return s, out

    hold, _ = at(17.0)  # the first hold, 21 s left
    rest, _ = at(76.0)  # the rest before the hip flexor: its why
    _, out = at(140.0, 133.0)  # paused in the hip flexor's right hold, 18 s left ...
    offered = Session([routine])
    offered.restore([e for e in out if isinstance(e, Checkpoint)][-1].data, 1.0, same_boot=False)  # ... then a reboot
    week = []
    for day, held in ((17, (30, 30, 30, 18)), (19, (30, 30, 28, 20)), (21, (30, 30, 25, 18))):
        sides = [SideLog(1, "Seated hamstring", "left", 30, held[0]), SideLog(1, "Seated hamstring", "right", 30,
                 held[1]), SideLog(2, "Hip flexor", "left", 30, held[2]), SideLog(2, "Hip flexor", "right", 30,
                 held[3])]
        log = SessionLog(routine.name, routine.content_hash(), 0.0, sides, ended=Ending.FINISHED, duration=300)
        start = datetime(2026, 11, day, 18, tzinfo=timezone.utc).timestamp()
        week.append(SessionRecord(log, start_wall=start, clock="ntp", boot="b"))
    history = Session([routine])
    utc_day = lambda t: datetime.fromtimestamp(t, timezone.utc).date()  # noqa: E731
    history.history_lines = screen_lines(week, date(2026, 11, 21), "b", day=utc_day)
    history.press(A, 0.0, hold=2.0)
    return dict(zip(FRAMES, (hold.frame(), rest.frame(), offered.frame(1.0), history.frame(2.0)), strict=True))


def draw_frames(outdir: Path) -> None:
    """``session_frames()`` drawn at 128x64 by the project's renderer, enlarged 2x as the sheet and GIF are."""
    from stretchbox.render import render
    from stretchbox.render.gif import enlarge

    for name, frame in session_frames().items():
        enlarge(render(frame), 2).save(outdir / name, format="PNG", optimize=False)


def commands(outdir: Path) -> list[list[str]]:
    """The ``stretchbox`` argument lists that write every image into ``outdir``."""
    return [["simulate", *(a.format(out=outdir / name) for a in args)] for name, args in SCREENS.items()]


def main(argv: list[str]) -> int:
    from stretchbox.cli import main as stretchbox

    outdir = Path(argv[0]) if argv else ROOT / "docs"
    for args in commands(outdir):
        print("stretchbox", " ".join(args), file=sys.stderr)
        if stretchbox(args) != 0:
            return 1
    draw_frames(outdir)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
