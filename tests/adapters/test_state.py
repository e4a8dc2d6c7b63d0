"""The StateKeeper: the journal and the history from the session's effects, on real files."""

import json
import logging
from pathlib import Path

import pytest

from stretchbox.adapters import export
from stretchbox.adapters.history import HistoryFile
from stretchbox.adapters.journal import JournalFile
from stretchbox.adapters.state import StateKeeper, session_id
from stretchbox.adapters.wallclock import WallClock
from stretchbox.app import App, UsbImports
from stretchbox.core.gestures import A
from stretchbox.core.history import Ending, SessionRecord
from stretchbox.core.session import Session, SessionConfig, Tick

from tests.helpers import routine, run_until

TWO = routine(("Ham", "both"), ("Calf", "both"))  # 145 s


class Clock:
    def __init__(self):
        self.t = 100.0

    def __call__(self):
        return self.t


def device(folder: Path, clock: Clock, *, boot="boot-1", trusted=True, **config):
    session = Session([TWO], SessionConfig(**config))
    wall = WallClock(synchronized=folder.parent / ("synced" if trusted else "never"), hctosys=folder / "none",
                     now=lambda: 1_790_000_000.0 + clock.t)
    (folder.parent / "synced").touch()
    keeper = StateKeeper(folder, session, clock, wall=wall, boot=boot)
    return App(session, [keeper]), keeper


def step(app, clock, t, event=None):
    clock.t = t
    return app.step(event or Tick(t))


def press(app, clock, t):
    from stretchbox.core.gestures import Pressed, Released
    step(app, clock, t, Pressed(A, t))
    step(app, clock, t, Released(A, t))


def records(folder):
    return [e for e in HistoryFile(folder).read() if isinstance(e, SessionRecord)]


def test_a_whole_session_leaves_one_record_and_no_journal(tmp_path):
    clock = Clock()
    app, keeper = device(tmp_path / "state", clock)
    press(app, clock, 100.0)
    assert JournalFile(tmp_path / "state").read()["state"]["phase"] == "prepare"
    while (d := app.next_deadline()) is not None and d < 400:
        step(app, clock, d)
    assert JournalFile(tmp_path / "state").read() is None
    [r] = records(tmp_path / "state")
    assert r.log.ended == Ending.FINISHED and r.clock == "ntp" and r.boot == "boot-1"
    assert r.start_wall == pytest.approx(1_790_000_000.0 + 100.0) and r.end_wall == pytest.approx(r.start_wall + 145)
    assert [s.held for s in r.log.sides] == pytest.approx([30, 30, 30, 30])
    assert r.id == session_id({"boot": "boot-1", "wall": r.start_wall}, 100.0)
    assert app.last_frame.screen == "done" and app.last_frame.detail == "1 session this week"
    assert keeper.journal.writes <= 3 * 4 + 1


def test_a_restart_in_the_same_boot_takes_the_journal_up_and_records_the_session_once(tmp_path):
    clock = Clock()
    app, _ = device(tmp_path / "state", clock)
    press(app, clock, 100.0)
    step(app, clock, 120.0)  # killed here, in the left hold (its journal: written at 105)
    clock2 = Clock()
    clock2.t = 120.5
    app2, keeper2 = device(tmp_path / "state", clock2)
    app2.carry_out(keeper2.resume(), 120.5)
    s = app2.session
    assert s.state == "paused" and s.step.side == "left" and s.remaining() == pytest.approx(30 - 15.5)
    press(app2, clock2, 121.0)
    while (d := app2.next_deadline()) is not None and d < 500:
        step(app2, clock2, d)
    [r] = records(tmp_path / "state")
    assert r.id == session_id({"boot": "boot-1", "wall": r.start_wall}, 100.0) and r.log.ended == Ending.FINISHED


def test_after_a_reboot_it_is_offered_and_start_over_keeps_it_as_interrupted(tmp_path):
    clock = Clock()
    app, _ = device(tmp_path / "state", clock)
    press(app, clock, 100.0)
    step(app, clock, 150.0)
    clock2 = Clock()
    clock2.t = 5.0
    app2, keeper2 = device(tmp_path / "state", clock2, boot="boot-2")
    app2.carry_out(keeper2.resume(), 5.0)
    assert app2.last_frame.screen == "offer"
    from stretchbox.core.gestures import B, Pressed, Released
    step(app2, clock2, 6.0, Pressed(B, 6.0))
    step(app2, clock2, 6.1, Released(B, 6.1))
    [r] = records(tmp_path / "state")
    assert r.log.ended == Ending.INTERRUPTED and r.boot == "boot-1" and r.end_wall is None
    assert r.start_wall == pytest.approx(1_790_000_000.0 + 100.0)
    assert JournalFile(tmp_path / "state").read() is None


def test_a_journal_already_in_the_history_is_dropped_not_counted_again(tmp_path, caplog):
    clock = Clock()
    app, _ = device(tmp_path / "state", clock)
    press(app, clock, 100.0)
    step(app, clock, 120.0)
    journal = (tmp_path / "state" / "journal.json").read_bytes()
    while (d := app.next_deadline()) is not None and d < 400:
        step(app, clock, d)
    (tmp_path / "state" / "journal.json").write_bytes(journal)  # as if cut between the append and the clear
    app2, keeper2 = device(tmp_path / "state", Clock())
    with caplog.at_level(logging.WARNING):
        assert keeper2.resume() == []
    assert "already in the history" in caplog.text and app2.session.state == "idle"
    assert len(records(tmp_path / "state")) == 1 and not (tmp_path / "state" / "journal.json").exists()


def test_a_state_folder_that_cannot_be_written_is_logged_once_and_the_timer_goes_on(tmp_path, caplog):
    (tmp_path / "state").write_text("a file, not a folder")
    clock = Clock()
    app, _ = device(tmp_path / "state", clock)
    with caplog.at_level(logging.ERROR):
        press(app, clock, 100.0)
        while (d := app.next_deadline()) is not None and d < 400:
            step(app, clock, d)
    assert app.session.state == "done"
    assert caplog.text.count("cannot keep the journal") == 1 and caplog.text.count("cannot keep the history") == 1


def test_without_a_trusted_clock_the_streak_counts_sessions(tmp_path):
    clock = Clock()
    app, _ = device(tmp_path / "state", clock, trusted=False)
    (tmp_path / "synced").unlink(missing_ok=True)
    press(app, clock, 100.0)
    while (d := app.next_deadline()) is not None and d < 400:
        step(app, clock, d)
    [r] = records(tmp_path / "state")
    assert r.clock is None and app.last_frame.detail == "1 session"


def test_a_stick_that_asks_gets_the_history_staged_and_the_export_unit_started(tmp_path, monkeypatch):
    clock = Clock()
    app, keeper = device(tmp_path / "state", clock)
    press(app, clock, 100.0)
    while (d := app.next_deadline()) is not None and d < 400:
        step(app, clock, d)
    stick = tmp_path / "media" / "sda1"
    (stick / "stretchbox").mkdir(parents=True)
    (stick / "stretchbox" / "calf.yaml").write_text("schema: 1\nname: Calf only\nstretches: [{name: Calf}]\n")
    (stick / "stretchbox" / "EXPORT-HISTORY").touch()
    started = []
    monkeypatch.setattr(export, "start_export", started.append)  # systemctl: the container test runs the unit
    usb = UsbImports(app, tmp_path / "library", None, clock, keeper)
    usb.import_one(stick)
    assert started == ["sda1"]
    csv = (tmp_path / "state" / export.STAGED).read_text().splitlines()
    assert csv[0].startswith("date,routine") and len(csv) == 1 + 4 and "Ham" in csv[1]
    (stick / "stretchbox" / "EXPORT-HISTORY").unlink()
    done = usb.import_one(stick)
    assert started == ["sda1"]  # not asked: nothing more
    usb.apply(done)  # on the owner thread: the import is a marker in the history
    marker = json.loads((tmp_path / "state" / "history.jsonl").read_text().splitlines()[-1])
    assert marker["event"] == "import" and marker["routines"] == 1
    assert keeper.wall.stick is not None  # the newest routine file's time: a lower bound of the wall clock


def test_a_clean_stop_keeps_the_routine_paused_with_the_time_it_had_left(tmp_path):
    """SIGTERM or q mid-hold: the restart, even much later in the same boot, has the time left at the stop."""
    clock = Clock()
    app, keeper = device(tmp_path / "state", clock)
    press(app, clock, 100.0)
    step(app, clock, 120.0)  # the left hold: 15 s left
    keeper.stop(120.0)
    clock2 = Clock()
    clock2.t = 900.0
    app2, keeper2 = device(tmp_path / "state", clock2)
    app2.carry_out(keeper2.resume(), 900.0)
    s = app2.session
    assert s.state == "paused" and s.step.side == "left" and s.remaining() == pytest.approx(15.0)
    assert s.log.sides[0].held == pytest.approx(15.0) and s.log.paused == pytest.approx(0.0)


def test_a_stick_dated_after_2100_is_not_taken_for_the_clock(tmp_path):
    clock = Clock()
    app, keeper = device(tmp_path / "state", clock, trusted=False)
    (tmp_path / "synced").unlink(missing_ok=True)
    keeper.imported(1, 1e12, 100.0)  # an NTFS file dated in the year 33658
    assert keeper.wall.wall_clock()[1] is None and app.session.history_lines  # no crash, no "usb" trust


def test_a_journal_with_numbers_too_big_to_be_a_time_is_refused_not_a_crash(tmp_path):
    (tmp_path / "state").mkdir()
    huge = "1" + "0" * 400  # valid JSON, no float
    (tmp_path / "state" / "journal.json").write_text(
        f'{{"v": 1, "boot": "boot-1", "state": {{"v": 1, "started": {huge}, "origin": {{"wall": {huge}}}}}}}')
    app, keeper = device(tmp_path / "state", Clock())
    assert keeper.resume() == [] and app.session.state == "idle"


def test_a_session_resumed_after_a_reboot_has_no_end_time_when_the_clock_is_no_longer_trusted(tmp_path):
    clock = Clock()
    app, _ = device(tmp_path / "state", clock)
    press(app, clock, 100.0)
    step(app, clock, 150.0)
    (tmp_path / "synced").unlink()  # boot 2: no time sync yet
    clock2 = Clock()
    clock2.t = 5.0
    wall = WallClock(synchronized=tmp_path / "never", hctosys=tmp_path / "none", now=lambda: 1_600_000_000.0)
    session = Session([TWO], SessionConfig())
    keeper2 = StateKeeper(tmp_path / "state", session, clock2, wall=wall, boot="boot-2")
    app2 = App(session, [keeper2])
    app2.carry_out(keeper2.resume(), 5.0)
    press(app2, clock2, 6.0)
    while (d := app2.next_deadline()) is not None and d < 400:
        step(app2, clock2, d)
    [r] = records(tmp_path / "state")
    assert r.clock == "ntp" and r.start_wall == pytest.approx(1_790_000_100.0) and r.end_wall is None
    assert r.log.duration > 0


def test_two_simulate_runs_with_one_state_folder_are_two_sessions(tmp_path, capsys):
    from stretchbox.cli import main

    for _ in range(2):
        assert main(["simulate", "--json", "--state-dir", str(tmp_path / "state")]) == 0
    assert len(records(tmp_path / "state")) == 2
