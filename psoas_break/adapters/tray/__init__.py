"""Tray backends: pick the best pystray backend that can work in this session.

Order: appindicator (StatusNotifierItem + dbusmenu: GNOME with the AppIndicator extension, KDE,
XFCE, Cinnamon, MATE), then gtk (XEmbed via Gtk.StatusIcon), then xorg (XEmbed with python-xlib,
no menu: left click = "Take a break now"). `PSOAS_TRAY_BACKEND` (or pystray's own
`PYSTRAY_BACKEND`) forces one. On Windows and macOS pystray's native backend is used.

Nothing here imports pystray or GTK: the checks are cheap so `doctor` can run them, and the
tray module imports pystray only after the backend is chosen.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping

from psoas_break.ports import Choice

LINUX_ORDER = ("appindicator", "gtk", "xorg")
APT_FIX = (
    "sudo apt-get install gir1.2-ayatanaappindicator3-0.1 gir1.2-gtk-3.0 python3-gi"
)


def _has_typelib(namespace: str, version: str) -> bool:
    try:
        import gi  # Debian's python3-gi, seen through --system-site-packages

        gi.require_version("GIRepository", "2.0")
        from gi.repository import GIRepository
    except Exception:
        return False
    try:
        repo = GIRepository.Repository.get_default()
        return version in repo.enumerate_versions(namespace)
    except Exception:
        return False


def _session_bus_has(name: str, env: Mapping[str, str]) -> bool | None:
    """True/False when the session bus answers NameHasOwner(name); None if no bus.

    One private, short-lived jeepney connection (2 s to connect, 2 s for the call), closed
    before returning. Only DBUS_SESSION_BUS_ADDRESS counts: without it this says None rather
    than guess, and jeepney never autolaunches a bus through X11 the way libdbus would.
    """
    if not env.get("DBUS_SESSION_BUS_ADDRESS"):
        return None
    try:
        from psoas_break.adapters.idle._dbus_sync import SyncBus

        bus = SyncBus.open(env, connect_timeout_s=2.0)
    except Exception:  # no bus, no jeepney: the caller reports "no D-Bus session bus"
        return None
    try:
        (has,) = bus.call(
            "org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus",
            "NameHasOwner", "s", (name,), timeout_s=2.0,
        )
        return bool(has)
    except Exception:
        return None
    finally:
        bus.close()


def _display_reason(env: Mapping[str, str]) -> str | None:
    if not env.get("DISPLAY"):
        if env.get("WAYLAND_DISPLAY"):
            return "no X display (a Wayland session without XWayland)"
        return "no display (DISPLAY is not set)"
    return None


def check_backend(name: str, env: Mapping[str, str]) -> str | None:
    """None if backend `name` can work here, else the reason it cannot."""
    if name == "appindicator":
        ayatana = _has_typelib("AyatanaAppIndicator3", "0.1")
        if not (ayatana or _has_typelib("AppIndicator3", "0.1")):
            return f"AyatanaAppIndicator3 introspection data missing ({APT_FIX})"
        if not _has_typelib("Gtk", "3.0"):
            return f"GTK 3 introspection data missing ({APT_FIX})"
        if not env.get("DISPLAY") and not env.get("WAYLAND_DISPLAY"):
            return "no display"
        watcher = _session_bus_has("org.kde.StatusNotifierWatcher", env)
        if watcher is None:
            return "no D-Bus session bus"
        if not watcher:
            return ("no StatusNotifierWatcher on the session bus (no panel shows AppIndicator "
                    "icons; on GNOME install the AppIndicator extension)")
        return None
    if name == "gtk":
        if not _has_typelib("Gtk", "3.0"):
            return f"GTK 3 introspection data missing ({APT_FIX})"
        return _display_reason(env)
    if name == "xorg":
        reason = _display_reason(env)
        if reason:
            return reason
        try:
            import Xlib.display

            Xlib.display.Display(env.get("DISPLAY")).close()
        except Exception as exc:
            return f"cannot open the X display: {exc}"
        return None
    if name in ("win32", "darwin", "dummy"):
        return None
    return f"unknown tray backend {name!r}; use one of appindicator, gtk, xorg"


def choose_backend(env: Mapping[str, str] | None = None) -> Choice:
    """Pick the tray backend; `Choice.chosen` is "none" when nothing can work."""
    env = os.environ if env is None else env
    if sys.platform == "win32":
        return Choice("tray", "win32")
    if sys.platform == "darwin":
        return Choice("tray", "darwin")
    forced = env.get("PSOAS_TRAY_BACKEND") or env.get("PYSTRAY_BACKEND")
    candidates = (forced,) if forced else LINUX_ORDER
    rejected: list[tuple[str, str]] = []
    for name in candidates:
        reason = check_backend(name, env)
        if reason is None:
            return Choice("tray", name, tuple(rejected))
        rejected.append((name, reason))
    fix = None
    if any("introspection" in r for _, r in rejected):
        fix = APT_FIX
    return Choice("tray", "none", tuple(rejected), fix)
