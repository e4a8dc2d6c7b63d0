"""Shared pytest options: golden images are rewritten only when asked."""


def pytest_addoption(parser):
    parser.addoption("--update-golden", action="store_true", default=False,
                     help="rewrite tests/golden/*.png from the current renderer (review the diff!)")
