"""Idle time from the Wayland compositor itself: ext-idle-notify-v1, else org_kde_kwin_idle.

ext_idle_notifier_v1 is offered by KWin >= 5.27, sway >= 1.8, Hyprland, niri, labwc, COSMIC;
org_kde_kwin_idle by older KWin and sway 1.7 (wlroots 0.15). GNOME's mutter offers neither
(adapters/idle/mutter.py serves it). Event-driven: one notification object per threshold; the
compositor sends `idled` once nobody touched keyboard or mouse for that long and `resumed` at
the next input. The connection's thread sleeps in poll() in between (adapters/wayland), so an
idle desk costs no wakeup at all, and idle_seconds() is a read of what the events said
(thresholds.py tells what it returns). Each threshold object starts counting when it is
created: a user idle already at start-up (or when the thresholds change) is seen as idle only
a threshold later.

Idle inhibitors (a video player, a presentation: zwp_idle_inhibitor_v1): for a sitting timer an
inhibitor means someone is watching, so is seated; it must not turn into a natural break.
`get_idle_notification` (every ext-idle-notify version) and org_kde_kwin_idle honour
inhibitors (no `idled` while one is active), which is exactly that; ext-idle-notify v2's
`get_input_idle_notification` (input only) is therefore never used. README, "Idle inhibitors",
has the reasoning; tests/test_wayland_idle.py shows it on KWin and sway.

The compositor going away: idle_seconds() is None, `lost` says why, on_change() is called once;
the factory's LiveIdleSource then falls back (adapters/idle/live.py).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from psoas_break.adapters.idle.thresholds import DEFAULT_THRESHOLDS_S, IdleThresholds
from psoas_break.adapters.wayland import display_path
from psoas_break.adapters.wayland.connection import START_TIMEOUT_S, GlobalInfo, Lease, attach
from psoas_break.ports import Unavailable

log = logging.getLogger(__name__)

EXT_IDLE = "ext_idle_notifier_v1"
KDE_IDLE = "org_kde_kwin_idle"
PROTOCOLS = (EXT_IDLE, KDE_IDLE)


class WaylandIdleSource:
    """IdleSource and IdleEvents over ext-idle-notify-v1 (preferred) or org_kde_kwin_idle."""

    name = "wayland"

    def __init__(self, clock: Callable[[], float], thresholds_s: Sequence[float]) -> None:
        self._clock = clock
        self._state = IdleThresholds(thresholds_s, clock)
        self._on_change: Callable[[], None] = lambda: None
        self._lease: Lease | None = None
        self.protocol = ""
        self.version = 0
        # Touched on the connection's thread only: the bound globals and the threshold objects.
        self._manager: Any = None
        self._seat: Any = None
        self._objects: list[Any] = []

    @classmethod
    def open(cls, env: Mapping[str, str], thresholds_s: Sequence[float] = DEFAULT_THRESHOLDS_S,
             *, prefer: Sequence[str] = PROTOCOLS, clock: Callable[[], float] = time.monotonic,
             timeout_s: float = START_TIMEOUT_S) -> WaylandIdleSource:
        """Join the session's Wayland connection, bind the first protocol of `prefer` offered,
        watch `thresholds_s`; raises Unavailable with the reason."""
        path = display_path(env)
        source = cls(clock, thresholds_s)

        def setup(_display: Any, registry: Any, offered: Mapping[str, GlobalInfo]
                  ) -> Callable[[], None]:
            source._bind(registry, offered, prefer)
            return source._teardown

        source._lease = attach(path, setup, on_lost=source._lost, timeout_s=timeout_s)
        return source

    # ---- the connection's thread ----

    def _bind(self, registry: Any, offered: Mapping[str, GlobalInfo],
              prefer: Sequence[str]) -> None:
        from pywayland.protocol.wayland import WlSeat

        seat = offered.get("wl_seat")
        if seat is None:
            raise Unavailable("the compositor offers no wl_seat")
        name = next((p for p in prefer if p in offered), None)
        if name is None:
            raise Unavailable(f"the compositor offers none of {', '.join(prefer)} (GNOME's "
                              "mutter has neither: its IdleMonitor serves it)")
        info = offered[name]
        self._seat = registry.bind(seat.name, WlSeat, 1)
        if name == EXT_IDLE:
            from psoas_break.adapters.wayland.protocols.ext_idle_notify_v1 import (
                ExtIdleNotifierV1,
            )

            self.version = min(info.version, ExtIdleNotifierV1.version)
            self._manager = registry.bind(info.name, ExtIdleNotifierV1, self.version)
        else:
            from psoas_break.adapters.wayland.protocols.idle import OrgKdeKwinIdle

            self.version = 1
            self._manager = registry.bind(info.name, OrgKdeKwinIdle, 1)
        self.protocol = name
        self._arm(self._state)

    def _arm(self, state: IdleThresholds) -> None:
        """Replace the threshold objects with one per threshold of `state`."""
        self._destroy_objects()
        self._state = state
        for threshold_s in state.thresholds_s:
            ms = max(1, round(threshold_s * 1000))
            if self.protocol == EXT_IDLE:
                obj = self._manager.get_idle_notification(ms, self._seat)
                idled, resumed = "idled", "resumed"
            else:
                obj = self._manager.get_idle_timeout(self._seat, ms)
                idled, resumed = "idle", "resumed"
            obj.dispatcher[idled] = self._handler(state, threshold_s, True)
            obj.dispatcher[resumed] = self._handler(state, threshold_s, False)
            self._objects.append(obj)

    def _handler(self, state: IdleThresholds, threshold_s: float,
                 idle: bool) -> Callable[..., None]:
        def handle(*_args: Any) -> None:  # pywayland: a handler must return None
            news = state.crossed(threshold_s) if idle else state.active()
            # Events of replaced objects may still arrive: only the live state's count.
            if news and state is self._state:
                self._changed()

        return handle

    def _destroy_objects(self) -> None:
        for obj in self._objects:
            if self.protocol == EXT_IDLE:
                obj.destroy()
            else:
                obj.release()
        self._objects = []

    def _teardown(self) -> None:
        self._destroy_objects()
        if self.protocol == EXT_IDLE and self._manager is not None:
            self._manager.destroy()

    def _lost(self, _reason: str) -> None:
        self._state.active()
        self._changed()

    def _changed(self) -> None:
        try:
            self._on_change()
        except Exception:
            log.exception("idle on_change failed")

    # ---- any thread ----

    def watch(self, thresholds_s: Sequence[float], on_change: Callable[[], None]) -> None:
        """From now on: objects for `thresholds_s`, and `on_change()` (on the Wayland thread)
        at each threshold crossed, each return to the keyboard and when the compositor goes."""
        self._on_change = on_change
        state = IdleThresholds(thresholds_s, self._clock)
        lease = self._lease
        if lease is None or not lease.alive:
            self._changed()  # already lost: let the owner look at `lost` now
            return
        lease.submit(lambda _display: self._arm(state))

    @property
    def event_driven(self) -> bool:
        """True while connected: idle_seconds() is then kept current by events."""
        return self._lease is not None and self._lease.alive

    @property
    def lost(self) -> str | None:
        """Why the source stopped working for good; None while it works."""
        lease = self._lease
        if lease is None or lease.released:
            return "closed"
        if not lease.alive:
            return f"the compositor went away ({lease.lost_reason})"
        return None

    @property
    def detail(self) -> str:
        """For doctor and the log: protocol, version, thresholds and state."""
        request = "get_idle_notification" if self.protocol == EXT_IDLE else "get_idle_timeout"
        return (f"{self.protocol} v{self.version} ({request}, honours idle inhibitors; "
                f"thresholds {self._state.describe()}): {self.lost or 'live'}")

    @property
    def thread_id(self) -> int | None:
        """The kernel id of the Wayland thread (for wakeup measurements)."""
        return self._lease.thread_id if self._lease is not None else None

    def idle_seconds(self) -> float | None:
        """Seconds without input as far as the compositor told; None when not connected."""
        if not self.event_driven:
            return None
        return self._state.seconds()

    def close(self) -> None:
        """Destroy the objects and leave the connection (the last user closes it)."""
        if self._lease is not None:
            self._lease.release()
