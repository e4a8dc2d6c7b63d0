"""``stretchbox check``: what a first user hits, each fault with its fix in one line.

In turn: the I2C bus is scanned before the panel is opened (I2C not enabled,
no permission, nothing answering, a panel at the other address than the
config's), the test pattern is drawn and the frame time measured, every cue
is played, and each button is asked for, with its press-to-screen latency. A
part that fails does not stop the others: without a panel the prompts go to
the terminal, and a pin already held (by stretchbox.service) is reported with
the command that frees it. Every ``FAIL`` line ends with ``-> fix: ...``.

Every part is injected (how to open the panel, a button, the buzzer), so the
same code runs on a Pi and, in the tests, on gpiozero's MockFactory and an
emulated I2C bus under luma's real drivers.
"""

from __future__ import annotations

import queue
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from .adapters import probe
from .adapters.buzzer import CUES
from .adapters.display import DISPLAY_FAULTS
from .core.frame import Frame
from .core.gestures import Pressed
from .core.session import Cue

OLED_ADDRESSES = (0x3C, 0x3D)

ENABLE_I2C = "sudo raspi-config nonint do_i2c 0, then reboot"
JOIN_I2C = "sudo usermod -aG i2c $USER, then log out and in again"
JOIN_GPIO = "sudo usermod -aG gpio $USER, then log out and in again"
STOP_SERVICE = "sudo systemctl stop stretchbox, then run check again"
HEADER_PINS = "VCC to pin 1 (3V3), GND to pin 9, SDA to pin 3 (GPIO2), SCL to pin 5 (GPIO3)"


@dataclass(frozen=True)
class I2CTarget:
    """Where the config says the panel is, and the file to change when it is elsewhere."""

    port: int = 1
    address: int = 0x3C
    config_file: str = "/etc/stretchbox/config.yaml"


@dataclass
class CheckReport:
    lines: list[str] = field(default_factory=list)
    ok: bool = True
    latency_ms: dict[str, float] = field(default_factory=dict)
    frame_ms: float | None = None

    def say(self, line: str) -> str:
        self.lines.append("ok   " + line)
        return self.lines[-1]

    def fail(self, line: str, fix: str) -> str:
        """A failed check: what was found, and in the same line the one thing to do about it."""
        self.lines.append(f"FAIL {line} -> fix: {fix}")
        self.ok = False
        return self.lines[-1]


def diagnose_bus(target: I2CTarget, report: CheckReport) -> bool:
    """Scan the bus before luma opens it: True when the configured address answers."""
    addresses = tuple(dict.fromkeys((target.address, *OLED_ADDRESSES)))
    scan = probe.scan_i2c(target.port, addresses)
    want = f"0x{target.address:02X}"
    if scan.problem == "missing":
        report.fail(f"display: {scan.path} does not exist (I2C is not enabled)", ENABLE_I2C)
    elif scan.problem == "permission":
        report.fail(f"display: {scan.path} is not accessible to this user (not in group i2c)", JOIN_I2C)
    elif scan.problem:
        report.fail(f"display: cannot open {scan.path} ({scan.error})",
                    f"check that I2C is enabled ({ENABLE_I2C}) and that {scan.path} is the OLED's bus")
    elif target.address in scan.answering:
        report.say(f"OLED answers on {scan.path} at {want}")
        return True
    elif others := [a for a in scan.answering if a in OLED_ADDRESSES]:
        found = f"0x{others[0]:02X}"
        report.fail(f"display: OLED answers at {found}, config says {want}",
                    f"set display.i2c_address: {found} in {target.config_file}")
    else:
        errors = "".join(f", 0x{a:02X}: {text}" for a, text in scan.errors.items())
        wires = HEADER_PINS if target.port == 1 else "VCC, GND, SDA and SCL"
        report.fail(f"display: nothing answers on {scan.path} at "
                    f"{' or '.join(f'0x{a:02X}' for a in addresses)}{errors}", f"check the wires: {wires}")
    return False


def display_fix(exc: BaseException, target: I2CTarget | None) -> str:
    kind = probe.display_fault(exc)
    if kind == "permission":
        return JOIN_I2C if target else "run check as a user in groups i2c, spi and gpio"
    if kind == "missing":
        return ENABLE_I2C if target else "sudo raspi-config nonint do_spi 0, then reboot"
    return f"check the wires: {HEADER_PINS if target and target.port == 1 else 'VCC, GND and the data wires'}"


def gpio_fix(kind: str, config_file: str) -> str:
    if kind == "busy":
        return STOP_SERVICE
    if kind == "factory":
        access = probe.gpio_access()
        if not access.chip_exists:
            return "not a Raspberry Pi? run check with --pins mock"
        if not access.chip_usable:
            return JOIN_GPIO
        if not access.cwd_writable:
            return "cd to a writable folder (lgpio makes a pipe in the current one), then run check again"
        return "sudo apt install python3-lgpio (the venv needs --system-site-packages)"
    return f"check the pins in {config_file} (stretchbox config --check)"


def pattern_image(size: tuple[int, int]):
    """A border, a checkerboard and diagonals: dead pixels and wrong offsets show at once."""
    from PIL import Image, ImageDraw

    image = Image.new("1", size)
    draw = ImageDraw.Draw(image)
    w, h = size
    draw.rectangle((0, 0, w - 1, h - 1), outline=1)
    for y in range(2, h - 2, 4):
        for x in range(2 + (y // 4 % 2) * 4, w - 2, 8):
            draw.rectangle((x, y, x + 3, y + 3), fill=1)
    draw.line((0, 0, w - 1, h - 1), fill=1)
    draw.line((0, h - 1, w - 1, 0), fill=1)
    return image


class _Screen:
    """The panel while it works; after a display fault, the report's FAIL line and the terminal only."""

    def __init__(self, report: CheckReport, say: Callable[[str], None], target: I2CTarget | None,
                 render: Callable[[Frame], object]):
        self.device = None
        self.report, self.say, self.target, self.render = report, say, target, render

    def open(self, open_device: Callable[[], object]) -> None:
        try:
            self.device = open_device()
        except DISPLAY_FAULTS as exc:
            self.fault(exc, "cannot open it")

    def frame(self, frame: Frame) -> None:
        if self.device is not None:
            self.show(self.render(frame))

    def show(self, image) -> None:
        if self.device is None:
            return
        try:
            self.device.display(image)
        except DISPLAY_FAULTS as exc:
            self.fault(exc, "stopped answering")

    def fault(self, exc: BaseException, what: str) -> None:
        self.say(self.report.fail(f"display: {what} ({type(exc).__name__}: {exc})", display_fix(exc, self.target)))
        device, self.device = self.device, None
        if device is not None:  # close its bus handle without drawing: the panel may be gone
            device.persist = True
            try:
                device.cleanup()
            except DISPLAY_FAULTS:
                pass


def run_check(*, open_device: Callable[[], object] | None, render: Callable[[Frame], object],
              buttons: dict[str, str], inbox: queue.Queue,
              open_button: Callable[[str, str], object] | None = None,
              open_buzzer: Callable[[], object] | None = None, buzzer_pin: str = "",
              clock: Callable[[], float] = time.monotonic, press_timeout: float = 20.0, frames: int = 30,
              say: Callable[[str], None] = print, i2c: I2CTarget | None = None,
              config_file: str = "/etc/stretchbox/config.yaml") -> CheckReport:
    """Run every check in turn; one that fails does not stop the others.

    ``buttons`` maps a button to its pin name; ``open_button(name, pin)``
    returns an object with ``close()`` whose presses arrive in ``inbox`` as
    ``Pressed`` events (None: the presses come by themselves). ``open_buzzer``
    returns a BuzzerOutput or None (no buzzer configured). ``i2c``: scan that
    bus before opening the panel (None for SPI, emulators, dummy).
    """
    report = CheckReport()
    screen = _Screen(report, say, i2c, render)
    reachable = True
    if i2c is not None:
        reachable = diagnose_bus(i2c, report)
        say(report.lines[-1])
    if open_device is not None and reachable:
        screen.open(open_device)
    if screen.device is not None:
        _frame_time(screen, report, frames)
        if report.frame_ms is not None:
            say(report.lines[-1])

    opened: list = []
    try:
        if open_buzzer is not None:
            _play_cues(open_buzzer, opened, report, say, clock, inbox, buzzer_pin, config_file)
        for name, pin in buttons.items():
            label = f"button {name.upper()} ({pin})"
            if open_button is not None:
                try:
                    opened.append(open_button(name, pin))
                except Exception as exc:
                    if (kind := probe.gpio_fault(exc)) is None:
                        raise
                    say(report.fail(f"{label}: {_gpio_problem(exc, kind)}", gpio_fix(kind, config_file)))
                    continue
            screen.frame(Frame("message", title=f"PRESS {name.upper()}", text=label))
            say(f"press {label} ..." + ("" if screen.device is not None else " (no panel: prompts here)"))
            event = _next_press(inbox, name, clock() + press_timeout, clock)
            if event is None:
                say(report.fail(f"{label}: no press within {press_timeout:g} s",
                                f"check its wires: {pin} to one leg, GND to the other (or give more --timeout)"))
                continue
            screen.frame(Frame("message", title=f"{name.upper()} OK", text="button works"))
            latency = (clock() - event.t) * 1000
            report.latency_ms[name] = latency
            say(report.say(f"{label}: press to {'screen' if screen.device else 'terminal'} {latency:.1f} ms "
                           "(plus the debounce time before the press is reported)"))
    finally:
        for part in reversed(opened):
            part.close()
    screen.frame(Frame("message", title="CHECK DONE" if report.ok else "CHECK FAILED", text="see the report"))
    return report


def _frame_time(screen: _Screen, report: CheckReport, frames: int) -> None:
    """The real driver, alternating two images so every frame is sent; then the pattern stays on."""
    from PIL import Image

    size = screen.device.size
    pattern, blank = pattern_image(size), Image.new("1", size)
    times = []
    for i in range(frames):
        start = time.perf_counter()
        screen.show(pattern if i % 2 == 0 else blank)
        if screen.device is None:
            return
        times.append((time.perf_counter() - start) * 1000)
    screen.show(pattern)
    if screen.device is None:
        return
    report.frame_ms = statistics.median(times)
    report.say(f"frame time {report.frame_ms:.2f} ms median over {frames} frames (on screen: a border, diagonals, "
               "a checkerboard; snow instead means an SH1106: set display.driver: sh1106)")


def _play_cues(open_buzzer, opened: list, report: CheckReport, say, clock, inbox, pin: str, config_file: str) -> None:
    label = f"buzzer ({pin})" if pin else "buzzer"
    try:
        output = open_buzzer()
    except Exception as exc:
        if (kind := probe.gpio_fault(exc)) is None:
            raise
        say(report.fail(f"{label}: {_gpio_problem(exc, kind)}", gpio_fix(kind, config_file)))
        return
    if output is None:
        say(report.say("no buzzer in the config (buzzer.kind: none): no cues to play"))
        return
    opened.extend(device for device in (output.buzzer, output.vibration) if device is not None)
    for name in CUES:
        now = clock()
        output.cue(Cue(now, name, "right"))
        output.advance(now)
        while (deadline := output.next_deadline()) is not None:
            _wait_until(deadline, clock, inbox)
            output.advance(clock())
    say(report.say(f"{label}: played {len(CUES)} cues: {', '.join(CUES)}"))


def _gpio_problem(exc: BaseException, kind: str) -> str:
    if kind == "busy":  # gpiozero's message names the other device at length: the label names the pin
        return f"the pin is in use ({_name(exc)}; stretchbox.service holds it while it runs)"
    if kind == "factory":
        return f"no GPIO access ({_name(exc)}: {exc})"
    return f"{_name(exc)}: {exc}"


def _name(exc: BaseException) -> str:
    """``GPIOPinInUse``; ``lgpio.error`` (a bare ``error`` says nothing)."""
    module = type(exc).__module__
    return type(exc).__name__ if module.split(".")[0] in ("builtins", "gpiozero") else \
        f"{module}.{type(exc).__name__}"


def _wait_until(deadline: float, clock: Callable[[], float], inbox: queue.Queue) -> None:
    """Wait on the inbox until ``deadline`` (never a busy loop); events arriving now are kept."""
    held = []
    while (left := deadline - clock()) > 0:
        try:
            held.append(inbox.get(timeout=left))
        except queue.Empty:
            break
    for event in held:
        inbox.put(event)


def _next_press(inbox: queue.Queue, button: str, deadline: float, clock: Callable[[], float]) -> Pressed | None:
    while (left := deadline - clock()) > 0:
        try:
            event = inbox.get(timeout=left)
        except queue.Empty:
            return None
        if isinstance(event, Pressed) and event.button == button:
            return event
    return None
