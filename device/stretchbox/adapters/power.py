"""Switching the Pi off: the configured command, started and never waited on."""

from __future__ import annotations

import logging
import subprocess

log = logging.getLogger("stretchbox.app")  # the name its log lines always had


def spawn(command: tuple[str, ...]) -> None:
    """Start ``command``; systemd will stop us (SIGTERM) as part of the shutdown it begins."""
    try:
        subprocess.Popen(list(command), stdin=subprocess.DEVNULL)
    except OSError:
        log.exception("power-off command %s failed", command)
