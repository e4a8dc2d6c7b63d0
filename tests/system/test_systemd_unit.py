"""The unit as install.sh lays it out: systemd-analyze verify says nothing, exposure <= 2.0, the layout."""

import os
import re
import shlex
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
INSTALL = ROOT / "systemd" / "install.sh"
SYSTEM_UNITS = Path("/lib/systemd/system")

pytestmark = pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze not installed")


def install(root: Path, *args: str, script: Path = INSTALL, real: bool = False) -> str:
    """install.sh --root; with the stand-in console script unless ``real`` (a real venv: ~12 s).
    The panel frames are rendered by this Python (the --root venv has no dependencies)."""
    env = {k: v for k, v in os.environ.items() if k != "STRETCHBOX_ROOT_VENV"}
    env["STRETCHBOX_ROOT_PYTHON"] = sys.executable
    if not real:
        env["STRETCHBOX_ROOT_VENV"] = "stand-in"
    proc = subprocess.run(["bash", str(script), "--root", str(root), *args], capture_output=True, text=True,
                          timeout=300, env=env)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def with_system_units(root: Path) -> Path:
    # systemd's own units (sysinit.target, ...) as on any system, for verify --root to resolve
    shutil.copytree(SYSTEM_UNITS, root / "usr" / "lib" / "systemd" / "system", symlinks=True, dirs_exist_ok=True)
    return root


def with_base_python(root: Path) -> Path:
    """The venv's python links to the system's python3 by an absolute path, which verify --root looks
    up under the root: an executable stands in there for the OS's own interpreter (/usr/bin/python3
    on the Pi, wherever python3 is on this machine)."""
    link = root / "opt/stretchbox/venv/bin/python3"
    if link.is_symlink() and os.path.isabs(target := os.readlink(link)):
        stand_in = root / target.lstrip("/")
        stand_in.parent.mkdir(parents=True, exist_ok=True)
        stand_in.write_text("#!/bin/sh\n# stands in for the system's python3 under --root\n")
        stand_in.chmod(0o755)
    return root


@pytest.fixture(scope="module")
def real_root(tmp_path_factory):
    """The layout as install.sh --root makes it by default: a real venv with the console script."""
    root = tmp_path_factory.mktemp("real") / "root"
    output = install(root, real=True)
    return with_base_python(with_system_units(root)), output


@pytest.fixture
def laid_out(tmp_path):
    """A layout the test may change (the stand-in console script: fast)."""
    root = tmp_path / "root"
    install(root)
    return with_system_units(root)


def analyze(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["systemd-analyze", *args], capture_output=True, text=True, timeout=120)


def test_systemd_analyze_verify_prints_nothing(real_root):
    root, _ = real_root
    unit = root / "etc/systemd/system/stretchbox.service"
    # The file as laid out, the unit by name, and an instance of the early splash (its ExecStart is
    # the venv's python, there in the real layout).
    for target in (str(unit), "stretchbox.service", "stretchbox-splash@i2c-1.service"):
        proc = analyze("verify", f"--root={root}", "--man=no", target)
        assert (proc.returncode, proc.stdout, proc.stderr) == (0, "", ""), target


def test_root_mode_builds_a_real_venv_and_a_second_run_changes_nothing(real_root):
    root, first = real_root
    if "note: pip install failed" in first:
        pytest.skip("pip could not build the project here (offline): install.sh laid out its stand-in")
    script = root / "opt/stretchbox/venv/bin/stretchbox"
    assert script.read_text().startswith(f"#!{root}/opt/stretchbox/venv/bin/python")  # pip's console script
    proc = subprocess.run([str(script), "--version"], capture_output=True, text=True, timeout=60, cwd="/")
    assert proc.returncode == 0 and proc.stdout.startswith("stretchbox "), proc.stderr
    assert "installed the project into" in first and "would run: systemctl restart stretchbox.service" in first
    before = {p: p.stat().st_mtime_ns for p in root.rglob("*")}
    second = install(root, real=True)
    assert "installed" not in second.replace("stretchbox installed;", "")  # no pip, no file written
    assert {p: p.stat().st_mtime_ns for p in root.rglob("*")} == before


def test_verify_would_catch_a_missing_exec_start(laid_out):
    (laid_out / "opt/stretchbox/venv/bin/stretchbox").unlink()
    proc = analyze("verify", f"--root={laid_out}", "--man=no", "stretchbox.service")
    assert proc.returncode != 0 and "stretchbox" in proc.stdout + proc.stderr


def test_verify_would_catch_a_typo(laid_out):
    """verify exits 0 on typos: the test above can fail only because it fails on any output."""
    unit = (laid_out / "etc/systemd/system/stretchbox.service").read_text()
    (laid_out / "etc/systemd/system/typo.service").write_text(unit.replace("Type=notify", "Type=notifyy"))
    proc = analyze("verify", f"--root={laid_out}", "--man=no", "typo.service")
    assert proc.returncode == 0 and "notifyy" in proc.stdout + proc.stderr


@pytest.mark.parametrize("name", ["stretchbox.service", "stretchbox-splash@i2c-1.service"])
def test_security_exposure_is_at_most_2(real_root, name):
    root, _ = real_root
    proc = analyze("security", "--offline=yes", f"--root={root}", name)
    found = re.search(rf"Overall exposure level for {re.escape(name)}: (\d+\.\d+)", proc.stdout + proc.stderr)
    assert found, proc.stdout + proc.stderr
    assert float(found.group(1)) <= 2.0


def test_security_score_is_parsed_from_a_real_rating(laid_out):
    """The parser above reads systemd's number: a bare unit scores far above 2.0 with it."""
    (laid_out / "etc/systemd/system/bare.service").write_text(
        "[Service]\nExecStart=/opt/stretchbox/venv/bin/stretchbox run\n")
    proc = analyze("security", "--offline=yes", f"--root={laid_out}", "bare.service")
    found = re.search(r"Overall exposure level for bare\.service: (\d+\.\d+)", proc.stdout + proc.stderr)
    assert found and float(found.group(1)) > 5.0


def test_exec_start_is_the_console_script_and_its_arguments_parse():
    unit = (ROOT / "systemd" / "stretchbox.service").read_text()
    exec_start = shlex.split(re.search(r"^ExecStart=(.*)$", unit, re.M).group(1))
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert exec_start[0].startswith("/opt/stretchbox/venv/bin/") and Path(exec_start[0]).name in scripts
    from stretchbox.cli import build_parser

    args = build_parser().parse_args(exec_start[1:])
    assert args.command == "run" and args.pins == "real" and args.display == "config"
    assert args.config == Path("/etc/stretchbox/config.yaml")


def test_cpython_and_the_app_run_with_memory_deny_write_execute(tmp_path):
    """MemoryDenyWriteExecute=yes: the kernel's own W^X switch (PR_SET_MDWE, Linux 6.3+) stands in for
    systemd's seccomp filter; a whole simulated routine is rendered under it."""
    probe = """
import ctypes, mmap, sys
if ctypes.CDLL(None, use_errno=True).prctl(65, 1, 0, 0, 0) != 0:  # PR_SET_MDWE, REFUSE_EXEC_GAIN
    sys.exit(77)
try:
    mmap.mmap(-1, 4096, prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC)
    sys.exit("a writable+executable mapping was allowed: W^X is not in force")
except PermissionError:
    pass
from stretchbox.cli import main
sys.exit(main(sys.argv[1:]))
"""
    config = tmp_path / "config.yaml"
    config.write_text(f"paths: {{library: {tmp_path / 'lib'}, usb_mounts: {tmp_path / 'media'}}}\n")
    for argv in (["run", "--first-frame-only", "--display", "dummy", "--pins", "mock", "--config", str(config)],
                 ["simulate", "--json"]):
        proc = subprocess.run([sys.executable, "-c", probe, *argv], capture_output=True, text=True, timeout=120)
        if proc.returncode == 77:
            pytest.skip("kernel without PR_SET_MDWE (Linux < 6.3)")
        assert proc.returncode == 0, proc.stderr
    assert '"completed": 6' in proc.stdout.splitlines()[-1]


def test_unit_essentials():
    unit = (ROOT / "systemd" / "stretchbox.service").read_text()
    for line in ("Type=notify", "WatchdogSec=", "Restart=on-failure", "RestartSec=2", "SupplementaryGroups=gpio i2c",
                 "DevicePolicy=closed", "DeviceAllow=char-i2c rw", "DeviceAllow=char-gpiochip rw",
                 "StateDirectory=stretchbox", "ConfigurationDirectory=stretchbox", "PYTHONUNBUFFERED=1",
                 "ProtectSystem=strict", "NoNewPrivileges=yes", "CapabilityBoundingSet=\n",
                 "RestrictAddressFamilies=AF_UNIX", "SystemCallFilter=@system-service",
                 "--pins real --display config", "WorkingDirectory=/var/lib/stretchbox"):
        assert line in unit, line
    unit_section = unit.split("[Service]")[0]
    assert "StartLimitBurst=" in unit_section and "StartLimitIntervalSec=" in unit_section
    directives = "\n".join(line for line in unit.splitlines() if not line.startswith("#"))
    assert "network-online" not in directives and "PrivateDevices=yes" not in directives
    assert "StandardOutput=null" not in directives


def test_root_layout_is_complete_and_idempotent(tmp_path):
    root = tmp_path / "root"
    first = install(root)
    for path in ("etc/systemd/system/stretchbox.service", "etc/udev/rules.d/99-stretchbox-usb.rules",
                 "etc/polkit-1/rules.d/50-stretchbox-poweroff.rules", "etc/stretchbox/config.yaml",
                 "opt/stretchbox/venv/bin/stretchbox", "etc/systemd/system/stretchbox-splash@.service",
                 "etc/udev/rules.d/60-stretchbox-splash.rules", "opt/stretchbox/panel/splash.json",
                 "opt/stretchbox/panel/safe-to-unplug.json",
                 "usr/lib/systemd/system-shutdown/stretchbox-safe-to-unplug"):
        assert (root / path).is_file(), path
    assert (root / "opt/stretchbox/venv/bin/stretchbox").stat().st_mode & 0o111
    assert (root / "usr/lib/systemd/system-shutdown/stretchbox-safe-to-unplug").stat().st_mode & 0o111
    assert "would run: systemctl enable stretchbox.service" in first
    assert "would run: systemctl restart stretchbox.service" in first  # new files: (re)start it
    config = root / "etc/stretchbox/config.yaml"
    config.write_text("schema: 1\nbuzzer: {quiet: true}\n")  # the user's own config
    before = {p: p.stat().st_mtime_ns for p in root.rglob("*")}
    second = install(root)
    assert "installed /" not in second  # no file was written the second time
    assert "would run: systemctl start stretchbox.service" in second and "restart" not in second
    assert {p: p.stat().st_mtime_ns for p in root.rglob("*")} == before
    assert config.read_text() == "schema: 1\nbuzzer: {quiet: true}\n"


def test_uninstall_keeps_routines_and_config_unless_purged(tmp_path):
    root = tmp_path / "root"
    install(root)
    (root / "var/lib/stretchbox/library").mkdir(parents=True)
    (root / "var/lib/stretchbox/library/mine.yaml").write_text("schema: 1\n")
    removed = install(root, "--uninstall")
    assert "would run: userdel stretchbox" in removed and "would run: systemctl disable --now" in removed
    assert not (root / "etc/systemd/system/stretchbox.service").exists()
    assert not (root / "etc/udev/rules.d/99-stretchbox-usb.rules").exists()
    assert not (root / "etc/polkit-1/rules.d/50-stretchbox-poweroff.rules").exists()
    assert not (root / "etc/systemd/system/stretchbox-splash@.service").exists()
    assert not (root / "etc/udev/rules.d/60-stretchbox-splash.rules").exists()
    assert not (root / "usr/lib/systemd/system-shutdown/stretchbox-safe-to-unplug").exists()
    assert not (root / "opt/stretchbox").exists()
    assert (root / "etc/stretchbox/config.yaml").exists() and (root / "var/lib/stretchbox/library/mine.yaml").exists()
    install(root, "--uninstall", "--purge")
    assert not (root / "etc/stretchbox").exists() and not (root / "var/lib/stretchbox").exists()


def test_the_default_config_is_valid_and_its_commented_keys_are_the_real_defaults(tmp_path):
    """schema: 1 plus commented keys; uncommenting every key gives exactly the code's defaults."""
    import dataclasses

    from stretchbox.adapters.configfile import load_config
    from stretchbox.config import Config

    example = ROOT / "systemd" / "config.example.yaml"
    proc = subprocess.run([sys.executable, "-m", "stretchbox", "config", "--check", "--config", str(example)],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    text = example.read_text()
    assert [line for line in text.splitlines() if line and not line.startswith("#")] == ["schema: 1"]
    uncommented = re.sub(r"(?m)^#((?:  )?[a-z][a-z0-9_]*:.*)$", r"\1", text)
    import yaml

    from stretchbox.config import SECTIONS

    data = yaml.safe_load(uncommented)
    assert set(data) == set(SECTIONS)  # every section is documented and uncommented
    for name, value in dataclasses.asdict(Config()).items():  # and every key of the sectioned dataclasses
        if isinstance(value, dict):
            assert set(data[name]) == set(value), name
    (tmp_path / "all.yaml").write_text(uncommented)
    every_key = load_config(tmp_path / "all.yaml", required=True)
    defaults = load_config(example, required=True)
    assert dataclasses.replace(every_key, source="") == dataclasses.replace(defaults, source="") \
        == dataclasses.replace(Config(), source="")


def test_installer_is_shellcheck_clean():
    if shutil.which("shellcheck") is None:
        pytest.skip("shellcheck not installed")
    proc = subprocess.run(["shellcheck", str(INSTALL), str(ROOT / "systemd/stretchbox-safe-to-unplug")],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stdout


def test_i2c_is_enabled_once_without_raspi_config(tmp_path):
    """--root on a laid-out SD card: config.txt gets dtparam=i2c_arm=on once, and the i2c-dev module
    (the rest of what install.sh writes to config.txt: tests/system/test_install.py)."""
    root = tmp_path / "root"
    boot = root / "boot/firmware/config.txt"
    boot.parent.mkdir(parents=True)
    boot.write_text("# For more options see config.txt(5)\n#dtparam=i2c_arm=on\ndtparam=audio=on\n")
    install(root)
    install(root)
    assert boot.read_text().splitlines().count("dtparam=i2c_arm=on") == 1
    assert (root / "etc/modules-load.d/stretchbox-i2c.conf").read_text() == "i2c-dev\n"
    boot.write_text("dtparam=i2c_arm=off\n")
    install(root)
    assert boot.read_text().splitlines()[0] == "dtparam=i2c_arm=on"  # in place; our block follows
    assert boot.read_text().count("dtparam=i2c_arm=") == 1
    install(root, "--uninstall")
    assert not (root / "etc/modules-load.d/stretchbox-i2c.conf").exists() and boot.exists()


def test_usb_helpers_next_to_the_rules_are_installed_and_removed(tmp_path):
    """Whatever systemd/stretchbox-usb* the USB rule needs: scripts executable, unit files with ours."""
    repo = tmp_path / "repo"
    shutil.copytree(ROOT / "systemd", repo / "systemd")
    shutil.copy(ROOT / "README.md", repo / "README.md")
    (repo / "systemd/stretchbox-usb-mount").write_text("#!/bin/sh\nexit 0\n")
    (repo / "systemd/stretchbox-usb@.service").write_text("[Service]\nExecStart=/bin/true\n")
    root = tmp_path / "root"
    install(root, script=repo / "systemd/install.sh")
    helper = root / "usr/local/lib/stretchbox/stretchbox-usb-mount"
    assert helper.read_text() == "#!/bin/sh\nexit 0\n" and helper.stat().st_mode & 0o777 == 0o755
    assert (root / "etc/systemd/system/stretchbox-usb@.service").is_file()
    install(root, "--uninstall", script=repo / "systemd/install.sh")
    assert not helper.exists() and not (root / "etc/systemd/system/stretchbox-usb@.service").exists()
    assert not (root / "usr/local/lib/stretchbox").exists()


def syscall_groups() -> dict[str, list[str]]:
    """systemd-analyze syscall-filter: every @group and its entries (system calls and nested @groups)."""
    groups: dict[str, list[str]] = {}
    current = None
    for line in analyze("syscall-filter").stdout.splitlines():
        if line.startswith("@"):
            current = groups.setdefault(line.split()[0], [])
        elif current is not None and line.strip() and not line.strip().startswith("#"):
            current.append(line.strip())
    return groups


def expand(entry: str, groups: dict[str, list[str]]) -> set[str]:
    if not entry.startswith("@"):
        return {entry}
    return set().union(*(expand(e, groups) for e in groups[entry]))


def test_the_real_program_stays_inside_the_units_system_call_filter(tmp_path):
    """Every system call of `stretchbox run` (first frame, READY=1, pings, SIGTERM, STOPPING=1), traced,
    is allowed by the unit's SystemCallFilter= lines (@system-service minus ~@privileged @resources)."""
    if shutil.which("strace") is None:
        pytest.skip("strace not installed")
    import signal
    import socket

    unit = (ROOT / "systemd" / "stretchbox.service").read_text()
    filters = re.findall(r"^SystemCallFilter=(.*)$", unit, re.M)
    groups = syscall_groups()
    allowed: set[str] = set()
    for value in filters:  # systemd's rule: an allow list first, then ~ lines take names away
        names = set().union(*(expand(e, groups) for e in value.lstrip("~").split()))
        allowed = allowed - names if value.startswith("~") else allowed | names
    assert {"read", "write", "epoll_wait", "sendto"} <= allowed and not {"setrlimit", "chown", "reboot"} & allowed

    address = str(tmp_path / "notify.sock")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(address)
    sock.settimeout(60)
    config = tmp_path / "config.yaml"
    config.write_text(f"paths: {{library: {tmp_path / 'lib'}, usb_mounts: {tmp_path / 'media'}}}\n")
    trace = tmp_path / "trace.txt"
    env = {**os.environ, "NOTIFY_SOCKET": address, "WATCHDOG_USEC": "400000", "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(["strace", "-f", "-qq", "-o", str(trace), sys.executable, "-m", "stretchbox", "run",
                             "--display", "dummy", "--pins", "mock", "--config", str(config)],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    app = None
    try:
        assert sock.recv(4096) == b"READY=1"
        assert [sock.recv(4096) for _ in range(2)] == [b"WATCHDOG=1"] * 2
        # SIGTERM to the traced program itself, as systemd sends it (strace would only detach).
        app = int(Path(f"/proc/{proc.pid}/task/{proc.pid}/children").read_text().split()[0])
        os.kill(app, signal.SIGTERM)
        while sock.recv(4096) != b"STOPPING=1":
            pass
        assert proc.wait(timeout=60) == 0
    finally:
        for pid in (app, proc.pid):
            if pid is not None and proc.poll() is None:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        proc.communicate(timeout=60)
        sock.close()
    used = set(re.findall(r"^\d+ +([a-z0-9_]+)\(", trace.read_text(), re.M))
    assert {"execve", "sendto", "rt_sigaction"} & used and len(used) > 20  # the trace is real
    assert used - {"execve"} <= allowed, sorted(used - allowed)  # execve is strace's, before the filter
