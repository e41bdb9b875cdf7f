"""The real tray app on a headless desktop, read and clicked over D-Bus the way a panel does."""

from __future__ import annotations

import contextlib
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from psoas_break.ui.icon import state_colour
from tests.app_harness import RunningApp, start_app
from tests.desktop.session import DesktopSession
from tests.desktop.waiting import wait_for

pytestmark = pytest.mark.desktop

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib


@pytest.fixture(scope="module")
def desk(desktop_module: DesktopSession) -> DesktopSession:
    desktop_module.start_sni_watcher()
    return desktop_module


@pytest.fixture
def app(desk: DesktopSession) -> Iterator[RunningApp]:
    running = start_app(desk, extra_env={"PSOAS_SECONDS_PER_MINUTE": "3"})
    yield running
    running.stop()


def click(menu: object, *path: str) -> None:
    """Click like a person: pystray rebuilds the whole menu (new ids) just after each click,
    so a second click sent within milliseconds may name an id that is already gone, or reach
    an item the rebuild is about to drop. A person cannot click that fast: leave the rebuild
    a moment after each click, and click again if the id was gone."""
    from tests.desktop.bus import DBusCallError

    for attempt in range(5):
        try:
            menu.click(*path)  # type: ignore[attr-defined]
            time.sleep(0.3)
            return
        except DBusCallError as exc:
            if "does not refer to a menu item" not in str(exc) or attempt == 4:
                raise
            time.sleep(0.2)


def labels(node: object) -> list[str]:
    return [c.label for c in node.children if not c.is_separator]  # type: ignore[attr-defined]


def test_registers_and_menu_has_every_item(app: RunningApp) -> None:
    started = time.monotonic()
    item = app.item()
    assert time.monotonic() - started < 10
    assert item.id == "psoas-break"
    assert item.title.startswith("Sitting 0 min")
    menu = item.menu()
    root = menu.layout()
    top = labels(root)
    assert top[0] == item.title  # the status line
    assert not root.children[0].enabled
    assert top[1:] == [
        "Take a break now", "Snooze", "Skip this break", "Pause", "Today", "This week",
        "Settings", "Start at login", "About psoas-break", "Quit",
    ]
    today = menu.find("Today")
    assert labels(today)[0] == "Sitting today: 0 min"
    assert not any(c.enabled for c in today.children)
    assert labels(menu.find("Snooze")) == ["5 min", "10 min", "15 min"]
    assert labels(menu.find("Pause")) == ["30 min", "1 h", "2 h", "Until tomorrow"]
    settings = menu.find("Settings")
    assert labels(settings) == [
        "Stretch every", "Break length", "Posture prompts", "Snooze length", "Profile",
        "Working hours", "Voice prompts", "Where you can exercise", "Hold prompts during",
    ]
    quiet = menu.find("Settings", "Hold prompts during")
    assert labels(quiet) == ["Calls (microphone in use)", "Camera in use", "Screen sharing",
                             "Fullscreen", "Do not disturb"]
    assert [c.toggle_type for c in quiet.children] == ["checkmark"] * 5
    assert all(c.checked for c in quiet.children)
    places = menu.find("Settings", "Where you can exercise")
    assert labels(places) == ["Seated", "Standing", "On the floor (at home)"]
    assert [c.checked for c in places.children] == [True, True, False]
    hours = menu.find("Settings", "Working hours")
    assert labels(hours) == ["Always", "Weekdays 9–17", "Custom (from config)"]
    assert [c.checked for c in hours.children] == [True, False, False]
    assert [c.enabled for c in hours.children] == [True, True, False]
    stretch = menu.find("Settings", "Stretch every")
    assert labels(stretch) == ["20 min", "30 min", "45 min", "60 min", "90 min"]
    assert [c.toggle_type for c in stretch.children] == ["radio"] * 5
    assert [c.checked for c in stretch.children] == [False, True, False, False, False]
    posture = menu.find("Settings", "Posture prompts")
    assert labels(posture) == ["Off", "Every 10 min", "Every 15 min", "Every 20 min",
                               "Every 30 min"]
    assert [c.label for c in posture.children if c.checked] == ["Every 20 min"]
    voice = menu.find("Settings", "Voice prompts")
    assert (voice.toggle_type, voice.checked) == ("checkmark", False)


def test_at_rest_the_app_has_not_loaded_pillow_or_gtk(app: RunningApp) -> None:
    """The sni tray sends the icon's pixels itself: Pillow (3 MiB) and GTK stay out of a tray
    app at rest (README, "Memory")."""
    app.item()
    maps = Path(f"/proc/{app.proc.pid}/maps").read_text()
    assert "PIL/_imaging" not in maps
    assert "libgtk" not in maps


def test_minute_updates_relabel_in_place_without_rebuilding(app: RunningApp) -> None:
    """The title and "Today" change every minute; item ids must not (a click would be lost):
    only ItemsPropertiesUpdated goes out, no LayoutUpdated."""
    menu = app.item().menu()
    layout_updates = app.desktop.bus().subscribe(interface="com.canonical.dbusmenu",
                                                 member="LayoutUpdated")
    before = menu.layout()
    quit_id = next(c.id for c in before.children if c.label == "Quit")
    first = before.children[0].label
    app.wait_title(lambda t: t != first and t.startswith("Sitting 1 min"), timeout_s=10)

    def relabelled() -> object | None:
        layout = menu.layout()
        return layout if layout.children[0].label.startswith("Sitting 1 min") else None

    after = wait_for(relabelled, 5, what="status line relabelled")
    assert next(c.id for c in after.children if c.label == "Quit") == quit_id
    assert [n.id for n in after.walk()] == [n.id for n in before.walk()]
    assert layout_updates.signals == []
    today = next(c for c in after.children if c.label == "Today")
    assert today.children[0].label == "Sitting today: 1 min"


def test_actions_change_state(app: RunningApp) -> None:
    menu = app.item().menu()
    click(menu, "Take a break now")
    app.wait_title("On a break · 2 min left")
    assert not menu.find("Take a break now").enabled
    click(menu, "Pause", "30 min")
    app.wait_title("Paused until")
    assert "Resume" in labels(menu.layout())
    click(menu, "Resume")
    app.wait_title("Sitting 0 min")
    assert "Resume" not in labels(menu.layout())
    click(menu, "Snooze", "10 min")
    app.wait_title("Snoozed · Sitting 0 min · stretch in 40 min")
    click(menu, "Skip this break")
    app.wait_title(lambda t: t.startswith("Sitting") and "Snoozed" not in t)


def test_settings_choices_are_saved_and_shown(app: RunningApp) -> None:
    menu = app.item().menu()
    click(menu, "Settings", "Stretch every", "45 min")
    wait_for(lambda: app.config_file.exists(), 5, what="settings file")
    click(menu, "Settings", "Break length", "5 min")
    click(menu, "Settings", "Posture prompts", "Off")
    click(menu, "Settings", "Voice prompts")

    def saved() -> dict[str, object] | None:
        data = tomllib.loads(app.config_file.read_text())
        return data if data.get("voice") is True else None

    data = wait_for(saved, 5, what="voice saved")
    assert data["stretch_every_min"] == 45
    assert data["break_min"] == 5
    assert data["posture_every_min"] == 0
    stretch = menu.find("Settings", "Stretch every")
    assert [c.label for c in stretch.children if c.checked] == ["45 min"]
    assert menu.find("Settings", "Voice prompts").checked
    app.wait_title("stretch in 45 min")


def test_hold_prompts_during_is_switched_from_the_tray(app: RunningApp) -> None:
    menu = app.item().menu()
    click(menu, "Settings", "Hold prompts during", "Calls (microphone in use)")

    def saved() -> object:
        if not app.config_file.exists():
            return None
        return tomllib.loads(app.config_file.read_text()).get("quiet_when")

    assert wait_for(saved, 5, what="quiet_when saved") == [
        "camera", "screen-sharing", "fullscreen", "do-not-disturb"]
    quiet = menu.find("Settings", "Hold prompts during")
    assert [c.checked for c in quiet.children] == [False, True, True, True, True]


def test_custom_value_and_locked_key(desk: DesktopSession) -> None:
    running = start_app(
        desk,
        config="stretch_every_min = 25\n",
        site_config='break_min = 5\nlocked = ["break_min"]\n',
    )
    try:
        menu = running.item().menu()
        stretch = menu.find("Settings", "Stretch every")
        assert [c.label for c in stretch.children if c.checked] == ["Custom (25 min)"]
        breaks = menu.find("Settings", "Break length")
        assert [c.enabled for c in breaks.children] == [False] * 4
        assert [c.label for c in breaks.children if c.checked] == ["5 min"]
        with pytest.raises(AssertionError, match="not clickable"):
            click(menu, "Settings", "Break length", "2 min")
        # Even a panel that sends the click anyway changes nothing.
        target = menu.find("Settings", "Break length", "2 min")
        with contextlib.suppress(Exception):
            menu.event(target.id, "clicked")
        time.sleep(0.5)
        data = tomllib.loads(running.config_file.read_text())
        assert "break_min" not in data
    finally:
        running.stop()


def test_about_week_and_stretch_pages_open_in_the_browser(desk: DesktopSession) -> None:
    opened = desk.env["HOME"] + "/opened.txt"
    recorder = desk.env["HOME"] + "/browser.sh"
    with open(recorder, "w") as fh:
        fh.write(f'#!/bin/sh\necho "$1" >> {opened}\n')
    import os

    os.chmod(recorder, 0o755)
    running = start_app(
        # A long snooze so the prompt does not repeat (and rebuild the menu) mid-click.
        desk, config="stretch_every_min = 10\nposture_every_min = 0\nsnooze_min = 60\n",
        extra_env={"BROWSER": recorder, "PSOAS_SECONDS_PER_MINUTE": "0.3"},
    )
    try:
        menu = running.item().menu()
        click(menu, "About psoas-break")
        click(menu, "This week")
        running.wait_title("Time to stretch", timeout_s=15)
        # The prompt is shown once the quiet detectors answered (on the job thread): the
        # entry appears with it.
        menu.wait_for("Show this stretch")
        click(menu, "Show this stretch")

        def urls() -> list[str] | None:
            try:
                lines = Path(opened).read_text().split()
            except FileNotFoundError:
                return None
            return lines if len(lines) >= 3 else None

        try:
            pages = sorted(wait_for(urls, 10, what="three pages opened"))
        except Exception:
            seen = Path(opened).read_text() if Path(opened).exists() else "nothing"
            raise AssertionError(f"opened: {seen}\nlog:\n{running.log()[-4000:]}") from None
        assert any(u.endswith("/about.html") for u in pages)
        assert any(u.endswith("/week.png") for u in pages)
        assert any("/pages/" in u and u.endswith(".html") for u in pages)
        about_file = next(u for u in pages if u.endswith("about.html"))[len("file://"):]
        text = Path(about_file).read_text()
        assert "Stop if anything hurts" in text
        assert str(running.config_file) in text
    finally:
        running.stop()


def test_icon_colour_follows_state(app: RunningApp) -> None:
    item = app.item()

    def centre_rgb() -> tuple[int, int, int]:
        img = item.icon_image().convert("RGBA")
        r, g, b, _a = img.getpixel((img.width // 2, img.height // 2 - img.height * 11 // 64))
        return (r, g, b)

    def near(expected: tuple[int, int, int]) -> bool:
        try:
            got = centre_rgb()
        except (FileNotFoundError, OSError):
            return False  # pystray replaces the file: IconName may name the old one briefly
        return all(abs(a - b) <= 12 for a, b in zip(got, expected, strict=True))

    wait_for(lambda: near(state_colour("sitting")), 5, what="teal icon")
    menu = item.menu()
    click(menu, "Take a break now")
    wait_for(lambda: near(state_colour("on_break")), 5, what="green icon")
    click(menu, "Pause", "1 h")
    wait_for(lambda: near(state_colour("paused")), 5, what="grey icon")


def test_prompt_due_icon_after_shortened_cycle(desk: DesktopSession) -> None:
    running = start_app(
        desk, config="stretch_every_min = 10\nposture_every_min = 0\n",
        extra_env={"PSOAS_SECONDS_PER_MINUTE": "0.2"},
    )
    try:
        running.wait_title("Time to stretch", timeout_s=15)
        item = running.item()
        img = item.icon_image().convert("RGBA")
        r, g, b, _ = img.getpixel((img.width // 2, img.height // 2 - img.height * 11 // 64))
        assert (r, g, b) == pytest.approx(state_colour("prompt_due"), abs=12)
        # Panels highlight an item that needs attention while the prompt is due.
        item.wait_for_property("Status", "NeedsAttention")
        click(item.menu(), "Take a break now")
        item.wait_for_property("Status", "Active")
    finally:
        running.stop()


def test_quit_and_sigterm_exit_zero_quickly(desk: DesktopSession) -> None:
    running = start_app(desk)
    running.item()
    click(running.item().menu(), "Quit")
    started = time.monotonic()
    assert running.proc.wait(5) == 0
    assert time.monotonic() - started < 2.5
    wait_for(lambda: not desk.tray().entries(), 5, what="item unregistered")

    again = start_app(desk)
    again.item()
    again.proc.terminate()
    started = time.monotonic()
    assert again.proc.wait(5) == 0
    assert time.monotonic() - started < 2.5
