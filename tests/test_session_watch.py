"""Screen lock and suspend signals through the real D-Bus watchers.

Real here: a private system bus with a fake org.freedesktop.login1 process, a private session
bus with fake screensaver processes (tests/desktop/logind.py, idle.py), and the receiver threads
of the app's jeepney connections (psoas_break/adapters/dbus.py), one per bus. The callbacks
record into a list, as the runtime's post to its queue. The import checks run a fresh
interpreter, because the point is what a real process ends up loading (asyncio + dbus_fast cost
~12 MiB RSS in the idle tray).
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from psoas_break.adapters.session import (
    CompositeSessionWatcher,
    NullSessionWatcher,
    make_session_watcher,
)
from psoas_break.adapters.session.logind import LogindWatcher
from psoas_break.adapters.session.screensaver import ScreenSaverWatcher
from tests.desktop import DesktopSession, LoneBus, wait_for
from tests.desktop.logind import SESSION_PATH

# The receiver threads of the app's shared connections (psoas_break/adapters/dbus.py).
SYSTEM_THREAD = "psoas-dbus-system"
SESSION_THREAD = "psoas-dbus-session"


def _bus_threads() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name in (SYSTEM_THREAD, SESSION_THREAD)]


class Recorder:
    """The callbacks a runtime would pass; records (kind, value) in arrival order."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._events: list[tuple[str, bool]] = []
        self.threads: set[str] = set()

    def on_lock(self, value: bool) -> None:
        self._add("lock", value)

    def on_sleep(self, value: bool) -> None:
        self._add("sleep", value)

    def _add(self, kind: str, value: bool) -> None:
        with self._lock:
            self._events.append((kind, value))
            self.threads.add(threading.current_thread().name)

    @property
    def events(self) -> list[tuple[str, bool]]:
        with self._lock:
            return list(self._events)

    def wait(self, *expected: tuple[str, bool]) -> None:
        wait_for(lambda: self.events == list(expected), timeout_s=10,
                 what=f"events {list(expected)} (got {self.events})")


def _member(watcher: object, kind: type) -> object:
    assert isinstance(watcher, CompositeSessionWatcher)
    (found,) = [w for w in watcher.watchers if isinstance(w, kind)]
    return found


def _started(desktop: DesktopSession, rec: Recorder) -> CompositeSessionWatcher:
    watcher, choice = make_session_watcher(desktop.env)
    assert isinstance(watcher, CompositeSessionWatcher), choice
    watcher.start(rec.on_lock, rec.on_sleep)
    for member in watcher.watchers:
        assert member.connected.wait(10), f"{member.name} did not connect"  # type: ignore[attr-defined]
    return watcher


def test_logind_suspend_and_session_lock_reach_the_callbacks(desktop: DesktopSession) -> None:
    logind = desktop.start_logind()
    rec = Recorder()
    watcher = _started(desktop, rec)
    try:
        assert watcher.name == "logind+screensaver"
        logind_watcher = _member(watcher, LogindWatcher)
        wait_for(lambda: logind_watcher.session_path == SESSION_PATH, timeout_s=10)  # type: ignore[attr-defined]

        logind.prepare_for_sleep(True)
        rec.wait(("sleep", True))
        logind.prepare_for_sleep(False)
        rec.wait(("sleep", True), ("sleep", False))

        logind.lock()
        rec.wait(("sleep", True), ("sleep", False), ("lock", True))
        logind.unlock()
        rec.wait(("sleep", True), ("sleep", False), ("lock", True), ("lock", False))
        # The callbacks run on the system bus's receiver thread, never the caller's.
        assert rec.threads == {SYSTEM_THREAD}
    finally:
        watcher.stop()


def test_locked_hint_from_the_session_locker_counts_as_a_lock(desktop: DesktopSession) -> None:
    desktop.start_logind()
    rec = Recorder()
    watcher = _started(desktop, rec)
    try:
        logind_watcher = _member(watcher, LogindWatcher)
        wait_for(lambda: logind_watcher.session_path == SESSION_PATH, timeout_s=10)  # type: ignore[attr-defined]
        bus = desktop.system_bus()
        # What GNOME Shell / KDE's locker do on Super+L: SetLockedHint on their session.
        bus.call("org.freedesktop.login1", SESSION_PATH, "org.freedesktop.login1.Session",
                 "SetLockedHint", "b", [True])
        rec.wait(("lock", True))
        bus.call("org.freedesktop.login1", SESSION_PATH, "org.freedesktop.login1.Session",
                 "SetLockedHint", "b", [False])
        rec.wait(("lock", True), ("lock", False))
    finally:
        watcher.stop()


def test_screensaver_active_changed_reaches_the_lock_callback_once(
    desktop: DesktopSession,
) -> None:
    kde = desktop.start_screensaver(flavor="kde")  # emits on two paths, as KDE does
    gnome = desktop.start_screensaver(flavor="gnome")
    rec = Recorder()
    watcher = _started(desktop, rec)
    try:
        kde.set_active(True)
        rec.wait(("lock", True))
        kde.set_active(False)
        rec.wait(("lock", True), ("lock", False))
        gnome.set_active(True)
        rec.wait(("lock", True), ("lock", False), ("lock", True))
        gnome.set_active(False)
        rec.wait(("lock", True), ("lock", False), ("lock", True), ("lock", False))
    finally:
        watcher.stop()


def test_the_watcher_survives_its_services_going_away(desktop: DesktopSession) -> None:
    logind = desktop.start_logind()
    saver = desktop.start_screensaver(flavor="kde")
    rec = Recorder()
    watcher = _started(desktop, rec)
    try:
        logind.prepare_for_sleep(True)
        rec.wait(("sleep", True))
        logind.stop()
        saver.stop()
        logind.start()  # a new process with a new unique name
        saver.start()
        logind.prepare_for_sleep(False)
        rec.wait(("sleep", True), ("sleep", False))
        saver.set_active(True)
        rec.wait(("sleep", True), ("sleep", False), ("lock", True))
        logind_watcher = _member(watcher, LogindWatcher)
        wait_for(lambda: logind_watcher.session_path == SESSION_PATH, timeout_s=10)  # type: ignore[attr-defined]
        logind.unlock()
        rec.wait(("sleep", True), ("sleep", False), ("lock", True), ("lock", False))
    finally:
        watcher.stop()


def test_stop_ends_the_watcher_threads(desktop: DesktopSession) -> None:
    desktop.start_logind()
    before = _bus_threads()
    rec = Recorder()
    watcher = _started(desktop, rec)
    started = _bus_threads()
    assert started.count(SYSTEM_THREAD) == before.count(SYSTEM_THREAD) + 1
    assert started.count(SESSION_THREAD) == before.count(SESSION_THREAD) + 1
    watcher.stop()
    assert _bus_threads() == before
    watcher.stop()  # idempotent


def test_without_logind_only_the_screensaver_is_watched(desktop: DesktopSession) -> None:
    watcher, choice = make_session_watcher(desktop.env)
    assert choice.chosen == "screensaver"
    assert "no org.freedesktop.login1" in dict(choice.rejected)["logind"]
    assert isinstance(watcher, CompositeSessionWatcher)
    assert [type(w) for w in watcher.watchers] == [ScreenSaverWatcher]


def test_no_bus_at_all_gives_the_null_watcher_with_reasons(tmp_path: object) -> None:
    env = {"DBUS_SYSTEM_BUS_ADDRESS": "unix:path=/nonexistent/psoas-no-bus"}
    watcher, choice = make_session_watcher(env)
    assert isinstance(watcher, NullSessionWatcher) and choice.chosen == "none"
    reasons = dict(choice.rejected)
    assert "cannot reach the system bus" in reasons["logind"]
    assert reasons["screensaver"] == "no D-Bus session bus"
    watcher.start(lambda _v: None, lambda _v: None)
    watcher.stop()


@pytest.mark.parametrize(("platform", "chosen"), [("darwin", "none")])
def test_macos_gets_the_null_watcher_and_says_why(platform: str, chosen: str) -> None:
    watcher, choice = make_session_watcher({}, platform=platform)
    assert choice.chosen == chosen and isinstance(watcher, NullSessionWatcher)
    # Off a Mac the CoreFoundation watcher cannot load: the null watcher says why.
    assert dict(choice.rejected)["macos"].startswith("CoreFoundation cannot be loaded (")


def test_windows_watcher_cannot_start_off_windows() -> None:
    watcher, choice = make_session_watcher({}, platform="win32")
    assert isinstance(watcher, NullSessionWatcher)
    assert dict(choice.rejected)["windows"] == "only on Windows"


class _ScriptedWatcher:
    """A SessionWatcher test double that emits what the test tells it to."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.lock = lambda _v: None
        self.sleep = lambda _v: None
        self.stopped = False

    def start(self, on_lock, on_sleep) -> None:  # type: ignore[no-untyped-def]
        self.lock, self.sleep = on_lock, on_sleep

    def stop(self) -> None:
        self.stopped = True


def test_composite_forwards_only_changes_across_members() -> None:
    a, b = _ScriptedWatcher("a"), _ScriptedWatcher("b")
    composite = CompositeSessionWatcher([a, b])
    assert composite.name == "a+b"
    rec = Recorder()
    composite.start(rec.on_lock, rec.on_sleep)
    a.lock(True)
    b.lock(True)  # the same lock seen by a second source
    a.sleep(True)
    b.sleep(False)
    a.sleep(False)  # resume reported twice (Windows sends two resume messages)
    b.lock(False)
    assert rec.events == [("lock", True), ("sleep", True), ("sleep", False), ("lock", False)]
    composite.stop()
    assert a.stopped and b.stopped


def test_the_watcher_reconnects_when_the_bus_daemon_itself_restarts(
    desktop: DesktopSession, tmp_path: Path
) -> None:
    # A bus of its own (the session's buses must outlive the test); same socket path twice.
    lone = LoneBus(desktop, tmp_path)
    address = lone.address

    def emit_active(value: bool) -> None:
        subprocess.run(
            ["dbus-send", f"--bus={address}", "--type=signal", "/org/freedesktop/ScreenSaver",
             "org.freedesktop.ScreenSaver.ActiveChanged", f"boolean:{str(value).lower()}"],
            check=True, timeout=10,
        )

    lone.start()
    before = _bus_threads()
    rec = Recorder()
    watcher = ScreenSaverWatcher(address)
    watcher.start(rec.on_lock, rec.on_sleep)
    try:
        assert watcher.connected.wait(10)
        emit_active(True)
        rec.wait(("lock", True))
        lone.stop()
        wait_for(lambda: not watcher.connected.is_set(), timeout_s=10, what="the loss noticed")
        lone.start()
        assert watcher.connected.wait(15), "the watcher did not reconnect"
        emit_active(False)
        rec.wait(("lock", True), ("lock", False))
    finally:
        watcher.stop()
    assert _bus_threads() == before


# ---- what the watchers cost: no asyncio, no dbus_fast --------------------------------------

REPO_ROOT = Path(__file__).resolve().parents[1]
HEAVY_MODULES = ("asyncio", "dbus_fast")

_REPORT_HEAVY = """
import json, sys
print("HEAVY=" + json.dumps(sorted(m for m in sys.modules if m.split(".")[0] in {heavy!r})))
"""


def _heavy_modules_after(code: str, env: dict[str, str] | None = None) -> list[str]:
    """Run `code` in a fresh interpreter; the asyncio/dbus_fast modules it ended up loading."""
    script = code + _REPORT_HEAVY.format(heavy=set(HEAVY_MODULES))
    proc = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO_ROOT, env=env, capture_output=True,
        text=True, timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    (line,) = [ln for ln in proc.stdout.splitlines() if ln.startswith("HEAVY=")]
    loaded: list[str] = json.loads(line.removeprefix("HEAVY="))
    return loaded


def test_the_check_sees_asyncio_when_something_imports_it() -> None:
    # The control: the same check does report asyncio/dbus_fast when they are imported.
    assert {"asyncio", "dbus_fast"} <= set(_heavy_modules_after("import dbus_fast.aio"))


def test_importing_the_session_watchers_loads_neither_asyncio_nor_dbus_fast() -> None:
    code = """
import psoas_break.adapters.session
import psoas_break.adapters.dbus
import psoas_break.adapters.session.logind
import psoas_break.adapters.session.screensaver
import psoas_break.adapters.session.macos
"""
    assert _heavy_modules_after(code) == []


def test_running_the_session_watchers_loads_neither_asyncio_nor_dbus_fast(
    desktop: DesktopSession,
) -> None:
    desktop.start_logind()
    desktop.start_screensaver(flavor="gnome")
    # Not tests.desktop in the child: the harness itself uses dbus_fast.
    code = """
import os, time
from psoas_break.adapters.session import make_session_watcher
from psoas_break.adapters.session.logind import LogindWatcher

watcher, choice = make_session_watcher(os.environ)
assert choice.chosen == "logind+screensaver", choice
watcher.start(lambda _v: None, lambda _v: None)
for member in watcher.watchers:
    assert member.connected.wait(10), member.name
(logind,) = [m for m in watcher.watchers if isinstance(m, LogindWatcher)]
deadline = time.monotonic() + 10
expected = os.environ["EXPECTED_SESSION_PATH"]
while logind.session_path != expected and time.monotonic() < deadline:
    time.sleep(0.05)
assert logind.session_path == expected, logind.session_path
watcher.stop()
"""
    env = dict(desktop.env, EXPECTED_SESSION_PATH=SESSION_PATH)
    assert _heavy_modules_after(code, env=env) == []


def test_the_idle_sources_load_neither_asyncio_nor_dbus_fast(desktop: DesktopSession) -> None:
    # The idle sources use jeepney (psoas_break.adapters.dbus) and ctypes: check it stays so.
    desktop.start_screensaver(flavor="kde", idle_ms=1500)
    desktop.start_mutter_idle_monitor(idle_ms=2500)
    code = """
import os
import psoas_break.adapters.dbus
from psoas_break.adapters.idle import make_idle_source

for backend in ("x11", "mutter", "screensaver"):
    source, choice = make_idle_source(dict(os.environ, PSOAS_IDLE_BACKEND=backend))
    assert choice.chosen == backend, choice
    assert source.idle_seconds() is not None, backend
    source.close()
"""
    assert _heavy_modules_after(code, env=desktop.env) == []
