"""The on-device routine library and THE import from a folder (a USB stick, or any folder).

One function, ``import_routines(source, library)``, serves the device (a stick was
mounted), the CLI (``stretchbox import SOURCE``) and the tests.

Where routines come from
    SOURCE's ``stretchbox/`` folder, in any case (``STRETCHBOX``, ``StretchBox``).
    SOURCE itself is used when it is itself named ``stretchbox`` (any case), so
    ``stretchbox import /media/stick/STRETCHBOX`` works too. Loose routine files at
    the top of some other folder are NOT imported (a stick's root may hold anybody's
    ``*.yml``): the report says to put them in a ``stretchbox`` folder. Only the
    folder's top level is read; ``*.yaml``/``*.yml`` in any case (8.3 ``POSTRUN.YML``).

What the library becomes
    The folder's valid routine files, stored under their case-folded file names
    (``POSTRUN.YML`` -> ``postrun.yml``), plus the icons they use. A file that
    fails validation keeps the library's previous file of the same (case-folded)
    name, if there is one. Routines that were in the library but are not on the
    stick are gone: the stick is the library. When nothing on the stick is usable
    (no routine files, every one rejected, SOURCE unreadable, stick pulled) the
    library is left exactly as it was and the exit code is 2.

    The built-in routines (``routines/`` in the package) are never stored in the
    library and always listed first. A routine whose ``name:`` is a built-in's
    (compared ignoring case) is rejected: the built-in default always stays the
    one the user knows. Two files with the same ``name:`` (ignoring case): the
    later file in name order is rejected, naming both files.

Icons
    A stretch ``icon:`` that is not a built-in icon name names a PNG beside the
    routine (``calf2`` or ``calf2.png``; found ignoring case). A valid one is copied
    into the library under ``icon_filename(icon)``. A missing icon is a warning
    (the device shows the generic icon); an icon that is a symlink, not a regular
    file, over 256 KiB, not a PNG, over 1024x1024 pixels, a decompression bomb or
    damaged is a problem (exit 1) and the routine is still imported, shown with the
    generic icon. Names with folders (``../x.png``, ``/etc/x.png``) are already
    refused by the routine validation (the whole file is rejected).
    If a kept previous routine and a new routine use the same icon file name,
    the new stick's icon is the one stored.

Atomicity (power may be cut at any instant)
    ``LIBRARY`` (e.g. /var/lib/stretchbox/library) is a symlink to
    ``LIBRARY.versions/<n>``. An import writes a staging folder
    ``LIBRARY.versions/.staging-*`` (every file fsynced, then the folder), renames
    it to ``LIBRARY.versions/<n+1>`` (fsync the versions folder), makes a new symlink
    beside ``LIBRARY`` and renames it over ``LIBRARY`` (one rename(2), then fsync
    the parent). Readers resolve the symlink once, so they see the old set or the
    new set. Older versions, staging leftovers and stray temporary links are removed
    after the switch, or by the next import or load. A plain folder found at
    ``LIBRARY`` (made by hand) is first moved into ``LIBRARY.versions/`` and linked.
    If ``LIBRARY`` is missing but versions exist (a crash between those two steps,
    or before the first link), the highest version is current.
    An ``flock`` on ``LIBRARY.versions/.lock`` serialises imports; loads take it
    shared.

The stick is never written during an import except ``IMPORT-REPORT.txt`` in its
``stretchbox`` folder, and only when it is writable (the device mounts sticks
read-only, so on the device it is written only if an admin mounts read-write; the
CLI on a laptop writes it). Writing the report can never fail the import.
"""

from __future__ import annotations

import errno
import fcntl
import io
import os
import shutil
import stat
import sys
import unicodedata
import warnings
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from ..core.frame import clock_text
from ..core.icons import BUILTIN_ICONS as CORE_ICONS
from ..core.routine import Routine
from .routines import builtin_dir, is_routine_name, load_builtin, load_routine, routine_files
from .files import NotRegularFile, read_regular
from .yamlfile import MAX_FILE_BYTES, FileError, FileProblem, load

DEFAULT_LIBRARY = Path("/var/lib/stretchbox/library")
FOLDER_NAME = "stretchbox"
REPORT_NAME = "IMPORT-REPORT.txt"

# The icons the renderer draws; their names live in the core, shared by render and adapters.
BUILTIN_ICONS = frozenset(CORE_ICONS)

MAX_ROUTINE_FILES = 100
MAX_ENTRIES = 2000  # directory entries looked at in one folder (a hostile stick may hold millions)
MAX_ICON_BYTES = 256 * 1024
MAX_ICON_PIXELS = (1024, 1024)
MAX_TOTAL_BYTES = 8 * 1024 * 1024  # everything read from the stick in one import

# Litter laptops leave on sticks: skipped with a note, never an error.
SYSTEM_ENTRIES = {
    ".spotlight-v100": "macOS Spotlight index",
    ".trashes": "macOS trash",
    ".fseventsd": "macOS file-system events",
    ".temporaryitems": "macOS temporary items",
    ".ds_store": "macOS folder settings",
    "system volume information": "Windows system folder",
    "$recycle.bin": "Windows recycle bin",
}
# Errors that concern one file on a readable stick; any other OSError means the stick went away.
_PER_FILE_ERRNOS = {errno.EACCES, errno.EPERM, errno.ELOOP, errno.EISDIR, errno.ENAMETOOLONG}


# ---------------------------------------------------------------- the report

@dataclass(frozen=True)
class ImportedRoutine:
    name: str  # the routine's name: field
    file: str  # as found in the stick's folder
    stored: str  # file name in the library


@dataclass
class ImportReport:
    """What one import did. ``exit_code`` is the CLI's: 0 all imported, 1 some rejected, 2 nothing usable."""

    source: str
    folder: str | None = None  # the stretchbox folder read, when found
    imported: list[ImportedRoutine] = field(default_factory=list)
    rejected: list[FileProblem] = field(default_factory=list)  # each problem, `file:line:col: message`
    kept_previous: list[str] = field(default_factory=list)  # routine names kept from the old library
    warnings: list[FileProblem] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # litter, one line each
    fatal: str | None = None  # why nothing was imported
    library_changed: bool = False
    report_written: bool = False  # IMPORT-REPORT.txt on the stick

    @property
    def exit_code(self) -> int:
        if self.fatal is not None or not self.imported:
            return 2
        return 1 if self.rejected else 0

    def first_problem(self) -> str | None:
        """The first problem as ``file:line: message`` (short enough for the OLED)."""
        if not self.rejected:
            return None
        p = self.rejected[0]
        return f"{p.file}:{p.line}: {p.message}"

    def summary_line(self) -> str:
        """One line for the OLED: how many routines, and the first problem if any."""
        first = self.first_problem()
        if self.exit_code == 2:
            reason = self.fatal or "no routine could be imported"
            return f"No routines imported: {first or reason}"
        n = len(self.imported)
        head = f"{n} routine{'s' if n != 1 else ''} imported"
        return f"{head}; {first}" if first else head

    def text(self) -> str:
        """The whole report, for IMPORT-REPORT.txt and the CLI."""
        out = ["stretchbox import report", f"Source: {self.source}"]
        if self.folder:
            out.append(f"Folder: {self.folder}")
        out.append(f"Result: {self.summary_line()}")
        sections = (("Imported", [f"{r.file}: {r.name}" for r in self.imported]),
                    ("Kept the previous version", self.kept_previous), ("Problems", self.rejected),
                    ("Warnings", self.warnings), ("Skipped", self.skipped))
        for title, items in sections:
            if items:
                out.append(f"{title} ({len(items)}):")
                out += [f"  {item}" for item in items]
        if self.exit_code == 2:
            out.append("The library on the device was not changed.")
        return "\n".join(out) + "\n"


class _Fatal(Exception):
    """Nothing can be imported; the message is for the user."""


STICK_GONE = "stick removed or unreadable"


# ---------------------------------------------------------------- small file helpers

def fold(name: str) -> str:
    """How names are compared: Unicode NFC (macOS writes NFD) and case-folded."""
    return unicodedata.normalize("NFC", name).casefold()


def icon_filename(icon: str) -> str:
    """The file an ``icon:`` value names: ``calf2`` -> ``calf2.png``; ``Calf2.PNG`` stays."""
    return icon if icon.lower().endswith(".png") else f"{icon}.png"


def icon_path(routine: Routine, icon: str) -> Path | None:
    """A library routine's own icon file, or None (built-in name, missing: draw the generic icon)."""
    if icon in BUILTIN_ICONS or not routine.source:
        return None
    path = Path(routine.source).parent / icon_filename(icon)
    return path if path.is_file() and not path.is_symlink() else None


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_durable(path: Path, data: bytes) -> None:
    """Create ``path`` (it must not exist), write everything, fsync."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
        os.fsync(fd)
    finally:
        os.close(fd)


def _read_source_file(path: Path, limit: int) -> tuple[int, bytes]:
    """(size, up to ``limit`` bytes) of a regular file on the stick, never following a symlink.

    A file larger than ``limit`` is not read at all. OSError passes through
    (NotRegularFile for anything but a regular file).
    """
    return read_regular(path, limit, follow_symlinks=False)


# ---------------------------------------------------------------- library layout

def versions_dir(library: Path) -> Path:
    return library.parent / f"{library.name}.versions"


def _link_tmp(library: Path) -> Path:
    return library.parent / f".{library.name}.new-link"


def _numbered(versions: Path) -> list[int]:
    try:
        return sorted(int(e.name) for e in os.scandir(versions)
                      if e.name.isdigit() and e.is_dir(follow_symlinks=False))
    except OSError:
        return []


def current_dir(library: Path) -> Path | None:
    """The folder holding the current library, resolved once (a consistent snapshot), or None."""
    library = Path(library)
    if library.is_symlink():
        target = library.parent / os.readlink(library)
        if target.is_dir():
            return target
    elif library.is_dir():
        return library  # a plain folder made by hand: used as is until the next import
    numbers = _numbered(versions_dir(library))
    return versions_dir(library) / str(numbers[-1]) if numbers else None


@contextmanager
def _lock(library: Path, *, exclusive: bool, create: bool) -> Iterator[bool]:
    """flock on LIBRARY.versions/.lock; yields False when there is no lock to take (read-only, absent)."""
    versions = versions_dir(library)
    try:
        if create:
            versions.mkdir(parents=True, exist_ok=True)
        fd = os.open(versions / ".lock", os.O_RDWR | os.O_CREAT if create else os.O_RDONLY, 0o644)
    except OSError:
        if create:
            raise
        yield False
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
        yield True
    finally:
        os.close(fd)


def _cleanup(library: Path) -> None:
    """Remove every version but the current one, staging leftovers and a stray temporary link."""
    current = current_dir(library)
    versions = versions_dir(library)
    try:
        with suppress(FileNotFoundError):
            os.unlink(_link_tmp(library))
        entries = list(os.scandir(versions))
    except OSError:
        return
    for entry in entries:
        if entry.name == ".lock" or (current is not None and Path(entry.path) == current):
            continue
        if entry.is_dir(follow_symlinks=False):
            shutil.rmtree(entry.path, ignore_errors=True)
        else:
            with suppress(OSError):
                os.unlink(entry.path)


def _cleanup_if_idle(library: Path) -> None:
    """Best-effort cleanup from a reader: only when no import holds the lock, never an error."""
    try:
        fd = os.open(versions_dir(library) / ".lock", os.O_RDWR)
    except OSError:
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        _cleanup(library)
    except OSError:
        pass
    finally:
        os.close(fd)


def _adopt_plain_folder(library: Path) -> None:
    """A real folder at LIBRARY becomes version <n> and LIBRARY a symlink to it (crash-safe: see module doc)."""
    versions = versions_dir(library)
    n = (_numbered(versions) or [0])[-1] + 1
    os.rename(library, versions / str(n))
    _fsync_dir(versions)
    _fsync_dir(library.parent)
    _switch_link(library, n)


def _switch_link(library: Path, n: int, report: ImportReport | None = None) -> None:
    """The one rename that switches the library; ``report.library_changed`` is set right after it."""
    tmp = _link_tmp(library)
    with suppress(FileNotFoundError):
        os.unlink(tmp)
    os.symlink(f"{versions_dir(library).name}/{n}", tmp)
    os.replace(tmp, library)
    if report is not None:
        report.library_changed = True
    _fsync_dir(library.parent)


# ---------------------------------------------------------------- reading the stick

@dataclass
class _Entry:
    name: str
    path: Path
    kind: str  # "file", "dir", "symlink", "other"


def _scan(folder: Path, report: ImportReport) -> list[_Entry]:
    try:
        it = os.scandir(folder)
    except OSError as exc:
        raise _Fatal(f"{STICK_GONE}: {folder}: {exc.strerror or exc}") from None
    out: list[_Entry] = []
    with it:
        try:
            for i, e in enumerate(it):
                if i >= MAX_ENTRIES:
                    report.skipped.append(f"{folder.name}: more than {MAX_ENTRIES} entries; the rest were not read")
                    break
                if e.is_symlink():
                    kind = "symlink"
                elif e.is_dir(follow_symlinks=False):
                    kind = "dir"
                elif e.is_file(follow_symlinks=False):
                    kind = "file"
                else:
                    kind = "other"
                out.append(_Entry(e.name, Path(e.path), kind))
        except OSError as exc:
            raise _Fatal(f"{STICK_GONE}: {folder}: {exc.strerror or exc}") from None
    return sorted(out, key=lambda e: (fold(e.name), e.name))


def _litter(entry: _Entry) -> str | None:
    """Why an entry is skipped silently (laptop litter), or None."""
    if entry.name.startswith("._"):
        return "macOS metadata (AppleDouble) file"
    why = SYSTEM_ENTRIES.get(fold(entry.name))
    if why:
        return why
    if entry.name.startswith("."):
        return "hidden"
    return None


def _find_folder(source: Path, report: ImportReport) -> Path:
    try:
        st = os.stat(source)
    except FileNotFoundError:
        raise _Fatal(f"{source}: no such folder") from None
    except OSError as exc:
        raise _Fatal(f"{STICK_GONE}: {source}: {exc.strerror or exc}") from None
    if not stat.S_ISDIR(st.st_mode):
        raise _Fatal(f"{source}: not a folder")
    entries = _scan(source, report)
    litter = [f"{e.name}: {why}" for e in entries if (why := _litter(e)) and why != "hidden"]
    candidates = [e for e in entries if fold(e.name) == FOLDER_NAME]
    for e in candidates:
        if e.kind == "symlink":
            report.rejected.append(FileProblem(e.name, 1, 1, "is a symbolic link; copy the folder itself"))
    folders = [e for e in candidates if e.kind == "dir"]
    if folders:
        chosen = next((e for e in folders if e.name == FOLDER_NAME), folders[0])
        for other in folders:
            if other is not chosen:
                report.warnings.append(FileProblem(other.name, 1, 1, f"ignored: {chosen.name} is the one read"))
        report.skipped += litter
        return chosen.path
    if fold(source.resolve().name) == FOLDER_NAME:
        return source
    loose = [e.name for e in entries if is_routine_name(e.name) and e.kind == "file"]
    if loose:
        raise _Fatal(f"no '{FOLDER_NAME}' folder in {source} ({len(loose)} routine file"
                     f"{'s' if len(loose) != 1 else ''} at its top: put them in a folder named {FOLDER_NAME})")
    raise _Fatal(f"no '{FOLDER_NAME}' folder in {source}")


class _Budget:
    def __init__(self, total: int):
        self.left = total

    def take(self, n: int) -> bool:
        if n > self.left:
            return False
        self.left -= n
        return True


def _read(path: Path, limit: int) -> tuple[int, bytes]:
    """_read_source_file, turning 'the stick went away' into _Fatal and leaving per-file errors as OSError."""
    try:
        return _read_source_file(path, limit)
    except NotRegularFile:
        raise  # one file's problem, like a permission error
    except OSError as exc:
        if exc.errno in _PER_FILE_ERRNOS:
            raise
        raise _Fatal(f"{STICK_GONE} ({path.name}: {exc.strerror or exc})") from None


# ---------------------------------------------------------------- icons

def check_icon(raw: bytes) -> str | None:
    """Why these bytes are not an acceptable icon, or None when they are a sound PNG.

    The pixel size is checked from the header before anything is decoded.
    """
    if len(raw) > MAX_ICON_BYTES:
        return f"is {len(raw):,} bytes; the limit is {MAX_ICON_BYTES:,}"
    from PIL import Image, UnidentifiedImageError

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(raw), formats=["PNG"]) as im:
                w, h = im.size
                if w > MAX_ICON_PIXELS[0] or h > MAX_ICON_PIXELS[1]:
                    return f"is {w}x{h} pixels; at most {MAX_ICON_PIXELS[0]}x{MAX_ICON_PIXELS[1]}"
                im.verify()
            with Image.open(io.BytesIO(raw), formats=["PNG"]) as im:
                im.load()
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        return "is a decompression bomb (claims a huge image)"
    except UnidentifiedImageError:
        return "is not a PNG image"
    except Exception as exc:  # noqa: BLE001 - a third-party decoder on hostile bytes: any failure means "damaged"
        return f"is a damaged PNG ({type(exc).__name__})"
    return None


def _icon_mark(staged: Path, display: str, index: int) -> tuple[int, int]:
    try:
        doc = load(staged, display=display)
    except FileError:
        return (1, 1)
    return doc.value_marks.get(("stretches", index, "icon"), (1, 1))


# ---------------------------------------------------------------- the import

def import_routines(source: Path, library: Path, *, write_report: bool = True) -> ImportReport:
    """Make the library the valid routines of SOURCE's stretchbox folder (see the module doc)."""
    source, library = Path(source), Path(library)
    report = ImportReport(source=str(source))
    try:
        folder = _find_folder(source, report)
        report.folder = str(folder)
        entries = _scan(folder, report)
        _import(folder, entries, library, report)
    except _Fatal as exc:
        report.fatal = str(exc)
    if write_report and report.folder:
        report.report_written = write_stick_report(Path(report.folder), report)
    return report


def _import(folder: Path, entries: list[_Entry], library: Path, report: ImportReport) -> None:
    candidates: list[_Entry] = []
    by_name: dict[str, _Entry] = {}
    for e in entries:
        by_name.setdefault(fold(e.name), e)
        why = _litter(e)
        if why:
            if is_routine_name(e.name) or e.name.startswith("._") or why != "hidden":
                report.skipped.append(f"{e.name}: {why}")
            continue
        if is_routine_name(e.name):
            candidates.append(e)
    if not candidates:
        raise _Fatal(f"no routine files (*.yaml, *.yml) in {folder}")

    rejected_keys: list[str] = []  # case-folded file names whose previous version may be kept

    def reject(e: _Entry, message: str, line: int = 1, col: int = 1) -> None:
        report.rejected.append(FileProblem(e.name, line, col, message))
        rejected_keys.append(fold(e.name))

    if len(candidates) > MAX_ROUTINE_FILES:
        for e in candidates[MAX_ROUTINE_FILES:]:
            reject(e, f"not read: at most {MAX_ROUTINE_FILES} routine files are imported")
        candidates = candidates[:MAX_ROUTINE_FILES]

    try:
        library.parent.mkdir(parents=True, exist_ok=True)
        with _lock(library, exclusive=True, create=True):
            _import_locked(folder, candidates, by_name, library, report, reject, rejected_keys)
    except OSError as exc:  # the device's own storage failed (full, read-only, I/O error)
        if not report.library_changed:
            raise _Fatal(f"cannot write the library {library}: {exc.strerror or exc}") from None
        report.warnings.append(FileProblem(str(library), 1, 1, f"switched, but not flushed: {exc.strerror or exc}"))


def _import_locked(folder: Path, candidates: list[_Entry], by_name: dict[str, _Entry], library: Path,
                   report: ImportReport, reject, rejected_keys: list[str]) -> None:
    if library.is_dir() and not library.is_symlink():
        _adopt_plain_folder(library)
    _cleanup(library)
    old = current_dir(library)
    versions = versions_dir(library)
    staging = versions / f".staging-{os.getpid()}"
    if staging.exists():
        shutil.rmtree(staging)
    staging.mkdir()
    try:
        _stage(folder, candidates, by_name, old, staging, report, reject, rejected_keys)
        if not report.imported:
            raise _Fatal("no routine could be imported")
        _fsync_dir(staging)
        n = max(_numbered(versions) or [0]) + 1
        os.rename(staging, versions / str(n))
        _fsync_dir(versions)
        _switch_link(library, n, report)
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    _cleanup(library)


def _stage(folder: Path, candidates: list[_Entry], by_name: dict[str, _Entry], old: Path | None,
           staging: Path, report: ImportReport, reject, rejected_keys: list[str]) -> None:
    budget = _Budget(MAX_TOTAL_BYTES)
    builtin_names = {fold(r.name): p for r, p in _builtin_names()}
    seen_keys: dict[str, str] = {}
    names: dict[str, str] = {}  # folded routine name -> file
    good: list[tuple[_Entry, Path, Routine]] = []

    for e in candidates:
        key = fold(e.name)
        if key in seen_keys:
            report.rejected.append(FileProblem(e.name, 1, 1, f"same file name as {seen_keys[key]} "
                                                             "(names are compared ignoring case)"))
            continue
        seen_keys[key] = e.name
        if e.kind == "symlink":
            reject(e, "is a symbolic link; copy the file itself onto the stick")
            continue
        if e.kind == "dir":
            reject(e, "is a folder, not a routine file")
            continue
        if e.kind != "file":
            reject(e, "is not a regular file")
            continue
        try:
            size, raw = _read(e.path, MAX_FILE_BYTES)
        except OSError as exc:
            reject(e, f"cannot read: {exc.strerror or exc}")
            continue
        if size > MAX_FILE_BYTES:
            reject(e, f"file is {size:,} bytes; the limit is {MAX_FILE_BYTES:,}")
            continue
        if not budget.take(len(raw)):
            reject(e, f"not read: the import reads at most {MAX_TOTAL_BYTES:,} bytes")
            continue
        staged = staging / key
        _write_durable(staged, raw)
        try:
            routine = load_routine(staged, display=e.name)
        except FileError as exc:
            if exc.unreadable:  # our own storage failed reading back the staged copy: not the routine's fault
                raise exc.unreadable from None
            os.unlink(staged)
            report.rejected += exc.problems
            rejected_keys.append(key)
            continue
        folded = fold(routine.name)
        if folded in builtin_names:
            os.unlink(staged)
            reject(e, f"name '{routine.name}' is the built-in routine's ({builtin_names[folded]}); "
                      "give this routine another name")
            continue
        if folded in names:
            os.unlink(staged)
            reject(e, f"routine name '{routine.name}' is already used by {names[folded]}")
            continue
        names[folded] = e.name
        good.append((e, staged, routine))
        report.imported.append(ImportedRoutine(routine.name, e.name, key))

    stored_icons: set[str] = set()
    for e, staged, routine in good:
        for index, stretch in enumerate(routine.stretches):
            if stretch.icon in BUILTIN_ICONS:
                continue
            target = icon_filename(stretch.icon)
            if target in stored_icons:
                continue
            problem = _stage_icon(folder, by_name, target, staging, budget)
            if problem is None:
                stored_icons.add(target)
                continue
            line, col = _icon_mark(staged, e.name, index)
            kind, message = problem
            located = FileProblem(e.name, line, col, f"icon '{stretch.icon}': {message}")
            (report.warnings if kind == "warning" else report.rejected).append(located)

    if old is not None:
        _keep_previous(old, staging, sorted(set(rejected_keys)), names, stored_icons, report)
    report.rejected.sort(key=lambda p: (fold(p.file), p.line, p.col, p.message))


def _builtin_names() -> list[tuple[Routine, str]]:
    try:
        return [(r, Path(r.source).name) for r in load_builtin()]
    except (FileError, OSError):
        return []


def _stage_icon(folder: Path, by_name: dict[str, _Entry], target: str, staging: Path,
                budget: _Budget) -> tuple[str, str] | None:
    """Copy one icon into staging; None, or (warning|problem, message)."""
    entry = by_name.get(fold(target))
    if entry is None:
        return ("warning", f"{target} not found beside the routine; the generic icon is shown")
    if entry.kind == "symlink":
        return ("problem", f"{entry.name} is a symbolic link; copy the image itself")
    if entry.kind != "file":
        return ("problem", f"{entry.name} is not a regular file")
    real = Path(os.path.realpath(entry.path))
    if real.parent != Path(os.path.realpath(folder)):
        return ("problem", f"{entry.name} is outside the {FOLDER_NAME} folder")
    try:
        size, raw = _read(entry.path, MAX_ICON_BYTES)
    except OSError as exc:
        return ("problem", f"cannot read {entry.name}: {exc.strerror or exc}")
    if size > MAX_ICON_BYTES:
        return ("problem", f"{entry.name} is {size:,} bytes; the limit is {MAX_ICON_BYTES:,}")
    if not budget.take(len(raw)):
        return ("problem", f"not read: the import reads at most {MAX_TOTAL_BYTES:,} bytes")
    why = check_icon(raw)
    if why:
        return ("problem", f"{entry.name} {why}")
    _write_durable(staging / target, raw)
    return None


def _keep_previous(old: Path, staging: Path, keys: list[str], names: dict[str, str],
                   stored_icons: set[str], report: ImportReport) -> None:
    """For each rejected file name, the old library's file of that name (and its icons) stays."""
    try:
        old_files = {fold(p.name): p for p in routine_files(old)}
    except OSError:
        return
    for key in keys:
        path = old_files.get(key)
        if path is None or (staging / key).exists():
            continue
        try:
            routine = load_routine(path, display=f"library/{path.name}")
            raw = path.read_bytes()
        except FileError as exc:
            if exc.unreadable:  # the library's own storage failed: stop, leaving the library as it was
                raise exc.unreadable from None
            continue
        except OSError:
            continue
        folded = fold(routine.name)
        if folded in names:
            report.warnings.append(FileProblem(key, 1, 1, f"previous version not kept: its name '{routine.name}' "
                                                          f"is now used by {names[folded]}"))
            continue
        names[folded] = f"previous {key}"
        _write_durable(staging / key, raw)
        report.kept_previous.append(f"{routine.name} ({key})")
        for stretch in routine.stretches:
            target = icon_filename(stretch.icon)
            if stretch.icon in BUILTIN_ICONS or target in stored_icons:
                continue
            src = old / target
            if src.is_file() and not src.is_symlink():
                with suppress(OSError):
                    _write_durable(staging / target, src.read_bytes())
                    stored_icons.add(target)


def write_stick_report(folder: Path, report: ImportReport) -> bool:
    """IMPORT-REPORT.txt in the stick's folder, atomically (tmp + rename, fsynced); False if not writable."""
    tmp = folder / "IMPORT-REPORT.tmp"
    try:
        with suppress(FileNotFoundError):
            os.unlink(tmp)
        _write_durable(tmp, report.text().replace("\n", "\r\n").encode("utf-8"))
        os.replace(tmp, folder / REPORT_NAME)
        _fsync_dir(folder)
        return True
    except OSError:
        with suppress(OSError):
            os.unlink(tmp)
        return False


# ---------------------------------------------------------------- reading the library

def load_library(library: Path) -> tuple[list[Routine], list[FileProblem]]:
    """The built-in routines first, then the library's, and every problem found (never raises).

    Also removes leftovers of a crashed import when no import is running.
    """
    library = Path(library)
    routines: list[Routine] = []
    problems: list[FileProblem] = []
    try:
        routines += load_builtin()
    except FileError as exc:
        problems += exc.problems
    except OSError as exc:
        problems.append(FileProblem(str(builtin_dir()), 1, 1, f"cannot read the built-in routines: {exc}"))
    try:
        _load_stored(library, routines, problems)
    except OSError as exc:  # the device's own storage failing: report, never raise
        problems.append(FileProblem(str(library), 1, 1, f"cannot read the library: {exc.strerror or exc}"))
    return routines, problems


def _load_stored(library: Path, routines: list[Routine], problems: list[FileProblem]) -> None:
    names = {fold(r.name): "the built-in routines" for r in routines}
    _cleanup_if_idle(library)
    with _lock(library, exclusive=False, create=False):
        folder = current_dir(library)
        if folder is None:
            return
        for path in routine_files(folder):
            display = f"library/{path.name}"
            try:
                routine = load_routine(path, display=display)
            except FileError as exc:
                problems += exc.problems
                continue
            folded = fold(routine.name)
            if folded in names:
                problems.append(FileProblem(display, 1, 1, f"routine name '{routine.name}' is already used by "
                                                           f"{names[folded]}; skipped"))
                continue
            names[folded] = display
            routines.append(routine)


@dataclass(frozen=True)
class RoutineInfo:
    name: str
    file: str
    builtin: bool
    stretches: int
    seconds: int


def list_routines(library: Path) -> tuple[list[RoutineInfo], list[FileProblem]]:
    """What ``stretchbox routines`` shows: every routine the device offers, built-in first."""
    builtin = builtin_dir().resolve()
    routines, problems = load_library(library)
    infos = [RoutineInfo(r.name, Path(r.source).name, Path(r.source).resolve().parent == builtin,
                         len(r.stretches), r.total_seconds()) for r in routines]
    return infos, problems


# ---------------------------------------------------------------- CLI entry points (wired by cli.py)

def import_command(source: Path, library: Path, out: TextIO | None = None) -> int:
    """``stretchbox import SOURCE [--library DIR]``: print the report, return 0/1/2."""
    out = out or sys.stdout
    report = import_routines(Path(source), Path(library))
    out.write(report.text())
    if report.folder:
        where = Path(report.folder) / REPORT_NAME
        out.write(f"Report written to {where}\n" if report.report_written
                  else f"Report not written to the stick (read-only): {where}\n")
    return report.exit_code


def routines_command(library: Path, out: TextIO | None = None) -> int:
    """``stretchbox routines [--library DIR]``: list the routines; 1 when the library has problems."""
    out = out or sys.stdout
    infos, problems = list_routines(Path(library))
    out.write(f"Library: {library}\n")
    width = max((len(i.name) for i in infos), default=0)
    for i in infos:
        kind = "built-in" if i.builtin else "library "
        n = f"{i.stretches} stretch{'es' if i.stretches != 1 else ''}"
        out.write(f"  {kind}  {i.name:<{width}}  {n:>12}  {clock_text(i.seconds):>6}  {i.file}\n")
    out.write(f"{len(infos)} routine{'s' if len(infos) != 1 else ''}\n")
    for p in problems:
        out.write(f"problem: {p}\n")
    return 1 if problems else 0
