"""Writes the routine files' JSON Schema: ``python tools/routine_schema.py [--check]``.

The schema is built by ``stretchbox.core.routine_schema`` from the routine
model itself; this tool only writes it to ``routines/routine.schema.json`` (the
repo's copy, which the shipped routines name in their first line, and the
package's: routines/ ships inside the wheel). ``--check`` writes nothing and
exits 1 when the file differs; tests/core/test_routine_schema.py checks the same.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "device"))

from stretchbox.core.routine_schema import FILE_NAME, routine_schema_text  # noqa: E402

TARGET = ROOT / "routines" / FILE_NAME


def main(argv: list[str]) -> int:
    text = routine_schema_text()
    current = TARGET.read_text(encoding="utf-8") if TARGET.is_file() else None
    if "--check" in argv:
        if current != text:
            print(f"{TARGET.relative_to(ROOT)} is out of date: run python tools/routine_schema.py", file=sys.stderr)
            return 1
        return 0
    if current != text:
        tmp = TARGET.with_suffix(".tmp")
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(TARGET)
    print(TARGET.relative_to(ROOT))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
