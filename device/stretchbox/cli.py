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
from .config import DRIVERS

EXIT_OK, EXIT_INVALID, EXIT_USAGE = 0, 1, 2


class UsageError(Exception):
    pass


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
    val.add_argument("--strict", action="store_true",
                     help="warnings (an icon file not found beside the routine) count as problems: exit 1")
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


def _load_routines(path: Path | None):
    """The routine named on the command line, or the built-in ones; problems exit 1."""
    from .adapters.routines import load_builtin, load_routine
    from .adapters.yamlfile import FileError

    try:
        return [load_routine(path)] if path else load_builtin()
    except FileError as exc:
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        raise SystemExit(EXIT_INVALID) from None


def cmd_validate(args: argparse.Namespace) -> int:
    from .adapters.files import display_path, exists
    from .adapters.library.importer import icon_notes
    from .adapters.routines import check_paths
    from .core.frame import clock_text

    missing = [p for p in args.paths if not exists(p)]
    if missing:
        raise UsageError(f"no such file or folder: {', '.join(map(display_path, missing))}")
    result = check_paths(args.paths)
    notes, warned = [], 0
    for path, routine in result.routines:
        warnings, problems = icon_notes(path, routine)  # import's own icon check, in its words
        notes += [f"{w.file}:{w.line}:{w.col}: warning: {w.message}" for w in warnings] + [str(p) for p in problems]
        if problems or warnings and args.strict:
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


def _config(args: argparse.Namespace, *, device_file: bool = False, pins: bool = True):
    """The device config: ``--config`` (which must exist), else with ``device_file`` the device's own
    /etc/stretchbox/config.yaml when there is one, else the defaults. Problems exit 1 with file and line.
    ``pins=False`` leaves the pins' check (it imports gpiozero) for a second call."""
    from .adapters.configfile import load_config
    from .adapters.yamlfile import FileError
    from .config import DEFAULT_PATH, Config

    path = getattr(args, "config", None)
    if path is None and device_file and DEFAULT_PATH.exists():
        path = DEFAULT_PATH
    if path is None:
        return Config()
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


def cmd_check(args: argparse.Namespace) -> int:
    """``stretchbox check``: exit 0 when every check passed, 1 when one failed (each FAIL with its fix)."""
    import dataclasses
    import queue
    import time

    config = _config(args, device_file=True)
    name = args.display or "config"
    display = open_display(name, config)
    if display.open is None:
        raise UsageError("check needs a pixel display (config, a driver name, dummy or an emulator)")
    from .adapters.buttons import ButtonsInput
    from .adapters.buzzer import BuzzerOutput
    from .app import sound_devices
    from .check import I2CTarget, run_check
    from .config import DEFAULT_PATH

    factory = None
    if args.pins == "mock":
        from gpiozero.pins.mock import MockFactory, MockPWMPin

        factory = MockFactory(pin_class=MockPWMPin)
    inbox: queue.Queue = queue.Queue()
    b, z, d = config.buttons, config.buzzer, config.display
    pins = {"a": b.a} if b.mode == "one" else {"a": b.a, "b": b.b}
    config_file = config.source if config.source != "<defaults>" else str(DEFAULT_PATH)

    def open_buzzer():  # the buzzer, then the motor; a motor that fails does not leak the buzzer
        if z.kind == "none" and not z.vibration_pin:
            return None
        sound = sound_devices(dataclasses.replace(z, vibration_pin=None), factory)[0]
        try:
            motor = sound_devices(dataclasses.replace(z, kind="none"), factory)[1]
        except Exception:
            if sound is not None:
                sound.close()
            raise
        return BuzzerOutput(sound, motor)

    buzzer_pins = ([z.pin] if z.kind != "none" else []) + ([f"vibration {z.vibration_pin}"] if z.vibration_pin else [])

    try:
        report = run_check(
            open_device=display.open, render=display.render, buttons=pins, inbox=inbox,
            open_button=lambda button, pin: ButtonsInput({button: pin}, inbox, clock=time.monotonic,
                                                         bounce_time=b.bounce_time, pin_factory=factory),
            open_buzzer=open_buzzer, buzzer_pin=", ".join(buzzer_pins),
            press_timeout=args.timeout, config_file=config_file,
            i2c=I2CTarget(d.i2c_port, d.i2c_address, config_file)
            if (name == "config" or name in DRIVERS) and d.interface == "i2c" else None)
    finally:
        if factory is not None:
            factory.reset()
    print("\n".join(["stretchbox check", *report.lines]))
    return EXIT_OK if report.ok else EXIT_INVALID


def cmd_import(args: argparse.Namespace) -> int:
    from .adapters.library.commands import import_command
    from .adapters.library.store import DEFAULT_LIBRARY

    return import_command(args.source, args.library or DEFAULT_LIBRARY)


def cmd_routines(args: argparse.Namespace) -> int:
    from .adapters.library.commands import routines_command
    from .adapters.library.store import DEFAULT_LIBRARY

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
    import dataclasses
    import queue

    from .app import ScheduledPress, SimClock, SimulationTooLong, build, simulate
    from .timeline import Timeline, json_line, summary_record, write_table

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
    d = config.display
    if args.display:
        from .adapters.configfile import display_problem

        if args.display not in DRIVERS:
            raise UsageError(f"--display must be one of {', '.join(DRIVERS)}")
        problem = display_problem(args.display, d.width, d.height, d.rotate)
        if problem:
            raise UsageError(f"--display: {problem} (the config's size)")
    routines = _load_routines(args.routine)[:1]
    frames = bool(args.frames or args.gif or args.sheet or args.display)
    total = routines[0].total_seconds()
    if frames and total > FRAMES_LIMIT:
        raise UsageError(f"--frames, --gif, --sheet and --display draw every second: this routine is {total:,} s, "
                         f"over the {FRAMES_LIMIT:,} s limit for them (the timeline alone has none)")
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

    from gpiozero.pins.mock import MockFactory, MockPWMPin

    out = sys.stdout
    timeline = Timeline(emit=(lambda r: out.write(json_line(r) + "\n")) if args.json else None)
    clock, inbox = SimClock(), queue.Queue()
    outputs: list = [timeline]
    recorder = render = open_device = None
    if frames:
        from .capture import FrameRecorder, memo_render
        from .render import Renderer

        render = memo_render(Renderer(d.frame_size).render)
        if args.frames or args.gif or args.sheet:
            recorder = FrameRecorder(render)
            recorder.frame(splash_frame(), 0.0)  # as `run` starts
            outputs.append(recorder)
    if args.display:
        from .adapters.display import RecordingSerial, make_device

        serial = RecordingSerial(clock=clock, sink=bus_log)
        open_device = lambda: make_device(args.display, serial, width=d.width, height=d.height,  # noqa: E731
                                          rotate=d.rotate)
    factory = MockFactory(pin_class=MockPWMPin)
    try:
        device = build(config, routines, pin_factory=factory, clock=clock, inbox=inbox,
                       on_pin=lambda t, pin, state: timeline.add(
                           {"t": round(t, 3), "event": "pin", "pin": pin, "state": state}),
                       first_outputs=outputs, open_display=open_device, render=render,
                       frames=frames)  # without frame outputs: one step per event, not per second
        pins = {"a": buttons.a, "b": buttons.b}
        schedule = []
        for p in presses:
            for name in p.button:  # "ab": both buttons, for the power menu
                pin = factory.pin(pins[name])
                schedule.append((p.t, pin.drive_low))
                schedule.append((p.t + p.hold, pin.drive_high))
        simulate(device.app, schedule, inbox, clock, **({"max_steps": FRAMES_MAX_STEPS} if frames else {}))
        device.close()
    except SimulationTooLong as exc:
        files.discard()
        raise UsageError(f"{exc}: drawing every second is too long here; drop --frames, --gif, --sheet and "
                         "--display, or press less") from None
    finally:
        factory.reset()
    if recorder is not None:
        _write_captures(args, recorder, clock.now, gif=gif, sheet=sheet)
    if bus_log is not None:
        files.finish("--bus-log", bus_log)
    summary = summary_record(timeline)
    if args.json:
        out.write(json_line(summary) + "\n")
    else:
        write_table(device.app.session.routine, timeline.records, summary, out)
    return EXIT_OK


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


def on_a_pi() -> bool:
    """True on a Raspberry Pi (its device tree names the model)."""
    for model in ("/proc/device-tree/model", "/sys/firmware/devicetree/base/model"):
        try:
            if "raspberry pi" in Path(model).read_text(errors="replace").lower():
                return True
        except OSError:
            continue
    return False


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
    import queue
    import signal
    import threading
    import time

    from .core.frame import Frame

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

    problems: list = []
    if args.routine:
        routines = _load_routines(args.routine)
    else:
        from .adapters.library.store import load_library

        routines, problems = load_library(Path(config.paths.library))
        if not routines:
            for problem in problems:
                print(problem, file=sys.stderr)
            return EXIT_INVALID
    pins = args.pins if args.pins != "auto" else ("real" if on_a_pi() else "mock")

    from .adapters.keyboard import HELP, Keyboard
    from .adapters.systemd import Notifier, WatchdogPinger
    from .adapters.usbwatch import MountWatcher
    from .app import UsbImports, build, run_loop

    inbox: queue.Queue = queue.Queue()
    stop = threading.Event()

    def on_signal(signum, frame):  # only flags and wakes the loop: the owner thread cleans up
        stop.set()
        inbox.put(None)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    factory = None
    if pins == "mock":
        from gpiozero.pins.mock import MockFactory, MockPWMPin

        factory = MockFactory(pin_class=MockPWMPin)
    from .app import PowerOutput

    device = build(config, routines, pin_factory=factory, clock=time.monotonic, inbox=inbox,
                   first_outputs=display.outputs, open_display=display.open, render=display.render,
                   power_off=PowerOutput._spawn if pins == "real" else None)  # off a Pi: only logged
    if problems:
        device.app.notify(Frame("error", title="ROUTINE PROBLEM", text=str(problems[0])))
    UsbImports(device.app, Path(config.paths.library), inbox, time.monotonic)
    watcher = None
    try:  # a stick already in at power-on is imported too
        watcher = MountWatcher(inbox, config.paths.usb_mounts).start(announce_existing=True)
    except OSError as exc:
        logging.getLogger("stretchbox").warning("not watching for USB sticks: %s", exc)
    keyboard = None
    if factory is not None and Keyboard.available():
        pin_of = {"a": config.buttons.a} if config.buttons.mode == "one" else \
            {"a": config.buttons.a, "b": config.buttons.b}

        def edge(button: str, down: bool) -> None:
            if button not in pin_of:  # one-button mode: B's pin may be anything's, or nothing
                return
            pin = factory.pin(pin_of[button])
            pin.drive_low() if down else pin.drive_high()

        keyboard = Keyboard(inbox, edge=edge)
        if not getattr(display, "shows_keys", False):  # the terminal panel has them below it
            print(HELP, file=sys.stderr)
        keyboard.start()
    elif factory is not None and sys.stdin.isatty():
        print("no keys: stretchbox is not in the terminal's foreground (under timeout, or with &)", file=sys.stderr)
    if args.start:
        from .core.gestures import A, Pressed, Released

        now = time.monotonic()
        inbox.put(Pressed(A, now))
        inbox.put(Released(A, now))
    notifier = Notifier()
    try:
        run_loop(device.app, inbox, time.monotonic, notifier=notifier, pinger=WatchdogPinger(notifier),
                 should_stop=lambda: stop.is_set() or (keyboard is not None and keyboard.quit.is_set()))
    finally:
        if watcher:
            watcher.stop()
        if keyboard:
            keyboard.close()
        device.close()
        if device.panel is not None:
            device.panel.final(final_frame(device.app.session.state, config.display.final_screen))
        display.close()
        if factory is not None:
            factory.reset()
    return EXIT_OK


class DisplayChoice:
    """How frames reach a screen: extra outputs (a text log), or a luma device and a renderer.

    ``splash`` opens the device early and draws one frame; the device it
    opened is handed to the panel output as its first ``open()``.
    """

    def __init__(self, outputs=(), open=None, render=None, close=lambda: None):
        self.outputs, self._open, self.render, self.close = list(outputs), open, render, close
        self._ready: list = []

    @property
    def open(self):
        if self._open is None:
            return None
        return lambda: self._ready.pop() if self._ready else self._open()

    def splash(self, frame) -> None:
        if self._open is None or self.render is None:
            return
        from .adapters.panel import DISPLAY_FAULTS

        try:
            if self._ready:  # a second frame (a refused config) goes to the device already open
                device = self._ready[-1]
            else:
                device = self._open()
                self._ready.append(device)  # the panel output's even if this frame fails: it owns the bus handle
            device.display(self.render(frame))
        except DISPLAY_FAULTS as exc:  # the panel output retries with backoff and logs the fault once
            import logging

            logging.getLogger("stretchbox").info("display not ready at start (%s: %s)", type(exc).__name__, exc)


def open_display(name: str | None, config) -> DisplayChoice:
    if name is None:
        name = "config" if on_a_pi() else _terminal_or_text(config.display)
    if name == "text":
        from .textscreen import TextScreen

        return DisplayChoice([TextScreen(sys.stdout)])
    import dataclasses

    from .adapters import display as displays
    from .capture import memo_render
    from .render import Renderer

    d = config.display
    render = memo_render(Renderer(d.frame_size).render)  # the panel's size, turned as luma turns it
    if name == "terminal":  # pixel-exact, in this terminal; no pygame needed
        from .adapters.terminal import TerminalPanel

        terminal: list = []

        def open_terminal():  # the frame as rendered: upright, as a person sees a panel mounted on its side
            if not terminal:
                width, height = d.frame_size
                terminal.append(TerminalPanel(sys.stdout, width=width, height=height, help=_key_help()))
            return terminal[0]
        choice = DisplayChoice(open=open_terminal, render=render, close=lambda: terminal and terminal[0].cleanup())
        choice.shows_keys = True  # cmd_run prints no help line of its own
        return choice
    if name in displays.EMULATORS:
        try:
            import luma.emulator.device  # noqa: F401 - only to say what is missing
        except ImportError:
            raise UsageError(f"display {name!r} needs the emulator extra: pip install 'stretchbox[emulator]'") from None
        made = []

        def open_emulator():
            if not made:  # an emulator cannot fail like a bus; open it once
                made.append(displays.emulator(name, width=d.width, height=d.height, rotate=d.rotate))
            return made[0]
        return DisplayChoice(open=open_emulator, render=render)
    if name == "dummy":  # luma's own test double: keeps the last image, sends nothing
        from luma.core.device import dummy

        return DisplayChoice(open=lambda: dummy(width=d.width, height=d.height, rotate=d.rotate, mode="1"),
                             render=render)
    if name == "config" or name in DRIVERS:
        if name != "config":
            from .adapters.configfile import display_problem

            problem = display_problem(name, d.width, d.height, d.rotate)
            if problem:
                raise UsageError(f"--display: {problem} (the config's size)")
        panel = d if name == "config" else dataclasses.replace(d, driver=name)
        return DisplayChoice(open=lambda: displays.device_from_config(panel), render=render)
    raise UsageError(f"unknown display {name!r}: config, {', '.join(DRIVERS)}, terminal, "
                     f"{', '.join(displays.EMULATORS)} or text")


def _key_help() -> tuple[str, ...]:
    from .adapters.keyboard import HELP, SHORT_HELP, Keyboard

    return (HELP, SHORT_HELP) if Keyboard.available() else ("no keys: stdin is not this terminal's foreground",)


def _terminal_or_text(display) -> str:
    """The emulated panel when the terminal can hold it exactly (half blocks, else braille), else a text log."""
    import shutil

    from .adapters.terminal import choose_layout, needed

    if not sys.stdout.isatty():
        return "text"
    size, (width, height) = shutil.get_terminal_size(), display.frame_size
    if choose_layout(size.columns, size.lines, width, height, _key_help()):
        return "terminal"
    print(f"terminal is {size.columns}x{size.lines}; the emulated panel needs "
          f"{needed(width, height, _key_help())}: showing a text log "
          "(or enlarge it, or use --display pygame)", file=sys.stderr)
    return "text"


def splash_frame():
    """The first screen: drawn by `run` as it starts, and earlier in boot by the splash unit."""
    from .core.frame import Frame

    return Frame("splash", title="stretchbox", text="starting...")


def safe_to_unplug_frame():
    """Drawn by the systemd-shutdown hook once every filesystem is read-only, and only then."""
    from .core.frame import Frame

    return Frame("message", title="SAFE TO UNPLUG", text="stretchbox has shut down")


def final_frame(state: str, setting: str):
    """What stays on the panel after exit. After a power-off the system is still shutting down
    (filesystems are written until the end): SAFE TO UNPLUG comes later, from the shutdown hook."""
    from .core.frame import Frame

    if state == "powering-off":
        return Frame("message", title="SHUTTING DOWN", text="wait for SAFE TO UNPLUG")
    if setting == "blank":
        return None
    return Frame("message", title="stretchbox", text="stopped")


def cmd_boot_frames(args: argparse.Namespace) -> int:
    """The splash and SAFE TO UNPLUG as replay files: the bytes luma's driver for the configured
    panel sends to draw them on a panel that was just powered on (see adapters/replay.py)."""
    config = _config(args, device_file=True)
    d = config.display
    if d.interface != "i2c":
        print(f"boot-frames: the panel is on {d.interface}: the early splash and SAFE TO UNPLUG "
              "are drawn over I2C only", file=sys.stderr)
        return EXIT_OK
    from .adapters.replay import dumps, record
    from .render import Renderer

    render = Renderer((d.width, d.height)).render
    args.out.mkdir(parents=True, exist_ok=True)
    for name, frame in (("splash", splash_frame()), ("safe-to-unplug", safe_to_unplug_frame())):
        replay = record(render(frame), driver=d.driver, port=d.i2c_port, address=d.i2c_address,
                        width=d.width, height=d.height, rotate=d.rotate, contrast=d.contrast)
        (args.out / f"{name}.json").write_text(dumps(replay))
    return EXIT_OK


if __name__ == "__main__":
    raise SystemExit(main())
