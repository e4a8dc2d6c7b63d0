"""The udev rule that mounts sticks: syntax, the match, and systemd-mount accepting its options.

`udevadm verify` is not in this systemd (252) and there is no udev here, so the rule is
parsed by the grammar below and the RUN commands' options are checked by systemd-mount's
own argument parser (it fails later, at the missing bus, which is expected off a Pi).
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

RULES = Path(__file__).resolve().parents[2] / "systemd" / "99-stretchbox-usb.rules"
PAIR = re.compile(r'(?P<key>[A-Z_]+)(?:\{(?P<attr>[A-Za-z0-9_]+)\})?(?P<op>==|!=|\+=|=)"(?P<value>[^"]*)"')


def rules() -> list[list[dict]]:
    out = []
    for number, line in enumerate(RULES.read_text().splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        parts = [p.strip() for p in line.split(", ")]
        pairs = []
        for part in parts:
            m = PAIR.fullmatch(part)
            assert m, f"{RULES.name}:{number}: cannot parse {part!r}"
            pairs.append(m.groupdict())
        out.append(pairs)
    return out


def evaluate(env: dict[str, str], action: str) -> list[str]:
    """A small interpreter for this file: which RUN commands fire for a device, after substitution."""
    env = dict(env)
    runs: list[str] = []
    goto = None
    for rule in rules():
        if goto:
            if any(p["key"] == "LABEL" and p["value"] == goto for p in rule):
                goto = None
            continue
        matched = True
        for p in rule:
            if p["op"] not in ("==", "!="):
                continue
            have = action if p["key"] == "ACTION" else env.get(p["attr"] or p["key"], "")
            hit = have in p["value"].split("|")
            if hit != (p["op"] == "=="):
                matched = False
        if not matched:
            continue
        for p in rule:
            if p["key"] == "GOTO":
                goto = p["value"]
            elif p["key"] == "ENV" and p["op"] == "=":
                env[p["attr"]] = p["value"]
            elif p["key"] == "RUN":
                cmd = re.sub(r"\$env\{(\w+)\}", lambda m: env.get(m.group(1), ""), p["value"])
                runs.append(cmd.replace("$devnode", env["DEVNAME"]).replace("%k", env["KERNEL"]))
    return runs


STICK = {"SUBSYSTEM": "block", "ID_BUS": "usb", "ID_FS_USAGE": "filesystem", "ID_FS_TYPE": "vfat",
         "DEVNAME": "/dev/sda1", "KERNEL": "sda1"}


def test_every_line_parses_and_labels_exist():
    parsed = rules()
    gotos = {p["value"] for r in parsed for p in r if p["key"] == "GOTO"}
    labels = {p["value"] for r in parsed for p in r if p["key"] == "LABEL"}
    assert gotos and gotos <= labels


def test_a_usb_fat_stick_is_mounted_read_only_under_media_stretchbox():
    [cmd] = evaluate(STICK, "add")
    args = cmd.split()
    assert args[0] == "/usr/bin/systemd-mount"
    assert {"--no-block", "--automount=yes", "--collect"} <= set(args)
    options = next(a for a in args if a.startswith("--options=")).split("=", 1)[1].split(",")
    assert {"ro", "nosuid", "nodev", "noexec", "utf8"} <= set(options)
    assert args[-2:] == ["/dev/sda1", "/media/stretchbox/sda1"]


def test_non_fat_filesystems_get_no_fat_only_option():
    [cmd] = evaluate({**STICK, "ID_FS_TYPE": "ext4"}, "add")
    assert "--options=ro,nosuid,nodev,noexec " in cmd


def test_removal_unmounts():
    assert evaluate(STICK, "remove") == ["/usr/bin/systemd-mount --umount --no-block /media/stretchbox/sda1"]


@pytest.mark.parametrize("change", [
    {"ID_BUS": "ata"}, {"ID_FS_USAGE": "raid"}, {"ID_FS_USAGE": ""}, {"SUBSYSTEM": "usb"},
], ids=["sd-card-or-disk", "raid-member", "partition-table-only", "not-a-block-device"])
def test_other_devices_are_left_alone(change):
    assert evaluate({**STICK, **change}, "add") == []
    assert evaluate(STICK, "change") == []


def test_systemd_mount_accepts_the_options():
    exe = shutil.which("systemd-mount")
    if exe is None:
        pytest.skip("systemd-mount is not installed here")
    for action in ("add", "remove"):
        [cmd] = evaluate({**STICK, "DEVNAME": "/dev/null"}, action)
        args = cmd.split()
        run = subprocess.run([exe, *args[1:]], capture_output=True, text=True, timeout=20)
        # Off a booted systemd it fails at the bus, after parsing every option.
        assert "unrecognized option" not in run.stderr and "Failed to parse" not in run.stderr, run.stderr
        assert "bus" in run.stderr.lower() or "booted" in run.stderr.lower() or run.returncode == 0, run.stderr
