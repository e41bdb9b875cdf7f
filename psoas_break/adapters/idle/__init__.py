"""Idle sources: seconds since the last keyboard/mouse input, one module per source.

`make_idle_source(env)` picks one and says why the others were rejected (`doctor` shows it):
- `PSOAS_IDLE_BACKEND` = x11 | mutter | screensaver | windows | macos | none forces one (also
  x11 on a Wayland session: the user knows best). If the forced one fails, the null source is
  used and the Choice says why; nothing else is tried behind the user's back.
- Otherwise the first that answers on this session, in this order:
  Linux/BSD X11 session: x11 (in-process XScreenSaver, one X round trip per poll), mutter,
  screensaver; Wayland session (WAYLAND_DISPLAY set or XDG_SESSION_TYPE=wayland): mutter,
  screensaver, never x11 (XScreenSaver sees only input to X clients there, so idle would grow
  while the user types in Wayland windows); Windows: windows; macOS: macos (IOKit), then
  macos-ioreg (one ioreg run per poll).
- Otherwise `NullIdleSource` (always None): the engine then relies on lock, suspend and gaps.

No source spawns a process per poll, except the macOS last resort above.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable, Mapping

from psoas_break.ports import AdapterError, Choice, IdleSource

log = logging.getLogger(__name__)

ENV_VAR = "PSOAS_IDLE_BACKEND"
BACKENDS = ("x11", "mutter", "screensaver", "windows", "macos", "none")


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


def _platform_family(platform: str) -> str:
    if platform == "win32":
        return "windows"
    if platform == "darwin":
        return "macos"
    return "unix"


def _open_x11(env: Mapping[str, str]) -> IdleSource:
    from psoas_break.adapters.idle.x11 import X11IdleSource

    return X11IdleSource.open(env.get("DISPLAY", ""))


def _open_mutter(env: Mapping[str, str]) -> IdleSource:
    from psoas_break.adapters.idle.mutter import MutterIdleSource

    return MutterIdleSource.open(env)


def _open_screensaver(env: Mapping[str, str]) -> IdleSource:
    from psoas_break.adapters.idle.screensaver import ScreenSaverIdleSource

    return ScreenSaverIdleSource.open(env)


def _open_windows(env: Mapping[str, str]) -> IdleSource:
    from psoas_break.adapters.idle.windows import WindowsIdleSource

    return WindowsIdleSource.open()


def _open_macos(env: Mapping[str, str]) -> IdleSource:
    from psoas_break.adapters.idle.macos import IoregIdleSource, MacIdleSource

    try:
        return MacIdleSource.open()
    except AdapterError as exc:
        log.warning("IOKit idle time unavailable (%s); falling back to ioreg per poll", exc)
        return IoregIdleSource.open()


_OPENERS: dict[str, Callable[[Mapping[str, str]], IdleSource]] = {
    "x11": _open_x11,
    "mutter": _open_mutter,
    "screensaver": _open_screensaver,
    "windows": _open_windows,
    "macos": _open_macos,
}

_PLATFORM_OF = {"x11": "unix", "mutter": "unix", "screensaver": "unix",
                "windows": "windows", "macos": "macos"}
_PLATFORM_TEXT = {"unix": "only on Linux/BSD desktops", "windows": "only on Windows",
                  "macos": "only on macOS"}


def _try(name: str, env: Mapping[str, str]) -> tuple[IdleSource | None, str]:
    """Open backend `name`; returns (source, "") or (None, reason)."""
    try:
        return _OPENERS[name](env), ""
    except AdapterError as exc:
        return None, str(exc)
    except Exception as exc:  # noqa: BLE001 - a broken backend must not stop the app
        log.debug("idle backend %s failed", name, exc_info=True)
        return None, f"failed: {type(exc).__name__}: {exc}"


def make_idle_source(
    env: Mapping[str, str] | None = None, *, platform: str | None = None
) -> tuple[IdleSource, Choice]:
    """Pick the idle source for this session (see module docstring); never raises.

    `env` defaults to os.environ and `platform` to sys.platform (both injectable for tests).
    """
    env = os.environ if env is None else env
    family = _platform_family(platform or sys.platform)
    rejected: list[tuple[str, str]] = []
    forced = env.get(ENV_VAR, "").strip().lower()

    if forced and forced not in BACKENDS:
        message = (
            f"{ENV_VAR}={forced!r} is not one of: {', '.join(BACKENDS)}; choosing automatically"
        )
        log.warning("%s", message)
        rejected.append((ENV_VAR, message))
        forced = ""

    if forced:
        if forced == "none":
            others = [(n, f"{ENV_VAR}=none") for n in BACKENDS if n != "none"]
            return NullIdleSource(), Choice("idle", "none", tuple(others))
        source, reason = _try(forced, env)
        others = [(n, f"{ENV_VAR}={forced}") for n in BACKENDS if n not in (forced, "none")]
        if source is not None:
            return source, Choice("idle", source.name, tuple(others))
        log.warning("idle backend %s (forced by %s) is unavailable: %s", forced, ENV_VAR, reason)
        return NullIdleSource(), Choice(
            "idle", "none", ((forced, reason), *others),
            fix=f"unset {ENV_VAR} to let psoas-break choose",
        )

    wayland = is_wayland_session(env)
    chosen: IdleSource | None = None
    for name in ("x11", "mutter", "screensaver", "windows", "macos"):
        if _PLATFORM_OF[name] != family:
            rejected.append((name, _PLATFORM_TEXT[_PLATFORM_OF[name]]))
            continue
        if chosen is not None:
            rejected.append((name, f"not needed: {chosen.name} answered first"))
            continue
        if name == "x11" and wayland:
            rejected.append((name, "Wayland session: XScreenSaver only sees input to X clients"))
            continue
        source, reason = _try(name, env)
        if source is None:
            rejected.append((name, reason))
        else:
            chosen = source
    if chosen is not None:
        return chosen, Choice("idle", chosen.name, tuple(rejected))
    fix = None
    if family == "unix" and not wayland:
        fix = "install libxss1 (XScreenSaver) or run a desktop with an idle D-Bus service"
    return NullIdleSource(), Choice("idle", "none", tuple(rejected), fix=fix)


__all__ = ["BACKENDS", "ENV_VAR", "NullIdleSource", "is_wayland_session", "make_idle_source"]
