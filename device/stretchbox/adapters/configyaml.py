"""The device config as YAML in the file's own shape: what ``stretchbox config`` prints.

The printed text is a config file: ``config --check`` accepts it and loading
it gives the same config. The I2C address is written in hex (``0x3C``, a
valid YAML int, as i2cdetect shows it), lists in flow style, and sections in
the order of the example file (systemd/config.example.yaml).

>>> from stretchbox.config import Config
>>> print(dump_config(Config()).split("display:")[1].splitlines()[4])
  i2c_address: 0x3C
"""

from __future__ import annotations

import dataclasses
from typing import Any

import yaml

from ..config import SESSION_KEYS


class Hex(int):
    """An int written as 0x.. (two digits at least)."""


class _Dumper(yaml.SafeDumper):
    pass


_Dumper.add_representer(Hex, lambda d, v: d.represent_scalar("tag:yaml.org,2002:int", f"0x{int(v):02X}"))
_Dumper.add_representer(list, lambda d, v: d.represent_sequence("tag:yaml.org,2002:seq", v, flow_style=True))


def config_mapping(config) -> dict[str, Any]:
    """``config`` as plain data shaped like the config file (schema 1): sections and keys as
    ``config_from_mapping`` reads them."""
    display = dataclasses.asdict(config.display)
    display["i2c_address"] = Hex(display["i2c_address"])
    return {
        "schema": 1,
        "buttons": dataclasses.asdict(config.buttons),
        "buzzer": dataclasses.asdict(config.buzzer),
        "display": display,
        "idle": dataclasses.asdict(config.idle),
        "session": {key: getattr(config, key) for key in SESSION_KEYS},
        "paths": dataclasses.asdict(config.paths),
        "power": {"command": list(config.power_command)},
        "clock": dataclasses.asdict(config.clock),
    }


def dump_config(config) -> str:
    """The YAML text of ``config_mapping(config)``."""
    return yaml.dump(config_mapping(config), Dumper=_Dumper, sort_keys=False, default_flow_style=False,
                     allow_unicode=True)
