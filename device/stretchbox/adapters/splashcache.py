"""The config's display section, kept beside the state, for the next start's splash.

The splash is drawn before YAML is even imported (start-up on a Pi Zero is slow): when the
config file is the same file, unchanged (inode, size, mtime and ctime to the nanosecond), as
at the last start that loaded it without a problem, its display section is read back from this
small JSON file instead of the file being parsed and checked first. Anything else (no such file,
another config, a changed one, a torn or foreign file) means the config is read as always. In
every case the whole config is loaded and checked right after the splash, and that load writes
this file again when it differs.
"""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path

from ..config import Display

NAME = "display-for-splash.json"


def _stamp(config_path: Path) -> list:
    st = os.stat(config_path)
    return [os.path.abspath(config_path), st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns]


def recall(folder: Path, config_path: Path) -> Display | None:
    """The display section last loaded from ``config_path`` when the file is unchanged since, else None.

    >>> import tempfile
    >>> folder = Path(tempfile.mkdtemp()); config = folder / "config.yaml"
    >>> _ = config.write_text("display:\\n  rotate: 2\\n")
    >>> remember(folder, config, Display(rotate=2)); recall(folder, config).rotate
    2
    >>> _ = config.write_text("display:\\n  rotate: 1\\n"); recall(folder, config) is None
    True
    """
    try:
        data = json.loads((folder / NAME).read_text())
        if data["config"] != _stamp(config_path):
            return None
        default = Display()
        values = data["display"]
        if set(values) != {f.name for f in dataclasses.fields(Display)} or any(
                type(v) is not type(getattr(default, k)) for k, v in values.items()):
            return None  # not what this version writes: read the config
        return Display(**values)
    except (OSError, ValueError, TypeError, KeyError):
        return None


def remember(folder: Path, config_path: Path, display: Display) -> None:
    """Keep ``display`` for the next start while ``config_path`` stays as it is now (the caller writes only
    what differs from ``recall``); nothing when the folder is missing or read-only (the cache only saves
    start-up time)."""
    if not folder.is_dir():
        return
    temp = folder / f".{NAME}.tmp"
    try:
        temp.write_text(json.dumps({"config": _stamp(config_path), "display": dataclasses.asdict(display)}))
        os.replace(temp, folder / NAME)  # torn by a power cut: recall() reads no JSON and the config is read
    except OSError as exc:
        import logging  # not at the top: this module is imported before the splash

        logging.getLogger("stretchbox").info("not keeping the display settings for the next splash: %s", exc)
