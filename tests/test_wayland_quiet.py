"""Fullscreen on Wayland against the real compositors: wlr-foreign-toplevel on sway 1.7, a KWin
script on kwin_wayland 5.27, and nothing sanctioned on GNOME's mutter (doctor says so)."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator

import pytest

from psoas_break.adapters.quiet import make_quiet_detectors
from psoas_break.adapters.quiet.fullscreen_kwin import KWinFullscreenDetector
from psoas_break.adapters.quiet.fullscreen_wlr import WlrFullscreenDetector
from psoas_break.ports import Unavailable
from psoas_break.runtime.quiet import close_detectors
from tests.desktop import wayland
from tests.desktop.waiting import wait_for
from tests.desktop.wayland import Compositor
from tests.desktop.wayland_input import ToyWindow

pytestmark = [pytest.mark.desktop, pytest.mark.timeout(120)]

DEADLINE = 10.0


@pytest.fixture
def kwin() -> Iterator[Compositor]:
    yield from wayland.fixture("kwin")


@pytest.fixture
def sway() -> Iterator[Compositor]:
    yield from wayland.fixture("sway")


@pytest.fixture
def mutter() -> Iterator[Compositor]:
    yield from wayland.fixture("mutter")


@pytest.fixture
def windows() -> Iterator[list[ToyWindow]]:
    opened: list[ToyWindow] = []
    yield opened
    for window in opened:
        window.close()


def test_sway_a_window_going_fullscreen_and_back(sway: Compositor,
                                                 windows: list[ToyWindow]) -> None:
    detector = WlrFullscreenDetector.open(sway.client_env)
    changes: list[bool] = []
    detector.on_change = changes.append
    try:
        assert detector.reasons() == ()
        window = ToyWindow(sway)
        windows.append(window)
        wait_for(lambda: any(t[0] == "psoas-toy" for t in detector.toplevels()), DEADLINE,
                 what="the window listed")
        assert detector.reasons() == ()
        window.send("fullscreen")
        wait_for(lambda: detector.reasons() == ("fullscreen",), DEADLINE, what="fullscreen")
        window.send("unfullscreen")
        wait_for(lambda: detector.reasons() == (), DEADLINE, what="not fullscreen")
        window.close()
        wait_for(lambda: detector.toplevels() == [], DEADLINE, what="the window gone")
        assert True in changes and changes[-1] is False  # each change was heard
    finally:
        detector.close()


def test_sway_fullscreen_from_a_key_binding(sway: Compositor, windows: list[ToyWindow]) -> None:
    """The compositor side toggles it (what a user's binding does): the same events."""
    detector = WlrFullscreenDetector.open(sway.client_env)
    try:
        window = ToyWindow(sway)
        windows.append(window)
        window.wait_mapped()
        wait_for(lambda: len(detector.toplevels()) == 1, DEADLINE, what="the window listed")
        swaymsg = ["swaymsg", "-s", sway.swaysock, "[app_id=psoas-toy]", "fullscreen"]
        subprocess.run([*swaymsg, "enable"], check=True, capture_output=True, timeout=10)
        wait_for(lambda: detector.reasons() == ("fullscreen",), DEADLINE, what="fullscreen")
        subprocess.run([*swaymsg, "disable"], check=True, capture_output=True, timeout=10)
        wait_for(lambda: detector.reasons() == (), DEADLINE, what="not fullscreen")
    finally:
        detector.close()


def test_sway_gone_is_not_quiet(sway: Compositor, windows: list[ToyWindow]) -> None:
    window = ToyWindow(sway, "--fullscreen")
    windows.append(window)
    window.wait_mapped()
    detector = WlrFullscreenDetector.open(sway.client_env)
    try:
        wait_for(lambda: detector.reasons() == ("fullscreen",), DEADLINE, what="fullscreen")
        sway.kill()
        wait_for(lambda: detector.reasons() == (), DEADLINE, what="a dead compositor: not quiet")
    finally:
        detector.close()


@pytest.mark.parametrize("kind", ["kwin", "mutter"])
def test_kwin_and_mutter_keep_their_window_lists_to_themselves(kind: str) -> None:
    with wayland.compositor(kind) as comp, pytest.raises(
            Unavailable, match="zwlr_foreign_toplevel_manager_v1"):
        WlrFullscreenDetector.open(comp.client_env)


def test_kwin_script_reports_the_active_windows_fullscreen(kwin: Compositor,
                                                           windows: list[ToyWindow]) -> None:
    detector = KWinFullscreenDetector.open(kwin.client_env)
    changes: list[bool] = []
    detector.on_change = changes.append
    try:
        assert detector.reasons() == ()
        window = ToyWindow(kwin)
        windows.append(window)
        window.wait_mapped()
        window.send("fullscreen")
        wait_for(lambda: detector.reasons() == ("fullscreen",), DEADLINE, what="fullscreen")
        window.send("unfullscreen")
        wait_for(lambda: detector.reasons() == (), DEADLINE, what="not fullscreen")
        window.send("fullscreen")
        wait_for(lambda: detector.reasons() == ("fullscreen",), DEADLINE, what="again")
        window.close()  # the fullscreen window goes away
        wait_for(lambda: detector.reasons() == (), DEADLINE, what="window closed")
        assert changes == [True, False, True, False]
    finally:
        detector.close()
    # Unloaded on close: a new one loads cleanly (and a leftover would be replaced).
    again = KWinFullscreenDetector.open(kwin.client_env)
    again.close()


def test_the_kwin_script_is_loaded_again_when_kwin_restarts(kwin: Compositor) -> None:
    """KWin crashing and restarting (Plasma restarts it) on the same session bus: the script
    went with the old KWin; the detector loads it into the new one by itself."""
    detector = KWinFullscreenDetector.open(kwin.client_env)
    try:
        kwin.kill()
        again = wayland.start("kwin", kwin.tmp, bus_address=kwin.bus_address)
        window = ToyWindow(again, "--fullscreen")
        try:
            window.wait_mapped()
            wait_for(lambda: detector.reasons() == ("fullscreen",), DEADLINE,
                     what="fullscreen reported by the new KWin's script")
        finally:
            window.close()
            again.stop()
    finally:
        detector.close()


def test_the_kwin_script_needs_kwin(mutter: Compositor) -> None:
    with pytest.raises(Unavailable, match="no org.kde.KWin"):
        KWinFullscreenDetector.open(mutter.client_env)


@pytest.mark.parametrize(("kind", "chosen", "absent"), [
    ("sway", "fullscreen-wlr", "fullscreen-kwin"),
    ("kwin", "fullscreen-kwin", "fullscreen-wlr"),
])
def test_the_factory_picks_the_compositors_detector(kind: str, chosen: str, absent: str) -> None:
    with wayland.compositor(kind) as comp:
        env = dict(comp.client_env, PSOAS_QUIET_DETECTORS=f"{chosen},{absent},fullscreen-x11")
        detectors, choice = make_quiet_detectors(env)
        try:
            assert [d.name for d in detectors] == [chosen]
            reasons = dict(choice.rejected)
            assert "Wayland session" in reasons["fullscreen-x11"]
            assert absent in reasons
        finally:
            close_detectors(detectors)


def test_on_gnome_wayland_doctor_says_there_is_no_sanctioned_way(mutter: Compositor) -> None:
    env = dict(mutter.client_env, XDG_CURRENT_DESKTOP="GNOME",
               PSOAS_QUIET_DETECTORS="fullscreen-x11,fullscreen-wlr,fullscreen-kwin")
    detectors, choice = make_quiet_detectors(env)
    close_detectors(detectors)
    assert detectors == [] and choice.chosen == "none"
    reasons = dict(choice.rejected)
    assert "no sanctioned way" in reasons["fullscreen-gnome"]
    assert "zwlr_foreign_toplevel_manager_v1" in reasons["fullscreen-wlr"]
    assert "no org.kde.KWin" in reasons["fullscreen-kwin"]
