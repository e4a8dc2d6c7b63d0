"""The ``stretchbox`` command: run | simulate | validate.

Exit codes: 0 success, 1 the input was checked and is bad, 2 usage errors.
Heavy imports (Pillow, luma, gpiozero) happen inside the commands that need
them, so ``validate`` and the start-up splash stay quick on a Pi Zero.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

from . import __version__
from .core.errors import UsageError

EXIT_OK, EXIT_INVALID, EXIT_USAGE = 0, 1, 2


class Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line (exit 2), like every other usage error here."""

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
    from .config import RESUME_LEAD

    p = Parser(prog="stretchbox", description="A stretch timer for after a run.")
    p.add_argument("--version", action="version", version=f"stretchbox {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")

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
    run.add_argument("--first-frame-only", action="store_true", help=argparse.SUPPRESS)
    run.set_defaults(func=cmd_run)

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
                     help="drive a real luma driver (ssd1306, sh1106, ...) over a recording serial interface")
    sim.add_argument("--bus-log", type=path_arg, metavar="FILE",
                     help="with --display: every command/data call, one JSON object per line")
    sim.set_defaults(func=cmd_simulate)

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

    imp = sub.add_parser("import", help="import routines from a folder or a mounted USB stick")
    imp.add_argument("source", type=path_arg, metavar="SOURCE", help="a folder holding a stretchbox/ folder")
    imp.add_argument("--library", type=path_arg, help="the routine library (default /var/lib/stretchbox/library)")
    imp.set_defaults(func=cmd_import)

    lst = sub.add_parser("routines", help="list the routines the device offers")
    lst.add_argument("--library", type=path_arg, help="the routine library (default /var/lib/stretchbox/library)")
    lst.set_defaults(func=cmd_routines)

    val = sub.add_parser("validate", help="check routine files or folders of them")
    val.add_argument("paths", nargs="+", type=path_arg, metavar="PATH")
    val.set_defaults(func=cmd_validate)

    boot = sub.add_parser("boot-frames", help="pre-render the boot splash and SAFE TO UNPLUG for the "
                                              "configured I2C panel (install.sh runs this)")
    boot.add_argument("--config", type=Path, help="device config (default /etc/stretchbox/config.yaml if present)")
    boot.add_argument("--out", type=Path, required=True, metavar="DIR",
                      help="write splash.json and safe-to-unplug.json here")
    boot.set_defaults(func=cmd_boot_frames)
    return p


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
    from .adapters.files import display_path, exists
    from .adapters.routines import check_paths
    from .core.frame import clock_text

    missing = [p for p in args.paths if not exists(p)]
    if missing:
        raise UsageError(f"no such file or folder: {', '.join(map(display_path, missing))}")
    result = check_paths(args.paths)
    for path, routine in result.routines:
        n = len(routine.stretches)
        print(f"ok: {display_path(path)}: {routine.name} ({n} stretch{'es' if n != 1 else ''}, "
              f"{clock_text(routine.total_seconds())})")
    for problem in result.problems:
        print(problem, file=sys.stderr)
    if result.bad_files:
        print(f"{result.bad_files} file{'s' if result.bad_files != 1 else ''} with problems", file=sys.stderr)
        return EXIT_INVALID
    return EXIT_OK


def _config(args: argparse.Namespace, *, device_file: bool = False, pins: bool = True):
    from .app import device_config

    return device_config(getattr(args, "config", None), device_file=device_file, pins=pins)


def cmd_check(args: argparse.Namespace) -> int:
    """``stretchbox check``: exit 0 when every check passed, 1 when one failed (each FAIL with its fix)."""
    from .app import check

    return check(_config(args, device_file=True), args.display, args.pins, args.timeout)


def cmd_import(args: argparse.Namespace) -> int:
    from .adapters.library import DEFAULT_LIBRARY, import_command

    return import_command(args.source, args.library or DEFAULT_LIBRARY)


def cmd_routines(args: argparse.Namespace) -> int:
    from .adapters.library import DEFAULT_LIBRARY, routines_command

    return routines_command(args.library or DEFAULT_LIBRARY)


def cmd_config(args: argparse.Namespace) -> int:
    """``stretchbox config``: the config in effect as YAML that ``config --check`` accepts."""
    from .adapters.configyaml import dump_config
    from .adapters.files import display_path
    from .config import DEFAULT_PATH

    config = _config(args, device_file=True)
    source = display_path(config.source) if config.source != "<defaults>" \
        else f"{display_path(args.config or DEFAULT_PATH)} (missing: defaults)"
    if args.check:
        print(f"ok: {source}")
        return EXIT_OK
    print(f"# {source}")
    print(dump_config(config), end="")
    return EXIT_OK


# Frame outputs draw every second of the simulated time: a routine longer than this is refused up front.
FRAMES_LIMIT = 3 * 3600
FRAMES_MAX_STEPS = 50_000  # and a run drawing more steps than this (~40 s here) stops with one line


def cmd_simulate(args: argparse.Namespace) -> int:
    """The whole device on a simulated clock: real gpiozero devices on MockFactory pins.

    Every usage error (exit 2) and bad file (exit 1) is found before any work: the
    numbers, the presses, the config, the routine, the display, and the output
    files, which are opened (or their folder made) before the simulation runs.
    """
    from .adapters.outputs.timeline import json_line, summary_record, write_table
    from .app import SimulationTooLong, routines_from, simulate_routine
    from .platform import simulation

    config, presses = _simulated_config(args)
    routine = routines_from(args.routine)[0]
    frames = bool(args.frames or args.gif or args.sheet or args.display)
    total = routine.total_seconds()
    if frames and total > FRAMES_LIMIT:
        raise UsageError(f"--frames, --gif, --sheet and --display draw every second: this routine is {total:,} s, "
                         f"over the {FRAMES_LIMIT:,} s limit for them (the timeline alone has none)")
    files, gif, sheet, bus_log = _simulate_outputs(args)
    out = sys.stdout
    sim = simulation(config, emit=(lambda r: out.write(json_line(r) + "\n")) if args.json else None,
                     capture=bool(args.frames or args.gif or args.sheet), driver=args.display, bus_log=bus_log)
    try:
        device = simulate_routine(config, routine, presses, sim, **({"max_steps": FRAMES_MAX_STEPS} if frames else {}))
    except SimulationTooLong as exc:
        files.discard()
        raise UsageError(f"{exc}: drawing every second is too long here; drop --frames, --gif, --sheet and "
                         "--display, or press less") from None
    if sim.recorder is not None:
        _write_captures(args, sim.recorder, sim.clock.now, gif=gif, sheet=sheet)
    if bus_log is not None:
        files.finish("--bus-log", bus_log)
    summary = summary_record(sim.timeline)
    if args.json:
        out.write(json_line(summary) + "\n")
    else:
        write_table(device.app.session.routine, sim.timeline.records, summary, out)
    return EXIT_OK


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


def _simulate_outputs(args: argparse.Namespace):
    """``--frames``' folder made and ``--gif``, ``--sheet``, ``--bus-log`` opened, before any work."""
    files = OutputFiles()
    try:
        if args.frames:
            files.folder("--frames", args.frames)
        gif = files.open("--gif", args.gif) if args.gif else None
        sheet = files.open("--sheet", args.sheet) if args.sheet else None
        bus_log = files.open("--bus-log", args.bus_log) if args.bus_log else None
    except UsageError:
        files.discard()
        raise
    return files, gif, sheet, bus_log


class OutputFiles:
    """The output files of ``simulate``, opened before any work so a path that cannot be written
    is a usage error at once, not after the whole simulation. Files it created are removed
    again if the run stops early; a write that fails at the end is one line and exit 1."""

    def __init__(self):
        self.created: list[Path] = []
        self.opened: list = []

    def folder(self, option: str, path: Path) -> None:
        import tempfile

        missing = [p for p in [path, *path.parents] if not p.exists()]  # made here: removed on a later refusal
        self.created += reversed(missing)
        try:
            path.mkdir(parents=True, exist_ok=True)
        except FileExistsError:
            raise UsageError(f"{option}: {path} is a file, not a folder") from None
        except OSError as exc:
            raise UsageError(f"{option}: cannot make the folder {path}: {exc.strerror or exc}") from None
        try:
            with tempfile.TemporaryFile(dir=path):
                pass
        except OSError as exc:
            raise UsageError(f"{option}: cannot write in {path}: {exc.strerror or exc}") from None

    def open(self, option: str, path: Path):
        import os
        import stat

        try:
            mode = os.stat(path).st_mode
            if stat.S_ISDIR(mode):
                raise UsageError(f"{option}: {path} is a folder; give a file name")
            if not stat.S_ISREG(mode):
                raise UsageError(f"{option}: {path} is not a regular file")
            existed = True
        except FileNotFoundError:
            existed = False
        except OSError as exc:
            raise UsageError(f"{option}: cannot write {path}: {exc.strerror or exc}") from None
        if any(os.path.realpath(f.name) == os.path.realpath(path) for f in self.opened):
            raise UsageError(f"{option}: {path} is already another output")
        try:
            f = open(path, "ab")  # not truncated until the end: a run stopped early leaves it as it was
        except OSError as exc:
            raise UsageError(f"{option}: cannot write {path}: {exc.strerror or exc}") from None
        if not existed:
            self.created.append(path)
        self.opened.append(f)
        return _Sink(f)

    @staticmethod
    def finish(option: str, sink) -> None:
        """Close ``sink``; a write that failed on the way is one line and exit 1."""
        try:
            sink.close()
        except OSError as exc:
            sink.error = sink.error or exc
        if sink.error is not None:
            print(f"stretchbox: {option}: cannot write {sink.name}: {sink.error.strerror or sink.error}",
                  file=sys.stderr)
            raise SystemExit(EXIT_INVALID)

    def discard(self) -> None:
        for f in self.opened:
            f.close()
        for path in reversed(self.created):
            try:
                path.rmdir() if path.is_dir() else path.unlink()
            except OSError:
                pass


class _Sink:
    """An output file that keeps its first write error rather than raising it inside a luma call
    (where it would pass for a display fault); ``OutputFiles.finish`` reports it."""

    def __init__(self, f):
        self.f, self.name, self.error = f, f.name, None
        self.started = False

    def _start(self) -> None:
        if not self.started:  # now it is written: drop what was there before
            self.started = True
            self.f.seek(0)
            self.f.truncate()

    def write(self, data) -> int:
        if self.error is None:
            try:
                self._start()
                self.f.write(data.encode() if isinstance(data, str) else data)
            except OSError as exc:
                self.error = exc
        return len(data)

    def close(self) -> None:
        self._start()
        self.f.close()


def _write_captures(args: argparse.Namespace, recorder, end: float, *, gif=None, sheet=None) -> None:
    """The PNGs, GIF and sheet, into the folder and files opened before the run; a failure is one line, exit 1."""
    import io

    from .render.gif import write_gif, write_sheet

    def put(option: str, sink, data: bytes) -> None:
        sink.write(data)
        OutputFiles.finish(option, sink)

    if args.frames:
        try:
            n = recorder.write_pngs(args.frames)
        except OSError as exc:
            print(f"stretchbox: --frames: cannot write in {args.frames}: {exc.strerror or exc}", file=sys.stderr)
            raise SystemExit(EXIT_INVALID) from None
        print(f"{n} screens written to {args.frames}", file=sys.stderr)
    if gif is not None:
        buffer = io.BytesIO()
        ms = write_gif(recorder.frames, buffer, end=end, speed=args.gif_speed)
        put("--gif", gif, buffer.getvalue())
        print(f"{len(recorder.frames)} frames, {ms / 1000:.1f} s, written to {args.gif}", file=sys.stderr)
    if sheet is not None:
        seen, shown = set(), []
        for (t, image), frame in zip(recorder.frames, recorder.screens):
            key = (frame.screen, frame.title, frame.side == "right")
            if key not in seen:
                seen.add(key)
                shown.append((f"{frame.screen} at {t:.0f} s", image))
        buffer = io.BytesIO()
        write_sheet(shown, buffer)
        put("--sheet", sheet, buffer.getvalue())
        print(f"{len(shown)} screens on {args.sheet}", file=sys.stderr)


def cmd_run(args: argparse.Namespace) -> int:
    """The device: the owner loop, until SIGTERM/SIGINT (or q on the keyboard); exit 0.

    Start-up order is for a fast first pixel on a Pi Zero: config, then the
    panel and a splash, and only then gpiozero, the routines and the rest.
    """
    import logging
    import time

    from .core.frame import Frame, splash_frame
    from .platform import open_display

    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    config = _config(args, device_file=True, pins=False)  # the pins' check imports gpiozero: after the splash
    display = open_display(args.display, config)
    display.splash(splash_frame())
    if args.first_frame_only:  # for the start-up benchmark: the time of the first frame, then exit
        print(f"first-frame {time.monotonic():.6f}", flush=True)
        return EXIT_OK
    try:
        config = _config(args, device_file=True)  # the whole check, as config --check does it
    except SystemExit as exc:  # say it on the panel too (it keeps the last picture), then exit 1
        display.splash(Frame("error", title="CONFIG PROBLEM", text=str(getattr(exc, "problem", ""))))
        display.close()
        raise
    from .app import run

    return run(config, args.routine, display, args.pins, start=args.start)


def cmd_boot_frames(args: argparse.Namespace) -> int:
    """The splash and SAFE TO UNPLUG as replay files for the configured I2C panel."""
    from .app import boot_frames

    return boot_frames(_config(args, device_file=True), args.out)


if __name__ == "__main__":
    raise SystemExit(main())
