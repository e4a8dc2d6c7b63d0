"""Panel power on static screens: dim, off, burn-in shift, and the swallowed wake-up press."""

from stretchbox.core.gestures import A, Pressed, Released
from stretchbox.core.idle import DIM, OFF, ON, Idle, IdleConfig


def test_dims_then_switches_off_and_deadlines_say_when():
    idle = Idle(IdleConfig(dim_after=30, off_after=90, shift_every=0), now=0.0)
    assert idle.level(29.999) == ON and idle.next_deadline(0.0) == 30
    assert idle.level(30.0) == DIM and idle.next_deadline(30.0) == 90
    assert idle.level(90.0) == OFF and idle.next_deadline(90.0) is None


def test_a_running_routine_keeps_the_panel_on():
    idle = Idle(IdleConfig(dim_after=30, off_after=90), now=0.0)
    idle.observe(False, 1.0)
    assert idle.level(1000.0) == ON and idle.next_deadline(1000.0) is None
    idle.observe(True, 1000.0)  # the routine ended: the quiet time starts now
    assert idle.level(1029.0) == ON and idle.level(1030.0) == DIM


def test_the_press_that_wakes_a_dark_panel_does_nothing_else():
    idle = Idle(IdleConfig(dim_after=30, off_after=90), now=0.0)
    assert idle.admit(Pressed(A, 100.0)) is False
    assert idle.level(100.0) == ON
    assert idle.admit(Released(A, 100.1)) is False
    assert idle.admit(Pressed(A, 101.0)) is True and idle.admit(Released(A, 101.1)) is True


def test_a_press_on_a_dim_panel_acts_and_keeps_it_on():
    idle = Idle(IdleConfig(dim_after=30, off_after=90), now=0.0)
    assert idle.admit(Pressed(A, 50.0)) is True and idle.level(50.0) == ON


def test_static_screens_shift_through_a_cycle_of_small_offsets():
    idle = Idle(IdleConfig(dim_after=1e9, off_after=1e9, shift_every=60), now=0.0)
    offsets = [idle.shift(t) for t in (0, 59.9, 60, 120, 180, 240)]
    assert offsets == [(0, 0), (0, 0), (1, 0), (1, 1), (0, 1), (0, 0)]
    assert all(abs(dx) <= 2 and abs(dy) <= 2 for dx, dy in offsets)
    assert idle.next_deadline(61.0) == 120


def test_a_paused_routine_dims_but_never_goes_dark():
    idle = Idle(IdleConfig(dim_after=30, off_after=90, shift_every=0), now=0.0)
    idle.observe(True, 10.0, may_sleep=False)
    assert idle.level(40.0) == DIM and idle.level(10_000.0) == DIM
    assert idle.next_deadline(40.0) is None
    assert idle.admit(Pressed(A, 10_000.0)) is True  # the resume press acts
