"""The README's images are what `make screens` makes now: pixel for pixel, the GIF frame by frame with durations.

The arguments come from tools/screens.py, which `make screens` runs too. When a
change to the screens makes this fail, run `make screens` and commit the images.
"""

import importlib.util
from pathlib import Path

import pytest
from PIL import Image, ImageChops, ImageSequence

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"


def load_tool():
    spec = importlib.util.spec_from_file_location("screens_tool", ROOT / "tools" / "screens.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


TOOL = load_tool()


def frames(path: Path) -> list[tuple[Image.Image, int | None]]:
    with Image.open(path) as image:
        return [(frame.convert("L"), frame.info.get("duration")) for frame in ImageSequence.Iterator(image)]


def differ(a: Image.Image, b: Image.Image):
    return (a.size, b.size) if a.size != b.size else ImageChops.difference(a, b).getbbox()


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    from stretchbox.cli import main

    out = tmp_path_factory.mktemp("screens")
    for args in TOOL.commands(out):
        assert main(args) == 0, args
    TOOL.draw_frames(out)
    return out


def test_the_makefile_runs_the_tool():
    assert "tools/screens.py docs" in (ROOT / "Makefile").read_text()


@pytest.mark.parametrize("name", sorted(TOOL.SCREENS) + sorted(TOOL.FRAMES))
def test_the_committed_image_is_what_make_screens_makes(rendered, name):
    new, old = frames(rendered / name), frames(DOCS / name)
    assert len(new) == len(old), f"{name}: {len(new)} frames now, {len(old)} committed: run `make screens`"
    for i, ((a, da), (b, db)) in enumerate(zip(new, old)):
        assert differ(a, b) is None, f"{name} frame {i} differs in {differ(a, b)}: run `make screens`"
        assert da == db, f"{name} frame {i} lasts {da} ms now, {db} ms committed: run `make screens`"
    if name.endswith(".gif"):
        with Image.open(rendered / name) as a, Image.open(DOCS / name) as b:
            assert a.info.get("loop") == b.info.get("loop")


def test_the_readme_shows_every_image_the_tool_makes():
    readme = (ROOT / "README.md").read_text()
    for name in [*TOOL.SCREENS, *TOOL.FRAMES]:
        assert f"(docs/{name})" in readme, f"docs/{name} is made by `make screens` but not in the README"
