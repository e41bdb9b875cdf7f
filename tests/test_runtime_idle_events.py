"""Event-driven idle sources in the runtime (the Wayland and Mutter sources, as tests/fakes.py's
EventIdle): told the idle times that matter, never polled, and their event is the natural break.

The sources themselves are tested against the real compositors (tests/test_wayland_idle.py);
these tests drive the runtime with scripted time, which real compositors cannot give.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from psoas_break.core.commands import GetStatus, SetSetting
from psoas_break.core.settings import Settings
from psoas_break.runtime.loop import IDLE_POLL_S
from tests.fakes import EventIdle, RuntimeRig, ScriptedClock

BERLIN = ZoneInfo("Europe/Berlin")
MONDAY_9 = datetime(2026, 5, 4, 9, 0, tzinfo=BERLIN)
MIN = 60.0
SETTINGS = Settings(natural_break_min=5, break_min=2, stretch_every_min=60, posture_every_min=0)


def natural_breaks(rig: RuntimeRig) -> list[dict[str, object]]:
    return [e.data for e in rig.history.events if e.kind == "natural_break"]


def test_the_source_is_told_the_natural_break_and_break_lengths_in_real_seconds() -> None:
    clock = ScriptedClock(MONDAY_9, scale=60.0)  # a test minute is one real second
    rig = RuntimeRig(MONDAY_9, SETTINGS, clock=clock, event_idle=True)
    assert isinstance(rig.idle, EventIdle)
    assert rig.idle.watched == 0  # D-Bus calls for Mutter: only on the job thread
    rig.work()
    assert rig.idle.thresholds_s == (2.0, 5.0)
    rig.step(SetSetting("natural_break_min", 10))
    rig.work()  # saved, applied, told again
    assert rig.idle.thresholds_s == (2.0, 10.0)
    watched = rig.idle.watched
    rig.step(SetSetting("stretch_every_min", 45))
    rig.work()
    assert rig.idle.watched == watched  # the same thresholds are not sent again


def test_an_event_driven_source_is_never_polled() -> None:
    polled = RuntimeRig(MONDAY_9, SETTINGS)
    driven = RuntimeRig(MONDAY_9, SETTINGS, event_idle=True)
    for rig in (polled, driven):
        rig.step()
        rig.work()
    assert polled.runtime.sleep_s() <= IDLE_POLL_S
    assert driven.runtime.sleep_s() > IDLE_POLL_S  # the next title minute only
    steps = {}
    for name, rig in (("polled", polled), ("driven", driven)):
        before = rig.runtime.wakeups, len(rig.history.events)
        start = rig.clock.mono_s
        count = 0
        while rig.clock.mono_s < start + 10 * MIN:
            rig.clock.mono_s += rig.runtime.sleep_s()
            rig.step(None)
            count += 1
        steps[name] = count
        assert len(rig.history.events) == before[1]  # nothing happened: no events either
    assert steps["driven"] <= 11  # one a minute for the title's minute count
    assert steps["polled"] >= 2 * steps["driven"] - 2


def test_the_sources_event_is_the_natural_break_at_once() -> None:
    rig = RuntimeRig(MONDAY_9, SETTINGS, event_idle=True)
    idle = rig.idle
    assert isinstance(idle, EventIdle)
    rig.step()
    rig.work()
    rig.advance(10 * MIN)
    idle.leave()
    rig.advance(5 * MIN)  # the loop does not look: the compositor has not said anything yet
    assert rig.runtime.engine.state == "sitting" and natural_breaks(rig) == []
    idle.reached()  # the compositor: idle for the natural-break length
    rig.drain()
    assert rig.runtime.engine.state == "away"
    assert [b["source"] for b in natural_breaks(rig)] == ["idle"]
    assert natural_breaks(rig)[0]["away_s"] >= 5 * MIN
    report = rig.step(GetStatus()).report
    assert report is not None and report.status.sitting_s == 0
    rig.advance(20 * MIN)
    idle.come_back()
    rig.drain()
    assert rig.runtime.engine.state == "sitting"


def test_a_lost_source_reads_none_and_the_status_names_the_live_one() -> None:
    rig = RuntimeRig(MONDAY_9, SETTINGS, event_idle=True)
    idle = rig.idle
    assert isinstance(idle, EventIdle)
    rig.step()
    rig.work()
    idle.lose()
    rig.drain()
    assert rig.runtime.sleep_s() <= IDLE_POLL_S  # not event-driven any more: polled again
    idle.name = "none"  # what the live wrapper reports after falling back
    report = rig.step(GetStatus()).report
    assert report is not None and report.backends["idle"] == "none"
