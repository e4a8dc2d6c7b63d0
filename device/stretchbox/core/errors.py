"""The package's exceptions share one root, so a caller can catch every refusal of ours at once."""

from __future__ import annotations


class StretchboxError(Exception):
    """The root of every error stretchbox raises on purpose."""


class UsageError(StretchboxError):
    """The command line asked for something that cannot be done (exit 2)."""


class Invalid(StretchboxError, ValueError):
    """Plain data that was checked and refused: ``problems`` names each, by path."""

    def __init__(self, problems: list):  # core.routine.Problem: a path and a message
        self.problems = sorted(problems, key=lambda p: [str(x) for x in p.path])
        super().__init__("; ".join(f"{p.where() or '<top>'}: {p.message}" for p in self.problems))
