"""A synchronous session-bus connection for short calls (jeepney's blocking I/O, pure Python).

Used by the Mutter and ScreenSaver idle sources, the notifications-inhibited quiet detector and
the tray's StatusNotifierWatcher check. Why synchronous: an idle poll happens on the engine
thread once per poll interval; a blocking call with a 1 s timeout is simpler and cheaper than
an event loop or a receive thread. Why jeepney and not Debian's dbus-python: the app already
loads jeepney for its session watchers and notifier, and `import dbus` alone costs ~1.3 MiB RSS
plus libdbus in a tray app whose idle footprint matters (tests/test_no_dbus_python.py checks
that none of these users loads it). jeepney never autolaunches a bus through X11 either.

One connection is kept open for the life of the owner (no reconnect per poll); nothing else
reads it, so messages that are not replies to our calls (NameAcquired, late replies after a
timeout) are read and dropped by the next call. A dropped bus only makes calls fail with
`...Error.Disconnected` and the connection is opened again on a later call (at most one
attempt per `reconnect_every_s`).

Time limits: connecting (socket, authentication and Hello) is bounded by `connect_timeout_s`;
each call, including a reconnect it makes, by its `timeout_s` (jeepney's own
`open_dbus_connection` puts no limit on Hello, hence `_BoundedConnection`). A call that gets
no answer in time fails with `org.freedesktop.DBus.Error.NoReply`, as libdbus names it, and
keeps the connection. Known limit (jeepney): only unix: bus addresses (no tcp:).

Replies: the body as a tuple with variants unwrapped to their values at every depth, as
dbus-python returned them (jeepney gives (signature, value) pairs); arrays are lists, dicts are
dicts, structs are tuples, `ay` is bytes.

Contract: `SyncBus.open(env)` raises `Unavailable`; `SyncBus.call(...)` returns the reply
body as a tuple, raises `CallFailed` (with the D-Bus error name) and never blocks much longer
than `timeout_s`. Thread-safe: calls are serialised by a lock.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import threading
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from psoas_break.ports import Unavailable

if TYPE_CHECKING:
    import socket

    from jeepney.io.blocking import DBusConnection

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT_S = 1.0
DEFAULT_CONNECT_TIMEOUT_S = 2.0
ERROR_NO_REPLY = "org.freedesktop.DBus.Error.NoReply"
ERROR_DISCONNECTED = "org.freedesktop.DBus.Error.Disconnected"


class CallFailed(Exception):
    """A D-Bus call failed; `name` is the D-Bus error name ("" when not a D-Bus error)."""

    def __init__(self, name: str, text: str) -> None:
        super().__init__(f"{name}: {text}" if name else text)
        self.name = name


def session_bus_address(env: Mapping[str, str]) -> str | None:
    """The session bus address from `env`, or systemd's per-user socket, or None.

    Never None-then-autolaunch: with DISPLAY set and no address, libdbus would start a bus
    through X11 and leave it running (callers must not hand None to libdbus).
    """
    address = env.get("DBUS_SESSION_BUS_ADDRESS")
    if address:
        return address
    runtime = env.get("XDG_RUNTIME_DIR")
    if runtime and os.path.exists(os.path.join(runtime, "bus")):
        return f"unix:path={os.path.join(runtime, 'bus')}"
    return None


# ---- reply bodies: jeepney's variants -> plain values ---------------------------------------


def _type_end(signature: str, start: int) -> int:
    """Index just past the single complete type that begins at `start`."""
    code = signature[start]
    if code == "a":
        return _type_end(signature, start + 1)
    if code in "({":
        depth = 0
        for index in range(start, len(signature)):
            if signature[index] in "({":
                depth += 1
            elif signature[index] in ")}":
                depth -= 1
                if depth == 0:
                    return index + 1
        raise ValueError(f"unbalanced D-Bus signature {signature!r}")
    return start + 1


def _single_types(signature: str) -> list[str]:
    """Split a signature into its complete types: "sa{sv}(ii)" -> ["s", "a{sv}", "(ii)"]."""
    types: list[str] = []
    start = 0
    while start < len(signature):
        end = _type_end(signature, start)
        types.append(signature[start:end])
        start = end
    return types


def _plain(signature: str, value: Any) -> Any:
    """`value` of the single type `signature` with every variant replaced by its value."""
    code = signature[0]
    if code == "v":
        inner_signature, inner = value
        return _plain(inner_signature, inner)
    if "v" not in signature:
        return value
    if code == "a":
        element = signature[1:]
        if element[0] == "{":
            _key, value_signature = _single_types(element[1:-1])
            return {key: _plain(value_signature, item) for key, item in value.items()}
        return [_plain(element, item) for item in value]
    if code == "(":
        fields = _single_types(signature[1:-1])
        return tuple(_plain(sig, item) for sig, item in zip(fields, value, strict=True))
    return value


def plain_body(signature: str, body: tuple[Any, ...]) -> tuple[Any, ...]:
    """A reply body as dbus-python gave it: variants unwrapped at every depth (see module)."""
    if "v" not in signature:
        return tuple(body)
    return tuple(
        _plain(sig, item) for sig, item in zip(_single_types(signature), body, strict=True)
    )


# ---- the connection --------------------------------------------------------------------------


@functools.cache
def _connection_class() -> type[DBusConnection]:
    """jeepney's blocking connection with a time limit on Hello and on sending.

    Imported lazily: `session_bus_address` must stay importable without jeepney (the session
    factory reports a missing jeepney itself).
    """
    from jeepney.io.blocking import DBusConnection

    class _BoundedConnection(DBusConnection):
        # DBusConnection.__init__ says Hello with no time limit: a bus daemon that accepts the
        # socket but never answers would hold the caller forever. Every call this module makes
        # passes its own timeout, so the default below only ever applies to that Hello.
        def __init__(self, sock: socket.socket, hello_timeout_s: float) -> None:
            self.default_timeout_s = hello_timeout_s
            #: Set when a send timed out: part of a message may be on the wire, so the
            #: stream is no longer usable.
            self.send_failed = False
            super().__init__(sock)

        def send(self, message: Any, serial: int | None = None) -> None:
            try:
                super().send(message, serial=serial)
            except OSError:
                self.send_failed = True
                raise

        def send_and_get_reply(self, message: Any, *, timeout: float | None = None) -> Any:
            # sendall() on a blocking socket waits as long as the daemon does not read; a
            # socket timeout bounds it (jeepney's receive has its own deadline via select()).
            limit_s = self.default_timeout_s if timeout is None else timeout
            self.sock.settimeout(max(limit_s, 0.001))
            return super().send_and_get_reply(message, timeout=limit_s)

    return _BoundedConnection


def _open_connection(address: str, timeout_s: float) -> DBusConnection:
    """Connect, authenticate and say Hello to the bus at `address`, within `timeout_s`.

    Each unix: entry of a ';'-separated address is tried in turn. Raises Unavailable with the
    reason of the last failure.
    """
    try:
        from jeepney.bus import get_connectable_addresses
        from jeepney.io.blocking import prep_socket
    except ImportError as exc:
        raise Unavailable(
            f"cannot import jeepney ({exc}); install it: pip install 'jeepney>=0.8'"
        ) from None
    connection_class = _connection_class()
    deadline_s = time.monotonic() + timeout_s
    last: Exception = RuntimeError(f"no D-Bus address in {address!r}")
    try:
        for entry in get_connectable_addresses(address):
            sock = None
            try:
                sock = prep_socket(entry, timeout=max(deadline_s - time.monotonic(), 0.001))
                return connection_class(sock, max(deadline_s - time.monotonic(), 0.001))
            except Exception as exc:  # noqa: BLE001 - the next entry may work; reported below
                if sock is not None:
                    with contextlib.suppress(OSError):
                        sock.close()
                last = exc
    except (RuntimeError, ValueError) as exc:  # jeepney: no unix: entry, or a malformed one
        last = exc
    if isinstance(last, TimeoutError):
        raise Unavailable(
            f"cannot connect to the session bus (no answer within {timeout_s:g} s)"
        ) from None
    raise Unavailable(f"cannot connect to the session bus ({last})") from None


class SyncBus:
    """One private connection to a bus, used synchronously; reconnects lazily after a loss."""

    def __init__(
        self,
        address: str,
        reconnect_every_s: float = 60.0,
        connect_timeout_s: float = DEFAULT_CONNECT_TIMEOUT_S,
    ) -> None:
        self.address = address
        self._reconnect_every_s = reconnect_every_s
        self._connect_timeout_s = connect_timeout_s
        self._lock = threading.Lock()
        self._conn: Any = None
        self._last_attempt_s = 0.0
        self._closed = False

    @classmethod
    def open(
        cls,
        env: Mapping[str, str],
        reconnect_every_s: float = 60.0,
        connect_timeout_s: float = DEFAULT_CONNECT_TIMEOUT_S,
    ) -> SyncBus:
        """Connect to the session bus named by `env`; raises Unavailable with a reason."""
        address = session_bus_address(env)
        if address is None:
            raise Unavailable("no D-Bus session bus (DBUS_SESSION_BUS_ADDRESS is not set)")
        bus = cls(address, reconnect_every_s, connect_timeout_s)
        with bus._lock:
            bus._connect(connect_timeout_s)
        return bus

    def _connect(self, timeout_s: float) -> None:
        self._last_attempt_s = time.monotonic()
        self._conn = None
        self._conn = _open_connection(self.address, timeout_s)

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
        from jeepney import DBusAddress, HeaderFields, MessageType, new_method_call

        started_s = time.monotonic()
        msg = new_method_call(DBusAddress(path, destination, interface), member, signature, args)
        with self._lock:
            if self._closed:
                raise CallFailed("", "the connection is closed")
            if self._conn is None:
                if time.monotonic() - self._last_attempt_s < self._reconnect_every_s:
                    raise CallFailed("", "the session bus is gone")
                try:
                    self._connect(min(timeout_s, self._connect_timeout_s))
                except Unavailable as exc:
                    raise CallFailed("", str(exc)) from None
                log.info("reconnected to the session bus")
            conn = self._conn
            remaining_s = max(timeout_s - (time.monotonic() - started_s), 0.001)
            try:
                reply = conn.send_and_get_reply(msg, timeout=remaining_s)
            except TimeoutError:
                if conn.send_failed:
                    self._drop()
                raise CallFailed(
                    ERROR_NO_REPLY, f"no reply to {interface}.{member} within {timeout_s:g} s"
                ) from None
            except OSError as exc:  # end of file, reset, broken pipe: the bus is gone
                self._drop()
                raise CallFailed(ERROR_DISCONNECTED, f"lost the bus connection ({exc})") from None
        fields = reply.header.fields
        if reply.header.message_type is MessageType.error:
            body = reply.body
            text = body[0] if body and isinstance(body[0], str) else ""
            raise CallFailed(str(fields.get(HeaderFields.error_name, "")), text)
        return plain_body(str(fields.get(HeaderFields.signature, "")), tuple(reply.body))

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
