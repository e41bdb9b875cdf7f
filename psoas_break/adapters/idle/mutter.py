"""Idle time from GNOME's Mutter: IdleMonitor watches, so nothing is polled.

org.gnome.Mutter.IdleMonitor at /org/gnome/Mutter/IdleMonitor/Core (GNOME on Wayland and on X11;
it sees every input, unlike XScreenSaver under Wayland):
- `AddIdleWatch(ms)` per threshold: Mutter sends WatchFired(id) when idle reaches it; idle
  watches stay armed and fire again after each activity;
- `AddUserActiveWatch()` each time we go idle: WatchFired(id) at the next input (one-shot);
- `GetIdletime()` once when the watches are put in place, so a user idle already counts at once
  (thresholds.py's `crossed(at=)`), unlike Wayland's timers that start at creation.
WatchFired is sent to the connection that added the watch; the watches die with it. Everything
goes through the app's one session-bus connection (adapters/dbus.py): the signals arrive on its
receiver thread, which also makes the one call a fired idle watch needs (the active watch).
Until `watch()` is called the source answers with one GetIdletime call per read, as before.

Mutter's idle watches honour gnome-session's idle inhibitors (a video player, a presentation),
which is what a sitting timer wants (README, "Idle inhibitors").

Mutter gone (its name lost or owned anew: gnome-shell restarted, the session ended) or our bus
connection renewed (the watches died with it): the source is `lost`, idle_seconds() is None and
on_change() is called once; the factory's LiveIdleSource chooses again (adapters/idle/live.py).

Measured on mutter 43 headless: a key pressed through RemoteDesktop resets the idle time at
once, but the user-active watch fires only at Mutter's next main-loop wakeup (a D-Bus call, a
repaint); in a real session the focused client's key event wakes it. Pointer motion fires at once.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from psoas_break.adapters.dbus import DBUS_NAME, DBUS_PATH, Bus, CallFailed, Signal
from psoas_break.adapters.idle.thresholds import IdleThresholds
from psoas_break.ports import Unavailable

log = logging.getLogger(__name__)

BUS_NAME = "org.gnome.Mutter.IdleMonitor"
OBJECT_PATH = "/org/gnome/Mutter/IdleMonitor/Core"
INTERFACE = "org.gnome.Mutter.IdleMonitor"


class MutterIdleSource:
    """IdleSource and IdleEvents over Mutter's IdleMonitor (watches; GetIdletime in ms)."""

    name = "mutter"

    def __init__(self, bus: Bus, clock: Callable[[], float] = time.monotonic) -> None:
        self._bus = bus
        self._clock = clock
        self._failing = False
        self._lock = threading.Lock()  # guards the watch ids below
        self._state: IdleThresholds | None = None  # set once watched
        self._on_change: Callable[[], None] = lambda: None
        self._idle_watches: dict[int, float] = {}
        self._active_watch: int | None = None
        self._active_asked = False  # an AddUserActiveWatch is under way
        self._early: set[int] = set()  # fired before we knew its id (the reply came later)
        self._subscribed: list[object] = []
        self._owner = ""  # Mutter's unique name when the watches were put in place
        self._unique_name = ""  # ours then: the watches die with that connection
        self._lost: str | None = None

    @classmethod
    def open(cls, env: Mapping[str, str]) -> MutterIdleSource:
        """Connect and make one call; raises Unavailable when Mutter does not answer."""
        bus = Bus.open(env)
        source = cls(bus)
        try:
            source._read_ms()
        except CallFailed as exc:
            bus.close()
            if exc.name == "org.freedesktop.DBus.Error.ServiceUnknown":
                raise Unavailable(f"no {BUS_NAME} on the session bus (not GNOME)") from None
            raise Unavailable(f"{BUS_NAME} did not answer GetIdletime ({exc})") from None
        return source

    def _call(self, member: str, signature: str = "", *args: object) -> tuple[Any, ...]:
        return self._bus.call(BUS_NAME, OBJECT_PATH, INTERFACE, member, signature, args)

    def _read_ms(self) -> int:
        (idle_ms,) = self._call("GetIdletime")
        return int(idle_ms)

    # ---- watching (the job thread, and the bus's receiver thread for the signals) ----

    def watch(self, thresholds_s: Sequence[float], on_change: Callable[[], None]) -> None:
        """Put one idle watch per threshold in place (replacing earlier ones); from then on
        `on_change()` runs on the bus's receiver thread at each threshold crossed, each return
        to the keyboard, and once when the source is lost. Makes D-Bus calls: job thread."""
        self._on_change = on_change
        if self._lost is not None:
            self._changed()
            return
        if not self._subscribed:
            self._subscribed = [
                self._bus.subscribe(self._fired, sender=BUS_NAME, path=OBJECT_PATH,
                                    interface=INTERFACE, member="WatchFired"),
                self._bus.watch_name(BUS_NAME, self._owner_changed),
            ]
        try:
            self._arm(IdleThresholds(thresholds_s, self._clock))
        except CallFailed as exc:
            self._lose(f"{BUS_NAME} did not take the watches ({exc})")

    def _arm(self, state: IdleThresholds) -> None:
        with self._lock:
            old = [*self._idle_watches, *([self._active_watch] if self._active_watch else [])]
            self._idle_watches, self._active_watch, self._active_asked = {}, None, False
            self._early.clear()
            self._state = state
        for watch_id in old:
            try:
                self._call("RemoveWatch", "u", watch_id)
            except CallFailed:
                log.debug("RemoveWatch %d failed", watch_id, exc_info=True)
        (owner,) = self._bus.call(DBUS_NAME, DBUS_PATH, DBUS_NAME, "GetNameOwner", "s",
                                  (BUS_NAME,))
        self._owner, self._unique_name = str(owner), self._bus.unique_name
        for threshold_s in state.thresholds_s:
            (watch_id,) = self._call("AddIdleWatch", "t", max(1, round(threshold_s * 1000)))
            with self._lock:
                self._idle_watches[int(watch_id)] = threshold_s
                early = watch_id in self._early
            if early:
                self._idle(state, threshold_s)
        now = state.now()
        idle_s = self._read_ms() / 1000.0
        for threshold_s in state.thresholds_s:
            if idle_s >= threshold_s:
                state.crossed(threshold_s, at=now - (idle_s - threshold_s))
        if state.is_idle():
            self._ask_active_watch()
        log.info("Mutter idle watches in place (%s)", state.describe())

    def _fired(self, signal: Signal) -> None:
        if not signal.body:
            return
        watch_id = int(signal.body[0])
        with self._lock:
            state = self._state
            threshold_s = self._idle_watches.get(watch_id)
            active = watch_id == self._active_watch
            if threshold_s is None and not active:
                self._early.add(watch_id)
                return
            if active:
                self._active_watch = None  # user-active watches are one-shot
        if state is None:
            return
        if threshold_s is not None:
            self._idle(state, threshold_s)
        elif state.active():
            self._changed()

    def _idle(self, state: IdleThresholds, threshold_s: float) -> None:
        if state.crossed(threshold_s):
            self._ask_active_watch()
            self._changed()

    def _ask_active_watch(self) -> None:
        """One user-active watch while idle (a call: from the receiver thread it reads the bus
        itself until the reply, as adapters/dbus.py allows)."""
        with self._lock:
            if self._active_watch is not None or self._active_asked:
                return
            self._active_asked = True
            state = self._state
        try:
            (watch_id,) = self._call("AddUserActiveWatch")
        except CallFailed as exc:
            self._lose(f"{BUS_NAME} did not take the user-active watch ({exc})")
            return
        with self._lock:
            self._active_asked = False
            if state is not self._state:
                return
            self._active_watch = int(watch_id)
            early = self._active_watch in self._early
            if early:
                self._active_watch = None
        if early and state is not None and state.active():
            self._changed()

    def _owner_changed(self, owner: str) -> None:
        if not self._owner:
            return  # not watching yet
        if not owner:
            self._lose(f"{BUS_NAME} left the bus")
        elif owner != self._owner or self._bus.unique_name != self._unique_name:
            self._lose(f"{BUS_NAME} restarted or the bus connection was renewed "
                       "(the watches are gone)")

    def _lose(self, reason: str) -> None:
        if self._lost is not None:
            return
        log.warning("Mutter idle watches lost: %s", reason)
        self._lost = reason
        state = self._state
        if state is not None:
            state.active()
        self._changed()

    def _changed(self) -> None:
        try:
            self._on_change()
        except Exception:
            log.exception("idle on_change failed")

    # ---- reading ----

    @property
    def event_driven(self) -> bool:
        """True once the watches are in place and while they work."""
        return self._state is not None and self._lost is None

    @property
    def lost(self) -> str | None:
        """Why the watches stopped working for good; None while they work."""
        return self._lost

    @property
    def detail(self) -> str:
        """For doctor and the log."""
        if self._state is None:
            return f"{BUS_NAME} (watches once the app runs)"
        return f"{BUS_NAME} watches ({self._state.describe()}): {self._lost or 'live'}"

    def idle_seconds(self) -> float | None:
        """Seconds since the last input as Mutter counts it (watched: from the events; else
        one GetIdletime call); None when Mutter does not answer or the watches are lost."""
        if self._lost is not None:
            return None
        state = self._state
        if state is not None:
            return state.seconds()
        try:
            idle_ms = self._read_ms()
        except (CallFailed, ValueError) as exc:
            if not self._failing:
                log.warning("Mutter idle monitor did not answer: %s", exc)
            self._failing = True
            return None
        if self._failing:
            log.info("Mutter idle monitor answers again")
            self._failing = False
        return max(0, idle_ms) / 1000.0

    def close(self) -> None:
        """Remove the watches (best effort) and release the bus connection."""
        with self._lock:
            ids = [*self._idle_watches, *([self._active_watch] if self._active_watch else [])]
            self._idle_watches, self._active_watch = {}, None
        if self._lost is None:
            for watch_id in ids:
                try:
                    self._call("RemoveWatch", "u", watch_id)
                except CallFailed:
                    break  # Mutter or the bus is gone: so are the watches
        self._lost = self._lost or "closed"
        self._bus.close()
