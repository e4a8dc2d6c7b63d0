# Two commands a newcomer needs: `make run` and `make test`. Both create .venv when missing.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
STATE  ?= .state

.PHONY: run test lint unit wheel-check bench golden session-doc screens clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# Reinstall when the project's metadata changes; the install is editable, so source edits need nothing.
# setuptools tells every editable install of a layout like ours (package-dir maps three folders) to
# mind same-named folders in the working directory, as a warning; it is information only: hidden.
$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip
	PYTHONWARNINGS='ignore:Editable installation' $(BIN)/python -m pip install --quiet -e '.[emulator,test]'
	touch $(STAMP)

## run: the default routine in real time on this machine (terminal display, space = A, n = B, q = quit);
## its history and resume journal are kept in $(STATE) here (on a Pi: /var/lib/stretchbox)
run: $(STAMP)
	$(BIN)/stretchbox run --state-dir $(STATE) $(ARGS)

## test: every check: import contracts, the test suite, the installed-wheel smoke test
test: $(STAMP) lint unit wheel-check

# Import contracts (pyproject.toml), then dead code: every name in the package used by the package or
# by a tool (names used only through getattr or by a library are in tools/vulture_allowlist.py, each
# with its reason).
lint: $(STAMP)
	$(BIN)/lint-imports
	$(BIN)/vulture device/stretchbox tools/routine_schema.py tools/vulture_allowlist.py

unit: $(STAMP)
	$(BIN)/python -m pytest -q $(PYTEST_ARGS)

# A wheel installed into a fresh venv, run from another directory, finds its routines and assets.
wheel-check: $(STAMP)
	bash tests/wheel_check.sh $(BIN)/python

## bench: the benchmarks in benchmarks/ (not part of test: this machine is noisy)
bench: $(STAMP)
	for b in benchmarks/bench_*.py; do $(BIN)/python $$b || exit 1; done

## golden: re-render the golden screen images after a deliberate change
golden: $(STAMP)
	$(BIN)/python -m pytest -q tests --update-golden

## session-doc: rewrite docs/session.md, the session's transition table rendered, after changing the table
session-doc: $(STAMP)
	$(BIN)/python -m pytest -q tests/core/test_session_table.py --update-golden -k docs_session_md

## screens: the README's GIF and screen sheet, made by `stretchbox simulate` (arguments in tools/screens.py)
screens: $(STAMP)
	$(BIN)/python tools/screens.py docs

clean:
	rm -rf $(VENV) build dist *.egg-info device/*.egg-info
