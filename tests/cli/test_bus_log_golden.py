"""The bytes luma's ssd1306 driver sends for one default routine stay what they were.

tests/golden/bus/ssd1306-default.jsonl.gz was recorded with
``stretchbox simulate --display ssd1306 --bus-log FILE`` before the composition root
was redesigned (rewrite with --update-golden only for a deliberate change, and review it).
"""

import gzip
from pathlib import Path

from stretchbox.cli import main

GOLDEN = Path(__file__).resolve().parents[1] / "golden" / "bus" / "ssd1306-default.jsonl.gz"


def test_ssd1306_bus_log_of_the_default_routine_is_byte_identical(tmp_path, capsys, update_golden):
    log = tmp_path / "bus.jsonl"
    assert main(["simulate", "--display", "ssd1306", "--bus-log", str(log)]) == 0
    capsys.readouterr()
    if update_golden:
        GOLDEN.write_bytes(gzip.compress(log.read_bytes(), mtime=0))
    recorded = gzip.decompress(GOLDEN.read_bytes())
    assert log.read_bytes() == recorded, "the ssd1306 bus log changed"
