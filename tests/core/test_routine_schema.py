"""The routine files' JSON Schema: built from the model, committed, shipped, named by the routines.

routines/routine.schema.json is committed (the shipped routines' first line names
it, and it must work from a plain clone, with no build step) and ships inside the
package (routines/ is package data). This test keeps it equal to what
``core.routine_schema`` builds; ``python tools/routine_schema.py`` rewrites it.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest

from stretchbox.adapters.routines import builtin_dir, routine_files
from stretchbox.core.routine import (
    CUES, STRETCH_FIELDS, TIMING_FIELDS, TOP_FIELDS, Kind, Sides, routine_from_mapping,
)
from stretchbox.core.routine_schema import DIALECT, FILE_NAME, routine_schema, routine_schema_text
from stretchbox.adapters.resources import data_dir

REPO = Path(__file__).resolve().parents[2]
COMMITTED = REPO / "routines" / FILE_NAME
MODELINE = re.compile(r"^# yaml-language-server: \$schema=(?P<target>\S+)$")
VALIDATOR = jsonschema.Draft202012Validator(routine_schema())


def test_the_committed_schema_is_what_the_model_builds():
    assert COMMITTED.read_text(encoding="utf-8") == routine_schema_text(), \
        "routines/routine.schema.json is out of date: run  python tools/routine_schema.py"


def test_the_tool_checks_and_writes_the_same_text():
    proc = subprocess.run([sys.executable, str(REPO / "tools" / "routine_schema.py"), "--check"],
                          capture_output=True, text=True, timeout=60)
    assert (proc.returncode, proc.stderr) == (0, "")


def test_it_is_a_draft_2020_12_schema():
    schema = routine_schema()
    assert schema["$schema"] == DIALECT
    jsonschema.Draft202012Validator.check_schema(schema)
    assert jsonschema.validators.validator_for(schema) is jsonschema.Draft202012Validator


def test_the_package_holds_the_same_file():
    # In a checkout data_dir("routines") is routines/ itself; tests/wheel_check.sh checks the installed wheel.
    assert (data_dir("routines") / FILE_NAME).read_bytes() == COMMITTED.read_bytes()


def _properties(node: dict) -> dict:
    return node["properties"]


def test_every_field_of_the_model_is_described_with_examples():
    schema = routine_schema()
    top = _properties(schema)
    stretch = _properties(top["stretches"]["items"])
    places = [(top, TOP_FIELDS), (stretch, STRETCH_FIELDS), (_properties(top["defaults"]), TIMING_FIELDS),
              (_properties(top["cues"]), dict.fromkeys(CUES))]
    for properties, fields in places:
        assert list(properties) == list(fields)  # no key more, none less, in the model's order
        for key, node in properties.items():
            assert node["description"] and node["examples"], key
            if fields[key] is not None:
                assert node["description"].startswith(fields[key].description), key
    assert top["stretches"]["maxItems"] == TOP_FIELDS["stretches"].limit
    assert stretch["sides"]["enum"] == [s.value for s in Sides]
    assert schema["required"] == ["schema", "name", "stretches"]
    assert top["stretches"]["items"]["required"] == ["name"]


def _place(key: str, value, kind: str) -> dict:
    """A valid routine with ``value`` at one field (``kind``: top, stretch, defaults, cues)."""
    data = {"schema": 1, "name": "R", "stretches": [{"name": "Calf", "icon": "calf"}]}
    if kind == "top":
        data[key] = value
    elif kind == "stretch":
        data["stretches"][0][key] = value
    elif kind == "defaults":
        data["defaults"] = {key: value}
    else:
        data["cues"] = {key: value}
    return data


EXAMPLES = (
    [(k, v, "top") for k, f in TOP_FIELDS.items() for v in f.examples]
    + [(k, v, "stretch") for k, f in STRETCH_FIELDS.items() for v in f.examples]
    + [(k, v, "defaults") for k, f in TIMING_FIELDS.items() for v in f.examples]
)


@pytest.mark.parametrize("key, value, kind", EXAMPLES, ids=[f"{kind}.{k}={v!r}" for k, v, kind in EXAMPLES])
def test_every_example_is_valid_for_the_validator_and_the_schema(key, value, kind):
    data = _place(key, value, kind)
    routine_from_mapping(data)
    VALIDATOR.validate(data)


def test_every_cue_example_is_valid_too():
    for name, node in _properties(routine_schema()["properties"]["cues"]).items():
        for value in node["examples"]:
            routine_from_mapping(_place(name, value, "cues"))
            VALIDATOR.validate(_place(name, value, "cues"))


def test_defaults_and_kinds_come_from_the_model():
    top = _properties(routine_schema())
    stretch = _properties(top["stretches"]["items"])
    defaults = _properties(top["defaults"])
    for key, field in TIMING_FIELDS.items():
        assert defaults[key]["default"] == field.default
        assert "default" not in stretch[key]  # a stretch's default is the routine's defaults, not a constant
    assert top["min_hold"]["default"] == TOP_FIELDS["min_hold"].default
    assert stretch["icon"]["default"] == STRETCH_FIELDS["icon"].default == "generic"
    assert {f.kind for f in [*TOP_FIELDS.values(), *STRETCH_FIELDS.values()]} == set(Kind)


# ---------------------------------------------------------------- the shipped routines name it

def test_every_shipped_routine_starts_with_a_modeline_naming_the_schema_beside_it():
    files = routine_files(builtin_dir())
    assert files
    for path in files:
        first = path.read_text(encoding="utf-8").splitlines()[0]
        m = MODELINE.match(first)
        assert m, f"{path.name}: first line is {first!r}"
        target = (path.parent / m["target"]).resolve()  # a relative path: from a clone and from the package alike
        assert target == (path.parent / FILE_NAME).resolve() and target.is_file(), m["target"]
        json.loads(target.read_text(encoding="utf-8"))
