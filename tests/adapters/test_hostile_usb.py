"""The hostile-stick corpus: every stick and disk built here, at test time, and the same invariants for each.

A case builds a stick (a folder in tmp_path, a FAT image read back with mtools,
a tmpfs that runs out of space or inodes, a read-only mount) and usually a
previous library holding a user's README. It is imported through ``cli.main``
in-process (a few through a subprocess, one as another user, a few through the
device's ``UsbImports``), then ``verify`` checks, for every case:

- no traceback, exit code 0/1/2, every printed line is one printable line;
- nothing good lost: when the library did not change, it is byte for byte what
  it was; the user's files in the library folder are never deleted;
- every wrong input is rejected with a located ``FILE:LINE:COL: message`` line,
  every valid input accepted (each case names both exactly);
- what the report (printed, IMPORT-REPORT.txt, exit code) says equals what
  happened: the library on disk afterwards, and ``stretchbox routines``.

Mounting needs root (CI runs as root); those cases skip with the reason otherwise.
"""

from __future__ import annotations

import errno
import io
import json
import os
import re
import shutil
import stat
import subprocess
import sys
import tempfile
import time
import traceback
import warnings
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.helpers import png
from tests.helpers import routine_text as routine
from stretchbox import cli
from stretchbox.adapters.library import importer as lib
from stretchbox.adapters.library.commands import routines_command
from stretchbox.adapters.library.importer import MAX_ENTRIES, MAX_ROUTINE_FILES
from stretchbox.adapters.library.report import READ_ONLY_STICK, REPORT_NAME
from stretchbox.adapters.library.store import (
    MANIFEST, current_dir, fold, list_routines, load_library, made_by_device, versions_dir,
)
from stretchbox.adapters.files import display_path
from stretchbox.adapters.routines import is_routine_name, load_builtin
from stretchbox.app import App, UsbImports, import_notice
from stretchbox.core.session import Session

from tests.helpers import routine as session_routine

ROOT = os.geteuid() == 0
LOCATED = re.compile(r"^(?P<file>.+?):(?P<line>\d+):(?P<col>\d+): (?P<message>.+)$")
NOT_CHANGED = "The library on the device was not changed."
SECTION = re.compile(r"^(?P<title>[A-Z][^:]*) \((?P<n>\d+)\):$")
BUILTIN = [r.name for r in load_builtin()]
CASE_SECONDS = 6.0  # one case, however hostile (the whole corpus runs in a few seconds)


BAD = "schema: 1\nname: Bad\nstretches: 3\n"  # 'stretches' must be a list: bad.yaml:3:12
README = b"My notes about this device. Not a routine.\n"


# ---------------------------------------------------------------- the rig: a stick, a library, what the user owns

@dataclass
class Rig:
    root: Path
    monkeypatch: pytest.MonkeyPatch
    mounts: Callable[..., Path]
    stick: Path = None  # what is passed to `stretchbox import`
    library: Path = None
    user_files: dict[str, bytes] = field(default_factory=dict)  # put in the library folder by the user
    untouched: dict[Path, bytes] = field(default_factory=dict)  # files the import must leave as they are
    notice: object = None  # the device's notice (Frame), when run the device's way
    notice_says: str | None = None
    notice_lacks: str | None = None

    def __post_init__(self):
        self.stick = self.stick or self.root / "stick"
        self.library = self.library or self.root / "state" / "library"

    @property
    def folder(self) -> Path:
        return self.stick / "stretchbox"

    def put(self, name: str | bytes, content: str | bytes | None, folder: Path | None = None) -> Path:
        """A file (or, for None, a folder) in the stick's stretchbox folder; bytes names are written as bytes."""
        base = folder or self.folder
        base.mkdir(parents=True, exist_ok=True)
        path = base / (os.fsdecode(name) if isinstance(name, bytes) else name)
        if content is None:
            path.mkdir()
        else:
            path.write_bytes(content.encode() if isinstance(content, str) else content)
        return path

    def baseline(self, files: dict | None = None, *, readme: bool = True) -> None:
        """A previous library (imported from another stick) with the user's README copied into it."""
        old = Rig(self.root / "old-stick-root", self.monkeypatch, self.mounts, library=self.library)
        for name, content in (files or {"keep.yaml": routine("Kept one"), "shared.yaml": routine("Shared")}).items():
            old.put(name, content)
        report = lib.import_routines(old.stick, self.library, write_report=False)
        assert report.exit_code == 0, report.text()
        if readme:
            self.add_user_file("README.txt", README)

    def big_stick(self) -> None:
        """The stick on its own tmpfs when we may mount one: thousands of files in memory, not through the
        journal of a disk other jobs are using (a folder otherwise)."""
        if ROOT:
            self.stick = self.mounts(self.root / "big-stick", "size=16m,nr_inodes=40000", optional=True) or self.stick

    def add_user_file(self, name: str, data: bytes) -> None:
        (current_dir(self.library) / name).write_bytes(data)
        self.user_files[name] = data


def many_files(folder: Path, names, data: bytes = b"") -> None:
    """Thousands of files, fast (pathlib costs ~0.1 ms a file; this ~0.02 ms)."""
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        for name in names:
            f = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644, dir_fd=fd)
            if data:
                os.write(f, data)
            os.close(f)
    finally:
        os.close(fd)


def snapshot(library: Path) -> dict[str, bytes]:
    """Everything a reader of the library finds (the user's files too), and where the link points."""
    folder = current_dir(library)
    if folder is None:
        return {}
    out = {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()}
    out["<current>"] = str(folder).encode()
    return out


def parse(text: str) -> tuple[list[str], dict[str, list[str]]]:
    """The report's head lines and its sections (title -> items); each count checked against its items."""
    head, sections, title = [], {}, None
    for line in text.splitlines():
        m = SECTION.match(line)
        if m:
            title = m["title"]
            sections[title] = []
            counts = sections.setdefault("<counts>", {})
            counts[title] = int(m["n"])
        elif line.startswith("  ") and title is not None:
            sections[title].append(line[2:])
        else:
            title = None
            head.append(line)
    for title, n in sections.pop("<counts>", {}).items():
        assert len(sections[title]) == n, (title, n, sections[title])
    return head, sections


# ---------------------------------------------------------------- the ways in

def run_main(rig: Rig, capsys) -> tuple[int, str]:
    capsys.readouterr()
    code = cli.main(["import", str(rig.stick), "--library", str(rig.library)])
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err, captured.err
    return code, captured.out


def run_subprocess(rig: Rig, capsys) -> tuple[int, str]:
    if not os.access(os.path.realpath(sys.executable), os.X_OK):
        pytest.skip(f"this user may not run {sys.executable} in a subprocess")
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    run = subprocess.run([sys.executable, "-m", "stretchbox", "import", os.fsencode(rig.stick), "--library",
                          os.fsencode(rig.library)], capture_output=True, timeout=60, env=env, cwd="/")
    out, err = os.fsdecode(run.stdout), os.fsdecode(run.stderr)
    assert "Traceback" not in err and err == "", err
    return run.returncode, out


def run_as_nobody(rig: Rig, capsys) -> tuple[int, str]:
    """cli.main in a forked child that became another user: permission bits apply (root bypasses them).

    Not root: permission bits already apply to us, run in-process.
    """
    if not ROOT:
        return run_main(rig, capsys)
    for path in (rig.root, *rig.root.rglob("*")):
        os.chown(path, NOBODY, NOBODY, follow_symlinks=False)
    sys.stdout.flush()
    r, w = os.pipe()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # fork in a process that may have threads
        pid = os.fork()
    if pid == 0:  # the child: never returns into pytest
        try:
            os.close(r)
            os.setgroups([])
            os.setgid(NOBODY)
            os.setuid(NOBODY)
            out = io.StringIO()
            sys.stdout = out
            try:
                code = cli.main(["import", str(rig.stick), "--library", str(rig.library)])
            except BaseException:  # noqa: BLE001 - a traceback is a failure of the case: hand it over
                code, out = 99, io.StringIO(traceback.format_exc())
            data = json.dumps({"code": code, "out": out.getvalue()}).encode()
            while data:
                data = data[os.write(w, data):]
        finally:
            os._exit(0)
    os.close(w)
    with os.fdopen(r, "rb") as f:
        result = json.loads(f.read() or b'{"code": 98, "out": "the child wrote nothing"}')
    os.waitpid(pid, 0)
    assert "Traceback" not in result["out"], result["out"]
    return result["code"], result["out"]


def run_device(rig: Rig, capsys) -> tuple[int, str]:
    """The device's path: UsbImports on a stick mount, then the notice the OLED shows."""
    imports = UsbImports(App(Session([session_routine(("Ham", "both"))])), rig.library, None, clock=lambda: 1.0)
    done = imports.import_one(rig.stick)
    report = done.report
    assert report is not None, done.problems
    notice = import_notice(report, done.problems)
    rig.notice = notice
    if report.exit_code == 2:
        assert notice.title == "NOTHING IMPORTED"
    else:
        n = len(report.imported)
        assert notice.title == f"{n} ROUTINE{'S' if n != 1 else ''} IMPORTED"
    expect_note = not report.report_written and report.folder is not None and report.report_error != READ_ONLY_STICK
    assert (report.report_note() is not None) == expect_note
    if report.report_note():
        assert report.report_note() in notice.text  # the device says the report is not on the stick, and why
    assert [r.name for r in done.routines] == [r.name for r in load_library(rig.library)[0]]
    text = report.text()
    if report.folder:
        where = display_path(str(Path(report.folder) / REPORT_NAME))
        text += (f"Report written to {where}\n" if report.report_written
                 else f"Report not written to the stick ({report.report_error}): {where}\n")
    return report.exit_code, text


RUNNERS = {"main": run_main, "subprocess": run_subprocess, "device": run_device, "nobody": run_as_nobody}
NOBODY = 65534


# ---------------------------------------------------------------- the invariants

def verify(rig: Rig, code: int, out: str, before: dict[str, bytes], case: Case | None = None) -> dict:
    """Every invariant of the corpus; returns the parsed sections for a case's own checks."""
    assert code in (0, 1, 2), out
    assert "Traceback" not in out
    lines = out.splitlines()
    assert lines and all(line.isprintable() for line in lines), [ln for ln in lines if not ln.isprintable()]
    status = lines[-1] if lines[-1].startswith("Report ") else None
    text = "\n".join(lines[:-1] if status else lines) + "\n"
    head, sections = parse(text)
    changed = NOT_CHANGED not in head
    problems = sections.get("Problems", [])

    # the exit code says what the report says
    assert code == (2 if not changed else 1 if problems else 0), (code, out)
    result = next(line for line in head if line.startswith("Result: "))
    assert result.startswith("Result: No routines imported") == (not changed), out

    # every problem and warning is one located line
    for item in problems + sections.get("Warnings", []):
        assert LOCATED.match(item), item

    # nothing good lost; the library is what the report says
    after = snapshot(rig.library)
    folder = current_dir(rig.library)
    if not changed:
        assert after == before, f"the report says 'not changed' but the library changed:\n{out}"
        assert "Imported" not in sections and "Kept the previous version" not in sections
    else:
        made = made_by_device(folder)
        stored = {n for n in made if is_routine_name(n)}
        imported = sections.get("Imported", [])
        kept = sections.get("Kept the previous version", [])
        assert len(stored) == len(imported) + len(kept), (sorted(stored), imported, kept)
        names = {i.name for i in list_routines(rig.library)[0] if not i.builtin and i.file in made}
        said = {item.rsplit(": ", 1)[1] for item in imported} | {re.sub(r" \([^()]*\)$", "", k) for k in kept}
        assert names == said, (names, said)
        # each imported file is in the library, byte for byte as on the stick
        read = next((Path(h.removeprefix("Folder: ")) for h in head if h.startswith("Folder: ")), None)
        files = {display_path(e.name): e for e in os.scandir(read)} if read and read.is_dir() else {}
        for item in imported:
            e = files.get(item.rsplit(": ", 1)[0])
            if e is not None and e.is_file(follow_symlinks=False):
                assert (folder / fold(e.name)).read_bytes() == Path(e.path).read_bytes(), e.name
    kept_user = sections.get("Kept, not made by the device", [])
    for name, data in rig.user_files.items():
        here = folder / name if folder else None
        if here is not None and here.is_file() and here.read_bytes() == data:
            continue
        # kept where it was (a file of that name is in the new library); the report says where
        assert any((v / name).is_file() and (v / name).read_bytes() == data
                   for v in versions_dir(rig.library).iterdir()), f"user file {name} lost"
        assert changed and f"{name}: left in " in "\n".join(kept_user), out
    if changed:
        listed = {k.split(": left in ")[0] for k in kept_user}
        assert {n.split("/")[0] for n in rig.user_files} <= listed, (rig.user_files, listed)

    # no litter of ours: no staging folder, no version of only the device's files beside the current one
    versions = versions_dir(rig.library)
    for entry in (list(os.scandir(versions)) if versions.is_dir() else []):
        assert not entry.name.startswith(".staging-"), entry.name
        if entry.name.isdigit() and folder is not None and Path(entry.path) != folder:
            made = made_by_device(Path(entry.path)) | {MANIFEST}
            assert any(name not in made for name in os.listdir(entry.path)), f"leftover version {entry.name}"

    # the report on the stick is the printed one
    if status and status.startswith("Report written to "):
        path = Path(status.removeprefix("Report written to "))
        assert path.read_bytes().decode() == text.replace("\n", "\r\n")
    elif status:
        assert re.match(r"^Report not written to the stick \(.+\): ", status), status

    # `stretchbox routines` lists what is there, one printable line each
    listing = io.StringIO()
    routines_command(rig.library, out=listing)
    listed = listing.getvalue().splitlines()
    assert all(line.isprintable() for line in listed)
    infos = list_routines(rig.library)[0]
    assert listed[-1 - sum(ln.startswith("problem: ") for ln in listed)] == \
        f"{len(infos)} routine{'s' if len(infos) != 1 else ''}"

    if case is not None:
        valid = sections.get("Imported" if changed else "Valid, but not imported", [])
        if case.imported is not None:
            assert sorted(valid) == sorted(f"{f}: {n}" for f, n in case.imported.items()), out
        rejected = {LOCATED.match(p)["file"] for p in problems}
        assert rejected == set(case.rejected), (rejected, out)
        for fragment in case.says:
            assert fragment in out, f"{fragment!r} not in\n{out}"
    return sections


# ---------------------------------------------------------------- the corpus

@dataclass
class Case:
    build: Callable[[Rig], None]
    code: int
    imported: dict[str, str] | None  # shown file -> routine name: exactly the valid files
    rejected: set[str]  # shown file names with a located problem: exactly the wrong ones
    says: tuple[str, ...]
    via: str
    baseline: bool
    needs_root: str | None
    check: Callable[[Rig, str], None] | None


CASES: dict[str, Case] = {}
GOOD = ("good.yaml", routine("Good"))


def case(name: str, *, code: int, imported: dict | None = None, rejected=(), says=(), via="main",
         baseline=True, needs_root: str | None = None, check=None):
    def register(build):
        CASES[name] = Case(build, code, imported, set(rejected), tuple(says), via, baseline, needs_root, check)
        return build
    return register


# ---- names

@case("name-not-utf8", code=0, imported={r"\xff\xfe.yaml": "Bytes", "good.yaml": "Good"}, says=[r"\xff\xfe.yaml"])
def _(rig):
    rig.put(b"\xff\xfe.yaml", routine("Bytes"))
    rig.put(*GOOD)


@case("name-not-utf8-subprocess", code=1, imported={r"caf\xe9.yaml": "Latin", "good.yaml": "Good"},
      rejected=[r"\xff\xfe.yaml"], via="subprocess", says=["Report written to"])
def _(rig):
    """The reviewer's crash: a non-UTF-8 name in the report, after the switch."""
    rig.put(b"caf\xe9.yaml", routine("Latin"))
    rig.put(b"\xff\xfe.yaml", BAD)
    rig.put(*GOOD)


@case("name-with-newline-forges-nothing", code=1, imported={r"x\nImported (1):\n  evil.yaml: Evil.yaml": "Nl"},
      rejected=[r"bad\nResult: 9 routines imported.yaml"])
def _(rig):
    rig.put("x\nImported (1):\n  evil.yaml: Evil.yaml", routine("Nl"))
    rig.put("bad\nResult: 9 routines imported.yaml", BAD)


@case("name-with-terminal-escapes", code=0, imported={r"\x1b[2J\x1b]0;pwned\x07.yaml": "Esc", "good.yaml": "Good"})
def _(rig):
    rig.put("\x1b[2J\x1b]0;pwned\x07.yaml", routine("Esc"))
    rig.put(*GOOD)


@case("name-with-bidi-override", code=0, imported={r"\u202elmay.txt.yaml": "Bidi"})
def _(rig):
    rig.put("\u202elmay.txt.yaml", routine("Bidi"))


@case("names-nfc-and-nfd-are-one-name", code=1, imported={"Cafe\u0301.yaml": "Nfd"}, rejected=["Caf\u00e9.yaml"],
      says=["Caf\u00e9.yaml:1:1: same file name as Cafe\u0301.yaml"])
def _(rig):
    rig.put("Caf\u00e9.yaml", routine("Nfc"))  # NFC (Windows, Linux)
    rig.put("Cafe\u0301.yaml", routine("Nfd"))  # NFD (macOS): the same name, sorted first


@case("file-names-differing-in-case", code=1, imported={"MORNING.yaml": "Upper"}, rejected=["morning.yaml"],
      says=["morning.yaml:1:1: same file name as MORNING.yaml (names are compared ignoring case)"])
def _(rig):
    rig.put("MORNING.yaml", routine("Upper"))
    rig.put("morning.yaml", routine("Lower"))


@case("routine-names-differing-in-case", code=1, imported={"a.yaml": "Morning"}, rejected=["b.yaml"],
      says=["b.yaml:1:1: routine name 'MORNING' is already used by a.yaml"])
def _(rig):
    rig.put("a.yaml", routine("Morning"))
    rig.put("b.yaml", routine("MORNING"))


@case("windows-reserved-names-are-fine-here", code=0,
      imported={"CON.yaml": "Con", "nul.YML": "Nul", "aux.yaml": "Aux", "LPT1.yml": "Lpt"})
def _(rig):
    for name, title in (("CON.yaml", "Con"), ("nul.YML", "Nul"), ("aux.yaml", "Aux"), ("LPT1.yml", "Lpt")):
        rig.put(name, routine(title))


@case("name-too-long-once-case-folded", code=1, imported={"good.yaml": "Good"}, rejected=["\u0390" * 120 + ".yaml"],
      says=["file name is too long to store (725 bytes once case-folded; at most 255)"])
def _(rig):
    rig.put("\u0390" * 120 + ".yaml", routine("Long"))  # 245 bytes on the stick; casefold triples each letter
    rig.put(*GOOD)


@case("name-255-bytes-is-fine", code=0, imported={"n" * 250 + ".yaml": "Longest"})
def _(rig):
    rig.put("n" * 250 + ".yaml", routine("Longest"))


# ---- links

@case("symlink-out-of-the-stick", code=1, imported={"good.yaml": "Good"}, rejected=["passwd.yaml"],
      says=["passwd.yaml:1:1: is a symbolic link; copy the file itself onto the stick"])
def _(rig):
    rig.put(*GOOD)
    (rig.folder / "passwd.yaml").symlink_to("/etc/passwd")


@case("symlink-loop", code=1, imported={"good.yaml": "Good"}, rejected=["loop.yaml", "ping.yaml", "pong.yaml"])
def _(rig):
    rig.put(*GOOD)
    (rig.folder / "loop.yaml").symlink_to("loop.yaml")
    (rig.folder / "ping.yaml").symlink_to("pong.yaml")
    (rig.folder / "pong.yaml").symlink_to("ping.yaml")


@case("symlink-to-a-device", code=1, imported={"good.yaml": "Good"}, rejected=["zero.yaml"])
def _(rig):
    rig.put(*GOOD)
    (rig.folder / "zero.yaml").symlink_to("/dev/zero")


@case("stretchbox-folder-is-a-symlink-out", code=2, rejected=["stretchbox"], says=["stretchbox:1:1: is a symbolic link"])
def _(rig):
    elsewhere = rig.root / "elsewhere" / "stretchbox"
    rig.put(*GOOD, folder=elsewhere)
    rig.stick.mkdir()
    (rig.stick / "stretchbox").symlink_to(elsewhere)


@case("source-is-a-symlink-loop", code=2, says=["cannot read: ", "Too many levels of symbolic links"])
def _(rig):
    rig.root.mkdir(exist_ok=True)
    rig.stick = rig.root / "loop"
    rig.stick.symlink_to("loop")


@case("source-is-a-symlink-to-a-stick", code=0, imported={"good.yaml": "Good"})
def _(rig):
    real = rig.root / "media" / "sdb1"
    rig.put(*GOOD, folder=real / "stretchbox")
    rig.stick = rig.root / "stick-link"
    rig.stick.symlink_to(real)


@case("icon-symlinked-out-of-the-stick", code=1, imported={"r.yaml": "R"}, rejected=["r.yaml"],
      says=["icon 'mine': mine.png is a symbolic link"])
def _(rig):
    (rig.root / "secret.png").parent.mkdir(parents=True, exist_ok=True)
    (rig.root / "secret.png").write_bytes(png())
    rig.put("r.yaml", routine("R", "mine"))
    (rig.folder / "mine.png").symlink_to(rig.root / "secret.png")


# ---- not files

@case("fifo-named-like-a-routine", code=1, imported={"good.yaml": "Good"}, rejected=["pipe.yaml"],
      says=["pipe.yaml:1:1: is not a regular file"])
def _(rig):
    rig.put(*GOOD)
    os.mkfifo(rig.folder / "pipe.yaml")


@case("device-node-named-like-a-routine", code=1, imported={"good.yaml": "Good"}, rejected=["null.yaml"],
      needs_root="mknod of a character device")
def _(rig):
    rig.put(*GOOD)
    os.mknod(rig.folder / "null.yaml", 0o666 | stat.S_IFCHR, os.makedev(1, 3))


@case("folder-named-like-a-routine", code=1, imported={"good.yaml": "Good"}, rejected=["dir.yaml"],
      says=["dir.yaml:1:1: is a folder, not a routine file"])
def _(rig):
    rig.put(*GOOD)
    rig.put("dir.yaml", None)


@case("deep-folders-inside-stretchbox", code=0, imported={"good.yaml": "Good"},
      says=["deep: a folder; only the files at the top of stretchbox are read"])
def _(rig):
    rig.put(*GOOD)
    path = rig.folder / "deep"
    for _ in range(60):
        path = path / "deeper"
    path.mkdir(parents=True)
    (path / "lost.yaml").write_text(routine("Deep"))


@case("source-path-longer-than-path-max", code=2, says=["cannot read: ", "File name too long"])
def _(rig):
    rig.root.mkdir(exist_ok=True)
    fd = os.open(rig.root, os.O_RDONLY)
    try:
        for _ in range(40):
            os.mkdir("d" * 200, dir_fd=fd)
            new = os.open("d" * 200, os.O_RDONLY, dir_fd=fd)
            os.close(fd)
            fd = new
    finally:
        os.close(fd)
    rig.stick = rig.root.joinpath(*["d" * 200] * 40)


# ---- sizes and counts

@case("huge-sparse-file-is-not-read", code=1, imported={"good.yaml": "Good"}, rejected=["huge.yaml"],
      says=["huge.yaml:1:1: file is 4,294,967,296 bytes; the limit is 65,536"])
def _(rig):
    rig.put(*GOOD)
    with open(rig.folder / "huge.yaml", "wb") as f:
        f.truncate(4 * 1024 ** 3)


@case("ten-thousand-junk-files", code=0, imported={"a.yaml": "A", "b.yaml": "B", "c.yaml": "C"})
def _(rig):
    rig.big_stick()
    for c in "abc":
        rig.put(f"{c}.yaml", routine(c.upper()))
    many_files(rig.folder, (f"junk{i:05}.txt" for i in range(10_000)))


@case("ten-thousand-appledouble-files", code=0, imported={"good.yaml": "Good"},
      says=["._junk00000.yaml: macOS metadata", "... and 9,950 more"])
def _(rig):
    rig.big_stick()
    rig.put(*GOOD)
    many_files(rig.folder, (f"._junk{i:05}.yaml" for i in range(10_000)))  # skipped by name, never read


@case("more-entries-than-can-be-read-changes-nothing", code=2,
      says=[f"holds more than {MAX_ENTRIES:,} entries; nothing was read", NOT_CHANGED])
def _(rig):
    rig.big_stick()
    rig.put(*GOOD)
    many_files(rig.folder, (f"junk{i:05}.txt" for i in range(MAX_ENTRIES)))


@case("more-routine-files-than-the-limit", code=1,
      imported={f"r{i:03}.yaml": f"R{i}" for i in range(MAX_ROUTINE_FILES)},
      rejected=[f"r{i:03}.yaml" for i in range(MAX_ROUTINE_FILES, MAX_ROUTINE_FILES + 5)] + ["zz-keep.yaml"],
      says=["at most 100 routine files"])
def _(rig):
    for i in range(MAX_ROUTINE_FILES + 5):
        rig.put(f"r{i:03}.yaml", routine(f"R{i}"))
    rig.put("zz-keep.yaml", routine("Kept one"))  # the previous keep.yaml under another file name: not read


# ---- the stick goes away

@case("stick-pulled-between-listing-and-reading", code=2, says=["stick removed or unreadable", NOT_CHANGED])
def _(rig):
    for c in "abcd":
        rig.put(f"{c}.yaml", routine(c.upper()))
    real, calls = lib._read_source_file, []

    def pulled(path, limit):
        calls.append(path)
        if len(calls) == 3:
            shutil.rmtree(rig.folder)  # the files vanish from the mount point
        return real(path, limit)

    rig.monkeypatch.setattr(lib, "_read_source_file", pulled)


@case("io-error-reading-a-file", code=2, says=["stick removed or unreadable (b.yaml: Input/output error)"],
      imported={"a.yaml": "A"})
def _(rig):
    rig.put("a.yaml", routine("A"))
    rig.put("b.yaml", routine("B"))
    real = lib._read_source_file

    def eio(path, limit):
        if path.name == "b.yaml":
            raise OSError(errno.EIO, "Input/output error")
        return real(path, limit)

    rig.monkeypatch.setattr(lib, "_read_source_file", eio)


# ---- the library's own folder

@case("stick-folder-as-its-own-library", code=2, says=["overlap", NOT_CHANGED], baseline=False)
def _(rig):
    rig.put(*GOOD)
    (rig.stick / "README").write_bytes(README)
    rig.library = rig.stick
    rig.untouched = {rig.stick / "README": README, rig.folder / "good.yaml": GOOD[1].encode()}


@case("library-inside-the-stick", code=2, says=["overlap"], baseline=False)
def _(rig):
    rig.put(*GOOD)
    rig.library = rig.folder / "library"


@case("stick-inside-the-library", code=2, says=["overlap"])
def _(rig):
    rig.stick = current_dir(rig.library)  # `stretchbox import /var/lib/stretchbox/library`


@case("library-is-a-symlink-into-the-stick", code=2, says=["overlap"], baseline=False)
def _(rig):
    rig.put(*GOOD)
    rig.library.parent.mkdir(parents=True)
    rig.library.symlink_to(rig.stick)


@case("user-readme-in-the-library-is-kept", code=0, imported={"good.yaml": "Good"},
      says=["Kept, not made by the device (2):\n  notes\n  README.txt\n"])
def _(rig):
    rig.put(*GOOD)
    (current_dir(rig.library) / "notes").mkdir()
    (current_dir(rig.library) / "notes" / "n.txt").write_bytes(b"mine")
    rig.user_files["notes/n.txt"] = b"mine"


@case("user-file-named-like-a-new-routine-stays-put", code=0, imported={"good.yaml": "Good"},
      says=["good.yaml: left in "])
def _(rig):
    rig.put(*GOOD)
    rig.add_user_file("good.yaml", routine("Hand made").encode())  # copied in by hand; the stick has one too


@case("user-file-beside-the-versions-is-untouched", code=0, imported={"good.yaml": "Good"})
def _(rig):
    rig.put(*GOOD)
    (versions_dir(rig.library) / "backup.tar").write_bytes(b"mine")
    rig.untouched = {versions_dir(rig.library) / "backup.tar": b"mine"}


@case("library-is-a-link-made-by-hand", code=0, imported={"good.yaml": "Good"}, baseline=False,
      says=["which the device did not make: that folder is left as it is, and is no longer the library"])
def _(rig):
    mine = rig.root / "my-routines"
    mine.mkdir()
    (mine / "mine.yaml").write_text(routine("Mine"))
    rig.library.parent.mkdir(parents=True)
    rig.library.symlink_to(mine)
    rig.put(*GOOD)
    rig.untouched = {mine / "mine.yaml": routine("Mine").encode()}


@case("hand-made-library-folder-is-adopted-and-kept", code=1, imported={"new.yaml": "New"}, rejected=["old.yaml"],
      says=["Kept, not made by the device (2):\n  old.yaml\n  README.txt\n"], baseline=False)
def _(rig):
    rig.library.mkdir(parents=True)
    (rig.library / "old.yaml").write_text(routine("Old"))
    (rig.library / "README.txt").write_bytes(README)
    rig.user_files = {"README.txt": README, "old.yaml": routine("Old").encode()}
    rig.put("old.yaml", "broken: [")
    rig.put("new.yaml", routine("New"))


@case("rejected-file-keeps-the-previous-version", code=1, imported={"shared.yaml": "Shared"},
      rejected=["KEEP.YAML"], says=["Kept the previous version (1):\n  Kept one (keep.yaml)\n"])
def _(rig):
    rig.put("KEEP.YAML", BAD)
    rig.put("shared.yaml", routine("Shared"))


@case("library-parent-is-a-file", code=2, says=["cannot write the library", "blocker is not a folder"], baseline=False)
def _(rig):
    rig.put(*GOOD)
    (rig.root / "blocker").write_text("a file")
    rig.library = rig.root / "blocker" / "library"


# ---- the report on the stick

@case("report-name-is-a-folder-on-the-stick", code=0, imported={"good.yaml": "Good"},
      says=[f"Report not written to the stick ({REPORT_NAME} is a folder)"], via="device")
def _(rig):
    rig.put(*GOOD)
    rig.put(REPORT_NAME, None)
    (rig.folder / REPORT_NAME / "keep.txt").write_bytes(b"the user's")


@case("report-temp-name-is-a-folder-on-the-stick", code=0, imported={"good.yaml": "Good"},
      says=["Report not written to the stick ("])
def _(rig):
    rig.put(*GOOD)
    rig.put("IMPORT-REPORT.tmp", None)


@case("report-is-a-symlink-out-of-the-stick", code=0, imported={"good.yaml": "Good"}, says=["Report written to"])
def _(rig):
    rig.put(*GOOD)
    target = rig.root / "outside.txt"
    target.write_bytes(b"not to be overwritten")
    (rig.folder / REPORT_NAME).symlink_to(target)
    rig.untouched = {target: b"not to be overwritten"}


@case("device-import-with-a-bad-file", code=1, imported={"good.yaml": "Good"}, rejected=["bad.yaml"], via="device")
def _(rig):
    rig.put(*GOOD)
    rig.put("bad.yaml", BAD)


@case("device-nothing-usable", code=2, rejected=["bad.yaml"], via="device")
def _(rig):
    rig.put("bad.yaml", BAD)


@case("subprocess-nothing-on-the-stick", code=2, via="subprocess", says=["no 'stretchbox' folder"])
def _(rig):
    rig.stick.mkdir(parents=True)
    (rig.stick / "holiday.jpg").write_bytes(b"\xff\xd8")


@pytest.fixture
def mounts(request):
    """mounts(path, options) -> path: a tmpfs there, unmounted when the test ends (root only)."""
    done: list[Path] = []

    def mount(path: Path, options: str, optional: bool = False) -> Path | None:
        if not ROOT:
            if optional:
                return None
            pytest.skip("mounting a tmpfs needs root (CI runs as root)")
        path.mkdir(parents=True, exist_ok=True)
        run = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(path)], capture_output=True,
                             text=True)
        if run.returncode:
            if optional:
                return None
            pytest.skip(f"cannot mount a tmpfs here: {run.stderr.strip()}")
        done.append(path)
        return path

    yield mount
    busy = []
    for path in reversed(done):
        if subprocess.run(["umount", str(path)], capture_output=True).returncode:
            subprocess.run(["umount", "-l", str(path)], capture_output=True)
            busy.append(str(path))
    assert not busy, f"still in use at the end of the test (unmounted lazily): {busy}"


def remount_ro(path: Path) -> None:
    subprocess.run(["mount", "-o", "remount,ro", str(path)], check=True)


@case("read-only-library-parent-first-import", code=2, says=["cannot write the library", "Read-only file system"],
      baseline=False, needs_root="a read-only mount")
def _(rig):
    rig.put(*GOOD)
    rig.library = rig.mounts(rig.root / "ro", "size=64k,nr_inodes=32,ro") / "library"


@case("read-only-library-on-re-import", code=2, says=["cannot write the library", "Read-only file system"],
      baseline=False, needs_root="a read-only mount")
def _(rig):
    rig.library = rig.mounts(rig.root / "state", "size=256k,nr_inodes=64") / "library"
    rig.baseline()
    rig.put(*GOOD)
    remount_ro(rig.library.parent)


@case("stick-mounted-read-only", code=0, imported={"good.yaml": "Good"}, via="device",
      says=["Report not written to the stick (the stick is read-only)"], needs_root="a read-only mount")
def _(rig):
    rig.stick = rig.mounts(rig.root / "stick", "size=64k,nr_inodes=32")
    rig.put(*GOOD)
    remount_ro(rig.stick)
    rig.notice_lacks = "no report on the stick"  # the device mounts every stick read-only: no noise about it


@case("stick-mounted-read-only-cli", code=1, imported={"good.yaml": "Good"}, rejected=["bad.yaml"],
      says=["Report not written to the stick (the stick is read-only)"], needs_root="a read-only mount")
def _(rig):
    rig.stick = rig.mounts(rig.root / "stick", "size=64k,nr_inodes=32")
    rig.put(*GOOD)
    rig.put("bad.yaml", BAD)
    remount_ro(rig.stick)


@case("full-stick-no-report", code=0, imported={"good.yaml": "Good"},
      says=["Report not written to the stick (the stick is full)"], needs_root="a tmpfs")
def _(rig):
    rig.stick = rig.mounts(rig.root / "stick", "size=64k,nr_inodes=5")  # root, stretchbox, good.yaml, 2 more
    rig.put(*GOOD)
    fill(rig.stick / "fill", "inodes")


@case("full-stick-no-space-for-the-report", code=0, imported={"good.yaml": "Good"},
      says=["Report not written to the stick (the stick is full)"], needs_root="a tmpfs", via="device")
def _(rig):
    rig.stick = rig.mounts(rig.root / "stick", "size=16k,nr_inodes=64")
    rig.put(*GOOD)
    fill(rig.stick / "fill", "space")
    rig.notice_says = "no report on the stick: the stick is full"


@case("full-stick-stale-report-replaced", code=0, imported={"good.yaml": "Good"}, says=["Report written to"],
      needs_root="a tmpfs")
def _(rig):
    rig.stick = rig.mounts(rig.root / "stick", "size=64k,nr_inodes=5")
    rig.put(*GOOD)
    rig.put(REPORT_NAME, "stretchbox import report\r\nResult: 7 routines imported (an old import)\r\n")
    fill(rig.stick / "fill", "inodes")


# ---- another user: permissions root would bypass

@case("unreadable-file", code=1, imported={"good.yaml": "Good"}, rejected=["secret.yaml"],
      says=["secret.yaml:1:1: cannot read: Permission denied"], via="nobody")
def _(rig):
    rig.put(*GOOD)
    rig.put("secret.yaml", routine("Secret")).chmod(0)


@case("unreadable-stretchbox-folder", code=2, says=["cannot read: ", "Permission denied"], via="nobody")
def _(rig):
    rig.put(*GOOD)
    rig.folder.chmod(0)


@case("library-parent-not-writable-first-import", code=2, says=["cannot write the library", "Permission denied"],
      baseline=False, via="nobody")
def _(rig):
    rig.put(*GOOD)
    rig.library.parent.mkdir(parents=True)
    rig.library.parent.chmod(0o555)


@case("library-parent-not-writable-re-import", code=2, says=["cannot write the library", "Permission denied"],
      via="nobody")
def _(rig):
    """LIBRARY.versions stays writable: the new version is written and published, then the link cannot be
    made beside LIBRARY; the published version is taken back."""
    rig.put(*GOOD)
    rig.library.parent.chmod(0o555)


# ---- FAT: what a stick written by Windows or macOS holds, read back with mtools

FAT_TOOLS = ("mkfs.vfat", "mcopy", "mmd")


def fat_stick(rig: Rig, tree: dict[str, bytes | None]) -> None:
    """A FAT32 image holding ``tree`` (path -> bytes, None for a folder), extracted as the kernel would show it."""
    missing = [t for t in FAT_TOOLS if shutil.which(t) is None]
    if missing:
        pytest.skip(f"needs dosfstools and mtools ({', '.join(missing)} missing)")
    local = rig.root / "fat-tree"
    for path, content in tree.items():
        target = local / path
        target.parent.mkdir(parents=True, exist_ok=True)
        if content is None:
            target.mkdir(exist_ok=True)
        else:
            target.write_bytes(content)
    img = rig.root / "stick.vfat"
    env = {**os.environ, "LC_ALL": "C.UTF-8", "MTOOLS_SKIP_CHECK": "1"}

    def mtools(*args):
        run = subprocess.run([str(a) for a in args], capture_output=True, text=True, timeout=60, env=env)
        assert run.returncode == 0, (args, run.stderr)

    mtools("mkfs.vfat", "-F", "32", "-n", "STICK", "-C", img, "40000")  # KiB: about the smallest FAT32
    mtools("mcopy", "-s", "-i", img, *sorted(local.iterdir()), "::/")
    mtools("mcopy", "-s", "-i", img, "::/", rig.stick)


@case("fat-laptop-stick", code=1, imported={"POSTRUN.YML": "Post run", "Morning Flow.yaml": "Morning"},
      rejected=["BAD.YML"], says=["._POSTRUN.YML: macOS metadata", "$RECYCLE.BIN: Windows recycle bin"])
def _(rig):
    fat_stick(rig, {
        "STRETCHBOX/POSTRUN.YML": routine("Post run").encode(), "STRETCHBOX/Morning Flow.yaml": routine("Morning").encode(),
        "STRETCHBOX/BAD.YML": BAD.encode(), "STRETCHBOX/._POSTRUN.YML": b"\x00\x05\x16\x07",
        "STRETCHBOX/.DS_Store": b"\x00\x00\x00\x01Bud1", "$RECYCLE.BIN": None, "System Volume Information": None,
        ".Trashes": None,
    })


@case("fat-unicode-long-names", code=0, imported={"Café ü 日本.yaml": "Unicode", "l" * 240 + ".yaml": "Long"})
def _(rig):
    fat_stick(rig, {"stretchbox/Café ü 日本.yaml": routine("Unicode").encode(),
                    "stretchbox/" + "l" * 240 + ".yaml": routine("Long").encode()})


@case("fat-report-name-is-a-folder", code=0, imported={"good.yaml": "Good"},
      says=[f"({REPORT_NAME} is a folder)"])
def _(rig):
    fat_stick(rig, {"stretchbox/good.yaml": GOOD[1].encode(), f"stretchbox/{REPORT_NAME}/x.txt": b"x"})


@case("fat-deep-folders", code=0, imported={"good.yaml": "Good"}, says=["A: a folder; only the files"])
def _(rig):
    fat_stick(rig, {"stretchbox/good.yaml": GOOD[1].encode(),
                    "stretchbox/" + "/".join(["A"] * 30) + "/deep.yaml": routine("Deep").encode()})


# ---------------------------------------------------------------- running the corpus

@pytest.fixture
def walkable_tmp(tmp_path):
    """A temporary folder another user can walk into (pytest's tmp_path is private to root)."""
    if not ROOT:
        yield tmp_path
        return
    root = Path(tempfile.mkdtemp(prefix="stretchbox-nobody-"))
    root.chmod(0o755)
    yield root
    shutil.rmtree(root, ignore_errors=True)


@pytest.mark.parametrize("name", CASES, ids=list(CASES))
def test_hostile_stick(name, request, monkeypatch, capsys, mounts):
    c = CASES[name]
    if c.needs_root and not ROOT:
        pytest.skip(f"needs root: {c.needs_root}")
    root = request.getfixturevalue("walkable_tmp" if c.via == "nobody" else "tmp_path")
    rig = Rig(root / "case", monkeypatch, mounts)
    rig.root.mkdir()
    if c.baseline:
        rig.baseline()
    c.build(rig)
    before = snapshot(rig.library)
    untouched = {path: path.read_bytes() for path in rig.untouched}
    started = time.perf_counter()
    code, out = RUNNERS[c.via](rig, capsys)
    took = time.perf_counter() - started
    monkeypatch.undo()
    verify(rig, code, out, before, c)
    assert code == c.code, out
    assert took < CASE_SECONDS, f"{name}: {took:.1f} s"
    for path, data in untouched.items():
        assert path.read_bytes() == data == rig.untouched[path], path
    if rig.notice_says:
        assert rig.notice_says in rig.notice.text, rig.notice
    if rig.notice_lacks:
        assert rig.notice_lacks not in rig.notice.text, rig.notice


def test_the_corpus_is_big_enough():
    assert len(CASES) >= 40, len(CASES)


# ---------------------------------------------------------------- a full disk at every point of the import

NEW_STICK = {"a.yaml": routine("A", "mine"), "b.yaml": routine("B"), "KEEP.YAML": BAD, "mine.png": png()}


def fill(where: Path, resource: str) -> list[Path]:
    """Take every free inode (or every free page) of ``where``'s file system; returns the fillers."""
    where.mkdir(exist_ok=True)
    taken = []
    while True:
        path = where / str(len(taken))
        try:
            with open(path, "wb") as f:
                f.write(b"x" * (4096 if resource == "space" else 0))
        except OSError as exc:
            assert exc.errno == errno.ENOSPC
            with suppress(FileNotFoundError):
                if path.stat().st_size == 0 and resource == "space":
                    path.unlink()
            return taken
        taken.append(path)


def walk(tmp_path, monkeypatch, capsys, mounts, setup) -> list[int]:
    """Import with 0, 1, 2... units of room left until the import succeeds; verify every outcome."""
    codes = []
    for room in range(60):
        rig = Rig(tmp_path / f"room-{room}", monkeypatch, mounts)
        rig.root.mkdir()
        setup(rig, room)
        for name, content in NEW_STICK.items():
            rig.put(name, content)
        before = snapshot(rig.library)
        code, out = run_main(rig, capsys)
        verify(rig, code, out, before)
        codes.append(code)
        assert "switched, but not flushed" not in out, out  # a version that could not be linked is taken back
        if code == 2:
            assert "cannot write the library" in out and "No space left on device" in out, out
        else:
            assert "A (a.yaml)" not in out and "a.yaml: A" in out
            return codes
    raise AssertionError(f"never succeeded: {codes}")


@pytest.mark.parametrize("resource", ["inodes", "space"])
def test_first_import_on_a_disk_that_runs_out_at_each_point(resource, tmp_path, monkeypatch, capsys, mounts):
    def setup(rig, room):
        options = f"size=1m,nr_inodes={room + 1}" if resource == "inodes" else f"size={(room + 1) * 4}k"
        rig.library = mounts(rig.root / "disk", options) / "library"

    codes = walk(tmp_path, monkeypatch, capsys, mounts, setup)
    assert codes[-1] == 1 and codes.count(2) >= 3, codes  # the walk failed at several points, then succeeded


@pytest.mark.parametrize("resource", ["inodes", "space"])
def test_re_import_on_a_disk_that_runs_out_at_each_point(resource, tmp_path, monkeypatch, capsys, mounts):
    def setup(rig, room):
        disk = mounts(rig.root / "disk", "size=512k,nr_inodes=200")
        rig.library = disk / "library"
        rig.baseline()
        fillers = fill(disk / "fill", resource)
        for path in fillers[:room]:
            path.unlink()

    codes = walk(tmp_path, monkeypatch, capsys, mounts, setup)
    assert codes[-1] == 1 and codes.count(2) >= 3, codes
