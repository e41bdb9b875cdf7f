"""Idle time from the X server's MIT-SCREEN-SAVER extension (XScreenSaverQueryInfo), in-process.

ctypes on libX11.so.6 + libXss.so.1 (Debian: libxss1); no subprocess, one display connection
kept open and reused by every poll (one round trip to the X server per poll).

Contract: `X11IdleSource.open(display_name)` raises `Unavailable` with a plain reason (no
library, no display, no extension); `idle_seconds()` returns the X server's idle time in seconds
or None when the display was lost (it then reconnects at most once per `reconnect_every_s`).

Lost display: Xlib's reaction to a broken connection is exit(1) of the whole process: first
the process-wide XIOErrorHandler runs (libX11 1.8.4's default prints "X connection ... broken"
and exits, measured here), then the per-display exit handler (libX11 >= 1.7,
XSetIOErrorExitHandler), whose default exits too. So we install both: a process-wide handler
that returns for *our* displays and chains to the previous handler (GTK's, or Xlib's default)
for every other display, and a per-display exit handler that records the loss and returns.
Xlib then returns from the failed call and we drop that Display. If GTK installs its handler
after ours, GTK's exits the process when any display breaks; the X server dying kills the GTK
tray anyway, so only the non-GTK case is at stake. With libX11 < 1.7 the loss ends the
process, as for any Xlib client (`survives_lost_display` is False; `doctor` can say so).

Wayland: XScreenSaver only sees input sent to X clients (XWayland), so the factory never
picks this source on a Wayland session.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import logging
import threading
import time

from psoas_break.adapters.ffi import declare
from psoas_break.ports import Unavailable

log = logging.getLogger(__name__)

_XID = ctypes.c_ulong


class _XScreenSaverInfo(ctypes.Structure):
    # <X11/extensions/scrnsaver.h>; `idle`: milliseconds since the last input
    _fields_ = [("window", _XID), ("state", ctypes.c_int), ("kind", ctypes.c_int),
                ("til_or_since", ctypes.c_ulong), ("idle", ctypes.c_ulong),
                ("eventMask", ctypes.c_ulong)]


_IOExitHandler = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_void_p)
_IOErrorHandler = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p)


class _IOErrorChain:
    """The process-wide XIOErrorHandler: returns for displays we own, chains for the others.

    Xlib has one such handler per process, so this object is one per process too (see
    `_libs()`); installing it twice would make it chain to itself.
    """

    def __init__(self, x11: ctypes.CDLL) -> None:
        self._lock = threading.Lock()
        self._ours: set[int] = set()
        self._callback = _IOErrorHandler(self._handle)  # kept alive for Xlib
        x11.XSetIOErrorHandler.argtypes = [_IOErrorHandler]
        x11.XSetIOErrorHandler.restype = ctypes.c_void_p
        previous = x11.XSetIOErrorHandler(self._callback)
        self._previous = _IOErrorHandler(previous) if previous else None

    def add(self, dpy: int) -> None:
        with self._lock:
            self._ours.add(dpy)

    def discard(self, dpy: int) -> None:
        with self._lock:
            self._ours.discard(dpy)

    def _handle(self, dpy: int | None) -> int:
        with self._lock:
            ours = dpy in self._ours
        if ours or self._previous is None:
            return 0
        return int(self._previous(dpy))


class _Libs:
    """The loaded libraries with argument types declared (loaded once per source)."""

    def __init__(self) -> None:
        x11_path = ctypes.util.find_library("X11") or "libX11.so.6"
        xss_path = ctypes.util.find_library("Xss") or "libXss.so.1"
        try:
            self.x11 = ctypes.CDLL(x11_path)
        except OSError as exc:
            raise Unavailable(f"libX11 cannot be loaded ({exc})") from None
        try:
            self.xss = ctypes.CDLL(xss_path)
        except OSError:
            raise Unavailable("libXss (XScreenSaver client library) is not installed "
                              "(Debian/Ubuntu: apt-get install libxss1)") from None
        vp, int_, int_p = ctypes.c_void_p, ctypes.c_int, ctypes.POINTER(ctypes.c_int)
        declare(self.x11, (  # (function, result, arguments)
            ("XOpenDisplay", vp, [ctypes.c_char_p]),
            ("XCloseDisplay", int_, [vp]),
            ("XDefaultRootWindow", _XID, [vp]),
        ))
        declare(self.xss, (
            ("XScreenSaverQueryExtension", int_, [vp, int_p, int_p]),
            ("XScreenSaverQueryInfo", int_, [vp, _XID, ctypes.POINTER(_XScreenSaverInfo)]),
        ))
        self.set_exit_handler = getattr(self.x11, "XSetIOErrorExitHandler", None)
        self.io_chain: _IOErrorChain | None = None
        if self.set_exit_handler is not None:
            self.set_exit_handler.argtypes = [ctypes.c_void_p, _IOExitHandler, ctypes.c_void_p]
            self.set_exit_handler.restype = None
            # Without a per-display exit handler a chain cannot save the process: skip it then.
            self.io_chain = _IOErrorChain(self.x11)


@functools.lru_cache(maxsize=1)
def _libs() -> _Libs:
    """The libraries, loaded once per process (the I/O error chain must be installed once)."""
    return _Libs()


class X11IdleSource:
    """IdleSource over XScreenSaverQueryInfo on one kept-open X connection."""

    name = "x11"

    def __init__(self, libs: _Libs, display_name: str, reconnect_every_s: float) -> None:
        self._libs = libs
        self._display_name = display_name
        self._reconnect_every_s = reconnect_every_s
        self._lock = threading.Lock()
        self._dpy: int | None = None
        self._root = 0
        self._lost = False
        self._closed = False
        self._last_attempt_s = 0.0
        self._info = _XScreenSaverInfo()
        # Keep the ctypes callback alive as long as any Display may call it.
        self._exit_handler = _IOExitHandler(self._on_io_error)

    @classmethod
    def open(cls, display_name: str, *, reconnect_every_s: float = 60.0) -> X11IdleSource:
        """Connect to `display_name` (e.g. ":0") and check the extension; raises Unavailable."""
        if not display_name:
            raise Unavailable("no X display (DISPLAY is not set)")
        source = cls(_libs(), display_name, reconnect_every_s)
        with source._lock:
            source._connect()
        return source

    @property
    def survives_lost_display(self) -> bool:
        """True when this libX11 lets us survive the X server going away (libX11 >= 1.7)."""
        return self._libs.io_chain is not None

    def _on_io_error(self, _dpy: int | None, _data: int | None) -> None:
        # Called by Xlib from inside the failing call, on the polling thread: just remember.
        self._lost = True

    def _connect(self) -> None:
        """Open the display (caller holds the lock); raises Unavailable."""
        self._last_attempt_s = time.monotonic()
        libs = self._libs
        dpy = libs.x11.XOpenDisplay(self._display_name.encode())
        if not dpy:
            raise Unavailable(f"cannot open X display {self._display_name}")
        if libs.set_exit_handler is not None and libs.io_chain is not None:
            libs.io_chain.add(dpy)
            libs.set_exit_handler(dpy, self._exit_handler, None)
        event_base, error_base = ctypes.c_int(), ctypes.c_int()
        if not libs.xss.XScreenSaverQueryExtension(dpy, ctypes.byref(event_base),
                                                   ctypes.byref(error_base)):
            self._close_dpy(dpy)
            raise Unavailable(f"X display {self._display_name} has no MIT-SCREEN-SAVER extension")
        self._dpy = dpy
        self._root = libs.x11.XDefaultRootWindow(dpy)
        self._lost = False

    def _close_dpy(self, dpy: int) -> None:
        # After an I/O error XCloseDisplay skips the final sync and only frees the structure.
        self._libs.x11.XCloseDisplay(dpy)
        if self._libs.io_chain is not None:
            self._libs.io_chain.discard(dpy)

    def _drop(self) -> None:
        """Forget a lost display (caller holds the lock)."""
        dpy, self._dpy = self._dpy, None
        if dpy is not None:
            self._close_dpy(dpy)

    def idle_seconds(self) -> float | None:
        """Seconds since the last keyboard/mouse input on this X server, or None (see module)."""
        with self._lock:
            if self._closed:
                return None
            if self._dpy is None:
                if time.monotonic() - self._last_attempt_s < self._reconnect_every_s:
                    return None
                try:
                    self._connect()
                    log.info("reconnected to X display %s", self._display_name)
                except Unavailable as exc:
                    log.debug("X display still unavailable: %s", exc)
                    return None
            info = ctypes.byref(self._info)
            ok = self._libs.xss.XScreenSaverQueryInfo(self._dpy, self._root, info)
            if self._lost or not ok:
                log.warning("lost the X display %s; idle time unknown", self._display_name)
                self._drop()
                return None
            return float(self._info.idle) / 1000.0

    def close(self) -> None:
        """Close the display connection; later calls return None."""
        with self._lock:
            self._closed = True
            self._drop()
