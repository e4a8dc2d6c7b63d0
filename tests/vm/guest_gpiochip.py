"""The device's pins through libgpiod on a real kernel: run inside tests/vm's VM, by
tests/vm/test_gpio_on_a_kernel.py, against gpio-sim chips (the kernel's GPIO character device,
its edge events and its debounce are the real ones; only the chip behind them is simulated).

Not named test_*: the host's pytest does not collect it; in the VM it is run by name.
"""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import gpiod
import pytest

from stretchbox.adapters.buttons import ButtonsInput
from stretchbox.adapters.gpiochip import ChipFactory, pi_gpio_chip
from stretchbox.core.gestures import Pressed, Released

CONFIGFS = Path("/sys/kernel/config/gpio-sim")
pytestmark = pytest.mark.skipif(not CONFIGFS.is_dir(), reason="needs gpio-sim: run by tests/vm/test_gpio_on_a_kernel.py")
BOUNCE = 0.025  # the config's default bounce_time
SETTLE = 0.4  # s for the kernel's debounce and the edge thread, with room for the emulated CPU


class SimChip:
    """A gpio-sim chip made through configfs; a line is driven from outside through its sysfs pull."""

    def __init__(self, config: Path):
        """The live chip configfs holds at ``config`` (made by ``make``, in this process or another)."""
        self.config = config
        self.name = (self.config / "bank0" / "chip_name").read_text().strip()
        self.path = Path("/dev") / self.name
        self.sysfs = Path("/sys/devices/platform") / (self.config / "dev_name").read_text().strip() / self.name

    @classmethod
    def make(cls, name: str, label: str, lines: int = 54) -> SimChip:
        config = CONFIGFS / name
        (config / "bank0").mkdir(parents=True)
        (config / "bank0" / "num_lines").write_text(str(lines))
        (config / "bank0" / "label").write_text(label)
        (config / "live").write_text("1")
        return cls(config)

    def drive(self, line: int, high: bool) -> None:
        (self.sysfs / f"sim_gpio{line}" / "pull").write_text("pull-up" if high else "pull-down")

    def level(self, line: int) -> int:
        return int((self.sysfs / f"sim_gpio{line}" / "value").read_text())

    def remove(self) -> None:
        (self.config / "live").write_text("0")
        (self.config / "bank0").rmdir()
        self.config.rmdir()


@pytest.fixture
def chips():
    """Two chips, the Pi's second, so finding it by label is not finding gpiochip0."""
    other = SimChip.make("other", "gpio-expander")
    pi = SimChip.make("pi", "pinctrl-bcm2835")
    yield other, pi
    pi.remove()
    other.remove()


@pytest.fixture
def factory(chips):
    f = ChipFactory(chips[1].path)
    yield f
    f.close()  # before the chips go: a request on a removed chip fails with ENODEV


@pytest.fixture
def buttons(factory):
    """ButtonsInput on the Pi's chip: ``buttons(inbox, bounce_time=..)``; closed after the test."""
    made = []

    def make(inbox: queue.Queue, bounce_time: float | None = BOUNCE, pins=(("a", "GPIO17"), ("b", "GPIO27"))):
        made.append(ButtonsInput(dict(pins), inbox, clock=time.monotonic, bounce_time=bounce_time,
                                 pin_factory=factory))
        return made[-1]

    yield make
    for b in made:
        b.close()


def drain(inbox: queue.Queue) -> list:
    time.sleep(SETTLE)
    events = []
    while not inbox.empty():
        events.append(inbox.get_nowait())
    return events


def bounce(chip: SimChip, line: int, end_high: bool, flips: int = 6) -> None:
    """A contact that chatters: ``flips`` changes about 2 ms apart, then it rests at ``end_high``."""
    for i in range(flips):
        chip.drive(line, (i % 2 == 0) == end_high)
        time.sleep(0.002)
    chip.drive(line, end_high)


def edge_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "gpio-edges"]


def test_the_pis_chip_is_found_by_its_label_not_its_number(chips):
    other, pi = chips
    assert other.name == "gpiochip0" and pi_gpio_chip() == pi.path


def test_a_press_and_a_release_arrive_once_each_through_the_kernels_debounce(chips, buttons):
    pi, inbox = chips[1], queue.Queue()
    a_and_b = buttons(inbox)
    assert pi.level(17) == 1 and a_and_b.buttons["a"].value == 0  # our pull-up holds it high: not pressed
    bounce(pi, 17, end_high=False)
    assert [type(e) for e in drain(inbox)] == [Pressed] and a_and_b.buttons["a"].value == 1
    bounce(pi, 17, end_high=True)
    assert [(type(e), e.button) for e in drain(inbox)] == [(Released, "a")]
    for high in (False, True, False):  # B: press, release, press, each held well past the debounce
        pi.drive(27, high)
        time.sleep(0.1)
    assert [(type(e), e.button) for e in drain(inbox)] == [(Pressed, "b"), (Released, "b"), (Pressed, "b")]


def test_a_blip_shorter_than_the_debounce_is_no_press(chips, buttons):
    pi, inbox = chips[1], queue.Queue()
    buttons(inbox)
    pi.drive(27, False)
    pi.drive(27, True)  # a few hundred microseconds low: noise on the wire, not a finger
    assert drain(inbox) == []


def test_without_a_debounce_the_same_chatter_is_many_presses(chips, buttons):
    """The control for the two tests above: what the kernel's debounce takes away is there to take."""
    pi, inbox = chips[1], queue.Queue()
    buttons(inbox, bounce_time=None)
    bounce(pi, 17, end_high=False)
    assert sum(isinstance(e, Pressed) for e in drain(inbox)) >= 2


def test_the_edge_thread_sleeps_while_no_button_moves(chips, buttons):
    pi, inbox = chips[1], queue.Queue()
    buttons(inbox)
    (thread,) = edge_threads()
    status = Path(f"/proc/self/task/{thread.native_id}/status")

    def wakeups() -> int:
        line = next(x for x in status.read_text().splitlines() if x.startswith("voluntary_ctxt_switches:"))
        return int(line.split()[1])

    before = wakeups()
    time.sleep(3.0)
    assert wakeups() - before <= 1  # lgpio's alert thread: thousands in the same 3 s
    pi.drive(17, False)
    assert [type(e) for e in drain(inbox)] == [Pressed] and wakeups() - before >= 1


def test_outputs_drive_their_lines(chips, factory):
    from gpiozero import Buzzer, DigitalOutputDevice

    pi = chips[1]
    buzzer, motor = Buzzer("GPIO18", pin_factory=factory), DigitalOutputDevice("GPIO23", pin_factory=factory)
    buzzer.on()
    assert (pi.level(18), pi.level(23)) == (1, 0)
    motor.on()
    buzzer.off()
    assert (pi.level(18), pi.level(23)) == (0, 1)


def test_closing_gives_every_line_back_and_ends_the_thread(chips):
    pi, inbox = chips[1], queue.Queue()
    f = ChipFactory(pi.path)
    buttons = ButtonsInput({"a": "GPIO17", "b": "GPIO27"}, inbox, clock=time.monotonic, bounce_time=BOUNCE,
                           pin_factory=f)
    with pytest.raises(OSError):  # taken: the kernel refuses a second owner
        gpiod.request_lines(str(pi.path), config={17: gpiod.LineSettings()})
    buttons.close()
    f.close()
    assert edge_threads() == []
    gpiod.request_lines(str(pi.path), config={17: gpiod.LineSettings(), 27: gpiod.LineSettings()}).release()


def test_the_program_runs_on_the_kernels_pins(chips, tmp_path):
    """``stretchbox run --pins real``: it says it uses libgpiod, and button A on GPIO17 starts the routine."""
    pi = chips[1]
    proc = subprocess.Popen([sys.executable, "-m", "stretchbox", "run", "--display", "text", "--pins", "real",
                             "--state-dir", str(tmp_path / "state")], stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().startswith("IDLE")
        pi.drive(17, False)
        time.sleep(0.15)
        pi.drive(17, True)
        assert not proc.stdout.readline().startswith("IDLE")  # the press started the routine
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert f"GPIO: {pi.path} (pinctrl-bcm2835) through libgpiod" in err
    assert os.environ.get("GPIOZERO_PIN_FACTORY") is None


def test_a_passive_buzzer_gets_gpiozeros_default_pins_for_its_pwm():
    """libgpiod's pins do not do PWM: the passive buzzer alone goes to gpiozero's default (lgpio on a Pi),
    on the same chip (the Pi's, gpiochip0 here as on a Zero), and the buttons stay on libgpiod."""
    from gpiozero.pins.lgpio import LGPIOFactory

    from stretchbox.adapters.buzzer import sound_devices
    from stretchbox.config import Buzzer

    pi = SimChip.make("pi", "pinctrl-bcm2835")
    factory = ChipFactory(pi.path)
    try:
        sound, motor = sound_devices(Buzzer(kind="passive", pin="GPIO18", vibration_pin="GPIO23"), factory)
        assert isinstance(sound.pwm_device.pin_factory, LGPIOFactory) and motor.pin_factory is factory
        motor.on()
        assert pi.level(23) == 1
        sound.close()
        motor.close()
    finally:
        factory.close()
        from gpiozero import Device

        Device.pin_factory.close()  # lgpio's chip handle, before the chip goes
        Device.pin_factory = None
        pi.remove()


def test_a_line_another_process_holds_is_reported_busy_as_check_words_it(chips, factory):
    """`stretchbox check` while the service runs: the kernel refuses the line, and check says to stop the
    service (probe.gpio_fault reads EBUSY), rather than failing with a traceback."""
    from stretchbox.adapters.probe import gpio_fault

    holder = subprocess.Popen([sys.executable, "-c", "import gpiod, sys; r = gpiod.request_lines(sys.argv[1], "
                               "config={22: gpiod.LineSettings()}); print(flush=True); sys.stdin.read()",
                               str(chips[1].path)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        holder.stdout.readline()
        with pytest.raises(OSError) as refused:
            ButtonsInput({"a": "GPIO22"}, queue.Queue(), clock=time.monotonic, pin_factory=factory)
        assert gpio_fault(refused.value) == "busy"
    finally:
        holder.communicate("")


def test_an_active_low_output_starts_at_its_off_level(chips, factory):
    """Buzzer(active_high=False) is off with its line high, set in the one reconfigure that makes it an
    output (ChipPin.output_with_state). A blip low before it cannot be seen from here: gpio-sim keeps no
    history of an output line."""
    from gpiozero import Buzzer

    pi = chips[1]
    buzzer = Buzzer("GPIO23", active_high=False, pin_factory=factory)
    assert pi.level(23) == 1 and not buzzer.is_active
    buzzer.on()
    assert pi.level(23) == 0
    buzzer.close()


def test_a_callback_that_raises_leaves_the_line_watched(chips, factory):
    from gpiozero import DigitalInputDevice

    pi, seen = chips[1], []
    button = DigitalInputDevice("GPIO17", pull_up=True, bounce_time=BOUNCE, pin_factory=factory)

    def flaky():
        seen.append(time.monotonic())
        if len(seen) == 1:
            raise RuntimeError("a callback's own fault")

    button.when_activated = flaky
    for high in (False, True, False):
        pi.drive(17, high)
        time.sleep(0.1)
    time.sleep(SETTLE)
    assert len(seen) == 2
    button.close()
