"""The mount watcher: mountinfo parsing (pure), check() over a file we write, and the real poll()
on /proc/self/mountinfo inside a private mount namespace (skipped where unshare/mount are not allowed)."""

from __future__ import annotations

import json
import os
import queue
import shutil
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from stretchbox.adapters.usbwatch import (
    MountWatcher, StickMounted, StickRemoved, changes, gone_mounts, mount_points, new_mounts,
)

BASE = """\
22 1 259:2 / / rw,relatime shared:1 - ext4 /dev/root rw
23 22 0:21 / /proc rw,nosuid,nodev,noexec,relatime shared:12 - proc proc rw
35 22 0:31 / /media/stretchbox rw,relatime shared:20 - tmpfs tmpfs rw
"""
AUTOFS = "90 35 0:45 / /media/stretchbox/sda1 rw,relatime shared:40 - autofs systemd-1 rw,fd=51,pgrp=1\n"
VFAT = "91 90 8:1 / /media/stretchbox/sda1 ro,nosuid,nodev,noexec,relatime shared:41 - vfat /dev/sda1 ro,fmask=0022\n"
LABEL = "92 35 8:17 / /media/stretchbox/MY\\040STICK ro,relatime shared:42 - vfat /dev/sdb1 ro\n"
ELSEWHERE = "93 22 8:33 / /media/stretchboxes/sdc1 ro,relatime shared:43 - vfat /dev/sdc1 ro\n"


def test_mount_points_strictly_below_the_prefix():
    text = BASE + AUTOFS + VFAT + LABEL + ELSEWHERE
    assert mount_points(text, "/media/stretchbox") == {
        Path("/media/stretchbox/sda1"), Path("/media/stretchbox/MY STICK")}


def test_new_and_gone_mounts():
    assert new_mounts(BASE, BASE + AUTOFS, "/media/stretchbox") == [Path("/media/stretchbox/sda1")]
    assert new_mounts(BASE + AUTOFS, BASE + AUTOFS + VFAT, "/media/stretchbox") == []  # the real mount on access
    assert gone_mounts(BASE + AUTOFS + VFAT, BASE + AUTOFS, "/media/stretchbox") == []  # idle unmount
    assert gone_mounts(BASE + AUTOFS + VFAT, BASE, "/media/stretchbox") == [Path("/media/stretchbox/sda1")]
    assert changes(BASE + AUTOFS, BASE + LABEL, "/media/stretchbox") == [
        StickRemoved(Path("/media/stretchbox/sda1")), StickMounted(Path("/media/stretchbox/MY STICK"))]
    assert changes(BASE, BASE + ELSEWHERE, "/media/stretchbox") == []


def test_garbage_lines_are_ignored():
    assert mount_points("\n\nnot mountinfo\n" + AUTOFS, "/media/stretchbox") == {Path("/media/stretchbox/sda1")}


def test_check_over_a_file_we_write(tmp_path):
    """Honest scope: the thread's poll() never fires on a regular file; check() is what it calls."""
    info = tmp_path / "mountinfo"
    info.write_text(BASE + VFAT)
    inbox: queue.Queue = queue.Queue()
    watcher = MountWatcher(inbox, "/media/stretchbox", mountinfo=info).start()
    try:
        assert inbox.get_nowait() == StickMounted(Path("/media/stretchbox/sda1"))  # in at boot
        info.write_text(BASE + VFAT + LABEL)
        assert watcher.check() == [StickMounted(Path("/media/stretchbox/MY STICK"))]
        info.write_text(BASE)
        assert watcher.check() == [StickRemoved(Path("/media/stretchbox/MY STICK")),
                                   StickRemoved(Path("/media/stretchbox/sda1"))]
        assert watcher.check() == []
        assert [inbox.get_nowait() for _ in range(3)] == [
            StickMounted(Path("/media/stretchbox/MY STICK")),
            StickRemoved(Path("/media/stretchbox/MY STICK")), StickRemoved(Path("/media/stretchbox/sda1"))]
        assert inbox.empty()
    finally:
        watcher.stop()
    watcher.stop()  # twice is fine


def test_announce_existing_false(tmp_path):
    info = tmp_path / "mountinfo"
    info.write_text(BASE + VFAT)
    inbox: queue.Queue = queue.Queue()
    with MountWatcher(inbox, "/media/stretchbox", mountinfo=info).start(announce_existing=False) as w:
        assert inbox.empty() and w.check() == []


def test_the_watcher_thread_sleeps_in_poll():
    """On the real /proc/self/mountinfo nothing changes here: the process uses ~no CPU while it waits."""
    inbox: queue.Queue = queue.Queue()
    watcher = MountWatcher(inbox, "/nonexistent-prefix").start()
    try:
        cpu = time.process_time()
        time.sleep(0.5)
        assert time.process_time() - cpu < 0.05
        assert watcher._thread is not None and watcher._thread.is_alive()
    finally:
        watcher.stop()
    assert inbox.empty()


CHILD = textwrap.dedent("""
    import json, queue, subprocess, sys
    from pathlib import Path
    from stretchbox.adapters.usbwatch import MountWatcher
    prefix = Path(sys.argv[1])
    inbox = queue.Queue()
    out = []
    with MountWatcher(inbox, prefix):
        subprocess.run(["mount", "-t", "tmpfs", "-o", "ro,size=64k", "stick", str(prefix / "sda1")], check=True)
        out.append(repr(inbox.get(timeout=5)))
        subprocess.run(["umount", str(prefix / "sda1")], check=True)
        out.append(repr(inbox.get(timeout=5)))
    print(json.dumps(out))
""")


def test_real_poll_on_mountinfo_in_a_private_mount_namespace(tmp_path):
    """A tmpfs mounted and unmounted under the prefix wakes the thread (needs root and unshare(2))."""
    unshare = shutil.which("unshare")
    if unshare is None or os.geteuid() != 0:
        pytest.skip("needs root and unshare(1) to mount in a private namespace")
    probe = subprocess.run([unshare, "--mount", "--propagation", "private", "true"], capture_output=True)
    if probe.returncode != 0:
        pytest.skip(f"unshare --mount not permitted here: {probe.stderr.decode().strip()}")
    prefix = tmp_path / "media"
    (prefix / "sda1").mkdir(parents=True)
    run = subprocess.run([unshare, "--mount", "--propagation", "private", sys.executable, "-c", CHILD, str(prefix)],
                         capture_output=True, text=True, timeout=30)
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout) == [f"StickMounted(path={prefix / 'sda1'!r})",
                                      f"StickRemoved(path={prefix / 'sda1'!r})"]
