"""Prompts reach a real notification server; a missing or hung server never freezes the app."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import pytest
from PIL import Image

from tests.app_harness import RunningApp, start_app
from tests.desktop.notifications import is_stretch_prompt
from tests.desktop.session import DesktopSession
from tests.desktop.waiting import wait_for

pytestmark = pytest.mark.desktop



def state(app: RunningApp) -> str:
    return str(json.loads(app.cli("status", "--json").stdout)["state"])


def test_break_now_notifies_with_app_name_title_body_and_icon(desk: DesktopSession) -> None:
    server = desk.start_notification_server()
    app = start_app(desk)
    try:
        app.item().menu().click("Take a break now")
        note = server.wait_for_notification(timeout_s=10)
        assert note["app_name"] == "psoas-break"
        assert note["summary"].startswith("Break (2 min): ")
        assert re.match(r"(Hold \d+ s, \d+ times|\d+ times|About \d+)", note["body"])
        assert 20 <= len(note["body"]) <= 200
        icon = Path(note["app_icon"])
        assert icon.is_file()
        with Image.open(icon) as img:
            assert img.size[0] >= 64
        status = json.loads(app.cli("status", "--json").stdout)
        assert status["notifier"] == "dbus"
    finally:
        app.stop()


def test_stretch_prompt_has_buttons_that_work(desk: DesktopSession) -> None:
    server = desk.start_notification_server()
    app = start_app(desk, config="stretch_every_min = 10\nposture_every_min = 0\n"
                                 "snooze_min = 60\n",
                    extra_env={"PSOAS_SECONDS_PER_MINUTE": "0.3"})
    try:
        note = server.wait_for_notification(
            is_stretch_prompt, timeout_s=15
        )
        keys = [pair[0] for pair in note["actions"]]  # recorded as [key, label] pairs
        assert {"break-now", "snooze", "skip"} <= set(keys)
        server.invoke_action(note["id"], "break-now")
        wait_for(lambda: state(app) == "on_break", 10, what="break started from the button")
    finally:
        app.stop()


def menu_answers_fast(app: RunningApp) -> float:
    menu = app.item().menu()
    started = time.monotonic()
    menu.click("Pause", "30 min")
    app.wait_title("Paused until", timeout_s=5)
    return time.monotonic() - started


def test_no_notification_server_keeps_everything_running(desk: DesktopSession) -> None:
    app = start_app(desk)
    try:
        app.item().menu().click("Take a break now")
        app.wait_title("notifications unavailable", timeout_s=10)
        assert menu_answers_fast(app) < 1.0
        assert app.proc.poll() is None
    finally:
        app.stop()


def test_hung_notification_server_never_blocks_the_menu(desk: DesktopSession) -> None:
    server = desk.start_notification_server(mode="hang")
    app = start_app(desk)
    try:
        app.item().menu().click("Take a break now")
        server.wait_for_notification(timeout_s=10)  # it arrived, and will never be answered
        time.sleep(0.3)
        assert menu_answers_fast(app) < 1.0
        app.wait_title("notifications unavailable", timeout_s=15)
        assert app.proc.poll() is None
        assert app.cli("status").returncode == 0
    finally:
        app.stop()
