"""The commands that work on files only: the config, routine files, the library. No device is
composed here, so none of its libraries (gpiozero, luma, Pillow) are imported: ``validate`` stays
quick on a Pi Zero. The adapters (YAML, the library store) are imported by the functions that use
them: ``run`` asks for the config before its splash, which needs none of them without a config file.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from .config import DEFAULT_PATH, Config
from .core.errors import UsageError
from .core.frame import clock_text

if TYPE_CHECKING:
    from .adapters.wallclock import WallClock

EXIT_OK, EXIT_INVALID = 0, 1


def config_file(path: Path | None, *, device_file: bool = False) -> Path | None:
    """The config file to read: ``path``, else with ``device_file`` the device's own
    /etc/stretchbox/config.yaml when there is one; None: the defaults."""
    if path is None and device_file and DEFAULT_PATH.exists():
        return DEFAULT_PATH
    return path


def device_config(path: Path | None, *, device_file: bool = False, pins: bool = True) -> Config:
    """The device config: ``path`` (which must exist), else with ``device_file`` the device's own
    /etc/stretchbox/config.yaml when there is one, else the defaults. Problems exit 1 with file and line.
    ``pins=False`` leaves the pins' check (it imports gpiozero) for a second call."""
    path = config_file(path, device_file=device_file)
    if path is None:
        return Config()
    from .adapters.configfile import load_config
    from .adapters.yamlfile import FileError

    try:
        return load_config(path, required=True, pins=pins)
    except FileError as exc:
        if not pins:  # refused anyway: every problem, in config --check's words
            try:
                load_config(path, required=True)
            except FileError as everything:
                exc = everything
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        refused = SystemExit(EXIT_INVALID)
        refused.problem = exc.problems[0]  # type: ignore[attr-defined]
        raise refused from None


def routines_from(path: Path | None) -> list:
    """The routine named on the command line, or the built-in ones; problems exit 1."""
    from .adapters.routines import load_builtin, load_routine
    from .adapters.yamlfile import FileError

    try:
        return [load_routine(path)] if path else load_builtin()
    except FileError as exc:
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        raise SystemExit(EXIT_INVALID) from None


def validate(paths: list[Path], *, strict: bool = False) -> int:
    """``stretchbox validate``: every routine file found, ok or its problems; exit 1 if any has one
    (with ``strict``, a warning too: an icon file not found beside the routine)."""
    from .adapters.files import display_path, exists
    from .adapters.library.importer import icon_notes
    from .adapters.routines import check_paths

    missing = [p for p in paths if not exists(p)]
    if missing:
        raise UsageError(f"no such file or folder: {', '.join(map(display_path, missing))}")
    result = check_paths(paths)
    notes, warned = [], 0
    for path, routine in result.routines:
        warnings, problems = icon_notes(path, routine)  # import's own icon check, in its words
        notes += [f"{w.file}:{w.line}:{w.col}: warning: {w.message}" for w in warnings] + [str(p) for p in problems]
        if problems or warnings and strict:
            result.bad_files += 1
            continue
        warned += bool(warnings)
        n = len(routine.stretches)
        print(f"ok: {display_path(path)}: {routine.name} ({n} stretch{'es' if n != 1 else ''}, "
              f"{clock_text(routine.total_seconds())})")
    for problem in result.problems:
        print(problem, file=sys.stderr)
    for note in notes:
        print(note, file=sys.stderr)
    if result.bad_files:
        print(f"{result.bad_files} file{'s' if result.bad_files != 1 else ''} with problems", file=sys.stderr)
        return EXIT_INVALID
    if warned:
        print(f"{warned} file{'s' if warned != 1 else ''} with warnings (--strict makes them problems)",
              file=sys.stderr)
    return EXIT_OK


def show_config(config: Config, path: Path | None, *, check: bool = False) -> int:
    """``stretchbox config``: the config in effect as YAML that ``config --check`` accepts."""
    from .adapters.configyaml import dump_config
    from .adapters.files import display_path

    source = display_path(config.source) if config.source != "<defaults>" \
        else f"{display_path(path or DEFAULT_PATH)} (missing: defaults)"
    if check:
        print(f"ok: {source}")
        return EXIT_OK
    print(f"# {source}")
    print(dump_config(config), end="")
    return EXIT_OK


def import_routines(source: Path, library: Path | None) -> int:
    """``stretchbox import``: the routines of a folder or a mounted stick into the library."""
    from .adapters.library.commands import import_command
    from .adapters.library.store import DEFAULT_LIBRARY

    return import_command(source, library or DEFAULT_LIBRARY)


def list_routines(library: Path | None) -> int:
    """``stretchbox routines``: what the device offers."""
    from .adapters.library.commands import routines_command
    from .adapters.library.store import DEFAULT_LIBRARY

    return routines_command(library or DEFAULT_LIBRARY)


def show_history(folder: Path, *, as_json: bool = False, clock: WallClock | None = None,
                 boot: str | None = None, day=None) -> int:
    """``stretchbox history``: the sessions of the history file in ``folder`` and the held seconds per
    stretch and side, as a table or (``as_json``) as the stored lines plus a totals line; exit 0."""
    from .adapters.files import display_path
    from .adapters.history import HistoryFile
    from .adapters.journal import current_boot_id
    from .adapters.wallclock import WallClock
    from .core.history import history_table, local_date, sessions, streak_line, this_week, totals_line

    day = day or local_date
    entries = HistoryFile(folder).read()
    records = sessions(entries)
    if as_json:
        for entry in entries:
            print(json.dumps(entry.to_dict(), ensure_ascii=False, separators=(",", ":")))
        print(json.dumps(totals_line(records), ensure_ascii=False, separators=(",", ":")))
    if not records:
        print(f"No sessions recorded yet (the history lives in {display_path(folder)}).",
              file=sys.stderr if as_json else sys.stdout)
        return EXIT_OK
    if as_json:
        return EXIT_OK
    for line in history_table(records, day):
        print(line)
    now, source = (clock or WallClock()).wall_clock()
    today = day(now) if source else None
    week = this_week(records, today, boot if boot is not None else current_boot_id(), day)
    print(f"\n{week.label.capitalize()}{'' if today else ' (the clock is not trusted: no dates)'}: "
          f"{len(week.records)} session{'' if len(week.records) == 1 else 's'}.")
    print(f"{streak_line(entries, today, day)}.")
    return EXIT_OK
