"""What one import did, and IMPORT-REPORT.txt on the stick.

This module exists so that the words the user reads about an import (the
report's text, the one line for the OLED, why nothing changed, why the report
is not on the stick) are apart from the pipeline that gathers the facts.

The stick is never written during an import except ``IMPORT-REPORT.txt`` in its
``stretchbox`` folder, and only when it is writable (the device mounts sticks
read-only, so on the device it is written only if an admin mounts read-write; the
CLI on a laptop writes it). Writing the report can never fail the import; when
it cannot be written the CLI says why (read-only, full, a folder in the way)
and so does the device's notice. On a full stick the previous report (the
device's own file) is removed so that it does not stand for this import.
"""

from __future__ import annotations

import errno
import os
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path

from ...core.text import printable
from ..files import display_path
from ..yamlfile import FileProblem
from ..files import fsync_dir, write_durable
from .store import KeptFile, fold

REPORT_NAME = "IMPORT-REPORT.txt"
STICK_GONE = "stick removed or unreadable"
NOTHING_VALID = "no routine could be imported"
# Why a report is missing when the stick is mounted read-only, as the device always mounts it.
READ_ONLY_STICK = "the stick is read-only"


@dataclass(frozen=True)
class ImportedRoutine:
    name: str  # the routine's name: field
    file: str  # as found in the stick's folder (raw: show it with display_path)
    stored: str  # file name in the library (raw)


MAX_SHOWN_SKIPPED = 50  # litter lines shown in the report; the rest are counted


@dataclass
class ImportReport:
    """What one import did; ``library_changed`` is what a reader of the library sees, observed, not assumed.

    ``exit_code`` is the CLI's: 0 the library was replaced and everything on the
    stick was imported, 1 replaced but some files were rejected, 2 the library was
    not changed.
    """

    source: str
    folder: str | None = None  # the stretchbox folder read, when found
    imported: list[ImportedRoutine] = field(default_factory=list)
    rejected: list[FileProblem] = field(default_factory=list)  # each problem, `file:line:col: message`
    kept_previous: list[str] = field(default_factory=list)  # routine names kept from the old library
    kept_user: list[KeptFile] = field(default_factory=list)  # files in the library the device did not make
    warnings: list[FileProblem] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # litter, one line each
    fatal: str | None = None  # why nothing was imported
    library_changed: bool = False
    report_written: bool = False  # IMPORT-REPORT.txt on the stick
    report_error: str | None = None  # why it was not written (read-only, full, a folder in the way)
    newest_file: float | None = None  # the newest routine file's time (epoch): the clock of the laptop that wrote it

    @property
    def exit_code(self) -> int:
        if not self.library_changed:
            return 2
        return 1 if self.rejected else 0

    def first_problem(self) -> str | None:
        """The first problem as ``file:line: message`` (short enough for the OLED)."""
        if not self.rejected:
            return None
        p = self.rejected[0]
        return f"{p.file}:{p.line}: {p.message}"

    def why_unchanged(self) -> str:
        """Why the library was not changed: the fatal reason, or the first problem when none was valid."""
        reason = self.fatal or NOTHING_VALID
        first = self.first_problem()
        return first if reason == NOTHING_VALID and first else reason

    def summary_line(self) -> str:
        """One line for the OLED: how many routines, and the first problem if any."""
        first = self.first_problem()
        if not self.library_changed:
            return f"No routines imported: {self.why_unchanged()}"
        n = len(self.imported)
        head = f"{n} routine{'s' if n != 1 else ''} imported"
        return f"{head}; {first}" if first else head

    def report_note(self) -> str | None:
        """Why IMPORT-REPORT.txt is not on the stick, in a few words (None when it is, or no folder was found,
        or the stick was read-only: the device always mounts sticks so, and saying it on every import is noise)."""
        if self.report_written or self.folder is None or self.report_error == READ_ONLY_STICK:
            return None
        return f"no report on the stick: {self.report_error or 'not written'}"

    def text(self) -> str:
        """The whole report, for IMPORT-REPORT.txt and the CLI; one line per item, names shown escaped."""
        out = ["stretchbox import report", f"Source: {display_path(self.source)}"]
        if self.folder:
            out.append(f"Folder: {display_path(self.folder)}")
        out.append(f"Result: {self.summary_line()}")
        imported = [f"{display_path(r.file)}: {r.name}" for r in self.imported]
        kept_user = [display_path(k.name) if k.where is None else
                     f"{display_path(k.name)}: left in {display_path(k.where)} (the new library has a file of that name)"
                     for k in sorted(self.kept_user, key=lambda k: (fold(k.name), k.name))]
        skipped = self.skipped[:MAX_SHOWN_SKIPPED]
        if len(self.skipped) > MAX_SHOWN_SKIPPED:
            skipped.append(f"... and {len(self.skipped) - MAX_SHOWN_SKIPPED:,} more")
        if self.library_changed:
            sections = [("Imported", imported), ("Kept the previous version", self.kept_previous)]
        else:  # nothing of this stick is in the library: say so, never list it as imported
            sections = [("Valid, but not imported", imported)]
        sections += [("Kept, not made by the device", kept_user), ("Problems", self.rejected),
                     ("Warnings", self.warnings), ("Skipped", skipped)]
        for title, items in sections:
            if items:
                out.append(f"{title} ({len(items)}):")
                out += [f"  {printable(str(item))}" for item in items]  # a safety net: one line each
        if not self.library_changed:
            out.append("The library on the device was not changed.")
        return "\n".join(out) + "\n"



def write_stick_report(folder: Path, report: ImportReport) -> tuple[bool, str | None]:
    """IMPORT-REPORT.txt in the stick's folder, atomically (tmp + rename, fsynced).

    Returns (written, why not). Never raises: the import has already happened or not.
    When the stick is full, the previous report (the device's own file) is removed
    and the write tried once more, so a stale report never stands for this import.
    """
    data = report.text().replace("\n", "\r\n").encode("utf-8", "backslashreplace")
    tmp = folder / "IMPORT-REPORT.tmp"
    why = None
    for attempt in (1, 2):
        try:
            with suppress(FileNotFoundError):
                os.unlink(tmp)
            write_durable(tmp, data)
            os.replace(tmp, folder / REPORT_NAME)
            fsync_dir(folder)
            return True, None
        except OSError as exc:
            with suppress(OSError):
                os.unlink(tmp)
            why = _report_error(folder, exc)
            if attempt == 1 and exc.errno in (errno.ENOSPC, errno.EDQUOT):
                with suppress(OSError):
                    os.unlink(folder / REPORT_NAME)
                continue
            break
        except Exception as exc:  # noqa: BLE001 - writing the report must never undo what the import did
            why = f"{type(exc).__name__}: {exc}"
            break
    return False, why


def _report_error(folder: Path, exc: OSError) -> str:
    if exc.errno == errno.EROFS:
        return READ_ONLY_STICK
    if exc.errno in (errno.EISDIR, errno.ENOTEMPTY, errno.EEXIST):
        for name in (REPORT_NAME, "IMPORT-REPORT.tmp"):
            if (folder / name).is_dir() and not (folder / name).is_symlink():
                return f"{name} is a folder"
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return "the stick is full"
    return exc.strerror or str(exc)
