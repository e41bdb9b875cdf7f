"""What the tray shows, as plain data: the title, the icon's look and the menu tree.

Pure: built from the engine's `Status`, the settings and a few runtime facts. The tray adapter
turns a `TrayView` into pystray objects; tests compare views without any GUI. A clickable entry
holds the `Command` a click posts to the engine thread (core/commands.py).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from psoas_break.core.commands import (
    Command,
    EndBreak,
    Pause,
    PauseUntilTomorrow,
    Quit,
    Resume,
    SetAutostart,
    SetSetting,
    ShowAbout,
    ShowStretch,
    ShowWeek,
    Skip,
    Snooze,
    TakeBreak,
)
from psoas_break.core.engine import Status
from psoas_break.core.i18n import N_, _, localized, weekday_short
from psoas_break.core.quiet_gate import QUIET_KINDS
from psoas_break.core.settings import Settings
from psoas_break.core.stats import Summary
from psoas_break.core.working_hours import CUSTOM, PRESET_LABELS, PRESETS, resume_label

# Presets offered in Settings; a value from the config file that is not one of these shows as
# an extra checked "Custom (N min)" item.
STRETCH_PRESETS_MIN = (20, 30, 45, 60, 90)
BREAK_PRESETS_MIN = (1, 2, 5, 10)
POSTURE_PRESETS_MIN = (0, 10, 15, 20, 30)
SNOOZE_PRESETS_MIN = (5, 10, 15)
SNOOZE_NOW_MIN = (5, 10, 15)
PAUSE_PRESETS_MIN = (30, 60, 120)

# The ring fills in this many visible steps, so the icon is redrawn at most this often per cycle.
ICON_FILL_STEPS = 12


@dataclass(frozen=True)
class MenuEntry:
    """One menu item. `action` None = not clickable; `children` makes it a submenu."""

    label: str
    action: Command | None = None
    enabled: bool = True
    visible: bool = True
    toggle: str | None = None  # None, "check" or "radio"
    checked: bool = False
    default: bool = False
    children: tuple[MenuEntry, ...] = field(default_factory=tuple)


SEPARATOR = MenuEntry("-")


@dataclass(frozen=True)
class IconLook:
    """What the icon looks like: the state's colour scheme and how full the ring is."""

    state: str  # sitting, prompt_due, on_break, paused, away, quiet
    fill_steps: int  # 0..ICON_FILL_STEPS


@dataclass(frozen=True)
class TrayView:
    title: str
    icon: IconLook
    menu: tuple[MenuEntry, ...]


@dataclass(frozen=True)
class TrayFacts:
    """Runtime facts the view needs besides the engine status."""

    locked_keys: frozenset[str] = frozenset()
    autostart_enabled: bool | None = None  # None: autostart not available here
    has_menu: bool = True
    notice: str | None = None  # e.g. "Notifications unavailable" (shown once in the status)
    can_show_stretch: bool = False
    current_exercise: str | None = None  # id of the last prompt's exercise ("never show again")
    can_show_week: bool = False
    quiet_title: str | None = None  # "Quiet: fullscreen" while a prompt is held back
    off_hours_until: datetime | None = None  # next start of working hours
    driver_title: str | None = None  # the driving planner's line in the driver profile
    today: Summary | None = None  # today's figures (core.stats, as `psoas-break stats` has them)


def _minutes_floor(seconds: float) -> int:
    return max(0, int(seconds // 60.0))


def _minutes_ceil(seconds: float) -> int:
    return max(0, math.ceil(seconds / 60.0 - 1e-9))


def _clock(when: datetime, now: datetime) -> str:
    if when.date() == now.date():
        return when.strftime("%H:%M")
    if when.date() == now.date() + timedelta(days=1):
        return _("tomorrow {clock}", clock=when.strftime("%H:%M"))
    return f"{weekday_short(when.weekday())} {when.strftime('%H:%M')}"


def status_text(status: Status, now: datetime) -> str:
    """The one-line status: the tray title, the menu's first line and `psoas-break status`."""
    sat = _minutes_floor(status.sitting_s)
    nxt = status.next_prompt
    if status.state == "off_hours":
        return _("Outside working hours")
    if status.state == "paused":
        if status.paused_until is not None:
            return _("Paused until {when}", when=_clock(status.paused_until, now))
        return _("Paused")
    if status.state == "on_break":
        if status.profile == "driver":
            return _("Stopped · taking a break")
        left = _minutes_ceil(status.break_left_s or 0.0)
        return _("On a break · {minutes} min left", minutes=left)
    if status.state == "away":
        return _("Away · counted as a break")
    if status.locked:
        return _("Screen locked · sitting {minutes} min", minutes=sat)
    if status.state == "prompt_due":
        return _("Time to stretch · sitting {minutes} min", minutes=sat)
    if nxt is None:
        return _("Sitting {minutes} min", minutes=sat)
    when = _minutes_ceil(nxt.in_s)
    if nxt.kind == "stretch":
        text = _("Sitting {sitting} min · stretch in {minutes} min", sitting=sat, minutes=when)
    else:
        text = _("Sitting {sitting} min · posture check in {minutes} min", sitting=sat,
                 minutes=when)
    return _("Snoozed · {status}", status=text) if status.snoozed else text


def icon_look(status: Status, settings: Settings, quiet: bool = False) -> IconLook:
    state = status.state
    if state == "off_hours":
        return IconLook("paused", 0)
    if quiet:
        return IconLook("quiet", ICON_FILL_STEPS)
    if state in ("paused", "on_break", "away", "prompt_due"):
        steps = ICON_FILL_STEPS if state == "prompt_due" else 0
        return IconLook(state, steps)
    cycle_s = settings.stretch_every_min * 60.0
    fraction = min(1.0, status.sitting_s / cycle_s) if cycle_s > 0 else 0.0
    return IconLook("sitting", min(ICON_FILL_STEPS, int(fraction * ICON_FILL_STEPS)))


def _every_min(value: int) -> str:
    return _("Every {minutes} min", minutes=value)


def _radio_group(
    key: str, current: int, presets: tuple[int, ...], facts: TrayFacts,
    fmt: Callable[[int], str] | None = None,
) -> tuple[MenuEntry, ...]:
    locked = key in facts.locked_keys
    fmt = fmt or _min
    items = [
        MenuEntry(
            _("Off") if value == 0 else fmt(value),
            action=SetSetting(key, value),
            toggle="radio",
            checked=value == current,
            enabled=not locked,
        )
        for value in presets
    ]
    if current not in presets:
        items.append(
            MenuEntry(
                _("Custom ({minutes} min)", minutes=current), action=None, toggle="radio",
                checked=True, enabled=False,
            )
        )
    return tuple(items)


def _min(minutes: int) -> str:
    return _("{minutes} min", minutes=minutes)


def _duration(seconds: float) -> str:
    minutes = _minutes_floor(seconds)
    if minutes >= 60:
        return _("{hours} h {minutes:02d} min", hours=minutes // 60, minutes=minutes % 60)
    return _min(minutes)


def today_entries(today: Summary) -> tuple[MenuEntry, ...]:
    """Today's key figures, as disabled lines of the "Today" submenu."""
    lines = (
        _("Sitting today: {duration}", duration=_duration(today.sitting_s)),
        _("Longest sit: {duration}", duration=_duration(today.longest_sit_s)),
        _("Breaks taken: {count}", count=today.breaks_taken),
        _("Snoozed: {snoozed} · skipped: {skipped}", snoozed=today.snoozed,
          skipped=today.skipped),
        _("Natural breaks: {count}", count=today.natural_breaks),
    )
    return tuple(MenuEntry(line, action=None, enabled=False) for line in lines)


def build_view(
    status: Status,
    settings: Settings,
    now: datetime,
    facts: TrayFacts,
) -> TrayView:
    """The whole tray: title, icon look and menu."""
    text = status_text(status, now)
    if status.state == "off_hours" and facts.off_hours_until is not None:
        text = _("Outside working hours until {when}",
                 when=resume_label(now, facts.off_hours_until))
    elif facts.quiet_title and status.state == "prompt_due":
        text = facts.quiet_title
    elif facts.driver_title and status.profile == "driver" and status.state != "paused":
        text = facts.driver_title
    title = f"{text} · {localized(facts.notice)}" if facts.notice else text
    state = status.state
    can_snooze = state in ("sitting", "prompt_due")
    locked = facts.locked_keys
    driver = settings.profile == "driver"
    settings_menu = (
        MenuEntry(_("Stretch every"), children=_radio_group(
            "stretch_every_min", settings.stretch_every_min, STRETCH_PRESETS_MIN, facts)),
        MenuEntry(_("Break length"), children=_radio_group(
            "break_min", settings.break_min, BREAK_PRESETS_MIN, facts)),
        MenuEntry(_("Posture prompts"), children=_radio_group(
            "posture_every_min", settings.posture_every_min, POSTURE_PRESETS_MIN, facts,
            _every_min)),
        MenuEntry(_("Snooze length"), children=_radio_group(
            "snooze_min", settings.snooze_min, SNOOZE_PRESETS_MIN, facts)),
        MenuEntry(_("Profile"), children=(
            MenuEntry(_("Desk"), action=SetSetting("profile", "desk"), toggle="radio",
                      checked=settings.profile == "desk", enabled="profile" not in locked),
            MenuEntry(_("Driver"), action=SetSetting("profile", "driver"), toggle="radio",
                      checked=settings.profile == "driver", enabled="profile" not in locked),
        )),
        MenuEntry(_("Working hours"), children=tuple(
            MenuEntry(
                localized(PRESET_LABELS[name]), action=_hours_command(settings, name),
                toggle="radio",
                checked=settings.working_hours.preset == name,
                enabled="working_hours" not in locked
                and (name != CUSTOM or settings.working_hours.custom is not None),
            )
            for name in (*PRESETS, CUSTOM)
        )),
        MenuEntry(_("Driving rules"), children=tuple(
            MenuEntry(label, action=SetSetting("driver_rules", value), toggle="radio",
                      checked=settings.driver_rules == value,
                      enabled="driver_rules" not in locked)
            for value, label in (("eu", _("EU (4 h 30 → 45 min)")),
                                 ("us", _("US (8 h → 30 min)")), ("off", _("Off")))
        ), visible=settings.profile == "driver"),
        MenuEntry(_("Stop detection"), children=tuple(
            MenuEntry(label, action=SetSetting("driving_detect", value), toggle="radio",
                      checked=settings.driving_detect == value,
                      enabled="driving_detect" not in locked)
            for value, label in (("auto", _("Automatic: GPS when there is one")),
                                 ("gps", _("GPS: tell me when there is none")),
                                 ("manual", _("Manual: only this menu")))
        ), visible=driver),
        MenuEntry(_("Voice prompts"), action=SetSetting("voice", not settings.voice),
                  toggle="check",
                  checked=settings.voice, enabled="voice" not in locked),
        MenuEntry(_("Where you can exercise"), children=_places_entries(settings, locked),
                  visible=not driver),
        MenuEntry(_("Hold prompts during"), children=_quiet_when_entries(settings, locked)),
        MenuEntry(_("Show hidden exercises again ({count})",
                    count=len(settings.hidden_exercises)),
                  action=SetSetting("hidden_exercises", ()),
                  visible=bool(settings.hidden_exercises),
                  enabled="hidden_exercises" not in locked),
    )
    menu: list[MenuEntry] = [
        MenuEntry(title, action=None, enabled=False),
        SEPARATOR,
        # A driver may say it again during a stop the road saw: the stop is then theirs and
        # holds while the road looks driven (a ferry, a car train).
        MenuEntry(_("Stopped — taking a break") if driver else _("Take a break now"),
                  action=TakeBreak(), default=True, enabled=state != "on_break" or driver),
        MenuEntry(_("Back on the road"), action=EndBreak(),
                  visible=driver and state == "on_break"),
        MenuEntry(_("Snooze"), enabled=can_snooze, children=tuple(
            MenuEntry(_min(m), action=Snooze(m * 60.0), enabled=can_snooze)
            for m in SNOOZE_NOW_MIN)),
        MenuEntry(_("Skip this break"), action=Skip(), enabled=can_snooze),
        MenuEntry(_("Pause"), children=(
            *(MenuEntry(_min(m) if m < 60 else _("{hours} h", hours=m // 60),
                        action=Pause(m * 60.0))
              for m in PAUSE_PRESETS_MIN),
            MenuEntry(_("Until tomorrow"), action=PauseUntilTomorrow()),
        )),
        MenuEntry(_("Resume"), action=Resume(), visible=state == "paused"),
        SEPARATOR,
    ]
    if facts.can_show_stretch:
        menu.append(MenuEntry(_("Show this stretch"), action=ShowStretch()))
        if facts.current_exercise and facts.current_exercise not in settings.hidden_exercises:
            hidden = (*settings.hidden_exercises, facts.current_exercise)
            menu.append(MenuEntry(_("Never show this one again"),
                                  action=SetSetting("hidden_exercises", hidden),
                                  enabled="hidden_exercises" not in locked))
    today = facts.today or Summary(now.date(), now.date())
    menu.append(MenuEntry(_("Today"), children=today_entries(today)))
    if facts.can_show_week:
        menu.append(MenuEntry(_("This week"), action=ShowWeek()))
    menu.append(MenuEntry(_("Settings"), children=settings_menu))
    if facts.autostart_enabled is not None:
        menu.append(MenuEntry(_("Start at login"), action=SetAutostart(not facts.autostart_enabled),
                              toggle="check", checked=facts.autostart_enabled))
    menu.extend((
        SEPARATOR,
        MenuEntry(_("About psoas-break"), action=ShowAbout()),
        MenuEntry(_("Quit"), action=Quit()),
    ))
    quiet = bool(facts.quiet_title) and status.state == "prompt_due"
    return TrayView(title, icon_look(status, settings, quiet), tuple(menu))


PLACE_MENU = (("seated", N_("Seated")), ("standing", N_("Standing")),
              ("floor", N_("On the floor (at home)")))


def _places_entries(settings: Settings, locked: frozenset[str]) -> tuple[MenuEntry, ...]:
    """Check items for the `places` setting; the last place left cannot be unticked."""
    entries = []
    for place, label in PLACE_MENU:
        on = place in settings.places
        new = tuple(p for p, _label in PLACE_MENU
                    if (p in settings.places) != (p == place))
        entries.append(MenuEntry(
            localized(label), action=SetSetting("places", new) if new else None,
            toggle="check", checked=on,
            enabled="places" not in locked and bool(new),
        ))
    return tuple(entries)


QUIET_WHEN_MENU = (("microphone", N_("Calls (microphone in use)")),
                   ("camera", N_("Camera in use")),
                   ("screen-sharing", N_("Screen sharing")),
                   ("fullscreen", N_("Fullscreen")),
                   ("do-not-disturb", N_("Do not disturb")))


def _quiet_when_entries(settings: Settings, locked: frozenset[str]) -> tuple[MenuEntry, ...]:
    """Check items for the `quiet_when` setting (each kind switched on or off)."""
    return tuple(
        MenuEntry(localized(label), toggle="check", checked=kind in settings.quiet_when,
                  action=SetSetting("quiet_when", tuple(
                      k for k in QUIET_KINDS if (k in settings.quiet_when) != (k == kind))),
                  enabled="quiet_when" not in locked)
        for kind, label in QUIET_WHEN_MENU)


def _hours_command(settings: Settings, preset: str) -> Command | None:
    """The working-hours value a preset stands for (None: the preset cannot apply here)."""
    try:
        return SetSetting("working_hours", settings.working_hours.with_preset(preset))
    except ValueError:
        return None
