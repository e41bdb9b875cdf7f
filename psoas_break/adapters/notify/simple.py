"""The last two links of the notifier chain: pystray's own notify, and the log.

`TrayNotifier` calls what the runtime hands over from the tray icon (pystray's
`Icon.notify(message, title)`, only where the backend has HAS_NOTIFICATION): pass it as
`lambda title, body: icon.notify(body, title)` and `icon.remove_notification` as `remove`.
On Linux pystray sends it to the same org.freedesktop.Notifications server as the other
backends (with the libdbus default timeout of 25 s); on Windows it is the tray balloon.

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

    def __init__(self, notify: Callable[[str, str], None],
                 remove: Callable[[], None] | None = None, *, server: str | None = None) -> None:
        self._notify = notify
        self._remove = remove
        self.server = server
        self._shown_tag: str | None = None

    def notify(self, notification: Notification) -> None:
        """Show title and body through the tray icon; raises DeliveryFailed on any error."""
        try:
            self._notify(notification.title, notification.body)
        except Exception as exc:  # noqa: BLE001 - pystray backends raise anything (GLib.Error...)
            raise DeliveryFailed(f"the tray icon could not show it: {type(exc).__name__}: "
                                 f"{exc}") from exc
        self._shown_tag = notification.tag

    def close(self, tag: str) -> None:
        """Remove the tray's notification if it is the one shown for `tag`."""
        if self._remove is None or self._shown_tag != tag:
            return
        self._shown_tag = None
        try:
            self._remove()
        except Exception as exc:  # noqa: BLE001
            raise DeliveryFailed(f"the tray icon could not remove it: {exc}") from exc


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
