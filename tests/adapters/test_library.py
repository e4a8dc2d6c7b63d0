"""The routine library and the USB import: folders built here, every hostile stick, crashes, CLI exit codes."""

from __future__ import annotations

import codecs
import errno
import io
import os
import random
import re
import select
import signal
import struct
import time
import warnings
import zlib
from pathlib import Path

import pytest
from PIL import Image

from tests.helpers import png
from tests.helpers import routine_text as routine
from stretchbox.adapters.icons import BUILTIN_ICONS, icon_path
from stretchbox.adapters.library import importer as lib
from stretchbox.adapters.library import store
from stretchbox.adapters.library.commands import import_command, routines_command
from stretchbox.adapters.library.importer import MAX_ROUTINE_FILES, import_routines
from stretchbox.adapters.library.store import MANIFEST, KeptFile, current_dir, list_routines, load_library, versions_dir
from stretchbox.adapters.routines import load_builtin

LOCATED = re.compile(r"^(?P<file>[^:]+):(?P<line>\d+):(?P<col>\d+): (?P<message>.+)$")


def png_header_only(width: int, height: int) -> bytes:
    """A tiny PNG that claims a huge image: the shape of a decompression bomb."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")


def stick(root: Path, files: dict, folder: str = "stretchbox") -> Path:
    """A stick's root with ``folder/`` holding ``files`` (str/bytes contents; None makes a folder)."""
    base = root / folder
    base.mkdir(parents=True, exist_ok=True)
    for name, content in files.items():
        path = base / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if content is None:
            path.mkdir()
        else:
            path.write_bytes(content.encode() if isinstance(content, str) else content)
    return root


def contents(library: Path) -> dict[str, bytes]:
    """What a reader of the library sees: every file in the current version, by name (not the manifest)."""
    folder = current_dir(library)
    if folder is None:
        return {}
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.name != MANIFEST}


def check_report_lines(report) -> None:
    """Every problem and warning is FILE:LINE:COL: message; nothing looks like a traceback."""
    for p in report.rejected + report.warnings:
        assert LOCATED.match(str(p)), str(p)
    assert "Traceback" not in report.text()


@pytest.fixture
def library(tmp_path):
    return tmp_path / "state" / "library"


# ---------------------------------------------------------------- the ordinary path

def test_import_stores_lowercase_names_and_loads_builtin_first(tmp_path, library):
    src = stick(tmp_path / "stick", {"Morning.YAML": routine("Morning"), "EVENING.YML": routine("Evening")})
    report = import_routines(src, library)
    assert report.exit_code == 0, report.text()
    assert sorted(contents(library)) == ["evening.yml", "morning.yaml"]
    assert contents(library)["morning.yaml"] == routine("Morning").encode()
    assert library.is_symlink() and os.readlink(library).startswith(f"{library.name}.versions/")
    routines, problems = load_library(library)
    assert problems == []
    assert [r.name for r in routines] == [load_builtin()[0].name, "Evening", "Morning"]
    assert report.summary_line() == "2 routines imported"
    assert "builtin" not in "".join(contents(library))  # the built-in routine is never stored


def test_the_schema_file_beside_routines_on_a_stick_is_left_alone(tmp_path, library):
    """The README says to copy routine.schema.json onto the stick for editors: the import ignores it."""
    from stretchbox.core.routine_schema import FILE_NAME, routine_schema_text

    text = f"# yaml-language-server: $schema={FILE_NAME}\n" + routine("Morning")
    src = stick(tmp_path / "stick", {"morning.yaml": text, FILE_NAME: routine_schema_text()})
    report = import_routines(src, library)
    assert report.exit_code == 0 and report.warnings == [] and report.skipped == [], report.text()
    assert sorted(contents(library)) == ["morning.yaml"]


@pytest.mark.parametrize("folder", ["stretchbox", "STRETCHBOX", "StretchBox"])
def test_folder_name_in_any_case(tmp_path, library, folder):
    src = stick(tmp_path / "stick", {"a.yaml": routine("A")}, folder=folder)
    report = import_routines(src, library)
    assert report.exit_code == 0 and report.folder == str(src / folder)


def test_source_itself_named_stretchbox_is_read(tmp_path, library):
    src = stick(tmp_path / "stick", {"a.yaml": routine("A")}, folder="StretchBox") / "StretchBox"
    assert import_routines(src, library).exit_code == 0
    assert list(contents(library)) == ["a.yaml"]


def test_loose_routine_files_at_a_sticks_root_are_not_imported(tmp_path, library):
    root = tmp_path / "stick"
    root.mkdir()
    (root / "a.yaml").write_text(routine("A"))
    report = import_routines(root, library)
    assert report.exit_code == 2
    assert "put them in a folder named stretchbox" in report.summary_line()
    assert contents(library) == {}


def test_a_new_stick_replaces_the_set(tmp_path, library):
    import_routines(stick(tmp_path / "one", {"a.yaml": routine("A"), "b.yaml": routine("B")}), library)
    import_routines(stick(tmp_path / "two", {"c.yaml": routine("C")}), library)
    assert list(contents(library)) == ["c.yaml"]
    assert [p.name for p in versions_dir(library).iterdir() if p.name != ".lock"] == [os.readlink(library).split("/")[1]]


def test_a_rejected_file_keeps_the_previous_version_of_the_same_name(tmp_path, library):
    import_routines(stick(tmp_path / "one", {"a.yaml": routine("A"), "b.yaml": routine("B")}), library)
    before = contents(library)
    report = import_routines(stick(tmp_path / "two", {"A.YAML": "schema: 1\nname: A\nstretches: nope\n",
                                                       "b.yaml": routine("B", hold=40)}), library)
    assert report.exit_code == 1
    assert [str(p) for p in report.rejected] == ["A.YAML:3:12: 'stretches' must be a list, got text"]
    assert report.kept_previous == ["A (a.yaml)"]
    after = contents(library)
    assert after["a.yaml"] == before["a.yaml"]
    assert after["b.yaml"] == routine("B", hold=40).encode()
    assert report.summary_line() == "1 routine imported; A.YAML:3: 'stretches' must be a list, got text"


def test_a_kept_previous_routine_gives_way_to_a_new_one_with_its_name(tmp_path, library):
    import_routines(stick(tmp_path / "one", {"a.yaml": routine("Morning")}), library)
    report = import_routines(stick(tmp_path / "two", {"a.yaml": "bad: [", "b.yaml": routine("Morning")}), library)
    assert report.exit_code == 1 and report.kept_previous == []
    assert any("previous version not kept" in w.message for w in report.warnings)
    assert list(contents(library)) == ["b.yaml"]


@pytest.mark.parametrize("files", [
    {"a.yaml": "schema: 2\nname: A\nstretches: []\n", "b.yml": "::"},
    {},
    {"readme.txt": "hello"},
], ids=["all-rejected", "empty-folder", "no-routine-files"])
def test_nothing_usable_leaves_the_library_untouched(tmp_path, library, files):
    import_routines(stick(tmp_path / "one", {"a.yaml": routine("A")}), library)
    before, link = contents(library), os.readlink(library)
    report = import_routines(stick(tmp_path / "two", files), library)
    assert report.exit_code == 2
    assert report.summary_line().startswith("No routines imported")
    assert contents(library) == before and os.readlink(library) == link
    assert "The library on the device was not changed." in report.text()
    check_report_lines(report)


@pytest.mark.parametrize("make", ["missing", "file"])
def test_unreadable_source_is_exit_2(tmp_path, library, make):
    src = tmp_path / "src"
    if make == "file":
        src.write_text("x")
    report = import_routines(src, library)
    assert report.exit_code == 2 and report.fatal and str(src) in report.fatal


# ---------------------------------------------------------------- hostile sticks, one case each

GOOD = {"good.yaml": routine("Good")}
BOMB = "schema: 1\nname: &a [x, x]\nb: &b [*a, *a, *a]\nc: [*b, *b, *b]\nstretches: []\n"
ROOT_LITTER = [".Spotlight-V100", ".Trashes", ".fseventsd", "System Volume Information", "$RECYCLE.BIN"]


@pytest.mark.parametrize("name", ROOT_LITTER)
def test_root_litter_is_skipped_with_a_note(tmp_path, library, name):
    src = stick(tmp_path / "stick", GOOD)
    (src / name).mkdir()
    (src / name / "store.db").write_bytes(os.urandom(100))
    report = import_routines(src, library)
    assert report.exit_code == 0
    assert any(line.startswith(f"{name}: ") for line in report.skipped), report.skipped
    assert f"  {name}: " in report.text()


# (name, content, exit code, text the report must contain)
HOSTILE = {
    "appledouble": ("._good.yaml", b"\x00\x05\x16\x07\x00\x02\x00\x00Mac OS X", 0, "._good.yaml: macOS metadata"),
    "appledouble-in-folder-litter": (".Trashes", None, 0, ".Trashes: macOS trash"),
    "upper-case-8.3": ("POSTRUN.YML", routine("Post run 2"), 0, "POSTRUN.YML: Post run 2"),
    "folder-named-like-a-routine": ("x.yaml", None, 1, "x.yaml:1:1: is a folder, not a routine file"),
    "empty": ("empty.yaml", b"", 1, "empty.yaml:1:1: file is empty"),
    "huge": ("huge.yaml", b"#" * (10 * 1024 * 1024), 1, "huge.yaml:1:1: file is 10,485,760 bytes; the limit is 65,536"),
    "binary": ("bin.yaml", bytes(range(256)) * 4, 1, "bin.yaml:1:1: binary file"),
    "utf-16": ("u16.yaml", codecs.BOM_UTF16_LE + routine("U").encode("utf-16-le"), 1, "u16.yaml:1:1: file is UTF-16"),
    "latin-1": ("l1.yaml", routine("Café").encode("latin-1"), 1, "l1.yaml:2:10: not UTF-8 (byte 0xE9)"),
    "alias-bomb": ("bomb.yaml", BOMB, 1, "bomb.yaml:3:8: YAML: aliases (*a) are not allowed"),
    "duplicate-routine-name": ("zz.yaml", routine("good"), 1,
                               "zz.yaml:1:1: routine name 'good' is already used by good.yaml"),
    "duplicate-file-name-by-case": ("GOOD.yaml", routine("Other"), 1,
                                    "same file name as GOOD.yaml (names are compared ignoring case)"),
    "builtin-routine-name": ("mine.yaml", routine("POST-RUN stretches"), 1,
                             "mine.yaml:1:1: name 'POST-RUN stretches' is the built-in routine's"),
    "icon-outside-relative": ("up.yaml", routine("Up", "../secret.png"), 1,
                              "up.yaml:7:11: icon '../secret.png' must be a built-in name or a file name"),
    "icon-outside-absolute": ("abs.yaml", routine("Abs", "/etc/passwd"), 1,
                              "abs.yaml:7:11: icon '/etc/passwd' must be a built-in name"),
}


@pytest.mark.parametrize("case", HOSTILE, ids=list(HOSTILE))
def test_hostile_entry(tmp_path, library, case):
    name, content, code, expected = HOSTILE[case]
    report = import_routines(stick(tmp_path / "stick", {**GOOD, name: content}), library)
    assert report.exit_code == code, report.text()
    assert expected in report.text(), report.text()
    assert "good.yaml" in contents(library)
    check_report_lines(report)


def test_a_huge_file_is_not_read(tmp_path, library, monkeypatch):
    src = stick(tmp_path / "stick", {**GOOD, "huge.yaml": b"a: 1\n" * (2 * 1024 * 1024)})
    read = []
    real = os.read
    monkeypatch.setattr(os, "read", lambda fd, n: read.append(n) or real(fd, n))
    report = import_routines(src, library, write_report=False)
    assert report.exit_code == 1
    assert 0 < sum(read) < 200_000, sum(read)


def test_a_symlinked_routine_file_is_refused(tmp_path, library):
    outside = tmp_path / "secret.yaml"
    outside.write_text(routine("Secret"))
    src = stick(tmp_path / "stick", GOOD)
    (src / "stretchbox" / "link.yaml").symlink_to(outside)
    report = import_routines(src, library)
    assert report.exit_code == 1
    assert "link.yaml:1:1: is a symbolic link; copy the file itself onto the stick" in report.text()
    assert list(contents(library)) == ["good.yaml"]


def test_a_fifo_named_like_a_routine_does_not_hang(tmp_path, library):
    src = stick(tmp_path / "stick", GOOD)
    os.mkfifo(src / "stretchbox" / "pipe.yaml")
    report = import_routines(src, library)
    assert report.exit_code == 1 and "pipe.yaml:1:1: is not a regular file" in report.text()


def test_a_symlinked_stretchbox_folder_is_refused(tmp_path, library):
    real = stick(tmp_path / "elsewhere", GOOD) / "stretchbox"
    root = tmp_path / "stick"
    root.mkdir()
    (root / "stretchbox").symlink_to(real)
    report = import_routines(root, library)
    assert report.exit_code == 2 and "stretchbox:1:1: is a symbolic link" in report.text()


def test_more_than_the_file_limit(tmp_path, library):
    files = {f"r{i:03}.yaml": routine(f"R{i}") for i in range(MAX_ROUTINE_FILES + 3)}
    report = import_routines(stick(tmp_path / "stick", files), library)
    assert report.exit_code == 1
    assert len(report.imported) == MAX_ROUTINE_FILES
    assert [p.file for p in report.rejected] == ["r100.yaml", "r101.yaml", "r102.yaml"]
    assert "at most 100 routine files" in report.rejected[0].message


def test_total_bytes_read_are_bounded(tmp_path, library, monkeypatch):
    monkeypatch.setattr(lib, "MAX_TOTAL_BYTES", 2 * len(routine("R0")) + 10)
    report = import_routines(stick(tmp_path / "stick", {f"r{i}.yaml": routine(f"R{i}") for i in range(4)}), library)
    assert report.exit_code == 1 and [r.file for r in report.imported] == ["r0.yaml", "r1.yaml"]
    assert [p.file for p in report.rejected] == ["r2.yaml", "r3.yaml"]
    assert "not read: the import reads at most" in report.rejected[0].message


def test_an_unreadable_stick_root_is_exit_2(tmp_path, library, monkeypatch):
    src = stick(tmp_path / "stick", GOOD)
    real = os.scandir

    def eio(path="."):
        if Path(path) == src:
            raise OSError(errno.EIO, "Input/output error")
        return real(path)

    monkeypatch.setattr(os, "scandir", eio)
    report = import_routines(src, library)
    assert report.exit_code == 2 and report.fatal == f"stick removed or unreadable: {src}: Input/output error"
    assert contents(library) == {}


def test_load_library_never_raises_on_a_broken_store(tmp_path, library, monkeypatch):
    import_routines(stick(tmp_path / "one", GOOD), library)
    monkeypatch.setattr(store, "routine_files", lambda folder: (_ for _ in ()).throw(OSError(errno.EIO, "I/O")))
    routines, problems = load_library(library)
    assert [r.name for r in routines] == [r.name for r in load_builtin()]
    assert [p.message for p in problems] == ["cannot read the library: I/O"]


# ---------------------------------------------------------------- icons

ICONS = {
    "not-an-image": (b"GIF89a not really", "icon 'mine': mine.png is not a PNG image"),
    "text-file": (b"hello\n", "mine.png is not a PNG image"),
    "too-many-bytes": (png() + b"\0" * (300 * 1024), "mine.png is 307,"),
    "too-many-pixels": (png((2000, 8)), "mine.png is 2000x8 pixels; at most 1024x1024"),
    "decompression-bomb": (png_header_only(100_000, 100_000), "mine.png is a decompression bomb"),
    "bomb-warning-size": (png_header_only(10_000, 10_000), "decompression bomb"),
    "damaged": (None, "mine.png is a damaged PNG"),
    "jpeg": (None, "mine.png is not a PNG image"),
}


@pytest.mark.parametrize("case", ICONS, ids=list(ICONS))
def test_a_bad_icon_is_a_problem_but_the_routine_is_imported(tmp_path, library, case):
    data, expected = ICONS[case]
    if case == "jpeg":
        buf = io.BytesIO()
        Image.new("RGB", (8, 8)).save(buf, "JPEG")
        data = buf.getvalue()
    elif case == "damaged":  # a flipped byte inside the image data: the chunk's CRC no longer matches
        data = bytearray(png((64, 64)))
        data[-20] ^= 0xFF
        data = bytes(data)
    src = stick(tmp_path / "stick", {"r.yaml": routine("R", "calf", "mine"), "mine.png": data})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        report = import_routines(src, library)
    assert report.exit_code == 1, report.text()
    [problem] = report.rejected
    assert (problem.file, problem.line, problem.col) == ("r.yaml", 9, 11)  # the second icon: line
    assert expected in problem.message
    assert sorted(contents(library)) == ["r.yaml"]


def test_a_valid_icon_is_copied_with_the_routine(tmp_path, library):
    src = stick(tmp_path / "stick", {"r.yaml": routine("R", "Mine", "other.png", "generic"),
                                     "MINE.PNG": png(), "other.png": png((32, 32))})
    report = import_routines(src, library)
    assert report.exit_code == 0, report.text()
    assert contents(library) == {"Mine.png": png(), "other.png": png((32, 32)), "r.yaml": routine(
        "R", "Mine", "other.png", "generic").encode()}
    [builtin, r] = load_library(library)[0]
    assert icon_path(r, "Mine") == current_dir(library) / "Mine.png"
    assert icon_path(r, "generic") is None and icon_path(builtin, "calf") is None


def test_a_missing_icon_is_a_warning(tmp_path, library):
    report = import_routines(stick(tmp_path / "stick", {"r.yaml": routine("R", "calf", "gone")}), library)
    assert report.exit_code == 0
    assert [str(w) for w in report.warnings] == [
        "r.yaml:9:11: icon 'gone': gone.png not found beside the routine; the generic icon is shown"]


def test_a_symlinked_icon_is_refused(tmp_path, library):
    (tmp_path / "secret.png").write_bytes(png())
    src = stick(tmp_path / "stick", {"r.yaml": routine("R", "mine.png")})
    (src / "stretchbox" / "mine.png").symlink_to(tmp_path / "secret.png")
    report = import_routines(src, library)
    assert report.exit_code == 1
    assert "r.yaml:7:11: icon 'mine.png': mine.png is a symbolic link" in report.text()
    assert list(contents(library)) == ["r.yaml"]


def test_a_kept_previous_routine_keeps_its_icon(tmp_path, library):
    import_routines(stick(tmp_path / "one", {"r.yaml": routine("R", "mine"), "mine.png": png()}), library)
    report = import_routines(stick(tmp_path / "two", {"r.yaml": "oops: [", "s.yaml": routine("S")}), library)
    assert report.exit_code == 1 and report.kept_previous == ["R (r.yaml)"]
    assert sorted(contents(library)) == ["mine.png", "r.yaml", "s.yaml"]


def test_builtin_icon_names_match_the_default_routine():
    used = {s.icon for r in load_builtin() for s in r.stretches}
    assert used <= BUILTIN_ICONS and "generic" in BUILTIN_ICONS


# ---------------------------------------------------------------- the stick goes away

def test_stick_pulled_halfway_leaves_the_old_library(tmp_path, library, monkeypatch):
    import_routines(stick(tmp_path / "one", {"a.yaml": routine("A")}), library)
    before = contents(library)
    src = stick(tmp_path / "two", {f"{c}.yaml": routine(c.upper()) for c in "bcde"})
    real = lib._read_source_file
    calls = []

    def pulled(path, limit):
        calls.append(path)
        if len(calls) == 3:  # the stick goes: its files vanish from the mount point
            import shutil
            shutil.rmtree(src / "stretchbox")
        return real(path, limit)

    monkeypatch.setattr(lib, "_read_source_file", pulled)
    report = import_routines(src, library)
    assert report.exit_code == 2
    assert report.fatal.startswith("stick removed or unreadable")
    assert report.summary_line().startswith("No routines imported: stick removed or unreadable")
    assert contents(library) == before
    assert [p.name for p in versions_dir(library).iterdir() if p.name.startswith(".staging")] == []


def test_io_error_reading_a_file_is_stick_removed(tmp_path, library, monkeypatch):
    import_routines(stick(tmp_path / "one", {"a.yaml": routine("A")}), library)
    before = contents(library)
    src = stick(tmp_path / "two", {"b.yaml": routine("B"), "c.yaml": routine("C")})
    real = lib._read_source_file
    seen = []

    def eio(path, limit):
        seen.append(path)
        if len(seen) == 2:
            raise OSError(errno.EIO, "Input/output error")
        return real(path, limit)

    monkeypatch.setattr(lib, "_read_source_file", eio)
    report = import_routines(src, library)
    assert report.exit_code == 2 and "stick removed or unreadable (c.yaml: Input/output error)" == report.fatal
    assert contents(library) == before


def test_a_library_that_cannot_be_written_is_exit_2_not_a_traceback(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    report = import_routines(stick(tmp_path / "stick", GOOD), blocker / "library")
    assert report.exit_code == 2 and report.fatal.startswith("cannot write the library")


# ---------------------------------------------------------------- the report on the stick

def test_import_report_is_written_on_a_writable_stick(tmp_path, library):
    src = stick(tmp_path / "stick", {**GOOD, "bad.yaml": "schema: 1\nname: Bad\nstretches: 3\n"}, folder="STRETCHBOX")
    report = import_routines(src, library)
    assert report.report_written
    text = (src / "STRETCHBOX" / "IMPORT-REPORT.txt").read_bytes().decode()
    assert "\r\n" in text  # readable in Notepad
    assert "bad.yaml:3:12: 'stretches' must be a list, got a number" in text
    assert "good.yaml: Good" in text
    assert not (src / "STRETCHBOX" / "IMPORT-REPORT.tmp").exists()
    again = import_routines(src, library)  # the report itself is never taken for a routine
    assert again.exit_code == 1 and again.report_written


def test_a_report_that_cannot_be_written_never_fails_the_import(tmp_path, library):
    src = stick(tmp_path / "stick", {**GOOD, "IMPORT-REPORT.txt": None})  # a folder in the way
    report = import_routines(src, library)
    assert report.exit_code == 0 and not report.report_written
    assert not (src / "stretchbox" / "IMPORT-REPORT.tmp").exists()
    out = io.StringIO()
    assert import_command(src, library, out=out) == 0
    assert "Report not written to the stick" in out.getvalue()


# ---------------------------------------------------------------- layout, leftovers, loading

def test_leftovers_of_a_crash_are_cleaned_by_the_next_load(tmp_path, library):
    import_routines(stick(tmp_path / "one", GOOD), library)
    versions = versions_dir(library)
    (versions / ".staging-99999").mkdir()
    (versions / ".staging-99999" / "half.yaml").write_bytes(b"sche")
    (versions / "77").mkdir()
    (library.parent / f".{library.name}.new-link").symlink_to("nowhere")
    routines, problems = load_library(library)
    assert problems == [] and [r.name for r in routines][-1] == "Good"
    assert sorted(p.name for p in versions.iterdir()) == [".lock", os.readlink(library).split("/")[1]]
    assert not (library.parent / f".{library.name}.new-link").is_symlink()


def test_a_plain_library_folder_is_adopted(tmp_path, library):
    library.mkdir(parents=True)
    (library / "old.yaml").write_text(routine("Old"))
    assert [r.name for r in load_library(library)[0]][-1] == "Old"
    report = import_routines(stick(tmp_path / "stick", {"old.yaml": "broken: [", "new.yaml": routine("New")}), library)
    # the folder was made by hand: its files are the user's, carried into the new library whole
    assert report.exit_code == 1 and report.kept_previous == [] and report.kept_user == [KeptFile("old.yaml")]
    assert library.is_symlink() and sorted(contents(library)) == ["new.yaml", "old.yaml"]
    assert contents(library)["old.yaml"] == routine("Old").encode()
    assert "Kept, not made by the device (1):\n  old.yaml\n" in report.text()


def test_missing_link_with_versions_uses_the_newest(tmp_path, library):
    import_routines(stick(tmp_path / "one", GOOD), library)
    target = current_dir(library)
    library.unlink()  # a crash between adopting a folder and linking it
    assert current_dir(library) == target
    assert [r.name for r in load_library(library)[0]][-1] == "Good"


def test_load_library_skips_a_routine_named_like_the_builtin(tmp_path, library):
    import_routines(stick(tmp_path / "one", GOOD), library)
    folder = current_dir(library)
    (folder / "sneaky.yaml").write_text(routine(load_builtin()[0].name))
    (folder / "broken.yaml").write_text("nope: [")
    routines, problems = load_library(library)
    assert [r.name for r in routines] == [load_builtin()[0].name, "Good"]
    assert {p.file for p in problems} == {"library/sneaky.yaml", "library/broken.yaml"}


def test_an_empty_library_is_the_builtin_routines(tmp_path):
    routines, problems = load_library(tmp_path / "nothing" / "library")
    assert problems == [] and [r.name for r in routines] == [r.name for r in load_builtin()]


# ---------------------------------------------------------------- crashes

A_SET = {"a1.yaml": routine("A one"), "shared.yaml": routine("Shared", "pic"), "pic.png": png()}
B_SET = {"A1.YAML": "broken: [", "shared.yaml": routine("Shared", hold=45), "b1.yml": routine("B one"),
         "b2.yaml": routine("B two")}


def crash_fixture(tmp_path, library):
    """Two sticks; importing them in turn flips the library between two known, different states."""
    a = stick(tmp_path / "a", A_SET)
    b = stick(tmp_path / "b", B_SET)
    import_routines(a, library, write_report=False)
    state_a = contents(library)
    import_routines(b, library, write_report=False)
    state_b = contents(library)
    assert state_a != state_b and "a1.yaml" in state_b  # B keeps a1 from A: the keep-previous path runs
    import_routines(a, library, write_report=False)
    assert contents(library) == state_a
    return a, b, state_a, state_b


def test_killed_at_random_points_the_library_is_old_or_new(tmp_path, library):
    """SIGKILL a forked child that imports A and B in turn, 250 times at random delays."""
    a, b, state_a, state_b = crash_fixture(tmp_path, library)
    started = time.perf_counter()
    for _ in range(20):
        import_routines(b, library, write_report=False)
        import_routines(a, library, write_report=False)
    one_import = (time.perf_counter() - started) / 40
    rng = random.Random(5)
    seen = {"a": 0, "b": 0}
    kills = 250
    for i in range(kills):
        done_r, done_w = os.pipe()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # fork in a process that may have threads
            pid = os.fork()
        if pid == 0:  # the child: import forever until killed, one byte on the pipe after each import
            try:
                os.close(done_r)
                while True:
                    import_routines(b, library, write_report=False)
                    os.write(done_w, b"b")
                    import_routines(a, library, write_report=False)
                    os.write(done_w, b"a")
            finally:
                os._exit(0)
        os.close(done_w)
        # Kill after 0, 1 or 2 finished imports plus a random part of the next one: the kills land on
        # both sides of each switch whatever the machine's load (a fixed delay did not, in a forked child).
        for _ in range(rng.randint(0, 2)):
            ready, _, _ = select.select([done_r], [], [], 30)
            assert ready, "the importing child made no progress in 30 s"
            os.read(done_r, 1)
        time.sleep(rng.uniform(0, 1.2 * one_import))
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        os.close(done_r)
        now = contents(library)
        assert now in (state_a, state_b), f"kill {i}: a mix: {sorted(now)}"
        seen["a" if now == state_a else "b"] += 1
        routines, problems = load_library(library)
        assert problems == []
    assert seen["a"] >= 3 and seen["b"] >= 3, seen  # the kills landed on both sides of the switch (timing varies with load)
    # the next import cleans every leftover
    import_routines(a, library, write_report=False)
    assert contents(library) == state_a
    assert sorted(p.name for p in versions_dir(library).iterdir()) == [".lock", os.readlink(library).split("/")[1]]


class Injected(OSError):
    pass


def test_a_failure_at_every_os_call_leaves_old_or_new(tmp_path, library, monkeypatch):
    """Each mutating os call of an import fails in turn (a write fails halfway, after writing half)."""
    a, b, state_a, state_b = crash_fixture(tmp_path, library)
    names = ["open", "write", "fsync", "rename", "replace", "symlink", "unlink", "mkdir", "rmdir"]
    real = {n: getattr(os, n) for n in names}
    counter = {"n": 0, "fail_at": -1}

    def wrap(name):
        def call(*args, **kwargs):
            counter["n"] += 1
            if counter["n"] == counter["fail_at"]:
                if name == "write":
                    real["write"](args[0], bytes(args[1])[: max(1, len(args[1]) // 2)])
                raise Injected(errno.EIO, f"injected at {name}")
            return real[name](*args, **kwargs)
        return call

    points, states = 0, set()
    source, old, new = b, state_a, state_b
    while True:
        points += 1
        counter.update(n=0, fail_at=points)
        for n in names:
            monkeypatch.setattr(os, n, wrap(n))
        report = import_routines(source, library, write_report=False)
        for n in names:
            monkeypatch.setattr(os, n, real[n])
        now = contents(library)
        assert now in (old, new), f"failure at call {points}: {sorted(now)}"
        assert "Traceback" not in report.text()
        states.add(now == new)
        if counter["n"] < points:  # the import finished before reaching the failure point
            break
        if now == new:  # flip back for the next point
            import_routines(a if source is b else b, library, write_report=False)
            if contents(library) != old:
                raise AssertionError("the recovery import did not restore the old state")
    assert points > 30 and states == {True, False}, (points, states)


def test_the_switch_is_preceded_by_fsyncs_of_every_file_and_folder(tmp_path, library, monkeypatch):
    """The order a power cut needs: files and folders flushed before the rename that publishes them."""
    import_routines(stick(tmp_path / "one", GOOD), library, write_report=False)
    log = []
    real_fsync, real_rename, real_replace = os.fsync, os.rename, os.replace
    monkeypatch.setattr(os, "fsync", lambda fd: log.append(("fsync", os.readlink(f"/proc/self/fd/{fd}")))
                        or real_fsync(fd))
    monkeypatch.setattr(os, "rename", lambda s, d: log.append(("rename", str(s), str(d))) or real_rename(s, d))
    monkeypatch.setattr(os, "replace", lambda s, d: log.append(("replace", str(s), str(d))) or real_replace(s, d))
    import_routines(stick(tmp_path / "two", A_SET), library, write_report=False)
    [publish] = [i for i, e in enumerate(log) if e[0] == "rename"]
    [switch] = [i for i, e in enumerate(log) if e[0] == "replace"]
    staging, final = log[publish][1], log[publish][2]
    synced_before = {e[1] for e in log[:publish] if e[0] == "fsync"}
    assert {f"{staging}/{name}" for name in contents(library)} | {staging} <= synced_before
    assert ("fsync", str(versions_dir(library))) in log[publish:switch]
    assert log[switch][2] == str(library) and os.readlink(library) == f"{library.name}.versions/{Path(final).name}"
    assert ("fsync", str(library.parent)) in log[switch:]


# ---------------------------------------------------------------- CLI entry points

def test_import_command_exit_codes_and_output(tmp_path, library):
    out = io.StringIO()
    assert import_command(stick(tmp_path / "ok", GOOD), library, out=out) == 0
    assert "Result: 1 routine imported\n" in out.getvalue()
    assert "Report written to" in out.getvalue()
    out = io.StringIO()
    assert import_command(stick(tmp_path / "some", {**GOOD, "b.yaml": "x: ["}), library, out=out) == 1
    assert re.search(r"^  b\.yaml:\d+:\d+: YAML: ", out.getvalue(), re.M)
    out = io.StringIO()
    assert import_command(tmp_path / "nowhere", library, out=out) == 2
    assert "no such folder" in out.getvalue()


def test_routines_command_lists_builtin_then_library(tmp_path, library):
    import_routines(stick(tmp_path / "one", {"z.yaml": routine("Zed"), "m.yaml": routine("Em")}), library)
    out = io.StringIO()
    assert routines_command(library, out=out) == 0
    lines = out.getvalue().splitlines()
    assert lines[0] == f"Library: {library}"
    assert lines[1].split()[:2] == ["built-in", "Post-run"]
    assert [ln.split()[1] for ln in lines[2:4]] == ["Em", "Zed"]
    assert lines[2].split()[-1] == "m.yaml" and "1:10" in lines[2]  # prepare 5 + 2 sides x 30 + switch 5
    assert lines[-1] == "3 routines"
    infos, problems = list_routines(library)
    assert [i.builtin for i in infos] == [True, False, False] and problems == []


def test_routines_command_reports_library_problems(tmp_path, library):
    import_routines(stick(tmp_path / "one", GOOD), library)
    (current_dir(library) / "bad.yaml").write_text("nope: [")
    out = io.StringIO()
    assert routines_command(library, out=out) == 1
    assert "problem: library/bad.yaml:" in out.getvalue()
