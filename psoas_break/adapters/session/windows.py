"""Windows: screen lock and sleep from window messages (WTSRegisterSessionNotification).

A hidden top-level window on its own thread (created without WS_VISIBLE, never shown)
registers for this session's terminal-services notifications and, being top-level, also
receives the power broadcasts:
- WM_WTSSESSION_CHANGE with WTS_SESSION_LOCK / WTS_SESSION_UNLOCK -> on_lock(True/False);
- WM_POWERBROADCAST with PBT_APMSUSPEND -> on_sleep(True); PBT_APMRESUMEAUTOMATIC or
  PBT_APMRESUMESUSPEND -> on_sleep(False) (both usually come; the composite de-duplicates).
A message-only window (HWND_MESSAGE parent) would do for WTS, which sends to the registered
window, but Microsoft documents that message-only windows "do not receive broadcast messages",
and WM_POWERBROADCAST is one: hence a hidden top-level window.

Details that matter on real machines:
- WTSRegisterSessionNotification fails with RPC_S_INVALID_BINDING when called before the Remote
  Desktop Services are up (documented; it happens when the app autostarts at sign-in). The
  window then retries on a WM_TIMER every REGISTER_RETRY_MS, REGISTER_RETRIES times at most.
- Every registration is undone before the window is destroyed (WM_DESTROY), as documented.
- The window class gets a per-instance name and is unregistered when the thread ends: a second
  watcher (or a restart) never reuses a class whose window procedure has been freed.
- Every handle-sized ctypes argument and result is declared, so 64-bit handles are not cut to
  a C int.
time.monotonic() counts through sleep on Windows and adapters.clock reads the interrupt-time
pair, so the engine sees a suspend as a gap even without these messages.

Seam: `WindowsSessionWatcher` reaches Win32 only through a `Win32Api`; its logic
(`SessionWindowProc`, the thread lifecycle) is tested against a fake message queue
(tests/test_platform_lock.py); `CtypesWin32`, the thin ctypes layer, runs only on Windows.
"""

from __future__ import annotations

import ctypes
import logging
import sys
import threading
from collections.abc import Callable
from typing import Any, Protocol

from psoas_break.adapters.ffi import declare
from psoas_break.ports import Unavailable

log = logging.getLogger(__name__)

WM_DESTROY = 0x0002
WM_CLOSE = 0x0010
WM_TIMER = 0x0113
WM_POWERBROADCAST = 0x0218
WM_WTSSESSION_CHANGE = 0x02B1
WTS_SESSION_LOCK = 0x7
WTS_SESSION_UNLOCK = 0x8
PBT_APMSUSPEND = 0x4
PBT_APMRESUMESUSPEND = 0x7
PBT_APMRESUMEAUTOMATIC = 0x12
NOTIFY_FOR_THIS_SESSION = 0
RPC_S_INVALID_BINDING = 1702

REGISTER_TIMER_ID = 1
REGISTER_RETRY_MS = 5000
REGISTER_RETRIES = 24  # 2 minutes of retries after sign-in
START_TIMEOUT_S = 5.0
STOP_TIMEOUT_S = 5.0

WndProc = Callable[[int, int, int, int], int]


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


class Win32Api(Protocol):
    """The seam between the watcher and user32/wtsapi32. Everything but `post_close` is called
    on the watcher thread (the thread that owns the window)."""

    # Register a window class with `wndproc` and create the hidden window; 0 on failure.
    def create_window(self, wndproc: WndProc) -> int: ...

    def destroy_class(self) -> None: ...  # UnregisterClassW, once the window is gone

    # WTSRegisterSessionNotification(hwnd, NOTIFY_FOR_THIS_SESSION), and its undoing
    def register_session_notification(self, hwnd: int) -> bool: ...

    def unregister_session_notification(self, hwnd: int) -> None: ...

    def last_error(self) -> int: ...  # GetLastError() of the last failed call

    def set_timer(self, hwnd: int, timer_id: int, interval_ms: int) -> None: ...  # SetTimer

    def kill_timer(self, hwnd: int, timer_id: int) -> None: ...  # KillTimer

    def destroy_window(self, hwnd: int) -> None: ...  # DestroyWindow: WM_DESTROY comes first

    def post_quit(self) -> None: ...  # PostQuitMessage(0): `pump` returns

    def post_close(self, hwnd: int) -> None: ...  # PostMessageW(hwnd, WM_CLOSE), any thread

    # DefWindowProcW
    def default_proc(self, hwnd: int, message: int, wparam: int, lparam: int) -> int: ...

    def pump(self) -> None: ...  # GetMessage/TranslateMessage/DispatchMessage until WM_QUIT


class SessionWindowProc:
    """What the hidden window does with each message (the logic behind the window procedure).

    `deliver(message, wparam)` gets the lock and power messages; WM_CLOSE destroys the window;
    WM_DESTROY undoes the WTS registration and ends the pump; WM_TIMER retries a registration
    that failed; everything else goes to DefWindowProc.
    """

    def __init__(self, api: Win32Api, deliver: Callable[[int, int], None],
                 retries: int = REGISTER_RETRIES) -> None:
        self._api = api
        self._deliver = deliver
        self.retries_left = retries
        self.registered = False
        self._timer = False

    def register(self, hwnd: int) -> None:
        """Register for session notifications now, or arm the retry timer."""
        if self.registered:
            return
        if self._api.register_session_notification(hwnd):
            self.registered = True
            self._stop_timer(hwnd)
            return
        error = self._api.last_error()
        if self.retries_left <= 0:
            self._stop_timer(hwnd)
            log.warning("WTSRegisterSessionNotification failed (error %d); lock events "
                        "unavailable", error)
            return
        self.retries_left -= 1
        log.info("WTSRegisterSessionNotification failed (error %d%s); retrying in %d s",
                 error, ", services not up yet" if error == RPC_S_INVALID_BINDING else "",
                 REGISTER_RETRY_MS // 1000)
        if not self._timer:
            self._api.set_timer(hwnd, REGISTER_TIMER_ID, REGISTER_RETRY_MS)
            self._timer = True

    def _stop_timer(self, hwnd: int) -> None:
        if self._timer:
            self._api.kill_timer(hwnd, REGISTER_TIMER_ID)
            self._timer = False

    def __call__(self, hwnd: int, message: int, wparam: int, lparam: int) -> int:
        if message in (WM_WTSSESSION_CHANGE, WM_POWERBROADCAST):
            try:
                self._deliver(message, wparam)
            except Exception:  # must never unwind into user32
                log.exception("session message handler failed")
            return 1 if message == WM_POWERBROADCAST else 0  # TRUE: grant, as documented
        if message == WM_TIMER and wparam == REGISTER_TIMER_ID:
            self.register(hwnd)
            return 0
        if message == WM_CLOSE:
            self._api.destroy_window(hwnd)
            return 0
        if message == WM_DESTROY:
            self._stop_timer(hwnd)
            if self.registered:
                self._api.unregister_session_notification(hwnd)
                self.registered = False
            self._api.post_quit()
            return 0
        return self._api.default_proc(hwnd, message, wparam, lparam)


class WindowsSessionWatcher:
    """SessionWatcher over WTS session notifications and power broadcasts (see module doc)."""

    name = "windows"

    def __init__(self, api: Win32Api | None = None) -> None:
        if api is None:
            api = CtypesWin32.load()  # raises Unavailable("only on Windows") elsewhere
        self._api = api
        self._thread: threading.Thread | None = None
        self._hwnd: int | None = None
        self._ready = threading.Event()
        self._on_lock: Callable[[bool], None] = lambda _v: None
        self._on_sleep: Callable[[bool], None] = lambda _v: None
        self.window_proc: SessionWindowProc | None = None

    def start(self, on_lock: Callable[[bool], None], on_sleep: Callable[[bool], None]) -> None:
        """Create the hidden window and pump its messages on a daemon thread; returns once the
        window exists (or failed)."""
        if self._thread is not None:
            return
        self._on_lock, self._on_sleep = on_lock, on_sleep
        self._ready.clear()
        self._thread = threading.Thread(target=self._run, name="psoas-windows-watch", daemon=True)
        self._thread.start()
        if not self._ready.wait(START_TIMEOUT_S):
            log.warning("the Windows session watcher did not start within %.0f s",
                        START_TIMEOUT_S)

    def stop(self) -> None:
        """Close the window (which ends the message loop) and join the thread."""
        thread = self._thread
        if thread is None:
            return
        hwnd = self._hwnd
        if hwnd is not None:
            try:
                self._api.post_close(hwnd)
            except Exception:
                log.debug("posting WM_CLOSE failed", exc_info=True)
        thread.join(STOP_TIMEOUT_S)
        if thread.is_alive():
            log.warning("the Windows session watcher thread did not stop")
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

    def _run(self) -> None:
        api = self._api
        proc = SessionWindowProc(api, self._deliver)
        self.window_proc = proc
        try:
            hwnd = api.create_window(proc)
            if not hwnd:
                log.warning("cannot create the session-watch window (error %d)",
                            api.last_error())
                return
            proc.register(hwnd)
            self._hwnd = hwnd
            self._ready.set()
            api.pump()
        except Exception:
            log.warning("the Windows session watcher failed", exc_info=True)
        finally:
            self._hwnd = None
            try:
                api.destroy_class()
            except Exception:
                log.debug("UnregisterClassW failed", exc_info=True)
            self._ready.set()


class CtypesWin32:  # pragma: no cover - Windows only, exercised on paper
    """Win32Api over user32/kernel32/wtsapi32 through ctypes."""

    def __init__(self, windll: Any) -> None:
        from ctypes import wintypes

        self._user32, self._kernel32 = windll.user32, windll.kernel32
        self._wtsapi32 = windll.wtsapi32
        self._wintypes = wintypes
        lresult = ctypes.c_ssize_t  # LRESULT is pointer-sized
        self._wndproc_type = ctypes.WINFUNCTYPE(  # type: ignore[attr-defined]
            lresult, wintypes.HWND, wintypes.UINT, wintypes.WPARAM, wintypes.LPARAM
        )

        class WNDCLASSW(ctypes.Structure):
            _fields_ = [
                ("style", wintypes.UINT), ("lpfnWndProc", self._wndproc_type),
                ("cbClsExtra", ctypes.c_int), ("cbWndExtra", ctypes.c_int),
                ("hInstance", wintypes.HINSTANCE), ("hIcon", wintypes.HICON),
                ("hCursor", wintypes.HANDLE), ("hbrBackground", wintypes.HBRUSH),
                ("lpszMenuName", wintypes.LPCWSTR), ("lpszClassName", wintypes.LPCWSTR),
            ]

        self._wndclass_type = WNDCLASSW
        u, k, w = self._user32, self._kernel32, self._wtsapi32
        hwnd, uint, wparam, lparam = wintypes.HWND, wintypes.UINT, wintypes.WPARAM, wintypes.LPARAM
        bool_, msg_p, size_t = wintypes.BOOL, ctypes.POINTER(wintypes.MSG), ctypes.c_size_t
        int_ = ctypes.c_int
        declare(k, (("GetModuleHandleW", wintypes.HMODULE, [wintypes.LPCWSTR]),
                    ("GetLastError", wintypes.DWORD, [])))
        declare(u, (  # (function, result, arguments)
            ("RegisterClassW", wintypes.ATOM, [ctypes.POINTER(WNDCLASSW)]),
            ("UnregisterClassW", bool_, [wintypes.LPCWSTR, wintypes.HINSTANCE]),
            ("CreateWindowExW", hwnd, [
                wintypes.DWORD, wintypes.LPCWSTR, wintypes.LPCWSTR, wintypes.DWORD,
                int_, int_, int_, int_, hwnd, wintypes.HMENU, wintypes.HINSTANCE, wintypes.LPVOID]),
            ("DestroyWindow", bool_, [hwnd]),
            ("DefWindowProcW", lresult, [hwnd, uint, wparam, lparam]),
            ("PostMessageW", bool_, [hwnd, uint, wparam, lparam]),
            ("PostQuitMessage", None, [int_]),
            ("GetMessageW", bool_, [msg_p, hwnd, uint, uint]),
            ("TranslateMessage", bool_, [msg_p]),
            ("DispatchMessageW", lresult, [msg_p]),
            ("SetTimer", size_t, [hwnd, size_t, uint, ctypes.c_void_p]),
            ("KillTimer", bool_, [hwnd, size_t]),
        ))
        declare(w, (("WTSRegisterSessionNotification", bool_, [hwnd, wintypes.DWORD]),
                    ("WTSUnRegisterSessionNotification", bool_, [hwnd])))
        self._hinstance = k.GetModuleHandleW(None)
        self._class_name = f"PsoasBreakSessionWatch-{id(self):x}"
        self._proc: Any = None  # the WNDPROC: alive as long as the class is registered
        self._class_registered = False

    @classmethod
    def load(cls) -> CtypesWin32:
        """Bind the calls; raises Unavailable when a DLL or symbol is missing."""
        windll = getattr(ctypes, "windll", None)
        if sys.platform != "win32" or windll is None:
            raise Unavailable("only on Windows")
        try:
            return cls(windll)
        except (OSError, AttributeError) as exc:
            raise Unavailable(f"Win32 session calls unavailable ({exc})") from None

    def create_window(self, wndproc: WndProc) -> int:
        def proc(hwnd: Any, message: int, wparam: int, lparam: int) -> int:
            try:
                return int(wndproc(int(hwnd or 0), int(message), int(wparam), int(lparam)))
            except Exception:  # an exception must never unwind into user32
                log.exception("window procedure failed")
                return 0

        self._proc = self._wndproc_type(proc)
        wc = self._wndclass_type()
        wc.lpfnWndProc = self._proc
        wc.hInstance = self._hinstance
        wc.lpszClassName = self._class_name
        if not self._user32.RegisterClassW(ctypes.byref(wc)):
            return 0
        self._class_registered = True
        hwnd = self._user32.CreateWindowExW(0, self._class_name, "psoas-break session watch",
                                            0, 0, 0, 0, 0, None, None, self._hinstance, None)
        return int(hwnd or 0)

    def destroy_class(self) -> None:
        if self._class_registered:
            self._user32.UnregisterClassW(self._class_name, self._hinstance)
            self._class_registered = False

    def register_session_notification(self, hwnd: int) -> bool:
        return bool(self._wtsapi32.WTSRegisterSessionNotification(hwnd, NOTIFY_FOR_THIS_SESSION))

    def unregister_session_notification(self, hwnd: int) -> None:
        self._wtsapi32.WTSUnRegisterSessionNotification(hwnd)

    def last_error(self) -> int:
        return int(self._kernel32.GetLastError())

    def set_timer(self, hwnd: int, timer_id: int, interval_ms: int) -> None:
        self._user32.SetTimer(hwnd, timer_id, interval_ms, None)

    def kill_timer(self, hwnd: int, timer_id: int) -> None:
        self._user32.KillTimer(hwnd, timer_id)

    def destroy_window(self, hwnd: int) -> None:
        self._user32.DestroyWindow(hwnd)

    def post_quit(self) -> None:
        self._user32.PostQuitMessage(0)

    def post_close(self, hwnd: int) -> None:
        self._user32.PostMessageW(hwnd, WM_CLOSE, 0, 0)

    def default_proc(self, hwnd: int, message: int, wparam: int, lparam: int) -> int:
        return int(self._user32.DefWindowProcW(hwnd, message, wparam, lparam))

    def pump(self) -> None:
        msg = self._wintypes.MSG()
        # GetMessageW: >0 a message, 0 WM_QUIT, -1 an error (stop rather than spin).
        while self._user32.GetMessageW(ctypes.byref(msg), None, 0, 0) > 0:
            self._user32.TranslateMessage(ctypes.byref(msg))
            self._user32.DispatchMessageW(ctypes.byref(msg))
