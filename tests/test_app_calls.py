"""Quiet during calls and screen sharing: the REAL app on a test desktop with a REAL PipeWire
(pipewire + wireplumber + pipewire-pulse), prompts counted at a recording notification server.

Minutes are shortened (PSOAS_SECONDS_PER_MINUTE=0.3: a 10-minute stretch cycle is 3 s), so a
"52-minute call" takes seconds; everything else is real: pw-record is a call's microphone,
mutter's own ScreenCast is a screen share, espeak-ng is the app's own voice.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from typing import Any

import pytest

from tests.app_harness import RunningApp, start_app
from tests.desktop import DesktopSession, wait_for
from tests.desktop.notifications import NotificationServer, is_stretch_prompt
from tests.desktop.pipewire import TEST_SINK, PipeWireStack, require_tools

pytestmark = [pytest.mark.desktop, pytest.mark.timeout(120)]

SCALE = "0.3"  # real seconds per app minute
# A prompt every 10 app minutes (3 s); repeats only after 60 app minutes (18 s).
CONFIG = "stretch_every_min = 10\nposture_every_min = 0\nsnooze_min = 60\n"


@pytest.fixture
def pw(desk: DesktopSession) -> PipeWireStack:
    require_tools()
    return desk.start_pipewire()


def prompts(server: NotificationServer) -> list[dict[str, Any]]:
    return [c for c in server.calls() if is_stretch_prompt(c)]


def start(pw: PipeWireStack, config: str = CONFIG, **env: str) -> RunningApp:
    return start_app(pw.desktop, config=config,
                     extra_env={**pw.client_env, "PSOAS_SECONDS_PER_MINUTE": SCALE, **env})


def status(app: RunningApp) -> dict[str, Any]:
    return json.loads(app.cli("status", "--json").stdout)  # type: ignore[no-any-return]


def test_a_call_holds_the_due_prompt_then_one_prompt_says_how_long_it_was(
    pw: PipeWireStack,
) -> None:
    server = pw.desktop.start_notification_server()
    rec = pw.record_mic()
    pw.wait_source_output("pw-record")
    app = start(pw)
    try:
        assert "quiet detector microphone-pipewire: in use: pw-record[" in app.log()
        # PipeWire runs the audio: the graph sees the call and libpulse is never loaded.
        with open(f"/proc/{app.proc.pid}/maps") as maps:
            assert "libpulse" not in maps.read()
        app.wait_title("Quiet: in a call", timeout_s=15)
        time.sleep(3.5)  # more than 10 app minutes of holding: a long call
        assert prompts(server) == []
        assert status(app)["state"] == "prompt_due"
        pw.desktop.stop(rec)
        note = wait_for(lambda: (prompts(server) or [None])[0], 10, what="the one prompt")
        minutes = re.match(r"That call was (\d+) minutes\. Time to ", str(note["summary"]))
        assert minutes and int(minutes.group(1)) >= 10, note["summary"]
        # The detector's change asked at once (not the 30-s check), and no pile follows.
        assert "quiet detector microphone-pipewire changed: checking now" in app.log()
        time.sleep(1.0)
        assert len(prompts(server)) == 1
    finally:
        app.stop()


def test_monitor_captures_and_the_apps_own_voice_never_hold(pw: PipeWireStack) -> None:
    """Two captures of what is played (parecord of the sink's monitor, pw-record with
    stream.capture.sink) run the whole time, and the app speaks its prompts aloud through the
    same PipeWire (espeak-ng); repeated prompts keep coming while its voice plays. Control at
    the end: a real microphone capture holds the next prompt."""
    server = pw.desktop.start_notification_server()
    pw.record_monitor_pa()
    pw.record_monitor_pw()
    pw.wait_source_output("parecord", f"{TEST_SINK}.monitor")
    pw.wait_source_output("pw-record", f"{TEST_SINK}.monitor")
    app = start(pw, "stretch_every_min = 10\nposture_every_min = 0\nsnooze_min = 1\n"
                    "voice = true\n", PSOAS_SPEECH_BACKEND="espeak-ng")
    try:
        wait_for(lambda: prompts(server), 15, what="the first prompt, not held")

        def speaking() -> bool:
            return any("espeak" in str(si["properties"].get("application.name", "")).lower()
                       for si in pw.sink_inputs())

        wait_for(speaking, 15, what="the app's voice playing through PipeWire")
        seen = len(prompts(server))
        # Repeats every app minute (0.3 s), each one checked while the voice plays.
        wait_for(lambda: len(prompts(server)) >= seen + 2 and speaking(), 15,
                 what="more prompts while the app speaks")
        assert "Quiet:" not in app.item().title
        assert " held: " not in app.log()
        pw.record_mic()
        app.wait_title("Quiet: in a call", timeout_s=15)
    finally:
        app.stop()


def test_the_real_mutter_screencast_holds_then_one_prompt(pw: PipeWireStack) -> None:
    server = pw.desktop.start_notification_server()
    pw.start_mutter()
    cast, node_id = pw.mutter_screencast()
    pw.video_consumer(node_id, name="browser")  # the browser reading it
    app = start(pw)
    try:
        app.wait_title("Quiet: sharing your screen", timeout_s=15)
        time.sleep(3.5)
        assert prompts(server) == []
        pw.desktop.stop(cast)  # Session.Stop: mutter removes its stream
        note = wait_for(lambda: (prompts(server) or [None])[0], 10, what="the one prompt")
        assert str(note["summary"]).startswith("That screen share was "), note["summary"]
        time.sleep(1.0)
        assert len(prompts(server)) == 1
    finally:
        app.stop()


def test_pipewire_killed_mid_run_the_app_carries_on_and_sees_it_again(
    pw: PipeWireStack,
) -> None:
    server = pw.desktop.start_notification_server()
    app = start(pw, "stretch_every_min = 10\nposture_every_min = 0\nsnooze_min = 1\n")
    try:
        wait_for(lambda: prompts(server), 15, what="the first prompt")
        pw.kill_pipewire()
        wait_for(lambda: "PipeWire graph unavailable: PipeWire not reachable" in app.log(), 15,
                 what="the detectors saying PipeWire is gone")
        # The app carries on: it answers, and prompts keep coming (nothing holds them).
        seen = len(prompts(server))
        wait_for(lambda: len(prompts(server)) >= seen + 2, 15, what="prompts without PipeWire")
        assert status(app)["state"] == "prompt_due"
        assert app.proc.poll() is None
        pw.restart_audio()
        pw.record_mic()
        # The next checks reconnect (at most every 5 s) and see the call again.
        app.wait_title("Quiet: in a call", timeout_s=30)
    finally:
        app.stop()


def doctor(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "psoas_break", "doctor"], env=env,
                          capture_output=True, text=True, timeout=60, check=False)


def test_doctor_lists_each_detector_and_why_one_is_unavailable(desk: DesktopSession,
                                                                tmp_path: Any) -> None:
    env = dict(desk.env)
    out = doctor(env)  # no PipeWire in this desktop yet
    assert out.returncode in (0, 1), out.stderr
    lines = out.stdout.splitlines()
    assert any(line.startswith("  microphone-pulse: unavailable: no PulseAudio/PipeWire "
                               "sound server") for line in lines), out.stdout
    assert any(line.startswith("  screen-sharing-pipewire: unavailable: PipeWire not "
                               "reachable") for line in lines), out.stdout
    require_tools()
    desk.start_pipewire()
    config = tmp_path / "config"
    (config / "psoas-break").mkdir(parents=True)
    (config / "psoas-break" / "settings.toml").write_text('quiet_when = ["camera"]\n')
    out = doctor({**env, "XDG_CONFIG_HOME": str(config)})
    lines = out.stdout.splitlines()
    for line in ("  microphone-pipewire: free", "  screen-sharing-pipewire: free",
                 "  camera-pipewire: free",
                 "  not microphone-pulse: not needed: microphone-pipewire sees the microphone",
                 "  not counted (quiet_when setting): microphone, screen-sharing, fullscreen, "
                 "do-not-disturb"):
        assert line in lines, out.stdout
    assert "Traceback" not in out.stderr
