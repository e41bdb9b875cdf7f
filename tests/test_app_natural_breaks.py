"""Natural breaks in the real app: X11 idle, the screensaver service's idle and lock over D-Bus
(a fake: X11 KDE's kscreenlocker cannot run here), and a suspend signalled by logind (a fake:
no systemd here) — checked through `status --json`, the tray title and the history file.
GNOME's Mutter, KWin and sway: the real compositors, tests/test_app_wayland_*.py."""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from psoas_break.adapters.history.sqlite_history import read_events
from tests.app_harness import RunningApp, real_s, start_app
from tests.desktop.notifications import is_stretch_prompt
from tests.desktop.session import DesktopSession
from tests.desktop.waiting import wait_for

pytestmark = pytest.mark.desktop

# One "minute" is 0.5 s: natural_break_min = 2 means one second away; idle is polled every
# 0.25 s (30 s at the normal minute).
FAST = {"PSOAS_SECONDS_PER_MINUTE": "0.5"}
CONFIG = "natural_break_min = 2\nstretch_every_min = 60\nposture_every_min = 0\n"



def status(app: RunningApp) -> dict[str, object]:
    return json.loads(app.cli("status", "--json").stdout)  # type: ignore[no-any-return]


def natural_breaks(app: RunningApp) -> list[str]:
    db = app.home / "data" / "psoas-break" / "history.sqlite3"
    now = datetime.now().astimezone()
    return [str(e.data["source"]) for e in read_events(db, now - timedelta(days=1),
                                                       now + timedelta(days=1))
            if e.kind == "natural_break"]


def quit_and_read_breaks(app: RunningApp) -> list[str]:
    assert app.cli("quit").returncode == 0
    assert app.proc.wait(5) == 0  # history is flushed on the way out
    return natural_breaks(app)


def test_x11_idle_untouched_is_a_natural_break(desk: DesktopSession) -> None:
    # Input while the app starts (a loaded machine may take longer than the 1-s natural break
    # to start it, and Xvfb has had no input since it started), then none.
    with keep_moving(desk):
        app = start_app(desk, config=CONFIG, extra_env={**FAST, "PSOAS_IDLE_BACKEND": "x11"})
        wait_for(lambda: status(app)["state"] == "sitting", 15, what="sitting at start")
    wait_for(lambda: status(app)["state"] == "away", 15, what="away after idle")
    assert status(app)["sitting_s"] == 0
    app.wait_title("Away")
    assert status(app)["idle"] == "x11"
    desk.xdotool("mousemove", "200", "200")
    # Stay at the keyboard from now on: on a busy machine one `status` call or the `quit`
    # command may take longer than the natural break (1 s here).
    with keep_moving(desk):
        wait_for(lambda: status(app)["state"] == "sitting", 10, what="back after input")
        assert quit_and_read_breaks(app) == ["idle"]


@contextlib.contextmanager
def keep_moving(desk: DesktopSession) -> Iterator[None]:
    """Real X input every 0.2 s (XTEST through xdotool) while the block runs."""
    stop = threading.Event()

    def jiggle() -> None:
        x = 10
        while not stop.wait(0.2):
            x = 30 - x
            desk.xdotool("mousemove", str(x), str(x))

    mover = threading.Thread(target=jiggle, daemon=True)
    mover.start()
    try:
        yield
    finally:
        stop.set()
        mover.join()


def test_x11_input_keeps_counting(desk: DesktopSession) -> None:
    with keep_moving(desk):  # from before the start: Xvfb has had no input since it started
        app = start_app(desk, config=CONFIG, extra_env={**FAST, "PSOAS_IDLE_BACKEND": "x11"})
        time.sleep(4.0)  # four natural-break lengths of activity
        data = status(app)
        assert data["state"] == "sitting"
        assert real_s(data, "sitting_s") >= 3.0
        assert quit_and_read_breaks(app) == []


def test_screensaver_idle_and_lock_over_dbus(desk: DesktopSession) -> None:
    saver = desk.start_screensaver(flavor="kde", idle_ms=0)
    app = start_app(desk, config=CONFIG,
                    extra_env={**FAST, "PSOAS_IDLE_BACKEND": "screensaver"})
    assert status(app)["idle"] == "screensaver"
    saver.set_active(True)  # the screen locks: ActiveChanged(true)
    app.wait_title("Screen locked", timeout_s=10)
    wait_for(lambda: status(app)["state"] == "away", 10, what="lock long enough = break")
    saver.set_active(False)
    wait_for(lambda: status(app)["state"] == "sitting", 10, what="unlocked")
    assert quit_and_read_breaks(app) == ["lock"]


def test_suspend_of_eight_hours_is_one_natural_break_and_no_burst(
    desk: DesktopSession, tmp_path: Path
) -> None:
    server = desk.start_notification_server()
    logind = desk.start_logind()
    sleep_file = tmp_path / "slept_s"
    sleep_file.write_text("0")
    app = start_app(
        desk, config="natural_break_min = 5\nstretch_every_min = 10\nposture_every_min = 0\n",
        extra_env={"PSOAS_SECONDS_PER_MINUTE": "1", "PSOAS_TEST_SLEEP_FILE": str(sleep_file)},
    )
    app.wait_title("Sitting 8 min", timeout_s=15)
    logind.prepare_for_sleep(True)
    sleep_file.write_text(str(8 * 3600))  # the clocks jump as after 8 h asleep
    logind.prepare_for_sleep(False)
    wait_for(lambda: real_s(status(app), "sitting_s") < 5, 5,
             what="sitting reset at once on resume")
    time.sleep(1.0)
    data = status(app)
    assert data["state"] == "sitting"
    assert [c for c in server.calls() if is_stretch_prompt(c)] == []
    assert quit_and_read_breaks(app) == ["suspend"]
