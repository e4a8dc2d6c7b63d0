"""The coach's rules on the fake clock: time left, extend, open holds, the halfway cue (issue #12)."""

import pytest

from stretchbox.core.gestures import A, B, GestureConfig
from stretchbox.core.routine import InvalidRoutine, routine_from_mapping
from stretchbox.core.session import (
    DONE, EXTEND_WINDOW, OPEN_HOLD_LIMIT, PAUSED, RUNNING, Finished, Phase, PhaseStarted, Session, SessionConfig,
)

from tests.helpers import actions, cues, new, routine, run_until

TWO = routine(("Ham", "both"), ("Calf", "both"))  # 5 + 30 + 5 + 30 + 5 rest, then 5 + 30 + 5 + 30: 145 s


def open_routine(hold="open", **more):
    return routine_from_mapping({"schema": 1, "name": "Open", "defaults": {"prepare": 5, "switch": 5, "rest": 5},
                                 "stretches": [{"name": "Ham", "sides": "both", "hold": hold},
                                               {"name": "Calf", "sides": "none", "hold": 30}], **more})


# ---- time left ----------------------------------------------------------------
def test_routine_left_is_the_plan_left_and_follows_skips_backs_and_pauses():
    s = new(TWO)
    out = s.press(A, 0.0)
    assert [e.routine_left for e in out if isinstance(e, PhaseStarted)] == [145]
    assert s.frame(0.0).routine_left == 145
    run_until(s, 12.3)
    assert s.frame(12.3).routine_left == 133  # whole seconds, rounded up like the countdown
    run_until(s, 20.0)
    out = s.press(B, 20.0)  # skip the left side: 20 s gone, and the 15 s of hold it had left
    assert [e.routine_left for e in out if isinstance(e, PhaseStarted)] == [145 - 20 - 15]
    s.press(A, 22.0)  # paused: time left stands still
    assert s.frame(22.0).routine_left == s.frame(500.0).routine_left == 145 - 20 - 15 - 2
    s.press(B, 30.0, hold=1.0)  # back to the left side: its prepare and hold are ahead again
    assert s.frame(31.0).routine_left == 145


def test_every_phase_event_carries_routine_left_and_the_last_hold_ends_at_zero():
    s = new(TWO)
    out = s.press(A, 0.0) + run_until(s, 200.0)
    phases = [e for e in out if isinstance(e, PhaseStarted)]
    assert all(e.routine_left is not None for e in phases)
    for e in phases[:-1]:
        assert e.routine_left == pytest.approx(145 - e.t)
    assert phases[-1].phase == "done" and phases[-1].routine_left == 0


# ---- extend -----------------------------------------------------------------------
def tap_tap(s, t, gap=0.3):
    return s.press(A, t) + s.press(A, t + gap)


def test_two_quick_taps_in_a_hold_add_the_extend_seconds_to_this_side_only():
    s = new(TWO)
    s.press(A, 0.0)
    out = tap_tap(s, 10.0)  # hold of the left side: 25 s left at the pause
    assert actions(out) == [(10.0, "a", "press", "pause"), (10.3, "a", "press", "extend")]
    assert ("extend" in [c for _, c in cues(out)]) and s.state == RUNNING
    assert s.remaining(10.3) == pytest.approx(25 + 15)  # no lead-in: nobody moved
    assert s.frame(10.3).extended == 15
    out = run_until(s, 200.0)
    right_hold = next(e for e in out if isinstance(e, PhaseStarted) and e.phase == "hold" and e.side == "right")
    assert right_hold.seconds == 30  # the other side keeps its full hold
    assert s.log.sides[0].extended == 15 and s.log.sides[0].held == pytest.approx(45)
    assert s.log.pauses == 0  # the tap that paused was part of the gesture


def test_extend_repeats_and_never_delays_a_single_press():
    s = new(TWO)
    s.press(A, 0.0)
    out = s.press(A, 10.0)  # one press pauses at once, as it always did
    assert actions(out) == [(10.0, "a", "press", "pause")] and s.state == PAUSED
    s = new(TWO)
    s.press(A, 0.0)
    tap_tap(s, 10.0)
    tap_tap(s, 12.0)
    assert s.frame(12.3).extended == 30 and s.remaining(12.3) == pytest.approx(25 + 30 - 1.7)


def test_a_second_tap_after_the_window_resumes_through_the_lead_in():
    s = new(TWO)
    s.press(A, 0.0)
    out = tap_tap(s, 10.0, gap=EXTEND_WINDOW + 0.05)
    assert actions(out)[-1][3] == "resume" and s.state == "lead-in"


def test_extend_works_with_one_button_and_can_be_switched_off():
    one = Session([TWO], SessionConfig(gestures=GestureConfig.one_button()))
    one.press(A, 0.0)
    assert actions(tap_tap(one, 10.0))[-1][3] == "extend"
    off = new(TWO, extend=0)
    off.press(A, 0.0)
    assert actions(tap_tap(off, 10.0))[-1][3] == "resume"


def test_extend_only_in_a_hold_and_back_to_restart_drops_it():
    s = new(TWO)
    s.press(A, 0.0)
    assert actions(tap_tap(s, 2.0))[-1][3] == "resume"  # a prepare: no extend
    s = new(TWO)
    s.press(A, 0.0)
    tap_tap(s, 10.0)
    s.press(B, 20.0, hold=1.0)  # back: the hold restarts with its planned seconds
    assert s.frame(21.0).extended == 0 and s.remaining(21.0) == pytest.approx(30)


# ---- open holds -------------------------------------------------------------------
def test_hold_open_is_accepted_in_a_stretch_or_defaults_and_min_hold_does_not_apply():
    r = open_routine()
    assert r.stretches[0].timing.hold is None and r.has_open_holds()
    d = routine_from_mapping({"schema": 1, "name": "All open", "defaults": {"hold": "open"},
                              "stretches": [{"name": "Ham"}]})
    assert d.stretches[0].timing.hold is None and d.total_seconds() == 10  # prepare and switch only
    with pytest.raises(InvalidRoutine):
        routine_from_mapping({"schema": 1, "name": "X", "stretches": [{"name": "Ham", "hold": "opened"}]})


def test_an_open_hold_counts_up_and_ends_when_b_is_pressed_as_done_not_skipped():
    s = new(open_routine())
    out = s.press(A, 0.0) + run_until(s, 5.0)
    hold = [e for e in out if isinstance(e, PhaseStarted) and e.phase == "hold"]
    assert hold[0].seconds is None and hold[0].routine_left is None
    assert s.frame(42.5).seconds == 37 and s.frame(42.5).open_hold  # counted up, whole seconds
    assert s.next_deadline(redraw=False) == 5.0 + OPEN_HOLD_LIMIT  # no countdown, no step end but the cap
    out = s.press(B, 50.0)
    assert actions(out) == [(50.0, "b", "press", "hold-done")]
    assert s.step.phase is Phase.SWITCH and s.log.sides[0].held == pytest.approx(45) and not s.log.sides[0].skipped
    assert "countdown" not in [c for _, c in cues(out)]


def test_time_left_is_known_again_once_the_open_holds_are_behind():
    s = new(open_routine())
    s.press(A, 0.0)
    run_until(s, 10.0)
    s.press(B, 10.0)  # the left side's open hold done: the switch, then the right side's open hold
    run_until(s, 21.0)
    assert s.step.side == "right" and s.frame(21.0).routine_left is None
    s.press(B, 30.0)  # right side done: the rest, then a timed stretch
    assert s.frame(30.0).routine_left == 5 + 5 + 30


def test_an_open_last_hold_ends_the_routine_as_finished():
    r = routine_from_mapping({"schema": 1, "name": "O", "stretches": [{"name": "Ham", "sides": "none",
                                                                         "hold": "open"}]})
    s = new(r)
    s.press(A, 0.0)
    out = s.press(B, 60.0)
    fin = [e for e in out if isinstance(e, Finished)][0]
    assert s.state == DONE and not fin.summary.stopped and fin.log.ended == "finished"
    assert fin.log.sides[0].held == pytest.approx(55)


def test_an_open_hold_nobody_ends_is_done_after_the_cap():
    s = new(open_routine())
    s.press(A, 0.0)
    run_until(s, 5.0 + OPEN_HOLD_LIMIT + 1)
    assert s.log.sides[0].held == pytest.approx(OPEN_HOLD_LIMIT) and s.step.phase is not Phase.HOLD \
        or s.step.side == "right"


# ---- halfway -----------------------------------------------------------------------
def test_the_halfway_cue_is_off_by_default_and_on_from_config_or_routine():
    for config, cues_, expected in ((False, None, 0), (True, None, 4), (True, "off", 0), (False, "on", 4)):
        more = {"cues": {"halfway": cues_}} if cues_ else {}
        r = routine_from_mapping({"schema": 1, "name": "H", "defaults": {"hold": 30},
                                  "stretches": [{"name": "Ham"}, {"name": "Calf"}], **more})
        s = new(r, halfway=config)
        out = s.press(A, 0.0) + run_until(s, 500)
        times = [t for t, c in cues(out) if c == "halfway"]
        assert len(times) == expected, (config, cues_)
        if expected:
            assert times[0] == pytest.approx(5 + 15)


def test_no_halfway_cue_in_holds_under_20_s_and_a_pause_moves_it_with_the_hold():
    r = routine(("Ham", "none"), hold=20)
    short = routine_from_mapping({"schema": 1, "name": "S", "min_hold": 10, "defaults": {"hold": 19},
                                  "stretches": [{"name": "Ham", "sides": "none"}]})
    s = new(short, halfway=True)
    assert [c for _, c in cues(s.press(A, 0.0) + run_until(s, 100))].count("halfway") == 0
    s = new(r, halfway=True, resume_lead=0)
    out = s.press(A, 0.0) + s.press(A, 7.0) + s.press(A, 17.0) + run_until(s, 100)
    assert [t for t, c in cues(out) if c == "halfway"] == [pytest.approx(25.0)]  # 5 + 10 held + 10 paused


def test_in_a_hold_the_paused_cue_waits_for_the_tap_window_and_an_extension_never_sounds_paused():
    s = new(TWO)
    out = s.press(A, 0.0) + s.press(A, 2.0)  # a prepare: the paused cue at once
    assert (2.0, "paused") in cues(out)
    s = new(TWO)
    out = s.press(A, 0.0) + run_until(s, 10.0) + s.press(A, 10.0) + run_until(s, 12.0)
    assert (10.0 + EXTEND_WINDOW, "paused") in cues(out)
    s = new(TWO)
    out = s.press(A, 0.0) + run_until(s, 10.0) + tap_tap(s, 10.0) + run_until(s, 12.0)
    assert "paused" not in [c for _, c in cues(out)] and (10.3, "extend") in cues(out)
    s = new(TWO)
    out = s.press(A, 0.0) + run_until(s, 10.0) + s.press(A, 10.0) + s.press(B, 10.2) + run_until(s, 12.0)
    assert [(t, c) for t, c in cues(out) if c == "paused"] == [(10.2, "paused")]  # skipped while paused: now
