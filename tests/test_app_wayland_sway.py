"""The real app as a Wayland client of real sway 1.7 (wlroots; headless, as an unprivileged
user): natural breaks from org_kde_kwin_idle, typing (wtype) keeping sitting counted, a
fullscreen window holding a prompt, and sway dying and coming back."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from tests.app_harness import real_s
from tests.desktop import wayland
from tests.desktop.session import DesktopSession
from tests.desktop.waiting import wait_for
from tests.desktop.wayland import Compositor
from tests.desktop.wayland_input import ToyWindow, sway_type
from tests.wayland_app import (
    assert_back_at_the_keyboard_ends_the_break,
    assert_fullscreen_holds_then_releases_one,
    assert_input_keeps_sitting_counted,
    quit_and_read_breaks,
    start_wayland_app,
    status,
    wait_state,
)

pytestmark = [pytest.mark.desktop, pytest.mark.timeout(180)]


@pytest.fixture
def sway(desktop: DesktopSession) -> Iterator[Compositor]:
    yield from wayland.fixture("sway", bus_address=desktop.session_bus_address)


def test_untouched_is_a_natural_break(desktop: DesktopSession, sway: Compositor) -> None:
    app = start_wayland_app(desktop, sway)
    data = status(app)
    # No panel on this compositor: the sni icon is up on the bus, waiting for one (no X).
    assert (data["idle"], data["tray"]) == ("wayland", "sni")
    doctor = app.cli("doctor").stdout
    assert "idle: wayland: org_kde_kwin_idle v1 (" in doctor
    assert "note: no panel shows StatusNotifierItems yet" in doctor
    wait_state(app, "away")  # one second untouched: sway said so
    assert status(app)["sitting_s"] == 0
    assert_back_at_the_keyboard_ends_the_break(app, lambda: sway_type(sway))


def test_typing_keeps_sitting_counted(desktop: DesktopSession, sway: Compositor) -> None:
    assert_input_keeps_sitting_counted(desktop, sway, lambda: sway_type(sway))


def test_a_video_holding_an_idle_inhibitor_keeps_sitting_counted(
    desktop: DesktopSession, sway: Compositor,
) -> None:
    """The README's decision, in the app: someone watching a video is seated. No input at all,
    but a window holds an idle inhibitor: no natural break; once it lets go, idle counts."""
    window = ToyWindow(sway, "--inhibit")
    try:
        window.wait_mapped()
        app = start_wayland_app(desktop, sway)
        time.sleep(3.0)  # three natural-break lengths without a key pressed
        data = status(app)
        assert data["state"] == "sitting", app.log()[-2000:]
        assert real_s(data, "sitting_s") >= 2.5
        window.send("uninhibit")
        wait_state(app, "away")
        assert quit_and_read_breaks(app) == ["idle"]
    finally:
        window.close()


def test_a_fullscreen_window_holds_the_prompt_and_leaving_it_releases_one(
    desktop: DesktopSession, sway: Compositor,
) -> None:
    server = desktop.start_notification_server()
    window = ToyWindow(sway, "--fullscreen")
    try:
        window.wait_mapped()
        assert_fullscreen_holds_then_releases_one(desktop, sway, server, window,
                                                  lambda: sway_type(sway), "fullscreen-wlr")
    finally:
        window.close()


def test_sway_dying_leaves_the_app_running_on_no_idle_then_it_comes_back(
    desktop: DesktopSession, sway: Compositor,
) -> None:
    app = start_wayland_app(desktop, sway)
    assert status(app)["idle"] == "wayland"
    sway.kill()
    wait_for(lambda: status(app)["idle"] == "none", 10, what="the app falls back")
    assert app.proc.poll() is None
    human = app.cli("status").stdout
    assert "idle none" in human
    doctor = app.cli("doctor").stdout
    assert "idle: none" in doctor.splitlines()
    assert "not wayland: cannot connect to the Wayland display" in doctor
    assert "running app" in doctor and "idle none" in doctor
    again = wayland.start("sway", sway.tmp, bus_address=sway.bus_address)
    try:
        assert again.socket == sway.socket
        wait_for(lambda: status(app)["idle"] == "wayland", 15, what="back on sway")
        wait_state(app, "away")  # and its idle events count again
    finally:
        assert app.stop() == 0  # SIGTERM: a clean exit
        again.stop()
