"""Text that came from outside (file contents, file names), made safe for one-line messages.

Messages are ``FILE:LINE:COL: message``, one line each, read on a terminal, in a
log or in an import report. Outside text may hold line breaks (a forged second
line), terminal escapes, bidi overrides, lone surrogates (which a strict UTF-8
stream refuses to print) or 50,000 characters. Three functions, one rule:

- ``printable(text)`` escapes every character ``str.isprintable`` refuses, the
  way ``repr`` would (``\\n``, ``\\x1b``, ``\\u2028``); a surrogate that stands for
  an undecodable byte of a file name (``os.fsdecode``) shows as that byte, ``\\xff``.
  Backslashes are left alone, so escaping twice changes nothing.
- ``excerpt(text)`` is ``printable`` cut to at most ``limit`` characters plus ``…``.
- ``quote(value)`` is what a message shows for a value: ``'text'`` excerpted and
  quoted, a number or other value written briefly (never thousands of digits).

>>> printable("evil\\nname\\udcff.yaml")
'evil\\\\nname\\\\xff.yaml'
>>> excerpt("k" * 50_000, 5)
'kkkkk…'
>>> quote("a\\tb"), quote(30), quote(10 ** 5000), quote(["x", 1])
("'a\\\\tb'", '30', 'a number with 5001 digits', "['x', 1]")
"""

from __future__ import annotations

import math
from typing import Any

MAX_EXCERPT = 40
ELLIPSIS = "…"

_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escape(ch: str) -> str:
    if ch.isprintable():
        return ch
    code = ord(ch)
    if ch in _NAMED:
        return _NAMED[ch]
    if 0xDC80 <= code <= 0xDCFF:  # surrogateescape: the undecodable byte itself
        return f"\\x{code - 0xDC00:02x}"
    if code < 0x100:
        return f"\\x{code:02x}"
    if code < 0x10000:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


def printable(text: str) -> str:
    """``text`` with every non-printable character escaped; safe on one line of any UTF-8 output."""
    if text.isprintable():
        return text
    return "".join(_escape(ch) for ch in text)


def excerpt(text: str, limit: int = MAX_EXCERPT) -> str:
    """``printable(text)`` cut to at most ``limit`` characters, ``…`` added when cut.

    Looks at no more of ``text`` than it shows, so a 60 KB value costs nothing.
    """
    out: list[str] = []
    used = 0
    for ch in text[: limit + 1]:
        piece = _escape(ch)
        if used + len(piece) > limit:
            return "".join(out) + ELLIPSIS
        out.append(piece)
        used += len(piece)
    return "".join(out)


def quote(value: Any, limit: int = MAX_EXCERPT, *, _depth: int = 0) -> str:
    """A value as a message shows it: text quoted and excerpted, anything else briefly."""
    if isinstance(value, str):
        return f"'{excerpt(value, limit)}'"
    if isinstance(value, bool) or value is None:
        return {True: "true", False: "false", None: "null"}[value]
    if isinstance(value, int):
        if value.bit_length() > 3 * limit:  # str() of a huge int is slow, or refused past 4,300 digits
            digits = math.floor(value.bit_length() * math.log10(2)) + 1
            return f"a{' negative' if value < 0 else ''} number with {digits} digits"
        return excerpt(str(value), limit)
    if isinstance(value, float):
        return excerpt(repr(value), limit)
    if isinstance(value, (list, tuple)):
        if _depth > 1:
            return f"[{ELLIPSIS}]"
        parts = [quote(v, limit, _depth=_depth + 1) for v in value[:4]] + ([ELLIPSIS] if len(value) > 4 else [])
        return excerpt(f"[{', '.join(parts)}]", limit)
    if isinstance(value, dict):
        if _depth > 1:
            return f"{{{ELLIPSIS}}}"
        items = list(value.items())[:3]
        parts = [f"{quote(k, limit, _depth=_depth + 1)}: {quote(v, limit, _depth=_depth + 1)}" for k, v in items]
        return excerpt(f"{{{', '.join(parts + ([ELLIPSIS] if len(value) > 3 else []))}}}", limit)
    return excerpt(type(value).__name__, limit)
