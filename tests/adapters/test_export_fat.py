"""The export's writes on a FAT32 stick, pulled out after every sector the kernel writes.

systemd/stretchbox-export mounts the stick ``sync`` and runs: mount (the FAT driver sets the
dirty bit in the boot sector), create ``stretchbox-history.csv.tmp``, write it and fsync, rename it
over ``stretchbox-history.csv``, fsync the folder, unmount (dirty bit cleared). This machine has no
FAT driver, so each of those operations is done by mtools on an image (``mcopy``, ``mren -D o``)
and the sectors it changed are written one at a time onto a copy of the image before it, in the
order Linux's FAT driver writes them on a ``sync`` mount (fs/fat: a new cluster is written to the
FAT before the data, the data before the directory entry that points at it; a rename writes the
directory entry, then frees the old clusters in the FAT). After every sector the stick is "pulled"
(the image copied) and checked: ``fsck.vfat -n`` finds nothing but the dirty bit and clusters no
file owns, and ``mtype`` reads the complete old or the complete new CSV under the final name.

Not simulated: inside the rename, on a ``sync`` mount the kernel writes the final name's entry (now
the new clusters) and the deletion of the temporary entry as two writes, even when both are in one
sector (mtools writes that sector once). Pulled between those two writes, both names hold the
complete new CSV in shared clusters; fsck.vfat reports them cross-linked.
"""

from __future__ import annotations

import re
import shutil
import struct
import subprocess
from pathlib import Path

import pytest

from stretchbox.adapters.export import EXPORT_NAME, REQUEST_FILE

TOOLS = ("mkfs.vfat", "fsck.vfat", "mcopy", "mmd", "mren", "mtype", "mshowfat")
missing = [t for t in TOOLS if shutil.which(t) is None]
pytestmark = pytest.mark.skipif(bool(missing), reason=f"needs dosfstools and mtools ({', '.join(missing)} missing)")

SECTOR = 512
FOLDER = "::/STRETCHBOX"  # as Windows may write it; the script's "stretchbox" finds it (FAT ignores case)
FINAL = f"{FOLDER}/{EXPORT_NAME}"
TMP = f"{FINAL}.tmp"
# What fsck.vfat -n may say about a stick pulled during the export: the dirty bit (the FAT driver sets it
# while mounted read-write; fsck.fat 4.2 reports it on FAT32 as byte 65 differing from the backup boot
# sector), clusters no file owns, the free-cluster hint in FSInfo that goes with them, and between the
# write of the first FAT and of its copy, the two differing (fsck uses the first, as the driver does).
ALLOWED = re.compile(r"fsck\.fat .*|Dirty bit is set\. Fs was not properly unmounted.*| Automatically removing dirty bit\."
                     r"|There are differences between boot sector and its backup\."
                     r"|This is mostly harmless\. Differences: \(offset:original/backup\)|  65:01/00"
                     r"|  Not automatically fixing this\.|Reclaimed \d+ unused clusters.*"
                     r"|FATs differ but appear to be intact\.|  Using first FAT\.|Free cluster summary wrong.*|\s*Auto-correcting\.|"
                     r"Leaving filesystem unchanged\.|.*: \d+ files, \d+/\d+ clusters|")


def run(*args: str) -> str:
    proc = subprocess.run(list(args), capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, f"{args}: {proc.stdout}{proc.stderr}"
    return proc.stdout


def csv(rows: int, seed: int) -> bytes:
    """A history big enough for several clusters, different per version."""
    return ("date,routine,held\r\n" + "".join(f"2026-11-{seed:02d},Hip flexor {i},{i * seed % 97}\r\n"
                                              for i in range(rows))).encode()


class Layout:
    """Where a FAT32 image keeps what: boot sector, FSInfo, the FATs, the data clusters."""

    def __init__(self, image: Path):
        boot = image.read_bytes()[:SECTOR]
        assert struct.unpack_from("<H", boot, 11)[0] == SECTOR
        self.per_cluster = boot[13]
        reserved, fats = struct.unpack_from("<H", boot, 14)[0], boot[16]
        fat_size = struct.unpack_from("<I", boot, 36)[0]
        self.fsinfo = struct.unpack_from("<H", boot, 48)[0]
        self.fat = range(reserved, reserved + fats * fat_size)
        self.data = reserved + fats * fat_size

    def sectors_of(self, image: Path, path: str) -> set[int]:
        """The sectors of a file or folder's clusters, from mtools' own reading of its chain."""
        out = run("mshowfat", "-i", str(image), path)
        sectors = set()
        for first, last in re.findall(r"(\d+)(?:-(\d+))?", out.split("<", 1)[1]):
            for cluster in range(int(first), int(last or first) + 1):
                start = self.data + (cluster - 2) * self.per_cluster
                sectors.update(range(start, start + self.per_cluster))
        return sectors

    def kind(self, sector: int, folder: set[int]) -> str:
        if sector == 0:
            return "boot"
        if sector in self.fat or sector == self.fsinfo:
            return "fat"
        if sector in folder:
            return "dir"
        assert sector >= self.data, f"sector {sector} changed: not expected of this step"
        return "data"


def changed(before: bytes, after: bytes) -> list[int]:
    return [i for i in range(len(before) // SECTOR) if before[i * SECTOR:(i + 1) * SECTOR] != after[i * SECTOR:(i + 1) * SECTOR]]


def with_dirty_bit(image: bytes, dirty: bool) -> bytes:
    """What the FAT driver's fat_set_state writes at a read-write mount (set) and its unmount (cleared):
    bit 0 of the FAT32 boot sector's state byte (offset 0x41)."""
    data = bytearray(image)
    data[0x41] = data[0x41] | 1 if dirty else data[0x41] & ~1
    return bytes(data)


def pulls(image: Path, tmp_path: Path, layout: Layout, folder: set[int], steps) -> list[tuple[str, bytes]]:
    """Run each step on ``image`` (an mtools command), and return every state a pull could leave: after each
    changed sector, written in the step's order of kinds. ``steps``: (name, argv or None, kinds in order)."""
    states = [("before the export", image.read_bytes())]
    for name, argv, order in steps:
        before = image.read_bytes()
        if argv is None:  # the dirty bit: set at the mount, cleared at the unmount
            image.write_bytes(with_dirty_bit(before, name == "mount"))
        else:
            run(*argv)
        after = image.read_bytes()
        sectors = changed(before, after)
        assert sectors, f"{name} changed nothing"
        kinds = {s: layout.kind(s, folder) for s in sectors}
        assert set(kinds.values()) <= set(order), f"{name}: {kinds} not all in {order}"
        state = bytearray(before)
        for sector in sorted(sectors, key=lambda s: (order.index(kinds[s]), s)):
            state[sector * SECTOR:(sector + 1) * SECTOR] = after[sector * SECTOR:(sector + 1) * SECTOR]
            states.append((f"{name}, sector {sector} ({kinds[sector]}) written", bytes(state)))
        assert bytes(state) == after
    return states


def check(state: bytes, where: Path) -> tuple[str, list[str]]:
    """(what the final name holds, fsck's complaints beyond ALLOWED) for one pulled stick."""
    where.write_bytes(state)
    fsck = subprocess.run(["fsck.vfat", "-n", str(where)], capture_output=True, text=True, timeout=60)
    assert fsck.returncode in (0, 1), fsck.stderr  # 1: something found (and left: -n)
    complaints = [line for line in fsck.stdout.splitlines() if not ALLOWED.fullmatch(line)]
    read = subprocess.run(["mtype", "-i", str(where), FINAL], capture_output=True, timeout=60)
    return (read.stdout.decode("latin-1") if read.returncode == 0 else "(no file)"), complaints


@pytest.fixture
def stick(tmp_path):
    """A 40 MB FAT32 stick asking for the export, with the previous export and a routine on it."""
    image = tmp_path / "stick.vfat"
    run("mkfs.vfat", "-F", "32", "-n", "STICK", "-C", str(image), "40000")
    run("mmd", "-i", str(image), FOLDER)
    files = {REQUEST_FILE: b"", "HIPS.YML": b"schema: 1\nname: Hips\nstretches:\n  - name: Hip\n",
             EXPORT_NAME: csv(80, 1)}
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
        run("mcopy", "-i", str(image), str(tmp_path / name), f"{FOLDER}/{name}")
    return image


def test_a_stick_pulled_after_any_write_holds_the_old_or_the_new_history_and_a_sound_fat(stick, tmp_path):
    layout = Layout(stick)
    old, new = csv(80, 1), csv(160, 2)
    assert len(new) > 8 * SECTOR * layout.per_cluster  # several clusters: pulls inside the data
    (tmp_path / "empty").write_bytes(b"")
    (tmp_path / "new.csv").write_bytes(new)
    img = str(stick)
    folder = layout.sectors_of(stick, FOLDER)
    steps = [
        ("mount", None, ("boot",)),
        ("create the temporary file", ["mcopy", "-i", img, str(tmp_path / "empty"), TMP], ("dir",)),
        ("write and fsync it", ["mcopy", "-o", "-i", img, str(tmp_path / "new.csv"), TMP], ("fat", "data", "dir")),
        ("rename it over the final name", ["mren", "-D", "o", "-i", img, TMP, FINAL], ("dir", "fat")),
        ("unmount", None, ("boot",)),
    ]
    states = pulls(stick, tmp_path, layout, folder, steps)
    seen = {"old": 0, "new": 0}
    for name, state in states:
        content, complaints = check(state, tmp_path / "pulled.vfat")
        assert content in (old.decode("latin-1"), new.decode("latin-1")), f"pulled after {name}: {content[:200]!r}"
        assert complaints == [], f"pulled after {name}: fsck.vfat says {complaints}"
        seen["old" if content == old.decode("latin-1") else "new"] += 1
    assert seen["old"] > 10 and seen["new"] >= 3, seen  # the pulls cover both sides of the rename
    # Finished: clean, no dirty bit, no temporary file, the new history in place.
    assert subprocess.run(["fsck.vfat", "-n", img], capture_output=True, timeout=60).returncode == 0
    assert "stretchbox-history.csv.tmp" not in run("mdir", "-i", img, FOLDER)
    assert check(stick.read_bytes(), tmp_path / "finished.vfat") == (new.decode("latin-1"), [])


def test_writing_the_final_name_in_place_would_leave_a_half_file(stick, tmp_path):
    """The control: without the temporary name, some pull leaves a mixed or broken file under the final name."""
    layout = Layout(stick)
    old, new = csv(80, 1), csv(160, 2)
    (tmp_path / "new.csv").write_bytes(new)
    steps = [("write in place", ["mcopy", "-o", "-i", str(stick), str(tmp_path / "new.csv"), FINAL], ("fat", "data", "dir"))]
    results = [check(state, tmp_path / "pulled.vfat") for _, state in pulls(stick, tmp_path, layout,
                                                                             layout.sectors_of(stick, FOLDER), steps)]
    bad = [(content, complaints) for content, complaints in results
           if content not in (old.decode("latin-1"), new.decode("latin-1")) or complaints]
    assert bad, "writing in place looked safe: the test above would prove nothing"
