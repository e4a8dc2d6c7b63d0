"""The device config: defaults for the documented wiring, validation with file and line."""

import pytest

from stretchbox.adapters.configfile import config_from_data, load_config
from stretchbox.adapters.yamlfile import FileError
from stretchbox.cli import main
from stretchbox.config import Config


def test_missing_default_file_means_the_documented_wiring(tmp_path):
    c = load_config(tmp_path / "nope.yaml")
    assert (c.buttons.a, c.buttons.b, c.buzzer.pin, c.display.i2c_address) == ("GPIO17", "GPIO27", "GPIO18", 0x3C)
    assert c.buttons.bounce_time == 0.025 and c.idle.off_after == 90
    assert c == Config()


def test_a_full_config_is_read(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("""\
schema: 1
buttons: {mode: one, a: BOARD11, bounce_time: 0.02}
buzzer: {kind: passive, pin: GPIO13, quiet: true, vibration_pin: GPIO23}
display: {driver: sh1106, i2c_address: 0x3D, height: 32, rotate: 2}
idle: {dim_after: 20s, off_after: 2m, shift_every: 0}
session: {resume_lead: 5, pause_timeout: 5m}
paths: {library: /srv/routines}
power: {command: [sudo, poweroff]}
""")
    c = load_config(path)
    assert c.buttons.mode == "one" and c.buttons.a == "BOARD11"
    assert c.buzzer.kind == "passive" and c.buzzer.quiet and c.buzzer.vibration_pin == "GPIO23"
    assert (c.display.driver, c.display.i2c_address, c.display.height) == ("sh1106", 0x3D, 32)
    assert (c.idle.off_after, c.pause_timeout, c.resume_lead) == (120, 300, 5)
    assert c.power_command == ("sudo", "poweroff") and c.paths.library == "/srv/routines"


def test_every_problem_is_reported_with_file_line_and_column(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("""\
buttons:
  a: GPIO17
  b: GPIO17
  bounce: 0.02
buzzer:
  kind: passive
  pin: GPIO22
display:
  driver: ssd9999
idle:
  dim_after: 60
  off_after: 30
""")
    with pytest.raises(FileError) as exc:
        load_config(path)
    lines = str(exc.value).splitlines()
    assert f"{path}:3:6: buttons a and b are both on GPIO17" in lines
    assert f"{path}:4:3: unknown key 'bounce': did you mean 'bounce_time'?" in lines
    assert any(line.startswith(f"{path}:7:8: a passive buzzer needs a hardware-PWM pin") for line in lines)
    assert any(line.startswith(f"{path}:9:11: 'driver' must be one of ssd1306") for line in lines)
    assert f"{path}:12:14: off_after (30 s) comes before dim_after (60 s)" in lines
    assert len(lines) == 5


@pytest.mark.parametrize("data", [
    {"buttons": {"a": "PIN99X"}}, {"buzzer": {"kind": "loud"}}, {"display": {"rotate": 4}},
    {"display": {"width": 100}}, {"paths": {"library": "relative/dir"}}, {"power": {"command": "poweroff"}},
    {"buzzer": {"vibration_pin": "GPIO17"}}, {"session": {"resume_lead": -1}}, {"schema": 2}, {"buzzer": {"quiet": "yes"}},
])
def test_bad_values_are_refused(data):
    with pytest.raises(ValueError):
        config_from_data(data)


def test_config_check_command(tmp_path, capsys):
    good, bad = tmp_path / "good.yaml", tmp_path / "bad.yaml"
    good.write_text("# only comments: the defaults\n")
    bad.write_text("buzzer:\n  kynd: active\n")
    assert main(["config", "--check", "--config", str(good)]) == 0
    assert main(["config", "--check", "--config", str(bad)]) == 1
    assert f"{bad}:2:3: unknown key 'kynd': did you mean 'kind'?" in capsys.readouterr().err
    assert main(["config", "--check", "--config", str(tmp_path / "missing.yaml")]) == 1
    assert main(["config", "--config", str(good)]) == 0
    assert "buttons:" in capsys.readouterr().out


def test_a_passive_buzzers_volume_and_pitch_are_read_and_checked_with_file_and_line(tmp_path):
    from stretchbox.adapters.buzzer import PWM_MAX_HZ, highest_tone
    from stretchbox.config import PITCH

    path = tmp_path / "c.yaml"
    path.write_text("buzzer:\n  kind: passive\n  volume: 30\n  pitch: 3100\n")
    assert (load_config(path).buzzer.volume, load_config(path).buzzer.pitch) == (30, 3100)
    assert Config().buzzer.volume == 100 and PITCH[0] <= Config().buzzer.pitch <= PITCH[1]
    # the highest pitch lgpio's PWM can play the whole table at, and one more
    most = int(PWM_MAX_HZ / highest_tone(1))
    path.write_text(f"buzzer:\n  kind: passive\n  pitch: {most}\n")
    assert load_config(path).buzzer.pitch == most
    path.write_text(f"buzzer:\n  kind: passive\n  pitch: {most + 1}\n  volume: 101\n")
    with pytest.raises(FileError) as exc:
        load_config(path)
    assert str(exc.value).splitlines() == [
        f"{path}:3:10: 'pitch' {most + 1} Hz would play the cues' highest tone at {highest_tone(most + 1):.0f} Hz, "
        f"above the {PWM_MAX_HZ} Hz lgpio's PWM goes to: at most {most} Hz",
        f"{path}:4:11: 'volume' must be a whole number from 0 to 100, got 101"]


def test_volume_or_pitch_for_an_active_buzzer_is_refused_where_written(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("buzzer:\n  kind: active\n  volume: 30\n  pitch: 100\n")
    with pytest.raises(FileError) as exc:
        load_config(path)
    lines = str(exc.value).splitlines()
    assert lines[0] == f"{path}:3:11: 'volume' is for a passive buzzer (kind: passive); an active one sounds at " \
                       "its own loudness: a resistor in series makes it quieter"
    assert lines[1] == f"{path}:4:10: 'pitch' must be a whole number from 200 to 8000, got 100"
    assert len(lines) == 2
    path.write_text("buzzer:\n  kind: none\n  pitch: 3000\n  volume: 100\n")  # the default volume: no effect lost
    with pytest.raises(FileError) as exc:
        load_config(path)
    assert str(exc.value).splitlines() == [f"{path}:3:10: 'pitch' is for a passive buzzer (kind: passive); "
                                           "an active one plays its own tone"]


@pytest.mark.parametrize("bad", [{"volume": -1}, {"volume": "loud"}, {"volume": 50.5}, {"pitch": 199},
                                 {"pitch": 8001}, {"pitch": True}, {"pitch": "2.7k"}])
def test_bad_volume_or_pitch_values_are_refused(bad):
    with pytest.raises(ValueError):
        config_from_data({"buzzer": {"kind": "passive", "pin": "GPIO13", **bad}})
