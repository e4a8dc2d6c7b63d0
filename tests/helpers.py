"""Plain-data builders shared by the core tests (no fakes of any library)."""

from stretchbox.core.routine import routine_from_mapping
from stretchbox.core.session import Session, SessionConfig, Tick


def routine(*stretches, name="Test", **defaults):
    """A routine from (name, sides) pairs; prepare 5, switch 5, rest 5, hold 30 unless overridden."""
    timing = {"prepare": 5, "hold": 30, "switch": 5, "rest": 5}
    timing.update(defaults)
    return routine_from_mapping({
        "schema": 1, "name": name, "min_hold": 20, "defaults": timing,
        "stretches": [{"name": n, "icon": "calf", "sides": s} for n, s in stretches],
    })


def run_until(session, t, out=None):
    """Tick the session at each deadline up to ``t`` (what the device loop does)."""
    out = [] if out is None else out
    while (d := session.next_deadline()) is not None and d <= t:
        out += session.handle(Tick(d))
    out += session.handle(Tick(t))
    return out


def phases(effects):
    return [(round(e.t, 3), e.phase, e.stretch, e.side, e.seconds) for e in effects if type(e).__name__ == "PhaseStarted"]


def cues(effects):
    return [(round(e.t, 3), e.cue) for e in effects if type(e).__name__ == "Cue"]


def actions(effects):
    return [(round(e.t, 3), e.button, e.gesture, e.action) for e in effects if type(e).__name__ == "ButtonAction"]


def new(r, **config):
    return Session([r], SessionConfig(**config))
