"""`run` draws its splash before it imports what the splash does not need (benchmarks/bench_startup.py
measures the time; this keeps the order from slipping back)."""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import time

import pytest

from stretchbox.cli import Formatter, build_parser, terminal_columns

# Imported only after the first frame: YAML (no config file here), logging, gpiozero and the pins,
# the session, the routines, the history and the library store, the probe of the Pi, shutil (argparse's, for the width).
LATER = ("yaml", "logging", "gpiozero", "shutil", "queue", "importlib.resources", "stretchbox.core.session",
         "stretchbox.core.routine", "stretchbox.core.history", "stretchbox.adapters.library.store", "stretchbox.adapters.routines",
         "stretchbox.adapters.probe", "stretchbox.adapters.yamlfile", "luma.oled.device")


def modules_at_first_frame(*options: str) -> list[str]:
    code = ("import sys; from stretchbox.cli import main;"
            f"code = main(['run', '--display', 'dummy', '--pins', 'mock', '--first-frame-only', *{options!r}]);"
            "print(code, *sorted(sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout
    code, *modules = out.splitlines()[-1].split()
    assert code == "0" and "PIL.Image" in modules and "luma.core.device" in modules  # it did draw
    return modules


def test_the_splash_is_drawn_before_anything_it_does_not_need_is_imported():
    assert [m for m in LATER if m in modules_at_first_frame()] == []


def test_a_config_unchanged_since_the_last_start_gives_the_splash_its_display_without_yaml(tmp_path):
    config, state = tmp_path / "config.yaml", tmp_path / "state"
    state.mkdir()
    config.write_text("display:\n  rotate: 2\n")
    options = ("--config", str(config), "--state-dir", str(state))
    assert "yaml" in modules_at_first_frame(*options)  # nothing remembered yet: the file first
    whole = subprocess.Popen([sys.executable, "-m", "stretchbox", "run", "--display", "dummy", "--pins", "mock",
                              *options], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        for _ in range(200):  # a whole start stores the display settings once the config is checked
            if (state / "display-for-splash.json").exists():
                break
            time.sleep(0.1)
    finally:
        whole.terminate()
        whole.communicate(timeout=30)
    assert [m for m in LATER if m in modules_at_first_frame(*options)] == []
    config.write_text("display:\n  rotate: 1\n")  # changed: read (and checked) before the splash again
    assert "yaml" in modules_at_first_frame(*options)


def test_a_config_file_is_still_read_and_checked_before_the_splash(tmp_path):
    config = tmp_path / "config.yaml"
    config.write_text("display:\n  width: 13\n")
    proc = subprocess.run([sys.executable, "-m", "stretchbox", "run", "--display", "dummy", "--pins", "mock",
                           "--first-frame-only", "--config", str(config)], capture_output=True, text=True)
    assert proc.returncode == 1 and f"{config}:2:" in proc.stderr and "first-frame" not in proc.stdout


@pytest.mark.parametrize("columns", [None, "50", "133", "0", "wide"])
def test_help_has_argparse_s_own_width_without_shutil(monkeypatch, columns):
    if columns is None:
        monkeypatch.delenv("COLUMNS", raising=False)
    else:
        monkeypatch.setenv("COLUMNS", columns)
    assert terminal_columns() == shutil.get_terminal_size().columns
    ours = build_parser()
    theirs = build_parser()
    for parser in [theirs, *theirs._subparsers._group_actions[0].choices.values()]:
        parser.formatter_class = argparse.HelpFormatter
    assert Formatter is ours.formatter_class
    assert ours.format_help() == theirs.format_help()
    for name, sub in ours._subparsers._group_actions[0].choices.items():
        assert sub.format_help() == theirs._subparsers._group_actions[0].choices[name].format_help()
