"""`stretchbox check` on MockFactory pins and luma's dummy device: the report a user sends."""

import errno
import queue
import threading
import time

from gpiozero import Button, Buzzer
from gpiozero.pins.mock import MockFactory, MockPWMPin
from luma.core.device import dummy

from stretchbox.adapters import probe
from stretchbox.adapters.buttons import ButtonsInput
from stretchbox.adapters.buzzer import BuzzerOutput
from stretchbox.check import CUES, run_check
from stretchbox.render import Renderer
from tests.doubles.i2c_bus import Board, Bus, Panel, install, io_error


def test_check_reports_frame_time_cues_and_each_buttons_latency():
    factory = MockFactory(pin_class=MockPWMPin)
    try:
        inbox: queue.Queue = queue.Queue()
        pins = {"a": "GPIO17", "b": "GPIO27"}
        buttons = ButtonsInput(pins, inbox, clock=time.monotonic, pin_factory=factory)
        buzzer = Buzzer("GPIO18", pin_factory=factory)
        device = dummy(width=128, height=64, mode="1")
        said = []

        def presser():  # a person answering the prompts
            for pin in ("GPIO17", "GPIO27"):
                while not any(f"({pin})" in line for line in said):
                    time.sleep(0.01)
                factory.pin(pin).drive_low()
                factory.pin(pin).drive_high()

        threading.Thread(target=presser, daemon=True).start()
        report = run_check(device=device, render=Renderer((128, 64)).render, buttons=pins, inbox=inbox,
                           buzzer_output=BuzzerOutput(buzzer), press_timeout=10, frames=10, say=said.append)
        assert report.ok, report.lines
        assert set(report.latency_ms) == {"a", "b"} and all(0 < v < 1000 for v in report.latency_ms.values())
        assert report.frame_ms is not None and report.frame_ms >= 0
        assert any(line.startswith(f"ok   played {len(CUES)} cues") for line in report.lines)
        changes = [s.state for s in factory.pin("GPIO18").states]
        assert changes.count(1) + changes.count(True) >= len(CUES)  # every cue sounded
        assert device.image is not None and device.image.getbbox() is not None  # the final screen is drawn
        buttons.close()
    finally:
        factory.reset()


def test_check_fails_when_a_button_never_comes():
    factory = MockFactory()
    try:
        inbox: queue.Queue = queue.Queue()
        report = run_check(device=dummy(width=128, height=64, mode="1"), render=Renderer((128, 64)).render,
                           buttons={"a": "GPIO17"}, inbox=inbox, press_timeout=0.05, frames=2, say=lambda s: None)
        assert not report.ok and any(line.startswith("FAIL button A (GPIO17): no press") for line in report.lines)
    finally:
        factory.reset()


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
