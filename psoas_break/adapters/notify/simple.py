"""The last two links of the notifier chain: pystray's own notify, and the log.

`TrayNotifier` calls the tray's `notify(title, body)` (pystray's `Icon.notify`, only where the
backend has HAS_NOTIFICATION). On Linux pystray sends it to the same
org.freedesktop.Notifications server as the other backends (with the libdbus default timeout
of 25 s); on Windows it is the tray balloon. It cannot take a notification back.

`LogNotifier` never fails: it writes the notification to the log. It is the null object.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from psoas_break.ports import DeliveryFailed, Notification

log = logging.getLogger(__name__)


class TrayNotifier:
    """Notifier through the tray icon's own notification call (see module docstring)."""

    name = "tray"

    def __init__(self, notify: Callable[[str, str], None], *, server: str | None = None) -> None:
        self._notify = notify
        self.server = server

    def notify(self, notification: Notification) -> None:
        """Show title and body through the tray icon; raises DeliveryFailed on any error."""
        try:
            self._notify(notification.title, notification.body)
        except Exception as exc:  # noqa: BLE001 - pystray backends raise anything (GLib.Error...)
            raise DeliveryFailed(f"the tray icon could not show it: {type(exc).__name__}: "
                                 f"{exc}") from exc

    def close(self, tag: str) -> None:
        """Nothing: the notification goes away by itself."""


class LogNotifier:
    """Writes notifications to the log; never fails (the null notifier)."""

    name = "log"

    def __init__(self) -> None:
        self.count = 0

    def notify(self, notification: Notification) -> None:
        """Log the notification at INFO level."""
        self.count += 1
        log.info("notification (log only) [%s] %s: %s", notification.tag, notification.title,
                 notification.body)

    def close(self, tag: str) -> None:
        """Nothing is shown, so nothing to close."""
