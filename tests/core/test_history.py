"""core/history.py: the history line's shape (hostile lines refused with a reason), and the summaries on a
fake clock: side totals, this week, the weekly streak, counts without a calendar, the CSV rows."""

import copy
import csv
import io
import json
from datetime import date, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stretchbox.core.history import (BALANCE, CSV_HEADER, Ending, ImportMarker, SessionLog, SessionRecord, SideLog,
                                     entry_from_dict, finished_counts, history_table, ordinal, side_totals,
                                     streak_line, csv_rows, this_week, totals_line, week_streak)

DAY = 86400
MONDAY = datetime(2026, 11, 23, 12, tzinfo=timezone.utc).timestamp()  # a Monday, noon UTC


def utc_day(epoch: float) -> date:
    return datetime.fromtimestamp(epoch, timezone.utc).date()


def record(start: float | None = MONDAY, ended: Ending = Ending.FINISHED, clock: str | None = "ntp",
           left: float = 30.0, right: float = 30.0, boot: str = "boot-1", routine: str = "Post-run") -> SessionRecord:
    sides = [SideLog(1, "Calf", "left", 30, left), SideLog(1, "Calf", "right", 30, right),
             SideLog(2, "Neck", None, None, 12.5, extended=10), SideLog(3, "Hip", None, 20, 0.0, skipped=True)]
    log = SessionLog(routine, "c0ffee", 0.0, sides, pauses=1, paused=4.0, ended=ended, duration=80.0)
    return SessionRecord(log, start, None if start is None else start + 80, clock, boot)


def test_a_record_goes_through_json_and_back_unchanged():
    for r in (record(), record(None, Ending.INTERRUPTED, None), record(clock="usb")):
        line = json.dumps(r.to_dict())
        assert SessionRecord.from_dict(json.loads(line)).to_dict() == r.to_dict()
        assert entry_from_dict(json.loads(line)) == r
    marker = ImportMarker(5, MONDAY, "rtc", "boot-1")
    assert entry_from_dict(json.loads(json.dumps(marker.to_dict()))) == marker
    assert marker.to_dict()["event"] == "import" and record().to_dict()["v"] == 1


def test_a_session_without_an_ending_is_not_recorded():
    r = record()
    r.log.ended = None
    with pytest.raises(ValueError, match="once it has ended"):
        r.to_dict()


def _without(d, *path):
    d = copy.deepcopy(d)
    target = d
    for key in path[:-1]:
        target = target[key]
    del target[path[-1]]
    return d


def _with(d, value, *path):
    d = copy.deepcopy(d)
    target = d
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return d


GOOD = record().to_dict()
HOSTILE = [
    ([], "not a JSON object"), ("text", "not a JSON object"), (None, "not a JSON object"),
    (_with(GOOD, 2, "v"), "version 2"), (_with(GOOD, True, "v"), "version"), (_without(GOOD, "v"), "version"),
    (_with(GOOD, "party", "event"), "unknown event"), (_with(GOOD, "crashed", "ended"), "'ended' must be"),
    (_with(GOOD, None, "ended"), "'ended' must be"), (_with(GOOD, "x", "routine"), "'routine'"),
    (_without(GOOD, "routine", "hash"), "'hash' must be text"), (_with(GOOD, 7, "routine", "name"), "'name'"),
    (_with(GOOD, {}, "sides"), "'sides' must be a list"), (_with(GOOD, ["x"], "sides"), "a side is not"),
    (_with(GOOD, 0, "sides", 0, "stretch"), "'stretch' must be a whole number from 1"),
    (_with(GOOD, "up", "sides", 0, "side"), "'side' must be"), (_with(GOOD, 1, "sides", 0, "skipped"), "'skipped'"),
    (_with(GOOD, -1, "sides", 0, "held"), "'held' must be a number"),
    (_with(GOOD, float("nan"), "sides", 0, "held"), "'held'"), (_with(GOOD, float("inf"), "duration"), "'duration'"),
    (_with(GOOD, True, "sides", 0, "held"), "'held'"), (_with(GOOD, 1.5, "sides", 0, "planned"), "'planned'"),
    (_with(GOOD, "1", "pauses"), "'pauses'"), (_with(GOOD, 10 ** 5000, "pauses"), "'pauses'.*5001 digits"),
    (_with(GOOD, 10 ** 400, "sides", 0, "held"), "'held'.*401 digits"), (_with(GOOD, 1e300, "end"), "'end'"),
    (_with(GOOD, "gps", "clock"), "'clock' must be one of ntp, rtc, usb"), (_with(GOOD, 5, "boot"), "'boot'"),
    (_with(GOOD, "yesterday", "start"), "'start'"), (_with(ImportMarker(1).to_dict(), -1, "routines"), "'routines'"),
]


@pytest.mark.parametrize("d, reason", HOSTILE)
def test_a_malformed_line_is_a_value_error_with_a_short_reason(d, reason):
    with pytest.raises(ValueError, match=reason) as exc:
        entry_from_dict(d)
    assert len(str(exc.value)) < 100 and "\n" not in str(exc.value)


def test_side_totals_flag_the_side_held_under_the_balance_share_of_the_other():
    records = [record(left=30, right=30), record(left=30, right=17)]
    calf, neck, hip = side_totals(records)
    assert (calf.name, calf.held) == ("Calf", {"left": 60.0, "right": 47.0})
    assert 47 < BALANCE * 60 and calf.shortchanged() == "right"
    assert side_totals([record(left=20, right=30)])[0].shortchanged() == "left"
    assert side_totals([record(left=30, right=BALANCE * 30)])[0].shortchanged() is None  # at the line: even enough
    assert (neck.held, neck.shortchanged()) == ({None: 25.0}, None)  # no sides: nothing to compare
    assert hip.held == {None: 0.0}


def test_a_stretch_planned_on_one_side_only_is_not_shortchanged():
    r = record()
    r.log.sides = [SideLog(1, "Hamstring", "left", 30, 30.0)]
    assert side_totals([r])[0].shortchanged() is None


def test_this_week_is_the_calendar_week_by_the_trusted_clock():
    records = [record(MONDAY - DAY), record(MONDAY), record(MONDAY + 6 * DAY + 11 * 3600),  # Sun 23:00
               record(MONDAY + 7 * DAY), record(MONDAY + DAY, clock=None)]
    week = this_week(records, utc_day(MONDAY + 3 * DAY), "boot-1", utc_day)
    assert week.label == "this week" and week.records == records[1:3]


def test_this_week_without_a_trusted_clock_is_since_this_boot_and_says_so():
    records = [record(boot="boot-1"), record(None, clock=None, boot="boot-2"), record(boot="boot-2")]
    week = this_week(records, None, "boot-2", utc_day)
    assert week.label == "since this boot" and week.records == records[1:]
    assert this_week(records, None, None, utc_day).records == []  # no boot id: nothing is "this boot"


def weeks_ago(n: int, ended: Ending = Ending.FINISHED, clock: str | None = "ntp") -> SessionRecord:
    return record(MONDAY - n * 7 * DAY + DAY, ended, clock)


TODAY = utc_day(MONDAY + 2 * DAY)


@pytest.mark.parametrize("weeks, streak", [
    ([], 0), ([0], 1), ([0, 1, 2], 3), ([0, 1, 3], 2), ([1, 2], 2),  # this week not over: last week's streak stands
    ([2, 3], 0), ([0, 0, 0], 1), (list(range(12)), 12),
])
def test_the_weekly_streak_counts_calendar_weeks_in_a_row(weeks, streak):
    assert week_streak([weeks_ago(n) for n in weeks], TODAY, utc_day) == streak


def test_only_finished_sessions_on_a_trusted_clock_make_a_streak():
    base = [weeks_ago(0), weeks_ago(2)]
    assert week_streak(base + [weeks_ago(1, Ending.STOPPED), weeks_ago(1, Ending.INTERRUPTED)], TODAY, utc_day) == 1
    assert week_streak(base + [weeks_ago(1, clock=None)], TODAY, utc_day) == 1
    assert week_streak(base + [weeks_ago(1, clock="usb")], TODAY, utc_day) == 3


def test_the_streak_crosses_a_year_with_53_iso_weeks():
    # 2026 has an ISO week 53 (Mon 28 Dec 2026); then week 1 of 2027 starts on Mon 4 Jan 2027.
    days = [date(2026, 12, 24), date(2026, 12, 30), date(2027, 1, 5)]
    records = [record(datetime(d.year, d.month, d.day, 12, tzinfo=timezone.utc).timestamp()) for d in days]
    assert date(2026, 12, 30).isocalendar().week == 53
    assert week_streak(records, date(2027, 1, 7), utc_day) == 3


def test_counts_without_a_calendar_start_again_at_each_import():
    entries = [record(), ImportMarker(3), record(), record(ended=Ending.STOPPED), record(clock=None)]
    assert finished_counts(entries) == (3, 2)
    assert finished_counts(entries[:1]) == (1, None)
    assert finished_counts(entries + [ImportMarker(1)]) == (3, 0)


@pytest.mark.parametrize("n, text", [(1, "1st"), (2, "2nd"), (3, "3rd"), (4, "4th"), (11, "11th"), (12, "12th"),
                                     (13, "13th"), (21, "21st"), (22, "22nd"), (23, "23rd"), (100, "100th"),
                                     (101, "101st"), (111, "111th"), (112, "112th"), (113, "113th"), (1002, "1002nd")])
def test_ordinals(n, text):
    assert ordinal(n) == text


def test_the_done_screen_line_with_a_trusted_clock():
    assert streak_line([weeks_ago(0), weeks_ago(1), weeks_ago(2)], TODAY, utc_day) == "3rd week in a row"
    assert streak_line([weeks_ago(1), weeks_ago(2)], TODAY, utc_day) == "2nd week in a row"
    assert streak_line([weeks_ago(0)], TODAY, utc_day) == "1 session this week"
    assert streak_line([weeks_ago(0), weeks_ago(0), weeks_ago(3)], TODAY, utc_day) == "2 sessions this week"
    # nothing finished this week and no streak: the counts, never what was missed
    assert streak_line([weeks_ago(3), weeks_ago(0, Ending.STOPPED)], TODAY, utc_day) == "1 session"


def test_the_done_screen_line_without_a_trusted_clock():
    entries = [record(clock=None)] * 7 + [ImportMarker(2)] + [record(clock=None)] * 5
    assert streak_line(entries, None, utc_day) == "12 sessions, 5 since the last import"
    assert streak_line(entries[:1], None, utc_day) == "1 session"
    assert streak_line([], None, utc_day) == "0 sessions"


def test_the_line_never_nags():
    cases = [[weeks_ago(n) for n in ns] for ns in ([], [5], [0, 4], [1], [2, 3])]
    lines = {streak_line(c, today, utc_day) for c in cases for today in (TODAY, None)}
    assert not any(word in line.lower() for line in lines for word in ("miss", "lost", "broke", "again", "only"))


def test_csv_rows_one_per_side_per_session():
    rows = csv_rows([record(MONDAY), record(None, Ending.INTERRUPTED, None, routine="=HYPERLINK(1)")], utc_day)
    assert rows[0] == CSV_HEADER and len(rows) == 1 + 2 * 4
    assert rows[1] == ("2026-11-23", "Post-run", "Calf", "left", "30", "30.0", "no", "0", "finished")
    assert rows[3] == ("2026-11-23", "Post-run", "Neck", "", "", "12.5", "no", "10", "finished")
    assert rows[4][6] == "yes"
    assert rows[5][:2] == ("", "'=HYPERLINK(1)") and rows[5][-1] == "interrupted"
    from stretchbox.core.history import csv_text

    assert list(csv.reader(io.StringIO(csv_text([record(MONDAY)], utc_day)))) == [list(r) for r in rows[:5]]


def test_the_table_escapes_names_and_flags_a_shortchanged_side():
    lines = history_table([record(MONDAY, left=30, right=10, routine="evil\nname"),
                           record(None, Ending.STOPPED, None)], utc_day)
    assert lines[1].split() == ["2026-11-23", "evil\\nname", "0:52", "2", "1", "finished"]
    assert lines[2].startswith("unknown date")
    calf = next(line for line in lines if line.startswith("Calf"))
    assert calf.split()[:3] == ["Calf", "1:00", "0:40"] and "right under 80% of the other side" in calf
    assert all("\n" not in line for line in lines)


JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5),
                    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
                    max_leaves=8)
PLACES = [(k,) for k in GOOD] + [("routine", "name"), ("routine", "hash")] + \
    [("sides", 0, k) for k in GOOD["sides"][0]]


@settings(max_examples=400, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(PLACES), JSON), min_size=1, max_size=3))
def test_any_value_anywhere_is_refused_with_a_value_error_or_read_and_summarised(changes):
    d = GOOD
    for place, value in changes:
        try:
            d = _with(d, value, *place)
        except (TypeError, KeyError, IndexError):  # an earlier change took that place away
            pass
    try:
        r = entry_from_dict(d)
    except ValueError:
        return
    history_table([r], utc_day), csv_rows([r], utc_day), totals_line([r]), streak_line([r], TODAY, utc_day)
    assert json.loads(json.dumps(r.to_dict(), allow_nan=False)) == r.to_dict()
