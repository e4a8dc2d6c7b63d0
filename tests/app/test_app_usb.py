"""A stick mounted while the device runs: imported off the owner thread, applied between events."""

import queue

import pytest

from stretchbox.adapters.usbwatch import StickMounted
from stretchbox.app import App, ImportDone, UsbImports
from stretchbox.core.gestures import A, Pressed, Released
from stretchbox.core.session import Session, Tick

from tests.helpers import routine

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


@pytest.mark.parametrize("after_switch", [True, False], ids=["after-the-switch", "before-the-switch"])
def test_an_import_that_crashes_says_whether_the_library_changed(tmp_path, monkeypatch, after_switch):
    """A bug in the import (not a hostile stick) must not leave the device showing a stale library or a lie."""
    from stretchbox.adapters.library import importer as library

    stick = tmp_path / "stick"
    (stick / "stretchbox").mkdir(parents=True)
    (stick / "stretchbox" / "calves.yaml").write_text(ROUTINE)
    real = library.import_routines

    def crashing(source, lib, **kwargs):
        if after_switch:
            real(source, lib, write_report=False)
        raise RuntimeError("a bug")

    monkeypatch.setattr(library, "import_routines", crashing)
    app = App(Session([routine(("Ham", "both"), name="First")]))
    imports = UsbImports(app, tmp_path / "library", queue.Queue(), clock=lambda: 5.0)
    done = imports.import_one(stick)
    assert done.report is None and done.library_changed is after_switch
    app.step(done)
    assert ("Stick calves" in [r.name for r in app.session.routines]) is after_switch  # what the library holds
    frame = app.last_frame
    assert frame.screen == "error" and frame.title == "USB IMPORT FAILED"
    assert frame.text == f"a bug\nThe library {'changed' if after_switch else 'was not changed'}."
