"""The unit as install.sh lays it out: systemd-analyze verify says nothing, exposure <= 2.0, the layout."""

import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
INSTALL = ROOT / "systemd" / "install.sh"
SYSTEM_UNITS = Path("/lib/systemd/system")

pytestmark = pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze not installed")


def install(root: Path, *args: str) -> str:
    proc = subprocess.run(["bash", str(INSTALL), "--root", str(root), *args], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


@pytest.fixture
def laid_out(tmp_path):
    root = tmp_path / "root"
    install(root)
    # systemd's own units (sysinit.target, ...) as on any system, for verify --root to resolve
    shutil.copytree(SYSTEM_UNITS, root / "usr" / "lib" / "systemd" / "system", symlinks=True)
    return root


def analyze(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["systemd-analyze", *args], capture_output=True, text=True, timeout=120)


def test_systemd_analyze_verify_prints_nothing(laid_out):
    proc = analyze("verify", f"--root={laid_out}", "--man=no", "stretchbox.service")
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, "", "")


def test_verify_would_catch_a_typo(laid_out):
    """verify exits 0 on typos: the test above can fail only because it fails on any output."""
    unit = (laid_out / "etc/systemd/system/stretchbox.service").read_text()
    (laid_out / "etc/systemd/system/typo.service").write_text(unit.replace("Type=notify", "Type=notifyy"))
    proc = analyze("verify", f"--root={laid_out}", "--man=no", "typo.service")
    assert proc.returncode == 0 and "notifyy" in proc.stdout + proc.stderr


def test_security_exposure_is_at_most_2(laid_out):
    proc = analyze("security", "--offline=yes", f"--root={laid_out}", "stretchbox.service")
    found = re.search(r"Overall exposure level for stretchbox\.service: (\d+\.\d+)", proc.stdout + proc.stderr)
    assert found, proc.stdout + proc.stderr
    assert float(found.group(1)) <= 2.0


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
                 "opt/stretchbox/venv/bin/stretchbox"):
        assert (root / path).is_file(), path
    assert (root / "opt/stretchbox/venv/bin/stretchbox").stat().st_mode & 0o111
    assert "would run: systemctl enable --now stretchbox.service" in first
    config = root / "etc/stretchbox/config.yaml"
    config.write_text("schema: 1\nbuzzer: {quiet: true}\n")  # the user's own config
    second = install(root)
    assert "installed /" not in second  # no file was written the second time
    assert config.read_text() == "schema: 1\nbuzzer: {quiet: true}\n"


def test_uninstall_keeps_routines_and_config_unless_purged(tmp_path):
    root = tmp_path / "root"
    install(root)
    (root / "var/lib/stretchbox/library").mkdir(parents=True)
    (root / "var/lib/stretchbox/library/mine.yaml").write_text("schema: 1\n")
    install(root, "--uninstall")
    assert not (root / "etc/systemd/system/stretchbox.service").exists()
    assert not (root / "etc/udev/rules.d/99-stretchbox-usb.rules").exists()
    assert not (root / "etc/polkit-1/rules.d/50-stretchbox-poweroff.rules").exists()
    assert not (root / "opt/stretchbox").exists()
    assert (root / "etc/stretchbox/config.yaml").exists() and (root / "var/lib/stretchbox/library/mine.yaml").exists()
    install(root, "--uninstall", "--purge")
    assert not (root / "etc/stretchbox").exists() and not (root / "var/lib/stretchbox").exists()


def test_the_default_config_is_valid():
    from stretchbox.config import load_config

    config = load_config(ROOT / "systemd" / "config.example.yaml", required=True)
    assert config.buttons.a == "GPIO17" and config.paths.library == "/var/lib/stretchbox/library"


def test_installer_is_shellcheck_clean():
    if shutil.which("shellcheck") is None:
        pytest.skip("shellcheck not installed")
    proc = subprocess.run(["shellcheck", str(INSTALL)], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stdout
