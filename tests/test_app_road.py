"""The real app in the driver profile follows a replayed road: a real gpsd (Debian's, fed NMEA
through a pty at an exact pace: tests/road/gpsd_feed.py) is its location source, on a private
desktop with a recording notification server and the tray read over D-Bus.

Time: the app's minutes last SCALE_MIN_S real seconds (PSOAS_SECONDS_PER_MINUTE) and the
journey sends one fix per STEP_S simulated seconds, so the two clocks match: one fix every
PERIOD_S real seconds. Before each journey the receiver sits parked (a warm-up at rest, while
gpsd identifies it) until the app says the vehicle stands; the journey proper then plays on
absolute deadlines.

Speech is recorded through the app's own speech path (tests/app_harness.record_speech: the
real espeak-ng writes each utterance to a WAV file, which the test measures).

What is checked, per journey: the road changes the app recorded (and how long each stop was
as it measured it), the planner's figures, what was said, that nothing at all reached the
notification server while the vehicle moved (a notification may only arrive while it stood
still), and that a stop's notification carries its exercise picture.
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from psoas_break.adapters.speech.wav import wav_stats
from tests.app_harness import RunningApp, record_speech, start_app
from tests.desktop.session import DesktopSession
from tests.desktop.waiting import wait_for
from tests.road import journeys as nj
from tests.road.gpsd_feed import PacedGpsd, gpsd_installed

pytestmark = [
    pytest.mark.timeout(240),
    pytest.mark.skipif(not gpsd_installed() and not os.environ.get("CI"),
                       reason="needs gpsd (bash .ci/system-deps test installs it)"),
]

SCALE_MIN_S = 0.25  # real seconds per app minute
STEP_S = 10.0  # simulated seconds per fix
PERIOD_S = SCALE_MIN_S * STEP_S / 60.0  # real seconds per fix (~42 ms)
TIME_SCALE = 60.0 / SCALE_MIN_S  # engine seconds per real second
SETTLE_S = 1.5  # real seconds (6 app minutes) for the last decisions after the journey's end

def rest_fix() -> str:
    return nj.fix_texts([nj.rest(1, 0.4, 0.4)], 60.0)[0]


@dataclass
class Replay:
    """What the app did on one journey."""

    app: RunningApp
    status: dict[str, Any]
    notes: list[dict[str, Any]]
    closes: list[dict[str, Any]]
    said: list[tuple[float, str]]
    wavs: list[Path]
    titles: list[tuple[float, str]]
    events: list[tuple[float, float, str, dict[str, Any]]] = field(default_factory=list)

    def road(self) -> list[tuple[float, float, str, dict[str, Any]]]:
        return [e for e in self.events if e[2] == "road"]

    def states(self) -> list[str]:
        return [data["state"] for _, _, _, data in self.road()]

    def stops_min(self) -> list[float]:
        """Each stop's length as the app measured it (from when the vehicle stood to when it
        moved, both taken back over their holds), in app minutes; the first is the parked
        start."""
        out, began = [], None
        for _, mono, _, data in self.road():
            start = mono - data["held_s"]
            if data["state"] == "stopped":
                began = start
            elif data["state"] == "driving" and began is not None:
                out.append((start - began) / 60.0)
                began = None
        return out

    def spoken(self) -> str:
        return "\n".join(text for _, text in self.said)


def _history(app: RunningApp) -> list[tuple[float, float, str, dict[str, Any]]]:
    path = app.home / "data" / "psoas-break" / "history.sqlite3"
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
        rows = db.execute("SELECT t_utc_s, mono_s, kind, data FROM events ORDER BY id").fetchall()
    return [(t, mono, kind, json.loads(data)) for t, mono, kind, data in rows]


def replay(desk: DesktopSession, tmp_path: Path, journey: str, rules: str) -> Replay:
    server = desk.start_notification_server()
    speech = record_speech(tmp_path / "speech")
    segments = nj.JOURNEYS[journey]
    fixes = nj.fix_texts(segments, STEP_S)
    with PacedGpsd() as gpsd:
        app = start_app(
            desk,
            config=f'profile = "driver"\ndriver_rules = "{rules}"\nvoice = true\n'
                   "stretch_every_min = 45\nposture_every_min = 20\n",
            extra_env={"PSOAS_SECONDS_PER_MINUTE": str(SCALE_MIN_S),
                       "PSOAS_LOCATION_BACKEND": "gpsd", "PSOAS_GPSD": gpsd.address,
                       **speech.env()})
        titles: list[tuple[float, str]] = []
        watching = threading.Event()
        try:
            def road() -> dict[str, Any]:
                reply = json.loads(app.cli("status", "--json").stdout)
                return reply.get("road") or {}

            wait_for(lambda: road().get("source") == "gpsd", 20, what="the app to use gpsd")
            gpsd.idle(rest_fix(), 0.1)  # parked, while gpsd identifies its receiver
            wait_for(lambda: road().get("state") == "stopped", 30, what="the app to see it park")
            item = app.item()

            def watch() -> None:
                last = ""
                while not watching.wait(0.05):
                    try:
                        title = item.title
                    except Exception:  # noqa: BLE001 - the app is quitting
                        return
                    if title != last:
                        titles.append((time.time(), title))
                        last = title

            threading.Thread(target=watch, daemon=True).start()
            gpsd.play(fixes, PERIOD_S)
            assert gpsd.wait_done(len(fixes) * PERIOD_S * 1.5 + 30), "the journey did not end"
            gpsd.idle(fixes[-1], PERIOD_S)  # and stays where it ended
            time.sleep(SETTLE_S)
            status = json.loads(app.cli("status", "--json").stdout)
        finally:
            watching.set()
            app.stop()
    late = max(gpsd.late_s) if gpsd.late_s else 0.0
    assert late < 0.5, f"the feeder fell {late:.2f} s behind: the machine is too busy"
    return Replay(app, status, server.calls("Notify"), server.calls("CloseNotification"),
                  speech.said(), speech.wavs(), titles, _history(app))


def assert_nothing_shown_while_moving(run: Replay) -> None:
    """Every notification arrived while the vehicle stood: between a "stopped" road event and
    the moment it moved again (the next "driving" event taken back over its 20 s hold, when
    the app already counted the vehicle as moving). A little slack for the notification
    worker's D-Bus round trip after a decision taken while still standing."""
    windows, began = [], None
    for t, _, _, data in run.road():
        if data["state"] == "stopped":
            began = t
        elif data["state"] == "driving" and began is not None:
            windows.append((began, t - data["held_s"] / TIME_SCALE))
            began = None
    if began is not None:
        windows.append((began, float("inf")))
    slack_s = 0.3
    moving = [n for n in run.notes
              if not any(a <= n["t"] <= b + slack_s for a, b in windows)]
    assert moving == [], [(n["summary"], n["t"]) for n in moving]


def assert_real_speech(run: Replay) -> None:
    assert run.wavs and len(run.wavs) == len(run.said)
    for wav in run.wavs:
        stats = wav_stats(wav)
        assert stats.duration_s > 0.5 and stats.rms > 0.02, wav


@pytest.mark.timeout(300)
def test_a_morning_eu_split_break_with_no_hand_on_the_menu(
        desk: DesktopSession, tmp_path: Path, record_property: pytest.RecordProperty) -> None:
    run = replay(desk, tmp_path, "morning_eu", "eu")
    day_min = run.status["road"]["day_driving_s"] / 60
    record_property("figures", "road, EU morning: stops measured by the app (min) "
                    + ", ".join(f"{m:.2f}" for m in run.stops_min()[1:])
                    + f" for 16 and 31; day's driving {day_min:.1f} min for 180")
    assert run.states() == ["stopped", "driving", "stopped", "driving", "stopped", "driving",
                            "stopped"], run.road()
    _parked, first, second = run.stops_min()
    assert first == pytest.approx(16.0, abs=0.5) and second == pytest.approx(31.0, abs=0.5)
    spoken = run.spoken()
    assert "Fifteen minutes stopped. That is the first part of a split break." in spoken
    assert "Split break complete. The driving count starts again from zero." in spoken
    assert "does not count" not in spoken
    # The sitting prompts went on while driving: posture changes, said and never shown.
    posture = [t for _, t in run.said
               if t.startswith("Posture check. ") and "Hands on the wheel, eyes on the road:" in t]
    assert len(posture) >= 5, spoken
    road = run.status["road"]
    assert road["source"] == "gpsd" and road["state"] == "stopped"
    # 60 + 90 + 30 minutes on the road; the counter restarted at the end of the split break.
    assert road["day_driving_s"] / 60 == pytest.approx(180, abs=1.5)
    assert road["driving_s"] / 60 == pytest.approx(30, abs=1.5)
    assert run.status["state"] == "on_break"  # the last stop, seen by the road
    assert_nothing_shown_while_moving(run)
    # At each stop the break's exercise is on the screen, with its picture and no buttons.
    breaks = [n for n in run.notes if n["summary"].startswith("Break")]
    assert len(breaks) >= 3
    pictures = [Path(n["app_icon"]) for n in breaks]
    assert all(p.is_file() for p in pictures)
    assert any(p.name != "psoas-break.png" for p in pictures), pictures  # not the app icon
    assert run.closes  # driving on withdrew what the stop had shown
    titles = [t for _, t in run.titles]
    assert any(t.startswith("Driving ") and "break in" in t for t in titles), titles
    assert any("first part done" in t for t in titles), titles
    assert any("break done" in t for t in titles), titles
    assert_real_speech(run)


@pytest.mark.timeout(240)
def test_us_a_25_minute_stop_cut_short_is_said_not_to_count(
        desk: DesktopSession, tmp_path: Path, record_property: pytest.RecordProperty) -> None:
    run = replay(desk, tmp_path, "us_cut_short", "us")
    record_property("figures", "road, US stop cut short: measured (min) "
                    + ", ".join(f"{m:.2f}" for m in run.stops_min()[1:]) + " for 25")
    assert run.states() == ["stopped", "driving", "stopped", "driving", "stopped"], run.road()
    _parked, stop = run.stops_min()
    assert stop == pytest.approx(25.0, abs=0.5)
    spoken = run.spoken()
    # Whole minutes, floored: a stop measured 24 min 59 s is said as twenty-four.
    assert re.search(r"^The stop ended after twenty-(four|five) minutes, before thirty: it does "
                     r"not count as a break\.$", spoken, re.MULTILINE), spoken
    assert "Break complete" not in spoken
    road = run.status["road"]
    assert road["driving_s"] / 60 == pytest.approx(65, abs=1.5)  # 45 + 20: nothing reset
    assert_nothing_shown_while_moving(run)
    assert_real_speech(run)


@pytest.mark.timeout(180)
def test_jitter_at_rest_never_starts_driving(desk: DesktopSession, tmp_path: Path) -> None:
    run = replay(desk, tmp_path, "jitter_at_rest", "eu")
    assert run.states() == ["stopped"]
    road = run.status["road"]
    assert road["phase"] == "not_started" and road["day_driving_s"] == 0
    assert run.status["state"] != "on_break"  # parked, not a break
    assert all(t.startswith("Not driving yet") for _, t in run.titles), run.titles


@pytest.mark.timeout(200)
def test_tunnels_keep_the_state_then_fall_back_to_manual_once(desk: DesktopSession,
                                                               tmp_path: Path) -> None:
    run = replay(desk, tmp_path, "tunnel", "eu")
    # The 3-minute tunnel changes nothing; the 12-minute one falls back after 10 minutes.
    assert run.states() == ["stopped", "driving", "unknown", "driving", "stopped"], run.road()
    lost = [data["held_s"] for _, _, _, data in run.road() if data["state"] == "unknown"]
    assert lost[0] / 60 == pytest.approx(10.0, abs=0.5)
    fell = [text for _, text in run.said if text.startswith("No GPS signal")]
    assert fell == ["No GPS signal for ten minutes. Until it is back, stops count only when "
                    "you report them."]
    assert any("no GPS signal" in t for _, t in run.titles), run.titles
    assert_nothing_shown_while_moving(run)
    # Positions went through gpsd all along; none reached the app's log or history.
    log = run.app.log()
    history = json.dumps([e[3] for e in run.events])
    for text in (log, history):
        for position in ("4808.", "48.13", "01134.", "11.57", '"lat"', "latitude"):
            assert position not in text.lower(), position


@pytest.mark.timeout(120)
def test_doctor_names_the_location_source_the_running_app_uses(desk: DesktopSession) -> None:
    desk.start_notification_server()
    with PacedGpsd() as gpsd:
        env = {"PSOAS_LOCATION_BACKEND": "", "PSOAS_GPSD": gpsd.address}
        app = start_app(desk, config='profile = "driver"\n', extra_env=env)
        try:
            wait_for(lambda: (json.loads(app.cli("status", "--json").stdout).get("road")
                              or {}).get("source") == "gpsd", 20, what="the app to use gpsd")
            out = subprocess.run([sys.executable, "-m", "psoas_break", "doctor"], env=app.env,
                                 capture_output=True, text=True, timeout=60, check=False)
        finally:
            app.stop()
    lines = out.stdout.splitlines()
    start = lines.index("location: gpsd")
    block = lines[start:start + 8]
    assert "  not geoclue: not needed: gpsd answered first" in block, block
    assert any(line.startswith("  in use by the running app: gpsd (road: ") for line in block), (
        block)
    assert "Traceback" not in out.stderr
