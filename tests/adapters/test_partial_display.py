"""Partial updates (adapters/partial.py), verified bit for bit on the emulated panels.

luma's real ``i2c`` class runs over the emulated bus (tests/doubles/i2c_bus.py,
``smbus2.SMBus`` replaced): the panel model decodes the commands (0x20/0x21/0x22,
page and column nibbles) and keeps its GDDRAM. After every frame, its RAM must
equal the frame. Deliberately broken drivers (parametrised mutations) must fail
the same checks, so the checks can fail.
"""

from __future__ import annotations

import queue
import random

import pytest
from gpiozero.pins.mock import MockFactory, MockPWMPin
from luma.core.device import dummy
from luma.core.interface.serial import i2c
from PIL import Image

from stretchbox.adapters import partial
from stretchbox.adapters.display import DISPLAY_FAULTS, RecordingSerial, RetryingSerial, device_from_config
from stretchbox.adapters.routines import load_builtin
from stretchbox.app import build, simulate
from stretchbox.config import Config
from stretchbox.platform import Platform, SimClock
from stretchbox.render import Renderer
from tests.doubles.i2c_bus import gddram, install, one_panel

CHIPS = ("ssd1306", "sh1106")


@pytest.fixture(scope="module")
def routine_images() -> list[Image.Image]:
    """Every picture the app hands its display during the default routine (started at t=0)."""
    images: list[Image.Image] = []

    class Capture(dummy):
        def display(self, image):
            images.append(image.copy())

    clock, inbox, factory = SimClock(), queue.Queue(), MockFactory(pin_class=MockPWMPin)
    try:
        built = build(Config(), load_builtin()[:1], Platform(pin_factory=factory, clock=clock, inbox=inbox,
                      open_display=lambda: Capture(mode="1"), render=Renderer((128, 64)).render, idle=False))
        pin = factory.pin("GPIO17")
        simulate(built.app, [(0.0, pin.drive_low), (0.0, pin.drive_high)], inbox, clock)
    finally:
        factory.reset()
    assert len(images) > 400
    return images


def expected(image: Image.Image, rotate: int) -> bytes:
    """The panel RAM for ``image`` shown at ``rotate`` (independent of luma's preprocess)."""
    turned = {0: image, 1: image.transpose(Image.Transpose.ROTATE_270), 2: image.transpose(Image.Transpose.ROTATE_180),
              3: image.transpose(Image.Transpose.ROTATE_90)}[rotate]
    return gddram(turned)


def open_panel(monkeypatch, chip, cls=None, *, rotate=0, tries=None, **kwargs):
    board, panel = one_panel(chip)
    install(monkeypatch, board)
    serial = i2c(port=1) if tries is None else RetryingSerial(i2c(port=1), tries=tries)
    device = (cls or partial.PARTIAL[chip])(serial, rotate=rotate, **kwargs)
    return device, panel, board.buses[1]


def random_image(rng: random.Random, size=(128, 64)) -> Image.Image:
    image = Image.new("1", size)
    image.putdata([rng.choice((0, 255)) for _ in range(size[0] * size[1])])
    return image


def small_change(rng: random.Random, image: Image.Image) -> Image.Image:
    """A few pixels or a small rectangle flipped: what a countdown does between seconds."""
    out = image.copy()
    w, h = image.size
    px = out.load()
    for _ in range(rng.randrange(1, 4)):
        if rng.random() < 0.5:
            x, y = rng.randrange(w), rng.randrange(h)
            px[x, y] = 255 - px[x, y]
        else:
            x0, y0 = rng.randrange(w), rng.randrange(h)
            for x in range(x0, min(w, x0 + rng.randrange(1, 20))):
                for y in range(y0, min(h, y0 + rng.randrange(1, 12))):
                    px[x, y] = rng.choice((0, 255))
    return out


def fuzzed(seed: int, n: int = 60, size=(128, 64)) -> list[Image.Image]:
    rng = random.Random(seed)
    images = [random_image(rng, size)]
    for _ in range(n):
        roll = rng.random()
        images.append(random_image(rng, size) if roll < 0.1 else images[-1].copy() if roll < 0.15
                      else small_change(rng, images[-1]))
    return images


def wrong_frames(device, panel, images, rotate=0, retry=1) -> list[int]:
    """Indices of frames after which the panel does not show exactly the frame.

    A frame whose ``display()`` raises is shown again (up to ``retry`` times in all), as the
    panel output does on its next try; a frame never acknowledged is not checked.
    """
    wrong = []
    for i, image in enumerate(images):
        for _ in range(retry):
            try:
                device.display(image)
                break
            except DISPLAY_FAULTS:
                continue
        else:
            continue
        if not (panel.lit and panel.gddram() == expected(image, rotate)):
            wrong.append(i)
    return wrong


# ---- packing ------------------------------------------------------------------------------
@pytest.mark.parametrize("size", [(128, 64), (128, 32)])
def test_pillow_packing_equals_luma_packing(size):
    import luma.oled.device as oled

    rng = random.Random(3)
    for _ in range(5):
        image = random_image(rng, size)
        serial = RecordingSerial()
        oled.ssd1306(serial, width=size[0], height=size[1]).display(image)
        assert b"".join(partial.pack(image)) == serial.calls[-1].payload  # luma's own 1 KB


def test_the_production_path_builds_partial_drivers_for_the_two_verified_chips_only(monkeypatch):
    import dataclasses

    import luma.oled.device as oled

    for chip in CHIPS:
        board, panel = one_panel(chip)
        install(monkeypatch, board)
        device = device_from_config(dataclasses.replace(Config().display, driver=chip))
        assert isinstance(device, partial.PARTIAL[chip]) and isinstance(device._serial_interface, RetryingSerial)
    assert partial.device_class("ssd1309") is oled.ssd1309 and partial.device_class("ssd1305") is oled.ssd1305


# ---- bit for bit ------------------------------------------------------------------------------
@pytest.mark.parametrize("chip", CHIPS)
def test_every_frame_of_the_default_routine_is_on_the_panel_bit_for_bit(monkeypatch, routine_images, chip):
    device, panel, bus = open_panel(monkeypatch, chip, tries=5)
    assert wrong_frames(device, panel, routine_images) == []
    assert device.counts["full"] == 1 and device.counts["partial"] > 400  # luma's clear, then windows only
    assert bus.bytes_on_wire < 100_000  # luma's full frames: ~440,000


@pytest.mark.parametrize("chip", CHIPS)
@pytest.mark.parametrize("rotate", [0, 1, 2])
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_fuzzed_frame_sequences_are_on_the_panel_bit_for_bit(monkeypatch, chip, rotate, seed):
    device, panel, _ = open_panel(monkeypatch, chip, rotate=rotate)
    images = fuzzed(seed, size=device.size)
    assert wrong_frames(device, panel, images, rotate) == []
    assert device.counts["partial"] > 40


@pytest.mark.parametrize("chip", CHIPS)
@pytest.mark.parametrize("tries", [None, 3])
def test_a_nack_mid_frame_leaves_no_wrong_pixel_once_a_frame_is_acknowledged(monkeypatch, chip, tries):
    """20 % of transactions refused, refused data landing in part: with one try per transaction
    (luma's i2c alone) a fault escapes and the next frame is whole; with RetryingSerial each
    window's data is sent again after its addressing command."""
    device, panel, bus = open_panel(monkeypatch, chip, tries=tries)
    bus.nack_rate, bus.partial = 0.2, True
    images = fuzzed(7, n=80)
    assert wrong_frames(device, panel, images, retry=30) == []
    assert bus.faults > 20
    if tries is None:
        assert device.counts["full"] > 5  # each escaped fault cost a whole frame after it


@pytest.mark.parametrize("chip", CHIPS)
def test_a_data_write_refused_half_way_makes_the_next_frame_whole(monkeypatch, chip):
    from tests.doubles.i2c_bus import CONTROL_DATA, remote_io_error

    device, panel, bus = open_panel(monkeypatch, chip)
    images = fuzzed(21, n=4)
    device.display(images[0])
    transfer, armed = bus.transfer, [True]

    def half_then_nack(address, control, payload):
        if armed[0] and control == CONTROL_DATA and len(payload) > 1:
            armed[0] = False
            panel.receive(control, payload[:len(payload) // 2])  # landed in part, then refused
            raise remote_io_error()
        transfer(address, control, payload)

    monkeypatch.setattr(bus, "transfer", half_then_nack)
    with pytest.raises(OSError):
        device.display(images[1])
    full = device.counts["full"]
    device.display(images[2])
    assert device.counts["full"] == full + 1 and panel.gddram() == expected(images[2], 0)
    device.display(images[3])
    assert device.counts["full"] == full + 1 and panel.gddram() == expected(images[3], 0)


# ---- what can disturb the RAM ------------------------------------------------------------------
@pytest.mark.parametrize("chip", CHIPS)
def test_a_panel_reset_without_any_bus_error_is_right_again_at_the_periodic_full_frame(monkeypatch, chip):
    clock = SimClock()
    device, panel, _ = open_panel(monkeypatch, chip, clock=clock, refresh_every=300.0)
    images = fuzzed(11, n=40)
    device.contrast(8)
    for image in images[:10]:
        device.display(image)
    panel.power_on_reset()  # a brown-out: dark, page addressing, RAM noise; nothing was refused
    clock.now = 299.0
    device.display(images[10])
    assert not panel.lit  # no way to know yet
    clock.now = 301.0
    assert wrong_frames(device, panel, images[11:]) == []
    assert panel.contrast == 8 and panel.inits == 2  # init replayed, our contrast kept, lit again
    assert device.counts["full"] == 2


@pytest.mark.parametrize("chip", CHIPS)
def test_the_periodic_full_frame_does_not_blink_a_healthy_panel(monkeypatch, chip):
    clock = SimClock()
    device, panel, bus = open_panel(monkeypatch, chip, clock=clock)
    seen = []
    transfer = bus.transfer

    def watch(*args):
        transfer(*args)
        seen.append(panel.lit)

    monkeypatch.setattr(bus, "transfer", watch)
    images = fuzzed(12, n=10)
    for i, image in enumerate(images):
        clock.now = 100.0 * i
        device.display(image)
        assert panel.gddram() == expected(image, 0)
    assert all(seen) and device.counts["full"] == 1 + 3 and panel.inits == 1


@pytest.mark.parametrize("chip", CHIPS)
def test_hide_show_contrast_and_invalidate(monkeypatch, chip):
    device, panel, bus = open_panel(monkeypatch, chip)
    images = fuzzed(13, n=8)
    device.display(images[0])
    device.contrast(10)
    device.display(images[1])
    assert device.counts["full"] == 1  # contrast does not touch the RAM (luma's clear is the one full frame)
    device.hide()
    device.display(images[2])  # drawn while dark
    assert not panel.lit and panel.gddram() == expected(images[2], 0)
    device.show()
    device.display(images[3])
    assert device.counts["full"] == 2 and panel.lit and panel.gddram() == expected(images[3], 0)
    device.invalidate()
    device.display(images[4])
    assert device.counts["full"] == 3 and panel.gddram() == expected(images[4], 0)
    before = bus.bytes_on_wire
    device.display(images[4])
    assert bus.bytes_on_wire == before and device.counts["unchanged"] == 1


# ---- the checks can fail: drivers with one bug each ----------------------------------------------
class OffsetIgnored(partial.sh1106):
    def _address(self, page, column):
        return (0xB0 | page, column & 0x0F, 0x10 | column >> 4)  # the 2-column offset forgotten


class ShortWindowSSD1306(partial.ssd1306):
    def _window(self, c0, c1, p0, p1):
        return super()._window(c0, max(c0, c1 - 1), p0, p1)


class ShortSpanSH1106(partial.sh1106):
    def data(self, data):
        super().data(data if len(data) in (1, 128) else data[:-1])


class NoAddressingMode(partial.ssd1306):
    def command(self, *cmd):
        if self._init is not None and 0x20 in cmd:  # luma's init without MEMORYMODE 0x00
            i = cmd.index(0x20)
            cmd = cmd[:i] + cmd[i + 2:]
        super().command(*cmd)


def _acked_anyway(cls):
    class AckedAnyway(cls):
        def display(self, image):
            try:
                super().display(image)
            except BaseException:
                self._acked = partial.pack(self.preprocess(image))  # a refused frame taken as shown
                raise
    return AckedAnyway


def _no_replay(cls):
    class NoReplay(cls):
        def _replay_init(self):
            pass
    return NoReplay


def _no_display_on(cls):
    class NoDisplayOn(cls):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.built = True

        def command(self, *cmd):
            if getattr(self, "built", False) and cmd == (0xAF,):
                return  # the periodic full frame without its display-on
            super().command(*cmd)
    return NoDisplayOn


def _check_routine(monkeypatch, chip, cls, routine_images):
    device, panel, _ = open_panel(monkeypatch, chip, cls)
    return wrong_frames(device, panel, routine_images[:60])


def _check_fuzz(monkeypatch, chip, cls, routine_images):
    device, panel, _ = open_panel(monkeypatch, chip, cls)
    return wrong_frames(device, panel, fuzzed(5, n=30))


def _check_faults(monkeypatch, chip, cls, routine_images):
    device, panel, bus = open_panel(monkeypatch, chip, cls)
    bus.nack_rate = 0.2
    return wrong_frames(device, panel, fuzzed(7, n=80), retry=30)


def _check_reset(monkeypatch, chip, cls, routine_images):
    clock = SimClock()
    device, panel, _ = open_panel(monkeypatch, chip, cls, clock=clock)
    images = fuzzed(11, n=20)
    device.display(images[0])
    panel.power_on_reset()
    clock.now = 301.0
    return wrong_frames(device, panel, images[1:])


MUTANTS = [
    ("sh1106", OffsetIgnored, _check_routine),
    ("ssd1306", ShortWindowSSD1306, _check_routine),
    ("ssd1306", ShortWindowSSD1306, _check_fuzz),
    ("sh1106", ShortSpanSH1106, _check_routine),
    ("ssd1306", NoAddressingMode, _check_routine),
    ("ssd1306", _acked_anyway(partial.ssd1306), _check_faults),
    ("sh1106", _acked_anyway(partial.sh1106), _check_faults),
    ("ssd1306", _no_replay(partial.ssd1306), _check_reset),
    ("ssd1306", _no_display_on(partial.ssd1306), _check_reset),
    ("sh1106", _no_display_on(partial.sh1106), _check_reset),
    # Not here: the sh1106 without the init replay. Its model has no segment remap or COM direction (a
    # reset SH1106 would show the picture mirrored and upside down) and its DC-DC is on at reset, so
    # display-on alone brings the model back: that mutant passes, a limit of the model, not a proof.
]


@pytest.mark.parametrize("chip, mutant, check", MUTANTS,
                         ids=[f"{chip}-{m.__name__}-{c.__name__[7:]}" for chip, m, c in MUTANTS])
def test_each_deliberately_broken_driver_is_caught(monkeypatch, routine_images, chip, mutant, check):
    assert check(monkeypatch, chip, partial.PARTIAL[chip], routine_images) == []  # the real one passes ...
    assert check(monkeypatch, chip, mutant, routine_images) != []  # ... the same check fails the mutant
