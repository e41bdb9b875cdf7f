"""Statistics maths (core/stats.py): hand-computed figures for scripted events and a week
driven through the real SittingEngine into a real SQLite file."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from psoas_break.adapters.history import SqliteHistory, read_events
from psoas_break.core import stats
from psoas_break.core.commands import EndBreak, Pause, Resume, ScreenLock, Skip, Snooze, TakeBreak
from psoas_break.core.events import RecordEvent
from psoas_break.core.settings import Settings
from tests.engine_driver import BERLIN, Driver

CET = timezone(timedelta(hours=1))
MIN = 60.0


class Script:
    """Builds RecordEvents by hand: wall time in CET from "HH:MM" on a day, mono = minutes."""

    def __init__(self, day: date = date(2026, 3, 2), tz: timezone = CET) -> None:
        self.day, self.tz = day, tz
        self.events: list[RecordEvent] = []

    def at(self, hhmm: str, day_offset: int = 0) -> datetime:
        h, m = (int(x) for x in hhmm.split(":"))
        d = self.day + timedelta(days=day_offset)
        return datetime(d.year, d.month, d.day, h, m, tzinfo=self.tz)

    def ev(self, hhmm: str, kind: str, day_offset: int = 0, mono: float | None = None,
           **data: Any) -> Script:
        wall = self.at(hhmm, day_offset)
        mono_s = mono if mono is not None else (wall - self.at("00:00")).total_seconds()
        self.events.append(RecordEvent(kind, wall, mono_s, dict(data)))
        return self


def one_day(events: list[RecordEvent], day: date, now: datetime | None = None,
            live: float | None = None) -> stats.Summary:
    return stats.summarize_days(events, day, day, now, live)[0]


# ---- bouts ----


def test_bouts_breaks_natural_and_the_engine_overcount() -> None:
    s = Script()
    s.ev("09:00", "sit_start")
    s.ev("09:40", "sit_end", reason="break", sit_s=40 * MIN)
    s.ev("09:42", "sit_start")
    # Idle for 5 min before the engine knew: it counted 4 of them (sit_s 29 min), but the span
    # to the moment they left (10:12 - 5 min = 10:07) is 25 min: the bout is 25 min.
    s.ev("10:12", "natural_break", source="idle", away_s=5 * MIN)
    s.ev("10:12", "sit_end", reason="natural", sit_s=29 * MIN)
    s.ev("11:00", "sit_start")
    # An engine that does not count locked time (short_away = "pause") reports less than the
    # span: its sit_s wins.
    s.ev("11:30", "natural_break", source="lock", away_s=5 * MIN)
    s.ev("11:30", "sit_end", reason="natural", sit_s=20 * MIN)
    b = stats.bouts(s.events)
    assert [(x.start.strftime("%H:%M"), x.end.strftime("%H:%M"), x.sit_s, x.end_reason)
            for x in b] == [
        ("09:00", "09:40", 2400.0, "break"),
        ("09:42", "10:07", 1500.0, "natural"),
        ("11:00", "11:25", 1200.0, "natural"),
    ]
    day = one_day(s.events, s.day)
    assert day.sitting_s == 2400 + 1500 + 1200
    assert (day.sits, day.sits_over_30, day.sits_over_60, day.stand_ups) == (3, 1, 0, 3)
    assert day.longest_sit_s == 2400
    assert day.sitting_by_bucket_s == (2700.0, 2400.0, 0.0)
    assert day.natural_by_source == {"idle": 1, "lock": 1}
    assert day.stand_ups_per_sitting_h == pytest.approx(3 / (5100 / 3600))


def test_pause_inside_a_bout_is_not_sitting() -> None:
    s = Script()
    s.ev("09:00", "sit_start")
    s.ev("09:20", "pause", pause_s=30 * MIN, until="x")
    s.ev("09:50", "resume", reason="expired")
    s.ev("10:10", "sit_end", reason="break", sit_s=40 * MIN)
    (b,) = stats.bouts(s.events)
    assert b.sit_s == 40 * MIN
    # Even an engine that (wrongly) counted the pause cannot push it past the span - pauses.
    s.events[-1] = RecordEvent("sit_end", s.at("10:10"), s.events[-1].mono_s,
                               {"reason": "break", "sit_s": 70 * MIN})
    (b,) = stats.bouts(s.events)
    assert b.sit_s == 40 * MIN
    tl = stats.timeline(s.events, s.day)
    assert [(i.kind, i.start.strftime("%H:%M"), i.end.strftime("%H:%M"))
            for i in tl.intervals] == [("pause", "09:20", "09:50")]


def test_app_quit_orphan_ends_at_its_last_event_and_is_no_stand_up() -> None:
    s = Script()
    s.ev("09:00", "sit_start")
    s.ev("09:30", "prompt", prompt_kind="stretch", prompt_id=1, escalation=0)
    s.ev("09:35", "response", prompt_kind="stretch", prompt_id=1, response="ignored")
    s.ev("09:35", "prompt", prompt_kind="stretch", prompt_id=2, escalation=1)
    # The app was quit at ~09:37 and started again at 13:00: prompt ids restart.
    s.ev("13:00", "sit_start", mono=5.0)
    s.ev("13:30", "prompt", prompt_kind="stretch", prompt_id=1, escalation=0, mono=1805.0)
    s.ev("13:30", "response", prompt_kind="stretch", prompt_id=1, response="taken", mono=1805.0)
    s.ev("13:30", "sit_end", reason="break", sit_s=30 * MIN, mono=1805.0)
    b = stats.bouts(s.events)
    assert [(x.start.strftime("%H:%M"), x.end.strftime("%H:%M"), x.sit_s, x.end_reason)
            for x in b] == [("09:00", "09:35", 2100.0, "unknown"), ("13:00", "13:30", 1800.0,
                                                                   "break")]
    day = one_day(s.events, s.day)
    assert (day.sits, day.stand_ups, day.sits_over_30) == (2, 1, 1)
    p = stats.prompts(s.events)
    assert [(x.prompt_id, x.at.strftime("%H:%M"), x.response) for x in p] == [
        (1, "09:30", "ignored"), (2, "09:35", None), (1, "13:30", "taken")]


def test_quit_while_paused_does_not_swallow_the_next_run() -> None:
    s = Script()
    s.ev("09:00", "sit_start")
    s.ev("09:10", "pause", pause_s=8 * 3600.0, until="x")  # then the app was quit
    s.ev("10:00", "sit_start", mono=0.0)
    s.ev("10:20", "sit_end", reason="break", sit_s=20 * MIN, mono=1200.0)
    b = stats.bouts(s.events)
    assert [(x.sit_s, x.end_reason) for x in b] == [(600.0, "unknown"), (1200.0, "break")]


def test_sit_end_without_start_is_rebuilt_backwards() -> None:
    s = Script()
    s.ev("00:20", "sit_end", reason="break", sit_s=50 * MIN)
    (b,) = stats.bouts(s.events)
    assert b.start == s.at("23:30", -1) and b.end == s.at("00:20")
    days = stats.summarize_days(s.events, s.day - timedelta(days=1), s.day)
    # Split at midnight: 30 min before, 20 after; the bout itself counts on its start day.
    assert [d.sitting_s for d in days] == [1800.0, 1200.0]
    assert [d.sits for d in days] == [1, 0]
    assert [d.sitting_by_bucket_s for d in days] == [(0.0, 1800.0, 0.0), (0.0, 1200.0, 0.0)]


def test_midnight_split_is_proportional_and_sums_to_the_bout() -> None:
    s = Script()
    s.ev("23:00", "sit_start")
    s.ev("00:30", "sit_end", day_offset=1, reason="natural", sit_s=90 * MIN)
    days = stats.summarize_days(s.events, s.day, s.day + timedelta(days=1))
    assert [d.sitting_s for d in days] == [3600.0, 1800.0]
    assert [d.sits_over_60 for d in days] == [1, 0]
    assert [d.longest_sit_s for d in days] == [5400.0, 0.0]
    assert [d.sitting_by_bucket_s[2] for d in days] == [3600.0, 1800.0]
    assert sum(d.sitting_s for d in days) == 90 * MIN


def test_open_bout_with_live_value_without_it_and_capped() -> None:
    s = Script()
    s.ev("09:00", "sit_start")
    s.ev("09:30", "prompt", prompt_kind="stretch", prompt_id=1, escalation=0)
    now = s.at("09:50")
    (b,) = stats.bouts(s.events, now, live_sit_s=45 * MIN)
    assert (b.sit_s, b.end, b.end_reason) == (2700.0, now, "open")
    (b,) = stats.bouts(s.events, now)
    assert (b.sit_s, b.end_reason) == (3000.0, "open")
    # A sit left open by a quit app does not grow for days: 4 h after its last event at most.
    late = s.at("20:00")
    (b,) = stats.bouts(s.events, late)
    assert (b.end, b.sit_s, b.end_reason) == (s.at("13:30"), 4.5 * 3600, "unknown")
    # Without `now` it ends at its last event.
    (b,) = stats.bouts(s.events)
    assert (b.sit_s, b.end_reason) == (1800.0, "unknown")
    day = one_day(s.events, s.day, now, 45 * MIN)
    assert day.sitting_now and day.sitting_s == 2700 and day.stand_ups == 0


def test_live_sit_without_open_bout_is_added() -> None:
    # After a natural break while paused, sitting resumes without a sit_start.
    s = Script()
    s.ev("09:00", "sit_start")
    s.ev("09:10", "pause", pause_s=3600.0, until="x")
    s.ev("09:30", "natural_break", source="idle", away_s=5 * MIN)
    s.ev("09:30", "sit_end", reason="natural", sit_s=10 * MIN)
    s.ev("10:10", "resume", reason="expired")
    now = s.at("10:30")
    b = stats.bouts(s.events, now, live_sit_s=20 * MIN)
    assert [(x.start.strftime("%H:%M"), x.sit_s, x.end_reason) for x in b] == [
        ("09:00", 600.0, "natural"), ("10:10", 1200.0, "open")]


def test_tiny_bouts_are_ignored() -> None:
    s = Script()
    s.ev("09:00", "sit_start")
    s.ev("09:00", "sit_end", reason="break", sit_s=0.0)
    s.ev("09:05", "sit_start")
    s.ev("09:06", "sit_end", reason="break", sit_s=60.0)
    assert [b.sit_s for b in stats.bouts(s.events)] == [60.0]


def test_bad_data_values_do_not_crash() -> None:
    s = Script()
    s.ev("09:00", "sit_start")
    s.ev("09:10", "pause", pause_s="soon", until=None)
    s.ev("09:20", "resume")
    s.ev("09:30", "prompt", prompt_kind="stretch", prompt_id="x", escalation=None)
    s.ev("09:40", "natural_break", source=None, away_s=float("nan"))
    s.ev("09:40", "sit_end", reason="natural", sit_s=float("inf"))
    s.ev("09:50", "break_end", break_s=True, completed="yes")
    s.ev("09:55", "mystery", anything=[1, 2])
    day = one_day(s.events, s.day, s.at("10:00"))
    assert day.sitting_s == 30 * MIN  # 40 min span - 10 min pause; sit_s was not a number
    assert day.stretch_prompts == 1 and day.breaks_completed == 0
    assert stats.timeline(s.events, s.day, s.at("10:00")).sits


def test_day_counts_follow_the_event_and_summaries_combine() -> None:
    s = Script()
    s.ev("09:00", "sit_start")
    s.ev("09:30", "prompt", prompt_kind="stretch", prompt_id=1, escalation=0)
    s.ev("09:30", "response", prompt_kind="stretch", prompt_id=1, response="snoozed")
    s.ev("09:35", "prompt", prompt_kind="stretch", prompt_id=2, escalation=1)
    s.ev("09:40", "response", prompt_kind="stretch", prompt_id=2, response="ignored")
    s.ev("09:40", "prompt", prompt_kind="stretch", prompt_id=3, escalation=2)
    s.ev("09:41", "response", prompt_kind="stretch", prompt_id=3, response="taken_idle")
    s.ev("09:41", "sit_end", reason="break", sit_s=41 * MIN)
    s.ev("09:41", "sit_start")
    s.ev("09:50", "prompt", prompt_kind="posture", prompt_id=4, escalation=0)
    s.ev("10:11", "response", prompt_kind="stretch", prompt_id=4, response="skipped")
    s.ev("10:30", "response", prompt_kind="stretch", prompt_id=5, response="taken")
    s.ev("10:30", "sit_end", reason="break", sit_s=49 * MIN)
    s.ev("10:30", "break_start", planned_s=120.0, prompted=True)
    s.ev("10:31", "break_end", break_s=60.0, completed=False)
    s.ev("10:31", "sit_start")
    s.ev("11:00", "sit_end", reason="break", sit_s=29 * MIN)
    s.ev("11:00", "break_start", planned_s=120.0, prompted=False)
    s.ev("11:02", "break_end", break_s=120.0, completed=True)
    s.ev("09:00", "sit_start", day_offset=1)
    s.ev("09:10", "natural_break", day_offset=1, source="suspend", away_s=600.0)
    s.ev("09:10", "sit_end", day_offset=1, reason="natural", sit_s=0.0)
    days = stats.summarize_days(s.events, s.day, s.day + timedelta(days=1))
    d0 = days[0]
    assert (d0.breaks_taken, d0.breaks_on_prompt, d0.breaks_completed, d0.break_s) == (
        3, 2, 1, 180.0)
    assert (d0.snoozed, d0.skipped, d0.ignored) == (1, 1, 1)
    assert (d0.stretch_prompts, d0.posture_prompts) == (3, 1)
    assert days[1].natural_by_source == {"suspend": 1}
    total = stats.combine(days)
    assert (total.first_day, total.last_day, total.days) == (s.day, s.day + timedelta(1), 2)
    assert total.sitting_s == (41 + 49 + 29) * MIN
    assert total.natural_breaks == 1 and total.breaks_taken == 3
    assert total.as_dict()["sitting_by_bout_length_s"] == {
        "<= 30 min": 1740.0, "30-60 min": 5400.0, "> 60 min": 0.0}


def test_query_window_covers_every_offset_and_a_day_back() -> None:
    start, end = stats.query_window(date(2026, 3, 2), date(2026, 3, 8))
    earliest_local = datetime(2026, 3, 2, 0, 0, tzinfo=timezone(timedelta(hours=14)))
    latest_local = datetime(2026, 3, 8, 23, 59, tzinfo=timezone(timedelta(hours=-12)))
    assert start <= earliest_local - timedelta(hours=24)
    assert end > latest_local
    assert stats.day_range(date(2026, 3, 8), 7) == (date(2026, 3, 2), date(2026, 3, 8))


def test_timeline_clips_to_the_day_and_lists_intervals() -> None:
    s = Script()
    s.ev("23:00", "sit_start", day_offset=-1)
    s.ev("00:30", "sit_end", reason="break", sit_s=90 * MIN)
    s.ev("00:30", "break_start", planned_s=120.0, prompted=False)
    s.ev("00:32", "break_end", break_s=120.0, completed=True)
    s.ev("00:32", "sit_start")
    s.ev("01:00", "natural_break", source="idle", away_s=5 * MIN)
    s.ev("01:00", "sit_end", reason="natural", sit_s=23 * MIN)
    s.ev("08:00", "natural_break", source="suspend", away_s=7 * 3600.0)
    s.ev("08:00", "sit_start")
    now = s.at("08:10")
    tl = stats.timeline(s.events, s.day, now)
    assert [(b.start.strftime("%H:%M"), b.end.strftime("%H:%M"), b.sit_s) for b in tl.sits] == [
        ("00:00", "00:30", 5400.0), ("00:32", "00:55", 1380.0), ("08:00", "08:10", 600.0)]
    assert [(i.kind, i.start.strftime("%H:%M"), i.end.strftime("%H:%M"), i.source)
            for i in tl.intervals] == [
        ("break", "00:30", "00:32", ""), ("away", "00:55", "08:00", "idle"),
        ("away", "01:00", "08:00", "suspend")]
    assert not tl.empty and stats.timeline([], s.day, now).empty


# ---- a week through the real engine into a real SQLite file ----

NO_POSTURE = Settings(posture_every_min=0)


class UtcDriver(Driver):
    """Driver whose wall clock advances in real (UTC) time across a DST change.

    Driver.wall adds the elapsed time to a ZoneInfo datetime, which Python does as local
    wall-clock arithmetic, and astimezone() to the same zone is a no-op: across a DST change
    that yields non-existent local times and then a one-hour jump back.
    """

    @property
    def wall(self) -> datetime:
        elapsed = timedelta(seconds=self.mono_s - self._mono0)
        return (self.start.astimezone(timezone.utc) + elapsed + self.wall_offset).astimezone(
            self.tz)


def _week_events() -> tuple[list[RecordEvent], Driver]:
    """Mon 2026-03-23 .. Sun 2026-03-29 (Berlin; DST starts Sunday 02:00)."""
    # Monday, first run of the app.
    d = UtcDriver(settings=NO_POSTURE, start=datetime(2026, 3, 23, 9, 0, tzinfo=BERLIN))
    d.sit(30)                          # stretch prompt 09:30
    d.cmd(TakeBreak())                 # b1 09:00-09:30 (30 min), prompted break
    d.sit(2)                           # break over 09:32
    d.sit(40)                          # prompt 10:02, ignored 10:07 and 10:12
    d.cmd(Snooze())                    # snoozed at 10:12
    d.sit(5)                           # prompt 10:17
    d.cmd(TakeBreak())                 # b2 09:32-10:17 (45 min)
    d.sit(2)
    d.sit(20)
    d.cmd(TakeBreak())                 # b3 10:19-10:39 (20 min), "I'm up"
    d.sit(1)
    d.cmd(EndBreak())                  # break 60 s, not completed; sit from 10:40
    d.sit(25)                          # to 11:05
    d.away(60)                         # idle natural break at 11:10: b4 10:40-11:05 (25 min)
    d.sit(91)                          # sit from 12:06; prompt 12:36, ignored every 5 min
    d.cmd(Skip())                      # skipped at 13:36 (12 ignored before it)
    d.sit(20)
    d.cmd(ScreenLock(True))            # 13:56
    d.sit(10)                          # lock natural break 14:01: b5 12:06-13:56 (110 min)
    d.cmd(ScreenLock(False))           # 14:06: sit
    d.sit(35)                          # prompt 14:36, ignored 14:41 ... then the app quits
    events = d.events()
    # Monday, second run from 15:30.
    d = UtcDriver(settings=NO_POSTURE, start=datetime(2026, 3, 23, 15, 30, tzinfo=BERLIN))
    d.sit(25)
    d.cmd(TakeBreak())                 # b7 15:30-15:55 (25 min), "I'm up"
    d.sit(2)
    d.away(30)                         # idle natural break 16:02 (the 0-min sit is ignored)
    d.stopped((24 - 16.45) * 60 + 8.5 * 60)  # night: back Tuesday 08:30
    # Tuesday.
    d.sit(30)                          # prompt 09:00
    for _ in range(3):
        d.cmd(Snooze())                # snoozed 09:00, 09:05, 09:10
        d.sit(5)
    d.cmd(Snooze())                    # 09:15: refused (max_snoozes), not recorded
    d.away(3)                          # 09:17 idle >= break: taken_idle; c1 08:30-09:17
    d.sit(27)                          # to 09:45
    d.suspend(40)                      # suspend natural break 10:25: c2 09:17-09:45
    d.sit(65)                          # prompt 10:55, ignored 11:00 .. 11:30
    d.cmd(TakeBreak())                 # c3 10:25-11:30 (65 min)
    d.sit(2)
    d.sit(10)
    d.cmd(Pause(1800))                 # 11:42-12:12 paused
    d.sit(30)
    d.sit(20)                          # prompt 12:32
    d.cmd(TakeBreak())                 # c4 11:32-12:32 = 30 min sitting
    d.sit(2)
    d.sit(10)
    d.cmd(TakeBreak())                 # c5 12:34-12:44, "I'm up"
    d.sit(2)
    d.stopped(23.5 * 60 - (12 * 60 + 46))  # gap natural break at 23:30
    d.sit(29)
    d.sit(20)                          # prompt 00:00 Wed, ignored 00:05, 00:10, 00:15
    d.cmd(TakeBreak())                 # c7 23:30-00:19 (49 min), split at midnight
    d.sit(2)
    d.stopped(9 * 60 - 21)             # gap natural break Wed 09:00
    # Wednesday.
    d.sit(30)                          # prompt 09:30
    d.cmd(Skip())
    d.sit(70)                          # prompt 10:00, ignored 10:05 .. 10:40
    d.cmd(TakeBreak())                 # w1 09:00-10:40 (100 min)
    d.sit(2)
    d.sit(8)
    d.suspend(24 * 60 - (10 * 60 + 50) + 9 * 60)  # Thu 09:00: suspend; d1 Wed 10:42-10:50
    # Thursday.
    d.sit(20)
    d.cmd(TakeBreak())                 # 09:00-09:20, "I'm up"
    d.sit(2)
    # Friday and Saturday: away. Back Sunday 01:30 CET.
    d.stopped(24 * 60 - (9 * 60 + 22) + 2 * 24 * 60 + 90)
    d.sit(30)                          # prompt 03:00 CEST (30 min later, clocks went forward)
    d.cmd(TakeBreak())                 # e1 01:30 CET - 03:00 CEST (30 min)
    d.sit(2)
    d.sit(40)                          # prompt 03:32, ignored 03:37, 03:42
    d.cmd(TakeBreak())                 # e2 03:02-03:42 (40 min)
    d.sit(2)
    d.sit(6)                           # now: 03:50, sitting 6 min
    return events + d.events(), d


# Hand-computed from the script above (see the comments there):
# day: sitting_s, longest_s, sits, >30, >60, stand-ups, buckets, taken, on prompt, completed,
#      break_s, snoozed, skipped, ignored, natural by source, stretch prompts
WEEK = {
    date(2026, 3, 23): (17400, 6600, 7, 3, 1, 6, (6000, 4800, 6600), 4, 2, 3, 420, 1, 1, 15,
                        {"idle": 2, "lock": 1}, 20),
    date(2026, 3, 24): (12540, 3900, 6, 3, 1, 6, (4080, 4560, 3900), 4, 3, 3, 360, 3, 0, 7,
                        {"gap": 1, "suspend": 1}, 13),
    date(2026, 3, 25): (7620, 6000, 2, 1, 1, 2, (480, 1140, 6000), 2, 2, 2, 240, 0, 1, 11,
                        {"gap": 1}, 14),
    date(2026, 3, 26): (1200, 1200, 1, 0, 0, 1, (1200, 0, 0), 1, 0, 1, 120, 0, 0, 0,
                        {"suspend": 1}, 0),
    date(2026, 3, 27): (0, 0, 0, 0, 0, 0, (0, 0, 0), 0, 0, 0, 0, 0, 0, 0, {}, 0),
    date(2026, 3, 28): (0, 0, 0, 0, 0, 0, (0, 0, 0), 0, 0, 0, 0, 0, 0, 0, {}, 0),
    date(2026, 3, 29): (4560, 2400, 3, 1, 0, 2, (2160, 2400, 0), 2, 2, 2, 240, 0, 0, 2,
                        {"gap": 1}, 4),
}


def _figures(s: stats.Summary) -> tuple[object, ...]:
    return (
        round(s.sitting_s, 6), s.longest_sit_s, s.sits, s.sits_over_30, s.sits_over_60,
        s.stand_ups, tuple(round(x, 6) for x in s.sitting_by_bucket_s), s.breaks_taken,
        s.breaks_on_prompt, s.breaks_completed, s.break_s, s.snoozed, s.skipped, s.ignored,
        dict(s.natural_by_source), s.stretch_prompts,
    )


def week_db(tmp_path: Path) -> tuple[Path, Driver, list[RecordEvent]]:
    """The scripted week written through SqliteHistory into tmp_path/history.sqlite3."""
    events, driver = _week_events()
    db = tmp_path / "history.sqlite3"
    history = SqliteHistory(db, flush_interval_s=0.05, batch_max=37)
    for ev in events:
        history.record(ev)
    history.close()
    return db, driver, events


def test_scripted_week_through_engine_and_sqlite(tmp_path: Path) -> None:
    db, d, recorded = week_db(tmp_path)
    now = d.wall
    assert now == datetime(2026, 3, 29, 3, 50, tzinfo=BERLIN)
    live = d.status.sitting_s
    assert live == 360
    first, last = stats.day_range(now.date(), 7)
    events = read_events(db, *stats.query_window(first, last))
    assert events == recorded  # the store gives back exactly what the engine recorded
    days = stats.summarize_days(events, first, last, now, live)
    assert [s.first_day for s in days] == list(WEEK)
    for s in days:
        assert _figures(s) == WEEK[s.first_day], s.first_day
    assert [s.posture_prompts for s in days] == [0] * 7
    assert [s.sitting_now for s in days] == [False] * 6 + [True]
    total = stats.combine(days)
    assert total.sitting_s == 17400 + 12540 + 7620 + 1200 + 4560
    assert total.longest_sit_s == 6600 and total.sits_over_60 == 3
    assert total.stand_ups_per_sitting_h == pytest.approx(17 / (43320 / 3600))

    # Bouts as the CSV and the timeline see them, on two interesting days.
    tue = [b for b in stats.bouts(events, now, live) if b.start.date() == date(2026, 3, 24)]
    assert [(b.start.strftime("%H:%M"), b.end.strftime("%H:%M"), b.sit_s, b.end_reason)
            for b in tue] == [
        ("08:30", "09:17", 2760.0, "break"), ("09:17", "09:45", 1680.0, "natural"),
        ("10:25", "11:30", 3900.0, "break"), ("11:32", "12:32", 1800.0, "break"),
        ("12:34", "12:44", 600.0, "break"), ("23:30", "00:19", 2940.0, "break")]
    sunday = stats.timeline(events, now.date(), now, live, tz=now.tzinfo)
    assert [(b.start.isoformat(), b.end.isoformat(), b.sit_s) for b in sunday.sits] == [
        ("2026-03-29T01:30:00+01:00", "2026-03-29T03:00:00+02:00", 1800.0),
        ("2026-03-29T03:02:00+02:00", "2026-03-29T03:42:00+02:00", 2400.0),
        ("2026-03-29T03:44:00+02:00", "2026-03-29T03:50:00+02:00", 360.0)]
    assert [(p.at.strftime("%H:%M"), p.response) for p in sunday.prompts] == [
        ("03:00", "taken"), ("03:32", "ignored"), ("03:37", "ignored"), ("03:42", "taken")]
    tue_tl = stats.timeline(events, date(2026, 3, 24), tz=CET)
    assert ("pause", "11:42", "12:12") in [
        (i.kind, i.start.strftime("%H:%M"), i.end.strftime("%H:%M")) for i in tue_tl.intervals]


# ---- the figures agree with a plain count of what the real engine recorded ----

ACTIONS = st.lists(
    st.one_of(
        st.tuples(st.just("sit"), st.integers(1, 50)),
        st.tuples(st.just("away"), st.integers(1, 20)),
        st.tuples(st.just("suspend"), st.integers(1, 30)),
        st.tuples(st.sampled_from(["take", "end", "snooze", "skip", "resume", "lock",
                                   "unlock"]), st.just(0)),
        st.tuples(st.just("pause"), st.integers(1, 40)),
    ),
    max_size=25,
)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(actions=ACTIONS, posture=st.sampled_from([0, 20]), short_away=st.sampled_from(
    ["count", "pause"]))
def test_counts_match_the_engine_and_sitting_adds_up(
    actions: list[tuple[str, int]], posture: int, short_away: str
) -> None:
    d = Driver(settings=Settings(posture_every_min=posture, short_away=short_away),
               start=datetime(2026, 3, 4, 0, 10, tzinfo=BERLIN))
    for name, n in actions:
        if name == "sit":
            d.sit(n)
        elif name == "away":
            d.away(n)
        elif name == "suspend":
            d.suspend(n)
        elif name == "pause":
            d.cmd(Pause(n * 60.0))
        else:
            command = {"take": TakeBreak(), "end": EndBreak(), "snooze": Snooze(),
                       "skip": Skip(), "resume": Resume(), "lock": ScreenLock(True),
                       "unlock": ScreenLock(False)}[name]
            d.cmd(command)
    # At most 25 actions of at most 50 min: the script stays in one day.
    assert d.wall.date() == d.start.date()
    events = d.events()
    now = d.wall
    live = d.status.sitting_s if d.status.state in ("sitting", "prompt_due", "paused") else None
    day = one_day(events, now.date(), now, live)
    responses = [e.data["response"] for e in d.events("response")]
    prompts = [e.data["prompt_kind"] for e in d.events("prompt")]
    assert (day.breaks_taken, day.snoozed, day.skipped, day.natural_breaks) == (
        len(d.events("break_start")) + responses.count("taken_idle"), responses.count("snoozed"),
        responses.count("skipped"), len(d.events("natural_break")))
    assert (day.stretch_prompts, day.posture_prompts) == (
        prompts.count("stretch"), prompts.count("posture"))
    # The tray's "Today" is the same computation (one source for the day's figures).
    assert d.today == one_day(events, now.date(), now, d.status.sitting_s
                              if d.status.state in ("sitting", "prompt_due") else None)
    all_bouts = stats.bouts(events, now, live)
    assert day.sitting_s == pytest.approx(sum(b.sit_s for b in all_bouts))
    assert sum(day.sitting_by_bucket_s) == pytest.approx(day.sitting_s)
    assert day.longest_sit_s <= max((b.sit_s for b in all_bouts), default=0.0) + 1e-6
    # Stats never see more sitting than the engine counted (they only take idle back out).
    assert day.sitting_s <= d.counted_sitting_s + 1e-6
    for b in all_bouts:
        assert b.start <= b.end
        assert b.sit_s <= (b.end - b.start).total_seconds() + 1e-6 or b.end_reason == "open"


# ---- driving seen by GPS (the driver profile's `road` events) --------------------------------


def _road(when: datetime, state: str, held_s: float) -> RecordEvent:
    return RecordEvent("road", when, 0.0, {"state": state, "held_s": held_s})


def test_driving_seen_by_gps_is_counted_per_day_from_the_road_events() -> None:
    day = datetime(2026, 5, 4, 6, 0, 20, tzinfo=BERLIN)
    events = [
        _road(day, "driving", 20.0),  # driving since 06:00:00
        _road(day + timedelta(minutes=61), "stopped", 60.0),  # stood from 07:00:20
        _road(day + timedelta(minutes=80), "driving", 20.0),  # 07:20:00
        _road(day + timedelta(minutes=129, seconds=40), "unknown", 600.0),  # lost at 08:00
        _road(day + timedelta(hours=17, minutes=30), "driving", 20.0),  # 23:30
        _road(day + timedelta(hours=18, minutes=31), "stopped", 60.0),  # 00:30:20
    ]
    assert [round(stats._secs(a, b)) for a, b in stats.driving_spans(events)] == [
        3620, 2400, 3620]
    monday, tuesday = stats.summarize_days(events, day.date(), day.date() + timedelta(days=1),
                                           now=day + timedelta(days=1))
    assert monday.driving_s == pytest.approx(3620 + 2400 + 30 * 60)
    assert tuesday.driving_s == pytest.approx(20 + 30 * 60)
    assert monday.as_dict()["driving_s"] == round(monday.driving_s, 1)
    assert stats.combine([monday, tuesday]).driving_s == pytest.approx(3620 * 2 + 2400)


def test_driving_still_going_counts_to_now_but_not_for_days() -> None:
    start = datetime(2026, 5, 4, 9, 0, 20, tzinfo=BERLIN)
    events = [_road(start, "driving", 20.0)]
    assert stats.driving_spans(events, start + timedelta(minutes=30))[0][1] == (
        start + timedelta(minutes=30))
    far = stats.driving_spans(events, start + timedelta(days=3))
    assert far[0][1] == start + timedelta(seconds=stats.MAX_SILENCE_S)
    hostile = [_road(start, "driving", 1e11), _road(start, "stopped", float("nan"))]
    assert stats.driving_spans(hostile, start) == [(start - timedelta(days=1), start)]
    assert stats.driving_spans([_road(start, "driving", 1e300)], start) == []
