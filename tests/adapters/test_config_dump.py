"""`stretchbox config` prints YAML that is a config file: --check accepts it, loading it gives the config back."""

import dataclasses

import pytest
import yaml

from stretchbox.cli import main
from stretchbox.adapters.configfile import load_config
from stretchbox.config import Config

# Every key set to something other than its default, so a key the printout forgot cannot go unseen.
EVERYTHING_CHANGED = """\
schema: 1
buttons: {mode: one, a: GPIO5, b: GPIO6, bounce_time: 0.03, a_hold: 2.5, b_hold: 1.5, both_hold: 4}
buzzer: {kind: passive, pin: GPIO13, quiet: true, vibration_pin: GPIO23, volume: 40, pitch: 3100}
display: {driver: ssd1309, interface: spi, i2c_port: 3, i2c_address: 0x3D, spi_port: 1, spi_device: 1,
          width: 96, height: 16, rotate: 2, contrast: 200, dim_contrast: 1, final_screen: blank}
idle: {dim_after: 45s, off_after: 2m, shift_every: 90}
session: {resume_lead: 5s, pause_timeout: 20m, extend: 30s, halfway: true, offer_timeout: 2m}
paths: {library: /srv/stretchbox/library, usb_mounts: /media/usb, state: /srv/stretchbox/state}
power: {command: [sudo, /sbin/poweroff, --no-wall]}
clock: {rtc: ds3231}
"""


def fields_of(config: Config) -> dict:
    out = {}
    for f in dataclasses.fields(config):
        value = getattr(config, f.name)
        if dataclasses.is_dataclass(value):
            out.update({f"{f.name}.{k}": v for k, v in dataclasses.asdict(value).items()})
        else:
            out[f.name] = value
    return out


def printed(capsys, *args: str) -> str:
    assert main(["config", *args]) == 0
    return capsys.readouterr().out


@pytest.mark.parametrize("case", ["defaults", "everything changed"])
def test_the_printout_is_a_config_file_that_loads_back_to_the_same_config(tmp_path, capsys, case):
    args: list[str] = []
    if case == "everything changed":
        source = tmp_path / "source.yaml"
        source.write_text(EVERYTHING_CHANGED)
        args = ["--config", str(source)]
        original = load_config(source)
        defaults = fields_of(Config())
        same = [k for k, v in fields_of(original).items() if k != "source" and v == defaults[k]]
        assert same == [], "the test's config should change every key"
    else:  # a file of comments only: the defaults (and never this machine's /etc/stretchbox/config.yaml)
        (tmp_path / "empty.yaml").write_text("# all defaults\n")
        args = ["--config", str(tmp_path / "empty.yaml")]
        original = Config()
    text = printed(capsys, *args)
    copy = tmp_path / "printed.yaml"
    copy.write_text(text)
    assert printed(capsys, "--check", "--config", str(copy)) == f"ok: {copy}\n"
    again = load_config(copy)
    assert dataclasses.replace(again, source="") == dataclasses.replace(original, source="")
    assert printed(capsys, "--config", str(copy)).split("\n", 1)[1] == text.split("\n", 1)[1]  # stable


def test_the_i2c_address_is_hex_and_still_a_yaml_int(tmp_path, capsys):
    (tmp_path / "empty.yaml").write_text("# all defaults\n")
    text = printed(capsys, "--config", str(tmp_path / "empty.yaml"))
    assert "\n  i2c_address: 0x3C\n" in text
    assert yaml.safe_load(text)["display"]["i2c_address"] == 0x3C == 60
    assert "{" not in text and "source" not in text  # YAML, not Python's dict repr
    assert text.startswith("# ") and yaml.safe_load(text)["schema"] == 1
