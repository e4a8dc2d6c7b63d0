"""THE import from a folder (a USB stick, or any folder) into the on-device routine library.

This module exists so that reading a hostile stick (what is read, in which order, within which
limits, and what is refused) is one pipeline, apart from how the library is stored (``store``)
and from the words of the report (``report``).

One function, ``import_routines(source, library)``, serves the device (a stick was
mounted), the CLI (``stretchbox import SOURCE``) and the tests.

Where routines come from
    SOURCE's ``stretchbox/`` folder, in any case (``STRETCHBOX``, ``StretchBox``).
    SOURCE itself is used when it is itself named ``stretchbox`` (any case), so
    ``stretchbox import /media/stick/STRETCHBOX`` works too. Loose routine files at
    the top of some other folder are NOT imported (a stick's root may hold anybody's
    ``*.yml``): the report says to put them in a ``stretchbox`` folder. Only the
    folder's top level is read; ``*.yaml``/``*.yml`` in any case (8.3 ``POSTRUN.YML``).
    A folder is read whole or not at all: one of more than MAX_ENTRIES entries,
    or one that fails halfway (stick pulled), changes nothing (exit 2).
    SOURCE and the library must not overlap (symlinks resolved): importing a
    folder into itself, or into a folder inside it, is refused (exit 2).

Names
    File names come off sticks written by any system: they may not be UTF-8 or
    may hold a newline. They are stored as found (case-folded) and always shown
    through ``files.display_path`` (escaped, one line) in the report, the CLI and
    ``stretchbox routines``. A name the device's file system cannot store (too
    long once case-folded) rejects that file only.

What the library becomes
    The folder's valid routine files, stored under their case-folded file names
    (``POSTRUN.YML`` -> ``postrun.yml``), plus the icons they use. A file that
    fails validation keeps the library's previous file of the same (case-folded)
    name, if there is one. Routines that were in the library but are not on the
    stick are gone: the stick is the library. When nothing on the stick is usable
    (no routine files, every one rejected, SOURCE unreadable, stick pulled) or the
    device's storage fails (full, out of inodes, read-only) before the switch,
    the library is left exactly as it was and the exit code is 2. Whether the
    library changed is observed (what a reader would now find), never assumed:
    the report, the exit code and the notice say exactly that.

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

The library switches atomically and keeps what it did not make: see ``store``.
The report, and ``IMPORT-REPORT.txt`` on the stick: see ``report``.
"""

from __future__ import annotations

import errno
import os
import shutil
import stat
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path

from ...core.icons import MAX_ICON_BYTES, icon_filename
from ...core.routine import Routine
from ..files import NotRegularFile, display_path, read_regular
from ..icons import BUILTIN_ICONS, check_icon
from ..routines import is_routine_name, load_builtin, load_routine, routine_files
from ..yamlfile import MAX_FILE_BYTES, FileError, FileProblem, load
from .report import NOTHING_VALID, STICK_GONE, ImportedRoutine, ImportReport, write_stick_report
from ..files import fsync_dir, write_durable
from .store import (
    MANIFEST, adopt_plain_folder, cleanup, current_dir, fold, is_current, lock, made_by_device,
    manifest_bytes, numbered, switch_link, versions_dir,
)

FOLDER_NAME = "stretchbox"

MAX_ROUTINE_FILES = 100
# Directory entries in one folder of the stick (a hostile stick may hold millions): a folder with more is
# refused whole, never read in part. A FAT32 folder holds at most 65,536 entries, ~21,000 with long names.
MAX_ENTRIES = 20_000
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


class _Fatal(Exception):
    """Nothing can be imported; the message is for the user."""


def _read_source_file(path: Path, limit: int) -> tuple[int, bytes]:
    """(size, up to ``limit`` bytes) of a regular file on the stick, never following a symlink.

    A file larger than ``limit`` is not read at all. OSError passes through
    (NotRegularFile for anything but a regular file).
    """
    return read_regular(path, limit, follow_symlinks=False)



# ---------------------------------------------------------------- reading the stick

@dataclass
class _Entry:
    name: str
    path: Path
    kind: str  # "file", "dir", "symlink", "other"


def _scan(folder: Path) -> list[_Entry]:
    """Every entry of ``folder``, sorted; _Fatal when it cannot be read whole.

    A folder of more than MAX_ENTRIES entries is refused rather than read in part:
    a partial listing would drop routines without a word (and with them, their
    previous versions in the library).
    """
    try:
        it = os.scandir(folder)
    except OSError as exc:
        raise _Fatal(_cannot_read(folder, exc)) from None
    out: list[_Entry] = []
    with it:
        try:
            for e in it:
                if len(out) >= MAX_ENTRIES:
                    raise _Fatal(f"{display_path(str(folder))} holds more than {MAX_ENTRIES:,} entries; "
                                 "nothing was read (remove what is not needed)")
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
            raise _Fatal(_cannot_read(folder, exc)) from None
    return sorted(out, key=lambda e: (fold(e.name), e.name))


def _cannot_read(path: Path, exc: OSError) -> str:
    """Why a folder of the stick cannot be read: gone (I/O error, vanished) or refused (loop, too long...)."""
    what = STICK_GONE if exc.errno not in _PER_FILE_ERRNOS else "cannot read"
    return f"{what}: {display_path(str(path))}: {exc.strerror or exc}"


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
        raise _Fatal(f"{display_path(str(source))}: no such folder") from None
    except OSError as exc:
        raise _Fatal(_cannot_read(source, exc)) from None
    if not stat.S_ISDIR(st.st_mode):
        raise _Fatal(f"{display_path(str(source))}: not a folder")
    entries = _scan(source)
    litter = [f"{display_path(e.name)}: {why}" for e in entries if (why := _litter(e)) and why != "hidden"]
    candidates = [e for e in entries if fold(e.name) == FOLDER_NAME]
    for e in candidates:
        if e.kind == "symlink":
            report.rejected.append(FileProblem(display_path(e.name), 1, 1, "is a symbolic link; copy the folder itself"))
    folders = [e for e in candidates if e.kind == "dir"]
    if folders:
        chosen = next((e for e in folders if e.name == FOLDER_NAME), folders[0])
        for other in folders:
            if other is not chosen:
                report.warnings.append(FileProblem(display_path(other.name), 1, 1,
                                                   f"ignored: {display_path(chosen.name)} is the one read"))
        report.skipped += litter
        return chosen.path
    if fold(source.resolve().name) == FOLDER_NAME:
        return source
    loose = [e.name for e in entries if is_routine_name(e.name) and e.kind == "file"]
    if loose:
        raise _Fatal(f"no '{FOLDER_NAME}' folder in {display_path(str(source))} ({len(loose)} routine file"
                     f"{'s' if len(loose) != 1 else ''} at its top: put them in a folder named {FOLDER_NAME})")
    raise _Fatal(f"no '{FOLDER_NAME}' folder in {display_path(str(source))}")


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
        raise _Fatal(f"{STICK_GONE} ({display_path(path.name)}: {exc.strerror or exc})") from None



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
        _refuse_overlap(source, library)
        folder = _find_folder(source, report)
        report.folder = str(folder)
        entries = _scan(folder)
        _import(folder, entries, library, report)
    except _Fatal as exc:
        report.fatal = str(exc)
    if write_report and report.folder:
        report.report_written, report.report_error = write_stick_report(Path(report.folder), report)
    return report


def _refuse_overlap(source: Path, library: Path) -> None:
    """_Fatal when the source and what the import writes (LIBRARY, LIBRARY.versions) overlap, symlinks resolved.

    Importing a folder into itself would turn the user's folder into a library.
    """
    try:
        src = source.resolve()
        parent = library.parent.resolve()
        places = [parent / library.name, parent / f"{library.name}.versions"]
        if places[0].is_symlink():
            places.append(places[0].resolve())
    except (OSError, RuntimeError):  # a symlink loop: the stick's side is refused when it is read
        return
    for place in places:
        if src == place or place in src.parents or src in place.parents:
            raise _Fatal(f"the library {display_path(str(library))} and the source {display_path(str(source))} overlap "
                         "(one is inside the other); nothing was written: choose a library outside the source")


def _newest(entries: list[_Entry]) -> float | None:
    """The newest modification time of the routine files: a laptop's clock, a lower bound of the time now."""
    times = []
    for e in entries:
        try:
            times.append(e.path.stat(follow_symlinks=False).st_mtime)
        except OSError:
            continue
    return max(times, default=None)


def _import(folder: Path, entries: list[_Entry], library: Path, report: ImportReport) -> None:
    candidates: list[_Entry] = []
    by_name: dict[str, _Entry] = {}
    for e in entries:
        by_name.setdefault(fold(e.name), e)
        why = _litter(e)
        if why:
            if is_routine_name(e.name) or e.name.startswith("._") or why != "hidden":
                report.skipped.append(f"{display_path(e.name)}: {why}")
            continue
        if is_routine_name(e.name):
            candidates.append(e)
        elif e.kind == "dir":
            report.skipped.append(f"{display_path(e.name)}: a folder; only the files at the top of "
                                  f"{display_path(folder.name)} are read")
    report.newest_file = _newest(candidates)
    if not candidates:
        raise _Fatal(f"no routine files (*.yaml, *.yml) in {display_path(str(folder))}")

    rejected_keys: list[str] = []  # case-folded file names whose previous version may be kept

    def reject(e: _Entry, message: str, line: int = 1, col: int = 1) -> None:
        report.rejected.append(FileProblem(display_path(e.name), line, col, message))
        rejected_keys.append(fold(e.name))

    if len(candidates) > MAX_ROUTINE_FILES:
        for e in candidates[MAX_ROUTINE_FILES:]:
            reject(e, f"not read: at most {MAX_ROUTINE_FILES} routine files are imported")
        candidates = candidates[:MAX_ROUTINE_FILES]

    for above in (library.parent, *library.parent.parents):
        if os.path.lexists(above):
            if not above.is_dir():
                raise _Fatal(f"cannot write the library {display_path(str(library))}: "
                             f"{display_path(str(above))} is not a folder")
            break
    try:
        library.parent.mkdir(parents=True, exist_ok=True)
        with lock(library, exclusive=True, create=True):
            _import_locked(folder, candidates, by_name, library, report, reject, rejected_keys)
    except OSError as exc:  # the device's own storage failed (full, read-only, I/O error) before the switch
        if not report.library_changed:
            raise _Fatal(f"cannot write the library {display_path(str(library))}: {exc.strerror or exc}") from None
        report.warnings.append(FileProblem(display_path(str(library)), 1, 1,
                                           f"switched, but not flushed: {exc.strerror or exc}"))


def _import_locked(folder: Path, candidates: list[_Entry], by_name: dict[str, _Entry], library: Path,
                   report: ImportReport, reject, rejected_keys: list[str]) -> None:
    if library.is_dir() and not library.is_symlink():
        adopt_plain_folder(library)
    cleanup(library)
    old = current_dir(library)
    versions = versions_dir(library)
    staging = versions / f".staging-{os.getpid()}"
    if staging.exists():
        shutil.rmtree(staging)
    staging.mkdir()
    new: Path | None = None
    try:
        _stage(folder, candidates, by_name, old, staging, report, reject, rejected_keys)
        if not report.imported:
            raise _Fatal(NOTHING_VALID)
        write_durable(staging / MANIFEST, manifest_bytes(os.listdir(staging)))
        fsync_dir(staging)
        new = versions / str(max(numbered(versions) or [0]) + 1)
        os.rename(staging, new)
        fsync_dir(versions)
        switch_link(library, int(new.name), report)
    except OSError as exc:
        # What happened is what a reader now finds. A published version that is not current is taken back
        # (on a first import a reader would take the highest version even without the link).
        switched = new is not None and report.library_changed and is_current(library, new)
        if new is not None and not switched:
            with suppress(OSError):
                os.rename(new, staging)
        report.library_changed = new is not None and is_current(library, new)
        if not report.library_changed:
            raise _Fatal(f"cannot write the library {display_path(str(library))}: {exc.strerror or exc}") from None
        report.warnings.append(FileProblem(display_path(str(library)), 1, 1,
                                           f"switched, but not flushed: {exc.strerror or exc}"))
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    if old is not None and os.path.realpath(old.parent) != os.path.realpath(versions):
        report.warnings.append(FileProblem(display_path(str(library)), 1, 1, (
            f"was a link to {display_path(str(old))}, which the device did not make: that folder is left as it is, "
            "and is no longer the library")))
    cleanup(library, report.kept_user)


# A name the device's own file system refuses (too long once case-folded, bytes it cannot store): that file only.
_NAME_ERRNOS = {errno.ENAMETOOLONG, errno.EILSEQ, errno.EINVAL}
NAME_MAX = 255  # bytes in one file name on the device's file system


def _stage(folder: Path, candidates: list[_Entry], by_name: dict[str, _Entry], old: Path | None,
           staging: Path, report: ImportReport, reject, rejected_keys: list[str]) -> None:
    """Write into ``staging`` the stick's valid routine files, then their icons, then what is kept from ``old``."""
    budget = _Budget(MAX_TOTAL_BYTES)
    names: dict[str, str] = {}  # folded routine name -> file (shown)
    good = _stage_routines(candidates, staging, budget, names, report, reject, rejected_keys)
    stored_icons = _stage_icons(folder, by_name, good, staging, budget, report)
    if old is not None:
        _keep_previous(old, staging, sorted(set(rejected_keys)), names, stored_icons, report)
    report.rejected.sort(key=lambda p: (fold(p.file), p.line, p.col, p.message))


def _stage_routines(candidates: list[_Entry], staging: Path, budget: _Budget, names: dict[str, str],
                    report: ImportReport, reject, rejected_keys: list[str]) -> list[tuple[_Entry, Path, Routine]]:
    """Each candidate read, stored in staging and validated; the good ones (entry, staged copy, routine)."""
    builtin_names = {fold(r.name): p for r, p in _builtin_names()}
    seen_keys: dict[str, str] = {}
    good: list[tuple[_Entry, Path, Routine]] = []
    for e in candidates:
        key = fold(e.name)
        shown = display_path(e.name)
        if key in seen_keys:
            report.rejected.append(FileProblem(shown, 1, 1, f"same file name as {seen_keys[key]} "
                                                            "(names are compared ignoring case)"))
            continue
        seen_keys[key] = shown
        raw, why = _read_candidate(e, key, budget)
        if raw is None:
            reject(e, why)
            continue
        staged = staging / key
        try:
            write_durable(staged, raw)
        except OSError as exc:
            if exc.errno not in _NAME_ERRNOS:
                raise  # the device's storage: the whole import fails, the library stays
            reject(e, f"cannot be stored under this name: {exc.strerror or exc}; give it a plainer name")
            continue
        try:
            routine = load_routine(staged, display=shown, icons=False)
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
        names[folded] = shown
        good.append((e, staged, routine))
        report.imported.append(ImportedRoutine(routine.name, e.name, key))
    return good


def _read_candidate(e: _Entry, key: str, budget: _Budget) -> tuple[bytes | None, str]:
    """A routine file's bytes off the stick, or (None, why it is refused); _Fatal when the stick went away."""
    if e.kind == "symlink":
        return None, "is a symbolic link; copy the file itself onto the stick"
    if e.kind == "dir":
        return None, "is a folder, not a routine file"
    if e.kind != "file":
        return None, "is not a regular file"
    if len(os.fsencode(key)) > NAME_MAX:
        return None, (f"file name is too long to store ({len(os.fsencode(key))} bytes once "
                      f"case-folded; at most {NAME_MAX}): give it a shorter name")
    try:
        size, raw = _read(e.path, MAX_FILE_BYTES)
    except OSError as exc:
        return None, f"cannot read: {exc.strerror or exc}"
    if size > MAX_FILE_BYTES:
        return None, f"file is {size:,} bytes; the limit is {MAX_FILE_BYTES:,}"
    if not budget.take(len(raw)):
        return None, f"not read: the import reads at most {MAX_TOTAL_BYTES:,} bytes"
    return raw, ""


def _stage_icons(folder: Path, by_name: dict[str, _Entry], good: list[tuple[_Entry, Path, Routine]],
                 staging: Path, budget: _Budget, report: ImportReport) -> set[str]:
    """The icons the good routines use, copied into staging; each problem located at its ``icon:`` line."""
    stored_icons: set[str] = set()
    for e, staged, routine in good:
        for index, stretch in enumerate(routine.stretches):
            if stretch.icon in BUILTIN_ICONS:
                continue
            target = icon_filename(stretch.icon)
            if target in stored_icons:
                continue
            raw, problem = examine_icon(folder, by_name, target, budget)
            if problem is None:
                write_durable(staging / target, raw)
                stored_icons.add(target)
                continue
            line, col = _icon_mark(staged, display_path(e.name), index)
            kind, message = problem
            located = FileProblem(display_path(e.name), line, col, icon_message(stretch.icon, message))
            (report.warnings if kind == "warning" else report.rejected).append(located)
    return stored_icons


def _builtin_names() -> list[tuple[Routine, str]]:
    try:
        return [(r, Path(r.source).name) for r in load_builtin()]
    except (FileError, OSError):
        return []


IconVerdict = tuple[str, str]  # ("warning" | "problem", why)


def examine_icon(folder: Path, by_name: dict[str, _Entry], target: str,
                 budget: _Budget | None = None) -> tuple[bytes, None] | tuple[None, IconVerdict]:
    """The icon file ``target`` beside the routines in ``folder``: (its bytes, None) when it is a sound
    PNG, else (None, verdict): a ``warning`` when there is no such file (the generic icon is shown), a
    ``problem`` when the file cannot be used. ``by_name`` is the folder's entries by ``fold``-ed name.

    THE icon check: ``import`` stores what it returns, ``validate`` reports what it says, in the same
    words (``icon_message``). _Fatal when the folder went away while reading.
    """
    entry = by_name.get(fold(target))
    if entry is None:
        return None, ("warning", f"{target} not found beside the routine; the generic icon is shown")
    shown = display_path(entry.name)
    if entry.kind == "symlink":
        return None, ("problem", f"{shown} is a symbolic link; copy the image itself")
    if entry.kind != "file":
        return None, ("problem", f"{shown} is not a regular file")
    real = Path(os.path.realpath(entry.path))
    if real.parent != Path(os.path.realpath(folder)):
        return None, ("problem", f"{shown} is outside the {FOLDER_NAME} folder")
    try:
        size, raw = _read(entry.path, MAX_ICON_BYTES)
    except OSError as exc:
        return None, ("problem", f"cannot read {shown}: {exc.strerror or exc}")
    if size > MAX_ICON_BYTES:
        return None, ("problem", f"{shown} is {size:,} bytes; the limit is {MAX_ICON_BYTES:,}")
    if budget is not None and not budget.take(len(raw)):
        return None, ("problem", f"not read: the import reads at most {MAX_TOTAL_BYTES:,} bytes")
    why = check_icon(raw)
    if why:
        return None, ("problem", f"{shown} {why}")
    return raw, None


def icon_message(icon: str, why: str) -> str:
    return f"icon '{icon}': {why}"


def icon_notes(path: Path, routine: Routine) -> tuple[list[FileProblem], list[FileProblem]]:
    """(warnings, problems) about the icons of the routine file ``path`` (its stretches' ``icon:`` that are
    not built in), each at the icon's line, in the words ``import`` uses. For ``stretchbox validate``."""
    display = os.fsdecode(path)
    custom = [(i, s.icon) for i, s in enumerate(routine.stretches) if s.icon not in BUILTIN_ICONS]
    if not custom:
        return [], []
    folder = Path(path).parent
    try:
        entries = _scan(folder)
    except _Fatal as exc:
        return [], [FileProblem(display, 1, 1, f"icons not checked: {exc}")]
    by_name: dict[str, _Entry] = {}
    for entry in entries:
        by_name.setdefault(fold(entry.name), entry)
    warnings: list[FileProblem] = []
    problems: list[FileProblem] = []
    marks: dict[int, tuple[int, int]] = {}
    for index, icon in custom:
        try:
            _, verdict = examine_icon(folder, by_name, icon_filename(icon))
        except _Fatal as exc:
            verdict = ("problem", str(exc))
        if verdict is not None:
            if not marks:  # the file is read again only when there is something to place
                marks = {i: _icon_mark(Path(path), display, i) for i, _ in custom}
            line, col = marks[index]
            kind, why = verdict
            (warnings if kind == "warning" else problems).append(FileProblem(display, line, col,
                                                                             icon_message(icon, why)))
    return warnings, problems


def _keep_previous(old: Path, staging: Path, keys: list[str], names: dict[str, str],
                   stored_icons: set[str], report: ImportReport) -> None:
    """For each rejected file name, the old library's file of that name (and its icons) stays.

    Only files the device made are copied: the user's own files are carried over whole (see _retire).
    """
    made = made_by_device(old)
    try:
        old_files = {fold(p.name): p for p in routine_files(old) if p.name in made}
    except OSError:
        return
    for key in keys:
        path = old_files.get(key)
        if path is None or (staging / key).exists():
            continue
        try:
            routine = load_routine(path, display=f"library/{display_path(path.name)}", icons=False)
            raw = path.read_bytes()
        except FileError as exc:
            if exc.unreadable:  # the library's own storage failed: stop, leaving the library as it was
                raise exc.unreadable from None
            continue
        except OSError:
            continue
        folded = fold(routine.name)
        if folded in names:
            report.warnings.append(FileProblem(display_path(key), 1, 1, f"previous version not kept: its name "
                                                                      f"'{routine.name}' is now used by {names[folded]}"))
            continue
        names[folded] = f"previous {display_path(key)}"
        write_durable(staging / key, raw)
        report.kept_previous.append(f"{routine.name} ({display_path(key)})")
        for stretch in routine.stretches:
            target = icon_filename(stretch.icon)
            if stretch.icon in BUILTIN_ICONS or target in stored_icons or target not in made:
                continue
            src = old / target
            if src.is_file() and not src.is_symlink():
                with suppress(OSError):
                    data = src.read_bytes()
                    write_durable(staging / target, data)
                    stored_icons.add(target)
