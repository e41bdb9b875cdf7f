"""Quiet reason "fullscreen" on X11: the active window is fullscreen (EWMH).

The window manager names the focused client in the root window's `_NET_ACTIVE_WINDOW`; that
window's `_NET_WM_STATE` contains `_NET_WM_STATE_FULLSCREEN` while it is fullscreen (a video
call, a presentation, a game). Two property reads on one kept-open connection (python-xlib,
pure Python: a lost X server raises an exception instead of exiting the process, unlike libX11).

Contract: `X11FullscreenDetector.open(display_name)` raises `Unavailable` (no DISPLAY, no
python-xlib, cannot connect). `reasons()` returns ("fullscreen",) or (), never raises: no window
manager, no active window, a window destroyed between the two reads, or a lost display all give
(); a lost display is reopened at most once per `reconnect_every_s`.

Wayland: an X client sees only XWayland windows, so the factory does not use this there.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from psoas_break.ports import Unavailable

log = logging.getLogger(__name__)

REASON = "fullscreen"


class X11FullscreenDetector:
    """QuietDetector over `_NET_ACTIVE_WINDOW` + `_NET_WM_STATE_FULLSCREEN`."""

    name = "fullscreen-x11"

    def __init__(self, display_name: str, reconnect_every_s: float = 60.0) -> None:
        try:
            from Xlib import Xatom
            from Xlib import error as xerror
            from Xlib.display import Display
        except ImportError:
            raise Unavailable("python-xlib is not installed") from None
        self._display_cls = Display
        self._xerror = xerror
        self._atom_window = Xatom.WINDOW
        self._atom_atom = Xatom.ATOM
        self._display_name = display_name
        self._reconnect_every_s = reconnect_every_s
        self._lock = threading.Lock()
        self._display: Any = None
        self._atoms: dict[str, int] = {}
        self._last_attempt_s = 0.0
        self._closed = False

    @classmethod
    def open(cls, display_name: str, *, reconnect_every_s: float = 60.0) -> X11FullscreenDetector:
        """Connect to `display_name` (e.g. ":0"); raises Unavailable with a plain reason."""
        if not display_name:
            raise Unavailable("no X display (DISPLAY is not set)")
        detector = cls(display_name, reconnect_every_s)
        with detector._lock:
            detector._connect()
        return detector

    def _connect(self) -> None:
        """Open the display and intern the atoms (caller holds the lock); raises Unavailable."""
        self._last_attempt_s = time.monotonic()
        try:
            display = self._display_cls(self._display_name)
        except Exception as exc:  # DisplayError, OSError: python-xlib's are not one tree
            raise Unavailable(f"cannot open X display {self._display_name} ({exc})") from None
        self._display = display
        self._atoms = {name: int(display.intern_atom(name)) for name in (
            "_NET_ACTIVE_WINDOW", "_NET_WM_STATE", "_NET_WM_STATE_FULLSCREEN")}

    def _drop(self) -> None:
        display, self._display = self._display, None
        if display is not None:
            try:
                display.close()
            except Exception:  # already broken: nothing left to release
                log.debug("closing a lost X display failed", exc_info=True)

    def active_window(self) -> int:
        """The `_NET_ACTIVE_WINDOW` id (0 when none or no window manager); raises on X errors."""
        root = self._display.screen().root
        prop = root.get_full_property(self._atoms["_NET_ACTIVE_WINDOW"], self._atom_window)
        if prop is None or not len(prop.value):
            return 0
        return int(prop.value[0])

    def _active_is_fullscreen(self) -> bool:
        wid = self.active_window()
        if wid == 0:
            return False
        window = self._display.create_resource_object("window", wid)
        prop = window.get_full_property(self._atoms["_NET_WM_STATE"], self._atom_atom)
        if prop is None:
            return False
        return self._atoms["_NET_WM_STATE_FULLSCREEN"] in (int(a) for a in prop.value)

    def reasons(self) -> tuple[str, ...]:
        """("fullscreen",) when the active window is fullscreen, else (); never raises."""
        with self._lock:
            if self._closed:
                return ()
            if self._display is None:
                if time.monotonic() - self._last_attempt_s < self._reconnect_every_s:
                    return ()
                try:
                    self._connect()
                except Unavailable as exc:
                    log.debug("fullscreen check skipped: %s", exc)
                    return ()
                log.info("reconnected to X display %s", self._display_name)
            try:
                return (REASON,) if self._active_is_fullscreen() else ()
            except self._xerror.XError:
                # BadWindow: the active window went away between the two reads.
                return ()
            except Exception as exc:  # ConnectionClosedError, OSError: the display is gone
                log.warning("X display %s lost (%s); fullscreen check off until it is back",
                            self._display_name, exc)
                self._drop()
                return ()

    def close(self) -> None:
        """Close the connection; later calls return ()."""
        with self._lock:
            self._closed = True
            self._drop()
