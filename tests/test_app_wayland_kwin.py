"""The real app as a Wayland client of real kwin_wayland 5.27 (KDE Plasma's compositor,
headless): natural breaks from ext-idle-notify-v1, KWin's fake input keeping sitting counted,
KWin's own screen locker, a fullscreen window seen through a KWin script, and KWin dying and
coming back.

Input: org_kde_kwin_fake_input is KWin's sanctioned way for trusted programs (KDE Connect,
krfb): a desktop file names the executable. The tests trust a private copy of the interpreter
(tests/desktop/wayland_input.py); the app itself needs no trust for anything it does."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.app_harness import real_s
from tests.desktop import wayland
from tests.desktop.notifications import is_stretch_prompt
from tests.desktop.session import DesktopSession
from tests.desktop.waiting import wait_for
from tests.desktop.wayland import Compositor
from tests.desktop.wayland_input import KWinFakeInput, ToyWindow, trusted_python
from tests.wayland_app import (
    ACTIVE_CONFIG,
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
    # Back at the keyboard, and staying there: on a loaded machine one `status` may take
    # longer than the second of sitting a single key press buys.
    with keep_active(fake_input.nudge_pointer):
        wait_state(app, "sitting", 10)
        assert quit_and_read_breaks(app) == ["idle"]


def test_input_keeps_sitting_counted(desktop: DesktopSession, kwin: Compositor,
                                     fake_input: KWinFakeInput) -> None:
    with keep_active(fake_input.nudge_pointer):
        app = start_wayland_app(desktop, kwin, config=ACTIVE_CONFIG)
        time.sleep(6.0)  # two natural-break lengths of input
        data = status(app)
        assert data["state"] == "sitting", app.log()[-2000:]
        assert real_s(data, "sitting_s") >= 5.0
        assert quit_and_read_breaks(app) == []


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
        config = ("stretch_every_min = 10\nposture_every_min = 0\nsnooze_min = 60\n"
                  "natural_break_min = 60\nbreak_min = 30\n")
        with keep_active(fake_input.nudge_pointer, every_s=0.5):
            app = start_wayland_app(desktop, kwin, config=config,
                                    extra_env={"PSOAS_SECONDS_PER_MINUTE": "0.3"})
            # doctor loads its own probe script while the app runs: it must leave the app's
            # alone (it once unloaded it, and the prompt was never released)
            assert "fullscreen-kwin" in app.cli("doctor").stdout
            wait_state(app, "prompt_due")
            time.sleep(1.5)
            assert [c for c in server.calls() if is_stretch_prompt(c)] == []
            window.send("unfullscreen")
            wait_for(lambda: len([c for c in server.calls() if is_stretch_prompt(c)]) == 1, 10,
                     what="one prompt released")
            time.sleep(1.0)
            assert len([c for c in server.calls() if is_stretch_prompt(c)]) == 1
            assert app.stop() == 0
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
