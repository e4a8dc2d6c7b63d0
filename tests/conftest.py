"""Shared pytest options: golden images are rewritten only when asked."""

import pytest


def pytest_addoption(parser):
    parser.addoption("--update-golden", action="store_true", default=False,
                     help="rewrite tests/golden/* and docs/session.md from the current code (review the diff!)")


@pytest.fixture
def update_golden(request) -> bool:
    """True when the run was asked to rewrite the golden files (``--update-golden``)."""
    return bool(request.config.getoption("--update-golden"))
