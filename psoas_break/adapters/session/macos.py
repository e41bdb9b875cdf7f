"""macOS: screen lock/unlock from distributed notifications, sleep/wake from IOKit, via ctypes.

Signals (no PyObjC; CoreFoundation and IOKit through ctypes):
- `com.apple.screenIsLocked` / `com.apple.screenIsUnlocked`, the distributed notifications the
  login window posts, observed with `CFNotificationCenterAddObserver` on the distributed center
  -> on_lock(True/False). Registered with CFNotificationSuspensionBehaviorDeliverImmediately:
  AppKit suspends distributed-notification delivery while an app is not active, and a tray app
  is almost never the active one.
- `IORegisterForSystemPower` (Apple's documented sleep/wake hook, Technical Q&A QA1340):
  kIOMessageSystemWillSleep -> on_sleep(True); kIOMessageSystemWillPowerOn /
  kIOMessageSystemHasPoweredOn -> on_sleep(False) (the composite watcher passes one). Apple
  requires IOAllowPowerChange for kIOMessageCanSystemSleep and kIOMessageSystemWillSleep (else
  the Mac waits 30 s before sleeping): `power_action` decides, and the watcher acknowledges
  before it reports anything, even when reporting fails. Idle sleep is never vetoed.
- `com.apple.screensaver.didstart/didstop` are deliberately NOT treated as a lock: the screen
  saver only starts after idle time that HIDIdleTime already counts, and a missed `didstop`
  would hold the app in "locked" (no prompts) until the next unlock.

Threads: the watcher owns one thread. It registers the observers and the IOKit notification
port, adds the port's run-loop source to its own CFRunLoop, and runs that loop until `stop()`
calls CFRunLoopStop on it. Apple documents that distributed notifications are delivered on the
main thread; in the app that is pystray's AppKit run loop, so the lock callback may run there
or on the watcher thread. Either is fine: callbacks only post to the engine queue (thread-safe).
Without any running main run loop (e.g. `psoas-break doctor`) no lock notification arrives,
which nothing there needs. If the watcher's loop has no source at all (IOKit unavailable), the
thread parks on an Event until stop instead of spinning.

Sleep also shows as a clock gap (adapters.clock: CLOCK_MONOTONIC_RAW - CLOCK_UPTIME_RAW grows by
exactly the time asleep), so if IOKit cannot be registered the engine still counts a long sleep
as a natural break; on_sleep(False) only wakes the engine at once after resume.

Seam: `MacSessionWatcher` talks to the OS only through a `CoreFoundationApi`;
`CtypesCoreFoundation` is the thin ctypes implementation. Both are tested on Linux (a fake
seam; a C library with the same symbols, tests/test_platform_lock.py); Apple's side of the
calls (which thread gets the notifications, the message sequence) is from its documentation.
"""

from __future__ import annotations

import ctypes
import logging
import threading
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from psoas_break.adapters.ffi import declare
from psoas_break.ports import Unavailable

log = logging.getLogger(__name__)

SCREEN_LOCKED = "com.apple.screenIsLocked"
SCREEN_UNLOCKED = "com.apple.screenIsUnlocked"
OBSERVED_NOTIFICATIONS = (SCREEN_LOCKED, SCREEN_UNLOCKED)

# <IOKit/IOMessage.h>: iokit_common_msg(x) = sys_iokit | sub_iokit_common | x, and
# sys_iokit = err_system(0x38) = 0x38 << 26 = 0xE0000000, sub_iokit_common = 0.
_IOKIT_COMMON_MSG = 0xE0000000
IOKIT_CAN_SYSTEM_SLEEP = _IOKIT_COMMON_MSG | 0x270
IOKIT_SYSTEM_WILL_SLEEP = _IOKIT_COMMON_MSG | 0x280
IOKIT_SYSTEM_WILL_NOT_SLEEP = _IOKIT_COMMON_MSG | 0x290
IOKIT_SYSTEM_HAS_POWERED_ON = _IOKIT_COMMON_MSG | 0x300
IOKIT_SYSTEM_WILL_POWER_ON = _IOKIT_COMMON_MSG | 0x320

# CFRunLoopRunInMode results (CFRunLoop.h).
RUN_FINISHED = 1  # the loop has no sources or timers in that mode
RUN_STOPPED = 2

START_TIMEOUT_S = 5.0
_STOP_ATTEMPTS = 40  # x 0.05 s join: up to 2 s for the loop to notice CFRunLoopStop
_STOP_JOIN_S = 0.05

_CF = "/System/Library/Frameworks/CoreFoundation.framework/CoreFoundation"
_IOKIT = "/System/Library/Frameworks/IOKit.framework/IOKit"
_KCF_STRING_ENCODING_UTF8 = 0x08000100
_DELIVER_IMMEDIATELY = 4  # CFNotificationSuspensionBehaviorDeliverImmediately
_RUN_FOREVER_S = 1.0e10  # what CFRunLoopRun itself passes to CFRunLoopRunInMode


def lock_state_for_notification(name: str) -> bool | None:
    """True for the screen-locked notification, False for unlocked, None for anything else."""
    if name == SCREEN_LOCKED:
        return True
    if name == SCREEN_UNLOCKED:
        return False
    return None


def power_action(message_type: int) -> tuple[bool | None, bool]:
    """(sleep value to report or None, must acknowledge with IOAllowPowerChange). Pure.

    Per IOPMLib.h: CanSystemSleep (idle sleep proposed) and SystemWillSleep must be acknowledged;
    WillNotSleep, WillPowerOn and HasPoweredOn must not. We never veto an idle sleep, and report
    sleep only when it is certain (WillSleep), not when it is merely proposed.
    """
    message_type &= 0xFFFFFFFF
    if message_type == IOKIT_CAN_SYSTEM_SLEEP:
        return None, True
    if message_type == IOKIT_SYSTEM_WILL_SLEEP:
        return True, True
    if message_type in (IOKIT_SYSTEM_WILL_POWER_ON, IOKIT_SYSTEM_HAS_POWERED_ON):
        return False, False
    return None, False


class CoreFoundationApi(Protocol):
    """The seam between the watcher and CoreFoundation/IOKit. All calls but `stop_loop` run on
    the watcher thread; callbacks may come on that thread or on the main one."""

    def current_loop(self) -> Any: ...  # CFRunLoopGetCurrent() of the calling thread

    # Observe `names` on the distributed center; callback(name) per notification.
    def add_lock_observers(self, names: Sequence[str], callback: Callable[[str], None]) -> None: ...

    def remove_lock_observers(self) -> None: ...  # every observer added above

    # IORegisterForSystemPower with its source on `loop`; callback(message_type, argument).
    # False when IOKit refuses or is unavailable.
    def register_power(self, loop: Any, callback: Callable[[int, int], None]) -> bool: ...

    def allow_power_change(self, argument: int) -> None: ...  # IOAllowPowerChange(root, argument)

    # Undo `register_power` (source, notifier, port, connection).
    def deregister_power(self, loop: Any) -> None: ...

    def run_loop(self) -> int: ...  # the thread's loop, default mode, until stopped: a RUN_* code

    def stop_loop(self, loop: Any) -> None: ...  # CFRunLoopStop(loop), from any thread


class MacSessionWatcher:
    """SessionWatcher over macOS lock notifications and IOKit power messages (see module doc)."""

    name = "macos"

    def __init__(self, api: CoreFoundationApi) -> None:
        self._api = api
        self._thread: threading.Thread | None = None
        self._loop: Any = None
        self._ready = threading.Event()
        self._stopping = threading.Event()
        self._state_lock = threading.Lock()
        self._locked: bool | None = None
        self._on_lock: Callable[[bool], None] = lambda _v: None
        self._on_sleep: Callable[[bool], None] = lambda _v: None
        self.observing = False
        self.power_registered = False

    @classmethod
    def open(cls) -> MacSessionWatcher:
        """A watcher over the real frameworks; raises Unavailable when they cannot be loaded."""
        return cls(CtypesCoreFoundation.load())

    def start(self, on_lock: Callable[[bool], None], on_sleep: Callable[[bool], None]) -> None:
        """Register and run the loop on a daemon thread; returns once registered (or failed)."""
        if self._thread is not None:
            return
        self._on_lock, self._on_sleep = on_lock, on_sleep
        self._locked = None
        self._ready.clear()
        self._stopping.clear()
        self._thread = threading.Thread(target=self._run, name="psoas-macos-watch", daemon=True)
        self._thread.start()
        if not self._ready.wait(START_TIMEOUT_S):
            log.warning("the macOS session watcher did not start within %.0f s", START_TIMEOUT_S)

    def stop(self) -> None:
        """Stop the loop, undo every registration (on the watcher thread) and join it."""
        thread = self._thread
        if thread is None:
            return
        self._stopping.set()
        # CFRunLoopStop is lost if it lands just before the thread enters the loop: repeat it
        # until the thread is gone (the thread re-checks _stopping before each run).
        for _ in range(_STOP_ATTEMPTS):
            if not thread.is_alive():
                break
            if self._loop is not None:
                try:
                    self._api.stop_loop(self._loop)
                except Exception:
                    log.debug("CFRunLoopStop failed", exc_info=True)
            thread.join(_STOP_JOIN_S)
        if thread.is_alive():
            log.warning("the macOS session watcher thread did not stop")
        self._thread = None

    def _run(self) -> None:
        api = self._api
        loop: Any = None
        try:
            loop = api.current_loop()
            self.observing = True  # before: a partial registration is undone too
            api.add_lock_observers(OBSERVED_NOTIFICATIONS, self._on_notification)
            try:
                self.power_registered = api.register_power(loop, self._on_power)
            except Exception:
                log.warning("IORegisterForSystemPower failed", exc_info=True)
                self.power_registered = False
            if not self.power_registered:
                log.info("no IOKit sleep/wake messages: clock gaps still show sleep")
            self._loop = loop
        except Exception:
            log.warning("cannot observe macOS lock notifications", exc_info=True)
            self._cleanup(loop)
            self._ready.set()
            return
        self._ready.set()
        try:
            while not self._stopping.is_set():
                if api.run_loop() == RUN_FINISHED:
                    # Nothing on this thread's loop (the lock notifications come on the main
                    # run loop): wait for stop() without spinning.
                    self._stopping.wait()
        except Exception:
            log.warning("the macOS session watcher loop failed", exc_info=True)
        finally:
            self._loop = None
            self._cleanup(loop)

    def _cleanup(self, loop: Any) -> None:
        if self.power_registered:
            self.power_registered = False
            try:
                self._api.deregister_power(loop)
            except Exception:
                log.debug("IODeregisterForSystemPower failed", exc_info=True)
        if self.observing:
            self.observing = False
            try:
                self._api.remove_lock_observers()
            except Exception:
                log.debug("removing the lock observers failed", exc_info=True)

    def _on_notification(self, name: str) -> None:
        locked = lock_state_for_notification(name)
        if locked is None:
            return
        with self._state_lock:
            if locked == self._locked:
                return
            self._locked = locked
        try:
            self._on_lock(locked)
        except Exception:
            log.exception("session lock callback failed")

    def _on_power(self, message_type: int, argument: int) -> None:
        sleeping, acknowledge = power_action(message_type)
        if acknowledge:
            # First, and whatever happens next: an unacknowledged sleep waits 30 s.
            try:
                self._api.allow_power_change(argument)
            except Exception:
                log.warning("IOAllowPowerChange failed", exc_info=True)
        if sleeping is None:
            return
        try:
            self._on_sleep(sleeping)
        except Exception:
            log.exception("session sleep callback failed")


_NOTIFICATION_CALLBACK = ctypes.CFUNCTYPE(
    None, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p
)
# IOServiceInterestCallback(void *refcon, io_service_t, uint32_t messageType, void *argument)
_POWER_CALLBACK = ctypes.CFUNCTYPE(
    None, ctypes.c_void_p, ctypes.c_uint32, ctypes.c_uint32, ctypes.c_void_p
)


class CtypesCoreFoundation:
    """CoreFoundationApi over the real frameworks through ctypes.

    The C callbacks are kept on the instance for the life of the process (never freed after
    stop), so a notification already in flight on another thread never calls freed memory.
    """

    def __init__(self, cf: Any, iokit: Any | None) -> None:
        vp, u32, long_, int_ = ctypes.c_void_p, ctypes.c_uint32, ctypes.c_long, ctypes.c_int
        declare(cf, (  # (function, result, arguments)
            ("CFNotificationCenterGetDistributedCenter", vp, []),
            # The last argument, the suspension behavior, is a CFIndex.
            ("CFNotificationCenterAddObserver", None, [vp, vp, _NOTIFICATION_CALLBACK, vp, vp,
                                                       long_]),
            ("CFNotificationCenterRemoveEveryObserver", None, [vp, vp]),
            ("CFStringCreateWithCString", vp, [vp, ctypes.c_char_p, u32]),
            ("CFStringGetCString", ctypes.c_bool, [vp, ctypes.c_char_p, long_, u32]),
            ("CFRelease", None, [vp]),
            ("CFRunLoopGetCurrent", vp, []),
            ("CFRunLoopRunInMode", ctypes.c_int32, [vp, ctypes.c_double, ctypes.c_bool]),
            ("CFRunLoopStop", None, [vp]),
            ("CFRunLoopAddSource", None, [vp, vp, vp]),
            ("CFRunLoopRemoveSource", None, [vp, vp, vp]),
        ))
        self._cf = cf
        self._default_mode = vp.in_dll(cf, "kCFRunLoopDefaultMode").value
        self._iokit = iokit
        if iokit is not None:
            declare(iokit, (  # IORegisterForSystemPower returns an io_connect_t
                ("IORegisterForSystemPower", u32, [vp, ctypes.POINTER(vp), _POWER_CALLBACK,
                                                   ctypes.POINTER(u32)]),
                ("IONotificationPortGetRunLoopSource", vp, [vp]),
                ("IODeregisterForSystemPower", int_, [ctypes.POINTER(u32)]),
                ("IONotificationPortDestroy", None, [vp]),
                ("IOServiceClose", int_, [u32]),
                ("IOAllowPowerChange", int_, [u32, long_]),
            ))
        # A unique, non-NULL observer identity, so RemoveEveryObserver removes only ours.
        self._token = ctypes.c_int(0)
        self._names: list[int] = []
        self._notification_cb: Any = None
        self._power_cb: Any = None
        self._retired: list[Any] = []  # earlier callbacks, kept alive (a few per restart)
        self._root_port = 0
        self._notify_port = ctypes.c_void_p(None)
        self._notifier = ctypes.c_uint32(0)
        self._source: int | None = None

    @classmethod
    def load(cls) -> CtypesCoreFoundation:
        """Load the frameworks; raises Unavailable when CoreFoundation is missing."""
        try:
            cf = ctypes.CDLL(_CF)
        except OSError as exc:
            raise Unavailable(f"CoreFoundation cannot be loaded ({exc})") from None
        try:
            iokit: Any | None = ctypes.CDLL(_IOKIT)
        except OSError as exc:
            log.info("IOKit cannot be loaded (%s): no sleep/wake messages", exc)
            iokit = None
        try:
            return cls(cf, iokit)
        except (AttributeError, ValueError) as exc:
            raise Unavailable(f"CoreFoundation lacks a needed symbol ({exc})") from None

    def current_loop(self) -> Any:
        return self._cf.CFRunLoopGetCurrent()

    def add_lock_observers(self, names: Sequence[str], callback: Callable[[str], None]) -> None:
        cf = self._cf

        def deliver(_center: Any, _observer: Any, name: Any, _obj: Any, _info: Any) -> None:
            try:
                callback(self._text(name))
            except Exception:  # an exception must never unwind into CoreFoundation
                log.exception("lock notification handler failed")

        self._retired.append(self._notification_cb)  # a restart must not free the old one
        self._notification_cb = _NOTIFICATION_CALLBACK(deliver)
        center = cf.CFNotificationCenterGetDistributedCenter()
        if not center:
            raise Unavailable("no distributed notification center")
        for name in names:
            ref = cf.CFStringCreateWithCString(None, name.encode(), _KCF_STRING_ENCODING_UTF8)
            if not ref:
                raise Unavailable(f"cannot make a CFString of {name}")
            self._names.append(ref)
            cf.CFNotificationCenterAddObserver(center, ctypes.addressof(self._token),
                                               self._notification_cb, ref, None,
                                               _DELIVER_IMMEDIATELY)

    def remove_lock_observers(self) -> None:
        cf = self._cf
        center = cf.CFNotificationCenterGetDistributedCenter()
        cf.CFNotificationCenterRemoveEveryObserver(center, ctypes.addressof(self._token))
        for ref in self._names:
            cf.CFRelease(ref)
        self._names.clear()

    def register_power(self, loop: Any, callback: Callable[[int, int], None]) -> bool:
        iokit = self._iokit
        if iokit is None:
            return False

        def deliver(_refcon: Any, _service: int, message_type: int, argument: Any) -> None:
            try:
                callback(int(message_type), int(argument or 0))
            except Exception:
                log.exception("power message handler failed")

        self._retired.append(self._power_cb)
        self._power_cb = _POWER_CALLBACK(deliver)
        self._root_port = iokit.IORegisterForSystemPower(
            None, ctypes.byref(self._notify_port), self._power_cb, ctypes.byref(self._notifier)
        )
        if not self._root_port:
            return False
        self._source = iokit.IONotificationPortGetRunLoopSource(self._notify_port)
        self._cf.CFRunLoopAddSource(loop, self._source, self._default_mode)
        return True

    def allow_power_change(self, argument: int) -> None:
        if self._iokit is not None and self._root_port:
            self._iokit.IOAllowPowerChange(self._root_port, argument)

    def deregister_power(self, loop: Any) -> None:
        # Order from IOPMLib.h: deregister the notifier, destroy the port, close the connection.
        iokit = self._iokit
        if iokit is None or not self._root_port:
            return
        if self._source:
            self._cf.CFRunLoopRemoveSource(loop, self._source, self._default_mode)
            self._source = None
        iokit.IODeregisterForSystemPower(ctypes.byref(self._notifier))
        iokit.IONotificationPortDestroy(self._notify_port)
        iokit.IOServiceClose(self._root_port)
        self._root_port = 0

    def run_loop(self) -> int:
        return int(self._cf.CFRunLoopRunInMode(self._default_mode, _RUN_FOREVER_S, False))

    def stop_loop(self, loop: Any) -> None:
        self._cf.CFRunLoopStop(loop)

    def _text(self, ref: Any) -> str:
        if not ref:
            return ""
        buffer = ctypes.create_string_buffer(256)
        if not self._cf.CFStringGetCString(ref, buffer, len(buffer), _KCF_STRING_ENCODING_UTF8):
            return ""
        return buffer.value.decode("utf-8", errors="replace")
