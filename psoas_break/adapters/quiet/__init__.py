"""Quiet detectors: is now a bad moment for a prompt? One module per signal.

Each detector is asked ONLY when a prompt is due (and, while the quiet gate holds a prompt,
on the gate's slow cadence): nothing here polls, watches or keeps a thread.

    detector          platform        reason(s)            how
    fullscreen-x11    Linux/BSD X11   fullscreen           _NET_ACTIVE_WINDOW + _NET_WM_STATE
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
fullscreen on Wayland (an X client sees only XWayland windows). See fullscreen_macos.py for
what its signal cannot see.

`make_quiet_detectors(env, quiet_apps)` returns the detectors that work here and a `Choice`
(family "quiet") whose `chosen` lists them and whose `rejected` says why the others do not:
`psoas-break doctor` prints it. `PSOAS_QUIET_DETECTORS` = "none" or a comma-separated list of
detector names restricts the set (e.g. to leave out a camera that is always held open).

Contract of a detector (`QuietDetector`): `name`; `reasons()` returns a tuple of reason tokens
(empty when not quiet), is cheap, and never raises; `close()` releases what it holds.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Protocol, runtime_checkable

from psoas_break.ports import AdapterError, Choice

log = logging.getLogger(__name__)

ENV_VAR = "PSOAS_QUIET_DETECTORS"
DETECTORS = (
    "fullscreen-x11",
    "notifications-inhibited",
    "gnome-banners",
    "camera-v4l2",
    "fullscreen-macos",
    "windows-state",
    "camera-windows",
    "quiet-apps",
)
# Which platform families each detector works on ("unix" = Linux and the BSDs).
_FAMILIES: dict[str, frozenset[str]] = {
    "fullscreen-x11": frozenset({"unix"}),
    "notifications-inhibited": frozenset({"unix"}),
    "gnome-banners": frozenset({"unix"}),
    "camera-v4l2": frozenset({"unix"}),
    "fullscreen-macos": frozenset({"macos"}),
    "windows-state": frozenset({"windows"}),
    "camera-windows": frozenset({"windows"}),
    "quiet-apps": frozenset({"unix", "windows", "macos"}),
}
_ONLY_ON = {"unix": "only on Linux/BSD", "windows": "only on Windows", "macos": "only on macOS"}
MACOS_GAP = (
    "macOS: no detector yet for camera use (not implemented; CoreMediaIO's "
    "DeviceIsRunningSomewhere property is the candidate) or Focus/Do Not Disturb (no public API)"
)


@runtime_checkable
class QuietDetector(Protocol):
    """One quiet signal. Called from the engine thread only when a prompt is due.

    reasons(): tuple of reason tokens ("fullscreen", "do-not-disturb", "camera",
    "presentation", "away", "app:<name>"), () when not quiet; cheap; never raises.
    """

    name: str

    def reasons(self) -> tuple[str, ...]: ...

    def close(self) -> None: ...


def quiet_reasons(detectors: Iterable[QuietDetector]) -> tuple[str, ...]:
    """Every active reason of `detectors`, de-duplicated in order; a detector that raises
    despite its contract is logged and counts as not quiet."""
    found: list[str] = []
    for detector in detectors:
        try:
            reasons = detector.reasons()
        except Exception:
            log.exception("quiet detector %s failed", getattr(detector, "name", "?"))
            continue
        for reason in reasons:
            if reason not in found:
                found.append(reason)
    return tuple(found)


def close_detectors(detectors: Iterable[QuietDetector]) -> None:
    """Close every detector; failures are logged."""
    for detector in detectors:
        try:
            detector.close()
        except Exception:
            log.debug("closing quiet detector %s failed", detector.name, exc_info=True)


def _is_wayland(env: Mapping[str, str]) -> bool:
    return bool(env.get("WAYLAND_DISPLAY")) or env.get("XDG_SESSION_TYPE", "").lower() == "wayland"


def _family(platform: str) -> str:
    if platform == "win32":
        return "windows"
    if platform == "darwin":
        return "macos"
    return "unix"


def make_quiet_detectors(
    env: Mapping[str, str] | None = None,
    quiet_apps: Sequence[str] = (),
    *,
    platform: str | None = None,
    proc_root: str = "/proc",
    video_glob: str = "/dev/video*",
) -> tuple[list[QuietDetector], Choice]:
    """The detectors that work on this session, and a Choice for `doctor`; never raises.

    `env` defaults to os.environ, `platform` to sys.platform; `proc_root` and `video_glob`
    let tests point the /proc scans at their own processes and files. `platform` also picks
    the process lister of quiet-apps (procfs on Linux, psutil elsewhere).
    """
    env = os.environ if env is None else env
    platform = platform or sys.platform
    family = _family(platform)
    rejected: list[tuple[str, str]] = []
    wanted = set(DETECTORS)
    forced = env.get(ENV_VAR, "").strip().lower()
    if forced:
        names = {n.strip() for n in forced.split(",") if n.strip()}
        unknown = sorted(names - set(DETECTORS) - {"none"})
        if unknown:
            message = (f"{ENV_VAR} names {', '.join(unknown)}, not detectors; known: "
                       f"{', '.join(DETECTORS)}, none")
            log.warning("%s", message)
            rejected.append((ENV_VAR, message))
        wanted = names & set(DETECTORS)

    def opener(name: str) -> Callable[[], QuietDetector]:
        if name == "fullscreen-x11":
            def open_x11() -> QuietDetector:
                from psoas_break.adapters.quiet.fullscreen_x11 import X11FullscreenDetector

                if _is_wayland(env):
                    raise AdapterError(
                        "Wayland session: an X client sees only XWayland windows"
                    )
                return X11FullscreenDetector.open(env.get("DISPLAY", ""))
            return open_x11
        if name == "notifications-inhibited":
            def open_inhibited() -> QuietDetector:
                from psoas_break.adapters.quiet.notifications_inhibited import (
                    NotificationsInhibitedDetector,
                )

                return NotificationsInhibitedDetector.open(env)
            return open_inhibited
        if name == "gnome-banners":
            def open_banners() -> QuietDetector:
                from psoas_break.adapters.quiet.notifications_inhibited import (
                    GnomeBannersDetector,
                    is_gnome_desktop,
                )

                if not is_gnome_desktop(env):
                    raise AdapterError("not a GNOME desktop (XDG_CURRENT_DESKTOP)")
                return GnomeBannersDetector.open(env)
            return open_banners
        if name == "camera-v4l2":
            def open_v4l2() -> QuietDetector:
                from psoas_break.adapters.quiet.camera import V4l2CameraDetector

                return V4l2CameraDetector.open(video_glob, proc_root)
            return open_v4l2
        if name == "quiet-apps":
            def open_apps() -> QuietDetector:
                from psoas_break.adapters.quiet.quiet_apps import QuietAppsDetector

                return QuietAppsDetector.open(quiet_apps, proc_root, platform=platform)
            return open_apps
        if name == "fullscreen-macos":
            def open_mac_fullscreen() -> QuietDetector:
                from psoas_break.adapters.quiet.fullscreen_macos import MacFullscreenDetector

                return MacFullscreenDetector.open()
            return open_mac_fullscreen
        if name == "windows-state":
            def open_state() -> QuietDetector:
                from psoas_break.adapters.quiet.windows_state import WindowsStateDetector

                return WindowsStateDetector.open()
            return open_state

        def open_camera_windows() -> QuietDetector:
            from psoas_break.adapters.quiet.camera import WindowsCameraDetector

            return WindowsCameraDetector.open()
        return open_camera_windows

    detectors: list[QuietDetector] = []
    for name in DETECTORS:
        if name not in wanted:
            rejected.append((name, f"left out by {ENV_VAR}"))
            continue
        families = _FAMILIES[name]
        if family not in families:
            rejected.append((name, _ONLY_ON[sorted(families)[0]]))  # one family here
            continue
        try:
            detectors.append(opener(name)())
        except AdapterError as exc:
            rejected.append((name, str(exc)))
        except Exception as exc:  # a broken detector must never stop the app
            log.debug("quiet detector %s failed to open", name, exc_info=True)
            rejected.append((name, f"failed: {type(exc).__name__}: {exc}"))
    if family == "macos":
        rejected.append(("macos", MACOS_GAP))
    chosen = ", ".join(d.name for d in detectors) or "none"
    return detectors, Choice("quiet", chosen, tuple(rejected))


__all__ = [
    "DETECTORS",
    "ENV_VAR",
    "QuietDetector",
    "close_detectors",
    "make_quiet_detectors",
    "quiet_reasons",
]
