"""Resume and history, in the core, on the fake clock (issue #11): checkpoints, restore, the offer, the log."""

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stretchbox.core.gestures import A, B, Pressed, Released
from stretchbox.core.history import Ending
from stretchbox.core.session import (
    HISTORY_SECONDS, IDLE, LEAD_IN, OFFER, PAUSED, Checkpoint, Finished, Phase, Session, SessionConfig,
)

from tests.helpers import actions, new, routine, run_until

TWO = routine(("Ham", "both"), ("Calf", "both"))  # 145 s


def journal(effects):
    """The last checkpoint's data, through JSON as the journal file keeps it."""
    data = [e.data for e in effects if isinstance(e, Checkpoint)][-1]
    return None if data is None else json.loads(json.dumps(data))


def test_checkpoints_are_few_at_most_three_per_side_and_the_end_clears_the_journal():
    s = new(routine(*[(f"S{i}", "both") for i in range(6)]))
    out = s.press(A, 0.0) + run_until(s, 1000.0)
    writes = [e for e in out if isinstance(e, Checkpoint)]
    sides = 12
    assert len(writes) - 1 <= 3 * sides  # the last one clears
    assert writes[-1].data is None and all(w.data is not None for w in writes[:-1])


@pytest.mark.parametrize("kill_at", [3.0, 12.5, 37.0, 41.0, 77.7, 144.0])
def test_a_restart_in_the_same_boot_resumes_paused_where_it_was(kill_at):
    s = new(TWO)
    out = s.press(A, 0.0) + run_until(s, kill_at)
    data = journal(out)
    where, left = (s.step.stretch, s.step.side, s.step.phase), s.remaining(kill_at)
    again = new(TWO)
    restart = 0.4
    effects, refused = again.restore(data, kill_at + restart, same_boot=True)
    assert refused is None and again.state == PAUSED
    assert (again.step.stretch, again.step.side, again.step.phase) == where
    assert again.remaining() == pytest.approx(max(0.0, left - restart), abs=1e-6)  # the restart time is lost
    assert journal(effects)["left"] == pytest.approx(again.remaining())  # a second crash loses nothing more


def test_a_restored_session_finishes_as_one_session_with_its_held_time_counted_once():
    s = new(TWO)
    out = s.press(A, 0.0) + run_until(s, 50.0)
    again = new(TWO)
    again.restore(journal(out), 50.0, same_boot=True)
    out = again.press(A, 51.0) + run_until(again, 400.0)
    fins = [e for e in out if isinstance(e, Finished)]
    assert len(fins) == 1 and fins[0].log.ended == Ending.FINISHED
    assert [round(side.held) for side in fins[0].log.sides] == [30, 30, 30, 30]


def test_after_a_reboot_the_idle_screen_offers_it_and_nothing_resumes_by_itself():
    s = new(TWO)
    out = s.press(A, 0.0) + run_until(s, 20.0) + s.press(A, 20.0)  # paused in the left hold, 15 s left
    data = journal(out)
    again = new(TWO, offer_timeout=60)
    effects, refused = again.restore(data, 3.0, same_boot=False)
    assert refused is None and again.state == OFFER
    f = again.frame(3.0)
    assert (f.screen, f.name, f.side, f.seconds) == ("offer", "Ham", "left", 15)
    run_until(again, 63.0)  # no answer: idle, the offer still on its screen
    assert again.state == IDLE and again.frame(63.0).lines[0] == "unfinished: Ham, left"
    run_until(again, 5000.0)
    assert again.state == IDLE  # never auto-resumes
    again.press(B, 5000.0, hold=1.0)  # hold B in idle: the offer again
    assert again.state == OFFER
    out = again.press(A, 5002.0)
    assert again.state == LEAD_IN and again.step.phase is Phase.HOLD and again.remaining() == pytest.approx(15)
    assert actions(out) == [(5002.0, "a", "press", "resume")]


def test_start_over_keeps_the_cut_session_in_the_history_as_interrupted():
    s = new(TWO)
    out = s.press(A, 0.0) + run_until(s, 70.0)
    again = new(TWO)
    again.restore(journal(out), 1.0, same_boot=False)
    out = again.press(B, 2.0)
    fins = [e for e in out if isinstance(e, Finished)]
    assert again.state == IDLE and len(fins) == 1 and fins[0].log.ended == Ending.INTERRUPTED
    assert journal(out) is None
    assert [round(x.held) for x in fins[0].log.sides][:2] == [30, 30]


def test_a_start_from_idle_answers_a_pending_offer_once():
    s = new(TWO)
    out = s.press(A, 0.0) + run_until(s, 70.0)
    again = new(TWO, offer_timeout=5)
    again.restore(journal(out), 1.0, same_boot=False)
    run_until(again, 10.0)
    out = again.press(A, 10.0)
    assert [e.log.ended for e in out if isinstance(e, Finished)] == [Ending.INTERRUPTED]
    assert again.state == "running" and again.frame().lines == ()
    out = run_until(again, 200.0)
    assert [e.log.ended for e in out if isinstance(e, Finished)] == [Ending.FINISHED]


@pytest.mark.parametrize("change", ["renamed", "edited"])
def test_a_journal_whose_routine_changed_or_went_is_refused_with_a_reason_and_kept_as_interrupted(change):
    s = new(TWO)
    out = s.press(A, 0.0) + run_until(s, 20.0)
    other = routine(("Ham", "both"), ("Calf", "both"), name="Other") if change == "renamed" \
        else routine(("Ham", "both"), ("Calf", "both"), hold=45)
    again = new(other)
    effects, refused = again.restore(journal(out), 1.0, same_boot=True)
    assert refused and ("no longer" in refused if change == "renamed" else "changed" in refused)
    assert again.state == IDLE
    assert [e.log.ended for e in effects if isinstance(e, Finished)] == [Ending.INTERRUPTED]


@settings(max_examples=200, deadline=None)
@given(st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5),
                    lambda kids: st.lists(kids, max_size=3) | st.dictionaries(st.text(max_size=6), kids, max_size=4),
                    max_leaves=12))
def test_a_garbage_journal_is_refused_never_a_crash(garbage):
    s = new(TWO)
    data = garbage if isinstance(garbage, dict) else {"v": 1, "routine": "Test", "step": garbage, "log": garbage}
    effects, refused = s.restore(data, 1.0, same_boot=bool(len(str(garbage)) % 2))
    assert refused is not None and s.state == IDLE


def test_a_torn_real_journal_is_refused():
    s = new(TWO)
    data = journal(s.press(A, 0.0) + run_until(s, 20.0))
    for key in list(data):
        broken = dict(data)
        del broken[key]
        again = new(TWO)
        _, refused = again.restore(broken, 1.0, same_boot=True)
        assert refused is not None or key in ("stretch", "side", "phase", "extra", "status", "running", "shift"), key


# ---- the log -------------------------------------------------------------------------------
def test_the_log_says_how_a_session_ended():
    s = new(TWO)
    out = s.press(A, 0.0) + s.press(A, 2.0, hold=2.0)  # A held: stop
    assert [e.log.ended for e in out if isinstance(e, Finished)] == [Ending.STOPPED]
    s = new(TWO, pause_timeout=60)
    out = s.press(A, 0.0) + s.press(A, 10.0) + run_until(s, 100.0)
    fin = [e for e in out if isinstance(e, Finished)][0]
    assert fin.log.ended == Ending.TIMED_OUT and fin.log.pauses == 1 and fin.log.paused == pytest.approx(60)
    assert fin.log.sides[0].held == pytest.approx(5) and fin.log.duration == pytest.approx(70)


def test_skipped_sides_are_marked_and_a_back_clears_the_mark():
    s = new(TWO)
    s.press(A, 0.0)
    run_until(s, 10.0)
    s.press(B, 10.0)  # skip the left hold
    assert s.log.sides[0].skipped
    s.press(B, 11.0, hold=1.0)  # back during the switch: the previous side again
    assert not s.log.sides[0].skipped


# ---- the history screen ----------------------------------------------------------------------
def test_a_hold_in_idle_shows_the_history_and_it_closes_by_itself_or_with_a_press():
    s = Session([TWO], SessionConfig())
    s.history_lines = ("this week: 3", "left 4:30  right 3:50")
    s.press(A, 0.0, hold=2.0)
    assert s.state == "history" and s.frame(2.0).lines == s.history_lines
    run_until(s, 2.0 + HISTORY_SECONDS)
    assert s.state == IDLE
    s.press(A, 100.0, hold=2.0)
    s.press(B, 103.0)
    assert s.state == IDLE


# ---- found in review ----------------------------------------------------------------------------
ONE = routine(("Calf", "none"), name="One")


def test_a_session_taken_up_after_a_reboot_counts_its_time_on_both_clocks_not_across_them():
    s = new(TWO)
    out = s.press(A, 0.0) + run_until(s, 50.0)  # boot 1: cut 50 s in; its journal was written at 40 s
    data = journal(out)
    again = new(TWO)
    again.restore(data, 5.0, same_boot=False)  # boot 2's clock starts near 0
    out = again.press(A, 6.0) + run_until(again, 500.0)
    fin = [e for e in out if isinstance(e, Finished)][0]
    assert data["t"] == 40.0
    assert fin.log.duration == pytest.approx(40.0 + (fin.t - 6.0)) and fin.summary.duration == pytest.approx(
        fin.log.duration)
    # and a second cut after the take-up, found again in a third boot, keeps the same arithmetic
    s = new(TWO)
    out = s.press(A, 0.0) + run_until(s, 50.0)
    again = new(TWO)
    again.restore(journal(out), 5.0, same_boot=False)
    out = again.press(A, 6.0) + run_until(again, 20.0)
    second = journal(out)
    third = new(TWO)
    third.restore(second, 1.0, same_boot=False)
    out = third.press(B, 2.0)
    fin = [e for e in out if isinstance(e, Finished)][0]
    assert fin.log.ended == Ending.INTERRUPTED and fin.log.duration == pytest.approx(40.0 + (second["t"] - 6.0))


def test_the_offer_keeps_its_routine_while_idle_moves_to_another():
    s = new(TWO)
    data = journal(s.press(A, 0.0) + run_until(s, 20.0))
    again = Session([TWO, ONE], SessionConfig(offer_timeout=5))
    again.restore(data, 1.0, same_boot=False)
    run_until(again, 10.0)
    again.press(B, 10.0)  # idle: the next routine
    assert again.routine.name == "One" and again.frame().lines[0] == "unfinished: Ham, left"
    again.press(B, 11.0, hold=1.0)  # the offer again
    out = again.press(A, 13.0)
    assert again.routine.name == "Test" and again.step.stretch == 0 and again.step.side == "left"
    assert [e for e in out if isinstance(e, Checkpoint)][-1].data["routine"] == "Test"


def test_a_library_that_drops_the_offered_routine_answers_the_offer_as_interrupted():
    s = new(TWO)
    data = journal(s.press(A, 0.0) + run_until(s, 20.0))
    again = Session([TWO], SessionConfig(offer_timeout=5))
    again.restore(data, 1.0, same_boot=False)
    assert again.replace_routines([ONE]) == []  # on the offer's screen: waits
    run_until(again, 10.0)  # the offer times out to idle: the new library is taken, the offer answered
    assert again.routine.name == "One" and again.frame().lines == ()
    again = Session([TWO], SessionConfig(offer_timeout=5))
    again.restore(data, 1.0, same_boot=False)
    run_until(again, 10.0)
    effects = again.replace_routines([ONE])  # idle with the offer pending
    assert [e.log.ended for e in effects if isinstance(e, Finished)] == [Ending.INTERRUPTED]


def menu_over_a_routine(at: float) -> Session:
    """TWO under way, then the chord (A+B held 3 s from ``at``): the power menu over the paused routine."""
    s = new(TWO)
    s.press(A, 0.0)
    run_until(s, at)
    s.handle(Pressed(A, at))
    s.handle(Pressed(B, at))
    run_until(s, at + 3.5)
    s.handle(Released(A, at + 3.5))
    s.handle(Released(B, at + 3.5))
    assert s.state == "confirm-off"
    return s


def test_an_import_while_the_power_menu_is_open_over_a_routine_waits_for_the_routine():
    s = menu_over_a_routine(20.0)
    s.replace_routines([ONE])
    s.press(B, 25.0)  # cancel: back to the paused routine, still the old one
    assert s.state == PAUSED and s.routine.name == "Test"


def test_a_power_off_that_fails_mid_routine_goes_back_to_the_paused_routine_not_losing_it():
    s = menu_over_a_routine(10.0)
    s.press(A, 15.0)  # yes, power off ... and nothing happens for 60 s
    run_until(s, 80.0)
    assert s.state == PAUSED and s.step.phase.value == "hold" and s.log.ended is None


def test_an_extend_then_the_menu_sounds_paused_once():
    from tests.helpers import cues
    s = new(routine(("Ham", "none"), prepare=0, hold=30))
    s.press(A, 0.0)
    run_until(s, 5.0)
    s.press(A, 5.0)
    s.press(A, 5.3)  # extend
    s.handle(Pressed(A, 8.0))
    s.handle(Pressed(B, 8.0))
    out = run_until(s, 11.5)
    assert [c for _, c in cues(out)].count("paused") == 1


def test_the_offer_of_an_open_hold_shows_no_time_left():
    from stretchbox.core.routine import routine_from_mapping
    r = routine_from_mapping({"schema": 1, "name": "Open", "defaults": {"prepare": 2},
                              "stretches": [{"name": "O", "icon": "calf", "sides": "none", "hold": "open"}]})
    s = Session([r])
    data = journal(s.press(A, 0.0) + run_until(s, 12.0))
    again = Session([r])
    effects, _ = again.restore(data, 5.0, same_boot=False)
    assert again.frame().seconds is None and effects[0].seconds is None
