"""The CLI's two library commands, ``stretchbox import`` and ``stretchbox routines`` (wired by cli.py).

This module exists so that printing (and terminals that cannot show every
character) stays out of the import pipeline and the store.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TextIO

from ...core.frame import clock_text
from ...core.text import printable
from ..files import display_path
from .importer import import_routines
from .report import REPORT_NAME
from .store import list_routines


def import_command(source: Path, library: Path, out: TextIO | None = None) -> int:
    """``stretchbox import SOURCE [--library DIR]``: print the report, return 0/1/2."""
    out = out or sys.stdout
    report = import_routines(Path(source), Path(library))
    text = report.text()
    if report.folder:
        where = display_path(str(Path(report.folder) / REPORT_NAME))
        text += (f"Report written to {where}\n" if report.report_written
                 else f"Report not written to the stick ({report.report_error}): {where}\n")
    _write(out, text)
    return report.exit_code


def routines_command(library: Path, out: TextIO | None = None) -> int:
    """``stretchbox routines [--library DIR]``: list the routines; 1 when the library has problems."""
    out = out or sys.stdout
    infos, problems = list_routines(Path(library))
    lines = [f"Library: {display_path(str(library))}"]
    width = max((len(i.name) for i in infos), default=0)
    for i in infos:
        kind = "built-in" if i.builtin else "library "
        n = f"{i.stretches} stretch{'es' if i.stretches != 1 else ''}"
        lines.append(f"  {kind}  {i.name:<{width}}  {n:>12}  {clock_text(i.seconds):>6}  {display_path(i.file)}")
    lines.append(f"{len(infos)} routine{'s' if len(infos) != 1 else ''}")
    lines += [f"problem: {printable(str(p))}" for p in problems]
    _write(out, "\n".join(lines) + "\n")
    return 1 if problems else 0


def _write(out: TextIO, text: str) -> None:
    """Print, even to a terminal that cannot show every character (a routine named in another script)."""
    try:
        out.write(text)
    except UnicodeEncodeError:
        encoding = getattr(out, "encoding", None) or "ascii"
        out.write(text.encode(encoding, "backslashreplace").decode(encoding))
