"""The app's one D-Bus layer: calls, signals and exported objects over jeepney.

Why jeepney on a plain thread: pure Python (~0.3 MiB), it only builds and parses messages.
dbus-python loads libdbus and receives signals only through a GLib main loop; asyncio
(dbus-fast) costs ~12 MiB RSS in an idle tray app. Neither is loaded (tests/test_no_dbus_python.py
and tests/test_session_watch.py check fresh processes).

One connection per bus per process, as libdbus' dbus_bus_get and GDBus' g_bus_get: every `Bus`
handle on an address shares one socket and one receiver thread ("psoas-dbus-session",
"psoas-dbus-system"), which ends when the last handle closes (the package's one process-wide
registry, kept for that). The thread alone connects and reads. It blocks in select() with no
timeout, so a quiet bus never wakes it, and jeepney's interrupt pipe stops it at once. It routes
replies, runs callbacks and serves exported objects: callbacks must be short (post to a queue).
A callback may call: the thread then reads the bus itself until its reply; meanwhile only
replies to other threads' calls are handled, the rest waits, so a callback must not call a peer
that first calls us: `call_async` sends and returns, and its answer comes as a callback (the tray
registers with a panel that reads the item's properties before it answers). Of jeepney this
uses the threading connection (its interrupt pipe), authentication, MatchRule and the message
code; not its DBusRouter, whose thread dies with a traceback when the bus drops, never
reconnects, queues signals for yet another thread to read and serves nothing.

Connecting: unix: addresses only (jeepney), never autolaunched; socket, authentication, Hello and
GetId within one timeout. A call with no connection has one attempt made at once, or at most once
per its handle's `reconnect_every_s` (an idle poll must not pay a connect timeout each time).
While anything is subscribed, exported or named, a lost connection comes back by itself (backoff
1 s doubling to 60 s) with its match rules and names; name watchers hear the owner again.

Values: replies, signal bodies and incoming arguments are plain values, variants unwrapped at
every depth (lists, dicts, tuples for structs, bytes for `ay`). Send a variant as jeepney's
(signature, value) pair.

Errors (psoas_break.ports): opening raises `Unavailable` (no address, no jeepney, cannot
connect); a call raises `CallFailed`, a `DeliveryFailed` with the D-Bus error name: the peer's,
`ERROR_NO_REPLY` after the timeout (libdbus' name; the connection stays), or
`ERROR_DISCONNECTED` (no connection, or it broke).
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import logging
import os
import socket
import struct
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

from psoas_break.core.plain_text import one_line
from psoas_break.ports import DeliveryFailed, Unavailable

try:
    from jeepney import (
        DBusAddress,
        HeaderFields,
        MatchRule,
        MessageFlag,
        MessageType,
        new_error,
        new_method_call,
        new_method_return,
        new_signal,
    )
    from jeepney.bus import get_connectable_addresses
    from jeepney.io.blocking import prep_socket
    from jeepney.io.threading import DBusConnection, ReceiveStopped
    from jeepney.low_level import Array, DictEntry, Struct, Variant, parse_signature
except ImportError as exc:  # a Linux-only dependency (pyproject): a BSD may lack it
    JEEPNEY_MISSING: str | None = f"cannot import jeepney ({exc}); pip install 'jeepney>=0.8'"
else:
    JEEPNEY_MISSING = None

log = logging.getLogger(__name__)


def quoteattr(value: str) -> str:
    """`value` as a quoted XML attribute (introspection data). Written here because
    xml.sax.saxutils imports urllib.request, ssl and email: 8 MB more for a tray app at rest."""
    return '"' + (value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
                  .replace('"', "&quot;")) + '"'

DBUS_NAME = "org.freedesktop.DBus"
DBUS_PATH = "/org/freedesktop/DBus"
PROPERTIES_IFACE = "org.freedesktop.DBus.Properties"
DEFAULT_SYSTEM_BUS = "unix:path=/run/dbus/system_bus_socket"
_ERROR = "org.freedesktop.DBus.Error."
ERROR_NO_REPLY = _ERROR + "NoReply"
ERROR_DISCONNECTED = _ERROR + "Disconnected"
ERROR_UNKNOWN_OBJECT = _ERROR + "UnknownObject"
ERROR_UNKNOWN_INTERFACE = _ERROR + "UnknownInterface"
ERROR_UNKNOWN_METHOD = _ERROR + "UnknownMethod"
ERROR_UNKNOWN_PROPERTY = _ERROR + "UnknownProperty"
ERROR_PROPERTY_READ_ONLY = _ERROR + "PropertyReadOnly"
ERROR_INVALID_ARGS = _ERROR + "InvalidArgs"
# Ours: a message our side built that jeepney cannot encode (nothing was sent).
ERROR_UNENCODABLE = "io.github.psoas_break.Error.Unencodable"
PROPERTY_SIGNATURES = {"Get": "ss", "GetAll": "s", "Set": "ssv"}

CALL_TIMEOUT_S = 1.0
CONNECT_TIMEOUT_S = 2.0
SETUP_TIMEOUT_S = 2.0  # each call putting a match rule or a name in place
SEND_TIMEOUT_S = 2.0  # a send that cannot finish (the bus stopped reading) drops the connection
BACKOFF_FIRST_S = 1.0
BACKOFF_MAX_S = 60.0
STOP_JOIN_S = 5.0  # closing the last handle waits this long at most for the thread


class CallFailed(DeliveryFailed):
    """A D-Bus call failed; `name` is the D-Bus error name ("" when it is none).

    An exported method's handler raises it to answer with that error name.
    """

    def __init__(self, name: str, text: str) -> None:
        super().__init__(f"{name}: {text}" if name else text)
        self.name = name
        self.text = text


def session_bus_address(env: Mapping[str, str]) -> str | None:
    """DBUS_SESSION_BUS_ADDRESS, else systemd's $XDG_RUNTIME_DIR/bus if it exists, else None
    (never autolaunch: with DISPLAY set, libdbus would start a bus through X11 and leave it)."""
    runtime = env.get("XDG_RUNTIME_DIR")
    if env.get("DBUS_SESSION_BUS_ADDRESS"):
        return env["DBUS_SESSION_BUS_ADDRESS"]
    if runtime and os.path.exists(os.path.join(runtime, "bus")):
        return f"unix:path={os.path.join(runtime, 'bus')}"
    return None


def system_bus_address(env: Mapping[str, str]) -> str:
    """DBUS_SYSTEM_BUS_ADDRESS, or the standard socket."""
    return env.get("DBUS_SYSTEM_BUS_ADDRESS") or DEFAULT_SYSTEM_BUS


def _plain(kind: Any, value: Any) -> Any:
    """`value`, of jeepney's parsed type `kind`, with every variant replaced by its value."""
    if isinstance(kind, Variant):
        return _plain(parse_signature(list(value[0])), value[1])
    if isinstance(kind, Array) and isinstance(kind.elt_type, DictEntry):
        return {k: _plain(kind.elt_type.fields[1], v) for k, v in value.items()}
    if isinstance(kind, Array) and not isinstance(value, bytes):
        return [_plain(kind.elt_type, v) for v in value]
    if isinstance(kind, Struct):
        return tuple(_plain(f, v) for f, v in zip(kind.fields, value, strict=True))
    return value


def plain_body(signature: str, body: Sequence[Any]) -> tuple[Any, ...]:
    """A message body as plain values: variants unwrapped at every depth."""
    if "v" not in signature:
        return tuple(body)
    return tuple(_plain(parse_signature(list(f"({signature})")), tuple(body)))


def _reply_body(reply: Any) -> tuple[Any, ...]:
    """A reply's body as plain values; an error reply raises CallFailed."""
    fields = reply.header.fields
    if reply.header.message_type is MessageType.error:
        text = reply.body[0] if reply.body and isinstance(reply.body[0], str) else ""
        raise CallFailed(str(fields.get(HeaderFields.error_name, "")), text)
    return plain_body(fields.get(HeaderFields.signature, ""), reply.body)


def _to_bus(member: str, signature: str = "", *args: Any) -> Any:
    """A method call to the bus daemon itself."""
    return new_method_call(DBusAddress(DBUS_PATH, DBUS_NAME, DBUS_NAME), member,
                           signature or None, args)


def _owner_of(reply: Any) -> str:
    """The unique name in a GetNameOwner reply; "" for an error reply (no owner)."""
    return str(reply.body[0]) if reply.header.message_type is MessageType.method_return else ""


def _owner_rule(name: str) -> Any:
    rule = MatchRule(type="signal", sender=DBUS_NAME, interface=DBUS_NAME,
                     member="NameOwnerChanged", path=DBUS_PATH)
    rule.add_arg_condition(0, name)
    return rule


@dataclass(frozen=True)
class Signal:
    """One received signal; `body` holds plain values."""

    sender: str
    path: str
    interface: str
    member: str
    body: tuple[Any, ...]


@dataclass(frozen=True)
class Method:
    """An exported method: `handler(*args)` returns the reply body (a sequence, or None).
    Runs on the receiver thread; raise CallFailed to answer with an error name."""

    in_signature: str
    out_signature: str
    handler: Callable[..., Sequence[Any] | None]


@dataclass(frozen=True)
class Property:
    """A read-only exported property of type `signature`."""

    signature: str
    get: Callable[[], Any]


@dataclass(frozen=True)
class Interface:
    """An interface of an exported object; `signals` maps each signal to its signature."""

    name: str
    methods: Mapping[str, Method] = field(default_factory=dict)
    properties: Mapping[str, Property] = field(default_factory=dict)
    signals: Mapping[str, str] = field(default_factory=dict)


class _Conn:
    """One connection and what belongs to it alone."""

    def __init__(self, jconn: Any, unique_name: str, bus_id: str) -> None:
        self.jconn, self.unique_name, self.bus_id = jconn, unique_name, bus_id
        self.ready = False  # every registration is in place
        self.dead = False  # dropped: no new calls on it
        self.closed = False  # its descriptors are closed: never touch it (set under the lock)
        #: serial -> (future of the reply, whether a thread waits on it, not a callback)
        self.pending: dict[int, tuple[concurrent.futures.Future[Any], bool]] = {}
        self.deferred: deque[Any] = deque()  # read by a callback's call, dispatched after it


class _Subscription:
    """A match rule kept in place on every connection, and its callback."""

    def __init__(self, rule: Any, callback: Callable[[Signal], None],
                 on_added: Callable[[_Link, _Conn], None] | None = None) -> None:
        self.rule, self.callback, self.on_added = rule, callback, on_added
        self.added_on: _Conn | None = None
        # A well-known sender: messages carry the owner's unique name, and on a shared
        # connection another subscriber's wider rule may let in the same signal from anyone,
        # so the owner is tracked (as GDBus does) and checked here too.
        sender = rule.header_fields.get("sender", "")
        self.sender_name = "" if sender.startswith(":") or sender == DBUS_NAME else sender
        self.sender_owner = ""
        self.local = rule
        if self.sender_name:
            self.local = MatchRule(type="signal", **{
                k: v for k, v in rule.header_fields.items() if k != "sender"})
            self.local.arg_conditions = rule.arg_conditions

    def add(self, link: _Link, conn: _Conn) -> None:
        if self.sender_name:
            # Its owner now, then each change: the reply comes before any signal the rule
            # below lets in, and the receiver thread handles both in that order.
            link.setup_call(conn, "AddMatch", "s", _owner_rule(self.sender_name).serialise())
            link.call_on(conn, _to_bus("GetNameOwner", "s", self.sender_name), 0.0, 0.0,
                         self._owner_now)
        link.setup_call(conn, "AddMatch", "s", self.rule.serialise())
        if self.on_added is not None:
            self.on_added(link, conn)

    def _owner_now(self, reply: Any) -> None:
        self.sender_owner = _owner_of(reply)

    def matches(self, msg: Any, sender: str) -> bool:
        return bool(self.local.matches(msg)) and (
            not self.sender_name or sender == self.sender_owner)

    def undo(self) -> list[Any]:
        rules = [self.rule] + ([_owner_rule(self.sender_name)] if self.sender_name else [])
        return [_to_bus("RemoveMatch", "s", rule.serialise()) for rule in rules]


class _Name:
    """A well-known name requested on every connection (not queued behind another owner)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.added_on: _Conn | None = None

    def add(self, link: _Link, conn: _Conn) -> None:
        (code,) = link.setup_call(conn, "RequestName", "su", self.name, 4)  # DO_NOT_QUEUE
        if code not in (1, 4):  # primary owner, or already it
            log.warning("%s: %s is owned by someone else", link.label, self.name)

    def undo(self) -> list[Any]:
        return [_to_bus("ReleaseName", "s", self.name)]


_Registration = _Subscription | _Name


def _exchange(jconn: Any, msg: Any, deadline_s: float) -> Any:
    """Send on a connection nobody reads yet; its reply (anything before it is dropped)."""
    serial = next(jconn.outgoing_serial)
    jconn.send(msg, serial=serial)
    while True:
        reply = jconn.receive(timeout=max(deadline_s - time.monotonic(), 0.001))
        if reply.header.fields.get(HeaderFields.reply_serial) == serial:
            return reply


def _open(address: str, timeout_s: float, label: str) -> _Conn:
    """Connect, authenticate, Hello and GetId within `timeout_s`, trying each unix: entry of
    the address in turn; raises Unavailable."""
    if JEEPNEY_MISSING:
        raise Unavailable(JEEPNEY_MISSING)
    deadline_s = time.monotonic() + timeout_s
    last: Exception = RuntimeError(f"no D-Bus address in {address!r}")
    try:
        for entry in get_connectable_addresses(address):
            jconn = None
            try:
                sock = prep_socket(entry, timeout=max(deadline_s - time.monotonic(), 0.001))
                sock.settimeout(SEND_TIMEOUT_S)  # reads happen only after select() said so
                jconn = DBusConnection(sock)
                hello = _exchange(jconn, _to_bus("Hello"), deadline_s)
                bus_id = _exchange(jconn, _to_bus("GetId"), deadline_s)
                ok = bus_id.header.message_type is MessageType.method_return
                return _Conn(jconn, str(hello.body[0]),
                             str(bus_id.body[0]) if ok else f"unknown-{id(jconn)}")
            except Exception as exc:  # noqa: BLE001 - the next entry may work; reported below
                if jconn is not None:
                    _close(jconn)
                last = exc
    except (RuntimeError, ValueError) as exc:  # jeepney: no unix: entry, or a malformed one
        last = exc
    if isinstance(last, TimeoutError):
        raise Unavailable(f"cannot connect to the {label} (no answer within {timeout_s:g} s)")
    raise Unavailable(f"cannot connect to the {label} ({last})")


def _close(jconn: Any) -> None:
    """Close a jeepney connection and its interrupt pipe (its own close() leaves that open)."""
    with contextlib.suppress(OSError):
        jconn.close()
    for fd in (getattr(jconn, "_stop_r", None), getattr(jconn, "_stop_w", None)):
        if fd is not None:
            with contextlib.suppress(OSError):
                os.close(fd)


class _Link:
    """The process's connection to one bus address, shared by its `Bus` handles."""

    _registry: ClassVar[dict[str, _Link]] = {}
    _registry_lock: ClassVar[threading.Lock] = threading.Lock()

    def __init__(self, address: str, kind: str) -> None:
        self.address = address
        self.label = f"{kind} bus" if kind in ("session", "system") else "bus"
        self.thread_name = f"psoas-dbus-{kind}"
        self.refs = 0
        self.connected = threading.Event()  # connected, every registration in place
        self.last_attempt_s = float("-inf")
        self._changed = threading.Condition()  # guards the fields below; notified on changes
        self._conn: _Conn | None = None
        self._thread: threading.Thread | None = None
        self._closing = False
        self._urgent_timeout_s = 0.0  # > 0: a caller waits for an attempt now
        self._attempts = 0
        self._last_error = ""
        self._wake = threading.Event()  # cuts a backoff wait short
        self._registrations: list[_Registration] = []
        self._exports: dict[str, dict[str, Interface]] = {}

    @classmethod
    def acquire(cls, address: str, kind: str) -> _Link:
        with cls._registry_lock:
            link = cls._registry.setdefault(address, _Link(address, kind))
            link.refs += 1
            return link

    def release(self) -> None:
        with self._registry_lock:
            self.refs -= 1
            if self.refs > 0:
                return
            del self._registry[self.address]
        with self._changed:
            self._closing = True
            if self._conn is not None and not self._conn.closed:
                self._conn.jconn.interrupt()  # its receive() raises ReceiveStopped
            thread = self._thread
            self._changed.notify_all()
        self._wake.set()
        if thread is not None and thread is not threading.current_thread():
            thread.join(STOP_JOIN_S)
            if thread.is_alive():
                log.warning("the %s thread did not stop in time", self.label)

    def _live(self) -> _Conn | None:
        conn = self._conn
        return conn if conn is not None and conn.ready and not conn.dead else None

    def _start_thread(self) -> None:
        """Start the receiver thread unless it runs (with `_changed` held)."""
        if self._thread is None and not self._closing:
            self._thread = threading.Thread(target=self._run, name=self.thread_name,
                                            daemon=True)
            self._thread.start()

    # -- calling -----------------------------------------------------------------------------

    def ensure(self, timeout_s: float, reconnect_every_s: float = 0.0) -> _Conn:
        """The ready connection; without one, an attempt now (waiting `timeout_s` at most)
        unless one began less than `reconnect_every_s` ago. Raises Unavailable."""
        with self._changed:
            if (conn := self._live()) is not None:
                return conn
            if threading.current_thread() is self._thread:
                raise Unavailable(f"not connected to the {self.label}")
            if time.monotonic() - self.last_attempt_s < reconnect_every_s:
                raise Unavailable(f"the {self.label} is gone (trying again later)")
            target = self._attempts + 1
            self._urgent_timeout_s = max(min(timeout_s, CONNECT_TIMEOUT_S), 0.001)
            self._start_thread()
            self._wake.set()
            done = self._changed.wait_for(
                lambda: self._live() or self._attempts >= target or self._closing, timeout_s)
            if (conn := self._live()) is not None:
                return conn
            if not done:
                raise Unavailable(f"cannot connect to the {self.label} "
                                  f"(no answer within {timeout_s:g} s)")
            raise Unavailable(self._last_error or f"the {self.label} connection is closed")

    def call(self, msg: Any, timeout_s: float, reconnect_every_s: float = 0.0,
             bus_id: str | None = None) -> Any:
        """Send a method call; its reply message (a return or an error). CallFailed when no
        reply comes, or on a connection to another bus instance than `bus_id`."""
        deadline_s = time.monotonic() + timeout_s
        try:
            conn = self.ensure(timeout_s, reconnect_every_s)
        except Unavailable as exc:
            raise CallFailed(ERROR_DISCONNECTED, str(exc)) from None
        if bus_id is not None and conn.bus_id != bus_id:
            raise CallFailed(ERROR_DISCONNECTED, f"the {self.label} restarted")
        return self.call_on(conn, msg, deadline_s, timeout_s)

    def setup_call(self, conn: _Conn, member: str, signature: str, *args: Any
                   ) -> tuple[Any, ...]:
        """Call the bus daemon on `conn`, being set up; the reply body."""
        msg = _to_bus(member, signature, *args)
        return _reply_body(self.call_on(conn, msg, time.monotonic() + SETUP_TIMEOUT_S,
                                        SETUP_TIMEOUT_S))

    def call_on(self, conn: _Conn, msg: Any, deadline_s: float, timeout_s: float,
                on_reply: Callable[[Any], None] | None = None) -> Any:
        """Send on `conn`; the reply by `deadline_s`, or with `on_reply`, return at once and
        hand the reply to `on_reply` on the receiver thread (never when the connection ends)."""
        serial = next(conn.jconn.outgoing_serial)
        future: concurrent.futures.Future[Any] = concurrent.futures.Future()
        if on_reply is not None:
            future.add_done_callback(
                lambda f: None if f.exception() else self._callback(on_reply, f.result()))
        with self._changed:
            conn.pending[serial] = (future, on_reply is None)
        sent = False
        try:
            self.send(conn, msg, serial)
            sent = True
            if on_reply is not None:
                return None
            if threading.current_thread() is self._thread:
                self._pump(conn, future, deadline_s)
            return future.result(timeout=max(deadline_s - time.monotonic(), 0.0))
        except concurrent.futures.TimeoutError:
            fields = msg.header.fields
            raise CallFailed(ERROR_NO_REPLY, f"no reply to {fields.get(HeaderFields.interface)}"
                             f".{fields.get(HeaderFields.member)} within {timeout_s:g} s"
                             ) from None
        except ConnectionError as exc:
            raise CallFailed(ERROR_DISCONNECTED, str(exc)) from None
        finally:
            if on_reply is None or not sent:  # an async call's entry waits for its reply
                with self._changed:
                    conn.pending.pop(serial, None)

    def send(self, conn: _Conn, msg: Any, serial: int | None = None) -> None:
        """Send on `conn`; a failed send drops it (part of a message may be on the wire).

        A message that cannot be encoded (a body that does not match its signature, a lone
        surrogate in a string) raises CallFailed(ERROR_UNENCODABLE) and keeps the connection:
        jeepney encodes the whole message before it writes a byte."""
        try:
            conn.jconn.send(msg, serial=serial)
        except OSError as exc:
            self._drop(conn)
            raise CallFailed(ERROR_DISCONNECTED, f"lost the {self.label} connection ({exc})"
                             ) from None
        except (TypeError, ValueError, struct.error) as exc:
            # jeepney puts the value in its message: bounded, one line.
            raise CallFailed(ERROR_UNENCODABLE, one_line(
                f"cannot encode the message ({type(exc).__name__}: {exc})", 200)) from None

    def _pump(self, conn: _Conn, future: concurrent.futures.Future[Any],
              deadline_s: float) -> None:
        """On the receiver thread (a callback's call): read until `future` has its reply."""
        while not future.done() and (left_s := deadline_s - time.monotonic()) > 0:
            try:
                msg = conn.jconn.receive(timeout=left_s)
            except TimeoutError:
                return
            except (OSError, ReceiveStopped) as exc:  # the receive loop meets it again
                raise ConnectionError(f"lost the {self.label} connection ({exc!r})") from None
            entry = conn.pending.get(msg.header.fields.get(HeaderFields.reply_serial, -1))
            if entry is not None and entry[1]:
                self._dispatch(conn, msg)  # a reply a thread waits for: no callback runs
            else:
                conn.deferred.append(msg)

    # -- registrations and exports ------------------------------------------------------------

    def _wanted(self) -> bool:
        """Whether a lost connection must come back without waiting for a call."""
        return bool(self._registrations or self._exports)

    def register(self, reg: _Registration) -> None:
        """Keep `reg` in place on every connection from now on (at once if connected)."""
        with self._changed:
            self._registrations.append(reg)
            if (conn := self._live()) is not None:
                reg.added_on = conn
            elif self._conn is None:
                self._start_thread()
        if conn is not None:
            self._add(reg, conn)

    def unregister(self, reg: _Registration) -> None:
        with self._changed:
            if reg not in self._registrations:
                return
            self._registrations.remove(reg)
            conn = reg.added_on if reg.added_on is self._conn else None
        if conn is None:
            return
        for msg in reg.undo():
            msg.header.flags |= MessageFlag.no_reply_expected
            with contextlib.suppress(CallFailed):
                self.send(conn, msg)

    def export(self, path: str, interfaces: Iterable[Interface] | None) -> None:
        """Serve `interfaces` at `path` (None: stop serving it)."""
        with self._changed:
            if interfaces is None:
                self._exports.pop(path, None)
            else:
                self._exports[path] = {i.name: i for i in interfaces}
                if self._conn is None:
                    self._start_thread()

    def _put_in_place(self, conn: _Conn) -> None:
        """Add every registration not yet on `conn` until none is left; then it is ready."""
        while True:
            with self._changed:
                todo = [r for r in self._registrations if r.added_on is not conn]
                for reg in todo:
                    reg.added_on = conn
                if not todo:
                    conn.ready = not conn.dead
                    return
            for reg in todo:
                if not self._add(reg, conn):
                    return

    def _add(self, reg: _Registration, conn: _Conn) -> bool:
        """Put `reg` in place on `conn`; False when that failed and dropped the connection."""
        try:
            reg.add(self, conn)
            return True
        except CallFailed as exc:
            if exc.name not in (ERROR_DISCONNECTED, ERROR_NO_REPLY):  # the peer said no
                log.warning("%s: %s not put in place (%s)", self.label, reg, exc)
                return True
            # Gone, or too slow to trust: the next connection puts everything in place.
            log.warning("%s: setting up the connection failed (%s)", self.label, exc)
            self._drop(conn)
            return False

    # -- the receiver thread -------------------------------------------------------------------

    def _run(self) -> None:
        delay_s, warned = 0.0, False
        while True:
            with self._changed:
                timeout_s, self._urgent_timeout_s = self._urgent_timeout_s, 0.0
                if self._closing or not (timeout_s or self._wanted()):
                    self._thread = None
                    return
            if delay_s and not timeout_s and self._wake.wait(delay_s):
                self._wake.clear()  # woken by a caller or by closing: look again
                continue
            self._wake.clear()
            self.last_attempt_s = time.monotonic()
            try:
                conn = _open(self.address, timeout_s or CONNECT_TIMEOUT_S, self.label)
            except Unavailable as exc:
                self._attempted(str(exc))  # a caller waiting for it reports it
                log.log(logging.DEBUG if warned or timeout_s else logging.WARNING, "%s", exc)
                delay_s, warned = min(BACKOFF_MAX_S, max(BACKOFF_FIRST_S, 2 * delay_s)), True
                continue
            with self._changed:
                if self._closing:
                    _close(conn.jconn)
                    continue
                self._conn = conn
            self._put_in_place(conn)
            self._attempted("" if conn.ready else f"setting up the {self.label} failed")
            if conn.ready:
                self.connected.set()
                if warned:
                    log.info("connected to the %s again", self.label)
            reason = self._receive(conn)
            self._end(conn, reason)
            delay_s, warned = BACKOFF_FIRST_S, True

    def _attempted(self, error: str) -> None:
        with self._changed:
            self._attempts += 1
            self._last_error = error
            self._changed.notify_all()

    def _receive(self, conn: _Conn) -> str:
        """Dispatch what arrives on `conn` until it ends; why it ended."""
        try:
            while True:
                self._dispatch(conn, conn.deferred.popleft() if conn.deferred
                               else conn.jconn.receive())
        except ReceiveStopped:
            return "closed"
        except Exception as exc:  # noqa: BLE001 - end of file, reset, garbled stream
            return repr(exc)

    def _drop(self, conn: _Conn) -> None:
        """Stop using `conn` (any thread); the receiver thread then reads its end."""
        with self._changed:
            conn.dead = True
        self.connected.clear()
        with contextlib.suppress(OSError):
            conn.jconn.sock.shutdown(socket.SHUT_RDWR)

    def _end(self, conn: _Conn, reason: str) -> None:
        """After `conn` ended: fail its waiting calls and close it."""
        self.connected.clear()
        with self._changed:
            self._conn = None
            conn.dead = conn.closed = True
            pending, conn.pending = conn.pending, {}
            _close(conn.jconn)
            self._changed.notify_all()
        for future, _waited in pending.values():
            if not future.done():
                future.set_exception(ConnectionError(f"lost the {self.label} connection "
                                                     f"({reason})"))
        if not self._closing:
            log.warning("lost the %s connection (%s)%s", self.label, reason,
                        "; connecting again" if self._wanted() else "")

    def _callback(self, function: Callable[..., None], *args: Any) -> None:
        try:
            function(*args)
        except CallFailed as exc:
            log.warning("%s: a callback's call failed: %s", self.label, exc)
        except Exception:
            log.exception("%s: a callback failed", self.label)

    def _dispatch(self, conn: _Conn, msg: Any) -> None:
        kind, fields = msg.header.message_type, msg.header.fields
        if kind in (MessageType.method_return, MessageType.error):
            with self._changed:
                entry = conn.pending.pop(fields.get(HeaderFields.reply_serial, -1), None)
            if entry is not None and not entry[0].done():
                entry[0].set_result(msg)
        elif kind is MessageType.signal:
            sender = str(fields.get(HeaderFields.sender, ""))
            with self._changed:
                subs = [r for r in self._registrations if isinstance(r, _Subscription)]
            if (sender == DBUS_NAME and fields.get(HeaderFields.member) == "NameOwnerChanged"
                    and len(msg.body) == 3):
                for sub in subs:
                    if sub.sender_name == msg.body[0]:
                        sub.sender_owner = str(msg.body[2])
            matching = [s for s in subs if s.matches(msg, sender)]
            if matching:
                signal = Signal(sender, fields.get(HeaderFields.path, ""),
                                fields.get(HeaderFields.interface, ""),
                                fields.get(HeaderFields.member, ""),
                                plain_body(fields.get(HeaderFields.signature, ""), msg.body))
                for sub in matching:
                    self._callback(sub.callback, signal)
        elif kind is MessageType.method_call:
            reply = self._answer(msg)
            if not msg.header.flags & MessageFlag.no_reply_expected:
                try:
                    self.send(conn, reply)
                except CallFailed as exc:
                    if exc.name != ERROR_UNENCODABLE:
                        return  # the connection went: the receive loop sees it
                    # A bug of ours (a handler's answer does not fit its signature): the
                    # caller gets an error, the connection stays up.
                    log.error("%s: the answer to %s cannot be sent: %s", self.label,
                              msg.header.fields.get(HeaderFields.member), exc.text)
                    with contextlib.suppress(CallFailed):
                        self.send(conn, new_error(msg, _ERROR + "Failed", "s",
                                                  ("the answer could not be encoded",)))

    # -- serving -----------------------------------------------------------------------------

    def _answer(self, msg: Any) -> Any:
        """The reply to a method call made to us."""
        fields = msg.header.fields
        path, member = fields.get(HeaderFields.path, ""), fields.get(HeaderFields.member, "")
        iface, signature = fields.get(HeaderFields.interface), fields.get(
            HeaderFields.signature, "")
        with self._changed:
            interfaces = dict(self._exports.get(path, {}))
            children = {p[len(path):].strip("/").split("/")[0] for p in self._exports
                        if p.startswith(path.rstrip("/") + "/")}
        try:
            args = plain_body(signature, msg.body)
            if (iface, member) == ("org.freedesktop.DBus.Peer", "Ping"):
                return new_method_return(msg)
            if (iface, member) == ("org.freedesktop.DBus.Introspectable", "Introspect"):
                return new_method_return(msg, "s", (_introspect(interfaces, children),))
            if not interfaces:
                raise CallFailed(ERROR_UNKNOWN_OBJECT, f"no object at {path}")
            if iface == PROPERTIES_IFACE:
                wanted = PROPERTY_SIGNATURES.get(member)
                if wanted is None:
                    raise CallFailed(ERROR_UNKNOWN_METHOD,
                                     f"no method {member} on {PROPERTIES_IFACE}")
                if signature != wanted:
                    raise CallFailed(ERROR_INVALID_ARGS,
                                     f"{member} takes ({wanted}), not ({signature})")
                return new_method_return(msg, *_properties(interfaces, member, args))
            if iface is not None and iface not in interfaces:
                raise CallFailed(ERROR_UNKNOWN_INTERFACE, f"no interface {iface} at {path}")
            method = next((i.methods[member] for i in interfaces.values()
                           if member in i.methods and iface in (None, i.name)), None)
            if method is None:
                raise CallFailed(ERROR_UNKNOWN_METHOD, f"no method {member} at {path}")
            if signature != method.in_signature:
                raise CallFailed(ERROR_INVALID_ARGS,
                                 f"{member} takes ({method.in_signature}), not ({signature})")
            out = tuple(method.handler(*args) or ())
            return new_method_return(msg, method.out_signature or None, out)
        except CallFailed as exc:
            return new_error(msg, exc.name or _ERROR + "Failed", "s", (exc.text,))
        except Exception as exc:
            log.exception("%s: answering %s.%s failed", self.label, iface, member)
            return new_error(msg, _ERROR + "Failed", "s", (f"{type(exc).__name__}: {exc}",))


def _properties(interfaces: Mapping[str, Interface], member: str,
                args: tuple[Any, ...]) -> tuple[str, tuple[Any, ...]]:
    """org.freedesktop.DBus.Properties over `interfaces`: (reply signature, reply body)."""
    if member == "GetAll" and args == ("",):  # "" = every interface (hosts differ)
        return "a{sv}", ({n: (p.signature, p.get()) for i in interfaces.values()
                          for n, p in i.properties.items()},)
    iface = interfaces.get(args[0]) if args and isinstance(args[0], str) else None
    if iface is None:
        raise CallFailed(ERROR_UNKNOWN_INTERFACE, f"no interface {args[:1]}")
    if member == "GetAll":
        return "a{sv}", ({n: (p.signature, p.get()) for n, p in iface.properties.items()},)
    prop = iface.properties.get(args[1]) if len(args) > 1 else None
    if prop is None:
        raise CallFailed(ERROR_UNKNOWN_PROPERTY, f"no property {args[1:2]} on {iface.name}")
    if member == "Get":
        return "v", ((prop.signature, prop.get()),)
    if member == "Set":
        raise CallFailed(ERROR_PROPERTY_READ_ONLY, f"{iface.name}.{args[1]} is read-only")
    raise CallFailed(ERROR_UNKNOWN_METHOD, f"no method {member} on {PROPERTIES_IFACE}")


def _introspect(interfaces: Mapping[str, Interface], children: Iterable[str]) -> str:
    """The introspection XML of an object with `interfaces` and child nodes `children`."""
    def args(signature: str, direction: str = "") -> str:
        rest, out = list(signature), []
        while rest:  # one <arg> per complete type; parse_signature consumes one
            before = len(signature) - len(rest)
            parse_signature(rest)
            kind = quoteattr(signature[before:len(signature) - len(rest)])
            out.append(f"<arg type={kind}{direction and ' direction=' + quoteattr(direction)}/>")
        return "".join(out)

    out = ['<!DOCTYPE node PUBLIC "-//freedesktop//DTD D-BUS Object Introspection 1.0//EN" '
           '"http://www.freedesktop.org/standards/dbus/1.0/introspect.dtd"><node>']
    for iface in interfaces.values():
        out.append(f"<interface name={quoteattr(iface.name)}>")
        out += [f"<method name={quoteattr(n)}>{args(m.in_signature, 'in')}"
                f"{args(m.out_signature, 'out')}</method>" for n, m in iface.methods.items()]
        out += [f'<property name={quoteattr(n)} type={quoteattr(p.signature)} access="read"/>'
                for n, p in iface.properties.items()]
        out += [f"<signal name={quoteattr(n)}>{args(s)}</signal>"
                for n, s in iface.signals.items()]
        out.append("</interface>")
    out += [f"<node name={quoteattr(c)}/>" for c in sorted(children) if c]
    return "".join(out) + "</node>"


class Bus:
    """A handle on the process's connection to one bus (see module docstring). Thread-safe.

    `kind` ("session", "system") names it in messages and its thread. `close()` undoes the
    handle's subscriptions, exports and names; the connection closes with the last handle.
    """

    def __init__(self, address: str, *, kind: str = "session",
                 reconnect_every_s: float = 0.0) -> None:
        if JEEPNEY_MISSING:
            raise Unavailable(JEEPNEY_MISSING)
        self.address = address
        self.reconnect_every_s = reconnect_every_s
        self._link = _Link.acquire(address, kind)
        self._lock = threading.Lock()
        self._registrations: list[_Registration] = []
        self._paths: set[str] = set()
        self._closed = False

    @classmethod
    def open(cls, env: Mapping[str, str], kind: str = "session", *,
             connect_timeout_s: float = CONNECT_TIMEOUT_S,
             reconnect_every_s: float = 60.0) -> Bus:
        """A connected handle on the `kind` bus named by `env`; raises Unavailable."""
        address = session_bus_address(env) if kind == "session" else system_bus_address(env)
        if address is None:
            raise Unavailable("no D-Bus session bus (DBUS_SESSION_BUS_ADDRESS is not set)")
        bus = cls(address, kind=kind, reconnect_every_s=reconnect_every_s)
        try:
            bus.connect(connect_timeout_s)
        except BaseException:
            bus.close()
            raise
        return bus

    def connect(self, timeout_s: float = CONNECT_TIMEOUT_S) -> None:
        """Connect now unless connected (waiting `timeout_s` at most); raises Unavailable."""
        self._check_open()
        self._link.ensure(timeout_s)

    @property
    def connected(self) -> threading.Event:
        """Set while connected with every match rule and name in place."""
        return self._link.connected

    @property
    def unique_name(self) -> str:
        """Our unique name on the bus ("" when not connected)."""
        conn = self._link._live()
        return conn.unique_name if conn else ""

    @property
    def bus_id(self) -> str:
        """The id of the bus instance (GetId; "" when not connected): unique names are unique
        only within one, and a restarted bus hands them out again."""
        conn = self._link._live()
        return conn.bus_id if conn else ""

    def _check_open(self) -> None:
        if self._closed:
            raise CallFailed("", "the connection is closed")

    def call(self, destination: str, path: str, interface: str, member: str,
             signature: str = "", args: tuple[Any, ...] = (), timeout_s: float = CALL_TIMEOUT_S,
             *, bus_id: str | None = None) -> tuple[Any, ...]:
        """Call a method; the reply body as plain values. Raises CallFailed, never blocks much
        past `timeout_s` (connecting included). With `bus_id` the call goes out only on a
        connection to that bus instance (for a unique name learnt earlier)."""
        self._check_open()
        msg = new_method_call(DBusAddress(path, destination, interface), member,
                              signature or None, args)
        return _reply_body(self._link.call(msg, timeout_s, self.reconnect_every_s, bus_id))

    def call_async(self, destination: str, path: str, interface: str, member: str,
                   signature: str = "", args: tuple[Any, ...] = (), *,
                   on_reply: Callable[[tuple[Any, ...]], None] | None = None,
                   on_error: Callable[[CallFailed], None] | None = None) -> None:
        """Send a method call and return at once (from any thread, a callback too: nothing
        waits). `on_reply(body)` or `on_error(CallFailed)` runs on the receiver thread when
        the answer comes; neither runs when the connection ends first. Without either, no
        reply is asked for. Raises CallFailed (ERROR_DISCONNECTED) when not connected now."""
        self._check_open()
        conn = self._link._live()
        if conn is None:
            raise CallFailed(ERROR_DISCONNECTED, f"not connected to the {self._link.label}")
        msg = new_method_call(DBusAddress(path, destination, interface), member,
                              signature or None, args)
        if on_reply is None and on_error is None:
            msg.header.flags |= MessageFlag.no_reply_expected
            self._link.send(conn, msg)
            return

        def answered(reply: Any) -> None:
            try:
                body = _reply_body(reply)
            except CallFailed as exc:
                if on_error is not None:
                    on_error(exc)
                return
            if on_reply is not None:
                on_reply(body)

        self._link.call_on(conn, msg, 0.0, 0.0, answered)

    def name_has_owner(self, name: str, timeout_s: float = CALL_TIMEOUT_S) -> bool:
        """Whether someone owns `name` now; raises CallFailed."""
        return bool(self.call(DBUS_NAME, DBUS_PATH, DBUS_NAME, "NameHasOwner", "s", (name,),
                              timeout_s)[0])

    def owner_pid(self, name: str) -> int | None:
        """Process id of the connection owning `name`, or None."""
        try:
            (pid,) = self.call(DBUS_NAME, DBUS_PATH, DBUS_NAME, "GetConnectionUnixProcessID",
                               "s", (name,))
        except (CallFailed, ValueError):
            return None
        return int(pid)

    def subscribe(self, callback: Callable[[Signal], None], *, sender: str | None = None,
                  interface: str | None = None, member: str | None = None,
                  path: str | None = None, arg0: str | None = None) -> object:
        """`callback(signal)` (receiver thread) for each matching signal from now on; a token
        for `unsubscribe`. When connected, returns once the bus daemon has the rule."""
        rule = MatchRule(type="signal", sender=sender, interface=interface, member=member,
                         path=path)
        if arg0 is not None:
            rule.add_arg_condition(0, arg0)
        return self._register(_Subscription(rule, callback))

    def watch_name(self, name: str, callback: Callable[[str], None]) -> object:
        """`callback(owner)` (receiver thread) with the unique name owning `name` ("" for
        none) after each (re)connection and at each change, possibly repeated; a token."""
        query = _to_bus("GetNameOwner", "s", name)
        return self._register(_Subscription(
            _owner_rule(name), lambda signal: callback(str(signal.body[2])),
            lambda link, conn: link.call_on(conn, query, 0.0, 0.0,
                                            lambda reply: callback(_owner_of(reply)))))

    def request_name(self, name: str) -> object:
        """Own `name` on every connection from now on (never queued behind another owner);
        a token for `unsubscribe`. When connected, returns once the bus daemon answered."""
        return self._register(_Name(name))

    def _register(self, reg: _Registration) -> _Registration:
        with self._lock:
            self._check_open()
            self._registrations.append(reg)
        self._link.register(reg)
        return reg

    def unsubscribe(self, token: object) -> None:
        """Undo `subscribe`, `watch_name` or `request_name`."""
        with self._lock:
            if token not in self._registrations:
                return
            self._registrations.remove(token)
        self._link.unregister(token)

    def export(self, path: str, *interfaces: Interface) -> None:
        """Serve `interfaces` at `path` (replacing what was there) with Properties Get/GetAll,
        Introspect and Peer.Ping; handlers run on the receiver thread."""
        with self._lock:
            self._check_open()
            self._paths.add(path)
        self._link.export(path, interfaces)

    def unexport(self, path: str) -> None:
        """Stop serving `path`."""
        with self._lock:
            self._paths.discard(path)
        self._link.export(path, None)

    def emit(self, path: str, interface: str, member: str, signature: str = "",
             args: tuple[Any, ...] = ()) -> None:
        """Emit a signal; dropped when not connected (peers read the state again when we
        come back). Raises CallFailed when sending fails."""
        self._check_open()
        if (conn := self._link._live()) is not None:
            self._link.send(conn, new_signal(DBusAddress(path, interface=interface), member,
                                             signature or None, args))

    def close(self) -> None:
        """Undo this handle's subscriptions, exports and names; release the connection.
        Idempotent."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            registrations, paths = self._registrations, self._paths
        for reg in registrations:
            self._link.unregister(reg)
        for path in paths:
            self._link.export(path, None)
        self._link.release()


def probe_names(address: str, names: Sequence[str], timeout_s: float,
                kind: str = "bus") -> dict[str, bool]:
    """Connect to the bus at `address` and ask NameHasOwner for each name; raises Unavailable
    or CallFailed, and never blocks much longer than `timeout_s` per step."""
    bus = Bus(address, kind=kind)
    try:
        bus.connect(timeout_s)
        return {name: bus.name_has_owner(name, timeout_s) for name in names}
    finally:
        bus.close()
