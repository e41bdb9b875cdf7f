"""A synchronous session-bus connection for idle polls (Debian's python3-dbus, libdbus).

Why synchronous: an idle poll happens on the engine thread once per poll interval; a blocking
call with a 1 s timeout is simpler and cheaper than an event loop. Why a private connection
with no main loop: nothing else (plyer, GTK) can dispatch on it, and one connection is kept open
for the life of the source (no reconnect per poll). libdbus does not exit the process when a
private connection drops (checked: calls then raise `...Error.Disconnected`), so a lost bus
only makes the source answer None until it reconnects (at most once per `reconnect_every_s`).

Contract: `SyncBus.open(env)` raises `Unavailable`; `SyncBus.call(...)` returns the reply
body as a tuple, raises `CallFailed` (with the D-Bus error name) and never blocks longer than
`timeout_s`.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
from collections.abc import Mapping
from typing import Any

from psoas_break.ports import Unavailable

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT_S = 1.0


class CallFailed(Exception):
    """A D-Bus call failed; `name` is the D-Bus error name ("" when not a D-Bus error)."""

    def __init__(self, name: str, text: str) -> None:
        super().__init__(f"{name}: {text}" if name else text)
        self.name = name


def session_bus_address(env: Mapping[str, str]) -> str | None:
    """The session bus address from `env`, or systemd's per-user socket, or None.

    Never None-then-autolaunch: with DISPLAY set and no address, libdbus would start a bus
    through X11 and leave it running.
    """
    address = env.get("DBUS_SESSION_BUS_ADDRESS")
    if address:
        return address
    runtime = env.get("XDG_RUNTIME_DIR")
    if runtime and os.path.exists(os.path.join(runtime, "bus")):
        return f"unix:path={os.path.join(runtime, 'bus')}"
    return None


def _import_dbus() -> Any:
    try:
        import dbus
        import dbus.bus
        import dbus.mainloop
    except ImportError:
        raise Unavailable(
            "python3-dbus is not installed (Debian/Ubuntu: apt-get install python3-dbus)"
        ) from None
    return dbus


class SyncBus:
    """One private, main-loop-less connection to a bus; reconnects lazily after a loss."""

    def __init__(self, address: str, reconnect_every_s: float = 60.0) -> None:
        self._dbus = _import_dbus()
        self.address = address
        self._reconnect_every_s = reconnect_every_s
        self._lock = threading.Lock()
        self._conn: Any = None
        self._last_attempt_s = 0.0
        self._closed = False

    @classmethod
    def open(cls, env: Mapping[str, str], reconnect_every_s: float = 60.0) -> SyncBus:
        """Connect to the session bus named by `env`; raises Unavailable with a reason."""
        address = session_bus_address(env)
        if address is None:
            raise Unavailable("no D-Bus session bus (DBUS_SESSION_BUS_ADDRESS is not set)")
        bus = cls(address, reconnect_every_s)
        with bus._lock:
            bus._connect()
        return bus

    def _connect(self) -> None:
        self._last_attempt_s = time.monotonic()
        dbus = self._dbus
        try:
            self._conn = dbus.bus.BusConnection(
                self.address, mainloop=dbus.mainloop.NULL_MAIN_LOOP
            )
        except dbus.DBusException as exc:
            self._conn = None
            raise Unavailable(f"cannot connect to the session bus ({exc})") from None

    def call(
        self,
        destination: str,
        path: str,
        interface: str,
        member: str,
        signature: str = "",
        args: tuple[Any, ...] = (),
        timeout_s: float = DEFAULT_TIMEOUT_S,
    ) -> tuple[Any, ...]:
        """Call a method; returns the reply body (a tuple, possibly of one item)."""
        dbus = self._dbus
        with self._lock:
            if self._closed:
                raise CallFailed("", "the connection is closed")
            if self._conn is None:
                if time.monotonic() - self._last_attempt_s < self._reconnect_every_s:
                    raise CallFailed("", "the session bus is gone")
                try:
                    self._connect()
                except Unavailable as exc:
                    raise CallFailed("", str(exc)) from None
                log.info("reconnected to the session bus")
            try:
                reply = self._conn.call_blocking(
                    destination, path, interface, member, signature, args, timeout=timeout_s
                )
            except dbus.DBusException as exc:
                name = exc.get_dbus_name() or ""
                if name == "org.freedesktop.DBus.Error.Disconnected":
                    self._drop()
                raise CallFailed(name, exc.get_dbus_message() or str(exc)) from None
        if isinstance(reply, tuple):
            return reply
        return (reply,) if reply is not None else ()

    def owner_pid(self, name: str) -> int | None:
        """Process id of the connection owning `name`, or None."""
        try:
            (pid,) = self.call(
                "org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus",
                "GetConnectionUnixProcessID", "s", (name,),
            )
        except (CallFailed, ValueError):
            return None
        return int(pid)

    def _drop(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            # Closing a dead connection may complain; it is gone either way.
            with contextlib.suppress(Exception):
                conn.close()

    def close(self) -> None:
        """Close the connection; later calls raise CallFailed."""
        with self._lock:
            self._closed = True
            self._drop()
