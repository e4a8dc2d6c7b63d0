"""Routine files on disk: loading with line numbers, the built-in routines, folders of routines.

The core validates plain data and names problems by path; this module maps
those paths back to ``FILE:LINE:COL`` using the YAML node marks.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from ..core.routine import Routine, routine_from_mapping
from .resources import data_dir
from .files import exists, is_folder
from .icons import with_icons
from .yamlfile import FileError, FileProblem, load_checked

ROUTINE_SUFFIXES = (".yaml", ".yml")
DEFAULT_ROUTINE = "post-run.yaml"


def builtin_dir() -> Path:
    """Where the routines shipped with the device live (inside the installed package)."""
    return data_dir("routines")


def load_routine(path: str | os.PathLike, *, display: str | None = None, icons: bool = True) -> Routine:
    """One routine file -> Routine, or FileError listing every problem with file and line.

    With ``icons``, each stretch's own icon file is read and checked now (``adapters.icons``), so
    that nothing is read from the routine's folder while it runs; the USB import, which only
    validates a file before copying it, passes False.
    """
    routine = load_checked(path, lambda data: routine_from_mapping(data, source=str(path)), display=display)
    return with_icons(routine) if icons else routine


def is_routine_name(name: str) -> bool:
    """``*.yaml``/``*.yml`` in any case; hidden and macOS ``._`` files are not routines."""
    return name.lower().endswith(ROUTINE_SUFFIXES) and not name.startswith(".")


def routine_files(folder: Path) -> list[Path]:
    """Routine files directly inside ``folder`` (not recursive), sorted by name."""
    return sorted((p for p in folder.iterdir() if is_routine_name(p.name)), key=lambda p: p.name.lower())


@dataclass
class CheckResult:
    """The outcome of validating some paths: good routines and every problem."""

    routines: list[tuple[Path, Routine]] = field(default_factory=list)
    problems: list[FileProblem] = field(default_factory=list)
    bad_files: int = 0


def check_paths(paths: list[Path]) -> CheckResult:
    """Validate files and folders of routine files; FileNotFoundError for a missing path."""
    result = CheckResult()
    files: list[Path] = []
    for path in paths:
        if is_folder(path):
            try:
                found = routine_files(path)
            except OSError as exc:
                result.problems.append(FileProblem(str(path), 1, 1, f"cannot read this folder: {exc.strerror or exc}"))
                result.bad_files += 1
                continue
            if not found:
                result.problems.append(FileProblem(str(path), 1, 1, "no routine files (*.yaml, *.yml) in this folder"))
                result.bad_files += 1
            files += found
        elif exists(path):  # anything but a folder, even a name too long to look up: the loader says why
            files.append(path)
        else:
            raise FileNotFoundError(str(path))
    for file in files:
        try:
            result.routines.append((file, load_routine(file)))
        except FileError as exc:
            result.problems += exc.problems
            result.bad_files += 1
    return result


def load_builtin() -> list[Routine]:
    """Every routine shipped with the device; the default first."""
    folder = builtin_dir()
    files = sorted(routine_files(folder), key=lambda p: (p.name != DEFAULT_ROUTINE, p.name))
    return [load_routine(p, display=f"<built-in>/{p.name}") for p in files]
