"""The driver profile in the real app: menu switch, hands-free prompts with no buttons, spoken
break warnings from the planner, and real speech audio."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import wave
from pathlib import Path

import pytest

from tests.app_harness import start_app
from tests.desktop.session import DesktopSession

pytestmark = pytest.mark.desktop



def test_switching_to_driver_changes_menu_title_and_prompts(desk: DesktopSession) -> None:
    server = desk.start_notification_server()
    app = start_app(desk, config="stretch_every_min = 10\nposture_every_min = 5\n"
                                 "snooze_min = 60\n",
                    extra_env={"PSOAS_SECONDS_PER_MINUTE": "60"})
    try:
        menu = app.item().menu()
        menu.click("Settings", "Profile", "Driver")
        app.wait_title("Driving 0 min · break in 4 h 30")
        assert "driver" in app.config_file.read_text()
        layout = [c.label for c in menu.layout().children]
        assert "Stopped — taking a break" in layout
        assert "Back on the road" not in layout
        rules = menu.find("Settings", "Driving rules")
        assert [c.label for c in rules.children if c.checked] == ["EU (4 h 30 → 45 min)"]
        # The first driver-mode start says plainly what the app is not.
        disclaimer = server.wait_for_notification(
            lambda n: "tachograph" in n["body"], timeout_s=10)
        assert disclaimer["actions"] == []

        menu.click("Stopped — taking a break")
        app.wait_title("Stopped")
        assert "Back on the road" in [c.label for c in menu.layout().children]
        status = json.loads(app.cli("status", "--json").stdout)
        assert status["state"] == "on_break" and status["profile"] == "driver"
        menu.click("Back on the road")
        app.wait_title("Driving")
        # The command line does the same: break-now = stopped, resume = back on the road.
        assert app.cli("break-now").returncode == 0
        app.wait_title("Stopped")
        assert app.cli("resume").returncode == 0
        app.wait_title("Driving")
        menu.click("Settings", "Driving rules", "US (8 h → 30 min)")
        app.wait_title("break in 8 h")
    finally:
        app.stop()


def test_prompts_while_driving_have_no_buttons_and_warnings_come(desk: DesktopSession) -> None:
    server = desk.start_notification_server()
    # One "minute" = 0.1 s: the EU 4 h 30 limit arrives after 27 s of driving. A warning says
    # the minutes left when it is given, so the app may be at most 0.1 s late on a busy
    # machine for "15 min" to be said (at 0.05 s a loaded CI machine said "14 min").
    app = start_app(desk, config='profile = "driver"\nstretch_every_min = 30\n'
                                 "posture_every_min = 20\nsnooze_min = 60\n",
                    extra_env={"PSOAS_SECONDS_PER_MINUTE": "0.1"})
    try:
        posture = server.wait_for_notification(
            lambda n: n["summary"] == "Posture check", timeout_s=15)
        assert posture["actions"] == []
        limit = server.wait_for_notification(
            lambda n: n["summary"] == "Driving break" and "used up" in n["body"],
            timeout_s=60)
        assert limit["actions"] == []
        bodies = [c["body"] for c in server.calls() if c["summary"] == "Driving break"]
        assert any("30 minutes" in b or "30 min" in b for b in bodies), bodies
        assert any("15 minutes" in b or "15 min" in b for b in bodies), bodies
        stretch_titles = ("Time to stretch", "Time to move", "Time to stand up")
        every = [c for c in server.calls()
                 if c["summary"] in ("Posture check", "Driving break")
                 or c["summary"].startswith(stretch_titles)]
        assert all(c["actions"] == [] for c in every)
        assert not [c for c in every if c["summary"].startswith(stretch_titles)]
    finally:
        app.stop()


def test_real_speech_audio_for_a_prompt(tmp_path: Path) -> None:
    wav_path = tmp_path / "prompt.wav"
    out = subprocess.run(
        [sys.executable, "-m", "psoas_break", "say", "--wav", str(wav_path),
         "Posture check. Sit tall and let your shoulders drop."],
        capture_output=True, text=True, timeout=60, check=False,
    )
    assert out.returncode == 0, out.stderr
    with wave.open(str(wav_path)) as wav:
        frames = wav.readframes(wav.getnframes())
        seconds = wav.getnframes() / wav.getframerate()
        width = wav.getsampwidth()
    assert seconds > 1.0
    assert width == 2
    samples = [int.from_bytes(frames[i:i + 2], "little", signed=True)
               for i in range(0, len(frames), 2)]
    rms = (sum(s * s for s in samples) / len(samples)) ** 0.5
    assert rms > 300  # speech, not silence


def test_no_speech_engine_falls_back_and_doctor_says_why(tmp_path: Path) -> None:
    env = dict(os.environ)
    env["PATH"] = str(tmp_path)  # no espeak, espeak-ng, spd-say or flite here
    out = subprocess.run([sys.executable, "-m", "psoas_break", "doctor"], env=env,
                         capture_output=True, text=True, timeout=60, check=False)
    lines = out.stdout.splitlines()
    speech = next(i for i, line in enumerate(lines) if line.startswith("speech:"))
    assert lines[speech] == "speech: none"
    assert any("espeak" in line for line in lines[speech + 1: speech + 6])
