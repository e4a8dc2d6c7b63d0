"""The panel frames install.sh lays out: recorded with luma's driver, replayed on the emulated I2C bus."""

import http.server
import json
import os
import re
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from tests.doubles.i2c_bus import install as install_bus
from tests.doubles.i2c_bus import one_panel

ROOT = Path(__file__).resolve().parents[1]
INSTALL = ROOT / "systemd" / "install.sh"
SITE = ROOT / "tests" / "doubles" / "site"
BAUD = "dtparam=i2c_arm_baudrate=400000"
BEGIN = "# >>> stretchbox: added by systemd/install.sh; install.sh --uninstall removes this block"
END = "# <<< stretchbox"


def run_install(root: Path, *args: str, env: dict | None = None, path: str | None = None) -> subprocess.CompletedProcess:
    """install.sh --root ROOT with the stand-in console script; the panel frames rendered by this Python."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("STRETCHBOX_", "PIP_INDEX"))}
    environ.update(STRETCHBOX_ROOT_VENV="stand-in", STRETCHBOX_ROOT_PYTHON=sys.executable, **(env or {}))
    if path is not None:
        environ["PATH"] = path
    return subprocess.run(["bash", str(INSTALL), "--root", str(root), *args], capture_output=True, text=True,
                          timeout=300, env=environ)


def installed(root: Path, *args: str, **kwargs) -> str:
    proc = run_install(root, *args, **kwargs)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


# ---- the pre-rendered frames and their replay ----------------------------------------------

def rendered(frame, size=(128, 64)):
    from stretchbox.render import Renderer

    return Renderer(size).render(frame)


@pytest.mark.parametrize("chip", ["ssd1306", "sh1106"])
def test_replay_lights_a_dark_panel_with_exactly_the_rendered_frame(monkeypatch, tmp_path, chip):
    from stretchbox.adapters.replay import dumps, load, play, record
    from stretchbox.cli import safe_to_unplug_frame

    board, panel = one_panel(chip)
    install_bus(monkeypatch, board)
    image = rendered(safe_to_unplug_frame())
    assert not panel.lit  # as after power-on: display off, RAM full of noise
    replay = record(image, driver=chip)
    (tmp_path / "r.json").write_text(dumps(replay))
    assert play(load(str(tmp_path / "r.json"))) == len(replay["writes"])
    assert panel.lit and panel.inits == 1
    assert panel.image().tobytes() == image.tobytes()


def test_replay_draws_the_rotated_frame_as_luma_would(monkeypatch, tmp_path):
    from stretchbox.adapters.replay import dumps, load, play, record
    from stretchbox.cli import splash_frame

    board, panel = one_panel()
    install_bus(monkeypatch, board)
    image = rendered(splash_frame())
    (tmp_path / "r.json").write_text(dumps(record(image, rotate=2, contrast=8)))
    play(load(str(tmp_path / "r.json")))
    assert panel.image().tobytes() == image.rotate(180).tobytes() and panel.contrast == 8


def test_replay_command_line(monkeypatch, tmp_path, capsys):
    from stretchbox.adapters.replay import dumps, main, record
    from stretchbox.cli import splash_frame

    board, panel = one_panel(port=1)
    install_bus(monkeypatch, board)
    good = tmp_path / "splash.json"
    good.write_text(dumps(record(rendered(splash_frame()))))
    assert main(["--adapter", "i2c-20", str(good)]) == 0 and board.buses[1].transactions == 0  # not our bus
    assert main(["--adapter", "i2c-1", str(good)]) == 0 and panel.lit
    panel.unplug()
    assert main([str(good)]) == 1 and "Remote I/O error" in capsys.readouterr().err
    (tmp_path / "bad.json").write_text('{"format": 1, "port": 1, "address": 60, "writes": ["ff00"]}')
    assert main([str(tmp_path / "bad.json")]) == 2 and "control byte" in capsys.readouterr().err
    assert main([str(tmp_path / "missing.json")]) == 2 and main([]) == 2


def test_boot_frames_follow_the_configured_panel(tmp_path):
    from stretchbox.adapters.replay import load

    config = tmp_path / "config.yaml"
    config.write_text("schema: 1\ndisplay: {driver: sh1106, i2c_port: 3, i2c_address: 0x3D}\n")
    proc = subprocess.run([sys.executable, "-m", "stretchbox", "boot-frames", "--config", str(config),
                           "--out", str(tmp_path / "out")], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    for name in ("splash", "safe-to-unplug"):
        replay = load(str(tmp_path / "out" / f"{name}.json"))
        assert (replay["driver"], replay["port"], replay["address"]) == ("sh1106", 3, 0x3D)
    config.write_text("schema: 1\ndisplay: {interface: spi}\n")
    proc = subprocess.run([sys.executable, "-m", "stretchbox", "boot-frames", "--config", str(config),
                           "--out", str(tmp_path / "spi")], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and "I2C only" in proc.stderr and not (tmp_path / "spi").exists()


def test_the_service_never_claims_safe_to_unplug_itself():
    from stretchbox.cli import final_frame

    frame = final_frame("powering-off", "goodbye")
    assert frame.title == "SHUTTING DOWN" and "SAFE TO UNPLUG" in frame.text
    assert final_frame("idle", "goodbye").title == "stretchbox" and final_frame("idle", "blank") is None


def test_the_replay_runs_under_the_kernels_w_xor_x_switch(tmp_path):
    """The splash unit has MemoryDenyWriteExecute=yes: smbus2 (ctypes) must import and send under it."""
    probe = """
import ctypes, sys
if ctypes.CDLL(None, use_errno=True).prctl(65, 1, 0, 0, 0) != 0:  # PR_SET_MDWE, REFUSE_EXEC_GAIN
    sys.exit(77)
from stretchbox.adapters.replay import main
sys.exit(main(sys.argv[1:]))
"""
    from stretchbox.adapters.replay import dumps, record
    from stretchbox.cli import splash_frame

    (tmp_path / "s.json").write_text(dumps(record(rendered(splash_frame()))))
    log = tmp_path / "panel.log"
    env = {**os.environ, "PYTHONPATH": str(SITE),
           "STRETCHBOX_EMULATED_I2C": json.dumps({"chip": "ssd1306", "panel_log": str(log)})}
    proc = subprocess.run([sys.executable, "-c", probe, str(tmp_path / "s.json")], capture_output=True, text=True,
                          timeout=60, env=env)
    if proc.returncode == 77:
        pytest.skip("kernel without PR_SET_MDWE (Linux < 6.3)")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(log.read_text().splitlines()[-1])["lit"]
