"""Whether the wall clock can be trusted, and by whom.

The Pi has no real-time clock and a gym bag has no network: after a boot the
system clock is whatever fake-hwclock saved at the last shutdown, so a date
from it would be wrong by however long the device was off. The history keeps
the wall clock with the source that made it trustworthy, and no calendar
(dates, "this week", streaks) is drawn from an untrusted one.

Sources, first found wins:

- ``ntp``: systemd-timesyncd synchronised the clock (``/run/systemd/timesync/synchronized`` exists);
- ``rtc``: a real-time clock (a DS3231 on the I2C bus) set the system clock at boot
  (``/sys/class/rtc/rtc0/hctosys`` reads 1);
- ``usb``: a USB stick was imported in this boot and its newest file is later than the
  system clock. That time is a laptop's clock; the estimate is the stick's time plus the
  monotonic seconds since. The service is unprivileged, so it does not set the system
  clock: it only uses the estimate for its own records.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

SYNCHRONIZED = Path("/run/systemd/timesync/synchronized")
LATEST_CLOCK = 4_102_444_800  # 2100-01-01: a stick's file time past it is not taken for the time
HCTOSYS = Path("/sys/class/rtc/rtc0/hctosys")


class WallClock:
    """``wall_clock()`` -> (epoch seconds, source or None); the paths and clocks are parameters for tests."""

    def __init__(self, synchronized: Path = SYNCHRONIZED, hctosys: Path = HCTOSYS,
                 now: Callable[[], float] = time.time, monotonic: Callable[[], float] = time.monotonic):
        self.synchronized, self.hctosys = synchronized, hctosys
        self.now, self.monotonic = now, monotonic
        self.stick: tuple[float, float] | None = None  # (the stick's newest file time, monotonic then)

    def note_stick_time(self, epoch: float, monotonic_now: float) -> None:
        """A stick imported now had ``epoch`` as its newest file time: the latest noted wins. A time before
        1970 or after 2100 is a broken file time, not a clock (and no calendar can be drawn from it)."""
        if not 0 < epoch < LATEST_CLOCK:
            return
        if self.stick is None or epoch - monotonic_now > self.stick[0] - self.stick[1]:
            self.stick = (epoch, monotonic_now)

    def wall_clock(self) -> tuple[float, str | None]:
        """The wall clock now and the source that makes it trustworthy (None: it is only the Pi's guess)."""
        now = self.now()
        if _exists(self.synchronized):
            return now, "ntp"
        if _reads_one(self.hctosys):
            return now, "rtc"
        if self.stick is not None:
            estimate = self.stick[0] + (self.monotonic() - self.stick[1])
            if estimate > now:
                return estimate, "usb"
        return now, None


def _exists(path: Path) -> bool:
    try:
        return path.exists()
    except OSError:
        return False


def _reads_one(path: Path) -> bool:
    try:
        return path.read_text(encoding="ascii").strip() == "1"
    except (OSError, ValueError):
        return False
