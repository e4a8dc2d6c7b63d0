"""`stretchbox check`: the report a user sends, and a diagnosis with its fix for each fault a first user hits.

In-process tests call ``run_check`` on MockFactory pins and luma's dummy device. The
others drive the whole ``stretchbox check --display config --pins mock`` through
``cli.main`` on the emulated I2C bus (tests/doubles/i2c_bus.py) under luma's real
``i2c`` class and drivers. The check's MockFactory is the test's own (handed over
where the check makes it), so the test can hold pins like stretchbox.service and
press buttons. A person is the terminal: each prompt is answered with a press.
"""

import errno
import io
import queue
import re
import sys
import threading
import time

import gpiozero.pins.mock
import pytest
from gpiozero import Button, Buzzer
from gpiozero.pins.mock import MockFactory, MockPWMPin
from luma.core.device import dummy

from stretchbox import cli
from stretchbox.adapters import probe
from stretchbox.adapters.buttons import ButtonsInput
from stretchbox.adapters.buzzer import BuzzerOutput
from stretchbox.adapters.buzzer import CUES
from stretchbox.check import run_check
from stretchbox.render import Renderer
from tests.doubles.i2c_bus import CONTROL_DATA, Board, Bus, Panel, install, io_error, remote_io_error

ENABLE_I2C = "-> fix: sudo raspi-config nonint do_i2c 0, then reboot"
JOIN_I2C = "-> fix: sudo usermod -aG i2c $USER, then log out and in again"
STOP_SERVICE = "-> fix: sudo systemctl stop stretchbox, then run check again"
WIRES = "-> fix: check the wires: VCC to pin 1 (3V3), GND to pin 9, SDA to pin 3 (GPIO2), SCL to pin 5 (GPIO3)"


# ---- run_check in-process ------------------------------------------------------------------------

def test_check_reports_frame_time_cues_and_each_buttons_latency():
    factory = MockFactory(pin_class=MockPWMPin)
    try:
        inbox: queue.Queue = queue.Queue()
        pins = {"a": "GPIO17", "b": "GPIO27"}
        device = dummy(width=128, height=64, mode="1")
        said = []

        def presser():  # a person answering the prompts
            for pin in ("GPIO17", "GPIO27"):
                while not any(f"({pin})" in line for line in said):
                    time.sleep(0.01)
                factory.pin(pin).drive_low()
                factory.pin(pin).drive_high()

        threading.Thread(target=presser, daemon=True).start()
        report = run_check(open_device=lambda: device, render=Renderer((128, 64)).render, buttons=pins, inbox=inbox,
                           open_button=lambda name, pin: ButtonsInput({name: pin}, inbox, clock=time.monotonic,
                                                                      pin_factory=factory),
                           open_buzzer=lambda: BuzzerOutput(Buzzer("GPIO18", pin_factory=factory)),
                           buzzer_pin="GPIO18", press_timeout=10, frames=10, say=said.append)
        assert report.ok, report.lines
        assert set(report.latency_ms) == {"a", "b"} and all(0 < v < 1000 for v in report.latency_ms.values())
        assert report.frame_ms is not None and report.frame_ms >= 0
        assert any(line.startswith(f"ok   buzzer (GPIO18): played {len(CUES)} cues") for line in report.lines)
        changes = [s.state for s in factory.pin("GPIO18").states]
        assert changes.count(1) + changes.count(True) >= len(CUES)  # every cue sounded
        assert device.image is not None and device.image.getbbox() is not None  # the final screen is drawn
        Button("GPIO17", pin_factory=factory).close()  # the check closed what it opened: the pins are free
        Buzzer("GPIO18", pin_factory=factory).close()
    finally:
        factory.reset()


def test_check_fails_when_a_button_never_comes():
    report = run_check(open_device=lambda: dummy(width=128, height=64, mode="1"), render=Renderer((128, 64)).render,
                       buttons={"a": "GPIO17"}, inbox=queue.Queue(), press_timeout=0.05, frames=2, say=lambda s: None)
    assert not report.ok
    assert [line for line in report.lines if line.startswith("FAIL")] == [
        "FAIL button A (GPIO17): no press within 0.05 s -> fix: check its wires: GPIO17 to one leg, GND to the "
        "other (or give more --timeout)"]


# ---- the whole command on the emulated bus ------------------------------------------------------------

class Person(io.StringIO):
    """The terminal the check prints to, and the person reading it: each prompt is answered with a press.

    MockFactory runs the button's callback inside ``drive_low``, so the press is in the
    check's inbox before the prompt's ``print`` returns: no thread, no sleep.
    """

    PROMPT = re.compile(r"press button ([AB]) \((\w+)\)")

    def __init__(self, factory: MockFactory, presses: str = "ab"):
        super().__init__()
        self.factory, self.presses = factory, presses

    def write(self, text: str) -> int:
        n = super().write(text)
        for button, pin in self.PROMPT.findall(text):
            if button.lower() in self.presses:
                self.factory.pin(pin).drive_low()
                self.factory.pin(pin).drive_high()
        return n


@pytest.fixture
def factory(monkeypatch):
    """The MockFactory ``check --pins mock`` makes, handed to the test (real gpiozero, nothing faked)."""
    made = MockFactory(pin_class=MockPWMPin)
    monkeypatch.setattr(gpiozero.pins.mock, "MockFactory", lambda pin_class=None: made)
    yield made
    made.reset()


def write_config(tmp_path, *, address: int = 0x3C, buzzer: str = "{kind: none}") -> str:
    path = tmp_path / "config.yaml"
    path.write_text("schema: 1\n"
                    "buttons: {a: GPIO17, b: GPIO27}\n"
                    f"buzzer: {buzzer}\n"
                    f"display: {{driver: ssd1306, interface: i2c, i2c_port: 1, i2c_address: 0x{address:02X}}}\n")
    return str(path)


def check(monkeypatch, factory, board: Board, config: str, *, presses: str = "ab", timeout: float = 5.0):
    """``stretchbox check`` as a user runs it; returns (exit code, report lines, everything printed)."""
    install(monkeypatch, board)
    person = Person(factory, presses)
    monkeypatch.setattr(sys, "stdout", person)
    code = cli.main(["check", "--config", config, "--display", "config", "--pins", "mock",
                     "--timeout", str(timeout)])
    out = person.getvalue()
    report = out[out.index("stretchbox check\n"):].splitlines()[1:]
    for line in report:  # every line is ok or a FAIL that carries its one-line fix
        assert line.startswith("ok   ") or (line.startswith("FAIL ") and " -> fix: " in line), line
    return code, report, out


def fails(report):
    return [line for line in report if line.startswith("FAIL")]


def buttons_pressed(report):
    return [line.split(":")[0] for line in report if re.match(r"ok   button [AB] \(GPIO\d+\): press to ", line)]


def test_a_good_device_passes_every_check(monkeypatch, tmp_path, factory):
    panel = Panel()
    code, report, out = check(monkeypatch, factory, Board({1: Bus({0x3C: panel})}), write_config(tmp_path))
    assert code == 0, report
    assert report[0] == "ok   OLED answers on /dev/i2c-1 at 0x3C"
    assert any(line.startswith("ok   frame time") for line in report)
    assert buttons_pressed(report) == ["ok   button A (GPIO17)", "ok   button B (GPIO27)"]
    assert all(": press to screen " in line for line in report if line.startswith("ok   button"))
    assert panel.lit and panel.inits == 1 and panel.image().getbbox() is not None  # "CHECK DONE" on the glass
    assert "no panel" not in out


def test_i2c_not_enabled(monkeypatch, tmp_path, factory):
    code, report, out = check(monkeypatch, factory, Board({}), write_config(tmp_path))
    assert code == 1
    assert fails(report) == [f"FAIL display: /dev/i2c-1 does not exist (I2C is not enabled) {ENABLE_I2C}"]
    assert buttons_pressed(report) == ["ok   button A (GPIO17)", "ok   button B (GPIO27)"]  # still tested
    assert "press button A (GPIO17) ... (no panel: prompts here)" in out
    assert all(": press to terminal " in line for line in report if line.startswith("ok   button"))


def test_not_in_group_i2c(monkeypatch, tmp_path, factory):
    bus = Bus({0x3C: Panel()}, permission=False)
    code, report, _ = check(monkeypatch, factory, Board({1: bus}), write_config(tmp_path))
    assert code == 1
    assert fails(report) == [f"FAIL display: /dev/i2c-1 is not accessible to this user (not in group i2c) {JOIN_I2C}"]
    assert len(buttons_pressed(report)) == 2


@pytest.mark.parametrize("wiring", ["nothing on the bus", "panel unplugged"])
def test_nothing_answers(monkeypatch, tmp_path, factory, wiring):
    panel = Panel()
    if wiring == "panel unplugged":
        panel.unplug()
    bus = Bus({} if wiring == "nothing on the bus" else {0x3C: panel})
    code, report, _ = check(monkeypatch, factory, Board({1: bus}), write_config(tmp_path))
    assert code == 1
    assert fails(report) == [f"FAIL display: nothing answers on /dev/i2c-1 at 0x3C or 0x3D {WIRES}"]
    assert bus.transactions == 2 and len(buttons_pressed(report)) == 2  # scanned, luma never tried


@pytest.mark.parametrize("panel_at, configured", [(0x3D, 0x3C), (0x3C, 0x3D)])
def test_a_panel_at_the_other_address_is_named_and_the_fix_works(monkeypatch, tmp_path, factory, panel_at,
                                                                  configured):
    board = Board({1: Bus({panel_at: Panel()})})
    config = write_config(tmp_path, address=configured)
    code, report, _ = check(monkeypatch, factory, board, config)
    assert code == 1
    assert fails(report) == [f"FAIL display: OLED answers at 0x{panel_at:02X}, config says 0x{configured:02X} "
                             f"-> fix: set display.i2c_address: 0x{panel_at:02X} in {config}"]
    assert len(buttons_pressed(report)) == 2

    fixed = re.search(r"set display\.i2c_address: (0x[0-9A-F]{2})", fails(report)[0]).group(1)
    write_config(tmp_path, address=int(fixed, 16))  # what the user does with the fix line
    code, report, _ = check(monkeypatch, factory, board, config)
    assert code == 0 and not fails(report)


class FlakyBus(Bus):
    """The bus after the panel answered the scan: from the ``after``-th data transfer on, the wire fails
    as ``how`` says: the panel loses power (the next command NACKs: luma raises its DeviceNotFoundError),
    or data transfers are refused (smbus2's OSError reaches the caller through luma's data())."""

    def __init__(self, panels, how: str, after: int):
        super().__init__(panels)
        self.how, self.after, self.data_transfers = how, after, 0

    def transfer(self, address, control, payload):
        if control == CONTROL_DATA:
            self.data_transfers += 1
            if self.how == "data refused" and self.data_transfers >= self.after:
                raise remote_io_error()
        super().transfer(address, control, payload)
        if self.how == "power lost" and self.data_transfers >= self.after:
            self.panels[address].unplug()  # after this frame: the next command is not acknowledged


@pytest.mark.parametrize("how, raised", [("power lost", "DeviceNotFoundError"), ("data refused", "OSError")])
def test_a_panel_failing_mid_check_is_a_fail_and_the_buttons_are_still_tested(monkeypatch, tmp_path, factory,
                                                                             how, raised):
    bus = FlakyBus({0x3C: Panel()}, how, after=5)
    code, report, out = check(monkeypatch, factory, Board({1: bus}), write_config(tmp_path))
    assert code == 1
    assert report[0] == "ok   OLED answers on /dev/i2c-1 at 0x3C"
    [fail] = fails(report)
    assert fail.startswith(f"FAIL display: stopped answering ({raised}: ")
    assert fail.endswith(WIRES)
    assert not any(line.startswith("ok   frame time") for line in report)
    assert len(buttons_pressed(report)) == 2 and "(no panel: prompts here)" in out


def test_a_panel_that_answers_the_scan_but_not_luma_is_a_fail(monkeypatch, tmp_path, factory):
    bus = Bus({0x3C: Panel()}, nack_rate=1.0)  # the address is acknowledged, every write refused
    code, report, _ = check(monkeypatch, factory, Board({1: bus}), write_config(tmp_path))
    assert code == 1
    [fail] = fails(report)
    assert fail.startswith("FAIL display: cannot open it (OSError: display not reachable: I2C device not found on "
                           "address: 0x3C)") and fail.endswith(WIRES)
    assert len(buttons_pressed(report)) == 2


def test_pins_held_by_the_service(monkeypatch, tmp_path, factory):
    # stretchbox.service holds its pins while it runs: here its devices on the same factory
    service = [Button("GPIO17", pin_factory=factory), Buzzer("GPIO18", pin_factory=factory)]
    config = write_config(tmp_path, buzzer="{kind: active, pin: GPIO18}")
    started = time.monotonic()
    code, report, _ = check(monkeypatch, factory, Board({1: Bus({0x3C: Panel()})}), config)
    assert code == 1 and time.monotonic() - started < 2  # no cues played, no wait for A
    held = "the pin is in use (GPIOPinInUse; stretchbox.service holds it while it runs)"
    assert fails(report) == [f"FAIL buzzer (GPIO18): {held} {STOP_SERVICE}",
                             f"FAIL button A (GPIO17): {held} {STOP_SERVICE}"]
    assert buttons_pressed(report) == ["ok   button B (GPIO27)"]
    for device in service:
        device.close()


def test_a_vibration_motor_held_by_the_service(monkeypatch, tmp_path, factory):
    service = Buzzer("GPIO23", pin_factory=factory)
    config = write_config(tmp_path, buzzer="{kind: active, pin: GPIO18, vibration_pin: GPIO23}")
    code, report, _ = check(monkeypatch, factory, Board({1: Bus({0x3C: Panel()})}), config)
    assert code == 1
    assert fails(report) == ["FAIL buzzer (GPIO18, vibration GPIO23): the pin is in use (GPIOPinInUse; "
                             f"stretchbox.service holds it while it runs) {STOP_SERVICE}"]
    assert len(buttons_pressed(report)) == 2
    service.close()


def test_a_missing_press_fails_with_its_fix(monkeypatch, tmp_path, factory):
    code, report, _ = check(monkeypatch, factory, Board({1: Bus({0x3C: Panel()})}), write_config(tmp_path),
                            presses="a", timeout=0.05)
    assert code == 1
    assert fails(report) == ["FAIL button B (GPIO27): no press within 0.05 s -> fix: check its wires: GPIO27 to one "
                             "leg, GND to the other (or give more --timeout)"]


# ---- the probes ----------------------------------------------------------------------------------------

class StrangeBus(Bus):
    """Every address fails otherwise than with a NACK."""

    def probe(self, address):
        raise {0x3C: io_error(), 0x3D: TimeoutError(errno.ETIMEDOUT, "Connection timed out")}.get(
            address, ValueError("a driver bug"))


def test_the_scan_finds_what_answers_and_never_crashes_on_a_bus_error(monkeypatch):
    install(monkeypatch, Board({1: Bus({0x3D: Panel()}), 2: StrangeBus({}), 3: Bus({}, permission=False)}))
    assert probe.scan_i2c(1, (0x3C, 0x3D)) == probe.BusScan(1, answering=(0x3D,))
    scan = probe.scan_i2c(2, (0x3C, 0x3D, 0x3E))
    assert scan.problem is None and scan.answering == ()
    assert scan.errors == {0x3C: "Input/output error", 0x3D: "Connection timed out", 0x3E: "ValueError: a driver bug"}
    assert probe.scan_i2c(3, (0x3C,)).problem == "permission"
    assert probe.scan_i2c(4, (0x3C,)).problem == "missing"


def test_the_scan_reports_a_bus_that_cannot_be_opened(monkeypatch):
    class Busy(Board):
        def smbus_class(self):
            class Refused:
                def __init__(self, bus):
                    raise OSError(errno.EBUSY, "Device or resource busy")
            return Refused

    install(monkeypatch, Busy())
    scan = probe.scan_i2c(1, (0x3C,))
    assert scan.problem == "error" and "Device or resource busy" in scan.error


def test_a_pin_in_use_is_busy_whoever_reports_it():
    factory = MockFactory()
    try:
        held = Button("GPIO17", pin_factory=factory)  # another device holds the pin (the service, on a Pi)
        try:
            Button("GPIO17", pin_factory=factory)
        except Exception as exc:  # noqa: BLE001
            assert probe.gpio_fault(exc) == "busy"
        else:
            raise AssertionError("gpiozero let two devices share a pin")
        held.close()
    finally:
        factory.reset()
    # lgpio is not installable off a Pi; its exception, as lgpio.py defines it: class error(Exception) whose
    # str is repr(value), raised by gpio_claim_* as error("GPIO busy") when another process holds the line.
    error = type("error", (Exception,), {"__module__": "lgpio", "__init__": lambda self, v: setattr(self, "value", v),
                                         "__str__": lambda self: repr(self.value)})
    assert probe.gpio_fault(error("GPIO busy")) == "busy"
    assert probe.gpio_fault(error("can not open gpiochip")) == "gpio"
    assert probe.gpio_fault(OSError(errno.EBUSY, "Device or resource busy")) == "busy"


def test_a_display_fault_is_read_through_the_wrapping():
    import luma.core.error as luma

    def wrapped(cause):  # as adapters.display.device_from_args reports it
        try:
            raise OSError(f"display not reachable: {cause}") from cause
        except OSError as exc:
            return exc

    assert probe.display_fault(wrapped(luma.DeviceNotFoundError("I2C device not found: /dev/i2c-1"))) == "missing"
    assert probe.display_fault(wrapped(luma.DevicePermissionError("I2C device permission denied"))) == "permission"
    assert probe.display_fault(wrapped(luma.DeviceNotFoundError("I2C device not found on address: 0x3C"))) == "panel"
    assert probe.display_fault(OSError(121, "Remote I/O error")) == "panel"


def test_a_strange_bus_is_a_fail_naming_each_error(monkeypatch, tmp_path, factory):
    code, report, _ = check(monkeypatch, factory, Board({1: StrangeBus({})}), write_config(tmp_path))
    assert code == 1
    assert fails(report) == ["FAIL display: nothing answers on /dev/i2c-1 at 0x3C or 0x3D, 0x3C: Input/output error, "
                             f"0x3D: Connection timed out {WIRES}"]


def test_gpio_access_says_what_a_pin_factory_needs(tmp_path):
    chip = tmp_path / "gpiochip0"
    assert probe.gpio_access(str(chip), cwd=str(tmp_path)) == probe.GpioAccess(str(chip), False, False, True)
    chip.touch()
    assert probe.gpio_access(str(chip), cwd=str(tmp_path)).chip_exists
