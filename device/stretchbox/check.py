"""``stretchbox check``: the numbers a user can send when something is wrong.

Finds the OLED on the I2C bus, draws a test pattern, plays every cue, asks
for a press of each button and reports the press-to-screen latency and the
measured frame time. Every part is injected, so the same code runs on a Pi
and, in the tests, on gpiozero's MockFactory and luma's dummy device.
"""

from __future__ import annotations

import queue
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from .core.frame import Frame
from .core.gestures import Pressed
from .core.session import Cue

CUES = ("prepare", "go", "countdown", "switch-side", "next-stretch", "paused", "resumed", "done")
OLED_ADDRESSES = (0x3C, 0x3D)


@dataclass
class CheckReport:
    lines: list[str] = field(default_factory=list)
    ok: bool = True
    latency_ms: dict[str, float] = field(default_factory=dict)
    frame_ms: float | None = None

    def say(self, line: str, *, bad: bool = False) -> None:
        self.lines.append(("FAIL " if bad else "ok   ") + line)
        self.ok = self.ok and not bad


def find_oled(port: int) -> list[int]:
    """Addresses on /dev/i2c-PORT that answer like an SSD1306/SH1106 (0x3C, 0x3D)."""
    from smbus2 import SMBus

    found = []
    with SMBus(port) as bus:
        for address in OLED_ADDRESSES:
            try:
                bus.read_byte(address)
                found.append(address)
            except OSError:
                pass
    return found


def pattern_image(size: tuple[int, int]):
    """A border, a checkerboard and diagonals: dead pixels and wrong offsets show at once."""
    from PIL import Image, ImageDraw

    image = Image.new("1", size)
    draw = ImageDraw.Draw(image)
    w, h = size
    draw.rectangle((0, 0, w - 1, h - 1), outline=1)
    for y in range(2, h - 2, 4):
        for x in range(2 + (y // 4 % 2) * 4, w - 2, 8):
            draw.rectangle((x, y, x + 3, y + 3), fill=1)
    draw.line((0, 0, w - 1, h - 1), fill=1)
    draw.line((0, h - 1, w - 1, 0), fill=1)
    return image


def run_check(*, device, render: Callable[[Frame], object], buttons: dict[str, str], inbox: queue.Queue,
              buzzer_output=None, clock: Callable[[], float] = time.monotonic, press_timeout: float = 20.0,
              frames: int = 30, say: Callable[[str], None] = print, i2c_port: int | None = None) -> CheckReport:
    """Run every check in turn; ``buttons`` maps a button to its pin name (for the prompts)."""
    report = CheckReport()
    if i2c_port is not None:
        try:
            found = find_oled(i2c_port)
        except (OSError, ImportError) as exc:
            report.say(f"I2C bus /dev/i2c-{i2c_port}: {exc} (enable I2C: sudo raspi-config nonint do_i2c 0)",
                       bad=True)
        else:
            if found:
                report.say(f"OLED on /dev/i2c-{i2c_port} at {', '.join(f'0x{a:02X}' for a in found)}")
            else:
                report.say(f"no OLED answers on /dev/i2c-{i2c_port} at 0x3C or 0x3D: check VCC, GND, SDA, SCL",
                           bad=True)
    say(report.lines[-1] if report.lines else "checking the display")

    # frame time: the real driver, alternating two images so every frame is sent
    size = device.size
    from PIL import Image

    pattern, blank = pattern_image(size), Image.new("1", size)
    times = []
    for i in range(frames):
        start = time.perf_counter()
        device.display(pattern if i % 2 == 0 else blank)
        times.append((time.perf_counter() - start) * 1000)
    device.display(pattern)
    report.frame_ms = statistics.median(times)
    report.say(f"frame time {report.frame_ms:.2f} ms median over {frames} frames (test pattern on screen)")
    say(report.lines[-1])

    if buzzer_output is not None:
        for name in CUES:
            now = clock()
            buzzer_output.cue(Cue(now, name, "right"))
            buzzer_output.advance(now)
            while (deadline := buzzer_output.next_deadline()) is not None:
                _wait_until(deadline, clock, inbox)
                buzzer_output.advance(clock())
        report.say(f"played {len(CUES)} cues: {', '.join(CUES)}")
        say(report.lines[-1])

    for name, pin in buttons.items():
        device.display(render(Frame("message", title=f"PRESS {name.upper()}", text=f"button {name.upper()} ({pin})")))
        say(f"press button {name.upper()} ({pin}) ...")
        event = _next_press(inbox, name, clock() + press_timeout, clock)
        if event is None:
            report.say(f"button {name.upper()} ({pin}): no press within {press_timeout:g} s", bad=True)
            continue
        device.display(render(Frame("message", title=f"{name.upper()} OK", text="button works")))
        latency = (clock() - event.t) * 1000
        report.latency_ms[name] = latency
        report.say(f"button {name.upper()} ({pin}): press to screen {latency:.1f} ms "
                   "(plus the debounce time before the press is reported)")
        say(report.lines[-1])
    device.display(render(Frame("message", title="CHECK DONE" if report.ok else "CHECK FAILED",
                                text="see the report")))
    return report


def _wait_until(deadline: float, clock: Callable[[], float], inbox: queue.Queue) -> None:
    """Wait on the inbox until ``deadline`` (never a busy loop); events arriving now are kept."""
    held = []
    while (left := deadline - clock()) > 0:
        try:
            held.append(inbox.get(timeout=left))
        except queue.Empty:
            break
    for event in held:
        inbox.put(event)


def _next_press(inbox: queue.Queue, button: str, deadline: float, clock: Callable[[], float]) -> Pressed | None:
    while (left := deadline - clock()) > 0:
        try:
            event = inbox.get(timeout=left)
        except queue.Empty:
            return None
        if isinstance(event, Pressed) and event.button == button:
            return event
    return None
