"""Desktop notifications straight over D-Bus (org.freedesktop.Notifications).

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

The bus work is psoas_break.adapters.dbus's (jeepney on the app's shared session-bus
connection; no asyncio, no dbus-python: tests/test_notify.py checks in a fresh process). It
connects on first use and again after the bus restarted.

Threads: `notify()`, `close()`, `probe()` and `server_information()` are
synchronous; any thread may call them, at the same time too. `on_action(tag, action_key)` and
`on_closed(tag, reason)` run on the bus's receiver thread ("psoas-dbus-session"): only post to
a queue there (a call into this notifier from there works, but holds every other signal back).

Errors: `NoServer` (nothing owns the name, or the bus is unreachable), `ServerTimeout` (no answer
in time), `DeliveryFailed` (the server refused the call). All are `AdapterError`s.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from psoas_break.adapters.dbus import (
    DBUS_NAME,
    DBUS_PATH,
    JEEPNEY_MISSING,
    Bus,
    CallFailed,
    Signal,
    session_bus_address,
)
from psoas_break.adapters.notify.errors import FDO_SERVER, NO_SERVER_MESSAGE, NoServer, error_for
from psoas_break.adapters.notify.markup import escape_markup
from psoas_break.ports import Notification, Unavailable

log = logging.getLogger(__name__)

APP_NAME = "psoas-break"
NOTIFY_PATH = "/org/freedesktop/Notifications"
NOTIFY_IFACE = FDO_SERVER

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


class DbusNotifier:
    """Notifier over org.freedesktop.Notifications (see module docstring).

    `env` supplies DBUS_SESSION_BUS_ADDRESS (default: os.environ; when `env` has none,
    os.environ's is used). Raises Unavailable without jeepney. Call `shutdown()` at exit.
    """

    name = "dbus"
    server = FDO_SERVER

    def __init__(self, env: Mapping[str, str] | None = None, *, app_name: str = APP_NAME,
                 call_timeout_s: float = 3.0, on_action: ActionCallback | None = None,
                 on_closed: ClosedCallback | None = None) -> None:
        if JEEPNEY_MISSING:
            raise Unavailable(JEEPNEY_MISSING)
        environ = os.environ if env is None else env
        self._address = session_bus_address(environ) or session_bus_address(os.environ)
        self.app_name = app_name
        self.call_timeout_s = call_timeout_s
        self.on_action = on_action
        self.on_closed = on_closed
        self._lock = threading.Lock()  # guards _bus and _shown
        self._bus: Bus | None = None
        self._caps: dict[ServerId, frozenset[str]] = {}
        self._shown: dict[str, tuple[ServerId, int]] = {}  # tag -> (server, id)

    def _connection(self) -> Bus:
        with self._lock:
            bus, new = self._bus, self._bus is None
            if bus is None:
                if self._address is None:
                    raise NoServer("cannot connect to the D-Bus session bus: "
                                   "DBUS_SESSION_BUS_ADDRESS is not set")
                bus = self._bus = Bus(self._address, reconnect_every_s=0.0)
        if new:  # outside the lock: `_on_signal` takes it on the receiver thread
            # Broadcast signals need a match rule; targeted ones (KDE) arrive anyway.
            bus.subscribe(self._on_signal, interface=NOTIFY_IFACE, path=NOTIFY_PATH)
        return bus

    def _call(self, destination: str | ServerId, path: str, iface: str, member: str,
              signature: str = "", body: Sequence[Any] = ()) -> tuple[Any, ...]:
        """Call `member` (within `call_timeout_s`, connecting included). A ServerId
        destination is only called on its own bus: after a bus restart NoServer is raised,
        because the same unique name may now belong to another process."""
        bus = self._connection()
        bus_id = None
        if not isinstance(destination, str):
            bus_id, destination = destination
        try:
            return bus.call(destination, path, iface, member, signature, tuple(body),
                            self.call_timeout_s, bus_id=bus_id)
        except CallFailed as exc:
            raise error_for(exc.name, exc.text, member, self.call_timeout_s) from None

    def _owner(self) -> ServerId | None:
        """Which server owns the name now, or None when nobody does (maybe activatable)."""
        bus = self._connection()
        try:
            bus.connect(self.call_timeout_s)
        except Unavailable as exc:
            raise NoServer(str(exc)) from None
        bus_id = bus.bus_id
        try:
            (owner,) = self._call((bus_id, DBUS_NAME), DBUS_PATH, DBUS_NAME, "GetNameOwner",
                                  "s", [FDO_SERVER])
        except NoServer as exc:
            if str(exc) == NO_SERVER_MESSAGE:
                return None
            raise
        return bus_id, str(owner)

    def _on_signal(self, signal: Signal) -> None:
        """Route ActionInvoked / NotificationClosed of our notifications (receiver thread)."""
        bus = self._bus
        member = signal.member
        if member not in ("ActionInvoked", "NotificationClosed") or not signal.body or not bus:
            return
        sender = (bus.bus_id, signal.sender)
        nid = int(signal.body[0])
        with self._lock:
            tag = next((t for t, (owner, i) in self._shown.items()
                        if i == nid and owner == sender), None)
            if tag is not None and member == "NotificationClosed":
                del self._shown[tag]
        if tag is None:
            return  # another app's notification, or one we replaced already
        if member == "ActionInvoked" and self.on_action is not None:
            self.on_action(tag, str(signal.body[1]))
        elif member == "NotificationClosed" and self.on_closed is not None:
            self.on_closed(tag, int(signal.body[1]))

    def probe(self) -> None:
        """Raise NoServer unless the bus is reachable and a server owns (or can be started
        for) org.freedesktop.Notifications. Asks only the bus daemon, never the server."""
        if self._owner() is not None:
            return
        reply = self._call(DBUS_NAME, DBUS_PATH, DBUS_NAME, "ListActivatableNames")
        if FDO_SERVER not in {str(n) for n in reply[0]}:
            raise NoServer(NO_SERVER_MESSAGE + ", and none can be started")

    def notify(self, notification: Notification) -> None:
        """Show `notification`, replacing the one shown before with the same tag."""
        owner = self._owner()
        replaces_id = 0
        caps: frozenset[str] = frozenset()
        if owner is not None:
            if owner not in self._caps:  # asked once per server
                reply = self._call(owner, NOTIFY_PATH, NOTIFY_IFACE, "GetCapabilities")
                self._caps[owner] = frozenset(str(c) for c in reply[0])
            caps = self._caps[owner]
            with self._lock:
                previous = self._shown.get(notification.tag)
            if previous is not None and previous[0] == owner:
                replaces_id = previous[1]
        body = notification.body
        if "body-markup" in caps:
            body = escape_markup(body)
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
        hints["desktop-entry"] = ("s", APP_NAME)  # psoas-break.desktop
        # Sent to the unique name when known, so the id surely belongs to that server.
        destination: str | ServerId = FDO_SERVER if owner is None else owner
        reply = self._call(destination, NOTIFY_PATH, NOTIFY_IFACE, "Notify", "susssasa{sv}i",
                           [self.app_name, replaces_id, icon, notification.title, body, actions,
                            hints, expire_timeout_ms(notification.timeout_s)])
        nid = int(reply[0])
        if owner is None:  # the call started (activated) a server: learn its name
            owner = self._owner()
        if owner is not None:
            with self._lock:
                self._shown[notification.tag] = (owner, nid)
        log.debug("notified %r as id %d (replaced %d) via %s", notification.tag, nid,
                  replaces_id, owner)

    def close(self, tag: str) -> None:
        """Close the notification shown with `tag` (CloseNotification); no-op if none is."""
        with self._lock:
            shown = self._shown.pop(tag, None)
        if shown is None:
            return
        owner, nid = shown
        if self._owner() != owner:
            return  # that server is gone, and its notifications with it
        self._call(owner, NOTIFY_PATH, NOTIFY_IFACE, "CloseNotification", "u", [nid])

    def shown_id(self, tag: str) -> int | None:
        """The server's id of the notification shown with `tag`, if any."""
        with self._lock:
            shown = self._shown.get(tag)
        return None if shown is None else shown[1]

    def server_information(self) -> tuple[str, str, str, str]:
        """(name, vendor, version, spec version) of the running server (for `doctor`)."""
        reply = self._call(FDO_SERVER, NOTIFY_PATH, NOTIFY_IFACE, "GetServerInformation")
        name, vendor, version, spec = (str(x) for x in reply)
        return name, vendor, version, spec

    def shutdown(self) -> None:
        """Release the bus connection (its thread ends when nothing else uses it).
        Idempotent; the notifier connects again when used afterwards."""
        with self._lock:
            bus, self._bus = self._bus, None
        if bus is not None:
            bus.close()
