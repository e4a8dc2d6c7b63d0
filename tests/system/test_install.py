"""install.sh on a laid-out tree (--root): pre-flight checks, config.txt, cloud-init, the early
splash and the SAFE TO UNPLUG hook, replayed on the emulated I2C bus."""

import http.server
import json
import os
import re
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from tests.doubles.i2c_bus import install as install_bus
from tests.doubles.i2c_bus import one_panel

ROOT = Path(__file__).resolve().parents[2]
INSTALL = ROOT / "systemd" / "install.sh"
SITE = ROOT / "tests" / "doubles" / "site"
BAUD = "dtparam=i2c_arm_baudrate=400000"
BEGIN = "# >>> stretchbox: added by systemd/install.sh; install.sh --uninstall removes this block"
END = "# <<< stretchbox"


def run_install(root: Path, *args: str, env: dict | None = None, path: str | None = None) -> subprocess.CompletedProcess:
    """install.sh --root ROOT with the stand-in console script; the panel frames rendered by this Python."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("STRETCHBOX_", "PIP_INDEX"))}
    environ.update({"STRETCHBOX_ROOT_VENV": "stand-in", "STRETCHBOX_ROOT_PYTHON": sys.executable, **(env or {})})
    if path is not None:
        environ["PATH"] = path
    return subprocess.run(["bash", str(INSTALL), "--root", str(root), *args], capture_output=True, text=True,
                          timeout=300, env=environ)


def installed(root: Path, *args: str, **kwargs) -> str:
    proc = run_install(root, *args, **kwargs)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


# ---- pre-flight checks -------------------------------------------------------------------

def fake_tools(bin_dir: Path, *, arch: str = "arm64", machine: str = "aarch64", lgpio: str = "0.2.2-1~rpt1") -> str:
    """uname, dpkg, dpkg-query and apt-cache as on a Pi (or not), first on PATH."""
    bin_dir.mkdir(exist_ok=True)
    scripts = {
        "uname": f'[ "$1" = -m ] && echo {machine} || echo Linux',
        "dpkg": f'[ "$1" = --print-architecture ] && echo {arch}',
        "dpkg-query": "exit 1",  # nothing installed: apt-cache decides
        "apt-cache": f'printf "python3-lgpio:\\n  Installed: (none)\\n  Candidate: {lgpio}\\n"',
    }
    for name, body in scripts.items():
        (bin_dir / name).write_text(f"#!/bin/sh\n{body}\n")
        (bin_dir / name).chmod(0o755)
    return f"{bin_dir}:{os.environ['PATH']}"


@pytest.fixture
def index():
    """A package index on 127.0.0.1 that answers HEAD /simple/pip/ (what the network check asks)."""
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_HEAD(self):
            self.send_response(200 if self.path == "/simple/pip/" else 404)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/simple"
    server.shutdown()
    server.server_close()


UNREACHABLE = "http://127.0.0.1:9/simple"  # the discard port: nothing listens, the connection is refused


@pytest.mark.parametrize("arch, machine, words", [
    ("armhf", "armv7l", ["32-bit", "armhf", "64-bit"]),
    ("armhf", "aarch64", ["32-bit", "kernel aarch64", "64-bit"]),  # 32-bit userland on a 64-bit kernel
    ("amd64", "x86_64", ["amd64", "not 64-bit Raspberry Pi OS"]),
])
def test_preflight_refuses_anything_but_64_bit_raspberry_pi_os_and_changes_nothing(tmp_path, index, arch,
                                                                                    machine, words):
    root = tmp_path / "root"
    proc = run_install(root, "--preflight", env={"PIP_INDEX_URL": index},
                       path=fake_tools(tmp_path / "bin", arch=arch, machine=machine))
    assert proc.returncode == 1
    assert len(proc.stderr.strip().splitlines()) == 1 and all(w in proc.stderr for w in words), proc.stderr
    assert not root.exists() and proc.stdout == ""


def test_preflight_refuses_without_python3_lgpio_from_apt(tmp_path, index):
    root = tmp_path / "root"
    proc = run_install(root, "--preflight", env={"PIP_INDEX_URL": index},
                       path=fake_tools(tmp_path / "bin", lgpio="(none)"))
    assert proc.returncode == 1 and "python3-lgpio" in proc.stderr and "apt-get update" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1 and not root.exists()


def test_preflight_refuses_without_network_or_wheels(tmp_path):
    root = tmp_path / "root"
    proc = run_install(root, "--preflight", env={"PIP_INDEX_URL": UNREACHABLE}, path=fake_tools(tmp_path / "bin"))
    assert proc.returncode == 1 and UNREACHABLE in proc.stderr and "--wheels DIR" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1 and not root.exists()
    empty = tmp_path / "wheels"
    empty.mkdir()
    proc = run_install(root, "--preflight", "--wheels", str(empty), env={"PIP_INDEX_URL": UNREACHABLE},
                       path=fake_tools(tmp_path / "bin"))
    assert proc.returncode == 1 and "no .whl files" in proc.stderr and not root.exists()


def test_preflight_passes_on_a_pi_with_network_or_a_wheelhouse(tmp_path, index):
    path = fake_tools(tmp_path / "bin")
    first = installed(tmp_path / "a", "--preflight", env={"PIP_INDEX_URL": index}, path=path)
    assert first.startswith("pre-flight checks passed: arm64, Python 3.") and "the package index" in first
    assert (tmp_path / "a/etc/systemd/system/stretchbox.service").is_file()
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    (wheels / "pillow-11.0.0-cp311-cp311-manylinux_2_28_aarch64.whl").write_bytes(b"")
    offline = installed(tmp_path / "b", "--preflight", "--wheels", str(wheels), env={"PIP_INDEX_URL": UNREACHABLE},
                        path=path)
    assert offline.startswith("pre-flight checks passed") and str(wheels) in offline.splitlines()[0]


def test_an_offline_install_builds_the_project_from_the_wheelhouse_only(tmp_path):
    """--wheels DIR: pip --no-index --find-links DIR, the build's setuptools from DIR too (~15 s: a real
    venv under --root, the project installed with --no-deps)."""
    wheels = tmp_path / "wheels"
    fetched = subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--dest", str(wheels),
                              "--only-binary=:all:", "setuptools>=64", "wheel"], capture_output=True, text=True,
                             timeout=300)
    if fetched.returncode != 0:
        pytest.skip(f"no setuptools/wheel wheels to make a wheelhouse from here: {fetched.stderr[-200:]}")
    offline = {"PIP_INDEX_URL": UNREACHABLE, "PIP_CONFIG_FILE": os.devnull, "PIP_FIND_LINKS": "",
               "PIP_EXTRA_INDEX_URL": "", "STRETCHBOX_ROOT_VENV": "real"}
    root = tmp_path / "root"
    out = installed(root, "--wheels", str(wheels), env=offline)
    assert "installed the project into" in out and "pip install failed" not in out
    assert (root / "opt/stretchbox/venv/bin/stretchbox").read_text().startswith(f"#!{root}/opt/stretchbox/venv/")
    bare = installed(tmp_path / "bare", env=offline)  # the same, without the wheelhouse: pip cannot build
    assert "pip install failed" in bare


def test_preflight_on_this_machine_refuses_unless_it_is_a_64_bit_pi(tmp_path):
    """No stand-ins: the real dpkg of this machine answers."""
    arch = subprocess.run(["dpkg", "--print-architecture"], capture_output=True, text=True).stdout.strip()
    if arch == "arm64":
        pytest.skip("this machine is arm64")
    root = tmp_path / "root"
    proc = run_install(root, "--preflight")
    assert proc.returncode == 1 and arch in proc.stderr and not root.exists()


def test_root_mode_says_it_skipped_the_checks(tmp_path):
    out = installed(tmp_path / "root")
    assert out.splitlines()[0].startswith("pre-flight checks skipped (--root")


def test_the_help_names_every_option():
    proc = subprocess.run(["bash", str(INSTALL), "--help"], capture_output=True, text=True, timeout=30)
    assert proc.returncode == 0 and "set -euo" not in proc.stdout
    for option in ("--wheels DIR", "--uninstall", "--purge", "--root DIR", "--preflight"):
        assert option in proc.stdout, option


# ---- config.txt ------------------------------------------------------------------------------

BOOKWORM = """# For more options and information see
# http://rptl.io/configtxt
#dtparam=i2c_arm=on
#dtparam=i2s=on
#dtparam=spi=on
dtparam=audio=on
camera_auto_detect=1
display_auto_detect=1
auto_initramfs=1
dtoverlay=vc4-kms-v3d
max_framebuffers=2
disable_fw_kms_setup=1
arm_64bit=1
disable_overscan=1
arm_boost=1

[cm4]
otg_mode=1

[cm5]
dtoverlay=dwc2,dr_mode=host

[all]
"""


def config_txt(root: Path, text: str, where: str = "boot/firmware/config.txt") -> Path:
    path = root / where
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def raspi_config_set(path: Path, key: str, value: str) -> None:
    """raspi-config's set_config_var: every line matching ^#?%s*KEY=.*$ becomes KEY=VALUE, else append."""
    lines, changed = [], False
    for line in path.read_text().splitlines():
        if re.match(r"^#?\s*" + re.escape(key) + "=.*$", line):
            line, changed = f"{key}={value}", True
        lines.append(line)
    if not changed:
        lines.append(f"{key}={value}")
    path.write_text("\n".join(lines) + "\n")


def test_config_txt_gets_400_khz_and_the_boot_savings_once_and_uninstall_removes_them(tmp_path):
    root = tmp_path / "root"
    cfg = config_txt(root, BOOKWORM)
    first = installed(root)
    text = cfg.read_text()
    assert text.splitlines().count(BAUD) == 1 and "boot_delay=0" in text and "disable_splash=1" in text
    # The stock file ends in [all]: the block needs no filter of its own, and I2C was switched on in place.
    assert text == BOOKWORM.replace("#dtparam=i2c_arm=on", "dtparam=i2c_arm=on") + "\n".join(
        [BEGIN, BAUD, "boot_delay=0", "disable_splash=1", END]) + "\n"
    assert "reboot to apply" in first
    installed(root)
    assert cfg.read_text() == text  # a second run: the same bytes
    raspi_config_set(cfg, "dtparam=i2c_arm", "on")  # what `raspi-config nonint do_i2c 0` does
    installed(root)
    installed(root)
    assert cfg.read_text().splitlines().count(BAUD) == 1
    removed = installed(root, "--uninstall")
    assert cfg.read_text() == BOOKWORM.replace("#dtparam=i2c_arm=on", "dtparam=i2c_arm=on")  # I2C stays on
    assert "removed the stretchbox block" in removed and "kept its [all]" not in removed


def test_a_baudrate_on_the_i2c_arm_line_is_lost_to_raspi_config_so_ours_is_on_its_own_line(tmp_path):
    root = tmp_path / "root"
    cfg = config_txt(root, "dtparam=i2c_arm=on,i2c_arm_baudrate=400000\n")
    installed(root)
    assert BAUD not in cfg.read_text().splitlines()  # the user's own setting: left as it is
    raspi_config_set(cfg, "dtparam=i2c_arm", "on")
    assert "baudrate" not in cfg.read_text()  # raspi-config dropped it
    installed(root)
    assert cfg.read_text().splitlines().count(BAUD) == 1
    raspi_config_set(cfg, "dtparam=i2c_arm", "on")
    installed(root)
    assert cfg.read_text().splitlines().count(BAUD) == 1


def test_a_file_ending_in_a_conditional_section_gets_all_first_and_uninstall_restores_it(tmp_path):
    root = tmp_path / "root"
    original = "dtparam=i2c_arm=on\n\n[pi4]\narm_boost=1\n"
    cfg = config_txt(root, original)
    installed(root)
    text = cfg.read_text()
    assert text == original + "\n".join([BEGIN, "[all]", BAUD, "boot_delay=0", "disable_splash=1", END]) + "\n"
    installed(root, "--uninstall")
    assert cfg.read_text() == original


def test_settings_the_user_has_stay_theirs(tmp_path):
    root = tmp_path / "root"
    original = "dtparam=i2c_arm=on\nboot_delay=2\ndtparam=i2c_arm_baudrate=100000\n"
    cfg = config_txt(root, original)
    out = run_install(root)
    assert cfg.read_text() == original + "\n".join([BEGIN, "disable_splash=1", END]) + "\n"
    assert "already sets boot_delay" in out.stderr and "already sets dtparam=i2c_arm_baudrate" in out.stderr
    installed(root, "--uninstall")
    assert cfg.read_text() == original
    every = original + "disable_splash=1\n"
    cfg.write_text(every)
    before = cfg.stat().st_mtime_ns
    out = installed(root)
    assert cfg.read_text() == every and cfg.stat().st_mtime_ns == before and "reboot to apply" not in out


def test_uninstall_keeps_the_all_line_when_settings_were_added_after_the_block(tmp_path):
    root = tmp_path / "root"
    cfg = config_txt(root, "dtparam=i2c_arm=on\n[pi4]\narm_boost=1\n")
    installed(root)
    assert "[all]" in cfg.read_text().split(BEGIN)[1]
    cfg.write_text(cfg.read_text() + "dtoverlay=i2c-rtc,ds3231\n")  # the user's, under our [all]
    out = installed(root, "--uninstall")
    assert "kept its [all] line" in out
    assert cfg.read_text() == "dtparam=i2c_arm=on\n[pi4]\narm_boost=1\n[all]\ndtoverlay=i2c-rtc,ds3231\n"


def test_i2c_appended_to_a_file_ending_in_a_conditional_section_goes_under_all(tmp_path):
    root = tmp_path / "root"
    cfg = config_txt(root, "[pi4]\narm_boost=1\n")
    installed(root)
    assert cfg.read_text().startswith("[pi4]\narm_boost=1\n[all]\ndtparam=i2c_arm=on\n" + BEGIN + "\n" + BAUD)


def test_a_block_moved_by_an_edit_stays_where_it_is(tmp_path):
    root = tmp_path / "root"
    cfg = config_txt(root, "dtparam=i2c_arm=on\n")
    installed(root)
    cfg.write_text(cfg.read_text() + "dtparam=spi=on\n")
    text = cfg.read_text()
    installed(root)
    assert cfg.read_text() == text


def test_a_damaged_block_is_left_alone(tmp_path):
    root = tmp_path / "root"
    damaged = f"dtparam=i2c_arm=on\n{BEGIN}\n{BAUD}\n"  # the end marker was deleted by hand
    cfg = config_txt(root, damaged)
    out = run_install(root)
    assert out.returncode == 0 and "damaged stretchbox block" in out.stderr and cfg.read_text() == damaged
    installed(root, "--uninstall")
    assert cfg.read_text() == damaged


def test_older_releases_keep_config_txt_in_boot(tmp_path):
    root = tmp_path / "root"
    cfg = config_txt(root, "dtparam=i2c_arm=on\n", where="boot/config.txt")
    installed(root)
    assert cfg.read_text().splitlines().count(BAUD) == 1


# ---- cloud-init -----------------------------------------------------------------------------

def cloud_init(root: Path, *, first_boot_done: bool) -> Path:
    (root / "usr/bin").mkdir(parents=True, exist_ok=True)
    (root / "usr/bin/cloud-init").write_text("#!/bin/sh\n")
    if first_boot_done:
        instance = root / "var/lib/cloud/instances/rpi-imager-1"
        instance.mkdir(parents=True)
        (instance / "boot-finished").write_text("1.0 - Tue, 25 Nov 2025 08:00:00 +0000 - v. 25.1\n")
    return root / "etc/cloud/cloud-init.disabled"


def test_cloud_init_is_disabled_only_after_its_first_boot_and_uninstall_enables_it(tmp_path):
    root = tmp_path / "root"
    flag = cloud_init(root, first_boot_done=False)
    out = installed(root)
    assert not flag.exists() and "has not finished a first boot" in out
    cloud_init(root, first_boot_done=True)
    out = installed(root)
    assert flag.is_file() and "disabled cloud-init" in out
    before = flag.stat().st_mtime_ns
    installed(root)
    assert flag.stat().st_mtime_ns == before
    out = installed(root, "--uninstall")
    assert not flag.exists() and "enabled cloud-init again" in out


def test_a_cloud_init_disabled_by_the_user_stays_disabled(tmp_path):
    root = tmp_path / "root"
    flag = cloud_init(root, first_boot_done=True)
    flag.parent.mkdir(parents=True)
    flag.write_text("")  # the user's own (cloud-init's docs: an empty file)
    installed(root)
    installed(root, "--uninstall")
    assert flag.exists() and flag.read_text() == ""


def test_without_cloud_init_nothing_is_written(tmp_path):
    root = tmp_path / "root"
    installed(root)
    assert not (root / "etc/cloud").exists()


# ---- the pre-rendered frames and their replay ----------------------------------------------

def rendered(frame, size=(128, 64)):
    from stretchbox.render import Renderer

    return Renderer(size).render(frame)


@pytest.mark.parametrize("chip", ["ssd1306", "sh1106"])
def test_replay_lights_a_dark_panel_with_exactly_the_rendered_frame(monkeypatch, tmp_path, chip):
    from stretchbox.adapters.replay import dumps, load, play, record
    from stretchbox.core.frame import safe_to_unplug_frame

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
    from stretchbox.core.frame import splash_frame

    board, panel = one_panel()
    install_bus(monkeypatch, board)
    image = rendered(splash_frame())
    (tmp_path / "r.json").write_text(dumps(record(image, rotate=2, contrast=8)))
    play(load(str(tmp_path / "r.json")))
    assert panel.image().tobytes() == image.rotate(180).tobytes() and panel.contrast == 8


def test_replay_command_line(monkeypatch, tmp_path, capsys):
    from stretchbox.adapters.replay import dumps, main, record
    from stretchbox.core.frame import splash_frame

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


def test_the_installer_lays_out_both_frames_and_removes_them_for_an_spi_panel(tmp_path):
    root = tmp_path / "root"
    out = installed(root)
    panel = root / "opt/stretchbox/panel"
    assert {p.name for p in panel.iterdir()} == {"splash.json", "safe-to-unplug.json"}
    assert "note: could not pre-render" not in out
    (root / "etc/stretchbox/config.yaml").write_text("schema: 1\ndisplay: {interface: spi}\n")
    out = installed(root)
    assert not any(panel.iterdir()) and "removed" in out


def test_the_service_never_claims_safe_to_unplug_itself():
    from stretchbox.core.frame import final_frame

    frame = final_frame("powering-off", "goodbye")
    assert frame.title == "SHUTTING DOWN" and "SAFE TO UNPLUG" in frame.text
    assert final_frame("idle", "goodbye").title == "stretchbox" and final_frame("idle", "blank") is None


# ---- the shutdown hook, run as systemd-shutdown runs it ----------------------------------------

def hook_here(root: Path) -> Path:
    """The laid-out hook with its absolute paths pointed into ROOT and at this Python (which has smbus2)."""
    text = (root / "usr/lib/systemd/system-shutdown/stretchbox-safe-to-unplug").read_text()
    assert "exec /opt/stretchbox/venv/bin/python -m stretchbox.adapters.replay" in text
    text = text.replace("/opt/stretchbox/venv/bin/python", sys.executable).replace("/opt/", f"{root}/opt/")
    hook = root.parent / "hook"
    hook.write_text(text)
    hook.chmod(0o755)
    return hook


def run_hook(hook: Path, argument: str, log: Path, **bus) -> subprocess.CompletedProcess:
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(SITE),  # systemd-shutdown's environment is as bare
           "STRETCHBOX_EMULATED_I2C": json.dumps({"chip": "ssd1306", "panel_log": str(log), **bus})}
    return subprocess.run([str(hook), argument], capture_output=True, text=True, timeout=60, env=env, cwd="/")


def test_the_shutdown_hook_draws_safe_to_unplug_on_poweroff_and_halt_only(tmp_path):
    from stretchbox.core.frame import safe_to_unplug_frame

    root = tmp_path / "root"
    installed(root)
    hook = root / "usr/lib/systemd/system-shutdown/stretchbox-safe-to-unplug"
    assert hook.stat().st_mode & 0o777 == 0o755
    here = hook_here(root)
    expected = rendered(safe_to_unplug_frame())
    from tests.bus_frames import decode_gddram

    for argument in ("poweroff", "halt"):
        log = tmp_path / f"{argument}.log"
        proc = run_hook(here, argument, log)
        assert proc.returncode == 0, proc.stderr
        last = json.loads(log.read_text().splitlines()[-1])
        assert last["lit"] and decode_gddram(bytes.fromhex(last["hex"])).tobytes() == expected.tobytes()
    for argument in ("reboot", "kexec"):
        log = tmp_path / f"{argument}.log"
        assert run_hook(here, argument, log).returncode == 0 and not log.exists()
    proc = run_hook(here, "poweroff", tmp_path / "gone.log", absent=True)  # no panel: says so, exits 1
    assert proc.returncode == 1 and "0x3C" in proc.stderr
    installed(root, "--uninstall")
    assert not hook.exists()


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
    from stretchbox.core.frame import splash_frame

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


# ---- the early splash: ordering, read statically ---------------------------------------------

def unit_entries(path: Path) -> dict[str, list[str]]:
    entries: dict[str, list[str]] = {}
    for line in path.read_text().splitlines():
        if line and not line.startswith(("#", "[")) and "=" in line:
            key, value = line.split("=", 1)
            entries.setdefault(key, []).extend(value.split() if key in ("After", "Before", "Wants", "Requires",
                                                                          "BindsTo", "Conflicts") else [value])
    return entries


def test_the_splash_unit_runs_before_sysinit_and_before_the_service():
    splash = unit_entries(ROOT / "systemd/stretchbox-splash@.service")
    service = unit_entries(ROOT / "systemd/stretchbox.service")
    assert splash["DefaultDependencies"] == ["no"]
    assert "stretchbox.service" in splash["Before"] and "stretchbox-splash@.service" not in service.get("Before", [])
    waits_for = splash.get("After", []) + splash.get("Requires", []) + splash.get("Wants", [])
    assert not [u for u in waits_for if u.endswith(".target") or "network" in u or "tmpfiles" in u]
    # Options that would order it after sysinit's units implicitly (systemd.exec(5)).
    assert not {"PrivateTmp", "JoinsNamespaceOf", "StateDirectory", "LogsDirectory", "CacheDirectory"} & set(splash)
    assert splash["Type"] == ["oneshot"] and splash["RemainAfterExit"] == ["yes"]
    assert splash["ExecStart"][0].split()[-3:] == ["--adapter", "%i", "/opt/stretchbox/panel/splash.json"]
    for unit in (splash, service):
        assert not [u for u in unit.get("After", []) + unit.get("Wants", []) if "network-online" in u]


def test_the_udev_rule_starts_one_splash_per_i2c_adapter_named_as_the_replay_expects():
    rule = [line for line in (ROOT / "systemd/60-stretchbox-splash.rules").read_text().splitlines()
            if line and not line.startswith("#")]
    assert rule == ['SUBSYSTEM=="i2c-dev", KERNEL=="i2c-[0-9]*", TAG+="systemd", '
                    'ENV{SYSTEMD_WANTS}+="stretchbox-splash@%k.service"']
    # %k is the kernel name, i2c-N: what the unit passes as --adapter %i and the replay compares.
