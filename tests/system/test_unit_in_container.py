"""The installed unit under real systemd 252 as PID 1, in a systemd-nspawn container.

``systemd-analyze security`` scores a unit; it never runs it. A sandbox option that
scored well (``ProcSubset=pid``) hid ``/proc/cpuinfo`` from gpiozero and the device
never worked. Rule: a unit option is kept only when this module shows the device
still works with it. It boots the host's own systemd in a container once, with
the tree ``systemd/install.sh --root`` lays out bound in, and proves:

1. The service starts at boot (``WantedBy=multi-user.target``), draws its first
   frame before READY=1 (the emulated panel's log has a lit frame before the
   unit's ActiveEnterTimestamp), pings the watchdog; a process stopped with
   SIGSTOP is killed by the watchdog and restarted; a crash (SIGSEGV) restarts it;
   ``systemctl stop`` draws the final screen, sends STOPPING=1 and exits 0
   (Result=success); after ``StartLimitBurst=5`` starts in 60 s systemd refuses
   ("Start request repeated too quickly"; 252 keeps Result=signal, see the test).
2. Inside the unit's sandbox (probe units, below): gpiozero's own board-revision
   reader and ``LGPIOFactory`` get past the revision (and fail only at opening
   ``/dev/gpiochip0``: no GPIO here); with ``ProcSubset=pid`` added back the same
   code dies on ``/proc/cpuinfo`` (what a Pi saw). The working directory is
   ``/var/lib/stretchbox`` and lgpio's import makes its ``.lgd-nfy0`` pipe there;
   state and library are writable, /etc, /usr, /opt read-only, /home hidden,
   /tmp private. The device policy denies (EPERM) until allowed by major number
   (ENXIO: no driver), and systemd resolves ``char-NAME`` through ``/proc/devices``.
   Also probed: no AF_INET, no W+X mapping, no user namespace, /proc/sys
   read-only, pid 1 invisible, an own network namespace.
3. A stick mounted under /media/stretchbox after the service started propagates
   into its private mount namespace and is imported into /var/lib/stretchbox.
4. Power-off from the menu (both buttons 3 s, then A), run by the app as the
   unprivileged ``stretchbox`` user inside its sandbox, powers the container off
   (nspawn exits 0). logind's CanPowerOff (which asks polkit) says "yes" for
   stretchbox only while the rule file is there ("challenge" without it, and for
   ``nobody``).
5. The early splash, pulled in at boot as udev's coldplug would pull it in (the rule's own
   ENV{SYSTEMD_WANTS}, applied as a wants link: udev does not run in a container), waits for no
   target: systemd's own After=/Requires=/Wants= of the instance name only the root and
   /opt/stretchbox mounts, the journal's socket and its slice, and ``systemd-analyze critical-chain``
   shows nothing else; stretchbox.service is ordered after it; its replayed frame reached the
   emulated panel while it ran, before the service's first frame (which is the same picture);
   ``systemd-analyze verify`` of the instance says nothing; a second start draws nothing.
6. At that power-off, systemd-shutdown runs the installed hook (through a test wrapper, below) with
   "poweroff": SAFE TO UNPLUG is the panel's last frame, after the service's SHUTTING DOWN. When it
   runs, every other process is gone, every mount PID 1 manages is unmounted (the state folder
   among them), and nothing backed by storage is writable but the test's log folder, the journal's
   bind and nspawn's own files (see the test for why each).

How the container is made (found by trying; systemd 252, util-linux nsenter):

* ``systemd-nspawn -D / --volatile=yes --register=no --keep-unit -b``: the host's
  /usr read-only, / a fresh tmpfs; ``--bind``/``--bind-ro`` bring in the laid-out
  tree. ``systemd.firstboot=off`` skips the first-boot wizard; a fixed
  ``/etc/machine-id`` makes it no first boot at all (no ``preset-all``: only what
  /usr enables by default, and ours, start). The users and groups are made before the boot, by
  the host's ``systemd-sysusers --root`` from the files the container's own reads (which then finds
  nothing to add): on a Pi install.sh's useradd made the user long before, and the splash
  (User=stretchbox, no default dependencies) may start before the container's sysusers.
* The hooks: the laid-out tree is bound at /opt/stretchbox-test/installed; a folder holding a
  wrapper of the hook's name is bound at /usr/lib/systemd/system-shutdown; the wrapper records the
  processes and mounts it finds, adds the emulated bus and runs the installed hook. Bind mounts that
  stand for folders of a Pi's root filesystem are kept mounted to the end by a drop-in
  (``DefaultDependencies=no``); /opt/stretchbox is bound back for the hook (HOOK_WRAPPER says why).
* ``SYSTEMD_NSPAWN_UNIFIED_HIERARCHY=1`` and ``--system-call-filter=bpf``: this host
  mounts cgroup v1 controllers, where the container's systemd cannot enforce
  ``DevicePolicy=``/``IPAddressDeny=`` at all (every device opened); with the
  unified hierarchy (what Raspberry Pi OS Bookworm uses) and bpf(2) allowed (nspawn
  filters it out by default) they are enforced with BPF, as on the Pi.
* No host systemd/machined: ``systemd-run -M`` and ``machinectl`` do not work.
  ``nsenter -t <container PID 1> -a`` enters every namespace; ``systemctl`` and
  ``journalctl`` then talk to the container's systemd. Files are read from the
  host through ``/proc/<leader>/root``.
* PID 1 logs at debug level (kernel command line ``systemd.log_level=debug``): its
  "Got notification message ... (READY=1 / WATCHDOG=1 / STOPPING=1)" lines are the
  proof that the datagrams arrived. ``/var/log/journal`` is a host folder, so the
  journal (and the state folder, the panel's log) outlive a powered-off container.
* Nothing nsenter'd may still run at power-off: systemd-shutdown SIGSTOPs every
  process of the container, nsenter (outside) then stops itself and never reaps
  its child, and the shutdown waits 90 s for that zombie.

The unit file is the installed one, unchanged. A drop-in
(``50-test-in-container.conf``, written below) changes only what cannot exist here:
the OLED (an emulated SSD1306 under luma's real i2c class, ``tests/doubles``), the
GPIO (gpiozero's own MockFactory, chosen by gpiozero from ``GPIOZERO_PIN_FACTORY``:
``ExecStart=... --pins real`` stays as installed), button presses from a FIFO, and
shorter ``WatchdogSec``/``RestartSec`` so the module stays under a minute. Every
sandbox option stays in force: systemd's security table of the loaded unit equals
the offline one of ``systemd/stretchbox.service``, and the only options systemd
logged it could not apply are the two below. The splash's drop-in gives it the same emulated
OLED and one writable folder for its panel log (``ReadWritePaths=``); it orders nothing.

Probe units are the installed unit file byte for byte under another name, with a
drop-in that only replaces what runs (``Type=oneshot``, ``ExecStart=`` the probe)
plus what each probe is about: a Pi's ``/proc/cpuinfo`` (``BindReadOnlyPaths=``,
placed over the /proc that the unit's ``ProtectProc=invisible`` mounts for it: an
x86 kernel has no Revision line), ``ProcSubset=pid`` for the negative control, or
``DeviceAllow=`` by major number. A probe is the unit's sandbox exactly (user,
groups, namespaces, seccomp, cgroup device program): ``nsenter`` into a running
service would miss the cgroup and the seccomp filter.

What could not be run here, and how it was checked instead:

* No I2C or GPIO driver: this kernel registers neither ``i2c`` (89) nor ``gpiochip``
  in ``/proc/devices``, so ``DeviceAllow=char-i2c``/``char-gpiochip`` resolve to
  nothing and the real unit's policy denies both nodes (EPERM, shown). The GPIO half
  runs for real in tests/vm/test_unit_on_a_kernel.py: this container inside a VM
  whose kernel has a GPIO chip, the service on real pins. The names
  are checked statically against the kernel's sources (see
  ``test_device_allow_names_are_what_a_pis_kernel_registers``); the mechanism is
  shown with majors (``char-89``) and with a name this kernel has (``char-misc``).
* ``/proc/device-tree``: a symlink procfs makes only on device-tree kernels (a Pi),
  so it cannot appear here. The probe shows the sandbox's /proc lists every
  top-level entry the kernel has (so it would on a Pi), and nothing but ``self``
  and ``thread-self`` under ``ProcSubset=pid``.
* udev does not run in a container: the USB rule itself is not exercised; the
  stick is mounted the way its ``systemd-mount`` would, from the container's root
  mount namespace.
* ``KeyringMode=private`` is not applied in the container: nspawn's seccomp filter
  forbids keyctl(2), so systemd logs "Kernel keyring access prohibited, ignoring".
  ``PrivateNetwork=yes`` is (an own network namespace), but its loopback stays down:
  nspawn drops CAP_NET_ADMIN. Neither matters to the device (AF_UNIX only).
* Options whose own effect is not probed (ProtectKernelModules/Logs, ProtectClock,
  ProtectHostname, ProtectControlGroups, RestrictRealtime, RestrictSUIDSGID,
  LockPersonality, RemoveIPC, IPAddressDeny, SystemCallArchitectures): applied
  (same security table, nothing "ignoring"), and the whole device worked under
  them: display, buttons, watchdog, stick import, power-off.
* ``TimeoutStopSec=10s`` never comes into play (the app stops in milliseconds).
* The splash's real trigger (udev's coldplug making /dev/i2c-1 a device unit) and so how early a Pi
  draws it: here it starts as early as its own dependencies allow (~0.1 s into the container's
  boot), which is no later than udev would start it. Its device policy is not exercised either (the
  emulated bus opens no /dev/i2c-1).
* The read-only part of "SAFE TO UNPLUG only when true": in a container systemd-shutdown neither
  unmounts nor remounts read-only what is left (src/shutdown/shutdown.c: ``need_umount =
  !in_container``), so the root stays a writable tmpfs here; on a Pi that step comes before the hooks.
  What is shown: the hook runs from systemd-shutdown after every process was killed and every mount
  PID 1 manages (the device's data among them) was unmounted.
"""

from __future__ import annotations

import fnmatch
import contextlib
import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import time
import tomllib
import uuid
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
INSTALL = ROOT / "systemd" / "install.sh"
UNIT = "stretchbox.service"
STATE = "/var/lib/stretchbox"
TEST_DIR = "/opt/stretchbox-test"  # in the container: tests/ (ro) and fixtures/ (probe, FIFO, a Pi's cpuinfo)
PANEL_LOG = f"{STATE}/panel-log.jsonl"  # the only place the unit may write (ProtectSystem=strict)
BUTTONS_FIFO = f"{TEST_DIR}/fixtures/buttons"
WATCHDOG_SEC = 3  # the installed unit says 30 s
STICK = "/media/stretchbox/sdz1"  # where 99-stretchbox-usb.rules would have systemd-mount put sdz1
SPLASH_TEMPLATE = "stretchbox-splash@.service"
SPLASH_RULE = ROOT / "systemd" / "60-stretchbox-splash.rules"
HOOK = "stretchbox-safe-to-unplug"
SHUTDOWN_HOOKS = "/usr/lib/systemd/system-shutdown"  # where systemd-shutdown looks (/lib/... in Debian's 252)
INSTALLED = f"{TEST_DIR}/installed"  # the whole laid-out tree, read-only: where the wrapper below finds the hook
# Host-bound and kept mounted to the very end (see KEEP_MOUNTED): the panel logs of the splash (written by
# the stretchbox user: mode 1777) and of the shutdown hook, and what the hook found when it ran.
EDGES = f"{TEST_DIR}/edges"
# Device nodes made in the container's /dev for the probes: the OLED's bus, the GPIO chip, a misc device.
PROBE_NODES = ("/dev/i2c-1", "/dev/gpiochip0", "/dev/probe-misc")

# /proc/cpuinfo of a Raspberry Pi 3 Model B (revision a02082), trimmed to what readers look at.
PI_CPUINFO = """processor\t: 0
model name\t: ARMv7 Processor rev 4 (v7l)
BogoMIPS\t: 38.40
Features\t: half thumb fastmult vfp edsp neon vfpv3 tls vfpv4 idiva idivt vfpd32 lpae evtstrm crc32
CPU implementer\t: 0x41
CPU architecture: 7

Hardware\t: BCM2835
Revision\t: a02082
Serial\t\t: 00000000c0ffee42
Model\t\t: Raspberry Pi 3 Model B Rev 1.2
"""


def why_not() -> str | None:
    if shutil.which("systemd-nspawn") is None:
        return "systemd-nspawn not installed (apt-get install systemd-container)"
    if os.geteuid() != 0:
        return "systemd-nspawn needs root"
    if not Path("/usr/bin/python3").exists():
        return "no /usr/bin/python3: the container sees only the host's /usr (Debian's python3-venv)"
    for path, package in (("/usr/lib/polkit-1/polkitd", "polkitd"), ("/usr/bin/dbus-daemon", "dbus")):
        if not Path(path).exists():
            return f"no {path}: the container boots the host's /usr (apt-get install {package})"
    return None


# ---- helpers -------------------------------------------------------------------------------

def wait_until(condition, timeout: float, what: str, interval: float = 0.05):
    """Poll ``condition`` until it returns something true, or fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(interval)


class Container:
    """A booted container: run commands in it (nsenter), read its files (/proc/<leader>/root)."""

    def __init__(self, proc: subprocess.Popen, leader: int, console: Path, state: Path, fixtures: Path):
        self.proc, self.leader, self.console, self.state, self.fixtures = proc, leader, console, state, fixtures

    def path(self, inside: str) -> Path:
        return Path(f"/proc/{self.leader}/root") / inside.lstrip("/")

    def run(self, *argv: str, timeout: float = 30, check: bool = True, input: str | None = None,
            ) -> subprocess.CompletedProcess:
        proc = subprocess.run(["nsenter", "-t", str(self.leader), "-a", *argv], capture_output=True, text=True,
                              timeout=timeout, input=input)
        if check and proc.returncode != 0:
            raise AssertionError(f"{' '.join(argv)}: exit {proc.returncode}\n{proc.stdout}{proc.stderr}")
        return proc

    def systemctl(self, *args: str, check: bool = True, timeout: float = 30) -> subprocess.CompletedProcess:
        return self.run("systemctl", "--no-pager", *args, check=check, timeout=timeout)

    def show(self, unit: str, *props: str) -> dict[str, str]:
        out = self.systemctl("show", unit, *(f"--property={p}" for p in props)).stdout
        return dict(line.split("=", 1) for line in out.splitlines() if "=" in line)

    def cursor(self, unit: str = UNIT) -> str | None:
        """Where ``unit``'s journal ends now (None: no entries yet). Taken with the same ``-u`` match as
        ``journal()``: ``--after-cursor`` skips one matching entry, so a cursor of an entry that does not
        match (the journal's last line) would hide the first line we are waiting for."""
        out = self.run("journalctl", "-u", unit, "-n", "1", "--show-cursor", "-o", "cat", "--no-pager",
                       check=False).stdout  # exit 1 when there is no entry
        found = re.search(r"^-- cursor: (\S+)", out, re.M)
        return found.group(1) if found else None

    def journal(self, unit: str | None = None, after: str | None = None) -> str:
        argv = ["journalctl", "--no-pager", "-o", "cat"]
        argv += ["-u", unit] if unit else []
        argv += [f"--after-cursor={after}"] if after else []
        return self.run(*argv).stdout

    def wait_journal(self, pattern: str, unit: str | None = UNIT, after: str | None = None,
                     timeout: float = 15) -> re.Match:
        try:
            return wait_until(lambda: re.search(pattern, self.journal(unit, after)), timeout, f"journal: {pattern}")
        except AssertionError as exc:
            tail = "\n".join(self.journal(unit, after).splitlines()[-40:])
            raise AssertionError(f"{exc}; the journal ends:\n{tail}") from None

    def main_pid(self) -> int:
        return int(self.show(UNIT, "MainPID")["MainPID"])

    def panel(self) -> list[dict]:
        """The emulated panel's log: one entry per change of what it shows."""
        log = self.state / "panel-log.jsonl"
        return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []

    def running(self, *, fresh: bool = False) -> int:
        """The service active (started anew with ``fresh``) with a main process: its pid."""
        self.systemctl("reset-failed", UNIT, check=False)  # also resets the start rate limit
        if fresh:
            self.systemctl("restart", UNIT)
        else:
            self.systemctl("start", UNIT)
        return wait_until(lambda: self.show(UNIT, "ActiveState")["ActiveState"] == "active" and self.main_pid(),
                          15, "stretchbox.service active")

    def press(self, *lines: str) -> None:
        """Write button lines to the service's FIFO (tests/doubles/fifo_buttons.py), from the host side."""
        def writer():
            try:
                return os.open(self.fixtures / "buttons", os.O_WRONLY | os.O_NONBLOCK)
            except OSError:  # ENXIO: the reader has not opened it (yet)
                return None
        fd = wait_until(writer, 10, "the service reading the button FIFO")
        try:
            os.write(fd, "".join(line + "\n" for line in lines).encode())
        finally:
            os.close(fd)


# install.sh's useradd (printed under --root); the groups gpio and i2c come with Raspberry Pi OS.
DEVICE_USERS = ('g gpio -\ng i2c -\nu stretchbox - "stretchbox" /var/lib/stretchbox /usr/sbin/nologin\n'
                "m stretchbox gpio\nm stretchbox i2c\n")
USER_FILES = ("passwd", "group", "shadow", "gshadow")


def make_users(conf: Path, text: str, users: Path) -> None:
    """The container's users, made before its boot: ``conf`` (its /etc/sysusers.d/stretchbox.conf) holds
    ``text``, and the host's systemd-sysusers writes USER_FILES under ``users/etc`` from every file the
    container's own sysusers reads, so that one finds nothing to add. On a Pi install.sh's useradd ran long
    before the boot; a unit with User=stretchbox and no default dependencies (the splash) may otherwise
    start before the container's systemd-sysusers.service has made the user, and fail with 217/USER (seen)."""
    conf.parent.mkdir(parents=True, exist_ok=True)
    conf.write_text(text)
    (users / "etc").mkdir(parents=True)
    subprocess.run(["systemd-sysusers", f"--root={users}", *sorted(str(c) for c in Path("/usr/lib/sysusers.d")
                    .glob("*.conf")), str(conf)], check=True, capture_output=True, timeout=60)


def leader_of(nspawn_pid: int) -> int | None:
    """The container's PID 1, seen from the host: the descendant of nspawn that is pid 1 in its namespace."""
    todo = [nspawn_pid]
    while todo:
        pid = todo.pop()
        try:
            status = Path(f"/proc/{pid}/status").read_text()
            children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        except OSError:
            continue
        nspid = re.search(r"^NSpid:\s+(.*)$", status, re.M).group(1).split()
        if pid != nspawn_pid and nspid[-1] == "1":
            return pid
        todo += [int(c) for c in children]
    return None


def install_tree(root: Path) -> str:
    """install.sh --root with Debian's python3 first on PATH: the venv's python is then /usr/bin/python3,
    which the container sees through /usr (as on Raspberry Pi OS). The pyenv python of this machine lives
    under /root, which a volatile container lacks and the unit's ProtectHome=yes would hide anyway.
    The --root venv has no dependencies yet (``complete_venv`` adds them), so the splash and SAFE TO
    UNPLUG frames are pre-rendered by this Python (install.sh's ``STRETCHBOX_ROOT_PYTHON``)."""
    env = {k: v for k, v in os.environ.items() if k not in ("STRETCHBOX_ROOT_VENV", "VIRTUAL_ENV")}
    env["PATH"] = "/usr/sbin:/usr/bin:/sbin:/bin"
    env["STRETCHBOX_ROOT_PYTHON"] = sys.executable
    proc = subprocess.run(["bash", str(INSTALL), "--root", str(root)], capture_output=True, text=True,
                          timeout=300, env=env)
    assert proc.returncode == 0, proc.stderr
    assert "note: pip install failed" not in proc.stdout, "install.sh could not build the venv (offline?)"
    assert "note: could not pre-render" not in proc.stdout, proc.stdout + proc.stderr
    assert {p.name for p in (root / "opt/stretchbox/panel").iterdir()} == {"splash.json", "safe-to-unplug.json"}
    return proc.stdout


def complete_venv(root: Path) -> None:
    """install.sh --root builds the venv with --no-deps; a running device needs the dependencies."""
    venv = root / "opt/stretchbox/venv"
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    # lgpio: gpiozero's default factory on a Pi (Raspberry Pi OS's python3-lgpio there; PyPI's x86-64
    # wheel here), so the probe can construct LGPIOFactory and import lgpio as the device does.
    proc = subprocess.run([str(venv / "bin/python"), "-m", "pip", "install", "--quiet",
                           "--disable-pip-version-check", *deps, "lgpio"],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    # pip writes the venv's absolute path into console scripts: "#!<root>/opt/stretchbox/venv/bin/python".
    # A real install (root "") has "#!/opt/stretchbox/venv/bin/python"; <root> is under /tmp, which the
    # unit's PrivateTmp=yes hides, so the laid-out tree is made exactly what a Pi gets.
    prefix = f"#!{root}/opt/stretchbox/".encode()
    for script in (venv / "bin").iterdir():
        if script.is_file() and not script.is_symlink():
            data = script.read_bytes()
            if data.startswith(prefix):
                script.write_bytes(b"#!/opt/stretchbox/" + data[len(prefix):])


UDEV_PAIR = r'\s*([A-Z_]+(?:\{[^}]*\})?)\s*(==|!=|\+=|-=|:=|=)\s*"([^"]*)"\s*(?:,|$)'


def udev_wants(rules: Path, subsystem: str, kernel: str) -> list[str]:
    """The units systemd starts when udev reports device ``kernel`` of ``subsystem`` to it: the rule file's
    ENV{SYSTEMD_WANTS} (udev's %k expanded) of each rule whose matches hold and which tags the device
    ``systemd`` (without that tag systemd makes no device unit and ignores SYSTEMD_WANTS). A key this
    reader does not know fails the test rather than being skipped."""
    wants: list[str] = []
    for line in rules.read_text().splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        assert re.sub(UDEV_PAIR, "", line) == "", f"not read by udev_wants: {line}"
        matches, tagged, wanted = True, False, []
        for key, op, value in re.findall(UDEV_PAIR, line):
            if op in ("==", "!="):
                actual = {"SUBSYSTEM": subsystem, "KERNEL": kernel}[key]
                matches &= fnmatch.fnmatchcase(actual, value) == (op == "==")
            elif (key, op) == ("TAG", "+="):
                tagged |= value == "systemd"
            elif (key, op) == ("ENV{SYSTEMD_WANTS}", "+="):
                wanted += value.replace("%k", kernel).split()
            else:
                raise AssertionError(f"udev_wants does not know {key}{op}: {line}")
        if matches and tagged:
            wants += wanted
    return wants


def mount_table(text: str) -> list[dict]:
    """/proc/self/mountinfo: each mount's point, per-mount options (ro/rw), filesystem type and source."""
    table = []
    for line in text.splitlines():
        fields, rest = line.split(" - ", 1)
        fields, (fstype, source, _) = fields.split(), rest.split(" ", 2)
        where = re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), fields[4])
        table.append({"where": where, "options": fields[5].split(","), "fstype": fstype, "source": source})
    return table


def free_char_major() -> int:
    """A character major this kernel has not registered (a Pi's gpiochip major is dynamic, usually 254)."""
    text = Path("/proc/devices").read_text().split("Block devices:")[0]
    used = {int(m) for m in re.findall(r"^\s*(\d+) ", text, re.M)}
    return next(m for m in (254, *range(253, 233, -1)) if m not in used)


TEST_DROPIN = f"""\
# tests/system/test_unit_in_container.py: only what cannot exist in a container; every sandbox option stays.
[Service]
# The OLED: luma's real i2c class over an emulated SSD1306 (tests/doubles/site/sitecustomize.py replaces
# smbus2.SMBus); each change of what the glass shows goes to {PANEL_LOG}, the only place the unit may
# write (ProtectSystem=strict).
Environment=PYTHONPATH={TEST_DIR}/tests/doubles/site
Environment='STRETCHBOX_EMULATED_I2C={{"chip": "ssd1306", "panel_log": "{PANEL_LOG}"}}'
# The GPIO: ExecStart keeps "--pins real", which leaves the factory to gpiozero; gpiozero honours
# GPIOZERO_PIN_FACTORY, so its own MockFactory stands in for lgpio (no /dev/gpiochip0 here). The buttons
# are pressed through a FIFO (tests/doubles/fifo_buttons.py). Power-off runs for real ("--pins real").
Environment=GPIOZERO_PIN_FACTORY=mock
Environment='STRETCHBOX_EMULATED_BUTTONS={{"fifo": "{BUTTONS_FIFO}"}}'
# Time only: 30 s and 2 s in the installed unit.
WatchdogSec={WATCHDOG_SEC}s
RestartSec=200ms
"""

SPLASH_DROPIN = f"""\
# tests/system/test_unit_in_container.py: the OLED only (as for stretchbox.service), and a folder for its log.
# Nothing here orders the unit: the test reads systemd's own After=/Requires=/Wants= of the instance.
[Service]
Environment=PYTHONPATH={TEST_DIR}/tests/doubles/site
Environment='STRETCHBOX_EMULATED_I2C={{"chip": "ssd1306", "panel_log": "{EDGES}/splash-panel.jsonl"}}'
# ProtectSystem=strict makes every other path read-only.
ReadWritePaths={EDGES}
"""

# On a Pi, /usr/lib/systemd/system-shutdown is a folder of the root filesystem, which systemd-shutdown
# remounts read-only, not unmounts, before it runs its hooks. Here it is a bind mount, a mount unit with
# the default Conflicts=umount.target: PID 1 unmounts it before systemd-shutdown runs, and the hook is
# never found (seen). Without default dependencies a mount unit is left alone at shutdown, as a folder
# of the root filesystem is. The same for the test's own folders the wrapper needs.
KEEP_MOUNTED = """\
# tests/system/test_unit_in_container.py: a folder of the root filesystem on a Pi; kept to the end, as it is there.
[Unit]
DefaultDependencies=no
"""
KEPT_MOUNTED = (SHUTDOWN_HOOKS, INSTALLED, f"{TEST_DIR}/tests", EDGES)

# In place of the installed hook (same name): systemd-shutdown runs it last, with the hook's argument
# and its own bare environment. It records what it runs in (the processes read with shell built-ins, so
# it starts none while it lists them), then runs the installed hook, the laid-out file, with the same
# arguments, adding to the environment only the emulated bus (this machine has no /dev/i2c-1).
# /opt/stretchbox: PID 1 has unmounted the container's bind of it at umount.target. A drop-in cannot keep
# it: systemd 252 applied no drop-in to a mount unit that a unit started at boot names in
# RequiresMountsFor= (the splash does; seen: DropInPaths empty, and with a wants link to such a unit
# removed, the drop-in applied). On a Pi it is a folder of the root filesystem, still there (read-only)
# when the hook runs, so it is bound back read-only from the laid-out tree, in a mount namespace of the
# hook's own (the mount table recorded before is the container's).
HOOK_WRAPPER = f"""\
#!/bin/sh
# tests/system/test_unit_in_container.py: stands in for {SHUTDOWN_HOOKS}/{HOOK}; runs the installed one.
out={EDGES}
printf 'argv=%s\\nself=%s\\nparent=%s\\n' "$*" "$$" "$PPID" > "$out/hook-context"
for stat in /proc/[0-9]*/stat; do read -r line < "$stat" && echo "$line"; done > "$out/hook-processes"
env > "$out/hook-environment"
cat /proc/self/mountinfo > "$out/hook-mountinfo"
PYTHONPATH={TEST_DIR}/tests/doubles/site \\
STRETCHBOX_EMULATED_I2C='{{"chip": "ssd1306", "panel_log": "{EDGES}/hook-panel.jsonl"}}' \\
unshare --mount --propagation private sh -c \\
    'mount --bind -r "$0/opt/stretchbox" /opt/stretchbox && exec "$0{SHUTDOWN_HOOKS}/{HOOK}" "$@"' \\
    {INSTALLED} "$@" 2> "$out/hook-stderr"
echo "$?" > "$out/hook-exit"
"""

PROBE_DROPIN = f"""\
# The installed unit's sandbox, running the probe instead of the device.
[Service]
Type=oneshot
Restart=no
ExecStart=
ExecStart=/opt/stretchbox/venv/bin/python {TEST_DIR}/fixtures/probe.py {" ".join(PROBE_NODES)}
"""

# The probes' one helper (this module's and test_export_in_container's): what the kernel answers a call.
ERRNAME = r'''
import errno
def errname(call):
    """'ok', or the errno's name (EPERM, EROFS...) of the OSError ``call()`` raised."""
    try:
        call()
        return "ok"
    except OSError as exc:
        return errno.errorcode[exc.errno]
'''

PROBE = '"""Run inside the unit\'s sandbox: report what the device\'s libraries would meet, as one JSON line."""\n' \
    + ERRNAME + r'''
import grp, json, os, pwd, stat, sys

out = {"user": pwd.getpwuid(os.getuid()).pw_name,
       "groups": sorted(grp.getgrgid(g).gr_name for g in os.getgroups()),
       "cwd": os.getcwd(), "proc": sorted(n for n in os.listdir("/proc") if not n.isdigit())}

def error(exc):
    return f"{type(exc).__name__}: {exc}"

from gpiozero.pins.local import get_pi_revision   # what LocalPiFactory (so LGPIOFactory) reads
from gpiozero.pins.pi import PiBoardInfo     # what PiFactory.board_info builds from it
try:
    revision = get_pi_revision()
    info = PiBoardInfo.from_revision(revision)
    out["revision"] = hex(revision)
    out["model"] = info.model
    out["gpio17"] = [f"{header.name}:{pin.number}" for header, pin in info.find_pin("GPIO17")]
except Exception as exc:
    out["revision"] = error(exc)

before = set(os.listdir("."))
import lgpio   # makes its notification pipe (.lgd-nfy0) in $LG_WD at import, as on the Pi
out["lgpio_pipes"] = sorted(n for n in set(os.listdir(".")) - before
                            if n.startswith(".lgd-nfy") and stat.S_ISFIFO(os.lstat(n).st_mode))
for name in out["lgpio_pipes"]:
    os.unlink(name)
from gpiozero.pins.lgpio import LGPIOFactory
try:
    LGPIOFactory().close()
    out["lgpio_factory"] = "ok"
except Exception as exc:
    out["lgpio_factory"] = error(exc)

import warnings
from gpiozero import Device   # what `stretchbox run --pins real` gets: gpiozero's choice of factory
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    try:
        Device._default_pin_factory().close()
        out["default_factory"] = "ok"
    except Exception as exc:
        out["default_factory"] = error(exc)
out["fallbacks"] = [str(w.message) for w in caught]

# The device's own pins (adapters/gpiochip.py): libgpiod opens a node only after looking it up in sysfs
# (/sys/dev/char/MAJOR:MINOR/subsystem must resolve to the gpio bus). No GPIO driver here, so the open
# fails whatever the sandbox; what the sandbox could break is the lookup, shown on /dev/null's entry.
from stretchbox.adapters.gpiochip import ChipFactory
try:
    ChipFactory().close()
    out["libgpiod"] = "ok"
except Exception as exc:
    out["libgpiod"] = error(exc)
out["sysfs lookup"] = os.path.realpath("/sys/dev/char/1:3/subsystem")

def try_write(folder):
    path = os.path.join(folder, ".probe-write")
    def write():
        os.makedirs(folder, exist_ok=True)
        with open(path, "w") as f:
            f.write("x")
        os.unlink(path)
    return errname(write)

library = "/var/lib/stretchbox/library"
out["write"] = {d: try_write(d) for d in ("/var/lib/stretchbox", library + ".probe", "/tmp",
                                          "/etc", "/usr", "/opt/stretchbox", "/home/probe", "/media/stretchbox")}
os.rmdir(library + ".probe")

out["open"] = {n: errname(lambda n=n: os.close(os.open(n, os.O_RDWR))) for n in sys.argv[1:]}

# A few more of the unit's options, each as the kernel answers it.
import ctypes, mmap, socket
def rwx():
    mmap.mmap(-1, 4096, prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC).close()
def userns():
    if ctypes.CDLL(None, use_errno=True).unshare(0x10000000) != 0:  # CLONE_NEWUSER
        raise OSError(ctypes.get_errno(), "unshare")
with open("/tmp/stretchbox-probe-marker", "w") as marker:    # PrivateTmp: the container must not see it
    marker.write("x")
out["sandbox"] = {
    "pid 1 visible": os.path.exists("/proc/1"),                                     # ProtectProc=invisible
    "network namespace": os.readlink("/proc/self/ns/net"),                          # PrivateNetwork=yes
    "AF_INET": errname(lambda: socket.socket(socket.AF_INET, socket.SOCK_DGRAM).close()),  # RestrictAddressFamilies
    "W+X mapping": errname(rwx),                                                    # MemoryDenyWriteExecute=yes
    "user namespace": errname(userns),                                              # RestrictNamespaces=yes
    "/proc/sys write": errname(lambda: open("/proc/sys/kernel/hostname", "w").close()),  # ProtectKernelTunables
}
print("PROBE " + json.dumps(out), flush=True)
'''


@pytest.fixture(scope="module")
def container(tmp_path_factory):
    reason = why_not()
    if reason:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI must run the unit under real systemd: {reason}")
        pytest.skip(reason)
    base = tmp_path_factory.mktemp("nspawn")
    root, fixtures, state, etc = base / "root", base / "fixtures", base / "state", base / "etc"
    journal_dir = base / "journal"  # the container's persistent journal, readable after it is gone
    journal_dir.mkdir()
    install_tree(root)
    complete_venv(root)
    units = root / "etc/systemd/system"

    # What install.sh would run: systemctl enable (here offline, on the laid-out tree).
    subprocess.run(["systemctl", f"--root={root}", "enable", UNIT], check=True, capture_output=True, timeout=60)
    (units / f"{UNIT}.d").mkdir()
    (units / f"{UNIT}.d/50-test-in-container.conf").write_text(TEST_DROPIN)

    # The early splash. On a Pi, udev's coldplug (systemd-udev-trigger.service, early in sysinit) reports
    # /dev/i2c-1; the installed rule tags it for systemd, whose device unit then wants what the rule's
    # ENV{SYSTEMD_WANTS} names. udev does not run in a container, so that want is applied here from the
    # rule's own text: the instance it names joins the boot's first transaction through a wants link
    # (Wants= orders nothing), and starts as soon as its own dependencies let it: the earliest the unit
    # allows. udev's want can only come as early or later, since the start job waits for the same
    # dependencies. (Started by hand with systemctl, it would show nothing about boot order.)
    wanted = udev_wants(SPLASH_RULE, "i2c-dev", "i2c-1")
    assert wanted == ["stretchbox-splash@i2c-1.service"]
    (units / "sysinit.target.wants").mkdir(exist_ok=True)
    (units / "sysinit.target.wants" / wanted[0]).symlink_to(f"../{SPLASH_TEMPLATE}")
    (units / f"{SPLASH_TEMPLATE}.d").mkdir()
    (units / f"{SPLASH_TEMPLATE}.d/50-test-in-container.conf").write_text(SPLASH_DROPIN)
    # The shutdown hook: the laid-out one is run by a wrapper of the same name (HOOK_WRAPPER).
    hooks = base / "system-shutdown"
    hooks.mkdir(mode=0o755)
    (hooks / HOOK).write_text(HOOK_WRAPPER)
    (hooks / HOOK).chmod(0o755)
    assert [p.name for p in (root / SHUTDOWN_HOOKS.lstrip("/")).iterdir()] == [HOOK]
    edges = base / "edges"
    edges.mkdir()
    edges.chmod(0o1777)
    for where in KEPT_MOUNTED:
        mount_unit = subprocess.run(["systemd-escape", "--path", "--suffix=mount", where], check=True,
                                    capture_output=True, text=True, timeout=10).stdout.strip()
        (units / f"{mount_unit}.d").mkdir()
        (units / f"{mount_unit}.d/50-kept-to-the-end.conf").write_text(KEEP_MOUNTED)

    # Probe units: the installed unit file under other names, each with its drop-in.
    gpiochip_major = free_char_major()
    probes = {
        "stretchbox-probe": "# A Pi kernel's /proc/cpuinfo over the /proc that ProtectProc=invisible mounts.\n"
                            f"BindReadOnlyPaths={TEST_DIR}/fixtures/pi-cpuinfo:/proc/cpuinfo\n",
        "stretchbox-probe-procsubset": "# The negative control: the option that broke the device.\nProcSubset=pid\n",
        "stretchbox-probe-devices": "# Allowed by major (i2c-dev's fixed 89, a gpiochip major) and by a name\n"
                                    "# this kernel registers in /proc/devices (misc = 10).\n"
                                    f"DeviceAllow=char-89 rw\nDeviceAllow=char-{gpiochip_major} rw\n"
                                    "DeviceAllow=char-misc rw\n",
    }
    for name, extra in probes.items():
        shutil.copy(units / UNIT, units / f"{name}.service")
        (units / f"{name}.service.d").mkdir()
        (units / f"{name}.service.d/probe.conf").write_text(PROBE_DROPIN + extra)

    fixtures.mkdir()
    (fixtures / "probe.py").write_text(PROBE)
    (fixtures / "pi-cpuinfo").write_text(PI_CPUINFO)
    os.mkfifo(fixtures / "buttons", 0o644)  # written by root (the test), read by the service user
    fixtures.chmod(0o755)
    state.mkdir()
    users = base / "users"
    make_users(etc / "sysusers.d/stretchbox.conf", DEVICE_USERS, users)
    (etc / "machine-id").write_text(uuid.uuid4().hex + "\n")

    console = base / "console.log"
    argv = ["systemd-nspawn", "-D", "/", "--volatile=yes", "--register=no", "--keep-unit", "--console=pipe",
            "-q", "--system-call-filter=bpf", f"--machine=stretchbox-test-{uuid.uuid4().hex[:8]}",
            f"--bind-ro={root}/opt/stretchbox:/opt/stretchbox",
            f"--bind-ro={root}/etc/stretchbox:/etc/stretchbox",
            f"--bind-ro={root}/etc/polkit-1/rules.d:/etc/polkit-1/rules.d",
            f"--bind={units}:/etc/systemd/system",
            f"--bind-ro={etc}/sysusers.d/stretchbox.conf:/etc/sysusers.d/stretchbox.conf",
            f"--bind-ro={etc}/machine-id:/etc/machine-id",
            *(f"--bind={users}/etc/{name}:/etc/{name}" for name in USER_FILES),
            f"--bind={state}:{STATE}",
            f"--bind={journal_dir}:/var/log/journal",
            f"--bind-ro={ROOT}/tests:{TEST_DIR}/tests",
            f"--bind={fixtures}:{TEST_DIR}/fixtures",
            f"--bind-ro={hooks}:{SHUTDOWN_HOOKS}",
            f"--bind-ro={root}:{INSTALLED}",
            f"--bind={edges}:{EDGES}",
            "-b", "systemd.firstboot=off", "systemd.log_level=debug"]
    with booted(argv, console, state, fixtures) as box:
        box.gpiochip_major, box.journal_dir = gpiochip_major, journal_dir
        box.rules_dir = root / "etc/polkit-1/rules.d"
        box.edges, box.splash = edges, wanted[0]
        yield box


@contextlib.contextmanager
def booted(argv: list[str], console: Path, state: Path, fixtures: Path, boot_timeout: float = 60):
    """Run the ``systemd-nspawn ... -b`` command ``argv`` (its console to ``console``): the Container once its
    systemd is up (running, or degraded); afterwards its PID 1 is killed, and with it the whole container.
    ``boot_timeout``: longer on an emulated CPU (tests/vm)."""
    env = {**os.environ, "SYSTEMD_NSPAWN_UNIFIED_HIERARCHY": "1"}
    with open(console, "w") as out:
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, env=env)
    leader = None
    try:
        leader = wait_until(lambda: proc.poll() is None and leader_of(proc.pid) or proc.poll() is not None,
                            30, "the container's PID 1")
        assert proc.poll() is None, console.read_text()
        box = Container(proc, leader, console, state, fixtures)

        def up():
            result = box.run("systemctl", "is-system-running", check=False).stdout.strip()
            return result in ("running", "degraded") and result
        wait_until(up, boot_timeout, "the container's boot")
        yield box
    finally:
        if proc.poll() is None:
            if leader:
                os.kill(leader, signal.SIGKILL)  # PID 1 of the container: its whole pid namespace goes
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=15)


# ---- static: the device names ---------------------------------------------------------------

# What a Raspberry Pi's kernel registers in /proc/devices for the nodes the device opens, from the
# kernel's sources (raspberrypi/linux): drivers/i2c/i2c-dev.c registers
# register_chrdev_region(MKDEV(I2C_MAJOR, 0), I2C_MINORS, "i2c") with I2C_MAJOR 89
# (include/linux/i2c-dev.h); drivers/gpio/gpiolib.c alloc_chrdev_region(&gpio_devt, 0,
# GPIO_DEV_MAX, GPIOCHIP_NAME) with GPIOCHIP_NAME "gpiochip" (drivers/gpio/gpiolib.h), a dynamic
# major (254 on Raspberry Pi OS). systemd resolves DeviceAllow=char-NAME by that name.
PI_CHAR_DEVICES = {"i2c": "/dev/i2c-1 (the OLED, luma's i2c port 1)", "gpiochip": "/dev/gpiochip0 (lgpio)"}


def test_device_allow_names_are_what_a_pis_kernel_registers():
    """Static: this kernel registers neither name, so the container can only show the mechanism."""
    unit = (ROOT / "systemd" / UNIT).read_text()
    allowed = re.findall(r"^DeviceAllow=char-(\S+) (\S+)$", unit, re.M)
    assert {name for name, _ in allowed} == set(PI_CHAR_DEVICES)
    assert all(access == "rw" for _, access in allowed)
    assert re.search(r"^DevicePolicy=closed$", unit, re.M)


# ---- in the container -------------------------------------------------------------------------

def test_starts_at_boot_ready_after_its_first_frame_and_pings_the_watchdog(container):
    pid = wait_until(lambda: container.show(UNIT, "ActiveState")["ActiveState"] == "active"
                     and container.main_pid(), 20, "stretchbox.service active after boot")
    props = container.show(UNIT, "ExecMainStartTimestampMonotonic", "ActiveEnterTimestampMonotonic",
                           "WatchdogUSec", "NRestarts", "UnitFileState")
    assert props["UnitFileState"] == "enabled" and props["NRestarts"] == "0"  # started by multi-user.target
    started = int(props["ExecMainStartTimestampMonotonic"]) / 1e6
    active = int(props["ActiveEnterTimestampMonotonic"]) / 1e6
    lit = [f["t"] for f in container.panel() if f["lit"]]
    assert lit and started < lit[0] < active, (started, lit[:1], active)  # first frame, then READY=1
    container.wait_journal(rf"Got notification message from PID {pid} \(READY=1")
    assert props["WatchdogUSec"] == f"{WATCHDOG_SEC}s"
    # Two pings from the main loop after READY=1, each moving systemd's watchdog timestamp.
    seen = set()

    def pinged():
        seen.add(int(container.show(UNIT, "WatchdogTimestampMonotonic")["WatchdogTimestampMonotonic"]))
        return len({t for t in seen if t / 1e6 > active}) >= 2
    wait_until(pinged, 3 * WATCHDOG_SEC, "two watchdog pings")
    container.wait_journal(rf"Got notification message from PID {pid} \(WATCHDOG=1\)")
    # The sandbox is really applied to the process: user, groups, seccomp, no new privileges, no capabilities.
    status = container.run("cat", f"/proc/{pid}/status").stdout
    ids = container.run("id", "stretchbox").stdout
    uid = re.search(r"uid=(\d+)", ids).group(1)
    assert re.search(rf"^Uid:\s+{uid}\s", status, re.M), status
    assert re.search(r"^NoNewPrivs:\s+1$", status, re.M) and re.search(r"^Seccomp:\s+2$", status, re.M)
    assert re.search(r"^CapBnd:\s+0+$", status, re.M) and re.search(r"^CapEff:\s+0+$", status, re.M)
    for group in ("gpio", "i2c"):
        gid = container.run("getent", "group", group).stdout.split(":")[2]
        assert gid in re.search(r"^Groups:\s*(.*)$", status, re.M).group(1).split(), group
    own_mnt = container.run("readlink", f"/proc/{pid}/ns/mnt").stdout
    assert own_mnt != container.run("readlink", "/proc/1/ns/mnt").stdout  # PrivateMounts & co.
    assert (container.state / "panel-log.jsonl").stat().st_mode & 0o777 == 0o600  # UMask=0077
    # Nothing of the sandbox skipped, but for two limits of nspawn itself (see the module docstring). The
    # umounts: systemd clears nspawn's submounts of /proc before it mounts the unit's own procfs on top.
    # System calls of @system-service this libseccomp cannot name (riscv_hwprobe, uretprobe) stay out of
    # the allow list: denied, which is stricter, not looser.
    known = (r"stretchbox\.service: Kernel keyring access prohibited, ignoring\.",
             r"Failed to configure loopback network device, ignoring: Operation not permitted",
             r"Failed to umount /run/systemd/unit-root/proc(/\S+)?, ignoring: Device or resource busy",
             r"(stretchbox\.service|/etc/systemd/system/stretchbox\.service:\d+): "
             r"Failed to parse system call, ignoring: \w+")
    skipped = {line for line in container.journal(UNIT).splitlines() if "ignoring" in line}
    assert all(any(re.fullmatch(k, line) for k in known) for line in skipped), skipped
    # The unit PID 1 runs is the installed file, and the test drop-in weakens nothing: systemd's own
    # security table of the loaded unit equals the offline one of systemd/stretchbox.service.
    assert container.path(f"/etc/systemd/system/{UNIT}").read_text() == (ROOT / "systemd" / UNIT).read_text()
    online = container.run("systemd-analyze", "security", UNIT, "--no-pager", check=False).stdout
    offline = subprocess.run(["systemd-analyze", "security", "--offline=yes", str(ROOT / "systemd" / UNIT),
                              "--no-pager"], capture_output=True, text=True, timeout=60).stdout
    assert [line.rstrip() for line in online.splitlines()] == [line.rstrip() for line in offline.splitlines()]
    assert "Overall exposure level for stretchbox.service" in online


def probe(container: Container, name: str) -> dict:
    """Start a probe unit (oneshot: systemctl returns when it is done) and read its JSON line."""
    cursor = container.cursor(f"{name}.service")
    started = container.systemctl("start", f"{name}.service", check=False, timeout=60)
    out = container.journal(f"{name}.service", after=cursor)
    found = re.search(r"^PROBE (.*)$", out, re.M)
    if not found:  # e.g. 226/NAMESPACE: the unit's sandbox could not even be set up
        status = container.show(f"{name}.service", "ExecMainStatus")["ExecMainStatus"]
        problems = "\n".join(line for line in out.splitlines() if re.search(r"Failed|Error|rror:", line))
        raise AssertionError(f"{name} did not report (exit status {status}): {started.stderr}\n{problems}")
    return json.loads(found.group(1))


def make_device_nodes(container: Container) -> dict[str, str]:
    """The nodes a Pi's udev makes (root:i2c and root:gpio, 0660), with this kernel's majors; and a
    misc node (a name this kernel registers). Outside any unit, each open fails only for want of a driver."""
    groups = {f[0]: int(f[2]) for f in (line.split(":") for line in container.path("/etc/group").read_text()
                                         .splitlines())}
    misc = {int(line.split()[0]) for line in Path("/proc/misc").read_text().splitlines()}
    nodes = dict(zip(PROBE_NODES, ((89, 1, "i2c"), (container.gpiochip_major, 0, "gpio"),
                                   (10, next(m for m in range(1, 255) if m not in misc), "i2c"))))
    for node, (major, minor, group) in nodes.items():
        path = container.path(node)
        if not path.exists():
            os.mknod(path, 0o660 | 0o020000, os.makedev(major, minor))  # S_IFCHR
        os.chown(path, 0, groups[group])
        os.chmod(path, 0o660)
    check = ERRNAME + "import os, sys\nfor n in sys.argv[1:]:\n    print(errname(lambda: os.close(os.open(n, os.O_RDWR))))\n"
    out = container.run("/usr/bin/python3", "-c", check, *nodes).stdout.split()
    return dict(zip(nodes, out))


def edge_log(container: Container, name: str) -> list[dict]:
    """A panel log of the splash or of the shutdown hook (each its own process, so its own emulated panel)."""
    log = container.edges / name
    return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []


def unit_list(value: str) -> set[str]:
    """A unit-list property of ``systemctl show`` (names with a backslash come quoted, C-escaped)."""
    return set(shlex.split(value))


def test_the_splash_is_drawn_at_boot_before_the_service_and_waits_for_no_target(container):
    """Pulled into the boot's first transaction as udev's SYSTEMD_WANTS would pull it (see the fixture)."""
    from stretchbox.core.frame import splash_frame
    from stretchbox.render import render

    splash = container.splash
    props = container.show(splash, "ActiveState", "SubState", "Result", "ExecMainStatus", "DefaultDependencies",
                           "After", "Requires", "Wants", "Requisite", "BindsTo", "Before", "WantedBy",
                           "ExecMainStartTimestampMonotonic", "ExecMainExitTimestampMonotonic")
    assert (props["ActiveState"], props["SubState"], props["Result"], props["ExecMainStatus"]) == (
        "active", "exited", "success", "0"), props
    # What systemd itself made of the unit: no default dependencies, nothing it waits for but the root
    # and /opt/stretchbox mounts (RequiresMountsFor=; on a Pi /opt is on the root filesystem), the
    # journal's socket (implicit: its output goes to the journal) and its own slice. No target at all.
    assert props["DefaultDependencies"] == "no"
    assert unit_list(props["After"]) == {"-.mount", "opt-stretchbox.mount", "systemd-journald.socket",
                                         "system-stretchbox\\x2dsplash.slice"}, props["After"]
    assert unit_list(props["Requires"]) == {"system-stretchbox\\x2dsplash.slice"}, props["Requires"]
    assert props["Wants"] == props["Requisite"] == props["BindsTo"] == ""
    assert unit_list(props["WantedBy"]) == {"sysinit.target"}  # the stand-in for the device unit's want
    assert "stretchbox.service" in unit_list(props["Before"])
    assert splash in unit_list(container.show(UNIT, "After")["After"])  # and systemd orders the service after it
    # The chain that held it back at this boot: mounts, slices and the journal's socket; no target, no service.
    chain = container.run("systemd-analyze", "critical-chain", splash, "--no-pager").stdout
    chain = chain[chain.index(f"{splash} +"):]
    held_by = re.findall(r"^[\s└─]*(\S+) @[\d.]+m?s$", chain, re.M)
    assert held_by and all(u.endswith((".mount", ".slice", ".socket")) for u in held_by), chain
    verify = container.run("systemd-analyze", "verify", splash, check=False)
    assert (verify.returncode, verify.stdout, verify.stderr) == (0, "", "")

    # The replayed frame reached the panel, from the splash's own process, before the service's first.
    started = int(props["ExecMainStartTimestampMonotonic"]) / 1e6
    exited = int(props["ExecMainExitTimestampMonotonic"]) / 1e6
    drawn = edge_log(container, "splash-panel.jsonl")
    assert drawn and all(started < f["t"] < exited for f in drawn), (started, drawn[:1], exited)
    image = render(splash_frame())
    assert drawn[-1]["lit"] and shown(drawn[-1]).tobytes() == image.tobytes()
    service = container.panel()
    assert service and drawn[-1]["t"] < exited < service[0]["t"]
    # The service draws the same screen once it has imported the rest (replayed bytes = luma's own).
    # The log has the panel after each transaction: a partial update writes one frame in several windows.
    assert any(f["lit"] and shown(f).tobytes() == image.tobytes() for f in service)
    # Once per boot (RemainAfterExit=yes): another add event of the adapter draws nothing over the service.
    container.systemctl("start", splash)
    assert len(edge_log(container, "splash-panel.jsonl")) == len(drawn)
    assert container.show(splash, "ExecMainExitTimestampMonotonic")["ExecMainExitTimestampMonotonic"] == \
        props["ExecMainExitTimestampMonotonic"]


def test_the_pi_stack_works_inside_the_units_sandbox_and_procsubset_would_break_it(container):
    unsandboxed = make_device_nodes(container)
    assert unsandboxed == {"/dev/i2c-1": "ENXIO", "/dev/gpiochip0": "ENXIO", "/dev/probe-misc": "ENODEV"}

    inside = probe(container, "stretchbox-probe")
    assert inside["user"] == "stretchbox" and {"gpio", "i2c"} <= set(inside["groups"])
    # gpiozero's own reader (LocalPiFactory._get_revision, used by LGPIOFactory) finds the board ...
    assert (inside["revision"], inside["model"], inside["gpio17"]) == ("0xa02082", "3B", ["J8:11"])
    # ... and LGPIOFactory, the Pi's default, gets past it: only /dev/gpiochip0 (no GPIO here) stops it.
    assert "can not open gpiochip" in inside["lgpio_factory"], inside
    assert any("lgpio: 'can not open gpiochip'" in w for w in inside["fallbacks"]), inside["fallbacks"]
    # Every top-level /proc entry of the kernel is there (on a Pi that includes device-tree).
    container_proc = sorted(n for n in os.listdir(container.path("/proc")) if not n.isdigit())
    assert inside["proc"] == container_proc and {"cpuinfo", "devices", "self"} <= set(inside["proc"])
    # libgpiod's lookup of a node in sysfs resolves as outside the sandbox (ProtectKernelTunables leaves
    # /sys readable); the chip then fails only for want of a GPIO driver (the node's major is no gpiochip's
    # in sysfs: ENOENT), with its path in the message.
    assert inside["sysfs lookup"] == os.path.realpath("/sys/dev/char/1:3/subsystem") == "/sys/class/mem"
    assert inside["libgpiod"] == "FileNotFoundError: [Errno 2] /dev/gpiochip0: No such file or directory", inside
    # lgpio's pipe in the working directory; state and library writable; the system read-only.
    assert inside["cwd"] == STATE and inside["lgpio_pipes"] == [".lgd-nfy0"]
    assert inside["write"] == {STATE: "ok", f"{STATE}/library.probe": "ok", "/tmp": "ok", "/etc": "EROFS",
                               "/usr": "EROFS", "/opt/stretchbox": "EROFS", "/home/probe": "EACCES",
                               "/media/stretchbox": "EROFS"}, inside["write"]
    # The device policy: char-i2c and char-gpiochip resolve to nothing on this kernel, so all is denied.
    assert inside["open"] == dict.fromkeys(unsandboxed, "EPERM")
    assert inside["sandbox"].pop("network namespace") != container.run("readlink", "/proc/1/ns/net").stdout.strip()
    assert inside["sandbox"] == {"pid 1 visible": False, "AF_INET": "EAFNOSUPPORT", "W+X mapping": "EPERM",
                                 "user namespace": "EPERM", "/proc/sys write": "EROFS"}, inside["sandbox"]
    assert not container.path("/tmp/stretchbox-probe-marker").exists()  # PrivateTmp

    # The negative control: ProcSubset=pid added back. The same code fails the way the Pi did.
    subset = probe(container, "stretchbox-probe-procsubset")
    assert subset["proc"] == ["self", "thread-self"]
    assert subset["revision"] == "FileNotFoundError: [Errno 2] No such file or directory: '/proc/cpuinfo'"
    assert subset["lgpio_factory"].startswith("FileNotFoundError") and "/proc/cpuinfo" in subset["lgpio_factory"]
    assert subset["default_factory"].startswith("BadPinFactory"), subset
    assert any("lgpio: [Errno 2] No such file or directory: '/proc/cpuinfo'" in w for w in subset["fallbacks"])

    # Allowed by major number: the policy lets the open through to the kernel (no driver: ENXIO); and
    # char-misc, a name from this kernel's /proc/devices, resolves to its major as char-i2c does on a Pi.
    allowed = probe(container, "stretchbox-probe-devices")
    assert allowed["open"] == unsandboxed


def test_a_stick_mounted_after_start_propagates_into_the_service_and_is_imported(container):
    pid = container.running()
    assert STICK not in container.run("cat", f"/proc/{pid}/mountinfo").stdout
    frames = len(container.panel())
    routine = ("schema: 1\nname: Container stick\nmin_hold: 20\n"
               "defaults: {prepare: 5, hold: 30, switch: 5, rest: 5}\n"
               "stretches:\n  - {name: Calf, icon: calf, sides: both}\n")
    try:
        # As systemd-mount would (from the root mount namespace): a filesystem appears at the mount point.
        container.run("sh", "-euc", f"""
            mkdir -p /run/stick {STICK}
            mount -t tmpfs -o size=1m,mode=0755 stick /run/stick
            mkdir /run/stick/stretchbox
            cat > /run/stick/stretchbox/container-stick.yaml
            mount --bind -o ro /run/stick {STICK}""", input=routine)
        stored = wait_until(lambda: (container.state / "library/container-stick.yaml").is_file()
                            and container.state / "library/container-stick.yaml", 15, "the routine in the library")
        assert stored.read_text() == routine
        assert STICK in container.run("cat", f"/proc/{pid}/mountinfo").stdout  # seen in its own namespace
        assert container.main_pid() == pid  # the running service did it, not a restart
        wait_until(lambda: len(container.panel()) > frames, 5, "the import notice on the panel")
    finally:
        container.run("sh", "-c", f"umount {STICK}; umount /run/stick", check=False)


def test_a_stopped_process_is_killed_by_the_watchdog_and_restarted(container):
    pid = container.running()
    restarts = int(container.show(UNIT, "NRestarts")["NRestarts"])
    cursor = container.cursor()
    container.run("kill", "-STOP", str(pid))
    wait_until(lambda: container.main_pid() not in (0, pid)
               and container.show(UNIT, "ActiveState")["ActiveState"] == "active", WATCHDOG_SEC + 15,
               "a new main process after the watchdog")
    container.wait_journal(rf"Watchdog timeout \(limit {WATCHDOG_SEC}s\)!", after=cursor)
    container.wait_journal(r"Failed with result 'watchdog'", after=cursor)
    assert int(container.show(UNIT, "NRestarts")["NRestarts"]) == restarts + 1


def test_a_crash_restarts_it(container):
    pid = container.running()
    cursor = container.cursor()
    container.run("kill", "-SEGV", str(pid))
    wait_until(lambda: container.main_pid() not in (0, pid)
               and container.show(UNIT, "ActiveState")["ActiveState"] == "active", 15, "a restart after SIGSEGV")
    container.wait_journal(r"Main process exited, code=(killed|dumped), status=11/SEGV", after=cursor)
    container.wait_journal(r"Scheduled restart job", after=cursor)


def test_a_routine_killed_mid_hold_resumes_where_it_was_under_the_unit(container):
    """SIGKILL mid-hold: systemd restarts the service, which takes its journal up from its StateDirectory
    (sandboxed as on the Pi) paused at the same stretch and side, less the restart's own time."""
    from stretchbox.adapters.configfile import load_config

    config = load_config(container.path("/etc/stretchbox/config.yaml"), required=True, pins=False)
    a = config.buttons.a
    pid = container.running(fresh=True)
    container.press(f"{a} low", f"{a} high")  # start: 8 s of prepare, then the left side's 30 s hold
    journal = container.path("/var/lib/stretchbox/journal.json")
    wait_until(lambda: journal.exists() and json.loads(journal.read_text())["state"]["phase"] == "hold", 20,
               "the hold's checkpoint")
    hold_began = json.loads(journal.read_text())["state"]["t"]  # CLOCK_MONOTONIC: the container shares it
    time.sleep(4.0)
    cursor = container.cursor()
    killed = time.monotonic()
    container.run("kill", "-KILL", str(pid))
    found = container.wait_journal(r"resumed \(same boot\): stretch 1 Seated hamstring, side left, hold, "
                                   r"([\d.]+) s left", after=cursor, timeout=20)
    restart = time.monotonic() - killed  # an upper bound: the kill to the line seen here
    at_kill = 30 - (killed - hold_began)
    assert at_kill - restart - 0.06 <= float(found.group(1)) <= at_kill + 0.06, (found.group(1), at_kill, restart)
    state = json.loads(journal.read_text())["state"]
    assert (state["stretch"], state["side"], state["phase"], state["running"]) == (1, "left", "hold", False)
    container.press(f"{a} low")  # hold A: stop; the session goes to the history, once
    time.sleep(config.buttons.a_hold + 0.5)
    container.press(f"{a} high")
    history = container.path("/var/lib/stretchbox/history.jsonl")
    wait_until(lambda: history.exists() and '"ended":"stopped"' in history.read_text(), 10, "the history line")
    assert history.read_text().count('"event":"session"') == 1


def shown(entry: dict):
    from tests.bus_frames import decode_gddram

    return decode_gddram(bytes.fromhex(entry["hex"]))


def test_stop_draws_the_final_screen_sends_stopping_and_exits_0(container):
    from stretchbox.core.frame import final_frame
    from stretchbox.render import render

    pid = container.running()
    frames = len(container.panel())
    cursor = container.cursor()
    container.systemctl("stop", UNIT)
    props = container.show(UNIT, "ActiveState", "Result", "ExecMainCode", "ExecMainStatus")
    assert props == {"ActiveState": "inactive", "Result": "success", "ExecMainCode": "1", "ExecMainStatus": "0"}
    container.wait_journal(rf"Got notification message from PID {pid} \(STOPPING=1\)", after=cursor)
    after = container.panel()[frames:]
    assert after and after[-1]["lit"]
    assert shown(after[-1]).tobytes() == render(final_frame("idle", "goodbye")).tobytes()  # "stretchbox / stopped"


def test_a_crash_loop_ends_at_the_start_limit(container):
    """StartLimitBurst=5 in StartLimitIntervalSec=60: five starts, then systemd refuses. systemd 252 logs
    "Start request repeated too quickly." and keeps the first failure's Result (signal): Result shows
    start-limit-hit only when no failure came before the refused start."""
    props = container.show(UNIT, "StartLimitBurst", "StartLimitIntervalUSec")
    assert props == {"StartLimitBurst": "5", "StartLimitIntervalUSec": "1min"}
    container.running(fresh=True)  # reset-failed, then a start: the first of the burst
    cursor = container.cursor()
    killed: list[int] = []

    def crash_until_refused():
        state = container.show(UNIT, "ActiveState", "SubState", "MainPID")
        pid = int(state["MainPID"])
        if state["ActiveState"] == "active" and pid and pid not in killed:
            container.run("kill", "-SEGV", str(pid))
            killed.append(pid)
        # "failed" also for a moment after each crash, before the restart: the journal says which
        return state["SubState"] == "failed" and "Start request repeated too quickly" in container.journal(
            UNIT, cursor)
    wait_until(crash_until_refused, 40, "Start request repeated too quickly")
    assert len(killed) == 5
    refused = container.systemctl("start", UNIT, check=False)  # and it stays down within the minute
    assert refused.returncode != 0
    assert container.show(UNIT, "ActiveState", "MainPID") == {"ActiveState": "failed", "MainPID": "0"}
    assert container.journal(UNIT, cursor).count("Start request repeated too quickly") == 2


def test_power_off_from_the_menu_as_the_service_user_through_polkit(container):
    """Last: the container is gone afterwards."""
    from stretchbox.core.frame import final_frame
    from stretchbox.adapters.configfile import load_config
    from stretchbox.render import render

    # What polkit answers logind for each user (CanPowerOff asks it without acting): the rule file, and
    # nothing else, lets the stretchbox user power off; anyone else would need an admin's password.
    def can_power_off(user: str) -> str:
        group = {"stretchbox": "stretchbox", "nobody": "nogroup"}[user]
        out = container.run("setpriv", f"--reuid={user}", f"--regid={group}", "--init-groups", "busctl", "call",
                            "org.freedesktop.login1", "/org/freedesktop/login1", "org.freedesktop.login1.Manager",
                            "CanPowerOff").stdout
        return json.loads(out.split(" ", 1)[1])  # 's "yes"'
    rule = container.rules_dir / "50-stretchbox-poweroff.rules"
    assert (can_power_off("stretchbox"), can_power_off("nobody")) == ("yes", "challenge")
    text = rule.read_text()
    rule.unlink()  # polkitd watches its rules folder (bound from the laid-out tree) and reloads
    try:
        wait_until(lambda: can_power_off("stretchbox") == "challenge", 10, "polkit without the rule")
    finally:
        rule.write_text(text)
    wait_until(lambda: can_power_off("stretchbox") == "yes", 10, "polkit with the rule again")

    config = load_config(container.path("/etc/stretchbox/config.yaml"), required=True, pins=False)
    a, b, hold = config.buttons.a, config.buttons.b, config.buttons.both_hold
    container.running(fresh=True)  # fresh idle timers: nothing dims or moves while the test holds
    frames = len(container.panel())
    down = time.monotonic()
    container.press(f"{a} low", f"{b} low")
    wait_until(lambda: len(container.panel()) > frames, hold + 10, "the power menu")
    assert container.panel()[frames]["t"] - down >= hold - 0.05  # the chord fired after both_hold
    container.press(f"{a} high", f"{b} high")
    container.press(f"{a} low", f"{a} high")  # A: yes, power off
    assert container.proc.wait(timeout=60) == 0  # the container's systemd reached poweroff
    # The container's journal outlives it in the host folder bound at /var/log/journal. (Following it
    # with an nsenter'd journalctl -f instead hangs the shutdown: systemd-shutdown SIGSTOPs every process,
    # nsenter outside then stops itself and never reaps its killed child, a zombie the shutdown waits for.)
    text = subprocess.run(["journalctl", "-D", str(container.journal_dir), "-o", "cat", "--no-pager"],
                          capture_output=True, text=True, timeout=60).stdout
    text = text[text.rindex("power-off confirmed"):] if "power-off confirmed" in text else text
    assert "power-off confirmed: running systemctl poweroff" in text, text[-3000:]
    assert "System is powering down" in text, text[-3000:]
    last = container.panel()[-1]
    assert last["lit"] and shown(last).tobytes() == render(final_frame("powering-off", "goodbye")).tobytes()


# Filesystems that live in RAM or are the kernel's own views: nothing on them survives a power cut anyway.
RAM_OR_KERNEL = {"tmpfs", "proc", "sysfs", "cgroup2", "devpts", "mqueue", "hugetlbfs", "fusectl"}


def test_after_the_power_off_the_installed_hook_drew_safe_to_unplug_last(container):
    """After the power-off above (no second boot): systemd-shutdown ran the installed hook ("poweroff")."""
    from stretchbox.core.frame import final_frame, safe_to_unplug_frame
    from stretchbox.render import render

    assert container.proc.poll() == 0, "runs after test_power_off_from_the_menu_as_the_service_user_through_polkit"
    edges = container.edges
    context = dict(line.split("=", 1) for line in (edges / "hook-context").read_text().splitlines())
    assert context["argv"] == "poweroff"
    assert ((edges / "hook-exit").read_text(), (edges / "hook-stderr").read_text()) == ("0\n", "")
    # Run by systemd-shutdown, PID 1 after the manager exec'd it (every unit stopped), through its
    # executor; every other process of the container gone (killed by systemd-shutdown before the hooks).
    processes = {int(pid): (comm, int(ppid)) for pid, comm, ppid in
                 re.findall(r"^(\d+) \((.*)\) \S (\d+) ", (edges / "hook-processes").read_text(), re.M)}
    me, executor = int(context["self"]), int(context["parent"])
    assert processes.keys() == {1, executor, me}, processes
    assert processes[1][0] == "systemd-shutdow" and processes[executor][1] == 1 and processes[me][1] == executor
    # systemd-shutdown's environment has no emulated bus: only the wrapper gives the hook one.
    assert "STRETCHBOX_EMULATED_I2C" not in (edges / "hook-environment").read_text()

    # The panel: the service's last frame was SHUTTING DOWN (the test above); SAFE TO UNPLUG came after
    # it, from the hook, and nothing came after that. (Each log is one process's emulated panel; the
    # replay starts with luma's init, so the panel is blank for one frame in between.)
    service = container.panel()
    assert shown(service[-1]).tobytes() == render(final_frame("powering-off", "goodbye")).tobytes()
    hook = edge_log(container, "hook-panel.jsonl")
    splash = edge_log(container, "splash-panel.jsonl")
    assert hook and service[-1]["t"] < hook[0]["t"] and max(f["t"] for f in splash) < service[0]["t"]
    last = max(service + splash + hook, key=lambda f: f["t"])
    assert last is hook[-1] and last["lit"]
    assert shown(last).tobytes() == render(safe_to_unplug_frame()).tobytes()

    # "Only when true", as far as a container shows it. When the hook ran, every mount PID 1 manages was
    # gone (umount.target): the state folder the service writes, /tmp, /etc's binds, /opt/stretchbox ...
    mounts = mount_table((edges / "hook-mountinfo").read_text())
    where = {m["where"] for m in mounts}
    assert not where & {STATE, "/tmp", "/opt/stretchbox", "/etc/stretchbox", "/etc/systemd/system",
                        f"{TEST_DIR}/fixtures"}, where
    # ... and what is still writable is in RAM (the container's root: --volatile=yes; /run; /dev) or the
    # kernel's, except: the test's own log folder; the journal's bind, which PID 1 could not unmount
    # (journald writes there until systemd-shutdown kills it); nspawn's own files under its read-only
    # /run/host. Every other file system is read-only (/usr, the hooks' folder, the laid-out tree).
    writable = sorted(m["where"] for m in mounts if "rw" in m["options"] and m["fstype"] not in RAM_OR_KERNEL)
    assert writable == sorted([EDGES, "/var/log/journal", "/run/host/os-release", "/run/host/incoming"]), writable
    assert next(m for m in mounts if m["where"] == "/")["fstype"] == "tmpfs"
    journal = subprocess.run(["journalctl", "-D", str(container.journal_dir), "-o", "cat", "--no-pager"],
                             capture_output=True, text=True, timeout=60).stdout
    assert "Failed unmounting var-log-journal.mount" in journal
    # Not shown here: systemd-shutdown unmounts or remounts read-only what is left (the root, the journal)
    # before it runs the hooks, but skips that in a container (src/shutdown/shutdown.c: need_umount =
    # !in_container). On a Pi that step is what makes the root read-only before SAFE TO UNPLUG.
