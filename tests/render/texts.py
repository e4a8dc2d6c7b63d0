"""The longest texts the routine validator allows (core/routine.py's limits), as a routine's author would write them."""

from stretchbox.core.routine import MAX_CUE, MAX_NAME, MAX_WHY

PROSE = ("The hamstrings drive hip extension, the strong push of every stride, so they tighten most after fast "
         "running. Tight hamstrings pull on the low back: if you only have time for one stretch, make it this one. "
         "Ease into it over a few breaths, never bounce, and stop short of pain; a mild pull in the belly of the "
         "muscle is the goal. Keep the long knee soft, the back straight, and fold from the hips, not the waist.")


def longest(text: str, limit: int) -> str:
    """``text`` cut to exactly ``limit`` characters (the validator counts characters, so a word may end cut)."""
    cut = text[:limit]
    assert len(cut) == limit and cut == cut.strip(), "the sample text is too short or ends in a space"
    return cut


LONGEST_CUE = longest("Kneel on one knee, other foot ahead. Hips forward, same-side arm up, reach high.", MAX_CUE)
LONGEST_WHY = longest(PROSE, MAX_WHY)
LONGEST_NAME = longest("Standing quadriceps with a chair for balance", MAX_NAME)
WIDEST_CUE = "W" * MAX_CUE  # one word of the widest letter: wider than any line, so it must be split
