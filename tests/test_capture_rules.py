"""The pure parts of the call and screen-share detectors: the capture rules, on node and stream
shapes copied from real pw-dump / pactl output (PipeWire 0.3.65) and from the producers'
sources (mutter, KWin, xdg-desktop-portal-wlr, libwebrtc); and the Windows consent store (camera
and microphone through one detector) over an in-memory registry and a fake winreg module, on
paper: there is no Windows here."""

from __future__ import annotations

from typing import Any

import pytest

from psoas_break.adapters.quiet.capture_rules import (
    CLIENT,
    LINK,
    NODE,
    PA_INVALID_INDEX,
    DetectorStatus,
    Graph,
    Node,
    PulseCapture,
    PulseSource,
    camera_users,
    graph_from_objects,
    is_own,
    microphone_users,
    pulse_microphone_users,
    runs_the_audio,
    screencasts,
    truthy,
)
from psoas_break.adapters.quiet.consent_store import (
    ConsentStoreDetector,
    apps_in_use,
    consent_entries,
    consent_key_path,
)
from psoas_break.ports import Unavailable

PW_RECORD = {"application.name": "pw-record", "media.class": "Stream/Input/Audio",
             "media.name": "/tmp/x.wav", "node.name": "pw-record", "client.id": 48,
             "stream.is-live": True}
MUTTER_CAST = {"client.id": 69, "media.class": "Stream/Output/Video",
               "media.name": "meta-screen-cast-src", "node.driver": True, "node.name": "mutter",
               "stream.is-live": True}
XDPW_CAST = {"media.class": "Video/Source", "node.name": "xdpw-stream-Hx12Ab",
             "media.name": "xdpw-stream-Hx12Ab", "client.id": 70}
KWIN_CAST = {"media.class": "Stream/Output/Video", "node.name": "kwin-screencast-Meta-0",
             "client.id": 71}
V4L2_CAMERA = {"media.class": "Video/Source", "device.api": "v4l2", "device.id": 40,
               "node.name": "v4l2_input.pci-0000_00_14.0-usb-0_1_1.0", "media.role": "Camera",
               "factory.name": "api.v4l2.source", "object.path": "v4l2:/dev/video0"}
WEBRTC_SCREEN_READER = {"media.class": "Stream/Input/Video", "media.name": "webrtc-consume-stream",
                        "node.name": "webrtc-consume-stream", "client.id": 80}
WEBRTC_CAMERA_READER = {"media.class": "Stream/Input/Video", "media.role": "Camera",
                        "media.category": "Capture", "node.name": "webrtc-camera", "client.id": 80}
OBS_SCREEN_READER = {"media.class": "Stream/Input/Video", "media.role": "Screen",
                     "node.name": "OBS Studio", "client.id": 81}
VIRTUAL_CAMERA = {"media.class": "Video/Source", "media.role": "Camera",
                  "node.name": "obs-virtualcam", "client.id": 81}


def node(nid: int, props: dict[str, Any], state: str = "running", pid: int | None = 500,
         binary: str = "app") -> Node:
    client = {"application.process.id": pid, "application.process.binary": binary} if pid else {}
    return Node(nid, props, state, client)


def graph(*nodes: Node, links: tuple[tuple[int, int], ...] = ()) -> Graph:
    return Graph({n.id: n for n in nodes}, links)


def test_truthy_accepts_both_worlds() -> None:
    assert truthy(True) and truthy("true") and truthy("1") and not truthy(False)
    assert not truthy("false") and not truthy(None)


def test_graph_from_pw_dump_objects_joins_clients_and_links() -> None:
    objs = [
        {"id": 48, "type": CLIENT, "info": {"props": {"application.process.id": 1234,
                                                      "application.name": "pw-cat"}}},
        {"id": 49, "type": NODE, "info": {"state": "running", "props": PW_RECORD}},
        {"id": 44, "type": NODE, "info": {"state": "running", "props": {
            "media.class": "Audio/Source/Virtual", "node.name": "testmic"}}},
        {"id": 60, "type": LINK, "info": {"output-node-id": 44, "input-node-id": 49}},
        {"id": 30, "type": "PipeWire:Interface:Metadata", "metadata": []},
        {"id": 61, "info": None},
    ]
    g = graph_from_objects(objs)
    assert g.nodes[49].pid == 1234 and g.nodes[49].state == "running"
    assert g.links == ((44, 49),)
    assert [u.pid for u in microphone_users(g)] == [1234]


def test_microphone_rules() -> None:
    mic = node(1, {"media.class": "Audio/Source", "node.name": "alsa_input"})
    sink = node(2, {"media.class": "Audio/Sink", "node.name": "alsa_output"})
    g = graph(
        mic, sink,
        node(10, PW_RECORD),  # counts
        node(11, {**PW_RECORD, "stream.capture.sink": True}),  # pw-record of a sink monitor
        node(12, {**PW_RECORD, "stream.capture.sink": "true"}),  # parecord -d X.monitor
        node(13, {**PW_RECORD, "stream.monitor": "true"}),  # pavucontrol peak meter
        node(14, PW_RECORD, binary="pipewire"),  # echo-cancel inside the daemon
        node(15, PW_RECORD, pid=4242),  # our own
        node(16, PW_RECORD),  # linked to a sink only (monitor without the prop)
        node(17, PW_RECORD, state="error"),
        node(18, {**PW_RECORD, "media.class": "Stream/Output/Audio"}),  # playback
        links=((1, 10), (2, 16)),
    )
    users = microphone_users(g, own_pids={4242})
    assert [u.detail.split()[1] for u in users] == ["10"]


def test_pipewire_runs_the_audio_only_with_an_audio_node() -> None:
    """Ubuntu 22.04: PipeWire for the screen and camera only (video nodes, a screencast
    stream), PulseAudio for sound: the graph cannot see a microphone there."""
    video_only = graph(node(1, {"media.class": "Video/Source", "device.api": "v4l2"}),
                       node(2, {"media.class": "Stream/Output/Video"}))
    assert not runs_the_audio(video_only) and not runs_the_audio(graph())
    for media_class in ("Audio/Source", "Audio/Sink", "Audio/Source/Virtual", "Audio/Duplex"):
        assert runs_the_audio(graph(node(3, {"media.class": media_class}), *video_only.nodes
                                    .values()))
    # A stream alone is not the machine's audio (a PulseAudio client bridged in would be).
    assert not runs_the_audio(graph(node(4, {"media.class": "Stream/Input/Audio"})))


def test_own_children_are_excluded_through_parent_of() -> None:
    parents = {700: 600, 600: 4242, 800: 1}
    assert is_own(700, {4242}, parents.get)
    assert not is_own(800, {4242}, parents.get)
    assert not is_own(700, {4242})  # without parent_of: only the pid itself
    assert not is_own(None, {4242}, parents.get)
    g = graph(node(10, PW_RECORD, pid=700), node(11, PW_RECORD, pid=800))
    assert [u.pid for u in microphone_users(g, {4242}, parents.get)] == [800]


def test_screencast_rules() -> None:
    g = graph(
        node(1, MUTTER_CAST, state="suspended"),
        node(2, XDPW_CAST),
        node(3, KWIN_CAST),
        node(4, V4L2_CAMERA),  # a device: camera, not screen
        node(5, VIRTUAL_CAMERA),  # role Camera: camera, not screen
        node(6, OBS_SCREEN_READER),
        node(7, WEBRTC_SCREEN_READER),  # seen through its producer, not by itself
        node(8, PW_RECORD),
    )
    ids = sorted(int(u.detail.split()[1]) for u in screencasts(g))
    assert ids == [1, 2, 3, 6]


def test_camera_rules() -> None:
    idle_cam = node(1, V4L2_CAMERA, state="suspended", pid=None)
    busy_cam = node(2, {**V4L2_CAMERA, "node.name": "cam2"}, state="running", pid=None)
    g = graph(idle_cam, busy_cam, node(3, WEBRTC_CAMERA_READER),
              node(4, WEBRTC_SCREEN_READER), node(5, MUTTER_CAST),
              node(6, {"media.class": "Stream/Input/Video", "node.name": "plain-reader"}),
              links=((1, 6), (5, 4)))
    ids = sorted(int(u.detail.split()[1]) for u in camera_users(g))
    assert ids == [2, 3, 6]
    assert camera_users(graph(idle_cam)) == ()


def test_pulse_rules() -> None:
    sources = {48: PulseSource("testsink.monitor", 48), 55: PulseSource("testmic"),
               60: PulseSource("alsa_output.monitor")}
    caps = [
        PulseCapture(1, 55, {"application.name": "parecord", "application.process.id": "10"}),
        PulseCapture(2, 48, {"application.name": "parecord"}),  # monitor source
        PulseCapture(3, 60, {"application.name": "obs"}),  # monitor by name
        PulseCapture(4, PA_INVALID_INDEX, {"stream.capture.sink": "true"}),  # not linked yet
        PulseCapture(5, 55, {"stream.monitor": "true"}),  # peak meter
        PulseCapture(6, 55, {}, {"application.process.id": "4242"}),  # ours (client props)
        PulseCapture(7, 55, {}, owner_module=3),  # module-loopback
        PulseCapture(8, PA_INVALID_INDEX, {"application.name": "zoom"}),  # about to record
    ]
    users = pulse_microphone_users(caps, sources, own_pids={4242})
    assert [u.app for u in users] == ["parecord", "zoom"]
    assert users[0].describe() == "parecord[10] (source-output 1 from testmic)"


def test_status_lines_for_doctor() -> None:
    assert DetectorStatus(False, False, "PipeWire not reachable").describe() == (
        "unavailable: PipeWire not reachable")
    assert DetectorStatus(True, False).describe() == "free"
    assert DetectorStatus(True, True, users=("a[1]", "b")).describe() == "in use: a[1], b"


def test_malformed_pw_dump_objects_are_skipped() -> None:
    objs: list[dict[str, Any]] = [
        {"id": "x", "type": NODE, "info": {"props": PW_RECORD}},
        {"id": 5, "type": NODE, "info": {"props": "not a mapping"}},
        {"id": 6, "type": LINK, "info": {"output-node-id": None, "input-node-id": 5}},
        {"type": NODE},
    ]
    g = graph_from_objects(objs)
    assert list(g.nodes) == [5] and g.links == ()
    assert microphone_users(g) == ()


class _Key:
    def __init__(self, children: dict[str, _Key] | None = None,
                 values: dict[str, int] | None = None) -> None:
        self.children = children or {}
        self.values = values or {}

    def subkeys(self) -> list[str]:
        return list(self.children)

    def child(self, name: str) -> _Key:
        if name not in self.children:
            raise FileNotFoundError(name)
        return self.children[name]

    def qword(self, name: str) -> int | None:
        return self.values.get(name)


IN_USE = {"LastUsedTimeStart": 133_500_000_000_000_000, "LastUsedTimeStop": 0}
DONE = {"LastUsedTimeStart": 133_400_000_000_000_000, "LastUsedTimeStop": 133_400_000_100_000_000}

MICROPHONE = _Key({
    "MicrosoftTeams_8wekyb3d8bbwe": _Key(values=IN_USE),
    "Microsoft.WindowsSoundRecorder_8wekyb3d8bbwe": _Key(values=DONE),
    "NonPackaged": _Key({
        "C:#Users#me#AppData#Local#Discord#app-1.0.9#Discord.exe": _Key(values=IN_USE),
        "C:#Program Files#Audacity#Audacity.exe": _Key(values=DONE),
    }),
})


def test_same_walk_serves_the_microphone_key() -> None:
    entries = consent_entries(MICROPHONE)
    assert apps_in_use(entries) == ["MicrosoftTeams", "Discord.exe"]
    assert apps_in_use(entries, exclude=["discord.exe"]) == ["MicrosoftTeams"]
    assert consent_key_path("microphone").endswith(r"\ConsentStore\microphone")


class FakeWinreg:
    """The few winreg calls _WinregKey makes, over an in-memory tree."""

    HKEY_CURRENT_USER = "HKCU"
    REG_QWORD = 11

    def __init__(self, tree: dict[str, _Key]) -> None:
        self.tree = tree

    class _Handle:
        def __init__(self, key: _Key) -> None:
            self.key = key

        def Close(self) -> None:  # noqa: N802 - winreg's name
            pass

    def OpenKey(self, parent: Any, name: str) -> FakeWinreg._Handle:  # noqa: N802
        if parent == self.HKEY_CURRENT_USER:
            if name not in self.tree:
                raise FileNotFoundError(name)
            return self._Handle(self.tree[name])
        return self._Handle(parent.key.child(name))

    def EnumKey(self, handle: FakeWinreg._Handle, index: int) -> str:  # noqa: N802
        names = handle.key.subkeys()
        if index >= len(names):
            raise OSError("no more items")
        return names[index]

    def QueryValueEx(self, handle: FakeWinreg._Handle, name: str) -> tuple[int, int]:  # noqa: N802
        if name not in handle.key.values:
            raise FileNotFoundError(name)
        return handle.key.values[name], self.REG_QWORD


def test_one_detector_serves_camera_and_microphone_over_fake_winreg() -> None:
    reg = FakeWinreg({consent_key_path("microphone"): MICROPHONE,
                      consent_key_path("webcam"): _Key({"x_1": _Key(values=DONE)})})
    mic = ConsentStoreDetector.open("microphone", "microphone", "microphone-windows",
                                    winreg=reg)
    cam = ConsentStoreDetector.open("webcam", "camera", "camera-windows", winreg=reg)
    assert mic.reasons() == ("microphone",) and cam.reasons() == ()
    assert mic.apps_in_use() == ["MicrosoftTeams", "Discord.exe"]
    assert (mic.name, cam.name) == ("microphone-windows", "camera-windows")
    # The camera starts being used: the same walk sees it.
    reg.tree[consent_key_path("webcam")].children["x_1"].values.update(IN_USE)
    assert cam.reasons() == ("camera",)
    # A store that breaks mid-way (the key was removed) is "not quiet", never an error.
    del reg.tree[consent_key_path("microphone")]
    assert mic.reasons() == ()


def test_consent_store_missing_or_not_windows_is_unavailable() -> None:
    with pytest.raises(Unavailable, match="no microphone consent store"):
        ConsentStoreDetector.open("microphone", "microphone", "microphone-windows",
                                  winreg=FakeWinreg({}))
    with pytest.raises(Unavailable, match="only on Windows"):
        ConsentStoreDetector.open("microphone", "microphone", "microphone-windows")


# ---- the pw-dump reader over a scripted stand-in ----

_SCRIPT = r"""
import sys
print("[")
print('  {"id": 48, "type": "PipeWire:Interface:Client", "info": {"props": '
      '{"application.process.id": 1234}}},')
print('  {"id": 49, "type": "PipeWire:Interface:Node", "info": {"state": "running", '
      '"params": {"EnumFormat": [1, 2, 3]}, "props": {"media.class": "Stream/Input/Audio", '
      '"application.name": "pw-record", "client.id": 48}}}')
print("]", flush=True)
cues = open(sys.argv[1])  # a FIFO: the test says when to print the next batch
cues.readline()
print("[")
print('  {"id": 49, "info": null}')
print("]", flush=True)
cues.readline()
print("[ this is not json", flush=True)
print("]", flush=True)
cues.readline()
"""


def test_the_graph_reader_follows_batches_and_stops_on_output_it_does_not_understand(
    tmp_path: Any,
) -> None:
    """pw-dump's batch format and its exit are proven against the real PipeWire in
    test_quiet_pipewire.py; a scripted stand-in is the only way to feed the reader a removal
    at a chosen moment and then output it cannot parse."""
    import os
    import sys
    import threading

    from psoas_break.adapters.quiet.pipewire import PipeWireMicrophoneDetector
    from psoas_break.adapters.quiet.pipewire_graph import PipeWireGraph

    script = tmp_path / "fake_pw_dump.py"
    script.write_text(_SCRIPT)
    fifo = tmp_path / "cues"
    os.mkfifo(fifo)
    graph = PipeWireGraph(command=[sys.executable, str(script), str(fifo)])
    changed = threading.Event()
    graph.ensure()
    cues = open(fifo, "w")  # noqa: SIM115 - opens once the stand-in opened its end
    mic = PipeWireMicrophoneDetector(graph, exclude_children=False,
                                     on_change=lambda _name: changed.set())
    try:
        assert mic.reasons() == ("microphone",)
        assert mic.status().users == ("pw-record[1234] (node 49 Stream/Input/Audio)",)
        snapshot = graph.snapshot()
        assert snapshot is not None and "EnumFormat" not in str(snapshot)  # formats not kept
        changed.clear()  # (set when the detector first saw the graph)
        cues.write("\n")
        cues.flush()
        assert changed.wait(10)
        assert mic.reasons() == () and mic.status().available
        changed.clear()
        cues.write("\n")
        cues.flush()
        assert changed.wait(10)  # output it cannot parse: unavailable, with the reason
        status = mic.status()
        assert not status.available and "PipeWire not reachable" in status.reason
    finally:
        cues.close()
        mic.close()
    assert graph.pid is None
