"""Screens as 1-bit images: golden images of every screen, fitting text, sizes that matter."""

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image, ImageChops, ImageOps

from stretchbox.core.frame import Frame
from stretchbox.core.routine import MAX_CUE, MAX_NAME
from stretchbox.render import Renderer
from stretchbox.render.screens import font
from stretchbox.render.text import ELLIPSIS, fit, width, wrap

from tests.render.texts import LONGEST_CUE, LONGEST_NAME, LONGEST_WHY, WIDEST_CUE

GOLDEN = Path(__file__).resolve().parents[1] / "golden"
NAME = "Seated hamstring"
CUE = "Sit, one leg long, other foot in. Reach for the toes, top arm overhead."
WHY = ("The hip flexors lift the knee and swing the leg forward on every step. Running overworks these small "
       "muscles; tight ones can bring pain to the hip, the knee or the low back.")

SCREENS = {
    "splash": Frame("splash"),
    "idle": Frame("idle", title="Post-run stretches", index=1, count=2, text="press A to start",
                  detail="6 stretches", duration=428),
    "prepare": Frame("prepare", title="NEXT", name=NAME, icon="seated-hamstring", side="left", seconds=8,
                     index=1, count=6, text=CUE),
    "hold-left": Frame("hold", title="HOLD", name=NAME, icon="seated-hamstring", side="left", seconds=30,
                       index=1, count=6, progress=0.25),
    "hold-right": Frame("hold", title="HOLD", name=NAME, icon="seated-hamstring", side="right", seconds=9,
                        index=1, count=6, progress=0.4),
    "hold-none": Frame("hold", title="HOLD", name="Wide-leg fold", icon="wide-leg-fold", seconds=21,
                       index=3, count=6, progress=0.5),
    "switch": Frame("switch", title="SWITCH SIDES", name="Calf", icon="calf", side="right", seconds=5, index=6, count=6),
    "rest": Frame("rest", title="REST", name="Hip flexor", icon="hip-flexor", side="left", seconds=5, index=1, count=6),
    "paused": Frame("paused", title="PAUSED", name=NAME, icon="calf", side="left", seconds=18, index=1, count=6),
    "lead-in": Frame("lead-in", title="GET READY", name="Piriformis", icon="piriformis", side="right", seconds=3,
                     index=4, count=6),
    "done": Frame("done", title="DONE", name="Post-run stretches", completed=6, skipped=0, count=6, duration=428),
    "stopped": Frame("done", title="STOPPED", name="Post-run stretches", completed=2, skipped=1, count=6, duration=143),
    "error": Frame("error", title="ROUTINE PROBLEM", text="morning.yaml:12: hold of 10 s is under min_hold (20 s)"),
    "message": Frame("message", title="3 ROUTINES IMPORTED", text="from the USB stick"),
    "power-menu": Frame("message", title="POWER OFF?", text="A: yes, power off   B: no", seconds=9),
    # the coach (#12) and the history (#11): time left, extended and open holds, the why, resume, streaks
    "prepare-time-left": Frame("prepare", title="NEXT", name=NAME, icon="seated-hamstring", side="left", seconds=8,
                               index=1, count=6, text=CUE, routine_left=412),
    "prepare-time-left-page2": Frame("prepare", title="NEXT", name=NAME, icon="seated-hamstring", side="left",
                                     seconds=4, index=1, count=6, text=CUE, routine_left=408, elapsed=4),
    "hold-time-left": Frame("hold", title="HOLD", name=NAME, icon="seated-hamstring", side="left", seconds=30,
                            index=1, count=6, progress=0.25, routine_left=404),
    "hold-extended": Frame("hold", title="HOLD", name=NAME, icon="seated-hamstring", side="right", seconds=41,
                           index=1, count=6, progress=0.3, routine_left=389, extended=15),
    "hold-extended-long": Frame("hold", title="HOLD", name=NAME, icon="seated-hamstring", side="right", seconds=125,
                                index=1, count=6, progress=0.1, routine_left=1389, extended=90),
    "hold-open": Frame("hold", title="HOLD", name=NAME, icon="seated-hamstring", side="left", seconds=37, index=1,
                       count=6, open_hold=True),
    "hold-open-long": Frame("hold", title="HOLD", name="Wide-leg fold", icon="wide-leg-fold", seconds=754, index=3,
                            count=6, open_hold=True),
    "switch-time-left": Frame("switch", title="SWITCH SIDES", name="Calf", icon="calf", side="right", seconds=5,
                              index=6, count=6, text="Heel down, toes up on a wall. Lean in.", routine_left=35),
    "rest-why": Frame("rest", title="REST", name="Hip flexor", icon="hip-flexor", side="left", seconds=5, index=1,
                      count=6, detail="next: Hip flexor", why=WHY, routine_left=301),
    "offer": Frame("offer", title="RESUME?", name="Hip flexor", side="right", seconds=18,
                   lines=("A: resume", "B: start over")),
    "history": Frame("history", title="THIS WEEK", lines=("3 sessions, 21:30", "left 10:15 right 9:40",
                                                          "shortest: right hip", "2nd week in a row")),
    "done-streak-weeks": Frame("done", title="DONE", name="Post-run stretches", completed=6, skipped=0, count=6,
                               duration=428, detail="3rd week in a row"),
    "done-streak-counts": Frame("done", title="DONE", name="Post-run stretches", completed=5, skipped=1, count=6,
                                duration=371, detail="12 sessions, 5 since the last import"),
    "idle-open": Frame("idle", title="Post-run stretches", index=1, count=2, text="press A to start",
                       detail="6 stretches", duration=250, open_hold=True),
    "idle-open-only": Frame("idle", title="Hold until done", index=2, count=2, text="press A to start",
                            detail="3 stretches", duration=0, open_hold=True),
}
COACH = tuple(SCREENS)[tuple(SCREENS).index("prepare-time-left"):]
COMPACT = ("idle", "prepare", "hold-left", "hold-right", "paused", "done", "error", "switch", "rest", "lead-in",
           "message") + COACH


def check_golden(name: str, image: Image.Image, update: bool) -> None:
    path = GOLDEN / f"{name}.png"
    if update:
        GOLDEN.mkdir(exist_ok=True)
        image.save(path, optimize=False)
        return
    assert path.exists(), f"no golden image {path.name}: run `make golden` and review it"
    expected = Image.open(path).convert("1")
    diff = ImageChops.difference(expected.convert("L"), image.convert("L"))
    assert diff.getbbox() is None, f"{name} differs from {path.name} in {diff.getbbox()} (make golden to accept)"


@pytest.mark.parametrize("name", sorted(SCREENS))
def test_every_screen_matches_its_golden_image(name, update_golden):
    image = Renderer((128, 64)).render(SCREENS[name])
    assert image.mode == "1" and image.size == (128, 64)
    check_golden(name, image, update_golden)


@pytest.mark.parametrize("name", COMPACT)
def test_the_128x32_panel_has_its_own_layouts(name, update_golden):
    image = Renderer((128, 32)).render(SCREENS[name])
    assert image.size == (128, 32) and image.getbbox() is not None
    check_golden(f"128x32-{name}", image, update_golden)


def lit_rows(image, box):
    region = image.crop(box)
    bbox = region.getbbox()
    return 0 if bbox is None else bbox[3] - bbox[1]


def test_hold_screen_icon_is_at_least_40px_and_digits_at_least_24px():
    image = Renderer((128, 64)).render(Frame("hold", name="Calf", icon="calf", side="left", seconds=88, index=1,
                                             count=6))
    assert lit_rows(image, (0, 0, 48, 48)) >= 40
    assert lit_rows(image, (52, 14, 128, 48)) >= 24  # the digit area, right of the icon and below the side


def test_right_side_icon_is_the_left_one_mirrored():
    left = Renderer((128, 64)).render(SCREENS["hold-left"]).crop((0, 0, 48, 48))
    right = Renderer((128, 64)).render(dataclass_replace(SCREENS["hold-left"], side="right")).crop((0, 0, 48, 48))
    assert ImageChops.difference(ImageOps.mirror(left.convert("L")), right.convert("L")).getbbox() is None
    assert ImageChops.difference(left.convert("L"), right.convert("L")).getbbox() is not None


def dataclass_replace(frame, **changes):
    import dataclasses
    return dataclasses.replace(frame, **changes)


LONGEST = "W" * MAX_NAME  # the widest letter, as many as the validator allows
LONG_WORDS = " ".join(["Mmmmmmmm"] * 5)[:MAX_NAME]


@pytest.mark.parametrize("size", [(128, 64), (128, 32)])
@pytest.mark.parametrize("screen", sorted(SCREENS))
@pytest.mark.parametrize("long", [LONGEST, LONG_WORDS])
def test_every_screen_takes_the_longest_names_without_spilling(size, screen, long, monkeypatch):
    """Every string drawn has its whole ink box on the panel: shortened by rule, never cut mid-glyph."""
    from PIL import ImageDraw

    drawn = []
    original = ImageDraw.ImageDraw.text

    def recording_text(self, xy, text, *args, **kwargs):
        box = self.textbbox(xy, text, font=kwargs.get("font"), anchor=kwargs.get("anchor"))
        drawn.append((text, box))
        return original(self, xy, text, *args, **kwargs)

    monkeypatch.setattr(ImageDraw.ImageDraw, "text", recording_text)
    frame = dataclass_replace(SCREENS[screen], name=long, title=long, text=("Mw " * 40)[:MAX_CUE],
                              detail=long, seconds=(None if SCREENS[screen].seconds is None else 3599))
    image = Renderer(size).render(frame)
    assert image.size == size and drawn
    w, h = size
    for text, (left, top, right, bottom) in drawn:
        assert left >= 0 and right <= w and bottom <= h + 1, f"{text!r} spills: {(left, top, right, bottom)}"
    texts = [t for t, _ in drawn]
    assert not any(long in t for t in texts)  # wider than any line: never drawn whole
    if size == (128, 32) and (frame.screen in ("hold", "lead-in", "history") or frame.elapsed):
        return  # the 59:59 countdown takes the name's room; a page of the cue shows in its place; the title is paged
    assert any(t.endswith(ELLIPSIS) for t in texts)  # something had to be shortened, by rule


@settings(max_examples=200, deadline=None)
@given(text=st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), max_size=120),
       limit=st.integers(10, 128), size=st.sampled_from([9, 10, 11, 12, 13]))
def test_fit_never_exceeds_its_width_and_keeps_a_prefix(text, limit, size):
    f = font(size)
    out = fit(text, f, limit)
    assert width(f, out) <= limit
    clean = " ".join(text.split())
    if out != clean:
        assert out.endswith(ELLIPSIS) or out == ""
        assert clean.startswith(out[:-1].rstrip()) if out else True


@settings(max_examples=200, deadline=None)
@given(text=st.text(alphabet="abc WMi.,", max_size=200), limit=st.integers(20, 128), lines=st.integers(1, 4))
def test_wrap_stays_in_its_box(text, limit, lines):
    f = font(10, False)
    out = wrap(text, f, limit, lines)
    assert len(out) <= lines
    assert all(width(f, line) <= limit for line in out)


def test_golden_images_never_depend_on_pillows_default_font():
    import stretchbox.render.screens as screens
    source = Path(screens.__file__).read_text()
    assert "load_default" not in source


def test_a_routines_own_icon_is_scaled_and_dithered_and_bad_ones_fall_back(tmp_path):
    from stretchbox.adapters.icons import read_icon
    from stretchbox.render.icons import Icons

    folder = tmp_path / "routines"
    folder.mkdir()
    photo = Image.radial_gradient("L").resize((300, 200))
    photo.save(folder / "Shoulder.PNG")
    (folder / "notpng.png").write_bytes(b"hello, not a picture")
    Image.new("L", (2000, 10)).save(folder / "wide.png")
    (folder / "big.png").write_bytes(b"\x89PNG" + b"\0" * (300 * 1024))
    outside = tmp_path / "secret.png"
    Image.new("L", (10, 10), 255).save(outside)
    (folder / "escape.png").symlink_to(outside)
    icons = Icons()
    generic = icons.get("generic", 48)
    png, problem = read_icon("shoulder", folder)
    assert problem is None
    own = icons.get("shoulder", 48, png=png)
    assert own.size == (48, 48) and own.mode == "1" and own.tobytes() != generic.tobytes()
    for name, why in (("notpng", "not a PNG image"), ("wide", "2000x10"), ("big", "bytes"),
                      ("escape", "link out of the routine's folder"), ("missing", "no icon file"),
                      ("../secret", "plain file name")):
        png, problem = read_icon(name, folder)
        assert png is None and why in problem, (name, problem)
        assert icons.get(name, 48, png=png).tobytes() == generic.tobytes(), name
        assert "brought no picture" in icons.problems[name]
    assert icons.get("garbage", 48, png=b"not a picture").tobytes() == generic.tobytes()
    assert "not a usable PNG" in icons.problems["garbage"]


def test_every_screen_name_has_a_golden_image():
    from stretchbox.core.frame import SCREENS as ALL

    assert {f.screen for f in SCREENS.values()} == set(ALL)


def test_golden_check_fails_on_a_single_pixel(update_golden):
    if update_golden:
        pytest.skip("rewriting golden images")
    image = Renderer((128, 64)).render(SCREENS["hold-left"])
    image.putpixel((127, 0), 1 - image.getpixel((127, 0)))
    with pytest.raises(AssertionError, match="differs"):
        check_golden("hold-left", image, False)


def test_render_function_and_renderer_agree_and_take_other_assets(tmp_path):
    import shutil

    from stretchbox.render import Assets, render

    frame = SCREENS["hold-right"]
    assert render(frame).tobytes() == Renderer((128, 64)).render(frame).tobytes()
    copy = tmp_path / "assets"
    shutil.copytree(Assets().root, copy, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(copy / "icons" / "calf.png", copy / "icons" / "seated-hamstring.png")  # a different picture
    other = render(frame, assets=Assets(copy))
    assert other.tobytes() != render(frame).tobytes()
    assert other.tobytes() == render(dataclass_replace(frame, icon="calf")).tobytes()


def test_assets_are_found_as_package_data():
    from importlib.resources import files

    from stretchbox.render import Assets

    root = files("stretchbox.assets")
    assert (root / "fonts" / "DejaVuSans-Bold.ttf").is_file() and (root / "icons" / "generic.png").is_file()
    assert str(Assets().root) == str(root)


@pytest.mark.parametrize("size", [(128, 128), (64, 48), (96, 16), (64, 32)])
def test_other_panel_sizes_get_the_nearest_layout(size):
    image = Renderer(size).render(SCREENS["hold-left"])
    assert image.size == size and image.mode == "1" and image.getbbox() is not None


def test_paused_screen_is_unmistakable_and_frozen():
    image = Renderer((128, 64)).render(SCREENS["paused"])
    bars = image.crop((0, 0, 40, 48))
    assert bars.convert("L").histogram()[255] >= 2 * 10 * 36  # two solid bars, each at least 10x36 px
    later = Renderer((128, 64)).render(dataclass_replace(SCREENS["paused"], progress=0.9))
    assert later.tobytes() == image.tobytes()  # nothing moves while paused but the number it shows


def test_hold_side_is_a_word_and_an_arrow_and_differs_between_sides():
    left = Renderer((128, 64)).render(SCREENS["hold-left"]).crop((48, 0, 128, 14))
    right = Renderer((128, 64)).render(dataclass_replace(SCREENS["hold-left"], side="right")).crop((48, 0, 128, 14))
    for label in (left, right):
        bbox = label.getbbox()
        assert bbox is not None and bbox[3] - bbox[1] >= 10  # a 10+ px tall label
    assert left.tobytes() != right.tobytes()


def test_message_text_breaks_lines_at_wide_gaps_and_says_when_it_is_shortened(monkeypatch):
    from PIL import ImageDraw

    drawn = []
    original = ImageDraw.ImageDraw.text

    def recording_text(self, xy, text, *args, **kwargs):
        drawn.append(text)
        return original(self, xy, text, *args, **kwargs)

    monkeypatch.setattr(ImageDraw.ImageDraw, "text", recording_text)
    Renderer((128, 64)).render(Frame("message", title="POWER OFF?", text="A: yes, power off   B: no"))
    assert "A: yes, power off" in drawn and "B: no" in drawn
    drawn.clear()
    Renderer((128, 64)).render(Frame("message", title="T", text="first line here   second line here   third line here   fourth one"))
    assert drawn[-1].startswith("third line here") and drawn[-1].endswith(ELLIPSIS)
    assert "fourth one" not in "".join(drawn)


# ---- icons: built-in or beside the routine, defensively -------------------------------------

def test_load_icon_gives_builtins_and_raises_with_the_generic_fallback(tmp_path):
    from stretchbox.adapters.icons import read_icon
    from stretchbox.core.icons import BUILTIN_ICONS
    from stretchbox.render.icons import IconError, load_icon, resolve_icon

    generic = load_icon("generic")
    for name in BUILTIN_ICONS:
        image = load_icon(name, box=32)
        assert image.mode == "1" and image.size == (32, 32)
    assert load_icon("").tobytes() == generic.tobytes()
    with pytest.raises(IconError) as err:
        load_icon("no-such-icon")
    assert err.value.fallback.tobytes() == generic.tobytes()
    png, problem = read_icon("no-such-icon", tmp_path)
    assert png is None and "no icon file" in problem
    image, problem = resolve_icon("no-such-icon", png)
    assert image.tobytes() == generic.tobytes() and "not a built-in icon" in problem
    for bad in ("/etc/passwd", "../x", "a/b", "a\\b", ".hidden", ".."):
        assert "plain file name" in read_icon(bad, tmp_path)[1], bad


def test_a_pixel_bomb_is_refused_from_its_header(tmp_path):
    from stretchbox.adapters.icons import read_icon
    from stretchbox.render.icons import resolve_icon

    Image.new("1", (1025, 1000)).save(tmp_path / "bomb.png")  # small on disk, too many pixels
    assert (tmp_path / "bomb.png").stat().st_size < 256 * 1024
    png, problem = read_icon("bomb", tmp_path)
    assert png is None and "1025x1000" in problem
    image, problem = resolve_icon("bomb", (tmp_path / "bomb.png").read_bytes())  # the renderer checks too
    assert "1025x1000" in problem


def test_a_link_inside_the_folder_is_refused_too(tmp_path):
    from stretchbox.adapters.icons import read_icon

    Image.new("L", (10, 10), 255).save(tmp_path / "real.png")
    (tmp_path / "alias.png").symlink_to(tmp_path / "real.png")
    assert read_icon("real", tmp_path) == ((tmp_path / "real.png").read_bytes(), None)
    assert "link" in read_icon("alias", tmp_path)[1]


def test_a_dark_figure_on_a_light_background_is_lit_on_the_panel(tmp_path):
    from PIL import ImageDraw as Draw

    from stretchbox.adapters.icons import read_icon
    from stretchbox.render.icons import load_icon

    picture = Image.new("RGB", (96, 96), "white")
    Draw.Draw(picture).rectangle((40, 10, 56, 86), fill="black")  # a black bar on white paper
    picture.save(tmp_path / "bar.png")
    sheet = Image.new("RGBA", (96, 96), (0, 0, 0, 0))
    Draw.Draw(sheet).rectangle((40, 10, 56, 86), fill=(0, 0, 0, 255))  # the same bar, on transparency
    sheet.save(tmp_path / "clear.png")
    for name in ("bar", "clear"):
        icon = load_icon(name, read_icon(name, tmp_path)[0], box=48)
        lit = icon.getbbox()
        assert lit is not None and lit[2] - lit[0] <= 12 and lit[3] - lit[1] >= 36, (name, lit)


def test_a_routines_own_icon_is_read_when_loaded_and_drawn_without_touching_its_file(tmp_path):
    """The loader reads the PNG beside the routine; the session's frames carry it; the renderer opens no file."""
    from stretchbox.adapters.routines import load_routine
    from stretchbox.core.gestures import A, Pressed, Released
    from stretchbox.core.session import Session

    from tests.helpers import run_until

    (tmp_path / "r.yaml").write_text("schema: 1\nname: Own\nstretches:\n  - name: Reach\n    icon: Mine\n"
                                     "  - name: Calf\n    icon: calf\n")
    Image.radial_gradient("L").resize((64, 64)).save(tmp_path / "MINE.png")
    routine = load_routine(tmp_path / "r.yaml")
    assert routine.stretches[0].icon_png == (tmp_path / "MINE.png").read_bytes()
    assert routine.stretches[1].icon_png is None  # a built-in name: nothing to read
    (tmp_path / "MINE.png").unlink()  # drawing must not need the file any more
    session = Session([routine])
    session.handle(Pressed(A, 1.0))
    session.handle(Released(A, 1.1))
    run_until(session, 10.0)
    frame = session.frame(10.0)
    assert frame.icon == "Mine" and frame.icon_png == routine.stretches[0].icon_png, frame
    generic = dataclass_replace(frame, icon="generic", icon_png=None)
    assert Renderer((128, 64)).render(frame).tobytes() != Renderer((128, 64)).render(generic).tobytes()


# ---- the coach's screens: time left, extended and open holds; paged texts, every page golden -------------

def drawn_strings(monkeypatch):
    """Every string the renderer draws, with its ink box, in order (the real ImageDraw.text draws it too)."""
    from PIL import ImageDraw

    drawn = []
    original = ImageDraw.ImageDraw.text

    def recording_text(self, xy, text, *args, **kwargs):
        drawn.append((text, self.textbbox(xy, text, font=kwargs.get("font"), anchor=kwargs.get("anchor"))))
        return original(self, xy, text, *args, **kwargs)

    monkeypatch.setattr(ImageDraw.ImageDraw, "text", recording_text)
    return drawn


SIZES = [(128, 64), (128, 32)]


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("screen", ["prepare-time-left", "hold-time-left", "switch-time-left", "rest-why"])
def test_timing_screens_show_the_routines_time_left_and_nothing_when_it_is_unknown(size, screen, monkeypatch):
    drawn = drawn_strings(monkeypatch)
    frame = dataclass_replace(SCREENS[screen], routine_left=252)
    Renderer(size).render(frame)
    assert any("4:12" in text for text, _ in drawn), drawn
    drawn.clear()
    Renderer(size).render(dataclass_replace(frame, routine_left=None))
    assert not any("4:12" in text or "left" in text.split() for text, _ in drawn), drawn


@pytest.mark.parametrize("size", SIZES)
def test_an_extended_hold_says_by_how_much_next_to_the_countdown(size, monkeypatch):
    drawn = drawn_strings(monkeypatch)
    Renderer(size).render(SCREENS["hold-extended"])
    boxes = dict(drawn)
    assert "+15" in boxes and "41" in boxes
    plus, digits = boxes["+15"], boxes["41"]
    assert plus[2] < digits[0] and plus[1] < digits[3] and digits[1] < plus[3]  # left of it, on the same rows


@pytest.mark.parametrize("size", SIZES)
def test_an_open_hold_counts_up_as_m_ss_with_an_arrow_and_no_bar(size, monkeypatch):
    drawn = drawn_strings(monkeypatch)
    timed = dataclass_replace(SCREENS["hold-open"], open_hold=False, progress=0.6)
    opened = dataclass_replace(SCREENS["hold-open"], progress=0.6)  # a progress the session would not send
    image = Renderer(size).render(opened)
    texts = [text for text, _ in drawn]
    assert "0:37" in texts and "37" not in texts and "B: done" in " ".join(texts)
    if size == (128, 64):
        assert image.crop((0, 62, 128, 64)).getbbox() is None  # no bar: an open hold has no end to fill up to
        assert Renderer(size).render(timed).crop((0, 62, 128, 64)).getbbox() is not None
    drawn.clear()
    Renderer(size).render(timed)
    assert "37" in [text for text, _ in drawn]


@pytest.mark.parametrize("size", SIZES)
def test_an_open_hold_paused_or_led_in_keeps_its_own_number(size, monkeypatch):
    """Paused, the time held reads as m:ss as it did; a lead-in's number is a countdown, open hold or not."""
    drawn = drawn_strings(monkeypatch)
    Renderer(size).render(dataclass_replace(SCREENS["paused"], seconds=37, open_hold=True))
    assert "0:37" in [text for text, _ in drawn]
    drawn.clear()
    Renderer(size).render(dataclass_replace(SCREENS["lead-in"], open_hold=True))
    texts = [text for text, _ in drawn]
    assert "3" in texts and not any("done" in text for text in texts), texts


@pytest.mark.parametrize("size", SIZES)
def test_idle_says_open_for_a_routine_without_a_total(size, monkeypatch):
    drawn = drawn_strings(monkeypatch)
    Renderer(size).render(SCREENS["idle-open-only"])
    assert any(text.split()[:1] == ["open"] or text.endswith(" open") or " open " in text for text, _ in drawn)
    assert not any("0:00" in text for text, _ in drawn)
    drawn.clear()
    Renderer(size).render(SCREENS["idle-open"])
    assert any("4:10 + open" in text for text, _ in drawn), drawn


HISTORY_LINES = ("4 sessions, 28:40 held", "left 14:10 right 12:30", "Seated hamstring L 2:00 R 1:30",
                 "Hip flexor L 2:00 R 2:00", "Calf L 1:00 R 1:00", "last: stopped at 3/6")
PAGED = {  # name -> (frame, the text it must show whole over its pages)
    "prepare-longest": (Frame("prepare", title="NEXT", name=LONGEST_NAME, icon="seated-hamstring", side="right",
                              seconds=8, index=12, count=12, text=LONGEST_CUE, routine_left=3599), LONGEST_CUE),
    "switch-widest-cue": (Frame("switch", title="SWITCH SIDES", name=LONGEST_NAME, icon="calf", side="left",
                                seconds=15, text=WIDEST_CUE, routine_left=600), WIDEST_CUE),
    "rest-longest-why": (Frame("rest", title="REST", name=LONGEST_NAME, icon="calf", side="left", seconds=30,
                               detail=f"next: {LONGEST_NAME}", text=LONGEST_CUE, why=LONGEST_WHY, routine_left=1200),
                         LONGEST_WHY),
    "rest-cue-without-why": (Frame("rest", title="REST", name="Calf", icon="calf", side="left", seconds=20,
                                   detail="next: Calf", text=LONGEST_CUE, routine_left=100), LONGEST_CUE),
    "history-more-lines": (Frame("history", title="THIS WEEK", lines=HISTORY_LINES), " ".join(HISTORY_LINES)),
    "offer-longest-name": (Frame("offer", title="RESUME?", name=LONGEST_NAME, side="left", seconds=3599,
                                 lines=("A: resume", "B: start over")), "A: resume B: start over"),
    "done-streak-counts": (SCREENS["done-streak-counts"], "12 sessions, 5 since the last import"),
}
CYCLE_LIMIT = 600  # seconds: every paged text here comes round again well before


def pages(frame: Frame, size) -> tuple[list[tuple[int, Image.Image]], bool]:
    """The distinct screens ``frame`` shows as its ``elapsed`` runs, each with the first second it shows,
    in order, up to the first page coming round again; and whether it did."""
    renderer = Renderer(size)
    shown: list[tuple[int, Image.Image]] = []
    last = None
    for t in range(CYCLE_LIMIT):
        image = renderer.render(dataclass_replace(frame, elapsed=t))
        data = image.tobytes()
        if data != last:
            if shown and data == shown[0][1].tobytes():
                return shown, True
            shown.append((t, image))
            last = data
    return shown, False


def prefix(size) -> str:
    return "" if size == (128, 64) else f"{size[0]}x{size[1]}-"


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("name", sorted(PAGED))
def test_every_page_of_a_paged_text_matches_its_golden_image(name, size, update_golden):
    shown, cycled = pages(PAGED[name][0], size)
    stem = f"{prefix(size)}{name}-page"
    if update_golden:
        for old in GOLDEN.glob(f"{stem}*.png"):
            old.unlink()
    for k, (_, image) in enumerate(shown, 1):
        check_golden(f"{stem}{k}", image, update_golden)
    assert len(list(GOLDEN.glob(f"{stem}*.png"))) == len(shown), "stale page images: make golden"
    assert cycled or len(shown) == 1


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("name", sorted(PAGED))
def test_every_word_of_a_paged_text_is_on_some_page_and_nothing_spills(name, size, monkeypatch):
    frame, text = PAGED[name]
    shown, _ = pages(frame, size)
    end = shown[-1][0] + 60  # past the last page's start, by more than any page stays
    drawn = drawn_strings(monkeypatch)
    for t in range(end):
        Renderer(size).render(dataclass_replace(frame, elapsed=t))
    w, h = size
    for string, (left, top, right, bottom) in drawn:
        assert left >= 0 and right <= w and bottom <= h + 1, f"{string!r} spills: {(left, top, right, bottom)}"
    tokens = {token for string, _ in drawn for token in string.split()}
    if text == WIDEST_CUE:  # one word wider than any line: split between letters (the pager's tests count them)
        assert len({string for string, _ in drawn if set(string) == {"W"}}) >= 2
        return
    missing = [word for word in text.split() if word not in tokens]
    assert not missing, f"never shown whole: {missing}"
    assert not any(string.endswith(ELLIPSIS) and string.split()[0] in text.split() for string, _ in drawn
                   if string.split())


@pytest.mark.parametrize("size", SIZES)
def test_a_page_stays_at_least_three_seconds(size):
    for name, (frame, _) in PAGED.items():
        shown, _ = pages(frame, size)
        starts = [t for t, _ in shown]
        assert all(b - a >= 3 for a, b in zip(starts, starts[1:])), (name, starts)


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("seconds", [None, 30])
@pytest.mark.parametrize("screen", ["prepare-time-left", "hold-time-left", "hold-extended", "rest-why"])
def test_the_longest_time_left_is_never_shortened(size, screen, seconds, monkeypatch):
    """At 128x64 it is always shown; at 128x32 it may give way: to "+15" beside a wide countdown, or to the
    title beside a countdown of two digits on the prepare screen (usually one: prepare lasts seconds)."""
    drawn = drawn_strings(monkeypatch)
    frame = dataclass_replace(SCREENS[screen], routine_left=3599)
    Renderer(size).render(frame if seconds is None else dataclass_replace(frame, seconds=seconds))
    assert not any("59" in text and text.endswith(ELLIPSIS) for text, _ in drawn), drawn
    if size == (128, 64) or (seconds is None and screen != "hold-extended"):
        assert any("59:59" in text for text, _ in drawn), drawn
