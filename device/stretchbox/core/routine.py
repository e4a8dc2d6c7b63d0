"""The routine model and its validation, from plain mappings (no YAML here).

Validation collects every problem at once; each names the path of the
offending value (``("stretches", 2, "hold")``) so the file adapter can turn it
into ``FILE:LINE:COL``. The core never sees a file.

Every fact about the file format has one home here: the limits below, the
field table (``TOP_FIELDS``, ``STRETCH_FIELDS``, ``TIMING_FIELDS``, ``CUES``), the
duration grammar and the icon name rule. ``core.routine_schema`` builds the
JSON Schema editors use from the same definitions.
"""

from __future__ import annotations

import difflib
import math
import re
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from .errors import Invalid
from .icons import GENERIC_ICON
from .text import quote

SCHEMA_VERSION = 1
MAX_STRETCHES = 100
MAX_NAME = 40
MAX_CUE = 80
MAX_WHY = 400
MAX_DESCRIPTION = 400
MAX_ICON = 64
MAX_DURATION = 3600
DEFAULT_MIN_HOLD = 20
MAX_PATTERN_STEPS = 16
PATTERN_MS = (20, 3000)

Path = tuple[str | int, ...]


class Sides(str, Enum):
    """Which sides a stretch is held on. ``both`` means left, then right."""

    BOTH = "both"
    LEFT = "left"
    RIGHT = "right"
    NONE = "none"

    @property
    def order(self) -> tuple[str | None, ...]:
        """The holds of one stretch, in order: a side name or None."""
        return {
            Sides.BOTH: ("left", "right"),
            Sides.LEFT: ("left",),
            Sides.RIGHT: ("right",),
            Sides.NONE: (None,),
        }[self]


OPEN = "open"  # ``hold: open``: held until the user presses B, counting up


@dataclass(frozen=True)
class Timing:
    """Seconds for each phase of a stretch; ``hold`` None is an open hold (``hold: open``)."""

    prepare: int = 5
    hold: int | None = 30
    switch: int = 5
    rest: int = 5


@dataclass(frozen=True)
class Stretch:
    name: str
    icon: str
    sides: Sides
    timing: Timing
    cue: str = ""
    why: str = ""
    # A routine's own icon (``icon`` is not a built-in name): the PNG's bytes, read and checked when the routine
    # was loaded (adapters.icons), or None (built-in, or missing or unusable: the generic icon is drawn).
    icon_png: bytes | None = field(default=None, repr=False)


@dataclass(frozen=True)
class Routine:
    name: str
    stretches: tuple[Stretch, ...]
    description: str = ""
    min_hold: int = DEFAULT_MIN_HOLD
    source: str = ""
    # cue -> on/off milliseconds (starting with on), or None for silence
    cues: tuple[tuple[str, tuple[int, ...] | None], ...] = ()
    halfway: bool | None = None  # ``cues: {halfway: on|off}``; None: the device's config decides

    def cue_overrides(self) -> dict[str, tuple[int, ...] | None]:
        return dict(self.cues)

    def total_seconds(self) -> int:
        """Planned length of the whole routine, without pauses; open holds count 0 (see ``has_open_holds``)."""
        total = 0
        for i, s in enumerate(self.stretches):
            holds = len(s.sides.order)
            total += s.timing.prepare + holds * (s.timing.hold or 0) + (holds - 1) * s.timing.switch
            if i < len(self.stretches) - 1:
                total += s.timing.rest
        return total

    def has_open_holds(self) -> bool:
        return any(s.timing.hold is None for s in self.stretches)

    def content_hash(self) -> str:
        """A short fingerprint of what the routine does: a resume journal for another version is discarded."""
        import hashlib  # here: 3 ms of start-up the config's check (before the splash) does not need

        return hashlib.sha256(repr((self.name, self.stretches, self.min_hold)).encode()).hexdigest()[:16]


# ---------------------------------------------------------------- the fields of a routine file
#
# THE table of what a routine file may hold. The validator below walks these keys and reads its
# limits here; core/routine_schema.py builds the JSON Schema for editors from the same entries
# (descriptions and examples included), so the file format has one definition. Numbers (limits,
# defaults) are never written into a description: the schema adds them from the constants.


class Kind(Enum):
    """What a field's value is, and so how it is checked."""

    SCHEMA = "schema"  # the format's version number
    TEXT = "text"  # text on one line once runs of spaces are one space, at most ``limit`` characters
    DURATION = "duration"  # whole seconds: 30, "30s", "1m", "1m30s"
    HOLD = "hold"  # a duration, or "open": held until the user presses
    ICON = "icon"  # a built-in icon's name or a PNG's file name beside the routine
    SIDES = "sides"  # one of Sides
    TIMING = "timing"  # a mapping of TIMING_FIELDS
    CUES = "cues"  # a mapping of CUES, each on, off or an on/off pattern
    STRETCHES = "stretches"  # a list of 1 to ``limit`` mappings of STRETCH_FIELDS


@dataclass(frozen=True)
class Field:
    """One key of a routine file: what the validator checks, and what an editor explains."""

    kind: Kind
    description: str  # what an editor shows on hover and beside a completion
    examples: tuple[Any, ...]  # valid values (a test checks each with the validator)
    required: bool = False
    limit: int = 0  # TEXT: characters; STRETCHES: items
    default: Any = None  # what an absent optional key means


DEFAULT_ICON = GENERIC_ICON

TIMING_FIELDS: dict[str, Field] = {
    "prepare": Field(Kind.DURATION, "Time to get into position before the first hold, the stretch shown "
                                    "with what to do.", ("8s", 5), default=Timing.prepare),
    "hold": Field(Kind.HOLD, "How long the stretch is held, per side. Never under min_hold. 'open': held "
                             "until you press B, counting up (min_hold does not apply).",
                  ("30s", "1m", 45, OPEN), default=Timing.hold),
    "switch": Field(Kind.DURATION, "Time to change sides between the two holds of a stretch done on both "
                                   "sides.", ("5s", 3), default=Timing.switch),
    "rest": Field(Kind.DURATION, "Time after a stretch, before the next one is prepared.", ("5s", 0),
                  default=Timing.rest),
}

STRETCH_FIELDS: dict[str, Field] = {
    "name": Field(Kind.TEXT, "The stretch's name, shown above its picture.", ("Seated hamstring", "Calf"),
                  required=True, limit=MAX_NAME),
    "icon": Field(Kind.ICON, "The picture shown during the stretch: a built-in icon, or the file name of a "
                             "PNG beside the routine file ('shoulder' or 'shoulder.png'). A missing file shows "
                             "the generic icon.", ("seated-hamstring", "calf", "shoulder.png"),
                  limit=MAX_ICON, default=DEFAULT_ICON),
    "sides": Field(Kind.SIDES, "Which sides the stretch is held on: both (left, then right), left, right, or "
                               "none (a stretch without sides).", tuple(s.value for s in Sides),
                   default=Sides.BOTH.value),
    "cue": Field(Kind.TEXT, "What to do, shown while preparing and holding.",
                 ("Heel down, toes up on a wall. Lean in.",), limit=MAX_CUE),
    "why": Field(Kind.TEXT, "Why the stretch matters, for the routine's author and the curious.",
                 ("The calves push you off the ground at every step.",), limit=MAX_WHY),
    **TIMING_FIELDS,
}

# Cues a routine may silence or re-pattern (``cues: {countdown: off, next-stretch: [400, 100, 400]}``).
CUES: dict[str, str] = {  # each name, and when the device sounds it
    "prepare": "a stretch is being prepared: get into position",
    "go": "a hold starts",
    "switch-side": "it is time to change sides",
    "countdown": "each of the last seconds of a hold ticks by",
    "next-stretch": "the next stretch is being prepared",
    "paused": "the routine is paused",
    "resumed": "the routine goes on after a pause",
    "done": "the routine is over",
    "halfway": "a timed hold of 20 s or more is half done (off unless the routine or the config turns it on)",
    "extend": "the hold in progress was made longer with the extend gesture",
}

TOP_FIELDS: dict[str, Field] = {
    "schema": Field(Kind.SCHEMA, "The version of the routine format this file is written in.", (SCHEMA_VERSION,),
                    required=True),
    "name": Field(Kind.TEXT, "The routine's name, as the device lists it. Two routines on one device cannot "
                             "share a name.", ("Post-run stretches", "Desk break"), required=True, limit=MAX_NAME),
    "description": Field(Kind.TEXT, "What the routine is for, in a sentence or two.",
                         ("Six stretches for hamstrings, hips, low back, IT band and calves.",),
                         limit=MAX_DESCRIPTION),
    "min_hold": Field(Kind.DURATION, "The shortest hold any stretch of this routine may have, per side: a "
                                     "shorter hold is an error, so a typo cannot make a stretch too short to do "
                                     "any good.", ("20s", 30), default=DEFAULT_MIN_HOLD),
    "defaults": Field(Kind.TIMING, "Timings for every stretch of the routine; a stretch may set any of them "
                                   "for itself.", ({"prepare": "8s", "hold": "30s", "switch": "5s", "rest": "5s"},)),
    "cues": Field(Kind.CUES, "Silence or re-pattern the buzzer's cues for this routine: on (the device's "
                             "pattern), off (silent), or a list of on/off times in milliseconds, starting "
                             "with on.", ({"countdown": "off", "next-stretch": [400, 100, 400]},)),
    "stretches": Field(Kind.STRETCHES, "The stretches, in the order they are done.",
                       ([{"name": "Calf", "icon": "calf", "sides": "both", "hold": "30s"}],),
                       required=True, limit=MAX_STRETCHES),
}

TOP_KEYS = tuple(TOP_FIELDS)
TIMING_KEYS = tuple(TIMING_FIELDS)
STRETCH_KEYS = tuple(STRETCH_FIELDS)
CUE_NAMES = tuple(CUES)


@dataclass(frozen=True, order=True)
class Problem:
    """One thing wrong with an input, at ``path`` inside it."""

    path: Path
    message: str
    at_key: bool = False  # points at the key itself (unknown key), not its value

    def where(self) -> str:
        return format_path(self.path)


class InvalidRoutine(Invalid):
    """A routine refused, with every problem found, not just the first."""


def format_path(path: Path) -> str:
    """``("stretches", 2, "hold")`` -> ``stretches[2].hold`` (0-based, like the data)."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
    return out


# Bounded by construction: ASCII digits and spaces only, and never applied to more than
# MAX_DURATION_TEXT characters, so backtracking has nowhere to go. No possessive quantifiers or
# atomic groups: Bookworm's Python 3.11.2 mis-matches them ("20s" fails), fixed only in later 3.11s.
_DIGITS, _GAP, _MIN, _SEC = "[0-9]+", r"[ \t]*", "[mM]", "[sS]"
_DURATION = re.compile(f"(?:({_DIGITS}){_GAP}{_MIN})?{_GAP}(?:({_DIGITS}){_GAP}{_SEC})?")
MAX_DURATION_TEXT = 20
DURATION_FORMS = "30, '30s', '1m' or '1m30s'"
_DURATION_HINT = f"expected a duration like {DURATION_FORMS}"
# The same forms as one pattern over a whole value, spaces around it allowed (parse_duration strips
# them): what the JSON Schema checks text durations with. Python's ``re`` and ECMAScript read it alike.
DURATION_PATTERN = (rf"^\s*(?:{_DIGITS}|{_DIGITS}{_GAP}{_MIN}(?:{_GAP}{_DIGITS}{_GAP}{_SEC})?"
                    rf"|{_DIGITS}{_GAP}{_SEC})\s*$")
# Letters that stand in for digits when typed in a hurry: "3O" is 30, "l5" is 15.
_LOOKALIKES = str.maketrans("oOlI", "0011")


_ICON_BODY = f"[A-Za-z0-9][A-Za-z0-9_.-]{{0,{MAX_ICON - 1}}}"
ICON_NAME = re.compile(f"^{_ICON_BODY}$")
ICON_RULE = "a built-in name or a file name beside the routine (letters, digits, '-', '_', '.'; no folders)"
# An icon as written (spaces around it are dropped, and an empty one means the generic icon).
ICON_PATTERN = rf"^\s*(?:{_ICON_BODY}\s*)?$"


def text_pattern(limit: int, *, required: bool) -> str:
    """The pattern of a TEXT field's value: at most ``limit`` characters once the ends are trimmed and
    each run of spaces inside is one space (what ``Checker.text`` measures), not blank when ``required``.

    Each run of spaces can be matched one way only, so a 60 KB value fails in linear time.

    >>> import re
    >>> [bool(re.search(text_pattern(5, required=True), t)) for t in ("  a   b c ", "abcdef", "   ")]
    [True, False, False]
    """
    words = rf"\S(?:\S|\s+(?=\S)){{0,{limit - 1}}}\s*"
    return rf"^\s*{words}$" if required else rf"^\s*(?:{words})?$"


def parse_duration(value: Any) -> int:
    """Whole seconds from ``30``, ``"30"``, ``"30s"``, ``"1m"`` or ``"1m30s"``.

    Raises ValueError with a message a routine author can act on.
    """
    if isinstance(value, bool):
        raise ValueError(f"{_DURATION_HINT}, got {type_name(value)}")
    if isinstance(value, int):
        seconds = value
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"{_DURATION_HINT}, got {'not-a-number' if math.isnan(value) else 'infinity'}")
        if not value.is_integer():
            raise ValueError(f"durations are whole seconds, got {quote(value)}")
        seconds = int(value)
    elif isinstance(value, str):
        seconds = _duration_text(value)
    else:
        raise ValueError(f"{_DURATION_HINT}, got {type_name(value)}")
    if seconds < 0:
        raise ValueError(f"a duration cannot be negative, got {quote(seconds)}")
    if seconds > MAX_DURATION:
        shown = f"{seconds} s" if seconds < 10 ** 9 else quote(seconds)
        raise ValueError(f"{shown} is longer than the {MAX_DURATION} s limit")
    return seconds


def _duration_text(value: str) -> int:
    text = value.strip()
    if len(text) <= MAX_DURATION_TEXT:
        if text.isascii() and text.isdigit():
            return int(text)
        m = _DURATION.fullmatch(text)
        if m and (m.group(1) or m.group(2)):
            return int(m.group(1) or 0) * 60 + int(m.group(2) or 0)
    other = next((ch for ch in text[:MAX_DURATION_TEXT] if not ch.isascii() and (ch.isdigit() or ch.isnumeric())),
                 None)
    if other is not None:
        where = "" if other == text else f" in {quote(value)}"
        raise ValueError(f"{quote(other)}{where} is not one of the digits 0-9; write durations with plain digits")
    hint = ""
    if len(text) <= MAX_DURATION_TEXT and any(ch.isdigit() for ch in text):
        fixed = text.translate(_LOOKALIKES)
        if fixed != text and (fixed.isascii() and fixed.isdigit() or _DURATION.fullmatch(fixed)):
            hint = f": a letter where a digit goes? (did you mean {quote(fixed)}?)"
    raise ValueError(f"{_DURATION_HINT}, got {quote(value)}{hint}")


def type_name(value: Any) -> str:
    return {dict: "a mapping", list: "a list", str: "text", int: "a number", float: "a number",
            bool: "true/false", type(None): "nothing (null)"}.get(type(value), type(value).__name__)


def suggest(key: str, allowed: tuple[str, ...]) -> str:
    close = difflib.get_close_matches(key, allowed, n=1, cutoff=0.5) if len(key) <= 2 * MAX_NAME else []
    if close:
        return f"unknown key {quote(key)}: did you mean '{close[0]}'?"
    return f"unknown key {quote(key)} (allowed: {', '.join(allowed)})"


@dataclass
class Checker:
    """Collects problems while walking one routine mapping."""

    problems: list[Problem] = field(default_factory=list)

    def add(self, path: Path, message: str) -> None:
        self.problems.append(Problem(path, message))

    def mapping(self, value: Any, path: Path, allowed: tuple[str, ...]) -> dict:
        if not isinstance(value, dict):
            self.add(path, f"expected a mapping, got {type_name(value)}")
            return {}
        for key in value:
            if key not in allowed:
                self.problems.append(Problem(path + (str(key),), suggest(str(key), allowed), at_key=True))
        return value

    def text(self, data: dict, key: str, path: Path, spec: Field) -> str:
        required, limit = spec.required, spec.limit
        if key not in data:
            if required:
                self.add(path, f"missing required key '{key}'")
            return ""
        value = data[key]
        if not isinstance(value, str):
            self.add(path + (key,), f"'{key}' must be text, got {type_name(value)}")
            return ""
        value = " ".join(value.split())
        if required and not value:
            self.add(path + (key,), f"'{key}' must not be empty")
        elif len(value) > limit:
            self.add(path + (key,), f"'{key}' is {len(value)} characters; at most {limit}")
        elif (odd := next((ch for ch in value if not ch.isprintable()), None)) is not None:
            self.add(path + (key,), f"'{key}' contains the invisible or control character {quote(odd)}")
        return value

    def duration(self, data: dict, key: str, path: Path, default: int | None) -> int | None:
        if key not in data:
            return default
        if key == "hold" and isinstance(data[key], str) and data[key].strip().lower() == OPEN:
            return None  # an open hold
        try:
            return parse_duration(data[key])
        except ValueError as exc:
            self.add(path + (key,), f"'{key}': {exc}")
            return default


def routine_from_mapping(data: Any, *, source: str = "") -> Routine:
    """Build a Routine from plain data (as loaded from YAML), or raise InvalidRoutine."""
    c = Checker()
    top = c.mapping(data, (), TOP_KEYS)
    if not top and not isinstance(data, dict):
        raise InvalidRoutine(c.problems)

    schema = top.get("schema")
    if "schema" not in top:
        c.add((), f"missing required key 'schema' (write 'schema: {SCHEMA_VERSION}' at the top)")
    elif schema != SCHEMA_VERSION or isinstance(schema, bool):
        c.add(("schema",), f"unsupported schema {quote(schema)}; this device reads schema {SCHEMA_VERSION}")

    name = c.text(top, "name", (), TOP_FIELDS["name"])
    description = c.text(top, "description", (), TOP_FIELDS["description"])
    min_hold = c.duration(top, "min_hold", (), TOP_FIELDS["min_hold"].default)
    assert min_hold is not None

    base = Timing()
    if "defaults" in top:
        d = c.mapping(top["defaults"], ("defaults",), TIMING_KEYS)
        base = Timing(**{k: c.duration(d, k, ("defaults",), getattr(base, k)) for k in TIMING_KEYS})
    # A default hold under min_hold is reported once, where it is written.
    if base.hold is not None and (base.hold < min_hold or base.hold == 0):
        where = ("defaults", "hold") if isinstance(top.get("defaults"), dict) and "hold" in top["defaults"] \
            else ("min_hold",)
        c.add(where, f"the default hold of {base.hold} s is under min_hold ({min_hold} s)"
              if base.hold else "hold must be at least 1 s")

    cues = _cues(c, top["cues"]) if "cues" in top else ()
    halfway = None
    if isinstance(top.get("cues"), dict) and "halfway" in top["cues"]:
        halfway = dict(cues).get("halfway", True) is not None  # on or a pattern: on; off: off

    stretches: list[Stretch] = []
    raw = top.get("stretches")
    if "stretches" not in top:
        c.add((), "missing required key 'stretches' (a list of stretches)")
    elif not isinstance(raw, list):
        c.add(("stretches",), f"'stretches' must be a list, got {type_name(raw)}")
    elif not raw:
        c.add(("stretches",), "'stretches' is empty; a routine needs at least one stretch")
    elif len(raw) > TOP_FIELDS["stretches"].limit:
        c.add(("stretches",), f"{len(raw)} stretches; at most {TOP_FIELDS['stretches'].limit}")
    else:
        for i, item in enumerate(raw):
            s = _stretch(c, item, ("stretches", i), base, min_hold)
            if s is not None:
                stretches.append(s)

    if c.problems:
        raise InvalidRoutine(c.problems)
    return Routine(name=name, stretches=tuple(stretches), description=description,
                   min_hold=min_hold, source=source, cues=cues, halfway=halfway)


def _cues(c: Checker, raw: Any) -> tuple[tuple[str, tuple[int, ...] | None], ...]:
    """``cues:`` -> overrides; ``on`` keeps the device's pattern, ``off`` silences the cue."""
    out = []
    for name, value in c.mapping(raw, ("cues",), CUE_NAMES).items():
        if name not in CUE_NAMES:
            continue
        path: Path = ("cues", name)
        if value == "on" or value is True:  # not ``in ("on", True)``: 1 == True, and 1 is no on/off
            continue
        if value == "off" or value is False:
            out.append((name, None))
        elif isinstance(value, list) and 0 < len(value) <= MAX_PATTERN_STEPS and all(
                isinstance(v, int) and not isinstance(v, bool) and PATTERN_MS[0] <= v <= PATTERN_MS[1]
                for v in value):
            out.append((name, tuple(value)))
        else:
            c.add(path, f"cue '{name}' must be on, off, or a list of up to {MAX_PATTERN_STEPS} on/off times "
                        f"in milliseconds ({PATTERN_MS[0]}-{PATTERN_MS[1]}), like [400, 100, 400]")
    return tuple(out)




def _stretch(c: Checker, item: Any, path: Path, base: Timing, min_hold: int) -> Stretch | None:
    before = len(c.problems)
    d = c.mapping(item, path, STRETCH_KEYS)
    if not d:
        if isinstance(item, dict):
            c.add(path, "empty stretch: needs at least 'name' and 'icon'")
        return None
    name = c.text(d, "name", path, STRETCH_FIELDS["name"])
    icon = c.text(d, "icon", path, STRETCH_FIELDS["icon"]) or STRETCH_FIELDS["icon"].default
    if "icon" in d and icon and len(icon) <= MAX_ICON and not ICON_NAME.match(icon):  # longer: reported by text()
        c.add(path + ("icon",), f"icon {quote(icon)} must be {ICON_RULE}")
    cue = c.text(d, "cue", path, STRETCH_FIELDS["cue"])
    why = c.text(d, "why", path, STRETCH_FIELDS["why"])
    sides = Sides(STRETCH_FIELDS["sides"].default)
    if "sides" in d:
        value = d["sides"]
        try:
            sides = Sides(value)
        except ValueError:
            allowed = [s.value for s in Sides]
            hint = difflib.get_close_matches(value, allowed, n=1) if isinstance(value, str) and len(value) < 20 else []
            c.add(path + ("sides",), f"sides must be one of {', '.join(allowed)}, got {quote(value)}"
                  + (f": did you mean '{hint[0]}'?" if hint else ""))
    timing = Timing(**{k: c.duration(d, k, path, getattr(base, k)) for k in TIMING_KEYS})
    if "hold" in d and timing.hold is not None and timing.hold < min_hold:
        c.add(path + ("hold",), f"hold of {timing.hold} s is under min_hold ({min_hold} s): "
                                "hold each stretch at least that long per side")
    elif "hold" in d and timing.hold == 0:
        c.add(path + ("hold",), "hold must be at least 1 s")
    if len(c.problems) != before:
        return None
    return Stretch(name=name, icon=icon, sides=sides, timing=timing, cue=cue, why=why)
