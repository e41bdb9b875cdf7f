"""Scripted driving days through the break planner (core/driving.py) and the while-driving
prompt rules (core/driving_prompts.py), with hand-computed expectations and hypothesis
properties. Nothing is mocked: the real planner, the real engine, the shipped exercise library.
"""

from __future__ import annotations

import ast
import dataclasses
import inspect
import random
import re
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import psoas_break.core.driving as driving_module
from psoas_break.core.driving import (
    DRIVER_DISCLAIMER,
    BreakCounted,
    BreakNotCounted,
    BreakPlanner,
    BreakWarning,
    DailyLimitReached,
    DrivingEffect,
    LimitReached,
    format_duration,
    summary_text,
    title_text,
)
from psoas_break.core.driving_prompts import (
    GENERIC_DRIVING_PROMPTS,
    DrivingNotice,
    choose_driving_notice,
    driving_safe_exercises,
    exercise_problems,
    is_safe_while_driving,
    notice_from_planner,
    unsafe_phrases,
)
from psoas_break.core.events import RecordEvent
from psoas_break.core.exercise_selection import SelectionHistory
from psoas_break.core.exercises import parse_exercise
from psoas_break.core.settings import Settings
from tests.engine_driver import Driver

MIN = 60.0
HOUR = 3600.0


@dataclass
class Day:
    """A scripted driving day: a monotonic clock, the planner, every effect with its moment."""

    rules: str = "eu"
    step_s: float = 60.0
    mono_s: float = 5000.0
    log: list[tuple[float, float, DrivingEffect]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.p = BreakPlanner(self.rules)
        self.mono0 = self.mono_s

    def _keep(self, effects: list[DrivingEffect]) -> list[DrivingEffect]:
        driving_s = self.p.status().driving_s
        self.log.extend((self.mono_s, driving_s, e) for e in effects)
        return effects

    def start(self) -> list[DrivingEffect]:
        return self._keep(self.p.start_driving(self.mono_s))

    def drive(self, minutes: float) -> list[DrivingEffect]:
        """Tick every `step_s` while driving (or while stopped) for `minutes`."""
        out: list[DrivingEffect] = []
        end = self.mono_s + minutes * MIN
        while self.mono_s < end - 1e-9:
            self.mono_s = min(end, self.mono_s + self.step_s)
            out.extend(self._keep(self.p.tick(self.mono_s)))
        return out

    wait = drive  # while stopped, time passes the same way

    def stop(self, minutes: float | None = None) -> list[DrivingEffect]:
        """"Stopped — taking a break"; with minutes, stay stopped that long and resume."""
        out = self._keep(self.p.stop(self.mono_s))
        if minutes is not None:
            out.extend(self.wait(minutes))
            out.extend(self._keep(self.p.resume(self.mono_s)))
        return out

    def resume(self) -> list[DrivingEffect]:
        return self._keep(self.p.resume(self.mono_s))

    def laptop_closed(self, minutes: float) -> list[DrivingEffect]:
        """Suspended: no ticks at all, then one gap report."""
        self.mono_s += minutes * MIN
        return self._keep(self.p.gap(self.mono_s, minutes * MIN))

    def of(self, kind: type) -> list[tuple[float, float, DrivingEffect]]:
        return [item for item in self.log if isinstance(item[2], kind)]

    def ids(self) -> list[str]:
        return [e.effect_id for _, _, e in self.log]

    @property
    def status(self):  # type: ignore[no-untyped-def]
        return self.p.status()


def driving_minutes(items: list[tuple[float, float, DrivingEffect]]) -> list[float]:
    return [round(d / MIN, 3) for _, d, _ in items]


# ---------------------------------------------------------------- EU


def test_eu_four_and_a_half_hours_then_45_minutes() -> None:
    d = Day("eu")
    d.start()
    d.drive(270)
    warnings = d.of(BreakWarning)
    assert driving_minutes(warnings) == [240.0, 255.0]
    assert [w.minutes_left for _, _, w in warnings] == [30, 15]  # type: ignore[attr-defined]
    assert warnings[0][2].speech == (  # type: ignore[attr-defined]
        "Thirty minutes of driving left before your forty-five minute break. "
        "If you feel sleepy, stop somewhere safe and rest."
    )
    assert warnings[1][2].speech == (  # type: ignore[attr-defined]
        "Fifteen minutes of driving left before your forty-five minute break. "
        "If you feel sleepy, stop somewhere safe and rest."
    )
    limits = d.of(LimitReached)
    assert driving_minutes(limits) == [270.0]
    assert d.ids() == ["p1:warn30", "p1:warn15", "p1:limit"]
    assert title_text(d.status) == "Driving 4 h 30 · break due now"
    assert d.status.left_s == 0

    d.drive(10)  # late to stop: nothing repeats
    assert d.ids() == ["p1:warn30", "p1:warn15", "p1:limit"]

    d.stop()
    assert title_text(d.status) == "Stopped 0 min · 45 min more for the break"
    d.wait(44)
    assert d.status.driving_s == 280 * MIN
    assert d.of(BreakCounted) == []
    assert title_text(d.status) == "Stopped 44 min · 1 min more for the break"
    d.wait(1)  # the stop counts at 45 min, before "Back on the road"
    counted = d.of(BreakCounted)
    assert len(counted) == 1 and counted[0][2].counted_as == "full"  # type: ignore[attr-defined]
    assert counted[0][2].effect_id == "p1:full"
    assert d.status.driving_s == 0
    assert title_text(d.status) == "Stopped 45 min · break done"
    d.wait(15)
    d.resume()
    assert d.status.phase == "driving"
    assert d.status.period == 2
    assert title_text(d.status) == "Driving 0 min · break in 4 h 30"

    d.drive(190)
    assert title_text(d.status) == "Driving 3 h 10 · break in 1 h 20"
    d.drive(50)
    assert d.ids()[-1] == "p2:warn30"  # a new driving period warns again, with a new id


def test_eu_split_15_then_30_resets() -> None:
    d = Day("eu")
    d.start()
    d.drive(120)
    d.stop(15)
    first = d.of(BreakCounted)
    assert [e.counted_as for _, _, e in first] == ["first_part"]  # type: ignore[attr-defined]
    assert d.status.first_part_done
    assert d.status.next_break == "30 min (second part of a split break)"
    assert d.status.driving_s == 120 * MIN  # the first part does not reset the counter
    d.drive(120)
    warn = d.of(BreakWarning)[0][2]
    assert warn.speech == (  # type: ignore[attr-defined]
        "Thirty minutes of driving left before the thirty minute second part of your split "
        "break. If you feel sleepy, stop somewhere safe and rest."
    )
    d.stop()
    assert title_text(d.status) == "Stopped 0 min · 30 min more for the break"
    d.wait(30)
    d.resume()
    counted = [e for _, _, e in d.of(BreakCounted)]
    assert [e.counted_as for e in counted] == ["first_part", "full"]  # type: ignore[attr-defined]
    assert counted[1].text.startswith("Split break complete")
    assert d.status.driving_s == 0
    assert not d.status.first_part_done
    assert d.status.next_break == "45 min"


def test_eu_a_15_minute_stop_alone_does_not_reset() -> None:
    d = Day("eu")
    d.start()
    d.drive(240)
    d.stop(15)
    assert d.status.driving_s == 240 * MIN
    assert d.status.left_s == 30 * MIN
    d.drive(30)
    assert driving_minutes(d.of(LimitReached)) == [270.0]
    # The stop was a first part, so the rest of the period aims at the 30-minute second part,
    # and the warning given before the stop is not given again after it.
    assert d.ids() == ["p1:warn30", "p1:first_part", "p1:warn15", "p1:limit"]
    assert d.of(BreakWarning)[-1][2].speech == (  # type: ignore[attr-defined]
        "Fifteen minutes of driving left before the thirty minute second part of your split "
        "break. If you feel sleepy, stop somewhere safe and rest."
    )
    # 240 + 30 minutes of driving, the 15-minute stop not counted as driving.
    assert d.mono_s - d.mono0 == (240 + 15 + 30) * MIN


def test_eu_a_10_minute_stop_is_not_the_first_part() -> None:
    d = Day("eu")
    d.start()
    d.drive(60)
    d.stop(10)
    assert not d.status.first_part_done
    assert d.of(BreakCounted) == []
    assert d.status.next_break == "45 min"
    d.drive(60)
    # A later 30-minute stop is then only the first part, not the second.
    d.stop(30)
    assert [e.counted_as for _, _, e in d.of(BreakCounted)] == ["first_part"]  # type: ignore[attr-defined]
    assert d.status.driving_s == 120 * MIN


def test_eu_30_then_15_does_not_satisfy_the_split() -> None:
    d = Day("eu")
    d.start()
    d.drive(60)
    d.stop(30)  # at least 15: the first part
    d.drive(60)
    d.stop(15)  # not at least 30: not the second part
    assert [e.counted_as for _, _, e in d.of(BreakCounted)] == ["first_part"]  # type: ignore[attr-defined]
    assert d.status.driving_s == 120 * MIN
    assert d.status.next_break == "30 min (second part of a split break)"
    d.drive(60)
    d.stop(30)  # now the second part
    assert [e.counted_as for _, _, e in d.of(BreakCounted)] == ["first_part", "full"]  # type: ignore[attr-defined]
    assert d.status.driving_s == 0


def test_eu_a_stop_of_45_counts_whole_even_after_a_first_part_and_counts_once() -> None:
    d = Day("eu")
    d.start()
    d.drive(30)
    d.stop(20)
    d.drive(30)
    d.stop(90)
    assert [e.effect_id for _, _, e in d.of(BreakCounted)] == ["p1:first_part", "p1:full"]


def test_eu_daily_nine_hours_is_information_and_a_9_hour_stop_starts_a_new_day() -> None:
    d = Day("eu")
    d.start()
    for _ in range(2):
        d.drive(270)
        d.stop(45)
    assert d.status.daily_driving_s == 540 * MIN
    daily = d.of(DailyLimitReached)
    assert driving_minutes(daily) == [270.0]  # since the last break, at 9 h of the day
    assert daily[0][2].speech == "Nine hours of driving today."  # type: ignore[attr-defined]
    assert summary_text(d.status).endswith("today 9 h of 9 h")
    d.stop(8 * 60 + 59)
    assert d.status.daily_driving_s == 540 * MIN
    d.drive(1)
    d.stop(9 * 60)
    assert d.status.daily_driving_s == 0


# ---------------------------------------------------------------- US


def test_us_eight_hours_then_30_minutes_and_29_does_not_reset() -> None:
    d = Day("us")
    d.start()
    d.drive(400)
    d.stop(29)
    assert d.of(BreakCounted) == []
    assert d.status.driving_s == 400 * MIN
    d.drive(80)
    assert driving_minutes(d.of(BreakWarning)) == [450.0, 465.0]
    assert driving_minutes(d.of(LimitReached)) == [480.0]
    assert d.of(BreakWarning)[0][2].speech == (  # type: ignore[attr-defined]
        "Thirty minutes of driving left before your thirty minute break. "
        "If you feel sleepy, stop somewhere safe and rest."
    )
    assert d.status.next_break == "30 min"
    d.stop(30)
    assert [e.counted_as for _, _, e in d.of(BreakCounted)] == ["full"]  # type: ignore[attr-defined]
    assert d.status.driving_s == 0
    assert d.status.daily_limit_s is None
    assert d.status.daily_driving_s == 480 * MIN


def test_us_a_25_minute_stop_cut_short_is_said_not_to_count() -> None:
    d = Day("us")
    d.start()
    d.drive(45)
    d.stop(25)
    [(_, _, said)] = d.of(BreakNotCounted)
    assert isinstance(said, BreakNotCounted)
    assert (said.stop_min, said.needed_min) == (25, 30)
    assert said.speech == ("The stop ended after twenty-five minutes, before thirty: it does "
                           "not count as a break.")
    assert said.text == "The stop ended after 25 min, before 30 min: it does not count as a break."
    assert d.status.driving_s == 45 * MIN and d.of(BreakCounted) == []
    d.drive(10)
    d.stop(29)  # each stop is said once, with its own id
    assert [e.effect_id for _, _, e in d.of(BreakNotCounted)] == [
        "p1:stop1:not_counted", "p1:stop2:not_counted"]
    d.drive(10)
    d.stop(30)  # counts: nothing about not counting
    assert len(d.of(BreakNotCounted)) == 2 and len(d.of(BreakCounted)) == 1


@pytest.mark.parametrize(("rules", "before", "stop_min", "needed"), [
    ("eu", (), 12, 15),  # under the first part
    ("eu", (20,), 25, 30),  # a first part held: the second part needs 30
    ("us", (), 10, 30),  # the shortest stop that is said
])
def test_a_stop_that_did_not_count_names_what_it_needed(
        rules: str, before: tuple[int, ...], stop_min: int, needed: int) -> None:
    d = Day(rules)
    d.start()
    for minutes in before:
        d.drive(30)
        d.stop(minutes)
    d.drive(30)
    d.stop(stop_min)
    said = [e for _, _, e in d.of(BreakNotCounted)]
    assert [(e.stop_min, e.needed_min) for e in said] == [(stop_min, needed)]  # type: ignore[attr-defined]
    assert notice_from_planner(said[0]) is not None  # safe to say while driving


@pytest.mark.parametrize(("rules", "stop_min"), [("us", 9), ("eu", 9), ("off", 25), ("eu", 16)])
def test_short_stops_rules_off_and_stops_that_counted_say_nothing(rules: str,
                                                                  stop_min: int) -> None:
    d = Day(rules)
    d.start()
    d.drive(60)
    d.stop(stop_min)
    assert d.of(BreakNotCounted) == []


def test_us_has_no_split() -> None:
    d = Day("us")
    d.start()
    d.drive(60)
    d.stop(15)
    d.drive(60)
    d.stop(15)
    assert d.of(BreakCounted) == []
    assert d.status.driving_s == 120 * MIN


def test_rules_off_plans_nothing_but_counts_the_day() -> None:
    d = Day("off")
    d.start()
    d.drive(600)
    d.stop()
    d.wait(60)
    assert d.log == []
    assert d.status.left_s is None and d.status.next_break is None
    assert title_text(d.status) == "Stopped 1 h"
    d.resume()
    assert title_text(d.status) == "Driving 10 h today"
    assert d.p.seconds_until_next_event() is None


def test_switching_rules_keeps_the_counters_and_does_not_repeat_warnings() -> None:
    d = Day("us")
    d.start()
    d.drive(300)
    assert d.log == []
    effects = d.p.set_rules("eu", d.mono_s)  # 5 h > 4 h 30: the limit, once, nothing else
    assert [type(e) for e in effects] == [LimitReached]
    d.p.set_rules("us", d.mono_s)
    d.p.set_rules("eu", d.mono_s)
    d.drive(5)
    assert [e.effect_id for e in effects] == ["p1:limit"] and d.log == []
    with pytest.raises(ValueError, match=r"^driver_rules = 'uk' is not allowed: use one of "
                                         r"eu, us, off$"):
        d.p.set_rules("uk", d.mono_s)


# ---------------------------------------------------------------- gaps, time zones, clocks


def test_laptop_suspended_50_minutes_at_a_stop_counts_as_the_break() -> None:
    d = Day("eu")
    d.start()
    d.drive(200)
    effects = d.laptop_closed(50)
    assert [(type(e), e.effect_id) for e in effects] == [(BreakCounted, "p1:full")]
    assert d.status.phase == "driving"  # the laptop is back: counted as driving again
    assert d.status.driving_s == 0
    assert d.status.daily_driving_s == 200 * MIN  # the 50 minutes were not driving
    d.drive(60)
    assert d.status.driving_s == 60 * MIN


def test_a_gap_while_stopped_is_part_of_the_stop() -> None:
    d = Day("eu")
    d.start()
    d.drive(100)
    d.stop()
    d.wait(10)
    d.laptop_closed(20)
    assert d.status.phase == "stopped"
    assert d.status.stop_s == 30 * MIN
    assert [e.counted_as for _, _, e in d.of(BreakCounted)] == ["first_part"]  # type: ignore[attr-defined]


def test_a_stop_noticed_late_takes_the_driving_back() -> None:
    d = Day("eu")
    d.start()
    d.drive(60)
    d.p.stop(d.mono_s - 5 * MIN)  # the screen lock began five minutes ago
    assert d.status.driving_s == 55 * MIN
    assert d.status.stop_s == 5 * MIN
    d.p.stop(d.mono_s - 100 * MIN)  # already stopped: no change
    assert d.status.driving_s == 55 * MIN


def test_the_rules_take_no_wall_clock() -> None:
    # Every public method takes seconds on a monotonic clock (and a rule name), nothing else.
    allowed = {"self", "mono_s", "away_s", "rules"}
    for name, member in inspect.getmembers(BreakPlanner, inspect.isfunction):
        if name.startswith("_"):
            continue
        params = set(inspect.signature(member).parameters)
        assert params <= allowed, (name, params)
    tree = ast.parse(Path(driving_module.__file__).read_text(encoding="utf-8"))
    imported: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            imported.add(node.module.split(".")[0])
    assert imported.isdisjoint({"datetime", "time", "zoneinfo", "calendar"}), imported


def test_a_day_across_a_time_zone_through_the_engine() -> None:
    """The runtime's wiring in miniature: the real engine in the driver profile (idle input for
    hours, wall clock moved back an hour from Berlin to London) and the planner fed only the
    ticks' monotonic seconds and the engine's natural breaks."""
    d = Driver(settings=Settings(profile="driver", posture_every_min=0), step_s=60.0)
    planner = BreakPlanner("eu")
    said: list[tuple[float, DrivingEffect]] = []

    def feed(effects: list[object]) -> None:
        tick = d.make_tick()
        for effect in effects:
            if (
                isinstance(effect, RecordEvent)
                and effect.kind == "natural_break"
                and effect.data["source"] in ("suspend", "gap")
            ):
                away_s = effect.data["away_s"]
                said.extend((d.mono_s, e) for e in planner.gap(tick.mono_s, away_s))
        said.extend((d.mono_s, e) for e in planner.tick(tick.mono_s))

    start = d.mono_s
    said.extend((d.mono_s, e) for e in planner.start_driving(d.mono_s))
    for minute in range(270):
        if minute == 120:
            d.jump_wall(-1)  # the border: local time goes back one hour
            d.tz = ZoneInfo("Europe/London")
        d.mono_s += 60
        d.idle_s = (d.idle_s or 0.0) + 60  # nobody touches the laptop while driving
        feed(d.tick())  # type: ignore[arg-type]
    assert d.events("natural_break") == []  # idle never counts as a break for a driver
    assert [(round((t - start) / MIN), e.effect_id) for t, e in said] == [
        (240, "p1:warn30"), (255, "p1:warn15"), (270, "p1:limit")
    ]
    assert d.wall.utcoffset() == timedelta(0)
    # The lid shut at a motorway services for 50 minutes: a suspend gap, the break.
    d.idle_s = 0.0
    feed(d.suspend(50))  # type: ignore[arg-type]
    assert [e.kind for e in d.events("natural_break")] == ["natural_break"]
    assert said[-1][1].effect_id == "p1:full"
    assert planner.status().driving_s == 0


def test_time_going_backwards_is_no_time() -> None:
    p = BreakPlanner("eu")
    p.start_driving(1000.0)
    p.tick(1000.0 + HOUR)
    p.tick(1000.0)  # a caller bug: never negative driving, never lost driving
    assert p.status().driving_s == HOUR
    with pytest.raises(ValueError, match="mono_s must be a finite number"):
        p.tick(float("nan"))
    with pytest.raises(ValueError, match="away_s must be 0 or more"):
        p.gap(1000.0 + 2 * HOUR, -5.0)


def test_the_runtime_can_sleep_until_the_next_event_and_be_exact() -> None:
    p = BreakPlanner("eu")
    mono_s = 100.0
    p.start_driving(mono_s)
    seen: list[tuple[str, float]] = []
    while not any(i.endswith("limit") for i, _ in seen):
        wait_s = p.seconds_until_next_event()
        assert wait_s is not None and wait_s > 0
        mono_s += wait_s
        seen.extend((e.effect_id, p.status().driving_s) for e in p.tick(mono_s))
    assert seen == [("p1:warn30", 240 * MIN), ("p1:warn15", 255 * MIN), ("p1:limit", 270 * MIN)]
    p.stop(mono_s)
    # At the limit a first part no longer helps: the next event is the whole 45-minute break.
    assert p.seconds_until_next_event() == 45 * MIN
    p2 = BreakPlanner("eu")
    p2.start_driving(0.0)
    p2.tick(HOUR)
    p2.stop(HOUR)
    assert p2.seconds_until_next_event() == 15 * MIN  # the first part of a split break


def test_one_long_step_gives_one_announcement() -> None:
    p = BreakPlanner("us")
    p.start_driving(0.0)
    assert [e.effect_id for e in p.tick(8 * HOUR)] == ["p1:limit"]  # all three at once: one
    assert title_text(p.status()) == "Driving 8 h · break due now"


# ---------------------------------------------------------------- texts


def test_format_duration() -> None:
    assert format_duration(0) == "0 min"
    assert format_duration(45 * MIN) == "45 min"
    assert format_duration(4 * HOUR) == "4 h"
    assert format_duration(3 * HOUR + 10 * MIN + 59) == "3 h 10"
    assert format_duration(HOUR + 5 * MIN) == "1 h 05"
    assert format_duration(80 * MIN - 1, round_up=True) == "1 h 20"


def test_disclaimer_text() -> None:
    assert DRIVER_DISCLAIMER == (
        "psoas-break is an aid for comfort, not a tachograph or electronic logging device. "
        "Follow the law and your company's rules."
    )


# No claim that the law is being kept, anywhere but in the disclaimer.
_CLAIM_RE = re.compile(
    r"\b(?:legal\w*|lawful\w*|law|comply|complian\w*|compliant|tachograph\w*|ELD|certif\w*|"
    r"approved|guarantee\w*|regulation\w*|permitted|allowed)\b",
    re.IGNORECASE,
)


def _scripted_texts() -> list[str]:
    texts: list[str] = []
    for rules in ("eu", "us", "off"):
        d = Day(rules)
        texts.append(title_text(d.status))
        d.start()
        for minutes in (60, 120, 100, 40):
            d.drive(minutes)
            texts += [title_text(d.status), summary_text(d.status)]
            d.stop()
            for wait in (10, 10, 10, 20):
                d.wait(wait)
                texts += [title_text(d.status), summary_text(d.status)]
            d.resume()
        d.drive(600)
        texts += [title_text(d.status), summary_text(d.status)]
        texts += [t for _, _, e in d.log for t in (e.text, e.speech)]  # type: ignore[attr-defined]
    return texts


def test_no_user_facing_string_claims_legal_compliance() -> None:
    texts = _scripted_texts()
    assert len(texts) > 100
    for text in texts:
        assert not _CLAIM_RE.search(text), text


def test_every_planner_effect_is_safe_to_say_while_driving() -> None:
    d = Day("eu")
    d.start()
    d.drive(100)
    d.stop(20)
    d.drive(200)
    d.stop(30)
    d.drive(300)
    d.laptop_closed(60)
    d.drive(400)
    d.stop(12)
    kinds = {type(e) for _, _, e in d.log}
    assert kinds == {BreakWarning, LimitReached, BreakCounted, DailyLimitReached,
                     BreakNotCounted}
    for _, _, effect in d.log:
        notice = notice_from_planner(effect)
        assert notice is not None, effect
        assert is_safe_while_driving(notice.body) and is_safe_while_driving(notice.speech)


# ---------------------------------------------------------------- properties

# Seconds: often short steps (so a tick can land just past a threshold), sometimes long ones
# (several thresholds in one step, long stops, long gaps).
_seconds = st.one_of(
    st.integers(min_value=0, max_value=600),
    st.integers(min_value=0, max_value=5 * 3600),
).map(float)
_actions = st.lists(
    st.tuples(
        st.sampled_from(["tick"] * 6 + ["stop", "resume", "gap", "back"]),
        _seconds,
    ),
    min_size=1,
    max_size=80,
)


@settings(max_examples=150, deadline=None)
@given(rules=st.sampled_from(["eu", "us", "off"]), actions=_actions)
def test_properties_of_any_driving_day(rules: str, actions: list[tuple[str, float]]) -> None:
    p = BreakPlanner(rules)
    mono_s = 10_000.0
    p.start_driving(mono_s)
    issued: set[str] = set()
    limit_s = p.status().limit_s
    for action, seconds in actions:
        period_before = p.status().period
        before_s = p.status().driving_s
        if action == "tick":
            mono_s += seconds
            effects = p.tick(mono_s)
        elif action == "stop":
            effects = p.stop(mono_s)
        elif action == "resume":
            effects = p.resume(mono_s)
        elif action == "gap":
            mono_s += seconds
            effects = p.gap(mono_s, seconds)
        else:  # a stop noticed late (a lock): up to `seconds` back
            effects = p.stop(mono_s - seconds)
        status = p.status()
        assert status.driving_s >= 0
        assert status.daily_driving_s >= 0
        assert status.left_s is None or status.left_s >= 0
        ids = [e.effect_id for e in effects]
        assert len(ids) == len(set(ids))
        for effect_id in ids:
            assert effect_id not in issued, effect_id  # never twice within a period (or ever)
            issued.add(effect_id)
        if limit_s is None:
            assert effects == []
            continue
        limit_ids = [e.effect_id for e in effects if isinstance(e, LimitReached)]
        if limit_ids:
            # Exactly when driving reached the limit: now at or past it, and not before this call.
            assert status.driving_s >= limit_s
            assert status.period == period_before
            assert before_s < limit_s or f"p{status.period}:limit" not in issued - set(ids)
        if status.phase == "driving" and status.driving_s >= limit_s:
            assert f"p{status.period}:limit" in issued  # reached means said, within this call
        warnings = [e for e in effects if isinstance(e, BreakWarning | LimitReached)]
        assert len(warnings) <= 1  # never a burst


@settings(max_examples=150, deadline=None)
@given(
    rules=st.sampled_from(["eu", "us"]),
    steps=st.lists(
        st.one_of(st.integers(min_value=1, max_value=900),
                  st.integers(min_value=1, max_value=3 * 3600)),
        min_size=1,
        max_size=40,
    ),
)
def test_each_effect_comes_on_the_first_tick_at_or_past_its_threshold(
    rules: str, steps: list[int]
) -> None:
    p = BreakPlanner(rules)
    limit_s = p.status().limit_s
    assert limit_s is not None
    thresholds = {"p1:warn30": limit_s - 30 * MIN, "p1:warn15": limit_s - 15 * MIN,
                  "p1:limit": limit_s}
    mono_s = 0.0
    p.start_driving(mono_s)
    said: dict[str, float] = {}
    total = 0.0
    i = 0
    while total < limit_s + HOUR:  # the steps, cycled, until well past the limit
        step = float(steps[i % len(steps)])
        i += 1
        before = total
        mono_s += step
        total += step
        effects = p.tick(mono_s)
        assert p.status().driving_s == total  # driving time is exactly the sum of the steps
        crossed = [k for k, t in thresholds.items() if before < t <= total]
        if crossed:
            # The most urgent threshold crossed in this step is said, now and only now.
            assert [e.effect_id for e in effects] == [crossed[-1]]
            said[crossed[-1]] = total
        else:
            assert effects == []
    assert "p1:limit" in said


# ---------------------------------------------------------------- while-driving prompts


@pytest.mark.parametrize(
    "text",
    [
        "Press OK when done.",
        "Click the notification to snooze.",
        "Tap the tray icon.",
        "Look at the screen for the next step.",
        "Reach for your water bottle.",
        "Press your hand against the dashboard.",
        "Close your eyes and breathe.",
        "Take one hand off the wheel and roll your wrist.",
        "Lift your arms overhead.",
        "Stand up and walk around.",
        "Stretch your neck to the side.",
        "Take the break or skip it.",
        "Read the steps below.",
        "Turn your head to the left.",
    ],
)
def test_unsafe_while_driving(text: str) -> None:
    assert unsafe_phrases(text), text


@pytest.mark.parametrize(
    "text",
    [
        "Hands on the wheel, eyes on the road: press your lower back gently into the seat.",
        "Hands on the wheel, eyes on the road: sit tall and let your shoulders drop.",
        "Break over. Welcome back.",
        "Thirty minutes of driving left before your 45 minute break.",
        "You are ready: breathe out slowly.",
    ],
)
def test_safe_while_driving(text: str) -> None:
    assert unsafe_phrases(text) == []


def test_the_shipped_driving_safe_exercises_are_all_safe() -> None:
    from psoas_break.adapters.files.exercise_library import load_builtin_library

    library = load_builtin_library()
    assert [p for e in library if "driving_safe" in e.tags for p in exercise_problems(e)] == []
    pool = driving_safe_exercises(library)
    assert len(pool) >= 3
    assert all(e.tags == {"driving_safe"} and e.kind == "posture" for e in pool)


def _exercise(ex_id: str, prompt: str, tags: list[str], kind: str = "posture") -> object:
    return parse_exercise({
        "id": ex_id, "title": "A title", "prompt": prompt,
        "steps": ["Keep both hands on the wheel.", "Sit tall."],
        "duration_s": 20, "reps": 1, "sides": "none", "tags": tags, "kind": kind,
        "focus": ["posture"], "caution": "Only when traffic is calm.", "source": "Test data.",
        "pose": "drive_tall",
    })


def test_choose_driving_notice_only_ever_offers_safe_posture_changes() -> None:
    good = _exercise("drive_good", "Hands on the wheel, eyes on the road: sit tall.",
                     ["driving_safe"])
    bad = _exercise("drive_bad", "Hands on the wheel: press the button when done.",
                    ["driving_safe"])
    desk = _exercise("desk_one", "Stand up and stretch your hips.", ["standing"], "stretch")
    rng = random.Random(7)
    history = SelectionHistory()
    assert exercise_problems(bad)  # type: ignore[arg-type]
    for _ in range(30):
        notice, history = choose_driving_notice([good, bad, desk], history, rng)  # type: ignore[list-item]
        assert notice.source_id == "drive_good"
        assert notice.speech == ("Posture check. About 20 seconds. Hands on the wheel, eyes on "
                                 "the road: sit tall.")
        assert notice.body == "About 20 s. Hands on the wheel, eyes on the road: sit tall."
    assert [f.name for f in dataclasses.fields(DrivingNotice)] == [
        "source_id", "title", "body", "speech"
    ]  # no actions field: a driving notice cannot carry a button
    notice, same = choose_driving_notice([bad, desk], history, rng)  # type: ignore[list-item]
    assert notice.source_id in {i for i, _ in GENERIC_DRIVING_PROMPTS}
    assert same is history


def test_choose_driving_notice_varies_over_the_shipped_library() -> None:
    from psoas_break.adapters.files.exercise_library import load_builtin_library

    library = load_builtin_library()
    rng = random.Random(3)
    history = SelectionHistory()
    picked: list[str] = []
    for _ in range(20):
        notice, history = choose_driving_notice(library, history, rng)
        assert is_safe_while_driving(notice.speech)
        picked.append(notice.source_id)
    assert all(picked[i] != picked[i + 1] for i in range(len(picked) - 1))
    assert len(set(picked)) >= 4


def test_the_generic_driving_prompts_are_safe() -> None:
    for _, text in GENERIC_DRIVING_PROMPTS:
        assert is_safe_while_driving(text)
