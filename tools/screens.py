"""The README's images, made by ``stretchbox simulate``: ``python tools/screens.py [OUTDIR]`` (default docs/).

``make screens`` runs this file, and tests/render/test_screens.py renders the same
into a temporary folder and compares it with the committed images, so the
arguments live here only: a change of screens that is not followed by
``make screens`` fails the test.

A few screens a simulated run cannot reach yet (the session fills their fields in
the #11/#12 work: time left, the why, the resume offer, the history) are drawn by
the renderer from frames built here, from the default routine's own stretches;
when ``simulate`` shows them they move to ``SCREENS``.
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


# image file -> (the default routine's stretch, its side, and the rest of the Frame): see the docstring
FRAMES: dict[str, tuple[int, str | None, dict]] = {
    "hold-time-left.png": (0, "left", dict(screen="hold", title="HOLD", seconds=21, index=1, progress=0.3,
                                           routine_left=385)),
    "rest-why.png": (1, "left", dict(screen="rest", title="REST", seconds=4, index=1, routine_left=327, why=True)),
    "offer.png": (1, "right", dict(screen="offer", title="RESUME?", seconds=18, lines=("A: resume", "B: start over"))),
    "history.png": (None, None, dict(screen="history", title="THIS WEEK",
                                     lines=("3 sessions, 21:30", "left 10:15 right 9:40", "shortest: right hip",
                                            "2nd week in a row"))),
}


def frame(stretch: int | None, side: str | None, fields: dict):
    """A Frame as the session would send it, with the name, icon, cue and why of the default routine's stretch."""
    from stretchbox.adapters.routines import load_builtin
    from stretchbox.core.frame import Frame

    fields = dict(fields)
    if stretch is not None:
        routine = load_builtin()[0]
        s = routine.stretches[stretch]
        fields.update(name=s.name, icon=s.icon, side=side, text=s.cue, count=len(routine.stretches))
        if fields.pop("why", False):
            fields.update(why=s.why, detail=f"next: {s.name}")
    return Frame(**fields)


def draw_frames(outdir: Path) -> None:
    """``FRAMES`` drawn at 128x64 by the project's renderer, enlarged 2x as the sheet and GIF are."""
    from stretchbox.render import render
    from stretchbox.render.gif import enlarge

    for name, args in FRAMES.items():
        enlarge(render(frame(*args)), 2).save(outdir / name, format="PNG", optimize=False)


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
