"""sd_notify, from the protocol: one datagram to ``$NOTIFY_SOCKET`` per message.

No libsystemd binding is needed: the socket is a path, or a name in the
abstract namespace when it starts with ``@``. Without ``$NOTIFY_SOCKET`` (a
laptop, a test) every call is a no-op. Sending never raises into the caller:
a service must not die because its supervisor went away.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Mapping

log = logging.getLogger(__name__)


def _one_line(text: str) -> str:
    """A newline would start another assignment (READY=1, MAINPID=...) in the datagram."""
    return " ".join(str(text).splitlines())


class Notifier:
    """READY=1, WATCHDOG=1, STOPPING=1 and STATUS= to systemd.

    >>> Notifier({}).ready()   # no NOTIFY_SOCKET: nothing happens
    False
    """

    def __init__(self, environ: Mapping[str, str] | None = None):
        """``environ`` defaults to ``os.environ``; tests pass a dict instead of patching the process."""
        env = os.environ if environ is None else environ
        self._env = env
        raw = env.get("NOTIFY_SOCKET", "")
        self.address = ("\0" + raw[1:]) if raw.startswith("@") else raw
        self._warned = False

    @property
    def enabled(self) -> bool:
        return bool(self.address)

    def send(self, message: str) -> bool:
        """Send one datagram; True when it was sent. Logs the first failure only (the loop pings often)."""
        if not self.address:
            return False
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
                sock.connect(self.address)
                sock.sendall(message.encode("utf-8", "replace"))
            return True
        except OSError as exc:
            if not self._warned:
                log.warning("sd_notify to %r failed: %s", self.address, exc)
                self._warned = True
            return False

    def ready(self, status: str | None = None) -> bool:
        return self.send("READY=1" + (f"\nSTATUS={_one_line(status)}" if status else ""))

    def stopping(self) -> bool:
        return self.send("STOPPING=1")

    def status(self, text: str) -> bool:
        return self.send(f"STATUS={_one_line(text)}")

    def watchdog(self) -> bool:
        return self.send("WATCHDOG=1")

    def watchdog_interval(self) -> float | None:
        """Seconds between pings: half of ``$WATCHDOG_USEC``, None when not asked for (or for another pid)."""
        usec = self._env.get("WATCHDOG_USEC")
        pid = self._env.get("WATCHDOG_PID")
        if not usec or (pid and pid.isdigit() and int(pid) != os.getpid()):
            return None
        try:
            value = int(usec)
        except ValueError:
            return None
        return value / 1e6 / 2 if value > 0 else None


class WatchdogPinger:
    """Stepped by the owner loop with monotonic time: pings only while the loop runs.

    The loop includes ``next_deadline()`` in its wait, so a healthy loop pings
    on time; a hung loop stops pinging and systemd restarts the service.
    """

    def __init__(self, notifier: Notifier):
        self.notifier = notifier
        self.interval = notifier.watchdog_interval() if notifier.enabled else None
        self._next: float | None = None

    def next_deadline(self) -> float | None:
        """When the next ping is due (monotonic), for the loop's wait; None without a watchdog."""
        return self._next if self.interval else None

    def due(self, now: float) -> bool:
        """True at the first step and from each deadline on: a busy loop still pings only every interval."""
        return bool(self.interval) and (self._next is None or now >= self._next)

    def ping(self, now: float) -> None:
        """WATCHDOG=1, and the next deadline one interval after ``now`` (a failed send is only logged)."""
        self.notifier.watchdog()
        self._next = now + self.interval if self.interval else None
