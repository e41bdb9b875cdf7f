"""Idle sources: seconds since the last keyboard/mouse input, one module per source.

`make_idle_source(env)` picks one and says why the others were rejected (`doctor` shows it):
- `PSOAS_IDLE_BACKEND` = x11 | mutter | wayland | screensaver | windows | macos | none forces
  one, even x11 on a Wayland session (adapters/backends.py has the rules every family follows).
- Otherwise the first that answers on this session, in this order:
  Linux/BSD X11 session: x11 (in-process XScreenSaver, one X round trip per poll), mutter,
  screensaver; Wayland session (WAYLAND_DISPLAY set or XDG_SESSION_TYPE=wayland): mutter
  (GNOME's watches), wayland (the compositor's ext-idle-notify-v1, else org_kde_kwin_idle:
  KDE, sway, Hyprland, niri, labwc...), screensaver, never x11 (XScreenSaver sees only input
  to X clients there, so idle would grow while the user types in Wayland windows); Windows:
  windows; macOS: macos (IOKit), then macos-ioreg (one ioreg run per poll).
- Otherwise `NullIdleSource` (always None): the engine then relies on lock, suspend and gaps.
No source spawns a process per poll, except the macOS last resort.

mutter and wayland are event-driven (`ports.IdleEvents`): the runtime tells them the idle times
that matter and reads them only when they say something changed, so a desk left alone costs
no wakeup. Such a source comes wrapped in a `LiveIdleSource` (live.py), which chooses again
when the compositor or Mutter goes away, and goes back to it when it returns.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping

from psoas_break.adapters.backends import LINUX_BSD, MACOS, WINDOWS, Candidate, first
from psoas_break.ports import AdapterError, Choice, IdleEvents, IdleSource

log = logging.getLogger(__name__)

ENV_VAR = "PSOAS_IDLE_BACKEND"


class NullIdleSource:
    """The source of last resort: idle time is never known."""

    name = "none"

    def idle_seconds(self) -> float | None:
        """Always None."""
        return None

    def close(self) -> None:
        """Nothing to release."""


def is_wayland_session(env: Mapping[str, str]) -> bool:
    """True on a Wayland session (WAYLAND_DISPLAY set or XDG_SESSION_TYPE=wayland)."""
    return bool(env.get("WAYLAND_DISPLAY")) or env.get("XDG_SESSION_TYPE", "").lower() == "wayland"


def _candidates(env: Mapping[str, str]) -> tuple[Candidate[IdleSource], ...]:
    # Each backend module is imported only when its candidate is tried.
    def x11() -> IdleSource:
        from psoas_break.adapters.idle.x11 import X11IdleSource

        return X11IdleSource.open(env.get("DISPLAY", ""))

    def mutter() -> IdleSource:
        from psoas_break.adapters.idle.mutter import MutterIdleSource

        return MutterIdleSource.open(env)

    def wayland() -> IdleSource:
        from psoas_break.adapters.idle.wayland import WaylandIdleSource

        return WaylandIdleSource.open(env)

    def screensaver() -> IdleSource:
        from psoas_break.adapters.idle.screensaver import ScreenSaverIdleSource

        return ScreenSaverIdleSource.open(env)

    def windows() -> IdleSource:
        from psoas_break.adapters.idle.windows import WindowsIdleSource

        return WindowsIdleSource.open()

    def macos() -> IdleSource:
        from psoas_break.adapters.idle.macos import IoregIdleSource, MacIdleSource

        try:
            return MacIdleSource.open()
        except AdapterError as exc:
            log.warning("IOKit idle time unavailable (%s); falling back to ioreg per poll", exc)
            return IoregIdleSource.open()

    def on_wayland() -> str | None:
        if is_wayland_session(env):
            return "Wayland session: XScreenSaver only sees input to X clients"
        return None

    return (
        Candidate("x11", x11, LINUX_BSD, skip=on_wayland, fix="install libxss1 (XScreenSaver) "
                  "or run a desktop with an idle D-Bus service"),
        Candidate("mutter", mutter, LINUX_BSD),
        Candidate("wayland", wayland, LINUX_BSD),
        Candidate("screensaver", screensaver, LINUX_BSD),
        Candidate("windows", windows, WINDOWS),
        Candidate("macos", macos, MACOS),
    )


def make_idle_source(env: Mapping[str, str] | None = None, *, platform: str | None = None,
                     live: bool = True) -> tuple[IdleSource, Choice]:
    """Pick the idle source for this session (see module docstring); never raises.
    `env` defaults to os.environ and `platform` to sys.platform. An event-driven choice comes
    in a LiveIdleSource unless `live` is False."""
    env = os.environ if env is None else env
    source, choice = first("idle", _candidates(env), NullIdleSource, env_var=ENV_VAR, env=env,
                           platform=platform)
    if live and isinstance(source, IdleEvents):
        from psoas_break.adapters.idle.live import LiveIdleSource

        return LiveIdleSource(source, lambda: make_idle_source(env, platform=platform,
                                                               live=False)), choice
    return source, choice
