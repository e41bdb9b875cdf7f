"""Which streams mean "in a call", "sharing the screen", "camera on": pure rules, no I/O.

The PipeWire graph (objects as `pw-dump` prints them) and PulseAudio's source-outputs (as
libpulse lists them) come in as plain data, so every rule is tested with literal dicts
(tests/test_capture_rules.py); `is_own` takes a `parent_of` function so the process-tree walk
is testable too. Each rule was checked against the real producers (notes in the tests).

Microphone: a PipeWire node of class "Stream/Input/Audio", or a PulseAudio source-output, that
is NOT
- a capture of a sink's monitor (what is played, not what is said): its PulseAudio source is a
  monitor (monitor_of_sink set, name ".monitor"), or it has stream.capture.sink = true
  (`parecord -d X.monitor`, `pw-record -P '{stream.capture.sink=true}'`), or in the graph every
  link into it comes from an Audio/Sink;
- a level meter: stream.monitor = true (pipewire-pulse sets it for PA_STREAM_PEAK_DETECT: the
  input meters of pavucontrol and GNOME Settings);
- the sound server's own stream (client binary pipewire / pipewire-pulse / wireplumber, or a
  PulseAudio module's: echo-cancel, loopback, filter-chain);
- psoas-break itself or one of its children.
Its state does not matter (except "error"): a call app whose microphone is muted in the app
still holds its stream, and that is still a call. Playback (speech, paplay) is a sink-input /
Stream/Output/Audio, never a capture.

Screen sharing: a video PRODUCER that is not a device and not a camera: class
"Stream/Output/Video" (mutter's "meta-screen-cast-src", KWin's "kwin-screencast-*": pw_stream
outputs without a class of their own) or "Video/Source" (xdg-desktop-portal-wlr's
"xdpw-stream-*") with no device.api/device.id and media.role != "Camera"; or a video CONSUMER
with media.role "Screen" (OBS, kpipewire). Compositors create the stream once the person chose
what to share and remove it when sharing stops, so its presence is the answer.

Camera (the PipeWire view, beside the /dev/video* scan): a device Video/Source (device.api set:
v4l2, libcamera) in state "running" — a plugged-in camera nobody reads is "suspended" — or a
video consumer with media.role "Camera" (browsers' camera portal path) or linked from a device.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

NODE = "PipeWire:Interface:Node"
CLIENT = "PipeWire:Interface:Client"
LINK = "PipeWire:Interface:Link"
PA_INVALID_INDEX = 0xFFFFFFFF
SOUND_SERVER_BINARIES = frozenset({"pipewire", "pipewire-pulse", "wireplumber",
                                   "pipewire-media-session"})
SCREENCAST_PRODUCER_CLASSES = frozenset({"Stream/Output/Video", "Video/Source"})

ParentOf = Callable[[int], "int | None"]


@dataclass(frozen=True)
class DetectorStatus:
    """What a watching detector knows now (for `doctor` and the log): `available` False means
    it cannot see (`reason` says why; `busy` is then False); `users` says who holds the
    device ("pw-record[1234] (source-output 64 from testmic)")."""

    available: bool
    busy: bool
    reason: str = ""
    users: tuple[str, ...] = ()

    def describe(self) -> str:
        """One line: "unavailable: ...", "free", or "in use: a, b"."""
        if not self.available:
            return f"unavailable: {self.reason}"
        return f"in use: {', '.join(self.users)}" if self.busy else "free"


def truthy(value: object) -> bool:
    """PipeWire props are typed in pw-dump (true) and strings in PulseAudio ("true", "1")."""
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() in ("true", "1", "yes")


def _int(value: object) -> int | None:
    try:
        return int(str(value))
    except (TypeError, ValueError):
        return None


@dataclass(frozen=True)
class Use:
    """One program using a device, for logs and `doctor`: "pw-record[1234] (node 49 ...)"."""

    app: str
    pid: int | None
    detail: str = ""

    def describe(self) -> str:
        who = f"{self.app}[{self.pid}]" if self.pid is not None else self.app
        return f"{who} ({self.detail})" if self.detail else who


def is_own(pid: int | None, own_pids: Collection[int], parent_of: ParentOf | None = None,
           max_depth: int = 4) -> bool:
    """True when `pid` is one of `own_pids` or (with `parent_of`) a descendant of one."""
    depth = 0
    while pid is not None and pid > 1 and depth <= max_depth:
        if pid in own_pids:
            return True
        if parent_of is None:
            return False
        pid = parent_of(pid)
        depth += 1
    return False


def proc_parent_of(proc_root: str = "/proc") -> ParentOf:
    """`parent_of` over Linux procfs (None when the process is gone or unreadable)."""

    def parent_of(pid: int) -> int | None:
        try:
            with open(f"{proc_root}/{pid}/stat", "rb") as f:
                # Field 4, after the parenthesised comm (which may hold spaces and ")").
                return int(f.read().rsplit(b")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            return None

    return parent_of


def _not_a_microphone(props: Mapping[str, Any]) -> bool:
    return truthy(props.get("stream.capture.sink", False)) or truthy(
        props.get("stream.monitor", False))


# ---- the PipeWire graph ----


@dataclass(frozen=True)
class Node:
    """A node with what the rules need: its own props, its state and its client's props."""

    id: int
    props: Mapping[str, Any]
    state: str = ""
    client_props: Mapping[str, Any] = field(default_factory=dict)

    @property
    def media_class(self) -> str:
        return str(self.props.get("media.class", ""))

    @property
    def role(self) -> str:
        return str(self.props.get("media.role", ""))

    @property
    def pid(self) -> int | None:
        # pw-record's stream has no pid: its client has (parecord's stream has both).
        return _int(self.client_props.get("application.process.id")
                    or self.props.get("application.process.id"))

    @property
    def binary(self) -> str:
        return str(self.client_props.get("application.process.binary", ""))

    @property
    def app(self) -> str:
        for key in ("application.name", "node.name", "media.name"):
            value = self.props.get(key) or self.client_props.get(key)
            if value:
                return str(value)
        return f"node {self.id}"

    @property
    def is_device(self) -> bool:
        return "device.api" in self.props or "device.id" in self.props

    def use(self) -> Use:
        name = self.props.get("media.name") or self.props.get("node.name") or ""
        return Use(self.app, self.pid, f"node {self.id} {self.media_class} {name}".strip())


@dataclass(frozen=True)
class Graph:
    """The nodes (by id) and links (output node id, input node id) of one moment."""

    nodes: Mapping[int, Node]
    links: tuple[tuple[int, int], ...] = ()

    def inputs_of(self, node_id: int) -> list[Node]:
        return [self.nodes[o] for o, i in self.links if i == node_id and o in self.nodes]


def graph_from_objects(objects: Iterable[Mapping[str, Any]]) -> Graph:
    """A Graph from pw-dump objects (one snapshot, or the values of the live object map);
    objects that are not well-formed are skipped."""
    clients: dict[int, Mapping[str, Any]] = {}
    raw_nodes: list[tuple[int, Mapping[str, Any]]] = []
    links: list[tuple[int, int]] = []
    for obj in objects:
        info = obj.get("info")
        oid = _int(obj.get("id"))
        if not isinstance(info, Mapping) or oid is None:
            continue
        kind = obj.get("type")
        props = info.get("props")
        props = props if isinstance(props, Mapping) else {}
        if kind == CLIENT:
            clients[oid] = props
        elif kind == NODE:
            raw_nodes.append((oid, info))
        elif kind == LINK:
            out_id, in_id = _int(info.get("output-node-id")), _int(info.get("input-node-id"))
            if out_id is not None and in_id is not None:
                links.append((out_id, in_id))
    nodes: dict[int, Node] = {}
    for oid, info in raw_nodes:
        props = info.get("props")
        props = props if isinstance(props, Mapping) else {}
        client = clients.get(_int(props.get("client.id")) or -1, {})
        nodes[oid] = Node(oid, props, str(info.get("state") or ""), client)
    return Graph(nodes, tuple(links))


def runs_the_audio(graph: Graph) -> bool:
    """Whether PipeWire runs this machine's audio: it has audio devices or virtual audio nodes
    ("Audio/Source", "Audio/Sink", ...). Then every capture, PulseAudio clients' too (through
    pipewire-pulse), is a node of its graph. Where PulseAudio runs the audio beside a PipeWire
    for video (Ubuntu 22.04) the graph has no such node and sees no microphone."""
    return any(node.media_class.startswith("Audio/") for node in graph.nodes.values())


def microphone_users(graph: Graph, own_pids: Collection[int] = (),
                     parent_of: ParentOf | None = None) -> tuple[Use, ...]:
    """Audio captures of a real source by other programs (see the module docstring)."""
    users: list[Use] = []
    for node in graph.nodes.values():
        if node.media_class != "Stream/Input/Audio" or node.state == "error":
            continue
        if _not_a_microphone(node.props) or node.binary in SOUND_SERVER_BINARIES:
            continue
        inputs = graph.inputs_of(node.id)
        if inputs and all(n.media_class.startswith("Audio/Sink") for n in inputs):
            continue  # linked to sink monitors only
        if is_own(node.pid, own_pids, parent_of):
            continue
        users.append(node.use())
    return tuple(users)


def screencasts(graph: Graph, own_pids: Collection[int] = (),
                parent_of: ParentOf | None = None) -> tuple[Use, ...]:
    """Screen-capture streams: compositor/portal producers, or consumers with role Screen."""
    found: list[Use] = []
    for node in graph.nodes.values():
        producer = (node.media_class in SCREENCAST_PRODUCER_CLASSES and not node.is_device
                    and node.role != "Camera")
        screen_reader = node.media_class == "Stream/Input/Video" and node.role == "Screen"
        if (producer or screen_reader) and not is_own(node.pid, own_pids, parent_of):
            found.append(node.use())
    return tuple(found)


def camera_users(graph: Graph, own_pids: Collection[int] = (),
                 parent_of: ParentOf | None = None) -> tuple[Use, ...]:
    """Camera use seen through PipeWire (see the module docstring)."""
    found: list[Use] = []
    for node in graph.nodes.values():
        device_running = (node.media_class == "Video/Source" and node.is_device
                          and node.state == "running")
        camera_reader = (
            node.media_class == "Stream/Input/Video"
            and not is_own(node.pid, own_pids, parent_of)
            and (node.role == "Camera" or any(n.media_class == "Video/Source" and n.is_device
                                              for n in graph.inputs_of(node.id)))
        )
        if device_running or camera_reader:
            found.append(node.use())
    return tuple(found)


# ---- PulseAudio source-outputs ----


@dataclass(frozen=True)
class PulseCapture:
    """One PulseAudio source-output: its source index, its props and its client's props."""

    index: int
    source: int
    props: Mapping[str, str]
    client_props: Mapping[str, str] = field(default_factory=dict)
    owner_module: int = PA_INVALID_INDEX

    @property
    def pid(self) -> int | None:
        return _int(self.props.get("application.process.id")
                    or self.client_props.get("application.process.id"))

    @property
    def app(self) -> str:
        return str(self.props.get("application.name") or self.client_props.get(
            "application.name") or f"source-output {self.index}")

    @property
    def binary(self) -> str:
        return str(self.client_props.get("application.process.binary")
                   or self.props.get("application.process.binary") or "")


@dataclass(frozen=True)
class PulseSource:
    """A PulseAudio source: its name and the sink it monitors (PA_INVALID_INDEX if none)."""

    name: str
    monitor_of_sink: int = PA_INVALID_INDEX

    @property
    def is_monitor(self) -> bool:
        return self.monitor_of_sink != PA_INVALID_INDEX or self.name.endswith(".monitor")


def pulse_microphone_users(captures: Iterable[PulseCapture], sources: Mapping[int, PulseSource],
                           own_pids: Collection[int] = (), parent_of: ParentOf | None = None
                           ) -> tuple[Use, ...]:
    """Source-outputs that capture a real source for another program (module docstring). A
    capture not yet connected to a source (PA_INVALID_INDEX) counts unless its props say
    monitor: a call app is about to record."""
    users: list[Use] = []
    for cap in captures:
        source = sources.get(cap.source)
        if source is not None and source.is_monitor:
            continue
        if _not_a_microphone(cap.props) or cap.binary in SOUND_SERVER_BINARIES:
            continue
        if cap.owner_module != PA_INVALID_INDEX:
            continue  # module-loopback / module-echo-cancel inside the sound server
        if is_own(cap.pid, own_pids, parent_of):
            continue
        users.append(Use(cap.app, cap.pid, f"source-output {cap.index} from "
                                           f"{source.name if source else 'no source yet'}"))
    return tuple(users)
