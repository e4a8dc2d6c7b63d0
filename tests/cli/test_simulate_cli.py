"""`stretchbox simulate`: the whole program on a simulated clock, as JSON lines or a table."""

import json
import time
import subprocess
import sys

import pytest

from stretchbox.cli import main


def simulate(capsys, *args):
    assert main(["simulate", "--json", *args]) == 0
    return [json.loads(line) for line in capsys.readouterr().out.splitlines()]


def test_default_routine_six_stretches_thirty_seconds_per_side_and_switch_cues(capsys):
    records = simulate(capsys)
    phases = [r for r in records if r["event"] == "phase"]
    holds = [r for r in phases if r["phase"] == "hold"]
    assert sorted({r["stretch"] for r in holds}) == [1, 2, 3, 4, 5, 6]
    assert all(r["seconds"] == 30 for r in holds)
    assert [(r["stretch"], r["side"]) for r in holds] == [
        (1, "left"), (1, "right"), (2, "left"), (2, "right"), (3, None),
        (4, "left"), (4, "right"), (5, "left"), (5, "right"), (6, "left"), (6, "right")]
    # a switch-side cue at each side change: at the start of every right-side switch
    switch_times = [r["t"] for r in phases if r["phase"] == "switch"]
    cue_times = [r["t"] for r in records if r.get("cue") == "switch-side"]
    assert len(switch_times) == 5 and cue_times == switch_times
    # each hold lasts exactly its 30 s: the next phase starts 30.000 s later
    for hold in holds:
        after = next(r for r in phases if r["t"] > hold["t"])
        assert after["t"] - hold["t"] == pytest.approx(30.0, abs=1e-9)
    assert records[-1] == {"event": "summary", "duration": 428.0, "completed": 6, "skipped": 0,
                           "stopped": False, "total": 6}
    assert set(records[0]) == {"t", "event", "button", "gesture", "action"}
    assert set(phases[0]) == {"t", "event", "phase", "stretch", "name", "side", "seconds", "routine_left"}


def test_pause_resume_skip_back_stop_to_the_millisecond(capsys):
    records = simulate(capsys, "--press", "20.25:a", "--press", "30:a", "--press", "50:b:1.2",
                       "--press", "60:b", "--press", "100.5:a:2.5")
    by_t = [(r.get("t"), r["event"], r.get("phase") or r.get("cue") or r.get("action")) for r in records]
    assert (20.25, "button", "pause") in by_t and (20.25, "phase", "paused") in by_t
    assert (30.0, "phase", "lead-in") in by_t and (33.0, "phase", "hold") in by_t
    paused = next(r for r in records if r.get("phase") == "paused")
    assert paused["seconds"] == 17.75  # 8 s prepare, hold from 8: 12.25 s run, 17.75 left
    assert (51.0, "button", "back") in by_t  # fires at 1 s of holding B, not on release
    assert (60.0, "phase", "switch") in by_t
    assert (102.5, "button", "stop") in by_t and (102.5, "phase", "done") in by_t
    assert records[-1]["stopped"] is True and records[-1]["duration"] == 102.5


def test_table_shows_the_planned_total(capsys):
    assert main(["simulate"]) == 0
    out = capsys.readouterr().out
    assert "Post-run stretches: 6 stretches, 7:08 planned" in out
    assert "finished after 7:08" in out


@pytest.mark.parametrize("bad", ["x:a", "10:c", "10", "-1:a", "5:a:nan", "5:a:-1"])
def test_bad_press_is_a_usage_error(capsys, bad):
    assert main(["simulate", "--press", bad]) == 2
    assert "--press" in capsys.readouterr().err


def test_bad_routine_exits_1_with_location(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text("schema: 1\nname: x\nstretches: [{name: a, hold: 5}]\n")
    assert main(["simulate", str(bad)]) == 1
    assert f"{bad}:3:" in capsys.readouterr().err


def test_console_command_and_module_agree():
    a = subprocess.run([sys.executable, "-m", "stretchbox", "simulate", "--json"], capture_output=True,
                       text=True, timeout=60, check=True).stdout
    b = subprocess.run([sys.executable.replace("python", "stretchbox").rsplit("stretchbox", 1)[0] + "stretchbox",
                        "simulate", "--json"], capture_output=True, text=True, timeout=60, check=True).stdout
    assert a == b and a.count("\n") > 50


def test_one_button_mode_through_the_pins(capsys):
    records = simulate(capsys, "--one-button", "--press", "20:a", "--press", "21:a", "--press", "30:a:1.5",
                       "--press", "60:a:3.5")
    actions = [(r["t"], r["gesture"], r["action"]) for r in records if r["event"] == "button"]
    assert actions == [(0.0, "press", "start"), (20.0, "press", "pause"), (21.0, "press", "resume"),
                       (31.5, "hold", "skip"), (63.0, "hold", "stop")]
    assert main(["simulate", "--one-button", "--press", "5:b"]) == 2


def test_the_configs_resume_lead_is_used_unless_the_option_overrides_it(tmp_path, capsys):
    config = tmp_path / "c.yaml"
    config.write_text("session: {resume_lead: 5s}\n")
    leads = [r["seconds"] for r in simulate(capsys, "--config", str(config), "--press", "20:a", "--press", "30:a")
             if r.get("phase") == "lead-in"]
    assert leads == [5.0]
    leads = [r["seconds"] for r in simulate(capsys, "--config", str(config), "--resume-lead", "1",
                                            "--press", "20:a", "--press", "30:a") if r.get("phase") == "lead-in"]
    assert leads == [1.0]


# ---- the output is the contract: recorded before `simulate` stopped stepping every second -------------
# Each script's stdout is kept in tests/golden/simulate/NAME.out and must stay byte-identical
# (rewrite with --update-golden only for a deliberate change of behaviour, and review the diff).
GOLDEN_DIR = __import__("pathlib").Path(__file__).resolve().parents[1] / "golden" / "simulate"
ODD_ROUTINE = """\
schema: 1
name: Odd timings
min_hold: 20
cues: {countdown: off, next-stretch: [400, 100, 400], go: [50]}
defaults: {prepare: 3, hold: 21, switch: 0, rest: 0}
stretches:
  - {name: One, icon: calf, sides: left}
  - {name: Two, icon: calf, sides: none, prepare: 0}
  - {name: Three, icon: calf, sides: both, hold: 22, switch: 2, rest: 4}
  - {name: Four, icon: calf, sides: right}
"""
GOLDEN_CONFIGS = {
    "passive.yaml": "buzzer: {kind: passive, pin: GPIO13, vibration_pin: GPIO23}\n"
                    "session: {pause_timeout: 10s}\nidle: {dim_after: 1, off_after: 2, shift_every: 1}\n",
    "quiet.yaml": "buzzer: {quiet: true}\nsession: {resume_lead: 0}\n",
}
GOLDEN_SCRIPTS = {
    "default": ["--json"],
    "controls": ["--json", "--press", "20.25:a", "--press", "30:a", "--press", "50:b:1.2", "--press", "60:b",
                 "--press", "100.5:a:2.5"],
    "controls-table": ["--press", "20.25:a", "--press", "30:a", "--press", "50:b:1.2", "--press", "60:b",
                       "--press", "100.5:a:2.5"],
    "gif-script": ["--json", "--press", "20:a", "--press", "24:a", "--press", "100:b", "--press", "200:b:1.2"],
    "power-menu": ["--json", "--press", "100:b", "--press", "150:ab:3.2", "--press", "155:b", "--press", "170:a:2.2"],
    "power-off": ["--json", "--press", "50:ab:3.5", "--press", "56:a", "--press", "120:a"],
    "pause-forgotten": ["--json", "--press", "20:a"],
    "dismiss-restart": ["--json", "--press", "430:a", "--press", "431:a"],
    "wake-swallowed": ["--json", "--press", "600:a", "--press", "601:a", "--press", "602:a"],
    "one-button": ["--json", "--one-button", "--press", "20:a", "--press", "21:a", "--press", "30:a:1.5",
                   "--press", "60:a:3.5"],
    "passive-vibration": ["--json", "--config", "{passive.yaml}", "--resume-lead", "1", "--press", "20:a",
                          "--press", "25:a", "--press", "40.5:a"],
    "quiet-odd": ["--json", "--config", "{quiet.yaml}", "{odd.yaml}", "--press", "10.3:a", "--press", "10.7:a",
                  "--press", "30.125:b", "--press", "33:b:1.25", "--press", "70.01:a"],
}


@pytest.mark.parametrize("name", sorted(GOLDEN_SCRIPTS))
def test_simulate_output_is_byte_identical_to_the_recorded_one(name, tmp_path, capsys, update_golden):
    (tmp_path / "odd.yaml").write_text(ODD_ROUTINE)
    for file, text in GOLDEN_CONFIGS.items():
        (tmp_path / file).write_text(text)
    args = [str(tmp_path / a[1:-1]) if a.startswith("{") else a for a in GOLDEN_SCRIPTS[name]]
    assert main(["simulate", *args]) == 0
    out = capsys.readouterr().out
    golden = GOLDEN_DIR / f"{name}.out"
    if update_golden:
        golden.parent.mkdir(parents=True, exist_ok=True)
        golden.write_text(out)
    assert out == golden.read_text(), f"simulate {' '.join(GOLDEN_SCRIPTS[name])}: output changed"


# ---- no hang, and a cost that grows with the events, not the simulated seconds ---------------------------
def limits_routine(path, hold=3600):
    """A routine at the format's own limits: 100 stretches (MAX_STRETCHES), every phase MAX_DURATION."""
    from stretchbox.core.routine import MAX_DURATION, MAX_STRETCHES

    d = MAX_DURATION if hold == 3600 else hold
    lines = ["schema: 1", "name: Limits", f"defaults: {{prepare: {d}, hold: {hold}, switch: {d}, rest: {d}}}",
             "stretches:"] + [f"  - {{name: S{i}, icon: calf}}" for i in range(MAX_STRETCHES)]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_a_routine_at_the_formats_limits_simulates_in_under_two_seconds(tmp_path, capsys):
    path = limits_routine(tmp_path / "limits.yaml")
    started = time.perf_counter()
    records = simulate(capsys, str(path), "--press", "1000000.5:a", "--press", "1000100.25:a")
    took = time.perf_counter() - started
    assert took < 2.0, f"{took:.2f} s for a routine of 1,796,400 simulated seconds"
    assert records[-1] == {"event": "summary", "duration": 1796499.75, "completed": 100, "skipped": 0,
                           "stopped": False, "total": 100}
    assert sum(r.get("cue") == "countdown" for r in records) == 200 * 3  # every hold still counts down


def test_simulation_steps_grow_with_events_not_with_seconds(tmp_path):
    """Without frame outputs, 20 s holds and 3600 s holds take the same number of steps."""
    import queue

    from gpiozero.pins.mock import MockFactory, MockPWMPin

    from stretchbox.adapters.routines import load_routine
    from stretchbox.app import App, build, ScheduledPress
    from stretchbox.platform import Platform, SimClock
    from stretchbox.app import simulate as run
    from tests.helpers import direct_presses
    from stretchbox.config import Config

    def steps(hold, frames):
        routine = load_routine(limits_routine(tmp_path / f"r{hold}.yaml", hold=hold))
        clock, inbox, factory = SimClock(), queue.Queue(), MockFactory(pin_class=MockPWMPin)
        try:
            device = build(Config(), [routine], Platform(pin_factory=factory, clock=clock, inbox=inbox, frames=frames))
            count = [0]
            step = device.app.step
            device.app.step = lambda event: (count.__setitem__(0, count[0] + 1), step(event))[1]
            run(device.app, direct_presses([ScheduledPress(0.0, "a")], inbox), inbox, clock)
            assert device.app.session.state == "done" and isinstance(device.app, App)
            return count[0]
        finally:
            factory.reset()

    assert steps(20, frames=False) == steps(3600, frames=False) < 10_000
    assert steps(20, frames=True) > steps(20, frames=False)  # a screen needs its seconds


@pytest.mark.parametrize("presses", [["500:a"], ["428:a", "429:b"], ["500:a", "4999999:b:1"],
                                     ["50:ab:3.5", "56:a"], ["20:a"]],
                         ids=["after-the-summary", "dismiss-next", "far-after", "powered-off", "paused-forgotten"])
def test_the_simulation_ends_when_nothing_more_can_happen(presses, capsys):
    started = time.perf_counter()
    records = simulate(capsys, *[a for p in presses for a in ("--press", p)])
    assert time.perf_counter() - started < 2.0 and records[-1]["event"] == "summary"


def test_frame_outputs_still_draw_every_second_as_recorded(tmp_path, capsys):
    """With --frames the loop still wakes at each second: the same PNGs as before the change (names are times)."""
    folder = tmp_path / "frames"
    assert main(["simulate", "--frames", str(folder), "--press", "20:a", "--press", "24:a", "--press", "100:b",
                 "--press", "150:ab:3.2", "--press", "155:b", "--press", "170:a:2.2"]) == 0
    capsys.readouterr()
    assert "\n".join(sorted(p.name for p in folder.iterdir())) + "\n" == (GOLDEN_DIR / "frames.out").read_text()


OPEN_ROUTINE = """\
schema: 1
name: Open and timed
defaults: {prepare: 5s, switch: 5s, rest: 5s}
stretches:
  - {name: Ham, sides: both, hold: open}
  - {name: Calf, sides: none, hold: 30s}
"""


def test_simulate_json_open_holds_are_null_seconds_ended_by_a_press_and_routine_left_returns(capsys, tmp_path):
    path = tmp_path / "open.yaml"
    path.write_text(OPEN_ROUTINE)
    records = simulate(capsys, str(path), "--press", "40:b", "--press", "60:b")
    phases = [r for r in records if r["event"] == "phase"]
    holds = [r for r in phases if r["phase"] == "hold"]
    assert [(h["side"], h["seconds"], h["routine_left"]) for h in holds] == [
        ("left", None, None), ("right", None, None), (None, 30, 30)]
    ended = [r for r in records if r["event"] == "button" and r["action"] == "hold-done"]
    assert [r["t"] for r in ended] == [40.0, 60.0]
    assert phases[0]["routine_left"] is None  # an open hold ahead: unknown
    rest = next(p for p in phases if p["phase"] == "rest")
    assert rest["t"] == 60.0 and rest["routine_left"] == 5 + 5 + 30
    assert records[-1]["completed"] == 2 and records[-1]["skipped"] == 0


def test_simulate_json_reports_the_extend_tap_and_the_halfway_cue(capsys, tmp_path):
    config = tmp_path / "config.yaml"
    config.write_text("session: {halfway: true, extend: 20s}\n")
    records = simulate(capsys, "--config", str(config), "--press", "10:a", "--press", "10.3:a")
    assert [(r["t"], r["action"]) for r in records if r["event"] == "button"][1:] == [(10.0, "pause"),
                                                                                        (10.3, "extend")]
    hold = [r for r in records if r["event"] == "phase" and r["t"] == 10.3][0]
    assert (hold["phase"], hold["seconds"]) == ("hold", 28 + 20)
    cues = [(r["t"], r["cue"]) for r in records if r["event"] == "cue"]
    # the middle of the hold as it stands: it ends at 10.3 + 48, and 50 s of it is 25 s before that
    assert ("extend" in [c for _, c in cues]) and [t for t, c in cues if c == "halfway"][0] == pytest.approx(10.3 + 48 - 25)


def journal_at(tmp_path, t: float, boot: str) -> str:
    """A journal.json as the device leaves it, for the default routine cut at ``t`` s (paused at 20 s)."""
    from stretchbox.adapters.journal import JournalFile
    from stretchbox.adapters.routines import load_builtin
    from stretchbox.core.session import Checkpoint, Session, Tick

    s = Session([load_builtin()[0]])
    out = s.press("a", 0.0) + s.handle(Tick(20.0)) + s.press("a", 20.0) + s.handle(Tick(t))
    JournalFile(tmp_path, boot).write([e for e in out if isinstance(e, Checkpoint)][-1].data)
    return str(tmp_path / "journal.json")


def test_simulate_starts_from_a_journal_of_this_boot_paused_where_it_was(capsys, tmp_path):
    from stretchbox.adapters.journal import current_boot_id

    records = simulate(capsys, "--journal", journal_at(tmp_path, 30.0, current_boot_id()))
    first = next(r for r in records if r["event"] == "phase")
    assert (first["phase"], first["stretch"], first["side"], first["seconds"]) == ("paused", 1, "left", 18)
    assert [r["action"] for r in records if r["event"] == "button"] == ["resume"]  # the implicit A at 0
    assert records[-1]["event"] == "summary" and records[-1]["completed"] == 6 and not records[-1]["stopped"]


def test_simulate_from_another_boots_journal_offers_it_first(capsys, tmp_path):
    records = simulate(capsys, "--journal", journal_at(tmp_path, 30.0, "another-boot"))
    first = next(r for r in records if r["event"] == "phase")
    assert (first["phase"], first["name"], first["side"]) == ("offer", "Seated hamstring", "left")
    assert [r["action"] for r in records if r["event"] == "button"][0] == "resume"


def test_simulate_refuses_a_journal_of_another_routine(capsys, tmp_path):
    path = tmp_path / "other.yaml"
    path.write_text("schema: 1\nname: Other\nstretches: [{name: Calf}]\n")
    assert main(["simulate", str(path), "--journal", journal_at(tmp_path, 30.0, "b")]) == 2
    assert "its routine 'Post-run stretches' is no longer on the device" in capsys.readouterr().err
