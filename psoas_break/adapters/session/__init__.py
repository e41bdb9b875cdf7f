"""Session watchers: screen lock/unlock and suspend/resume, one module per source.

`make_session_watcher(env)` returns (watcher, Choice). On Linux/BSD it combines every source
that works here into one `CompositeSessionWatcher`:
- logind (system bus): PrepareForSleep, and our session's Lock/Unlock and LockedHint;
- screensaver (session bus): ActiveChanged from org.freedesktop.ScreenSaver and
  org.gnome.ScreenSaver.
Both listen with jeepney's blocking I/O on plain threads: nothing here imports asyncio or
dbus_fast, which would cost ~12 MiB RSS in an otherwise idle tray app (see _dbus_watch.py).
Windows: `WindowsSessionWatcher` (WTS lock notifications + power broadcasts, session/windows.py).
macOS: `MacSessionWatcher` (distributed screenIsLocked/Unlocked notifications + IOKit
sleep/wake, session/macos.py). Nothing works: `NullSessionWatcher`.

How the runtime uses it (callbacks run on a watcher thread: only post to the engine queue):

    watcher, choice = make_session_watcher()
    watcher.start(on_lock=lambda locked: queue.put(ScreenLock(locked)),
                  on_sleep=lambda sleeping: queue.put(("sleep", sleeping)))
    ...
    watcher.stop()

The composite forwards a value only when it differs from the last one forwarded for that kind,
so the same lock reported by logind and by the screensaver (or twice by KDE) arrives once.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
from collections.abc import Callable, Mapping, Sequence

from psoas_break.ports import AdapterError, Choice, SessionWatcher

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
            watcher.start(
                lambda value: self._forward("lock", value),
                lambda value: self._forward("sleep", value),
            )

    def stop(self) -> None:
        """Stop every member (in reverse order)."""
        for watcher in reversed(self.watchers):
            try:
                watcher.stop()
            except Exception:
                log.exception("stopping the %s watcher failed", watcher.name)


def _probe(address: str, names: Sequence[str]) -> dict[str, bool]:
    """Connect to the bus at `address` and ask NameHasOwner for each name; raises on failure.

    Bounded by PROBE_TIMEOUT_S whatever the bus does (see `_dbus_watch.probe_names`).
    """
    from psoas_break.adapters.session._dbus_watch import probe_names

    return probe_names(address, names, PROBE_TIMEOUT_S)


def _linux(env: Mapping[str, str]) -> tuple[SessionWatcher, Choice]:
    from psoas_break.adapters.idle._dbus_sync import session_bus_address

    members: list[SessionWatcher] = []
    rejected: list[tuple[str, str]] = [("windows", "only on Windows"), ("macos", "only on macOS")]
    try:
        from psoas_break.adapters.session.logind import (
            DEFAULT_SYSTEM_BUS,
            LOGIN1_NAME,
            LogindWatcher,
            system_bus_address,
        )
        from psoas_break.adapters.session.screensaver import ScreenSaverWatcher
    except ImportError as exc:  # jeepney is a Linux dependency; a broken install lacks it
        reason = f"cannot import jeepney ({exc}); install it: pip install 'jeepney>=0.8'"
        return NullSessionWatcher(), Choice(
            "session", "none", (("logind", reason), ("screensaver", reason), *rejected)
        )

    system_address = system_bus_address(env)
    if system_address == DEFAULT_SYSTEM_BUS and not os.path.exists(
        DEFAULT_SYSTEM_BUS.removeprefix("unix:path=")
    ):
        rejected.insert(0, ("logind", "no system bus (/run/dbus/system_bus_socket is missing)"))
    else:
        try:
            owners = _probe(system_address, [LOGIN1_NAME])
        except Exception as exc:
            rejected.insert(0, ("logind", f"cannot reach the system bus ({exc})"))
        else:
            if owners[LOGIN1_NAME]:
                members.append(LogindWatcher(system_address, env.get("XDG_SESSION_ID")))
            else:
                rejected.insert(0, ("logind", f"no {LOGIN1_NAME} on the system bus "
                                              "(neither systemd-logind nor elogind)"))

    session_address = session_bus_address(env)
    if session_address is None:
        rejected.insert(0, ("screensaver", "no D-Bus session bus"))
    else:
        try:
            _probe(session_address, [])
        except Exception as exc:
            rejected.insert(0, ("screensaver", f"cannot reach the session bus ({exc})"))
        else:
            members.append(ScreenSaverWatcher(session_address))

    if not members:
        return NullSessionWatcher(), Choice("session", "none", tuple(rejected))
    composite = CompositeSessionWatcher(members)
    return composite, Choice("session", composite.name, tuple(rejected))


def make_session_watcher(
    env: Mapping[str, str] | None = None, *, platform: str | None = None
) -> tuple[SessionWatcher, Choice]:
    """The lock/suspend watcher for this session and why (see module docstring); never raises.

    The watcher is not started: call `start(on_lock, on_sleep)` and, at exit, `stop()`.
    """
    env = os.environ if env is None else env
    platform = platform or sys.platform
    unix_rejected = (("logind", "only on Linux/BSD"), ("screensaver", "only on Linux/BSD"))
    if platform == "win32":
        from psoas_break.adapters.session.windows import WindowsSessionWatcher

        others = (*unix_rejected, ("macos", "only on macOS"))
        try:
            watcher = WindowsSessionWatcher()
        except AdapterError as exc:
            return NullSessionWatcher(), Choice("session", "none", (("windows", str(exc)), *others))
        except Exception as exc:  # noqa: BLE001 - a broken binding must not stop the app
            log.warning("Windows session watcher unavailable: %s", exc, exc_info=True)
            return NullSessionWatcher(), Choice(
                "session", "none", (("windows", f"failed: {type(exc).__name__}: {exc}"), *others)
            )
        return CompositeSessionWatcher([watcher]), Choice("session", "windows", others)
    if platform == "darwin":
        from psoas_break.adapters.session.macos import MacSessionWatcher

        others = (*unix_rejected, ("windows", "only on Windows"))
        try:
            mac_watcher = MacSessionWatcher.open()
        except AdapterError as exc:
            return NullSessionWatcher(), Choice("session", "none", (("macos", str(exc)), *others))
        except Exception as exc:  # noqa: BLE001 - a broken binding must not stop the app
            log.warning("macOS session watcher unavailable: %s", exc, exc_info=True)
            return NullSessionWatcher(), Choice(
                "session", "none", (("macos", f"failed: {type(exc).__name__}: {exc}"), *others)
            )
        return CompositeSessionWatcher([mac_watcher]), Choice("session", "macos", others)
    try:
        return _linux(env)
    except Exception as exc:  # noqa: BLE001 - a broken watcher must not stop the app
        log.warning("session watcher unavailable: %s", exc, exc_info=True)
        return NullSessionWatcher(), Choice("session", "none", (("logind", str(exc)),))


__all__ = ["CompositeSessionWatcher", "NullSessionWatcher", "make_session_watcher"]
