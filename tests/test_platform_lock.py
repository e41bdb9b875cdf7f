"""Screen lock and sleep on macOS and Windows: the watchers' logic, on Linux, behind their seams.

Neither platform can run here, so each watcher reaches its OS only through a small protocol
(session/macos.py `CoreFoundationApi`, session/windows.py `Win32Api`) and these tests drive the
real watcher code -- its own thread, start/stop lifecycle, message handling, acknowledgement
order, retries and failure paths -- against fakes of that seam that behave like the OS does:
- FakeCoreFoundation runs a "run loop" on the watcher thread that serves queued sources until
  CFRunLoopStop, drops a stop that arrives while the loop is not running (as CoreFoundation
  does), and can deliver a lock notification on another thread (Apple: distributed
  notifications come on the main thread) or on the loop.
- FakeWin32 is a per-thread message queue: DestroyWindow sends WM_DESTROY synchronously,
  PostQuitMessage ends the pump, timers post WM_TIMER when the test fires them.
The macOS ctypes layer (CtypesCoreFoundation) is also run for real, against a C library built
here with CoreFoundation's and IOKit's symbol names and signatures (end of this file). What
stays on paper: Apple's and Microsoft's side of the calls, and the Windows ctypes layer
(CtypesWin32: ctypes.windll and WINFUNCTYPE exist only on Windows). The factories' failure paths
are real: on this Linux machine CoreFoundation cannot be loaded and there is no windll.
"""

from __future__ import annotations

import ctypes
import os
import queue
import shutil
import subprocess
import threading
from pathlib import Path
from typing import Any

import pytest

from psoas_break.adapters.session import (
    CompositeSessionWatcher,
    NullSessionWatcher,
    macos,
    make_session_watcher,
    windows,
)
from psoas_break.adapters.session.macos import (
    IOKIT_CAN_SYSTEM_SLEEP,
    IOKIT_SYSTEM_HAS_POWERED_ON,
    IOKIT_SYSTEM_WILL_NOT_SLEEP,
    IOKIT_SYSTEM_WILL_POWER_ON,
    IOKIT_SYSTEM_WILL_SLEEP,
    RUN_FINISHED,
    RUN_STOPPED,
    SCREEN_LOCKED,
    SCREEN_UNLOCKED,
    MacSessionWatcher,
    power_action,
)
from psoas_break.adapters.session.windows import (
    PBT_APMRESUMEAUTOMATIC,
    PBT_APMRESUMESUSPEND,
    PBT_APMSUSPEND,
    REGISTER_TIMER_ID,
    RPC_S_INVALID_BINDING,
    WM_CLOSE,
    WM_DESTROY,
    WM_POWERBROADCAST,
    WM_TIMER,
    WM_WTSSESSION_CHANGE,
    WTS_SESSION_LOCK,
    WTS_SESSION_UNLOCK,
    SessionWindowProc,
    WindowsSessionWatcher,
)

WAIT_S = 5.0


class Recorder:
    """The callbacks a runtime passes; a queue of (kind, value, thread name)."""

    def __init__(self) -> None:
        self.events: queue.Queue[tuple[str, bool, str]] = queue.Queue()

    def on_lock(self, value: bool) -> None:
        self.events.put(("lock", value, threading.current_thread().name))

    def on_sleep(self, value: bool) -> None:
        self.events.put(("sleep", value, threading.current_thread().name))

    def next(self) -> tuple[str, bool, str]:
        return self.events.get(timeout=WAIT_S)

    def next_value(self) -> tuple[str, bool]:
        kind, value, _thread = self.next()
        return kind, value

    def assert_quiet(self) -> None:
        """Nothing more arrived (checked after a round trip through the watcher thread)."""
        assert self.events.empty(), list(self.events.queue)


# ---------------------------------------------------------------- macOS


_STOP = object()


class FakeCoreFoundation:
    """A CoreFoundationApi that behaves like CoreFoundation + IOKit for the watcher."""

    def __init__(self, *, power: bool = True, fail_observe: bool = False,
                 hold_run: bool = False) -> None:
        self.power = power
        self.fail_observe = fail_observe
        self.run_gate = threading.Event()
        if not hold_run:
            self.run_gate.set()
        self.sources: queue.Queue[Any] = queue.Queue()
        self.calls: list[tuple[str, str]] = []  # (call, thread name)
        self.acks: list[int] = []
        self.observed: tuple[str, ...] = ()
        self.lock_callback: Any = None
        self.power_callback: Any = None
        self.power_registered = False
        self.dropped_stops = 0
        self.in_run = threading.Event()
        self._mutex = threading.Lock()
        self.order: list[str] = []  # acks and deliveries, in order

    def _call(self, name: str) -> None:
        self.calls.append((name, threading.current_thread().name))

    def call_names(self) -> list[str]:
        return [name for name, _thread in self.calls]

    def current_loop(self) -> Any:
        self._call("current_loop")
        return "loop-of-" + threading.current_thread().name

    def add_lock_observers(self, names: Any, callback: Any) -> None:
        self._call("add_lock_observers")
        if self.fail_observe:
            raise OSError("no distributed notification center")
        self.observed = tuple(names)
        self.lock_callback = callback

    def remove_lock_observers(self) -> None:
        self._call("remove_lock_observers")
        self.lock_callback = None

    def register_power(self, loop: Any, callback: Any) -> bool:
        self._call("register_power")
        assert loop == "loop-of-" + threading.current_thread().name  # the watcher's own loop
        if not self.power:
            return False
        self.power_callback = callback
        self.power_registered = True
        return True

    def allow_power_change(self, argument: int) -> None:
        self.acks.append(argument)
        self.order.append(f"ack {argument}")

    def deregister_power(self, loop: Any) -> None:
        self._call("deregister_power")
        self.power_registered = False

    def run_loop(self) -> int:
        self.run_gate.wait()
        if not self.power_registered:
            return RUN_FINISHED  # CoreFoundation: no source on this loop, returns at once
        with self._mutex:
            self.in_run.set()
        try:
            while True:
                item = self.sources.get()
                if item is _STOP:
                    return RUN_STOPPED
                kind, args = item
                if kind == "notification":
                    self.lock_callback(*args)
                else:
                    self.power_callback(*args)
        finally:
            with self._mutex:
                self.in_run.clear()

    def stop_loop(self, loop: Any) -> None:
        with self._mutex:  # CFRunLoopStop only stops a loop that is running
            if self.in_run.is_set():
                self.sources.put(_STOP)
            else:
                self.dropped_stops += 1

    # What the OS does, driven by the test:
    def post_on_this_thread(self, name: str) -> None:
        """A distributed notification delivered on the caller's (main) thread."""
        assert self.lock_callback is not None
        self.lock_callback(name)

    def post_on_loop(self, name: str) -> None:
        """A notification delivered by the watcher thread's run loop."""
        self.sources.put(("notification", (name,)))

    def power_message(self, message_type: int, argument: int) -> None:
        self.sources.put(("power", (message_type, argument)))


def _started_mac(api: FakeCoreFoundation) -> tuple[MacSessionWatcher, Recorder]:
    watcher = MacSessionWatcher(api)
    recorder = Recorder()

    def on_sleep(value: bool) -> None:
        api.order.append(f"sleep {value}")
        recorder.on_sleep(value)

    watcher.start(recorder.on_lock, on_sleep)
    return watcher, recorder


def test_iokit_message_values_follow_the_header_macro() -> None:
    # IOMessage.h: iokit_common_msg(x) = sys_iokit | sub_iokit_common | x, with
    # sys_iokit = err_system(0x38) = (0x38 & 0x3f) << 26 and sub_iokit_common = err_sub(0) = 0.
    sys_iokit = (0x38 & 0x3F) << 26
    assert sys_iokit == 0xE0000000
    assert sys_iokit | 0x270 == IOKIT_CAN_SYSTEM_SLEEP
    assert sys_iokit | 0x280 == IOKIT_SYSTEM_WILL_SLEEP
    assert sys_iokit | 0x290 == IOKIT_SYSTEM_WILL_NOT_SLEEP
    assert sys_iokit | 0x300 == IOKIT_SYSTEM_HAS_POWERED_ON
    assert sys_iokit | 0x320 == IOKIT_SYSTEM_WILL_POWER_ON


def test_power_actions_acknowledge_what_iopmlib_requires_and_report_only_certain_sleep() -> None:
    assert power_action(IOKIT_CAN_SYSTEM_SLEEP) == (None, True)  # allow, never veto
    assert power_action(IOKIT_SYSTEM_WILL_SLEEP) == (True, True)
    assert power_action(IOKIT_SYSTEM_WILL_NOT_SLEEP) == (None, False)
    assert power_action(IOKIT_SYSTEM_WILL_POWER_ON) == (False, False)
    assert power_action(IOKIT_SYSTEM_HAS_POWERED_ON) == (False, False)
    assert power_action(0xE0000250) == (None, False)  # kIOMessageSystemWillPowerOff: not ours
    # A message type that arrived sign-extended (negative int32) is still recognised.
    assert power_action(IOKIT_SYSTEM_WILL_SLEEP - (1 << 32)) == (True, True)


def test_mac_lock_notifications_on_the_main_thread_reach_on_lock() -> None:
    api = FakeCoreFoundation()
    watcher, recorder = _started_mac(api)
    try:
        assert api.observed == (SCREEN_LOCKED, SCREEN_UNLOCKED)
        api.post_on_this_thread(SCREEN_LOCKED)
        assert recorder.next() == ("lock", True, threading.current_thread().name)
        # The same lock twice (the login window re-posts it) is reported once.
        api.post_on_this_thread(SCREEN_LOCKED)
        # Not locks: the screen saver (see macos.py) and anything else.
        api.post_on_this_thread("com.apple.screensaver.didstart")
        api.post_on_this_thread("com.apple.screenIsLockedNot")
        api.post_on_this_thread("")
        api.post_on_this_thread(SCREEN_UNLOCKED)
        assert recorder.next_value() == ("lock", False)
        recorder.assert_quiet()
    finally:
        watcher.stop()


def test_mac_lock_notifications_delivered_by_the_watcher_loop_work_too() -> None:
    api = FakeCoreFoundation()
    watcher, recorder = _started_mac(api)
    try:
        api.post_on_loop(SCREEN_LOCKED)
        assert recorder.next() == ("lock", True, "psoas-macos-watch")
        api.post_on_loop(SCREEN_UNLOCKED)
        assert recorder.next() == ("lock", False, "psoas-macos-watch")
    finally:
        watcher.stop()


def test_mac_sleep_and_wake_acknowledge_first_and_report_through_the_composite() -> None:
    api = FakeCoreFoundation()
    inner = MacSessionWatcher(api)
    composite = CompositeSessionWatcher([inner])
    recorder = Recorder()

    def on_sleep(value: bool) -> None:
        api.order.append(f"sleep {value}")
        recorder.on_sleep(value)

    composite.start(recorder.on_lock, on_sleep)
    try:
        api.power_message(IOKIT_CAN_SYSTEM_SLEEP, 11)  # idle sleep proposed: allowed, no report
        api.power_message(IOKIT_SYSTEM_WILL_NOT_SLEEP, 12)  # someone vetoed: nothing
        api.power_message(IOKIT_SYSTEM_WILL_SLEEP, 13)
        assert recorder.next() == ("sleep", True, "psoas-macos-watch")
        api.power_message(IOKIT_SYSTEM_WILL_POWER_ON, 14)
        api.power_message(IOKIT_SYSTEM_HAS_POWERED_ON, 15)  # second wake message: de-duplicated
        assert recorder.next_value() == ("sleep", False)
        api.post_on_loop(SCREEN_LOCKED)  # a round trip through the loop: all above is handled
        assert recorder.next_value() == ("lock", True)
        recorder.assert_quiet()
        assert api.acks == [11, 13]
        assert api.order == ["ack 11", "ack 13", "sleep True", "sleep False"]
    finally:
        composite.stop()


def test_mac_sleep_is_acknowledged_even_when_the_callback_fails() -> None:
    api = FakeCoreFoundation()
    watcher = MacSessionWatcher(api)
    seen: queue.Queue[bool] = queue.Queue()

    def broken(value: bool) -> None:
        seen.put(value)
        raise RuntimeError("engine queue closed")

    watcher.start(lambda _v: None, broken)
    try:
        api.power_message(IOKIT_SYSTEM_WILL_SLEEP, 99)
        assert seen.get(timeout=WAIT_S) is True
        api.power_message(IOKIT_SYSTEM_HAS_POWERED_ON, 100)  # the loop survived
        assert seen.get(timeout=WAIT_S) is False
        assert api.acks == [99]
    finally:
        watcher.stop()


def test_mac_stop_undoes_everything_on_the_watcher_thread_and_restarts() -> None:
    api = FakeCoreFoundation()
    watcher, recorder = _started_mac(api)
    threads_before = {t.name for t in threading.enumerate()}
    assert "psoas-macos-watch" in threads_before
    watcher.stop()
    assert "psoas-macos-watch" not in {t.name for t in threading.enumerate()}
    assert api.call_names() == ["current_loop", "add_lock_observers", "register_power",
                                "deregister_power", "remove_lock_observers"]
    assert {thread for _name, thread in api.calls} == {"psoas-macos-watch"}
    assert not watcher.observing and not watcher.power_registered
    watcher.stop()  # twice is harmless

    watcher.start(recorder.on_lock, recorder.on_sleep)  # a second life, fresh registrations
    try:
        api.post_on_loop(SCREEN_LOCKED)
        assert recorder.next_value() == ("lock", True)
    finally:
        watcher.stop()
    assert api.call_names().count("remove_lock_observers") == 2


def test_mac_stop_that_lands_before_the_loop_runs_is_repeated() -> None:
    api = FakeCoreFoundation(hold_run=True)  # the thread is registered but not yet in the loop
    watcher, _recorder = _started_mac(api)
    stopper = threading.Thread(target=watcher.stop)
    stopper.start()
    deadline = threading.Event()
    for _ in range(100):  # wait (bounded) until a stop has been lost, as CoreFoundation loses it
        if api.dropped_stops:
            break
        deadline.wait(0.02)
    assert api.dropped_stops >= 1
    api.run_gate.set()  # the thread enters the loop now; the next, repeated stop ends it
    stopper.join(WAIT_S)
    assert not stopper.is_alive()
    assert "psoas-macos-watch" not in {t.name for t in threading.enumerate()}
    assert "remove_lock_observers" in api.call_names()


def test_mac_without_iokit_parks_instead_of_spinning_and_still_sees_locks() -> None:
    api = FakeCoreFoundation(power=False)
    watcher, recorder = _started_mac(api)
    try:
        assert not watcher.power_registered
        api.post_on_this_thread(SCREEN_LOCKED)
        assert recorder.next_value() == ("lock", True)
        # run_loop returned RUN_FINISHED once: the thread waits on an Event, not in a loop.
        assert api.call_names().count("register_power") == 1
    finally:
        watcher.stop()
    assert api.call_names()[-1] == "remove_lock_observers"
    assert "deregister_power" not in api.call_names()


def test_mac_observer_failure_leaves_a_quiet_watcher_that_stops_cleanly() -> None:
    api = FakeCoreFoundation(fail_observe=True)
    watcher, recorder = _started_mac(api)
    watcher.stop()
    assert api.call_names() == ["current_loop", "add_lock_observers", "remove_lock_observers"]
    recorder.assert_quiet()


def test_factory_on_macos_without_corefoundation_falls_back_with_the_reason() -> None:
    # Real: this Linux machine has no /System/Library/Frameworks.
    watcher, choice = make_session_watcher({}, platform="darwin")
    assert isinstance(watcher, NullSessionWatcher) and choice.chosen == "none"
    rejected = dict(choice.rejected)
    assert rejected["macos"].startswith("CoreFoundation cannot be loaded (")
    assert rejected["windows"] == "only on Windows"
    assert rejected["logind"] == rejected["screensaver"] == "only on Linux/BSD"


def test_factory_on_macos_wraps_a_working_watcher(monkeypatch: pytest.MonkeyPatch) -> None:
    api = FakeCoreFoundation()
    monkeypatch.setattr(macos.CtypesCoreFoundation, "load", classmethod(lambda cls: api))
    watcher, choice = make_session_watcher({}, platform="darwin")
    assert isinstance(watcher, CompositeSessionWatcher) and choice.chosen == "macos"
    assert "macos" not in dict(choice.rejected)
    recorder = Recorder()
    watcher.start(recorder.on_lock, recorder.on_sleep)
    try:
        api.post_on_this_thread(SCREEN_LOCKED)
        assert recorder.next_value() == ("lock", True)
    finally:
        watcher.stop()


# ---------------------------------------------------------------- Windows


class FakeWin32:
    """A Win32Api with one window and a message queue, behaving like user32 for the watcher."""

    HWND = 0x2A0

    def __init__(self, *, register_failures: int = 0, create_fails: bool = False) -> None:
        self.register_failures = register_failures
        self.create_fails = create_fails
        self.queue: queue.Queue[tuple[int, int, int, int] | None] = queue.Queue()
        self.proc: Any = None
        self.calls: list[str] = []
        self.results: list[tuple[int, int]] = []  # (message, what the window procedure returned)
        self.defaulted: list[tuple[int, int, int, int]] = []
        self.timers: dict[int, int] = {}
        self.pump_thread = ""

    def create_window(self, wndproc: Any) -> int:
        self.calls.append("create_window")
        if self.create_fails:
            return 0
        self.proc = wndproc
        return self.HWND

    def destroy_class(self) -> None:
        self.calls.append("destroy_class")

    def register_session_notification(self, hwnd: int) -> bool:
        assert hwnd == self.HWND
        self.calls.append("register")
        if self.register_failures:
            self.register_failures -= 1
            return False
        return True

    def unregister_session_notification(self, hwnd: int) -> None:
        assert hwnd == self.HWND
        self.calls.append("unregister")

    def last_error(self) -> int:
        return RPC_S_INVALID_BINDING

    def set_timer(self, hwnd: int, timer_id: int, interval_ms: int) -> None:
        self.calls.append(f"set_timer {timer_id}")
        self.timers[timer_id] = interval_ms

    def kill_timer(self, hwnd: int, timer_id: int) -> None:
        self.calls.append(f"kill_timer {timer_id}")
        self.timers.pop(timer_id, None)

    def destroy_window(self, hwnd: int) -> None:
        self.calls.append("destroy_window")
        self._dispatch((hwnd, WM_DESTROY, 0, 0))  # sent, not posted: before DestroyWindow returns

    def post_quit(self) -> None:
        self.calls.append("post_quit")
        self.queue.put(None)

    def post_close(self, hwnd: int) -> None:
        self.queue.put((hwnd, WM_CLOSE, 0, 0))

    def default_proc(self, hwnd: int, message: int, wparam: int, lparam: int) -> int:
        self.defaulted.append((hwnd, message, wparam, lparam))
        return 0

    def pump(self) -> None:
        self.pump_thread = threading.current_thread().name
        while (item := self.queue.get()) is not None:
            self._dispatch(item)
        self.calls.append("pump returned")

    def _dispatch(self, item: tuple[int, int, int, int]) -> None:
        self.results.append((item[1], self.proc(*item)))

    # What Windows does, driven by the test:
    def send(self, message: int, wparam: int, lparam: int = 0) -> None:
        self.queue.put((self.HWND, message, wparam, lparam))

    def fire_timer(self, timer_id: int) -> None:
        if timer_id in self.timers:
            self.send(WM_TIMER, timer_id)


def _started_windows(api: FakeWin32) -> tuple[WindowsSessionWatcher, Recorder]:
    watcher = WindowsSessionWatcher(api)
    recorder = Recorder()
    watcher.start(recorder.on_lock, recorder.on_sleep)
    return watcher, recorder


def test_windows_lock_and_power_messages_reach_the_callbacks() -> None:
    api = FakeWin32()
    watcher, recorder = _started_windows(api)
    try:
        api.send(WM_WTSSESSION_CHANGE, WTS_SESSION_LOCK, 1)  # lParam: the session id
        assert recorder.next() == ("lock", True, "psoas-windows-watch")
        api.send(WM_WTSSESSION_CHANGE, 0x5)  # WTS_SESSION_LOGON: not a lock
        api.send(WM_WTSSESSION_CHANGE, WTS_SESSION_UNLOCK, 1)
        assert recorder.next_value() == ("lock", False)
        api.send(WM_POWERBROADCAST, PBT_APMSUSPEND)
        assert recorder.next_value() == ("sleep", True)
        api.send(WM_POWERBROADCAST, PBT_APMRESUMEAUTOMATIC)
        assert recorder.next_value() == ("sleep", False)
        api.send(WM_POWERBROADCAST, PBT_APMRESUMESUSPEND)
        assert recorder.next_value() == ("sleep", False)  # the composite passes one of these
        api.send(0x000F, 0)  # WM_PAINT: DefWindowProc's business
        api.send(WM_WTSSESSION_CHANGE, WTS_SESSION_LOCK)  # round trip: all above handled
        assert recorder.next_value() == ("lock", True)
        recorder.assert_quiet()
    finally:
        watcher.stop()
    assert api.pump_thread == "psoas-windows-watch"
    assert api.defaulted == [(FakeWin32.HWND, 0x000F, 0, 0)]
    # WM_POWERBROADCAST is answered TRUE (grant), the session messages 0.
    assert {result for message, result in api.results if message == WM_POWERBROADCAST} == {1}
    assert {result for message, result in api.results if message == WM_WTSSESSION_CHANGE} == {0}


def test_windows_stop_unregisters_before_the_window_dies_and_frees_the_class() -> None:
    api = FakeWin32()
    watcher, _recorder = _started_windows(api)
    watcher.stop()
    assert "psoas-windows-watch" not in {t.name for t in threading.enumerate()}
    assert api.calls == ["create_window", "register", "destroy_window", "unregister",
                         "post_quit", "pump returned", "destroy_class"]
    watcher.stop()  # twice is harmless


def test_windows_registration_retries_until_the_session_services_are_up() -> None:
    api = FakeWin32(register_failures=2)  # RPC_S_INVALID_BINDING right after sign-in
    watcher, recorder = _started_windows(api)
    try:
        proc = watcher.window_proc
        assert proc is not None and not proc.registered
        assert api.timers == {REGISTER_TIMER_ID: windows.REGISTER_RETRY_MS}
        api.fire_timer(REGISTER_TIMER_ID)  # fails again
        api.fire_timer(REGISTER_TIMER_ID)  # works: the timer is killed
        api.send(WM_WTSSESSION_CHANGE, WTS_SESSION_LOCK)
        assert recorder.next_value() == ("lock", True)
        assert proc.registered and api.timers == {}
    finally:
        watcher.stop()
    assert api.calls.count("register") == 3
    assert api.calls.count(f"set_timer {REGISTER_TIMER_ID}") == 1
    assert "unregister" in api.calls


def test_windows_registration_gives_up_after_its_retries() -> None:
    api = FakeWin32(register_failures=10)
    api.proc = lambda *_args: 0
    proc = SessionWindowProc(api, lambda _m, _w: None, retries=2)
    proc.register(FakeWin32.HWND)
    for _ in range(2):
        assert proc(FakeWin32.HWND, WM_TIMER, REGISTER_TIMER_ID, 0) == 0
    assert not proc.registered
    assert api.calls.count("register") == 3  # the first try and two retries, then no more
    assert api.timers == {}  # the timer is gone once it gave up
    proc(FakeWin32.HWND, WM_TIMER, REGISTER_TIMER_ID, 0)  # a tick already queued: one more try
    assert api.calls.count("register") == 4 and not proc.registered and api.timers == {}
    # Destroying a never-registered window does not unregister.
    api.proc = proc
    api.destroy_window(FakeWin32.HWND)
    assert "unregister" not in api.calls and api.calls[-1] == "post_quit"


def test_windows_a_failing_callback_does_not_break_the_pump() -> None:
    api = FakeWin32()
    seen: queue.Queue[bool] = queue.Queue()

    def broken(value: bool) -> None:
        seen.put(value)
        raise RuntimeError("engine queue closed")

    watcher = WindowsSessionWatcher(api)
    watcher.start(broken, lambda _v: None)
    try:
        api.send(WM_WTSSESSION_CHANGE, WTS_SESSION_LOCK)
        api.send(WM_WTSSESSION_CHANGE, WTS_SESSION_UNLOCK)
        assert seen.get(timeout=WAIT_S) is True
        assert seen.get(timeout=WAIT_S) is False
    finally:
        watcher.stop()


def test_windows_window_creation_failure_returns_at_once_and_stops_cleanly() -> None:
    api = FakeWin32(create_fails=True)
    watcher, recorder = _started_windows(api)
    watcher.stop()
    assert api.calls == ["create_window", "destroy_class"]
    recorder.assert_quiet()


def test_factory_on_windows_off_windows_falls_back_with_the_reason() -> None:
    watcher, choice = make_session_watcher({}, platform="win32")
    assert isinstance(watcher, NullSessionWatcher) and choice.chosen == "none"
    rejected = dict(choice.rejected)
    assert rejected["windows"] == "only on Windows"
    assert rejected["macos"] == "only on macOS"


def test_factory_on_windows_wraps_a_working_watcher(monkeypatch: pytest.MonkeyPatch) -> None:
    api = FakeWin32()
    monkeypatch.setattr(windows.CtypesWin32, "load", classmethod(lambda cls: api))
    watcher, choice = make_session_watcher({}, platform="win32")
    assert isinstance(watcher, CompositeSessionWatcher) and choice.chosen == "windows"
    recorder = Recorder()
    watcher.start(recorder.on_lock, recorder.on_sleep)
    try:
        api.send(WM_POWERBROADCAST, PBT_APMSUSPEND)
        assert recorder.next_value() == ("sleep", True)
    finally:
        watcher.stop()


# ------------------------------------------- macOS: the real ctypes layer over a C stand-in
#
# CtypesCoreFoundation is ctypes code whose mistakes (a wrong argtype, a callback prototype
# that does not match, a CFString read wrongly, the run-loop mode global read by value instead
# of by address) would crash or misbehave on a Mac. The C library below stands in for
# CoreFoundation and IOKit with the same symbol names and C signatures and checks what it is
# given (the distributed center, the UTF-8 encoding, the default mode, the root port and
# notifier IOKit handed out), so those ctypes declarations are exercised for real here. It
# does not prove Apple's behaviour; it proves our side of the calls.

_FAKE_CF_SOURCE = r"""
#include <pthread.h>
#include <stdint.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

typedef void (*notify_cb)(void *, void *, void *, const void *, void *);
typedef void (*power_cb)(void *, uint32_t, uint32_t, void *);

static char mode_storage[] = "kCFRunLoopDefaultMode";
const void *kCFRunLoopDefaultMode = mode_storage;  /* a CFStringRef global, like the real one */

static int center_token, port_token, source_token;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;

#define MAX_OBS 16
static struct { const void *observer; notify_cb cb; char name[256]; long behavior; } obs[MAX_OBS];
static int n_obs;

struct loop { int running, stop, sources; };
static __thread struct loop *current;
static struct loop *power_loop;
static power_cb power_callback;
static void *power_refcon;
static int power_closed, power_deregistered, port_destroyed, errors, dropped_stops;
static long acks[64]; static int n_acks;
static uint32_t pending_type[64]; static long pending_arg[64]; static int n_pending;

void *CFNotificationCenterGetDistributedCenter(void) { return &center_token; }

void CFNotificationCenterAddObserver(void *center, const void *observer, notify_cb cb,
                                     const void *name, const void *object, long behavior) {
    if (center != &center_token || !observer || !cb || !name || object || n_obs >= MAX_OBS) {
        errors++; return;
    }
    obs[n_obs].observer = observer; obs[n_obs].cb = cb; obs[n_obs].behavior = behavior;
    strncpy(obs[n_obs].name, (const char *)name, 255);
    n_obs++;
}

void CFNotificationCenterRemoveEveryObserver(void *center, const void *observer) {
    if (center != &center_token) { errors++; return; }
    int kept = 0;
    for (int i = 0; i < n_obs; i++) if (obs[i].observer != observer) obs[kept++] = obs[i];
    n_obs = kept;
}

void *CFStringCreateWithCString(void *alloc, const char *text, uint32_t encoding) {
    if (alloc || encoding != 0x08000100) { errors++; return NULL; }
    return strdup(text);
}

bool CFStringGetCString(const void *ref, char *buffer, long size, uint32_t encoding) {
    if (!ref || encoding != 0x08000100 || size < 1) { errors++; return false; }
    strncpy(buffer, (const char *)ref, (size_t)size - 1);
    buffer[size - 1] = 0;
    return true;
}

void CFRelease(void *ref) { free(ref); }  /* only our CFStrings may come here */

void *CFRunLoopGetCurrent(void) {
    if (!current) current = calloc(1, sizeof *current);
    return current;
}

void CFRunLoopAddSource(struct loop *loop, void *source, const void *mode) {
    if (source != &source_token || mode != kCFRunLoopDefaultMode) { errors++; return; }
    pthread_mutex_lock(&mu); loop->sources++; power_loop = loop; pthread_mutex_unlock(&mu);
}

void CFRunLoopRemoveSource(struct loop *loop, void *source, const void *mode) {
    if (source != &source_token || mode != kCFRunLoopDefaultMode) { errors++; return; }
    pthread_mutex_lock(&mu); loop->sources--; pthread_mutex_unlock(&mu);
}

int32_t CFRunLoopRunInMode(const void *mode, double seconds, bool return_after_source) {
    struct loop *loop = CFRunLoopGetCurrent();
    if (mode != kCFRunLoopDefaultMode || seconds < 1e9 || return_after_source) {
        errors++; return 3;
    }
    pthread_mutex_lock(&mu);
    if (loop->sources == 0) { pthread_mutex_unlock(&mu); return 1; }  /* finished */
    loop->running = 1;
    for (;;) {
        while (!loop->stop && n_pending == 0) pthread_cond_wait(&cv, &mu);
        if (loop->stop) break;
        uint32_t type = pending_type[0]; long arg = pending_arg[0];
        memmove(pending_type, pending_type + 1, sizeof(uint32_t) * (size_t)(n_pending - 1));
        memmove(pending_arg, pending_arg + 1, sizeof(long) * (size_t)(n_pending - 1));
        n_pending--;
        pthread_mutex_unlock(&mu);
        power_callback(power_refcon, 0x77, type, (void *)arg);  /* on the loop's thread */
        pthread_mutex_lock(&mu);
    }
    loop->stop = 0; loop->running = 0;
    pthread_mutex_unlock(&mu);
    return 2;  /* stopped */
}

void CFRunLoopStop(struct loop *loop) {
    pthread_mutex_lock(&mu);
    if (loop->running) { loop->stop = 1; pthread_cond_broadcast(&cv); }
    else dropped_stops++;  /* CoreFoundation loses a stop for a loop that is not running */
    pthread_mutex_unlock(&mu);
}

uint32_t IORegisterForSystemPower(void *refcon, void **port, power_cb cb, uint32_t *notifier) {
    if (!port || !cb || !notifier) { errors++; return 0; }
    power_refcon = refcon; power_callback = cb; *port = &port_token; *notifier = 0x4242;
    return 0x1234;
}
void *IONotificationPortGetRunLoopSource(void *port) {
    if (port != &port_token) { errors++; return NULL; }
    return &source_token;
}
int IOAllowPowerChange(uint32_t root, long id) {
    if (root != 0x1234) { errors++; return -1; }
    pthread_mutex_lock(&mu); if (n_acks < 64) acks[n_acks++] = id; pthread_mutex_unlock(&mu);
    return 0;
}
int IODeregisterForSystemPower(uint32_t *notifier) {
    if (!notifier || *notifier != 0x4242) { errors++; return -1; }
    power_deregistered = 1; return 0;
}
void IONotificationPortDestroy(void *port) {
    if (port != &port_token) errors++; else port_destroyed = 1;
}
int IOServiceClose(uint32_t root) {
    if (root != 0x1234) { errors++; return -1; }
    power_closed = 1; return 0;
}

/* The test's side: what macOS would do, and what it saw. */
int fake_post(const char *name) {
    int delivered = 0;
    for (int i = 0; i < n_obs; i++) {
        if (strcmp(obs[i].name, name) == 0) {
            char *ref = strdup(name);
            obs[i].cb(&center_token, (void *)obs[i].observer, ref, NULL, NULL);
            free(ref);
            delivered++;
        }
    }
    return delivered;
}
void fake_power(uint32_t type, long arg) {
    pthread_mutex_lock(&mu);
    pending_type[n_pending] = type; pending_arg[n_pending] = arg; n_pending++;
    pthread_cond_broadcast(&cv);
    pthread_mutex_unlock(&mu);
}
int fake_observers(void) { return n_obs; }
long fake_behavior(int i) { return obs[i].behavior; }
int fake_ack_count(void) { return n_acks; }
long fake_ack(int i) { return acks[i]; }
int fake_errors(void) { return errors; }
int fake_power_released(void) { return power_deregistered && port_destroyed && power_closed; }
"""


@pytest.fixture(scope="module")
def fake_cf_library(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The C stand-in, compiled once for this module."""
    compiler = shutil.which("cc") or shutil.which("gcc")
    if compiler is None:
        message = "no C compiler (cc/gcc) to build the CoreFoundation stand-in"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    folder = tmp_path_factory.mktemp("fakecf")
    source = folder / "fakecf.c"
    source.write_text(_FAKE_CF_SOURCE)
    library = folder / "libfakecf.so"
    subprocess.run([compiler, "-shared", "-fPIC", "-O1", "-Wall", "-Werror", "-o", str(library),
                    str(source), "-lpthread"], check=True, capture_output=True, timeout=120)
    return str(library)


def _fresh_fake_cf(path: str, folder: Path) -> Any:
    """A private copy of the library in `folder`: its C state is per loaded file."""
    lib = ctypes.CDLL(shutil.copy(path, folder))
    lib.fake_post.argtypes = [ctypes.c_char_p]
    lib.fake_power.argtypes = [ctypes.c_uint32, ctypes.c_long]
    lib.fake_power.restype = None
    lib.fake_behavior.restype = ctypes.c_long
    lib.fake_ack.restype = ctypes.c_long
    return lib


def test_ctypes_corefoundation_layer_over_the_c_stand_in(
    fake_cf_library: str, tmp_path: Path
) -> None:
    lib = _fresh_fake_cf(fake_cf_library, tmp_path)
    api = macos.CtypesCoreFoundation(lib, lib)
    watcher = MacSessionWatcher(api)
    recorder = Recorder()
    watcher.start(recorder.on_lock, recorder.on_sleep)
    try:
        assert watcher.observing and watcher.power_registered
        assert lib.fake_observers() == 2
        assert [lib.fake_behavior(i) for i in range(2)] == [4, 4]  # DeliverImmediately
        # A distributed notification on the main thread, through the CFUNCTYPE callback and
        # CFStringGetCString:
        assert lib.fake_post(SCREEN_LOCKED.encode()) == 1
        assert recorder.next() == ("lock", True, threading.current_thread().name)
        assert lib.fake_post(b"com.apple.screensaver.didstart") == 0  # never observed
        lib.fake_power(IOKIT_CAN_SYSTEM_SLEEP, 7)
        lib.fake_power(IOKIT_SYSTEM_WILL_SLEEP, 8)
        assert recorder.next() == ("sleep", True, "psoas-macos-watch")  # on the watcher's loop
        lib.fake_power(IOKIT_SYSTEM_HAS_POWERED_ON, 9)
        assert recorder.next_value() == ("sleep", False)
        assert [lib.fake_ack(i) for i in range(lib.fake_ack_count())] == [7, 8]
        assert lib.fake_post(SCREEN_UNLOCKED.encode()) == 1
        assert recorder.next_value() == ("lock", False)
    finally:
        watcher.stop()
    assert "psoas-macos-watch" not in {t.name for t in threading.enumerate()}
    assert lib.fake_observers() == 0
    assert lib.fake_power_released() == 1
    assert lib.fake_errors() == 0  # every call got the values the C side expects


def test_ctypes_corefoundation_layer_without_iokit_parks_and_stops(
    fake_cf_library: str, tmp_path: Path
) -> None:
    lib = _fresh_fake_cf(fake_cf_library, tmp_path)
    watcher = MacSessionWatcher(macos.CtypesCoreFoundation(lib, None))
    recorder = Recorder()
    watcher.start(recorder.on_lock, recorder.on_sleep)
    try:
        assert watcher.observing and not watcher.power_registered
        assert lib.fake_post(SCREEN_LOCKED.encode()) == 1
        assert recorder.next_value() == ("lock", True)
    finally:
        watcher.stop()
    assert "psoas-macos-watch" not in {t.name for t in threading.enumerate()}
    assert lib.fake_observers() == 0
    assert lib.fake_errors() == 0
