"""The FIFO button double drives gpiozero's own mock pins, as the service in the container test uses it."""

import os
import time

import pytest
from gpiozero import Button, Device
from gpiozero.pins.mock import MockFactory

from tests.doubles.fifo_buttons import apply, serve


@pytest.fixture
def factory():
    """gpiozero's global factory, as GPIOZERO_PIN_FACTORY=mock makes it in the service; restored after."""
    saved, Device.pin_factory = Device.pin_factory, MockFactory()
    yield Device.pin_factory
    Device.pin_factory.reset()
    Device.pin_factory = saved


def test_lines_press_and_release_a_button(factory):
    button = Button("GPIO17", pull_up=True)
    assert apply("GPIO17 low\n") is None and button.is_pressed
    assert apply("GPIO17 high") is None and not button.is_pressed
    assert apply("") is None
    assert "expected" in apply("GPIO17 down")
    button.close()


def test_only_a_mock_factory_is_driven(factory):
    Device.pin_factory = None
    try:
        assert "not MockFactory" in apply("GPIO17 low")
    finally:
        Device.pin_factory = factory


def test_a_writer_on_another_side_of_the_fifo_presses_it(factory, tmp_path):
    fifo = tmp_path / "buttons"
    os.mkfifo(fifo)
    button = Button("GPIO27", pull_up=True)
    serve(str(fifo))
    for lines in ("GPIO27 low\n", "GPIO27 high\nGPIO27 low\n"):  # two writers, one after the other
        with open(fifo, "w") as writer:  # blocks until the reader thread has opened it
            writer.write(lines)
        deadline = time.monotonic() + 10
        while not button.is_pressed:
            assert time.monotonic() < deadline, "the reader did not press the button"
            time.sleep(0.01)
        apply("GPIO27 high")
    button.close()
