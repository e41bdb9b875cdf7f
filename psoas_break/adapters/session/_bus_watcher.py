"""Base of the session watchers that listen on a D-Bus bus (logind, screensaver).

The bus work is psoas_break.adapters.dbus's: the watcher's subscriptions live on the process's
shared connection to its bus, whose receiver thread ("psoas-dbus-session" or
"psoas-dbus-system") runs the callbacks, puts the rules back after the bus restarts and costs
no wakeups while the bus is quiet. A callback that raises is logged there.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from psoas_break.adapters.dbus import Bus


class BusWatcher:
    """A SessionWatcher over one bus; subclasses set `name` and `kind` and subscribe in
    `listen(bus)`. `on_lock`/`on_sleep` are called from the bus's receiver thread."""

    name = "dbus"
    kind = "session"

    def __init__(self, address: str) -> None:
        self.address = address
        self.on_lock: Callable[[bool], None] = lambda _value: None
        self.on_sleep: Callable[[bool], None] = lambda _value: None
        self._bus: Bus | None = None
        self._not_started = threading.Event()

    @property
    def connected(self) -> threading.Event:
        """Set while the match rules are in place and signals are being received."""
        bus = self._bus
        return self._not_started if bus is None else bus.connected

    def listen(self, bus: Bus) -> None:
        """Subscribe to what this watcher needs (called once, by `start`)."""

    def start(self, on_lock: Callable[[bool], None], on_sleep: Callable[[bool], None]) -> None:
        """Start listening; connecting happens in the background. Raises RuntimeError when
        already started."""
        if self._bus is not None:
            raise RuntimeError(f"{self.name} watcher already started")
        self.on_lock, self.on_sleep = on_lock, on_sleep
        self._bus = Bus(self.address, kind=self.kind)
        self.listen(self._bus)

    def stop(self) -> None:
        """Stop listening (the connection closes when nothing else uses it). Idempotent."""
        bus, self._bus = self._bus, None
        if bus is not None:
            bus.close()
