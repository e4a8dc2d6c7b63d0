"""Wake-ups per second of the real program, idle and running, against a bare Python loop.

A wake-up is a voluntary context switch: the process blocked (futex, select,
poll...) and the kernel woke it. Each process's count is the sum over all its
threads of ``voluntary_ctxt_switches`` in ``/proc/PID/task/*/status``, read
before and after the same window; every variant runs at the same time, for the
same window, after a warm-up (start-up, first frame, the routine's start).

Variants (all ``stretchbox run --display dummy --pins mock``, stdin /dev/null as
under systemd unless said):

* baseline: the venv's Python doing ``queue.get(timeout=1)`` in a loop (one
  wake-up a second is the floor of a loop that waits on a queue with a 1 s deadline);
* idle: the idle screen, no routine running;
* running: ``--start``, the default routine from its first second;
* idle + watchdog: as the unit runs it, ``$NOTIFY_SOCKET`` (a socket this
  benchmark reads) and ``WatchdogSec=30s`` (``WATCHDOG_USEC``);
* idle in a terminal: stdin a pseudo-terminal with the program in its
  foreground, so the keyboard thread runs (``make run`` on a laptop, never the device).

Targets: idle <= 1.5/s, running <= 3/s. Run: ``make bench`` or
``python benchmarks/bench_wakeups.py [--duration S]`` (default 30 s).
"""

from __future__ import annotations

import argparse
import fcntl
import os
import select
import socket
import subprocess
import sys
import tempfile
import termios
import threading
import time
from pathlib import Path

BIN = Path(sys.executable).parent
PROGRAM = [str(BIN / "stretchbox"), "run"]
BASELINE = ("import queue\nq = queue.Queue()\nwhile True:\n"
            "    try:\n        q.get(timeout=1)\n    except queue.Empty:\n        pass\n")
TARGETS = {"idle": 1.5, "running": 3.0, "idle + watchdog": 1.5, "idle in a terminal": 1.5}
WATCHDOG_USEC = 30_000_000  # WatchdogSec=30s in systemd/stretchbox.service


def switches(pid: int) -> dict[int, int]:
    """Voluntary context switches of each thread of ``pid`` (tid -> count)."""
    counts = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            for line in (task / "status").read_text().splitlines():
                if line.startswith("voluntary_ctxt_switches:"):
                    counts[int(task.name)] = int(line.split()[1])
        except (FileNotFoundError, ProcessLookupError):  # the thread ended meanwhile
            pass
    return counts


def wchan(pid: int, tid: int) -> str:
    """The kernel function a thread sleeps in (futex: a lock or queue wait; do_sys_poll, do_select...)."""
    try:
        return Path(f"/proc/{pid}/task/{tid}/wchan").read_text().strip().split(".")[0] or "running"
    except OSError:
        return "?"


class MountChanges(threading.Thread):
    """Counts changes of the mount table (the USB watcher thread wakes on each, by design)."""

    def __init__(self):
        super().__init__(daemon=True)
        self.count, self.stop = 0, threading.Event()

    def run(self) -> None:
        with open("/proc/self/mountinfo") as table:
            poller = select.poll()
            poller.register(table, select.POLLPRI | select.POLLERR)
            while not self.stop.is_set():
                if poller.poll(100):
                    self.count += 1
                    table.seek(0)
                    table.read()


def controlling_tty() -> None:
    """In the child: a session of its own with stdin (a pty) as its controlling terminal, foreground."""
    os.setsid()
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


def start(name: str, tmp: Path, options: list[str]):
    """(process, things to close afterwards) for one variant."""
    # a state folder of its own: a journal left in the machine's would be resumed by the next run
    env = dict(os.environ, PYTHONUNBUFFERED="1", STATE_DIRECTORY=str(tmp / "state"))
    for key in ("NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID"):
        env.pop(key, None)
    keep: list = []
    stdin, preexec = subprocess.DEVNULL, None
    if name == "baseline":
        argv = [sys.executable, "-c", BASELINE]
    else:
        argv = PROGRAM + options + (["--start"] if name == "running" else [])
    if name == "idle + watchdog":
        path = str(tmp / "notify")
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        sock.bind(path)
        sock.setblocking(False)
        keep.append(sock)
        env.update(NOTIFY_SOCKET=path, WATCHDOG_USEC=str(WATCHDOG_USEC))
    if name == "idle in a terminal":
        master, slave = os.openpty()
        keep += [master, slave]
        stdin, preexec = slave, controlling_tty
    errors = open(tmp / "stderr", "w+")  # a file, not a pipe: a chatty run cannot fill it and block
    keep.append(errors)
    proc = subprocess.Popen(argv, stdin=stdin, stdout=subprocess.DEVNULL, stderr=errors, env=env,
                            preexec_fn=preexec, cwd=tmp)
    return proc, keep


def stop(started: dict, timeout: float) -> None:
    """End every variant ``start`` began and close what it kept open."""
    for proc, keep in started.values():
        proc.terminate()
        proc.wait(timeout)
        for k in keep:
            os.close(k) if isinstance(k, int) else k.close()


def notify_messages(keep) -> list[str]:
    out = []
    for sock in (k for k in keep if isinstance(k, socket.socket)):
        while True:
            try:
                out.append(sock.recv(4096).decode())
            except BlockingIOError:
                break
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=30.0, help="seconds measured (default 30)")
    parser.add_argument("--warmup", type=float, default=3.0, help="seconds before measuring (default 3)")
    parser.add_argument("--display", default="dummy", help="as for stretchbox run (default dummy)")
    # Not real pins: the variants run at once, and a real line has one owner (bench_pins_on_a_kernel.py).
    parser.add_argument("--pins", default="mock", help="as for stretchbox run (default mock)")
    args = parser.parse_args()
    options = ["--display", args.display, "--pins", args.pins]
    names = ["baseline", "idle", "running", "idle + watchdog", "idle in a terminal"]
    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        started = {}
        for name in names:
            cwd = tmp / name.replace(" ", "_")
            cwd.mkdir()
            started[name] = start(name, cwd, options)
        try:
            time.sleep(args.warmup)
            for name, (proc, _) in started.items():
                if proc.poll() is not None:
                    log = (tmp / name.replace(" ", "_") / "stderr").read_text()
                    raise SystemExit(f"{name}: exited {proc.returncode} during warm-up: {log}")
            mounts = MountChanges()
            mounts.start()
            before = {name: switches(proc.pid) for name, (proc, _) in started.items()}
            t0 = time.monotonic()
            time.sleep(args.duration)
            after = {name: switches(proc.pid) for name, (proc, _) in started.items()}
            window = time.monotonic() - t0
            mounts.stop.set()
            sleeping = {name: {tid: wchan(proc.pid, tid) for tid in after[name]}
                        for name, (proc, _) in started.items()}
            pings = len([m for m in notify_messages(started["idle + watchdog"][1]) if "WATCHDOG=1" in m])
        finally:
            stop(started, timeout=10)

    print(f"wake-ups (voluntary context switches, all threads) over the same {window:.1f} s window, "
          f"after {args.warmup:.0f} s of warm-up; stretchbox run {' '.join(options)}")
    print(f"{'variant':<22} {'threads':>7} {'switches':>8} {'per s':>7} {'target':>12}  "
          "per thread, main first (where it sleeps)")
    base_rate = None
    for name in names:
        b, a = before[name], after[name]
        per_thread = {tid: a[tid] - b.get(tid, 0) for tid in sorted(a)}
        gone = set(b) - set(a)
        total = sum(per_thread.values())
        rate = total / window
        base_rate = rate if name == "baseline" else base_rate
        target = TARGETS.get(name)
        verdict = "" if target is None else f"<= {target:g} {'ok' if rate <= target else 'MISSED'}"
        detail = " ".join(f"{per_thread[t]} ({sleeping[name][t]})" for t in sorted(per_thread))
        extra = f" (+{len(gone)} thread(s) ended)" if gone else ""
        print(f"{name:<22} {len(a):>7} {total:>8} {rate:>7.2f} {verdict:>12}  {detail}{extra}")
    print(f"baseline = the floor of queue.get(timeout=1): {base_rate:.2f}/s; "
          f"watchdog pings sent by the idle + watchdog run (warm-up included): {pings} "
          f"(WatchdogSec={WATCHDOG_USEC // 1_000_000} s, a ping every half of it)")
    print(f"mount table changes during the window (by anything on this machine: the USB watcher, "
          f"the second thread, wakes on each): {mounts.count}")


if __name__ == "__main__":
    main()
