"""Idle time from GNOME's Mutter: `org.gnome.Mutter.IdleMonitor.GetIdletime()` (milliseconds).

Works on GNOME on X11 and on Wayland (Mutter sees every input, unlike XScreenSaver under
Wayland). One session-bus call per poll on the shared connection (psoas_break.adapters.dbus).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from psoas_break.adapters.dbus import Bus, CallFailed
from psoas_break.ports import Unavailable

log = logging.getLogger(__name__)

BUS_NAME = "org.gnome.Mutter.IdleMonitor"
OBJECT_PATH = "/org/gnome/Mutter/IdleMonitor/Core"
INTERFACE = "org.gnome.Mutter.IdleMonitor"


class MutterIdleSource:
    """IdleSource over Mutter's IdleMonitor (GetIdletime, ms)."""

    name = "mutter"

    def __init__(self, bus: Bus) -> None:
        self._bus = bus
        self._failing = False

    @classmethod
    def open(cls, env: Mapping[str, str]) -> MutterIdleSource:
        """Connect and make one call; raises Unavailable when Mutter does not answer."""
        bus = Bus.open(env)
        source = cls(bus)
        try:
            source._read_ms()
        except CallFailed as exc:
            bus.close()
            if exc.name == "org.freedesktop.DBus.Error.ServiceUnknown":
                raise Unavailable(f"no {BUS_NAME} on the session bus (not GNOME)") from None
            raise Unavailable(f"{BUS_NAME} did not answer GetIdletime ({exc})") from None
        return source

    def _read_ms(self) -> int:
        (idle_ms,) = self._bus.call(BUS_NAME, OBJECT_PATH, INTERFACE, "GetIdletime")
        return int(idle_ms)

    def idle_seconds(self) -> float | None:
        """Seconds since the last input as Mutter counts it, or None if it does not answer."""
        try:
            idle_ms = self._read_ms()
        except (CallFailed, ValueError) as exc:
            if not self._failing:
                log.warning("Mutter idle monitor did not answer: %s", exc)
            self._failing = True
            return None
        if self._failing:
            log.info("Mutter idle monitor answers again")
            self._failing = False
        return max(0, idle_ms) / 1000.0

    def close(self) -> None:
        """Release the bus connection."""
        self._bus.close()
