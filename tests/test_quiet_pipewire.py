"""The call and screen-share detectors against a REAL PipeWire (pipewire + wireplumber +
pipewire-pulse, PipeWire 0.3.65 here), headless inside a test desktop.

Every "must not count" test first waits until the stream really exists (pactl or pw-dump
lists it), so it cannot pass by looking too early, and ends with a positive control where one
fits. The streams are started by this test process, so detectors that must see them are made
with exclude_children=False (by default the app's own children never count).
"""

from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from psoas_break.adapters.quiet import make_quiet_detectors
from psoas_break.adapters.quiet.microphone_pulse import PulseMicrophoneDetector
from psoas_break.adapters.quiet.pipewire import (
    PipeWireCameraDetector,
    PipeWireMicrophoneDetector,
    ScreenShareDetector,
)
from psoas_break.adapters.quiet.pipewire_graph import PipeWireGraph
from psoas_break.runtime.quiet import close_detectors, quiet_reasons
from tests.desktop import DesktopSession, wait_for
from tests.desktop.pipewire import TEST_MIC, TEST_SINK, PipeWireStack, require_tools

pytestmark = [pytest.mark.timeout(90), pytest.mark.desktop]

THREADS = {"psoas-pulse-microphone", "psoas-pipewire-graph"}


@pytest.fixture
def pw(desktop: DesktopSession) -> PipeWireStack:
    require_tools()
    return desktop.start_pipewire(camera=True)


class Detectors:
    """The four watching detectors on one graph, with their change events recorded."""

    def __init__(self, pw: PipeWireStack, *, exclude_children: bool = False) -> None:
        self.events: list[tuple[float, str]] = []
        self.graph = PipeWireGraph.open(pw.desktop.env)
        kw: dict[str, Any] = {"exclude_children": exclude_children, "on_change": self._changed}
        self.screen = ScreenShareDetector(self.graph, **kw)
        self.camera = PipeWireCameraDetector(self.graph, **kw)
        self.graph_mic = PipeWireMicrophoneDetector(self.graph, **kw)
        self.pulse_mic = PulseMicrophoneDetector.open(server=pw.client_env["PULSE_SERVER"], **kw)

    def _changed(self, name: str) -> None:
        self.events.append((time.monotonic(), name))

    def mics(self) -> tuple[bool, bool]:
        return self.pulse_mic.status().busy, self.graph_mic.status().busy

    def close(self) -> None:
        self.pulse_mic.close()
        for detector in (self.screen, self.camera, self.graph_mic):
            detector.close()


@pytest.fixture
def det(pw: PipeWireStack) -> Iterator[Detectors]:
    detectors = Detectors(pw)
    try:
        yield detectors
    finally:
        detectors.close()


# ---- microphone ----


def test_pw_record_holds_while_it_runs_and_the_change_comes_unasked(pw: PipeWireStack,
                                                                     det: Detectors) -> None:
    assert det.mics() == (False, False)
    assert det.pulse_mic.status().describe() == "free"
    start = time.monotonic()
    rec = pw.record_mic()
    pw.wait_source_output("pw-record", TEST_MIC)
    # Nobody asks: the detectors report the change themselves.
    wait_for(lambda: {n for t, n in det.events if t > start} >= {"microphone-pulse",
                                                                 "microphone-pipewire"},
             what="change events from both microphone detectors")
    assert det.mics() == (True, True)
    assert det.pulse_mic.reasons() == ("microphone",)
    # A new stream is announced before PipeWire links it to its source ("from no source
    # yet"); the link is another change event, after which the source is named.
    wait_for(lambda: any(u.startswith("pw-record[") and TEST_MIC in u
                         for u in det.pulse_mic.status().users),
             what="the capture named with its source")
    stopped = time.monotonic()
    pw.desktop.stop(rec)
    wait_for(lambda: {n for t, n in det.events if t > stopped} >= {"microphone-pulse",
                                                                   "microphone-pipewire"},
             what="change events when the capture stopped")
    assert det.mics() == (False, False) and det.pulse_mic.reasons() == ()


def test_parecord_counts(pw: PipeWireStack, det: Detectors) -> None:
    rec = pw.parecord_mic()
    pw.wait_source_output("parecord", TEST_MIC)
    wait_for(lambda: det.mics() == (True, True), what="busy")
    pw.desktop.stop(rec)
    wait_for(lambda: det.mics() == (False, False), what="released")


def test_monitor_captures_never_count(pw: PipeWireStack, det: Detectors) -> None:
    """Recording what is played (a sink's monitor) is not a call: parecord -d X.monitor and
    pw-record with stream.capture.sink, both seen by pactl; then a real capture next to
    them is."""
    pw.record_monitor_pa()
    pw.record_monitor_pw()
    pw.wait_source_output("parecord", f"{TEST_SINK}.monitor")
    pw.wait_source_output("pw-record", f"{TEST_SINK}.monitor")
    wait_for(lambda: det.pulse_mic.refreshes >= 3, what="the listener to list the captures")
    time.sleep(0.3)  # let any (wrong) change event arrive before judging
    assert det.mics() == (False, False), (det.pulse_mic.status(), det.graph_mic.status())
    pw.record_mic()
    wait_for(lambda: det.mics() == (True, True), what="the control capture seen")


def test_a_level_meter_never_counts(pw: PipeWireStack, det: Detectors) -> None:
    """PA_STREAM_PEAK_DETECT (pavucontrol's and GNOME Settings' input meters), made with
    pulsectl's get_peak_sample in another process."""
    code = ("import pulsectl\n"
            "with pulsectl.Pulse('meter') as p:\n"
            f"    p.get_peak_sample('{TEST_MIC}', 60)\n")
    pw.desktop.spawn([sys.executable, "-c", code], name="meter",
                     env=pw.client_env)
    wait_for(lambda: any(so["properties"].get("stream.monitor") == "true"
                         for so in pw.source_outputs()), what="the peak-detect capture")
    time.sleep(0.3)
    assert det.mics() == (False, False)
    pw.record_mic()
    wait_for(lambda: det.mics() == (True, True), what="the control capture seen")


def test_our_own_children_never_count(pw: PipeWireStack, det: Detectors) -> None:
    """As in the app: detectors with the default exclusions (this process and its children)
    do not count a capture this process started; the same capture is seen by detectors that
    do not exclude children."""
    graph = PipeWireGraph.open(pw.desktop.env)
    own_pulse = PulseMicrophoneDetector.open(server=pw.client_env["PULSE_SERVER"])
    own_graph = PipeWireMicrophoneDetector(graph)
    try:
        pw.record_mic()
        wait_for(lambda: det.mics() == (True, True), what="the capture seen")
        assert own_pulse.status().available and own_graph.status().available
        assert own_pulse.reasons() == () and own_graph.reasons() == ()
    finally:
        own_pulse.close()
        own_graph.close()


def test_rapid_churn_never_leaves_a_stale_answer(pw: PipeWireStack, det: Detectors) -> None:
    """Captures started and stopped back to back: an event that lands while the listener is
    listing must not be lost (it was, before the listener re-listed after such an event)."""
    for i in range(10):
        rec = pw.record_mic() if i % 2 else pw.parecord_mic()
        wait_for(lambda: det.mics() == (True, True), what=f"busy #{i}")
        pw.desktop.stop(rec)
        wait_for(lambda: det.mics() == (False, False), what=f"free #{i}")


# ---- screen sharing and camera ----


def test_the_real_mutter_screencast_holds(pw: PipeWireStack, det: Detectors) -> None:
    """GNOME's own ScreenCast (what the portal uses for a browser): mutter's
    meta-screen-cast-src stream from Start to Stop, read by a consumer as a browser would."""
    pw.start_mutter()
    assert det.screen.reasons() == ()
    start = time.monotonic()
    cast, node_id = pw.mutter_screencast()
    wait_for(lambda: det.screen.reasons() == ("screen-sharing",), what="the screencast seen")
    assert any(n == "screen-sharing-pipewire" for t, n in det.events if t > start)
    assert any(f"node {node_id} Stream/Output/Video meta-screen-cast-src" in u
               for u in det.screen.status().users)
    reader = pw.video_consumer(node_id, name="browser")
    pw.wait_node(lambda n: n["_id"] == node_id and n["_state"] == "running",
                 "the cast streaming to its reader")
    assert det.camera.reasons() == () and det.mics() == (False, False)
    pw.desktop.stop(reader)
    pw.desktop.stop(cast)  # SIGTERM: the holder calls Session.Stop
    wait_for(lambda: det.screen.reasons() == (), what="the screencast over")


@pytest.mark.parametrize(("name", "media_class"), [
    ("xdpw-stream-A1b2C3", "Video/Source"),  # xdg-desktop-portal-wlr (sway, Hyprland)
    ("kwin-screencast-Meta-0", "Stream/Output/Video"),  # KWin's pw_stream output
])
def test_portal_and_kwin_shaped_screencasts_hold(pw: PipeWireStack, det: Detectors, name: str,
                                                 media_class: str) -> None:
    source = pw.video_source(name, {"media.class": media_class})
    wait_for(lambda: det.screen.reasons() == ("screen-sharing",), what="the screencast seen")
    assert det.camera.reasons() == ()
    pw.desktop.stop(source)
    wait_for(lambda: det.screen.reasons() == (), what="released")


def test_a_camera_through_pipewire_is_camera_not_screen(pw: PipeWireStack,
                                                        det: Detectors) -> None:
    cam = pw.camera_node()
    assert det.camera.reasons() == (), "a plugged-in camera nobody reads is not in use"
    reader = pw.video_consumer(int(cam["_id"]), name="call-app", props={"media.role": "Camera"})
    wait_for(lambda: det.camera.reasons() == ("camera",), what="the camera in use")
    assert det.screen.reasons() == ()
    pw.desktop.stop(reader)
    wait_for(lambda: det.camera.reasons() == (), what="the camera released")


# ---- PipeWire going away and coming back ----


def test_pipewire_killed_mid_run_is_unavailable_then_seen_again(pw: PipeWireStack,
                                                                det: Detectors) -> None:
    rec = pw.record_mic()
    wait_for(lambda: det.mics() == (True, True), what="busy")
    pw.kill_pipewire()
    wait_for(lambda: not det.pulse_mic.status().available
             and not det.graph_mic.status().available, what="unavailable")
    for detector in (det.pulse_mic, det.graph_mic, det.screen, det.camera):
        status = detector.status()
        assert not status.available and not status.busy and status.reason, detector.name
        assert detector.reasons() == ()
    assert "PipeWire not reachable (pw-dump exited with status 0)" in det.screen.status().reason
    # Nothing runs while PipeWire is away: no detector thread, next to no CPU.
    assert not {t.name for t in threading.enumerate()} & THREADS
    cpu = time.process_time()
    time.sleep(1.0)
    assert time.process_time() - cpu < 0.05
    pw.desktop.stop(rec)
    pw.restart_audio()
    # The next checks (after the 5-s retry interval) see it again, and a new call.
    wait_for(lambda: det.pulse_mic.status().available and det.graph_mic.status().available,
             15, interval_s=0.5, what="available again")
    pw.record_mic()
    wait_for(lambda: det.mics() == (True, True), what="a new capture seen")


def test_no_pipewire_at_all_is_unavailable_with_a_reason(desktop: DesktopSession) -> None:
    runtime = desktop.env["XDG_RUNTIME_DIR"]
    start = time.monotonic()
    graph = PipeWireGraph.open(desktop.env)
    mic = PulseMicrophoneDetector.open(server=f"unix:{runtime}/pulse/native")
    screen = ScreenShareDetector(graph)
    try:
        assert time.monotonic() - start < 5.0  # nothing waits for a server that is not there
        assert mic.status().describe().startswith(
            "unavailable: no PulseAudio/PipeWire sound server")
        assert screen.status().describe().startswith("unavailable: PipeWire not reachable")
        assert mic.reasons() == () and screen.reasons() == ()
    finally:
        mic.close()
        screen.close()
    assert graph.pid is None


def test_close_is_prompt_and_leaves_no_thread(pw: PipeWireStack) -> None:
    mic = PulseMicrophoneDetector.open(server=pw.client_env["PULSE_SERVER"])
    graph = PipeWireGraph.open(pw.desktop.env)
    screen = ScreenShareDetector(graph)
    assert mic.status().available and screen.status().available
    dump_pid = graph.pid
    start = time.monotonic()
    mic.close()
    screen.close()  # the last detector of the graph closes it
    assert time.monotonic() - start < 2.0
    assert not {t.name for t in threading.enumerate()} & THREADS
    assert dump_pid is not None and not os.path.exists(f"/proc/{dump_pid}/stat")


# ---- the factory, with a real PipeWire ----


def test_the_factory_picks_the_watching_detectors_and_reports_changes(
    pw: PipeWireStack,
) -> None:
    changes: list[str] = []
    env = {**pw.desktop.env, "PSOAS_QUIET_DETECTORS": "microphone-pulse, microphone-pipewire, "
           "screen-sharing-pipewire, camera-pipewire"}
    detectors, choice = make_quiet_detectors(env, on_change=changes.append)
    try:
        # PipeWire runs the audio here: its graph sees the microphone, no libpulse is loaded.
        assert choice.chosen == "microphone-pipewire, screen-sharing-pipewire, camera-pipewire"
        rejected = dict(choice.rejected)
        assert rejected["microphone-pulse"] == (
            "not needed: microphone-pipewire sees the microphone")
        assert dict(choice.details) == {"microphone-pipewire": "free",
                                        "screen-sharing-pipewire": "free",
                                        "camera-pipewire": "free"}
        # The factory's detectors exclude this process and its descendants, as the app's do:
        # a capture of another program (left behind by a shell that exited) counts.
        pw.desktop.spawn(["sh", "-c", "pw-record /dev/null >/dev/null 2>&1 &"],
                         name="other-app")
        wait_for(lambda: quiet_reasons(detectors) == ("microphone",), what="in a call")
        assert "microphone-pipewire" in changes
    finally:
        close_detectors(detectors)
    assert not {t.name for t in threading.enumerate()} & THREADS


def test_where_pipewire_runs_no_audio_the_factory_asks_the_pulse_server(
    desktop: DesktopSession,
) -> None:
    """Ubuntu 22.04's shape: PipeWire for video, the audio elsewhere, so the graph has no audio
    node and cannot see a microphone; the PulseAudio protocol is asked instead. Real PipeWire
    and wireplumber without pipewire-pulse; no PulseAudio daemon runs here (not among the test
    packages; the pulse detector's captures are tested against pipewire-pulse above), so the
    pulse detector is chosen and says it finds no server yet: what is tested is the choice, on
    a real graph with no audio node."""
    require_tools()
    pw = desktop.start_pipewire(audio_devices=False, pulse=False)
    env = {**pw.desktop.env, "PSOAS_QUIET_DETECTORS": "microphone-pulse, microphone-pipewire"}
    detectors, choice = make_quiet_detectors(env)
    try:
        assert choice.chosen == "microphone-pulse"
        assert dict(choice.rejected)["microphone-pipewire"] == (
            "PipeWire runs no audio here (no audio node in its graph)")
        assert dict(choice.details)["microphone-pulse"].startswith(
            "unavailable: no PulseAudio/PipeWire sound server")
        assert [type(d) for d in detectors] == [PulseMicrophoneDetector]
        # The graph was opened to look, and nobody took it: pw-dump and its reader are gone.
        assert "psoas-pipewire-graph" not in {t.name for t in threading.enumerate()}
    finally:
        close_detectors(detectors)
    assert not {t.name for t in threading.enumerate()} & THREADS
