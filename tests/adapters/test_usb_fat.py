"""A real FAT32 stick image with a laptop's litter on it, imported.

This machine has no FAT driver in its kernel (a loop mount of a vfat image fails), so the
image is built with mkfs.vfat and mtools (`mmd`, `mcopy`), its 8.3 directory entries are
read back with `mdir`, and what it holds is extracted with `mcopy -s -i img.vfat ::/ DIR`
(mtools, the same bytes the kernel's vfat driver would show) and the extracted tree is
imported. The import report is then copied back onto the image and read with `mtype`.
"""

from __future__ import annotations

import io
import shutil
import subprocess

import pytest
from PIL import Image

from stretchbox.adapters.library.importer import import_routines
from stretchbox.adapters.library.store import current_dir, load_library

TOOLS = ("mkfs.vfat", "mcopy", "mmd", "mdir", "mtype")
missing = [t for t in TOOLS if shutil.which(t) is None]
pytestmark = pytest.mark.skipif(bool(missing), reason=f"needs dosfstools and mtools ({', '.join(missing)} missing)")

GOOD = """\
schema: 1
name: After the gym
stretches:
  - name: Calf
    icon: calf
  - name: Shoulder
    icon: myicon
"""
LONG = "schema: 1\nname: Morning flow\nstretches:\n  - name: Hip\n    icon: hip-flexor\n"
BAD = "schema: 1\nname: Broken\nstretches:\n  - name: Calf\n    hold: 5s\n"


def mtools(*args: str) -> str:
    run = subprocess.run(list(args), capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, f"{args}: {run.stderr}"
    return run.stdout


def test_import_from_a_fat32_image_with_laptop_litter(tmp_path):
    img = str(tmp_path / "img.vfat")
    mtools("mkfs.vfat", "-F", "32", "-n", "STICK", "-C", img, "40000")
    files = tmp_path / "files"
    files.mkdir()
    icon = io.BytesIO()
    Image.new("1", (24, 24), 1).save(icon, "PNG")
    contents = {
        "POSTRUN.YML": GOOD.encode(), "Morning Flow.yaml": LONG.encode(), "BAD.YML": BAD.encode(),
        "MYICON.PNG": icon.getvalue(), "._Morning Flow.yaml": b"\x00\x05\x16\x07\x00\x02\x00\x00Mac OS X        ",
        "._POSTRUN.YML": b"\x00\x05\x16\x07", ".DS_Store": b"\x00\x00\x00\x01Bud1",
    }
    for name, data in contents.items():
        (files / name).write_bytes(data)
    # The laptop's litter at the root, then the routines folder (an 8.3 upper-case name, as Windows may write it).
    for folder in (".Spotlight-V100", ".Spotlight-V100/Store-V2", ".Trashes", ".fseventsd",
                   "System Volume Information", "$RECYCLE.BIN", "STRETCHBOX"):
        mtools("mmd", "-i", img, f"::/{folder}")
    (files / "IndexerVolumeGuid").write_bytes("{00000000}".encode("utf-16-le"))
    mtools("mcopy", "-i", img, str(files / "IndexerVolumeGuid"), "::/System Volume Information/")
    (files / "fseventsd-uuid").write_bytes(b"\x01\x02")
    mtools("mcopy", "-i", img, str(files / "fseventsd-uuid"), "::/.fseventsd/")
    mtools("mcopy", "-i", img, str(files / "._POSTRUN.YML"), "::/._.Trashes")
    for name in contents:
        mtools("mcopy", "-i", img, str(files / name), f"::/STRETCHBOX/{name}")

    # What is on the FAT itself: 8.3 entries, and a long name with its generated short alias.
    listing = mtools("mdir", "-i", img, "::/STRETCHBOX")
    assert any(line.split()[:2] == ["POSTRUN", "YML"] and len(line.split()) == 5 for line in listing.splitlines()), \
        listing  # a pure 8.3 name: no long name column
    assert any(line.split()[:2] == ["BAD", "YML"] for line in listing.splitlines())
    alias = [line for line in listing.splitlines() if line.rstrip().endswith("Morning Flow.yaml")
             and not line.lstrip().startswith("_")]
    assert alias and alias[0].split()[0].startswith("MORNIN~"), listing
    root = [line.split() for line in mtools("mdir", "-i", img, "::/").splitlines()]
    assert ["STRETC~1", "<DIR>"] == root[[r[-1:] for r in root].index(["STRETCHBOX"])][:2]  # 10 letters: a long name
    assert ["$RECYCLE", "BIN", "<DIR>"] in [r[:3] for r in root if len(r) == 5]  # a pure 8.3 name

    stick = tmp_path / "stick"
    mtools("mcopy", "-s", "-i", img, "::/", str(stick))
    assert (stick / "STRETCHBOX" / "POSTRUN.YML").read_bytes() == GOOD.encode()

    library = tmp_path / "library"
    report = import_routines(stick, library)
    text = report.text()
    assert report.exit_code == 1, text
    assert sorted((r.file, r.stored) for r in report.imported) == [
        ("Morning Flow.yaml", "morning flow.yaml"), ("POSTRUN.YML", "postrun.yml")]
    assert [str(p) for p in report.rejected] == [
        "BAD.YML:5:11: hold of 5 s is under min_hold (20 s): hold each stretch at least that long per side"]
    for litter in (".Spotlight-V100", ".Trashes", ".fseventsd", "System Volume Information", "$RECYCLE.BIN",
                   "._.Trashes", "._POSTRUN.YML", "._Morning Flow.yaml", ".DS_Store"):
        assert any(line.startswith(f"{litter}: ") for line in report.skipped), (litter, report.skipped)
    assert sorted(p.name for p in current_dir(library).iterdir()) == [".manifest", "morning flow.yaml", "myicon.png",
                                                                      "postrun.yml"]
    routines, problems = load_library(library)
    assert problems == [] and [r.name for r in routines][1:] == ["Morning flow", "After the gym"]

    # A writable stick gets the report; put it back on the FAT and read it from there.
    assert report.report_written
    mtools("mcopy", "-i", img, str(stick / "STRETCHBOX" / "IMPORT-REPORT.txt"), "::/STRETCHBOX/IMPORT-REPORT.txt")
    on_fat = mtools("mtype", "-i", img, "::/STRETCHBOX/IMPORT-REPORT.txt")
    assert "BAD.YML:5:11: hold of 5 s is under min_hold" in on_fat
