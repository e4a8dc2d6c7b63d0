"""The history to a USB stick, for a user without SSH (README: "History on a stick").

The service is unprivileged and sees sticks only read-only, so it never writes one itself. It
stages the CSV in its state folder (``stage_export``) and asks systemd, through polkit, to start
``stretchbox-export@<kernel name>.service`` (``start_export``): a minimal root oneshot
(systemd/stretchbox-export@.service and its script systemd/stretchbox-export) that mounts the
stick read-write in its own mount namespace for that one write, only if the stick's
``stretchbox/`` folder holds ``EXPORT-HISTORY`` (``export_requested`` is the service's look at it).
"""

from __future__ import annotations

import logging
import os
import re
import subprocess
import threading
from pathlib import Path

from .library.importer import FOLDER_NAME
from .files import replace_durably
from .library.store import fold
from .signals import start_thread

log = logging.getLogger(__name__)

REQUEST_FILE = "EXPORT-HISTORY"  # in the stick's stretchbox/ folder: "write my history here"
EXPORT_NAME = "stretchbox-history.csv"  # the name on the stick and in the state folder's export/
STAGED = Path("export") / EXPORT_NAME  # in the state folder; the unit's StandardInput=file: reads it
UNIT = "stretchbox-export@{}.service"  # the polkit rule lets the service user start only these
_KERNEL_NAME = re.compile(r"[A-Za-z0-9]+")  # sda1, sdb: what the unit's script accepts as its instance


def export_requested(stick_root: Path) -> bool:
    """The stick's ``stretchbox`` folder (any case, as the importer finds it) holds ``EXPORT-HISTORY``.

    Never raises: a stick that cannot be read asks for nothing (one log line).
    """
    try:
        with os.scandir(stick_root) as entries:
            folders = [e for e in entries if fold(e.name) == FOLDER_NAME and e.is_dir(follow_symlinks=False)]
        if not folders:
            return False
        folders.sort(key=lambda e: e.name != FOLDER_NAME)  # the exact name first, as the importer does
        with os.scandir(folders[0].path) as entries:
            return any(fold(e.name) == fold(REQUEST_FILE) and e.is_file(follow_symlinks=False) for e in entries)
    except OSError as exc:
        log.warning("cannot look for %s on %s: %s", REQUEST_FILE, stick_root, exc)
        return False


def stage_export(state_folder: Path, csv_text: str) -> Path:
    """Write ``export/stretchbox-history.csv`` in the state folder atomically; return its path.

    Temp file, fsync, rename, fsync of the folder: the export unit reads either the previous
    CSV or this one, never a half-written file, even after a power cut.
    """
    path = state_folder / STAGED
    path.parent.mkdir(mode=0o750, parents=True, exist_ok=True)
    replace_durably(path, csv_text.encode("utf-8"), 0o644)
    return path


def export_command(kernel_name: str) -> list[str]:
    """``systemctl start --no-block stretchbox-export@<kernel_name>.service``; ValueError for a bad name."""
    if not _KERNEL_NAME.fullmatch(kernel_name):
        raise ValueError(f"not a kernel block device name (sda1): {kernel_name!r}")
    return ["systemctl", "start", "--no-block", UNIT.format(kernel_name)]


def start_export(kernel_name: str) -> threading.Thread:
    """Ask systemd to start the export unit for the stick ``kernel_name`` (sda1), from a thread.

    ``--no-block`` returns once the job is queued, or at once when polkit says no; the caller never
    waits (the thread is returned for tests). A refusal or a missing systemctl is one log line; what
    the unit did is in its own log (``journalctl -u 'stretchbox-export@*'``).
    """
    command = export_command(kernel_name)
    return start_thread(lambda: _run(command), name="export")


def _run(command: list[str]) -> None:
    try:
        done = subprocess.run(command, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as exc:
        log.warning("export command %s failed: %s", command, exc)
        return
    if done.returncode != 0:
        log.warning("export command %s failed (exit %d): %s", command, done.returncode, done.stderr.strip())
