"""The ``stretchbox`` command: run | simulate | validate | history (and the device tools).

Exit codes: 0 success, 1 the input was checked and is bad, 2 usage errors.
Heavy imports (Pillow, luma, gpiozero) happen inside the commands that need
them, so ``validate`` and the start-up splash stay quick on a Pi Zero.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from pathlib import Path

from . import __version__
from .core.errors import UsageError

EXIT_OK, EXIT_INVALID, EXIT_USAGE = 0, 1, 2


def terminal_columns() -> int:
    """The columns ``shutil.get_terminal_size`` gives: $COLUMNS, else stdout's terminal, else 80."""
    try:
        columns = int(os.environ.get("COLUMNS", "0"))
    except ValueError:
        columns = 0
    if columns <= 0:
        try:
            columns = os.get_terminal_size(sys.__stdout__.fileno()).columns  # type: ignore[union-attr]
        except (AttributeError, ValueError, OSError):
            columns = 0
    return columns or 80


class Formatter(argparse.HelpFormatter):
    """argparse's help layout and width, without ``shutil``: argparse imports it to size every
    formatter, one per ``add_argument``, and its import (bz2, lzma) is ~2 ms of the splash's start-up."""

    def __init__(self, prog: str, *args, width: int | None = None, **kwargs):
        super().__init__(prog, *args, width=terminal_columns() - 2 if width is None else width, **kwargs)


class Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line (exit 2), like every other usage error here."""

    def __init__(self, *args, formatter_class=Formatter, **kwargs):
        super().__init__(*args, formatter_class=formatter_class, **kwargs)

    def error(self, message: str):  # type: ignore[override]
        self.exit(EXIT_USAGE, f"{self.prog}: {message} (see --help)\n")


def path_arg(text: str) -> Path:
    """A path from the command line; a NUL byte (no file can have one) is a usage error."""
    if "\x00" in text:
        raise argparse.ArgumentTypeError(f"{text!r} contains a NUL byte")
    if not text:
        raise argparse.ArgumentTypeError("empty path")
    return Path(text)


def seconds_arg(low: float, high: float, *, above: bool = False) -> Callable[[str], float]:
    """A number of seconds from ``low`` (or, with ``above``, more than ``low``) to ``high``; never nan or inf."""
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected seconds, got {text!r}") from None
        if not (low < value <= high if above else low <= value <= high):  # also false for nan
            raise argparse.ArgumentTypeError(f"must be {'over' if above else 'from'} {low:g} "
                                             f"{'and up ' if above else ''}to {high:g} seconds, got {text!r}")
        return value
    return parse


def positive_arg(text: str) -> float:
    """A finite number above zero."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"must be a finite number above 0, got {text!r}")
    return value


def build_parser() -> argparse.ArgumentParser:
    p = Parser(prog="stretchbox", description="A stretch timer for after a run.")
    p.add_argument("--version", action="version", version=f"stretchbox {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    for add in (_add_run, _add_simulate, _add_device_tools, _add_file_tools, _add_history, _add_boot_frames):
        add(sub)
    return p


STATE_DIR_HELP = "the state folder: resume journal and history (default: $STATE_DIRECTORY, else the config's paths.state)"


def _add_run(sub) -> None:
    run = sub.add_parser("run", help="run the device (off a Pi: the terminal is the screen and buttons)")
    run.add_argument("routine", nargs="?", type=path_arg, help="a routine file (default: the built-in routines)")
    run.add_argument("--start", action="store_true", help="start the routine at once, as if A was pressed")
    run.add_argument("--config", type=path_arg, help="device config (default /etc/stretchbox/config.yaml if present)")
    run.add_argument("--display", metavar="NAME",
                     help="config (the configured OLED), a luma driver (ssd1306, sh1106, ...), "
                          "terminal, pygame, dummy, or text (default: config on a Pi, else terminal, "
                          "or text in a pipe)")
    run.add_argument("--pins", choices=("auto", "real", "mock"), default="auto",
                     help="GPIO: real pins on a Pi, gpiozero's MockFactory elsewhere (default auto)")
    run.add_argument("--state-dir", type=path_arg, metavar="DIR", help=STATE_DIR_HELP)
    run.add_argument("--first-frame-only", action="store_true", help=argparse.SUPPRESS)
    run.set_defaults(func=cmd_run)


def _add_simulate(sub) -> None:
    from .config import RESUME_LEAD

    sim = sub.add_parser("simulate", help="run a routine on a simulated clock, as fast as the CPU allows")
    sim.add_argument("routine", nargs="?", type=path_arg, help="a routine file (default: the built-in default)")
    sim.add_argument("--press", action="append", default=[], metavar="T:BUTTON[:HOLD]",
                     help="press BUTTON (a, b, or ab for both) at T seconds, held HOLD seconds; repeatable")
    sim.add_argument("--json", action="store_true", help="one JSON object per line")
    sim.add_argument("--one-button", action="store_true", help="one-button mode (press, hold 1 s, hold 3 s)")
    sim.add_argument("--resume-lead", type=seconds_arg(*RESUME_LEAD), metavar="S",
                     help="seconds of lead-in after resuming a hold (default: the config's, 3)")
    sim.add_argument("--config", type=path_arg, help="a device config file (default: the built-in defaults)")
    sim.add_argument("--frames", type=path_arg, metavar="DIR", help="write one PNG per distinct screen, named by time")
    sim.add_argument("--gif", type=path_arg, metavar="FILE", help="write the routine as an animated GIF")
    sim.add_argument("--gif-speed", type=positive_arg, default=8.0, metavar="X",
                     help="GIF time compression (default 8)")
    sim.add_argument("--sheet", type=path_arg, metavar="FILE", help="write a sheet of every kind of screen shown")
    sim.add_argument("--display", metavar="NAME",
                     help="draw through the device's driver for this chip (ssd1306, sh1106: partial updates; "
                          "luma's for the others) over a recording serial interface")
    sim.add_argument("--bus-log", type=path_arg, metavar="FILE",
                     help="with --display: every command/data call the driver made, one JSON object per line")
    sim.add_argument("--state-dir", type=path_arg, metavar="DIR",
                     help="keep a resume journal and the history there, as the device does (default: nothing kept)")
    sim.add_argument("--journal", type=path_arg, metavar="FILE",
                     help="start from this resume journal (a journal.json), as the device would after a restart")
    sim.set_defaults(func=cmd_simulate)


def _add_device_tools(sub) -> None:
    cfg = sub.add_parser("config", help="show or check the device config")
    cfg.add_argument("--config", type=path_arg, help="the config file (default /etc/stretchbox/config.yaml)")
    cfg.add_argument("--check", action="store_true", help="only check it: exit 0 when valid, 1 when not")
    cfg.set_defaults(func=cmd_config)

    chk = sub.add_parser("check", help="on a Pi: find the OLED, test pattern, cues, buttons, latency")
    chk.add_argument("--config", type=path_arg, help="device config (default /etc/stretchbox/config.yaml if present)")
    chk.add_argument("--display", metavar="NAME", help="as for run (default: the configured OLED)")
    chk.add_argument("--pins", choices=("real", "mock"), default="real", help="GPIO (default real)")
    chk.add_argument("--timeout", type=seconds_arg(0, 3600, above=True), default=20.0,
                     help="seconds to wait for each button (default 20)")
    chk.set_defaults(func=cmd_check)


def _add_file_tools(sub) -> None:
    imp = sub.add_parser("import", help="import routines from a folder or a mounted USB stick")
    imp.add_argument("source", type=path_arg, metavar="SOURCE", help="a folder holding a stretchbox/ folder")
    imp.add_argument("--library", type=path_arg, help="the routine library (default /var/lib/stretchbox/library)")
    imp.set_defaults(func=cmd_import)

    lst = sub.add_parser("routines", help="list the routines the device offers")
    lst.add_argument("--library", type=path_arg, help="the routine library (default /var/lib/stretchbox/library)")
    lst.set_defaults(func=cmd_routines)

    val = sub.add_parser("validate", help="check routine files or folders of them")
    val.add_argument("paths", nargs="+", type=path_arg, metavar="PATH")
    val.add_argument("--strict", action="store_true",
                     help="warnings (an icon file not found beside the routine) count as problems: exit 1")
    val.set_defaults(func=cmd_validate)


def _add_history(sub) -> None:
    his = sub.add_parser("history", help="the sessions kept on the device, and the held seconds per side")
    his.add_argument("--json", action="store_true", help="the stored lines as JSON, then a totals line")
    his.add_argument("--state-dir", type=path_arg, metavar="DIR", help=STATE_DIR_HELP)
    his.add_argument("--config", type=path_arg, help="device config (default /etc/stretchbox/config.yaml if present)")
    his.set_defaults(func=cmd_history)


def _add_boot_frames(sub) -> None:
    boot = sub.add_parser("boot-frames", help="pre-render the boot splash and SAFE TO UNPLUG for the "
                                              "configured I2C panel (install.sh runs this)")
    boot.add_argument("--config", type=Path, help="device config (default /etc/stretchbox/config.yaml if present)")
    boot.add_argument("--out", type=Path, required=True, metavar="DIR",
                      help="write splash.json and safe-to-unplug.json here")
    boot.set_defaults(func=cmd_boot_frames)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse: 2 on usage errors, 0 for --help
        return int(exc.code or 0)
    if not getattr(args, "func", None):
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    try:
        return args.func(args)
    except UsageError as exc:
        print(f"stretchbox: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except SystemExit as exc:
        return int(exc.code or 0)
    except KeyboardInterrupt:
        return EXIT_OK
    except BrokenPipeError:
        return EXIT_OK


def cmd_validate(args: argparse.Namespace) -> int:
    from .commands import validate

    return validate(args.paths, strict=args.strict)


def _config(args: argparse.Namespace, *, device_file: bool = False, pins: bool = True):
    from .commands import device_config

    return device_config(getattr(args, "config", None), device_file=device_file, pins=pins)


def cmd_check(args: argparse.Namespace) -> int:
    """``stretchbox check``: exit 0 when every check passed, 1 when one failed (each FAIL with its fix)."""
    from .app import check

    return check(_config(args, device_file=True), args.display, args.pins, args.timeout)


def cmd_import(args: argparse.Namespace) -> int:
    from .commands import import_routines

    return import_routines(args.source, args.library)


def cmd_routines(args: argparse.Namespace) -> int:
    from .commands import list_routines

    return list_routines(args.library)


def cmd_history(args: argparse.Namespace) -> int:
    """``stretchbox history``: the history file of the state folder; exit 0, also when there is none.
    A line it skips is said on stderr."""
    import logging

    from .commands import show_history
    from .config import state_folder

    logging.basicConfig(level=logging.WARNING, format="stretchbox: %(message)s")
    return show_history(state_folder(_config(args, device_file=True, pins=False), args.state_dir), as_json=args.json)


def cmd_config(args: argparse.Namespace) -> int:
    """``stretchbox config``: the config in effect as YAML that ``config --check`` accepts."""
    from .commands import show_config

    return show_config(_config(args, device_file=True), args.config, check=args.check)


# Frame outputs draw every second of the simulated time: a routine longer than this is refused up front.
FRAMES_LIMIT = 3 * 3600
FRAMES_MAX_STEPS = 50_000  # and a run drawing more steps than this (~40 s here) stops with one line


def cmd_simulate(args: argparse.Namespace) -> int:
    """The whole device on a simulated clock: real gpiozero devices on MockFactory pins.

    Every usage error (exit 2) and bad file (exit 1) is found before any work: the
    numbers, the presses, the config, the routine, the display, and the output
    files, which are opened (or their folder made) before the simulation runs.
    """
    from .app import SimulateOutputs, simulate_command
    from .commands import routines_from

    config, presses = _simulated_config(args)
    routine = routines_from(args.routine)[0]
    outputs = SimulateOutputs(json=args.json, frames=args.frames, gif=args.gif, gif_speed=args.gif_speed,
                              sheet=args.sheet, driver=args.display, bus_log=args.bus_log)
    total = routine.total_seconds()
    if outputs.draws and total > FRAMES_LIMIT:
        raise UsageError(f"--frames, --gif, --sheet and --display draw every second: this routine is {total:,} s, "
                         f"over the {FRAMES_LIMIT:,} s limit for them (the timeline alone has none)")
    return simulate_command(config, routine, presses, outputs, max_steps=FRAMES_MAX_STEPS if outputs.draws else None,
                            state=args.state_dir, journal=args.journal)


def _simulated_config(args: argparse.Namespace):
    """The config as ``simulate``'s options change it, and the presses (A at 0 s first): usage errors first."""
    import dataclasses

    from .app import ScheduledPress
    from .config import DRIVERS
    from .platform import check_driver

    config = _config(args)
    buttons = config.buttons
    if args.one_button:
        buttons = dataclasses.replace(buttons, mode="one")
    config = dataclasses.replace(config, buttons=buttons, resume_lead=config.resume_lead
                                 if args.resume_lead is None else args.resume_lead)
    names = ("a",) if buttons.mode == "one" else ("a", "b", "ab")
    try:
        presses = [ScheduledPress(0.0, "a")] + [ScheduledPress.parse(p, names) for p in args.press]
    except ValueError as exc:
        raise UsageError(f"--press: {exc}") from None
    if args.bus_log and not args.display:
        raise UsageError("--bus-log needs --display (a driver to log)")
    if args.display:
        if args.display not in DRIVERS:
            raise UsageError(f"--display must be one of {', '.join(DRIVERS)}")
        check_driver(args.display, config.display)
    return config, presses


def cmd_run(args: argparse.Namespace) -> int:
    """The device: the owner loop, until SIGTERM/SIGINT (or q on the keyboard); exit 0.

    Start-up order is for a fast first pixel on a Pi Zero: config, then the
    panel and a splash, and only then gpiozero, the routines and the rest.
    """
    import time

    from .adapters import splashcache
    from .commands import config_file
    from .config import Config, state_folder
    from .core.frame import Frame, splash_frame
    from .platform import open_display

    path = config_file(args.config, device_file=True)
    cache = state_folder(Config(), args.state_dir)  # not the config's paths.state: it is not read yet
    remembered = splashcache.recall(cache, path) if path else None
    # The config unchanged since the last start: its display settings without YAML. Else the file first
    # (the pins' check imports gpiozero: after the splash).
    config = Config(display=remembered) if remembered else _config(args, device_file=True, pins=False)
    display = open_display(args.display, config)
    display.splash(splash_frame())
    if args.first_frame_only:  # for the start-up benchmark: the time of the first frame, then exit
        print(f"first-frame {time.monotonic():.6f}", flush=True)
        return EXIT_OK
    log = _logging()  # after the splash: importing logging is start-up time
    if display.fault:
        log.info("display not ready at start (%s)", display.fault)
    try:
        config = _config(args, device_file=True)  # the whole check, as config --check does it
    except SystemExit as exc:  # say it on the panel too (it keeps the last picture), then exit 1
        display.splash(Frame("error", title="CONFIG PROBLEM", text=str(getattr(exc, "problem", ""))))
        display.close()
        raise
    if path and remembered != config.display:  # what recall() read before the splash: not read again
        splashcache.remember(cache, path, config.display)
    if remembered and remembered != config.display:  # the file changed since it was stat'ed: the panel again
        display.close()
        display = open_display(args.display, config)
        display.splash(splash_frame())
    from .app import run

    return run(config, args.routine, display, args.pins, start=args.start, state_dir=args.state_dir)


def _logging():
    """Log lines to stderr from INFO up; the logger the start-up messages go to."""
    import logging

    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    return logging.getLogger("stretchbox")


def cmd_boot_frames(args: argparse.Namespace) -> int:
    """The splash and SAFE TO UNPLUG as replay files for the configured I2C panel."""
    from .app import boot_frames

    return boot_frames(_config(args, device_file=True), args.out)


if __name__ == "__main__":
    raise SystemExit(main())
