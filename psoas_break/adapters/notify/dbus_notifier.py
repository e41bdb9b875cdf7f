"""Desktop notifications straight over D-Bus (org.freedesktop.Notifications), with dbus-fast.

Why not only plyer: plyer's Linux backend sends no replaces_id, hints or actions, introspects
the server first and waits the libdbus default of 25 s for a hung server. This notifier:
- replaces the previous notification with the same tag (`replaces_id`), and `close(tag)` calls
  CloseNotification, so a new prompt replaces the old one instead of stacking up;
- remembers which server (unique bus name) gave each id: after the server restarted, an old
  id could name some other app's notification, so it is never reused;
- sends app name "psoas-break", the icon path (app_icon, and the image-path hint as a file URI),
  urgency and desktop-entry hints, and the expire timeout; escapes the body for servers that
  parse markup;
- sends action buttons only when the server has the "actions" capability and someone listens
  (`on_action`); ActionInvoked / NotificationClosed are received on the *same* connection that
  sent Notify, because some servers (KDE Plasma) send them only to the notification's sender;
- bounds every call with `call_timeout_s` (default 3 s): a hung server costs at most that.

Why dbus-fast and not dbus-python: receiving those signals needs an event loop, which
dbus-python only has through a GLib main loop (not running with every tray backend); the
session watchers already run dbus-fast, and it installs from PyPI everywhere.

Threads: one daemon thread runs this notifier's asyncio loop and connection; `notify()`,
`close()` and `probe()` are synchronous wrappers that any thread may call. `on_action(tag,
action_key)` and `on_closed(tag, reason)` run on the loop thread: only post to a queue there.

Errors: `NoServer` (nothing owns the name, or the bus is unreachable), `ServerTimeout` (no answer
in time), `DeliveryFailed` (the server refused the call). All are `AdapterError`s.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import os
import threading
from collections.abc import Callable, Coroutine, Mapping
from typing import Any, TypeVar

from dbus_fast import Message, MessageType, Variant
from dbus_fast.aio import MessageBus

from psoas_break.adapters.notify.errors import (
    FDO_SERVER,
    NoServer,
    ServerTimeout,
    error_for,
    no_server_message,
)
from psoas_break.ports import DeliveryFailed, Notification

log = logging.getLogger(__name__)

T = TypeVar("T")

APP_NAME = "psoas-break"
NOTIFY_PATH = "/org/freedesktop/Notifications"
NOTIFY_IFACE = FDO_SERVER
DBUS_NAME = "org.freedesktop.DBus"
DBUS_PATH = "/org/freedesktop/DBus"
PROPERTIES_IFACE = "org.freedesktop.DBus.Properties"

URGENCY_NORMAL = 1
URGENCY_CRITICAL = 2

ActionCallback = Callable[[str, str], None]
ClosedCallback = Callable[[str, int], None]


def escape_markup(text: str) -> str:
    """Escape the three characters that the notification body markup gives meaning to."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def expire_timeout_ms(timeout_s: int) -> int:
    """Notification.timeout_s as the spec's expire_timeout: >0 ms, 0 never, <0 server default."""
    if timeout_s > 0:
        return int(timeout_s) * 1000
    return 0 if timeout_s == 0 else -1


class DbusNotifier:
    """Notifier over org.freedesktop.Notifications (see module docstring).

    `env` supplies DBUS_SESSION_BUS_ADDRESS (default: os.environ). Call `shutdown()` at exit.
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
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._bus: MessageBus | None = None
        self._connecting: asyncio.Lock | None = None
        self._caps: dict[str, frozenset[str]] = {}  # server unique name -> capabilities
        self._shown: dict[str, tuple[str, int]] = {}  # tag -> (server unique name, id)
        self.last_id: int | None = None

    # -- the loop thread --------------------------------------------------------------------

    def _ensure_loop(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is None:
                loop = asyncio.new_event_loop()
                thread = threading.Thread(
                    target=loop.run_forever, name="psoas-notify-dbus", daemon=True
                )
                thread.start()
                self._loop, self._thread = loop, thread
            return self._loop

    def _run(self, coro: Coroutine[Any, Any, T], budget_s: float) -> T:
        """Run `coro` on the loop thread and wait for it at most `budget_s` (+ a margin)."""
        loop = self._ensure_loop()
        future = asyncio.run_coroutine_threadsafe(coro, loop)
        try:
            return future.result(budget_s + 1.0)
        except concurrent.futures.TimeoutError as exc:
            future.cancel()
            raise ServerTimeout(
                f"the notification server did not answer within {budget_s:g} s"
            ) from exc

    async def _connection(self) -> MessageBus:
        if self._connecting is None:
            self._connecting = asyncio.Lock()
        async with self._connecting:
            bus = self._bus
            if bus is not None and bus.connected:
                return bus
            try:
                bus = MessageBus(bus_address=self._address) if self._address else MessageBus()
                bus = await asyncio.wait_for(bus.connect(), self.call_timeout_s)
            except asyncio.TimeoutError as exc:
                raise NoServer("the D-Bus session bus did not answer") from exc
            except Exception as exc:  # noqa: BLE001 - OSError, AuthError, bad address, ...
                raise NoServer(f"cannot connect to the D-Bus session bus: {exc}") from exc
            bus.add_message_handler(self._on_message)
            self._bus = bus
            # Broadcast signals need a match rule; targeted ones (KDE) arrive anyway.
            rule = f"type='signal',interface='{NOTIFY_IFACE}',path='{NOTIFY_PATH}'"
            await self._call(DBUS_NAME, DBUS_PATH, DBUS_NAME, "AddMatch", "s", [rule])
            return bus

    async def _call(
        self,
        destination: str,
        path: str,
        iface: str,
        member: str,
        signature: str = "",
        body: list[Any] | None = None,
    ) -> list[Any]:
        bus = self._bus
        if bus is None or not bus.connected:
            bus = await self._connection()
        msg = Message(
            destination=destination,
            path=path,
            interface=iface,
            member=member,
            signature=signature,
            body=body or [],
        )
        try:
            reply = await asyncio.wait_for(bus.call(msg), self.call_timeout_s)
        except asyncio.TimeoutError as exc:
            raise ServerTimeout(
                f"the notification server did not answer {member} within "
                f"{self.call_timeout_s:g} s"
            ) from exc
        except Exception as exc:  # noqa: BLE001 - the connection broke under the call
            self._bus = None
            raise NoServer(f"the D-Bus session bus connection broke: {exc}") from exc
        if reply is None:
            raise DeliveryFailed(f"no reply to {member}")
        if reply.message_type is MessageType.ERROR:
            text = str(reply.body[0]) if reply.body else ""
            raise error_for(reply.error_name or "", text, member, self.call_timeout_s)
        return list(reply.body)

    async def _owner(self) -> str | None:
        """Unique name of the server now, or None when nobody owns it (maybe activatable)."""
        try:
            reply = await self._call(DBUS_NAME, DBUS_PATH, DBUS_NAME, "GetNameOwner", "s",
                                     [FDO_SERVER])
        except NoServer as exc:
            if str(exc) == no_server_message():
                return None
            raise
        return str(reply[0])

    async def _capabilities(self, owner: str) -> frozenset[str]:
        caps = self._caps.get(owner)
        if caps is None:
            reply = await self._call(owner, NOTIFY_PATH, NOTIFY_IFACE, "GetCapabilities")
            caps = frozenset(str(c) for c in reply[0])
            self._caps[owner] = caps
        return caps

    def _on_message(self, msg: Message) -> None:
        """Route ActionInvoked / NotificationClosed of our notifications (loop thread)."""
        if msg.message_type is not MessageType.SIGNAL or msg.interface != NOTIFY_IFACE:
            return None
        if msg.member not in ("ActionInvoked", "NotificationClosed") or not msg.body:
            return None
        nid = int(msg.body[0])
        with self._lock:
            tag = next(
                (t for t, (owner, i) in self._shown.items() if i == nid and owner == msg.sender),
                None,
            )
            if tag is not None and msg.member == "NotificationClosed":
                del self._shown[tag]
        if tag is None:
            return None  # another app's notification, or one we replaced already
        try:
            if msg.member == "ActionInvoked" and self.on_action is not None:
                self.on_action(tag, str(msg.body[1]))
            elif msg.member == "NotificationClosed" and self.on_closed is not None:
                self.on_closed(tag, int(msg.body[1]))
        except Exception:  # noqa: BLE001 - a callback must not break the connection
            log.exception("the %s callback failed", msg.member)
        return None

    # -- coroutines behind the public calls -------------------------------------------------

    async def _probe(self) -> None:
        if await self._owner() is not None:
            return
        reply = await self._call(DBUS_NAME, DBUS_PATH, DBUS_NAME, "ListActivatableNames")
        if FDO_SERVER not in {str(n) for n in reply[0]}:
            raise NoServer(no_server_message() + ", and none can be started")

    async def _notify(self, notification: Notification) -> None:
        owner = await self._owner()
        replaces_id = 0
        caps: frozenset[str] = frozenset()
        if owner is not None:
            caps = await self._capabilities(owner)
            previous = self._shown.get(notification.tag)
            if previous is not None and previous[0] == owner:
                replaces_id = previous[1]
        body = escape_markup(notification.body) if "body-markup" in caps else notification.body
        actions: list[str] = []
        if notification.actions and "actions" in caps and self.on_action is not None:
            for key, label in notification.actions:
                actions += [key, label]
        hints: dict[str, Variant] = {
            "urgency": Variant("y", URGENCY_CRITICAL if notification.urgent else URGENCY_NORMAL),
        }
        icon = ""
        if notification.icon is not None:
            path = notification.icon.resolve()
            icon = str(path)
            hints["image-path"] = Variant("s", path.as_uri())
        if self.desktop_entry:
            hints["desktop-entry"] = Variant("s", self.desktop_entry)
        # Sent to the unique name when known, so the id surely belongs to that server.
        reply = await self._call(
            owner or FDO_SERVER, NOTIFY_PATH, NOTIFY_IFACE, "Notify", "susssasa{sv}i",
            [self.app_name, replaces_id, icon, notification.title, body, actions, hints,
             expire_timeout_ms(notification.timeout_s)],
        )
        nid = int(reply[0])
        if owner is None:  # the call started (activated) a server: learn its name
            owner = await self._owner()
        with self._lock:
            self.last_id = nid
            if owner is not None:
                self._shown[notification.tag] = (owner, nid)
        log.debug("notified %r as id %d (replaced %d) via %s", notification.tag, nid,
                  replaces_id, owner)

    async def _close(self, tag: str) -> None:
        with self._lock:
            shown = self._shown.pop(tag, None)
        if shown is None:
            return
        owner, nid = shown
        if await self._owner() != owner:
            return  # that server is gone, and its notifications with it
        await self._call(owner, NOTIFY_PATH, NOTIFY_IFACE, "CloseNotification", "u", [nid])

    # -- public -----------------------------------------------------------------------------

    def probe(self) -> None:
        """Raise NoServer unless the bus is reachable and a server owns (or can be started
        for) org.freedesktop.Notifications. Asks only the bus daemon, never the server."""
        self._run(self._probe(), 2 * self.call_timeout_s)

    def notify(self, notification: Notification) -> None:
        """Show `notification`, replacing the one shown before with the same tag."""
        self._run(self._notify(notification), 4 * self.call_timeout_s)

    def close(self, tag: str) -> None:
        """Close the notification shown with `tag` (CloseNotification); no-op if none is."""
        self._run(self._close(tag), 2 * self.call_timeout_s)

    def shown_id(self, tag: str) -> int | None:
        """The server's id of the notification shown with `tag`, if any."""
        with self._lock:
            shown = self._shown.get(tag)
        return None if shown is None else shown[1]

    def server_information(self) -> tuple[str, str, str, str]:
        """(name, vendor, version, spec version) of the running server (for `doctor`)."""

        async def info() -> list[Any]:
            return await self._call(FDO_SERVER, NOTIFY_PATH, NOTIFY_IFACE, "GetServerInformation")

        name, vendor, version, spec = (str(x) for x in self._run(info(), self.call_timeout_s))
        return name, vendor, version, spec

    def inhibited(self) -> bool | None:
        """True when the server is in "do not disturb" mode (the Inhibited property, spec
        1.2+); None when the server does not say or cannot be asked."""

        async def get() -> list[Any]:
            return await self._call(FDO_SERVER, NOTIFY_PATH, PROPERTIES_IFACE, "Get", "ss",
                                    [NOTIFY_IFACE, "Inhibited"])

        try:
            reply = self._run(get(), self.call_timeout_s)
        except (DeliveryFailed, NoServer):
            return None
        value = reply[0]
        return bool(value.value if isinstance(value, Variant) else value)

    def shutdown(self) -> None:
        """Disconnect and stop the loop thread (waits at most ~1 s). Idempotent."""
        with self._lock:
            loop, thread = self._loop, self._thread
            self._loop = self._thread = None
        if loop is None or thread is None:
            return

        def stop() -> None:
            bus, self._bus = self._bus, None
            if bus is not None:
                with contextlib.suppress(Exception):
                    bus.disconnect()
            loop.stop()

        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(stop)
        thread.join(1.0)
        if not thread.is_alive():
            loop.close()
