"""Cue patterns on real gpiozero devices over MockFactory pins, stepped by deadlines."""

import json

import pytest
from gpiozero import Buzzer, DigitalOutputDevice
from gpiozero.pins.mock import MockFactory, MockPWMPin

from stretchbox.adapters.buzzer import CUE_GAP, CUES, PATTERNS, BuzzerOutput, duty_for, pattern_for, sound_devices
from stretchbox.cli import main
from stretchbox.config import Buzzer as BuzzerConfig
from stretchbox.core.routine import CUE_NAMES
from stretchbox.core.session import Cue


@pytest.fixture
def factory():
    f = MockFactory(pin_class=MockPWMPin)
    yield f
    f.reset()


def run(output, until):
    """The main loop's part: step the output at each of its deadlines."""
    while (d := output.next_deadline()) is not None and d <= until:
        output.advance(d)


def test_active_buzzer_pin_timeline_matches_the_pattern(factory):
    buzzer = Buzzer("GPIO18", pin_factory=factory)
    changes = []
    out = BuzzerOutput(buzzer, on_pin=lambda t, pin, s: changes.append((round(t, 3), pin, s)))
    out.effects([Cue(10.0, "done")], 10.0)
    run(out, 100)
    # done = long-short-long: 0.6 on, 0.15 off, 0.2 on, 0.15 off, 0.6 on
    assert changes == [(10.0, "GPIO18", 1), (10.6, "GPIO18", 0), (10.75, "GPIO18", 1), (10.95, "GPIO18", 0),
                       (11.1, "GPIO18", 1), (11.7, "GPIO18", 0)]
    assert factory.pin("GPIO18").state == 0


def test_cues_that_overlap_queue_behind_each_other_with_a_silence_between(factory):
    """Back to back, a tick and a long beep would be one beep to the ear: CUE_GAP keeps them two."""
    buzzer = Buzzer("GPIO18", pin_factory=factory)
    changes = []
    out = BuzzerOutput(buzzer, on_pin=lambda t, pin, s: changes.append((round(t, 3), s)))
    out.effects([Cue(1.0, "countdown"), Cue(1.0, "go")], 1.0)
    run(out, 10)
    assert changes == [(1.0, 1), (1.05, 0), (1.5, 1), (2.1, 0)]
    assert CUE_GAP == 1.5 - 1.05


def passive(factory, **config):
    """A passive buzzer as the device builds it from its config, on MockFactory's PWM pins."""
    sound, _ = sound_devices(BuzzerConfig(kind="passive", pin="GPIO18", **config), factory)
    return sound


def heard(factory, out, cue):
    """(frequency, duty) at each step of one cue, read off the PWM pin; silences left out."""
    pin, tones = factory.pin("GPIO18"), []
    out.effects([cue], cue.t)
    tones.append((pin.frequency, pin.state))
    while (d := out.next_deadline()) is not None:
        out.advance(d)
        tones.append((pin.frequency, pin.state))
    return [(round(f, 3), duty) for f, duty in tones if duty]


def test_a_passive_buzzer_rises_to_the_right_and_falls_to_the_left(factory):
    out = BuzzerOutput(passive(factory))
    right, left = heard(factory, out, Cue(0.0, "switch-side", "right")), heard(factory, out, Cue(5.0, "switch-side", "left"))
    assert len(right) == 2 and right[0][0] < right[1][0]
    assert len(left) == 2 and left[0][0] > left[1][0]


@pytest.mark.parametrize("pitch, volume", [(2700, 100), (2000, 50), (4000, 10), (6000, 1)])
def test_a_passive_buzzers_tones_are_the_tables_multiples_of_its_pitch_at_its_volumes_duty(factory, pitch, volume):
    out = BuzzerOutput(passive(factory, pitch=pitch, volume=volume))
    for name, steps in PATTERNS.items():
        cue, _, side = name.partition(":")
        expected = [(round(pitch * tone, 3), duty_for(volume)) for _, tone in steps if tone is not None]
        assert heard(factory, out, Cue(100.0 * len(name), cue, side or None)) == expected
    assert factory.pin("GPIO18").state == 0
    assert 0 < duty_for(volume) <= 0.5


def test_a_louder_volume_is_a_duty_nearer_half_and_zero_is_silent(factory):
    duties = [duty_for(v) for v in range(0, 101)]
    assert duties == sorted(duties) and duties[0] == 0 and duties[-1] == 0.5
    assert all(d > 0 and round(d * 100, 9).is_integer() for d in duties[1:])  # lgpio's duty: whole percent
    changes = []
    out = BuzzerOutput(passive(factory, volume=0), on_pin=lambda t, pin, s: changes.append(s))
    out.effects([Cue(0.0, "go")], 0.0)
    run(out, 5)
    assert 1 not in changes and all(state == 0 for _, state in factory.pin("GPIO18").states)


def test_quiet_mode_silences_the_buzzer_but_the_motor_still_mirrors(factory):
    buzzer = Buzzer("GPIO18", pin_factory=factory)
    motor = DigitalOutputDevice("GPIO23", pin_factory=factory)
    changes = []
    out = BuzzerOutput(buzzer, motor, quiet=True, on_pin=lambda t, pin, s: changes.append((pin, s)))
    out.effects([Cue(0.0, "go")], 0.0)
    run(out, 5)
    assert changes == [("GPIO23", 1), ("GPIO23", 0)]
    assert factory.pin("GPIO18").states[-1].state in (0, False) and len(factory.pin("GPIO18").states) == 1


def test_a_routine_can_silence_or_repattern_a_cue(factory):
    buzzer = Buzzer("GPIO18", pin_factory=factory)
    changes = []
    overrides = {"countdown": None, "next-stretch": (100, 50, 100)}
    out = BuzzerOutput(buzzer, overrides=lambda: overrides, on_pin=lambda t, p, s: changes.append((round(t, 3), s)))
    out.effects([Cue(0.0, "countdown"), Cue(1.0, "next-stretch")], 1.0)
    run(out, 5)
    assert changes == [(1.0, 1), (1.1, 0), (1.15, 1), (1.25, 0)]


def test_simulated_routine_buzzer_timeline_follows_each_cue_pattern(capsys):
    assert main(["simulate", "--json"]) == 0
    records = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    pins = [r for r in records if r["event"] == "pin"]
    cues = [r for r in records if r["event"] == "cue"]
    assert {r["pin"] for r in pins} == {"GPIO18"}
    # rebuild each cue's expected on/off edges and compare with the pin timeline
    expected, free = [], 0.0
    for c in cues:
        start = max(c["t"], free)
        t = start
        for seconds, tone in pattern_for(Cue(c["t"], c["cue"], "right")):
            if tone is not None:
                expected.append((round(t, 3), 1))
                expected.append((round(t + seconds, 3), 0))
            t += seconds
        free = t + CUE_GAP
    merged = []
    for t, s in expected:  # an off immediately followed by an on at the same time is no change
        if merged and merged[-1] == (t, 1 - s):
            merged.pop()
        else:
            merged.append((t, s))
    assert [(r["t"], r["state"]) for r in pins] == merged
    assert len(pins) >= 2 * len(cues) - 5


def test_simulate_with_a_passive_buzzer_and_a_motor_through_the_config(tmp_path, capsys):
    config = tmp_path / "config.yaml"
    config.write_text("buzzer: {kind: passive, pin: GPIO13, vibration_pin: GPIO23}\n")
    assert main(["simulate", "--json", "--config", str(config)]) == 0
    pins = [json.loads(x) for x in capsys.readouterr().out.splitlines() if '"pin"' in x]
    on = {p["pin"] for p in pins if p["state"] == 1}
    assert on == {"GPIO13", "GPIO23"}
    by_pin = {name: [(p["t"], p["state"]) for p in pins if p["pin"] == name] for name in on}
    assert by_pin["GPIO13"] == by_pin["GPIO23"]  # the motor mirrors the buzzer, edge for edge


def test_the_pattern_table_plays_every_cue_a_routine_may_name_and_no_other():
    """The core names the cues (routine files refer to them); the table says how each sounds."""
    assert CUES == CUE_NAMES
    assert {"halfway", "extend"} < set(CUES)
