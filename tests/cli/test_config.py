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
