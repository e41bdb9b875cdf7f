"""Base of the D-Bus signal watchers: one plain daemon thread, one blocking jeepney connection.

Why a thread: the tray's GTK main loop owns the main thread, and the engine thread must never
wait on the bus. Why jeepney's blocking I/O and not asyncio: an idle tray app must stay small,
and (measured) `import asyncio` alone adds ~9 MiB RSS (it pulls in ssl/OpenSSL) and dbus-fast
~3 MiB more, while jeepney is pure Python (~0.3 MiB) and its blocking module needs no loop.
Nothing here may import asyncio or dbus_fast (tests/test_session_watch.py checks).

Waiting: the thread blocks in select() on the bus socket with no timeout, so a quiet session
costs no wake-ups at all. `stop()` wakes it at once by shutting the socket down (the blocked
read then sees end-of-file), instead of a receive timeout that would wake every watcher once
per timeout for nothing. Method calls made on the thread (AddMatch, logind look-ups) have a
CALL_TIMEOUT_S limit; signals that arrive while one waits for its reply are kept, in order.

Resilience: if the bus connection cannot be made or drops, the thread retries with a
backoff (1 s doubling to 60 s) until stopped; a peer service that leaves and comes back needs
nothing (match rules that name a well-known sender follow its current owner), and subclasses
get `on_name_owner(conn, name, new_owner)` to refresh what they derived from the old one.

Contract for subclasses (all hooks run on the watcher thread, as do the callbacks):
`match_rules()` (strings for AddMatch), `watched_names()` (names whose NameOwnerChanged to
report), `on_connected(conn)` (after the rules are added; may use `call`), `handle(signal)`
(every other signal, as a `Signal`). Known limit: jeepney connects over unix: addresses only
(no tcp:), and its Hello after connecting has no time limit (a bus daemon that accepts the
connection but never answers Hello would hold the thread; `probe_names` bounds this with a
helper thread).
"""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from jeepney import DBusAddress, HeaderFields, MatchRule, MessageType, new_method_call
from jeepney.bus_messages import message_bus
from jeepney.io.blocking import DBusConnection, open_dbus_connection

log = logging.getLogger(__name__)

DBUS_NAME = "org.freedesktop.DBus"
DBUS_PATH = "/org/freedesktop/DBus"
CALL_TIMEOUT_S = 2.0
BACKOFF_FIRST_S = 1.0
BACKOFF_MAX_S = 60.0
#: Signals kept while a handler waits for a method reply; a burst beyond this drops the oldest.
SIGNAL_BACKLOG = 256
#: How long `stop()` waits for the thread (it normally ends within milliseconds).
STOP_JOIN_S = 5.0

LockCallback = Callable[[bool], None]
SleepCallback = Callable[[bool], None]

__all__ = [
    "CALL_TIMEOUT_S",
    "CallFailed",
    "DBusSignalWatcher",
    "Signal",
    "call",
    "open_connection",
    "probe_names",
    "variant_value",
]


class CallFailed(Exception):
    """A D-Bus method call was answered with an error; `name` is the D-Bus error name."""

    def __init__(self, name: str, body: Sequence[Any]) -> None:
        super().__init__(f"{name}: {body[0] if body else ''}")
        self.name = name


@dataclass(frozen=True)
class Signal:
    """One received signal, decoupled from jeepney's message type.

    Variants in `body` are jeepney's (signature, value) pairs: see `variant_value`.
    """

    interface: str
    member: str
    path: str
    sender: str
    body: tuple[Any, ...]


def variant_value(variant: Any) -> Any:
    """The value inside a jeepney variant (a (signature, value) pair)."""
    return variant[1] if isinstance(variant, tuple) and len(variant) == 2 else variant


def _noop(_value: bool) -> None:
    return None


def open_connection(address: str, timeout_s: float = CALL_TIMEOUT_S) -> DBusConnection:
    """Connect and authenticate to the bus at `address` (each ';'-separated entry in turn).

    Raises OSError/TimeoutError/RuntimeError (jeepney: unsupported transport) from the last
    entry tried.
    """
    last: Exception = RuntimeError(f"no D-Bus address in {address!r}")
    for entry in (part for part in address.split(";") if part.strip()):
        try:
            return open_dbus_connection(bus=entry, auth_timeout=timeout_s)
        except Exception as exc:  # noqa: BLE001 - the next entry may work; re-raised below
            last = exc
    raise last


def call(
    conn: DBusConnection,
    destination: str,
    path: str,
    interface: str,
    member: str,
    signature: str = "",
    body: tuple[Any, ...] = (),
    timeout_s: float = CALL_TIMEOUT_S,
) -> tuple[Any, ...]:
    """Call a method and return the reply body; raises CallFailed, TimeoutError, OSError."""
    msg = new_method_call(DBusAddress(path, destination, interface), member, signature, body)
    reply = conn.send_and_get_reply(msg, timeout=timeout_s)
    if reply.header.message_type is MessageType.error:
        raise CallFailed(str(reply.header.fields.get(HeaderFields.error_name, "")), reply.body)
    return tuple(reply.body)


def _bus_call(conn: DBusConnection, msg: Any) -> tuple[Any, ...]:
    """Send one of jeepney's `message_bus` messages and return its reply body."""
    reply = conn.send_and_get_reply(msg, timeout=CALL_TIMEOUT_S)
    if reply.header.message_type is MessageType.error:
        raise CallFailed(str(reply.header.fields.get(HeaderFields.error_name, "")), reply.body)
    return tuple(reply.body)


def probe_names(address: str, names: Sequence[str], timeout_s: float) -> dict[str, bool]:
    """Connect to the bus at `address` and ask NameHasOwner for each name; raises on failure.

    Never blocks longer than about `timeout_s`: the work runs on a short-lived helper thread
    because jeepney's connect-time Hello has no time limit of its own.
    """
    result: dict[str, Any] = {}

    def run() -> None:
        try:
            with open_connection(address, timeout_s) as conn:
                result["value"] = {
                    name: bool(_bus_call(conn, message_bus.NameHasOwner(name))[0])
                    for name in names
                }
        except BaseException as exc:  # noqa: BLE001 - reported to the caller below
            result["error"] = exc

    thread = threading.Thread(target=run, name="psoas-bus-probe", daemon=True)
    thread.start()
    thread.join(timeout_s + 1.0)
    if "value" in result:
        return dict(result["value"])
    error = result.get("error")
    if error is None or isinstance(error, TimeoutError):
        raise TimeoutError(f"no answer within {timeout_s:g} s")
    raise error


class DBusSignalWatcher:
    """A SessionWatcher skeleton over one bus (see module docstring)."""

    name = "dbus"

    def __init__(self, address: str) -> None:
        self.address = address
        self.on_lock: LockCallback = _noop
        self.on_sleep: SleepCallback = _noop
        #: Set while the match rules are in place and signals are being received.
        self.connected = threading.Event()
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        # Guards `_conn` so stop() never shuts down a socket the thread has already closed.
        self._conn_lock = threading.Lock()
        self._conn: DBusConnection | None = None

    # -- subclass hooks ----------------------------------------------------------------------

    def match_rules(self) -> list[str]:
        return []

    def watched_names(self) -> tuple[str, ...]:
        return ()

    def on_connected(self, conn: DBusConnection) -> None:
        return None

    def on_name_owner(self, conn: DBusConnection, name: str, new_owner: str) -> None:
        return None

    def handle(self, signal: Signal) -> None:
        return None

    # -- helpers for subclasses ------------------------------------------------------------

    def emit_lock(self, locked: bool) -> None:
        try:
            self.on_lock(locked)
        except Exception:
            log.exception("%s: the lock callback failed", self.name)

    def emit_sleep(self, sleeping: bool) -> None:
        try:
            self.on_sleep(sleeping)
        except Exception:
            log.exception("%s: the sleep callback failed", self.name)

    @staticmethod
    def add_match(conn: DBusConnection, rule: str) -> None:
        """Ask the bus daemon to route signals matching `rule` here (raises CallFailed)."""
        _bus_call(conn, message_bus.AddMatch(rule))

    @staticmethod
    def remove_match(conn: DBusConnection, rule: str) -> None:
        """Undo add_match; failures are ignored (the rule dies with the connection anyway)."""
        with contextlib.suppress(Exception):
            _bus_call(conn, message_bus.RemoveMatch(rule))

    # -- SessionWatcher ----------------------------------------------------------------------

    def start(self, on_lock: LockCallback, on_sleep: SleepCallback) -> None:
        """Start listening on a daemon thread; callbacks run on that thread."""
        if self._thread is not None:
            raise RuntimeError(f"{self.name} watcher already started")
        self.on_lock = on_lock
        self.on_sleep = on_sleep
        self._stopping.clear()
        self._thread = threading.Thread(
            target=self._run, name=f"psoas-{self.name}-watch", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        """Stop listening and join the thread (at once, or at most STOP_JOIN_S). Idempotent."""
        thread = self._thread
        if thread is None:
            return
        self._stopping.set()
        with self._conn_lock:
            if self._conn is not None:
                # Wakes the thread blocked in select()/recv(): it reads end-of-file.
                with contextlib.suppress(OSError):
                    self._conn.sock.shutdown(socket.SHUT_RDWR)
        thread.join(STOP_JOIN_S)
        if thread.is_alive():
            log.warning("%s watcher thread did not stop in time", self.name)
        self._thread = None

    # -- the thread --------------------------------------------------------------------------

    def _run(self) -> None:
        try:
            self._main()
        except Exception:
            log.exception("%s watcher stopped by an error", self.name)
        finally:
            self.connected.clear()

    def _main(self) -> None:
        backoff_s = BACKOFF_FIRST_S
        warned = False
        while not self._stopping.is_set():
            try:
                conn = open_connection(self.address)
            except Exception as exc:
                level = logging.DEBUG if warned else logging.WARNING
                log.log(level, "%s: cannot connect to %s (%s); retrying", self.name,
                        self.address, exc)
                warned = True
                self._stopping.wait(backoff_s)
                backoff_s = min(BACKOFF_MAX_S, backoff_s * 2)
                continue
            with self._conn_lock:
                if self._stopping.is_set():
                    conn.close()
                    return
                self._conn = conn
            warned = False
            backoff_s = BACKOFF_FIRST_S
            try:
                self._serve(conn)
            except Exception as exc:
                if not self._stopping.is_set():
                    log.debug("%s: bus connection ended (%r)", self.name, exc)
            finally:
                self.connected.clear()
                with self._conn_lock:
                    self._conn = None
                    conn.close()
            if not self._stopping.is_set():
                log.warning("%s: lost the bus connection; reconnecting", self.name)
                self._stopping.wait(backoff_s)

    def _serve(self, conn: DBusConnection) -> None:
        """Add the match rules, then dispatch signals until stopped; raises when the bus drops."""
        signals: deque[Any] = deque(maxlen=SIGNAL_BACKLOG)
        # One local filter for every signal: replies to our calls never enter the queue, and
        # signals that arrive while a call waits for its reply are queued, not lost.
        with conn.filter(MatchRule(type="signal"), queue=signals):
            rules = list(self.match_rules())
            for name in self.watched_names():
                rules.append(
                    f"type='signal',sender='{DBUS_NAME}',interface='{DBUS_NAME}',"
                    f"member='NameOwnerChanged',arg0='{name}'"
                )
            try:
                for rule in rules:
                    self.add_match(conn, rule)
                self.on_connected(conn)
            except Exception as exc:
                if not self._stopping.is_set():
                    log.warning("%s: setting up the signal watch failed (%s)", self.name, exc)
                return
            self.connected.set()
            while not self._stopping.is_set():
                self._dispatch(conn, conn.recv_until_filtered(signals))

    def _dispatch(self, conn: DBusConnection, msg: Any) -> None:
        fields = msg.header.fields
        signal = Signal(
            interface=str(fields.get(HeaderFields.interface, "")),
            member=str(fields.get(HeaderFields.member, "")),
            path=str(fields.get(HeaderFields.path, "")),
            sender=str(fields.get(HeaderFields.sender, "")),
            body=tuple(msg.body),
        )
        try:
            if (
                signal.member == "NameOwnerChanged"
                and signal.interface == DBUS_NAME
                and len(signal.body) == 3
                and signal.body[0] in self.watched_names()
            ):
                self.on_name_owner(conn, str(signal.body[0]), str(signal.body[2]))
            else:
                self.handle(signal)
        except ConnectionError:
            raise  # the connection is gone (or stop() shut it down): let _main decide
        except Exception:
            log.exception("%s: handling %s.%s failed", self.name, signal.interface,
                          signal.member)
