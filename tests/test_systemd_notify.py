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


def test_a_hung_loop_stops_the_pings(listener):
    sock, env = listener
    pinger = WatchdogPinger(Notifier({"NOTIFY_SOCKET": env, "WATCHDOG_USEC": "2000000"}))  # 2 s: ping every 1 s
    now = 0.0
    for _ in range(10):  # the healthy loop: wakes at each deadline, pings when due
        if pinger.due(now):
            pinger.ping(now)
        now = pinger.next_deadline()
    assert received(sock) == ["WATCHDOG=1"] * 10
    hung_since = now
    now += 30.0  # the loop is stuck in something for 30 s: nobody calls due()/ping()
    assert received(sock) == []  # no ping arrived although 30 were due: systemd restarts us
    assert pinger.next_deadline() == hung_since  # and the missed deadline is plain to see


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
