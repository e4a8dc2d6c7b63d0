"""Built-in icons regenerate byte for byte from their pose data; fonts ship with licences."""

import importlib.util
from pathlib import Path

import pytest
from PIL import Image, ImageFont

from stretchbox.core.icons import BUILTIN_ICONS
from stretchbox.resources import data_dir

ROOT = Path(__file__).resolve().parents[1]
ICONS = data_dir("assets") / "icons"
FONTS = data_dir("assets") / "fonts"


def load_script():
    spec = importlib.util.spec_from_file_location("draw_icons", ROOT / "tools" / "draw_icons.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_icons_regenerate_byte_for_byte(tmp_path):
    written = load_script().write_all(tmp_path)
    assert [p.name for p in written] == [f"{n}.png" for n in BUILTIN_ICONS]
    for path in written:
        assert path.read_bytes() == (ICONS / path.name).read_bytes(), f"{path.name} differs: run tools/draw_icons.py"


@pytest.mark.parametrize("name", BUILTIN_ICONS)
def test_each_icon_is_a_bold_48px_one_bit_picture(name):
    with Image.open(ICONS / f"{name}.png") as image:
        assert image.size == (48, 48) and image.mode == "1"
        lit = sum(1 for p in image.getdata() if p) / (48 * 48)
    assert 0.08 <= lit <= 0.5


def test_icons_differ_from_each_other():
    pictures = {n: (ICONS / f"{n}.png").read_bytes() for n in BUILTIN_ICONS}
    assert len(set(pictures.values())) == len(pictures)


def test_fonts_load_and_each_has_its_licence():
    readme = (FONTS / "README.md").read_text()
    fonts = sorted(FONTS.glob("*.ttf"))
    assert fonts
    for f in fonts:
        ImageFont.truetype(str(f), 12)
        assert f.name in readme
    assert (FONTS / "LICENSE-DejaVu.txt").read_text().count("bitstream-vera") >= 1
