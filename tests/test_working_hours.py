"""Working hours: a scripted week across DST changes, "until tomorrow", validation messages.

The oracle for boundaries is a brute-force walk in real (UTC) minutes, asking `is_working` of
each local time: independent of the boundary search in `next_change`.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from psoas_break.core.working_hours import (
    WorkingHours,
    WorkingHoursError,
    format_week,
    parse_working_hours_text,
    resume_label,
    seconds_until,
    validate_working_hours,
)

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
UTC = timezone.utc

OFFICE = {
    "mon": ["09:00-12:30", "13:30-17:30"],
    "tue": ["09:00-12:30", "13:30-17:30"],
    "wed": ["09:00-12:30", "13:30-17:30"],
    "thu": ["09:00-12:30", "13:30-17:30"],
    "fri": ["09:00-15:00"],
    "sat": [],
    # Sunday ranges sit right on the DST changes (both fall on Sundays in Europe and the US).
    "sun": ["01:30-02:30", "03:30-05:00"],
}


def brute_next_change(wh: WorkingHours, wall: datetime, days: int = 17) -> datetime | None:
    """The first whole UTC minute after `wall` where is_working differs (None within `days`)."""
    state = wh.is_working(wall)
    t = wall.astimezone(UTC).replace(second=0, microsecond=0) + timedelta(minutes=1)
    end = t + timedelta(days=days)
    while t < end:
        if wh.is_working(t.astimezone(wall.tzinfo)) != state:
            return t
        t += timedelta(minutes=1)
    return None


def walk(wh: WorkingHours, start: datetime, end: datetime) -> list[tuple[str, bool]]:
    """Follow next_change from `start` until `end`: [(local ISO time, working from then)]."""
    out: list[tuple[str, bool]] = []
    wall = start
    while True:
        change = wh.next_change(wall)
        if change is None or change >= end:
            return out
        assert change.tzinfo is wall.tzinfo
        assert seconds_until(wall, change) > 0
        out.append((change.isoformat(), wh.is_working(change)))
        wall = change


def test_scripted_week_berlin_spring_forward() -> None:
    wh = validate_working_hours(OFFICE)
    got = walk(wh, datetime(2026, 3, 27, 0, 0, tzinfo=BERLIN), datetime(2026, 3, 31, tzinfo=BERLIN))
    assert got == [
        ("2026-03-27T09:00:00+01:00", True),
        ("2026-03-27T15:00:00+01:00", False),
        # Sunday 29 March: 02:00 CET -> 03:00 CEST.
        ("2026-03-29T01:30:00+01:00", True),
        # The clock jumps from 01:59:59 to 03:00, out of 01:30-02:30: the range ends then.
        ("2026-03-29T03:00:00+02:00", False),
        ("2026-03-29T03:30:00+02:00", True),
        ("2026-03-29T05:00:00+02:00", False),
        ("2026-03-30T09:00:00+02:00", True),
        ("2026-03-30T12:30:00+02:00", False),
        ("2026-03-30T13:30:00+02:00", True),
        ("2026-03-30T17:30:00+02:00", False),
    ]


def test_scripted_week_berlin_fall_back() -> None:
    wh = validate_working_hours(OFFICE)
    got = walk(wh, datetime(2026, 10, 24, 12, 0, tzinfo=BERLIN),
               datetime(2026, 10, 26, 10, 0, tzinfo=BERLIN))
    assert got == [
        # Sunday 25 October: 03:00 CEST -> 02:00 CET; 02:00-02:59 happens twice.
        ("2026-10-25T01:30:00+02:00", True),
        ("2026-10-25T02:30:00+02:00", False),
        # Back to 02:00 (CET): inside 01:30-02:30 again until the second 02:30.
        ("2026-10-25T02:00:00+01:00", True),
        ("2026-10-25T02:30:00+01:00", False),
        ("2026-10-25T03:30:00+01:00", True),
        ("2026-10-25T05:00:00+01:00", False),
        ("2026-10-26T09:00:00+01:00", True),
    ]


def test_scripted_week_new_york() -> None:
    wh = validate_working_hours(OFFICE)
    # US spring forward: Sunday 8 March 2026, 02:00 EST -> 03:00 EDT.
    got = walk(wh, datetime(2026, 3, 6, 16, 0, tzinfo=NEW_YORK),
               datetime(2026, 3, 9, 12, 0, tzinfo=NEW_YORK))
    assert got == [
        ("2026-03-08T01:30:00-05:00", True),
        ("2026-03-08T03:00:00-04:00", False),
        ("2026-03-08T03:30:00-04:00", True),
        ("2026-03-08T05:00:00-04:00", False),
        ("2026-03-09T09:00:00-04:00", True),
    ]
    # US fall back: Sunday 1 November 2026, 02:00 EDT -> 01:00 EST (01:00-01:59 twice).
    got = walk(wh, datetime(2026, 10, 31, 12, 0, tzinfo=NEW_YORK),
               datetime(2026, 11, 1, 6, 0, tzinfo=NEW_YORK))
    assert got == [
        ("2026-11-01T01:30:00-04:00", True),
        # At 02:00 EDT the clock goes back to 01:00 EST, before 01:30: off until 01:30 again.
        ("2026-11-01T01:00:00-05:00", False),
        ("2026-11-01T01:30:00-05:00", True),
        ("2026-11-01T02:30:00-05:00", False),
        ("2026-11-01T03:30:00-05:00", True),
        ("2026-11-01T05:00:00-05:00", False),
    ]


@pytest.mark.parametrize(
    "start",
    [
        datetime(2026, 3, 23, 0, 0, tzinfo=BERLIN),
        datetime(2026, 10, 19, 0, 0, tzinfo=BERLIN),
        datetime(2026, 3, 2, 0, 0, tzinfo=NEW_YORK),
        datetime(2026, 10, 26, 0, 0, tzinfo=NEW_YORK),
    ],
)
def test_every_change_of_a_dst_week_matches_a_minute_by_minute_walk(start: datetime) -> None:
    wh = validate_working_hours(OFFICE)
    wall = start
    zone = start.tzinfo
    end = wall + timedelta(days=8)
    flips = 0
    while wall < end:
        change = wh.next_change(wall)
        expected = brute_next_change(wh, wall)
        assert change is not None and expected is not None
        assert change.astimezone(UTC) == expected, wall.isoformat()
        # Just before the change the state is the old one, at it the new one.
        before = (change.astimezone(UTC) - timedelta(seconds=1)).astimezone(zone)
        assert wh.is_working(before) != wh.is_working(change)
        wall = change
        flips += 1
    assert flips >= 20


# Half hours, with the hours around the DST changes (01:00-03:00) drawn more often.
_times = st.one_of(
    st.sampled_from([60, 90, 120, 150, 180]), st.integers(0, 48).map(lambda q: q * 30)
)
# Sunday of each DST change (wall times are drawn from two days before to two days after).
_DST_SUNDAYS = [
    (BERLIN, datetime(2026, 3, 29, tzinfo=BERLIN)),
    (BERLIN, datetime(2026, 10, 25, tzinfo=BERLIN)),
    (NEW_YORK, datetime(2026, 3, 8, tzinfo=NEW_YORK)),
    (NEW_YORK, datetime(2026, 11, 1, tzinfo=NEW_YORK)),
]


@st.composite
def weeks(draw: st.DrawFn) -> dict[str, list[str]]:
    table: dict[str, list[str]] = {}
    for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun"):
        points = sorted(set(draw(st.lists(_times, max_size=4))))
        ranges = [
            f"{a // 60:02d}:{a % 60:02d}-{b // 60:02d}:{b % 60:02d}"
            for a, b in zip(points[::2], points[1::2], strict=False)
            if a < b
        ]
        table[day] = ranges
    if not any(table.values()):
        table["wed"] = ["10:00-11:00"]
    return table


@settings(max_examples=100, deadline=None)
@given(
    table=weeks(),
    dst=st.sampled_from(_DST_SUNDAYS),
    # Half the wall times fall in the six hours before the change's night.
    minutes=st.one_of(st.integers(2 * 24 * 60 - 360, 2 * 24 * 60 + 120),
                      st.integers(0, 4 * 24 * 60)),
    second=st.integers(0, 59),
)
def test_next_change_is_the_first_flip_for_any_week(
    table: dict[str, list[str]], dst: tuple[ZoneInfo, datetime], minutes: int, second: int
) -> None:
    wh = validate_working_hours(table)
    zone, sunday = dst
    start = sunday.astimezone(UTC) - timedelta(days=2)
    wall = (start + timedelta(minutes=minutes, seconds=second)).astimezone(zone)
    change = wh.next_change(wall)
    expected = brute_next_change(wh, wall)
    if expected is None:
        assert change is None
    else:
        assert change is not None and change.astimezone(UTC) == expected


def test_until_tomorrow_friday_evening_is_monday_morning() -> None:
    wh = WorkingHours("weekdays_9_17")
    friday = datetime(2026, 3, 27, 18, 0, tzinfo=BERLIN)
    monday = wh.next_start(friday)
    assert monday == datetime(2026, 3, 30, 9, 0, tzinfo=BERLIN)
    assert monday is not None and monday.utcoffset() == timedelta(hours=2)
    # The weekend holds the spring-forward night: one hour less than the wall clocks say.
    assert seconds_until(friday, monday) == (2 * 24 + 14) * 3600
    assert resume_label(friday, monday) == "Mon 09:00"


def test_until_tomorrow_custom_days() -> None:
    wh = validate_working_hours(OFFICE)
    # Friday after work: Saturday is free, Sunday's first range starts 01:30.
    friday = datetime(2026, 4, 3, 16, 0, tzinfo=BERLIN)
    assert wh.next_start(friday) == datetime(2026, 4, 5, 1, 30, tzinfo=BERLIN)
    # Monday before work: not today's start, tomorrow's.
    monday_early = datetime(2026, 4, 6, 7, 0, tzinfo=BERLIN)
    assert wh.next_start(monday_early) == datetime(2026, 4, 7, 9, 0, tzinfo=BERLIN)
    # In the middle of the day the same.
    assert wh.next_start(datetime(2026, 4, 6, 13, 0, tzinfo=BERLIN)) == datetime(
        2026, 4, 7, 9, 0, tzinfo=BERLIN
    )


def test_a_night_shift_over_midnight_is_one_period() -> None:
    wh = validate_working_hours({
        "mon": ["22:00-24:00"], "tue": ["00:00-06:00", "22:00-24:00"], "wed": ["00:00-06:00"],
    })
    late = datetime(2026, 5, 4, 23, 0, tzinfo=BERLIN)  # a Monday
    assert wh.is_working(late)
    assert wh.next_change(late) == datetime(2026, 5, 5, 6, 0, tzinfo=BERLIN)
    # "Until tomorrow" at 23:00 Monday: Tuesday's 00:00 is not a start, 22:00 is.
    assert wh.next_start(late) == datetime(2026, 5, 5, 22, 0, tzinfo=BERLIN)
    assert resume_label(late, datetime(2026, 5, 5, 22, 0, tzinfo=BERLIN)) == "tomorrow 22:00"


def test_daily_boundaries_for_calendar_jobs() -> None:
    assert validate_working_hours(OFFICE).daily_boundaries() == (
        "01:30", "02:30", "03:30", "05:00", "09:00", "12:30", "13:30", "15:00", "17:30",
    )
    assert WorkingHours("weekdays_9_17").daily_boundaries() == ("09:00", "17:00")
    assert WorkingHours().daily_boundaries() == ()
    assert validate_working_hours({"mon": ["00:00-24:00"]}).daily_boundaries() == ("00:00",)


def test_touching_ranges_do_not_change_at_the_seam() -> None:
    wh = validate_working_hours({"mon": ["09:00-12:00", "12:00-13:00"]})
    wall = datetime(2026, 5, 4, 10, 0, tzinfo=BERLIN)
    assert wh.next_change(wall) == datetime(2026, 5, 4, 13, 0, tzinfo=BERLIN)


def test_always_never_changes() -> None:
    wall = datetime(2026, 3, 29, 1, 0, tzinfo=BERLIN)
    for wh in (WorkingHours(), validate_working_hours("always"),
               validate_working_hours({d: ["00:00-24:00"] for d in
                                       ("mon", "tue", "wed", "thu", "fri", "sat", "sun")})):
        assert wh.always
        assert wh.is_working(wall)
        assert wh.next_change(wall) is None
        assert wh.next_start(wall) is None


def test_fixed_offset_wall_times_work_too() -> None:
    # The clock adapter may hand out datetime.now().astimezone(): a fixed-offset tzinfo.
    wh = WorkingHours("weekdays_9_17")
    wall = datetime(2026, 6, 5, 17, 30, tzinfo=timezone(timedelta(hours=2)))  # a Friday
    assert not wh.is_working(wall)
    assert wh.next_start(wall) == datetime(2026, 6, 8, 9, 0, tzinfo=timezone(timedelta(hours=2)))


def test_naive_wall_is_refused() -> None:
    with pytest.raises(ValueError, match="aware"):
        WorkingHours("weekdays_9_17").is_working(datetime(2026, 1, 1))  # noqa: DTZ001


def test_preset_switch_keeps_custom_days_and_round_trips() -> None:
    wh = validate_working_hours(OFFICE)
    assert wh.preset == "custom" and wh.label == "Custom (from config)"
    always = wh.with_preset("always")
    assert always.always and always.custom == wh.custom
    assert validate_working_hours(always.to_config()) == always
    assert validate_working_hours(wh.to_config()) == wh
    assert always.with_preset("custom") == wh
    assert validate_working_hours("weekdays_9_17").to_config() == "weekdays_9_17"
    with pytest.raises(WorkingHoursError, match="no custom days"):
        WorkingHours("always").with_preset("custom")


def test_text_form_round_trips() -> None:
    wh = parse_working_hours_text("mon-thu 09:00-12:30,13:30-17:30; fri 09:00-15:00")
    assert wh.describe() == "mon-thu 09:00-12:30,13:30-17:30; fri 09:00-15:00"
    assert wh.week is not None
    assert parse_working_hours_text(format_week(wh.week)) == wh
    assert parse_working_hours_text(" Weekdays_9_17 ") == WorkingHours("weekdays_9_17")
    # A preset typed (or clicked in the tray) keeps the config file's custom days.
    office = validate_working_hours(OFFICE)
    assert parse_working_hours_text("always", office) == office.with_preset("always")
    assert parse_working_hours_text("custom", office.with_preset("always")) == office
    with pytest.raises(WorkingHoursError, match="no custom days"):
        parse_working_hours_text("custom")
    assert parse_working_hours_text("mon, wed 10:00-11:00").describe() == (
        "mon 10:00-11:00; wed 10:00-11:00"
    )


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"mon": ["9-17"]},
         'working_hours.mon = ["9-17"] is not allowed: "9-17" is not valid; use ranges '
         '"HH:MM-HH:MM" with start before end, from 00:00 to 24:00, e.g. "09:00-17:30"'),
        ({"tue": ["17:00-09:00"]},
         'working_hours.tue = ["17:00-09:00"] is not allowed: "17:00-09:00" does not end after '
         "it starts"),
        ({"wed": ["09:00-12:00", "11:30-13:00"]},
         'working_hours.wed = ["09:00-12:00", "11:30-13:00"] is not allowed: 11:30-13:00 '
         "overlaps 09:00-12:00"),
        ({"thu": ["24:00-24:30"]}, 'working_hours.thu = ["24:00-24:30"] is not allowed'),
        ({"fri": ["09:60-10:00"]}, 'working_hours.fri = ["09:60-10:00"] is not allowed'),
        ({"sat": 9}, "working_hours.sat = 9 is not allowed: use a list of ranges"),
        ({"sun": [900]}, "working_hours.sun = [900] is not allowed: 900 is not text"),
        ({"monday": ["09:00-10:00"]},
         "working_hours.monday is not a day: use mon, tue, wed, thu, fri, sat, sun"),
        ({"preset": "night", "mon": ["09:00-10:00"]},
         'working_hours.preset = "night" is not allowed: use "always", "weekdays_9_17", '
         '"custom"'),
        ({"mon": [], "sun": []}, "working_hours has no working time on any day"),
        ("office", 'working_hours = "office" is not allowed: use "always", "weekdays_9_17" or '
                   "a table of days"),
        (17, "working_hours = 17 is not allowed"),
    ],
)
def test_validation_messages_are_one_line_naming_key_value_and_rule(
    raw: object, message: str
) -> None:
    with pytest.raises(WorkingHoursError) as info:
        validate_working_hours(raw)
    text = str(info.value)
    assert "\n" not in text
    assert text.startswith(message), text


def test_allowed_extremes() -> None:
    wh = validate_working_hours({"mon": ["00:00-24:00"], "tue": "7:05-8:10"})
    assert wh.custom is not None
    assert wh.custom[0] == ((0, 1440),)
    assert wh.custom[1] == ((425, 490),)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("mon-fri", 'working_hours = "mon-fri" is not allowed: use a preset'),
        ("fri-mon 09:00-10:00", '"fri-mon" runs backwards'),
        ("xyz 09:00-10:00", '"xyz" is not a day or day range'),
        ("mon 09:00-08:00", 'working_hours.mon = ["09:00-08:00"] is not allowed'),
    ],
)
def test_text_form_errors(text: str, message: str) -> None:
    with pytest.raises(WorkingHoursError, match=".*") as info:
        parse_working_hours_text(text)
    assert message in str(info.value)
