"""The bytes the device's ssd1306 driver sends for one default routine stay what they were, and are right.

tests/golden/bus/ssd1306-default.jsonl.gz is ``stretchbox simulate --display ssd1306 --bus-log FILE``:
the partial-update driver (adapters/partial.py) on the simulated clock, as the device draws (rewrite
it with --update-golden only for a deliberate change, and review it). A golden file alone would keep
a wrong byte once rewritten, so the log is also decoded, call by call, by the chip model of
tests/doubles/i2c_bus.py (command decoding, address pointers, GDDRAM) and the panel's RAM is
compared with the frames ``--frames`` wrote for the same run: at the end it must be the last frame.
"""

import gzip
import json
from pathlib import Path

import pytest
from PIL import Image

from stretchbox.cli import main
from tests.bus_frames import panel_states
from tests.doubles.i2c_bus import gddram

GOLDEN = Path(__file__).resolve().parents[1] / "golden" / "bus" / "ssd1306-default.jsonl.gz"


def frames_by_time(folder: Path) -> dict[float, set[bytes]]:
    """``--frames``' PNGs (named by time) as GDDRAM bytes, per time (screens drawn at one instant)."""
    out: dict[float, set[bytes]] = {}
    for png in folder.glob("*.png"):
        with Image.open(png) as image:
            out.setdefault(float(png.name.split("-")[0]), set()).add(gddram(image))
    return out


def wrong_times(states: list[tuple[float, bytes]], frames: dict[float, set[bytes]]) -> list[float]:
    """Times a frame was drawn after which the panel did not show it (one of them, when several
    were drawn at the same instant: the PNGs' names do not say which came last)."""
    wrong = []
    for t, wanted in sorted(frames.items()):
        shown = [state for when, state in states if when <= t]
        if not shown or shown[-1] not in wanted:
            wrong.append(t)
    return wrong


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """The bus log of the plain command, and the frames of the same run with --frames."""
    tmp = tmp_path_factory.mktemp("bus")
    assert main(["simulate", "--display", "ssd1306", "--bus-log", str(tmp / "bus.jsonl")]) == 0
    assert main(["simulate", "--display", "ssd1306", "--bus-log", str(tmp / "again.jsonl"),
                 "--frames", str(tmp / "frames")]) == 0
    assert (tmp / "again.jsonl").read_bytes() == (tmp / "bus.jsonl").read_bytes()  # --frames changes nothing
    return (tmp / "bus.jsonl").read_bytes(), frames_by_time(tmp / "frames")


def test_ssd1306_bus_log_of_the_default_routine_is_byte_identical(run, capsys, update_golden):
    log, _ = run
    capsys.readouterr()
    if update_golden:
        GOLDEN.write_bytes(gzip.compress(log, mtime=0))
    recorded = gzip.decompress(GOLDEN.read_bytes())
    assert log == recorded, "the ssd1306 bus log changed"


def test_the_golden_log_decoded_by_the_chip_model_shows_every_frame_and_ends_on_the_last(run):
    _, frames = run
    states = panel_states(gzip.decompress(GOLDEN.read_bytes()))
    assert len(frames) > 400
    assert wrong_times(states, frames) == []
    last = max(frames)
    assert len(frames[last]) == 1 and states[-1][1] in frames[last]  # the final RAM is the last frame


def test_control_one_wrong_byte_in_the_log_is_caught(run):
    log, frames = run
    lines = log.decode().splitlines()
    i = max(n for n, line in enumerate(lines) if json.loads(line)["kind"] == "data")  # the last window drawn
    call = json.loads(lines[i])
    payload = bytearray.fromhex(call["hex"])
    payload[0] ^= 0x10
    lines[i] = json.dumps(dict(call, hex=payload.hex()))
    states = panel_states("\n".join(lines).encode())
    assert wrong_times(states, frames) == [max(frames)]
