"""Plain words for the YAML mistakes people make by hand, on top of what the parser says.

PyYAML names the token it choked on, often a line after the mistake:
"mapping values are not allowed here" for a line indented one space too far,
"could not find expected ':'" on the line after a ``name:Calf``. ``explain``
looks at the text around the parser's marks and, for the common mistakes, says
what is wrong and where it is:

- a line indented differently from the lines above it (more, less, or a key at
  the level of its list's ``-``), naming the line it should line up with;
- a list item (``- ``) at the wrong level, or ``-name`` with no space after the dash;
- a tab (YAML indents with spaces only);
- a key with no ``:``, or no space after its ``:`` (``name:Calf``);
- a second ``: `` in a value (``name: Calf: left``), or text after a closing quote
  (``cue: 'Don't bend'``);
- a quote, ``[`` or ``{`` never closed: placed where it was opened.

Anything else gets no hint (the caller shows the parser's own words). Pure text
work: no YAML library here, so each rule is tested on the text alone.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..core.text import excerpt, quote

SHORT = 20  # characters of the file's own text a hint quotes

Mark = tuple[int, int]  # (line, column), both from 0, as PyYAML counts


@dataclass(frozen=True)
class Hint:
    line: int  # from 1, where the mistake is (not always where the parser stopped)
    col: int
    text: str


def explain(text: str, problem: str, problem_mark: Mark | None, context: str = "",
            context_mark: Mark | None = None) -> Hint | None:
    """A plain-words hint for one PyYAML error, or None when it is not a mistake we know."""
    if problem_mark is None:
        return None
    lines = text.split("\n")
    line, col = problem_mark
    if not 0 <= line < len(lines) + 1:
        return None
    for rule in _RULES:
        hint = rule(lines, problem, (line, col), context, context_mark)
        if hint is not None:
            return hint
    return None


# ---------------------------------------------------------------- reading lines

_KEY = re.compile(r"(?P<lead>[ ]*(?:-[ ]+)*)(?P<key>[^\s#:'\"\[\]{},][^:#]*?):(?:[ \t]|$)")


def _is_content(text: str) -> bool:
    stripped = text.strip()
    return bool(stripped) and not stripped.startswith("#")


def _indent(text: str) -> int:
    return len(text) - len(text.lstrip(" "))


def _previous(lines: list[str], index: int) -> int | None:
    """The nearest line above ``index`` holding something (not blank, not only a comment)."""
    for i in range(min(index, len(lines)) - 1, -1, -1):
        if _is_content(lines[i]):
            return i
    return None


def _line(lines: list[str], index: int) -> str:
    return lines[index] if 0 <= index < len(lines) else ""


def _spaces(n: int) -> str:
    return f"{n} space{'s' if n != 1 else ''}"


def _content_col(text: str) -> int:
    """Where a line's content starts once its list dashes are skipped: ``  - name: x`` -> 4."""
    m = re.match(r"[ ]*(?:-[ ]+)*", text)
    return m.end() if m else 0


def _who(lines: list[str], index: int) -> str:
    """How to name a line in a hint: its key (``'hold' on line 3``) or just the line."""
    m = _KEY.match(lines[index])
    return f"{_short(m['key'].strip())} on line {index + 1}" if m else f"line {index + 1}"


def _short(text: str) -> str:
    """Text from the file, quoted and cut short: hints stay one short line."""
    return quote(excerpt(text, SHORT))


def _is_item(text: str) -> bool:
    return re.match(r"[ ]*-(?:[ ]|$)", text) is not None


# ---------------------------------------------------------------- the rules, tried in order

def _tab(lines, problem, at, context, context_mark):
    if "'\\t'" not in problem:
        return None
    line, col = at
    before = _line(lines, line)[:col]
    if not before.strip(" \t"):
        return Hint(line + 1, col + 1, "this line is indented with a tab: YAML indents with spaces only "
                                       "(use spaces, not tabs)")
    return Hint(line + 1, col + 1, f"a tab after {_short(before.split()[-1])}: outside quotes YAML separates "
                                   "with spaces only (use spaces, not tabs)")


def _no_space_after_colon(lines: list[str], index: int) -> Hint | None:
    """``name:Calf``: a key run into its value."""
    text = lines[index]
    m = re.match(r"(?P<lead>[ ]*(?:-[ ]+)*)(?P<key>[A-Za-z_][\w-]*):(?P<value>[^\s:/].*)$", text)
    if not m or ": " in text[m.end("key"):]:
        return None
    fixed = f"{m['key']}: {m['value'].strip()}"
    return Hint(index + 1, m.end("key") + 1, f"no space after the colon: write {quote(fixed)}")


def _no_space_after_dash(lines: list[str], index: int) -> Hint | None:
    text = lines[index]
    m = re.match(r"(?P<lead>[ ]*)-(?P<rest>[^\s\-].*)$", text)
    if not m:
        return None
    return Hint(index + 1, len(m["lead"]) + 1, f"no space after the '-': a list item is written "
                                               f"{quote('- ' + m['rest'].strip())}")


def _item_level(lines: list[str], index: int) -> Hint | None:
    """A ``- `` line whose dash does not line up with the nearest list item above it."""
    here = _indent(lines[index])
    for i in range(index - 1, -1, -1):
        if _is_content(lines[i]) and _is_item(lines[i]):
            there = _indent(lines[i])
            if there == here:
                return None
            return Hint(index + 1, here + 1, f"this list item is indented differently from the items above it "
                                             f"({_spaces(here)}; the '-' on line {i + 1}: {there})")
    return None


def _indentation(lines: list[str], index: int) -> Hint | None:
    """A line not lined up with the line above it."""
    prev = _previous(lines, index)
    if prev is None:
        return None
    here, there = _indent(lines[index]), _content_col(lines[prev])
    if here == there:
        return None
    return Hint(index + 1, here + 1, f"this line is indented differently from the lines above it "
                                     f"({_spaces(here)}; {_who(lines, prev)}: {there})")


def _mapping_values(lines, problem, at, context, context_mark):
    if problem != "mapping values are not allowed here":
        return None
    line, col = at
    prev = _previous(lines, line)
    if prev is not None:
        text = lines[prev]
        was_text = ": " not in text and not text.rstrip().endswith(":")  # read as text running on to this line
        if was_text and (hint := _no_space_after_colon(lines, prev)):
            return hint
        if (hint := _no_space_after_dash(lines, prev)) is not None:  # '-name: x' is a key, not an item
            return hint
    if _is_item(_line(lines, line)):
        return _item_level(lines, line) or _indentation(lines, line)
    if prev is not None and (hint := _indentation(lines, line)):
        return hint
    here = _line(lines, line)
    if ": " in here[:col]:
        key, value = here[:here.index(": ")].strip(" -"), here[here.index(": ") + 2:].strip()
        return Hint(line + 1, col + 1, f"a second ': ' in one line: put the value in quotes, like "
                                       f"{excerpt(key, SHORT)}: \"{excerpt(value, SHORT)}\"")
    return None


def _block_end(lines, problem, at, context, context_mark):
    m = re.match(r"expected <block end>, but found '(?P<found>[^']*)'", problem)
    if not m:
        return None
    line, col = at
    found = m["found"]
    prev = _previous(lines, line)
    if found in ("-", "<block sequence start>"):
        if prev is not None and (hint := _no_space_after_dash(lines, prev)):
            return hint
        return _item_level(lines, line) or _indentation(lines, line)
    if found in ("<block mapping start>", "?"):
        return _indentation(lines, line)
    if found == "<scalar>":
        before = _line(lines, line)[:col].rstrip()
        if before.endswith(("'", '"')):
            return Hint(line + 1, col + 1, "text after a closing quote: quote the whole value (an apostrophe "
                                           "inside '...' is written '')")
        return _indentation(lines, line)
    return None


def _simple_key(lines, problem, at, context, context_mark):
    if problem != "could not find expected ':'" or context != "while scanning a simple key" or not context_mark:
        return None
    index, col = context_mark
    text = _line(lines, index)
    if (hint := _no_space_after_colon(lines, index)) is not None:
        return hint
    if ":" in text[col:]:
        return None  # a colon is there (a key over 1024 characters, ...): no hint we can stand by
    words = text[col:].strip().split(None, 1)
    if not words:
        return None
    fixed = f"{words[0]}: {words[1]}" if len(words) > 1 else f"{words[0]}:"
    return Hint(index + 1, col + 1, f"no ':' after the key: write {quote(fixed)}")


def _quote(lines, problem, at, context, context_mark):
    if context != "while scanning a quoted scalar" or "end of stream" not in problem or not context_mark:
        return None
    index, col = context_mark
    q = _line(lines, index)[col:col + 1] or '"'
    return Hint(index + 1, col + 1, f"this {q} is never closed: end the text with another {q}")


_CLOSE = {"[": "]", "{": "}"}


def _flow(lines, problem, at, context, context_mark):
    if "flow" not in context:
        return None
    opener = _unclosed(lines, at)
    if opener is None:
        return None
    index, col, ch = opener
    if index == at[0]:  # on one line: two items with no ',' between them ([a {b: c}])
        if re.match(r"expected ',' or '[\]}]', but got '(?:\{|\[|<scalar>)'", problem):
            return Hint(at[0] + 1, at[1] + 1, f"a ',' is missing before this: items inside '{ch}...{_CLOSE[ch]}' "
                                              "are separated by commas")
        return None
    what = "list" if ch == "[" else "mapping"
    return Hint(index + 1, col + 1, f"this '{ch}' is never closed: end the {what} with '{_CLOSE[ch]}' "
                                    f"(or write it as lines under the key)")


def _unclosed(lines: list[str], at: Mark) -> tuple[int, int, str] | None:
    """The innermost ``[`` or ``{`` still open at ``at`` (quotes and comments skipped), or None."""
    stack: list[tuple[int, int, str]] = []
    for index in range(min(at[0] + 1, len(lines))):
        text = lines[index] if index < at[0] else lines[index][:at[1]]
        quote_ch = None
        for col, ch in enumerate(text):
            if quote_ch:
                if ch == quote_ch:
                    quote_ch = None
            elif ch in "'\"" and (col == 0 or text[col - 1] in " \t[{,:"):
                quote_ch = ch
            elif ch == "#" and (col == 0 or text[col - 1] in " \t"):
                break
            elif ch in "[{":
                stack.append((index, col, ch))
            elif ch in "]}" and stack:
                stack.pop()
    return stack[-1] if stack else None


_RULES = (_tab, _quote, _flow, _simple_key, _mapping_values, _block_end)
