"""Quiet detectors against the real thing: a real window manager (openbox) and a real
fullscreen window, a notification server whose `Inhibited` switches (and Debian's real dunst),
real processes holding a real file open, a real program running under a distinctive name.

The end-to-end tests put a detector in front of the quiet gate and a real D-Bus notifier:
three prompts offered while quiet reach the notification server as exactly one.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from psoas_break.adapters.quiet import ENV_VAR, make_quiet_detectors
from psoas_break.adapters.quiet.camera import V4l2CameraDetector, video_device_users
from psoas_break.adapters.quiet.consent_store import ConsentEntry, apps_in_use, consent_entries
from psoas_break.adapters.quiet.fullscreen_x11 import X11FullscreenDetector
from psoas_break.adapters.quiet.notifications_inhibited import (
    GnomeBannersDetector,
    NotificationsInhibitedDetector,
)
from psoas_break.adapters.quiet.quiet_apps import (
    QuietAppsDetector,
    quiet_apps_among,
    running_programs,
)
from psoas_break.adapters.quiet.windows_state import reasons_from_notification_state
from psoas_break.core.quiet_gate import QuietGate, quiet_title
from psoas_break.ports import QuietDetector, Unavailable
from psoas_break.runtime.quiet import close_detectors, quiet_reasons
from tests.desktop import wait_for

if TYPE_CHECKING:
    from tests.desktop import DesktopSession


def _reasons_become(detector: QuietDetector, expected: tuple[str, ...]) -> None:
    wait_for(lambda: detector.reasons() == expected,
             what=f"{detector.name} to report {expected}")


# ---- fullscreen under a real window manager ----


@pytest.mark.timeout(60)
def test_fullscreen_window_under_openbox_is_detected_and_leaving_clears(
    desktop: DesktopSession,
) -> None:
    detector = X11FullscreenDetector.open(desktop.display)
    try:
        # No window manager yet: no _NET_ACTIVE_WINDOW, nothing to report, no error.
        assert detector.reasons() == ()
        desktop.start_openbox()
        assert detector.reasons() == ()
        window = desktop.open_window(title="slides", fullscreen=True)
        window.activate()
        assert detector.active_window() == window.id
        assert detector.reasons() == ("fullscreen",)
        window.set_fullscreen(False)
        assert detector.reasons() == ()
        window.set_fullscreen(True)
        assert detector.reasons() == ("fullscreen",)
        # A second, normal window becomes active: its state is what counts.
        other = desktop.open_window(title="editor")
        other.activate()
        assert detector.reasons() == ()
        window.activate()
        assert detector.reasons() == ("fullscreen",)
        window.close()
        other.close()
        _reasons_become(detector, ())
    finally:
        detector.close()
    assert detector.reasons() == ()


def test_fullscreen_without_display_is_unavailable() -> None:
    with pytest.raises(Unavailable, match="DISPLAY is not set"):
        X11FullscreenDetector.open("")


@pytest.mark.timeout(60)
def test_lost_x_server_gives_no_reason_and_no_crash(
    desktop: DesktopSession, caplog: pytest.LogCaptureFixture
) -> None:
    # Our own Xvfb (not the session's, which teardown needs): kill it under the detector.
    # -displayfd: Xvfb picks a free number and writes it when it is ready for clients.
    read_fd, write_fd = os.pipe()
    try:
        xvfb = desktop.spawn(
            ["Xvfb", "-displayfd", str(write_fd), "-screen", "0", "640x480x24",
             "-nolisten", "tcp"],
            name="xvfb-lost", pass_fds=(write_fd,),
        )
        os.close(write_fd)
        with os.fdopen(read_fd, "r") as ready:
            display = ":" + ready.readline().strip()
    finally:
        with contextlib.suppress(OSError):
            os.close(write_fd)
    assert display != ":" and display != desktop.display, desktop.log_text(xvfb)
    detector = wait_for(lambda: _try_open(display), what="second Xvfb to accept clients")
    try:
        assert detector.reasons() == ()
        desktop.stop(xvfb)
        with caplog.at_level(logging.WARNING):
            assert detector.reasons() == ()  # ConnectionClosed -> dropped, not raised
            assert detector.reasons() == ()  # no reconnect storm: waits reconnect_every_s
        lost = [r for r in caplog.records if f"X display {display} lost" in r.getMessage()]
        assert len(lost) == 1
    finally:
        detector.close()


def _try_open(display: str) -> X11FullscreenDetector | None:
    try:
        return X11FullscreenDetector.open(display)
    except Unavailable:
        return None


@pytest.mark.timeout(60)
def test_fullscreen_defers_and_leaving_it_delivers_exactly_one_notification(
    desktop: DesktopSession,
) -> None:
    from psoas_break.adapters.notify.dbus_notifier import DbusNotifier
    from psoas_break.ports import Notification

    server = desktop.start_notification_server()
    desktop.start_openbox()
    window = desktop.open_window(title="video call", fullscreen=True)
    window.activate()
    detector = X11FullscreenDetector.open(desktop.display)
    notifier = DbusNotifier(desktop.env)
    gate: QuietGate[str] = QuietGate(check_every_s=30.0, max_defer_s=3600.0)
    shown: list[str] = []

    def deliver(prompt: str | None) -> None:
        if prompt is not None:
            shown.append(prompt)
            notifier.notify(Notification(title="Time to stand up", body=prompt, tag="stretch"))

    try:
        # The engine's prompt and two re-prompts, all while fullscreen.
        for mono_s, prompt in ((0.0, "stretch #1"), (300.0, "stretch #2"), (600.0, "stretch #3")):
            out = gate.offer(prompt, detector.reasons(), mono_s)
            assert out.release is None and out.reasons == ("fullscreen",)
            deliver(out.release)
        assert gate.title() == "Quiet: fullscreen"
        assert gate.check_due(630.0)
        deliver(gate.check(detector.reasons(), 630.0).release)
        window.set_fullscreen(False)
        out = gate.check(detector.reasons(), 660.0)
        assert out.release == "stretch #3" and not out.gentle
        deliver(out.release)
        for mono_s in (690.0, 720.0, 750.0):
            deliver(gate.check(detector.reasons(), mono_s).release)
        server.wait_for_notification()
        assert shown == ["stretch #3"]
        assert [c["body"] for c in server.calls("Notify")] == ["stretch #3"]
    finally:
        notifier.shutdown()
        detector.close()


# ---- do not disturb ----


@pytest.mark.timeout(60)
def test_inhibited_switches_through_the_notification_server(desktop: DesktopSession) -> None:
    server = desktop.start_notification_server()
    detector = NotificationsInhibitedDetector.open(desktop.env)
    try:
        assert detector.inhibited() is False
        assert detector.reasons() == ()
        server.set_inhibited(True)
        assert detector.reasons() == ("do-not-disturb",)
        server.set_inhibited(False)
        assert detector.reasons() == ()
        # The server goes away: not quiet (better a prompt than a silent app), no error.
        server.stop()
        assert detector.inhibited() is None
        assert detector.reasons() == ()
    finally:
        detector.close()


@pytest.mark.timeout(60)
def test_no_server_at_open_is_accepted_and_a_later_one_is_used(desktop: DesktopSession) -> None:
    detector = NotificationsInhibitedDetector.open(desktop.env)
    try:
        assert detector.reasons() == ()
        server = desktop.start_notification_server()
        server.set_inhibited(True)
        assert detector.reasons() == ("do-not-disturb",)
    finally:
        detector.close()


@pytest.mark.timeout(60)
def test_inhibited_defers_and_switching_it_off_releases_one(desktop: DesktopSession) -> None:
    from psoas_break.adapters.notify.dbus_notifier import DbusNotifier
    from psoas_break.ports import Notification

    server = desktop.start_notification_server()
    server.set_inhibited(True)
    detector = NotificationsInhibitedDetector.open(desktop.env)
    notifier = DbusNotifier(desktop.env)
    gate: QuietGate[str] = QuietGate(check_every_s=30.0, max_defer_s=3600.0)
    try:
        assert gate.offer("stretch #1", detector.reasons(), 0.0).release is None
        assert gate.title() == "Quiet: do not disturb"
        assert gate.check(detector.reasons(), 30.0).release is None
        assert gate.offer("stretch #2", detector.reasons(), 45.0).release is None
        server.set_inhibited(False)
        out = gate.check(detector.reasons(), 60.0)
        assert out.release == "stretch #2"
        notifier.notify(Notification(title="Time to stand up", body=out.release))
        assert gate.check(detector.reasons(), 90.0).release is None
        server.wait_for_notification()
        assert [c["body"] for c in server.calls("Notify")] == ["stretch #2"]
    finally:
        notifier.shutdown()
        detector.close()


@pytest.mark.timeout(60)
def test_dunst_has_no_inhibited_but_its_pause_is_read(desktop: DesktopSession) -> None:
    dunst = desktop.spawn(["dunst"], name="dunst")
    desktop.bus().wait_for_name("org.freedesktop.Notifications")
    detector = NotificationsInhibitedDetector.open(desktop.env)
    try:
        assert detector.reasons() == ()
        subprocess.run(["dunstctl", "set-paused", "true"], env=desktop.env, check=True,
                       timeout=10)
        assert detector.reasons() == ("do-not-disturb",)
        subprocess.run(["dunstctl", "set-paused", "false"], env=desktop.env, check=True,
                       timeout=10)
        assert detector.reasons() == ()
    finally:
        detector.close()
        desktop.stop(dunst)


@pytest.mark.timeout(60)
def test_gnome_show_banners_off_is_do_not_disturb(desktop: DesktopSession) -> None:
    # The keyfile backend keeps the setting in the session's private XDG_CONFIG_HOME, where a
    # separate `gsettings set` process (as GNOME's calendar menu would) changes it.
    env = dict(desktop.env, GSETTINGS_BACKEND="keyfile", XDG_CURRENT_DESKTOP="GNOME")

    def gsettings_set(value: str) -> None:
        subprocess.run(["gsettings", "set", "org.gnome.desktop.notifications", "show-banners",
                        value], env=env, check=True, timeout=10)

    detector = GnomeBannersDetector.open(env)
    assert detector.reasons() == ()
    gsettings_set("false")
    assert detector.reasons() == ("do-not-disturb",)
    gsettings_set("true")
    assert detector.reasons() == ()


def test_gnome_banners_without_the_schema_is_unavailable(tmp_path: Path) -> None:
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path),
           "XDG_DATA_DIRS": str(tmp_path), "GSETTINGS_SCHEMA_DIR": str(tmp_path),
           "GSETTINGS_BACKEND": "memory"}
    with pytest.raises(Unavailable, match="cannot read org.gnome.desktop.notifications"):
        GnomeBannersDetector.open(env)


# ---- camera: a real process holding a real file open ----


@pytest.mark.timeout(60)
def test_a_process_holding_the_device_open_is_detected_and_closing_clears(
    desktop: DesktopSession, tmp_path: Path
) -> None:
    video0 = tmp_path / "video0"
    video1 = tmp_path / "video1"
    video0.write_bytes(b"")
    video1.write_bytes(b"")
    (tmp_path / "audio0").write_bytes(b"")
    detector = V4l2CameraDetector.open(dev_glob=str(tmp_path / "video*"))
    assert detector.reasons() == ()

    # Our own process holding it open does not count ("another process").
    with open(video0, "rb"):
        assert detector.reasons() == ()

    # A file that does not match the glob does not count.
    with open(tmp_path / "audio0", "rb") as audio:
        other = desktop.spawn(["sleep", "600"], name="audio-holder", stdin=audio)
    assert detector.reasons() == ()

    with open(video1, "rb") as device:
        holder = desktop.spawn(["sleep", "600"], name="camera-holder", stdin=device)
    _reasons_become(detector, ("camera",))
    # (The harness starts it through `setpriv`, which holds the fd before it execs sleep.)
    wait_for(lambda: [(u.pid, u.name, u.device) for u in detector.users()]
             == [(holder.pid, "sleep", str(video1))], what="sleep to hold video1")
    # Seen through a symlinked device name too (udev's /dev/v4l/by-id links).
    link_dir = tmp_path / "by-id"
    link_dir.mkdir()
    (link_dir / "usb-cam-video-index0").symlink_to(video1)
    assert video_device_users(str(link_dir / "*"), "/proc") != []

    desktop.stop(holder)
    _reasons_become(detector, ())
    desktop.stop(other)


def test_camera_scan_with_no_devices_or_no_proc(tmp_path: Path) -> None:
    assert video_device_users(str(tmp_path / "video*")) == []
    with pytest.raises(Unavailable, match="needs Linux procfs"):
        V4l2CameraDetector.open(proc_root=str(tmp_path))


# ---- quiet apps: a real program under a distinctive name ----


@pytest.mark.timeout(60)
def test_a_running_quiet_app_is_detected(desktop: DesktopSession, tmp_path: Path) -> None:
    sleep = shutil.which("sleep")
    assert sleep is not None
    copy = tmp_path / "zoom-test-meeting"  # 17 characters: comm is cut to 15
    shutil.copy(sleep, copy)
    link = tmp_path / "Teams-Test-Call-Linked"  # a symlink: exe is "sleep", only comm helps
    link.symlink_to(sleep)

    detector = QuietAppsDetector.open(["Zoom-Test-Meeting", "zoom", "teams-test-call-linked"])
    assert detector.names == ("zoom-test-meeting", "zoom", "teams-test-call-linked")
    assert detector.reasons() == ()

    meeting = desktop.spawn([str(copy), "600"], name="zoom-test-meeting")
    _reasons_become(detector, ("app:zoom-test-meeting",))
    call = desktop.spawn([str(link), "600"], name="teams-link")
    _reasons_become(detector, ("app:zoom-test-meeting", "app:teams-test-call-linked"))
    # "zoom" is a different program: a prefix is not a match.
    assert "zoom" not in quiet_apps_among(["zoom"], running_programs())

    desktop.stop(meeting)
    _reasons_become(detector, ("app:teams-test-call-linked",))
    desktop.stop(call)
    _reasons_become(detector, ())
    detector.set_names([])
    assert detector.reasons() == ()


def test_quiet_apps_off_linux_is_unavailable(tmp_path: Path) -> None:
    with pytest.raises(Unavailable, match="Linux only"):
        QuietAppsDetector.open(["zoom"], proc_root=str(tmp_path))


# ---- the factory, with everything quiet at once ----


@pytest.mark.timeout(90)
def test_factory_lists_what_works_and_reports_every_reason(
    desktop: DesktopSession, tmp_path: Path
) -> None:
    server = desktop.start_notification_server()
    desktop.start_openbox()
    (tmp_path / "video0").write_bytes(b"")
    app = tmp_path / "obs-test-stream"
    shutil.copy(shutil.which("sleep") or "/bin/sleep", app)

    detectors, choice = make_quiet_detectors(
        desktop.env, ["obs-test-stream"], platform="linux",
        video_glob=str(tmp_path / "video*"),
    )
    try:
        assert choice.family == "quiet"
        # No sound server on this desktop: the call and screen-share detectors are chosen
        # (a server may start later) and say why they cannot see anything yet; the graph's
        # microphone only where PipeWire runs the audio, so the pulse one watches here.
        assert choice.chosen == (
            "fullscreen-x11, notifications-inhibited, camera-v4l2, microphone-pulse, "
            "screen-sharing-pipewire, camera-pipewire, quiet-apps"
        )
        rejected = dict(choice.rejected)
        assert rejected["gnome-banners"] == "not a GNOME desktop (XDG_CURRENT_DESKTOP)"
        assert rejected["windows-state"] == "only on Windows"
        assert rejected["camera-windows"] == "only on Windows"
        assert rejected["microphone-windows"] == "only on Windows"
        details = dict(choice.details)
        assert details["microphone-pulse"].startswith(
            "unavailable: no PulseAudio/PipeWire sound server"), details
        assert details["screen-sharing-pipewire"].startswith(
            "unavailable: PipeWire not reachable (pw-dump exited"), details
        assert quiet_reasons(detectors) == ()

        window = desktop.open_window(fullscreen=True)
        window.activate()
        server.set_inhibited(True)
        with open(tmp_path / "video0", "rb") as device:
            desktop.spawn(["sleep", "600"], name="camera-holder", stdin=device)
        desktop.spawn([str(app), "600"], name="obs")
        wait_for(lambda: quiet_reasons(detectors) == (
            "fullscreen", "do-not-disturb", "camera", "app:obs-test-stream"),
            what="all four quiet reasons")
        assert quiet_title(quiet_reasons(detectors)) == (
            "Quiet: fullscreen, do not disturb, camera in use, obs-test-stream running"
        )
    finally:
        close_detectors(detectors)


def test_factory_env_override_and_wayland(tmp_path: Path) -> None:
    env = {ENV_VAR: "camera-v4l2, bogus"}
    detectors, choice = make_quiet_detectors(env, platform="linux",
                                             video_glob=str(tmp_path / "v*"))
    assert [d.name for d in detectors] == ["camera-v4l2"]
    rejected = dict(choice.rejected)
    assert "bogus" in rejected[ENV_VAR]
    assert rejected["quiet-apps"] == f"not used: {ENV_VAR}=camera-v4l2, bogus"

    detectors, choice = make_quiet_detectors({ENV_VAR: "none"}, platform="linux")
    assert detectors == [] and choice.chosen == "none"

    detectors, choice = make_quiet_detectors(
        {"WAYLAND_DISPLAY": "wayland-0", "DISPLAY": ":0", ENV_VAR: "fullscreen-x11"},
        platform="linux",
    )
    assert detectors == []
    assert "Wayland session" in dict(choice.rejected)["fullscreen-x11"]


def test_factory_on_macos_documents_the_gap() -> None:
    detectors, choice = make_quiet_detectors({}, platform="darwin")
    try:
        assert [d.name for d in detectors] == ["quiet-apps"]  # psutil, which runs here too
        assert "no detector yet" in dict(choice.rejected)["macos"]
    finally:
        close_detectors(detectors)


# ---- Windows: the pure parts ----


class _Key:
    """An in-memory registry key: {"subkey": _Key, ...} plus QWORD values."""

    def __init__(self, children: dict[str, _Key] | None = None,
                 values: dict[str, int] | None = None) -> None:
        self._children = children or {}
        self._values = values or {}

    def subkeys(self) -> list[str]:
        return list(self._children)

    def child(self, name: str) -> _Key:
        if name not in self._children:
            raise FileNotFoundError(name)
        return self._children[name]

    def qword(self, name: str) -> int | None:
        return self._values.get(name)


def test_webcam_consent_store_parsing() -> None:
    webcam = _Key({
        "Microsoft.WindowsCamera_8wekyb3d8bbwe": _Key(values={
            "LastUsedTimeStart": 133_500_000_000_000_000, "LastUsedTimeStop": 0}),
        "Microsoft.SkypeApp_kzf8qxf38zg5c": _Key(values={
            "LastUsedTimeStart": 133_400_000_000_000_000,
            "LastUsedTimeStop": 133_400_000_100_000_000}),
        "NeverUsed_abc": _Key(values={}),
        "NonPackaged": _Key({
            "C:#Program Files#Zoom#bin#Zoom.exe": _Key(values={
                "LastUsedTimeStart": 133_500_000_000_000_000, "LastUsedTimeStop": 0}),
            "C:#Windows#obs64.exe": _Key(values={
                "LastUsedTimeStart": 133_300_000_000_000_000,
                "LastUsedTimeStop": 133_300_000_500_000_000}),
        }),
    })
    entries = consent_entries(webcam)
    assert len(entries) == 5
    assert apps_in_use(entries) == ["Microsoft.WindowsCamera", "Zoom.exe"]
    assert apps_in_use(entries, exclude=["zoom.exe"]) == ["Microsoft.WindowsCamera"]
    assert not ConsentEntry("x", True, None, None).in_use
    assert not ConsentEntry("x", True, 0, 0).in_use


def test_windows_notification_state_mapping() -> None:
    assert reasons_from_notification_state(1) == ("away",)
    assert reasons_from_notification_state(2) == ("fullscreen",)
    assert reasons_from_notification_state(3) == ("fullscreen",)
    assert reasons_from_notification_state(4) == ("presentation",)
    assert reasons_from_notification_state(5) == ()
    assert reasons_from_notification_state(6) == ()  # Windows' first-sign-in quiet hour
    assert reasons_from_notification_state(7) == ("fullscreen",)
    assert reasons_from_notification_state(0) == ()
    assert reasons_from_notification_state(99) == ()
