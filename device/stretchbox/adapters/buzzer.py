"""Cues as buzzer (and vibration) patterns, stepped by the main loop's deadlines.

No ``beep()`` threads: a pattern is a list of (seconds, tone) steps, and the
loop's next deadline includes the end of the current step, so patterns run on
the simulated clock exactly as on the device. One table holds every pattern.

The default buzzer is active (on/off only): pitch is lost, so every cue must be
told apart by its rhythm alone, as an ear hears it: the number of beeps and
each one a tick, short or long (long = 3 x short, Morse's 1:3), never 100 ms
against 250 ms. A passive buzzer adds pitch on top (rising towards the right).
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from ..core.output import Output
from ..core.session import Cue, Effect

log = logging.getLogger(__name__)

Step = tuple[float, float | None]  # (seconds, tone as a multiple of buzzer.pitch, or None for silence)

# The rhythm's units, seconds. Each beep's edges may move by ~25 ms (the loop wakes late, lgpio's
# software PWM), so neighbouring classes stay more than 2 x 25 ms apart at every boundary:
# a tick (<60 ms, a click) against a short (4x), a short against a long (3x), and a gap inside a
# cue (still two beeps after 50 ms of jitter) against the longer silence between two cues.
TICK, SHORT, LONG = 0.05, 0.20, 0.60
GAP = 0.15  # between the beeps of one cue
CUE_GAP = 3 * GAP  # at least this silence before a cue queued behind another (Morse: a letter's gap)

# Tones, as multiples of the base pitch (buzzer.pitch, near the piezo's resonance, where it is loudest):
# a major third down and up, and a fifth up for the ticks.
LOW, MID, HIGH, TOP = 0.8, 1.0, 1.25, 1.5
# The highest PWM frequency the Pi's pin factory plays: lgpio's tx_pwm takes 0.1-10000 Hz.
PWM_MAX_HZ = 10_000


def _beeps(*beeps: tuple[float, float]) -> tuple[Step, ...]:
    """(length, tone) beeps with a GAP of silence between them."""
    steps: list[Step] = []
    for length, tone in beeps:
        steps += [(GAP, None)] if steps else []
        steps.append((length, tone))
    return tuple(steps)


# THE table. On an active buzzer only the rhythm is heard (the comment); a passive one adds the tones.
PATTERNS: dict[str, tuple[Step, ...]] = {
    "prepare": _beeps((SHORT, MID)),                                        # short
    "go": _beeps((LONG, HIGH)),                                             # long: hold now
    "switch-side:right": _beeps((SHORT, MID), (LONG, HIGH)),                # short long, rising
    "switch-side:left": _beeps((LONG, HIGH), (SHORT, MID)),                 # long short, falling
    "countdown": _beeps((TICK, TOP)),                                       # tick, once a second
    "next-stretch": _beeps((SHORT, LOW), (SHORT, MID), (SHORT, HIGH)),      # short short short, rising
    "paused": _beeps((LONG, MID), (LONG, LOW)),                             # long long, falling
    "resumed": _beeps((SHORT, LOW), (SHORT, HIGH)),                         # short short, rising
    "done": _beeps((LONG, HIGH), (SHORT, HIGH), (LONG, TOP)),               # long short long
    "halfway": _beeps((TICK, TOP), (TICK, TOP)),                            # tick tick
    "extend": _beeps((SHORT, MID), (SHORT, MID), (LONG, HIGH)),             # short short long: more time
}
# Every cue the table plays, in its order (switch-side once): the core's CUE_NAMES, as heard.
CUES = tuple(dict.fromkeys(name.split(":")[0] for name in PATTERNS))


def pattern_for(cue: Cue, overrides: dict[str, tuple[int, ...] | None] | None = None) -> tuple[Step, ...]:
    """The steps for one cue, honouring a routine's ``cues:`` (on/off milliseconds, or None = silent)."""
    overrides = overrides or {}
    if cue.cue in overrides:
        custom = overrides[cue.cue]
        if custom is None:
            return ()
        base = PATTERNS.get(cue.cue) or PATTERNS.get(f"{cue.cue}:right") or ((SHORT, MID),)
        tone = base[0][1] or MID
        return tuple((ms / 1000.0, tone if i % 2 == 0 else None) for i, ms in enumerate(custom))
    if cue.cue == "switch-side":
        return PATTERNS["switch-side:left" if cue.side == "left" else "switch-side:right"]
    return PATTERNS.get(cue.cue, ())


@dataclass
class _Playing:
    steps: tuple[Step, ...]
    index: int
    ends: float


class BuzzerOutput(Output):
    """An App output that plays cue patterns on gpiozero devices.

    ``buzzer`` is a gpiozero ``Buzzer`` (active), a ``PassiveBuzzer`` or
    None; ``vibration`` an optional ``OutputDevice`` that mirrors it (also in
    quiet mode, which only silences the buzzer). ``on_pin(t, pin, state)``
    hears every change of an output pin, for the simulation's timeline.
    A cue queued behind another starts CUE_GAP after it ends, so the ear
    hears two cues, not one run of beeps.
    """

    MAX_QUEUE = 4

    def __init__(self, buzzer=None, vibration=None, *, quiet: bool = False,
                 overrides: Callable[[], dict] = dict, on_pin: Callable[[float, str, int], None] | None = None):
        self.buzzer = buzzer
        self.vibration = vibration
        self.quiet = quiet
        self.overrides = overrides
        self.on_pin = on_pin
        self._queue: deque[tuple[float, tuple[Step, ...]]] = deque()
        self._playing: _Playing | None = None
        self._levels: dict[str, int] = {}
        self._last_change = float("-inf")
        self.played: list[tuple[float, str]] = []  # (t, cue): what was started, for tests and `check`

    def next_deadline(self) -> float | None:
        if self._playing:
            return self._playing.ends
        return self._queue[0][0] if self._queue else None

    def effects(self, effects: list[Effect], now: float) -> None:
        for e in effects:
            if isinstance(e, Cue):
                self.cue(e)
        self.advance(now)

    def cue(self, cue: Cue) -> None:
        steps = pattern_for(cue, self.overrides())
        if not steps:
            return
        if len(self._queue) >= self.MAX_QUEUE:  # never fall behind: drop the oldest waiting cue
            self._queue.popleft()
        self._queue.append((cue.t, steps))
        self.played.append((cue.t, cue.cue))

    def advance(self, now: float) -> None:
        """Carry out every step change due by ``now``, each at its own time."""
        while True:
            if self._playing and self._playing.ends <= now:
                p = self._playing
                p.index += 1
                if p.index < len(p.steps):
                    p.ends += p.steps[p.index][0]
                    self._apply(p.steps[p.index][1], p.ends - p.steps[p.index][0])
                else:
                    self._playing = None
                    self._apply(None, p.ends)
                    continue
            if self._playing is None and self._queue and self._queue[0][0] <= now:
                start, steps = self._queue.popleft()
                start = max(start, self._last_change + CUE_GAP)  # queued behind the pattern before it
                self._playing = _Playing(steps, 0, start + steps[0][0])
                self._apply(steps[0][1], start)
                continue
            return

    def _apply(self, tone: float | None, t: float) -> None:
        self._last_change = t
        if self.buzzer is not None and not self.quiet:
            try:
                if tone is None:
                    self.buzzer.stop() if hasattr(self.buzzer, "stop") else self.buzzer.off()
                elif hasattr(self.buzzer, "play"):
                    self.buzzer.play(tone)
                else:
                    self.buzzer.on()
            except Exception:  # a GPIO fault must never stop the timer
                log.exception("buzzer failed")
            self._report(t, self.buzzer)
        if self.vibration is not None:
            try:
                self.vibration.value = 1 if tone is not None else 0
            except Exception:
                log.exception("vibration motor failed")
            self._report(t, self.vibration)

    def _report(self, t: float, device) -> None:
        # a PassiveBuzzer is not a gpiozero device: its pin is its PWM output's
        pin = getattr(getattr(device, "pwm_device", device), "pin", None)
        if pin is None:
            return
        name = str(pin.info.name) if getattr(pin, "info", None) else str(pin)
        level = 1 if (pin.state or 0) > 0 else 0
        if self._levels.get(name) != level:
            self._levels[name] = level
            if self.on_pin:
                self.on_pin(t, name, level)

    def off(self) -> None:
        """Silence everything now (shutdown, SIGTERM)."""
        self._queue.clear()
        self._playing = None
        for device in (self.buzzer, self.vibration):
            if device is not None:
                try:
                    device.stop() if hasattr(device, "stop") else device.off()
                except Exception:
                    log.exception("could not switch an output off")


class PassiveBuzzer:
    """A passive piezo on a PWM pin: each tone a multiple of ``pitch`` Hz, loudness the PWM duty.

    gpiozero's TonalBuzzer always plays at 50 % duty (and only within its octaves), so this drives
    its own ``PWMOutputDevice``: ``frequency`` per tone, ``value`` = the duty for ``volume``.
    """

    def __init__(self, pwm_device, *, pitch: float, volume: int):
        self.pwm_device = pwm_device
        self.pitch = pitch
        self.duty = duty_for(volume)

    def play(self, tone: float) -> None:
        """Sound ``tone`` x the base pitch (the frequency first: no click at the old one)."""
        self.pwm_device.frequency = self.pitch * tone
        self.pwm_device.value = self.duty

    def stop(self) -> None:
        self.pwm_device.value = 0

    def close(self) -> None:
        self.pwm_device.close()


def duty_for(volume: int) -> float:
    """The PWM duty for ``volume`` (0-100 %): 100 % is a square wave's loudest, 50 % duty.

    A square wave's fundamental grows with the duty up to 50 % and shrinks past it (20 % and 80 %
    sound the same), so the volume spans 0-50 % duty; lgpio sets the duty in whole percent, so it
    is rounded to one, never to 0 % unless the volume is 0.

    >>> duty_for(100), duty_for(50), duty_for(1), duty_for(0)
    (0.5, 0.25, 0.01, 0.0)
    """
    if volume <= 0:
        return 0.0
    return max(1, round(volume / 2)) / 100


def highest_tone(pitch: float) -> float:
    """The highest frequency the table plays over base ``pitch``, in Hz."""
    return pitch * max(tone for steps in PATTERNS.values() for _, tone in steps if tone is not None)


def sound_devices(buzzer, pin_factory) -> tuple[object | None, object | None]:
    """The configured buzzer (active: Buzzer, passive: PassiveBuzzer) and optional vibration motor."""
    from gpiozero import Buzzer, DigitalOutputDevice, PWMOutputDevice
    from gpiozero.exc import PinPWMUnsupported

    sound = None
    if buzzer.kind == "active":
        sound = Buzzer(buzzer.pin, pin_factory=pin_factory)
    elif buzzer.kind == "passive":
        try:
            pwm = PWMOutputDevice(buzzer.pin, frequency=buzzer.pitch, pin_factory=pin_factory)
        except PinPWMUnsupported:  # libgpiod's pins do not do PWM: gpiozero's default (lgpio) for this one
            pwm = PWMOutputDevice(buzzer.pin, frequency=buzzer.pitch)
        sound = PassiveBuzzer(pwm, pitch=buzzer.pitch, volume=buzzer.volume)
    motor = DigitalOutputDevice(buzzer.vibration_pin, pin_factory=pin_factory) if buzzer.vibration_pin else None
    return sound, motor
