"""X11 helpers for tests on a `DesktopSession`'s Xvfb.

- `x_idle_ms(display)`: the X server's idle time via XScreenSaverQueryInfo from libXss.so.1
  (ctypes): an independent cross-check of whatever idle source the app uses. Idle time only
  grows in real time; `xdotool(desktop, "key", "shift")` resets it.
- `xdotool(desktop, *args)`: input injection through XTEST.
- `start_trayer(desktop)`: an XEmbed system tray; waits for the _NET_SYSTEM_TRAY_S0 owner.
- `start_openbox(desktop)`: a window manager (needed for fullscreen, focus and
  _NET_ACTIVE_WINDOW); waits for _NET_SUPPORTING_WM_CHECK.
- `open_window(desktop, fullscreen=...)`: a real client window in its own process, as
  `X11Window`, whose fullscreen state the test can toggle through EWMH.
- `active_window(desktop)`: the _NET_ACTIVE_WINDOW the window manager reports.
- `screenshot(desktop, path)`: the whole screen to a PNG (python-xlib GetImage + Pillow).
"""

from __future__ import annotations

import ctypes
import functools
import os
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from Xlib import X, Xatom
from Xlib.protocol import event as xevent

from .waiting import DEFAULT_TIMEOUT_S, wait_for

if TYPE_CHECKING:
    from .session import DesktopSession


class _XScreenSaverInfo(ctypes.Structure):
    _fields_ = [
        ("window", ctypes.c_ulong),
        ("state", ctypes.c_int),
        ("kind", ctypes.c_int),
        ("til_or_since", ctypes.c_ulong),
        ("idle", ctypes.c_ulong),
        ("eventMask", ctypes.c_ulong),
    ]


@functools.lru_cache(maxsize=1)
def _xlibs() -> tuple[Any, Any]:
    x11 = ctypes.CDLL("libX11.so.6")
    xss = ctypes.CDLL("libXss.so.1")
    x11.XOpenDisplay.restype = ctypes.c_void_p
    x11.XOpenDisplay.argtypes = [ctypes.c_char_p]
    x11.XDefaultRootWindow.restype = ctypes.c_ulong
    x11.XDefaultRootWindow.argtypes = [ctypes.c_void_p]
    x11.XCloseDisplay.argtypes = [ctypes.c_void_p]
    x11.XFree.argtypes = [ctypes.c_void_p]
    xss.XScreenSaverQueryExtension.argtypes = [
        ctypes.c_void_p, ctypes.POINTER(ctypes.c_int), ctypes.POINTER(ctypes.c_int),
    ]
    xss.XScreenSaverAllocInfo.restype = ctypes.POINTER(_XScreenSaverInfo)
    xss.XScreenSaverQueryInfo.argtypes = [
        ctypes.c_void_p, ctypes.c_ulong, ctypes.POINTER(_XScreenSaverInfo),
    ]
    return x11, xss


def x_idle_ms(display: str) -> int:
    """Milliseconds since the last input event on X display `display` (e.g. ":3").

    Raises RuntimeError when the display cannot be opened or lacks MIT-SCREEN-SAVER.
    """
    x11, xss = _xlibs()
    dpy = x11.XOpenDisplay(display.encode())
    if not dpy:
        raise RuntimeError(f"cannot open X display {display}")
    try:
        event_base, error_base = ctypes.c_int(), ctypes.c_int()
        if not xss.XScreenSaverQueryExtension(
            dpy, ctypes.byref(event_base), ctypes.byref(error_base)
        ):
            raise RuntimeError(f"X display {display} has no MIT-SCREEN-SAVER extension")
        info = xss.XScreenSaverAllocInfo()
        try:
            if not xss.XScreenSaverQueryInfo(dpy, x11.XDefaultRootWindow(dpy), info):
                raise RuntimeError("XScreenSaverQueryInfo failed")
            return int(info.contents.idle)
        finally:
            x11.XFree(info)
    finally:
        x11.XCloseDisplay(dpy)


def xdotool(desktop: DesktopSession, *args: str, timeout_s: float = DEFAULT_TIMEOUT_S) -> str:
    """Run `xdotool ARGS` in the session; return stdout. Raises CalledProcessError on failure,
    with xdotool's stderr in the message."""
    result = subprocess.run(
        ["xdotool", *args], env=desktop.env, capture_output=True, text=True, timeout=timeout_s
    )
    if result.returncode != 0:
        raise subprocess.CalledProcessError(
            result.returncode, result.args, result.stdout, result.stderr
        )
    return result.stdout


def _atom(desktop: DesktopSession, name: str) -> int:
    return int(desktop.x_display().intern_atom(name))


def _selection_owner(desktop: DesktopSession, name: str) -> int:
    owner = desktop.x_display().get_selection_owner(_atom(desktop, name))
    return int(owner.id) if owner else 0


def tray_owner(desktop: DesktopSession, screen: int = 0) -> int:
    """Window id owning _NET_SYSTEM_TRAY_S<screen> (0 when no XEmbed tray runs)."""
    return _selection_owner(desktop, f"_NET_SYSTEM_TRAY_S{screen}")


def start_trayer(desktop: DesktopSession, *extra: str) -> subprocess.Popen[bytes]:
    """Start trayer at the top right and wait until it owns _NET_SYSTEM_TRAY_S0."""
    argv = [
        "trayer", "--edge", "top", "--align", "right", "--widthtype", "request",
        "--height", "32", "--SetDockType", "true", "--SetPartialStrut", "true",
        "--transparent", "false", "--tint", "0x404040", "--expand", "true", *extra,
    ]
    proc = desktop.spawn(argv, name="trayer")

    def owned() -> bool:
        if proc.poll() is not None:
            raise RuntimeError(f"trayer exited: {desktop.log_text(proc)}")
        return tray_owner(desktop) != 0

    wait_for(owned, what="trayer to own _NET_SYSTEM_TRAY_S0")
    return proc


def wm_check_window(desktop: DesktopSession) -> int:
    """The _NET_SUPPORTING_WM_CHECK window id of a running EWMH window manager, else 0."""
    display = desktop.x_display()
    prop = display.screen().root.get_full_property(
        _atom(desktop, "_NET_SUPPORTING_WM_CHECK"), Xatom.WINDOW
    )
    return int(prop.value[0]) if prop and len(prop.value) else 0


def start_openbox(desktop: DesktopSession) -> subprocess.Popen[bytes]:
    """Start openbox (Debian's default config) and wait until it manages the screen."""
    proc = desktop.spawn(["openbox", "--sm-disable"], name="openbox")

    def managing() -> bool:
        if proc.poll() is not None:
            raise RuntimeError(f"openbox exited: {desktop.log_text(proc)}")
        return wm_check_window(desktop) != 0 and _selection_owner(desktop, "WM_S0") != 0

    wait_for(managing, what="openbox to manage the screen")
    return proc


def active_window(desktop: DesktopSession) -> int:
    """_NET_ACTIVE_WINDOW on the root window (0 when none or no window manager)."""
    prop = desktop.x_display().screen().root.get_full_property(
        _atom(desktop, "_NET_ACTIVE_WINDOW"), Xatom.WINDOW
    )
    return int(prop.value[0]) if prop and len(prop.value) else 0


class X11Window:
    """A window owned by a helper process (`tests.desktop.xwindow`); the test drives it as a
    pager would, through EWMH messages to the root window."""

    def __init__(self, desktop: DesktopSession, proc: subprocess.Popen[bytes], wid: int):
        self.desktop = desktop
        self.proc = proc
        self.id = wid

    def __repr__(self) -> str:
        return f"X11Window(0x{self.id:x})"

    def _window(self) -> Any:
        return self.desktop.x_display().create_resource_object("window", self.id)

    def net_wm_state(self) -> list[str]:
        """The _NET_WM_STATE atoms (names) the window manager set on the window."""
        display = self.desktop.x_display()
        prop = self._window().get_full_property(_atom(self.desktop, "_NET_WM_STATE"), Xatom.ATOM)
        return [display.get_atom_name(a) for a in prop.value] if prop else []

    def is_fullscreen(self) -> bool:
        """True when _NET_WM_STATE contains _NET_WM_STATE_FULLSCREEN."""
        return "_NET_WM_STATE_FULLSCREEN" in self.net_wm_state()

    def size(self) -> tuple[int, int]:
        """(width, height) of the client window now."""
        geom = self._window().get_geometry()
        return int(geom.width), int(geom.height)

    def _client_message(self, type_name: str, data: list[int]) -> None:
        display = self.desktop.x_display()
        message = xevent.ClientMessage(
            window=self._window(),
            client_type=_atom(self.desktop, type_name),
            data=(32, (data + [0] * 5)[:5]),
        )
        display.screen().root.send_event(
            message, event_mask=X.SubstructureRedirectMask | X.SubstructureNotifyMask
        )
        display.flush()

    def set_fullscreen(self, on: bool, *, wait: bool = True) -> None:
        """Ask the window manager to enter/leave fullscreen (_NET_WM_STATE add/remove) and,
        with `wait`, wait until the state and the window size follow. Needs a WM."""
        self._client_message(
            "_NET_WM_STATE", [1 if on else 0, _atom(self.desktop, "_NET_WM_STATE_FULLSCREEN"), 0, 1]
        )
        if wait:
            self.wait_fullscreen(on)

    def wait_fullscreen(self, on: bool, timeout_s: float = DEFAULT_TIMEOUT_S) -> None:
        """Wait until the window is (on=True) or is not (False) fullscreen, state and size."""
        root = self.desktop.x_display().screen()
        screen_size = (int(root.width_in_pixels), int(root.height_in_pixels))

        def matches() -> bool:
            return self.is_fullscreen() == on and (self.size() == screen_size) == on

        wait_for(matches, timeout_s, what=f"{self!r} fullscreen={on}")

    def activate(self) -> None:
        """Ask the window manager to activate (focus and raise) the window."""
        self._client_message("_NET_ACTIVE_WINDOW", [2, X.CurrentTime, 0])
        wait_for(lambda: active_window(self.desktop) == self.id, what=f"{self!r} active")

    def close(self) -> None:
        """Stop the helper process (the window disappears)."""
        self.desktop.stop(self.proc)


def open_window(
    desktop: DesktopSession, *, title: str = "psoas test window", fullscreen: bool = False
) -> X11Window:
    """Open a real window from a separate client process and wait until it is viewable (and,
    if `fullscreen` and a window manager runs, until it is fullscreen)."""
    count = len(list(desktop.root.glob("window-*.id")))
    id_file = desktop.root / f"window-{count}.id"
    argv = [sys.executable, "-m", "tests.desktop.xwindow", "--title", title,
            "--id-file", str(id_file)]
    if fullscreen:
        argv.append("--fullscreen")
    proc = desktop.spawn(argv, name="xwindow", service=True)

    def window_id() -> int:
        if proc.poll() is not None:
            raise RuntimeError(f"xwindow exited: {desktop.log_text(proc)}")
        return int(id_file.read_text()) if id_file.exists() else 0

    wid = wait_for(window_id, what="the test window to open")
    window = X11Window(desktop, proc, wid)

    def viewable() -> bool:
        return bool(window._window().get_attributes().map_state == X.IsViewable)

    wait_for(viewable, what=f"{window!r} to be viewable")
    if fullscreen and wm_check_window(desktop):
        window.wait_fullscreen(True)
    return window


def screenshot(desktop: DesktopSession, path: str | os.PathLike[str]) -> Path:
    """Save the whole screen of the session as a PNG at `path`; returns the Path."""
    from PIL import Image

    display = desktop.x_display()
    root = display.screen().root
    geom = root.get_geometry()
    raw = root.get_image(0, 0, geom.width, geom.height, X.ZPixmap, 0xFFFFFFFF)
    data = raw.data if isinstance(raw.data, bytes) else bytes(raw.data, "latin-1")
    image = Image.frombytes("RGB", (geom.width, geom.height), data, "raw", "BGRX")
    out = Path(path)
    image.save(out, "PNG")
    return out
