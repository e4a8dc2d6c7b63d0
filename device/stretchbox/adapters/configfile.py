"""The device config file: YAML -> ``Config``, checked against what the device will do with it.

The one home of every config check: ``config --check``, ``run``, ``simulate``
and ``check`` all load through ``load_config``, so a config that passes cannot
crash them. ``config.parse_config`` (pure) checks shapes and ranges; this adds
what only the libraries and the filesystem know, asking them rather than
copying their tables:

* pins: resolved the way gpiozero will, by gpiozero's own board data for the
  Pi's 40-pin header (``pi_info`` of the Zero 2 W, whose J8 header is every
  40-pin Pi's): every name it accepts (GPIO17, BCM17, BOARD11, J8:11, WPI0,
  17), none it refuses (GPIO40, a power or ground pin), and one GPIO named
  twice in two spellings is caught as one pin. A passive buzzer needs a pin
  gpiozero lists with hardware PWM; the OLED's own bus lines (I2C1's, which
  gpiozero marks pulled up; SPI0's from gpiozero's table and luma's
  data/command and reset lines) are taken.
* buzzer: a passive buzzer's pitch times the cue table's highest tone must
  stay within what lgpio's PWM plays.
* display: the luma.oled driver class itself is built over luma's ``noop``
  serial interface, which sends nothing; a size it refuses
  (``DeviceDisplayModeError``) is reported with the sizes it takes.
* paths: a folder the device needs that is a file here (or below a file).

Every problem carries the path of its value, so it prints as ``FILE:LINE:COL``.
"""

from __future__ import annotations

import os
import stat
from functools import lru_cache
from pathlib import Path
from typing import Any

from ..config import DEFAULT_PATH, Config, InvalidConfig, parse_config
from ..core.routine import Problem
from .files import display_path, exists
from .yamlfile import FileError, FileProblem, load_checked

# Raspberry Pi Zero 2 W. gpiozero's data gives every 40-pin Pi the same J8 header.
BOARD_REVISION = "902120"


def load_config(path: Path | None = None, *, required: bool = False, pins: bool = True) -> Config:
    """Read and check the config file; FileError with every problem, located.

    A missing file means the defaults (unless ``required``); so does a file of only comments.
    ``pins=False`` skips the pins' check, the one that imports gpiozero, for ``run`` to draw its
    first frame sooner; it loads the file again with the whole check right after.
    """
    path = Path(path or DEFAULT_PATH)
    name = display_path(path)
    if "\x00" in str(path):
        raise FileError([FileProblem(name, 1, 1, "a file name cannot hold a NUL byte")])
    if not exists(path):
        if required:
            raise FileError([FileProblem(name, 1, 1, "no such config file")])
        return Config()
    try:  # read_text reads regular files only: a FIFO or a device is refused, never waited on
        return load_checked(path, lambda data: config_from_data(data, source=name, pins=pins))
    except FileError as exc:
        if [p.message for p in exc.problems] == ["file is empty"]:  # all comments: the defaults
            try:
                return config_from_data(None, source=name, pins=pins)
            except InvalidConfig as bad:
                raise FileError([FileProblem(name, 1, 1, p.message) for p in bad.problems]) from None
        raise


def config_from_data(data: Any, *, source: str = "", pins: bool = True) -> Config:
    """Plain data -> a Config the device can run, or InvalidConfig naming every problem."""
    config, problems = parse_config(data, source=source)
    refused = {p.path for p in problems}
    given = {(name, key) for name, section in (data or {}).items() if isinstance(section, dict) for key in section} \
        if isinstance(data, dict) else set()
    problems += device_problems(config, skip=refused, given=given, pins=pins)
    if problems:
        raise InvalidConfig(problems)
    return config


def device_problems(config: Config, *, skip: set | frozenset = frozenset(), given: set | None = None,
                    pins: bool = True) -> list[Problem]:
    """What gpiozero, luma and the filesystem would refuse.

    Values at ``skip`` paths were refused already (and stand for nothing); ``given`` are the paths
    written in the file (default: all), so a clash with a default is reported where it was written.
    """
    problems: list[Problem] = _pin_problems(config, skip, given) if pins else []
    z = config.buzzer
    if z.kind == "passive" and ("buzzer", "pitch") not in skip:
        problems += _pitch_problems(z.pitch)
    d = config.display
    if not skip & {("display", k) for k in ("driver", "width", "height", "rotate")}:
        message = display_problem(d.driver, d.width, d.height, d.rotate)
        if message:
            key = "width" if d.width != Config().display.width else "height" \
                if d.height != Config().display.height else "driver"
            problems.append(Problem(("display", key), message))
    for key in ("library", "usb_mounts", "state"):
        message = folder_problem(getattr(config.paths, key))
        if message and ("paths", key) not in skip:
            problems.append(Problem(("paths", key), message))
    return problems


# ---- pins -------------------------------------------------------------------------------------------

@lru_cache(maxsize=1)
def board():
    """gpiozero's board data for the Pi's 40-pin header."""
    from gpiozero import pi_info

    return pi_info(BOARD_REVISION)


def _header_pins() -> list:
    return [pin for header in board().headers.values() for pin in header.pins.values()]


def _number(gpio_name: str) -> int:
    return int(gpio_name[4:])


def _gpio_range() -> str:
    numbers = sorted(_number(pin.name) for pin in _header_pins() if "gpio" in pin.interfaces)
    return f"GPIO{numbers[0]}-GPIO{numbers[-1]}"


def resolve_pin(name: str):
    """A pin name -> gpiozero's PinInfo of that GPIO on the header; ValueError saying why not."""
    found = [pin for _, pin in board().find_pin(name)]
    if not found:
        raise ValueError(f"{name} is not a pin on the Pi's 40-pin header (GPIOs are {_gpio_range()}, "
                         f"also as BCM17, BOARD11, J8:11, WPI0 or a bare number)")
    pin = found[0]
    if "gpio" not in pin.interfaces:
        raise ValueError(f"{name} is header pin {pin.number}, {pin.name}: not a GPIO (GPIOs are {_gpio_range()})")
    return pin


def _label(name: str, pin) -> str:
    return pin.name if name == pin.name else f"{name} ({pin.name})"


def _pin_problems(config: Config, skip, given) -> list[Problem]:
    problems: list[Problem] = []
    b, z, d = config.buttons, config.buzzer, config.display
    wanted = [(("buttons", "a"), b.a, True), (("buttons", "b"), b.b, b.mode == "two"),
              (("buzzer", "pin"), z.pin, z.kind != "none"), (("buzzer", "vibration_pin"), z.vibration_pin, True)]
    used: dict[str, tuple[tuple, str]] = {}  # GPIO name -> (where, as written)
    bus = _display_lines(d)
    for where, name, in_use in wanted:
        if name is None or where in skip:
            continue
        try:
            pin = resolve_pin(name)
        except ValueError as exc:
            problems.append(Problem(where, str(exc)))
            continue
        if not in_use:
            continue  # a typo is still reported, but an unused pin takes nothing
        if where == ("buzzer", "pin") and z.kind == "passive" and "pwm" not in pin.interfaces:
            pwm = ", ".join(sorted((p.name for p in _header_pins() if "pwm" in p.interfaces), key=_number))
            problems.append(Problem(where, f"a passive buzzer needs a hardware-PWM pin ({pwm}), "
                                           f"got {_label(name, pin)}"))
        if pin.name in used:
            other, other_name = used[pin.name]
            if where == ("buttons", "b") and other == ("buttons", "a"):
                detail = "" if name == other_name else f" (a: {other_name}, b: {name})"
                problems.append(Problem(where, f"buttons a and b are both on {pin.name}{detail}"))
            elif given is not None and where not in given and other in given:  # say it where it was written
                problems.append(Problem(other, f"{_label(other_name, pin)} is already used by "
                                               f"{'.'.join(where)} (its default)"))
            else:
                problems.append(Problem(where, f"{_label(name, pin)} is already used by {'.'.join(other)}"))
            continue
        used[pin.name] = (where, name)
        taken = bus.get(pin.name)
        if taken:
            problems.append(Problem(where, f"{_label(name, pin)} (header pin {pin.number}) is {taken}: "
                                           "pick another pin"))
    return problems


def _display_lines(d) -> dict[str, str]:
    """GPIO name -> what the OLED's bus uses it for, for the configured interface."""
    lines: dict[str, str] = {}
    if d.interface == "i2c" and d.i2c_port in (0, 1):
        # gpiozero marks I2C1's lines (GPIO2, GPIO3) pulled up: the board's own resistors. I2C0 has none.
        for pin in _header_pins():
            if "i2c" in pin.interfaces and (pin.pull == "up") == (d.i2c_port == 1):
                lines[pin.name] = f"a line of the OLED's I2C bus (display i2c_port {d.i2c_port})"
    elif d.interface == "spi":
        from gpiozero.pins.data import SPI_HARDWARE_PINS
        from luma.core import cmdline

        bus = SPI_HARDWARE_PINS.get(d.spi_port)
        if bus:
            for role in ("clock", "mosi", "miso"):
                lines[bus[role]] = f"the OLED's SPI{d.spi_port} {role} line"
            if d.spi_device < len(bus["select"]):
                lines[bus["select"][d.spi_device]] = f"the OLED's SPI{d.spi_port} chip select"
        luma = cmdline.create_parser(description="").parse_args([])  # luma's own defaults for an SPI panel
        lines[f"GPIO{luma.gpio_data_command}"] = "the OLED's data/command line (luma's SPI default)"
        lines[f"GPIO{luma.gpio_reset}"] = "the OLED's reset line (luma's SPI default)"
    return lines


def _pitch_problems(pitch: int) -> list[Problem]:
    """The cue table's highest tone over ``pitch`` must be one lgpio's PWM plays (imported here: not
    before ``run``'s first frame)."""
    from .buzzer import PWM_MAX_HZ, highest_tone

    top = highest_tone(pitch)
    if top <= PWM_MAX_HZ:
        return []
    return [Problem(("buzzer", "pitch"), f"'pitch' {pitch} Hz would play the cues' highest tone at {top:.0f} Hz, "
                                         f"above the {PWM_MAX_HZ} Hz lgpio's PWM goes to: at most "
                                         f"{int(pitch * PWM_MAX_HZ / top)} Hz")]


# ---- display ----------------------------------------------------------------------------------------

@lru_cache(maxsize=64)
def display_problem(driver: str, width: int, height: int, rotate: int = 0) -> str | None:
    """None when luma.oled's ``driver`` drives a ``width`` x ``height`` panel, else why not.

    The driver class itself decides, built over luma's ``noop`` serial interface (nothing is sent).

    >>> display_problem("ssd1306", 128, 64) is None, display_problem("sh1106", 96, 16)
    (True, "luma.oled's sh1106 does not drive a 96x16 panel; it drives 128x32, 128x64, 128x128")
    """
    import luma.oled.device as oled
    from luma.core.error import DeviceDisplayModeError

    cls = getattr(oled, driver, None)
    if cls is None:
        return f"luma.oled has no driver {driver!r}"
    try:
        _build(cls, width, height, rotate)
    except DeviceDisplayModeError:
        sizes = ", ".join(f"{w}x{h}" for w, h in supported_sizes(driver))
        return f"luma.oled's {driver} does not drive a {width}x{height} panel; it drives {sizes}"
    return None


@lru_cache(maxsize=16)
def supported_sizes(driver: str) -> tuple[tuple[int, int], ...]:
    """Every size (multiples of 8, up to 256) luma.oled's ``driver`` accepts, asked of the driver."""
    import luma.oled.device as oled
    from luma.core.error import DeviceDisplayModeError

    cls = getattr(oled, driver)
    sizes = []
    for height in range(8, 257, 8):
        for width in range(8, 257, 8):
            try:
                _build(cls, width, height, 0)
            except DeviceDisplayModeError:
                continue
            sizes.append((width, height))
    return tuple(sorted(sizes))


def _build(cls, width: int, height: int, rotate: int) -> None:
    from luma.core.interface.serial import noop

    device = cls(noop(), width=width, height=height, rotate=rotate)
    device.persist = True  # nothing to blank at exit: it never had a panel


# ---- paths ------------------------------------------------------------------------------------------

def folder_problem(value: str) -> str | None:
    """None when ``value`` is a folder or may become one; else why the device could not use it."""
    try:
        mode = os.stat(value).st_mode
    except (FileNotFoundError, PermissionError):
        return None  # made when needed; or not ours to look into (the service may run as another user)
    except NotADirectoryError:
        return f"{value}: a part of this path is a file, not a folder"
    except OSError as exc:
        return f"{value}: {exc.strerror or exc}"
    except ValueError as exc:
        return f"{value!r}: {exc}"
    if not stat.S_ISDIR(mode):
        return f"{value} is a file, not a folder"
    return None
