"""`stretchbox run` on a real pseudo-terminal: keys in the foreground, none in the background, and the
terminal's mode put back on every way out.

Each test starts a session leader on a fresh pty (the pty becomes its controlling terminal) that runs
`stretchbox run` either in its own process group (the foreground) or in a new one (the background, as
`timeout` or `cmd &` do). stdout is a pipe, as in `make run | cat`: the text log.
"""

import json
import os
import select
import signal
import subprocess
import sys
import termios
import time
from pathlib import Path

import pytest

from stretchbox.adapters.keyboard import cbreak, in_foreground, retry_eintr

REPO = Path(__file__).resolve().parents[2]

# The session leader: take the pty as controlling terminal, run the command in the foreground
# group (ours) or a background one, and for the background write what happened to a file.
LEADER = r"""
import fcntl, json, os, signal, subprocess, sys, termios, time
fcntl.ioctl(0, termios.TIOCSCTTY, 0)
signal.signal(signal.SIGINT, lambda *a: None)  # ^C is for the command; handlers do not survive exec
where, report, cmd = sys.argv[1], sys.argv[2], sys.argv[3:]
if where == "fg":
    sys.exit(subprocess.call(cmd))
p = subprocess.Popen(cmd, process_group=0, stdout=subprocess.PIPE)
fd = p.stdout.fileno()
os.set_blocking(fd, False)

def more():
    try:
        return os.read(fd, 65536).decode()
    except BlockingIOError:
        return ""

seen, stopped, end = "", False, time.monotonic() + 20
while "IDLE" not in seen and time.monotonic() < end:
    time.sleep(0.05)
    seen += more()
    with open(f"/proc/{p.pid}/stat") as f:
        if f.read().rsplit(")", 1)[1].split()[0] == "T":
            stopped = True
            break
p.send_signal(signal.SIGTERM)  # what timeout does, SIGCONT after it
p.send_signal(signal.SIGCONT)
try:
    rc = p.wait(timeout=10)
except subprocess.TimeoutExpired:
    p.kill()
    rc = "hung"
seen += more()
json.dump({"stopped": stopped, "rc": rc, "out": seen}, open(report, "w"))
"""


@pytest.fixture
def pty_run(tmp_path):
    """Start `stretchbox run` under a session leader on a new pty; yields a helper and cleans up."""
    (tmp_path / "config.yaml").write_text(
        f"paths: {{library: {tmp_path}/library, usb_mounts: {tmp_path}/media}}\n")
    master, slave = os.openpty()
    procs = []

    class Run:
        def __init__(self, where: str, *extra: str):
            self.master, self.slave, self.report = master, slave, tmp_path / "report.json"
            self.original = termios.tcgetattr(slave)
            cmd = [sys.executable, "-m", "stretchbox", "run", str(REPO / "routines" / "post-run.yaml"),
                   "--display", "text", "--pins", "mock", "--config", str(tmp_path / "config.yaml"), *extra]
            env = {**os.environ, "PYTHONUNBUFFERED": "1"}
            self.proc = subprocess.Popen([sys.executable, "-c", LEADER, where, str(self.report), *cmd],
                                         stdin=slave, stderr=slave, stdout=subprocess.PIPE,
                                         start_new_session=True, env=env)
            procs.append(self.proc)
            os.set_blocking(self.proc.stdout.fileno(), False)
            self.out = ""

        def wait_for(self, text: str, timeout: float = 20.0) -> str:
            end = time.monotonic() + timeout
            while text not in self.out and time.monotonic() < end:
                select.select([self.proc.stdout, master], [], [], 0.1)
                try:
                    self.out += os.read(self.proc.stdout.fileno(), 65536).decode()
                except BlockingIOError:
                    pass
                self.drain()
            assert text in self.out, f"no {text!r} in {self.out!r}"
            return self.out

        def drain(self) -> None:
            while select.select([master], [], [], 0)[0]:
                try:
                    os.read(master, 4096)
                except OSError:
                    return

        def lflag(self) -> int:
            return termios.tcgetattr(slave)[3]

    yield Run
    for p in procs:
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait()
        p.stdout.close()
    os.close(master)
    os.close(slave)


@pytest.mark.parametrize("how", ["q", "SIGTERM", "^C"])
def test_in_the_foreground_keys_work_and_the_mode_is_restored_on_exit(pty_run, how):
    run = pty_run("fg")
    assert run.original[3] & termios.ICANON and run.original[3] & termios.ECHO
    run.wait_for("IDLE")
    time.sleep(0.2)  # the keyboard starts just after the first frame
    assert not run.lflag() & (termios.ICANON | termios.ECHO)  # cbreak: single keys, no echo
    os.write(run.master, b" ")  # space = A: start
    run.wait_for("NEXT")
    if how == "q":
        os.write(run.master, b"q")
    elif how == "^C":
        os.write(run.master, b"\x03")  # the terminal sends SIGINT to the foreground group
    else:
        subprocess.run(["pkill", "-TERM", "-P", str(run.proc.pid)], check=True)
    assert run.proc.wait(timeout=10) == 0
    assert termios.tcgetattr(run.slave) == run.original


def test_in_the_background_it_leaves_the_terminal_alone_runs_and_stops_on_sigterm(pty_run):
    """The bug: under `timeout 30 make run | cat` the process group is not the terminal's foreground
    one; tcsetattr stopped it with SIGTTOU, and timeout's SIGTERM then surfaced as
    termios.error: (4, 'Interrupted system call'), or the process hung stopped."""
    run = pty_run("bg")
    assert run.proc.wait(timeout=40) == 0
    report = json.loads(run.report.read_text())
    assert report["stopped"] is False and report["rc"] == 0, report
    assert "IDLE" in report["out"]
    assert termios.tcgetattr(run.slave) == run.original


def test_a_pipe_is_no_keyboard():
    r, w = os.pipe()
    try:
        assert not in_foreground(r)
    finally:
        os.close(r)
        os.close(w)


def test_termios_calls_are_retried_when_a_signal_interrupts_them():
    calls = []

    def flaky(x):
        calls.append(x)
        if len(calls) < 3:
            raise termios.error(4, "Interrupted system call")
        return x * 2

    assert retry_eintr(flaky, 21) == 42 and len(calls) == 3
    with pytest.raises(termios.error):
        retry_eintr(lambda: (_ for _ in ()).throw(termios.error(5, "Input/output error")))


def test_cbreak_clears_echo_and_canonical_mode_only():
    master, slave = os.openpty()
    try:
        mode = termios.tcgetattr(slave)
        new = cbreak(mode)
        assert new[3] == mode[3] & ~(termios.ECHO | termios.ICANON)
        assert new[:3] == mode[:3] and new[6][termios.VMIN] == 1 and new[6][termios.VTIME] == 0
        assert new[3] & termios.ISIG  # ^C and ^Z still reach us as signals
    finally:
        os.close(master)
        os.close(slave)
