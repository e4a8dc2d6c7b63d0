"""Built-in icons regenerate byte for byte from their pose data; fonts ship with licences."""

import importlib.util
import re
from pathlib import Path

import pytest
from PIL import Image, ImageDraw, ImageFont

from stretchbox.core.icons import BUILTIN_ICONS
from stretchbox.adapters.resources import data_dir

ROOT = Path(__file__).resolve().parents[2]
ICONS = data_dir("assets") / "icons"
FONTS = data_dir("assets") / "fonts"
FONT_SUFFIXES = {".ttf", ".otf", ".otb"}


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


def test_every_builtin_name_has_a_png_and_no_stray_pngs():
    assert sorted(p.stem for p in ICONS.glob("*.png")) == sorted(BUILTIN_ICONS)


@pytest.mark.parametrize("name", BUILTIN_ICONS)
def test_each_icon_is_a_bold_48px_one_bit_picture(name):
    with Image.open(ICONS / f"{name}.png") as image:
        assert image.size == (48, 48) and image.mode == "1"
        lit = image.histogram()[255] / (48 * 48)
    assert 0.08 <= lit <= 0.5, f"{name}: {lit:.0%} lit"


def test_icons_differ_from_each_other():
    pictures = {n: (ICONS / f"{n}.png").read_bytes() for n in BUILTIN_ICONS}
    assert len(set(pictures.values())) == len(pictures)


def font_rows() -> dict[str, str]:
    """README table: font file name -> the licence file named in its row."""
    rows = {}
    for line in (FONTS / "README.md").read_text().splitlines():
        names = re.findall(r"`([^`]+)`", line)
        fonts = [n for n in names if Path(n).suffix in FONT_SUFFIXES]
        licences = [n for n in names if n.startswith("LICENSE")]
        if line.startswith("|") and fonts and licences:
            rows[fonts[0]] = licences[-1]
    return rows


def test_every_font_loads_and_has_a_licence_file_in_the_readme():
    fonts = sorted(p for p in FONTS.iterdir() if p.suffix in FONT_SUFFIXES)
    assert {"DejaVuSans-Bold.ttf", "DejaVuSans.ttf"} <= {f.name for f in fonts}
    rows = font_rows()
    for f in fonts:
        font = ImageFont.truetype(str(f), 12)  # 12 px is also a built-in size of the bitmap font
        assert font.getbbox("Hold 0:30")[2] > 0
        assert f.name in rows, f"{f.name} has no row with a licence file in assets/fonts/README.md"
        licence = FONTS / rows[f.name]
        assert licence.is_file() and licence.stat().st_size > 500, licence
    assert "bitstream-vera" in (FONTS / "LICENSE-DejaVu.txt").read_text()
    assert "SIL OPEN FONT LICENSE Version 1.1" in (FONTS / "LICENSE-Terminus.txt").read_text()


def test_the_pixel_font_is_crisp_in_mode_1():
    font = ImageFont.truetype(str(FONTS / "terminus-bold.otb"), 12)
    image = Image.new("L", (64, 16), 0)
    ImageDraw.Draw(image).text((0, 0), "Rest 0:30", font=font, fill=255)
    assert {v for _, v in image.getcolors()} == {0, 255}  # a bitmap font: no grey edges to threshold away
