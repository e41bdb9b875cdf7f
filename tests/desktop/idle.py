"""Fake desktop idle-time services for tests: GNOME's Mutter IdleMonitor and the ScreenSaver APIs.

Idle model (both services): the test sets an idle time in ms and whether it then grows in real
time ("growing") or stays put ("frozen", the default, so assertions are exact). Setting a value
lower than the current one counts as user activity.

`python -m tests.desktop.idle mutter [--idle-ms N]` owns org.gnome.Mutter.IdleMonitor and
exports /org/gnome/Mutter/IdleMonitor/Core (interface org.gnome.Mutter.IdleMonitor):
GetIdletime() -> t (milliseconds, as Mutter), AddIdleWatch(t interval_ms) -> u,
AddUserActiveWatch() -> u (one-shot, as Mutter), RemoveWatch(u), signal WatchFired(u).

`python -m tests.desktop.idle screensaver --flavor kde|spec|gnome [--idle-ms N] [--active]`:
- flavor "kde" (default) owns org.freedesktop.ScreenSaver at /ScreenSaver and
  /org/freedesktop/ScreenSaver like KDE's ksmserver/kscreenlocker, whose GetSessionIdleTime
  returns `KIdleTime::idleTime()`: MILLISECONDS, although the freedesktop draft says seconds.
  (Checked in kscreenlocker's interface.cpp; its newer versions answer NotSupported on Wayland:
  flavor "kde-wayland" does that.)
- flavor "spec": same name and paths, GetSessionIdleTime in SECONDS (the freedesktop draft,
  what xfce4-screensaver and gnome-screensaver 2.x do).
- flavor "gnome": org.gnome.ScreenSaver at /org/gnome/ScreenSaver as gnome-shell has it: no
  GetSessionIdleTime (UnknownMethod); GetActive/SetActive/ActiveChanged/Lock work.
Methods: GetSessionIdleTime() -> u, GetActive() -> b, SetActive(b) -> b, GetActiveTime() -> u
(seconds active), Lock(), SimulateUserActivity(), Inhibit(ss) -> u, UnInhibit(u); signal
ActiveChanged(b).

Control interface org.psoas_break.Test.Idle on the main path: SetIdle(t ms, b growing),
SetActive(b) (emits ActiveChanged when it changes), GetInhibitors() -> a(uss).

Test side: `MutterIdleMonitor` and `ScreenSaver` handles from `DesktopSession`.
"""

import argparse
import asyncio
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, Any

from dbus_fast import DBusError
from dbus_fast.aio import MessageBus
from dbus_fast.annotations import (
    DBusBool,
    DBusSignature,
    DBusStr,
    DBusUInt32,
    DBusUInt64,
)
from dbus_fast.service import ServiceInterface, dbus_method, dbus_signal

from . import _service
from .handle import ServiceHandle

if TYPE_CHECKING:
    from .bus import SignalRecorder
    from .session import DesktopSession

MUTTER_NAME = "org.gnome.Mutter.IdleMonitor"
MUTTER_PATH = "/org/gnome/Mutter/IdleMonitor/Core"
MUTTER_IFACE = "org.gnome.Mutter.IdleMonitor"
CONTROL_IFACE = f"{_service.CONTROL_PREFIX}.Idle"

#: flavor -> (bus name, object paths, interface, GetSessionIdleTime unit or None/"unsupported")
SCREENSAVER_FLAVORS: dict[str, tuple[str, tuple[str, ...], str, str | None]] = {
    "kde": (
        "org.freedesktop.ScreenSaver",
        ("/ScreenSaver", "/org/freedesktop/ScreenSaver"),
        "org.freedesktop.ScreenSaver",
        "ms",
    ),
    "kde-wayland": (
        "org.freedesktop.ScreenSaver",
        ("/ScreenSaver", "/org/freedesktop/ScreenSaver"),
        "org.freedesktop.ScreenSaver",
        "unsupported",
    ),
    "spec": (
        "org.freedesktop.ScreenSaver",
        ("/ScreenSaver", "/org/freedesktop/ScreenSaver"),
        "org.freedesktop.ScreenSaver",
        "s",
    ),
    "gnome": ("org.gnome.ScreenSaver", ("/org/gnome/ScreenSaver",), "org.gnome.ScreenSaver", None),
}

Inhibitors = Annotated[list[tuple[int, str, str]], DBusSignature("a(uss)")]


class IdleClock:
    """The idle time a test dictates: a base value in ms, frozen or growing in real time."""

    def __init__(self, idle_ms: int) -> None:
        self._base_ms = idle_ms
        self._set_at = time.monotonic()
        self.growing = False
        self.on_change: list[Callable[[int, int], None]] = []

    def now_ms(self) -> int:
        extra = (time.monotonic() - self._set_at) * 1000 if self.growing else 0
        return int(self._base_ms + extra)

    def set(self, idle_ms: int, growing: bool) -> None:
        old = self.now_ms()
        self._base_ms = idle_ms
        self._set_at = time.monotonic()
        self.growing = growing
        for callback in list(self.on_change):
            callback(old, idle_ms)


class _Mutter(ServiceInterface):
    def __init__(self, clock: IdleClock) -> None:
        super().__init__(MUTTER_IFACE)
        self._clock = clock
        self._next_id = 1
        self._idle_watches: dict[int, int] = {}  # id -> interval ms
        self._fired: set[int] = set()  # idle watches fired since the last activity
        self._timers: dict[int, asyncio.TimerHandle] = {}
        self._active_watches: set[int] = set()
        clock.on_change.append(self._changed)

    def _new_id(self) -> int:
        wid = self._next_id
        self._next_id += 1
        return wid

    def _arm(self, wid: int) -> None:
        """Fire idle watch `wid` now if due, or schedule it while the idle time grows."""
        if wid in self._timers:
            self._timers.pop(wid).cancel()
        if wid in self._fired or wid not in self._idle_watches:
            return
        due_in_ms = self._idle_watches[wid] - self._clock.now_ms()
        if due_in_ms <= 0:
            self._fired.add(wid)
            self.WatchFired(wid)
        elif self._clock.growing:
            loop = asyncio.get_running_loop()
            self._timers[wid] = loop.call_later(due_in_ms / 1000, self._arm, wid)

    def _changed(self, old_ms: int, new_ms: int) -> None:
        if new_ms < old_ms:  # user activity
            self._fired.clear()
            for wid in list(self._active_watches):
                self._active_watches.discard(wid)
                self.WatchFired(wid)
        for wid in list(self._idle_watches):
            self._arm(wid)

    @dbus_method()
    def GetIdletime(self) -> DBusUInt64:
        return self._clock.now_ms()

    @dbus_method()
    def AddIdleWatch(self, interval_ms: DBusUInt64) -> DBusUInt32:
        wid = self._new_id()
        self._idle_watches[wid] = interval_ms
        self._arm(wid)
        return wid

    @dbus_method()
    def AddUserActiveWatch(self) -> DBusUInt32:
        wid = self._new_id()
        self._active_watches.add(wid)
        return wid

    @dbus_method()
    def RemoveWatch(self, wid: DBusUInt32) -> None:
        self._idle_watches.pop(wid, None)
        self._active_watches.discard(wid)
        if wid in self._timers:
            self._timers.pop(wid).cancel()

    @dbus_signal()
    def WatchFired(self, wid: int) -> DBusUInt32:
        return wid


class _SaverState:
    """State shared by the screensaver objects exported at several paths (one dbus-fast
    interface instance can be exported only once per bus)."""

    def __init__(self, active: bool) -> None:
        self.active = active
        self.active_since = time.monotonic()
        self.next_cookie = 7001
        self.inhibitors: dict[int, tuple[str, str]] = {}
        self.views: list[_ScreenSaver] = []

    def set_active(self, value: bool) -> bool:
        if value != self.active:
            self.active = value
            self.active_since = time.monotonic()
            for view in self.views:  # every path emits, as KDE's does
                view.ActiveChanged(value)
        return True


class _ScreenSaver(ServiceInterface):
    def __init__(self, iface: str, unit: str | None, clock: IdleClock, state: _SaverState) -> None:
        super().__init__(iface)
        self._unit = unit
        self._clock = clock
        self._state = state
        state.views.append(self)

    @dbus_method()
    def GetSessionIdleTime(self) -> DBusUInt32:
        if self._unit is None:
            raise DBusError("org.freedesktop.DBus.Error.UnknownMethod", "no GetSessionIdleTime")
        if self._unit == "unsupported":
            raise DBusError(
                "org.freedesktop.DBus.Error.NotSupported",
                "GetSessionIdleTime is not supported on this platform",
            )
        idle_ms = self._clock.now_ms()
        return idle_ms if self._unit == "ms" else idle_ms // 1000

    @dbus_method()
    def GetActive(self) -> DBusBool:
        return self._state.active

    @dbus_method()
    def SetActive(self, value: DBusBool) -> DBusBool:
        return self._state.set_active(value)

    @dbus_method()
    def GetActiveTime(self) -> DBusUInt32:
        state = self._state
        return int(time.monotonic() - state.active_since) if state.active else 0

    @dbus_method()
    def Lock(self) -> None:
        self._state.set_active(True)

    @dbus_method()
    def SimulateUserActivity(self) -> None:
        self._clock.set(0, self._clock.growing)

    @dbus_method()
    def Inhibit(self, application: DBusStr, reason: DBusStr) -> DBusUInt32:
        cookie = self._state.next_cookie
        self._state.next_cookie += 1
        self._state.inhibitors[cookie] = (application, reason)
        return cookie

    @dbus_method()
    def UnInhibit(self, cookie: DBusUInt32) -> None:
        self._state.inhibitors.pop(cookie, None)

    @dbus_signal()
    def ActiveChanged(self, value: bool) -> DBusBool:
        return value


class _Control(ServiceInterface):
    def __init__(self, clock: IdleClock, saver: _SaverState | None) -> None:
        super().__init__(CONTROL_IFACE)
        self._clock = clock
        self._saver = saver

    @dbus_method()
    def SetIdle(self, idle_ms: DBusUInt64, growing: DBusBool) -> None:
        self._clock.set(idle_ms, growing)

    @dbus_method()
    def SetActive(self, value: DBusBool) -> None:
        if self._saver is None:
            raise DBusError("org.psoas_break.Test.Error.NoScreenSaver", "not a screensaver")
        self._saver.set_active(value)

    @dbus_method()
    def GetInhibitors(self) -> Inhibitors:
        if self._saver is None:
            return []
        return [(c, app, why) for c, (app, why) in self._saver.inhibitors.items()]


def main(argv: list[str] | None = None) -> None:
    """Entry point of the service subprocess."""
    parser = _service.base_parser("fake idle-time services for tests")
    parser.add_argument("kind", choices=("mutter", "screensaver"))
    parser.add_argument("--idle-ms", type=int, default=0)
    parser.add_argument("--flavor", choices=sorted(SCREENSAVER_FLAVORS), default="kde")
    parser.add_argument("--active", action="store_true", help="screensaver starts active")
    args = parser.parse_args(argv)
    clock = IdleClock(args.idle_ms)

    if args.kind == "mutter":
        names = [MUTTER_NAME]

        async def setup(bus: MessageBus, args: argparse.Namespace) -> None:
            bus.export(MUTTER_PATH, _Mutter(clock))
            bus.export(MUTTER_PATH, _Control(clock, None))

    else:
        name, paths, iface, unit = SCREENSAVER_FLAVORS[args.flavor]
        names = [name]

        async def setup(bus: MessageBus, args: argparse.Namespace) -> None:
            state = _SaverState(args.active)
            for path in paths:
                bus.export(path, _ScreenSaver(iface, unit, clock, state))
            bus.export(paths[-1], _Control(clock, state))

    _service.run_service(args, setup, names)


class _IdleHandle(ServiceHandle):
    module = "tests.desktop.idle"
    control_path: str

    def set_idle(self, idle_ms: int, *, growing: bool = False) -> None:
        """Set the idle time in ms; frozen unless `growing` (then it rises in real time).
        A value lower than the current one counts as user activity."""
        self.bus.call(
            self.bus_name, self.control_path, CONTROL_IFACE, "SetIdle", "tb",
            [idle_ms, growing],
        )


class MutterIdleMonitor(_IdleHandle):
    """Test-side handle of the fake org.gnome.Mutter.IdleMonitor."""

    bus_name = MUTTER_NAME
    control_path = MUTTER_PATH

    def get_idletime_ms(self) -> int:
        """What an app reads: GetIdletime() in ms."""
        return int(self.bus.call(MUTTER_NAME, MUTTER_PATH, MUTTER_IFACE, "GetIdletime")[0])

    def subscribe(self) -> "SignalRecorder":
        """Record WatchFired signals."""
        return self.bus.subscribe(interface=MUTTER_IFACE, path=MUTTER_PATH, member="WatchFired")


class ScreenSaver(_IdleHandle):
    """Test-side handle of a fake screensaver service (flavors: see module docstring)."""

    def __init__(
        self,
        desktop: "DesktopSession",
        *,
        flavor: str = "kde",
        idle_ms: int = 0,
        active: bool = False,
    ) -> None:
        if flavor not in SCREENSAVER_FLAVORS:
            raise ValueError(f"flavor must be one of {sorted(SCREENSAVER_FLAVORS)}, not {flavor!r}")
        self.flavor = flavor
        name, paths, iface, unit = SCREENSAVER_FLAVORS[flavor]
        self.bus_name = name  # type: ignore[misc]  # per instance: the flavor decides
        self.paths = paths
        self.control_path = paths[-1]
        self.interface = iface
        #: Unit of GetSessionIdleTime: "ms", "s", None (no such method) or "unsupported".
        self.unit = unit
        args = ["screensaver", "--flavor", flavor, "--idle-ms", str(idle_ms)]
        if active:
            args.append("--active")
        super().__init__(desktop, args)

    def _call(self, member: str, signature: str = "", body: list[Any] | None = None) -> Any:
        out = self.bus.call(self.bus_name, self.control_path, self.interface, member,
                            signature, body or [])
        return out[0] if out else None

    def get_session_idle_time(self) -> int:
        """What an app reads: GetSessionIdleTime() in this flavor's unit (`self.unit`)."""
        return int(self._call("GetSessionIdleTime"))

    def get_active(self) -> bool:
        """GetActive(): True while the (fake) screen saver / lock is active."""
        return bool(self._call("GetActive"))

    def set_active(self, value: bool) -> None:
        """Activate/deactivate as the desktop would; emits ActiveChanged(value) on change."""
        self.bus.call(self.bus_name, self.control_path, CONTROL_IFACE, "SetActive", "b",
                      [value])

    def inhibitors(self) -> list[tuple[int, str, str]]:
        """Current Inhibit() cookies with application name and reason."""
        out = self.bus.call(self.bus_name, self.control_path, CONTROL_IFACE, "GetInhibitors")
        return [(int(c), str(app), str(why)) for c, app, why in out[0]]

    def subscribe(self, path: str | None = None) -> "SignalRecorder":
        """Record ActiveChanged signals; each of `paths` emits one, so the default records
        those of `control_path` only (pass `path` to choose)."""
        return self.bus.subscribe(
            interface=self.interface, member="ActiveChanged", path=path or self.control_path
        )


if __name__ == "__main__":
    main()
