"""Screen lock from the screensaver services on the session bus: `ActiveChanged(b)`.

Watched: org.freedesktop.ScreenSaver (KDE's kscreenlocker, xfce4-screensaver, ...) and
org.gnome.ScreenSaver (gnome-shell, gnome-flashback, cinnamon), interface of the same name,
member ActiveChanged, any path (KDE emits it on /ScreenSaver and /org/freedesktop/ScreenSaver
both: the composite's de-duplication absorbs the second). "Active" means the shield is up:
locked, or blanked on the way to locking; either way nobody is at the keyboard.
"""

from __future__ import annotations

from psoas_break.adapters.dbus import Bus, Signal
from psoas_break.adapters.session._bus_watcher import BusWatcher

INTERFACES = ("org.freedesktop.ScreenSaver", "org.gnome.ScreenSaver")


class ScreenSaverWatcher(BusWatcher):
    """SessionWatcher over ActiveChanged from the freedesktop and GNOME screensavers."""

    name = "screensaver"

    def listen(self, bus: Bus) -> None:
        for iface in INTERFACES:
            bus.subscribe(self._active_changed, interface=iface, member="ActiveChanged")

    def _active_changed(self, signal: Signal) -> None:
        if signal.body:
            self.on_lock(bool(signal.body[0]))
