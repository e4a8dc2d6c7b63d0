"""The emulated bus is only useful if it behaves like the panel: checked through luma's real i2c class."""

import errno

import luma.core.error
import luma.oled.device as oled
import pytest
from luma.core.interface.serial import i2c
from PIL import Image, ImageDraw

from tests.doubles.i2c_bus import Bus, Board, Panel, gddram, install, one_panel


def picture():
    image = Image.new("1", (128, 64))
    draw = ImageDraw.Draw(image)
    draw.text((3, 3), "12:34", fill=1)
    draw.line((0, 63, 127, 0), fill=1)
    return image


@pytest.mark.parametrize("chip", ["ssd1306", "sh1106"])
def test_what_lumas_driver_sends_over_smbus2_is_what_the_panel_shows(monkeypatch, chip):
    board, panel = one_panel(chip)
    install(monkeypatch, board)
    device = getattr(oled, chip)(i2c(port=1, address=0x3C))  # managed: smbus2.SMBus(1), i2c_rdwr
    assert panel.lit and panel.inits == 1
    device.display(picture())
    assert panel.image().tobytes() == picture().tobytes()
    device.hide()
    assert not panel.lit and panel.image().getbbox() is None


def test_lumas_i2c_turns_a_nack_on_a_command_into_device_not_found(monkeypatch):
    board, panel = one_panel()
    install(monkeypatch, board)
    device = oled.ssd1306(i2c(port=1))
    panel.unplug()
    with pytest.raises(luma.core.error.DeviceNotFoundError):
        device.contrast(3)
    assert not isinstance(luma.core.error.DeviceNotFoundError("x"), OSError)


def test_a_nack_on_data_reaches_the_caller_as_oserror_121(monkeypatch):
    board, panel = one_panel(nack_rate=1.0)
    install(monkeypatch, board)
    serial = i2c(port=1)
    with pytest.raises(OSError) as raised:
        serial.data([1] * 64)
    assert raised.value.errno == errno.EREMOTEIO


def test_a_panel_that_lost_power_shows_nothing_until_initialised_again(monkeypatch):
    board, panel = one_panel()
    install(monkeypatch, board)
    device = oled.ssd1306(i2c(port=1))
    device.display(picture())
    panel.unplug()
    panel.plug()
    assert not panel.lit and panel.inits == 1
    device.display(picture())  # data without the init sequence: still dark
    assert not panel.lit
    oled.ssd1306(i2c(port=1)).display(picture())
    assert panel.lit and panel.inits == 2 and panel.image().tobytes() == picture().tobytes()


def test_opening_a_missing_or_forbidden_bus_fails_as_smbus2_does(monkeypatch):
    board = Board({0: Bus({0x3C: Panel()}), 2: Bus({}, permission=False)})
    install(monkeypatch, board)
    with pytest.raises(luma.core.error.DeviceNotFoundError, match="/dev/i2c-1"):
        i2c(port=1)
    with pytest.raises(luma.core.error.DevicePermissionError, match="/dev/i2c-2"):
        i2c(port=2)


def test_address_scan_answers_only_where_a_panel_is():
    board, panel = one_panel(address=0x3D)
    bus = board.smbus_class()(1)
    assert bus.read_byte(0x3D) in (0x03, 0x43)
    with pytest.raises(OSError):
        bus.read_byte(0x3C)


def test_gddram_is_what_the_panel_shows(monkeypatch):
    board, panel = one_panel("sh1106")
    install(monkeypatch, board)
    oled.sh1106(i2c(port=1)).display(picture())
    assert panel.visible() == gddram(picture()) != gddram(Image.new("1", (128, 64)))


def test_the_bus_counts_handles_opened_and_closed_like_smbus2(monkeypatch):
    board, panel = one_panel()
    install(monkeypatch, board)
    bus = board.buses[1]
    serials = [i2c(port=1) for _ in range(3)]
    assert (bus.opened, bus.closed, bus.open_handles, bus.most_open) == (3, 0, 3, 3)
    serials[0].cleanup()
    serials[0].cleanup()  # smbus2 closes its fd once
    assert (bus.closed, bus.open_handles) == (1, 2)
    for serial in serials[1:]:
        serial.cleanup()
    assert bus.open_handles == 0 and bus.most_open == 3


def test_the_wire_model_holds_each_transfer_for_the_clocks_of_what_it_carried(monkeypatch):
    """With a clock rate the bus blocks like the Pi's ioctl: a whole ssd1306 frame is ~23 ms at 400 kHz."""
    from tests.doubles.i2c_bus import wire_clocks

    board, panel = one_panel(scl_hz=400_000, log=[])
    install(monkeypatch, board)
    device = oled.ssd1306(i2c(port=1, address=0x3C))
    log = board.buses[1].log
    del log[:]
    device.display(picture())
    assert [(t.control, t.payload_bytes) for t in log] == [(0x00, 6), (0x40, 1024)]  # managed: one i2c_rdwr
    assert wire_clocks(6) + wire_clocks(1024) == 74 + 9236
    for t in log:
        assert t.end - t.start >= wire_clocks(t.payload_bytes) / 400_000
    assert sum(t.wire_bytes for t in log) == 8 + 1026
