"""The service's side of the history export: the stick's request, the staged CSV, the systemctl call.

The unit and polkit rule themselves run under real systemd in tests/system/test_export_in_container.py;
here, that the names the service uses are the ones the unit file, its script and the rule use.
"""

from __future__ import annotations

import os
import re
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from stretchbox.adapters import export
from stretchbox.adapters.export import EXPORT_NAME, REQUEST_FILE, STAGED, UNIT, export_requested, stage_export

ROOT = Path(__file__).resolve().parents[2]
UNIT_FILE = ROOT / "systemd" / "stretchbox-export@.service"
SCRIPT = ROOT / "systemd" / "stretchbox-export"
SERVICE = ROOT / "systemd" / "stretchbox.service"


@pytest.mark.parametrize("folder, request_name, asked", [
    ("stretchbox", REQUEST_FILE, True),
    ("STRETCHBOX", "export-history", True),   # FAT as Windows writes it; any case, as the importer reads it
    ("StretchBox", "Export-History", True),
    ("stretchbox", "EXPORT-HISTORY.txt", False),  # Notepad's "Save as" adds .txt: not the request
    ("routines", REQUEST_FILE, False),
])
def test_the_stick_asks_with_an_export_history_file_in_its_folder(tmp_path, folder, request_name, asked):
    (tmp_path / folder).mkdir()
    (tmp_path / folder / request_name).write_bytes(b"")
    assert export_requested(tmp_path) is asked


def test_a_folder_named_export_history_or_a_missing_stick_asks_for_nothing(tmp_path, caplog):
    (tmp_path / "stretchbox" / REQUEST_FILE).mkdir(parents=True)
    assert export_requested(tmp_path) is False
    assert export_requested(tmp_path / "gone") is False
    assert "cannot look for EXPORT-HISTORY on" in caplog.text and "gone" in caplog.text


def test_staging_replaces_the_csv_atomically_and_leaves_no_temporary_file(tmp_path):
    state = tmp_path / "state"
    state.mkdir()
    first = stage_export(state, "date,routine\r\n2026-11-20,Hips\r\n")
    assert first == state / STAGED and first.read_bytes() == b"date,routine\r\n2026-11-20,Hips\r\n"
    (first.parent / f".{EXPORT_NAME}.tmp").write_text("left by a power cut")  # files.replace_durably's temp name
    inode = os.stat(first).st_ino
    second = stage_export(state, "date,routine\r\n2026-11-25,Calves \u00e9\r\n")
    assert second.read_bytes() == "date,routine\r\n2026-11-25,Calves \u00e9\r\n".encode()
    assert os.stat(second).st_ino != inode  # a new file renamed over the old one, not rewritten in place
    assert sorted(p.name for p in second.parent.iterdir()) == [EXPORT_NAME]


def test_the_unit_reads_the_file_the_service_stages_in_its_state_directory():
    """One name in three languages: the unit's StandardInput= is the service's StateDirectory= + STAGED."""
    state = re.search(r"^StateDirectory=(\S+)$", SERVICE.read_text(), re.M).group(1)
    unit = UNIT_FILE.read_text()
    assert re.search(r"^StandardInput=file:(\S+)$", unit, re.M).group(1) == f"/var/lib/{state}/{STAGED}"
    assert f"csv={EXPORT_NAME}\n" in SCRIPT.read_text()
    assert f'"$folder/{REQUEST_FILE}"' in SCRIPT.read_text()
    assert UNIT.format("%i") == UNIT_FILE.name.replace("@.", "@%i.")


@pytest.mark.parametrize("name", ["sda1", "sdb", "mmcblk0p1"])
def test_start_export_runs_systemctl_start_no_block_for_the_instance(tmp_path, monkeypatch, name):
    """A stand-in systemctl first on PATH records what the service runs (the real one: the container test)."""
    log = tmp_path / "argv"
    (tmp_path / "systemctl").write_text(f'#!/bin/sh\nprintf "%s\\n" "$@" > {log}\n')
    (tmp_path / "systemctl").chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}:{os.environ['PATH']}")
    export.start_export(name).join(10)
    assert log.read_text().splitlines() == ["start", "--no-block", f"stretchbox-export@{name}.service"]


@pytest.mark.parametrize("name", ["", "sda1 sdb", "../sda1", "sda1.service", "sd*", "-sda1", "sda1\n"])
def test_a_name_that_is_not_a_kernel_device_name_is_refused_before_anything_runs(name):
    with pytest.raises(ValueError, match="not a kernel block device name"):
        export.start_export(name)


def test_no_systemctl_or_a_refusal_is_one_log_line_not_a_crash(tmp_path, monkeypatch, caplog):
    monkeypatch.setenv("PATH", str(tmp_path))
    export.start_export("sda1").join(10)
    (tmp_path / "systemctl").write_text('#!/bin/sh\necho "Failed to start stretchbox-export@sdb.service: Access denied" >&2\n'
                                        'exit 4\n')
    (tmp_path / "systemctl").chmod(0o755)
    export.start_export("sdb").join(10)
    command = "['systemctl', 'start', '--no-block', 'stretchbox-export@{}.service']"
    assert [r.getMessage() for r in caplog.records] == [
        f"export command {command.format('sda1')} failed: [Errno 2] No such file or directory: 'systemctl'",
        f"export command {command.format('sdb')} failed (exit 4): Failed to start stretchbox-export@sdb.service: "
        "Access denied"]


def test_the_script_passes_shellcheck():
    shellcheck = subprocess.run(["sh", "-c", "command -v shellcheck"], capture_output=True, text=True).stdout.strip()
    if not shellcheck:
        if os.environ.get("CI") == "true":
            pytest.fail("CI installs shellcheck (.ci/run)")
        pytest.skip("shellcheck not installed")
    proc = subprocess.run([shellcheck, str(SCRIPT)], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stdout
    assert stat.S_IMODE(SCRIPT.stat().st_mode) & 0o111, "install.sh copies it with mode 755, git keeps the bit"
    assert sys.platform.startswith("linux")
