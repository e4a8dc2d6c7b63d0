"""YAML syntax mistakes explained in plain words, one located line each.

Each case is a routine file with one common hand-editing mistake, built in
tmp_path and checked with ``stretchbox validate``: exactly one problem line,
``FILE:LINE:COL: hint (YAML parser said: ...)``, placed on the mistake (which may
be lines above where the parser stopped; then the parser's place is in the
excerpt).
"""

from __future__ import annotations

import re

import pytest

from stretchbox.adapters.yamlhints import explain
from stretchbox.cli import main

GOOD = """\
schema: 1
name: Quick calves
defaults:
  hold: 30s
  rest: 5s
stretches:
  - name: Calf
    icon: calf
    sides: both
  - name: Fold
    icon: wide-leg-fold
"""
LINE = re.compile(r"^(?P<file>.+):(?P<line>\d+):(?P<col>\d+): (?P<hint>.+) \(YAML parser said: (?P<said>[^()]+)\)$")


def edit(old: str, new: str) -> str:
    assert old in GOOD
    return GOOD.replace(old, new, 1)


# id -> (file text, line, column, the hint's words)
CASES = {
    # indentation
    "a key indented one space too far": (edit("    icon: calf", "     icon: calf"), 8, 6,
                                         "this line is indented differently from the lines above it "
                                         "(5 spaces; 'name' on line 7: 4)"),
    "a key indented one space too little": (edit("    icon: calf", "   icon: calf"), 8, 4,
                                            "this line is indented differently from the lines above it "
                                            "(3 spaces; 'name' on line 7: 4)"),
    "a key at the level of its item's dash": (edit("    icon: calf", "  icon: calf"), 8, 3,
                                              "this line is indented differently from the lines above it "
                                              "(2 spaces; 'name' on line 7: 4)"),
    "a default under-indented": (edit("  rest: 5s", " rest: 5s"), 5, 2,
                                 "this line is indented differently from the lines above it "
                                 "(1 space; 'hold' on line 4: 2)"),
    "a top-level key indented": (edit("name: Quick calves", " name: Quick calves"), 2, 2,
                                 "this line is indented differently from the lines above it "
                                 "(1 space; 'schema' on line 1: 0)"),
    "folded text less indented than its first line": (
        edit("    sides: both", "    why: >\n      Calves carry\n     every stride."), 11, 6,
        "this line is indented differently from the lines above it (5 spaces; line 10: 6)"),
    # tabs
    "a tab indenting a line": (edit("    sides: both", "\tsides: both"), 9, 1,
                               "this line is indented with a tab: YAML indents with spaces only "
                               "(use spaces, not tabs)"),
    "a tab after a colon": (edit("name: Quick calves", "name:\tQuick calves"), 2, 6,
                            "a tab after 'name:': outside quotes YAML separates with spaces only "
                            "(use spaces, not tabs)"),
    # colons
    "a key without its colon": (edit("    icon: calf", "    icon calf"), 8, 5,
                                "no ':' after the key: write 'icon: calf'"),
    "a top-level key without its colon": (edit("name: Quick calves", "name Quick calves"), 2, 1,
                                          "no ':' after the key: write 'name: Quick calves'"),
    "no space after a colon": (edit("    icon: calf", "    icon:calf"), 8, 9,
                               "no space after the colon: write 'icon: calf'"),
    "no space after the first key's colon": (edit("schema: 1", "schema:1"), 1, 7,
                                             "no space after the colon: write 'schema: 1'"),
    "a second colon in a value": (edit("name: Quick calves", "name: Calves: quick"), 2, 13,
                                  "a second ': ' in one line: put the value in quotes, like name: \"Calves: quick\""),
    # quotes and brackets
    "an unclosed double quote": (edit("name: Quick calves", 'name: "Quick calves'), 2, 7,
                                 'this " is never closed: end the text with another "'),
    "an unclosed single quote": (edit("    sides: both", "    cue: 'Heel down"), 9, 10,
                                 "this ' is never closed: end the text with another '"),
    "an apostrophe inside single quotes": (edit("    sides: both", "    cue: 'Don't bend'"), 9, 15,
                                           "text after a closing quote: quote the whole value (an apostrophe "
                                           "inside '...' is written '')"),
    "an unclosed bracket": (edit("    sides: both", "    sides: [left"), 9, 12,
                            "this '[' is never closed: end the list with ']' (or write it as lines under the key)"),
    "an unclosed brace": (edit("defaults:\n  hold: 30s\n  rest: 5s", "defaults: {hold: 30s, rest: 5s"), 3, 11,
                          "this '{' is never closed: end the mapping with '}' (or write it as lines under the key)"),
    "a missing comma in a flow list": ("schema: 1\nname: Flow\nstretches: [{name: a} {name: b}]\n", 3, 23,
                                       "a ',' is missing before this: items inside '[...]' are separated by commas"),
    # list items
    "a list item indented too little": (edit("  - name: Fold", " - name: Fold"), 10, 2,
                                        "this list item is indented differently from the items above it "
                                        "(1 space; the '-' on line 7: 2)"),
    "a list item indented too far": (edit("  - name: Fold", "    - name: Fold"), 10, 5,
                                     "this list item is indented differently from the items above it "
                                     "(4 spaces; the '-' on line 7: 2)"),
    "a list item at the top level": (edit("  - name: Fold", "- name: Fold"), 10, 1,
                                     "this list item is indented differently from the items above it "
                                     "(0 spaces; the '-' on line 7: 2)"),
    "a list item under a value": (edit("    sides: both", "    sides: both\n      - name: Extra"), 10, 7,
                                  "this list item is indented differently from the items above it "
                                  "(6 spaces; the '-' on line 7: 2)"),
    "no space after a dash": (edit("  - name: Calf", "  -name: Calf"), 7, 3,
                              "no space after the '-': a list item is written '- name: Calf'"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_each_mistake_gets_one_located_line_in_plain_words(tmp_path, capsys, case):
    text, line, col, hint = CASES[case]
    path = tmp_path / "routine.yaml"
    path.write_text(text, encoding="utf-8")
    capsys.readouterr()
    assert main(["validate", str(path)]) == 1
    out, err = capsys.readouterr()
    lines = err.splitlines()
    assert out == "" and len(lines) == 2 and lines[1] == "1 file with problems", err
    m = LINE.match(lines[0])
    assert m, lines[0]
    assert (m["file"], int(m["line"]), int(m["col"]), m["hint"]) == (str(path), line, col, hint), lines[0]
    assert len(lines[0]) - len(str(path)) <= 200


def test_the_parsers_place_is_kept_when_the_hint_points_elsewhere(tmp_path, capsys):
    path = tmp_path / "r.yaml"
    path.write_text(CASES["no space after a colon"][0], encoding="utf-8")
    main(["validate", str(path)])
    said = LINE.match(capsys.readouterr().err.splitlines()[0])["said"]
    assert said == "could not find expected ':', at 9:5"  # the parser stopped on the next line


def test_a_config_file_gets_the_same_hints(tmp_path, capsys):
    path = tmp_path / "config.yaml"
    path.write_text("buttons:\n  mode: one\n   hold_ms: 800\n", encoding="utf-8")
    assert main(["config", "--check", "--config", str(path)]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"{path}:3:4: this line is indented differently from the lines above it "
                          "(3 spaces; 'mode' on line 2: 2) (YAML parser said: "), err


@pytest.mark.parametrize("text, start", [
    ("schema: 1\nname: !e!x y\n", "YAML: "),  # an undefined tag handle: no hint, the parser's own words
    ("schema: 1\n---\nschema: 1\n", "YAML: "),  # two documents
])
def test_mistakes_without_a_hint_keep_the_parsers_words(tmp_path, capsys, text, start):
    path = tmp_path / "r.yaml"
    path.write_text(text, encoding="utf-8")
    assert main(["validate", str(path)]) == 1
    first = capsys.readouterr().err.splitlines()[0]
    assert first.split(": ", 1)[1].startswith(start), first


def test_explain_reads_only_text():
    assert explain("a: 1\n b: 2\n", "mapping values are not allowed here", (1, 3)).text.startswith(
        "this line is indented differently")
    assert explain("a: 1\n", "something else entirely", (0, 0)) is None
    assert explain("", "could not find expected ':'", None) is None
