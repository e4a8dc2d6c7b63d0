"""A notice (an import report) on screen: the press that dismisses it does nothing else."""

from stretchbox.app import App
from stretchbox.core.frame import Frame
from stretchbox.core.gestures import A, B, Pressed, Released
from stretchbox.core.session import Session, Tick

from tests.helpers import routine


def two_routines_app() -> App:
    app = App(Session([routine(("Ham", "both"), name="First"), routine(("Calf", "both"), name="Second")]))
    app.step(Tick(0.0))
    app.notify(Frame("error", title="NOTHING IMPORTED", text="stick.yaml:3: bad"))
    app.step(Tick(1.0))
    assert app.last_frame.title == "NOTHING IMPORTED"
    return app


def test_b_on_a_problem_screen_dismisses_it_and_does_not_jump_to_the_next_routine():
    app = two_routines_app()
    app.step(Pressed(B, 2.0))
    app.step(Released(B, 2.1))
    assert app.session.routine.name == "First" and app.last_frame.screen == "idle"
    app.step(Pressed(B, 3.0))  # the notice is gone: B now acts
    app.step(Released(B, 3.1))
    assert app.session.routine.name == "Second"


def test_a_on_a_notice_does_not_start_the_routine():
    app = two_routines_app()
    app.step(Pressed(A, 2.0))
    app.step(Released(A, 2.1))
    assert app.session.state == "idle"


def test_a_hold_that_dismissed_a_notice_is_swallowed_too():
    """Else A's 2 s hold in idle would open the history screen."""
    app = two_routines_app()
    app.step(Pressed(A, 2.0))
    app.step(Tick(5.0))  # held past A's 2 s hold: nothing, the press was the dismissal
    app.step(Released(A, 5.1))
    assert app.session.state == "idle" and app.last_frame.screen == "idle"
    app.step(Pressed(A, 6.0))
    app.step(Released(A, 6.1))
    assert app.session.state == "running"
