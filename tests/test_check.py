"""`stretchbox check` on MockFactory pins and luma's dummy device: the report a user sends."""

import queue
import threading
import time

from gpiozero import Buzzer
from gpiozero.pins.mock import MockFactory, MockPWMPin
from luma.core.device import dummy

from stretchbox.adapters.buttons import ButtonsInput
from stretchbox.adapters.buzzer import BuzzerOutput
from stretchbox.check import CUES, run_check
from stretchbox.render import Renderer


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
