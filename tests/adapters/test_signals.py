"""Signals sent to the process reach the main thread's wait at once (adapters/signals.py).

The kernel skips a stopped thread when it picks one for a signal: after SIGSTOP, the
SIGCONT often lands on a worker, and the Python handler then waits for the main
thread's next deadline (seen: 5 s in 2 of 6 runs with plain threads; a pty test of
Ctrl-Z and fg timed out the same way). Workers started through ``start_thread``
block the signals, so the main thread takes them.
"""

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time

from stretchbox.adapters.signals import MAIN_THREAD_SIGNALS, signals_blocked, start_thread

PROGRAM = textwrap.dedent("""
    import queue, signal, sys, time
    from stretchbox.adapters.signals import start_thread

    inbox = queue.Queue()
    signal.signal(signal.SIGCONT, lambda *a: inbox.put("cont"))
    for n in range(3):
        start_thread(lambda: time.sleep(3600), f"worker-{n}")
    print("ready", flush=True)
    started = time.monotonic()
    try:
        inbox.get(timeout=8)  # the loop's wait, with a long deadline
        print(f"woke {time.monotonic() - started:.2f}", flush=True)
    except queue.Empty:
        print("slept through", flush=True)
""")


def stop_and_continue() -> float:
    proc = subprocess.Popen([sys.executable, "-c", PROGRAM], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "ready"
        time.sleep(0.2)
        os.kill(proc.pid, signal.SIGSTOP)
        time.sleep(0.2)
        stopped_for = time.monotonic()
        os.kill(proc.pid, signal.SIGCONT)
        line = proc.stdout.readline().strip()
        assert line.startswith("woke"), line
        return time.monotonic() - stopped_for
    finally:
        proc.kill()
        proc.wait(timeout=30)
        proc.stdout.close()


def test_sigcont_after_a_stop_wakes_the_main_threads_wait_at_once():
    delays = [stop_and_continue() for _ in range(6)]
    assert max(delays) < 3.0, delays  # the wait's deadline is 8 s: no run slept through to it


def blocked_signals(thread_id: int) -> int:
    with open(f"/proc/self/task/{thread_id}/status") as status:
        for line in status:
            if line.startswith("SigBlk:"):
                return int(line.split()[1], 16)
    raise AssertionError("no SigBlk line")


def test_workers_block_the_main_threads_signals_and_the_main_thread_does_not():
    release = threading.Event()
    worker = start_thread(release.wait, "probe")
    try:
        mask = blocked_signals(worker.native_id)
        assert all(mask >> (s - 1) & 1 for s in MAIN_THREAD_SIGNALS), hex(mask)
        assert not any(blocked_signals(threading.get_native_id()) >> (s - 1) & 1 for s in MAIN_THREAD_SIGNALS)
    finally:
        release.set()
        worker.join(timeout=5)


def test_threads_a_library_starts_inside_signals_blocked_inherit_the_mask():
    release = threading.Event()
    with signals_blocked():
        library_thread = threading.Thread(target=release.wait, daemon=True)
        library_thread.start()
    try:
        mask = blocked_signals(library_thread.native_id)
        assert mask >> (signal.SIGTERM - 1) & 1
        assert not blocked_signals(threading.get_native_id()) >> (signal.SIGTERM - 1) & 1  # restored
    finally:
        release.set()
        library_thread.join(timeout=5)
