"""The pager (render/text.py): long texts as pages of whole lines that fit, each shown for a while, in turn."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stretchbox.core.routine import MAX_CUE, MAX_NAME, MAX_WHY
from stretchbox.render import Renderer
from stretchbox.render.assets import default_assets
from stretchbox.render.text import MIN_PAGE_SECONDS, page_at, page_seconds, paginate, split_lines, width

from tests.render.texts import LONGEST_CUE, LONGEST_NAME, LONGEST_WHY, WIDEST_CUE

PIXEL = default_assets().pixel(12)
# The body widths the screens page into: the full 128 px, and beside the 128x32 countdown ("8" .. "59:59").
WIDTHS = (128, 105, 90, 40)


def words(text: str) -> list[str]:
    return text.split()


def check_lines(text: str, lines: tuple[str, ...], max_width: int, font=PIXEL) -> None:
    """Nothing lost, nothing added, no line too wide, no break inside a word that would fit on a line."""
    assert "".join("".join(lines).split()) == "".join(text.split()), (text, lines)
    for line in lines:
        assert width(font, line) <= max_width or len(line) == 1, (line, width(font, line), max_width)
        assert line == line.strip() and "  " not in line, line
    fitting = {w for w in text.split() if width(font, w) <= max_width}
    pieces = [p for line in lines for p in line.split(" ")]
    assert fitting <= set(pieces), f"a word that fits a line was broken: {fitting - set(pieces)}"


def test_the_validators_limits_are_what_the_texts_use():
    assert (len(LONGEST_CUE), len(LONGEST_WHY), len(LONGEST_NAME), len(WIDEST_CUE)) == (MAX_CUE, MAX_WHY, MAX_NAME,
                                                                                       MAX_CUE)


@pytest.mark.parametrize("max_width", WIDTHS)
@pytest.mark.parametrize("text", [LONGEST_CUE, LONGEST_WHY, LONGEST_NAME, WIDEST_CUE], ids=["cue", "why", "name",
                                                                                           "widest-cue"])
def test_the_longest_texts_are_split_whole_into_lines_that_fit(text, max_width):
    check_lines(text, split_lines(text, PIXEL, max_width), max_width)


def test_a_word_is_split_only_when_it_is_wider_than_the_line():
    lines = split_lines("Hip " + "W" * 30 + " end", PIXEL, 60)  # 6 px a letter: 10 to a line
    assert lines == ("Hip", "W" * 10, "W" * 10, "W" * 10, "end")
    assert split_lines("one two three", PIXEL, 128) == ("one two three",)
    assert split_lines("  spaced \n out\t", PIXEL, 128) == ("spaced out",)
    assert split_lines("", PIXEL, 128) == () and paginate("", PIXEL, 128, 2) == ()


def test_pages_hold_at_most_their_rows_and_paragraphs_start_lines():
    pages = paginate(LONGEST_WHY, PIXEL, 128, 3)
    assert all(1 <= len(p) <= 3 for p in pages) and all(len(p) == 3 for p in pages[:-1])
    assert [line for page in pages for line in page] == list(split_lines(LONGEST_WHY, PIXEL, 128))
    assert paginate(("A: resume", "B: start over"), PIXEL, 128, 1) == (("A: resume",), ("B: start over",))


@settings(max_examples=300, deadline=None)
@given(text=st.text(alphabet=st.sampled_from("aiWm.,:-' \n\t0123456789é"), max_size=MAX_WHY),
       max_width=st.integers(20, 128), rows=st.integers(1, 4))
def test_any_text_is_paged_whole_and_in_its_box(text, max_width, rows):
    pages = paginate(text, PIXEL, max_width, rows)
    check_lines(text, tuple(line for page in pages for line in page), max_width)
    assert all(1 <= len(page) <= rows for page in pages)


@settings(max_examples=100, deadline=None)
@given(text=st.text(max_size=MAX_CUE), max_width=st.integers(30, 128), size=st.sampled_from([9, 10, 11, 12]))
def test_any_text_in_any_shipped_font_keeps_every_word(text, max_width, size):
    font = default_assets().font(size, False)
    check_lines(text, split_lines(text, font, max_width), max_width, font)


def test_each_page_shows_for_its_time_then_the_first_comes_back():
    pages = paginate(LONGEST_WHY, PIXEL, 128, 3)
    shown = [page_at(pages, t) for t in range(2 * sum(page_seconds(p) for p in pages))]
    assert shown[0] == 0 and sorted(set(shown)) == list(range(len(pages)))
    runs = [shown[0]]
    for i in shown[1:]:
        if i != runs[-1]:
            runs.append(i)
    assert runs == list(range(len(pages))) * 2  # in order, every page, then round again
    for i, page in enumerate(pages):
        assert shown.count(i) == 2 * page_seconds(page) >= 2 * MIN_PAGE_SECONDS
    assert page_at(pages[:1], 999) == 0 and page_at((), 5) == 0 and page_at(pages, -3) == 0


def test_a_page_of_many_words_stays_longer_than_a_short_one():
    assert page_seconds(("ok",)) == MIN_PAGE_SECONDS
    long_page = tuple(split_lines(LONGEST_WHY, PIXEL, 128)[:3])
    assert page_seconds(long_page) > MIN_PAGE_SECONDS


def test_one_pager_for_every_screen(monkeypatch):
    """The screens page through text.paginate and nothing else: a pager that drops words shows on every screen."""
    import stretchbox.render.screens as screens
    from stretchbox.core.frame import Frame

    calls = []
    real = screens.paginate

    def spy(text, *args):
        calls.append(text)
        return real(text, *args)

    monkeypatch.setattr(screens, "paginate", spy)
    frames = [Frame("prepare", text=LONGEST_CUE), Frame("switch", text=LONGEST_CUE), Frame("rest", why=LONGEST_WHY),
              Frame("offer", lines=("A: resume",)), Frame("history", lines=("2 sessions",)),
              Frame("done", detail="3rd week in a row")]  # the streak: paged at 128x32
    for size in ((128, 64), (128, 32)):
        for frame in frames:
            calls.clear()
            Renderer(size).render(frame)
            assert calls, (size, frame.screen)
