"""The code must run on the Pi's own Python, not only on this machine's newer 3.11.

Raspberry Pi OS Bookworm ships Python 3.11.2, whose ``re`` mis-matches possessive
quantifiers and atomic groups (``(?:([0-9]++)[ \\t]*+[mM])?+...`` fails on "20s";
fixed in later 3.11 releases). That reached a container boot of the real unit:
every routine was refused. Two guards: no such construct in any pattern of the
package, and the pure core gives the same answers under Debian's ``/usr/bin/python3``
(3.11.2 here, as on a Pi) as under the venv's Python.
"""

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

import stretchbox

PACKAGE = Path(stretchbox.__file__).parent
SYSTEM_PYTHON = Path("/usr/bin/python3")
# Constructs new in 3.11 that 3.11.2's engine gets wrong: possessive quantifiers and atomic groups.
RISKY = ("++", "*+", "?+", "}+", "(?>")


def pattern_literals():
    """Every string literal handed to a ``re`` function in the package: (file:line, text)."""
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                    and isinstance(node.func.value, ast.Name) and node.func.value.id == "re" and node.args
                    and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)):
                yield f"{path.relative_to(PACKAGE)}:{node.lineno}", node.args[0].value


def test_no_pattern_uses_what_bookworms_python_mis_matches():
    found = list(pattern_literals())
    assert len(found) >= 3  # the walk sees the package's patterns
    assert [(where, text) for where, text in found if any(r in text for r in RISKY)] == []


def test_the_guard_would_see_a_possessive_quantifier():
    assert any(r in r"(?:([0-9]++)[ \t]*+[mM])?+" for r in RISKY)


DURATIONS = ["20s", "1m30s", "1m", " 5 s", "90", "3O", "1m 30s", "0s", "²", "1h", " " * 300, "30 S", "1M"]

PROBE = """
import json, sys
sys.path.insert(0, sys.argv[1])
from stretchbox.core.routine import parse_duration
out = []
for text in json.loads(sys.argv[2]):
    try:
        out.append(parse_duration(text))
    except ValueError as exc:
        out.append(str(exc))
print(json.dumps(out))
"""


@pytest.mark.skipif(not SYSTEM_PYTHON.exists(), reason="no Debian /usr/bin/python3 on this machine")
def test_the_core_answers_the_same_under_debians_python():
    def answers(python):
        proc = subprocess.run([str(python), "-c", PROBE, str(PACKAGE.parent), json.dumps(DURATIONS)],
                              capture_output=True, text=True, timeout=60)
        assert proc.returncode == 0, proc.stderr
        return json.loads(proc.stdout)

    mine = answers(sys.executable)
    assert mine[:5] == [20, 90, 60, 5, 90]
    assert answers(SYSTEM_PYTHON) == mine
