"""Tray backends: pick the best pystray backend that can work in this session.

Order on Linux/BSD: sni (our StatusNotifierItem + dbusmenu over jeepney, tray/sni.py: KDE,
XFCE, waybar and other Wayland bars, GNOME with the AppIndicator extension, Cinnamon, MATE; no
GTK, no display needed), then pystray's appindicator (the same protocol through GTK), gtk
(XEmbed via Gtk.StatusIcon) and xorg (XEmbed with python-xlib, no menu: left click = "Take a
break now") for XEmbed-only trays. sni is chosen when a StatusNotifierWatcher is on the session
bus, and also when no tray of either kind is there yet (at login the panel may start after us;
GNOME's extension may be enabled later): the icon shows when a watcher appears.
`PSOAS_TRAY_BACKEND` (or pystray's own `PYSTRAY_BACKEND`) forces one (also "dummy": pystray's
icon that shows nothing). On Windows and macOS pystray's native backend is used.

Nothing here imports pystray or GTK: the checks are cheap so `doctor` can run them, and the
tray module imports pystray only after the backend is chosen.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from psoas_break.adapters.backends import LINUX_BSD, MACOS, WINDOWS, Candidate, first
from psoas_break.ports import Choice, Unavailable

WATCHER = "org.kde.StatusNotifierWatcher"
APT_FIX = ("sudo apt-get install gir1.2-ayatanaappindicator3-0.1 gir1.2-gtk-3.0 python3-gi; "
           "only the system Python sees them, not a pipx or plain venv")
PANEL_FIX = ("run a panel that shows StatusNotifierItems (KDE, XFCE, waybar...; on GNOME the "
             "AppIndicator extension)")


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
    """True/False when the session bus answers NameHasOwner(name); None if no bus. Within 2 s
    to connect and 2 s for the call. The bus is the one the sni tray would use (dbus.py:
    DBUS_SESSION_BUS_ADDRESS, else systemd's $XDG_RUNTIME_DIR/bus; never one autolaunched
    through X11 as libdbus would)."""
    try:
        from psoas_break.adapters.dbus import Bus

        bus = Bus.open(env, connect_timeout_s=2.0)
    except Exception:  # no bus, no jeepney: the caller reports "no D-Bus session bus"
        return None
    try:
        return bus.name_has_owner(name, timeout_s=2.0)
    except Exception:
        return None
    finally:
        bus.close()


def _has_display(env: Mapping[str, str]) -> None:
    if not env.get("DISPLAY"):
        if env.get("WAYLAND_DISPLAY"):
            raise Unavailable("no X display (a Wayland session without XWayland)")
        raise Unavailable("no display (DISPLAY is not set)")


def _has_gtk() -> None:
    if not _has_typelib("Gtk", "3.0"):
        raise Unavailable(f"GTK 3 introspection data missing ({APT_FIX})")


def _xembed_tray(env: Mapping[str, str]) -> bool:
    """Whether an XEmbed tray (the _NET_SYSTEM_TRAY_Sn selection owner) runs on the display."""
    if not env.get("DISPLAY"):
        return False
    try:
        import Xlib.display
        import Xlib.X

        display = Xlib.display.Display(env["DISPLAY"])
    except Exception:
        return False
    try:
        atom = display.intern_atom(f"_NET_SYSTEM_TRAY_S{display.get_default_screen()}")
        return bool(display.get_selection_owner(atom) != Xlib.X.NONE)
    except Exception:
        return False
    finally:
        display.close()


def _candidates(env: Mapping[str, str]) -> tuple[Candidate[str], ...]:
    # Each check only looks: pystray itself is imported once the backend is chosen.
    def sni() -> str:
        from psoas_break.adapters.dbus import JEEPNEY_MISSING

        if JEEPNEY_MISSING:
            raise Unavailable(JEEPNEY_MISSING)
        watcher = _session_bus_has(WATCHER, env)
        if watcher is None:
            raise Unavailable("no D-Bus session bus")
        if not watcher and _xembed_tray(env):
            raise Unavailable("no StatusNotifierWatcher on the session bus (an XEmbed tray is "
                              "there: the next backend docks in it)")
        return "sni"

    def appindicator() -> str:
        if not (_has_typelib("AyatanaAppIndicator3", "0.1")
                or _has_typelib("AppIndicator3", "0.1")):
            raise Unavailable(f"AyatanaAppIndicator3 introspection data missing ({APT_FIX})")
        _has_gtk()
        if not env.get("DISPLAY") and not env.get("WAYLAND_DISPLAY"):
            raise Unavailable("no display")
        watcher = _session_bus_has("org.kde.StatusNotifierWatcher", env)
        if watcher is None:
            raise Unavailable("no D-Bus session bus")
        if not watcher:
            raise Unavailable("no StatusNotifierWatcher on the session bus (no panel shows "
                              "AppIndicator icons; on GNOME install the AppIndicator extension)")
        return "appindicator"

    def gtk() -> str:
        _has_gtk()
        _has_display(env)
        return "gtk"

    def xorg() -> str:
        _has_display(env)
        try:
            import Xlib.display

            Xlib.display.Display(env.get("DISPLAY")).close()
        except Exception as exc:
            raise Unavailable(f"cannot open the X display: {exc}") from exc
        return "xorg"

    return (
        Candidate("sni", sni, LINUX_BSD, fix=PANEL_FIX),
        Candidate("appindicator", appindicator, LINUX_BSD),
        Candidate("gtk", gtk, LINUX_BSD),
        Candidate("xorg", xorg, LINUX_BSD),
        Candidate("win32", lambda: "win32", WINDOWS),
        Candidate("darwin", lambda: "darwin", MACOS),
        # pystray's icon that shows nothing: only when asked for (tests, scripts).
        Candidate("dummy", lambda: "dummy", skip=lambda: "only when PSOAS_TRAY_BACKEND=dummy"),
    )


def choose_backend(env: Mapping[str, str] | None = None, *, platform: str | None = None) -> Choice:
    """Pick the tray backend; `Choice.chosen` is "none" when nothing can work."""
    env = os.environ if env is None else env
    _chosen, choice = first("tray", _candidates(env), lambda: "none", env=env, platform=platform,
                            env_var=("PSOAS_TRAY_BACKEND", "PYSTRAY_BACKEND"))
    return choice


def waiting_for_panel(env: Mapping[str, str] | None = None) -> bool:
    """True when no StatusNotifierWatcher is on the session bus now (the sni icon waits)."""
    return _session_bus_has(WATCHER, os.environ if env is None else env) is False
