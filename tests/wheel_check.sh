#!/usr/bin/env bash
# A wheel installed into a fresh venv, run from another directory, has the routines and assets it needs.
# Usage: tests/wheel_check.sh PYTHON   (the project venv's python, used only to build the wheel)
set -euo pipefail
py=${1:-python3}
repo=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$py" -m pip wheel --quiet --no-deps --wheel-dir "$work/dist" "$repo" >/dev/null
python3 -m venv "$work/venv"
"$work/venv/bin/python" -m pip install --quiet "$work"/dist/stretchbox-*.whl
cd "$work"   # nowhere near the repo
# grep reads the whole listing (not -q): under pipefail an early exit could SIGPIPE unzip and fail the check
unzip -l "$work"/dist/stretchbox-*.whl | grep 'stretchbox/routines/post-run.yaml' >/dev/null \
    || { echo "wheel-check: routines missing from the wheel" >&2; exit 1; }
unzip -l "$work"/dist/stretchbox-*.whl | grep 'stretchbox/routines/routine.schema.json' >/dev/null \
    || { echo "wheel-check: the routine JSON Schema is missing from the wheel" >&2; exit 1; }
# Every asset file is in the wheel: a font format missing from package-data (the .otb pixel font
# once was) fails only when a message screen is first drawn on the device.
listing=$(unzip -l "$work"/dist/stretchbox-*.whl)
(cd "$repo" && find assets -type f ! -path '*/__pycache__/*' ! -name '*.pyc') | while read -r asset; do
    grep -q "stretchbox/$asset\$" <<<"$listing" || { echo "wheel-check: $asset missing from the wheel" >&2; exit 1; }
done
"$work/venv/bin/stretchbox" validate "$("$work/venv/bin/python" -c 'import stretchbox.adapters.resources as r; print(r.data_dir("routines"))')"
"$work/venv/bin/python" - <<'PY'
import stretchbox.adapters.resources as r
for name in ("routines", "assets"):
    d = r.data_dir(name)
    assert "site-packages" in str(d), d
# The installed schema is the one the installed model builds (the one the shipped routines name).
from stretchbox.core.routine_schema import FILE_NAME, routine_schema_text
assert (r.data_dir("routines") / FILE_NAME).read_text(encoding="utf-8") == routine_schema_text(), "stale schema"
PY
# The library package (a sub-package of adapters, listed in pyproject.toml) is in the wheel and works.
"$work/venv/bin/stretchbox" routines --library "$work/library" | grep "built-in  Post-run stretches" >/dev/null \
    || { echo "wheel-check: stretchbox routines failed from the installed wheel" >&2; exit 1; }
out=$("$work/venv/bin/stretchbox" simulate --json | tail -n 1)
echo "wheel-check: installed wheel simulates the default routine: $out"
case "$out" in *'"completed": 6'*) ;; *) echo "wheel-check: unexpected summary" >&2; exit 1 ;; esac
