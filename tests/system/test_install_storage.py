"""install.sh --root for what keeps the device's data and time: the history export unit, the data
partition under the read-only overlay (--data-partition), and a DS3231 real-time clock (clock.rtc)."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from stretchbox.config import RTCS
from tests.system.test_install import BEGIN, BOOKWORM, END, config_txt, installed, run_install
from tests.system.test_systemd_unit import SYSTEM_UNITS

ROOT = Path(__file__).resolve().parents[2]
RTC_LINE = "dtoverlay=i2c-rtc,ds3231"
MOUNT = "etc/systemd/system/var-lib-stretchbox.mount"


def block(cfg: Path) -> list[str]:
    lines = cfg.read_text().splitlines()
    return lines[lines.index(BEGIN) + 1:lines.index(END)]


def verify(root: Path, unit: str) -> str:
    """systemd-analyze verify of a unit laid out under ``root`` (with systemd's own units beside it)."""
    shutil.copytree(SYSTEM_UNITS, root / "usr/lib/systemd/system", symlinks=True, dirs_exist_ok=True)
    proc = subprocess.run(["systemd-analyze", "verify", "--man=no", f"--root={root}", unit], capture_output=True,
                          text=True, timeout=60)
    return f"exit {proc.returncode}: {proc.stdout}{proc.stderr}"


def with_config(root: Path, text: str) -> None:
    (root / "etc/stretchbox").mkdir(parents=True, exist_ok=True)
    (root / "etc/stretchbox/config.yaml").write_text(text)


def test_the_export_unit_and_its_script_are_laid_out_and_removed(tmp_path):
    root = tmp_path / "root"
    installed(root)
    unit = root / "etc/systemd/system/stretchbox-export@.service"
    script = root / "usr/local/lib/stretchbox/stretchbox-export"
    assert unit.read_bytes() == (ROOT / "systemd/stretchbox-export@.service").read_bytes()
    assert script.read_bytes() == (ROOT / "systemd/stretchbox-export").read_bytes() and script.stat().st_mode & 0o777 == 0o755
    assert re.search(r"^ExecStart=/usr/local/lib/stretchbox/stretchbox-export %i$", unit.read_text(), re.M)
    rule = root / "etc/polkit-1/rules.d/50-stretchbox-poweroff.rules"
    assert "stretchbox-export@" in rule.read_text() and "org.freedesktop.login1.power-off" in rule.read_text()
    assert verify(root, "stretchbox-export@sda1.service") == "exit 0: "
    installed(root, "--uninstall")
    assert not unit.exists() and not script.exists() and not rule.exists()


# ---- the data partition ------------------------------------------------------------------------

@pytest.mark.parametrize("given, what", [
    ("STRETCHBOX", "/dev/disk/by-label/STRETCHBOX"),
    ("LABEL=sb-data", "/dev/disk/by-label/sb-data"),
    ("UUID=3c1f0f2a-7d1e-4b7c-9a55-0d2c1e6f4b10", "/dev/disk/by-uuid/3c1f0f2a-7d1e-4b7c-9a55-0d2c1e6f4b10"),
    ("PARTUUID=6c586e13-03", "/dev/disk/by-partuuid/6c586e13-03"),
    ("/dev/mmcblk0p3", "/dev/mmcblk0p3"),
])
def test_data_partition_lays_out_a_mount_unit_for_the_state_folder(tmp_path, given, what):
    root = tmp_path / "root"
    out = installed(root, "--data-partition", given)
    mount = root / MOUNT
    text = mount.read_text()
    assert re.findall(r"^(What|Where|Options)=(.*)$", text, re.M) == [
        ("What", what), ("Where", "/var/lib/stretchbox"), ("Options", "noatime,nosuid,nodev,noexec")]
    assert "would run: systemctl enable var-lib-stretchbox.mount" in out
    # The service's StateDirectory= is that path (systemd then requires the mount: test_export_in_container).
    assert "StateDirectory=stretchbox\n" in (root / "etc/systemd/system/stretchbox.service").read_text()
    # A mount unit's name is its path, escaped as systemd does.
    escaped = subprocess.run(["systemd-escape", "--path", "--suffix=mount", "/var/lib/stretchbox"], check=True,
                             capture_output=True, text=True, timeout=30).stdout.strip()
    assert mount.name == escaped
    assert verify(root, mount.name) == "exit 0: "
    # A later run without the option keeps it; --uninstall removes the unit (the partition's data stays).
    installed(root)
    assert mount.read_text() == text
    out = installed(root, "--uninstall")
    assert not mount.exists() and "would run: systemctl disable var-lib-stretchbox.mount" in out


@pytest.mark.parametrize("given", ["my stick", "LABEL=a/b", "UUID=", "/dev/../etc/passwd x", "LABEL=$(reboot)", ""])
def test_a_bad_data_partition_changes_nothing_and_says_what_to_give(tmp_path, given):
    root = tmp_path / "root"
    proc = run_install(root, "--data-partition", given)
    assert proc.returncode != 0
    assert "--data-partition" in proc.stderr and proc.stdout == ""
    assert not root.exists() or not any(root.rglob("*.service"))


# ---- the real-time clock -----------------------------------------------------------------------

def test_clock_rtc_ds3231_adds_its_overlay_to_the_block_and_disables_fake_hwclock(tmp_path):
    root = tmp_path / "root"
    cfg = config_txt(root, BOOKWORM)
    fake = root / "lib/systemd/system/fake-hwclock.service"
    fake.parent.mkdir(parents=True)
    fake.write_text("[Unit]\nDescription=Restore / save the current clock\n")
    installed(root)
    assert RTC_LINE not in cfg.read_text()  # clock.rtc defaults to none

    with_config(root, "schema: 1\nclock:\n  rtc: ds3231\n")
    out = installed(root)
    assert block(cfg) == ["dtparam=i2c_arm_baudrate=400000", "boot_delay=0", "disable_splash=1", RTC_LINE]
    assert "would run: systemctl disable fake-hwclock.service" in out
    assert "reboot to apply" in out
    assert "would run: systemctl disable fake-hwclock" not in installed(root)  # once
    # The clock is set from the RTC at boot: the rule and the unit it starts are laid out.
    rule = (root / "etc/udev/rules.d/60-stretchbox-rtc.rules").read_text()
    assert 'ENV{SYSTEMD_WANTS}+="stretchbox-rtc@%k.service"' in rule and 'SUBSYSTEM=="rtc"' in rule
    assert (root / "etc/systemd/system/stretchbox-rtc@.service").exists()

    # Back to none: the line goes, fake-hwclock comes back; uninstall leaves config.txt as it was.
    with_config(root, "schema: 1\nclock: {rtc: none}\n")
    out = installed(root)
    assert RTC_LINE not in cfg.read_text() and "would run: systemctl enable fake-hwclock.service" in out
    with_config(root, "schema: 1\nclock: {rtc: ds3231}\n")
    installed(root)
    out = installed(root, "--uninstall")
    assert "would run: systemctl enable fake-hwclock.service" in out
    assert cfg.read_text() == BOOKWORM.replace("#dtparam=i2c_arm=on", "dtparam=i2c_arm=on")
    assert not (root / "etc/systemd/system/stretchbox-rtc@.service").exists()


def test_an_rtc_overlay_the_user_set_up_is_left_alone(tmp_path):
    root = tmp_path / "root"
    cfg = config_txt(root, BOOKWORM + "dtoverlay=i2c-rtc,pcf8523\n")
    with_config(root, "schema: 1\nclock: {rtc: ds3231}\n")
    proc = run_install(root)
    assert proc.returncode == 0, proc.stderr
    assert RTC_LINE not in cfg.read_text() and "config.txt already sets dtoverlay" in proc.stderr


def test_a_config_the_loader_refuses_sets_up_no_rtc_and_says_so(tmp_path):
    root = tmp_path / "root"
    cfg = config_txt(root, BOOKWORM)
    with_config(root, "schema: 1\nclock: {rtc: ds1307}\n")
    proc = run_install(root)
    assert proc.returncode == 0, proc.stderr
    assert RTC_LINE not in cfg.read_text()
    assert "note: could not read clock.rtc from" in proc.stderr


def test_every_rtc_the_config_accepts_is_known_to_the_installer():
    """One list, two languages: config.py's RTCS and install.sh's rtc_overlays."""
    text = (ROOT / "systemd/install.sh").read_text()
    pairs = re.search(r"^rtc_overlays=\((.*)\)", text, re.M).group(1)
    names = re.findall(r'(?:^|\s)([a-z0-9]+) (?:""|"dtoverlay=i2c-rtc,\1")', pairs)
    assert tuple(names) == RTCS


def test_an_unknown_rtc_is_refused_with_file_line_and_column(tmp_path):
    from stretchbox.adapters.configfile import load_config
    from stretchbox.adapters.yamlfile import FileError

    path = tmp_path / "config.yaml"
    path.write_text("schema: 1\nclock:\n  rtc: ds1307\n")
    with pytest.raises(FileError) as exc:
        load_config(path, pins=False)
    assert str(exc.value).splitlines() == [f"{path}:3:8: 'rtc' must be one of none, ds3231, got 'ds1307'"]
    path.write_text("schema: 1\nclock:\n  rtc: ds3231\n")
    assert load_config(path, pins=False).clock.rtc == "ds3231"
