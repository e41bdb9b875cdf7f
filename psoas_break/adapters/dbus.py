"""The one D-Bus layer of the app: a shared jeepney connection per bus, for calls, signals and
exported objects.

Why jeepney on a plain thread: it is pure Python (~0.3 MiB) and only builds and parses messages.
dbus-python would load libdbus (~1.3 MiB) and receives signals only through a GLib main loop;
asyncio (dbus-fast) costs ~12 MiB RSS in an otherwise idle tray app. Neither is loaded
(tests/test_no_dbus_python.py, tests/test_session_watch.py check in fresh processes).

One connection per bus per process: every `Bus` handle opened on the same address shares one
socket and one receiver thread ("psoas-dbus-session" / "psoas-dbus-system"), as libdbus'
dbus_bus_get and GDBus' g_bus_get share theirs. The idle source, the notifier, the quiet
detector and the screensaver watcher all use the session bus's; the connection closes, and
its thread ends, when the last handle closes. This is the one piece of process-wide state in
the package, and why: each extra connection costs a socket and, before, a thread.

The receiver thread blocks in select() on the socket with no timeout (a quiet bus wakes it
never) and stops at once when the link closes (jeepney's interrupt pipe). It routes replies to
the calls waiting for them, runs signal and name-owner callbacks, and answers method calls to
exported objects. Callbacks run on that thread: keep them short (post to a queue). A callback
may make calls: the thread then reads the bus itself until the reply comes; everything else that
arrives meanwhile waits until the callback returns, except replies to other threads' calls.
So a callback must not call a peer that first has to call us.

Connecting: only unix: addresses (jeepney); never autolaunch (a missing address is Unavailable,
never a bus started through X11). Connecting, authenticating, Hello and GetId are bounded
together by a connect timeout. A call on a lost connection connects again at once, or at most
once per `reconnect_every_s` of its handle (an idle poll on the engine thread must not pay a
connect timeout per poll). While anything is subscribed, exported or named, the receiver thread
itself reconnects after a loss, with a backoff of 1 s doubling to 60 s, and puts the match rules
and names back; name watchers then hear the current owner again.

Values: replies, signal bodies and incoming arguments are plain Python values, variants
unwrapped at every depth (as dbus-python gave them): arrays are lists, dicts dicts, structs
tuples, `ay` bytes. To send a variant, pass jeepney's (signature, value) pair.

Errors (the app's tree, psoas_break.ports): `Bus.open`/`connect` raise `Unavailable` (no bus, no
jeepney, cannot connect); everything a call can meet raises `CallFailed`, a `DeliveryFailed`
carrying the D-Bus error name: the peer's error, `ERROR_NO_REPLY` after the timeout (as libdbus
names it; the connection stays), `ERROR_DISCONNECTED` when there is no connection or it broke.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import logging
import os
import socket
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar
from xml.sax.saxutils import quoteattr

from psoas_break.ports import DeliveryFailed, Unavailable

try:
    from jeepney import (  # type: ignore[import-untyped]
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
    from jeepney.bus import get_connectable_addresses  # type: ignore[import-untyped]
    from jeepney.io.blocking import prep_socket  # type: ignore[import-untyped]
    from jeepney.io.threading import (  # type: ignore[import-untyped]
        DBusConnection,
        ReceiveStopped,
    )
    from jeepney.low_level import (  # type: ignore[import-untyped]
        Array,
        DictEntry,
        Struct,
        Variant,
        parse_signature,
    )
except ImportError as exc:  # jeepney is a Linux-only dependency (pyproject): BSDs may lack it
    JEEPNEY_MISSING: str | None = (
        f"cannot import jeepney ({exc}); install it: pip install 'jeepney>=0.8'"
    )
else:
    JEEPNEY_MISSING = None

log = logging.getLogger(__name__)

DBUS_NAME = "org.freedesktop.DBus"
DBUS_PATH = "/org/freedesktop/DBus"
PROPERTIES_IFACE = "org.freedesktop.DBus.Properties"
INTROSPECTABLE_IFACE = "org.freedesktop.DBus.Introspectable"
PEER_IFACE = "org.freedesktop.DBus.Peer"
DEFAULT_SYSTEM_BUS = "unix:path=/run/dbus/system_bus_socket"

ERROR_NO_REPLY = "org.freedesktop.DBus.Error.NoReply"
ERROR_DISCONNECTED = "org.freedesktop.DBus.Error.Disconnected"
ERROR_SERVICE_UNKNOWN = "org.freedesktop.DBus.Error.ServiceUnknown"
ERROR_NAME_HAS_NO_OWNER = "org.freedesktop.DBus.Error.NameHasNoOwner"
ERROR_UNKNOWN_OBJECT = "org.freedesktop.DBus.Error.UnknownObject"
ERROR_UNKNOWN_INTERFACE = "org.freedesktop.DBus.Error.UnknownInterface"
ERROR_UNKNOWN_METHOD = "org.freedesktop.DBus.Error.UnknownMethod"
ERROR_UNKNOWN_PROPERTY = "org.freedesktop.DBus.Error.UnknownProperty"
ERROR_PROPERTY_READ_ONLY = "org.freedesktop.DBus.Error.PropertyReadOnly"
ERROR_INVALID_ARGS = "org.freedesktop.DBus.Error.InvalidArgs"
ERROR_FAILED = "org.freedesktop.DBus.Error.Failed"

CALL_TIMEOUT_S = 1.0
CONNECT_TIMEOUT_S = 2.0
#: Limit for the calls that put match rules and names in place.
SETUP_TIMEOUT_S = 2.0
#: A send that cannot finish in this time (a bus that stopped reading) drops the connection.
SEND_TIMEOUT_S = 2.0
BACKOFF_FIRST_S = 1.0
BACKOFF_MAX_S = 60.0
#: How long closing the last handle waits for the receiver thread (it ends within ms).
STOP_JOIN_S = 5.0
#: RequestName flag: fail rather than wait in the queue for a name someone else owns.
_DO_NOT_QUEUE = 4


class CallFailed(DeliveryFailed):
    """A D-Bus call failed; `name` is the D-Bus error name ("" when it is not one).

    Raised by an exported method's handler, it becomes the error reply with that name.
    """

    def __init__(self, name: str, text: str) -> None:
        super().__init__(f"{name}: {text}" if name else text)
        self.name = name
        self.text = text


def session_bus_address(env: Mapping[str, str]) -> str | None:
    """DBUS_SESSION_BUS_ADDRESS, or systemd's per-user socket $XDG_RUNTIME_DIR/bus, or None.

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


def system_bus_address(env: Mapping[str, str]) -> str:
    """DBUS_SYSTEM_BUS_ADDRESS, or the standard socket."""
    return env.get("DBUS_SYSTEM_BUS_ADDRESS") or DEFAULT_SYSTEM_BUS


# ---- values: jeepney's variants -> plain values ----------------------------------------------


def _plain(kind: Any, value: Any) -> Any:
    """`value`, of jeepney's parsed type `kind`, with every variant replaced by its value."""
    if isinstance(kind, Variant):
        signature, inner = value
        return _plain(parse_signature(list(signature)), inner)
    if isinstance(kind, Array):
        element = kind.elt_type
        if isinstance(element, DictEntry):
            return {key: _plain(element.fields[1], item) for key, item in value.items()}
        return value if isinstance(value, bytes) else [_plain(element, v) for v in value]
    if isinstance(kind, Struct):
        return tuple(_plain(f, v) for f, v in zip(kind.fields, value, strict=True))
    return value


def plain_body(signature: str, body: Sequence[Any]) -> tuple[Any, ...]:
    """A message body as plain values: variants unwrapped at every depth (see module)."""
    if "v" not in signature:
        return tuple(body)
    return tuple(_plain(parse_signature(list(f"({signature})")), tuple(body)))


def _single_types(signature: str) -> list[str]:
    """Split a signature into its complete types: "sa{sv}(ii)" -> ["s", "a{sv}", "(ii)"]."""
    rest, types = list(signature), []
    while rest:
        before = len(rest)
        parse_signature(rest)  # consumes one complete type
        start = len(signature) - before
        types.append(signature[start:start + before - len(rest)])
    return types


# ---- what a handle can subscribe to and export -------------------------------------------------


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
    """An exported method: `handler(*args)` returns the reply body as a tuple (or None).

    Runs on the receiver thread; raise CallFailed to answer with a D-Bus error name.
    """

    in_signature: str
    out_signature: str
    handler: Callable[..., Sequence[Any] | None]


@dataclass(frozen=True)
class Property:
    """A read-only exported property: `get()` returns its value, of type `signature`."""

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
    """One live connection and what belongs to it alone."""

    def __init__(self, jconn: Any, unique_name: str, bus_id: str) -> None:
        self.jconn = jconn
        self.unique_name = unique_name
        self.bus_id = bus_id
        #: Set once every registration is in place on this connection.
        self.ready = False
        #: serial -> (future of the reply, whether a thread waits on it rather than a callback)
        self.pending: dict[int, tuple[concurrent.futures.Future[Any], bool]] = {}
        #: Messages read by a callback's call, for the receiver loop to dispatch afterwards.
        self.deferred: deque[Any] = deque()


class _Registration:
    """Something to put in place on every connection: a match rule or a requested name."""

    def __init__(self, owner: Bus) -> None:
        self.owner = owner
        self.added_on: _Conn | None = None

    def add(self, link: _Link) -> None:
        raise NotImplementedError

    def remove_message(self) -> Any:
        raise NotImplementedError


class _Subscription(_Registration):
    def __init__(
        self,
        owner: Bus,
        rule: Any,
        callback: Callable[[Signal], None],
        on_added: Callable[[_Link], None] | None = None,
    ) -> None:
        super().__init__(owner)
        self.rule = rule
        self.callback = callback
        self.on_added = on_added
        # A well-known sender is applied by the bus daemon (it alone knows the owner);
        # the local match checks everything else.
        sender = rule.header_fields.get("sender", "")
        self.local = rule
        if sender and not sender.startswith(":") and sender != DBUS_NAME:
            self.local = MatchRule(type="signal", **{
                k: v for k, v in rule.header_fields.items() if k != "sender"})
            self.local.arg_conditions = rule.arg_conditions

    def add(self, link: _Link) -> None:
        link.bus_call(DBUS_NAME, DBUS_PATH, DBUS_NAME, "AddMatch", "s",
                      (self.rule.serialise(),), SETUP_TIMEOUT_S)
        if self.on_added is not None:
            self.on_added(link)

    def remove_message(self) -> Any:
        return new_method_call(DBusAddress(DBUS_PATH, DBUS_NAME, DBUS_NAME), "RemoveMatch",
                               "s", (self.rule.serialise(),))


class _Name(_Registration):
    def __init__(self, owner: Bus, name: str) -> None:
        super().__init__(owner)
        self.name = name
        self.primary = False

    def add(self, link: _Link) -> None:
        (code,) = link.bus_call(DBUS_NAME, DBUS_PATH, DBUS_NAME, "RequestName", "su",
                                (self.name, _DO_NOT_QUEUE), SETUP_TIMEOUT_S)
        self.primary = code in (1, 4)  # primary owner, or already it
        if not self.primary:
            log.warning("%s: the name %s is owned by someone else", link.label, self.name)

    def remove_message(self) -> Any:
        return new_method_call(DBusAddress(DBUS_PATH, DBUS_NAME, DBUS_NAME), "ReleaseName",
                               "s", (self.name,))


# ---- connecting ------------------------------------------------------------------------------


def _exchange(jconn: Any, msg: Any, deadline_s: float) -> Any:
    """Send `msg` on a connection no thread reads yet; return its reply (others are dropped)."""
    serial = next(jconn.outgoing_serial)
    jconn.send(msg, serial=serial)
    while True:
        reply = jconn.receive(timeout=max(deadline_s - time.monotonic(), 0.001))
        if reply.header.fields.get(HeaderFields.reply_serial) == serial:
            return reply


def _open(address: str, timeout_s: float, label: str) -> _Conn:
    """Connect, authenticate, say Hello and ask GetId within `timeout_s`; raises Unavailable.

    Each unix: entry of a ';'-separated address is tried in turn.
    """
    if JEEPNEY_MISSING:
        raise Unavailable(JEEPNEY_MISSING)
    deadline_s = time.monotonic() + timeout_s
    bus = DBusAddress(DBUS_PATH, DBUS_NAME, DBUS_NAME)
    last: Exception = RuntimeError(f"no D-Bus address in {address!r}")
    try:
        for entry in get_connectable_addresses(address):
            jconn = None
            try:
                sock = prep_socket(entry, timeout=max(deadline_s - time.monotonic(), 0.001))
                # Bounds sends (a bus that stops reading); reads happen only after select().
                sock.settimeout(SEND_TIMEOUT_S)
                jconn = DBusConnection(sock)
                hello = _exchange(jconn, new_method_call(bus, "Hello"), deadline_s)
                got_id = _exchange(jconn, new_method_call(bus, "GetId"), deadline_s)
                bus_id = (str(got_id.body[0]) if got_id.header.message_type
                          is MessageType.method_return else f"unknown-{id(jconn)}")
                return _Conn(jconn, str(hello.body[0]), bus_id)
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
    """Close a jeepney threading connection, including its interrupt pipe (which its own
    close() leaves open)."""
    with contextlib.suppress(OSError):
        jconn.close()
    for fd in (getattr(jconn, "_stop_r", None), getattr(jconn, "_stop_w", None)):
        if fd is not None:
            with contextlib.suppress(OSError):
                os.close(fd)


# ---- the shared connection ---------------------------------------------------------------------


class _Link:
    """The process's connection to one bus address, shared by its `Bus` handles."""

    _registry: ClassVar[dict[str, _Link]] = {}
    _registry_lock: ClassVar[threading.Lock] = threading.Lock()

    def __init__(self, address: str, kind: str) -> None:
        self.address = address
        self.label = f"{kind} bus" if kind in ("session", "system") else "bus"
        self.thread_name = f"psoas-dbus-{kind}"
        self.refs = 0
        #: Set while connected with every match rule and name in place.
        self.connected = threading.Event()
        self.last_attempt_s = float("-inf")
        self._lock = threading.Lock()  # guards the fields below
        self._connect_lock = threading.Lock()
        self._conn: _Conn | None = None
        self._thread: threading.Thread | None = None
        self._closing = False
        self._wake = threading.Event()
        self._registrations: list[_Registration] = []
        self._exports: dict[str, dict[str, Interface]] = {}

    @classmethod
    def acquire(cls, address: str, kind: str) -> _Link:
        with cls._registry_lock:
            link = cls._registry.get(address)
            if link is None:
                link = cls._registry[address] = _Link(address, kind)
            link.refs += 1
            return link

    def release(self) -> None:
        with self._registry_lock:
            self.refs -= 1
            if self.refs > 0:
                return
            if self._registry.get(self.address) is self:
                del self._registry[self.address]
        self._shutdown()

    # -- state --------------------------------------------------------------------------------

    @property
    def conn(self) -> _Conn | None:
        with self._lock:
            return self._conn

    def _wanted(self) -> bool:
        """Whether a lost connection must come back without waiting for a call."""
        return bool(self._registrations or self._exports)

    def ensure(self, timeout_s: float, reconnect_every_s: float = 0.0) -> _Conn:
        """The live connection, connecting now if there is none; raises Unavailable."""
        conn = self.conn
        if conn is not None:
            return conn
        if time.monotonic() - self.last_attempt_s < reconnect_every_s:
            raise Unavailable(f"the {self.label} is gone (trying again later)")
        if not self._connect_lock.acquire(timeout=max(timeout_s, 0.001)):
            raise Unavailable(f"cannot connect to the {self.label} (another attempt is slow)")
        try:
            return self.conn or self._connect(timeout_s)
        finally:
            self._connect_lock.release()

    def _start_thread(self) -> None:
        """Start the receiver thread unless it runs (call with `_lock` held)."""
        if self._thread is None and not self._closing:
            self._thread = threading.Thread(target=self._run, name=self.thread_name,
                                            daemon=True)
            self._thread.start()

    def _connect(self, timeout_s: float) -> _Conn:
        """Open a connection, start reading it, and put every registration in place."""
        self.last_attempt_s = time.monotonic()
        conn = _open(self.address, timeout_s, self.label)
        with self._lock:
            if self._closing:
                _close(conn.jconn)
                raise Unavailable(f"the {self.label} connection is closed")
            self._conn = conn
            self._start_thread()
        self._wake.set()  # a receiver thread waiting to retry reads this connection now
        self._put_in_place(conn)
        return conn

    def _put_in_place(self, conn: _Conn) -> None:
        """Add every registration not yet on `conn`, until none is left; then it is ready."""
        while True:
            with self._lock:
                todo = [r for r in self._registrations if r.added_on is not conn]
                if not todo:
                    conn.ready = self._conn is conn
                    break
                for reg in todo:
                    reg.added_on = conn
            for reg in todo:
                self._add(reg, conn)
        if conn.ready:
            self.connected.set()

    def _add(self, reg: _Registration, conn: _Conn) -> None:
        try:
            reg.add(self)
        except CallFailed as exc:
            with self._lock:
                if reg.added_on is conn:
                    reg.added_on = None
            if exc.name == ERROR_DISCONNECTED:
                return  # the next connection puts it in place
            log.warning("%s: %s could not be put in place (%s)", self.label,
                        type(reg).__name__.strip("_").lower(), exc)

    def register(self, reg: _Registration) -> None:
        """Keep `reg` in place on every connection from now on."""
        with self._lock:
            self._registrations.append(reg)
            conn = self._conn
            now = conn is not None and conn.ready
            if now:
                reg.added_on = conn
            elif conn is None:  # nobody connects yet: the receiver thread does, now
                self._start_thread()
        if now and conn is not None:
            self._add(reg, conn)

    def unregister(self, reg: _Registration) -> None:
        with self._lock:
            if reg not in self._registrations:
                return
            self._registrations.remove(reg)
            conn = reg.added_on if reg.added_on is self._conn else None
        if conn is not None:
            msg = reg.remove_message()
            msg.header.flags |= MessageFlag.no_reply_expected
            with contextlib.suppress(CallFailed):
                self.send(conn, msg)

    def export(self, path: str, interfaces: Iterable[Interface]) -> None:
        with self._lock:
            self._exports[path] = {i.name: i for i in interfaces}
            if self._conn is None:
                self._start_thread()

    def unexport(self, path: str) -> None:
        with self._lock:
            self._exports.pop(path, None)

    # -- sending and calling --------------------------------------------------------------------

    def send(self, conn: _Conn, msg: Any, serial: int | None = None) -> None:
        """Send on `conn`; a failed send drops it (part of a message may be on the wire)."""
        try:
            conn.jconn.send(msg, serial=serial)
        except OSError as exc:
            self._drop(conn)
            raise CallFailed(ERROR_DISCONNECTED, f"lost the {self.label} connection ({exc})"
                             ) from None

    def call(self, msg: Any, timeout_s: float, reconnect_every_s: float = 0.0,
             bus_id: str | None = None) -> Any:
        """Send a method call and return the reply message (a return or an error)."""
        deadline_s = time.monotonic() + timeout_s
        try:
            conn = self.ensure(timeout_s, reconnect_every_s)
        except Unavailable as exc:
            raise CallFailed(ERROR_DISCONNECTED, str(exc)) from None
        if bus_id is not None and conn.bus_id != bus_id:
            raise CallFailed(ERROR_DISCONNECTED, f"the {self.label} restarted")
        serial = next(conn.jconn.outgoing_serial)
        future: concurrent.futures.Future[Any] = concurrent.futures.Future()
        here = threading.current_thread() is self._thread
        with self._lock:
            conn.pending[serial] = (future, True)
        try:
            self.send(conn, msg, serial)
            if here:
                self._pump(conn, future, deadline_s)
            return future.result(timeout=max(deadline_s - time.monotonic(), 0.0))
        except concurrent.futures.TimeoutError:
            raise CallFailed(ERROR_NO_REPLY, "no reply to "
                             f"{msg.header.fields.get(HeaderFields.interface, '')}."
                             f"{msg.header.fields.get(HeaderFields.member, '')} within "
                             f"{timeout_s:g} s") from None
        except ConnectionError as exc:
            raise CallFailed(ERROR_DISCONNECTED, str(exc)) from None
        finally:
            with self._lock:
                conn.pending.pop(serial, None)

    def bus_call(self, destination: str, path: str, interface: str, member: str,
                 signature: str, args: tuple[Any, ...], timeout_s: float) -> tuple[Any, ...]:
        """Call a method; the reply body as plain values, or CallFailed."""
        msg = new_method_call(DBusAddress(path, destination, interface), member,
                              signature or None, args)
        return _reply_body(self.call(msg, timeout_s))

    def call_later(self, msg: Any, on_reply: Callable[[Any], None]) -> None:
        """Send a call whose reply goes to `on_reply(message)` on the receiver thread."""
        conn = self.conn
        if conn is None:
            return
        future: concurrent.futures.Future[Any] = concurrent.futures.Future()
        future.add_done_callback(
            lambda f: None if f.exception() else self._callback(on_reply, f.result()))
        serial = next(conn.jconn.outgoing_serial)
        with self._lock:
            conn.pending[serial] = (future, False)
        with contextlib.suppress(CallFailed):
            self.send(conn, msg, serial)

    def _pump(self, conn: _Conn, future: concurrent.futures.Future[Any],
              deadline_s: float) -> None:
        """On the receiver thread (a callback's call): read until `future` has its reply."""
        while not future.done():
            left_s = deadline_s - time.monotonic()
            if left_s <= 0:
                return
            try:
                msg = conn.jconn.receive(timeout=left_s)
            except TimeoutError:
                return
            except (OSError, ReceiveStopped) as exc:  # the receiver loop sees it again next
                raise ConnectionError(f"lost the {self.label} connection ({exc!r})") from None
            serial = msg.header.fields.get(HeaderFields.reply_serial)
            entry = conn.pending.get(serial) if serial is not None else None
            if entry is not None and entry[1]:
                self._dispatch(conn, msg)  # a reply someone waits for: no callback runs
            else:
                conn.deferred.append(msg)

    # -- the receiver thread --------------------------------------------------------------------

    def _run(self) -> None:
        delay_s = 0.0  # before the next connect attempt
        warned = False
        while True:
            with self._lock:
                conn = self._conn
                if conn is None and (self._closing or not self._wanted()):
                    self._thread = None
                    return
            if conn is None:
                if delay_s:
                    self._wake.wait(delay_s)
                self._wake.clear()
                if self.conn is not None or self._closing:
                    continue
                # Never wait for a caller's connect: it needs this thread to read its replies.
                if not self._connect_lock.acquire(blocking=False):
                    self._wake.wait(CONNECT_TIMEOUT_S)  # set once it has a connection
                    continue
                try:
                    if self.conn is None:
                        self._connect(CONNECT_TIMEOUT_S)
                except Unavailable as exc:
                    log.log(logging.DEBUG if warned else logging.WARNING, "%s; retrying", exc)
                    warned = True
                    delay_s = min(BACKOFF_MAX_S, max(BACKOFF_FIRST_S, delay_s * 2))
                    continue
                finally:
                    self._connect_lock.release()
                if warned:
                    log.info("reconnected to the %s", self.label)
                delay_s, warned = 0.0, False
                continue
            reason = self._receive(conn)
            self._drop(conn)
            self._fail_pending(conn, reason)
            _close(conn.jconn)
            if not self._closing:
                log.warning("lost the %s connection (%s)%s", self.label, reason,
                            "; reconnecting" if self._wanted() else "")
            delay_s, warned = BACKOFF_FIRST_S, True

    def _receive(self, conn: _Conn) -> str:
        """Dispatch what arrives on `conn` until it ends; returns why it ended."""
        try:
            while True:
                msg = conn.deferred.popleft() if conn.deferred else conn.jconn.receive()
                self._dispatch(conn, msg)
        except ReceiveStopped:
            return "closed"
        except Exception as exc:  # noqa: BLE001 - end of file, reset, garbled stream
            return repr(exc)

    def _drop(self, conn: _Conn) -> None:
        """Forget `conn` (any thread): calls reconnect; the receiver thread closes it."""
        with self._lock:
            if self._conn is not conn:
                return
            self._conn = None
        self.connected.clear()
        with contextlib.suppress(OSError):
            conn.jconn.sock.shutdown(socket.SHUT_RDWR)  # the receiver reads end-of-file

    def _fail_pending(self, conn: _Conn, reason: str) -> None:
        with self._lock:
            pending, conn.pending = conn.pending, {}
        for future, _waited in pending.values():
            if not future.done():
                future.set_exception(ConnectionError(f"lost the {self.label} connection "
                                                     f"({reason})"))

    def _shutdown(self) -> None:
        with self._lock:
            self._closing = True
            conn, thread = self._conn, self._thread
        self._wake.set()
        if conn is not None:
            conn.jconn.interrupt()
        if thread is not None and thread is not threading.current_thread():
            thread.join(STOP_JOIN_S)
            if thread.is_alive():
                log.warning("the %s receiver thread did not stop in time", self.label)

    def _callback(self, function: Callable[..., None], *args: Any) -> None:
        try:
            function(*args)
        except CallFailed as exc:
            log.warning("%s: a callback's call failed: %s", self.label, exc)
        except Exception:
            log.exception("%s: a callback failed", self.label)

    def _dispatch(self, conn: _Conn, msg: Any) -> None:
        kind = msg.header.message_type
        fields = msg.header.fields
        if kind in (MessageType.method_return, MessageType.error):
            with self._lock:
                entry = conn.pending.pop(fields.get(HeaderFields.reply_serial, -1), None)
            if entry is not None and not entry[0].done():
                entry[0].set_result(msg)
        elif kind is MessageType.signal:
            with self._lock:
                subs = [r for r in self._registrations if isinstance(r, _Subscription)]
            matching = [s for s in subs if s.local.matches(msg)]
            if matching:
                signal = Signal(str(fields.get(HeaderFields.sender, "")),
                                str(fields.get(HeaderFields.path, "")),
                                str(fields.get(HeaderFields.interface, "")),
                                str(fields.get(HeaderFields.member, "")),
                                plain_body(fields.get(HeaderFields.signature, ""), msg.body))
                for sub in matching:
                    self._callback(sub.callback, signal)
        elif kind is MessageType.method_call:
            reply = self._answer(msg)
            if not msg.header.flags & MessageFlag.no_reply_expected:
                with contextlib.suppress(CallFailed):
                    self.send(conn, reply)

    # -- serving ------------------------------------------------------------------------------

    def _answer(self, msg: Any) -> Any:
        """The reply to a method call made to us (receiver thread)."""
        fields = msg.header.fields
        path = fields.get(HeaderFields.path, "")
        iface = fields.get(HeaderFields.interface)
        member = fields.get(HeaderFields.member, "")
        signature = fields.get(HeaderFields.signature, "")
        with self._lock:
            interfaces = dict(self._exports.get(path, {}))
            children = sorted({p[len(path):].strip("/").split("/")[0] for p in self._exports
                               if p.startswith(path.rstrip("/") + "/")})
        try:
            args = plain_body(signature, msg.body)
            if iface == PEER_IFACE and member == "Ping":
                return new_method_return(msg)
            if iface == INTROSPECTABLE_IFACE and member == "Introspect":
                return new_method_return(msg, "s", (_introspect(interfaces, children),))
            if not interfaces:
                raise CallFailed(ERROR_UNKNOWN_OBJECT, f"no object at {path}")
            if iface == PROPERTIES_IFACE:
                out_signature, out = _properties(interfaces, member, args)
                return new_method_return(msg, out_signature, out)
            found = [i.methods[member] for i in interfaces.values()
                     if member in i.methods and iface in (None, i.name)]
            if not found:
                if iface is not None and iface not in interfaces:
                    raise CallFailed(ERROR_UNKNOWN_INTERFACE, f"no interface {iface} at {path}")
                raise CallFailed(ERROR_UNKNOWN_METHOD, f"no method {member} at {path}")
            method = found[0]
            if signature != method.in_signature:
                raise CallFailed(ERROR_INVALID_ARGS, f"{member} takes ({method.in_signature}),"
                                 f" not ({signature})")
            out = tuple(method.handler(*args) or ())
            return new_method_return(msg, method.out_signature or None, out)
        except CallFailed as exc:
            return new_error(msg, exc.name or ERROR_FAILED, "s", (exc.text,))
        except Exception as exc:
            log.exception("%s: answering %s.%s failed", self.label, iface, member)
            return new_error(msg, ERROR_FAILED, "s", (f"{type(exc).__name__}: {exc}",))


def _reply_body(reply: Any) -> tuple[Any, ...]:
    fields = reply.header.fields
    if reply.header.message_type is MessageType.error:
        body = reply.body
        text = body[0] if body and isinstance(body[0], str) else ""
        raise CallFailed(str(fields.get(HeaderFields.error_name, "")), text)
    return plain_body(fields.get(HeaderFields.signature, ""), reply.body)


def _properties(interfaces: Mapping[str, Interface], member: str,
                args: tuple[Any, ...]) -> tuple[str, tuple[Any, ...]]:
    """org.freedesktop.DBus.Properties over `interfaces`: (reply signature, reply body)."""
    iface = interfaces.get(args[0]) if args and isinstance(args[0], str) else None
    if iface is None:
        raise CallFailed(ERROR_UNKNOWN_INTERFACE, f"no interface {args[0] if args else ''}")
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
        attr = f' direction="{direction}"' if direction else ""
        return "".join(f'<arg type={quoteattr(t)}{attr}/>' for t in _single_types(signature))

    out = ['<!DOCTYPE node PUBLIC "-//freedesktop//DTD D-BUS Object Introspection 1.0//EN" '
           '"http://www.freedesktop.org/standards/dbus/1.0/introspect.dtd">', "<node>"]
    for iface in interfaces.values():
        out.append(f"<interface name={quoteattr(iface.name)}>")
        out += [f"<method name={quoteattr(n)}>{args(m.in_signature, 'in')}"
                f"{args(m.out_signature, 'out')}</method>" for n, m in iface.methods.items()]
        out += [f'<property name={quoteattr(n)} type={quoteattr(p.signature)} access="read"/>'
                for n, p in iface.properties.items()]
        out += [f"<signal name={quoteattr(n)}>{args(s)}</signal>"
                for n, s in iface.signals.items()]
        out.append("</interface>")
    out += [f"<node name={quoteattr(c)}/>" for c in children if c]
    return "".join(out) + "</node>"


# ---- the handle ------------------------------------------------------------------------------


class Bus:
    """A handle on the process's connection to one bus (see module docstring).

    Thread-safe. `close()` undoes this handle's subscriptions, exports and names, and closes
    the connection when no other handle uses it. Calls on a closed handle raise CallFailed.
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
        """A handle on the `kind` ("session" or "system") bus named by `env`, connected now.

        Raises Unavailable with a plain reason (no address, no jeepney, cannot connect).
        """
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
        """Connect now unless connected; raises Unavailable."""
        self._check_open()
        self._link.ensure(timeout_s)

    @property
    def connected(self) -> threading.Event:
        """Set while connected with every match rule and name in place."""
        return self._link.connected

    @property
    def unique_name(self) -> str:
        """This process's unique name on the bus ("" when not connected)."""
        conn = self._link.conn
        return conn.unique_name if conn else ""

    @property
    def bus_id(self) -> str:
        """The id of the bus instance connected to (GetId; "" when not connected): unique
        names are unique only within one instance, and a restarted bus reuses them."""
        conn = self._link.conn
        return conn.bus_id if conn else ""

    def _check_open(self) -> None:
        if self._closed:
            raise CallFailed("", "the connection is closed")

    def call(
        self,
        destination: str,
        path: str,
        interface: str,
        member: str,
        signature: str = "",
        args: tuple[Any, ...] = (),
        timeout_s: float = CALL_TIMEOUT_S,
        *,
        bus_id: str | None = None,
    ) -> tuple[Any, ...]:
        """Call a method; returns the reply body as plain values, raises CallFailed.

        Never blocks much longer than `timeout_s` (connecting included). With `bus_id`, the
        call goes out only on a connection to that bus instance (else ERROR_DISCONNECTED):
        for a destination that is a unique name learnt earlier.
        """
        self._check_open()
        msg = new_method_call(DBusAddress(path, destination, interface), member,
                              signature or None, args)
        return _reply_body(self._link.call(msg, timeout_s, self.reconnect_every_s, bus_id))

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

    # -- signals --------------------------------------------------------------------------------

    def subscribe(
        self,
        callback: Callable[[Signal], None],
        *,
        sender: str | None = None,
        interface: str | None = None,
        member: str | None = None,
        path: str | None = None,
        arg0: str | None = None,
    ) -> object:
        """Call `callback(signal)` (receiver thread) for each signal matching the rule, on
        every connection from now on; returns a token for `unsubscribe`.

        When connected, returns once the bus daemon has the rule (else the rule is added on
        connecting, in the background).
        """
        rule = MatchRule(type="signal", sender=sender, interface=interface, member=member,
                         path=path)
        if arg0 is not None:
            rule.add_arg_condition(0, arg0)
        return self._register(_Subscription(self, rule, callback))

    def watch_name(self, name: str, callback: Callable[[str], None]) -> object:
        """Call `callback(owner)` (receiver thread) with the unique name owning `name` ("" for
        none) after every (re)connection and at each change; it may repeat a value. Returns a
        token for `unsubscribe`."""
        def changed(signal: Signal) -> None:
            callback(str(signal.body[2]))

        def owner_now(reply: Any) -> None:
            ok = reply.header.message_type is MessageType.method_return
            callback(str(reply.body[0]) if ok else "")

        rule = MatchRule(type="signal", sender=DBUS_NAME, interface=DBUS_NAME,
                         member="NameOwnerChanged", path=DBUS_PATH)
        rule.add_arg_condition(0, name)
        query = new_method_call(DBusAddress(DBUS_PATH, DBUS_NAME, DBUS_NAME), "GetNameOwner",
                                "s", (name,))
        return self._register(_Subscription(
            self, rule, changed, on_added=lambda link: link.call_later(query, owner_now)))

    def unsubscribe(self, token: object) -> None:
        """Undo `subscribe`, `watch_name` or `request_name` (`token` is what it returned)."""
        with self._lock:
            if not isinstance(token, _Registration) or token not in self._registrations:
                return
            self._registrations.remove(token)
        self._link.unregister(token)

    def _register(self, reg: _Registration) -> _Registration:
        with self._lock:
            self._check_open()
            self._registrations.append(reg)
        self._link.register(reg)
        return reg

    # -- serving --------------------------------------------------------------------------------

    def export(self, path: str, *interfaces: Interface) -> None:
        """Serve `interfaces` at `path` (replacing what was there), with Properties Get/GetAll,
        Introspect and Peer.Ping; handlers run on the receiver thread."""
        with self._lock:
            self._check_open()
            self._paths.add(path)
        self._link.export(path, interfaces)

    def unexport(self, path: str) -> None:
        """Stop serving `path`."""
        with self._lock:
            self._paths.discard(path)
        self._link.unexport(path)

    def emit(self, path: str, interface: str, member: str, signature: str = "",
             args: tuple[Any, ...] = ()) -> None:
        """Emit a signal; dropped when not connected (peers read the state again on
        reconnecting). Raises CallFailed when the send fails."""
        self._check_open()
        conn = self._link.conn
        if conn is not None:
            self._link.send(conn, new_signal(DBusAddress(path, interface=interface), member,
                                             signature or None, args))

    def request_name(self, name: str) -> object:
        """Own `name` on every connection from now on (not queued behind another owner);
        returns a token for `unsubscribe`. When connected, returns once the bus answered."""
        return self._register(_Name(self, name))

    def owns(self, token: object) -> bool:
        """Whether the name requested with `token` is ours on the current connection."""
        return isinstance(token, _Name) and token.primary and token.added_on is self._link.conn

    def close(self) -> None:
        """Undo this handle's subscriptions, exports and names; release the connection.
        Idempotent."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            registrations, self._registrations = self._registrations, []
            paths, self._paths = self._paths, set()
        for reg in registrations:
            self._link.unregister(reg)
        for path in paths:
            self._link.unexport(path)
        self._link.release()

    def __enter__(self) -> Bus:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


def probe_names(address: str, names: Sequence[str], timeout_s: float,
                kind: str = "bus") -> dict[str, bool]:
    """Connect to the bus at `address` and ask NameHasOwner for each name; raises Unavailable
    or CallFailed. Never blocks much longer than `timeout_s` per step."""
    with Bus(address, kind=kind) as bus:
        bus.connect(timeout_s)
        return {name: bus.name_has_owner(name, timeout_s) for name in names}
