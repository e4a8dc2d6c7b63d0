"""Random button sequences against the session: no exception, no negative time, always done or idle."""

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from stretchbox.core.gestures import A, B, GestureConfig, Pressed, Released
from stretchbox.core.routine import routine_from_mapping
from stretchbox.core.session import (
    DONE, EXTEND_WINDOW, IDLE, Checkpoint, Cue, Finished, PhaseStarted, Session, SessionConfig, Tick,
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


# ---- any presses, double taps, kills (this boot or another) and library changes ---------------------------
KILLABLE = [
    routine(("Ham", "both"), ("Fold", "none"), ("Calf", "right"), hold=24, name="R0"),
    routine(("Only", "left"), prepare=0, switch=0, rest=0, hold=20, name="R1"),
    routine_from_mapping({"schema": 1, "name": "Open", "defaults": {"prepare": 2, "hold": 25, "switch": 2, "rest": 3},
                          "stretches": [{"name": "O", "icon": "calf", "sides": "both", "hold": "open"},
                                        {"name": "T", "icon": "calf", "sides": "none"},
                                        {"name": "O2", "icon": "calf", "sides": "none", "hold": "open"}]}),
    routine(("Ham", "both"), hold=22, name="R0"),  # R0, changed
]
OPS = st.one_of(
    st.tuples(st.just("press"), st.floats(0, 40), st.sampled_from([A, B, "both"]),
              st.sampled_from([0.05, 0.3, 1.2, 2.5, 3.5])),
    st.tuples(st.just("tap2"), st.floats(0, 40), st.floats(0.05, 0.7)),
    st.tuples(st.just("kill"), st.floats(0, 40), st.booleans()),
    st.tuples(st.just("replace"), st.floats(0, 5), st.lists(st.sampled_from([0, 1, 2, 3]), min_size=1, max_size=3,
                                                          unique_by=lambda i: i % 3 if i != 3 else 0)),
)


@settings(max_examples=300, deadline=None)
@given(ops=st.lists(OPS, max_size=30), which=st.integers(0, 2), one_button=st.booleans(),
       lead=st.sampled_from([0.0, 3.0]), halfway=st.booleans())
def test_any_presses_kills_and_imports_keep_every_checkpoint_restorable_and_every_log_sane(
        ops, which, one_button, lead, halfway):
    """Every checkpoint restores at once to a session; a kill (same boot or a reboot) takes the last one up or
    refuses it only for its routine; logs never show negative or impossible times; the session always ends."""
    def config():
        return SessionConfig(resume_lead=lead, halfway=halfway,
                             gestures=GestureConfig.one_button() if one_button else GestureConfig.two_button())
    library = KILLABLE[:3]
    s = Session(library, config())
    s.selected = which
    t, journal, boot, journal_boot = 0.0, None, 0, 0

    def check(effects, now):
        nonlocal journal, journal_boot
        for e in effects:
            if isinstance(e, Checkpoint):
                journal, journal_boot = (None if e.data is None else json.loads(json.dumps(e.data))), boot
                if e.data is not None:
                    _, why = Session(s.routines, config()).restore(json.loads(json.dumps(e.data)), e.t, same_boot=True)
                    assert why is None, why
            if isinstance(e, Finished) and e.log is not None:
                log = e.log
                assert log.duration >= -1e-6 and log.paused >= -1e-9
                assert log.held() + log.paused <= log.duration + 0.01, (log.held(), log.paused, log.duration)
                assert all(side.held >= -1e-9 for side in log.sides)
            if isinstance(e, PhaseStarted):
                assert e.seconds is None or e.seconds >= 0
                assert e.routine_left is None or e.routine_left >= 0
        s.frame(now)
        assert s.remaining(now) >= 0

    def feed(event):
        while (d := s.next_deadline()) is not None and d < event.t:
            check(s.handle(Tick(d)), d)
        check(s.handle(event), event.t)

    for op in ops:
        t += op[1]
        if op[0] == "press":
            buttons = [b for b in ([A, B] if op[2] == "both" else [op[2]]) if b in s.config.gestures.holds]
            for b in buttons:
                feed(Pressed(b, t))
            for b in buttons:
                feed(Released(b, t + op[3]))
            t += op[3]
        elif op[0] == "tap2":
            feed(Pressed(A, t))
            feed(Released(A, t + 0.05))
            t += op[2]
            feed(Pressed(A, t))
            feed(Released(A, t + 0.05))
            t += 0.05
        elif op[0] == "kill":
            feed(Tick(t))
            if not op[2]:  # a reboot: the monotonic clock starts again
                t, boot = 5.0, boot + 1
            s = Session(library, config())
            if journal is not None:
                effects, why = s.restore(journal, t, same_boot=journal_boot == boot)
                assert why is None or "routine" in why, why
                check(effects, t)
        else:
            library = [KILLABLE[i] for i in op[2]]
            feed(Tick(t))
            check(s.replace_routines(library), t)
    feed(Tick(t + 100_000))
    assert s.state in (DONE, IDLE), s.state
