"""systemd-logind on the system bus: suspend (PrepareForSleep) and this session's screen lock.

Signals watched (org.freedesktop.login1):
- Manager.PrepareForSleep(b): True just before suspend, False right after resume;
- Session.Lock / Session.Unlock on *our* session object: logind asking the session's locker
  to lock (`loginctl lock-session`, lid close with some settings) or unlock;
- Properties.PropertiesChanged(LockedHint) on that object: what GNOME Shell and KDE's locker
  set when they lock or unlock by themselves (Super+L), so user-initiated locks are seen too.

Our session: GetSessionByPID(our pid) (fails for apps started by `systemd --user`), else
GetSession($XDG_SESSION_ID), else GetSession("auto") (logind's "the caller's display session").
Signals are emitted on the real object path, never on .../session/auto, so the path is resolved
once per (re)appearance of logind. Without a session only PrepareForSleep is watched.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping

from dbus_fast import BusType, Message, MessageType
from dbus_fast.aio import MessageBus

from psoas_break.adapters.session._dbus_watch import DBusSignalWatcher, call

log = logging.getLogger(__name__)

LOGIN1_NAME = "org.freedesktop.login1"
MANAGER_PATH = "/org/freedesktop/login1"
MANAGER_IFACE = "org.freedesktop.login1.Manager"
SESSION_IFACE = "org.freedesktop.login1.Session"
PROPERTIES_IFACE = "org.freedesktop.DBus.Properties"
DEFAULT_SYSTEM_BUS = "unix:path=/run/dbus/system_bus_socket"


def system_bus_address(env: Mapping[str, str]) -> str:
    """DBUS_SYSTEM_BUS_ADDRESS, or the standard socket."""
    return env.get("DBUS_SYSTEM_BUS_ADDRESS") or DEFAULT_SYSTEM_BUS


class LogindWatcher(DBusSignalWatcher):
    """SessionWatcher over logind's PrepareForSleep and the session's Lock/Unlock/LockedHint."""

    name = "logind"
    bus_type = BusType.SYSTEM

    def __init__(
        self, address: str, session_id: str | None = None, pid: int | None = None
    ) -> None:
        super().__init__(address)
        self.session_id = session_id
        self.pid = os.getpid() if pid is None else pid
        #: The session object path being watched, once known (for doctor and tests).
        self.session_path: str | None = None
        self._session_rules: list[str] = []

    def match_rules(self) -> list[str]:
        return [
            f"type='signal',sender='{LOGIN1_NAME}',interface='{MANAGER_IFACE}',"
            f"member='PrepareForSleep',path='{MANAGER_PATH}'"
        ]

    def watched_names(self) -> tuple[str, ...]:
        return (LOGIN1_NAME,)

    async def on_connected(self, bus: MessageBus) -> None:
        await self._watch_session(bus)

    def on_name_owner(self, name: str, new_owner: str) -> None:
        if new_owner:
            log.info("logind (re)appeared as %s; looking up our session again", new_owner)
            bus = self._bus
            if bus is not None:
                self.spawn(lambda: self._watch_session(bus))

    async def _resolve_session(self, bus: MessageBus) -> str | None:
        attempts: list[tuple[str, str, list[object]]] = [("GetSessionByPID", "u", [self.pid])]
        if self.session_id:
            attempts.append(("GetSession", "s", [self.session_id]))
        attempts.append(("GetSession", "s", ["auto"]))
        for member, signature, body in attempts:
            reply = await call(bus, Message(
                destination=LOGIN1_NAME, path=MANAGER_PATH, interface=MANAGER_IFACE,
                member=member, signature=signature, body=body,
            ))
            if reply.message_type is MessageType.METHOD_RETURN and reply.body:
                return str(reply.body[0])
            log.debug("logind %s%s: %s", member, tuple(body), reply.body)
        return None

    async def _watch_session(self, bus: MessageBus) -> None:
        try:
            path = await self._resolve_session(bus)
        except Exception as exc:  # logind absent or slow: PrepareForSleep is still watched
            log.info("logind: no session to watch for Lock/Unlock (%s)", exc)
            return
        if path is None:
            log.info("logind: this process belongs to no session; watching suspend only")
            return
        if path == self.session_path and self._session_rules:
            return
        for rule in self._session_rules:
            await self.remove_match(bus, rule)
        rules = [
            f"type='signal',sender='{LOGIN1_NAME}',interface='{SESSION_IFACE}',path='{path}'",
            f"type='signal',sender='{LOGIN1_NAME}',interface='{PROPERTIES_IFACE}',"
            f"member='PropertiesChanged',path='{path}',arg0='{SESSION_IFACE}'",
        ]
        for rule in rules:
            await self.add_match(bus, rule)
        self._session_rules = rules
        self.session_path = path
        log.debug("logind: watching session %s", path)

    def handle(self, msg: Message) -> None:
        if msg.interface == MANAGER_IFACE and msg.member == "PrepareForSleep":
            if msg.body:
                self.emit_sleep(bool(msg.body[0]))
            return
        if msg.path != self.session_path or self.session_path is None:
            return
        if msg.interface == SESSION_IFACE and msg.member in ("Lock", "Unlock"):
            self.emit_lock(msg.member == "Lock")
        elif msg.interface == PROPERTIES_IFACE and msg.member == "PropertiesChanged":
            changed = msg.body[1] if len(msg.body) > 1 else {}
            hint = changed.get("LockedHint")
            if hint is not None:
                self.emit_lock(bool(hint.value))
