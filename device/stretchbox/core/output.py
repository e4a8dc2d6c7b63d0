"""The base of every output the App steps: each hook does nothing until a subclass says otherwise."""

from __future__ import annotations

from .frame import Frame


class Changes:
    """Change detection, in one place: is this key (a frame, a line, an image's bytes) new since the last?

    >>> seen = Changes()
    >>> seen.new("a"), seen.new("a"), seen.new("b")
    (True, False, True)
    >>> seen.differs("b"), seen.differs("c")  # asks without remembering
    (False, True)
    """

    _NOTHING = object()

    def __init__(self):
        self.last = self._NOTHING

    def differs(self, key) -> bool:
        return key != self.last

    def remember(self, key) -> None:
        self.last = key

    def forget(self) -> None:
        """The next key is new, whatever it is (after a fault, or a panel opened again)."""
        self.last = self._NOTHING

    def new(self, key) -> bool:
        """``key`` differs from the last one; it is the last one now."""
        if not self.differs(key):
            return False
        self.last = key
        return True


class Output:
    """Something that acts on what the session decided (screen, buzzer, log).

    >>> class Count(Output):
    ...     def frame(self, frame, now):
    ...         self.shown = now
    >>> out = Count(); out.effects([], 1.0); out.frame(Frame("idle"), 2.0)
    >>> out.shown, out.next_deadline()
    (2.0, None)
    """

    def effects(self, effects: list, now: float) -> None:
        """Carry out the session's effects (core.session.Effect) of one step."""

    def frame(self, frame: Frame, now: float) -> None:
        """Show (or record) the frame of one step."""

    def next_deadline(self) -> float | None:
        """When this output must be stepped again with no event (a cue playing, a retry); None: never."""
        return None

    def upkeep_deadline(self) -> float | None:
        """When this output must be stepped again to keep what it shows right although nothing changed
        (the panel's periodic full frame); None: never. The loop wakes for it; unlike ``next_deadline``
        it is not work left to do, so a simulation does not wait for it to end."""
        return None
