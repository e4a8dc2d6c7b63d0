"""The on-device routine library: atomic versions, their manifests, and loading what is current.

This module exists so that everything about the library's folders on the
device's own storage (which folder is current, how a new version is published
with one rename, what the device made and may delete) lives in one place; the
USB import (``importer``) only asks it to publish a staged folder.

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

Reading
    ``load_library`` gives the built-in routines first, then the library's; a
    library routine whose ``name:`` is already taken is skipped with a problem.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import unicodedata
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ...core.routine import Routine
from ..files import display_path, fsync_dir
from ..routines import builtin_dir, load_builtin, load_routine, routine_files
from ..yamlfile import FileError, FileProblem

if TYPE_CHECKING:
    from .report import ImportReport

DEFAULT_LIBRARY = Path("/var/lib/stretchbox/library")


@dataclass(frozen=True)
class KeptFile:
    """Something in the library the device did not make: never deleted, carried into the new library."""

    name: str  # raw entry name
    where: str | None = None  # None: in the library; else the folder it stays in (a name clash)



def fold(name: str) -> str:
    """How names are compared: Unicode NFC (macOS writes NFD) and case-folded."""
    return unicodedata.normalize("NFC", name).casefold()





# ---------------------------------------------------------------- library layout

MANIFEST = ".manifest"  # in each version the device made: the files it wrote there (JSON), written with them


def versions_dir(library: Path) -> Path:
    return library.parent / f"{library.name}.versions"


def _link_tmp(library: Path) -> Path:
    return library.parent / f".{library.name}.new-link"


def numbered(versions: Path) -> list[int]:
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
    numbers = numbered(versions_dir(library))
    return versions_dir(library) / str(numbers[-1]) if numbers else None


def is_current(library: Path, folder: Path) -> bool:
    """Whether a reader of the library would now find ``folder`` (observed, not assumed)."""
    current = current_dir(library)
    try:
        return current is not None and os.path.samefile(current, folder)
    except OSError:
        return False


def manifest_bytes(names: list[str]) -> bytes:
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
def lock(library: Path, *, exclusive: bool, create: bool) -> Iterator[bool]:
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


def cleanup(library: Path, kept: list[KeptFile] | None = None) -> None:
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
        cleanup(library)
    except OSError:
        pass
    finally:
        os.close(fd)


def adopt_plain_folder(library: Path) -> None:
    """A real folder at LIBRARY becomes version <n> and LIBRARY a symlink to it (crash-safe: see module doc).

    It gets no manifest: everything in it is the user's and is carried from version to version.
    """
    versions = versions_dir(library)
    n = (numbered(versions) or [0])[-1] + 1
    os.rename(library, versions / str(n))
    fsync_dir(versions)
    fsync_dir(library.parent)
    switch_link(library, n)


def switch_link(library: Path, n: int, report: ImportReport | None = None) -> None:
    """The one rename that switches the library; ``report.library_changed`` is set right after it."""
    tmp = _link_tmp(library)
    with suppress(FileNotFoundError):
        os.unlink(tmp)
    os.symlink(f"{versions_dir(library).name}/{n}", tmp)
    os.replace(tmp, library)
    if report is not None:
        report.library_changed = True
    fsync_dir(library.parent)



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
    with lock(library, exclusive=False, create=False):
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
