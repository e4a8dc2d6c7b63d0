"""The session's transition table: its shape, and docs/session.md, the table rendered."""

from pathlib import Path

import pytest

from stretchbox.core.gestures import A, B, GestureConfig, Pressed
from stretchbox.core.session import (
    GUARDS, HANDLERS, TABLE, TIMEOUTS, Action, IllegalTransition, Input, Phase, State, Then, table_markdown)

from tests.helpers import actions, new, routine, run_until

DOC = Path(__file__).resolve().parents[2] / "docs" / "session.md"
TWO = routine(("Ham", "both"), ("Fold", "none"), ("Calf", "left"))


def test_docs_session_md_is_the_table_rendered(update_golden):
    """Rewrite with `make session-doc` (or pytest --update-golden) after changing the table."""
    text = table_markdown()
    if update_golden:
        DOC.write_text(text)
    assert DOC.read_text() == text, "docs/session.md is out of date: run `make session-doc`"


def test_every_cell_lists_guarded_outcomes_then_one_without_a_guard():
    """A gesture's cell may end guarded too: when no guard holds, the gesture does nothing."""
    for where, row in TABLE.items():
        for input, cell in row.items():
            assert cell and all(isinstance(t, Then) for t in cell), (where, input)
            assert [t.when is None for t in cell[:-1]] == [False] * (len(cell) - 1), (where, input)
            assert cell[-1].when is None or input not in TIMEOUTS, (where, input)


def test_every_handler_and_guard_is_mapped_and_none_is_left_over():
    used = {then.handler for row in TABLE.values() for cell in row.values() for then in cell}
    assert used == set(HANDLERS)
    guards = {then.when for row in TABLE.values() for cell in row.values() for then in cell} - {None}
    assert guards == set(GUARDS)
    assert Action.NONE not in used


def test_the_rows_are_every_state_and_every_phase_of_a_routine_under_way():
    assert {state for state, _ in TABLE} == set(State)
    for state in (State.RUNNING, State.PAUSED):
        assert {phase for s, phase in TABLE if s == state} == set(Phase)
    assert [phase for s, phase in TABLE if s == State.LEAD_IN] == [Phase.HOLD]  # a lead-in leads into a hold
    assert all(phase is None for state, phase in TABLE if state not in (State.RUNNING, State.PAUSED, State.LEAD_IN))


def test_the_values_that_reach_output_are_the_old_strings():
    assert [s.value for s in State] == ["idle", "running", "paused", "lead-in", "done", "confirm-off",
                                        "powering-off", "offer", "history"]
    assert [p.value for p in Phase] == ["prepare", "hold", "switch", "rest"]
    reported = {t.action for row in TABLE.values() for i, cell in row.items() if i not in TIMEOUTS for t in cell}
    assert {a.value for a in reported} == {"start", "next-routine", "pause", "resume", "stop", "skip", "back",
                                           "dismiss", "power-menu", "power-off", "cancel", "extend", "start-over",
                                           "offer", "history", "close", "hold-done", "complete"}


def test_a_b_hold_during_a_rest_restarts_the_side_the_rest_follows():
    s = new(TWO)
    s.press(A, 0.0)
    run_until(s, 72.0)  # the rest after stretch 1 runs from 70 to 75
    assert s.where == (State.RUNNING, Phase.REST)
    assert s.outcome(Input.B_HOLD, 72.0) == Then(Action.BACK, State.RUNNING, do=Action.RESTART_SIDE)
    out = s.press(B, 72.0, hold=1.0)
    assert actions(out) == [(73.0, "b", "hold", "back")]
    assert s.where == (State.RUNNING, Phase.SWITCH) and s.step.side == "right"  # the switch into the right side


def test_a_guard_picks_the_outcome_back_in_a_hold_depends_on_how_long_it_has_run():
    s = new(TWO)
    s.press(A, 0.0)
    run_until(s, 6.0)  # the first hold from 5
    assert s.outcome(Input.B_HOLD, 6.0).handler is Action.PREVIOUS_SIDE
    assert s.outcome(Input.B_HOLD, 8.0).handler is Action.RESTART_HOLD


def test_a_timeout_with_no_entry_is_an_illegal_transition_and_a_gesture_with_none_does_nothing():
    s = new(TWO)
    with pytest.raises(IllegalTransition):
        s.outcome(Input.STEP_ENDS, 0.0)
    assert s.outcome(Input.B_HOLD, 0.0) is None  # idle: B's hold only answers a pending resume offer
    s.handle(Pressed(B, 0.0))
    out = run_until(s, 1.0)  # B's hold fires at 1 s: in idle, with no offer, no outcome
    assert actions(out) == [(1.0, "b", "hold", "none")] and s.state == State.IDLE


def test_timeouts_are_scheduled_only_where_the_table_has_them():
    s = new(TWO, gestures=GestureConfig.one_button())
    assert s.next_deadline() is None  # idle: no timeout in its row
    s.press(A, 0.0)
    assert s.next_deadline(redraw=False) == 5.0  # running · prepare: its step ends, no countdown
    run_until(s, 30.0)
    assert s.where == (State.RUNNING, Phase.HOLD) and s.next_deadline(redraw=False) == 32.0  # countdown
