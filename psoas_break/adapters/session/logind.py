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
from typing import Any

from jeepney.io.blocking import DBusConnection

from psoas_break.adapters.session._dbus_watch import (
    CallFailed,
    DBusSignalWatcher,
    Signal,
    call,
    variant_value,
)

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

    def on_connected(self, conn: DBusConnection) -> None:
        # A new connection has none of the old one's rules.
        self._session_rules = []
        self._watch_session(conn)

    def on_name_owner(self, conn: DBusConnection, name: str, new_owner: str) -> None:
        if new_owner:
            log.info("logind (re)appeared as %s; looking up our session again", new_owner)
            self._watch_session(conn)

    def _resolve_session(self, conn: DBusConnection) -> str | None:
        attempts: list[tuple[str, str, tuple[Any, ...]]] = [
            ("GetSessionByPID", "u", (self.pid,))
        ]
        if self.session_id:
            attempts.append(("GetSession", "s", (self.session_id,)))
        attempts.append(("GetSession", "s", ("auto",)))
        for member, signature, body in attempts:
            try:
                reply = call(conn, LOGIN1_NAME, MANAGER_PATH, MANAGER_IFACE, member,
                             signature, body)
            except CallFailed as exc:
                log.debug("logind %s%s: %s", member, body, exc)
                continue
            if reply:
                return str(reply[0])
        return None

    def _watch_session(self, conn: DBusConnection) -> None:
        try:
            path = self._resolve_session(conn)
        except Exception as exc:  # logind absent or slow: PrepareForSleep is still watched
            log.info("logind: no session to watch for Lock/Unlock (%s)", exc)
            return
        if path is None:
            log.info("logind: this process belongs to no session; watching suspend only")
            return
        if path == self.session_path and self._session_rules:
            return
        for rule in self._session_rules:
            self.remove_match(conn, rule)
        rules = [
            f"type='signal',sender='{LOGIN1_NAME}',interface='{SESSION_IFACE}',path='{path}'",
            f"type='signal',sender='{LOGIN1_NAME}',interface='{PROPERTIES_IFACE}',"
            f"member='PropertiesChanged',path='{path}',arg0='{SESSION_IFACE}'",
        ]
        try:
            for rule in rules:
                self.add_match(conn, rule)
        except Exception as exc:
            log.warning("logind: cannot watch session %s for Lock/Unlock (%s)", path, exc)
            return
        self._session_rules = rules
        self.session_path = path
        log.debug("logind: watching session %s", path)

    def handle(self, signal: Signal) -> None:
        if signal.interface == MANAGER_IFACE and signal.member == "PrepareForSleep":
            if signal.body:
                self.emit_sleep(bool(signal.body[0]))
            return
        if signal.path != self.session_path or self.session_path is None:
            return
        if signal.interface == SESSION_IFACE and signal.member in ("Lock", "Unlock"):
            self.emit_lock(signal.member == "Lock")
        elif signal.interface == PROPERTIES_IFACE and signal.member == "PropertiesChanged":
            changed = signal.body[1] if len(signal.body) > 1 else {}
            hint = changed.get("LockedHint") if isinstance(changed, dict) else None
            if hint is not None:
                self.emit_lock(bool(variant_value(hint)))
