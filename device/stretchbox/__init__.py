"""stretchbox: a gym-bag stretch timer for a Raspberry Pi with a 128x64 OLED, buttons and a buzzer."""

__version__ = "0.1.0"
