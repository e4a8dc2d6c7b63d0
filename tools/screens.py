"""The README's images, made by ``stretchbox simulate``: ``python tools/screens.py [OUTDIR]`` (default docs/).

``make screens`` runs this file, and tests/render/test_screens.py renders the same
into a temporary folder and compares it with the committed images, so the
arguments live here only: a change of screens that is not followed by
``make screens`` fails the test.
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
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
