"""A hostile corpus of routine files: no traceback, no hang, one located line per problem.

Every case is built in ``tmp_path`` at test time and run through ``stretchbox
validate`` in-process (stdout and stderr captured strictly as UTF-8, so an
unprintable name or value fails the test). The invariants, for every case:

- no traceback, and the case finishes well inside a time bound (a hang guard);
- a bad file: exit 1, nothing on stdout, every stderr line ``FILE:LINE:COL: message``
  (one line each, the message at most 200 characters) but the closing count, the
  expected problem at the expected line (and column where given);
- a good file (valid edge cases included): exit 0 and one ``ok:`` line.

The YAML-level cases (broken before any routine field is read) are also run
through ``config --check``, and a handful through real subprocesses (strict
UTF-8 stdout, ``run`` and ``simulate``).
"""

from __future__ import annotations

import codecs
import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from stretchbox.adapters.files import display_path
from stretchbox.adapters.yamlfile import MAX_FILE_BYTES
from stretchbox.cli import main

LOCATION = re.compile(r"^(?P<file>.+):(?P<line>\d+):(?P<col>\d+): (?P<message>.+)$")
SUMMARY = re.compile(r"^\d+ files? with problems$")
MAX_MESSAGE = 200
CASE_SECONDS = 2.0  # generous: a hang guard, not a benchmark
HANG_SECONDS = 20  # SIGALRM ends a case that blocks (a FIFO opened for reading)

GOOD = """\
schema: 1
name: Quick calves
defaults:
  hold: 30s
stretches:
  - name: Calf
    icon: calf
    cue: Heel down.
"""


def good(old: str = "", new: str = "") -> str:
    """GOOD with one piece replaced (``old`` must be there)."""
    assert old in GOOD
    return GOOD.replace(old, new, 1) if old else GOOD


def hold(value: str) -> str:
    """GOOD with the stretch's hold (line 8, column 11) written as ``value``."""
    return GOOD.replace("    cue: Heel down.\n", f"    cue: Heel down.\n    hold: {value}\n")


def name(value: str) -> str:
    """GOOD with the routine's name (line 2, column 7) written as ``value``."""
    return good("name: Quick calves", f"name: {value}")


Content = str | bytes | Callable[[Path], None]


@dataclass(frozen=True)
class Case:
    content: Content  # text, bytes, or a function that makes the file at the path it is given
    expect: str | None = None  # None: valid; else a piece of the expected message
    line: int | None = None
    col: int | None = None
    file_name: str | bytes = "routine.yaml"
    yaml_level: bool = False  # refused before any routine field is read: a config file gets the same
    count: int | None = None  # how many problem lines exactly, when known

    @property
    def valid(self) -> bool:
        return self.expect is None


def bad(content: Content, expect: str, line: int | None = None, col: int | None = None, **kw) -> Case:
    return Case(content, expect, line, col, **kw)


def yaml_bad(content: Content, expect: str, line: int | None = None, col: int | None = None, **kw) -> Case:
    """Refused by the loader itself: exactly one line unless ``count`` says otherwise."""
    return Case(content, expect, line, col, yaml_level=True, **{"count": 1, **kw})


def fifo(path: Path) -> None:
    os.mkfifo(path)


def unix_socket(path: Path) -> None:
    s = socket.socket(socket.AF_UNIX)
    s.bind(str(path))
    s.close()  # the socket file stays


def folder(path: Path) -> None:
    path.mkdir()
    (path / "notes.txt").write_text(GOOD)


def link_to(target: str) -> Callable[[Path], None]:
    return lambda path: path.symlink_to(target)


def link_to_good(path: Path) -> None:
    real = path.parent / "real-file.txt"
    real.write_text(GOOD)
    path.symlink_to(real)


BOMB = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}]\n"
    for i in range(9))
DEEP_BLOCK = "schema: 1\n" + "".join(f"{'  ' * i}a:\n" for i in range(200)) + "  " * 200 + "x\n"
PADDED_TO_LIMIT = GOOD + "#" * (MAX_FILE_BYTES - len(GOOD) - 1) + "\n"
DUPLICATES = GOOD + "".join("name: again\n" for _ in range(1000))
HUNDRED = "schema: 1\nname: Long\nstretches:\n" + "  - {name: S, icon: calf}\n" * 100

CASES: dict[str, Case] = {
    # ---- explicit tags with content they cannot hold, or that we refuse
    "tag bool maybe": yaml_bad(name("!!bool maybe"), "'maybe' is not true or false", 2, 7),
    "tag int empty": yaml_bad(hold('!!int ""'), "'' is not a whole number", 9, 11),
    "tag int sign only": yaml_bad(hold("!!int \"-\""), "'-' is not a whole number", 9, 11),
    "tag int bad hex": yaml_bad(hold("!!int 0xZZ"), "is not a whole number", 9, 11),
    "plain 0x_": yaml_bad(hold("0x_"), "'0x_' is not a whole number (read as !!int)", 9, 11),
    "tag bool too long": yaml_bad(name("!!bool " + "y" * 5000), "is not true or false (tagged !!bool)", 2, 7),
    "tag float x": yaml_bad(hold('!!float "x"'), "'x' is not a number", 9, 11),
    "tag bool empty": yaml_bad(name('!!bool ""'), "is not true or false", 2, 7),
    "tag timestamp nope": yaml_bad(name('!!timestamp "nope"'), "tag !!timestamp is not allowed", 2, 7),
    "tag binary garbage": yaml_bad(name('!!binary "%%%"'), "tag !!binary is not allowed", 2, 7),
    "tag python object": yaml_bad(name("!!python/object:os.system x"), "tag !!python/object:os.system", 2, 7),
    "tag python apply": yaml_bad(name("!!python/object/apply:os.system ['true']"), "is not allowed", 2, 7),
    "tag set": yaml_bad(name("!!set {a, b}"), "tag !!set is not allowed", 2, 7),
    "tag omap scalar": yaml_bad(name("!!omap weird"), "tag !!omap is not allowed", 2, 7),
    "tag str on a mapping": yaml_bad(name("!!str {a: b}"), "tag !!str is not allowed", 2, 7),
    "local tag": yaml_bad(name("!shout loud"), "tag !shout is not allowed", 2, 7),
    "long local tag": yaml_bad(name("!" + "t" * 5000 + " x"), "is not allowed", 2, 7),
    "tag on a key": yaml_bad(good("name: Quick calves", "!!python/str name: x"), "is not allowed on a key", 2, 1),
    "int tag on a key": yaml_bad(good("name: Quick calves", "!!int name: x"), "is not allowed on a key", 2, 1),
    "tag on the document": yaml_bad("--- !foo\n" + GOOD, "tag !foo is not allowed", 1, 5),
    "tag from a TAG directive": yaml_bad("%TAG !e! tag:example.com,2000:\n---\n" + GOOD.replace(
        "name: Quick calves", "name: !e!thing x"), "tag tag:example.com,2000:thing is not allowed", 4, 7),
    "undefined tag handle": yaml_bad(name("!e!x y"), "undefined tag handle", 2),
    "YAML 2.0 directive": yaml_bad("%YAML 2.0\n---\n" + GOOD, "incompatible YAML document", 1),
    # ---- characters YAML refuses, and the ones that would shift its line numbers
    "DEL": yaml_bad(name("a\x7fb"), "control character 0x7F", 2, 8),
    "U+0080": yaml_bad(name("a\x80b"), "control character 0x80", 2, 8),
    "escape character": yaml_bad(name("a\x1b[31mred"), "control character 0x1B", 2, 8),
    "U+FFFE": yaml_bad(name("ab\ufffe"), "U+FFFE", 2, 9),
    "U+2028 in a comment": yaml_bad(GOOD.replace("defaults:", "defaults:  # x\u2028y"), "U+2028", 3, 15),
    "U+2029": yaml_bad(name("a\u2029b"), "U+2029", 2, 8),
    "NEL": yaml_bad(name("a\x85b"), "U+0085", 2, 8),
    "NUL": yaml_bad(GOOD.encode().replace(b"Heel", b"He\x00el"), "binary file", 8, 12),
    "surrogate bytes": yaml_bad(GOOD.encode().replace(b"Calf", b"Ca\xed\xa0\x80lf"), "not UTF-8 (byte 0xED)", 6, 13),
    "invalid byte after accents": yaml_bad(GOOD.encode().replace(b"Calf", "Caé".encode() + b"\xff"),
                                           "not UTF-8 (byte 0xFF)", 6, 14),
    "overlong encoding": yaml_bad(GOOD.encode().replace(b"Calf", b"C\xc0\xafalf"), "not UTF-8", 6, 12),
    "truncated at the end": yaml_bad(GOOD.encode() + b"# \xe2\x82", "not UTF-8", 9, 3),
    "BOM in the middle": yaml_bad(GOOD.replace("stretches:", "\ufeffstretches:"), "byte order mark", 5, 1),
    "latin-1": yaml_bad(name("Mollets \xe9t\xe9").encode("latin-1"), "not UTF-8 (byte 0xE9)", 2, 15),
    "UTF-16": yaml_bad(GOOD.encode("utf-16"), "UTF-16", 1, 1),
    "UTF-16 without BOM": yaml_bad(GOOD.encode("utf-16-le"), "UTF-16", 1, 1),
    "binary junk": yaml_bad(bytes(range(256)) * 4, "binary file", 1),
    "tab in indentation": yaml_bad(GOOD.replace("    icon: calf", "\ticon: calf"), "use spaces, not tabs", 7, 1),
    "tab after a value": yaml_bad(name("Quick calves\t"), "use spaces, not tabs", 2, 19),
    "control char by escape": bad(name('"a\\0b"'), "contains the invisible or control character '\\x00'", 2, 7),
    "bidi override in name": bad(name("abc\u202edef"), "control character '\\u202e'", 2, 7),
    "lone surrogate by escape in a key": bad(good("name: Quick calves", 'name: X\n"\\ud800": x'),
                                             "unknown key '\\ud800'", 3, 1),
    "newline in a key": bad(good("name: Quick calves", 'name: X\n"a\\nb": x'), "unknown key 'a\\nb'", 3, 1),
    "escape sequence in a key": bad(good("name: Quick calves", 'name: X\n"\\e[2J": x'), "unknown key '\\x1b[2J'", 3),
    "unknown escape": yaml_bad(name('"a\\qb"'), "unknown escape character", 2),
    # ---- size: long numbers, keys, lines; what a message may quote
    "5,000-digit number": yaml_bad(hold("9" * 5000), "5,000 characters long", 9, 11),
    "4,000-digit tagged int": yaml_bad(hold("!!int " + "9" * 4000), "too long for a number", 9, 11),
    "sexagesimal bomb": yaml_bad(hold(":".join(["1"] * 30000)), "too long for a number", 9, 11),
    "50,000-character key": bad(good("name: Quick calves", "name: X\n? " + "k" * 50_000 + "\n: 1"),
                                "unknown key 'kkkk", 3, 3),
    "2,000-character simple key": yaml_bad(good("name: Quick calves", "name: X\n" + "k" * 2000 + ": 1"),
                                           "could not find expected ':'"),
    "60 KB name": bad(name("n" * 60_000), "60000 characters; at most 40", 2, 7),
    "60 KB sides": bad(GOOD.replace("icon: calf", "icon: calf\n    sides: " + "s" * 60_000), "sides must be one of", 8),
    "60 KB schema list": bad(good("schema: 1", "schema: [" + "1, " * 20_000 + "1]"), "unsupported schema", 1, 9),
    "duration of 60 KB spaces": bad(hold('"1m' + " " * 60_000 + 'x"'), "expected a duration", 9, 11),
    "duration of only spaces": bad(hold('"' + " " * 60_000 + '"'), "expected a duration", 9, 11),
    "duration folded over spaces": bad(hold("1" + " " * 30_000 + "m" + " " * 30_000 + "x"), "expected a duration"),
    "too big": yaml_bad(GOOD + "# padding\n" * (MAX_FILE_BYTES // 10), "the limit is", 1, 1),
    "a thousand duplicate keys": yaml_bad(DUPLICATES, "duplicate key 'name' (first at line 2)", 9, 1,
                                          count=1000),
    "1.0e+999": bad(hold("1.0e+999"), "got infinity", 9, 11),
    "1e999 is text in YAML 1.1": bad(hold("1e999"), "got '1e999'", 9, 11),
    # ---- unicode digits and look-alikes in durations
    "superscript two": bad(hold('"²"'), "'²' is not one of the digits 0-9", 9, 11),
    "full-width digits": bad(hold('"３０"'), "'３' in '３０' is not one of the digits 0-9", 9, 11),
    "arabic-indic digits": bad(hold("٣٠s"), "not one of the digits 0-9", 9, 11),
    "letter O for zero": bad(hold("3O"), "did you mean '30'?", 9, 11),
    "half": bad(hold("½m"), "not one of the digits 0-9", 9, 11),
    # ---- structure
    "empty": yaml_bad("", "file is empty", 1, 1),
    "only a comment": yaml_bad("# nothing here\n", "file is empty", 1, 1),
    "only a document marker": yaml_bad("---\n...\n", "file is empty", 1, 1),
    "only blank lines": yaml_bad("\n\n   \n\t\n", "file is empty", 1, 1),
    "a list at the top": bad("- 1\n- 2\n", "expected a mapping, got a list", 1, 1),
    "a scalar at the top": bad("hello\n", "expected a mapping, got text", 1, 1),
    "null at the top": bad("~\n", "expected a mapping", 1, 1),
    "200 levels of block nesting": yaml_bad(DEEP_BLOCK, "nested too deeply", 14, 25),
    "60 KB of [": yaml_bad("[" * 60_000, "nested too deeply", 1, 13),
    "200 levels of flow mappings": yaml_bad("{a: " * 200 + "x" + "}" * 200, "nested too deeply", 1, 49),
    "billion laughs": yaml_bad(BOMB, "aliases (*a) are not allowed", 2),
    "merge key": yaml_bad(GOOD.replace("  - name: Calf", "  - <<: {icon: calf}\n    name: Calf"),
                          "merge keys (<<) are not allowed", 6, 5),
    "two documents": yaml_bad(GOOD + "---\n" + GOOD, "expected a single document", 9),
    "unclosed quote": yaml_bad(name('"Quick'), 'this " is never closed', 2, 7),
    "unclosed flow list": yaml_bad(good("stretches:", "stretches: [\n"), "this '[' is never closed", 5, 12),
    "duplicate key deep down": yaml_bad(GOOD.replace("    cue: Heel down.", "    cue: a\n    cue: b"),
                                        "duplicate key 'cue' (first at line 8)", 9, 5),
    "integer key": bad(good("name: Quick calves", "name: X\n1: x"), "unknown key '1'", 3, 1),
    "null key": bad(good("name: Quick calves", "name: X\nnull: x"), "unknown key 'null'", 3, 1),
    "boolean key": bad(good("name: Quick calves", "name: X\nyes: x"), "unknown key 'yes'", 3, 1),
    "list as a key": yaml_bad(good("name: Quick calves", "name: X\n? [a]\n: b"), "keys must be plain words", 3, 3),
    "mapping as a key": yaml_bad(good("name: Quick calves", "name: X\n? {a: b}\n: c"), "keys must be plain", 3, 3),
    "NaN hold": bad(hold(".nan"), "got not-a-number", 9, 11),
    "inf hold": bad(hold(".inf"), "got infinity", 9, 11),
    "minus inf hold": bad(hold("-.inf"), "got infinity", 9, 11),
    "negative hold": bad(hold("-5"), "cannot be negative", 9, 11),
    "boolean hold": bad(hold("yes"), "got true/false", 9, 11),
    "fractional hold": bad(hold("1.5"), "whole seconds", 9, 11),
    "hours": bad(hold("1h"), "expected a duration", 9, 11),
    "2**64 hold": bad(hold(str(2 ** 64)), "is longer than the 3600 s limit", 9, 11),
    "list hold": bad(hold("[30]"), "got a list", 9, 11),
    "schema 2": bad(good("schema: 1", "schema: 2"), "unsupported schema 2", 1, 9),
    "schema as text": bad(good("schema: 1", 'schema: "1"'), "unsupported schema '1'", 1, 9),
    "no schema": bad(GOOD.replace("schema: 1\n", ""), "missing required key 'schema'", 1, 1),
    "stretches a mapping": bad(GOOD.split("stretches:")[0] + "stretches: {a: 1}\n", "must be a list", 5, 12),
    "101 stretches": bad(HUNDRED + "  - {name: S, icon: calf}\n", "101 stretches; at most 100", 4, 3),
    "icon with a folder": bad(good("icon: calf", "icon: ../etc/passwd"), "icon '../etc/passwd' must be", 7, 11),
    "41-character name": bad(name("n" * 41), "at most 40", 2, 7),
    "null name": bad(name("!!null hello"), "must be text, got nothing", 2, 7),
    # ---- what the file is, and what it is called
    "a folder": yaml_bad(folder, "folder", 1, 1),  # validate: no routine files in it; config: not a file
    "a FIFO": yaml_bad(fifo, "not a regular file: a FIFO (named pipe)", 1, 1),
    "a socket": yaml_bad(unix_socket, "not a regular file: a socket", 1, 1),
    "a character device": yaml_bad(link_to("/dev/zero"), "not a regular file: a character device", 1, 1),
    "a symlink loop": yaml_bad(lambda path: path.symlink_to(path.name), "cannot read: Too many levels", 1, 1),
    "a name too long to look up": yaml_bad(lambda path: None, "cannot read: File name too long", 1, 1,
                                           file_name="n" * 300 + ".yaml"),
    "a name that is not UTF-8": yaml_bad("[", "YAML", file_name=b"bad-\xff-name.yaml"),
    "a name with a newline": yaml_bad("[", "YAML", file_name="two\nlines.yaml"),
    "a name with a terminal escape": yaml_bad("[", "YAML", file_name="\x1b[2Jclear.yaml"),
    "a name with a bidi override": yaml_bad("[", "YAML", file_name="evil\u202elmay.yaml"),
    # ---- valid edge cases that must stay accepted
    "valid": Case(GOOD),
    "BOM at the start": Case(codecs.BOM_UTF8 + GOOD.encode()),
    "BOM and CRLF": Case(codecs.BOM_UTF8 + GOOD.replace("\n", "\r\n").encode()),
    "CR-only line ends": Case(GOOD.replace("\n", "\r")),
    "no final newline": Case(GOOD.rstrip("\n")),
    "accents, CJK and emoji": Case(name("Étirements 伸展 🧘")),
    "tabs and NBSP inside text": Case(good("cue: Heel down.", 'cue: "Heel\\tdown,\u00a0lean in.\t"')),
    "explicit plain tags": Case(GOOD.replace("name: Quick calves", "name: !!str 2024-05-01").replace(
        "hold: 30s", "hold: !!int 30")),
    "non-specific tag": Case(name("! Quick")),
    "date-like name": Case(name("2024-05-01")),
    "anchor without alias": Case(name("&n Quick calves")),
    "flow style": Case("{schema: 1, name: Flow, stretches: [{name: Calf, icon: calf, hold: 1m}]}\n"),
    "document markers and comments": Case("%YAML 1.1\n--- # a routine\n" + GOOD + "...\n# the end\n"),
    "quoted keys": Case(GOOD.replace("name: Quick calves", '"name": Quick calves')),
    "folded and literal text": Case(good("cue: Heel down.", "cue: >\n      Heel down,\n      lean in.\n    why: |\n"
                                                        "      Calves carry\n      every stride.")),
    "durations in every form": Case(GOOD.replace("hold: 30s", "hold: 45.0\n  prepare: '5'\n  rest: 1M 5S\n"
                                                             "  switch: \" 0m 5s \"")),
    "sexagesimal hold": Case(hold("1:30")),
    "hex hold": Case(hold("0x1E")),
    "name of exactly 40": Case(name("n" * 40)),
    "100 stretches": Case(HUNDRED),
    "a 60 KB comment line": Case(GOOD + "# " + "c" * 60_000 + "\n"),
    "exactly at the size limit": Case(PADDED_TO_LIMIT),
    "a symlink to a file": Case(link_to_good),
    "a name that is not UTF-8, valid": Case(GOOD, file_name=b"caf\xe9.yaml"),
    "a name with a newline, valid": Case(GOOD, file_name="a\nb.yaml"),
}


def make(tmp_path: Path, case: Case) -> Path:
    path = tmp_path / os.fsdecode(case.file_name)
    if callable(case.content):
        case.content(path)
    else:
        path.write_bytes(case.content if isinstance(case.content, bytes) else case.content.encode())
    return path


class Hang(Exception):
    pass


@contextlib.contextmanager
def hang_guard(seconds: int = HANG_SECONDS):
    """Turn a blocked call into a failure (SIGALRM interrupts a blocking open or read)."""
    def alarm(signum, frame):
        raise Hang(f"still running after {seconds} s")
    previous = signal.signal(signal.SIGALRM, alarm)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def run_cli(argv: list[str], capsys) -> tuple[int, str, str, float]:
    """``stretchbox ARGV`` in this process; capsys's streams are strict UTF-8, like a pipe."""
    capsys.readouterr()
    started = time.perf_counter()
    with hang_guard():
        code = main(argv)
    elapsed = time.perf_counter() - started
    out, err = capsys.readouterr()
    return code, out, err, elapsed


def assert_located(path: Path, case: Case, lines: list[str], *, count: bool = True) -> None:
    """Every line FILE:LINE:COL: message for this file, short; the expected problem among them."""
    assert lines, "no problem reported"
    assert not count or case.count is None or len(lines) == case.count, f"{len(lines)} lines: {lines[:3]}"
    assert len(set(lines)) == len(lines), "a problem reported twice"
    shown = display_path(path)
    found = []
    for line in lines:
        m = LOCATION.match(line)
        assert m, f"not FILE:LINE:COL: message: {line[:300]!r}"
        assert m["file"] == shown, line[:300]
        assert len(m["message"]) <= MAX_MESSAGE, f"message of {len(m['message'])} characters: {line[:300]!r}"
        assert "Traceback" not in line and "Error:" not in m["message"], line
        found.append((int(m["line"]), int(m["col"]), m["message"]))
    wanted = [(ln, col, msg) for ln, col, msg in found if case.expect in msg]
    assert wanted, f"expected {case.expect!r} in {found[:5]}"
    if case.line is not None:
        assert any(ln == case.line for ln, _, _ in wanted), f"expected line {case.line}: {wanted[:3]}"
    if case.col is not None:
        assert any((ln, col) == (case.line, case.col) for ln, col, _ in wanted), \
            f"expected {case.line}:{case.col}: {wanted[:3]}"


def check_validate(path: Path, case: Case, code: int, out: str, err: str) -> None:
    assert "Traceback" not in out + err
    if case.valid:
        assert (code, err) == (0, ""), err[:1000]
        assert out.startswith(f"ok: {display_path(path)}: ") and out.count("\n") == 1, out[:300]
        return
    assert code == 1, (out + err)[:1000]
    assert out == ""
    lines = err.splitlines()
    assert SUMMARY.match(lines[-1]), lines[-1][:300]
    assert_located(path, case, lines[:-1])


@pytest.mark.parametrize("case_id", list(CASES))
def test_validate_every_case(tmp_path, capsys, case_id):
    case = CASES[case_id]
    path = make(tmp_path, case)
    code, out, err, elapsed = run_cli(["validate", str(path)], capsys)
    check_validate(path, case, code, out, err)
    assert elapsed < CASE_SECONDS, f"{elapsed:.2f} s"


YAML_LEVEL = [k for k, c in CASES.items() if c.yaml_level]


@pytest.mark.parametrize("case_id", YAML_LEVEL)
def test_config_check_reports_yaml_level_cases_the_same_way(tmp_path, capsys, case_id):
    case = CASES[case_id]
    path = make(tmp_path, case)
    code, out, err, elapsed = run_cli(["config", "--check", "--config", str(path)], capsys)
    assert "Traceback" not in out + err
    if case.expect == "file is empty":  # a config of only comments means the defaults
        assert code == 0 and out.startswith("ok: ")
        return
    assert (code, out) == (1, ""), (out + err)[:1000]
    assert_located(path, case, err.splitlines(), count=False)  # a routine's keys are unknown to a config
    assert elapsed < CASE_SECONDS, f"{elapsed:.2f} s"


def test_the_corpus_is_big_and_varied():
    assert len(CASES) >= 60
    assert sum(c.valid for c in CASES.values()) >= 20
    assert len(YAML_LEVEL) >= 30


def test_a_folder_of_hostile_files_in_one_run(tmp_path, capsys):
    """Every case side by side in one folder: one run, each file's own lines, the count right."""
    bad_files = 0
    for i, (case_id, case) in enumerate(CASES.items()):
        if case.file_name != "routine.yaml" or callable(case.content) and case_id not in ("a FIFO", "a folder"):
            continue
        make(tmp_path, Case(case.content, file_name=f"case-{i:03d}.yaml"))
        bad_files += not case.valid
    code, out, err, elapsed = run_cli(["validate", str(tmp_path)], capsys)
    assert code == 1 and "Traceback" not in err
    assert err.splitlines()[-1] == f"{bad_files} files with problems"
    assert all(LOCATION.match(line) for line in err.splitlines()[:-1])
    assert elapsed < 15


# ---------------------------------------------------------------- real processes, strict UTF-8 output

STRICT = {**os.environ, "PYTHONIOENCODING": "utf-8:strict", "LC_ALL": "C.UTF-8"}


def run_process(*argv: str | Path, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "stretchbox", *map(str, argv)], capture_output=True,
                          env=STRICT, timeout=timeout, cwd="/")


@pytest.mark.parametrize("case_id", [
    "a name that is not UTF-8", "a name with a newline", "a name that is not UTF-8, valid",
    "a name with a newline, valid", "a FIFO", "lone surrogate by escape in a key", "escape sequence in a key",
    "50,000-character key",
])
def test_validate_in_a_real_process_with_strict_utf8_output(tmp_path, case_id):
    case = CASES[case_id]
    path = make(tmp_path, case)
    proc = run_process("validate", path, timeout=HANG_SECONDS)
    out, err = proc.stdout.decode("utf-8"), proc.stderr.decode("utf-8")  # strict: raises on anything else
    check_validate(path, case, proc.returncode, out, err)


@pytest.mark.parametrize("command", [["run", "--display", "text", "--pins", "mock"], ["simulate"]])
@pytest.mark.parametrize("case_id", ["tag bool maybe", "a FIFO", "a name that is not UTF-8", "DEL"])
def test_run_and_simulate_refuse_hostile_files_with_located_lines(tmp_path, command, case_id):
    case = CASES[case_id]
    path = make(tmp_path, case)
    proc = run_process(*command, path, timeout=HANG_SECONDS)
    err = proc.stderr.decode("utf-8")
    assert proc.returncode == 1 and "Traceback" not in err, err[:1000]
    assert_located(path, case, [line for line in err.splitlines() if line.strip()])


def test_config_check_in_a_real_process_with_a_hostile_name(tmp_path):
    path = tmp_path / os.fsdecode(b"conf\xff\n.yaml")
    path.write_text("buttons: {mode: !!bool maybe}\n")
    proc = run_process("config", "--check", "--config", path, timeout=HANG_SECONDS)
    err = proc.stderr.decode("utf-8")
    assert proc.returncode == 1 and err == f"{display_path(path)}:1:17: 'maybe' is not true or false (tagged !!bool)\n"
    path.write_text("buttons: {mode: one}\n")
    proc = run_process("config", "--check", "--config", path, timeout=HANG_SECONDS)
    assert proc.returncode == 0 and proc.stdout.decode("utf-8") == f"ok: {display_path(path)}\n"


# ---------------------------------------------------------------- the helpers every message goes through

def test_patterns_applied_to_user_text_run_in_linear_time():
    """60 KB shapes that make a backtracking pattern crawl (the old duration pattern took ~20 s)."""
    from stretchbox.config import parse_config  # pin names: no pattern any more, a length cap and a shape check
    from stretchbox.core.routine import ICON_NAME, parse_duration

    shapes = ["1m" + " " * 60_000 + "x", " " * 60_000, "1" + " " * 30_000 + "m" + " " * 30_000 + "x",
              "1" * 60_000 + "x", "1m" * 30_000, "9" * 60_000]
    started = time.perf_counter()
    for text in shapes:
        with pytest.raises(ValueError):
            parse_duration(text)
        ICON_NAME.match(text)
        assert parse_config({"buttons": {"a": text}})[1]
    assert time.perf_counter() - started < 1.0


def test_printable_escapes_once_and_only_what_it_must():
    from stretchbox.core.text import excerpt, printable, quote

    nasty = "a\nb\r\t\x1b[2J\x7f\x85\u2028\u202e\ufeff\udcff\ud800\U000e0001"
    shown = printable(nasty)
    assert shown == "a\\nb\\r\\t\\x1b[2J\\x7f\\x85\\u2028\\u202e\\ufeff\\xff\\ud800\\U000e0001"
    assert shown.isprintable() and printable(shown) == shown  # idempotent: safe to apply at every layer
    assert printable("Étirements 伸展 🧘 C:\\x") == "Étirements 伸展 🧘 C:\\x"
    assert excerpt("\n" * 1000, 10) == "\\n" * 5 + "…" and len(excerpt("k" * 10**6)) == 41
    assert quote(-(10 ** 5000)) == "a negative number with 5001 digits"
    assert quote({"a": [[["deep"]]]}) == "{'a': [[…]]}"  # two levels shown, no more


def test_display_path_shows_undecodable_bytes_and_control_characters_escaped():
    assert display_path(os.fsdecode(b"/media/stick/\xff\xfe.yaml")) == "/media/stick/\\xff\\xfe.yaml"
    assert display_path(Path("two\nlines.yaml")) == "two\\nlines.yaml"
    assert display_path(b"caf\xc3\xa9.yaml") == "café.yaml"
    shown = display_path(os.fsdecode(b"\xff\n\x1b"))
    shown.encode("utf-8")  # strict: no surrogate left


def test_read_regular_opens_nothing_but_regular_files(tmp_path):
    from stretchbox.adapters.files import NotRegularFile, read_regular

    (tmp_path / "f.yaml").write_bytes(b"x" * 100)
    assert read_regular(tmp_path / "f.yaml", 1000) == (100, b"x" * 100)
    assert read_regular(tmp_path / "f.yaml", 10) == (100, b"")  # over the limit: not read at all
    os.mkfifo(tmp_path / "pipe.yaml")
    (tmp_path / "link.yaml").symlink_to(tmp_path / "f.yaml")
    with hang_guard(5):
        with pytest.raises(NotRegularFile) as exc:
            read_regular(tmp_path / "pipe.yaml", 1000)
    assert exc.value.kind == "a FIFO (named pipe)"
    assert read_regular(tmp_path / "link.yaml", 1000)[0] == 100
    with pytest.raises(NotRegularFile) as exc:
        read_regular(tmp_path / "link.yaml", 1000, follow_symlinks=False)
    assert exc.value.kind == "a symbolic link"
    with pytest.raises(NotRegularFile):
        read_regular(tmp_path, 1000)


def test_validate_names_missing_paths_escaped(tmp_path, capsys):
    missing = tmp_path / os.fsdecode(b"gone\xff\n.yaml")
    code, out, err, _ = run_cli(["validate", str(missing)], capsys)
    assert code == 2 and "gone\\xff\\n.yaml" in err and err.count("\n") == 1
