"""Idle time from `org.freedesktop.ScreenSaver.GetSessionIdleTime()` (KDE and others).

Units — the API's weak spot. The freedesktop draft says seconds, but KDE, the desktop that
actually answers it with "time since the last input", returns MILLISECONDS: kscreenlocker's
`Interface::GetSessionIdleTime()` returns `KIdleTime::instance()->idleTime()`, documented as
"the idle time of the system, in milliseconds" (kscreenlocker interface.cpp; KIdleTime's
kidletime.h). Its newer versions answer `NotSupported` on Plasma Wayland, so there this source
is rejected with that reason. xfce4-screensaver and gnome-screensaver 2.x follow the draft
(seconds). gnome-shell's org.gnome.ScreenSaver has no GetSessionIdleTime at all (GNOME is
served by the Mutter source instead).

The unit is therefore decided, in order, by (see `decide_unit`):
1. `PSOAS_SCREENSAVER_IDLE_UNIT` = "ms" or "s" (an escape hatch for unknown desktops);
2. the program owning the name (its /proc/<pid>/cmdline): KDE programs -> ms, xfce4/mate/
   cinnamon/gnome screensavers -> s;
3. XDG_CURRENT_DESKTOP: KDE -> ms; XFCE, MATE, Cinnamon, LXDE, LXQt... -> s;
4. otherwise ms (KDE's, the implementation that matters in practice).

On an X11 session the factory prefers the X11 source anyway, so this source mostly serves
KDE setups where XScreenSaver is unusable.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping

from psoas_break.adapters.dbus import Bus, CallFailed
from psoas_break.ports import Unavailable

log = logging.getLogger(__name__)

BUS_NAME = "org.freedesktop.ScreenSaver"
OBJECT_PATHS = ("/org/freedesktop/ScreenSaver", "/ScreenSaver")
INTERFACE = "org.freedesktop.ScreenSaver"
UNIT_ENV = "PSOAS_SCREENSAVER_IDLE_UNIT"

_MS_PROGRAMS = ("ksmserver", "kscreenlocker", "kwin", "plasma")
_S_PROGRAMS = ("xfce4-screensaver", "mate-screensaver", "cinnamon-screensaver", "gnome-screensaver")
_S_DESKTOPS = ("XFCE", "MATE", "X-CINNAMON", "CINNAMON", "LXDE", "LXQT", "BUDGIE", "UNITY")


def decide_unit(override: str | None, owner_program: str | None,
                current_desktop: str | None) -> tuple[str, str]:
    """(unit, why) for GetSessionIdleTime: unit is "ms" or "s" (see module docstring).
    Raises ValueError with a plain sentence when `override` is not "ms" or "s"."""
    if override:
        value = override.strip().lower()
        if value not in ("ms", "s"):
            raise ValueError(f"{UNIT_ENV} must be 'ms' or 's', not {override!r}")
        return value, f"{UNIT_ENV}={value}"
    if owner_program:
        program = os.path.basename(owner_program).lower()
        if program.startswith(_MS_PROGRAMS):
            return "ms", f"served by {program} (KDE: milliseconds)"
        if program.startswith(_S_PROGRAMS):
            return "s", f"served by {program} (freedesktop draft: seconds)"
    desktops = [d.strip().upper() for d in (current_desktop or "").split(":") if d.strip()]
    if "KDE" in desktops:
        return "ms", "XDG_CURRENT_DESKTOP is KDE (milliseconds)"
    for desktop in desktops:
        if desktop in _S_DESKTOPS:
            return "s", f"XDG_CURRENT_DESKTOP is {desktop} (seconds)"
    return "ms", "unknown server: assuming KDE's milliseconds"


def _program_of(pid: int | None) -> str | None:
    """argv[0] of process `pid` (or its comm), None when unreadable."""
    if pid is None:
        return None
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            argv0 = fh.read().split(b"\0", 1)[0].decode(errors="replace")
        if argv0:
            return argv0
        with open(f"/proc/{pid}/comm", "rb") as fh:
            return fh.read().decode(errors="replace").strip() or None
    except OSError:
        return None


class ScreenSaverIdleSource:
    """IdleSource over org.freedesktop.ScreenSaver.GetSessionIdleTime (unit decided once)."""

    name = "screensaver"

    def __init__(self, bus: Bus, path: str, unit: str) -> None:
        self._bus = bus
        self._path = path
        self.unit = unit
        self._failing = False

    @classmethod
    def open(cls, env: Mapping[str, str]) -> ScreenSaverIdleSource:
        """Connect, find a path that answers, decide the unit; raises Unavailable."""
        try:
            decide_unit(env.get(UNIT_ENV), None, None)
        except ValueError as exc:
            raise Unavailable(str(exc)) from None
        bus = Bus.open(env)
        try:
            path = cls._probe(bus)
            program = _program_of(bus.owner_pid(BUS_NAME))
            unit, why = decide_unit(env.get(UNIT_ENV), program, env.get("XDG_CURRENT_DESKTOP"))
        except BaseException:
            bus.close()
            raise
        log.debug("screensaver idle: %s at %s, unit %s (%s)", BUS_NAME, path, unit, why)
        return cls(bus, path, unit)

    @staticmethod
    def _probe(bus: Bus) -> str:
        last: CallFailed | None = None
        for path in OBJECT_PATHS:
            try:
                bus.call(BUS_NAME, path, INTERFACE, "GetSessionIdleTime")
                return path
            except CallFailed as exc:
                last = exc
                if exc.name == "org.freedesktop.DBus.Error.ServiceUnknown":
                    raise Unavailable(f"no {BUS_NAME} on the session bus") from None
                if exc.name == "org.freedesktop.DBus.Error.NotSupported":
                    raise Unavailable(f"{BUS_NAME} does not support GetSessionIdleTime here "
                                      "(KDE on Wayland answers NotSupported)") from None
        raise Unavailable(f"{BUS_NAME} did not answer GetSessionIdleTime ({last})")

    def idle_seconds(self) -> float | None:
        """Seconds since the last input, or None when the service does not answer."""
        try:
            (value,) = self._bus.call(BUS_NAME, self._path, INTERFACE, "GetSessionIdleTime")
        except (CallFailed, ValueError) as exc:
            if not self._failing:
                log.warning("%s did not answer: %s", BUS_NAME, exc)
            self._failing = True
            return None
        if self._failing:
            log.info("%s answers again", BUS_NAME)
            self._failing = False
        value = max(0, int(value))
        return value / 1000.0 if self.unit == "ms" else float(value)

    def close(self) -> None:
        """Release the bus connection."""
        self._bus.close()
