"""Session watchers: screen lock/unlock and suspend/resume, one module per source.

`make_session_watcher(env)` returns (watcher, Choice). On Linux/BSD it combines every source
that works here into one `CompositeSessionWatcher`:
- logind (system bus): PrepareForSleep, and our session's Lock/Unlock and LockedHint;
- screensaver (session bus): ActiveChanged from org.freedesktop.ScreenSaver and
  org.gnome.ScreenSaver.
Both listen on the app's shared jeepney connections (psoas_break.adapters.dbus).
Windows: `WindowsSessionWatcher` (WTS lock notifications + power broadcasts, session/windows.py).
macOS: `MacSessionWatcher` (distributed screenIsLocked/Unlocked notifications + IOKit
sleep/wake, session/macos.py). Nothing works: `NullSessionWatcher`. Callbacks run on a
watcher thread; the app's only post a ScreenLock or Sleep command to its inbox.

The composite forwards a value only when it differs from the last one forwarded for that kind,
so the same lock reported by logind and by the screensaver (or twice by KDE) arrives once.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Mapping, Sequence

from psoas_break.adapters.backends import LINUX_BSD, MACOS, WINDOWS, Candidate, every
from psoas_break.ports import Choice, SessionWatcher, Unavailable

log = logging.getLogger(__name__)

PROBE_TIMEOUT_S = 2.0


class NullSessionWatcher:
    """Reports nothing: the engine relies on idle time and clock gaps."""

    name = "none"

    def start(self, on_lock: Callable[[bool], None], on_sleep: Callable[[bool], None]) -> None:
        """Nothing to start."""

    def stop(self) -> None:
        """Nothing to stop."""


class CompositeSessionWatcher:
    """Runs several watchers; forwards each lock/sleep value only when it changes."""

    def __init__(self, watchers: Sequence[SessionWatcher]) -> None:
        self.watchers = list(watchers)
        self.name = "+".join(w.name for w in self.watchers) or "none"
        self._lock = threading.Lock()
        self._last: dict[str, bool] = {}
        self._on_lock: Callable[[bool], None] = lambda _v: None
        self._on_sleep: Callable[[bool], None] = lambda _v: None

    def _forward(self, kind: str, value: bool) -> None:
        with self._lock:
            if self._last.get(kind) == value:
                return
            self._last[kind] = value
        callback = self._on_lock if kind == "lock" else self._on_sleep
        try:
            callback(value)
        except Exception:
            log.exception("session %s callback failed", kind)

    def start(self, on_lock: Callable[[bool], None], on_sleep: Callable[[bool], None]) -> None:
        """Start every member; callbacks come from the members' threads."""
        self._on_lock, self._on_sleep = on_lock, on_sleep
        for watcher in self.watchers:
            watcher.start(lambda value: self._forward("lock", value),
                          lambda value: self._forward("sleep", value))

    def stop(self) -> None:
        """Stop every member (in reverse order)."""
        for watcher in reversed(self.watchers):
            try:
                watcher.stop()
            except Exception:
                log.exception("stopping the %s watcher failed", watcher.name)


def _candidates(env: Mapping[str, str]) -> tuple[Candidate[SessionWatcher], ...]:
    # Each probe is bounded by PROBE_TIMEOUT_S whatever the bus does; without jeepney it raises
    # Unavailable saying so (adapters.dbus imports without it).
    def logind() -> SessionWatcher:
        from psoas_break.adapters.dbus import DEFAULT_SYSTEM_BUS, probe_names, system_bus_address
        from psoas_break.adapters.session.logind import LOGIN1_NAME, LogindWatcher

        address = system_bus_address(env)
        if address == DEFAULT_SYSTEM_BUS and not os.path.exists(
                DEFAULT_SYSTEM_BUS.removeprefix("unix:path=")):
            raise Unavailable("no system bus (/run/dbus/system_bus_socket is missing)")
        try:
            owners = probe_names(address, [LOGIN1_NAME], PROBE_TIMEOUT_S)
        except Exception as exc:
            raise Unavailable(f"cannot reach the system bus ({exc})") from exc
        if not owners[LOGIN1_NAME]:
            raise Unavailable(f"no {LOGIN1_NAME} on the system bus "
                              "(neither systemd-logind nor elogind)")
        return LogindWatcher(address, env.get("XDG_SESSION_ID"))

    def screensaver() -> SessionWatcher:
        from psoas_break.adapters.dbus import probe_names, session_bus_address
        from psoas_break.adapters.session.screensaver import ScreenSaverWatcher

        address = session_bus_address(env)
        if address is None:
            raise Unavailable("no D-Bus session bus")
        try:
            probe_names(address, [], PROBE_TIMEOUT_S)
        except Exception as exc:
            raise Unavailable(f"cannot reach the session bus ({exc})") from exc
        return ScreenSaverWatcher(address)

    def windows() -> SessionWatcher:
        from psoas_break.adapters.session.windows import WindowsSessionWatcher

        return WindowsSessionWatcher()

    def macos() -> SessionWatcher:
        from psoas_break.adapters.session.macos import MacSessionWatcher

        return MacSessionWatcher.open()

    return (
        Candidate("logind", logind, LINUX_BSD),
        Candidate("screensaver", screensaver, LINUX_BSD),
        Candidate("windows", windows, WINDOWS),
        Candidate("macos", macos, MACOS),
    )


def make_session_watcher(env: Mapping[str, str] | None = None, *,
                         platform: str | None = None) -> tuple[SessionWatcher, Choice]:
    """The lock/suspend watcher for this session, not started yet, and why (see module
    docstring); never raises."""
    env = os.environ if env is None else env
    watchers, choice = every("session", _candidates(env), env=env, platform=platform, join="+")
    if not watchers:
        return NullSessionWatcher(), choice
    return CompositeSessionWatcher(watchers), choice
