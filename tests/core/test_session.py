"""The session state machine on a fake clock: timeline, cues, buttons, to the millisecond."""

import pytest

from stretchbox.core.gestures import A, B, GestureConfig, Pressed, Released
from stretchbox.core.session import (
    DONE, EXTEND_WINDOW, IDLE, PAUSED, RUNNING, IllegalEvent, Session, SessionConfig, Tick, plan,
)

from tests.helpers import actions, cues, new, phases, routine, run_until

TWO = routine(("Ham", "both"), ("Fold", "none"), ("Calf", "left"))


def test_plan_follows_prepare_hold_switch_hold_rest_and_no_rest_after_the_last():
    steps = [(s.phase, s.stretch, s.side, s.seconds) for s in plan(TWO)]
    assert steps == [
        ("prepare", 0, "left", 5), ("hold", 0, "left", 30), ("switch", 0, "right", 5), ("hold", 0, "right", 30),
        ("rest", 0, None, 5), ("prepare", 1, None, 5), ("hold", 1, None, 30), ("rest", 1, None, 5),
        ("prepare", 2, "left", 5), ("hold", 2, "left", 30),
    ]


def test_zero_second_transitions_are_left_out_but_holds_never():
    r = routine(("Ham", "both"), ("Calf", "both"), prepare=0, switch=0, rest=0)
    assert [s.phase for s in plan(r)] == ["hold"] * 4


def test_a_whole_routine_runs_on_deadlines_alone():
    s = new(TWO)
    out = s.press(A, 0.0)
    run_until(s, 10_000, out)
    assert s.state == DONE
    assert phases(out) == [
        (0, "prepare", 1, "left", 5), (5, "hold", 1, "left", 30), (35, "switch", 1, "right", 5),
        (40, "hold", 1, "right", 30), (70, "rest", 1, None, 5), (75, "prepare", 2, None, 5),
        (80, "hold", 2, None, 30), (110, "rest", 2, None, 5), (115, "prepare", 3, "left", 5),
        (120, "hold", 3, "left", 30), (150, "done", None, None, 0),
    ]
    assert [c for c in cues(out) if c[1] != "countdown"] == [
        (0, "prepare"), (5, "go"), (35, "switch-side"), (40, "go"), (70, "next-stretch"), (80, "go"),
        (110, "next-stretch"), (120, "go"), (150, "done")]
    countdown = [t for t, c in cues(out) if c == "countdown"]
    assert countdown == [32, 33, 34, 67, 68, 69, 107, 108, 109, 147, 148, 149]
    assert s.summary.completed == 3 and s.summary.skipped == 0 and s.summary.duration == 150


def test_next_deadline_says_when_the_next_thing_happens_and_nothing_polls():
    s = new(TWO)
    assert s.next_deadline() is None  # idle: nothing will happen
    s.press(A, 100.0)
    assert s.next_deadline() == 101.0  # the countdown's next second
    s.handle(Pressed(A, 101.5))
    assert s.next_deadline() == 102.0
    s.handle(Released(A, 101.6))  # a press: pause
    assert s.state == PAUSED and s.next_deadline() == 101.6 + 600  # only the forgotten-pause timeout
    s.press(A, 200.0)  # 3.4 s of prepare left: the shown number changes at 200.4, 201.4, 202.4
    assert s.next_deadline() == pytest.approx(200.4)
    run_until(s, 202.9)
    assert s.next_deadline() == pytest.approx(203.4)  # prepare ends


def test_late_ticks_do_not_drift_the_timeline():
    s = new(TWO)
    out = s.press(A, 0.0)
    out += s.handle(Tick(36.789))  # the loop was late by half a minute
    assert phases(out)[1:3] == [(5, "hold", 1, "left", 30), (35, "switch", 1, "right", 5)]
    assert s.remaining(36.789) == pytest.approx(3.211)


def test_pause_freezes_time_and_resume_runs_a_lead_in_first():
    s = new(TWO)
    out = s.press(A, 0.0)
    run_until(s, 12.345, out)
    out += s.press(A, 12.345)  # pause 7.345 s into the hold: 22.655 left
    assert s.state == PAUSED
    run_until(s, 500, out)
    assert s.remaining() == pytest.approx(22.655)
    out += s.press(A, 500.0)
    run_until(s, 10_000, out)
    p = phases(out)
    assert (12.345, "paused", 1, "left", 22.655) in p
    assert (500, "lead-in", 1, "left", 3.0) in p
    assert (503, "hold", 1, "left", 22.655) in p
    assert (525.655, "switch", 1, "right", 5) in p
    # in a hold the paused cue waits out the extend gesture's window (a second tap would extend instead)
    assert (round(12.345 + EXTEND_WINDOW, 3), "paused") in cues(out) and (500, "resumed") in cues(out) \
        and (503, "go") in cues(out)


def test_resume_lead_is_configurable_and_transitions_resume_without_it():
    s = new(TWO, resume_lead=0)
    out = s.press(A, 0.0)
    run_until(s, 10, out)
    out += s.press(A, 10) + s.press(A, 20)
    run_until(s, 50, out)
    assert (20, "hold", 1, "left", 25) in phases(out)
    s = new(TWO)
    out = s.press(A, 0.0) + s.press(A, 2.0) + s.press(A, 30.0)  # paused in prepare
    run_until(s, 40, out)
    assert (30, "prepare", 1, "left", 3) in phases(out) and (33, "hold", 1, "left", 30) in phases(out)
    assert not [p for p in phases(out) if p[1] == "lead-in"]


def test_pressing_during_lead_in_pauses_again_with_the_hold_time_untouched():
    s = new(TWO)
    out = s.press(A, 0.0)
    run_until(s, 10, out)
    out += s.press(A, 10) + s.press(A, 20) + s.press(A, 21.5)
    assert s.state == PAUSED and s.remaining() == 25


def test_skip_goes_to_the_next_side_then_the_next_stretch():
    s = new(TWO)
    out = s.press(A, 0.0)
    run_until(s, 10, out)
    out += s.press(B, 10.0)   # in the left hold -> switch to the right
    run_until(s, 17, out)     # right hold started at 15
    out += s.press(B, 17.0)   # right hold -> next stretch (rest skipped too)
    assert phases(out)[-3:] == [(10, "switch", 1, "right", 5), (15, "hold", 1, "right", 30),
                                (17, "prepare", 2, None, 5)]
    assert (17, "next-stretch") in cues(out)
    run_until(s, 10_000, out)
    assert (s.summary.completed, s.summary.skipped) == (2, 1)


def test_skip_in_prepare_skips_that_side_and_past_the_last_side_finishes():
    s = new(routine(("Calf", "none")))
    out = s.press(A, 0.0) + s.press(B, 1.0)
    assert s.state == DONE and s.summary.skipped == 1 and s.summary.completed == 0
    assert phases(out)[-1] == (1, "done", None, None, 0)


def test_back_restarts_the_side_after_three_seconds_of_it():
    s = new(TWO)
    out = s.press(A, 0.0)
    run_until(s, 40.0, out)  # right hold starts at 40
    out += s.press(B, 50.0, hold=1.2)  # fires at 51.000, 11 s in
    assert actions(out)[-1] == (51, "b", "hold", "back")
    assert phases(out)[-1] == (51, "hold", 1, "right", 30)
    run_until(s, 81.0, out)
    assert phases(out)[-1] == (81, "rest", 1, None, 5)


def test_back_within_three_seconds_goes_to_the_previous_side_or_stretch():
    s = new(TWO)
    out = s.press(A, 0.0)
    run_until(s, 40.0, out)
    out += s.press(B, 40.5, hold=1.0)  # fires at 41.5: 1.5 s into the right side
    assert phases(out)[-1] == (41.5, "prepare", 1, "left", 5)
    run_until(s, 80.0, out)  # prepare 41.5-46.5, left hold -76.5, switch -81.5
    out += s.press(B, 81.0, hold=1.0)  # fires at 82, in the switch -> back to the left side
    assert phases(out)[-1] == (82, "prepare", 1, "left", 5)
    s2 = new(TWO)
    out = s2.press(A, 0.0)
    run_until(s2, 76.0, out)  # prepare of stretch 2 from 75
    out += s2.press(B, 76.0, hold=1.0)
    assert phases(out)[-1] == (77, "switch", 1, "right", 5)  # previous side: the right one of stretch 1


def test_back_at_the_very_start_restarts_the_first_side():
    s = new(TWO)
    out = s.press(A, 0.0) + s.press(B, 1.0, hold=1.0)
    assert phases(out)[-1] == (2, "prepare", 1, "left", 5)


def test_stop_fires_at_two_seconds_of_holding_a_not_on_release():
    s = new(TWO)
    out = s.press(A, 0.0)
    out += s.handle(Pressed(A, 20.0))
    assert s.next_deadline() == 21.0  # countdown ticks still run
    out += run_until(s, 22.5)
    assert s.state == DONE
    assert actions(out)[-1] == (22, "a", "hold", "stop")
    assert phases(out)[-1] == (22, "done", None, None, 0)
    assert s.summary.stopped and s.summary.duration == 22
    out += s.handle(Released(A, 30.0))  # the press that became a hold does nothing else
    assert s.state == DONE and len(actions(out)) == 2


def test_a_press_shorter_than_the_hold_is_a_press():
    s = new(TWO)
    out = s.press(A, 0.0) + s.press(A, 10.0, hold=1.999)
    assert actions(out)[-1] == (11.999, "a", "press", "pause")


def test_done_then_any_press_returns_to_idle_and_b_selects_the_next_routine_when_idle():
    other = routine(("Calf", "none"))
    s = Session([TWO, other])
    out = s.press(A, 0.0) + s.press(A, 1.0, hold=2.0)
    assert s.state == DONE
    out += s.press(B, 5.0)
    assert s.state == IDLE and actions(out)[-1][3] == "dismiss"
    out += s.press(B, 6.0)
    assert s.routine is other and actions(out)[-1][3] == "next-routine"
    s.press(B, 7.0)
    assert s.routine is TWO
    assert s.frame().screen == "idle" and s.frame().index == 1 and s.frame().count == 2


def test_one_button_mode_press_pauses_hold_one_second_skips_hold_three_stops():
    s = new(TWO, gestures=GestureConfig.one_button())
    out = s.press(A, 0.0)
    run_until(s, 10, out)
    out += s.press(A, 10.0) + s.press(A, 11.0)
    assert [a[3] for a in actions(out)] == ["start", "pause", "resume"]
    out += s.press(A, 20.0, hold=1.5)  # released between 1 and 3 s: skip
    assert actions(out)[-1] == (21.5, "a", "hold", "skip")
    assert phases(out)[-1][1:3] == ("switch", 1)
    out += s.handle(Pressed(A, 30.0))
    run_until(s, 33.0, out)
    assert actions(out)[-1] == (33, "a", "hold", "stop") and s.state == DONE


def test_holding_both_buttons_cancels_their_own_gestures():
    s = new(TWO)
    out = s.press(A, 0.0)
    out += s.handle(Pressed(A, 10.0)) + s.handle(Pressed(B, 10.1))
    run_until(s, 12.5, out)
    assert s.state == RUNNING  # neither A's stop (12.0) nor B's back (11.1) fired
    out += s.handle(Released(A, 12.6)) + s.handle(Released(B, 12.7))
    assert [a[3] for a in actions(out)] == ["start"]


def test_time_going_backwards_is_an_illegal_event():
    s = new(TWO)
    s.press(A, 10.0)
    with pytest.raises(IllegalEvent):
        s.handle(Tick(9.0))


def test_frames_show_the_countdown_rounded_up_and_the_side():
    s = new(TWO)
    s.press(A, 0.0)
    run_until(s, 5.0)
    f = s.frame(5.0)
    assert (f.screen, f.seconds, f.side, f.index, f.count) == ("hold", 30, "left", 1, 3)
    assert s.frame(34.001).seconds == 1 and s.frame(5.5).seconds == 30
    run_until(s, 36)
    assert s.frame(36).screen == "switch" and s.frame(36).side == "right"
    s.press(A, 36)
    assert s.frame(100).screen == "paused" and s.frame(100).seconds == 4


def test_session_config_defaults_are_two_buttons():
    assert not SessionConfig().one_button and SessionConfig(gestures=GestureConfig.one_button()).one_button


def test_a_forgotten_pause_ends_the_routine():
    s = new(TWO, pause_timeout=300)
    out = s.press(A, 0.0) + s.press(A, 10.0)
    run_until(s, 309.999, out)
    assert s.state == PAUSED
    run_until(s, 310.0, out)
    assert s.state == DONE and s.summary.stopped and phases(out)[-1] == (310, "done", None, None, 0)


def test_both_buttons_held_three_seconds_open_the_power_menu_and_a_confirms():
    s = new(TWO)
    out = s.press(A, 0.0)
    run_until(s, 10.0, out)
    out += s.handle(Pressed(A, 10.0)) + s.handle(Pressed(B, 10.2))
    run_until(s, 13.2, out)
    assert actions(out)[-1] == (13.2, "ab", "hold", "power-menu")
    assert s.state == "confirm-off" and s.frame(13.2).title == "POWER OFF?"
    assert (13.2, "paused") in cues(out)  # the running hold paused first
    out += s.handle(Released(A, 14.0)) + s.handle(Released(B, 14.0))  # releasing the chord does nothing
    assert s.state == "confirm-off"
    out += s.press(B, 15.0)  # no: back where it was, paused
    assert s.state == PAUSED
    out += s.handle(Pressed(A, 20.0)) + s.handle(Pressed(B, 20.0))
    run_until(s, 23.0, out)
    out += s.handle(Released(A, 23.5)) + s.handle(Released(B, 23.5))
    out += s.press(A, 24.0)
    assert s.state == "powering-off"
    assert [type(e).__name__ for e in out].count("PowerOff") == 1


def test_an_unanswered_power_menu_cancels_after_ten_seconds():
    s = new(TWO)
    s.handle(Pressed(A, 0.0))
    s.handle(Pressed(B, 0.0))
    run_until(s, 3.0)
    s.handle(Released(A, 3.1))
    s.handle(Released(B, 3.1))
    assert s.state == "confirm-off" and s.next_deadline() == 13.0
    run_until(s, 13.0)
    assert s.state == IDLE


def test_a_new_library_waits_for_the_running_routine_and_keeps_the_selection():
    other = routine(("Calf", "none"), name="Other")
    renamed = routine(("Fold", "none"), name="Renamed")
    s = Session([TWO])
    s.press(A, 0.0)
    s.replace_routines([renamed, other])
    assert s.routines == (TWO,) and s.routine is TWO  # mid-routine: nothing changes under the user
    s.press(A, 1.0, hold=2.0)
    s.press(B, 5.0)  # dismiss the summary: the new library arrives
    assert s.routines == (renamed, other) and s.routine is renamed  # "Test" is gone: the first one
    s.press(B, 6.0)  # select "Other"
    s.replace_routines([TWO, renamed, other])
    assert s.routine is other  # the selection follows the name
