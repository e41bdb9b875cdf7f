"""The app's synchronous D-Bus users run on jeepney, never on Debian's dbus-python.

`import dbus` costs ~1.3 MiB RSS plus libdbus in a tray app whose idle footprint matters. The
app's D-Bus layer (psoas_break/adapters/dbus.py), used by the Mutter and ScreenSaver idle
sources, the notifications-inhibited quiet detector and the tray's StatusNotifierWatcher check,
is built on jeepney, which the app loads anyway. Checked in a fresh interpreter against the real
private desktop (bus daemon + fake services as separate processes), with a control showing the
check does see dbus-python when something imports it. plyer's own lazy `import dbus` (only when
the plyer notifier is used) is out of scope.

The rest of the file checks the layer's calls behave as these users need, with real processes: a
hung service gives NoReply within the timeout and the connection survives it; a bus daemon that
dies gives Disconnected and the next call reconnects to the new daemon; a frozen daemon cannot
hold `open` past its connect timeout; variants come back unwrapped, as dbus-python gave them.
"""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from psoas_break.adapters.dbus import (
    ERROR_DISCONNECTED,
    ERROR_NO_REPLY,
    Bus,
    CallFailed,
    plain_body,
)
from psoas_break.adapters.idle.mutter import MutterIdleSource
from psoas_break.adapters.tray import _session_bus_has
from psoas_break.ports import Unavailable
from tests.desktop import DesktopSession, LoneBus

REPO_ROOT = Path(__file__).resolve().parents[1]
DBUS_PYTHON_MODULES = ("dbus", "_dbus_bindings")
DBUS = ("org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus")

needs_dbus_python = pytest.mark.skipif(
    importlib.util.find_spec("dbus") is None,
    reason="dbus-python is not installed here: its absence would prove nothing",
)

_REPORT = """
import json as _json, sys as _sys
print("LOADED=" + _json.dumps(sorted(m for m in {modules!r} if m in _sys.modules)))
"""


def _run_fresh(code: str, env: dict[str, str] | None = None) -> tuple[list[str], dict[str, object]]:
    """Run `code` in a fresh interpreter; (the dbus-python modules it loaded, its RESULT=)."""
    script = code + _REPORT.format(modules=DBUS_PYTHON_MODULES)
    proc = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO_ROOT, env=env, capture_output=True,
        text=True, timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    (loaded,) = [ln.removeprefix("LOADED=") for ln in lines if ln.startswith("LOADED=")]
    results = [ln.removeprefix("RESULT=") for ln in lines if ln.startswith("RESULT=")]
    return json.loads(loaded), (json.loads(results[0]) if results else {})


@needs_dbus_python
def test_the_check_sees_dbus_python_when_something_imports_it() -> None:
    loaded, _ = _run_fresh("import dbus\n")
    assert loaded == sorted(DBUS_PYTHON_MODULES)


_USE_EVERY_SYNC_BUS_USER = """
import json, os
from psoas_break.adapters.idle import make_idle_source
from psoas_break.adapters.quiet import make_quiet_detectors
from psoas_break.runtime.quiet import close_detectors
from psoas_break.adapters.tray import choose_backend

out = {}
for backend in ("mutter", "screensaver"):
    source, choice = make_idle_source(dict(os.environ, PSOAS_IDLE_BACKEND=backend))
    out[backend] = [choice.chosen, source.idle_seconds()]
    source.close()
detectors, _ = make_quiet_detectors(
    dict(os.environ, PSOAS_QUIET_DETECTORS="notifications-inhibited")
)
out["quiet"] = [[d.name, list(d.reasons())] for d in detectors]
close_detectors(detectors)
out["tray"] = choose_backend().chosen
import sys
out["jeepney"] = "jeepney" in sys.modules
print("RESULT=" + json.dumps(out))
"""


@needs_dbus_python
def test_idle_quiet_and_tray_checks_never_load_dbus_python(desktop: DesktopSession) -> None:
    desktop.start_mutter_idle_monitor(idle_ms=2_500)
    desktop.start_screensaver(flavor="kde", idle_ms=1_500)
    server = desktop.start_notification_server()
    server.set_inhibited(True)
    desktop.start_sni_watcher()
    loaded, out = _run_fresh(_USE_EVERY_SYNC_BUS_USER, env=desktop.env)
    # Every user really talked to its fake service (so the check below means something).
    assert out["mutter"] == ["mutter", 2.5]
    assert out["screensaver"] == ["screensaver", 1.5]
    assert out["quiet"] == [["notifications-inhibited", ["do-not-disturb"]]]
    assert out["tray"] == "sni"
    assert loaded == []
    assert out["jeepney"] is True  # the jeepney path really ran


# ---- Bus calls on jeepney: the behaviour callers rely on ----------------------------------------


def test_reply_bodies_unwrap_variants_at_every_depth() -> None:
    # jeepney's shapes in, dbus-python's shapes out.
    body = (("b", False), {"k": ("as", ["x"]), "n": ("u", 7)}, (1, ("s", "in")), b"ab", 5)
    assert plain_body("va{sv}(iv)ayt", body) == (
        False, {"k": ["x"], "n": 7}, (1, "in"), b"ab", 5,
    )
    assert plain_body("av", ([("i", 1), ("(sv)", ("a", ("b", True)))],)) == ([1, ("a", True)],)
    assert plain_body("t", (123,)) == (123,)
    assert plain_body("", ()) == ()


def test_calls_return_plain_values_and_translate_errors(desktop: DesktopSession) -> None:
    monitor = desktop.start_mutter_idle_monitor(idle_ms=4_000)
    bus = Bus.open(desktop.env)
    try:
        (credentials,) = bus.call(*DBUS, "GetConnectionCredentials", "s",
                                  ("org.gnome.Mutter.IdleMonitor",))
        assert credentials["ProcessID"] == monitor.pid  # a{sv}: a dict of plain values
        assert bus.owner_pid("org.gnome.Mutter.IdleMonitor") == monitor.pid
        assert bus.owner_pid("org.example.Nobody") is None
        with pytest.raises(CallFailed) as failed:
            bus.call("org.example.Nobody", "/", "org.example.Nobody", "Hi")
        assert failed.value.name == "org.freedesktop.DBus.Error.ServiceUnknown"
        with pytest.raises(CallFailed) as failed:
            bus.call("org.gnome.Mutter.IdleMonitor", "/org/gnome/Mutter/IdleMonitor/Core",
                     "org.gnome.Mutter.IdleMonitor", "NoSuchMethod")
        assert failed.value.name == "org.freedesktop.DBus.Error.UnknownMethod"
    finally:
        bus.close()
    with pytest.raises(CallFailed, match="closed"):
        bus.call(*DBUS, "GetId")


@pytest.mark.timeout(60)
def test_a_hung_service_gives_no_reply_in_time_and_the_connection_survives(
    desktop: DesktopSession,
) -> None:
    monitor = desktop.start_mutter_idle_monitor(idle_ms=1_000)
    bus = Bus.open(desktop.env)
    source = MutterIdleSource(bus)
    try:
        assert source.idle_seconds() == pytest.approx(1.0)
        os.kill(monitor.pid, signal.SIGSTOP)
        try:
            started = time.monotonic()
            with pytest.raises(CallFailed) as failed:
                bus.call("org.gnome.Mutter.IdleMonitor", "/org/gnome/Mutter/IdleMonitor/Core",
                         "org.gnome.Mutter.IdleMonitor", "GetIdletime", timeout_s=0.3)
            assert failed.value.name == ERROR_NO_REPLY
            assert time.monotonic() - started < 5.0  # bounded by the timeout, not libdbus' 25 s
            assert source.idle_seconds() is None
        finally:
            os.kill(monitor.pid, signal.SIGCONT)
        # The late replies to the timed-out calls must not be taken for the next call's answer.
        monitor.set_idle(9_000)
        assert source.idle_seconds() == pytest.approx(9.0)
        assert source.idle_seconds() == pytest.approx(9.0)
    finally:
        source.close()


@pytest.mark.timeout(60)
def test_a_lost_bus_gives_disconnected_and_a_later_call_reconnects(
    desktop: DesktopSession, tmp_path: Path
) -> None:
    lone = LoneBus(desktop, tmp_path)
    lone.start()
    bus = Bus.open(lone.env, reconnect_every_s=0.0)
    try:
        (first_id,) = bus.call(*DBUS, "GetId")
        lone.stop()
        with pytest.raises(CallFailed) as failed:
            bus.call(*DBUS, "GetId")
        assert failed.value.name == ERROR_DISCONNECTED
        # No bus yet: the reconnect attempt fails plainly, no exception of another kind.
        with pytest.raises(CallFailed, match="cannot connect to the session bus"):
            bus.call(*DBUS, "GetId")
        lone.start()
        (second_id,) = bus.call(*DBUS, "GetId")
        assert second_id != first_id  # really the new daemon
    finally:
        bus.close()


@pytest.mark.timeout(60)
def test_a_lost_bus_is_retried_at_most_once_per_interval(
    desktop: DesktopSession, tmp_path: Path
) -> None:
    lone = LoneBus(desktop, tmp_path)
    lone.start()
    bus = Bus.open(lone.env, reconnect_every_s=3600.0)
    try:
        bus.call(*DBUS, "GetId")
        lone.stop()
        with pytest.raises(CallFailed):
            bus.call(*DBUS, "GetId")
        lone.start()
        with pytest.raises(CallFailed, match="the session bus is gone"):
            bus.call(*DBUS, "GetId")
    finally:
        bus.close()


@pytest.mark.timeout(60)
def test_a_frozen_bus_daemon_cannot_hold_open_or_the_tray_check(
    desktop: DesktopSession, tmp_path: Path
) -> None:
    lone = LoneBus(desktop, tmp_path)
    lone.start()
    assert lone.proc is not None
    os.kill(lone.proc.pid, signal.SIGSTOP)
    try:
        started = time.monotonic()
        with pytest.raises(Unavailable, match="no answer within 0.5 s"):
            Bus.open(lone.env, connect_timeout_s=0.5)
        assert time.monotonic() - started < 5.0
        started = time.monotonic()
        assert _session_bus_has("org.kde.StatusNotifierWatcher", lone.env) is None
        assert time.monotonic() - started < 10.0  # 2 s connect limit
    finally:
        os.kill(lone.proc.pid, signal.SIGCONT)


def test_the_tray_check_asks_name_has_owner(desktop: DesktopSession, tmp_path: Path) -> None:
    watcher_name = "org.kde.StatusNotifierWatcher"
    assert _session_bus_has(watcher_name, desktop.env) is False
    desktop.start_sni_watcher()
    assert _session_bus_has(watcher_name, desktop.env) is True
    # No bus address (DISPLAY set, where libdbus would autolaunch a bus): None, no bus started.
    no_address = {k: v for k, v in desktop.env.items() if k != "DBUS_SESSION_BUS_ADDRESS"}
    assert no_address.get("DISPLAY")
    assert _session_bus_has(watcher_name, no_address) is None
    dead = {**desktop.env, "DBUS_SESSION_BUS_ADDRESS": f"unix:path={tmp_path / 'no-bus'}"}
    assert _session_bus_has(watcher_name, dead) is None
    tcp_only = {**desktop.env, "DBUS_SESSION_BUS_ADDRESS": "tcp:host=localhost,port=1"}
    assert _session_bus_has(watcher_name, tcp_only) is None
