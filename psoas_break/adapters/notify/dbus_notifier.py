"""Desktop notifications straight over D-Bus (org.freedesktop.Notifications), with jeepney.

Why not only plyer: plyer's Linux backend sends no replaces_id, hints or actions, introspects
the server first and waits the libdbus default of 25 s for a hung server. This notifier:
- replaces the previous notification with the same tag (`replaces_id`), and `close(tag)` calls
  CloseNotification, so a new prompt replaces the old one instead of stacking up;
- remembers which server gave each id (its unique bus name on the bus with that bus id): after
  the server or the bus itself restarted, an old id could name some other app's notification,
  so it is never reused (a restarted bus hands out the same unique names again);
- sends app name "psoas-break", the icon path (app_icon, and the image-path hint as a file URI),
  urgency and desktop-entry hints, and the expire timeout; escapes the body for servers that
  parse markup;
- sends action buttons only when the server has the "actions" capability and someone listens
  (`on_action`); ActionInvoked / NotificationClosed are received on the *same* connection that
  sent Notify, because some servers (KDE Plasma) send them only to the notification's sender;
- bounds every call with `call_timeout_s` (default 3 s): a hung server costs at most that.

Why jeepney on a plain thread, and neither dbus-python nor asyncio: receiving those signals
needs something reading the connection all the time. dbus-python has that only through a GLib
main loop (not running with every tray backend); an asyncio loop (dbus-fast) costs ~12 MiB RSS
in an otherwise idle tray app (measured: `import asyncio` pulls in ssl/OpenSSL). jeepney is
pure Python and only builds and parses messages; this module owns the socket and one thread,
like the session watchers (adapters/session/_dbus_watch.py). Nothing here may import asyncio
or dbus_fast (tests/test_notify.py checks in a fresh process).

Threads: each bus connection has one daemon receive thread ("psoas-notify-dbus"), blocked in
poll() with no timeout, so an idle app costs no wake-ups. It hands each method reply to the
caller waiting for it and runs the signal callbacks. `notify()`, `close()`, `probe()`,
`inhibited()` and `server_information()` are synchronous; any thread may call them, at the same
time too. `on_action(tag, action_key)` and `on_closed(tag, reason)` run on the receive thread:
only post to a queue there (a call into this notifier from a callback fails at once with
DeliveryFailed, because only that thread could read its reply).

Reconnecting: when the bus drops the connection (bus restarted, connection broken), the receive
thread ends, calls waiting for a reply fail with NoServer at once, and the next call connects
again. Known limit (jeepney): only unix: bus addresses (no tcp:).

Errors: `NoServer` (nothing owns the name, or the bus is unreachable), `ServerTimeout` (no answer
in time), `DeliveryFailed` (the server refused the call). All are `AdapterError`s.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import os
import select
import socket
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from jeepney import (
    DBusAddress,
    HeaderFields,
    Message,
    MessageFlag,
    MessageType,
    Parser,
    new_error,
    new_method_call,
    new_method_return,
)
from jeepney.bus import get_connectable_addresses
from jeepney.io.blocking import prep_socket

from psoas_break.adapters.notify.errors import (
    FDO_SERVER,
    NoServer,
    ServerTimeout,
    error_for,
    no_server_message,
)
from psoas_break.adapters.notify.markup import escape_markup
from psoas_break.ports import DeliveryFailed, Notification

log = logging.getLogger(__name__)

APP_NAME = "psoas-break"
NOTIFY_PATH = "/org/freedesktop/Notifications"
NOTIFY_IFACE = FDO_SERVER
DBUS_NAME = "org.freedesktop.DBus"
DBUS_PATH = "/org/freedesktop/DBus"
PROPERTIES_IFACE = "org.freedesktop.DBus.Properties"
PEER_IFACE = "org.freedesktop.DBus.Peer"
THREAD_NAME = "psoas-notify-dbus"
#: How long `shutdown()` waits for the receive thread (it normally ends within milliseconds).
STOP_JOIN_S = 1.0
_RECV_BYTES = 65536

URGENCY_NORMAL = 1
URGENCY_CRITICAL = 2

ActionCallback = Callable[[str, str], None]
ClosedCallback = Callable[[str, int], None]
#: Which server: (the bus's id from GetId, the server's unique name on that bus).
ServerId = tuple[str, str]


def expire_timeout_ms(timeout_s: int) -> int:
    """Notification.timeout_s as the spec's expire_timeout: >0 ms, 0 never, <0 server default."""
    if timeout_s > 0:
        return int(timeout_s) * 1000
    return 0 if timeout_s == 0 else -1


def variant_value(variant: Any) -> Any:
    """The value inside a jeepney variant (a (signature, value) pair)."""
    return variant[1] if isinstance(variant, tuple) and len(variant) == 2 else variant


def _open_socket(address: str, timeout_s: float) -> socket.socket:
    """Connect and authenticate to the bus at `address`, trying each ';'-separated entry.

    Raises what the last entry raised (OSError, TimeoutError, RuntimeError for an unsupported
    transport, ValueError for a malformed address).
    """
    last: Exception = RuntimeError(f"no D-Bus address in {address!r}")
    for entry in (part for part in address.split(";") if part.strip()):
        try:
            sock: socket.socket = prep_socket(next(get_connectable_addresses(entry)),
                                              timeout=timeout_s)
            return sock
        except Exception as exc:  # noqa: BLE001 - the next entry may work; re-raised below
            last = exc
    raise last


class _Slot:
    """Where the receive thread puts the reply one caller waits for."""

    __slots__ = ("done", "reply", "error")

    def __init__(self) -> None:
        self.done = threading.Event()
        self.reply: Message | None = None
        self.error = ""


class _Link:
    """One authenticated bus connection and the thread that reads it.

    `call()` may be used from any thread: it sends under a lock (with a time limit, so a bus
    that stops reading cannot hold a caller) and waits for the reply the receive thread
    routes to it by serial. Signals go to `on_signal` on the receive thread. When the
    connection ends, `alive` turns False and every waiting call fails with ConnectionError.
    """

    def __init__(
        self, sock: socket.socket, on_signal: Callable[[_Link, Message], None]
    ) -> None:
        self.sock = sock
        # Always in timeout mode: sends are bounded; the receive thread reads only after
        # poll() said data is there, so its recv() never waits on this timeout.
        sock.settimeout(1.0)
        self.unique_name = ""
        #: The bus instance's id (GetId); unique names are unique only within one bus instance.
        self.bus_id = ""
        self._on_signal = on_signal
        self._parser = Parser()
        self._serials = itertools.count(1)
        self._send_lock = threading.Lock()
        self._lock = threading.Lock()  # guards _pending, _closed, _reason
        self._pending: dict[int, _Slot] = {}
        self._closed = False
        self._reason = ""
        self.thread = threading.Thread(target=self._receive, name=THREAD_NAME, daemon=True)
        self.thread.start()

    @property
    def alive(self) -> bool:
        return not self._closed

    def call(self, msg: Message, timeout_s: float) -> Message:
        """Send a method call and return its reply (a method return or an error message).

        Raises TimeoutError when no reply came within `timeout_s`, ConnectionError when the
        connection is (or goes) down.
        """
        slot = _Slot()
        serial = self._send(msg, timeout_s, slot)
        try:
            if not slot.done.wait(timeout_s):
                raise TimeoutError(f"no reply within {timeout_s:g} s")
        finally:
            with self._lock:
                self._pending.pop(serial, None)
        if slot.reply is None:
            raise ConnectionError(slot.error or "the bus connection closed")
        return slot.reply

    def _send(self, msg: Message, timeout_s: float, slot: _Slot | None = None) -> int:
        if not self._send_lock.acquire(timeout=max(timeout_s, 0.001)):
            raise TimeoutError(f"could not send within {timeout_s:g} s (the bus is not reading)")
        try:
            serial = next(self._serials)
            with self._lock:
                if self._closed:
                    raise ConnectionError(self._reason or "the bus connection closed")
                if slot is not None:
                    self._pending[serial] = slot
            try:
                self.sock.settimeout(max(timeout_s, 0.001))
                self.sock.sendall(msg.serialise(serial=serial))
            except OSError as exc:
                with self._lock:
                    self._pending.pop(serial, None)
                # A message cut off half-way would garble the stream: drop the connection.
                self.stop()
                if isinstance(exc, TimeoutError):
                    raise TimeoutError(
                        f"could not send within {timeout_s:g} s (the bus is not reading)"
                    ) from exc
                raise ConnectionError(f"sending failed: {exc}") from exc
            return serial
        finally:
            self._send_lock.release()

    def stop(self) -> None:
        """Wake the receive thread, which then closes the connection. Idempotent."""
        with self._lock:
            if self._closed:
                return
            with contextlib.suppress(OSError):
                # The blocked poll() wakes up and recv() reads end-of-file.
                self.sock.shutdown(socket.SHUT_RDWR)

    # -- the receive thread -----------------------------------------------------------------

    def _receive(self) -> None:
        reason = "the bus closed the connection"
        try:
            poller = select.poll()
            poller.register(self.sock, select.POLLIN)
            while True:
                poller.poll()
                try:
                    data = self.sock.recv(_RECV_BYTES)
                except (BlockingIOError, InterruptedError, TimeoutError):
                    continue
                if not data:
                    break
                self._parser.add_data(data)
                while (msg := self._parser.get_next_message()) is not None:
                    self._dispatch(msg)
        except Exception as exc:  # noqa: BLE001 - ends the connection; callers see the reason
            reason = f"the bus connection broke: {exc!r}"
            log.debug("notification bus connection ended", exc_info=True)
        finally:
            self._close(reason)

    def _close(self, reason: str) -> None:
        with self._lock:
            self._closed = True
            self._reason = reason
            pending, self._pending = self._pending, {}
        for slot in pending.values():
            slot.error = reason
            slot.done.set()
        # Under the send lock, so no sender is inside sendall() on a closed descriptor.
        with self._send_lock:
            self.sock.close()

    def _dispatch(self, msg: Message) -> None:
        kind = msg.header.message_type
        if kind in (MessageType.method_return, MessageType.error):
            serial = msg.header.fields.get(HeaderFields.reply_serial)
            with self._lock:
                slot = self._pending.get(serial) if isinstance(serial, int) else None
            if slot is not None:
                slot.reply = msg
                slot.done.set()
        elif kind is MessageType.signal:
            try:
                self._on_signal(self, msg)
            except Exception:  # noqa: BLE001 - e.g. a malformed signal: keep the connection
                log.exception("handling a signal on the notification bus failed")
        elif kind is MessageType.method_call:
            self._answer(msg)

    def _answer(self, msg: Message) -> None:
        """Answer a method call made to us (we export nothing), so its caller need not wait."""
        if msg.header.flags & MessageFlag.no_reply_expected:
            return
        fields = msg.header.fields
        if fields.get(HeaderFields.interface) == PEER_IFACE and (
            fields.get(HeaderFields.member) == "Ping"
        ):
            reply = new_method_return(msg)
        else:
            reply = new_error(msg, "org.freedesktop.DBus.Error.UnknownMethod", "s",
                              (f"{APP_NAME}'s notifier exports no methods",))
        with contextlib.suppress(OSError):
            self._send(reply, 1.0)


class _Op:
    """The time budget of one public call: every D-Bus call in it shares one deadline."""

    def __init__(self, budget_s: float) -> None:
        self.budget_s = budget_s
        self.deadline = time.monotonic() + budget_s + 1.0

    def expired(self) -> ServerTimeout:
        return ServerTimeout(f"the notification server did not answer within {self.budget_s:g} s")

    def timeout(self, call_timeout_s: float) -> tuple[float, bool]:
        """(seconds the next call may wait, whether the budget rather than the call limits
        it); raises ServerTimeout when the budget is spent."""
        left_s = self.deadline - time.monotonic()
        if left_s <= 0:
            raise self.expired()
        return (call_timeout_s, False) if call_timeout_s <= left_s else (left_s, True)


class DbusNotifier:
    """Notifier over org.freedesktop.Notifications (see module docstring).

    `env` supplies DBUS_SESSION_BUS_ADDRESS (default: os.environ; when `env` has none,
    os.environ's is used). Call `shutdown()` at exit.
    """

    name = "dbus"
    server = FDO_SERVER

    def __init__(
        self,
        env: Mapping[str, str] | None = None,
        *,
        app_name: str = APP_NAME,
        desktop_entry: str | None = APP_NAME,
        call_timeout_s: float = 3.0,
        on_action: ActionCallback | None = None,
        on_closed: ClosedCallback | None = None,
    ) -> None:
        environ = os.environ if env is None else env
        self._address = environ.get("DBUS_SESSION_BUS_ADDRESS") or None
        self.app_name = app_name
        self.desktop_entry = desktop_entry
        self.call_timeout_s = call_timeout_s
        self.on_action = on_action
        self.on_closed = on_closed
        self._lock = threading.Lock()  # guards _link, _shown, last_id
        self._connect_lock = threading.Lock()  # one connection attempt at a time
        self._link: _Link | None = None
        self._bus_ids = itertools.count(1)
        self._caps: dict[ServerId, frozenset[str]] = {}
        self._shown: dict[str, tuple[ServerId, int]] = {}  # tag -> (server, id)
        self.last_id: int | None = None

    # -- the connection ---------------------------------------------------------------------

    def _connection(self, op: _Op) -> _Link:
        with self._lock:
            link = self._link
        if link is not None and link.alive:
            return link
        if not self._connect_lock.acquire(timeout=max(op.deadline - time.monotonic(), 0.0)):
            raise op.expired()
        try:
            with self._lock:
                link = self._link
            if link is not None and link.alive:
                return link
            link = self._connect(op)
            with self._lock:
                self._link = link
            return link
        finally:
            self._connect_lock.release()

    def _connect(self, op: _Op) -> _Link:
        address = self._address or os.environ.get("DBUS_SESSION_BUS_ADDRESS")
        if not address:
            raise NoServer(
                "cannot connect to the D-Bus session bus: DBUS_SESSION_BUS_ADDRESS is not set"
            )
        try:
            sock = _open_socket(address, op.timeout(self.call_timeout_s)[0])
        except TimeoutError as exc:
            raise NoServer("the D-Bus session bus did not answer") from exc
        except ServerTimeout:
            raise
        except Exception as exc:  # noqa: BLE001 - OSError, auth failure, bad address, ...
            raise NoServer(f"cannot connect to the D-Bus session bus: {exc}") from exc
        link = _Link(sock, self._on_message)
        try:
            bus = DBusAddress(DBUS_PATH, DBUS_NAME, DBUS_NAME)
            hello = self._checked(link, new_method_call(bus, "Hello"), "Hello", op)
            link.unique_name = str(hello[0])
            reply = link.call(new_method_call(bus, "GetId"), op.timeout(self.call_timeout_s)[0])
            if reply.header.message_type is MessageType.error:  # a bus without GetId: assume
                link.bus_id = f"unknown-{next(self._bus_ids)}"  # a new bus on every connect
            else:
                link.bus_id = str(reply.body[0])
            # Broadcast signals need a match rule; targeted ones (KDE) arrive anyway.
            rule = f"type='signal',interface='{NOTIFY_IFACE}',path='{NOTIFY_PATH}'"
            self._checked(link, new_method_call(bus, "AddMatch", "s", (rule,)), "AddMatch", op)
        except TimeoutError as exc:
            link.stop()
            raise NoServer("the D-Bus session bus did not answer") from exc
        except ConnectionError as exc:
            link.stop()
            raise NoServer(f"cannot connect to the D-Bus session bus: {exc}") from exc
        except BaseException:
            link.stop()
            raise
        return link

    def _checked(self, link: _Link, msg: Message, member: str, op: _Op) -> tuple[Any, ...]:
        """Call on `link` within `op`'s budget; an error reply raises its AdapterError."""
        reply = link.call(msg, op.timeout(self.call_timeout_s)[0])
        if reply.header.message_type is MessageType.error:
            name = str(reply.header.fields.get(HeaderFields.error_name, ""))
            text = str(reply.body[0]) if reply.body else ""
            raise error_for(name, text, member, self.call_timeout_s)
        return tuple(reply.body)

    def _call(
        self,
        op: _Op,
        destination: str | ServerId,
        path: str,
        iface: str,
        member: str,
        signature: str = "",
        body: Sequence[Any] = (),
    ) -> tuple[Any, ...]:
        return self._call_on(op, destination, path, iface, member, signature, body)[1]

    def _call_on(
        self,
        op: _Op,
        destination: str | ServerId,
        path: str,
        iface: str,
        member: str,
        signature: str = "",
        body: Sequence[Any] = (),
    ) -> tuple[_Link, tuple[Any, ...]]:
        """Call `member` and return (the link it went over, the reply body). A ServerId
        destination is only called on its own bus: after a bus restart NoServer is raised,
        because the same unique name may now belong to another process."""
        link = self._connection(op)
        if not isinstance(destination, str):
            if destination[0] != link.bus_id:
                raise NoServer("the D-Bus session bus restarted (that server is gone)")
            destination = destination[1]
        if threading.current_thread() is link.thread:
            raise DeliveryFailed(
                f"{member} was called from the notifier's own D-Bus thread (an on_action/"
                "on_closed callback): only post to a queue there"
            )
        timeout_s, by_budget = op.timeout(self.call_timeout_s)
        msg = new_method_call(DBusAddress(path, destination, iface), member,
                              signature or None, tuple(body))
        try:
            reply = link.call(msg, timeout_s)
        except TimeoutError as exc:
            if by_budget:
                raise op.expired() from exc
            raise ServerTimeout(
                f"the notification server did not answer {member} within "
                f"{self.call_timeout_s:g} s"
            ) from exc
        except (ConnectionError, OSError) as exc:  # the connection broke under the call
            self._forget(link)
            raise NoServer(f"the D-Bus session bus connection broke: {exc}") from exc
        if reply.header.message_type is MessageType.error:
            name = str(reply.header.fields.get(HeaderFields.error_name, ""))
            text = str(reply.body[0]) if reply.body else ""
            raise error_for(name, text, member, self.call_timeout_s)
        return link, tuple(reply.body)

    def _forget(self, link: _Link) -> None:
        with self._lock:
            if self._link is link:
                self._link = None
        link.stop()

    def _owner(self, op: _Op) -> ServerId | None:
        """Which server owns the name now, or None when nobody does (maybe activatable)."""
        try:
            link, reply = self._call_on(op, DBUS_NAME, DBUS_PATH, DBUS_NAME, "GetNameOwner",
                                        "s", [FDO_SERVER])
        except NoServer as exc:
            if str(exc) == no_server_message():
                return None
            raise
        return link.bus_id, str(reply[0])

    def _capabilities(self, op: _Op, owner: ServerId) -> frozenset[str]:
        caps = self._caps.get(owner)
        if caps is None:
            reply = self._call(op, owner, NOTIFY_PATH, NOTIFY_IFACE, "GetCapabilities")
            caps = frozenset(str(c) for c in reply[0])
            self._caps[owner] = caps
        return caps

    def _on_message(self, link: _Link, msg: Message) -> None:
        """Route ActionInvoked / NotificationClosed of our notifications (receive thread)."""
        fields = msg.header.fields
        if fields.get(HeaderFields.interface) != NOTIFY_IFACE:
            return None
        member = fields.get(HeaderFields.member)
        if member not in ("ActionInvoked", "NotificationClosed") or not msg.body:
            return None
        sender = (link.bus_id, fields.get(HeaderFields.sender))
        nid = int(msg.body[0])
        with self._lock:
            tag = next(
                (t for t, (owner, i) in self._shown.items() if i == nid and owner == sender),
                None,
            )
            if tag is not None and member == "NotificationClosed":
                del self._shown[tag]
        if tag is None:
            return None  # another app's notification, or one we replaced already
        try:
            if member == "ActionInvoked" and self.on_action is not None:
                self.on_action(tag, str(msg.body[1]))
            elif member == "NotificationClosed" and self.on_closed is not None:
                self.on_closed(tag, int(msg.body[1]))
        except Exception:  # noqa: BLE001 - a callback must not break the connection
            log.exception("the %s callback failed", member)
        return None

    # -- public -----------------------------------------------------------------------------

    def probe(self) -> None:
        """Raise NoServer unless the bus is reachable and a server owns (or can be started
        for) org.freedesktop.Notifications. Asks only the bus daemon, never the server."""
        op = _Op(2 * self.call_timeout_s)
        if self._owner(op) is not None:
            return
        reply = self._call(op, DBUS_NAME, DBUS_PATH, DBUS_NAME, "ListActivatableNames")
        if FDO_SERVER not in {str(n) for n in reply[0]}:
            raise NoServer(no_server_message() + ", and none can be started")

    def notify(self, notification: Notification) -> None:
        """Show `notification`, replacing the one shown before with the same tag."""
        op = _Op(4 * self.call_timeout_s)
        owner = self._owner(op)
        replaces_id = 0
        caps: frozenset[str] = frozenset()
        if owner is not None:
            caps = self._capabilities(op, owner)
            with self._lock:
                previous = self._shown.get(notification.tag)
            if previous is not None and previous[0] == owner:
                replaces_id = previous[1]
        body = escape_markup(notification.body) if "body-markup" in caps else notification.body
        actions: list[str] = []
        if notification.actions and "actions" in caps and self.on_action is not None:
            for key, label in notification.actions:
                actions += [key, label]
        # jeepney's variants are (signature, value) pairs.
        hints: dict[str, tuple[str, Any]] = {
            "urgency": ("y", URGENCY_CRITICAL if notification.urgent else URGENCY_NORMAL),
        }
        icon = ""
        if notification.icon is not None:
            path = notification.icon.resolve()
            icon = str(path)
            hints["image-path"] = ("s", path.as_uri())
        if self.desktop_entry:
            hints["desktop-entry"] = ("s", self.desktop_entry)
        # Sent to the unique name when known, so the id surely belongs to that server.
        destination: str | ServerId = FDO_SERVER if owner is None else owner
        reply = self._call(
            op, destination, NOTIFY_PATH, NOTIFY_IFACE, "Notify", "susssasa{sv}i",
            [self.app_name, replaces_id, icon, notification.title, body, actions, hints,
             expire_timeout_ms(notification.timeout_s)],
        )
        nid = int(reply[0])
        if owner is None:  # the call started (activated) a server: learn its name
            owner = self._owner(op)
        with self._lock:
            self.last_id = nid
            if owner is not None:
                self._shown[notification.tag] = (owner, nid)
        log.debug("notified %r as id %d (replaced %d) via %s", notification.tag, nid,
                  replaces_id, owner)

    def close(self, tag: str) -> None:
        """Close the notification shown with `tag` (CloseNotification); no-op if none is."""
        with self._lock:
            shown = self._shown.pop(tag, None)
        if shown is None:
            return
        op = _Op(2 * self.call_timeout_s)
        owner, nid = shown
        if self._owner(op) != owner:
            return  # that server is gone, and its notifications with it
        self._call(op, owner, NOTIFY_PATH, NOTIFY_IFACE, "CloseNotification", "u", [nid])

    def shown_id(self, tag: str) -> int | None:
        """The server's id of the notification shown with `tag`, if any."""
        with self._lock:
            shown = self._shown.get(tag)
        return None if shown is None else shown[1]

    def server_information(self) -> tuple[str, str, str, str]:
        """(name, vendor, version, spec version) of the running server (for `doctor`)."""
        reply = self._call(_Op(self.call_timeout_s), FDO_SERVER, NOTIFY_PATH, NOTIFY_IFACE,
                           "GetServerInformation")
        name, vendor, version, spec = (str(x) for x in reply)
        return name, vendor, version, spec

    def inhibited(self) -> bool | None:
        """True when the server is in "do not disturb" mode (the Inhibited property, spec
        1.2+); None when the server does not say or cannot be asked."""
        try:
            reply = self._call(_Op(self.call_timeout_s), FDO_SERVER, NOTIFY_PATH,
                               PROPERTIES_IFACE, "Get", "ss", [NOTIFY_IFACE, "Inhibited"])
        except (DeliveryFailed, NoServer):
            return None
        return bool(variant_value(reply[0]))

    def shutdown(self) -> None:
        """Disconnect and stop the receive thread (waits at most ~1 s). Idempotent; the
        notifier connects again when used afterwards."""
        with self._lock:
            link, self._link = self._link, None
        if link is None:
            return
        link.stop()
        if link.thread is not threading.current_thread():
            link.thread.join(STOP_JOIN_S)
            if link.thread.is_alive():
                log.warning("the notifier's D-Bus thread did not stop in time")
