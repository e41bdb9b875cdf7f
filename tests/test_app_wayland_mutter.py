"""The real app as a Wayland client of real mutter 43 (GNOME's compositor, headless): natural
breaks from Mutter's idle watches (no polling), RemoteDesktop input keeping sitting counted,
and Mutter dying and coming back. (Fullscreen: GNOME offers no sanctioned way; see
tests/test_wayland_quiet.py. The GNOME lock signal needs gnome-shell with GDM and logind.)"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.desktop import wayland
from tests.desktop.session import DesktopSession
from tests.desktop.waiting import wait_for
from tests.desktop.wayland import Compositor
from tests.desktop.wayland_input import MutterRemoteInput
from tests.wayland_app import (
    assert_back_at_the_keyboard_ends_the_break,
    assert_input_keeps_sitting_counted,
    start_wayland_app,
    status,
    wait_state,
)

pytestmark = [pytest.mark.desktop, pytest.mark.timeout(180)]


@pytest.fixture
def mutter(desktop: DesktopSession) -> Iterator[Compositor]:
    yield from wayland.fixture("mutter", bus_address=desktop.session_bus_address)


@pytest.fixture
def remote(mutter: Compositor) -> Iterator[MutterRemoteInput]:
    session = MutterRemoteInput(mutter.bus_address)
    yield session
    session.close()


def test_untouched_is_a_natural_break(desktop: DesktopSession, mutter: Compositor,
                                      remote: MutterRemoteInput) -> None:
    remote.nudge_pointer()
    app = start_wayland_app(desktop, mutter)
    data = status(app)
    # No panel on this compositor: the sni icon is up on the bus, waiting for one (no X).
    assert (data["idle"], data["tray"]) == ("mutter", "sni")
    wait_state(app, "away")  # Mutter's idle watch fired
    assert_back_at_the_keyboard_ends_the_break(app, remote.nudge_pointer)


def test_input_keeps_sitting_counted(desktop: DesktopSession, mutter: Compositor,
                                     remote: MutterRemoteInput) -> None:
    assert_input_keeps_sitting_counted(desktop, mutter, remote.nudge_pointer)


def test_mutter_dying_leaves_the_app_running_then_it_comes_back(
    desktop: DesktopSession, mutter: Compositor,
) -> None:
    app = start_wayland_app(desktop, mutter)
    assert status(app)["idle"] == "mutter"
    mutter.kill()
    wait_for(lambda: status(app)["idle"] == "none", 10, what="the app falls back")
    assert app.proc.poll() is None
    doctor = app.cli("doctor").stdout
    assert "idle: none" in doctor.splitlines()
    assert "not mutter: no org.gnome.Mutter.IdleMonitor on the session bus" in doctor
    assert "desktop: GNOME Wayland" in doctor and "running app" in doctor
    again = wayland.start("mutter", mutter.tmp / "again", bus_address=mutter.bus_address)
    try:
        wait_for(lambda: status(app)["idle"] == "mutter", 15, what="back on Mutter")
        wait_state(app, "away")  # the new Mutter's watches count
    finally:
        assert app.stop() == 0
        again.stop()
