"""The road in the runtime: a real Runtime (tests/fakes.RuntimeRig) with the real engine, planner
and RoadDetector, fed RoadSample commands as the location service posts them (a sample every
10 s, what the core's SampleGate lets through on a steady road), on scripted time.

The real sources and the real app are tested elsewhere (test_location_sources.py,
test_app_road.py); here a whole day runs in a second and every branch can be reached.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from psoas_break.core.commands import (
    EndBreak,
    GetStatus,
    LocationState,
    Pause,
    RoadSample,
    SetSetting,
    TakeBreak,
)
from psoas_break.core.settings import Settings
from tests.fakes import RecordingLocation, RuntimeRig

BERLIN = ZoneInfo("Europe/Berlin")
MONDAY_6 = datetime(2026, 5, 4, 6, 0, tzinfo=BERLIN)
MIN = 60.0
EVERY_S = 10.0


def rig_for(rules: str = "eu", **settings: object) -> RuntimeRig:
    rig = RuntimeRig(MONDAY_6, Settings(profile="driver", driver_rules=rules,
                                        posture_every_min=20, stretch_every_min=45,
                                        **settings),  # type: ignore[arg-type]
                     location=RecordingLocation())
    rig.step()
    return rig


def found(rig: RuntimeRig, source: str = "gpsd") -> None:
    rig.step(LocationState(source, "test"))


def road(rig: RuntimeRig, minutes: float, speed: float | None) -> None:
    """`minutes` at `speed` (None: no fix), a sample every EVERY_S as the gate sends them."""
    end_s = rig.clock.mono_s + minutes * MIN
    while rig.clock.mono_s + EVERY_S <= end_s + 1e-9:
        rig.advance(EVERY_S)
        rig.step(RoadSample(speed, rig.clock.mono_s))
    rig.advance(end_s - rig.clock.mono_s)


def status(rig: RuntimeRig) -> dict[str, str]:
    report = rig.step(GetStatus()).report
    assert report is not None and report.road is not None
    return dict(report.road, state_engine=report.status.state, title=rig.tray.view.title
                if rig.tray.view else "")


def road_events(rig: RuntimeRig) -> list[tuple[str, float]]:
    return [(e.data["state"], round(e.data["held_s"])) for e in rig.history.events
            if e.kind == "road"]


def test_the_source_is_asked_for_only_in_the_driver_profile_with_detection_on() -> None:
    location = RecordingLocation()
    rig = RuntimeRig(MONDAY_6, Settings(), location=location)
    rig.step()
    assert location.wanted == []
    rig.step(SetSetting("profile", "driver"))
    rig.work()
    rig.step(SetSetting("gps_device", "/dev/ttyUSB0"))
    rig.work()
    rig.step(SetSetting("driving_detect", "manual"))
    rig.work()
    rig.step(SetSetting("driving_detect", "gps"))
    rig.work()
    rig.step(SetSetting("profile", "desk"))
    rig.work()
    assert location.wanted == ["", "/dev/ttyUSB0", None, "/dev/ttyUSB0", None]


def test_a_morning_eu_split_break_from_the_road_alone() -> None:
    rig = rig_for("eu")
    found(rig)
    road(rig, 2, 0.4)  # parked before the day's driving: not a break
    assert status(rig)["state_engine"] == "sitting"
    assert rig.tray.view is not None and rig.tray.view.title.startswith("Not driving yet")
    road(rig, 60, 22.0)
    # Driving from the first fast sample to now: 59 min 50 s.
    assert status(rig)["title"] == "Driving 59 min · break in 3 h 31"
    road(rig, 16, 0.4)
    assert status(rig)["state_engine"] == "on_break"
    road(rig, 90, 22.0)
    road(rig, 31, 0.4)
    road(rig, 30, 22.0)
    said = rig.speech.said
    assert any("first part of a split break" in s for s in said), said
    assert any(s.startswith("Split break complete") for s in said), said
    planner = rig.runtime._ports.driving.planner
    assert planner is not None
    st = planner.status()
    assert not st.first_part_done
    # The counter restarted when the 31-minute stop reached 30: the 30 minutes since, within
    # a sample of the moment the vehicle moved.
    assert abs(st.driving_s - 30 * MIN) <= EVERY_S
    assert [s for s, _ in road_events(rig)] == [
        "stopped", "driving", "stopped", "driving", "stopped", "driving"]


def test_us_a_25_minute_stop_cut_short_does_not_count_and_is_said_by_voice() -> None:
    rig = rig_for("us")
    found(rig)
    road(rig, 45, 22.0)
    road(rig, 25, 0.4)
    assert status(rig)["state_engine"] == "on_break"
    shown_before = len(rig.notifications.shown)
    road(rig, 5, 22.0)
    said = [s for s in rig.speech.said if "does not count" in s]
    assert said == ["The stop ended after twenty-five minutes, before thirty: it does not "
                    "count as a break."]
    assert status(rig)["state_engine"] == "sitting"
    planner = rig.runtime._ports.driving.planner
    assert planner is not None
    # 45 min + 5 min of driving: the stop was not driving, and did not reset the counter.
    assert abs(planner.status().driving_s - 50 * MIN) <= EVERY_S
    assert rig.notifications.shown[shown_before:] == []  # said, never shown: it moves


def test_a_stop_that_reaches_30_during_the_driving_hold_is_not_credited() -> None:
    """The pitfall: the planner must not be ticked while "driving" waits out its 20 s."""
    rig = rig_for("us")
    found(rig)
    road(rig, 30, 22.0)
    road(rig, 29, 0.4)  # 29 min 0-10 s stopped as the detector saw it ...
    rig.advance(EVERY_S)
    rig.step(RoadSample(0.4, rig.clock.mono_s))
    # ... moving from here; the 20 s hold runs past the 30-minute mark of the stop.
    for _ in range(6):
        rig.advance(5.0)
        rig.step(RoadSample(20.0, rig.clock.mono_s))
    said = " ".join(rig.speech.said)
    assert "Break complete" not in said
    assert "does not count" in said


def test_jitter_at_rest_never_drives_and_nothing_is_said() -> None:
    rig = rig_for("eu")
    found(rig)
    for k in range(180):  # 30 minutes of a parked receiver's noise
        rig.advance(EVERY_S)
        rig.step(RoadSample(0.2 + (k * 37 % 50) / 100, rig.clock.mono_s))
    assert [s for s, _ in road_events(rig)] == ["stopped"]
    assert status(rig)["state_engine"] == "sitting"  # parked is not a break
    assert not rig.runtime._ports.driving.driving


def test_tunnels_keep_the_state_then_fall_back_once_with_a_spoken_word() -> None:
    rig = rig_for("eu")
    found(rig)
    road(rig, 10, 22.0)
    road(rig, 3, None)
    assert status(rig)["state"] == "driving"
    road(rig, 10, 22.0)
    road(rig, 12, None)
    fell = [s for s in rig.speech.said if s.startswith("No GPS signal")]
    assert fell == ["No GPS signal for ten minutes. Until it is back, stops count only when "
                    "you report them."]
    assert status(rig)["state"] == "manual"
    assert "no GPS signal" in status(rig)["title"]
    assert status(rig)["state_engine"] == "sitting"  # still driving as far as anyone knows
    road(rig, 5, 22.0)
    assert status(rig)["state"] == "driving"
    assert [s for s, _ in road_events(rig)] == ["driving", "unknown", "driving"]
    assert road_events(rig)[1][1] == pytest.approx(600, abs=EVERY_S)


def test_a_stop_reported_by_hand_holds_on_a_ferry_until_the_road_stops_and_drives() -> None:
    rig = rig_for("eu")
    found(rig)
    road(rig, 30, 22.0)
    rig.step(TakeBreak())  # "Stopped — taking a break" as the lorry rolls onto the ferry
    road(rig, 40, 6.0)  # the ferry moves: the road looks driven
    assert status(rig)["state_engine"] == "on_break"
    assert not rig.runtime._ports.driving.driving  # standing on deck: the screen may show
    road(rig, 3, 0.3)  # docked
    road(rig, 5, 22.0)  # off the ferry and on the road
    assert status(rig)["state_engine"] == "sitting"
    assert rig.runtime._ports.driving.driving


def test_aboard_a_ferry_the_driver_makes_the_stop_their_own() -> None:
    """The road stopped the lorry in the queue; aboard, the driver says "Stopped" again (the
    menu keeps it enabled in the driver profile): the crossing is not driving."""
    rig = rig_for("eu")
    found(rig)
    road(rig, 30, 22.0)
    road(rig, 5, 0.3)  # the queue: a stop seen by the road
    assert status(rig)["state_engine"] == "on_break"
    stopped = rig.runtime.render().menu[2]
    assert stopped.label == "Stopped — taking a break" and stopped.enabled
    rig.step(TakeBreak())
    road(rig, 45, 7.0)  # the crossing
    assert status(rig)["state_engine"] == "on_break"
    planner = rig.runtime._ports.driving.planner
    assert planner is not None and planner.phase == "stopped"
    assert planner.status().stop_counted_as == "full"  # the queue and the crossing: 50 min
    road(rig, 3, 0.3)  # docked
    road(rig, 2, 22.0)  # off the ferry
    assert status(rig)["state_engine"] == "sitting"
    assert planner.status().driving_s == pytest.approx(2 * MIN - EVERY_S, abs=EVERY_S)


def test_back_on_the_road_by_hand_holds_while_the_vehicle_stands() -> None:
    rig = rig_for("eu")
    found(rig)
    road(rig, 30, 22.0)
    road(rig, 20, 0.3)
    assert status(rig)["state_engine"] == "on_break"
    rig.step(EndBreak())
    road(rig, 5, 0.3)
    assert status(rig)["state_engine"] == "sitting"
    road(rig, 5, 22.0)
    road(rig, 2, 0.3)
    assert status(rig)["state_engine"] == "on_break"  # a new stop, seen by the road


def test_a_stop_while_paused_does_not_end_the_pause() -> None:
    rig = rig_for("eu")
    found(rig)
    road(rig, 30, 22.0)
    rig.step(Pause(3600.0))
    road(rig, 5, 0.3)
    assert status(rig)["state_engine"] == "paused"
    planner = rig.runtime._ports.driving.planner
    assert planner is not None and planner.phase == "stopped"  # the planner follows the road


def test_nothing_reaches_the_screen_while_the_vehicle_moves() -> None:
    rig = rig_for("eu", voice=False)
    found(rig)
    road(rig, 1, 22.0)
    rig.notifications.shown.clear()
    rig.notifications.closed.clear()
    road(rig, 250, 22.0)  # posture prompts, stretch prompts, the 30 and 15 minute warnings
    assert rig.notifications.shown == []
    said = rig.speech.said
    assert any(s.startswith("Posture check") for s in said)
    assert any("of driving left" in s and "If you feel sleepy" in s for s in said), said
    road(rig, 5, 0.3)  # stopped: the break's exercise is on the screen, with its picture
    assert rig.notifications.shown
    road(rig, 1, 22.0)  # moving again: the screen is cleared
    assert {"prompt", "driving", "notice"} <= set(rig.notifications.closed)


def test_gps_mode_says_once_when_there_is_no_source_and_the_menu_works_as_before() -> None:
    rig = rig_for("eu", driving_detect="gps")
    rig.step(LocationState("none", "gpsd: not running"))
    rig.step(LocationState("none", "gpsd: not running"))  # the 5-minute retry
    told = [s for s in rig.speech.said if s.startswith("No GPS receiver")]
    assert told == ["No GPS receiver found. Stops count only when you report them."]
    assert status(rig)["title"].startswith("Driving 0 min")
    assert "no GPS" in status(rig)["title"]
    rig.step(TakeBreak())
    assert status(rig)["state_engine"] == "on_break"


def test_auto_mode_without_a_source_is_the_manual_profile_silently() -> None:
    rig = rig_for("eu")
    rig.step(LocationState("none", "nothing here"))
    assert not [s for s in rig.speech.said if "GPS" in s]
    assert status(rig) | {} == status(rig)
    assert status(rig)["source"] == "none" and status(rig)["state"] == "manual"
    assert status(rig)["title"] == "Driving 0 min · break in 4 h 30"


def test_a_long_stop_does_not_spin_the_loop() -> None:
    """A driver's break is open-ended: once `break_min` has passed nothing is due. (The engine
    used to report its overdue break as due now, and the loop woke 20 times a second for the
    rest of every stop longer than two minutes.)"""
    rig = rig_for("eu")
    rig.step(LocationState("none", "menu only"))
    rig.step(TakeBreak())
    calls = 0
    end_s = rig.clock.mono_s + 45 * MIN
    while True:
        wake_s = rig.clock.mono_s + rig.runtime.sleep_s()
        if wake_s > end_s:
            break
        rig.clock.mono_s = wake_s
        rig.step()
        calls += 1
    # The planner's "counts at 15 / 30 / 45 min", the minutes in the title, the idle poll:
    # a few wake-ups a minute, not twenty a second.
    assert calls <= 4 * 45, calls
