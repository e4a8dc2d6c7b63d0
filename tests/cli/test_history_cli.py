"""`stretchbox history` through the CLI: the table, --json, an empty history, the state folder's precedence, and
the README's example, which is this command's output on the history built here (``--update-golden`` rewrites it)."""

import json
import os
import re
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import pytest

from stretchbox.adapters.history import HistoryFile
from stretchbox.adapters.wallclock import WallClock
from stretchbox.cli import main
from stretchbox.commands import routines_from
from stretchbox.config import Config, Paths, state_folder
from stretchbox.core.history import Ending, ImportMarker, SessionLog, SessionRecord, SideLog

ROOT = Path(__file__).resolve().parents[2]
NOW = datetime(2026, 11, 25, 18, 30, tzinfo=timezone.utc).timestamp()  # a Wednesday evening


@pytest.fixture
def utc(monkeypatch):
    """Dates in UTC, and a wall clock trusted (ntp) at NOW in the boot "boot-2"."""
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    monkeypatch.setattr(WallClock, "wall_clock", lambda self: (NOW, "ntp"))
    monkeypatch.setattr("stretchbox.adapters.journal.current_boot_id", lambda path=None: "boot-2")
    yield
    monkeypatch.undo()
    time.tzset()


def at(day: int, hour: int = 18) -> float:
    return datetime(2026, 11, day, hour, tzinfo=timezone.utc).timestamp()


def session(start: float, clock: str | None, ended: Ending = Ending.FINISHED, *, short: dict | None = None,
            until: int | None = None, skip: tuple[int, ...] = (), boot: str = "boot-1") -> SessionRecord:
    """The built-in routine as a session did it: ``short`` {stretch: held seconds on the right side},
    ``until`` the stretch it was cut at, ``skip`` the stretches skipped."""
    routine = routines_from(None)[0]
    sides = []
    for number, s in enumerate(routine.stretches[:until], 1):
        for side in s.sides.order:
            held = (short or {}).get(number, s.timing.hold) if side == "right" else s.timing.hold
            sides.append(SideLog(number, s.name, side, s.timing.hold, 0.0 if number in skip else float(held),
                                 skipped=number in skip))
    duration = sum(x.held for x in sides) + 60.0
    log = SessionLog(routine.name, "3f9a1c", 0.0, sides, pauses=0, paused=0.0, ended=ended, duration=duration)
    return SessionRecord(log, start, start + duration, clock, boot)


def example_history(folder: Path) -> None:
    h = HistoryFile(folder)
    for entry in [session(at(9), "ntp", short={2: 20}), ImportMarker(2, at(10), "ntp"),
                  session(at(12), None, Ending.STOPPED, until=3, short={2: 18}),
                  session(at(16, 7), "ntp", short={2: 22}, skip=(6,)), session(at(22), "ntp", Ending.INTERRUPTED, until=4),
                  session(at(24), "ntp", short={2: 24}, boot="boot-2")]:
        h.append(entry)


def history(capsys, *args) -> tuple[int, str, str]:
    code = main(["history", *args])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_the_table_the_totals_and_the_streak(tmp_path, capsys, utc):
    example_history(tmp_path)
    code, out, err = history(capsys, "--state-dir", str(tmp_path))
    assert code == 0 and err == ""
    lines = out.splitlines()
    assert lines[0].split() == ["date", "routine", "held", "done", "skipped", "ended"]
    assert lines[1].split() == ["2026-11-09", "Post-run", "stretches", "5:20", "6", "0", "finished"]
    assert lines[2].split() == ["unknown", "date", "Post-run", "stretches", "2:18", "3", "0", "stopped"]
    assert lines[3].split()[-3:] == ["5", "1", "finished"] and lines[4].split()[-3:] == ["4", "0", "interrupted"]
    hip = next(line for line in lines if line.startswith("Hip flexor"))
    assert hip.split()[2:4] == ["2:30", "1:54"] and "right under 80% of the other side" in hip
    assert "Wide-leg fold" in out and not any("under" in line for line in lines if line.startswith("Calf"))
    assert lines[-2:] == ["This week: 1 session.", "3rd week in a row."]


def test_without_a_trusted_clock_the_week_is_this_boot_and_the_streak_is_counts(tmp_path, capsys, utc, monkeypatch):
    example_history(tmp_path)
    monkeypatch.setattr(WallClock, "wall_clock", lambda self: (NOW, None))
    code, out, _ = history(capsys, "--state-dir", str(tmp_path))
    assert out.splitlines()[-2:] == ["Since this boot (the clock is not trusted: no dates): 1 session.",
                                     "3 sessions, 2 since the last import."]


def test_json_lines_are_the_stored_lines_then_a_totals_line(tmp_path, capsys, utc):
    example_history(tmp_path)
    code, out, err = history(capsys, "--json", "--state-dir", str(tmp_path))
    assert code == 0 and err == ""
    *stored, totals = out.splitlines()
    assert stored == HistoryFile(tmp_path).path.read_text().splitlines()
    totals = json.loads(totals)
    assert totals["event"] == "totals" and totals["v"] == 1
    hip = next(t for t in totals["totals"] if t["stretch"] == "Hip flexor")
    assert hip == {"stretch": "Hip flexor", "left": 150.0, "right": 114.0, "none": None, "short": "right"}


@pytest.mark.parametrize("json_flag", [False, True])
def test_an_empty_or_missing_history_is_a_friendly_line(tmp_path, capsys, json_flag):
    flags = ["--json"] if json_flag else []
    for folder in (tmp_path / "missing", tmp_path):
        code, out, err = history(capsys, *flags, "--state-dir", str(folder))
        assert code == 0
        friendly = f"No sessions recorded yet (the history lives in {folder}).\n"
        assert (err, json.loads(out)["totals"]) == (friendly, []) if json_flag else (out, err) == (friendly, "")


def test_a_torn_line_is_skipped_and_named_on_stderr(tmp_path):
    """In a real process: the log line reaches stderr (pytest's own log capture is not in the way)."""
    example_history(tmp_path)
    with open(HistoryFile(tmp_path).path, "ab") as f:
        f.write(b'{"v":1,"event":"sess')
    proc = subprocess.run([sys.executable, "-m", "stretchbox", "history", "--state-dir", str(tmp_path)],
                          capture_output=True, text=True, timeout=60, env={**os.environ, "TZ": "UTC"})
    assert proc.returncode == 0 and "Post-run stretches" in proc.stdout
    assert proc.stderr == f"stretchbox: {tmp_path / 'history.jsonl'}:7: line skipped: torn (cut before its end of line)\n"


def test_the_state_folder_override_then_state_directory_then_the_config():
    config = Config(paths=Paths(state="/srv/state"))
    assert state_folder(config, "/x", {"STATE_DIRECTORY": "/y"}) == Path("/x")
    assert state_folder(config, None, {"STATE_DIRECTORY": "/var/lib/stretchbox:/var/lib/other"}) \
        == Path("/var/lib/stretchbox")
    assert state_folder(config, None, {"STATE_DIRECTORY": ""}) == Path("/srv/state")
    assert state_folder(config, None, {}) == Path("/srv/state")
    assert state_folder(Config(), None, {}) == Path("/var/lib/stretchbox")


def test_history_reads_state_directory_and_the_configs_paths_state(tmp_path, capsys, utc, monkeypatch):
    a, b = tmp_path / "a", tmp_path / "b"
    example_history(a)
    (tmp_path / "c.yaml").write_text(f"paths: {{state: {b}}}\n")
    monkeypatch.setenv("STATE_DIRECTORY", str(a))
    assert "3rd week in a row." in history(capsys, "--config", str(tmp_path / "c.yaml"))[1]
    monkeypatch.delenv("STATE_DIRECTORY")
    assert history(capsys, "--config", str(tmp_path / "c.yaml"))[1].startswith("No sessions recorded yet")


def test_bad_arguments_are_usage_errors(capsys):
    assert main(["history", "--state-dir", ""]) == 2
    assert main(["history", "--nope"]) == 2


README_BLOCK = re.compile(r"(```\n\$ stretchbox history\n)(.*?)(```\n)", re.S)


def test_the_readme_example_is_this_commands_output(tmp_path, capsys, utc, update_golden):
    example_history(tmp_path / "state")
    code, out, _ = history(capsys, "--state-dir", str(tmp_path / "state"))
    readme = ROOT / "README.md"
    text = readme.read_text()
    found = README_BLOCK.search(text)
    assert found, "README.md has no ``` block starting with '$ stretchbox history'"
    if update_golden:
        readme.write_text(text[:found.start(2)] + out + text[found.end(2):])
    else:
        assert found.group(2) == out, "the README's `stretchbox history` example is stale: pytest --update-golden"


def test_the_readmes_example_line_has_the_keys_of_a_real_line_in_order():
    text = (ROOT / "README.md").read_text()
    example = text[text.index("### The history file"):].split("```\n")[1]
    keys = re.findall(r'"(\w+)":', example)
    real = session(at(9), "ntp").to_dict()
    side = list(real["sides"][0])
    assert keys == [k for k in real if k != "sides"][:7] + ["routine", "name", "hash"] + \
        [k for k in real if k not in ("v", "event", "start", "end", "clock", "boot", "id", "routine")] + side
