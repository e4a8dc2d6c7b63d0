"""adapters/wallclock.py: which source makes the wall clock trustworthy, on files in tmp_path and fake clocks."""

from stretchbox.adapters.wallclock import HCTOSYS, SYNCHRONIZED, WallClock

PI_GUESS = 1_700_000_000.0  # what fake-hwclock restored: days behind
LAPTOP = 1_795_435_200.0


class Clocks:
    def __init__(self):
        self.wall, self.mono = PI_GUESS, 100.0

    def clock(self, tmp_path) -> WallClock:
        return WallClock(tmp_path / "synchronized", tmp_path / "hctosys", lambda: self.wall, lambda: self.mono)


def test_the_defaults_are_systemds_and_the_kernels_paths():
    assert str(SYNCHRONIZED) == "/run/systemd/timesync/synchronized"
    assert str(HCTOSYS) == "/sys/class/rtc/rtc0/hctosys"


def test_nothing_trusted_is_the_pis_guess_with_no_source(tmp_path):
    c = Clocks()
    assert c.clock(tmp_path).wall_clock() == (PI_GUESS, None)


def test_ntp_then_rtc(tmp_path):
    c = Clocks()
    clock = c.clock(tmp_path)
    (tmp_path / "hctosys").write_text("0\n")
    assert clock.wall_clock() == (PI_GUESS, None)  # an RTC that did not set the clock
    (tmp_path / "hctosys").write_text("1\n")
    assert clock.wall_clock() == (PI_GUESS, "rtc")
    (tmp_path / "synchronized").touch()
    assert clock.wall_clock() == (PI_GUESS, "ntp")


def test_a_sticks_time_is_used_only_when_later_than_the_system_clock(tmp_path):
    c = Clocks()
    clock = c.clock(tmp_path)
    clock.note_stick_time(LAPTOP, 100.0)
    c.mono = 160.0
    assert clock.wall_clock() == (LAPTOP + 60, "usb")
    clock.note_stick_time(LAPTOP - 3600, 150.0)  # an older stick later: the newest time stands
    assert clock.wall_clock() == (LAPTOP + 60, "usb")
    c.wall = LAPTOP + 7200  # the system clock got ahead (set by someone): it is not trusted, but later
    assert clock.wall_clock() == (LAPTOP + 7200, None)
    (tmp_path / "synchronized").touch()
    assert clock.wall_clock() == (LAPTOP + 7200, "ntp")


def test_a_stick_from_the_past_is_not_trusted(tmp_path):
    c = Clocks()
    clock = c.clock(tmp_path)
    clock.note_stick_time(PI_GUESS - 86400, 100.0)
    assert clock.wall_clock() == (PI_GUESS, None)


def test_unreadable_sources_are_no_source(tmp_path):
    c = Clocks()
    (tmp_path / "hctosys").mkdir()
    (tmp_path / "f").write_text("x")
    clock = WallClock(tmp_path / "f" / "synchronized", tmp_path / "hctosys", lambda: c.wall, lambda: c.mono)
    assert clock.wall_clock() == (PI_GUESS, None)
