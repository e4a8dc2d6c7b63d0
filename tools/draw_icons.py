"""Draws the built-in stretch icons from pose data: ``python tools/draw_icons.py [OUTDIR]``.

Each icon is a stick figure given as joint coordinates on a 48x48 grid (the
left side of the stretch; the renderer mirrors it for the right), limbs
joining them, a head, the ground and any prop. Drawing is deterministic, so
the PNGs in assets/icons regenerate byte for byte (a test checks it).
"""

from __future__ import annotations

import sys
from pathlib import Path

from PIL import Image, ImageDraw

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "device"))

from stretchbox.core.icons import BUILTIN_ICONS  # noqa: E402

SIZE = 48
LIMB = 4        # stroke width: bold enough to read at arm's length
HEAD = 4        # head radius
GROUND = 46     # the ground line's row

# joint name -> (x, y); limbs are chains of joints; "head" is a joint too.
POSES: dict[str, dict] = {
    "seated-hamstring": {  # sitting, leg long, folded forward to the toes, top arm overhead
        "joints": {"hip": (8, 41), "knee": (24, 42), "foot": (38, 42), "toe": (40, 36),
                   "shoulder": (21, 26), "head": (30, 24), "hand": (37, 36),
                   "elbow2": (25, 13), "hand2": (36, 10), "knee2": (14, 35), "foot2": (20, 43)},
        "chains": [("hip", "knee", "foot", "toe"), ("hip", "shoulder"), ("shoulder", "hand"),
                   ("shoulder", "elbow2", "hand2"), ("hip", "knee2", "foot2")],
    },
    "hip-flexor": {  # kneeling lunge, back knee down, hips forward, same-side arm overhead
        "joints": {"foot": (4, 44), "knee": (15, 44), "hip": (21, 30), "knee2": (33, 30), "foot2": (35, 44),
                   "shoulder": (18, 15), "head": (16, 8), "elbow": (23, 7), "hand": (27, 1),
                   "hand2": (31, 26)},
        "chains": [("foot", "knee", "hip"), ("hip", "knee2", "foot2"), ("hip", "shoulder"),
                   ("shoulder", "elbow", "hand"), ("shoulder", "hand2")],
    },
    "wide-leg-fold": {  # legs wide, folded forward, arms crossed, head low between the legs
        "joints": {"foot": (6, 44), "foot2": (42, 44), "hip": (24, 20), "shoulder": (24, 31), "head": (24, 38),
                   "arm_l": (16, 29), "arm_r": (32, 29)},
        "chains": [("foot", "hip", "foot2"), ("hip", "shoulder"), ("arm_l", "arm_r")],
    },
    "piriformis": {  # pigeon: front shin folded under, back leg long behind, hands down in front
        "joints": {"hip": (22, 36), "knee": (34, 42), "foot": (20, 44), "knee2": (10, 42), "foot2": (1, 44),
                   "shoulder": (26, 20), "head": (28, 12), "elbow": (32, 30), "hand": (38, 43)},
        "chains": [("hip", "knee", "foot"), ("hip", "knee2", "foot2"), ("hip", "shoulder"),
                   ("shoulder", "elbow", "hand")],
    },
    "it-band": {  # standing fold: one knee bent, one leg straight, hands down by the straight leg
        "joints": {"hip": (16, 14), "foot": (20, 44), "knee2": (27, 29), "foot2": (25, 44),
                   "shoulder": (31, 24), "head": (35, 31), "hand": (37, 44)},
        "chains": [("hip", "foot"), ("hip", "knee2", "foot2"), ("hip", "shoulder", "hand")],
    },
    "calf": {  # facing a wall, front heel down and toes up on it, leg straight, leaning in
        "joints": {"hip": (24, 25), "heel": (37, 44), "toe": (40, 36), "knee2": (19, 35), "foot2": (12, 44),
                   "shoulder": (29, 12), "head": (32, 6), "hand": (40, 18)},
        "chains": [("hip", "heel", "toe"), ("hip", "knee2", "foot2"), ("hip", "shoulder", "hand")],
        "wall": (42, 0, 46, GROUND),
    },
    "generic": {  # standing, arms out
        "joints": {"foot": (16, 44), "foot2": (32, 44), "hip": (24, 28), "shoulder": (24, 15), "head": (24, 7),
                   "hand": (9, 21), "hand2": (39, 21)},
        "chains": [("foot", "hip", "foot2"), ("hip", "shoulder"), ("hand", "shoulder", "hand2")],
    },
}


def draw(name: str) -> Image.Image:
    pose = POSES[name]
    joints = pose["joints"]
    image = Image.new("1", (SIZE, SIZE), 0)
    d = ImageDraw.Draw(image)
    d.line((0, GROUND + 1, SIZE - 1, GROUND + 1), fill=1, width=1)
    if "wall" in pose:
        d.rectangle(pose["wall"], fill=1)
    r = LIMB // 2
    for chain in pose["chains"]:
        points = [joints[j] for j in chain]
        d.line(points, fill=1, width=LIMB, joint="curve")
        for x, y in points:  # round ends and elbows
            d.ellipse((x - r, y - r, x + r - 1, y + r - 1), fill=1)
    hx, hy = joints["head"]
    d.ellipse((hx - HEAD, hy - HEAD, hx + HEAD, hy + HEAD), fill=1)
    if "shoulder" in joints:  # the neck
        d.line((joints["shoulder"], (hx, hy)), fill=1, width=LIMB - 1)
    return image


def write_all(folder: Path) -> list[Path]:
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
