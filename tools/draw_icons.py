"""Draws the built-in stretch icons from pose data: ``python tools/draw_icons.py [OUTDIR]``.

Each icon is a stick figure given as joint coordinates on a 48x48 grid (the
left side of the stretch, seen from the side unless noted; the renderer
mirrors it for the right), limbs as chains of joints, a round head, the
ground line and any prop (a wall, a chair). Drawing is deterministic (no
antialiasing: ImageDraw on a mode "1" image), so the PNGs in assets/icons
regenerate byte for byte; tests/render/test_icons.py checks it.
"""

from __future__ import annotations

import sys
from pathlib import Path

from PIL import Image, ImageDraw

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "device"))

from stretchbox.core.icons import BUILTIN_ICONS  # noqa: E402

SIZE = 48
LIMB = 4        # limb stroke: bold enough to read at arm's length
NECK = 3        # neck stroke
HEAD = 4        # head radius: a 9 px disc
GROUND = 46     # the ground line's rows: GROUND and GROUND + 1 (the bottom row)

# Each pose: "joints" name -> (x, y); "chains" of joint names drawn as bold
# limbs; "neck" joins "shoulder" to "head"; "props" are filled rectangles
# (x0, y0, x1, y1) or ("line", points, width).
POSES: dict[str, dict] = {
    # sitting on the ground, one leg long with the toes up, folded forward
    # from the hips: the head leads over the knee, the arms reach the toes
    "seated-hamstring": {
        "joints": {"hip": (7, 42), "knee": (24, 42), "heel": (38, 42), "toe": (41, 35),
                   "shoulder": (18, 27), "head": (26, 22), "hand": (39, 34)},
        "chains": [("hip", "knee", "heel", "toe"), ("hip", "shoulder"), ("shoulder", "hand")],
    },
    # kneeling lunge: back knee and shin on the ground, front shin upright,
    # hips pushed forward, the arm on the kneeling side overhead
    "hip-flexor": {
        "joints": {"foot": (3, 44), "knee": (14, 44), "hip": (22, 31), "knee2": (35, 30),
                   "foot2": (37, 44), "shoulder": (19, 17), "head": (16, 8),
                   "elbow": (25, 9), "hand": (27, 1), "hand2": (33, 27)},
        "chains": [("foot", "knee", "hip"), ("hip", "knee2", "foot2"), ("hip", "shoulder"),
                   ("shoulder", "elbow", "hand"), ("shoulder", "hand2")],
    },
    # seen from the front: legs wide (an A), torso hanging down between
    # them, folded arms framing the head near the ground
    "wide-leg-fold": {
        "joints": {"foot": (2, 44), "foot2": (45, 44), "hip": (24, 11), "shoulder": (24, 28),
                   "head": (24, 38), "el": (19, 28), "er": (29, 28)},
        "chains": [("foot", "hip", "foot2"), ("hip", "shoulder"), ("el", "er")],
    },
    # seated figure-four on a chair: one ankle across the other knee,
    # leaning forward over the crossed shin
    "piriformis": {
        "joints": {"hip": (11, 30), "knee": (25, 30), "foot": (26, 44), "knee2": (18, 22),
                   "ankle2": (30, 26), "shoulder": (21, 16), "head": (26, 9), "hand": (30, 22)},
        "chains": [("hip", "knee", "foot"), ("hip", "knee2", "ankle2"), ("hip", "shoulder", "hand")],
        "props": [(2, 33, 18, 35), (3, 33, 5, GROUND), (15, 33, 17, GROUND), (2, 14, 4, 35)],
    },
    # seen from the front: standing fold, one knee bent out, the other leg
    # straight, torso and hands walked down to the straight leg's side
    "it-band": {
        "joints": {"hip": (20, 18), "knee": (10, 31), "foot": (13, 44), "foot2": (31, 44),
                   "shoulder": (33, 24), "head": (40, 30), "hand": (35, 44)},
        "chains": [("hip", "knee", "foot"), ("hip", "foot2"), ("hip", "shoulder", "hand")],
    },
    # facing a wall: front heel down, toes up against it, leg straight;
    # back leg behind, leaning in with the hands on the wall
    "calf": {
        "joints": {"hip": (24, 26), "heel": (35, 44), "toe": (40, 37), "knee2": (18, 35),
                   "foot2": (11, 44), "shoulder": (30, 13), "head": (33, 5), "hand": (40, 18)},
        "chains": [("hip", "heel", "toe"), ("hip", "knee2", "foot2"), ("hip", "shoulder", "hand")],
        "props": [(43, 0, 47, GROUND)],
    },
    # standing, arms out
    "generic": {
        "joints": {"foot": (15, 44), "foot2": (33, 44), "hip": (24, 28), "shoulder": (24, 15),
                   "head": (24, 7), "hand": (8, 22), "hand2": (40, 22)},
        "chains": [("foot", "hip", "foot2"), ("hip", "shoulder"), ("hand", "shoulder", "hand2")],
    },
}


def _dot(d: ImageDraw.ImageDraw, x: int, y: int, r: int) -> None:
    d.ellipse((x - r, y - r, x + r, y + r), fill=1)


def draw(name: str) -> Image.Image:
    """The icon ``name`` as a 48x48 mode "1" image: white figure on black."""
    pose = POSES[name]
    joints = pose["joints"]
    image = Image.new("1", (SIZE, SIZE), 0)
    d = ImageDraw.Draw(image)
    d.rectangle((0, GROUND + 1, SIZE - 1, SIZE - 1), fill=1)
    for prop in pose.get("props", []):
        if prop[0] == "line":
            d.line(prop[1], fill=1, width=prop[2])
        else:
            d.rectangle(prop, fill=1)
    for chain in pose["chains"]:
        points = [joints[j] for j in chain]
        d.line(points, fill=1, width=LIMB, joint="curve")
        for x, y in points:  # round ends and joints
            d.ellipse((x - 2, y - 2, x + 1, y + 1), fill=1)
    hx, hy = joints["head"]
    if pose.get("neck", True):
        d.line((joints["shoulder"], (hx, hy)), fill=1, width=NECK)
    _dot(d, hx, hy, HEAD)
    return image


def write_all(folder: Path) -> list[Path]:
    """Writes every built-in icon into ``folder``; returns the paths in BUILTIN_ICONS order."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for name in BUILTIN_ICONS:
        path = folder / f"{name}.png"
        draw(name).save(path, format="PNG", optimize=False)
        paths.append(path)
    return paths


if __name__ == "__main__":
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "assets" / "icons"
    for p in write_all(out):
        print(p)
