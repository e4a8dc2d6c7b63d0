"""The state journal: where a routine was, so a restart can resume it.

Written whole and atomically (a temp file in the same folder, fsync, rename
over the journal, fsync of the folder): after a power cut the journal is the
old one or the new one, never half of each. It is written at phase boundaries,
pause and resume, not every second (SD cards wear): ``writes`` counts them.

The file holds ``{"v": JOURNAL_VERSION, "boot": <boot id>, "state": <the
session's snapshot>}``; ``read`` gives back ``{"boot": ..., "state": ...}``, so
resume can tell a restart of the service in this boot from a reboot.
Anything it cannot use (torn, empty, not JSON, another version) is ignored
with one log line naming the file: never a crash.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

from .files import NotRegularFile, display_path, fsync_dir, read_regular, replace_durably

log = logging.getLogger(__name__)

NAME = "journal.json"
JOURNAL_VERSION = 1
MAX_JOURNAL = 64 * 1024  # bytes: a snapshot is a few hundred; anything this big is not ours
BOOT_ID = Path("/proc/sys/kernel/random/boot_id")


def current_boot_id(path: Path = BOOT_ID) -> str | None:
    """This boot's id (Linux makes a new one at every boot), or None where it cannot be read."""
    try:
        return path.read_text(encoding="ascii").strip() or None
    except (OSError, ValueError):
        return None


class JournalFile:
    """The journal in ``folder`` (the state folder), for the boot ``boot`` (default: this one)."""

    def __init__(self, folder: str | os.PathLike, boot: str | None = None, *, name: str = NAME):
        self.folder = Path(folder)
        self.path = self.folder / name
        self.boot = boot if boot is not None else current_boot_id()
        self.writes = 0  # journal writes by this object: the figure behind "at most 3 per side"

    def write(self, state: dict) -> None:
        """Replace the journal with ``state`` (JSON-able), atomically. OSError when the disk refuses."""
        data = json.dumps({"v": JOURNAL_VERSION, "boot": self.boot, "state": state}, ensure_ascii=False,
                          allow_nan=False, separators=(",", ":")).encode()
        self.folder.mkdir(parents=True, exist_ok=True)
        replace_durably(self.path, data)
        self.writes += 1

    def read(self) -> dict | None:
        """``{"boot": ..., "state": {...}}`` as written last, or None: missing (silently) or unusable
        (with one log line)."""
        try:
            size, data = read_regular(self.path, MAX_JOURNAL, follow_symlinks=False)
        except FileNotFoundError:
            return None
        except NotRegularFile as exc:
            return self._ignored(exc.args[0])
        except OSError as exc:
            return self._ignored(exc.strerror or str(exc))
        if size > MAX_JOURNAL:
            return self._ignored(f"{size:,} bytes, over the {MAX_JOURNAL:,}-byte limit")
        if not data.strip():
            return self._ignored("empty")
        try:
            saved = json.loads(data)
        except (ValueError, RecursionError) as exc:  # torn, binary, not UTF-8, nested too deep
            return self._ignored(f"not JSON ({str(exc)[:80]})")
        if not isinstance(saved, dict) or not isinstance(saved.get("state"), dict):
            return self._ignored("not a journal (no state mapping)")
        if saved.get("v") != JOURNAL_VERSION or isinstance(saved.get("v"), bool):
            return self._ignored(f"version {str(saved.get('v'))[:10]}, this device reads {JOURNAL_VERSION}")
        boot = saved.get("boot")
        return {"boot": boot if isinstance(boot, str) else None, "state": saved["state"]}

    def written_this_boot(self, saved: dict) -> bool:
        """A journal ``read`` returned was written in this boot (a restart), not before a reboot."""
        return saved["boot"] is not None and saved["boot"] == self.boot

    def _ignored(self, why: str) -> None:
        log.warning("%s: journal ignored: %s", display_path(self.path), why)
        return None

    def clear(self) -> None:
        """No journal: the session ended (it is in the history now)."""
        try:
            self.path.unlink()
        except FileNotFoundError:
            return
        fsync_dir(self.folder)
