"""Scripted days through the real sitting engine, with hand-computed expectations."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from psoas_break.core.commands import (
    ApplySettings,
    DeferPrompt,
    EndBreak,
    OffHours,
    Pause,
    PauseUntilTomorrow,
    ReleasePrompt,
    Resume,
    ScreenLock,
    Skip,
    Snooze,
    TakeBreak,
)
from psoas_break.core.engine import POSTURE_GUARD_S, seconds_until_next_day
from psoas_break.core.settings import Settings
from tests.engine_driver import BERLIN, Driver


def prompt_minutes(d: Driver, kind: str) -> list[float]:
    return [round(d.minutes_since_start(t), 2) for t, _ in d.prompts(kind)]


def test_office_day_with_meeting_and_lunch() -> None:
    d = Driver()
    d.sit(30)
    assert prompt_minutes(d, "posture") == [20.0]
    assert prompt_minutes(d, "stretch") == [30.0]
    assert d.status.state == "prompt_due"

    d.cmd(TakeBreak())
    assert d.status.state == "on_break"
    assert d.status.sitting_s == 0
    d.sit(2)
    assert d.status.state == "sitting"
    assert "Break over. Welcome back." in d.notices()

    # A one-hour meeting at the laptop (taking notes, so never idle): the 30-min prompt comes
    # at minute 62, is snoozed once, comes back 5 min later and is then skipped.
    d.sit(30)
    assert prompt_minutes(d, "stretch") == [30.0, 62.0]
    d.cmd(Snooze())
    assert d.status.state == "sitting"
    assert d.status.next_prompt is not None and d.status.next_prompt.in_s == 300
    d.sit(5)
    assert prompt_minutes(d, "stretch") == [30.0, 62.0, 67.0]
    assert d.prompts("stretch")[-1][1].escalation == 1
    d.cmd(Skip())
    d.sit(25)  # meeting ends at minute 92
    # Skip restarts the cycle (next stretch at 67+30 = 97) but sitting keeps growing honestly.
    assert d.status.sitting_s == 60 * 60
    assert d.status.next_prompt is not None
    # Posture prompts every 20 min of the second sit (from minute 32), none while snoozed.
    assert prompt_minutes(d, "posture") == [20.0, 52.0, 72.0, 92.0]

    # Lunch: away for 45 minutes. At 5 min idle it is a natural break; on return, a fresh sit.
    d.away(45)
    assert d.status.state == "away"
    d.sit(2)
    assert d.status.state == "sitting"
    # The step in which they came back is not counted (we cannot tell when in it they sat).
    assert d.status.sitting_s == 60
    natural = d.events("natural_break")
    assert [e.data["source"] for e in natural] == ["idle"]
    c = d.today
    assert (c.breaks_taken, c.snoozed, c.skipped, c.natural_breaks) == (1, 1, 1, 1)
    assert c.longest_sit_s == 60 * 60
    # No stretch prompt was shown during lunch.
    assert prompt_minutes(d, "stretch") == [30.0, 62.0, 67.0]


def test_snooze_cap_and_skips() -> None:
    d = Driver(settings=Settings(max_snoozes=3, posture_every_min=0))
    d.sit(30)
    for _ in range(3):
        d.cmd(Snooze())
        d.sit(5)
    prompts = [p for _, p in d.prompts("stretch")]
    assert [p.escalation for p in prompts] == [0, 1, 2, 3]
    assert prompts[-1].snooze_allowed is False
    assert prompts[-1].note is not None and "snoozed 3 times" in prompts[-1].note
    d.cmd(Snooze())
    assert d.status.state == "prompt_due"  # refused
    assert any("take the break or skip it" in n for n in d.notices())
    d.cmd(Skip())
    assert d.status.snoozes_in_row == 0
    d.sit(29)
    assert len(d.prompts("stretch")) == 4
    d.sit(1)
    assert len(d.prompts("stretch")) == 5
    assert d.prompts("stretch")[-1][1].snooze_allowed is True
    responses = [e.data["response"] for e in d.events("response")]
    assert responses == ["snoozed", "snoozed", "snoozed", "skipped"]


def test_ignored_prompt_repeats_with_escalation() -> None:
    d = Driver(settings=Settings(posture_every_min=0))
    d.sit(30 + 5 * 3)
    assert prompt_minutes(d, "stretch") == [30.0, 35.0, 40.0, 45.0]
    assert [p.escalation for _, p in d.prompts("stretch")] == [0, 1, 2, 3]
    # Each repeat replaces the one before: the old prompt is closed.
    assert d.closed() == [1, 2, 3]
    assert [e.data["response"] for e in d.events("response")] == ["ignored"] * 3


def test_getting_up_while_prompt_is_showing_counts_as_the_break() -> None:
    d = Driver(settings=Settings(posture_every_min=0))
    d.sit(30)
    d.away(3)  # idle >= break_min (2): they got up without clicking
    assert [e.data["response"] for e in d.events("response")] == ["taken_idle"]
    assert d.today.breaks_taken == 1
    assert d.status.state == "sitting"


def test_suspend_for_eight_hours_is_one_natural_break_and_no_burst() -> None:
    d = Driver()
    d.sit(25)
    effects = d.suspend(8 * 60)
    assert d.prompts("stretch") == []
    assert d.status.sitting_s == 0
    assert d.status.state == "sitting"
    natural = d.events("natural_break")
    assert len(natural) == 1 and natural[0].data["source"] == "suspend"
    assert natural[0].data["away_s"] == 8 * 3600
    assert not [e for e in effects if type(e).__name__ == "ShowPrompt"]
    d.sit(29)
    assert d.prompts("stretch") == []
    d.sit(1)
    assert len(d.prompts("stretch")) == 1


def test_short_suspend_keeps_counting_or_pauses_by_setting() -> None:
    counting = Driver(settings=Settings(posture_every_min=0))
    counting.sit(10)
    counting.suspend(3)
    assert counting.status.sitting_s == 13 * 60
    pausing = Driver(settings=Settings(posture_every_min=0, short_away="pause"))
    pausing.sit(10)
    pausing.suspend(3)
    assert pausing.status.sitting_s == 10 * 60


def test_stopped_process_gap_counts_as_natural_break() -> None:
    d = Driver()
    d.sit(20)
    d.stopped(12)
    assert [e.data["source"] for e in d.events("natural_break")] == ["gap"]
    assert d.status.sitting_s == 0


def test_wall_clock_jumps_change_nothing() -> None:
    plain = Driver()
    jumped = Driver()
    for step in range(6):
        for d in (plain, jumped):
            d.sit(17)
            if step == 2:
                d.cmd(Snooze())
        jumped.jump_wall(+3 if step % 2 else -3)
    assert [t for t, _ in plain.prompts()] == [t for t, _ in jumped.prompts()]
    assert plain.status.sitting_s == jumped.status.sitting_s
    assert plain.status.next_prompt == jumped.status.next_prompt


def test_time_zone_change_changes_nothing() -> None:
    home = Driver()
    travel = Driver()
    for i, zone in enumerate(["Europe/London", "America/New_York", "Asia/Tokyo"]):
        for d in (home, travel):
            d.sit(23)
            if i == 1:
                d.cmd(TakeBreak())
                d.sit(2)
        travel.tz = ZoneInfo(zone)
    assert [t for t, _ in home.prompts()] == [t for t, _ in travel.prompts()]
    assert home.status.sitting_s == travel.status.sitting_s


def test_todays_figures_follow_the_local_day_as_stats_do() -> None:
    d = Driver(start=datetime(2026, 3, 2, 23, 40, tzinfo=BERLIN))
    d.sit(30)
    d.sit(1)
    # The sit that ran over midnight is split by the wall clock: 11 of its 31 min are today's.
    assert d.today.first_day.isoformat() == "2026-03-03"
    assert d.today.sitting_s == pytest.approx(11 * 60)
    d.jump_wall(-3)  # back to the previous evening: "today" is that day again, nothing breaks
    d.sit(1)
    assert d.today.first_day.isoformat() == "2026-03-02"
    assert d.today.sitting_s >= 0


def test_pause_until_tomorrow_resumes_at_midnight() -> None:
    d = Driver(start=datetime(2026, 3, 2, 17, 0, tzinfo=BERLIN))
    d.sit(10)
    d.cmd(PauseUntilTomorrow())
    status = d.status
    assert status.state == "paused"
    assert status.paused_until == datetime(2026, 3, 3, 0, 0, tzinfo=BERLIN)
    d.no_idle_source(6 * 60 + 49)
    assert d.status.state == "paused"
    assert d.prompts("stretch") == []
    d.no_idle_source(1)
    assert d.status.state == "sitting"
    assert [e.data["reason"] for e in d.events("resume")] == ["expired"]
    # Sitting was frozen during the pause.
    assert d.status.sitting_s == 10 * 60


def test_pause_until_tomorrow_across_dst_change() -> None:
    # 28/29 March 2026: Europe/Berlin springs forward at 02:00, so that night is an hour shorter.
    wall = datetime(2026, 3, 28, 23, 0, tzinfo=BERLIN)
    assert seconds_until_next_day(wall) == 3600
    wall = datetime(2026, 10, 24, 20, 0, tzinfo=BERLIN)
    assert seconds_until_next_day(wall) == 4 * 3600
    # From 01:00 on the short day, the next midnight is 22 real hours away, not 23.
    assert seconds_until_next_day(datetime(2026, 3, 29, 1, 0, tzinfo=BERLIN)) == 22 * 3600
    # And 25 real hours on the long day in autumn.
    assert seconds_until_next_day(datetime(2026, 10, 25, 0, 0, tzinfo=BERLIN)) == 25 * 3600


def test_paused_until_is_right_across_dst() -> None:
    d = Driver(start=datetime(2026, 3, 29, 1, 30, tzinfo=BERLIN))
    d.cmd(Pause(seconds=3600))
    # 01:30 CET + 1 real hour = 03:30 CEST (02:00 does not exist that night).
    assert d.status.paused_until == datetime(2026, 3, 29, 3, 30, tzinfo=BERLIN)
    assert d.status.paused_until.utcoffset() == timedelta(hours=2)


def test_pause_resume_and_pause_always_ends() -> None:
    d = Driver(settings=Settings(posture_every_min=0))
    d.sit(25)
    d.cmd(Pause(seconds=3600))
    d.sit(59)
    assert d.status.state == "paused"
    assert d.status.pause_left_s == 60
    d.sit(1)
    assert d.status.state == "sitting"
    d.sit(5)
    assert prompt_minutes(d, "stretch") == [90.0]
    d.cmd(Pause(seconds=600))
    d.cmd(Resume())
    assert d.status.state == "sitting"
    assert [e.data["reason"] for e in d.events("resume")] == ["expired", "user"]


def test_pause_while_prompt_due_brings_prompt_back_after() -> None:
    d = Driver(settings=Settings(posture_every_min=0))
    d.sit(30)
    d.cmd(Pause(seconds=600))
    assert d.closed() == [1]
    d.sit(10)
    d.sit(1)
    assert len(d.prompts("stretch")) == 2


def test_break_now_and_end_break_early() -> None:
    d = Driver(settings=Settings(break_min=5))
    d.sit(12)
    d.cmd(TakeBreak())
    d.sit(1)
    d.cmd(EndBreak())
    assert d.status.state == "sitting"
    ends = d.events("break_end")
    assert ends[-1].data == {"break_s": 60.0, "completed": False}
    assert d.events("break_start")[-1].data["prompted"] is False


def test_screen_lock_long_is_natural_break_short_pauses_if_asked() -> None:
    d = Driver(settings=Settings(posture_every_min=0))
    d.sit(10)
    d.cmd(ScreenLock(True))
    d.sit(6, idle_s=None)
    assert d.status.state == "away"
    assert [e.data["source"] for e in d.events("natural_break")] == ["lock"]
    d.cmd(ScreenLock(False))
    assert d.status.state == "sitting"
    assert d.status.sitting_s == 0

    p = Driver(settings=Settings(posture_every_min=0, short_away="pause"))
    p.sit(10)
    p.cmd(ScreenLock(True))
    p.sit(3, idle_s=None)
    p.cmd(ScreenLock(False))
    assert p.status.sitting_s == 10 * 60


def test_no_prompt_while_locked() -> None:
    d = Driver(settings=Settings(posture_every_min=0, natural_break_min=60))
    d.sit(28)
    d.cmd(ScreenLock(True))
    d.sit(10, idle_s=None)
    assert d.prompts() == []
    d.cmd(ScreenLock(False))
    d.sit(1)
    assert len(d.prompts("stretch")) == 1


def test_driver_profile_never_counts_idle_as_a_break() -> None:
    d = Driver(settings=Settings(profile="driver", posture_every_min=0))
    d.away(29)  # hands on the wheel, laptop untouched
    assert d.events("natural_break") == []
    d.away(1)
    assert len(d.prompts("stretch")) == 1
    # "Stopped — taking a break" lasts until "Back on the road", however long the stop.
    d.cmd(TakeBreak())
    d.sit(40)
    assert d.status.state == "on_break"
    d.cmd(EndBreak())
    assert d.status.state == "sitting"
    assert d.events("break_end")[-1].data == {"break_s": 40 * 60.0, "completed": True}
    # A lock (lid closed at a stop) still counts.
    d.cmd(ScreenLock(True))
    d.sit(10, idle_s=None)
    assert [e.data["source"] for e in d.events("natural_break")] == ["lock"]


def test_off_hours_counts_nothing_and_drops_a_pending_prompt() -> None:
    d = Driver(settings=Settings(posture_every_min=0))
    d.sit(30)
    assert d.status.state == "prompt_due"
    d.cmd(OffHours(True))
    assert d.status.state == "off_hours"
    assert d.closed() == [1]
    assert d.engine.seconds_until_next_deadline() is None
    d.sit(120)
    assert d.status.sitting_s == 30 * 60
    assert len(d.prompts()) == 1
    d.cmd(OffHours(False))
    assert d.status.state == "sitting"
    d.sit(29)
    assert len(d.prompts()) == 1
    d.sit(1)
    assert len(d.prompts()) == 2


def test_deferred_prompt_is_not_repeated_or_ignored_while_held() -> None:
    d = Driver(settings=Settings(posture_every_min=0))
    d.sit(30)
    d.cmd(DeferPrompt(1))
    d.sit(40)
    assert len(d.prompts("stretch")) == 1
    assert d.events("response") == []
    d.cmd(ReleasePrompt(1))
    d.sit(5)
    assert len(d.prompts("stretch")) == 2
    assert [e.data["response"] for e in d.events("response")] == ["ignored"]


def test_pause_until_tomorrow_uses_working_hours() -> None:
    from psoas_break.core.working_hours import WorkingHours

    friday_evening = datetime(2026, 3, 27, 18, 0, tzinfo=BERLIN)
    d = Driver(start=friday_evening,
               settings=Settings(working_hours=WorkingHours(preset="weekdays_9_17")))
    d.cmd(PauseUntilTomorrow())
    # Across the weekend, and the spring DST change on Sunday: Monday 09:00 local time.
    assert d.status.paused_until == datetime(2026, 3, 30, 9, 0, tzinfo=BERLIN)
    assert d.status.pause_left_s == 62 * 3600


def test_apply_settings_keeps_elapsed_time() -> None:
    d = Driver(settings=Settings(posture_every_min=0))
    d.sit(20)
    d.cmd(ApplySettings(Settings(stretch_every_min=45, posture_every_min=0)))
    d.sit(24)
    assert d.prompts("stretch") == []
    d.sit(1)
    assert prompt_minutes(d, "stretch") == [45.0]
    # Shortening below the elapsed time prompts at once.
    d.cmd(TakeBreak())
    d.sit(2)
    d.sit(15)
    d.cmd(ApplySettings(Settings(stretch_every_min=10, posture_every_min=0)))
    assert len(d.prompts("stretch")) == 2


def test_posture_never_within_guard_of_stretch() -> None:
    d = Driver(settings=Settings(stretch_every_min=20, posture_every_min=9))
    d.sit(60)
    times = sorted((t, p.kind) for t, p in d.prompts())
    for (t1, k1), (t2, k2) in zip(times, times[1:], strict=False):
        if "posture" in (k1, k2) and k1 != k2:
            assert t2 - t1 >= POSTURE_GUARD_S


def test_status_snapshot_fields() -> None:
    d = Driver(start=datetime(2026, 6, 1, 8, 0, tzinfo=BERLIN))
    d.sit(10)
    s = d.status
    assert s.state == "sitting" and s.profile == "desk"
    assert s.sitting_s == 600
    assert s.next_prompt is not None
    assert (s.next_prompt.kind, s.next_prompt.in_s) == ("posture", 600)
    d.cmd(Pause(seconds=1800))
    s = d.status
    assert s.paused_until == datetime(2026, 6, 1, 8, 40, tzinfo=BERLIN)
    assert s.next_prompt is None
    assert d.engine.seconds_until_next_deadline() == 1800
    assert d.status.paused_until is not None
    assert d.status.paused_until - d.wall == timedelta(minutes=30)
