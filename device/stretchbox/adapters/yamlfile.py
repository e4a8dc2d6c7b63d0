"""Reading small YAML files (routines, config) defensively, keeping line numbers.

Every problem becomes a ``FileProblem`` that prints as ``FILE:LINE:COL: message``,
one line, the file name escaped (``display_path``) and any text quoted from the
file cut short (``core.text.quote``). Hostile input is expected (files come off
USB sticks edited on any laptop): only regular files are opened, size is capped
before reading, bytes are checked before decoding (NUL, UTF-16, bad UTF-8, and
the characters YAML refuses, each at its own line and column), aliases, merge
keys and tags beyond the plain scalar types are refused, a tagged value that
cannot be what its tag says is a problem, duplicate keys are errors, and nesting
depth is bounded while composing. Nothing here raises anything but ``FileError``.
"""

from __future__ import annotations

import codecs
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from ..core.errors import Invalid, StretchboxError
from ..core.text import excerpt, quote
from .files import NotRegularFile, display_path, read_regular

T = TypeVar("T")

MAX_FILE_BYTES = 64 * 1024
MAX_DEPTH = 12  # mappings and lists inside each other; a routine needs 4
MAX_MESSAGE = 240  # a last guard: messages quote with core.text.quote and stay far shorter
MAX_NUMBER_TEXT = 100  # characters of an int or float scalar; longer ones are not converted

_YAML = "tag:yaml.org,2002:"
_STR, _SEQ, _MAP, _MERGE = _YAML + "str", _YAML + "seq", _YAML + "map", _YAML + "merge"
_PLAIN_TAGS = {_STR, _YAML + "int", _YAML + "float", _YAML + "bool", _YAML + "null"}
# Implicitly resolved scalars that routine authors mean as text (a name like 2024-05-01).
_AS_TEXT = {_YAML + "timestamp", _YAML + "binary"}

# What we accept after decoding: YAML's printable characters, less the ones YAML
# reads as line breaks (NEL, U+2028, U+2029: editors show no break, so every line
# number after them would be wrong), a byte order mark past the start, and CR
# (line ends are made LF first). One character class: a linear-time search.
_REFUSED = re.compile("[^\t\n\x20-\x7e\xa0-\u2027\u202a-\ud7ff\ue000-\ufefe\uff00-\ufffd\U00010000-\U0010ffff]")


@dataclass(frozen=True, order=True)
class FileProblem:
    """One problem at a place in a file. The file name is escaped and the message made one line here,
    whoever builds the problem, so no caller can print a forged or unprintable line."""

    file: str
    line: int
    col: int
    message: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "file", display_path(self.file))
        object.__setattr__(self, "message", excerpt(self.message, MAX_MESSAGE))

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.col}: {self.message}"


class FileError(StretchboxError):
    """One or more problems with a file; ``problems`` are in file order.

    ``unreadable`` is the OSError when the file could not be read at all (an I/O
    error, no permission), as opposed to a file read and found wrong: a caller
    reading its own storage may treat that as the storage failing.
    """

    def __init__(self, problems: list[FileProblem], *, unreadable: OSError | None = None):
        self.problems = sorted(problems)
        self.unreadable = unreadable
        super().__init__("\n".join(str(p) for p in self.problems))


Marks = dict[tuple, tuple[int, int]]


@dataclass
class Document:
    """Plain data from a YAML file plus where each value and key was written."""

    data: Any
    file: str
    value_marks: Marks
    key_marks: Marks
    problems: list[FileProblem]  # structural (duplicate keys, tags): reported with the rest

    def problem(self, path: tuple, message: str, *, at_key: bool = False) -> FileProblem:
        """A problem at ``path`` inside the data, placed on the nearest line we know."""
        table = self.key_marks if at_key else self.value_marks
        probe = tuple(path)
        while probe and probe not in table and probe not in self.value_marks:
            probe = probe[:-1]
        line, col = table.get(probe) or self.value_marks.get(probe) or (1, 1)
        return FileProblem(self.file, line, col, message)


class _Loader(yaml.SafeLoader):
    """SafeLoader that refuses aliases (how YAML bombs are built) and deep nesting while composing.

    The depth check runs before PyYAML recurses, so a file of 30,000 ``[`` is a
    located problem, not a RecursionError.
    """

    def __init__(self, stream: str):
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent: Any, index: Any) -> Node:  # type: ignore[override]
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise yaml.composer.ComposerError(
                None, None, f"aliases (*{excerpt(event.anchor)}) are not allowed in this file", event.start_mark)
        if self._depth >= MAX_DEPTH and not self.check_event(yaml.ScalarEvent):
            raise yaml.composer.ComposerError(
                None, None, f"nested too deeply (more than {MAX_DEPTH} levels)", self.peek_event().start_mark)
        self._depth += 1
        try:
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


def read_text(path: str | os.PathLike, *, display: str | None = None, limit: int = MAX_FILE_BYTES) -> str:
    """Read a small UTF-8 text file, refusing anything that is not one, with a located message."""
    name = display or os.fsdecode(path)
    try:
        size, raw = read_regular(path, limit)
    except NotRegularFile as exc:
        message = "is a folder, not a file" if exc.kind == "a folder" else f"not a regular file: {exc.kind}"
        raise FileError([FileProblem(name, 1, 1, message)]) from None
    except OSError as exc:
        raise FileError([FileProblem(name, 1, 1, f"cannot read: {exc.strerror or exc}")], unreadable=exc) from None
    if size > limit:
        raise FileError([FileProblem(name, 1, 1, f"file is {size:,} bytes; the limit is {limit:,}")])
    return decode(raw, name, limit=limit)


def decode(raw: bytes, name: str, *, limit: int = MAX_FILE_BYTES) -> str:
    """Bytes -> text: UTF-8 (with or without BOM), CRLF and CR accepted; everything else explained.

    A problem is placed where an editor shows it: lines end at LF, CRLF or CR,
    columns count characters, a leading BOM takes no column.
    """
    def fail(message: str, where: tuple[int, int] = (1, 1)) -> FileError:
        return FileError([FileProblem(name, where[0], where[1], message)])

    if len(raw) > limit:
        raise fail(f"file is over {limit:,} bytes")
    if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)) or _looks_utf16(raw):
        raise fail("file is UTF-16; save it as UTF-8")
    if raw.startswith(codecs.BOM_UTF8):
        raw = raw[len(codecs.BOM_UTF8):]
    if b"\x00" in raw:
        raise fail("binary file (contains NUL bytes), not YAML text", _locate_byte(raw, raw.index(b"\x00")))
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise fail(f"not UTF-8 (byte 0x{raw[exc.start]:02X}); save the file as UTF-8",
                   _locate_byte(raw, exc.start)) from None
    text = _lf(text)
    bad = _REFUSED.search(text)
    if bad:
        raise fail(_refused(bad.group()), _locate(text, bad.start()))
    if not text.strip() or all(not ln.strip() or ln.lstrip().startswith("#") for ln in text.splitlines()):
        raise fail("file is empty")
    return text


def _lf(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _locate(text: str, index: int) -> tuple[int, int]:
    """(line, column), both from 1, of ``text[index]`` in LF-only text."""
    start = text.rfind("\n", 0, index) + 1
    return text.count("\n", 0, index) + 1, index - start + 1


def _locate_byte(raw: bytes, offset: int) -> tuple[int, int]:
    """(line, column) of ``raw[offset]``, columns in characters of what decodes before it."""
    before = _lf(raw[:offset].decode("utf-8", "replace"))
    return _locate(before, len(before))


def _refused(ch: str) -> str:
    code = ord(ch)
    if code in (0x85, 0x2028, 0x2029):
        return (f"U+{code:04X} (a Unicode line break) in text: YAML would start a new line there "
                "and editors do not; remove it")
    if code == 0xFEFF:
        return "byte order mark (U+FEFF) inside the text; only the very start of a file may have one"
    if code < 0x20 or 0x7F <= code <= 0x9F:
        return f"control character 0x{code:02X} in text"
    return f"character U+{code:04X} is not allowed in YAML text; remove it"


def _looks_utf16(raw: bytes) -> bool:
    """ASCII text saved as UTF-16 without a BOM: every other byte is zero."""
    if len(raw) < 4:
        return False
    for zeros, chars in ((raw[1::2], raw[0::2]), (raw[0::2], raw[1::2])):
        text_like = sum(32 <= b < 127 or b in (9, 10, 13) for b in chars)
        if zeros.count(0) >= 0.9 * len(zeros) and text_like >= 0.9 * len(chars):
            return True
    return False


def parse(text: str, name: str) -> Document:
    """YAML text -> Document, or FileError with every structural problem found."""
    try:
        node = yaml.compose(text, Loader=_Loader)
    except yaml.MarkedYAMLError as exc:
        raise FileError([_yaml_problem(exc, name, text)]) from None
    except yaml.reader.ReaderError as exc:  # decode() refuses these first; kept located all the same
        line, col = _locate(text, min(exc.position, len(text)))
        raise FileError([FileProblem(name, line, col, f"YAML: {exc.reason}")]) from None
    except yaml.YAMLError as exc:
        raise FileError([FileProblem(name, 1, 1, f"YAML: {excerpt(str(exc), 120)}")]) from None
    except RecursionError:  # the composer's depth check comes first; this is a last guard
        raise FileError([FileProblem(name, 1, 1, "YAML is nested too deeply")]) from None
    if node is None or (isinstance(node, ScalarNode) and node.tag == _YAML + "null" and not node.value):
        raise FileError([FileProblem(name, 1, 1, "file is empty")])  # nothing, or only "---"
    builder = _Builder(name)
    data = builder.build(node, ())
    return Document(data, name, builder.value_marks, builder.key_marks, builder.problems)


def _yaml_problem(exc: yaml.MarkedYAMLError, name: str, text: str) -> FileProblem:
    """PyYAML's error as one located line: a plain-words hint where we know the mistake (placed on the
    mistake, which may be lines above where the parser stopped), with what the parser said after it;
    else where it went wrong, and where what it was reading began."""
    from .yamlhints import explain  # here: only a file YAML refuses needs the hints (`run` reads its config early)

    mark = exc.problem_mark or exc.context_mark
    line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
    context, problem = exc.context or "", exc.problem or ""
    hint = explain(text, problem, (mark.line, mark.column) if mark else None, context,
                   (exc.context_mark.line, exc.context_mark.column) if exc.context_mark else None)
    if hint is not None:
        said = excerpt(problem, 60) or excerpt(context, 60)
        if (hint.line, hint.col) != (line, col):
            said += f", at {line}:{col}"
        return FileProblem(name, hint.line, hint.col, f"{hint.text} (YAML parser said: {said})")
    if context and exc.context_mark and exc.problem_mark and exc.context_mark.line != exc.problem_mark.line:
        context = f"{context} (from line {exc.context_mark.line + 1})"
    message = ": ".join(filter(None, [excerpt(context, 80), excerpt(problem, 100)])) or "not valid YAML"
    return FileProblem(name, line, col, f"YAML: {message}")


def load(path: str | os.PathLike, *, display: str | None = None) -> Document:
    """Read and parse one YAML file; FileError on any problem."""
    name = display or os.fsdecode(path)
    return parse(read_text(path, display=name), name)


def _tag_text(tag: str) -> str:
    """``tag:yaml.org,2002:set`` -> ``!!set``, as it is written in a file."""
    return quote("!!" + tag[len(_YAML):] if tag.startswith(_YAML) else tag).strip("'")


class _Builder:
    """Node graph -> plain Python data, recording marks and refusing what we don't allow."""

    def __init__(self, name: str):
        self.name = name
        self.problems: list[FileProblem] = []
        self.value_marks: Marks = {}
        self.key_marks: Marks = {}
        self._scalars = yaml.SafeLoader("")

    def _at(self, node: Node, message: str) -> None:
        self.problems.append(FileProblem(self.name, node.start_mark.line + 1, node.start_mark.column + 1, message))

    def build(self, node: Node, path: tuple) -> Any:
        self.value_marks[path] = (node.start_mark.line + 1, node.start_mark.column + 1)
        if isinstance(node, ScalarNode):
            return self._scalar(node)
        if isinstance(node, SequenceNode):
            if node.tag != _SEQ:
                self._at(node, f"tag {_tag_text(node.tag)} is not allowed")
            return [self.build(child, path + (i,)) for i, child in enumerate(node.value)]
        if isinstance(node, MappingNode):
            if node.tag != _MAP:
                self._at(node, f"tag {_tag_text(node.tag)} is not allowed")
            out: dict = {}
            first: dict = {}
            for key_node, value_node in node.value:
                key = self._key(key_node)
                if key is None:
                    continue
                if key in first:
                    self._at(key_node, f"duplicate key {quote(key)} (first at line {first[key]})")
                    continue
                first[key] = key_node.start_mark.line + 1
                self.key_marks[path + (key,)] = (key_node.start_mark.line + 1, key_node.start_mark.column + 1)
                out[key] = self.build(value_node, path + (key,))
            return out
        self._at(node, "unsupported YAML node")
        return None

    def _implicit_tag(self, node: ScalarNode) -> str:
        """The tag the value would have without one written: tells ``!!int 3`` from ``!!timestamp 3``."""
        return self._scalars.resolve(ScalarNode, node.value, (True, False)) if node.style is None else _STR

    def _key(self, node: Node) -> str | None:
        """A key's text (``1:``, ``null:`` and ``yes:`` are the words they spell), or None for a list or mapping."""
        if not isinstance(node, ScalarNode):
            self._at(node, "keys must be plain words, not lists or mappings")
            return None
        if node.tag == _MERGE:
            self._at(node, "merge keys (<<) are not allowed")
            return None
        if node.tag not in (_STR, self._implicit_tag(node)):  # reported; the key's text still counts
            self._at(node, f"tag {_tag_text(node.tag)} is not allowed on a key")
        return str(node.value)

    def _scalar(self, node: ScalarNode) -> Any:
        tag = node.tag
        if tag in _AS_TEXT and tag == self._implicit_tag(node):
            return str(node.value)
        if tag not in _PLAIN_TAGS:
            self._at(node, f"tag {_tag_text(tag)} is not allowed")
            return None
        if tag == _STR:
            return str(node.value)
        kind = {"int": "a whole number", "float": "a number", "bool": "true or false", "null": "null"}[tag[len(_YAML):]]
        if kind.endswith("number") and len(node.value) > MAX_NUMBER_TEXT:  # int() of 5,000 digits: refused or slow
            self._at(node, f"{quote(node.value)} is {len(node.value):,} characters long; too long for a number")
            return None
        try:
            return self._scalars.construct_object(node)
        except Exception:  # noqa: BLE001 - PyYAML's constructors on hostile text raise KeyError, IndexError...
            how = "read as" if tag == self._implicit_tag(node) else "tagged"
            self._at(node, f"{quote(node.value)} is not {kind} ({how} {_tag_text(tag)})")
            return None


def load_checked(path: str | os.PathLike, build: Callable[[Any], T], *, display: str | None = None) -> T:
    """Read a YAML file and ``build`` a value from its data; every problem, located, as FileError.

    ``build`` validates plain data and raises the core's Invalid (problems by path: InvalidRoutine, InvalidConfig).
    """
    doc = load(path, display=display)
    try:
        value = build(doc.data)
    except Invalid as exc:
        raise FileError(file_problems_from(doc, exc.problems)) from None
    if doc.problems:
        raise FileError(doc.problems)
    return value


def file_problems_from(doc: Document, problems: list) -> list[FileProblem]:
    """The document's own problems plus core ``Problem``s (paths in the data), located.

    A value the YAML layer already refused is not reported a second time.
    """
    seen = {p.line for p in doc.problems}
    located = [doc.problem(p.path, p.message, at_key=getattr(p, "at_key", False)) for p in problems]
    return doc.problems + [p for p in located if p.line not in seen]

