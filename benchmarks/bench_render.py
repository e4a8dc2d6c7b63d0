"""Render cost per frame: the default routine's screens as the session sends them, and as the coach fills them.

Every second of the default routine (one frame a second, as the device draws at
most), rendered at 128x64 and 128x32: once as ``Session.frame`` gives them, and
once with the coach's fields filled the way the session will fill them (#11/#12:
the routine's time left, the seconds the step has run, the next stretch's why
on the rest screen), so a long text is paged on every frame. Reported: the median
and 95th percentile CPU time of a render. Each run renders the frames once, in order,
as the device does, after emptying the renderer's measuring caches (a frame's strings
are measured the first time it shows, not served from an earlier run); each frame
keeps its best of 5 runs (this machine is noisy). Run: `python benchmarks/bench_render.py`
(or `make bench`); give another checkout's ``device`` folder as the argument to time its
renderer on the same frames (with its ``routines`` and ``assets`` beside it).
"""

from __future__ import annotations

import dataclasses
import statistics
import sys
import time
from pathlib import Path

DEVICE = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parents[1] / "device"
sys.path.insert(0, str(DEVICE))

from stretchbox.adapters.routines import load_builtin  # noqa: E402
from stretchbox.core.gestures import A  # noqa: E402
from stretchbox.core.session import DONE, Session, Tick  # noqa: E402
from stretchbox.render import Renderer, text  # noqa: E402

RUNS = 5


def frames() -> tuple[list, list]:
    """The routine's frames, one a second, as sent and with the coach's fields filled."""
    routine = load_builtin()[0]
    session = Session([routine])
    session.press(A, 0.0)
    total = routine.total_seconds()
    plain, coach = [], []
    t, started, last = 0.0, 0, None
    while session.state != DONE:
        session.handle(Tick(t))
        frame = session.frame(t)
        plain.append(frame)
        if (frame.screen, frame.name, frame.side) != last:
            started, last = int(t), (frame.screen, frame.name, frame.side)
        why = next((s.why for s in routine.stretches if s.name == frame.name), "") if frame.screen == "rest" else ""
        coach.append(dataclasses.replace(frame, routine_left=max(0, total - int(t)), elapsed=int(t) - started,
                                         why=why))
        t += 1.0
    return plain, coach


def cost(renderer: Renderer, frames: list) -> list[float]:
    """CPU ms of each frame's render in a run through them all, best of ``RUNS`` runs."""
    runs = []
    for _ in range(RUNS):
        for name in dir(text):  # whatever this checkout caches while measuring text starts empty
            getattr(getattr(text, name), "cache_clear", lambda: None)()
        times = []
        for frame in frames:
            start = time.process_time_ns()
            renderer.render(frame)
            times.append((time.process_time_ns() - start) / 1e6)
        runs.append(times)
    return [min(per_frame) for per_frame in zip(*runs)]


def main() -> None:
    plain, coach = frames()
    print(f"renderer from {DEVICE}; {len(plain)} frames of the default routine, best of {RUNS} per frame")
    print(f"{'panel':<8} {'frames':<26} {'median ms':>10} {'p95 ms':>8}")
    for size in ((128, 64), (128, 32)):
        renderer = Renderer(size)
        cost(renderer, plain[:20])  # fonts and icons load once: not part of a frame's cost
        for label, group in (("as the session sends them", plain), ("with the coach's fields", coach)):
            ms = cost(renderer, group)
            p95 = statistics.quantiles(ms, n=20)[-1]
            print(f"{size[0]}x{size[1]:<4} {label:<26} {statistics.median(ms):>10.3f} {p95:>8.3f}")


if __name__ == "__main__":
    main()
