"""The idle sources against a real headless desktop (Xvfb + private session bus + fake services).

What is real here: the X server (its MIT-SCREEN-SAVER idle counter, XTEST input from xdotool),
the D-Bus session bus, and the fake Mutter/ScreenSaver services as separate processes speaking
the real interfaces (tests/desktop/idle.py). Idle time is only ever read, never faked, in the
X11 tests: it grows in real time, so waits are "within N seconds".
"""

from __future__ import annotations

import os
import sys
import threading

import psutil
import pytest

from psoas_break.adapters.idle import NullIdleSource, make_idle_source
from psoas_break.adapters.idle.mutter import MutterIdleSource
from psoas_break.adapters.idle.screensaver import ScreenSaverIdleSource
from psoas_break.adapters.idle.x11 import X11IdleSource
from psoas_break.ports import Unavailable
from tests.desktop import DesktopSession, wait_for


def _reasons(choice: object) -> dict[str, str]:
    return dict(choice.rejected)  # type: ignore[attr-defined]


def _wayland_env(desktop: DesktopSession) -> dict[str, str]:
    env = dict(desktop.env)
    env["WAYLAND_DISPLAY"] = "wayland-0"
    env["XDG_SESSION_TYPE"] = "wayland"
    return env


# ---- X11 -----------------------------------------------------------------------------------


def test_x11_idle_grows_in_real_time_and_input_resets_it(desktop: DesktopSession) -> None:
    source = X11IdleSource.open(desktop.display)
    try:
        first = source.idle_seconds()
        assert first is not None
        # Nobody touches the keyboard: the idle time grows by itself.
        grown = wait_for(
            lambda: (v := source.idle_seconds()) is not None and v >= first + 0.5 and v,
            timeout_s=10, what="X idle time to grow",
        )
        # The harness's independent reading agrees (it opens its own connection).
        assert desktop.x_idle_ms() / 1000.0 >= grown - 0.05
        desktop.xdotool("mousemove", "200", "150")
        desktop.xdotool("key", "shift")
        after = source.idle_seconds()
        assert after is not None and after < grown
        assert after < 2.0
    finally:
        source.close()
    assert source.idle_seconds() is None  # closed


def test_x11_source_survives_losing_its_display_and_reconnects(desktop: DesktopSession) -> None:
    # A second X server of our own, so killing it leaves the session's Xvfb alone.
    read_end, write_end = os.pipe()
    xvfb = desktop.spawn(
        ["Xvfb", "-displayfd", str(write_end), "-nolisten", "tcp", "-noreset"],
        name="Xvfb-extra", pass_fds=(write_end,),
    )
    os.close(write_end)
    with os.fdopen(read_end) as fh:
        number = fh.readline().strip()
    display = f":{number}"
    source = X11IdleSource.open(display, reconnect_every_s=0.0)
    try:
        assert source.survives_lost_display
        assert source.idle_seconds() is not None
        desktop.stop(xvfb)
        # The broken connection must not exit the process (Xlib's default) nor raise.
        assert source.idle_seconds() is None
        assert source.idle_seconds() is None
        again = desktop.spawn(
            ["Xvfb", display, "-nolisten", "tcp", "-noreset"], name="Xvfb-again"
        )
        value = wait_for(source.idle_seconds, timeout_s=10, what="the X source to reconnect",
                         interval_s=0.1)
        assert value is not None and value >= 0
        desktop.stop(again)
    finally:
        source.close()


def test_x11_refuses_a_missing_display() -> None:
    with pytest.raises(Unavailable, match="cannot open X display"):
        X11IdleSource.open(":4242")
    with pytest.raises(Unavailable, match="DISPLAY is not set"):
        X11IdleSource.open("")


# ---- D-Bus sources ---------------------------------------------------------------------------


def test_mutter_source_returns_what_mutter_reports_in_milliseconds(
    desktop: DesktopSession,
) -> None:
    """Before the runtime puts watches in place the source reads GetIdletime. A fake Mutter:
    the real one cannot be made to report two minutes or ninety minutes of idle at once, nor
    leave and come back on the same bus (tests/test_wayland_idle.py has the real one)."""
    monitor = desktop.start_mutter_idle_monitor(idle_ms=123_456)
    source = MutterIdleSource.open(desktop.env)
    try:
        assert source.idle_seconds() == pytest.approx(123.456)
        monitor.set_idle(5_000)
        assert source.idle_seconds() == pytest.approx(5.0)
        monitor.set_idle(90 * 60 * 1000)  # 90 minutes, more than a uint32 of seconds needs
        assert source.idle_seconds() == pytest.approx(5400.0)
        # The service goes away: None, no exception; it comes back: values again.
        monitor.stop()
        assert source.idle_seconds() is None
        monitor.start()
        assert source.idle_seconds() == pytest.approx(123.456)
    finally:
        source.close()


def test_mutter_source_is_unavailable_without_mutter(desktop: DesktopSession) -> None:
    with pytest.raises(Unavailable, match="org.gnome.Mutter.IdleMonitor"):
        MutterIdleSource.open(desktop.env)


def test_kde_screensaver_idle_time_is_read_as_milliseconds(desktop: DesktopSession) -> None:
    saver = desktop.start_screensaver(flavor="kde", idle_ms=42_000)
    assert saver.get_session_idle_time() == 42_000  # what KDE puts on the wire
    source = ScreenSaverIdleSource.open(desktop.env)
    try:
        assert source.unit == "ms"
        assert source.idle_seconds() == pytest.approx(42.0)
        saver.set_idle(1_500)
        assert source.idle_seconds() == pytest.approx(1.5)
    finally:
        source.close()


@pytest.mark.parametrize(
    "extra_env",
    [{"XDG_CURRENT_DESKTOP": "XFCE"}, {"PSOAS_SCREENSAVER_IDLE_UNIT": "s"}],
    ids=["xfce-desktop", "env-override"],
)
def test_spec_screensaver_idle_time_is_read_as_seconds(
    desktop: DesktopSession, extra_env: dict[str, str]
) -> None:
    saver = desktop.start_screensaver(flavor="spec", idle_ms=42_000)
    assert saver.get_session_idle_time() == 42  # seconds on the wire
    source = ScreenSaverIdleSource.open({**desktop.env, **extra_env})
    try:
        assert source.unit == "s"
        assert source.idle_seconds() == pytest.approx(42.0)
    finally:
        source.close()


def test_screensaver_source_rejects_kde_wayland_and_gnome_shell(desktop: DesktopSession) -> None:
    saver = desktop.start_screensaver(flavor="kde-wayland")
    with pytest.raises(Unavailable, match="does not support GetSessionIdleTime"):
        ScreenSaverIdleSource.open(desktop.env)
    saver.stop()
    desktop.start_screensaver(flavor="gnome")  # org.gnome.ScreenSaver only
    with pytest.raises(Unavailable, match="no org.freedesktop.ScreenSaver"):
        ScreenSaverIdleSource.open(desktop.env)


def test_screensaver_source_rejects_a_bad_unit_override(desktop: DesktopSession) -> None:
    with pytest.raises(Unavailable, match="PSOAS_SCREENSAVER_IDLE_UNIT must be 'ms' or 's'"):
        ScreenSaverIdleSource.open({**desktop.env, "PSOAS_SCREENSAVER_IDLE_UNIT": "minutes"})


# ---- the factory -----------------------------------------------------------------------------


def test_factory_picks_x11_on_an_x_session(desktop: DesktopSession) -> None:
    desktop.start_mutter_idle_monitor()
    source, choice = make_idle_source(desktop.env)
    try:
        assert source.name == "x11" and choice.chosen == "x11"
        reasons = _reasons(choice)
        assert reasons["mutter"] == "not needed: x11 answered first"
        assert reasons["windows"] == "only on Windows"
        assert reasons["macos"] == "only on macOS"
        assert source.idle_seconds() is not None
    finally:
        source.close()


def test_factory_never_picks_x11_on_a_wayland_session(desktop: DesktopSession) -> None:
    monitor = desktop.start_mutter_idle_monitor(idle_ms=7_000)
    source, choice = make_idle_source(_wayland_env(desktop))
    try:
        assert choice.chosen == "mutter"
        assert source.idle_seconds() == pytest.approx(7.0)
        assert "Wayland session" in _reasons(choice)["x11"]
    finally:
        source.close()
    monitor.stop()
    desktop.start_screensaver(flavor="kde", idle_ms=3_000)
    source, choice = make_idle_source(_wayland_env(desktop))
    try:
        assert choice.chosen == "screensaver"
        assert source.idle_seconds() == pytest.approx(3.0)
        assert "no org.gnome.Mutter.IdleMonitor" in _reasons(choice)["mutter"]
    finally:
        source.close()


def test_factory_falls_back_to_the_null_source_with_reasons(desktop: DesktopSession) -> None:
    # A Wayland session with neither Mutter nor a screensaver that answers.
    desktop.start_screensaver(flavor="kde-wayland")
    source, choice = make_idle_source(_wayland_env(desktop))
    assert isinstance(source, NullIdleSource) and choice.chosen == "none"
    assert source.idle_seconds() is None
    reasons = _reasons(choice)
    assert set(reasons) == {"x11", "mutter", "wayland", "screensaver", "windows", "macos"}
    assert "Wayland" in reasons["x11"]
    assert "not GNOME" in reasons["mutter"]
    assert "cannot connect to the Wayland display" in reasons["wayland"]
    assert "NotSupported" in reasons["screensaver"]
    # No display and no bus at all: every Linux candidate says why.
    bare = {"PATH": os.environ.get("PATH", "")}
    source, choice = make_idle_source(bare)
    assert choice.chosen == "none"
    reasons = _reasons(choice)
    assert "DISPLAY is not set" in reasons["x11"]
    assert "no D-Bus session bus" in reasons["mutter"]
    assert "WAYLAND_DISPLAY is not set" in reasons["wayland"]
    assert choice.fix is not None


def test_factory_honours_the_backend_override(desktop: DesktopSession) -> None:
    desktop.start_mutter_idle_monitor(idle_ms=1_000)
    source, choice = make_idle_source({**desktop.env, "PSOAS_IDLE_BACKEND": "mutter"})
    try:
        assert choice.chosen == "mutter" and source.idle_seconds() == pytest.approx(1.0)
        assert _reasons(choice)["x11"] == "not used: PSOAS_IDLE_BACKEND=mutter"
    finally:
        source.close()
    # The override also allows x11 on a Wayland session (e.g. an XWayland-only setup).
    source, choice = make_idle_source({**_wayland_env(desktop), "PSOAS_IDLE_BACKEND": "x11"})
    try:
        assert choice.chosen == "x11"
    finally:
        source.close()
    source, choice = make_idle_source({**desktop.env, "PSOAS_IDLE_BACKEND": "none"})
    assert choice.chosen == "none" and source.idle_seconds() is None
    # A forced backend that cannot work: the null source, the reason, and how to fix it.
    source, choice = make_idle_source({**desktop.env, "PSOAS_IDLE_BACKEND": "screensaver"})
    assert choice.chosen == "none"
    assert "no org.freedesktop.ScreenSaver" in _reasons(choice)["screensaver"]
    assert choice.fix == "unset PSOAS_IDLE_BACKEND to let psoas-break choose"
    # A misspelt name: one plain line in the reasons, then the automatic choice.
    source, choice = make_idle_source({**desktop.env, "PSOAS_IDLE_BACKEND": "X-11"})
    try:
        assert choice.chosen == "x11"
        assert "is not one of: x11, mutter, wayland, screensaver, windows, macos, none" in (
            _reasons(choice)["PSOAS_IDLE_BACKEND"]
        )
    finally:
        source.close()


# ---- cost: no process per poll -------------------------------------------------------------


class _SpawnAudit:
    """Counts process creations seen by Python's audit hooks while `armed`."""

    EVENTS = ("subprocess.Popen", "os.system", "os.posix_spawn", "os.fork", "os.exec",
              "os.spawn", "os.startfile", "pty.spawn")

    def __init__(self) -> None:
        self.armed = threading.Event()
        self.seen: list[str] = []
        sys.addaudithook(self._hook)  # hooks cannot be removed; disarmed it costs nothing

    def _hook(self, event: str, _args: object) -> None:
        if self.armed.is_set() and event in self.EVENTS:
            self.seen.append(event)


_AUDIT = _SpawnAudit()


def test_no_source_spawns_a_process_per_poll(desktop: DesktopSession) -> None:
    desktop.start_mutter_idle_monitor(idle_ms=2_000)
    desktop.start_screensaver(flavor="kde", idle_ms=2_000)
    sources = [
        X11IdleSource.open(desktop.display),
        MutterIdleSource.open(desktop.env),
        ScreenSaverIdleSource.open(desktop.env),
    ]
    me = psutil.Process()
    children_before = {p.pid for p in me.children(recursive=True)}
    threads_before = me.num_threads()
    try:
        _AUDIT.armed.set()
        for _ in range(200):
            for source in sources:
                assert source.idle_seconds() is not None
        _AUDIT.armed.clear()
    finally:
        for source in sources:
            source.close()
    assert _AUDIT.seen == []
    assert {p.pid for p in me.children(recursive=True)} == children_before
    assert me.num_threads() <= threads_before  # no helper threads left behind either


def test_the_x11_source_keeps_one_connection(desktop: DesktopSession) -> None:
    source = X11IdleSource.open(desktop.display)
    me = psutil.Process()
    try:
        def x_sockets() -> int:
            return sum(1 for c in me.net_connections(kind="unix") if "X11-unix" in (c.raddr or ""))

        before = x_sockets()
        for _ in range(100):
            source.idle_seconds()
        assert x_sockets() == before
    finally:
        source.close()

