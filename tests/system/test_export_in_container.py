"""The history export's unit and polkit rule under real systemd 252 as PID 1 (systemd-nspawn).

Booted as tests/system/test_unit_in_container.py boots its container (same helpers), with the tree
``systemd/install.sh --root`` lays out (stand-in venv: nothing here runs Python of ours), the
stretchbox user made before the boot, and two loop devices bound in as the container's sticks.

What is run: the service user may start ``stretchbox-export@<name>.service`` through polkit and nothing
else; the installed unit, started for a stick that the read-only mount of the udev rule holds, waits
until that mount lets go of it, mounts it read-write in its own namespace only (the container never
sees a read-write mount), writes the staged CSV under the final name only when the stick asks, and
unmounts; a probe with the unit's exact sandbox shows what it can reach.

What could not be run here, and why:

* No FAT driver in this kernel: the sticks are ext4 images on loop devices (``blkid`` says ext4, so the
  script mounts them ``sync,nosuid,nodev,noexec``, without the uid/gid/umask/utf8 that only vfat and
  exfat take). The kernel refuses a read-write mount of a superblock that is mounted read-only (EBUSY,
  libmount says "already mounted") in the code every block file system shares (get_tree_bdev), so the
  wait is the same for FAT. The FAT side is tests/adapters/test_export_fat.py (mtools, fsck.vfat).
* No udev, and systemd 252 supports neither device units nor automount units in a container ("not
  supported on this system"): the stick's read-only mount is a plain mount unit
  (``media-stretchbox-loopN.mount``, the options of 99-stretchbox-usb.rules), and what the automount
  does after 5 s idle (unmount it) is ``systemctl stop`` of that unit. The autofs mount point that stays
  on a Pi is not there meanwhile.
* ``PrivateNetwork=yes`` gives the unit its own network namespace, but nspawn drops CAP_NET_ADMIN, so
  systemd logs "Failed to configure loopback network device" (nothing here uses the network).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from stretchbox.adapters.export import EXPORT_NAME, REQUEST_FILE, STAGED, UNIT
from tests.system.test_unit_in_container import (ERRNAME, USER_FILES, Container, booted, make_users, mount_table,
                                                  wait_until, why_not)

ROOT = Path(__file__).resolve().parents[2]
INSTALL = ROOT / "systemd" / "install.sh"
TEMPLATE = UNIT.format("")  # stretchbox-export@.service
STATE = "/var/lib/stretchbox"
PROBE_DIR = "/opt/stretchbox-export-test"
OLD = b"date,routine,held\r\n2026-11-01,Hips,60\r\n"
NEW = "date,routine,held\r\n2026-11-25,Hip flexor \u00e9,90\r\n"

# The probe: the installed unit file under another name, running this instead of the script. It does what
# the script does (mount the instance's device read-write in a private /tmp) and reports what else it can do.
PROBE_DROPIN = f"""\
[Service]
ExecStart=
ExecStart=/usr/bin/python3 {PROBE_DIR}/probe.py %i {{devices}}
"""
PROBE = ERRNAME + r'''
import json, os, socket, subprocess, sys, time
name = sys.argv[1]
out = {"uid": os.getuid()}
status = dict(line.split(":\t", 1) for line in open("/proc/self/status").read().splitlines() if ":\t" in line)
out["CapBnd"] = status["CapBnd"].strip()
out["NoNewPrivs"] = status["NoNewPrivs"].strip()
def write(folder):
    path = os.path.join(folder, ".probe")
    def go():
        with open(path, "w") as f:
            f.write("x")
        os.unlink(path)
    return errname(go)
out["write"] = {d: write(d) for d in ("/etc", "/usr", "/var/lib/stretchbox", "/var/lib/stretchbox/export",
                                      "/media", "/root", "/tmp")}
out["home"] = errname(lambda: os.listdir("/home"))
out["staged by path"] = errname(lambda: open("/var/lib/stretchbox/export/stretchbox-history.csv", "rb").close())
out["stdin"] = sys.stdin.buffer.read().decode()
out["open"] = {d: errname(lambda d=d: os.close(os.open(d, os.O_RDWR))) for d in sys.argv[2:]}
out["AF_INET"] = errname(lambda: socket.socket(socket.AF_INET, socket.SOCK_DGRAM).close())
out["net ns"] = os.readlink("/proc/self/ns/net")
out["mnt ns"] = os.readlink("/proc/self/ns/mnt")
out["/proc"] = sorted(n for n in os.listdir("/proc") if not n.isdigit())
os.makedirs("/tmp/stick", exist_ok=True)
mount = subprocess.run(["mount", "-w", "-t", "ext4", "-o", "sync,nosuid,nodev,noexec", "/dev/" + name, "/tmp/stick"],
                       capture_output=True, text=True)
out["mount"] = mount.returncode, mount.stderr.strip()
out["mountinfo"] = [l for l in open("/proc/self/mountinfo").read().splitlines() if " /tmp/stick " in l]
print("PROBE " + json.dumps(out), flush=True)
time.sleep(1)   # the test looks at the container's own mount table meanwhile
subprocess.run(["umount", "/tmp/stick"], check=True)
'''


def ext4_stick(path: Path, files: dict[str, bytes]) -> None:
    """A stick image: ext4 (this kernel has no FAT driver), files root-owned as a FAT mount shows them."""
    tree = path.with_suffix(".tree")
    for name, data in files.items():
        (tree / name).parent.mkdir(parents=True, exist_ok=True)
        (tree / name).write_bytes(data)
    subprocess.run(["truncate", "-s", "8M", str(path)], check=True, timeout=30)
    subprocess.run(["mkfs.ext4", "-q", "-F", "-d", str(tree), str(path)], check=True, timeout=60)


def read_on(image: Path, name: str) -> bytes | None:
    """A file of an ext4 image, read by debugfs (e2fsprogs) without mounting it."""
    proc = subprocess.run(["debugfs", "-R", f"cat /{name}", str(image)], capture_output=True, timeout=30)
    return proc.stdout if proc.returncode == 0 and b"File not found" not in proc.stderr else None


def mount_unit(device: str, where: str) -> str:
    """What 99-stretchbox-usb.rules has systemd-mount make, minus what a container cannot have (see the
    module doc): a read-only mount of the stick at /media/stretchbox/<kernel name>."""
    return f"[Mount]\nWhat={device}\nWhere={where}\nOptions=ro,nosuid,nodev,noexec\n"


@pytest.fixture(scope="module")
def box(tmp_path_factory):
    reason = why_not() or (None if shutil.which("mkfs.ext4") and shutil.which("debugfs") else "needs e2fsprogs")
    if reason:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI must run the export unit under real systemd: {reason}")
        pytest.skip(reason)
    base = tmp_path_factory.mktemp("export")
    images = {"asks": base / "asks.img", "silent": base / "silent.img"}
    ext4_stick(images["asks"], {f"stretchbox/{REQUEST_FILE}": b"", f"stretchbox/{EXPORT_NAME}": OLD})
    ext4_stick(images["silent"], {"STRETCHBOX/HIPS.YML": b"schema: 1\n", f"STRETCHBOX/{EXPORT_NAME}": OLD})
    loops = {}
    try:
        for key, image in images.items():
            proc = subprocess.run(["losetup", "--find", "--show", str(image)], capture_output=True, text=True,
                                  timeout=30)
            if proc.returncode != 0:
                pytest.skip(f"no loop device for the stick images (losetup: {proc.stderr.strip()})")
            loops[key] = proc.stdout.strip()
        yield from _boot(base, images, loops)
    finally:
        for loop in loops.values():
            subprocess.run(["losetup", "-d", loop], capture_output=True, timeout=30)


def _boot(base: Path, images: dict[str, Path], loops: dict[str, str]):
    root = base / "root"
    env = {k: v for k, v in os.environ.items() if not k.startswith("STRETCHBOX_") and k != "VIRTUAL_ENV"}
    env.update(STRETCHBOX_ROOT_VENV="stand-in", STRETCHBOX_ROOT_PYTHON=sys.executable)
    proc = subprocess.run(["bash", str(INSTALL), "--root", str(root)], capture_output=True, text=True, timeout=300,
                          env=env)
    assert proc.returncode == 0, proc.stderr
    units = root / "etc/systemd/system"
    for loop in loops.values():
        name = Path(loop).name
        (units / f"media-stretchbox-{name}.mount").write_text(mount_unit(loop, f"/media/stretchbox/{name}"))
    shutil.copy(units / TEMPLATE, units / "stretchbox-export-probe@.service")
    (units / "stretchbox-export-probe@.service.d").mkdir()
    (units / "stretchbox-export-probe@.service.d/probe.conf").write_text(
        PROBE_DROPIN.format(devices=" ".join(loops.values())))
    fixtures = base / "fixtures"
    fixtures.mkdir()
    (fixtures / "probe.py").write_text(PROBE)

    # The stretchbox user exists before the boot (install.sh's useradd on a Pi), made by systemd-sysusers.
    sysusers, users = base / "stretchbox.conf", base / "users"
    make_users(sysusers, 'u stretchbox - "stretchbox" /var/lib/stretchbox /usr/sbin/nologin\n', users)
    uid = int(next(line.split(":")[2] for line in (users / "etc/passwd").read_text().splitlines()
                   if line.startswith("stretchbox:")))
    # The state folder as the service leaves it: its own user's, 0750, the CSV 0600 (UMask=0077).
    state = base / "state"
    staged = state / STAGED
    staged.parent.mkdir(parents=True)
    staged.write_text(NEW)
    for path, mode in ((state, 0o750), (staged.parent, 0o750), (staged, 0o600)):
        os.chown(path, uid, uid)
        path.chmod(mode)
    (base / "machine-id").write_text(uuid.uuid4().hex + "\n")

    argv = ["systemd-nspawn", "-D", "/", "--volatile=yes", "--register=no", "--keep-unit", "--console=pipe", "-q",
            "--system-call-filter=bpf", f"--machine=stretchbox-export-{uuid.uuid4().hex[:8]}",
            f"--bind-ro={root}/etc/polkit-1/rules.d:/etc/polkit-1/rules.d",
            f"--bind={units}:/etc/systemd/system",
            # The script's place, /usr/local/lib/stretchbox: /usr is the host's, read-only, so /usr/local is bound.
            f"--bind-ro={root}/usr/local:/usr/local",
            f"--bind-ro={sysusers}:/etc/sysusers.d/stretchbox.conf",
            f"--bind-ro={base}/machine-id:/etc/machine-id",
            *(f"--bind={users}/etc/{name}:/etc/{name}" for name in USER_FILES),
            f"--bind={state}:{STATE}",
            f"--bind-ro={fixtures}:{PROBE_DIR}",
            *(f"--bind={loop}" for loop in loops.values()),
            "-b", "systemd.firstboot=off"]
    with booted(argv, base / "console.log", state, fixtures) as box:
        box.images, box.loops, box.rules_dir = images, loops, root / "etc/polkit-1/rules.d"
        yield box


def as_user(box: Container, user: str, *argv: str) -> subprocess.CompletedProcess:
    return box.run("setpriv", f"--reuid={user}", f"--regid={user}", "--init-groups", *argv, check=False)


def test_the_service_user_may_start_the_export_units_and_nothing_else(box):
    def start(user: str, verb: str, unit: str) -> str:
        proc = as_user(box, user, "systemctl", "--no-ask-password", verb, "--no-block", unit)
        return "ok" if proc.returncode == 0 else proc.stderr.splitlines()[0]
    denied = "Interactive authentication required."
    assert start("stretchbox", "start", "stretchbox-export@sdq9.service") == "ok"
    assert start("stretchbox", "start", "stretchbox.service").endswith(denied)
    assert start("stretchbox", "restart", "stretchbox-export@sdq9.service").endswith(denied)
    assert start("stretchbox", "stop", "stretchbox-export@sdq9.service").endswith(denied)
    assert start("stretchbox", "start", "stretchbox-export-probe@sdq9.service").endswith(denied)
    assert start("stretchbox", "start", "stretchbox-export@sdq9.socket").endswith(denied)
    assert start("daemon", "start", "stretchbox-export@sdq9.service").endswith(denied)
    # The unit ran (as root) and refused: no stick sdq9 is mounted by the udev rule.
    box.wait_journal(r"/dev/sdq9 is not a stick mounted at /media/stretchbox/sdq9: nothing written",
                     unit="stretchbox-export@sdq9.service")
    # Without the rule file the service user may start nothing (polkitd reloads its rules folder).
    rule = box.rules_dir / "50-stretchbox-poweroff.rules"
    text = rule.read_text()
    rule.unlink()
    try:
        wait_until(lambda: start("stretchbox", "start", "stretchbox-export@sdq8.service").endswith(denied), 10,
                   "polkit without the rule")
    finally:
        rule.write_text(text)
    wait_until(lambda: start("stretchbox", "start", "stretchbox-export@sdq7.service") == "ok", 10, "the rule again")


def container_mounts(box: Container, device: str) -> list[dict]:
    """The container's own mounts (PID 1's namespace, what the service and udev's mounts live in) of ``device``."""
    major_minor = "%d:%d" % divmod(os.stat(device).st_rdev, 256)  # loop devices: minor < 256
    text = Path(f"/proc/{box.leader}/mountinfo").read_text()
    return [m for line, m in zip(text.splitlines(), mount_table(text)) if line.split()[2] == major_minor]


def test_the_export_waits_for_the_read_only_mount_to_let_go_then_writes_the_new_csv(box):
    loop = box.loops["asks"]
    name = Path(loop).name
    unit = UNIT.format(name)
    box.systemctl("start", f"media-stretchbox-{name}.mount")  # the stick, read-only, as the service reads it
    assert [m["options"][0] for m in container_mounts(box, loop)] == ["ro"]
    started = time.monotonic()
    box.systemctl("start", "--no-block", unit)
    box.wait_journal(rf"{loop} refused read-write \(.*\): waiting for the read-only mount to be idle", unit=unit)
    time.sleep(1)
    assert box.show(unit, "ActiveState")["ActiveState"] == "activating"  # still waiting, nothing written
    assert read_on(box.images["asks"], f"stretchbox/{EXPORT_NAME}") == OLD
    # What the automount does after 5 s idle: unmount the stick. The export then goes ahead.
    box.systemctl("stop", f"media-stretchbox-{name}.mount")
    found = box.wait_journal(rf"mounted {loop} \(ext4\) read-write after (\d+) s", unit=unit)
    wait_until(lambda: box.show(unit, "ActiveState", "Result") == {"ActiveState": "inactive", "Result": "success"},
               15, "the export finished")
    took = time.monotonic() - started
    print(f"export: waited {found.group(1)} s for the read-only mount, {took:.1f} s in all")
    assert f"wrote stretchbox/{EXPORT_NAME} ({len(NEW.encode())} bytes) to {loop}; unmounted" in box.journal(unit)
    assert container_mounts(box, loop) == []  # the read-write mount was the unit's alone, and is gone
    assert read_on(box.images["asks"], f"stretchbox/{EXPORT_NAME}") == NEW.encode()
    assert read_on(box.images["asks"], f"stretchbox/{EXPORT_NAME}.tmp") is None


def test_a_stick_without_export_history_is_not_written(box):
    loop = box.loops["silent"]
    name = Path(loop).name
    unit = UNIT.format(name)
    box.systemctl("start", f"media-stretchbox-{name}.mount")
    box.systemctl("start", "--no-block", unit)
    box.wait_journal(rf"{loop} refused read-write", unit=unit)
    box.systemctl("stop", f"media-stretchbox-{name}.mount")
    wait_until(lambda: box.show(unit, "ActiveState", "Result") == {"ActiveState": "inactive", "Result": "success"},
               15, "the export finished")
    assert f"no stretchbox/{REQUEST_FILE} on {loop}: nothing written" in box.journal(UNIT.format(name))
    assert read_on(box.images["silent"], f"STRETCHBOX/{EXPORT_NAME}") == OLD


def test_the_units_sandbox_as_run(box):
    """The installed unit's sandbox, exactly, around a probe that mounts the stick as the script does."""
    loop, other = box.loops["asks"], box.loops["silent"]
    unit = f"stretchbox-export-probe@{Path(loop).name}.service"
    box.systemctl("start", "--no-block", unit)
    probe = json.loads(box.wait_journal(r"PROBE (.*)", unit=unit).group(1))
    # While the probe holds its read-write mount, the container (PID 1's namespace) has none.
    assert probe["mount"] == [0, ""] and len(probe["mountinfo"]) == 1 and " rw," in probe["mountinfo"][0]
    assert container_mounts(box, loop) == []
    assert probe["mnt ns"] != os.readlink(f"/proc/{box.leader}/ns/mnt")
    assert probe["uid"] == 0 and probe["CapBnd"] == f"{1 << 21:016x}" and probe["NoNewPrivs"] == "1"  # CAP_SYS_ADMIN
    # ProtectSystem=strict: read-only; the state folder: the stretchbox user's 0750, closed to a root without
    # CAP_DAC_*; /root: ProtectHome=yes; /tmp: the private one, where the mount point is.
    assert probe["write"] == {"/etc": "EROFS", "/usr": "EROFS", "/var/lib/stretchbox": "EACCES",
                              "/var/lib/stretchbox/export": "EACCES", "/media": "EROFS", "/root": "EACCES",
                              "/tmp": "ok"}
    assert probe["home"] == "EACCES"  # ProtectHome=yes: an inaccessible folder, and no CAP_DAC_* to pass it
    # The staged CSV: not readable by its path (root without CAP_DAC_*: it is the stretchbox user's, 0600),
    # given on stdin by systemd.
    assert probe["staged by path"] == "EACCES" and probe["stdin"] == NEW
    assert probe["open"] == {loop: "ok", other: "EPERM"}  # DevicePolicy=closed, DeviceAllow=/dev/%i
    assert probe["AF_INET"] == "EAFNOSUPPORT" and probe["net ns"] != os.readlink(f"/proc/{box.leader}/ns/net")
    assert probe["/proc"] == ["self", "thread-self"]  # ProcSubset=pid
    wait_until(lambda: box.show(unit, "ActiveState")["ActiveState"] == "inactive", 15, "the probe's end")
    assert box.show(unit, "Result")["Result"] == "success"


def test_the_service_requires_the_mount_of_its_state_directory(box):
    """install.sh --data-partition adds only a mount unit for /var/lib/stretchbox: the service's StateDirectory=
    makes systemd order it after whatever is mounted there (shown on the loaded unit: here the container's bind
    of the state folder) and, for a mount unit from a file such as install.sh's, require it (systemd.unit(5),
    RequiresMountsFor=; not shown here, where the mount has no unit file)."""
    shown = box.show("stretchbox.service", "RequiresMountsFor", "After")
    assert STATE in shown["RequiresMountsFor"].split()
    assert "var-lib-stretchbox.mount" in shown["After"].split()
