"""Quiet detectors: is now a bad moment for a prompt? One module per signal.

Most detectors are asked ONLY when a prompt is due (and, while the quiet gate holds a prompt,
on the gate's slow cadence) and keep nothing running. The call and screen-share detectors
watch instead (marked *): they keep one thread each, plus ONE long-lived `pw-dump` process for
the PipeWire graph (shared by three detectors, closed with the last of them), answer from a
cache, and report a change through `on_change(name)` (the app posts a QuietChanged command).
The two Wayland fullscreen detectors are kept current by events (the session's Wayland
connection, a KWin script's calls) and only read when asked.

    detector             platform        reason(s)         how
    fullscreen-x11       Linux/BSD X11   fullscreen        _NET_ACTIVE_WINDOW + _NET_WM_STATE
    fullscreen-wlr       wlroots Wayland fullscreen        zwlr_foreign_toplevel_manager_v1
                         (sway, Hyprland, labwc...)        (events on the Wayland connection)
    fullscreen-kwin      KDE Wayland     fullscreen        a KWin script calls us back
    notifications-       Linux/BSD       do-not-disturb    org.freedesktop.Notifications
      inhibited                                            `Inhibited` (spec 1.2+)
    gnome-banners        GNOME           do-not-disturb    gsettings show-banners = false
    camera-v4l2          Linux           camera            /dev/video* open in another process
  * microphone-pipewire  Linux/BSD       microphone        the PipeWire graph (pw-dump), when
                                                           PipeWire runs the audio
  * microphone-pulse     Linux/BSD       microphone        PulseAudio protocol (pulsectl):
                                                           another app's capture stream; only
                                                           where the graph sees no audio
                                                           (PulseAudio runs it, or no PipeWire)
  * screen-sharing-      Linux/BSD       screen-sharing    the PipeWire graph: a screencast
      pipewire                                             stream (Wayland, portals)
  * camera-pipewire      Linux/BSD       camera            the PipeWire graph: a camera stream
    fullscreen-macos     macOS           fullscreen        front window fills its display
                                                           (CGWindowListCopyWindowInfo)
    windows-state        Windows         fullscreen, presentation, away
                                                           SHQueryUserNotificationState
    camera-windows       Windows         camera            webcam consent store (registry)
    microphone-windows   Windows         microphone        microphone consent store (registry)
    quiet-apps           every platform  app:<name>        Linux: /proc/*/comm and exe
                                                           basenames; elsewhere: psutil

Documented gaps: macOS camera and microphone use (not implemented) and Focus/Do Not Disturb
(no public API); fullscreen on GNOME Wayland: mutter offers no window list to clients and
gnome-shell's Introspect answers only the portals, so nothing sanctioned tells an app
(do-not-disturb still works there); screen sharing on X11 (browsers capture X11 directly,
without PipeWire) and on Windows and macOS. See fullscreen_macos.py for what its signal
cannot see.

`make_quiet_detectors(env, quiet_apps, on_change=...)` returns the detectors that work here
and a `Choice` (family "quiet") whose `chosen` lists them, whose `rejected` says why the others
do not, and whose `details` say what each watching detector sees now ("unavailable: PipeWire
not reachable ..."): `psoas-break doctor` prints it. `PSOAS_QUIET_DETECTORS` = "none" or a
comma-separated list of detector names restricts the set (e.g. to leave out a camera that is
always held open).

Each detector is a `ports.QuietDetector` whose `reasons()` never raises (a failure, or a
sound server that is away, is "not quiet"); runtime/quiet.py asks them on the job thread.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from psoas_break.adapters.backends import LINUX_BSD, MACOS, WINDOWS, Candidate, every
from psoas_break.ports import Choice, QuietDetector, Unavailable

if TYPE_CHECKING:
    from psoas_break.adapters.quiet.pipewire_graph import PipeWireGraph

ENV_VAR = "PSOAS_QUIET_DETECTORS"
MACOS_GAP = ("macOS: no detector yet for camera or microphone use (not implemented; "
             "CoreMediaIO's and CoreAudio's DeviceIsRunningSomewhere properties are the "
             "candidates) or Focus/Do Not Disturb (no public API)")
GNOME_WAYLAND_GAP = ("GNOME on Wayland offers no sanctioned way to see a fullscreen window "
                     "(mutter has no window list for clients; gnome-shell's Introspect answers "
                     "only the portals): prompts are held for do-not-disturb only")


def _watching(env: Mapping[str, str], on_change: Callable[[str], None] | None
              ) -> tuple[dict[str, Callable[[], QuietDetector]], Callable[[], None]]:
    """Openers of the detectors that watch (calls, screen sharing), and what to call once
    they were tried: it closes the PipeWire graph (pw-dump and its thread) when no detector
    took it. The graph is opened once, by the first of them that needs it, and shared."""
    opened: dict[str, Any] = {}

    def graph() -> PipeWireGraph:
        if "graph" not in opened:
            from psoas_break.adapters.quiet.pipewire_graph import PipeWireGraph

            try:
                opened["graph"] = PipeWireGraph.open(env)
            except Unavailable as exc:
                opened["graph"] = exc
        found = opened["graph"]
        if isinstance(found, Unavailable):
            raise found
        return found  # type: ignore[no-any-return]

    # The graph first: where PipeWire runs the audio it sees every capture, and the app needs
    # no libpulse (pulsectl loads it and its codec and X11 libraries: +4 MiB at rest).
    def microphone_pipewire() -> QuietDetector:
        from psoas_break.adapters.quiet.capture_rules import runs_the_audio
        from psoas_break.adapters.quiet.pipewire import PipeWireMicrophoneDetector

        found = graph()
        now = found.snapshot()
        if now is None or not runs_the_audio(now):
            raise Unavailable("PipeWire runs no audio here (no audio node in its graph)"
                              if now is not None else f"PipeWire: {found.reason}")
        opened["graph-microphone"] = True
        return PipeWireMicrophoneDetector(found, on_change=on_change)

    def microphone_pulse() -> QuietDetector:
        from psoas_break.adapters.quiet.microphone_pulse import PulseMicrophoneDetector

        if opened.get("graph-microphone"):
            raise Unavailable("not needed: microphone-pipewire sees the microphone")
        return PulseMicrophoneDetector.open(server=_pulse_server(env), on_change=on_change)

    def screen_sharing() -> QuietDetector:
        from psoas_break.adapters.quiet.pipewire import ScreenShareDetector

        return ScreenShareDetector(graph(), on_change=on_change)

    def camera_pipewire() -> QuietDetector:
        from psoas_break.adapters.quiet.pipewire import PipeWireCameraDetector

        return PipeWireCameraDetector(graph(), on_change=on_change)

    def release_unused() -> None:
        found = opened.get("graph")
        if found is not None and not isinstance(found, Unavailable) and not found.listening:
            found.close()

    return ({"microphone-pipewire": microphone_pipewire, "microphone-pulse": microphone_pulse,
             "screen-sharing-pipewire": screen_sharing, "camera-pipewire": camera_pipewire},
            release_unused)


def _pulse_server(env: Mapping[str, str]) -> str | None:
    """PULSE_SERVER from `env`; for an `env` other than the process's own, its runtime
    folder's socket (libpulse reads only the process environment); else None: libpulse's own
    search (PULSE_SERVER, client.conf, X11 property, the runtime folder)."""
    if env.get("PULSE_SERVER"):
        return env["PULSE_SERVER"]
    if env is not os.environ and env.get("XDG_RUNTIME_DIR"):
        return f"unix:{env['XDG_RUNTIME_DIR']}/pulse/native"
    return None


def _candidates(env: Mapping[str, str], quiet_apps: Sequence[str], platform: str,
                proc_root: str, video_glob: str, on_change: Callable[[str], None] | None,
                probe: bool
                ) -> tuple[tuple[Candidate[QuietDetector], ...], Callable[[], None]]:
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

    def consent_store(capability: str, reason: str, name: str) -> Callable[[], QuietDetector]:
        def open_store() -> QuietDetector:
            from psoas_break.adapters.quiet.consent_store import ConsentStoreDetector

            return ConsentStoreDetector.open(capability, reason, name)

        return open_store

    def apps() -> QuietDetector:
        from psoas_break.adapters.quiet.quiet_apps import QuietAppsDetector

        return QuietAppsDetector.open(quiet_apps, proc_root, platform=platform)

    watching, release_unused = _watching(env, on_change)
    return (
        Candidate("fullscreen-x11", fullscreen_x11, LINUX_BSD),
        Candidate("fullscreen-wlr", fullscreen_wlr, LINUX_BSD, skip=x11_session),
        Candidate("fullscreen-kwin", fullscreen_kwin, LINUX_BSD, skip=x11_session),
        Candidate("notifications-inhibited", inhibited, LINUX_BSD),
        Candidate("gnome-banners", gnome_banners, LINUX_BSD),
        Candidate("camera-v4l2", camera_v4l2, LINUX_BSD),
        *(Candidate(name, opener, LINUX_BSD) for name, opener in watching.items()),
        Candidate("fullscreen-macos", fullscreen_macos, MACOS),
        Candidate("windows-state", windows_state, WINDOWS),
        Candidate("camera-windows", consent_store("webcam", "camera", "camera-windows"),
                  WINDOWS),
        Candidate("microphone-windows",
                  consent_store("microphone", "microphone", "microphone-windows"), WINDOWS),
        Candidate("quiet-apps", apps),
    ), release_unused


def make_quiet_detectors(
    env: Mapping[str, str] | None = None, quiet_apps: Sequence[str] = (), *,
    platform: str | None = None, proc_root: str = "/proc", video_glob: str = "/dev/video*",
    on_change: Callable[[str], None] | None = None,
    probe: bool = False,
) -> tuple[list[QuietDetector], Choice]:
    """The detectors that work on this session, and a Choice for `doctor`; never raises.
    `platform` (default sys.platform) also picks quiet-apps' process lister; `proc_root` and
    `video_glob` let tests point the /proc scans at their own processes and files;
    `on_change(name)` is called (from a detector's thread) when a watching detector's answer
    changes. The sound server is found through `env` (PULSE_SERVER, XDG_RUNTIME_DIR,
    PIPEWIRE_RUNTIME_DIR) as libpulse and pw-dump do. `probe`: they are closed at once
    (doctor), so none may disturb a running app's (KWin's script)."""
    env = os.environ if env is None else env
    platform = platform or sys.platform
    candidates, release_unused = _candidates(env, quiet_apps, platform, proc_root, video_glob,
                                             on_change, probe)
    detectors, choice = every("quiet", candidates, env_var=ENV_VAR, env=env, platform=platform)
    release_unused()
    if platform == "darwin":
        choice = replace(choice, rejected=(*choice.rejected, ("macos", MACOS_GAP)))
    elif _gnome_wayland(env):
        choice = replace(choice, rejected=(*choice.rejected, ("fullscreen-gnome",
                                                                GNOME_WAYLAND_GAP)))
    return detectors, replace(choice, details=detector_states(detectors))


def detector_states(detectors: Sequence[QuietDetector]) -> tuple[tuple[str, str], ...]:
    """(name, "free" / "in use: ..." / "unavailable: why") of each watching detector."""
    states: list[tuple[str, str]] = []
    for detector in detectors:
        status = getattr(detector, "status", None)
        if callable(status):
            try:
                states.append((detector.name, str(status().describe())))
            except Exception as exc:  # a broken probe is itself a finding
                states.append((detector.name, f"failed: {type(exc).__name__}: {exc}"))
    return tuple(states)


def _gnome_wayland(env: Mapping[str, str]) -> bool:
    from psoas_break.adapters.idle import is_wayland_session

    desktops = env.get("XDG_CURRENT_DESKTOP", "").upper().split(":")
    return is_wayland_session(env) and "GNOME" in desktops
