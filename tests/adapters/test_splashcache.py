"""adapters/splashcache.py: what it keeps is used only for the same, unchanged config file."""

from __future__ import annotations

import json
import os

from stretchbox.adapters.splashcache import NAME, recall, remember
from stretchbox.config import Display


def kept(tmp_path, text="display:\n  rotate: 2\n"):
    config = tmp_path / "config.yaml"
    config.write_text(text)
    remember(tmp_path, config, Display(rotate=2, i2c_address=0x3D))
    return config


def test_the_same_unchanged_file_gives_back_what_was_kept(tmp_path):
    config = kept(tmp_path)
    assert recall(tmp_path, config) == Display(rotate=2, i2c_address=0x3D)


def test_a_file_touched_back_to_its_old_time_is_read_again(tmp_path):
    config = kept(tmp_path)
    st = os.stat(config)
    config.write_text("display:\n  rotate: 1\n")  # same size
    os.utime(config, ns=(st.st_atime_ns, st.st_mtime_ns))  # same mtime: the ctime still moved
    assert recall(tmp_path, config) is None


def test_another_config_file_is_not_this_one(tmp_path):
    kept(tmp_path)
    other = tmp_path / "other.yaml"
    other.write_text("display:\n  rotate: 2\n")
    assert recall(tmp_path, other) is None


def test_a_torn_or_foreign_file_means_the_config_is_read(tmp_path):
    config = kept(tmp_path)
    good = json.loads((tmp_path / NAME).read_text())
    for broken in ('{"config": [', "[]", json.dumps({**good, "display": {**good["display"], "width": "128"}}),
                   json.dumps({**good, "display": {"rotate": 2}}), json.dumps({**good, "display": None})):
        (tmp_path / NAME).write_text(broken)
        assert recall(tmp_path, config) is None, broken


def test_nothing_is_written_where_there_is_no_folder(tmp_path):
    config = tmp_path / "config.yaml"
    config.write_text("")
    remember(tmp_path / "missing", config, Display())
    assert not (tmp_path / "missing").exists()
