"""The device configuration: pins, button mode, buzzer, display, idle times, paths.

Read from YAML (default ``/etc/stretchbox/config.yaml``) and validated like a
routine: every problem at once, as ``FILE:LINE:COL: message``. A missing file
means the documented defaults (the wiring table in the README).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from .adapters.files import exists
from .adapters.yamlfile import FileError, FileProblem, load_checked
from .core.idle import IdleConfig
from .core.routine import Checker, InvalidRoutine, Problem, parse_duration
from .core.text import quote

DEFAULT_PATH = Path("/etc/stretchbox/config.yaml")

# luma.oled drivers for monochrome panels the renderer's 1-bit frames suit.
DRIVERS = ("ssd1306", "sh1106", "ssd1309", "ssd1305", "sh1107")
SIZES = ((128, 64), (128, 32), (128, 128), (64, 48), (96, 16), (64, 32))
# gpiozero pin names: GPIO17, BCM17, BOARD11, J8:11, WPI0 or a bare BCM number.
MAX_PIN_TEXT = 10  # the longest pin name is BOARD40; nothing longer reaches the pattern
PIN = re.compile(r"^(GPIO\d{1,2}|BCM\d{1,2}|BOARD\d{1,2}|J8:\d{1,2}|WPI\d{1,2}|\d{1,2})$", re.IGNORECASE)
HARDWARE_PWM = {"GPIO12", "GPIO13", "GPIO18", "GPIO19", "BCM12", "BCM13", "BCM18", "BCM19", "12", "13", "18", "19",
                "BOARD32", "BOARD33", "BOARD12", "BOARD35", "J8:32", "J8:33", "J8:12", "J8:35"}


@dataclass(frozen=True)
class Buttons:
    mode: str = "two"  # two | one
    a: str = "GPIO17"
    b: str = "GPIO27"
    bounce_time: float = 0.025  # lgpio delays every press by this much: keep it short
    a_hold: float = 2.0
    b_hold: float = 1.0
    both_hold: float = 3.0


@dataclass(frozen=True)
class Buzzer:
    kind: str = "active"  # active (on/off) | passive (TonalBuzzer on a hardware-PWM pin) | none
    pin: str = "GPIO18"
    quiet: bool = False
    vibration_pin: str | None = None  # a motor (through a transistor) that mirrors the buzzer


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


@dataclass(frozen=True)
class Paths:
    library: str = "/var/lib/stretchbox/library"
    usb_mounts: str = "/media/stretchbox"


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


SECTIONS = ("schema", "buttons", "buzzer", "display", "idle", "session", "paths", "power")


def _seconds(c: Checker, data: dict, key: str, path: tuple, default: float, low: float, high: float) -> float:
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
    if not low <= seconds <= high:
        c.add(path + (key,), f"'{key}' must be between {low:g} and {high:g} seconds, got {seconds:g}")
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
    if key not in data:
        return default
    value = data[key]
    if value is None and optional:
        return None
    text = str(value).strip() if isinstance(value, (str, int)) and not isinstance(value, bool) else ""
    if len(text) > MAX_PIN_TEXT or not PIN.match(text):
        c.add(path + (key,), f"'{key}' must be a gpiozero pin name like GPIO17 or BOARD11, got {quote(value)}")
        return default
    return text.upper()


def _bool(c: Checker, data: dict, key: str, path: tuple, default: bool) -> bool:
    value = data.get(key, default)
    if not isinstance(value, bool):
        c.add(path + (key,), f"'{key}' must be true or false, got {quote(value)}")
        return default
    return value


def config_from_mapping(data: Any, *, source: str = "") -> Config:
    """Plain data -> Config, or InvalidRoutine (the core's problem list) naming every problem."""
    c = Checker()
    top = c.mapping(data, (), SECTIONS) if data is not None else {}
    if top.get("schema", 1) != 1:
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
    if buttons.mode == "two" and buttons.a == buttons.b:
        c.add(p + ("b",), f"buttons a and b are both on {buttons.a}")

    d2 = Buzzer()
    z = section("buzzer", tuple(f.name for f in fields(Buzzer)))
    p = ("buzzer",)
    buzzer = Buzzer(kind=_choice(c, z, "kind", p, d2.kind, ("active", "passive", "none")),
                    pin=_pin(c, z, "pin", p, d2.pin) or d2.pin, quiet=_bool(c, z, "quiet", p, d2.quiet),
                    vibration_pin=_pin(c, z, "vibration_pin", p, d2.vibration_pin, optional=True))
    if buzzer.kind == "passive" and buzzer.pin not in HARDWARE_PWM:
        c.add(p + ("pin",), f"a passive buzzer needs a hardware-PWM pin (GPIO12, 13, 18 or 19), got {buzzer.pin}")
    used = {buttons.a: "buttons.a", **({buttons.b: "buttons.b"} if buttons.mode == "two" else {})}
    for pin, where in ((buzzer.pin, ("buzzer", "pin")), (buzzer.vibration_pin, ("buzzer", "vibration_pin"))):
        if pin and buzzer.kind != "none" and pin in used:
            c.add(where, f"{pin} is already used by {used[pin]}")

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
    if (display.width, display.height) not in SIZES and ("width" in s or "height" in s):
        c.add(p + ("width",), f"{display.width}x{display.height} is not a size luma's drivers support "
                              f"({', '.join(f'{w}x{h}' for w, h in SIZES)})")

    d4 = IdleConfig()
    i = section("idle", ("dim_after", "off_after", "shift_every"))
    p = ("idle",)
    idle = IdleConfig(dim_after=_seconds(c, i, "dim_after", p, d4.dim_after, 1, 86400),
                      off_after=_seconds(c, i, "off_after", p, d4.off_after, 1, 86400),
                      shift_every=_seconds(c, i, "shift_every", p, d4.shift_every, 0, 86400))
    if idle.off_after < idle.dim_after:
        c.add(p + ("off_after",), f"off_after ({idle.off_after:g} s) comes before dim_after ({idle.dim_after:g} s)")

    e = section("session", ("resume_lead", "pause_timeout"))
    resume_lead = _seconds(c, e, "resume_lead", ("session",), 3.0, 0, 30)
    pause_timeout = _seconds(c, e, "pause_timeout", ("session",), 600.0, 10, 86400)

    a = section("paths", tuple(f.name for f in fields(Paths)))
    paths = Paths(**{k: _abs_path(c, a, k, ("paths",), getattr(Paths(), k)) for k in ("library", "usb_mounts")})

    w = section("power", ("command",))
    command: tuple[str, ...] = Config.power_command
    if "command" in w:
        value = w["command"]
        if isinstance(value, list) and value and all(isinstance(x, str) and x for x in value):
            command = tuple(value)
        else:
            c.add(("power", "command"), "'command' must be a list of words, like [systemctl, poweroff]")

    if c.problems:
        raise InvalidRoutine(c.problems)
    return Config(buttons, buzzer, display, idle, paths, resume_lead, pause_timeout, command, source or "<defaults>")


def _abs_path(c: Checker, data: dict, key: str, path: tuple, default: str) -> str:
    value = data.get(key, default)
    if not isinstance(value, str) or not value.startswith("/"):
        c.add(path + (key,), f"'{key}' must be an absolute path, got {quote(value)}")
        return default
    return value


def load_config(path: Path | None, *, required: bool = False) -> Config:
    """Read the config file; FileError with every problem. A missing default file means defaults."""
    path = path or DEFAULT_PATH
    if not exists(path):
        if required:
            raise FileError([FileProblem(str(path), 1, 1, "no such config file")])
        return Config()
    try:
        return load_checked(path, lambda data: config_from_mapping(data, source=str(path)))
    except FileError as exc:
        if [p.message for p in exc.problems] == ["file is empty"]:
            return Config(source=str(path))  # all comments: the defaults
        raise


__all__ = ["Config", "Buttons", "Buzzer", "Display", "Paths", "load_config", "config_from_mapping", "Problem"]
