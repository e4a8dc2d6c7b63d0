"""sd_notify against a real local socket, including a hung loop whose pings stop."""

import os
import socket
import uuid

import pytest

from stretchbox.adapters.systemd import Notifier, WatchdogPinger


@pytest.fixture(params=["path", "abstract"])
def listener(request, tmp_path):
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    if request.param == "path":
        address = str(tmp_path / "notify.sock")
        sock.bind(address)
        env_value = address
    else:
        name = f"stretchbox-test-{uuid.uuid4().hex}"
        sock.bind("\0" + name)
        env_value = "@" + name
    sock.setblocking(False)
    yield sock, env_value
    sock.close()


def received(sock):
    out = []
    while True:
        try:
            out.append(sock.recv(4096).decode())
        except BlockingIOError:
            return out


def test_ready_watchdog_status_stopping_arrive_as_single_datagrams(listener):
    sock, env = listener
    n = Notifier({"NOTIFY_SOCKET": env})
    assert n.enabled
    assert n.ready() and n.watchdog() and n.status("3 routines") and n.stopping()
    assert received(sock) == ["READY=1", "WATCHDOG=1", "STATUS=3 routines", "STOPPING=1"]


def test_without_notify_socket_everything_is_a_no_op():
    n = Notifier({})
    assert not n.enabled and n.ready() is False and n.watchdog() is False
    assert WatchdogPinger(n).next_deadline() is None and not WatchdogPinger(n).due(1e9)


def test_a_vanished_socket_never_raises(tmp_path):
    n = Notifier({"NOTIFY_SOCKET": str(tmp_path / "gone.sock")})
    assert n.ready() is False and n.watchdog() is False


@pytest.mark.parametrize("env, interval", [
    ({"WATCHDOG_USEC": "30000000"}, 15.0),
    ({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": str(os.getpid())}, 15.0),
    ({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "1"}, None),
    ({"WATCHDOG_USEC": "0"}, None), ({"WATCHDOG_USEC": "soon"}, None), ({}, None),
])
def test_watchdog_interval_is_half_of_watchdog_usec_for_this_pid(env, interval):
    assert Notifier(env).watchdog_interval() == interval


class FakeSystemd:
    """systemd's side of the watchdog, on fake time: the time of each WATCHDOG=1 that arrived."""

    def __init__(self, sock, watchdog_sec: float):
        self.sock, self.watchdog_sec = sock, watchdog_sec
        self.pings: list[float] = []
        self.last = 0.0  # the service started at t=0

    def poll(self, now: float) -> bool:
        """Take what arrived by ``now``; True while the service is alive by systemd's rule."""
        for message in received(self.sock):
            assert message == "WATCHDOG=1"
            self.pings.append(now)
            self.last = now
        return now - self.last < self.watchdog_sec


def loop_step(pinger, now):
    """What the app's loop does around each event or timeout."""
    if pinger.due(now):
        pinger.ping(now)


def test_a_busy_loop_pings_once_per_interval_not_per_iteration(listener):
    sock, env = listener
    pinger = WatchdogPinger(Notifier({"NOTIFY_SOCKET": env, "WATCHDOG_USEC": "2000000"}))  # ping every 1 s
    systemd = FakeSystemd(sock, 2.0)
    for i in range(100):  # an event every 0.05 s for 5 s
        now = i * 0.05
        loop_step(pinger, now)
        assert systemd.poll(now)
    assert systemd.pings == pytest.approx([0.0, 1.0, 2.0, 3.0, 4.0])


def test_a_hung_loop_stops_the_pings_and_systemd_would_restart_it(listener):
    """The loop waits for min(app deadline, ping deadline); from t=7.3 it never comes back from an event."""
    sock, env = listener
    pinger = WatchdogPinger(Notifier({"NOTIFY_SOCKET": env, "WATCHDOG_USEC": "2000000"}))
    systemd = FakeSystemd(sock, 2.0)
    app_deadlines = iter([0.4, 2.5, 2.6, 5.9, 7.3])  # timer ticks of the app (a countdown, a cue...)
    app_next = next(app_deadlines)
    hang_at = 7.3
    now = 0.0
    restarted_at = None
    while now < 20.0:
        if now < hang_at:
            loop_step(pinger, now)
            if now >= app_next:
                app_next = next(app_deadlines, float("inf"))
            wake = min(app_next, pinger.next_deadline())
        else:
            wake = now + 0.25  # the loop is stuck: fake time goes on, nobody steps the pinger
        if not systemd.poll(now) and restarted_at is None:
            restarted_at = now
        assert wake > now
        now = wake
    before_hang = [t for t in systemd.pings if t < hang_at]
    assert systemd.pings == before_hang  # not one ping after the hang
    assert max(b - a for a, b in zip(before_hang, before_hang[1:])) <= 1.0 + 1e-9  # healthy: every interval
    assert before_hang == pytest.approx([0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0])
    assert restarted_at is not None and before_hang[-1] + 2.0 <= restarted_at < hang_at + 2.0


def test_a_socket_that_goes_away_is_logged_once_and_never_raises(tmp_path, caplog):
    address = tmp_path / "notify.sock"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(address))
    n = Notifier({"NOTIFY_SOCKET": str(address), "WATCHDOG_USEC": "1000000"})
    pinger = WatchdogPinger(n)
    pinger.ping(0.0)
    assert sock.recv(4096) == b"WATCHDOG=1"
    sock.close()
    address.unlink()  # systemd went away (or the socket was replaced)
    with caplog.at_level("WARNING", logger="stretchbox.adapters.systemd"):
        for t in range(1, 6):
            pinger.ping(float(t))
        assert n.stopping() is False
    assert [r.getMessage() for r in caplog.records if "sd_notify" in r.getMessage()] == [
        f"sd_notify to {str(address)!r} failed: [Errno 2] No such file or directory"]
    assert pinger.next_deadline() == 5.5  # the loop goes on keeping time


def test_status_text_cannot_inject_other_assignments(listener):
    sock, env = listener
    n = Notifier({"NOTIFY_SOCKET": env})
    assert n.status("line one\nMAINPID=1") and n.ready(status="ready\nWATCHDOG=trigger")
    assert received(sock) == ["STATUS=line one MAINPID=1", "READY=1\nSTATUS=ready WATCHDOG=trigger"]


def test_the_real_program_says_ready_pings_and_says_stopping_on_sigterm(tmp_path):
    """`stretchbox run` as systemd starts it: READY=1 after the first frame, pings, STOPPING=1, exit 0."""
    import signal
    import subprocess
    import sys

    address = str(tmp_path / "notify.sock")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(address)
    sock.settimeout(30)
    env = {**os.environ, "NOTIFY_SOCKET": address, "WATCHDOG_USEC": "400000"}
    env.pop("WATCHDOG_PID", None)
    config = tmp_path / "config.yaml"
    config.write_text(f"paths: {{library: {tmp_path / 'lib'}, usb_mounts: {tmp_path / 'media'}}}\n")
    proc = subprocess.Popen([sys.executable, "-m", "stretchbox", "run", "--display", "dummy", "--pins", "mock",
                             "--config", str(config)], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert sock.recv(4096) == b"READY=1"
        pings = [sock.recv(4096) for _ in range(3)]
        assert pings == [b"WATCHDOG=1"] * 3
        proc.send_signal(signal.SIGTERM)
        rest = []
        while (msg := sock.recv(4096)) != b"STOPPING=1":
            rest.append(msg)
        assert set(rest) <= {b"WATCHDOG=1"}
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate()
        sock.close()
