"""The driver profile in the real app: menu switch, hands-free prompts said and never shown while
driving, spoken break warnings from the planner, and real speech audio (recorded through the
app's own speech path: tests/app_harness.record_speech). The road detected by GPS has its own
tests (test_app_road.py); here no location source is used, so the profile assumes driving."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import wave
from pathlib import Path

import pytest

from tests.app_harness import record_speech, start_app
from tests.desktop.session import DesktopSession
from tests.desktop.waiting import wait_for

pytestmark = pytest.mark.desktop



def test_switching_to_driver_changes_menu_title_and_prompts(desk: DesktopSession,
                                                            tmp_path: Path) -> None:
    server = desk.start_notification_server()
    speech = record_speech(tmp_path / "speech")
    app = start_app(desk, config="stretch_every_min = 10\nposture_every_min = 5\n"
                                 "snooze_min = 60\n",
                    extra_env={"PSOAS_SECONDS_PER_MINUTE": "60", **speech.env()})
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
        assert [c.label for c in menu.find("Settings", "Stop detection").children
                if c.checked] == ["Automatic: GPS when there is one"]
        # The first driver-mode start says plainly what the app is not: aloud, as the
        # vehicle may be moving (nothing tells it is not).
        wait_for(lambda: any("tachograph" in t for t in speech.texts()), 15,
                 what="the disclaimer to be said")
        assert not [n for n in server.calls() if "tachograph" in n["body"]]

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


def test_while_driving_prompts_and_warnings_are_said_and_nothing_is_shown(
        desk: DesktopSession, tmp_path: Path) -> None:
    server = desk.start_notification_server()
    speech = record_speech(tmp_path / "speech")
    # One "minute" = 0.1 s: the EU 4 h 30 limit arrives after 27 s of driving. A warning says
    # the minutes left when it is given, so the app may be at most 0.1 s late on a busy
    # machine for "fifteen minutes" to be said (at 0.05 s a loaded CI machine said 14).
    app = start_app(desk, config='profile = "driver"\nstretch_every_min = 30\n'
                                 "posture_every_min = 20\nsnooze_min = 60\n",
                    extra_env={"PSOAS_SECONDS_PER_MINUTE": "0.1", **speech.env()})
    try:
        wait_for(lambda: any(t.startswith("Driving time is used up") for t in speech.texts()),
                 60, what="the limit to be said")
        said = speech.texts()
        assert any(t.startswith("Posture check. ") and "Hands on the wheel" in t
                   for t in said), said
        assert any(t.startswith("Thirty minutes of driving left") for t in said), said
        assert any(t.startswith("Fifteen minutes of driving left") for t in said), said
        assert all("If you feel sleepy, stop somewhere safe and rest." in t for t in said
                   if "driving left" in t or "used up" in t)
        # Hands on the wheel, eyes on the road: nothing at all on the screen.
        assert server.calls() == []
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
