"""Through luma.oled's real drivers: exact bytes, change-driven frames, bus faults survived.

Faults are made on the emulated bus under luma's own i2c class (tests/doubles/i2c_bus.py); whole
routines over a faulty bus are in test_panel_faults.py.
"""

import dataclasses
import json
import queue

import pytest
from gpiozero.pins.mock import MockFactory, MockPWMPin
from PIL import ImageChops

from stretchbox.adapters.display import RecordingSerial, device_from_config, make_device
from stretchbox.adapters.panel import PanelOutput
from stretchbox.adapters.routines import load_builtin
from tests.bus_frames import bytes_sent, frames_from_sh1106, frames_from_ssd1306
from stretchbox.app import ScheduledPress, build, simulate
from stretchbox.platform import Platform, SimClock
from stretchbox.cli import main
from stretchbox.config import Config
from stretchbox.core.frame import Frame
from stretchbox.render import Renderer
from tests.doubles.i2c_bus import Board, Bus, Panel, install, one_panel

RENDER = Renderer((128, 64)).render
HOLD = Frame("hold", name="Calf", icon="calf", side="left", seconds=30, index=6, count=6, progress=0.9)


def same(a, b):
    return ImageChops.difference(a.convert("L"), b.convert("L")).getbbox() is None


@pytest.mark.parametrize("driver, decode", [("ssd1306", frames_from_ssd1306), ("sh1106", frames_from_sh1106)])
def test_bytes_sent_by_the_real_driver_decode_back_to_the_rendered_frame(driver, decode):
    serial = RecordingSerial()
    device = make_device(driver, serial)
    image = RENDER(HOLD)
    device.display(image)
    frames = decode(serial.calls)
    assert len(frames) == 2  # luma clears the panel when it opens it, then our frame
    assert same(frames[-1][1], image) and not same(frames[0][1], image)


def test_ssd1306_frame_is_one_window_command_and_1024_data_bytes():
    serial = RecordingSerial()
    device = make_device("ssd1306", serial)
    serial.calls.clear()
    device.display(RENDER(HOLD))
    assert [(c.kind, c.payload) for c in serial.calls][0] == ("command", bytes([0x21, 0, 127, 0x22, 0, 7]))
    assert [len(c.payload) for c in serial.calls] == [6, 1024]


def test_panel_sends_nothing_when_the_picture_did_not_change():
    serial = RecordingSerial()
    panel = PanelOutput(lambda: make_device("ssd1306", serial), RENDER)
    panel.frame(HOLD, 0.0)
    after_first = bytes_sent(serial)
    for t in range(1, 10):
        panel.frame(HOLD, float(t))  # same frame: luma would resend 1030 bytes every time
    assert bytes_sent(serial) == after_first
    panel.frame(Frame("hold", name="Calf", icon="calf", side="left", seconds=29, index=6, count=6, progress=0.9), 10.0)
    assert bytes_sent(serial) - after_first == 6 + 1024
    assert (panel.frames_shown, panel.frames_skipped) == (2, 9)


def run_device(serial, presses=(), until_done=True):
    clock, inbox = SimClock(), queue.Queue()
    factory = MockFactory(pin_class=MockPWMPin)
    records = []
    try:
        from stretchbox.adapters.outputs.timeline import Timeline
        timeline = Timeline(emit=records.append)
        device = build(Config(), load_builtin()[:1], Platform(pin_factory=factory, clock=clock, inbox=inbox,
                       open_display=lambda: make_device("ssd1306", serial), render=RENDER,
                       on_pin=lambda t, pin, s: records.append({"t": round(t, 3), "pin": pin, "state": s}),
                       outputs=[timeline]))
        serial.clock = clock
        schedule = []
        for p in [ScheduledPress(0.0, "a"), *presses]:
            pin = factory.pin({"a": "GPIO17", "b": "GPIO27"}[p.button])
            schedule += [(p.t, pin.drive_low), (p.t + p.hold, pin.drive_high)]
        simulate(device.app, schedule, inbox, clock)
        return device, records
    finally:
        factory.reset()


def test_a_pause_press_reaches_the_screen():
    serial = RecordingSerial()
    device, records = run_device(serial, [ScheduledPress(20.0, "a")])
    at_press = [img for t, img in frames_from_ssd1306(serial.calls) if t == 20.0]
    paused = Frame("paused", title="PAUSED", name="Seated hamstring", icon="seated-hamstring", side="left", seconds=18,
                   index=1, count=6, text=load_builtin()[0].stretches[0].cue, progress=0.0,
                   routine_left=428 - 20, elapsed=20 - 8)
    assert at_press, "nothing was sent to the panel at the press"
    assert same(at_press[-1], RENDER(paused))


def test_a_display_missing_at_start_is_retried_with_backoff_and_then_draws(monkeypatch):
    board = Board({1: Bus({})})  # I2C enabled, nothing at 0x3C
    install(monkeypatch, board)
    bus, panel = board.buses[1], Panel()
    output = PanelOutput(lambda: device_from_config(Config().display), RENDER)
    t, tries = 0.0, []
    while output.device is None and t < 60:
        if t == 3.5:
            bus.panels[0x3C] = panel  # connected between the third and fourth try
        output.frame(HOLD, t)
        tries.append(t)
        t = output.next_deadline() if output.device is None else t
    assert tries == [0.0, 0.5, 1.5, 3.5]  # 0.5 s, then doubling
    assert bus.opened == 4 and bus.open_handles == 1  # each failed try closed its handle
    assert panel.lit and panel.image().tobytes() == RENDER(HOLD).tobytes()
    assert output.next_deadline() is None


def test_simulate_bus_log_is_every_driver_call(tmp_path, capsys):
    log = tmp_path / "bus.jsonl"
    assert main(["simulate", "--display", "sh1106", "--bus-log", str(log), "--json"]) == 0
    capsys.readouterr()
    calls = [json.loads(x) for x in log.read_text().splitlines()]
    assert {c["kind"] for c in calls} == {"command", "data"}
    assert all(set(c) == {"t", "kind", "hex"} for c in calls)
    data = [c for c in calls if c["kind"] == "data"]
    assert all(0 < len(bytes.fromhex(c["hex"])) <= 128 for c in data)  # the partial driver: page windows
    assert sum(len(c["hex"]) == 256 for c in data) < len(data) / 2  # mostly less than a page
    assert 400 < len({c["t"] for c in data}) < 600  # drawn once per second of the routine, not per tick


def test_simulate_frames_and_gif(tmp_path, capsys):
    from PIL import Image

    assert main(["simulate", "--frames", str(tmp_path / "f"), "--gif", str(tmp_path / "r.gif")]) == 0
    pngs = sorted((tmp_path / "f").glob("*.png"))
    assert len(pngs) > 400 and pngs[0].name.startswith("00000.000-")
    with Image.open(pngs[0]) as first:
        assert first.size == (128, 64)
    with Image.open(tmp_path / "r.gif") as gif:
        assert gif.n_frames == len(pngs)


def test_the_power_menu_runs_the_configured_command_once_confirmed():
    import dataclasses

    ran = []
    clock, inbox = SimClock(), queue.Queue()
    factory = MockFactory(pin_class=MockPWMPin)
    try:
        config = dataclasses.replace(Config(), power_command=("sudo", "poweroff"))
        device = build(config, load_builtin()[:1], Platform(pin_factory=factory, clock=clock, inbox=inbox,
                       power_off=ran.append))
        a, b = factory.pin("GPIO17"), factory.pin("GPIO27")
        schedule = [(1.0, a.drive_low), (1.0, b.drive_low), (4.5, a.drive_high), (4.5, b.drive_high),
                    (6.0, a.drive_low), (6.0, a.drive_high)]
        for t, action in schedule:
            clock.now = t
            action()
            while not inbox.empty():
                device.app.step(inbox.get_nowait())
        assert ran == [("sudo", "poweroff")] and device.power.requested == [6.0]
        assert device.app.last_frame.title == "POWERING OFF"
    finally:
        factory.reset()


# ---- the display adapter's own pieces, through luma's real drivers ------------------------

def test_the_panel_output_sends_one_frame_per_distinct_picture_exactly():
    serial = RecordingSerial()
    panel = PanelOutput(lambda: make_device("ssd1306", serial), RENDER)
    panel.frame(HOLD, 0.0)
    assert [(c.kind, len(c.payload)) for c in serial.calls[-2:]] == [("command", 6), ("data", 1024)]
    sent = bytes_sent(serial)
    for t in range(1, 6):
        panel.frame(dataclasses.replace(HOLD), float(t))  # an equal frame, a new object: nothing sent
    assert bytes_sent(serial) == sent
    nxt = Frame("hold", name="Calf", icon="calf", side="left", seconds=29, index=6, count=6, progress=0.9)
    panel.frame(nxt, 6.0)
    assert bytes_sent(serial) == sent + 6 + 1024 and (panel.frames_shown, panel.frames_skipped) == (2, 5)


def test_the_panel_output_resends_after_a_failed_frame(monkeypatch):
    import luma.oled.device as oled
    from luma.core.interface.serial import i2c

    board, panel = one_panel()
    install(monkeypatch, board)
    output = PanelOutput(lambda: oled.ssd1306(i2c(port=1)), RENDER)  # luma's own i2c: no retries
    board.buses[1].nack_rate = 1.0  # a wire that refuses everything
    output.frame(HOLD, 0.0)  # a display fault: survived, retried later
    assert output.frames_shown == 0 and output.faults == 1
    board.buses[1].nack_rate = 0.0  # the wire is fixed
    output.frame(HOLD, output.next_deadline())  # same picture, but it never arrived: sent again
    assert output.frames_shown == 1 and panel.image().tobytes() == RENDER(HOLD).tobytes()


def test_decoders_read_back_what_the_real_drivers_sent():
    from tests.bus_frames import decode_gddram, decode_sh1106

    image = RENDER(HOLD)
    serial = RecordingSerial()
    make_device("ssd1306", serial).display(image)
    assert same(decode_gddram(serial.calls[-1].payload, 128, 64), image)
    serial = RecordingSerial()
    make_device("sh1106", serial).display(image)
    assert same(decode_sh1106(serial.calls), image)
    assert [len(c.payload) for c in serial.calls[-16:]] == [3, 128] * 8
    with pytest.raises(ValueError):
        decode_gddram(b"\0" * 100, 128, 64)
    with pytest.raises(ValueError):
        decode_sh1106([])


def test_128x32_panel_bytes_decode_back():
    from tests.bus_frames import decode_gddram

    image = Renderer((128, 32)).render(HOLD)
    serial = RecordingSerial()
    make_device("ssd1306", serial, height=32).display(image)
    assert len(serial.calls[-1].payload) == 512 and same(decode_gddram(serial.calls[-1].payload, 128, 32), image)


# luma.oled's drivers, by how they take a 1-bit image (the config offers the monochrome ones it was tried on).
GREYSCALE = ("ssd1322", "ssd1322_nhd", "ssd1325", "ssd1327", "ssd1362", "ssd1363")
LUMA_OLED_DRIVERS = ("ssd1306", "sh1106", "ssd1309", "ssd1305", "ssd1315", "ssd1316", "sh1107", "ch1115",
                     *GREYSCALE, "ssd1331", "ssd1351")


def test_every_luma_oled_driver_takes_our_frames_or_refuses_the_size():
    from luma.core.error import DeviceDisplayModeError

    import luma.oled.device as oled

    taken = []
    for name in LUMA_OLED_DRIVERS:
        serial = RecordingSerial()
        try:  # greyscale chips take mode "1" too; colour ones need RGB
            device = getattr(oled, name)(serial, width=128, height=64, **({"mode": "1"} if name in GREYSCALE else {}))
        except DeviceDisplayModeError:
            continue
        before = bytes_sent(serial)
        image = RENDER(HOLD)
        device.display(image if device.mode == image.mode else image.convert(device.mode))
        assert bytes_sent(serial) > before, name
        taken.append(name)
    assert {"ssd1306", "sh1106", "ssd1309", "ssd1305", "ssd1325"} <= set(taken)
    with pytest.raises(ValueError, match="unknown display driver"):
        make_device("ssd9999")


def test_device_from_args_uses_lumas_cmdline_and_insists_on_display_and_mode_1(monkeypatch):
    import luma.oled.device

    from stretchbox.adapters.display import device_from_args

    board = Board({3: Bus({0x3C: Panel("sh1106")})})
    install(monkeypatch, board)
    device = device_from_args(["--display", "sh1106", "--interface", "i2c", "--i2c-port", "3"])
    assert isinstance(device, luma.oled.device.sh1106) and device.mode == "1"
    assert board.buses[3].panels[0x3C].inits == 1 and board.buses[3].open_handles == 1
    with pytest.raises(ValueError, match="--display"):
        device_from_args(["--interface", "i2c"])
    with pytest.raises(ValueError, match="1-bit"):
        device_from_args(["--display", "ssd1306", "--mode", "RGB"])


def test_device_from_args_off_a_pi_is_an_oserror():
    from stretchbox.adapters.display import device_from_args

    with pytest.raises(OSError):
        device_from_args(["--display", "ssd1306", "--interface", "i2c", "--i2c-port", "97"])


def test_bus_log_lines_are_json_with_relative_time():
    import io

    out = io.StringIO()
    now = [100.0]
    serial = RecordingSerial(clock=lambda: now[0], sink=out, start=100.0)
    device = make_device("ssd1306", serial)
    now[0] = 101.25
    device.display(RENDER(HOLD))
    lines = [json.loads(x) for x in out.getvalue().splitlines()]
    assert lines[-2] == {"t": 1.25, "kind": "command", "hex": "21007f220007"}
    assert lines[-1]["kind"] == "data" and len(bytes.fromhex(lines[-1]["hex"])) == 1024
    assert lines[0]["t"] == 0.0
