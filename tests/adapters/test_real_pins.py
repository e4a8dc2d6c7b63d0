"""Which pins `--pins real` gets (adapters/buttons.py real_pin_factory). The libgpiod pins themselves
are tested on a real kernel: tests/vm/guest_gpiochip.py."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from stretchbox.adapters.buttons import real_pin_factory
from stretchbox.adapters.gpiochip import pi_gpio_chip


@pytest.mark.skipif(Path("/dev/gpiochip0").exists(), reason="this machine has a GPIO chip")
def test_without_a_gpio_chip_it_falls_back_to_gpiozeros_default_and_says_why(caplog, monkeypatch):
    monkeypatch.delenv("GPIOZERO_PIN_FACTORY", raising=False)
    with caplog.at_level(logging.INFO, logger="stretchbox"):
        assert real_pin_factory() is None
    (record,) = caplog.records
    assert record.levelno == logging.WARNING and "libgpiod cannot be used" in record.message
    assert "/dev/gpiochip0" in record.message


def test_gpiozeros_own_variable_chooses_gpiozeros_factory(caplog, monkeypatch):
    monkeypatch.setenv("GPIOZERO_PIN_FACTORY", "lgpio")
    with caplog.at_level(logging.INFO, logger="stretchbox"):
        assert real_pin_factory() is None
    assert [r.message for r in caplog.records] == ["GPIO: GPIOZERO_PIN_FACTORY=lgpio, gpiozero's factory"]


def test_with_no_chip_labelled_as_a_pis_the_first_chip_is_taken(tmp_path):
    assert pi_gpio_chip(tmp_path) == tmp_path / "gpiochip0"
