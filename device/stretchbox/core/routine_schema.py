"""The JSON Schema of a routine file, built from the routine model's own definitions.

Editors (VS Code's YAML extension, any yaml-language-server client, JetBrains)
read it to complete keys, explain each field on hover and underline mistakes as
they are typed. Nothing here is written by hand twice: keys, kinds, limits,
defaults, descriptions and examples come from ``core.routine``'s field table,
the duration forms and icon rule from its patterns, sides from ``Sides``, icon
names from ``core.icons``. This module only builds a dict (and its JSON text);
``routines/routine.schema.json`` is that text, committed, and a test keeps it
equal to what this module builds (``tools/routine_schema.py`` rewrites it).

The keywords used (type, properties, required, additionalProperties, items,
minItems/maxItems, enum, const, pattern, minimum/maximum, anyOf) mean the same
in draft 2020-12 and draft 7, so an editor on an older validator reads the file
alike. ``patternErrorMessage`` is yaml-language-server's: the words it shows
instead of "does not match the pattern"; other validators ignore it.

A schema cannot say everything the validator checks: a hold under
``min_hold`` (two fields compared), text durations over the limit (``61m``),
invisible characters in text, an icon file that must exist. tests/core/test_routine_schema.py
lists each such gap by name, with an example on which the two really differ.
"""

from __future__ import annotations

import json
from typing import Any

from .icons import BUILTIN_ICONS
from .routine import (
    CUES, DURATION_FORMS, OPEN, DURATION_PATTERN, ICON_PATTERN, ICON_RULE, MAX_DURATION, MAX_PATTERN_STEPS, PATTERN_MS,
    SCHEMA_VERSION, STRETCH_FIELDS, TIMING_FIELDS, TOP_FIELDS, Field, Kind, Sides, text_pattern,
)

DIALECT = "https://json-schema.org/draft/2020-12/schema"
FILE_NAME = "routine.schema.json"  # in routines/, beside the shipped routines (and so in the package)
TITLE = "stretchbox routine"


def routine_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of a routine file, as plain data."""
    return {
        "$schema": DIALECT,
        "title": TITLE,
        "description": ("A routine for the stretchbox stretch timer: its stretches, in order, with how long "
                        "each is held. Check a file with `stretchbox validate FILE`."),
        **_mapping(TOP_FIELDS, "top"),
    }


def routine_schema_text() -> str:
    """The schema as the committed file holds it: two-space indents, keys in the model's order, UTF-8."""
    return json.dumps(routine_schema(), indent=2, ensure_ascii=False) + "\n"


def _mapping(fields: dict[str, Field], where: str) -> dict[str, Any]:
    required = [key for key, f in fields.items() if f.required]
    return {
        "type": "object",
        **({"required": required} if required else {}),
        "properties": {key: _field(f, where) for key, f in fields.items()},
        "additionalProperties": False,
    }


def _field(f: Field, where: str) -> dict[str, Any]:
    """One field's schema: its description first (what an editor shows), then its rules."""
    rules, notes = _RULES[f.kind](f, where)
    out: dict[str, Any] = {"description": " ".join([f.description, *notes])}
    out.update(rules)
    if f.default is not None and not (where == "stretch" and f.kind in (Kind.DURATION, Kind.HOLD)):  # see _duration
        out["default"] = f.default
    out["examples"] = list(f.examples)
    return out


def _schema_version(f: Field, where: str) -> tuple[dict, list[str]]:
    return {"const": SCHEMA_VERSION}, [f"Always {SCHEMA_VERSION}: write 'schema: {SCHEMA_VERSION}' at the top."]


def _text(f: Field, where: str) -> tuple[dict, list[str]]:
    rule = f"At most {f.limit} characters (a run of spaces counts as one)"
    rule += ", not empty." if f.required else "."
    return {"type": "string", "pattern": text_pattern(f.limit, required=f.required), "patternErrorMessage": rule}, \
        [rule]


def _duration(f: Field, where: str) -> tuple[dict, list[str]]:
    notes = [f"A duration: whole seconds, written {DURATION_FORMS}; from 0 to {MAX_DURATION} s."]
    if where == "stretch":  # a stretch's own timing: the routine's defaults apply when it is absent
        notes.append(f"For this stretch only; without it, the routine's defaults ({f.default} s unless set).")
    elif f.default is not None:
        notes.append(f"Default: {f.default} s.")
    return {
        "type": ["integer", "string"],
        "minimum": 0,
        "maximum": MAX_DURATION,
        "pattern": DURATION_PATTERN,
        "patternErrorMessage": f"A duration like {DURATION_FORMS}.",
    }, notes


def _hold(f: Field, where: str) -> tuple[dict, list[str]]:
    rules, notes = _duration(f, where)
    return {"anyOf": [rules, {"const": OPEN}]}, notes


def _icon(f: Field, where: str) -> tuple[dict, list[str]]:
    rule = f"An icon is {ICON_RULE}."
    return {"type": "string", "pattern": ICON_PATTERN, "patternErrorMessage": rule}, \
        [f"Built in: {', '.join(BUILTIN_ICONS)}. Default: {f.default}."]


def _sides(f: Field, where: str) -> tuple[dict, list[str]]:
    return {"enum": [s.value for s in Sides]}, [f"Default: {f.default}."]


def _timing(f: Field, where: str) -> tuple[dict, list[str]]:
    return _mapping(TIMING_FIELDS, "defaults"), []


def _cues(f: Field, where: str) -> tuple[dict, list[str]]:
    low, high = PATTERN_MS
    pattern = {
        "type": "array",
        "minItems": 1,
        "maxItems": MAX_PATTERN_STEPS,
        "items": {"type": "integer", "minimum": low, "maximum": high},
    }
    cue = {"anyOf": [{"enum": ["on", "off", True, False]}, pattern]}
    examples = [value for example in f.examples for value in example.values()]
    properties = {name: {"description": f"Sounds when {when}. on (the device's pattern), off (silent), or up to "
                                        f"{MAX_PATTERN_STEPS} on/off times in milliseconds ({low}-{high}), "
                                        "starting with on.",
                         **cue, "examples": examples}
                  for name, when in CUES.items()}
    return {"type": "object", "properties": properties, "additionalProperties": False}, []


def _stretches(f: Field, where: str) -> tuple[dict, list[str]]:
    stretch = _mapping(STRETCH_FIELDS, "stretch")
    return {
        "type": "array",
        "minItems": 1,
        "maxItems": f.limit,
        "items": {"description": "One stretch: at least its name.", **stretch},
    }, [f"From 1 to {f.limit} stretches."]


_RULES = {
    Kind.SCHEMA: _schema_version,
    Kind.TEXT: _text,
    Kind.DURATION: _duration,
    Kind.HOLD: _hold,
    Kind.ICON: _icon,
    Kind.SIDES: _sides,
    Kind.TIMING: _timing,
    Kind.CUES: _cues,
    Kind.STRETCHES: _stretches,
}
