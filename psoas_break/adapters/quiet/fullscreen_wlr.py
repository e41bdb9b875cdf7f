"""Is the focused window fullscreen? wlr-foreign-toplevel-management (sway, Hyprland, labwc...).

zwlr_foreign_toplevel_manager_v1 (version 2 or later: version 1 has no fullscreen state) tells
a client about every toplevel: its app id, title and state (an array: maximized 0, minimized 1,
activated 2, fullscreen 3), each batch of changes closed by `done`. The answer is kept current
by those events on the session's one Wayland connection (adapters/wayland), whose thread sleeps
in between: `reasons()` only reads it. "fullscreen" when the activated toplevel is fullscreen
(a presentation, a film), as fullscreen-x11 answers on X11.

The compositor going away, or sending `finished`: not quiet (a failure is never a reason).
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from psoas_break.adapters.wayland import display_path
from psoas_break.adapters.wayland.connection import (
    START_TIMEOUT_S,
    GlobalInfo,
    Lease,
    adopt,
    attach,
)
from psoas_break.ports import Unavailable

MANAGER = "zwlr_foreign_toplevel_manager_v1"
ACTIVATED = 2
FULLSCREEN = 3


def decode_states(raw: Any) -> frozenset[int]:
    """A wl_array of uint32 as pywayland hands it over (bytes, native order) -> the values."""
    if isinstance(raw, (list, tuple)):
        return frozenset(int(v) for v in raw)
    data = bytes(raw)
    return frozenset(int.from_bytes(data[i:i + 4], sys.byteorder)
                     for i in range(0, len(data) - 3, 4))


@dataclass
class _Toplevel:
    app_id: str = ""
    title: str = ""
    states: frozenset[int] = frozenset()
    pending: dict[str, Any] = field(default_factory=dict)


class WlrFullscreenDetector:
    """QuietDetector: "fullscreen" while the activated toplevel is fullscreen."""

    name = "fullscreen-wlr"

    def __init__(self) -> None:
        self._lock = threading.Lock()  # the toplevels are written on the Wayland thread
        self._toplevels: dict[int, _Toplevel] = {}
        self._handles: dict[int, Any] = {}  # keeps the proxies alive (Wayland thread only)
        self._manager: Any = None
        self._finished = False
        self._lease: Lease | None = None
        self.on_change: Callable[[bool], None] | None = None

    @classmethod
    def open(cls, env: Mapping[str, str],
             timeout_s: float = START_TIMEOUT_S) -> WlrFullscreenDetector:
        """Join the session's Wayland connection and follow its toplevels; raises Unavailable
        when the compositor does not offer the protocol (KWin and GNOME do not)."""
        path = display_path(env)
        detector = cls()

        def setup(display: Any, registry: Any, offered: Mapping[str, GlobalInfo]
                  ) -> Callable[[], None]:
            detector._bind(display, registry, offered)
            return detector._teardown

        detector._lease = attach(path, setup, timeout_s=timeout_s)
        return detector

    # ---- the Wayland thread ----

    def _bind(self, display: Any, registry: Any, offered: Mapping[str, GlobalInfo]) -> None:
        from psoas_break.adapters.wayland.protocols import (
            wlr_foreign_toplevel_management_unstable_v1 as wlr,
        )

        info = offered.get(MANAGER)
        if info is None:
            raise Unavailable(f"the compositor offers no {MANAGER} (KWin and GNOME keep "
                              "their window lists to themselves)")
        if info.version < 2:
            raise Unavailable(f"{MANAGER} version {info.version} has no fullscreen state")
        manager = registry.bind(info.name, wlr.ZwlrForeignToplevelManagerV1, min(info.version, 3))

        def on_toplevel(_manager: Any, handle: Any) -> None:
            adopt(handle, display)
            self._follow(handle)

        def on_finished(_manager: Any) -> None:
            self._finished = True
            self._changed()

        manager.dispatcher["toplevel"] = on_toplevel
        manager.dispatcher["finished"] = on_finished
        self._manager = manager

    def _follow(self, handle: Any) -> None:
        key = id(handle)
        entry = _Toplevel()
        with self._lock:
            self._toplevels[key] = entry
        self._handles[key] = handle

        def on_title(_handle: Any, title: str) -> None:
            entry.pending["title"] = title

        def on_app_id(_handle: Any, app_id: str) -> None:
            entry.pending["app_id"] = app_id

        def on_state(_handle: Any, raw: Any) -> None:
            entry.pending["states"] = decode_states(raw)

        def on_done(_handle: Any) -> None:
            with self._lock:
                entry.title = entry.pending.pop("title", entry.title)
                entry.app_id = entry.pending.pop("app_id", entry.app_id)
                entry.states = entry.pending.pop("states", entry.states)
            self._changed()

        def on_closed(closed: Any) -> None:
            with self._lock:
                self._toplevels.pop(key, None)
            self._handles.pop(key, None)
            closed.destroy()
            self._changed()

        for event, handler in (("title", on_title), ("app_id", on_app_id), ("state", on_state),
                               ("done", on_done), ("closed", on_closed)):
            handle.dispatcher[event] = handler

    def _changed(self) -> None:
        if self.on_change is not None:
            self.on_change(self.focused_fullscreen())

    def _teardown(self) -> None:
        for handle in self._handles.values():
            handle.destroy()
        self._handles.clear()
        if self._manager is not None and not self._finished:
            self._manager.stop()  # the compositor answers with `finished`; we are gone by then

    # ---- any thread ----

    @property
    def thread_id(self) -> int | None:
        """The kernel id of the Wayland thread (shared with the idle source)."""
        return self._lease.thread_id if self._lease is not None else None

    def focused_fullscreen(self) -> bool:
        """Whether the activated toplevel is fullscreen (False when not connected)."""
        if self._lease is None or not self._lease.alive or self._finished:
            return False
        with self._lock:
            return any(FULLSCREEN in t.states and ACTIVATED in t.states
                       for t in self._toplevels.values())

    def toplevels(self) -> list[tuple[str, str, frozenset[int]]]:
        """(app id, title, states) of every toplevel: for doctor and tests."""
        with self._lock:
            return [(t.app_id, t.title, t.states) for t in self._toplevels.values()]

    def reasons(self) -> tuple[str, ...]:
        """("fullscreen",) while the focused window is fullscreen; a read, never blocks."""
        return ("fullscreen",) if self.focused_fullscreen() else ()

    def close(self) -> None:
        if self._lease is not None:
            self._lease.release()
