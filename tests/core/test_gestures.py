"""Press and hold interpretation (core/gestures.py): plain events, fake timestamps, no clock."""

from stretchbox.core.gestures import A, B, BOTH, HOLD, PRESS, Gesture, GestureConfig, Gestures, Pressed, Released


def press(g, button, down, up):
    """Down at ``down``, every hold due before ``up``, then up: what the device loop does."""
    out = g.pressed(Pressed(button, down))
    if (d := g.next_deadline()) is not None and d <= up:
        out += g.due(d)
    return out + g.released(Released(button, up))


def test_a_release_before_the_threshold_is_a_press_reported_at_the_release():
    g = Gestures()
    assert g.pressed(Pressed(A, 10.0)) == []  # nothing is known on the way down
    assert g.released(Released(A, 11.999)) == [Gesture(A, PRESS, 11.999)]
    assert press(g, B, 20.0, 20.5) == [Gesture(B, PRESS, 20.5)]


def test_the_longest_threshold_fires_the_moment_it_is_reached_and_the_release_says_nothing():
    g = Gestures(GestureConfig.two_button(a_hold=2.0, b_hold=1.0))
    g.pressed(Pressed(A, 10.0))
    assert g.next_deadline() == 12.0
    assert g.due(11.999) == []
    assert g.due(15.0) == [Gesture(A, HOLD, 12.0, 2.0)]  # asked late: stamped with its exact time
    assert g.next_deadline() is None and g.due(20.0) == []  # fires once
    assert g.released(Released(A, 30.0)) == []
    assert press(g, B, 40.0, 45.0) == [Gesture(B, HOLD, 41.0, 1.0)]


def test_a_release_at_the_threshold_that_was_not_yet_asked_for_is_the_hold():
    g = Gestures()
    g.pressed(Pressed(A, 0.0))
    assert g.released(Released(A, 2.0)) == [Gesture(A, HOLD, 2.0, 2.0)]


def test_the_thresholds_are_the_configured_ones():
    g = Gestures(GestureConfig.two_button(a_hold=3.5, b_hold=0.5))
    assert press(g, A, 0.0, 3.4) == [Gesture(A, PRESS, 3.4)]
    assert press(g, A, 10.0, 14.0) == [Gesture(A, HOLD, 13.5, 3.5)]
    assert press(g, B, 20.0, 20.5) == [Gesture(B, HOLD, 20.5, 0.5)]


def test_one_button_a_short_hold_is_reported_on_release_and_the_long_one_when_reached():
    g = Gestures(GestureConfig.one_button(skip_hold=1.0, stop_hold=3.0))
    assert g.buttons == (A,)
    assert press(g, A, 0.0, 0.9) == [Gesture(A, PRESS, 0.9)]
    g.pressed(Pressed(A, 10.0))
    assert g.next_deadline() == 13.0  # only the longest threshold has a deadline
    assert g.due(12.0) == []  # 2 s down: it may still become the 3 s hold
    assert g.released(Released(A, 12.0)) == [Gesture(A, HOLD, 12.0, 1.0)]
    assert press(g, A, 20.0, 25.0) == [Gesture(A, HOLD, 23.0, 3.0)]


def test_one_button_mode_ignores_b():
    g = Gestures(GestureConfig.one_button())
    assert g.pressed(Pressed(B, 0.0)) == [] and g.next_deadline() is None  # not down: no hold to time
    assert g.released(Released(B, 0.5)) == [] and g.next_deadline() is None


def test_both_buttons_down_are_a_chord_that_fires_once_both_have_been_down_long_enough():
    g = Gestures(GestureConfig.two_button(chord_hold=3.0))
    g.pressed(Pressed(A, 10.0))
    g.pressed(Pressed(B, 10.5))
    assert g.next_deadline() == 13.5  # neither A's 12.0 nor B's 11.5: the chord's
    assert g.due(13.0) == []
    assert g.due(13.5) == [Gesture(BOTH, HOLD, 13.5, 3.0)]
    assert g.next_deadline() is None
    assert g.released(Released(A, 14.0)) == [] and g.released(Released(B, 14.0)) == []


def test_a_chord_let_go_early_reports_nothing_at_all():
    g = Gestures()
    g.pressed(Pressed(A, 0.0))
    g.pressed(Pressed(B, 0.2))
    assert g.released(Released(B, 1.0)) == []
    assert g.next_deadline() is None  # the chord is off, and A joined it: no hold of its own either
    assert g.due(10.0) == [] and g.released(Released(A, 10.0)) == []


def test_repeated_edges_unknown_buttons_and_lone_releases_are_ignored():
    g = Gestures()
    g.pressed(Pressed(A, 0.0))
    assert g.pressed(Pressed(A, 1.0)) == []  # a bounce: the first down counts
    assert g.released(Released(A, 1.5)) == [Gesture(A, PRESS, 1.5)]
    assert g.released(Released(A, 1.6)) == []
    assert g.pressed(Pressed("c", 2.0)) == [] and g.next_deadline() is None


def test_reset_forgets_the_buttons_in_flight():
    g = Gestures()
    g.pressed(Pressed(A, 0.0))
    assert g.next_deadline() == 2.0  # A is down: its hold is timed
    g.reset()
    assert g.next_deadline() is None and g.due(5.0) == []
    assert g.released(Released(A, 5.0)) == [] and g.next_deadline() is None


def test_a_chord_counts_from_the_second_button_even_after_the_first_one_held():
    g = Gestures()
    g.pressed(Pressed(A, 0.0))
    assert g.due(2.0) == [Gesture(A, HOLD, 2.0, 2.0)]
    g.pressed(Pressed(B, 2.5))  # A still down: a chord from 2.5, and B has no hold of its own
    assert g.next_deadline() == 5.5
    assert g.due(5.5) == [Gesture(BOTH, HOLD, 5.5, 3.0)]


def test_the_values_are_the_strings_simulate_prints():
    assert (A, B, BOTH, PRESS, HOLD) == ("a", "b", "ab", "press", "hold")
