"""The routine model: durations, validation of plain data, every problem at once."""

import pytest

from stretchbox.core.routine import (
    MAX_STRETCHES, InvalidRoutine, Routine, Sides, parse_duration, routine_from_mapping,
)


def minimal(**top):
    data = {"schema": 1, "name": "R", "stretches": [{"name": "Calf", "icon": "calf"}]}
    data.update(top)
    return data


@pytest.mark.parametrize("text, seconds", [
    (30, 30), ("30", 30), ("30s", 30), ("1m", 60), ("1m30s", 90), (" 2m 5s ", 125), (45.0, 45), ("0", 0),
])
def test_durations_accept_whole_seconds_and_m_s_strings(text, seconds):
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("bad", [1.5, "1.5s", "abc", "", "s", "-5", -5, True, None, [30], "1h", 100000])
def test_durations_reject_anything_else_with_a_message(bad):
    with pytest.raises(ValueError) as exc:
        parse_duration(bad)
    assert str(exc.value)


def test_minimal_routine_gets_the_defaults():
    r = routine_from_mapping(minimal())
    s = r.stretches[0]
    assert (s.sides, s.timing.hold, r.min_hold) == (Sides.BOTH, 30, 20)


def test_per_stretch_timing_overrides_defaults():
    r = routine_from_mapping(minimal(defaults={"hold": "45s", "prepare": 3, "switch": 2, "rest": 0},
                                     stretches=[{"name": "A", "icon": "calf", "hold": "1m"},
                                                {"name": "B", "icon": "calf", "sides": "none"}]))
    assert [s.timing.hold for s in r.stretches] == [60, 45]
    assert r.stretches[1].timing.prepare == 3
    # prepare 3 + 2 holds of 60 + switch 2 + rest 0 + prepare 3 + 45
    assert r.total_seconds() == 3 + 60 + 2 + 60 + 0 + 3 + 45


def test_all_problems_are_reported_at_once_with_paths():
    data = minimal(stretches=[{"name": "A", "icon": "calf", "hodl": 30},
                              {"name": "", "icon": "calf", "hold": 10, "sides": "bth"}])
    with pytest.raises(InvalidRoutine) as exc:
        routine_from_mapping(data)
    found = {(p.where(), p.message) for p in exc.value.problems}
    assert ("stretches[0].hodl", "unknown key 'hodl': did you mean 'hold'?") in found
    assert any(w == "stretches[1].hold" and "under min_hold" in m for w, m in found)
    assert any(w == "stretches[1].sides" and "did you mean 'both'" in m for w, m in found)
    assert any(w == "stretches[1].name" and "must not be empty" in m for w, m in found)
    assert len(exc.value.problems) == 4


def test_hold_under_min_hold_is_an_error_even_from_defaults():
    with pytest.raises(InvalidRoutine) as exc:
        routine_from_mapping(minimal(defaults={"hold": 15}))
    assert [p.where() for p in exc.value.problems] == ["defaults.hold"]
    with pytest.raises(InvalidRoutine):
        routine_from_mapping(minimal(min_hold=45))  # default hold 30 < 45
    assert routine_from_mapping(minimal(min_hold=10, defaults={"hold": 10})).stretches[0].timing.hold == 10


@pytest.mark.parametrize("data, where", [
    ([], ""), ("text", ""), ({"name": "x", "stretches": []}, ""),
    (minimal(schema=2), "schema"), (minimal(stretches="calf"), "stretches"), (minimal(stretches=[]), "stretches"),
    (minimal(stretches=[{"name": "x", "icon": "calf"}] * (MAX_STRETCHES + 1)), "stretches"),
    (minimal(stretches=[{"name": "x", "icon": "../etc/passwd"}]), "stretches[0].icon"),
    (minimal(stretches=[{"name": "x" * 41, "icon": "calf"}]), "stretches[0].name"),
    (minimal(stretches=["calf"]), "stretches[0]"),
    (minimal(name=7), "name"),
])
def test_bad_shapes_are_problems_not_exceptions(data, where):
    with pytest.raises(InvalidRoutine) as exc:
        routine_from_mapping(data)
    assert where in [p.where() for p in exc.value.problems]


def test_routine_is_frozen():
    r = routine_from_mapping(minimal())
    assert isinstance(r, Routine)
    with pytest.raises(AttributeError):
        r.name = "x"  # type: ignore[misc]


def test_cues_can_be_silenced_or_repatterned_per_routine():
    r = routine_from_mapping(minimal(cues={"countdown": "off", "next-stretch": [400, 100, 400], "go": "on"}))
    assert r.cue_overrides() == {"countdown": None, "next-stretch": (400, 100, 400)}
    with pytest.raises(InvalidRoutine) as exc:
        routine_from_mapping(minimal(cues={"contdown": "off", "go": [5], "done": "loud"}))
    found = {p.where(): p.message for p in exc.value.problems}
    assert found["cues.contdown"] == "unknown key 'contdown': did you mean 'countdown'?"
    assert "milliseconds" in found["cues.go"] and "milliseconds" in found["cues.done"]


@pytest.mark.parametrize("value", [1, 0, 1.0, 0.0])
def test_a_cue_of_1_or_0_is_not_on_or_off(value):
    """YAML's on/off/yes/no are true/false; a number is not (``1 in (True,)`` is, in Python)."""
    with pytest.raises(InvalidRoutine) as exc:
        routine_from_mapping(minimal(cues={"go": value}))
    assert [p.where() for p in exc.value.problems] == ["cues.go"]
