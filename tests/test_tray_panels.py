"""The real app's tray icon on real panels: xfce4-panel 4.18 on Xvfb (draws it, opens its menu,
clicks reach the app) and waybar's tray on headless sway (Wayland, no X: shows it).

Nothing is faked: the panels are Debian's, read the item over D-Bus with their own code
(libdbusmenu-gtk for xfce's menu) and draw it; the test only looks at the screen (python-xlib
screenshots, grim on sway) and moves the mouse and keyboard (xdotool). waybar cannot be clicked
here: with WLR_LIBINPUT_NO_DEVICES sway has no pointer, and no virtual-pointer client is
packaged in Debian 12; the same clicks reach the app over D-Bus in test_tray_app.py.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from psoas_break.ui.icon import state_colour
from tests.app_harness import RunningApp, start_app
from tests.desktop import DesktopSession, wait_for, waybar, xfce
from tests.desktop.dbusmenu import TrayClient
from tests.desktop.waybar import Waybar
from tests.desktop.xfce import XfcePanel, centre

pytestmark = [pytest.mark.desktop, pytest.mark.timeout(180)]

TEAL = state_colour("sitting")
GREEN = state_colour("on_break")
GREY = state_colour("paused")


def status(app: RunningApp) -> dict[str, Any]:
    out = app.cli("status", "--json")
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def panel(desktop_module: DesktopSession) -> XfcePanel:
    if xfce.missing():
        pytest.skip(f"missing {xfce.missing()} (Debian: xfce4-panel xfconf xdotool)")
    return xfce.start_xfce_panel(desktop_module)


@pytest.fixture
def app(panel: XfcePanel) -> Iterator[RunningApp]:
    # Real minutes: nothing changes by itself while the test clicks.
    running = start_app(panel.desktop, extra_env={"PSOAS_SECONDS_PER_MINUTE": "60"})
    yield running
    running.stop()


def test_xfce_panel_draws_the_icon_and_clicks_reach_the_app(panel: XfcePanel, app: RunningApp,
                                                           tmp_path: Path) -> None:
    assert status(app)["tray"] == "sni"
    icon = panel.wait_icon(TEAL)  # the sitting ring, drawn by the panel from IconPixmap
    width, height = icon[2] - icon[0] + 1, icon[3] - icon[1] + 1
    assert 8 <= width <= 24 and 8 <= height <= 24, icon  # a 22 px panel icon
    panel.screenshot().crop((0, 0, 320, 40)).save(tmp_path / "1-icon.png")
    x, y = centre(icon)

    panel.click(x, y, 1)  # left: the menu has a default item, so the panel calls Activate
    wait_for(lambda: status(app)["state"] == "on_break", 10, what="a break from the left click")
    panel.wait_icon(GREEN)  # NewIcon: the panel drew the new icon

    # Right: the panel opens the menu, built by libdbusmenu from our dbusmenu.
    menu_box = (0, xfce.PANEL_HEIGHT, 600, 767)
    layout = app.item().menu().layout()
    rows = [c for c in layout.children if c.visible and not c.is_separator]
    enabled = [c.label for c in rows if c.enabled]  # the keyboard skips the others
    panel.click(x, y, 3)
    panel.wait_menu(menu_box)
    row = None
    for _ in range(enabled.index("Pause") + 1):
        panel.key("Down")
        row = panel.highlighted_row(menu_box, not_top=row[1] if row else None)
    assert row is not None
    panel.screenshot().crop((0, 0, 400, 500)).save(tmp_path / "2-menu.png")
    panel.key("Right")  # opens the submenu at its first row, "30 min"
    sub_box = (row[2] + 1, xfce.PANEL_HEIGHT, 1023, 767)
    first = panel.highlighted_row(sub_box)
    panel.screenshot().crop((0, 0, 600, 500)).save(tmp_path / "3-submenu.png")
    panel.click(*centre(first))  # the mouse on the row: the panel sends EventGroup
    wait_for(lambda: status(app)["state"] == "paused", 10, what="paused from the submenu")
    panel.wait_icon(GREY)


def test_xfce_panel_restart_shows_the_icon_again(panel: XfcePanel, app: RunningApp) -> None:
    panel.wait_icon(TEAL)
    panel.restart()  # the watcher (in the panel's plugin process) goes and comes back
    started = time.monotonic()
    panel.wait_icon(TEAL)
    assert time.monotonic() - started < 10
    assert app.proc.poll() is None
    app.stop()
    panel.wait_no_icon(TEAL)  # the name left the bus: the panel dropped the item


# ---- Wayland: waybar on headless sway -----------------------------------------------------------


@pytest.fixture
def bar(desktop: DesktopSession) -> Iterator[Waybar]:
    if waybar.missing():
        pytest.skip(f"missing {waybar.missing()} (Debian: sway waybar grim)")
    running = waybar.start_waybar(desktop)
    yield running
    running.close()


def test_waybar_on_sway_shows_the_item_without_x(bar: Waybar) -> None:
    started = time.monotonic()
    app = start_app(bar.desktop, extra_env=bar.env)
    try:
        assert status(app)["tray"] == "sni"
        wait_for(lambda: "psoas-break.Title = 'Sitting 0 min" in bar.log(), 10,
                 what="waybar to read the item")
        print(f"waybar read the item {time.monotonic() - started:.2f} s after the app's exec")
        strip = (0, 0, waybar.WIDTH - 1, waybar.BAR_HEIGHT - 1)
        hit = wait_for(lambda: xfce.find_colour(bar.screenshot(), TEAL, strip, 10), 10,
                       what="the teal icon in waybar's screenshot")
        left, top, right, bottom = hit[1]
        assert right - left < 30 and bottom - top < 30, hit  # one 24 px tray icon
        with bar.client() as client:  # the item waybar shows is the live one
            item = TrayClient(client).wait_for_item(id="psoas-break")
            item.menu().click("Pause", "30 min")
            wait_for(lambda: status(app)["state"] == "paused", 10, what="paused over D-Bus")
        wait_for(lambda: xfce.find_colour(bar.screenshot(), GREY, strip, 10), 10,
                 what="waybar drew the new icon")
    finally:
        app.stop()
    wait_for(lambda: xfce.find_colour(bar.screenshot(), GREY, strip, 10) is None, 10,
             what="the icon gone with the app")
