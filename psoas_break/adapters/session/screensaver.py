"""Screen lock from the screensaver services on the session bus: `ActiveChanged(b)`.

Watched: org.freedesktop.ScreenSaver (KDE's kscreenlocker, xfce4-screensaver, ...) and
org.gnome.ScreenSaver (gnome-shell, gnome-flashback, cinnamon), interface of the same name,
member ActiveChanged, any path (KDE emits it on /ScreenSaver and /org/freedesktop/ScreenSaver
both: the composite's de-duplication absorbs the second). "Active" means the shield is up:
locked, or blanked on the way to locking; either way nobody is at the keyboard.
"""

from __future__ import annotations

from psoas_break.adapters.session._dbus_watch import DBusSignalWatcher, Signal

INTERFACES = ("org.freedesktop.ScreenSaver", "org.gnome.ScreenSaver")


class ScreenSaverWatcher(DBusSignalWatcher):
    """SessionWatcher over ActiveChanged from the freedesktop and GNOME screensavers."""

    name = "screensaver"

    def match_rules(self) -> list[str]:
        return [
            f"type='signal',interface='{iface}',member='ActiveChanged'" for iface in INTERFACES
        ]

    def handle(self, signal: Signal) -> None:
        if signal.interface in INTERFACES and signal.member == "ActiveChanged" and signal.body:
            self.emit_lock(bool(signal.body[0]))
