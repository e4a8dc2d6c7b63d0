"""Plain-data builders shared by the core tests (no fakes of any library)."""

import io
import queue
from collections.abc import Callable, Iterable

from PIL import Image

from stretchbox.app import ScheduledPress
from stretchbox.core.gestures import Pressed, Released
from stretchbox.core.routine import routine_from_mapping
from stretchbox.core.session import Event, Session, SessionConfig, Tick


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


def press_events(presses: Iterable[ScheduledPress]) -> list[Event]:
    """Scheduled presses as Pressed/Released events in time order (stable for ties)."""
    events: list[tuple[float, int, Event]] = []
    for n, p in enumerate(presses):
        events.append((p.t, 2 * n, Pressed(p.button, p.t)))
        events.append((p.t + p.hold, 2 * n + 1, Released(p.button, p.t + p.hold)))
    return [e for _, _, e in sorted(events, key=lambda x: (x[0], x[1]))]


def direct_presses(presses: Iterable[ScheduledPress], inbox: queue.Queue) -> list[tuple[float, Callable[[], None]]]:
    """A schedule that puts button events straight into ``inbox`` (no GPIO)."""
    return [(e.t, (lambda e=e: inbox.put(e))) for e in press_events(presses)]


def routine_text(name: str, *icons: str, hold: int = 30) -> str:
    """A routine file's text: one stretch per icon (calf when none), ``hold`` seconds."""
    stretches = "".join(f"  - name: Stretch {i}\n    icon: {icon}\n" for i, icon in enumerate(icons or ("calf",)))
    return f"schema: 1\nname: {name}\ndefaults:\n  hold: {hold}s\nstretches:\n{stretches}"


def png(size=(16, 16)) -> bytes:
    """A small white 1-bit PNG, as a routine's own icon."""
    buf = io.BytesIO()
    Image.new("1", size, 1).save(buf, "PNG")
    return buf.getvalue()
