"""Windows: screen lock and sleep from window messages (WTSRegisterSessionNotification).

A hidden top-level window on its own thread (never shown) registers for this session's
terminal-services notifications and, being top-level, also receives the power broadcasts:
- WM_WTSSESSION_CHANGE with WTS_SESSION_LOCK / WTS_SESSION_UNLOCK -> on_lock(True/False);
- WM_POWERBROADCAST with PBT_APMSUSPEND -> on_sleep(True); PBT_APMRESUMEAUTOMATIC or
  PBT_APMRESUMESUSPEND -> on_sleep(False) (both usually come; the composite de-duplicates).
(A message-only window would miss the power broadcasts, which go to top-level windows only.)

`translate_message` is the pure part, tested everywhere; the window plumbing only runs on
Windows and is not exercised by this project's Linux CI. time.monotonic() counts through sleep
on Windows, so the engine sees suspend as a gap even without these messages.
"""

from __future__ import annotations

import ctypes
import logging
import sys
import threading
from collections.abc import Callable

from psoas_break.ports import Unavailable

log = logging.getLogger(__name__)

WM_CLOSE = 0x0010
WM_DESTROY = 0x0002
WM_POWERBROADCAST = 0x0218
WM_WTSSESSION_CHANGE = 0x02B1
WTS_SESSION_LOCK = 0x7
WTS_SESSION_UNLOCK = 0x8
PBT_APMSUSPEND = 0x4
PBT_APMRESUMESUSPEND = 0x7
PBT_APMRESUMEAUTOMATIC = 0x12
NOTIFY_FOR_THIS_SESSION = 0


def translate_message(message: int, wparam: int) -> tuple[str, bool] | None:
    """("lock" | "sleep", value) for a window message that matters, else None. Pure."""
    if message == WM_WTSSESSION_CHANGE:
        if wparam == WTS_SESSION_LOCK:
            return ("lock", True)
        if wparam == WTS_SESSION_UNLOCK:
            return ("lock", False)
    elif message == WM_POWERBROADCAST:
        if wparam == PBT_APMSUSPEND:
            return ("sleep", True)
        if wparam in (PBT_APMRESUMEAUTOMATIC, PBT_APMRESUMESUSPEND):
            return ("sleep", False)
    return None


class WindowsSessionWatcher:
    """SessionWatcher over WTS session notifications and power broadcasts (Windows only)."""

    name = "windows"

    def __init__(self) -> None:
        if sys.platform != "win32":
            raise Unavailable("only on Windows")
        self._thread: threading.Thread | None = None
        self._hwnd: int | None = None
        self._ready = threading.Event()
        self._on_lock: Callable[[bool], None] = lambda _v: None
        self._on_sleep: Callable[[bool], None] = lambda _v: None

    def start(self, on_lock: Callable[[bool], None], on_sleep: Callable[[bool], None]) -> None:
        """Create the hidden window and pump its messages on a daemon thread."""
        self._on_lock, self._on_sleep = on_lock, on_sleep
        self._thread = threading.Thread(target=self._run, name="psoas-windows-watch", daemon=True)
        self._thread.start()
        self._ready.wait(5.0)

    def stop(self) -> None:
        """Close the window (ends the message loop) and join the thread."""
        if self._hwnd is not None:
            windll = ctypes.windll  # type: ignore[attr-defined]
            windll.user32.PostMessageW(self._hwnd, WM_CLOSE, 0, 0)
        if self._thread is not None:
            self._thread.join(5.0)
            self._thread = None

    def _deliver(self, message: int, wparam: int) -> None:
        event = translate_message(message, wparam)
        if event is None:
            return
        kind, value = event
        try:
            (self._on_lock if kind == "lock" else self._on_sleep)(value)
        except Exception:
            log.exception("session callback failed")

    def _run(self) -> None:  # pragma: no cover - Windows only
        from ctypes import wintypes

        windll = ctypes.windll  # type: ignore[attr-defined]
        user32, kernel32, wtsapi32 = windll.user32, windll.kernel32, windll.wtsapi32
        lresult = ctypes.c_ssize_t
        wndproc_type = ctypes.WINFUNCTYPE(  # type: ignore[attr-defined]
            lresult, wintypes.HWND, wintypes.UINT, wintypes.WPARAM, wintypes.LPARAM
        )

        class WNDCLASSW(ctypes.Structure):
            _fields_ = [
                ("style", wintypes.UINT), ("lpfnWndProc", wndproc_type),
                ("cbClsExtra", ctypes.c_int), ("cbWndExtra", ctypes.c_int),
                ("hInstance", wintypes.HINSTANCE), ("hIcon", wintypes.HICON),
                ("hCursor", wintypes.HANDLE), ("hbrBackground", wintypes.HBRUSH),
                ("lpszMenuName", wintypes.LPCWSTR), ("lpszClassName", wintypes.LPCWSTR),
            ]

        user32.DefWindowProcW.argtypes = [
            wintypes.HWND, wintypes.UINT, wintypes.WPARAM, wintypes.LPARAM
        ]
        user32.DefWindowProcW.restype = lresult
        user32.CreateWindowExW.restype = wintypes.HWND
        user32.PostMessageW.argtypes = [
            wintypes.HWND, wintypes.UINT, wintypes.WPARAM, wintypes.LPARAM
        ]

        def wndproc(hwnd: int, message: int, wparam: int, lparam: int) -> int:
            if message in (WM_WTSSESSION_CHANGE, WM_POWERBROADCAST):
                self._deliver(message, int(wparam))
                return 1 if message == WM_POWERBROADCAST else 0
            if message == WM_CLOSE:
                user32.DestroyWindow(hwnd)
                return 0
            if message == WM_DESTROY:
                wtsapi32.WTSUnRegisterSessionNotification(hwnd)
                user32.PostQuitMessage(0)
                return 0
            return int(user32.DefWindowProcW(hwnd, message, wparam, lparam))

        proc = wndproc_type(wndproc)  # kept alive by this frame for the loop's lifetime
        hinstance = kernel32.GetModuleHandleW(None)
        wc = WNDCLASSW()
        wc.lpfnWndProc = proc
        wc.hInstance = hinstance
        wc.lpszClassName = "PsoasBreakSessionWatch"
        user32.RegisterClassW(ctypes.byref(wc))
        hwnd = user32.CreateWindowExW(
            0, wc.lpszClassName, "psoas-break session watch", 0, 0, 0, 0, 0,
            None, None, hinstance, None,
        )
        if not hwnd:
            log.warning("cannot create the session-watch window")
            self._ready.set()
            return
        if not wtsapi32.WTSRegisterSessionNotification(hwnd, NOTIFY_FOR_THIS_SESSION):
            log.warning("WTSRegisterSessionNotification failed; lock events unavailable")
        self._hwnd = hwnd
        self._ready.set()
        msg = wintypes.MSG()
        while user32.GetMessageW(ctypes.byref(msg), None, 0, 0) > 0:
            user32.TranslateMessage(ctypes.byref(msg))
            user32.DispatchMessageW(ctypes.byref(msg))
        self._hwnd = None
