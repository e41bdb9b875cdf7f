"""Notifications through plyer's portable facade (the second candidate on Linux, the portable
one elsewhere).

plyer picks its platform implementation itself: on Linux the xdg portal inside Flatpak, else
dbus-python when importable, else a `notify-send` subprocess; Windows a balloon tip (which
sleeps for the display time: plyer's call blocks that long); macOS NSUserNotification.
plyer has no timeout, no replaces_id and no close: run it on the worker (delivery.py), which
abandons a call that hangs (25 s on a hung server with dbus-python).

Markup: a freedesktop notification server with the "body-markup" capability (nearly all:
GNOME, KDE, dunst, mako, xfce4-notifyd) reads the body as markup, and plyer passes it on as it
is. The body is always escaped for those servers (plyer cannot ask for the capabilities); a rare
server without markup then shows "&amp;" for "&", which is harmless, where unescaped text could
make links or load images. The other platforms take plain text.
"""

from __future__ import annotations

import logging
from typing import Any

from psoas_break.adapters.notify.errors import FDO_SERVER, error_for
from psoas_break.adapters.notify.markup import escape_markup
from psoas_break.ports import DeliveryFailed, Notification, Unavailable

log = logging.getLogger(__name__)

# plyer implementation class -> the server it talks to (None: not a shared server).
_SERVERS = {
    "NotifyDbus": FDO_SERVER,
    "NotifySendNotification": FDO_SERVER,
    "NotifyDesktopPortals": "org.freedesktop.portal.Desktop",
}


class PlyerNotifier:
    """Notifier through `plyer.notification` (see module docstring).

    The constructor raises Unavailable when plyer is missing or has no implementation here.
    `implementation` names plyer's choice (e.g. "NotifyDbus"); `server` the notification
    server it talks to, for the chain's shared-server logic.
    """

    name = "plyer"

    def __init__(self, *, app_name: str = "psoas-break") -> None:
        try:
            from plyer import notification
            from plyer.facades import (
                Notification as Facade,
            )
        except ImportError as exc:
            raise Unavailable(f"plyer is not installed: {exc}") from exc
        # plyer resolves its platform module lazily, behind a proxy object.
        impl = object.__getattribute__(notification, "_ensure_obj")()
        if type(impl) is Facade:
            raise Unavailable(
                "plyer has no notification backend here (on Linux it needs dbus-python or "
                "notify-send: sudo apt install python3-dbus libnotify-bin)"
            )
        self._impl: Any = impl
        self.implementation = type(impl).__name__
        self.server = _SERVERS.get(self.implementation)
        self.app_name = app_name

    def notify(self, notification: Notification) -> None:
        """Show `notification` through plyer; raises an AdapterError on failure."""
        icon = str(notification.icon.resolve()) if notification.icon is not None else ""
        body = escape_markup(notification.body) if self.server == FDO_SERVER else (
            notification.body)
        try:
            self._impl.notify(
                title=notification.title,
                message=body,
                app_name=self.app_name,
                app_icon=icon,
                timeout=max(notification.timeout_s, 0),
            )
        except Exception as exc:  # noqa: BLE001 - plyer raises whatever its backend raises
            raise self._translate(exc) from exc

    def _translate(self, exc: Exception) -> Exception:
        if type(exc).__name__ == "DBusException" and hasattr(exc, "get_dbus_name"):
            name = str(exc.get_dbus_name() or "")
            text = str(exc).strip().splitlines()[0] if str(exc).strip() else name
            error = error_for(name, text, "Notify", None)
            if exc.get_dbus_name() == "org.freedesktop.DBus.Error.Disconnected":
                # dbus-python keeps its shared session connection even when the bus is gone;
                # dropping it lets the next call connect again.
                try:
                    import dbus

                    dbus.SessionBus().close()
                except Exception:  # noqa: BLE001
                    log.debug("could not drop plyer's dead session bus", exc_info=True)
            return error
        if isinstance(exc, NotImplementedError):
            return Unavailable(f"plyer ({self.implementation}) cannot notify here: {exc}")
        return DeliveryFailed(f"plyer ({self.implementation}) failed: {type(exc).__name__}: {exc}")
