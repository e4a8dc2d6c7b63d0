"""A stick mounted while the device runs: imported off the owner thread, applied between events."""

import queue

from stretchbox.adapters.usbwatch import StickMounted
from stretchbox.app import App, ImportDone, UsbImports
from stretchbox.core.gestures import A, Pressed, Released
from stretchbox.core.session import Session, Tick

from .helpers import routine

ROUTINE = """\
schema: 1
name: Stick calves
stretches:
  - {name: Calf, icon: calf}
"""


def wait_for(inbox, kind, timeout=20.0):
    while True:
        event = inbox.get(timeout=timeout)
        if isinstance(event, kind):
            return event


def test_a_stick_mounted_mid_routine_changes_nothing_until_the_routine_ends(tmp_path):
    stick = tmp_path / "stick"
    (stick / "STRETCHBOX").mkdir(parents=True)
    (stick / "STRETCHBOX" / "CALVES.YML").write_text(ROUTINE)
    (stick / "STRETCHBOX" / "broken.yaml").write_text("schema: 1\nname: x\nstretches: [{name: a, hold: 5}]\n")
    inbox: queue.Queue = queue.Queue()
    first = routine(("Ham", "both"), name="First")
    app = App(Session([first]))
    UsbImports(app, tmp_path / "library", inbox, clock=lambda: 5.0)
    app.step(Pressed(A, 0.0))
    app.step(Released(A, 0.0))  # a routine is running
    app.step(StickMounted(stick))
    done = wait_for(inbox, ImportDone)
    app.step(done)
    assert app.session.routines == (first,)
    assert app.last_frame.screen == "hold"  # the notice waits: never over a running routine
    app.step(Pressed(A, 6.0))
    app.step(Tick(8.0))  # A held 2 s: stop; the routine is over, the notice shows for a few seconds
    frame = app.last_frame
    assert frame.screen == "error" and frame.title == "1 ROUTINE IMPORTED"
    assert frame.text.startswith("broken.yaml:3:") and "min_hold" in frame.text
    assert app.next_deadline() == 8.0 + App.NOTICE_SECONDS
    app.step(Released(A, 9.0))
    app.step(Tick(8.0 + App.NOTICE_SECONDS))
    assert app.last_frame.screen == "done"  # the summary is back
    app.step(Pressed(A, 20.0))
    app.step(Released(A, 20.0))  # dismiss the summary: idle, with the new library
    names = [r.name for r in app.session.routines]
    assert names[0] == "Post-run stretches" and "Stick calves" in names
    assert app.last_frame.screen == "idle"
