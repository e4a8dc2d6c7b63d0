"""The device configuration: pins, button mode, buzzer, display, idle times, paths.

Pure: plain data in (as loaded from YAML), a typed ``Config`` out, every
problem at once, each at the path of its value so the file adapter can say
``FILE:LINE:COL``. Shapes and ranges are checked here; what only the libraries
know (which pin names gpiozero resolves on the Pi's header, which sizes a
luma driver takes, what the paths are on this filesystem) is checked by
``adapters.configfile``, the one place every command loads a config through.
The defaults are the wiring table in the README.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .core.errors import Invalid
from .core.idle import IdleConfig
from .core.text import quote

if TYPE_CHECKING:  # the routine module (its patterns) only when a config is parsed: `run` without one is quicker
    from .core.routine import Checker, Problem

DEFAULT_PATH = Path("/etc/stretchbox/config.yaml")


class InvalidConfig(Invalid):
    """A device config refused, with every problem found (a routine's are InvalidRoutine)."""

# luma.oled drivers for monochrome panels the renderer's 1-bit frames suit.
DRIVERS = ("ssd1306", "sh1106", "ssd1309", "ssd1305", "sh1107")
# Seconds, (low, high): the config's ranges, also for the command-line options that override them.
RESUME_LEAD = (0.0, 30.0)
EXTEND = (5.0, 120.0)
SESSION_KEYS = ("resume_lead", "pause_timeout", "extend", "halfway", "offer_timeout")
MAX_PIN_TEXT = 10  # the longest pin name is BOARD40: nothing longer is looked at


@dataclass(frozen=True)
class Buttons:
    mode: str = "two"  # two | one
    a: str = "GPIO17"
    b: str = "GPIO27"
    bounce_time: float = 0.025  # lgpio delays every press by this much: keep it short
    a_hold: float = 2.0
    b_hold: float = 1.0
    both_hold: float = 3.0

    def pins(self) -> dict[str, str]:
        """Button name -> pin: B's pin is unused in one-button mode."""
        return {"a": self.a} if self.mode == "one" else {"a": self.a, "b": self.b}


# A passive buzzer's base pitch, Hz, (low, high): what a small piezo sounds at all. Small (12 mm) passive
# piezos and magnetic transducers resonate at ~2-4 kHz and are loudest there: the default sits in that band.
PITCH = (200, 8000)
DEFAULT_PITCH = 2700


@dataclass(frozen=True)
class Buzzer:
    kind: str = "active"  # active (on/off) | passive (a piezo, PWM on a hardware-PWM pin) | none
    pin: str = "GPIO18"
    quiet: bool = False
    vibration_pin: str | None = None  # a motor (through a transistor) that mirrors the buzzer
    volume: int = 100  # passive only: 0-100 %, as PWM duty 0-50 % (a square wave is loudest at 50 %)
    pitch: int = DEFAULT_PITCH  # passive only: the base tone in Hz; the patterns' tones are multiples of it


@dataclass(frozen=True)
class Display:
    driver: str = "ssd1306"
    interface: str = "i2c"  # i2c | spi
    i2c_port: int = 1
    i2c_address: int = 0x3C
    spi_port: int = 0
    spi_device: int = 0
    width: int = 128
    height: int = 64
    rotate: int = 0  # 0-3, quarter turns
    contrast: int = 255
    dim_contrast: int = 8
    final_screen: str = "goodbye"  # goodbye | blank, on SIGTERM

    @property
    def frame_size(self) -> tuple[int, int]:
        """The picture's size: the panel's, turned a quarter for rotate 1 and 3 (as luma turns it)."""
        return (self.height, self.width) if self.rotate % 2 else (self.width, self.height)


@dataclass(frozen=True)
class Paths:
    library: str = "/var/lib/stretchbox/library"
    usb_mounts: str = "/media/stretchbox"
    state: str = "/var/lib/stretchbox"  # the history and the journal (the unit's StateDirectory)


def state_folder(config: Config, override: str | os.PathLike | None, environ: Mapping[str, str] = os.environ) -> Path:
    """Where the history and the journal live: ``--state-dir``, else ``$STATE_DIRECTORY`` (systemd sets it
    for StateDirectory=; with several, ':'-separated, the first), else the config's ``paths.state``."""
    if override:
        return Path(override)
    if environ.get("STATE_DIRECTORY"):
        return Path(environ["STATE_DIRECTORY"].split(":")[0])
    return Path(config.paths.state)


RTCS = ("none", "ds3231")  # clock.rtc: a real-time clock on the I2C bus; install.sh enables its overlay


@dataclass(frozen=True)
class Clock:
    rtc: str = "none"


@dataclass(frozen=True)
class Config:
    buttons: Buttons = field(default_factory=Buttons)
    buzzer: Buzzer = field(default_factory=Buzzer)
    display: Display = field(default_factory=Display)
    idle: IdleConfig = field(default_factory=IdleConfig)
    paths: Paths = field(default_factory=Paths)
    resume_lead: float = 3.0
    pause_timeout: float = 600.0
    power_command: tuple[str, ...] = ("systemctl", "poweroff")
    source: str = "<defaults>"
    extend: float = 15.0  # seconds the extend gesture adds to a hold (0: off)
    halfway: bool = False  # a halfway cue in timed holds of 20 s or more (a routine's cues: wins)
    offer_timeout: float = 60.0  # the resume offer's screen, before idle (the offer stays until a start)
    clock: Clock = field(default_factory=Clock)


SECTIONS = ("schema", "buttons", "buzzer", "display", "idle", "session", "paths", "power", "clock")


def _seconds(c: Checker, data: dict, key: str, path: tuple, default: float, low: float, high: float, *,
             off: bool = False) -> float:
    """Seconds from low to high; with ``off``, also 0 (the feature switched off)."""
    from .core.routine import parse_duration

    if key not in data:
        return default
    value = data[key]
    try:
        if isinstance(value, float) and not isinstance(value, bool):
            seconds = value
        else:
            seconds = float(parse_duration(value))
    except ValueError as exc:
        c.add(path + (key,), f"'{key}': {exc}")
        return default
    if not (low <= seconds <= high or (off and seconds == 0)):
        c.add(path + (key,), f"'{key}' must be {'0 (off) or ' if off else ''}between {low:g} and {high:g} seconds, "
                             f"got {seconds:g}")
        return default
    return seconds


def _choice(c: Checker, data: dict, key: str, path: tuple, default: Any, allowed: tuple) -> Any:
    if key not in data:
        return default
    value = data[key]
    if isinstance(value, str):
        value = value.strip().lower()
    if value not in allowed:
        c.add(path + (key,), f"'{key}' must be one of {', '.join(map(str, allowed))}, got {quote(data[key])}")
        return default
    return value


def _int(c: Checker, data: dict, key: str, path: tuple, default: int, low: int, high: int) -> int:
    if key not in data:
        return default
    value = data[key]
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        c.add(path + (key,), f"'{key}' must be a whole number from {low} to {high}, got {quote(value)}")
        return default
    return value


def _pin(c: Checker, data: dict, key: str, path: tuple, default: str | None, *, optional: bool = False) -> str | None:
    """A pin name as gpiozero spells it (GPIO17, BOARD11, J8:11...; any case) or a GPIO number.

    Only the shape is checked here; ``adapters.configfile`` resolves the name on the Pi's header.
    """
    if key not in data:
        return default
    value = data[key]
    if value is None and optional:
        return None
    text = str(value).strip() if isinstance(value, (str, int)) and not isinstance(value, bool) else ""
    if not text or len(text) > MAX_PIN_TEXT or not all(ch.isalnum() or ch == ":" for ch in text) \
            or not text.isascii():
        c.add(path + (key,), f"'{key}' must be a pin name like GPIO17 or BOARD11, got {quote(value)}")
        return default
    return text.upper()


def _bool(c: Checker, data: dict, key: str, path: tuple, default: bool) -> bool:
    value = data.get(key, default)
    if not isinstance(value, bool):
        c.add(path + (key,), f"'{key}' must be true or false, got {quote(value)}")
        return default
    return value


def config_from_mapping(data: Any, *, source: str = "") -> Config:
    """Plain data -> Config, or InvalidConfig (the core's problem list) naming every problem.

    Shapes and ranges only: a device loads its config through ``adapters.configfile``.
    """
    config, problems = parse_config(data, source=source)
    if problems:
        raise InvalidConfig(problems)
    return config


def parse_config(data: Any, *, source: str = "") -> tuple[Config, list[Problem]]:
    """Plain data -> (Config, problems); a value with a problem is replaced by its default."""
    from .core.routine import Checker

    c = Checker()
    top = c.mapping(data, (), SECTIONS) if data is not None else {}
    schema = top.get("schema", 1)
    if schema != 1 or isinstance(schema, bool):
        c.add(("schema",), f"unsupported schema {quote(top.get('schema'))}; this device reads schema 1")

    def section(name: str, allowed: tuple[str, ...]) -> dict:
        return c.mapping(top[name], (name,), allowed) if name in top and top[name] is not None else {}

    d = Buttons()
    b = section("buttons", tuple(f.name for f in fields(Buttons)))
    p = ("buttons",)
    buttons = Buttons(
        mode=_choice(c, b, "mode", p, d.mode, ("two", "one")),
        a=_pin(c, b, "a", p, d.a) or d.a, b=_pin(c, b, "b", p, d.b) or d.b,
        bounce_time=_seconds(c, b, "bounce_time", p, d.bounce_time, 0.0, 0.2),
        a_hold=_seconds(c, b, "a_hold", p, d.a_hold, 0.5, 10), b_hold=_seconds(c, b, "b_hold", p, d.b_hold, 0.5, 10),
        both_hold=_seconds(c, b, "both_hold", p, d.both_hold, 1, 10))

    d2 = Buzzer()
    z = section("buzzer", tuple(f.name for f in fields(Buzzer)))
    p = ("buzzer",)
    buzzer = Buzzer(kind=_choice(c, z, "kind", p, d2.kind, ("active", "passive", "none")),
                    pin=_pin(c, z, "pin", p, d2.pin) or d2.pin, quiet=_bool(c, z, "quiet", p, d2.quiet),
                    vibration_pin=_pin(c, z, "vibration_pin", p, d2.vibration_pin, optional=True),
                    volume=_int(c, z, "volume", p, d2.volume, 0, 100), pitch=_int(c, z, "pitch", p, d2.pitch, *PITCH))
    kind_refused = ("buzzer", "kind") in {problem.path for problem in c.problems}
    for key in ("volume", "pitch"):  # a value that could not take effect: said, not ignored
        if getattr(buzzer, key) != getattr(d2, key) and buzzer.kind != "passive" and not kind_refused:
            c.add(p + (key,), f"'{key}' is for a passive buzzer (kind: passive); " + (
                "an active one sounds at its own loudness: a resistor in series makes it quieter"
                if key == "volume" else "an active one plays its own tone"))

    d3 = Display()
    s = section("display", tuple(f.name for f in fields(Display)))
    p = ("display",)
    display = Display(
        driver=_choice(c, s, "driver", p, d3.driver, DRIVERS),
        interface=_choice(c, s, "interface", p, d3.interface, ("i2c", "spi")),
        i2c_port=_int(c, s, "i2c_port", p, d3.i2c_port, 0, 20),
        i2c_address=_int(c, s, "i2c_address", p, d3.i2c_address, 0x03, 0x77),
        spi_port=_int(c, s, "spi_port", p, d3.spi_port, 0, 6), spi_device=_int(c, s, "spi_device", p, d3.spi_device, 0, 3),
        width=_int(c, s, "width", p, d3.width, 16, 256), height=_int(c, s, "height", p, d3.height, 16, 256),
        rotate=_int(c, s, "rotate", p, d3.rotate, 0, 3),
        contrast=_int(c, s, "contrast", p, d3.contrast, 0, 255),
        dim_contrast=_int(c, s, "dim_contrast", p, d3.dim_contrast, 0, 255),
        final_screen=_choice(c, s, "final_screen", p, d3.final_screen, ("goodbye", "blank")))

    d4 = IdleConfig()
    i = section("idle", ("dim_after", "off_after", "shift_every"))
    p = ("idle",)
    idle = IdleConfig(dim_after=_seconds(c, i, "dim_after", p, d4.dim_after, 1, 86400),
                      off_after=_seconds(c, i, "off_after", p, d4.off_after, 1, 86400),
                      shift_every=_seconds(c, i, "shift_every", p, d4.shift_every, 1, 86400, off=True))
    if idle.off_after < idle.dim_after:
        c.add(p + ("off_after",), f"off_after ({idle.off_after:g} s) comes before dim_after ({idle.dim_after:g} s)")

    e = section("session", SESSION_KEYS)
    resume_lead = _seconds(c, e, "resume_lead", ("session",), 3.0, *RESUME_LEAD)
    pause_timeout = _seconds(c, e, "pause_timeout", ("session",), 600.0, 10, 86400)
    extend = _seconds(c, e, "extend", ("session",), Config.extend, *EXTEND, off=True)
    halfway = _bool(c, e, "halfway", ("session",), Config.halfway)
    offer_timeout = _seconds(c, e, "offer_timeout", ("session",), Config.offer_timeout, 5, 3600)

    a = section("paths", tuple(f.name for f in fields(Paths)))
    paths = Paths(**{k: _abs_path(c, a, k, ("paths",), getattr(Paths(), k)) for k in ("library", "usb_mounts", "state")})

    w = section("power", ("command",))
    command: tuple[str, ...] = Config.power_command
    if "command" in w:
        value = w["command"]
        if isinstance(value, list) and value and all(isinstance(x, str) and x.strip() for x in value):
            command = tuple(value)
            if any(not ch.isprintable() for x in value for ch in x):
                c.add(("power", "command"), "'command' contains control characters")
                command = Config.power_command
        else:
            c.add(("power", "command"), "'command' must be a list of words, like [systemctl, poweroff]")

    k = section("clock", ("rtc",))
    clock = Clock(rtc=_choice(c, k, "rtc", ("clock",), Clock().rtc, RTCS))

    config = Config(buttons, buzzer, display, idle, paths, resume_lead, pause_timeout, command, source or "<defaults>",
                    extend=extend, halfway=halfway, offer_timeout=offer_timeout, clock=clock)
    return config, c.problems


def _abs_path(c: Checker, data: dict, key: str, path: tuple, default: str) -> str:
    value = data.get(key, default)
    if not isinstance(value, str) or not value.startswith("/"):
        c.add(path + (key,), f"'{key}' must be an absolute path, got {quote(value)}")
        return default
    if any(not ch.isprintable() for ch in value):
        c.add(path + (key,), f"'{key}' contains control characters (a NUL byte, a newline...): {quote(value)}")
        return default
    return value


__all__ = ["Config", "Buttons", "Buzzer", "Clock", "Display", "Paths", "state_folder", "config_from_mapping",
           "parse_config"]
