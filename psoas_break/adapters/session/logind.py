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
each time logind (re)appears, and after the bus itself restarted. Without a session only
PrepareForSleep is watched. The rules name logind's well-known name as sender, so the bus
daemon follows a restarted logind by itself.
"""

from __future__ import annotations

import logging
import os
from typing import Any

from psoas_break.adapters.dbus import PROPERTIES_IFACE, Bus, CallFailed, Signal
from psoas_break.adapters.session._bus_watcher import BusWatcher

log = logging.getLogger(__name__)

LOGIN1_NAME = "org.freedesktop.login1"
MANAGER_PATH = "/org/freedesktop/login1"
MANAGER_IFACE = "org.freedesktop.login1.Manager"
SESSION_IFACE = "org.freedesktop.login1.Session"
CALL_TIMEOUT_S = 2.0


class LogindWatcher(BusWatcher):
    """SessionWatcher over logind's PrepareForSleep and the session's Lock/Unlock/LockedHint."""

    name = "logind"
    kind = "system"

    def __init__(self, address: str, session_id: str | None = None,
                 pid: int | None = None) -> None:
        super().__init__(address)
        self.session_id = session_id
        self.pid = os.getpid() if pid is None else pid
        #: The session object path being watched, once known (for doctor and tests).
        self.session_path: str | None = None
        self._session_rules: list[object] = []

    def listen(self, bus: Bus) -> None:
        bus.subscribe(self._prepare_for_sleep, sender=LOGIN1_NAME, interface=MANAGER_IFACE,
                      member="PrepareForSleep", path=MANAGER_PATH)
        bus.watch_name(LOGIN1_NAME, self._logind_owner)

    def _prepare_for_sleep(self, signal: Signal) -> None:
        if signal.body:
            self.on_sleep(bool(signal.body[0]))

    def _logind_owner(self, owner: str) -> None:
        bus = self._bus
        if owner and bus is not None:
            log.debug("logind is %s; looking up our session", owner)
            self._watch_session(bus)

    def _resolve_session(self, bus: Bus) -> str | None:
        attempts: list[tuple[str, str, tuple[Any, ...]]] = [("GetSessionByPID", "u", (self.pid,))]
        if self.session_id:
            attempts.append(("GetSession", "s", (self.session_id,)))
        attempts.append(("GetSession", "s", ("auto",)))
        for member, signature, args in attempts:
            try:
                reply = bus.call(LOGIN1_NAME, MANAGER_PATH, MANAGER_IFACE, member, signature,
                                 args, CALL_TIMEOUT_S)
            except CallFailed as exc:
                log.debug("logind %s%s: %s", member, args, exc)
                continue
            if reply:
                return str(reply[0])
        return None

    def _watch_session(self, bus: Bus) -> None:
        path = self._resolve_session(bus)
        if path is None:
            log.info("logind: this process belongs to no session; watching suspend only")
            return
        if path == self.session_path and self._session_rules:
            return
        for token in self._session_rules:
            bus.unsubscribe(token)
        self._session_rules = [
            bus.subscribe(self._session_signal, sender=LOGIN1_NAME, interface=SESSION_IFACE,
                          path=path),
            bus.subscribe(self._session_signal, sender=LOGIN1_NAME, interface=PROPERTIES_IFACE,
                          member="PropertiesChanged", path=path, arg0=SESSION_IFACE),
        ]
        self.session_path = path
        log.debug("logind: watching session %s", path)

    def _session_signal(self, signal: Signal) -> None:
        if signal.path != self.session_path:
            return
        if signal.interface == SESSION_IFACE and signal.member in ("Lock", "Unlock"):
            self.on_lock(signal.member == "Lock")
        elif signal.interface == PROPERTIES_IFACE and signal.member == "PropertiesChanged":
            changed = signal.body[1] if len(signal.body) > 1 else {}
            hint = changed.get("LockedHint") if isinstance(changed, dict) else None
            if hint is not None:
                self.on_lock(bool(hint))
