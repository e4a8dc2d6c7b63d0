"""Hostile device configs and `simulate` options: refused up front, located, in one line each; never a crash.

The corpus is written into tmp_path at test time. Every config that `config --check`
refuses is refused by `simulate` and `run` with the same lines (one home for the check);
every config it accepts runs: `simulate`, and the device itself composed by build() on
gpiozero's MockFactory, drawing through the configured luma.oled driver over a
recording serial interface and through `run`'s own dummy display choice. Usage errors
exit 2 with one line and before any work (no timeline printed, no file created).
"""

from __future__ import annotations

import os
import queue
import re
import signal
import subprocess
import sys
import time

import pytest
from gpiozero.pins.mock import MockFactory, MockPWMPin

from stretchbox.adapters.configfile import config_from_data, display_problem, load_config, supported_sizes
from stretchbox.adapters.display import RecordingSerial, make_device
from stretchbox.adapters.routines import load_routine
from stretchbox.app import ScheduledPress, build, simulate
from tests.bus_frames import bytes_sent
from stretchbox.cli import main
from stretchbox.platform import Platform, SimClock, open_display
from stretchbox.config import DRIVERS
from stretchbox.render import Renderer

CASE_SECONDS = 10  # no case may take longer: a hang fails, it does not stall the suite

SHORT = """\
schema: 1
name: Short
min_hold: 20
defaults: {prepare: 2, hold: 20, switch: 2, rest: 2}
stretches:
  - {name: Calf, icon: calf}
  - {name: Hip, icon: hip-flexor, sides: none}
"""


@pytest.fixture(autouse=True)
def bounded():
    """Each case gets CASE_SECONDS of wall time (SIGALRM on the main thread), then fails."""
    def expired(signum, frame):
        raise TimeoutError(f"case took over {CASE_SECONDS} s")
    previous = signal.signal(signal.SIGALRM, expired)
    signal.alarm(CASE_SECONDS)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, previous)


@pytest.fixture
def place(tmp_path):
    """A folder with a regular file, a sub-folder and the short routine; ``fill`` puts their paths in text."""
    (tmp_path / "afile").write_text("not a folder\n")
    (tmp_path / "adir").mkdir()
    (tmp_path / "short.yaml").write_text(SHORT)

    def fill(text: str) -> str:
        return (text.replace("{file}", str(tmp_path / "afile")).replace("{dir}", str(tmp_path / "adir"))
                .replace("{tmp}", str(tmp_path)).replace("{short}", str(tmp_path / "short.yaml")))
    fill.root = tmp_path
    return fill


# ---- the config corpus: (id, YAML, problems as (line, column, words in the message)) ----------------
# An empty problem list means the config is valid and must be accepted and run.
CONFIGS = [
    # valid: every spelling gpiozero accepts, every panel luma drives, the edges of each range
    ("only-comments", "# nothing set: the documented defaults\n", []),
    ("schema-only", "schema: 1\n", []),
    ("board-j8-bcm-names", "buttons: {a: BOARD11, b: 'J8:13'}\nbuzzer: {pin: BCM18}\n", []),
    ("numbers-and-wiringpi", "buttons: {a: 5, b: '6'}\nbuzzer: {pin: WPI1}\n", []),
    ("lower-case-names", "buttons: {a: gpio5, b: board13}\nbuzzer: {pin: j8:12}\n", []),
    ("one-button-b-unused", "buttons: {mode: one, a: GPIO17, b: GPIO18}\n", []),
    ("no-buzzer-pin-unused", "buzzer: {kind: none, pin: GPIO17}\n", []),
    ("passive-pwm-and-motor", "buzzer: {kind: passive, pin: GPIO12, vibration_pin: GPIO23}\n", []),
    ("passive-board35", "buzzer: {kind: passive, pin: BOARD35}\n", []),
    ("sh1106-128x128", "display: {driver: sh1106, width: 128, height: 128}\n", []),
    ("ssd1306-96x16", "display: {driver: ssd1306, width: 96, height: 16}\n", []),
    ("ssd1306-64x48-rotated", "display: {driver: ssd1306, width: 64, height: 48, rotate: 1}\n", []),
    ("sh1107-portrait-turned", "display: {driver: sh1107, width: 64, height: 128, rotate: 1}\n", []),
    ("sh1107-80x128", "display: {driver: sh1107, width: 80, height: 128}\n", []),
    ("ssd1305-128x32-upside-down", "display: {driver: ssd1305, width: 128, height: 32, rotate: 2}\n", []),
    ("spi-frees-the-i2c-pins", "display: {interface: spi}\nbuttons: {a: GPIO2, b: GPIO3}\n", []),
    ("i2c0-frees-gpio2", "display: {i2c_port: 0}\nbuttons: {a: GPIO2}\n", []),
    ("idle-edges", "idle: {dim_after: 1, off_after: 1, shift_every: 0}\n", []),
    ("session-edges", "session: {resume_lead: 0, pause_timeout: 10}\n", []),
    ("paths-folder-and-missing", "paths: {library: '{dir}', usb_mounts: '{tmp}/not/yet'}\n", []),
    ("power-command", "power: {command: [sudo, /sbin/poweroff]}\n", []),
    ("vibration-null", "buzzer: {vibration_pin: null}\n", []),
    ("durations-as-text", "buttons: {bounce_time: 0, a_hold: 2s, both_hold: 10s}\nidle: {dim_after: 1m30s}\n", []),
    ("ssd1309-dark-blank", "display: {driver: ssd1309, contrast: 0, dim_contrast: 0, final_screen: blank}\n", []),
    # pins the Pi's header does not have, or has as power and ground
    ("gpio40", "buttons:\n  a: GPIO40\n", [(2, 6, "GPIO40 is not a pin on the Pi's 40-pin header")]),
    ("gpio99-number", "buttons: {b: 99}\n", [(1, 14, "99 is not a pin")]),
    ("board1-3v3", "buttons: {a: BOARD1}\n", [(1, 14, "BOARD1 is header pin 1, 3V3: not a GPIO")]),
    ("board6-ground", "buttons: {b: BOARD6}\n", [(1, 14, "header pin 6, GND")]),
    ("board2-5v-buzzer", "buzzer: {pin: BOARD2}\n", [(1, 15, "header pin 2, 5V")]),
    ("j8-41", "buzzer: {vibration_pin: 'J8:41'}\n", [(1, 25, "J8:41 is not a pin")]),
    ("p1-header-name", "buttons: {a: 'P1:11'}\n", [(1, 14, "P1:11 is not a pin")]),
    ("negative-gpio", "buttons: {a: GPIO-1}\n", [(1, 14, "must be a pin name")]),
    ("pin-with-space", "buttons: {a: GPIO 17}\n", [(1, 14, "must be a pin name")]),
    ("pin-true", "buttons: {a: true}\n", [(1, 14, "must be a pin name")]),
    ("pin-float", "buttons: {a: 17.5}\n", [(1, 14, "must be a pin name")]),
    ("unused-b-still-checked", "buttons: {mode: one, b: BOARD1}\n", [(1, 25, "not a GPIO")]),
    # one pin named twice, in two spellings
    ("a-b-same-name", "buttons: {a: GPIO17, b: GPIO17}\n", [(1, 25, "buttons a and b are both on GPIO17")]),
    ("a-b-board-gpio", "buttons: {a: BOARD11, b: GPIO17}\n", [(1, 26, "both on GPIO17 (a: BOARD11, b: GPIO17)")]),
    ("a-b-number-j8", "buttons: {a: 17, b: 'J8:11'}\n", [(1, 21, "both on GPIO17")]),
    ("a-b-wiringpi", "buttons: {a: WPI0, b: BCM17}\n", [(1, 23, "both on GPIO17")]),
    ("buzzer-on-button", "buzzer: {pin: BCM17}\n", [(1, 15, "BCM17 (GPIO17) is already used by buttons.a")]),
    ("motor-on-buzzer", "buzzer: {pin: GPIO23, vibration_pin: BOARD16}\n",
     [(1, 38, "BOARD16 (GPIO23) is already used by buzzer.pin")]),
    ("motor-on-button-no-buzzer", "buzzer: {kind: none, vibration_pin: GPIO27}\n",
     [(1, 37, "GPIO27 is already used by buttons.b")]),
    ("passive-without-pwm", "buzzer: {kind: passive, pin: GPIO22}\n",
     [(1, 30, "a passive buzzer needs a hardware-PWM pin (GPIO12, GPIO13, GPIO18, GPIO19), got GPIO22")]),
    # the OLED's own bus lines
    ("button-on-i2c-sda", "buttons: {a: GPIO2}\n", [(1, 14, "GPIO2 (header pin 3) is a line of the OLED's I2C bus")]),
    ("motor-on-i2c-scl", "buzzer: {vibration_pin: BOARD5}\n", [(1, 25, "BOARD5 (GPIO3) (header pin 5)")]),
    ("i2c0-takes-gpio0", "display: {i2c_port: 0}\nbuttons: {b: GPIO0}\n", [(2, 14, "OLED's I2C bus (display i2c_port 0)")]),
    ("spi-clock", "display: {interface: spi}\nbuttons: {a: GPIO11}\n", [(2, 14, "SPI0 clock line")]),
    ("spi-luma-reset", "display: {interface: spi}\nbuzzer: {pin: GPIO25}\n", [(2, 15, "reset line (luma's SPI default)")]),
    # panel sizes the driver refuses (luma.oled says so itself)
    ("ssd1306-128x128", "display: {width: 128, height: 128}\n",
     [(1, 31, "luma.oled's ssd1306 does not drive a 128x128 panel; it drives 64x32, 64x48, 96x16, 128x32, 128x64")]),
    ("sh1106-96x16", "display: {driver: sh1106, width: 96, height: 16}\n", [(1, 34, "it drives 128x32, 128x64, 128x128")]),
    ("sh1107-default-size", "display:\n  driver: sh1107\n", [(2, 11, "sh1107 does not drive a 128x64 panel")]),
    ("ssd1305-64x48", "display: {driver: ssd1305, width: 64, height: 48}\n", [(1, 35, "ssd1305 does not drive a 64x48")]),
    ("width-100", "display: {width: 100}\n", [(1, 18, "does not drive a 100x64 panel")]),
    ("height-out-of-range", "display: {height: 512}\n", [(1, 19, "'height' must be a whole number from 16 to 256")]),
    ("rotate-4", "display: {rotate: 4}\n", [(1, 19, "'rotate' must be a whole number from 0 to 3")]),
    ("i2c-address-0x78", "display: {i2c_address: 0x78}\n", [(1, 24, "'i2c_address' must be a whole number")]),
    # paths
    ("library-nul", 'paths: {library: "/var/lib/\\0x"}\n', [(1, 18, "contains control characters")]),
    ("library-newline", 'paths: {usb_mounts: "/media/a\\nb"}\n', [(1, 21, "contains control characters")]),
    ("library-is-a-file", "paths: {library: '{file}'}\n", [(1, 18, "is a file, not a folder")]),
    ("mounts-below-a-file", "paths: {usb_mounts: '{file}/sticks'}\n", [(1, 21, "a part of this path is a file")]),
    ("library-relative", "paths: {library: var/lib/x}\n", [(1, 18, "must be an absolute path")]),
    ("power-nul", 'power: {command: [systemctl, "power\\0off"]}\n', [(1, 18, "contains control characters")]),
    ("power-empty", "power: {command: []}\n", [(1, 18, "must be a list of words")]),
    # numbers
    ("shift-half-second", "idle: {shift_every: 0.5}\n", [(1, 21, "must be 0 (off) or between 1 and 86400")]),
    ("dim-nan", "idle: {dim_after: .nan}\n", [(1, 19, "'dim_after' must be between 1 and 86400 seconds, got nan")]),
    ("off-inf", "idle: {off_after: .inf}\n", [(1, 19, "got inf")]),
    ("bounce-negative", "buttons: {bounce_time: -1}\n", [(1, 24, "cannot be negative")]),
    ("lead-too-long", "session: {resume_lead: 31}\n", [(1, 24, "between 0 and 30 seconds")]),
    ("schema-true", "schema: true\n", [(1, 9, "unsupported schema true")]),
    ("typo-key", "buzzer:\n  kynd: active\n", [(2, 3, "unknown key 'kynd': did you mean 'kind'?")]),
    # every problem at once, each where it is written; a refused value is not reported twice
    ("many-at-once", "buttons:\n  a: BOARD1\n  b: GPIO18\ndisplay:\n  driver: sh1106\n  width: 96\n  height: 16\n"
                     "paths:\n  library: '{file}'\n",
     [(2, 6, "not a GPIO"), (3, 6, "GPIO18 is already used by buzzer.pin (its default)"),
      (6, 10, "sh1106 does not drive"),
      (9, 12, "is a file")]),
]
# A config that refers to a default pin it replaced with a bad value: the bad value alone is reported.
CONFIGS.append(("bad-b-then-buzzer-on-default-b", "buttons: {b: BOARD1}\nbuzzer: {pin: GPIO27}\n",
                [(1, 14, "not a GPIO")]))
VALID = [c for c in CONFIGS if not c[2]]
BAD = [c for c in CONFIGS if c[2]]


def write_config(place, text: str):
    path = place.root / "config.yaml"
    path.write_text(place(text))
    return path


def lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line]


@pytest.mark.parametrize("name, text, problems", BAD, ids=[c[0] for c in BAD])
def test_a_bad_config_is_refused_with_each_problem_located_by_every_command(name, text, problems, place, capsys):
    path = write_config(place, text)
    assert main(["config", "--check", "--config", str(path)]) == 1
    out, err = capsys.readouterr()
    got = lines(err)
    assert out == "" and "Traceback" not in err
    assert len(got) == len(problems), err
    for line, (row, col, words) in zip(got, problems):
        assert line.startswith(f"{path}:{row}:{col}: ") and words in line, line
    # the same check, the same words, for the commands that would have crashed on it
    for argv in (["simulate", "--json", "--config", str(path)],
                 ["run", "--config", str(path), "--display", "dummy", "--pins", "mock"]):
        assert main(argv) == 1
        out, err = capsys.readouterr()
        assert lines(err) == got and out == ""


@pytest.mark.parametrize("name, text, problems", VALID, ids=[c[0] for c in VALID])
def test_a_config_the_check_accepts_runs_simulate_and_the_device(name, text, problems, place, capsys):
    path = write_config(place, text)
    assert main(["config", "--check", "--config", str(path)]) == 0
    out, err = capsys.readouterr()
    assert out.startswith("ok: ") and err == ""
    config = load_config(path, required=True)
    presses = ["--press", "3:a", "--press", "4:a", "--press", "10:b:1.5"]
    if config.buttons.mode == "one":
        presses = ["--press", "3:a", "--press", "4:a", "--press", "10:a:1.2"]
    assert main(["simulate", "--json", "--config", str(path), place("{short}"), *presses]) == 0
    out, err = capsys.readouterr()
    assert out.splitlines()[-1].startswith('{"event": "summary"') and "Traceback" not in err

    routine = load_routine(place("{short}"))
    d = config.display
    serial = RecordingSerial()
    driver = run_device(config, routine, open_device=lambda: make_device(
        d.driver, serial, width=d.width, height=d.height, rotate=d.rotate), render=Renderer(d.frame_size).render)
    assert driver.panel.faults == 0 and driver.panel.frames_shown > 20 and bytes_sent(serial) > 0
    choice = open_display("dummy", config)  # what `run --display dummy` draws on
    dummy = run_device(config, routine, open_device=choice.open, render=choice.render)
    assert dummy.panel.faults == 0 and dummy.panel.frames_shown > 20


def run_device(config, routine, *, open_device, render):
    """The device composed by build() on MockFactory: a short routine through the buttons' pins."""
    clock, inbox = SimClock(), queue.Queue()
    factory = MockFactory(pin_class=MockPWMPin)
    try:
        device = build(config, [routine], Platform(pin_factory=factory, clock=clock, inbox=inbox,
                       open_display=open_device, render=render))
        b = config.buttons
        pins = {"a": factory.pin(b.a)} if b.mode == "one" else {"a": factory.pin(b.a), "b": factory.pin(b.b)}
        schedule = []
        for p in [ScheduledPress(0.0, "a"), ScheduledPress(3.0, "a"), ScheduledPress(4.0, "a"),
                  ScheduledPress(10.0, "b" if "b" in pins else "a", 1.5)]:
            schedule += [(p.t, pins[p.button].drive_low), (p.t + p.hold, pins[p.button].drive_high)]
        simulate(device.app, schedule, inbox, clock)
        assert device.app.session.state == "done"
        device.close()
        return device
    finally:
        factory.reset()


def test_every_size_each_driver_takes_is_accepted_and_drawn():
    """Every panel size luma.oled's own drivers take is a valid config, and the renderer fills it."""
    checked = 0
    for driver in DRIVERS:
        for width, height in supported_sizes(driver):
            data = {"display": {"driver": driver, "width": width, "height": height}}
            if not 16 <= width <= 256 or not 16 <= height <= 256:
                continue
            config = config_from_data(data)
            device = make_device(driver, RecordingSerial(), width=width, height=height)
            device.display(Renderer(config.display.frame_size).render(__import__("stretchbox.core.frame",
                           fromlist=["Frame"]).Frame("hold", name="Calf", icon="calf", side="left", seconds=30)))
            checked += 1
    assert checked >= 15 and display_problem("ssd1306", 128, 64) is None


def test_run_itself_starts_and_stops_cleanly_on_accepted_configs(place):
    """`stretchbox run --display dummy --pins mock --start` on a few accepted configs, at once: SIGTERM, exit 0."""
    chosen = ["board-j8-bcm-names", "one-button-b-unused", "sh1107-portrait-turned", "spi-frees-the-i2c-pins",
              "passive-pwm-and-motor"]
    procs = []
    for name in chosen:
        text = next(c[1] for c in VALID if c[0] == name)
        path = place.root / f"{name}.yaml"
        path.write_text(place(text))
        procs.append(subprocess.Popen(
            [sys.executable, "-m", "stretchbox", "run", place("{short}"), "--config", str(path), "--display",
             "dummy", "--pins", "mock", "--start"], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True, env={**os.environ, "NOTIFY_SOCKET": ""}))
    try:
        time.sleep(2.5)
        for proc in procs:
            proc.send_signal(signal.SIGTERM)
        for name, proc in zip(chosen, procs):
            try:
                out, err = proc.communicate(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                out, err = proc.communicate(timeout=10)
                raise AssertionError(f"{name}: still running 20 s after SIGTERM; stderr:\n{err[-2000:]}") from None
            assert proc.returncode == 0 and "Traceback" not in err, (name, err)
    finally:
        for proc in procs:  # nothing left running (or open) for the tests after this one
            if proc.poll() is None:
                proc.kill()
            proc.communicate(timeout=10)


def test_run_draws_its_first_frame_before_the_pin_check_and_shows_a_refusal_on_the_panel(place, monkeypatch,
                                                                                         capsys):
    """`run` checks the pins (gpiozero's import) after the splash, with the same words, and leaves them on the panel."""
    import stretchbox.platform as platform

    path = write_config(place, "buttons: {a: BOARD1}\n")
    shown, real = [], platform.open_display

    def spy(name, config):
        choice = real(name, config)
        render = choice.render
        choice.render = lambda frame: (shown.append(frame), render(frame))[1]
        return choice
    monkeypatch.setattr(platform, "open_display", spy)
    assert main(["run", "--config", str(path), "--display", "dummy", "--pins", "mock"]) == 1
    err = capsys.readouterr().err
    assert [f.screen for f in shown] == ["splash", "error"] and shown[1].title == "CONFIG PROBLEM"
    assert shown[1].text == lines(err)[0] == f"{path}:1:14: BOARD1 is header pin 1, 3V3: not a GPIO (GPIOs are GPIO0-GPIO27)"


def test_an_spi_panel_whose_libraries_are_missing_is_a_display_fault_not_a_crash(place):
    """luma opens SPI through RPi.GPIO and spidev, imported only then: missing here, as on a bare install."""
    from stretchbox.adapters.display import DISPLAY_FAULTS

    config = load_config(write_config(place, "display: {interface: spi}\n"), required=True)
    with pytest.raises(DISPLAY_FAULTS) as exc:
        open_display("config", config).open()
    assert "SPI panel needs RPi.GPIO" in str(exc.value) or "not reachable" in str(exc.value)


# ---- simulate's options: (id, arguments, exit code, words of the one line on stderr) -------------------
OPTIONS = [
    ("gif-speed-nan", ["--gif-speed", "nan"], 2, "--gif-speed: must be a finite number above 0"),
    ("gif-speed-inf", ["--gif-speed", "inf"], 2, "--gif-speed: must be a finite number above 0"),
    ("gif-speed-zero", ["--gif-speed", "0"], 2, "above 0, got '0'"),
    ("gif-speed-negative", ["--gif-speed", "-8"], 2, "above 0, got '-8'"),
    ("gif-speed-word", ["--gif-speed", "fast"], 2, "expected a number, got 'fast'"),
    ("resume-lead-nan", ["--resume-lead", "nan"], 2, "--resume-lead: must be from 0 to 30 seconds"),
    ("resume-lead-inf", ["--resume-lead", "inf"], 2, "from 0 to 30 seconds, got 'inf'"),
    ("resume-lead-negative", ["--resume-lead", "-1"], 2, "got '-1'"),
    ("resume-lead-too-long", ["--resume-lead", "1e9"], 2, "got '1e9'"),
    ("press-nan", ["--press", "nan:a"], 2, "--press: times must be from 0 to 5,000,000 seconds"),
    ("press-inf", ["--press", "inf:a"], 2, "got 'inf:a'"),
    ("press-negative", ["--press=-1:a"], 2, "got '-1:a'"),
    ("press-huge", ["--press", "1e300:a"], 2, "got '1e300:a'"),
    ("hold-nan", ["--press", "5:a:nan"], 2, "got '5:a:nan'"),
    ("hold-inf", ["--press", "5:a:inf"], 2, "got '5:a:inf'"),
    ("hold-past-the-end", ["--press", "4999999:a:2"], 2, "got '4999999:a:2'"),
    ("press-unknown-button", ["--press", "5:c"], 2, "button must be one of a, b, ab"),
    ("press-missing", ["--press"], 2, "expected one argument"),
    ("gif-missing-folder", ["--gif", "{tmp}/no/such/x.gif"], 2, "--gif: cannot write"),
    ("gif-is-a-folder", ["--gif", "{dir}"], 2, "is a folder; give a file name"),
    ("gif-in-proc", ["--gif", "/proc/x"], 2, "--gif: cannot write /proc/x"),
    ("gif-on-proc-file", ["--gif", "/proc/version"], 2, "--gif: cannot write /proc/version"),
    ("sheet-read-only", ["--sheet", "/sys/x.png"], 2, "--sheet: cannot write /sys/x.png"),
    ("sheet-below-a-file", ["--sheet", "{file}/x.png"], 2, "--sheet: cannot write"),
    ("frames-is-a-file", ["--frames", "{file}"], 2, "is a file, not a folder"),
    ("frames-in-proc", ["--frames", "/proc/nope/frames"], 2, "--frames: cannot make the folder"),
    ("gif-and-sheet-one-file", ["--gif", "{tmp}/x", "--sheet", "{tmp}/./x"], 2, "is already another output"),
    ("bus-log-without-display", ["--bus-log", "{tmp}/bus.log"], 2, "--bus-log needs --display"),
    ("bus-log-device", ["--display", "ssd1306", "--bus-log", "/dev/full"], 2, "/dev/full is not a regular file"),
    ("display-unknown", ["--display", "ssd9999"], 2, "--display must be one of"),
    ("display-wrong-size", ["--config", "{tmp}/small.yaml", "--display", "sh1106"], 2,
     "--display: luma.oled's sh1106 does not drive a 96x16 panel"),
    ("config-nul", ["--config", "a\x00b"], 2, "contains a NUL byte"),
    ("routine-nul", ["x\x00.yaml"], 2, "contains a NUL byte"),
    ("frames-of-a-long-routine", ["{tmp}/limits.yaml", "--gif", "{tmp}/long.gif"], 2,
     "draw every second: this routine is 1,796,400 s, over the 10,800 s limit"),
    ("config-missing", ["--config", "{tmp}/none.yaml"], 1, "none.yaml:1:1: no such config file"),
    ("config-is-a-folder", ["--config", "{dir}"], 1, "adir:1:1: is a folder, not a file"),
    ("config-is-a-pipe", ["--config", "{tmp}/pipe"], 1, "pipe:1:1: not a regular file: a FIFO"),
    ("routine-is-a-pipe", ["{tmp}/pipe"], 1, "pipe:1:1: not a regular file: a FIFO"),
    # valid: each ends by itself, quickly
    ("press-after-the-summary", ["--press", "500:a"], 0, ""),
    ("presses-long-after", ["--press", "500:a", "--press", "100000:a", "--press", "4999000:b"], 0, ""),
    ("last-allowed-time", ["--press", "5000000:a"], 0, ""),
    ("gif-speed-tiny", ["--gif-speed", "1e-9", "--gif", "{tmp}/slow.gif"], 0, ""),
    ("gif-speed-huge", ["--gif-speed", "1e9", "--gif", "{tmp}/fast.gif", "--sheet", "{tmp}/sheet.png"], 0, ""),
    ("resume-lead-edges", ["--resume-lead", "30", "--press", "20:a", "--press", "21:a"], 0, ""),
    ("routine-at-the-limits", ["{tmp}/limits.yaml", "--press", "1000000.5:a", "--press", "1000100.25:a"], 0, ""),
]


@pytest.fixture
def sim_place(place):
    root = place.root
    (root / "small.yaml").write_text("display: {width: 96, height: 16}\n")
    limits = ["schema: 1", "name: Limits", "defaults: {prepare: 3600, hold: 3600, switch: 3600, rest: 3600}",
              "stretches:"] + [f"  - {{name: S{i}, icon: calf}}" for i in range(100)]
    (root / "limits.yaml").write_text("\n".join(limits) + "\n")
    os.mkfifo(root / "pipe")
    return place


@pytest.mark.parametrize("name, args, code, words", OPTIONS, ids=[c[0] for c in OPTIONS])
def test_simulate_options(name, args, code, words, sim_place, capsys):
    before = set(os.listdir(sim_place.root))
    argv = ["simulate", "--json", *(sim_place(a) for a in args)]
    started = time.perf_counter()
    assert main(argv) == code
    took = time.perf_counter() - started
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    if code == 0:
        assert out.splitlines()[-1].startswith('{"event": "summary"') and took < 5
        return
    assert words in err and len(lines(err)) == 1, err
    assert out == "" and took < 2  # refused before any work: nothing simulated, nothing printed
    assert set(os.listdir(sim_place.root)) == before  # and no output file left behind


def test_a_usage_error_found_last_leaves_no_output_behind(sim_place, capsys):
    """Outputs are opened after every other check, and a later refusal removes what was created."""
    root = sim_place.root
    assert main(["simulate", "--gif", str(root / "new.gif"), "--sheet", str(root / "adir")]) == 2
    assert not (root / "new.gif").exists()
    assert main(["simulate", "--frames", str(root / "new" / "frames"), "--gif", "/proc/x"]) == 2
    assert not (root / "new").exists()
    capsys.readouterr()


def test_usage_errors_of_other_commands_are_one_line(capsys):
    for argv in (["validate"], ["config", "--nope"], ["run", "--pins", "maybe"], ["simulate", "--resume-lead"],
                 ["check", "--timeout", "nan"], ["check", "--timeout", "-1"], ["check", "--timeout", "inf"],
                 ["validate", "a\x00b"], ["import", "a\x00b"]):
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert len(lines(err)) == 1 and re.match(r"^stretchbox( \w+)?: ", err), err


def test_a_drawn_simulation_that_runs_too_long_stops_with_one_line(sim_place, capsys, monkeypatch):
    """Frame outputs cost every simulated second: past the step budget, one line, exit 2, no file left."""
    import stretchbox.cli as cli

    monkeypatch.setattr(cli, "FRAMES_MAX_STEPS", 100)
    gif = sim_place.root / "long.gif"
    assert main(["simulate", "--json", "--gif", str(gif)]) == 2
    out, err = capsys.readouterr()
    assert len(lines(err)) == 1 and "did not finish within 100 steps" in err and not gif.exists()
