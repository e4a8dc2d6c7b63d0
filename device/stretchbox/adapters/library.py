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

Atomicity (power may be cut at any instant)
    ``LIBRARY`` (e.g. /var/lib/stretchbox/library) is a symlink to
    ``LIBRARY.versions/<n>``. An import writes a staging folder
    ``LIBRARY.versions/.staging-*`` (every file fsynced, then the folder), renames
    it to ``LIBRARY.versions/<n+1>`` (fsync the versions folder), makes a new symlink
    beside ``LIBRARY`` and renames it over ``LIBRARY`` (one rename(2), then fsync
    the parent). Readers resolve the symlink once, so they see the old set or the
    new set. A version published but not made current (the link could not be
    written) is taken back before the import reports failure. Older versions,
    staging leftovers and stray temporary links are cleaned after the switch, or by
    the next import or load (see below).
    If ``LIBRARY`` is missing but versions exist (a crash between those two steps,
    or before the first link), the highest version is current.
    An ``flock`` on ``LIBRARY.versions/.lock`` serialises imports; loads take it
    shared.

What the device made, and nothing else, is deleted
    Each version holds ``.manifest``, written and fsynced in staging with the files,
    listing the files the import wrote. When a version is retired, only those are
    deleted (the manifest last); anything else in it (a README, a routine copied in
    by hand) moves into the new current version, or stays where it is when the new
    one has a file of that name. The report lists these under "Kept, not made by
    the device". A plain folder found at ``LIBRARY`` (made by hand) is moved into
    ``LIBRARY.versions/`` and linked, without a manifest: all of it is the user's.

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
import fcntl
import io
import json
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
from ..core.text import printable
from .routines import builtin_dir, is_routine_name, load_builtin, load_routine, routine_files
from .files import NotRegularFile, display_path, read_regular
from .yamlfile import MAX_FILE_BYTES, FileError, FileProblem, load

DEFAULT_LIBRARY = Path("/var/lib/stretchbox/library")
FOLDER_NAME = "stretchbox"
REPORT_NAME = "IMPORT-REPORT.txt"

# The icons the renderer draws; their names live in the core, shared by render and adapters.
BUILTIN_ICONS = frozenset(CORE_ICONS)

MAX_ROUTINE_FILES = 100
# Directory entries in one folder of the stick (a hostile stick may hold millions): a folder with more is
# refused whole, never read in part. A FAT32 folder holds at most 65,536 entries, ~21,000 with long names.
MAX_ENTRIES = 20_000
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
    file: str  # as found in the stick's folder (raw: show it with display_path)
    stored: str  # file name in the library (raw)


@dataclass(frozen=True)
class KeptFile:
    """Something in the library the device did not make: never deleted, carried into the new library."""

    name: str  # raw entry name
    where: str | None = None  # None: in the library; else the folder it stays in (a name clash)


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


class _Fatal(Exception):
    """Nothing can be imported; the message is for the user."""


STICK_GONE = "stick removed or unreadable"
NOTHING_VALID = "no routine could be imported"


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

MANIFEST = ".manifest"  # in each version the device made: the files it wrote there (JSON), written with them


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
        try:
            target = library.parent / os.readlink(library)
        except OSError:
            target = None
        if target is not None and target.is_dir():
            return target
    elif library.is_dir():
        return library  # a plain folder made by hand: used as is until the next import
    numbers = _numbered(versions_dir(library))
    return versions_dir(library) / str(numbers[-1]) if numbers else None


def _is_current(library: Path, folder: Path) -> bool:
    """Whether a reader of the library would now find ``folder`` (observed, not assumed)."""
    current = current_dir(library)
    try:
        return current is not None and os.path.samefile(current, folder)
    except OSError:
        return False


def _manifest_bytes(names: list[str]) -> bytes:
    # ensure_ascii: a name that is not UTF-8 (a lone surrogate) round-trips as \udcNN
    return json.dumps({"made_by": "stretchbox import", "files": sorted(names)}, ensure_ascii=True).encode()


def made_by_device(version: Path) -> set[str]:
    """The names the device wrote into one library version; empty when it has no readable manifest.

    A folder without one (made by hand and adopted, or by an older firmware), or
    with a damaged one, is treated as wholly the user's: nothing in it is ever
    deleted. A manifest that exists but cannot be read raises OSError: the
    device's storage is failing, and guessing would lose files either way.
    """
    try:
        fd = os.open(Path(version) / MANIFEST, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except FileNotFoundError:
        return set()
    with os.fdopen(fd, "rb") as f:
        raw = f.read(4 * 1024 * 1024)
    try:
        files = json.loads(raw)["files"]
    except (ValueError, TypeError, KeyError):
        return set()
    return {n for n in files if isinstance(n, str)} if isinstance(files, list) else set()


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


def _cleanup(library: Path, kept: list[KeptFile] | None = None) -> None:
    """Retire every version but the current one; remove staging leftovers and a stray temporary link.

    Only what the device made is removed: its own staging folders and temporary
    link, and in a retired version the files its manifest lists. Anything else
    found in a retired version moves into the current one (``kept`` says what).
    Never raises.
    """
    kept = [] if kept is None else kept
    current = current_dir(library)
    versions = versions_dir(library)
    with suppress(OSError):
        os.unlink(_link_tmp(library))
    try:
        entries = list(os.scandir(versions))
    except OSError:
        return
    for entry in entries:
        path = Path(entry.path)
        try:
            if current is not None and path == current or not entry.is_dir(follow_symlinks=False):
                continue  # the lock, or a file someone put here: not ours to remove
            if entry.name.startswith(".staging-"):
                shutil.rmtree(path, ignore_errors=True)  # an import that never finished
            elif entry.name.isdigit():
                _retire(path, current, kept)
        except OSError:
            continue


def _retire(old: Path, current: Path | None, kept: list[KeptFile]) -> None:
    """Empty a version that is no longer current: delete what the device made, carry the rest forward.

    The manifest goes last, so a crash halfway leaves every remaining file
    still known as the device's; rmdir (not rmtree) removes the folder only when empty.
    """
    made = made_by_device(old)
    left = False
    for entry in list(os.scandir(old)):
        if entry.name == MANIFEST:
            continue
        if entry.name in made and not entry.is_dir(follow_symlinks=False):
            try:
                os.unlink(entry.path)
            except FileNotFoundError:
                pass
            except OSError:
                left = True
            continue
        target = current / entry.name if current is not None else None
        if target is not None and not os.path.lexists(target):
            try:
                os.rename(entry.path, target)
                kept.append(KeptFile(entry.name))
                continue
            except OSError:
                pass
        kept.append(KeptFile(entry.name, where=str(old)))
        left = True
    if not left:
        with suppress(FileNotFoundError):
            os.unlink(old / MANIFEST)
        os.rmdir(old)


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
    """A real folder at LIBRARY becomes version <n> and LIBRARY a symlink to it (crash-safe: see module doc).

    It gets no manifest: everything in it is the user's and is carried from version to version.
    """
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
        with _lock(library, exclusive=True, create=True):
            _import_locked(folder, candidates, by_name, library, report, reject, rejected_keys)
    except OSError as exc:  # the device's own storage failed (full, read-only, I/O error) before the switch
        if not report.library_changed:
            raise _Fatal(f"cannot write the library {display_path(str(library))}: {exc.strerror or exc}") from None
        report.warnings.append(FileProblem(display_path(str(library)), 1, 1,
                                           f"switched, but not flushed: {exc.strerror or exc}"))


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
    new: Path | None = None
    try:
        _stage(folder, candidates, by_name, old, staging, report, reject, rejected_keys)
        if not report.imported:
            raise _Fatal(NOTHING_VALID)
        _write_durable(staging / MANIFEST, _manifest_bytes(os.listdir(staging)))
        _fsync_dir(staging)
        new = versions / str(max(_numbered(versions) or [0]) + 1)
        os.rename(staging, new)
        _fsync_dir(versions)
        _switch_link(library, int(new.name), report)
    except OSError as exc:
        # What happened is what a reader now finds. A published version that is not current is taken back
        # (on a first import a reader would take the highest version even without the link).
        switched = new is not None and report.library_changed and _is_current(library, new)
        if new is not None and not switched:
            with suppress(OSError):
                os.rename(new, staging)
        report.library_changed = new is not None and _is_current(library, new)
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
    _cleanup(library, report.kept_user)


# A name the device's own file system refuses (too long once case-folded, bytes it cannot store): that file only.
_NAME_ERRNOS = {errno.ENAMETOOLONG, errno.EILSEQ, errno.EINVAL}
NAME_MAX = 255  # bytes in one file name on the device's file system


def _stage(folder: Path, candidates: list[_Entry], by_name: dict[str, _Entry], old: Path | None,
           staging: Path, report: ImportReport, reject, rejected_keys: list[str]) -> None:
    budget = _Budget(MAX_TOTAL_BYTES)
    builtin_names = {fold(r.name): p for r, p in _builtin_names()}
    seen_keys: dict[str, str] = {}
    names: dict[str, str] = {}  # folded routine name -> file (shown)
    good: list[tuple[_Entry, Path, Routine]] = []

    for e in candidates:
        key = fold(e.name)
        shown = display_path(e.name)
        if key in seen_keys:
            report.rejected.append(FileProblem(shown, 1, 1, f"same file name as {seen_keys[key]} "
                                                            "(names are compared ignoring case)"))
            continue
        seen_keys[key] = shown
        if e.kind == "symlink":
            reject(e, "is a symbolic link; copy the file itself onto the stick")
            continue
        if e.kind == "dir":
            reject(e, "is a folder, not a routine file")
            continue
        if e.kind != "file":
            reject(e, "is not a regular file")
            continue
        if len(os.fsencode(key)) > NAME_MAX:
            reject(e, f"file name is too long to store ({len(os.fsencode(key))} bytes once "
                      f"case-folded; at most {NAME_MAX}): give it a shorter name")
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
        try:
            _write_durable(staged, raw)
        except OSError as exc:
            if exc.errno not in _NAME_ERRNOS:
                raise  # the device's storage: the whole import fails, the library stays
            reject(e, f"cannot be stored under this name: {exc.strerror or exc}; give it a plainer name")
            continue
        try:
            routine = load_routine(staged, display=shown)
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
                _write_durable(staging / target, raw)
                stored_icons.add(target)
                continue
            line, col = _icon_mark(staged, display_path(e.name), index)
            kind, message = problem
            located = FileProblem(display_path(e.name), line, col, icon_message(stretch.icon, message))
            (report.warnings if kind == "warning" else report.rejected).append(located)

    if old is not None:
        _keep_previous(old, staging, sorted(set(rejected_keys)), names, stored_icons, report)
    report.rejected.sort(key=lambda p: (fold(p.file), p.line, p.col, p.message))


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
            routine = load_routine(path, display=f"library/{display_path(path.name)}")
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
        _write_durable(staging / key, raw)
        report.kept_previous.append(f"{routine.name} ({display_path(key)})")
        for stretch in routine.stretches:
            target = icon_filename(stretch.icon)
            if stretch.icon in BUILTIN_ICONS or target in stored_icons or target not in made:
                continue
            src = old / target
            if src.is_file() and not src.is_symlink():
                with suppress(OSError):
                    data = src.read_bytes()
                    _write_durable(staging / target, data)
                    stored_icons.add(target)


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
            _write_durable(tmp, data)
            os.replace(tmp, folder / REPORT_NAME)
            _fsync_dir(folder)
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


# Why a report is missing when the stick is mounted read-only, as the device always mounts it.
READ_ONLY_STICK = "the stick is read-only"


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
        problems.append(FileProblem(display_path(str(library)), 1, 1, f"cannot read the library: {exc.strerror or exc}"))
    return routines, problems


def _load_stored(library: Path, routines: list[Routine], problems: list[FileProblem]) -> None:
    names = {fold(r.name): "the built-in routines" for r in routines}
    _cleanup_if_idle(library)
    with _lock(library, exclusive=False, create=False):
        folder = current_dir(library)
        if folder is None:
            return
        for path in routine_files(folder):
            display = f"library/{display_path(path.name)}"
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
