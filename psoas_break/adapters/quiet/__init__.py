"""Quiet detectors: is now a bad moment for a prompt? One module per signal.

Each detector is asked ONLY when a prompt is due (and, while the quiet gate holds a prompt,
on the gate's slow cadence): nothing here polls. The two Wayland ones are kept current by
events (the session's Wayland connection, a KWin script's calls) and only read when asked.

    detector          platform        reason(s)            how
    fullscreen-x11    Linux/BSD X11   fullscreen           _NET_ACTIVE_WINDOW + _NET_WM_STATE
    fullscreen-wlr    wlroots Wayland fullscreen           zwlr_foreign_toplevel_manager_v1
                      (sway, Hyprland, labwc...)           (events on the Wayland connection)
    fullscreen-kwin   KDE Wayland     fullscreen           a KWin script calls us back
    notifications-    Linux/BSD       do-not-disturb       org.freedesktop.Notifications
      inhibited                                            `Inhibited` (spec 1.2+)
    gnome-banners     GNOME           do-not-disturb       gsettings show-banners = false
    camera-v4l2       Linux           camera               /dev/video* open in another process
    fullscreen-macos  macOS           fullscreen           front window fills its display
                                                           (CGWindowListCopyWindowInfo)
    windows-state     Windows         fullscreen, presentation, away
                                                           SHQueryUserNotificationState
    camera-windows    Windows         camera               webcam consent store (registry)
    quiet-apps        every platform  app:<name>           Linux: /proc/*/comm and exe
                                                           basenames; elsewhere: psutil

Documented gaps: macOS camera use (not implemented) and Focus/Do Not Disturb (no public API);
fullscreen on GNOME Wayland: mutter offers no window list to clients and gnome-shell's
Introspect answers only the portals, so nothing sanctioned tells an app (do-not-disturb
still works there). See fullscreen_macos.py for what its signal cannot see.

`make_quiet_detectors(env, quiet_apps)` returns the detectors that work here and a `Choice`
(family "quiet") whose `chosen` lists them and whose `rejected` says why the others do not:
`psoas-break doctor` prints it. `PSOAS_QUIET_DETECTORS` = "none" or a comma-separated list of
detector names restricts the set (e.g. to leave out a camera that is always held open).

Each detector is a `ports.QuietDetector` whose `reasons()` never raises (a failure is "not
quiet"); runtime/quiet.py asks them on the job thread.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import replace

from psoas_break.adapters.backends import LINUX_BSD, MACOS, WINDOWS, Candidate, every
from psoas_break.ports import Choice, QuietDetector, Unavailable

ENV_VAR = "PSOAS_QUIET_DETECTORS"
MACOS_GAP = ("macOS: no detector yet for camera use (not implemented; CoreMediaIO's "
             "DeviceIsRunningSomewhere property is the candidate) or Focus/Do Not Disturb "
             "(no public API)")
GNOME_WAYLAND_GAP = ("GNOME on Wayland offers no sanctioned way to see a fullscreen window "
                     "(mutter has no window list for clients; gnome-shell's Introspect answers "
                     "only the portals): prompts are held for do-not-disturb only")


def _candidates(env: Mapping[str, str], quiet_apps: Sequence[str], platform: str,
                proc_root: str, video_glob: str, probe: bool
                ) -> tuple[Candidate[QuietDetector], ...]:
    # Each detector module is imported only when its candidate is tried.
    def fullscreen_x11() -> QuietDetector:
        from psoas_break.adapters.idle import is_wayland_session
        from psoas_break.adapters.quiet.fullscreen_x11 import X11FullscreenDetector

        if is_wayland_session(env):
            raise Unavailable("Wayland session: an X client sees only XWayland windows")
        return X11FullscreenDetector.open(env.get("DISPLAY", ""))

    def fullscreen_wlr() -> QuietDetector:
        from psoas_break.adapters.quiet.fullscreen_wlr import WlrFullscreenDetector

        return WlrFullscreenDetector.open(env)

    def fullscreen_kwin() -> QuietDetector:
        from psoas_break.adapters.quiet.fullscreen_kwin import KWinFullscreenDetector

        return KWinFullscreenDetector.open(env, probe=probe)

    def x11_session() -> str | None:
        from psoas_break.adapters.idle import is_wayland_session

        return None if is_wayland_session(env) else "X11 session: fullscreen-x11 sees every window"

    def inhibited() -> QuietDetector:
        from psoas_break.adapters.quiet import notifications_inhibited as ni

        return ni.NotificationsInhibitedDetector.open(env)

    def gnome_banners() -> QuietDetector:
        from psoas_break.adapters.quiet import notifications_inhibited as ni

        if not ni.is_gnome_desktop(env):
            raise Unavailable("not a GNOME desktop (XDG_CURRENT_DESKTOP)")
        return ni.GnomeBannersDetector.open(env)

    def camera_v4l2() -> QuietDetector:
        from psoas_break.adapters.quiet.camera import V4l2CameraDetector

        return V4l2CameraDetector.open(video_glob, proc_root)

    def fullscreen_macos() -> QuietDetector:
        from psoas_break.adapters.quiet.fullscreen_macos import MacFullscreenDetector

        return MacFullscreenDetector.open()

    def windows_state() -> QuietDetector:
        from psoas_break.adapters.quiet.windows_state import WindowsStateDetector

        return WindowsStateDetector.open()

    def camera_windows() -> QuietDetector:
        from psoas_break.adapters.quiet.camera import WindowsCameraDetector

        return WindowsCameraDetector.open()

    def apps() -> QuietDetector:
        from psoas_break.adapters.quiet.quiet_apps import QuietAppsDetector

        return QuietAppsDetector.open(quiet_apps, proc_root, platform=platform)

    return (
        Candidate("fullscreen-x11", fullscreen_x11, LINUX_BSD),
        Candidate("fullscreen-wlr", fullscreen_wlr, LINUX_BSD, skip=x11_session),
        Candidate("fullscreen-kwin", fullscreen_kwin, LINUX_BSD, skip=x11_session),
        Candidate("notifications-inhibited", inhibited, LINUX_BSD),
        Candidate("gnome-banners", gnome_banners, LINUX_BSD),
        Candidate("camera-v4l2", camera_v4l2, LINUX_BSD),
        Candidate("fullscreen-macos", fullscreen_macos, MACOS),
        Candidate("windows-state", windows_state, WINDOWS),
        Candidate("camera-windows", camera_windows, WINDOWS),
        Candidate("quiet-apps", apps),
    )


def make_quiet_detectors(
    env: Mapping[str, str] | None = None, quiet_apps: Sequence[str] = (), *,
    platform: str | None = None, proc_root: str = "/proc", video_glob: str = "/dev/video*",
    probe: bool = False,
) -> tuple[list[QuietDetector], Choice]:
    """The detectors that work on this session, and a Choice for `doctor`; never raises.
    `platform` (default sys.platform) also picks quiet-apps' process lister; `proc_root` and
    `video_glob` let tests point the /proc scans at their own processes and files; `probe`:
    they are closed at once (doctor), so none may disturb a running app's (KWin's script)."""
    env = os.environ if env is None else env
    platform = platform or sys.platform
    candidates = _candidates(env, quiet_apps, platform, proc_root, video_glob, probe)
    detectors, choice = every("quiet", candidates, env_var=ENV_VAR, env=env, platform=platform)
    if platform == "darwin":
        choice = replace(choice, rejected=(*choice.rejected, ("macos", MACOS_GAP)))
    elif _gnome_wayland(env):
        choice = replace(choice, rejected=(*choice.rejected, ("fullscreen-gnome",
                                                                GNOME_WAYLAND_GAP)))
    return detectors, choice


def _gnome_wayland(env: Mapping[str, str]) -> bool:
    from psoas_break.adapters.idle import is_wayland_session

    desktops = env.get("XDG_CURRENT_DESKTOP", "").upper().split(":")
    return is_wayland_session(env) and "GNOME" in desktops
