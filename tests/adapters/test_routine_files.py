"""Routine files: FILE:LINE:COL messages, hostile input, `stretchbox validate` exit codes."""

import codecs
import re
import subprocess
import sys

import pytest

from stretchbox.adapters.routines import DEFAULT_ROUTINE, builtin_dir, load_builtin, load_routine
from stretchbox.adapters.yamlfile import MAX_FILE_BYTES, FileError
from stretchbox.cli import main


def default_routine_path():
    return builtin_dir() / DEFAULT_ROUTINE

GOOD = """\
schema: 1
name: Quick calves
defaults:
  hold: 30s
stretches:
  - name: Calf
    icon: calf
    cue: Heel down, lean in.
"""
LOCATION = re.compile(r"^(?P<file>.+):(?P<line>\d+):(?P<col>\d+): (?P<message>.+)$")


def write(tmp_path, content, name="r.yaml"):
    path = tmp_path / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    return path


def problems(path):
    with pytest.raises(FileError) as exc:
        load_routine(path)
    lines = str(exc.value).splitlines()
    for line in lines:
        m = LOCATION.match(line)
        assert m, f"not FILE:LINE:COL: {line!r}"
        assert m["file"] == str(path)
    return [(p.line, p.col, p.message) for p in exc.value.problems]


def test_good_file_loads(tmp_path):
    r = load_routine(write(tmp_path, GOOD))
    assert r.name == "Quick calves" and r.stretches[0].cue == "Heel down, lean in."


def test_problems_name_the_line_and_column_of_the_offending_node(tmp_path):
    text = GOOD.replace("    icon: calf\n", "    icon: calf\n    hodl: 30\n    hold: 10\n    sides: left\n    sides: right\n")
    found = problems(write(tmp_path, text))
    assert (8, 5, "unknown key 'hodl': did you mean 'hold'?") in found
    assert any(line == 9 and col == 11 and "under min_hold" in msg for line, col, msg in found)
    assert (11, 5, "duplicate key 'sides' (first at line 10)") in found
    assert len(found) == 3


def test_default_hold_under_min_hold_points_at_defaults(tmp_path):
    found = problems(write(tmp_path, GOOD.replace("hold: 30s", "hold: 15s")))
    assert found == [(4, 9, "the default hold of 15 s is under min_hold (20 s)")]


def test_bom_and_crlf_from_windows_are_accepted(tmp_path):
    path = write(tmp_path, codecs.BOM_UTF8 + GOOD.replace("\n", "\r\n").encode())
    assert load_routine(path).name == "Quick calves"


def test_utf8_names_are_fine(tmp_path):
    assert load_routine(write(tmp_path, GOOD.replace("Quick calves", "Mollets rapides é"))).name.endswith("é")


BOMB = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}]\n"
    for i in range(9))

HOSTILE = {
    "too big": ("schema: 1\n" + "# padding\n" * (MAX_FILE_BYTES // 10 + 10), "limit is"),
    "alias bomb": (BOMB, "aliases"),
    "python tag": ("schema: 1\nname: !!python/object/apply:os.system ['true']\nstretches: []\n", "tag"),
    "custom tag": ("schema: 1\nname: !shout x\nstretches: []\n", "tag"),
    "merge key": ("schema: 1\nname: x\nstretches:\n  - {<<: {name: a}, icon: calf}\n", "merge keys"),
    "binary": (bytes(range(256)) * 4, "binary"),
    "png": (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + b"\x00" * 40, "binary"),
    "empty": ("", "empty"),
    "only comments": ("# nothing here\n\n", "empty"),
    "utf-16 with bom": (GOOD.encode("utf-16"), "UTF-16"),
    "utf-16 without bom": (GOOD.encode("utf-16-le"), "UTF-16"),
    "latin-1": (GOOD.replace("Quick calves", "Mollets \xe9t\xe9").encode("latin-1"), "not UTF-8 (byte 0xE9)"),
    "not yaml": ("schema: 1\nname: [unclosed\n", "YAML"),
    "two documents": ("schema: 1\n---\nschema: 1\n", "YAML"),
    "a list": ("- 1\n- 2\n", "expected a mapping"),
    "deep nesting": ("[" * 5000 + "]" * 5000, "nested too deeply"),
    "control character": ("schema: 1\nname: a\x07b\n", "control character"),
    "huge number": ("schema: 1\nname: x\ndefaults: {hold: 1e999}\nstretches: [{name: a}]\n", "hold"),
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_hostile_files_get_a_located_message_never_a_traceback(tmp_path, case):
    content, expect = HOSTILE[case]
    found = problems(write(tmp_path, content))
    assert found, case
    assert any(expect in msg for _, _, msg in found), found


def test_latin1_error_names_the_line_of_the_bad_byte(tmp_path):
    found = problems(write(tmp_path, HOSTILE["latin-1"][0]))
    assert found[0][0] == 2  # the name line


def test_big_file_is_not_read_whole(tmp_path):
    path = tmp_path / "big.yaml"
    with open(path, "wb") as f:
        f.truncate(10 * 1024 * 1024)  # sparse 10 MB
    assert "limit is" in problems(path)[0][2]


def test_the_default_routine_is_the_six_post_run_stretches():
    r = load_routine(default_routine_path())
    names = [s.name for s in r.stretches]
    assert len(names) == 6
    assert [s.sides.value for s in r.stretches] == ["both", "both", "none", "both", "both", "both"]
    assert all(s.timing.hold == 30 and s.timing.hold >= r.min_hold == 20 for s in r.stretches)
    assert {s.icon for s in r.stretches} == {"seated-hamstring", "hip-flexor", "wide-leg-fold", "piriformis",
                                            "it-band", "calf"}
    assert all(s.cue and s.why for s in r.stretches)
    assert load_builtin()[0] == load_routine(default_routine_path(), display=f"<built-in>/{default_routine_path().name}")


def test_validate_exit_codes(tmp_path, capsys):
    good = write(tmp_path, GOOD, "good.yaml")
    bad = write(tmp_path, GOOD.replace("icon: calf", "icn: calf"), "bad.YML")
    assert main(["validate", str(good)]) == 0
    assert main(["validate", str(good), str(bad)]) == 1
    err = capsys.readouterr().err
    assert f"{bad}:7:5: unknown key 'icn': did you mean 'icon'?" in err
    assert main(["validate", str(tmp_path)]) == 1  # the folder holds the bad file too
    assert main(["validate", str(tmp_path / "missing.yaml")]) == 2
    assert main(["validate"]) == 2
    (tmp_path / "only").mkdir()
    write(tmp_path / "only", GOOD, "GOOD.YAML")
    assert main(["validate", str(tmp_path / "only")]) == 0
    assert main(["validate", str(default_routine_path().parent)]) == 0


def test_validate_runs_as_a_module_too(tmp_path):
    bad = write(tmp_path, BOMB)
    proc = subprocess.run([sys.executable, "-m", "stretchbox", "validate", str(bad)],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr and f"{bad}:2:" in proc.stderr


# ---------------------------------------------------------------- icons: validate says what import says

def _icon_routine(tmp_path, icon="shoulder"):
    folder = tmp_path / "stretchbox"
    folder.mkdir(parents=True, exist_ok=True)
    return write(folder, GOOD.replace("icon: calf", f"icon: {icon}"), "mine.yaml")


def _png() -> bytes:
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.new("1", (8, 8), 1).save(buf, "PNG")
    return buf.getvalue()


def test_validate_warns_about_an_icon_that_is_neither_built_in_nor_beside_the_file(tmp_path, capsys):
    path = _icon_routine(tmp_path)
    warning = f"{path}:7:11: warning: icon 'shoulder': shoulder.png not found beside the routine; " \
              "the generic icon is shown"
    assert main(["validate", str(path)]) == 0
    out, err = capsys.readouterr()
    assert out.startswith(f"ok: {path}: Quick calves")
    assert err.splitlines() == [warning, "1 file with warnings (--strict makes them problems)"]
    assert main(["validate", "--strict", str(path)]) == 1
    out, err = capsys.readouterr()
    assert out == "" and err.splitlines() == [warning, "1 file with problems"]


def test_validate_and_import_use_the_same_words_for_icons(tmp_path, capsys):
    from stretchbox.adapters.library.importer import import_routines

    path = _icon_routine(tmp_path / "stick")
    report = import_routines(tmp_path / "stick", tmp_path / "lib", write_report=False)
    assert report.library_changed
    main(["validate", str(path)])
    said = capsys.readouterr().err.splitlines()[0].split(": warning: ")[1]
    assert [w.message for w in report.warnings] == [said]


def test_an_icon_beside_the_file_in_any_case_is_no_warning(tmp_path, capsys):
    path = _icon_routine(tmp_path, "shoulder.png")
    (path.parent / "Shoulder.PNG").write_bytes(_png())
    assert main(["validate", "--strict", str(path)]) == 0
    assert capsys.readouterr().err == ""


def test_an_icon_file_that_is_not_a_png_is_a_problem_as_import_says(tmp_path, capsys):
    path = _icon_routine(tmp_path)
    (path.parent / "shoulder.png").write_text("not a picture")
    assert main(["validate", str(path)]) == 1
    out, err = capsys.readouterr()
    assert out == "" and err.splitlines() == [
        f"{path}:7:11: icon 'shoulder': shoulder.png is not a PNG image", "1 file with problems"]
