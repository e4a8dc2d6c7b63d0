"""The JSON Schema and the validator agree on what a routine is, or say by name why they cannot.

Both directions, on the same plain data (what the device's YAML loader makes of a file):

- every routine the validator accepts, the schema accepts: the shipped routines,
  the valid cases of tests/adapters/test_hostile_routines.py's corpus, routines generated
  by hypothesis (written here, independently of the model's own definitions);
- every routine-shape error the validator reports (an unknown key, a wrong type,
  a bad duration, bad ``sides``...), the schema rejects too, at the same place: named
  mutations of a good routine, then every (place x value) pair of a pool, then
  hypothesis mutations of generated routines.

Where they cannot agree, ``GAPS`` names each case with its reason and an example
on which they really differ (so an entry that stops being true fails here);
a disagreement no entry explains fails the test.
"""

from __future__ import annotations

import copy
import math
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import jsonschema
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from stretchbox.adapters.routines import builtin_dir, routine_files
from stretchbox.adapters.yamlfile import FileError, decode, load, parse
from stretchbox.core.icons import BUILTIN_ICONS
from stretchbox.core.routine import (
    CUE_NAMES, MAX_CUE, MAX_DESCRIPTION, MAX_DURATION, MAX_DURATION_TEXT, MAX_NAME, MAX_WHY, InvalidRoutine, Problem,
    Sides, routine_from_mapping,
)
from stretchbox.core.routine_schema import routine_schema
from tests.adapters.test_hostile_routines import CASES

SCHEMA = jsonschema.Draft202012Validator(routine_schema())


def validator_problems(data: Any) -> list[Problem]:
    try:
        routine_from_mapping(data)
    except InvalidRoutine as exc:
        return exc.problems
    return []


def schema_errors(data: Any) -> list[jsonschema.ValidationError]:
    return list(SCHEMA.iter_errors(data))


def at(data: Any, path: tuple) -> Any:
    for part in path:
        try:
            data = data[part]
        except (KeyError, IndexError, TypeError):
            return None
    return data


# ---------------------------------------------------------------- where they cannot agree

@dataclass(frozen=True)
class Gap:
    """A rule one side has and the other cannot: why, an example, and how to recognise a problem it explains."""

    reason: str
    example: dict
    explains: Callable[[Problem, Any], bool] | None  # (validator problem, data) -> explained; None: neither refuses


def _good(**top) -> dict:
    data = {"schema": 1, "name": "R", "stretches": [{"name": "Calf", "icon": "calf"}]}
    data.update(top)
    return data


def _stretch(**fields) -> dict:
    return _good(stretches=[{"name": "Calf", "icon": "calf", **fields}])


GAPS: dict[str, Gap] = {
    "hold under min_hold": Gap(
        "compares two fields (and min_hold's default when it is absent); JSON Schema compares a value "
        "with constants only", _stretch(hold=10),
        lambda p, data: "under min_hold" in p.message or p.message == "hold must be at least 1 s"),
    "text duration over the limit": Gap(
        "'61m' has the form of a duration; adding its minutes and seconds up to compare them with "
        f"{MAX_DURATION} s is arithmetic, not a pattern", _good(defaults={"rest": "61m"}),
        lambda p, data: "s limit" in p.message and isinstance(at(data, p.path), str)),
    "duration text too long": Gap(
        f"the validator reads at most {MAX_DURATION_TEXT} characters of a duration once trimmed (a guard: its "
        "pattern never runs on hostile text); no real duration is that long, and counting trimmed characters "
        "in a pattern would make it far harder to read than the rule",
        _good(defaults={"rest": "0" * 25 + "5"}),
        lambda p, data: isinstance(v := at(data, p.path), str) and len(v.strip()) > MAX_DURATION_TEXT),
    "invisible characters in text": Gap(
        "the validator refuses what Python's str.isprintable refuses (format characters like U+202E, "
        "unassigned code points); Unicode categories are not in Python's re, so a pattern cannot say it alike "
        "in the test and in editors", _good(name="abc\u202edef"),
        lambda p, data: "invisible or control character" in p.message),
    "a cue step with a decimal point": Gap(
        "JSON Schema's integer includes 400.0; the validator wants on/off times written as whole numbers",
        _good(cues={"go": [400.0, 100]}),
        lambda p, data: p.message.startswith("cue '") and isinstance(steps := at(data, p.path), list)
        and any(isinstance(v, float) for v in steps)),
    # Rules outside one file's data: both accept these examples, something else reports them.
    "an icon file that must exist": Gap(
        "whether shoulder.png is beside the routine is a question for the file system: `stretchbox validate` "
        "and `import` warn about it, in the same words (tests/adapters/test_routine_files.py)", _stretch(icon="shoulder"),
        None),
    "routine names unique on the device": Gap(
        "two files naming their routines alike, or a routine named like the built-in one, are each valid "
        "alone; `import` rejects the second (test below)", _good(name="Post-run stretches"), None),
    "YAML rules": Gap(
        "duplicate keys, tags, aliases, merge keys, size and encoding are refused by the YAML loader before "
        "any data exists; a schema sees only the data (test below)", {**_good(), "name": "B"}, None),
}


def explained(problems: list[Problem], data: Any) -> str | None:
    """The gap that explains every one of the validator's problems, or the gaps (joined with ' + ') that
    explain one problem each (hypothesis found ``min_hold: 31`` with ``hold: "61m"``: two gaps at once);
    None when a problem is left that no gap explains."""
    if not problems:
        return None
    for name, gap in GAPS.items():
        if gap.explains and all(gap.explains(p, data) for p in problems):
            return name
    names = set()
    for problem in problems:
        name = next((n for n, g in GAPS.items() if g.explains and g.explains(problem, data)), None)
        if name is None:
            return None
        names.add(name)
    return " + ".join(sorted(names))


@pytest.mark.parametrize("name", list(GAPS))
def test_each_gap_is_real(name):
    gap = GAPS[name]
    problems, errors = validator_problems(gap.example), schema_errors(gap.example)
    assert errors == [], [e.message for e in errors]  # the schema accepts every example
    if gap.explains is None:
        assert problems == []  # ...and so does the validator: the rule lives elsewhere
    else:
        assert problems and explained(problems, gap.example) == name, problems


def test_yaml_rules_are_the_loaders_not_the_schemas():
    """A duplicate key: plain YAML keeps the last value and both judges accept the data; the loader refuses."""
    text = "schema: 1\nname: A\nname: B\nstretches: [{name: Calf, icon: calf}]\n"
    data = yaml.safe_load(text)
    assert data == GAPS["YAML rules"].example and _data(text) is REFUSED


def test_names_unique_on_the_device_are_the_imports_rule(tmp_path):
    from stretchbox.adapters.library.importer import import_routines

    folder = tmp_path / "stick" / "stretchbox"
    folder.mkdir(parents=True)
    for file in ("a.yaml", "b.yaml"):
        (folder / file).write_text("schema: 1\nname: Same\nstretches: [{name: Calf, icon: calf}]\n")
    assert all(_agree(load(folder / f).data) == "valid" for f in ("a.yaml", "b.yaml"))
    report = import_routines(tmp_path / "stick", tmp_path / "library", write_report=False)
    assert [r.file for r in report.imported] == ["a.yaml"]
    assert [p.message for p in report.rejected] == ["routine name 'Same' is already used by a.yaml"]


# ---------------------------------------------------------------- what both must accept

def _agree(data: Any) -> str:
    """Assert the two agree on ``data`` (or a gap explains why not); returns 'valid', 'invalid' or the gap."""
    problems, errors = validator_problems(data), schema_errors(data)
    if not problems:
        assert errors == [], f"the validator accepts, the schema refuses: {[e.message[:200] for e in errors]}"
        return "valid"
    if errors:
        wanted = {tuple(p.path) for p in problems}
        flagged = {tuple(e.absolute_path) for e in errors}
        # the schema refuses at, or above, a place the validator names (an unknown key: at its mapping)
        assert any(w[:len(f)] == f for w in wanted for f in flagged), (wanted, flagged)
        return "invalid"
    gap = explained(problems, data)
    assert gap, f"the validator refuses, the schema accepts, and no gap says why: {[str(p) for p in problems]}"
    return gap


REFUSED = object()


def _data(text: str | bytes) -> Any:
    """The data the device's loader makes of a file, or REFUSED when the loader itself refuses it."""
    try:
        raw = text.encode() if isinstance(text, str) else text
        doc = parse(decode(raw, "case.yaml"), "case.yaml")
    except FileError:
        return REFUSED
    return REFUSED if doc.problems else doc.data


def test_the_shipped_routines_are_valid_for_the_schema():
    files = routine_files(builtin_dir())
    assert files
    for path in files:
        assert _agree(load(path).data) == "valid", path.name


VALID_CASES = [k for k, c in CASES.items() if c.valid and isinstance(c.content, (str, bytes))]
ROUTINE_LEVEL_BAD = [k for k, c in CASES.items()
                     if not c.valid and not c.yaml_level and isinstance(c.content, (str, bytes))]


@pytest.mark.parametrize("case_id", VALID_CASES)
def test_the_hostile_corpus_valid_cases_are_valid_for_the_schema(case_id):
    data = _data(CASES[case_id].content)
    assert data is not REFUSED
    assert _agree(data) == "valid"


@pytest.mark.parametrize("case_id", ROUTINE_LEVEL_BAD)
def test_the_hostile_corpus_routine_errors_are_schema_errors_too(case_id):
    data = _data(CASES[case_id].content)
    assert data is not REFUSED  # the loader took it: the routine's rules refuse it
    assert _agree(data) != "valid"


def test_the_corpus_is_used():
    assert len(VALID_CASES) >= 20 and len(ROUTINE_LEVEL_BAD) >= 30


# ---------------------------------------------------------------- named mutations of a good routine

GOOD = {
    "schema": 1, "name": "Quick calves", "description": "Two stretches.", "min_hold": "20s",
    "defaults": {"prepare": "8s", "hold": "30s", "switch": "5s", "rest": "5s"},
    "cues": {"countdown": "off", "next-stretch": [400, 100, 400]},
    "stretches": [{"name": "Calf", "icon": "calf", "sides": "both", "cue": "Heel down.", "why": "Hills.",
                   "prepare": 5, "hold": "45s", "switch": 3, "rest": 0},
                  {"name": "Fold", "icon": "wide-leg-fold", "sides": "none"}],
}


def mutated(path: tuple, value: Any = None, *, delete: bool = False) -> dict:
    data = copy.deepcopy(GOOD)
    parent = at(data, path[:-1])
    if delete:
        del parent[path[-1]]
    else:
        parent[path[-1]] = value
    return data


MAPPINGS = [(), ("defaults",), ("cues",), ("stretches", 0)]
TEXT_FIELDS = [("name",), ("description",), ("stretches", 0, "name"), ("stretches", 0, "cue"),
               ("stretches", 0, "why"), ("stretches", 0, "icon")]
DURATIONS = [("min_hold",), *[("defaults", k) for k in ("prepare", "switch", "rest")],
             *[("stretches", 0, k) for k in ("prepare", "switch", "rest")]]
BAD_DURATIONS = [-5, 1.5, True, None, [30], {}, "", "abc", "30 seconds", "1h", "s", "-5", "1.5s", "3O", "٣٠",
                 "３０", "½m", math.nan, math.inf, 3601, 10 ** 6, "30s 1m"]
BAD_SIDES = ["bth", "Both", "BOTH", " both", "left,right", "", True, None, 2, ["left"], {"left": 1}]
WRONG_TYPES = [7, 1.5, True, None, [], ["x"], {}, {"a": 1}]

NAMED: dict[str, tuple[dict, str | None]] = {}  # id -> (data, the validator's expected problem path)
for _where in MAPPINGS:
    NAMED[f"unknown key in {_where or 'top'}"] = (mutated(_where + ("hodl",), 30), None)
for _where in TEXT_FIELDS:
    for _v in WRONG_TYPES:
        NAMED[f"{'.'.join(map(str, _where))} = {_v!r}"] = (mutated(_where, _v), None)
for _where in DURATIONS:
    for _v in BAD_DURATIONS:
        NAMED[f"{'.'.join(map(str, _where))} = {_v!r}"] = (mutated(_where, _v), None)
for _v in BAD_SIDES:
    NAMED[f"sides = {_v!r}"] = (mutated(("stretches", 0, "sides"), _v), None)
for _where, _v in [(("schema",), 2), (("schema",), "1"), (("schema",), True), (("stretches",), []),
                   (("stretches",), {"name": "x"}), (("stretches",), "calf"), (("stretches", 0), "calf"),
                   (("stretches", 0), {}), (("stretches", 0), None), (("defaults",), None), (("defaults",), [30]),
                   (("cues",), "off"), (("cues", "go"), "loud"), (("cues", "go"), [5]), (("cues", "go"), []),
                   (("cues", "go"), [400] * 17), (("cues", "go"), 1), (("cues", "go"), 0), (("cues", "go"), None),
                   (("cues", "go"), [True]), (("stretches", 0, "icon"), "../etc/passwd"),
                   (("stretches", 0, "icon"), "a b"), (("stretches", 0, "icon"), "i" * 65),
                   (("name",), "n" * 41), (("name",), "   "), (("stretches", 0, "cue"), "c" * 81)]:
    NAMED[f"{'.'.join(map(str, _where))} = {_v!r}"[:80]] = (mutated(_where, _v), None)
for _key in ("schema", "name", "stretches"):
    NAMED[f"no {_key}"] = (mutated((_key,), delete=True), None)
NAMED["a stretch without a name"] = (mutated(("stretches", 0, "name"), delete=True), None)


@pytest.mark.parametrize("case", list(NAMED))
def test_each_named_shape_error_is_refused_by_both_at_the_same_place(case):
    data, _ = NAMED[case]
    assert validator_problems(data), "the mutation was meant to be an error"
    assert _agree(data) == "invalid"


def test_the_named_mutations_cover_each_kind_of_error():
    assert sum(k.startswith("unknown key") for k in NAMED) == len(MAPPINGS)
    assert len(NAMED) >= 150


# ---------------------------------------------------------------- every place x every value of a pool

PLACES = [("schema",), ("name",), ("description",), ("min_hold",), ("defaults",), ("cues",), ("stretches",),
          *[("defaults", k) for k in ("prepare", "hold", "switch", "rest")], *[("cues", c) for c in CUE_NAMES],
          ("stretches", 0), *[("stretches", 0, k) for k in GOOD["stretches"][0]]]
POOL = [None, True, False, 0, 1, 7, 20, -1, 1.5, 45.0, 400.0, math.nan, math.inf, 10 ** 6, "", "   ", "Calf",
        "  Calf  ", "30", "30s", " 1M 5S ", "1m30s", "61m", "3600s", "3601", "3O", "1h", "٣٠", "both", "sideways",
        "none", "left", "calf", "shoulder.png", "../x", "a b", "x" * 41, "x" * 65, "x" * 81, "x" * 401,
        "word  " * 12, "on", "off", "a\x07b", "a\u202eb", [], [30], [400, 100], [5], [True], [400.0], [20] * 16,
        [20] * 17, {}, {"a": 1}, {"hold": 30}, [{"name": "x"}]]


def test_every_place_with_every_value_of_the_pool():
    seen: Counter = Counter()
    for where in PLACES:
        for value in POOL:
            seen[_agree(mutated(where, value))] += 1
    for where in MAPPINGS:
        seen[_agree(mutated(where + ("extra",), 1))] += 1
    # The numbers, for the record: (valid, invalid, and each gap that was needed)
    assert seen["valid"] >= 250 and seen["invalid"] >= 1200, seen
    assert set(seen) - {"valid", "invalid"} <= set(GAPS), seen


# ---------------------------------------------------------------- hypothesis: generated routines

# Written from the README's description of the format, not from the model's patterns (an independent oracle).
_PRINTABLE = st.characters(codec="utf-8", categories=["L", "M", "N", "P", "S"])
_SPACES = st.text(alphabet=" \t\n\u00a0\u3000", min_size=1, max_size=4)


@st.composite
def texts(draw, limit: int, required: bool) -> str:
    words = draw(st.lists(st.text(_PRINTABLE, min_size=1, max_size=12), min_size=int(required), max_size=8))
    gaps = [draw(_SPACES) for _ in words]
    text = draw(st.sampled_from(["", " ", "\n"])) + "".join(w + g for w, g in zip(words, gaps))
    normalized = " ".join(text.split())
    if len(normalized) > limit:  # keep the first words that fit
        text = normalized[:limit].rstrip()
        if required and not text:
            text = "x"
    return text


@st.composite
def durations(draw, low: int = 0) -> tuple[Any, int]:
    """(as written, seconds): 30, 30.0, '30', '30s', '1m', '1m30s', with spaces and either case."""
    seconds = draw(st.integers(low, MAX_DURATION))
    form = draw(st.sampled_from(["int", "float", "digits", "s", "m", "m s"]))
    gap = draw(st.sampled_from(["", " ", "\t", "  "]))
    pad = draw(st.sampled_from(["", " ", "\n", " \t"]))
    s_, m_ = draw(st.sampled_from("sS")), draw(st.sampled_from("mM"))
    if form == "int":
        return seconds, seconds
    if form == "float":
        return float(seconds), seconds
    if form == "digits":
        return pad + str(seconds) + pad, seconds
    if form == "s":
        return f"{pad}{seconds}{gap}{s_}{pad}", seconds
    minutes, rest = divmod(seconds, 60)
    if form == "m" and rest == 0:
        return f"{pad}{minutes}{gap}{m_}{pad}", seconds
    return f"{pad}{minutes}{gap}{m_}{gap}{rest}{gap}{s_}{pad}", seconds


_ICON_NAMES = st.from_regex(r"\A[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}\Z")
_PATTERNS = st.lists(st.integers(20, 3000), min_size=1, max_size=16)


@st.composite
def routines(draw) -> dict:
    data: dict = {"schema": draw(st.sampled_from([1, 1.0])), "name": draw(texts(MAX_NAME, True))}
    if draw(st.booleans()):
        data["description"] = draw(texts(MAX_DESCRIPTION, False))
    min_hold = 20
    if draw(st.booleans()):
        data["min_hold"], min_hold = draw(durations(0))
    floor = max(1, min_hold)
    if draw(st.booleans()):
        data["defaults"] = {k: draw(durations(floor if k == "hold" else 0))[0]
                            for k in draw(st.sets(st.sampled_from(["prepare", "hold", "switch", "rest"])))}
    if 30 < floor and "hold" not in data.get("defaults", {}):
        data.setdefault("defaults", {})["hold"] = draw(durations(floor))[0]
    if draw(st.booleans()):
        data["cues"] = draw(st.dictionaries(st.sampled_from(CUE_NAMES),
                                            st.one_of(st.sampled_from(["on", "off", True, False]), _PATTERNS)))
    stretches = []
    for _ in range(draw(st.integers(1, 6))):
        s: dict = {"name": draw(texts(MAX_NAME, True))}
        if draw(st.booleans()):
            s["icon"] = draw(st.one_of(st.sampled_from(BUILTIN_ICONS), _ICON_NAMES,
                                       st.sampled_from(["", "  ", " calf ", "calf.png"])))
        if draw(st.booleans()):
            s["sides"] = draw(st.sampled_from([x.value for x in Sides]))
        for key, limit in (("cue", MAX_CUE), ("why", MAX_WHY)):
            if draw(st.booleans()):
                s[key] = draw(texts(limit, False))
        for key in draw(st.sets(st.sampled_from(["prepare", "hold", "switch", "rest"]))):
            s[key] = draw(durations(floor if key == "hold" else 0))[0]
        stretches.append(s)
    data["stretches"] = stretches
    return data


SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(routines())
def test_generated_valid_routines_are_valid_for_both(data):
    assert validator_problems(data) == [], "the generator was meant to make valid routines"
    assert _agree(data) == "valid"


@st.composite
def mutations(draw) -> dict:
    data = draw(routines())
    paths = [()] + [(k,) for k in data] + [("stretches", i) for i in range(len(data["stretches"]))]
    paths += [("stretches", i, k) for i, s in enumerate(data["stretches"]) for k in s]
    paths += [(k, sub) for k in ("defaults", "cues") if k in data for sub in data[k]]
    where = draw(st.sampled_from(paths))
    if not where or draw(st.booleans()) and isinstance(at(data, where), dict):
        at(data, where)[draw(st.sampled_from(["hodl", "Name", "icons", "side", "x"]))] = 1  # an unknown key
    else:
        at(data, where[:-1])[where[-1]] = draw(st.sampled_from(POOL))
    return data


@SETTINGS
@given(mutations())
def test_generated_mutations_are_judged_alike(data):
    _agree(data)


# ---------------------------------------------------------------- the patterns stay linear on hostile text

def test_the_schema_patterns_fail_60_kb_values_quickly():
    shapes = [" " * 60_000 + "!", "1" * 60_000 + "x", "n" * 60_000, "a " * 30_000 + "!", " \t" * 30_000,
              "1m" + " " * 60_000 + "x", "w  " * 20_000]
    started = time.perf_counter()
    for text in shapes:
        for where in TEXT_FIELDS + DURATIONS:
            schema_errors(mutated(where, text))
    assert time.perf_counter() - started < 2.0


def test_two_gaps_at_once_are_explained_together():
    """Found by hypothesis: a hold too long in text form and a min_hold above the default hold."""
    data = _good(min_hold=31, defaults={"hold": "61m"})
    assert " + " in _agree(data), validator_problems(data)
