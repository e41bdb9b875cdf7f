"""The tray view model (pure): titles, icon looks and menu states for every engine state."""

from __future__ import annotations

from datetime import datetime

from psoas_break.core.commands import Pause, Snooze, TakeBreak
from psoas_break.core.settings import Settings
from psoas_break.core.tray_view import ICON_FILL_STEPS, TrayFacts, build_view
from tests.engine_driver import BERLIN, Driver


def view(d: Driver, facts: TrayFacts | None = None):  # type: ignore[no-untyped-def]
    return build_view(d.status, d.engine.settings, d.wall, facts or TrayFacts())


def entry(v, *labels: str):  # type: ignore[no-untyped-def]
    items = v.menu
    found = None
    for label in labels:
        found = next(e for e in items if e.label == label)
        items = found.children
    return found


def test_titles_per_state() -> None:
    d = Driver(start=datetime(2026, 5, 4, 9, 0, tzinfo=BERLIN))
    d.sit(12)
    assert view(d).title == "Sitting 12 min · posture check in 8 min"
    d.sit(10)
    assert view(d).title == "Sitting 22 min · stretch in 8 min"
    d.sit(8)
    assert view(d).title == "Time to stretch · sitting 30 min"
    d.cmd(Snooze())
    assert view(d).title == "Snoozed · Sitting 30 min · stretch in 5 min"
    d.cmd(TakeBreak())
    assert view(d).title == "On a break · 2 min left"
    d.sit(2)
    d.cmd(Pause(seconds=90 * 60))
    assert view(d).title == "Paused until 11:02"
    d.away(10)
    assert view(d).title == "Paused until 11:02"


def test_icon_fills_in_steps() -> None:
    d = Driver(settings=Settings(posture_every_min=0))
    looks = set()
    for _ in range(29):
        d.sit(1)
        looks.add(view(d).icon)
    assert {look.state for look in looks} == {"sitting"}
    assert len(looks) == ICON_FILL_STEPS  # redrawn only when a step changes
    d.sit(1)
    assert view(d).icon.state == "prompt_due"


def test_menu_states() -> None:
    d = Driver()
    v = view(d, TrayFacts(locked_keys=frozenset({"voice"}), autostart_enabled=True,
                          notice="notifications unavailable"))
    assert v.title.endswith("· notifications unavailable")
    assert v.menu[0].label == v.title and not v.menu[0].enabled
    assert entry(v, "Take a break now").default
    assert not entry(v, "Resume").visible
    assert not entry(v, "Settings", "Voice prompts").enabled
    assert entry(v, "Start at login").checked
    d.cmd(Pause(seconds=600))
    v = view(d)
    assert entry(v, "Resume").visible
    assert not entry(v, "Snooze").enabled
    assert all(e.label != "Start at login" for e in v.menu)  # autostart unknown: not offered


def test_custom_values_show_as_extra_checked_item() -> None:
    d = Driver(settings=Settings(stretch_every_min=25, posture_every_min=0))
    group = entry(view(d), "Settings", "Stretch every").children
    assert [(e.label, e.checked) for e in group if e.checked] == [("Custom (25 min)", True)]
    posture = entry(view(d), "Settings", "Posture prompts").children
    assert [e.label for e in posture if e.checked] == ["Off"]
