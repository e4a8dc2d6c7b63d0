"""Where the shipped data lives: ``routines/`` and ``assets/``.

In an installed wheel they sit inside the package (``stretchbox/routines``,
``stretchbox/assets``); in a source checkout they are at the top of the repo.
A plain path lookup serves both, without depending on how the install was made.
"""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent.parent  # stretchbox/, this file being in stretchbox/adapters


def data_dir(name: str) -> Path:
    """``data_dir("assets")`` -> the folder holding the shipped assets."""
    installed = _PACKAGE / name
    if installed.is_dir():
        return installed
    checkout = _PACKAGE.parent.parent / name
    if checkout.is_dir():
        return checkout
    raise FileNotFoundError(f"stretchbox data folder '{name}' is missing (looked in {installed} and {checkout})")
