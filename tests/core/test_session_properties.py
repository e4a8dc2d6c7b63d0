"""Random button sequences against the session: no exception, no negative time, always done or idle."""

from hypothesis import given, settings
from hypothesis import strategies as st

from stretchbox.core.gestures import A, B, GestureConfig, Pressed, Released
from stretchbox.core.session import (
    DONE, EXTEND_WINDOW, IDLE, Cue, Finished, PhaseStarted, Session, SessionConfig, Tick,
)

from tests.helpers import routine

ROUTINES = [
    routine(("Ham", "both"), ("Fold", "none"), ("Calf", "right")),
    routine(("Only", "left"), prepare=0, switch=0, rest=0, hold=20),
]

gesture = st.tuples(
    st.floats(min_value=0, max_value=40, allow_nan=False),   # gap before the button goes down
    st.sampled_from([A, B, "both"]),
    st.floats(min_value=0, max_value=4, allow_nan=False),    # how long it is held
)


@settings(max_examples=300, deadline=None)
@given(presses=st.lists(gesture, max_size=40), which=st.integers(0, 1), one_button=st.booleans(),
       lead=st.sampled_from([0.0, 3.0]))
def test_random_button_sequences(presses, which, one_button, lead):
    config = SessionConfig(resume_lead=lead,
                           gestures=GestureConfig.one_button() if one_button else GestureConfig.two_button())
    s = Session(ROUTINES, config)
    s.selected = which
    t = 0.0
    last_effect_t = 0.0

    def feed(event):
        # the device loop: every deadline before the event is ticked first
        while (d := s.next_deadline()) is not None and d < event.t:
            check(s.handle(Tick(d)), d)
        check(s.handle(event), event.t)

    def check(effects, now):
        nonlocal last_effect_t
        for e in effects:
            assert e.t >= last_effect_t - 1e-9, "effects go forward in time"
            assert e.t <= now + 1e-9
            last_effect_t = e.t
            if isinstance(e, PhaseStarted):
                assert e.seconds >= 0
            if isinstance(e, Finished):
                assert e.summary.completed + e.summary.skipped <= e.summary.total
                assert e.summary.duration >= 0
        assert s.remaining(now) >= 0
        f = s.frame(now)
        assert f.seconds is None or f.seconds >= 0
        assert 0.0 <= f.progress <= 1.0

    for gap, button, hold in presses:
        t += gap
        buttons = [A, B] if button == "both" else [button]
        buttons = [b for b in buttons if b in config.gestures.holds]
        for b in buttons:
            feed(Pressed(b, t))
        for b in buttons:
            feed(Released(b, t + hold))
        t += hold

    # Left alone long enough, every session ends: done (a routine ran) or idle (never started).
    end = t + 10_000
    feed(Tick(end))
    assert s.state in (DONE, IDLE)
    assert s.next_deadline() is None


@settings(max_examples=100, deadline=None)
@given(st.lists(st.floats(min_value=0.001, max_value=200, allow_nan=False), max_size=15))
def test_pauses_never_shorten_a_hold(pause_lengths):
    """However often the user pauses, each side still gets its full hold of running time; a second tap
    within EXTEND_WINDOW of the pausing one is the extend gesture and adds its seconds instead."""
    r = routine(("Calf", "left"), prepare=0)
    s = Session([r], SessionConfig(resume_lead=0))
    s.press(A, 0.0)
    t, running, planned, events = 0.0, 0.0, 30.0, []
    for length in pause_lengths:
        step = min(1.0, planned - running - 0.01)
        if step <= 0:
            break
        t += step
        running += step
        events += s.press(A, t)          # pause
        t += length
        events += s.press(A, t)          # resume, or extend when quick
        if length < EXTEND_WINDOW:
            planned += s.config.extend
    events += s.handle(Tick(t + 1000))
    done = [e for e in events if isinstance(e, Cue) and e.cue == "done"]
    assert len(done) == 1
    assert abs(done[0].t - (t + (planned - running))) < 1e-6
    assert s.log is not None and abs(s.log.sides[0].held - planned) < 1e-6
