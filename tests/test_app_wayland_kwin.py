"""The real app as a Wayland client of real kwin_wayland 5.27 (KDE Plasma's compositor,
headless): natural breaks from ext-idle-notify-v1, KWin's fake input keeping sitting counted,
KWin's own screen locker, a fullscreen window seen through a KWin script, and KWin dying and
coming back.

Input: org_kde_kwin_fake_input is KWin's sanctioned way for trusted programs (KDE Connect,
krfb): a desktop file names the executable. The tests trust a private copy of the interpreter
(tests/desktop/wayland_input.py); the app itself needs no trust for anything it does."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.desktop import wayland
from tests.desktop.session import DesktopSession
from tests.desktop.waiting import wait_for
from tests.desktop.wayland import Compositor
from tests.desktop.wayland_input import KWinFakeInput, ToyWindow, trusted_python
from tests.wayland_app import (
    assert_back_at_the_keyboard_ends_the_break,
    assert_fullscreen_holds_then_releases_one,
    assert_input_keeps_sitting_counted,
    keep_active,
    quit_and_read_breaks,
    start_wayland_app,
    status,
    wait_state,
)

pytestmark = [pytest.mark.desktop, pytest.mark.timeout(180)]

SCREENSAVER = ("org.freedesktop.ScreenSaver", "/ScreenSaver", "org.freedesktop.ScreenSaver")


@pytest.fixture(scope="module")
def python(tmp_path_factory: pytest.TempPathFactory) -> str:
    return trusted_python(str(tmp_path_factory.mktemp("trusted")))


@pytest.fixture
def kwin(desktop: DesktopSession, python: str) -> Iterator[Compositor]:
    """KWin on the desktop's bus, with its screen locker, trusting `python` for fake input."""
    yield from wayland.fixture("kwin", bus_address=desktop.session_bus_address,
                               trusted_exe=python, lockscreen=True)


@pytest.fixture
def fake_input(kwin: Compositor, python: str) -> Iterator[KWinFakeInput]:
    helper = KWinFakeInput(kwin, python)
    yield helper
    helper.close()


def test_untouched_is_a_natural_break(desktop: DesktopSession, kwin: Compositor,
                                      fake_input: KWinFakeInput) -> None:
    app = start_wayland_app(desktop, kwin)
    data = status(app)
    # No panel on this compositor: the sni icon is up on the bus, waiting for one (no X).
    assert (data["idle"], data["tray"]) == ("wayland", "sni")
    assert "idle: wayland: ext_idle_notifier_v1 v1 (" in app.cli("doctor").stdout
    wait_state(app, "away")
    assert_back_at_the_keyboard_ends_the_break(app, fake_input.nudge_pointer)


def test_input_keeps_sitting_counted(desktop: DesktopSession, kwin: Compositor,
                                     fake_input: KWinFakeInput) -> None:
    assert_input_keeps_sitting_counted(desktop, kwin, fake_input.nudge_pointer)


def test_kwin_locking_the_screen_is_a_natural_break(desktop: DesktopSession, kwin: Compositor,
                                                    fake_input: KWinFakeInput) -> None:
    """KWin's in-process locker owns org.freedesktop.ScreenSaver: Lock() -> ActiveChanged(true)
    reaches the app. Unlocking needs the greeter and a password (or logind): not tested here.
    Input keeps flowing, so the break is the lock's, not idle's."""
    with keep_active(fake_input.nudge_pointer):
        app = start_wayland_app(desktop, kwin)
        assert not status(app)["locked"]
        assert desktop.bus().call(*SCREENSAVER, "GetActive") == [False]
        desktop.bus().call(*SCREENSAVER, "Lock")
        wait_for(lambda: status(app)["locked"], 10, what="the app to hear the lock")
        wait_state(app, "away", 10)  # locked longer than a natural break
        assert desktop.bus().call(*SCREENSAVER, "GetActive") == [True]
        assert quit_and_read_breaks(app) == ["lock"]


def test_a_fullscreen_window_holds_the_prompt_and_leaving_it_releases_one(
    desktop: DesktopSession, kwin: Compositor, fake_input: KWinFakeInput,
) -> None:
    server = desktop.start_notification_server()
    window = ToyWindow(kwin, "--fullscreen")
    try:
        window.wait_mapped()
        assert_fullscreen_holds_then_releases_one(desktop, kwin, server, window,
                                                  fake_input.nudge_pointer, "fullscreen-kwin")
    finally:
        window.close()


def test_kwin_dying_leaves_the_app_running_then_it_comes_back(
    desktop: DesktopSession, kwin: Compositor, tmp_path: Path,
) -> None:
    app = start_wayland_app(desktop, kwin)
    assert status(app)["idle"] == "wayland"
    kwin.kill()
    wait_for(lambda: status(app)["idle"] == "none", 10, what="the app falls back")
    assert app.proc.poll() is None
    doctor = app.cli("doctor").stdout
    assert "idle: none" in doctor.splitlines() and "running app" in doctor
    again = wayland.start("kwin", kwin.tmp, bus_address=kwin.bus_address)
    try:
        assert again.socket == kwin.socket
        wait_for(lambda: status(app)["idle"] == "wayland", 15, what="back on KWin")
        wait_state(app, "away")
    finally:
        assert app.stop() == 0
        again.stop()
