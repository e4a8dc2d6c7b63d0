"""Reading small YAML files (routines, config) defensively, keeping line numbers.

Every problem becomes a ``FileProblem`` that prints as ``FILE:LINE:COL: message``.
Hostile input is expected (files come off USB sticks edited on any laptop):
size is capped before reading, bytes are checked before decoding, aliases,
merge keys and non-standard tags are refused, duplicate keys are errors, and
nesting depth is bounded. Nothing here raises anything but ``FileError``.
"""

from __future__ import annotations

import codecs
import os
from dataclasses import dataclass
from pathlib import Path
from collections.abc import Callable
from typing import Any, TypeVar

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from ..core.routine import InvalidRoutine

T = TypeVar("T")

MAX_FILE_BYTES = 64 * 1024
MAX_DEPTH = 12

_PLAIN_TAGS = {
    "tag:yaml.org,2002:str", "tag:yaml.org,2002:int", "tag:yaml.org,2002:float",
    "tag:yaml.org,2002:bool", "tag:yaml.org,2002:null",
}
# Implicitly resolved scalars that routine authors mean as text (a name like 2024-05-01).
_AS_TEXT = {"tag:yaml.org,2002:timestamp", "tag:yaml.org,2002:binary"}


@dataclass(frozen=True, order=True)
class FileProblem:
    file: str
    line: int
    col: int
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.col}: {self.message}"


class FileError(Exception):
    """One or more problems with a file; ``problems`` are in file order."""

    def __init__(self, problems: list[FileProblem]):
        self.problems = sorted(problems)
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
    """SafeLoader that refuses aliases: they are how YAML bombs are built."""

    def compose_node(self, parent: Any, index: Any) -> Node:  # type: ignore[override]
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise yaml.composer.ComposerError(
                None, None, f"aliases (*{event.anchor}) are not allowed in this file", event.start_mark)
        return super().compose_node(parent, index)


def read_text(path: str | os.PathLike, *, display: str | None = None, limit: int = MAX_FILE_BYTES) -> str:
    """Read a small UTF-8 text file, refusing anything that is not one, with a located message."""
    name = display or str(path)
    try:
        with open(path, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            if size > limit:
                raise FileError([FileProblem(name, 1, 1, f"file is {size:,} bytes; the limit is {limit:,}")])
            raw = f.read(limit + 1)
    except FileError:
        raise
    except IsADirectoryError:
        raise FileError([FileProblem(name, 1, 1, "is a folder, not a file")]) from None
    except OSError as exc:
        raise FileError([FileProblem(name, 1, 1, f"cannot read: {exc.strerror or exc}")]) from None
    return decode(raw, name, limit=limit)


def decode(raw: bytes, name: str, *, limit: int = MAX_FILE_BYTES) -> str:
    """Bytes -> text: UTF-8 (with or without BOM), CRLF accepted; everything else explained."""
    def fail(message: str, offset: int = 0) -> FileError:
        line = raw.count(b"\n", 0, offset) + 1
        col = offset - (raw.rfind(b"\n", 0, offset) + 1) + 1
        return FileError([FileProblem(name, line, col, message)])

    if len(raw) > limit:
        raise fail(f"file is over {limit:,} bytes")
    if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)) or _looks_utf16(raw):
        raise fail("file is UTF-16; save it as UTF-8")
    if b"\x00" in raw:
        raise fail("binary file (contains NUL bytes), not YAML text", raw.index(b"\x00"))
    if raw.startswith(codecs.BOM_UTF8):
        raw = raw[len(codecs.BOM_UTF8):]
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        byte = raw[exc.start]
        raise fail(f"not UTF-8 (byte 0x{byte:02X}); save the file as UTF-8", exc.start) from None
    text = text.replace("\r\n", "\n")
    bad = next((i for i, ch in enumerate(text) if ord(ch) < 32 and ch not in "\n\t\r"), None)
    if bad is not None:
        line = text.count("\n", 0, bad) + 1
        col = bad - (text.rfind("\n", 0, bad) + 1) + 1
        raise FileError([FileProblem(name, line, col, f"control character 0x{ord(text[bad]):02X} in text")])
    if not text.strip() or all(not ln.strip() or ln.lstrip().startswith("#") for ln in text.splitlines()):
        raise FileError([FileProblem(name, 1, 1, "file is empty")])
    return text


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
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        message = " ".join(filter(None, [exc.context, exc.problem])) or "not valid YAML"
        raise FileError([FileProblem(name, line, col, f"YAML: {message}")]) from None
    except yaml.YAMLError as exc:
        raise FileError([FileProblem(name, 1, 1, f"YAML: {exc}")]) from None
    except RecursionError:
        raise FileError([FileProblem(name, 1, 1, "YAML is nested too deeply")]) from None
    if node is None:
        raise FileError([FileProblem(name, 1, 1, "file is empty")])
    builder = _Builder(name)
    data = builder.build(node, (), 0)
    return Document(data, name, builder.value_marks, builder.key_marks, builder.problems)


def load(path: str | os.PathLike, *, display: str | None = None) -> Document:
    """Read and parse one YAML file; FileError on any problem."""
    name = display or str(path)
    return parse(read_text(path, display=name), name)


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

    def build(self, node: Node, path: tuple, depth: int) -> Any:
        self.value_marks[path] = (node.start_mark.line + 1, node.start_mark.column + 1)
        if depth > MAX_DEPTH:
            self._at(node, "nested too deeply")
            return None
        if isinstance(node, ScalarNode):
            return self._scalar(node)
        if isinstance(node, SequenceNode):
            if node.tag != "tag:yaml.org,2002:seq":
                self._at(node, f"tag {node.tag} is not allowed")
            return [self.build(child, path + (i,), depth + 1) for i, child in enumerate(node.value)]
        if isinstance(node, MappingNode):
            if node.tag != "tag:yaml.org,2002:map":
                self._at(node, f"tag {node.tag} is not allowed")
            out: dict = {}
            first: dict = {}
            for key_node, value_node in node.value:
                if not isinstance(key_node, ScalarNode):
                    self._at(key_node, "keys must be plain words")
                    continue
                if key_node.tag == "tag:yaml.org,2002:merge":
                    self._at(key_node, "merge keys (<<) are not allowed")
                    continue
                key = str(key_node.value)
                if key in first:
                    self._at(key_node, f"duplicate key '{key}' (first at line {first[key]})")
                    continue
                first[key] = key_node.start_mark.line + 1
                self.key_marks[path + (key,)] = (key_node.start_mark.line + 1, key_node.start_mark.column + 1)
                out[key] = self.build(value_node, path + (key,), depth + 1)
            return out
        self._at(node, "unsupported YAML node")
        return None

    def _scalar(self, node: ScalarNode) -> Any:
        if node.tag in _AS_TEXT:
            return str(node.value)
        if node.tag not in _PLAIN_TAGS:
            self._at(node, f"tag {node.tag} is not allowed")
            return None
        try:
            return self._scalars.construct_object(node)
        except (yaml.YAMLError, ValueError, OverflowError) as exc:
            self._at(node, f"bad value {node.value!r}: {exc}")
            return None


def load_checked(path: str | os.PathLike, build: Callable[[Any], T], *, display: str | None = None) -> T:
    """Read a YAML file and ``build`` a value from its data; every problem, located, as FileError.

    ``build`` validates plain data and raises the core's InvalidRoutine (problems by path).
    """
    doc = load(path, display=display)
    try:
        value = build(doc.data)
    except InvalidRoutine as exc:
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


def display_name(path: Path, base: Path | None = None) -> str:
    """A short file name for messages: relative to ``base`` when inside it."""
    if base is not None:
        try:
            return str(path.relative_to(base))
        except ValueError:
            pass
    return str(path)
