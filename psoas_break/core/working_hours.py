"""Working hours: per-weekday time ranges, and when the app is "at work".

Pure: stdlib only, no clock. Every question takes the wall time as an aware datetime and is
answered in that datetime's own time zone (the local time zone of the `Tick`).

Config forms (the `working_hours` setting, as parsed from TOML):

    working_hours = "always"                       # a preset: always working (never paused)
    working_hours = "weekdays_9_17"                # a preset: Monday to Friday 09:00-17:00

    [working_hours]                                # custom days; a day not listed has none
    mon = ["09:00-12:30", "13:30-17:30"]
    tue = ["09:00-17:30"]
    sun = []
    preset = "always"      # optional: use a preset for now but keep these days (the tray's
                           # "Working hours" submenu switches only this key)

Ranges are "HH:MM-HH:MM" local wall-clock times, start before end, 00:00 to 24:00, no overlaps
within a day. A range may not cross midnight: write "22:00-24:00" on one day and "00:00-02:00" on
the next; the two are joined into one working period (no change at midnight).

Semantics across DST: "working" is a function of the local wall-clock time, so a range that
starts at 02:30 on a spring-forward day (02:00 -> 03:00) starts at the moment the clock jumps,
and a boundary in the repeated hour of a fall-back day is crossed twice. `next_change` returns the
exact instant where `is_working` flips, found by checking every instant where the local clock
can meet a boundary (both folds) and every UTC-offset transition. Time differences between
aware datetimes must be taken with `seconds_until` (Python subtracts two datetimes that share a
tzinfo as naive wall times, which is off by the DST shift).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone, tzinfo
from typing import Any

from psoas_break.core.errors import InputError
from psoas_break.core.i18n import N_, _, localized, weekday_short
from psoas_break.core.plain_text import one_line
from psoas_break.core.plain_text import show_value as _fmt  # one line, shortened, any depth

DAY_KEYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")  # datetime.weekday() order
PRESETS = ("always", "weekdays_9_17")
CUSTOM = "custom"
# English values; shown with `localized()` (the tray's radio items).
PRESET_LABELS = {
    "always": N_("Always"),
    "weekdays_9_17": N_("Weekdays 9–17"),
    CUSTOM: N_("Custom (from config)"),
}
SETTING_KEY = "working_hours"
DAY_MINUTES = 24 * 60

# How far ahead the boundary search looks. A week repeats after 7 days; a working day that
# comes once a week is at most 8 local dates after "today" (next_start skips today).
_SEARCH_DAYS = 16
# DST transitions are found by sampling the UTC offset this often, then bisecting to the second.
_OFFSET_SAMPLE = timedelta(hours=3)

_RANGE_RE = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")
_RANGE_HELP = 'ranges "HH:MM-HH:MM" with start before end, from 00:00 to 24:00, e.g. "09:00-17:30"'

Span = tuple[int, int]  # (start, end) minutes since local midnight, 0 <= start < end <= 1440
Week = tuple[tuple[Span, ...], ...]  # seven days, Monday first


#: A working-hours value that is not allowed; str() is one line naming key, value, rule.
WorkingHoursError = InputError


def _hhmm(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def format_span(span: Span) -> str:
    """"09:00-17:30" for (540, 1050)."""
    return f"{_hhmm(span[0])}-{_hhmm(span[1])}"


def _parse_range(text: str, key: str, raw_day: object) -> Span:
    # The error text is built only when it is raised: formatting the whole day for every
    # range made a day of n ranges cost n^2 (#19).
    def bad() -> WorkingHoursError:
        return WorkingHoursError(
            f"{key} = {_fmt(raw_day)} is not allowed: {_fmt(text)} is not valid; use "
            f"{_RANGE_HELP}"
        )

    match = _RANGE_RE.match(text)
    if match is None:
        raise bad()
    h1, m1, h2, m2 = (int(g) for g in match.groups())
    if m1 > 59 or m2 > 59 or h1 > 24 or h2 > 24:
        raise bad()
    start, end = h1 * 60 + m1, h2 * 60 + m2
    if start > DAY_MINUTES or end > DAY_MINUTES:
        raise bad()
    if start >= end:
        raise WorkingHoursError(
            f"{key} = {_fmt(raw_day)} is not allowed: {_fmt(text)} does not end after it "
            f"starts; use {_RANGE_HELP} (a range cannot cross midnight: split it over two days)"
        )
    return start, end


def parse_day(raw: object, key: str) -> tuple[Span, ...]:
    """The sorted ranges of one day from a list of "HH:MM-HH:MM" strings (or one string).

    Raises WorkingHoursError naming `key` (e.g. "working_hours.mon") on any bad range or overlap.
    """
    items: list[object]
    if isinstance(raw, str):
        items = [raw]
    elif isinstance(raw, (list, tuple)):
        items = list(raw)
    else:
        raise WorkingHoursError(
            f"{key} = {_fmt(raw)} is not allowed: use a list of {_RANGE_HELP} ([] = no work)"
        )
    if len(items) > DAY_MINUTES:
        # Ranges of a day never overlap and last a minute at least: no valid day has more.
        raise WorkingHoursError(
            f"{key} has {len(items)} ranges: a day has room for at most {DAY_MINUTES}; use "
            f"{_RANGE_HELP}"
        )
    spans: list[Span] = []
    for item in items:
        if not isinstance(item, str):
            raise WorkingHoursError(
                f"{key} = {_fmt(raw)} is not allowed: {_fmt(item)} is not text; use {_RANGE_HELP}"
            )
        spans.append(_parse_range(item, key, raw))
    spans.sort()
    for before, after in zip(spans, spans[1:], strict=False):
        if after[0] < before[1]:
            raise WorkingHoursError(
                f"{key} = {_fmt(raw)} is not allowed: {format_span(after)} overlaps "
                f"{format_span(before)}; ranges of one day must not overlap"
            )
    return tuple(spans)


def _merge(spans: tuple[Span, ...]) -> tuple[Span, ...]:
    """Touching ranges ("09:00-12:00", "12:00-13:00") joined: no change at the seam."""
    merged: list[Span] = []
    for start, end in spans:
        if merged and merged[-1][1] == start:
            merged[-1] = (merged[-1][0], end)
        else:
            merged.append((start, end))
    return tuple(merged)


_PRESET_WEEKS: dict[str, Week | None] = {
    "always": None,
    "weekdays_9_17": tuple(((540, 1020),) if d < 5 else () for d in range(7)),
}


def _preset_error(key: str, raw: object, allow_custom: bool) -> WorkingHoursError:
    names = (*PRESETS, CUSTOM) if allow_custom else PRESETS
    listed = ", ".join(f'"{n}"' for n in names)
    tail = "" if allow_custom else " or a table of days (mon = [\"09:00-17:30\"], ...)"
    return WorkingHoursError(f"{key} = {_fmt(raw)} is not allowed: use {listed}{tail}")


@dataclass(frozen=True)
class WorkingHours:
    """When the user works. `preset` is in effect; `custom` keeps the config file's days.

    preset: "always" (never outside working hours), "weekdays_9_17", or "custom" (then
    `custom` is not None). Frozen and hashable, so it can sit in the frozen Settings.
    """

    preset: str = "always"
    custom: Week | None = None

    def __post_init__(self) -> None:
        if self.preset not in (*PRESETS, CUSTOM):
            raise _preset_error(SETTING_KEY, self.preset, True)
        if self.preset == CUSTOM and self.custom is None:
            raise WorkingHoursError('working_hours preset "custom" needs days')
        if self.custom is not None and len(self.custom) != 7:
            raise WorkingHoursError("working_hours needs exactly seven days")

    # ---- what is in effect ----

    @property
    def week(self) -> Week | None:
        """The seven days in effect (touching ranges merged), or None for "always"."""
        if self.preset == CUSTOM:
            assert self.custom is not None
            return tuple(_merge(day) for day in self.custom)
        return _PRESET_WEEKS[self.preset]

    @property
    def always(self) -> bool:
        """True when working hours never pause the app."""
        week = self.week
        return week is None or all(day == ((0, DAY_MINUTES),) for day in week)

    @property
    def label(self) -> str:
        """The tray's name for the preset in effect (in the active language)."""
        return localized(PRESET_LABELS[self.preset])

    def with_preset(self, preset: str) -> WorkingHours:
        """The same custom days with another preset in effect (the tray's radio items).

        Raises WorkingHoursError for an unknown preset or "custom" without custom days.
        """
        if preset not in (*PRESETS, CUSTOM):
            raise _preset_error(SETTING_KEY, preset, True)
        if preset == CUSTOM and self.custom is None:
            raise WorkingHoursError(
                f'{SETTING_KEY} = "custom" is not allowed: no custom days are set in the '
                "config file ([working_hours] mon = [\"09:00-17:30\"], ...)"
            )
        return WorkingHours(preset, self.custom)

    # ---- questions about time ----

    def is_working(self, wall: datetime) -> bool:
        """True when the local wall-clock time of `wall` (aware) is inside a working range."""
        _require_aware(wall)
        week = self.week
        if week is None:
            return True
        return _in_week(week, wall)

    def next_change(self, wall: datetime) -> datetime | None:
        """The first instant after `wall` where `is_working` flips, in `wall`'s tzinfo.

        None when it never flips ("always", or every day 00:00-24:00).
        """
        for instant, _working in self._flips(wall):
            return instant
        return None

    def next_start(self, wall: datetime) -> datetime | None:
        """Start of the first working period that begins on a later local date than `wall`'s.

        For "Pause until tomorrow": Friday 18:00 -> Monday 09:00; Monday 07:00 -> Tuesday's
        start. A period continuing over midnight ("22:00-24:00" + "00:00-02:00") has no start at
        midnight. None for "always" (the caller then pauses until midnight).
        """
        today = wall.date()
        for instant, working in self._flips(wall):
            if working and instant.date() > today:
                return instant
        return None

    def _flips(self, wall: datetime) -> Iterator[tuple[datetime, bool]]:
        """(instant in wall's tzinfo, working from then on) for each flip after `wall`."""
        _require_aware(wall)
        week = self.week
        if week is None:
            return
        tz = wall.tzinfo
        assert tz is not None
        state = _in_week(week, wall)
        wall_utc = wall.astimezone(timezone.utc)
        for instant_utc in _candidate_instants(week, wall, tz):
            if instant_utc <= wall_utc:
                continue
            local = instant_utc.astimezone(tz)
            now_working = _in_week(week, local)
            if now_working != state:
                state = now_working
                yield local, now_working

    # ---- config ----

    def to_config(self) -> str | dict[str, Any]:
        """The TOML value: the preset name, or the table of days (+ preset when not custom)."""
        if self.custom is None:
            return self.preset
        table: dict[str, Any] = {}
        if self.preset != CUSTOM:
            table["preset"] = self.preset
        for key, day in zip(DAY_KEYS, self.custom, strict=True):
            table[key] = [format_span(span) for span in day]
        return table

    def daily_boundaries(self) -> tuple[str, ...]:
        """Every "HH:MM" at which some day's working time starts or ends (not 24:00), sorted:
        for calendar jobs (`schedule`'s `every().day.at(...)`) that re-check `is_working`."""
        week = self.week
        if week is None:
            return ()
        minutes = {m for day in week for span in day for m in span if m < DAY_MINUTES}
        return tuple(_hhmm(m) for m in sorted(minutes))

    def describe(self) -> str:
        """One line for `config get`/`doctor`: e.g. "weekdays_9_17" or "mon-fri 09:00-17:30"."""
        week = self.week
        if week is None or self.preset != CUSTOM:
            return self.preset
        return format_week(week) or "never"


def _require_aware(wall: datetime) -> None:
    if wall.tzinfo is None or wall.utcoffset() is None:
        raise ValueError("wall time must be an aware datetime")


def _in_week(week: Week, local: datetime) -> bool:
    seconds = local.hour * 3600 + local.minute * 60 + local.second + local.microsecond / 1e6
    return any(start * 60 <= seconds < end * 60 for start, end in week[local.weekday()])


def _offset_s(instant_utc: datetime, tz: tzinfo) -> float:
    offset = instant_utc.astimezone(tz).utcoffset()
    return offset.total_seconds() if offset is not None else 0.0


def _transitions(tz: tzinfo, start_utc: datetime, end_utc: datetime) -> list[datetime]:
    """UTC instants in [start, end] where the UTC offset of `tz` changes (to the second)."""
    found: list[datetime] = []
    lo = start_utc
    lo_offset = _offset_s(lo, tz)
    while lo < end_utc:
        hi = min(lo + _OFFSET_SAMPLE, end_utc)
        hi_offset = _offset_s(hi, tz)
        if hi_offset != lo_offset:
            a, b = lo, hi  # offset(a) == lo_offset != offset(b): bisect to the second
            while (b - a) > timedelta(seconds=1):
                mid = a + (b - a) / 2
                mid = mid.replace(microsecond=0)
                if mid <= a:
                    break
                if _offset_s(mid, tz) == lo_offset:
                    a = mid
                else:
                    b = mid
            found.append(b)
        lo, lo_offset = hi, hi_offset
    return found


def _candidate_instants(week: Week, wall: datetime, tz: tzinfo) -> list[datetime]:
    """Every UTC instant in the search window where `is_working` could change, sorted."""
    instants: set[datetime] = set()
    first_day = wall.date() - timedelta(days=1)
    for offset_days in range(_SEARCH_DAYS + 1):
        day: date = first_day + timedelta(days=offset_days)
        minutes = {0}
        for start, end in week[day.weekday()]:
            minutes.add(start)
            if end < DAY_MINUTES:
                minutes.add(end)
        for minute in minutes:
            local = datetime.combine(day, time(minute // 60, minute % 60), tzinfo=tz)
            # Both folds: a boundary in a repeated hour is met twice, one in a gap never
            # (the transition instant below stands in for it).
            for fold in (0, 1):
                instants.add(local.replace(fold=fold).astimezone(timezone.utc))
    start_utc = min(instants)
    end_utc = max(instants)
    instants.update(_transitions(tz, start_utc, end_utc))
    return sorted(instants)


def seconds_until(wall: datetime, target: datetime) -> float:
    """Real seconds from `wall` to `target` (both aware), correct across DST changes."""
    return target.timestamp() - wall.timestamp()


def resume_label(wall: datetime, target: datetime) -> str:
    """"13:30", "tomorrow 09:00" or "Mon 09:00": when `target` is, seen from `wall`."""
    local = target.astimezone(wall.tzinfo)
    clock = local.strftime("%H:%M")
    days = (local.date() - wall.date()).days
    if days <= 0:
        return clock
    if days == 1:
        return _("tomorrow {clock}", clock=clock)
    return f"{weekday_short(local.weekday())} {clock}"


# ---- parsing the setting ----


def validate_working_hours(raw: object, key: str = SETTING_KEY) -> WorkingHours:
    """The WorkingHours for a config value (preset name or table of days).

    For settings.py: raises WorkingHoursError (a ValueError) whose str() is the one line to
    show, naming the key (e.g. "working_hours.tue"), the value and what is allowed.
    A WorkingHours instance is accepted as is (already validated).
    """
    if isinstance(raw, WorkingHours):
        return raw
    if isinstance(raw, str):
        name = raw.strip().lower()
        if name in PRESETS:
            return WorkingHours(name)
        raise _preset_error(key, raw, False)
    if not isinstance(raw, Mapping):
        raise _preset_error(key, raw, False)
    preset = CUSTOM
    days: list[tuple[Span, ...]] = [() for _ in DAY_KEYS]
    for sub, value in raw.items():
        sub_key = f"{key}.{one_line(str(sub), 40)}"
        if sub == "preset":
            if not isinstance(value, str) or value.strip().lower() not in (*PRESETS, CUSTOM):
                raise _preset_error(sub_key, value, True)
            preset = value.strip().lower()
        elif isinstance(sub, str) and sub.lower() in DAY_KEYS:
            days[DAY_KEYS.index(sub.lower())] = parse_day(value, sub_key)
        else:
            raise WorkingHoursError(
                f"{sub_key} is not a day: use {', '.join(DAY_KEYS)} (or preset)"
            )
    if not any(days):
        raise WorkingHoursError(
            f"{key} has no working time on any day: give at least one range, e.g. "
            f'mon = ["09:00-17:30"], or use "always"'
        )
    return WorkingHours(preset, tuple(days))


# "DAYS RANGES": the days are everything before the first digit.
_DAY_GROUP_RE = re.compile(r"^\s*([^\d]+?)\s*(\d.*)$")


def _parse_day_names(text: str, whole: str) -> list[int]:
    indexes: list[int] = []
    for part in text.split(","):
        part = part.strip()
        ends = [p.strip() for p in part.split("-")]
        if not part or len(ends) > 2 or any(e not in DAY_KEYS for e in ends):
            raise WorkingHoursError(
                f"{SETTING_KEY} = {_fmt(whole)} is not allowed: {_fmt(part)} is not a day or "
                f"day range; use {', '.join(DAY_KEYS)}, e.g. \"mon-fri 09:00-17:30\""
            )
        first, last = DAY_KEYS.index(ends[0]), DAY_KEYS.index(ends[-1])
        if last < first:
            raise WorkingHoursError(
                f"{SETTING_KEY} = {_fmt(whole)} is not allowed: {_fmt(part)} runs backwards; "
                "write days Monday first, e.g. \"mon-fri\""
            )
        indexes.extend(range(first, last + 1))
    return indexes


def parse_working_hours_text(text: str, current: WorkingHours | None = None) -> WorkingHours:
    """What a user typed for `config set working_hours ...` (or a tray preset item).

    A preset name ("always", "weekdays_9_17", or "custom" to go back to the config file's
    days), or day groups separated by ";", each "DAYS RANGES":
    "mon-fri 09:00-12:30,13:30-17:30; sat 10:00-14:00". Days not named have no work.
    A preset name keeps `current`'s custom days (switching presets never loses them).
    Raises WorkingHoursError (one line).
    """
    stripped = text.strip().lower()
    if stripped in (*PRESETS, CUSTOM):
        return (current or WorkingHours()).with_preset(stripped)
    if not stripped:
        raise _preset_error(SETTING_KEY, text, False)
    days: list[list[str]] = [[] for _ in DAY_KEYS]
    for group in stripped.split(";"):
        if not group.strip():
            continue
        match = _DAY_GROUP_RE.match(group)
        if match is None:
            raise WorkingHoursError(
                f"{SETTING_KEY} = {_fmt(text)} is not allowed: use a preset "
                f"({', '.join(PRESETS)}) or day groups like \"mon-fri 09:00-12:30,13:30-17:30; "
                "sat 10:00-14:00\""
            )
        for index in _parse_day_names(match.group(1), text):
            days[index].extend(r.strip() for r in match.group(2).split(",") if r.strip())
    table = {DAY_KEYS[i]: ranges for i, ranges in enumerate(days) if ranges}
    return validate_working_hours(table)


def format_week(week: Week) -> str:
    """The inverse of `parse_working_hours_text` for a week: "mon-fri 09:00-17:30; sat ..."."""
    groups: list[str] = []
    index = 0
    while index < 7:
        day = week[index]
        last = index
        while last + 1 < 7 and week[last + 1] == day:
            last += 1
        if day:
            names = DAY_KEYS[index] if last == index else f"{DAY_KEYS[index]}-{DAY_KEYS[last]}"
            groups.append(f"{names} {','.join(format_span(s) for s in day)}")
        index = last + 1
    return "; ".join(groups)
