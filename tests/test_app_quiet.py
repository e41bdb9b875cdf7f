"""Quiet during fullscreen and do-not-disturb, and working hours — the real app on the test
desktop, prompts counted at a recording notification server."""

from __future__ import annotations

import json
import time

import pytest

from tests.app_harness import RunningApp, start_app
from tests.desktop.notifications import is_stretch_prompt
from tests.desktop.session import DesktopSession
from tests.desktop.waiting import wait_for

pytestmark = pytest.mark.desktop

CONFIG = "stretch_every_min = 10\nposture_every_min = 0\nsnooze_min = 60\n"



def stretch_prompts(server: object) -> list[dict[str, object]]:
    calls = server.calls()  # type: ignore[attr-defined]
    return [c for c in calls if is_stretch_prompt(c)]


def test_fullscreen_defers_and_leaving_it_delivers_exactly_one(desk: DesktopSession) -> None:
    server = desk.start_notification_server()
    desk.start_openbox()
    window = desk.open_window(fullscreen=True)
    app = start_app(desk, config=CONFIG, extra_env={"PSOAS_SECONDS_PER_MINUTE": "0.3"})
    try:
        app.wait_title("Quiet: fullscreen", timeout_s=15)
        time.sleep(2.0)  # several prompt repeats' worth of time
        assert stretch_prompts(server) == []
        status = json.loads(app.cli("status", "--json").stdout)
        assert status["state"] == "prompt_due"
        window.set_fullscreen(False)
        wait_for(lambda: len(stretch_prompts(server)) == 1, 10, what="one prompt released")
        time.sleep(1.0)
        assert len(stretch_prompts(server)) == 1
    finally:
        app.stop()


def test_do_not_disturb_defers_then_releases(desk: DesktopSession) -> None:
    server = desk.start_notification_server()
    server.set_inhibited(True)
    app = start_app(desk, config=CONFIG, extra_env={"PSOAS_SECONDS_PER_MINUTE": "0.3"})
    try:
        app.wait_title("Quiet:", timeout_s=15)
        time.sleep(1.0)
        assert stretch_prompts(server) == []
        server.set_inhibited(False)
        wait_for(lambda: len(stretch_prompts(server)) == 1, 10, what="released after DND")
    finally:
        app.stop()


def test_maximum_deferral_sends_one_gentle_prompt(desk: DesktopSession) -> None:
    server = desk.start_notification_server()
    server.set_inhibited(True)
    app = start_app(desk, config=CONFIG + "max_defer_min = 5\n",
                    extra_env={"PSOAS_SECONDS_PER_MINUTE": "0.3"})
    try:
        # Held from the prompt at 3 s; the 5-"minute" maximum (1.5 s) runs out while quiet.
        note = wait_for(lambda: (stretch_prompts(server) or [None])[0], 15,
                        what="the gentle prompt")
        assert "When you have a moment" in str(note["body"])
        time.sleep(1.0)
        assert len(stretch_prompts(server)) == 1
    finally:
        app.stop()


def test_outside_working_hours_counts_nothing(desk: DesktopSession) -> None:
    # A working day that ends a minute ago, every day: the app starts outside working hours.
    now = time.localtime()
    start = "00:00"
    end_min = max(1, now.tm_hour * 60 + now.tm_min - 1)
    end = f"{end_min // 60:02d}:{end_min % 60:02d}"
    days = "\n".join(f'{d} = ["{start}-{end}"]' for d in
                     ("mon", "tue", "wed", "thu", "fri", "sat", "sun"))
    if end_min < 2:
        pytest.skip("too close to midnight for this test")
    app = start_app(desk, config=CONFIG + f"[working_hours]\n{days}\n",
                    extra_env={"PSOAS_SECONDS_PER_MINUTE": "0.3"})
    try:
        title = app.wait_title("Outside working hours until tomorrow 00:00", timeout_s=10)
        assert title
        time.sleep(3.5)  # longer than the whole stretch cycle
        status = json.loads(app.cli("status", "--json").stdout)
        assert status["state"] == "off_hours"
        assert status["sitting_s"] == 0
        menu = app.item().menu()
        checked = [c.label for c in menu.find("Settings", "Working hours").children if c.checked]
        assert checked == ["Custom (from config)"]
        menu.click("Settings", "Working hours", "Always")
        app.wait_title(lambda t: not t.startswith("Outside"), timeout_s=10)
        assert status_of(app)["state"] in ("sitting", "prompt_due")
    finally:
        app.stop()


def status_of(app: RunningApp) -> dict[str, object]:
    return json.loads(app.cli("status", "--json").stdout)  # type: ignore[no-any-return]
