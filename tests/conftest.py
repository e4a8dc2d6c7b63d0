"""Shared pytest options: golden images are rewritten only when asked."""

import pytest


def pytest_addoption(parser):
    parser.addoption("--update-golden", action="store_true", default=False,
                     help="rewrite tests/golden/* and docs/session.md from the current code (review the diff!)")


@pytest.fixture
def update_golden(request) -> bool:
    """True when the run was asked to rewrite the golden files (``--update-golden``)."""
    return bool(request.config.getoption("--update-golden"))


@pytest.fixture(autouse=True)
def private_state_folder(tmp_path_factory, monkeypatch):
    """The programs a test runs keep their journal and history in a folder of their own, never this
    machine's /var/lib/stretchbox: a journal left there would be taken up by the next test's program."""
    monkeypatch.setenv("STATE_DIRECTORY", str(tmp_path_factory.mktemp("state")))
