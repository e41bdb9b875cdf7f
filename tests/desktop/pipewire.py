"""A real PipeWire inside a test desktop: pipewire + wireplumber + pipewire-pulse, and the
streams the call and screen-share tests need (`DesktopSession.start_pipewire()`).

Everything runs in the session's environment: its private XDG_RUNTIME_DIR (pipewire-0 and
pulse/native live there), its private session bus, and its private "system" bus (PipeWire's
rtkit and logind look-ups fail fast there instead of reaching the host). Processes are the
session's: tracked, stopped in reverse order and leak-checked at teardown.

Readiness, never a fixed sleep (checked on this machine, Debian 12, PipeWire 0.3.65):
- pipewire (no sd_notify in 0.3.65): its socket `pipewire-0` accepts a connection;
- pipewire-pulse: `pulse/native` accepts a connection and `pactl info` answers;
- wireplumber's Lua policy runs once the null sink `testsink` and the virtual microphone
  `testmic` this module loads are chosen as defaults (`pactl get-default-sink/-source`). A
  stream started before the policy runs is never linked, so `start()` waits for it.

The app under test has its own XDG_RUNTIME_DIR (tests/app_harness.py): give it `client_env`
(PIPEWIRE_RUNTIME_DIR and PULSE_SERVER pointing here).

Streams (each a tracked process; stop it with `desktop.stop(proc)`):
- `record_mic()`: pw-record from testmic (a native PipeWire capture: a call's microphone);
- `parecord_mic()`: parecord from testmic (PulseAudio protocol);
- `record_monitor_pa()` / `record_monitor_pw()`: captures of the sink's monitor (what is
  played): they must never count as a microphone;
- `video_source(...)`: a GStreamer video producer node, by default shaped like
  xdg-desktop-portal-wlr's screencast (Video/Source, no device.api);
- `video_consumer(node)`: pipewiresrc reading a node (a browser reading a screencast); the
  caps filter matters: without it the consumer is Stream/Input/Unknown and never linked;
- `camera=True`: a daemon-side Video/Source shaped like wireplumber's v4l2 camera node
  (suspended until read), from PipeWire's own videotestsrc plugin (mapped by a drop-in);
- `start_mutter()` + `mutter_screencast()`: the REAL org.gnome.Mutter.ScreenCast of a headless
  mutter 43: CreateSession, RecordMonitor("Meta-0"), Start; mutter then creates its
  "meta-screen-cast-src" stream. The session dies with the D-Bus connection that made it, so a
  small holder process (tests/desktop/screencast.py) keeps it until it is stopped.

Restarts (checked): killing pipewire makes wireplumber exit; pipewire-pulse stays and serves
clients again once pipewire is back; modules loaded with pactl are lost (`restart_audio()`
starts pipewire and wireplumber again and reloads them).
"""

from __future__ import annotations

import json
import os
import select
import shutil
import signal
import socket
import subprocess
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .waiting import wait_for

if TYPE_CHECKING:
    from .session import DesktopSession

#: Executables the stack needs (Debian: pipewire wireplumber pipewire-pulse pipewire-bin
#: pulseaudio-utils); gst-launch-1.0 (gstreamer1.0-tools + gstreamer1.0-pipewire) for video.
TOOLS = ("pipewire", "wireplumber", "pipewire-pulse", "pw-dump", "pw-record", "pactl",
         "parecord", "gst-launch-1.0")
TEST_SINK = "testsink"
TEST_MIC = "testmic"
CAMERA_NODE = "fakecam"
DEADLINE_S = 20.0  # a loaded 2-core machine: wireplumber's start took up to 1.4 s with 16 hogs

# Maps PipeWire's own videotestsrc plugin (commented out in Debian's pipewire.conf).
_SPA_DROPIN = """context.spa-libs = {
    videotestsrc = videotestsrc/libspa-videotestsrc
}
"""
# A daemon-side camera node shaped like wireplumber's v4l2 one.
_CAMERA_DROPIN = """context.objects = [
    { factory = spa-node-factory
      args = { factory.name = videotestsrc node.name = fakecam node.description = "Fake Camera"
               media.class = Video/Source media.role = Camera device.api = v4l2
               object.path = "v4l2:/dev/video99" priority.session = 700 } }
]
"""


def missing_tools() -> list[str]:
    """Executables of TOOLS that are not on PATH."""
    return [tool for tool in TOOLS if shutil.which(tool) is None]


def require_tools() -> None:
    """Skip the calling test when TOOLS are missing; fail it in CI, where
    `.ci/system-deps test` installs them (a skip there would hide a broken set-up)."""
    import pytest

    missing = missing_tools()
    if missing:
        if os.environ.get("CI"):
            pytest.fail(f"missing {missing}: run `bash .ci/system-deps test`")
        pytest.skip(f"missing {missing}: run `bash .ci/system-deps test`")


def _accepts(path: Path) -> bool:
    if not path.exists():
        return False
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(1.0)
        try:
            sock.connect(str(path))
        except OSError:
            return False
    return True


class PipeWireStack:
    """See the module docstring. Made by `DesktopSession.start_pipewire()`."""

    def __init__(self, desktop: DesktopSession, *, camera: bool = False) -> None:
        self.desktop = desktop
        self.camera = camera
        self.runtime_dir = Path(desktop.env["XDG_RUNTIME_DIR"])
        self.pipewire: subprocess.Popen[bytes] | None = None
        self.wireplumber: subprocess.Popen[bytes] | None = None
        self.pulse: subprocess.Popen[bytes] | None = None
        self._count = 0

    @property
    def client_env(self) -> dict[str, str]:
        """What a client with another XDG_RUNTIME_DIR (the app) needs to find this stack."""
        return {"PIPEWIRE_RUNTIME_DIR": str(self.runtime_dir),
                "PULSE_SERVER": f"unix:{self.runtime_dir / 'pulse' / 'native'}"}

    # ---- start and stop ----

    def start(self, *, audio_devices: bool = True, pulse: bool = True) -> PipeWireStack:
        """pipewire, wireplumber, pipewire-pulse; with `audio_devices` the test sink and
        microphone, once wireplumber's policy runs. Without `pulse` (and devices): PipeWire for
        video only, as where PulseAudio runs the sound (pipewire-pulse would add its
        module-always-sink's "auto_null" Audio/Sink)."""
        dropins = Path(self.desktop.env["XDG_CONFIG_HOME"], "pipewire", "pipewire.conf.d")
        dropins.mkdir(parents=True, exist_ok=True)
        (dropins / "10-psoas-test.conf").write_text(_SPA_DROPIN)
        if self.camera:
            (dropins / "20-psoas-camera.conf").write_text(_CAMERA_DROPIN)
        self.start_pipewire()
        self.wireplumber = self.desktop.spawn(["wireplumber"], name="wireplumber")
        if pulse:
            self.start_pulse()
        if audio_devices:
            self.add_audio_devices()
        return self

    def start_pipewire(self) -> subprocess.Popen[bytes]:
        """The daemon; returns once its socket accepts connections."""
        proc = self.pipewire = self.desktop.spawn(["pipewire"], name="pipewire")
        sock = self.runtime_dir / "pipewire-0"

        def up() -> bool:
            if proc.poll() is not None:
                raise RuntimeError(f"pipewire exited: {self.desktop.log_text(proc)}")
            return _accepts(sock)

        wait_for(up, DEADLINE_S, what="pipewire's socket")
        return proc

    def start_pulse(self) -> subprocess.Popen[bytes]:
        """pipewire-pulse; returns once `pactl info` answers."""
        proc = self.pulse = self.desktop.spawn(["pipewire-pulse"], name="pipewire-pulse")
        sock = self.runtime_dir / "pulse" / "native"

        def answers() -> bool:
            if proc.poll() is not None:
                raise RuntimeError(f"pipewire-pulse exited: {self.desktop.log_text(proc)}")
            return _accepts(sock) and self.pactl_ok("info")

        wait_for(answers, DEADLINE_S, what="pipewire-pulse answering `pactl info`")
        return proc

    def add_audio_devices(self) -> None:
        """A null sink and a virtual microphone; waits until wireplumber made them the
        defaults (its policy scripts run)."""
        self.pactl("load-module", "module-null-sink", f"sink_name={TEST_SINK}")
        self.pactl("load-module", "module-null-sink", f"sink_name={TEST_MIC}",
                   "media.class=Audio/Source/Virtual")
        wait_for(lambda: self.pactl("get-default-source").strip() == TEST_MIC
                 and self.pactl("get-default-sink").strip() == TEST_SINK, DEADLINE_S,
                 what="wireplumber choosing the test sink and microphone")

    def kill_pipewire(self) -> None:
        """SIGKILL the daemon, as a crash would; wireplumber exits by itself."""
        assert self.pipewire is not None
        self.pipewire.send_signal(signal.SIGKILL)
        self.pipewire.wait(10)
        if self.wireplumber is not None:
            try:
                self.wireplumber.wait(10)
            except subprocess.TimeoutExpired:
                self.desktop.stop(self.wireplumber)

    def restart_audio(self) -> None:
        """After kill_pipewire(): pipewire and wireplumber again, and the test devices."""
        self.start_pipewire()
        self.wireplumber = self.desktop.spawn(["wireplumber"], name="wireplumber")
        if self.pulse is None or self.pulse.poll() is not None:
            self.start_pulse()
        wait_for(lambda: self.pactl_ok("info"), DEADLINE_S, what="pipewire-pulse again")
        self.add_audio_devices()

    # ---- looking ----

    def run(self, *argv: str, timeout_s: float = 10.0, check: bool = True) -> str:
        done = subprocess.run(list(argv), env=self.desktop.env, capture_output=True, text=True,
                              timeout=timeout_s, check=False)
        if check and done.returncode != 0:
            raise RuntimeError(f"{' '.join(argv)} failed ({done.returncode}): "
                               f"{done.stderr.strip()}")
        return done.stdout

    def pactl(self, *args: str) -> str:
        return self.run("pactl", *args)

    def pactl_ok(self, *args: str) -> bool:
        try:
            self.run("pactl", *args, timeout_s=5.0)
        except (RuntimeError, subprocess.TimeoutExpired):
            return False
        return True

    def pactl_json(self, *args: str) -> list[dict[str, Any]]:
        data: list[dict[str, Any]] = json.loads(self.pactl("-f", "json", *args))
        return data

    def source_outputs(self) -> list[dict[str, Any]]:
        return self.pactl_json("list", "source-outputs")

    def sink_inputs(self) -> list[dict[str, Any]]:
        return self.pactl_json("list", "sink-inputs")

    def wait_source_output(self, app: str, source: str | None = None) -> None:
        """Until pactl lists a capture of `app` (from `source`): the stream really exists."""
        names = {s["index"]: s["name"] for s in self.pactl_json("list", "sources")}

        def there() -> bool:
            return any(so["properties"].get("application.name") == app
                       and (source is None or names.get(so["source"]) == source)
                       for so in self.source_outputs())

        wait_for(there, DEADLINE_S, what=f"a capture of {app} from {source or 'any source'}")

    def nodes(self) -> list[dict[str, Any]]:
        """Node props (plus `_id` and `_state`) from one pw-dump snapshot."""
        out = []
        for obj in json.loads(self.run("pw-dump", "-N")):
            if obj.get("type") == "PipeWire:Interface:Node" and obj.get("info"):
                props = dict(obj["info"].get("props") or {})
                props["_id"] = obj["id"]
                props["_state"] = obj["info"].get("state")
                out.append(props)
        return out

    def wait_node(self, pred: Callable[[dict[str, Any]], bool], what: str) -> dict[str, Any]:
        def find() -> dict[str, Any] | None:
            return next((n for n in self.nodes() if pred(n)), None)

        return wait_for(find, DEADLINE_S, what=what, interval_s=0.05)

    # ---- streams ----

    def _spawn(self, label: str, argv: list[str], **kw: Any) -> subprocess.Popen[bytes]:
        self._count += 1
        return self.desktop.spawn(argv, name=f"{label}-{self._count}", **kw)

    def _file(self, name: str) -> str:
        return str(self.desktop.root / f"{name}-{self._count}.wav")

    def record_mic(self) -> subprocess.Popen[bytes]:
        """pw-record from the default source (testmic): a call's microphone."""
        return self._spawn("pw-record", ["pw-record", self._file("mic")])

    def parecord_mic(self) -> subprocess.Popen[bytes]:
        """parecord (PulseAudio protocol) from the default source."""
        return self._spawn("parecord", ["parecord", self._file("pamic")])

    def record_monitor_pa(self) -> subprocess.Popen[bytes]:
        """parecord from the test sink's monitor: must NOT count as a microphone."""
        return self._spawn("parecord-monitor", ["parecord", "-d", f"{TEST_SINK}.monitor",
                                                self._file("mon")])

    def record_monitor_pw(self) -> subprocess.Popen[bytes]:
        """pw-record capturing the test sink (stream.capture.sink): must NOT count."""
        return self._spawn("pw-record-monitor", [
            "pw-record", "-P", "{ stream.capture.sink = true }", "--target", TEST_SINK,
            self._file("pwmon")])

    def video_source(self, name: str = "xdpw-stream-A1b2C3",
                     props: Mapping[str, str] | None = None) -> subprocess.Popen[bytes]:
        """A GStreamer video producer node: by default xdg-desktop-portal-wlr's screencast
        shape (media.class Video/Source, no device.api)."""
        merged = {"media.class": "Video/Source", "node.name": name, "media.name": name}
        merged.update(props or {})
        structure = "props," + ",".join(f'{k}="{v}"' for k, v in merged.items())
        return self._spawn("gst-source", [
            "gst-launch-1.0", "-q", "videotestsrc", "is-live=true", "!",
            "video/x-raw,width=320,height=240,framerate=10/1", "!",
            "pipewiresink", "mode=provide", f"stream-properties={structure}",
            f"client-name={name}"])

    def video_consumer(self, node_id: int, name: str = "consumer",
                       props: Mapping[str, str] | None = None) -> subprocess.Popen[bytes]:
        """pipewiresrc reading node `node_id` (a browser reading a screencast or camera)."""
        args = ["gst-launch-1.0", "-q", "pipewiresrc", f"path={node_id}", f"client-name={name}"]
        if props:
            args.append("stream-properties=props," + ",".join(f'{k}="{v}"'
                                                              for k, v in props.items()))
        return self._spawn("gst-consumer", [*args, "!", "video/x-raw", "!", "fakesink"])

    def camera_node(self) -> dict[str, Any]:
        """The fake camera's node (needs camera=True)."""
        return self.wait_node(lambda n: n.get("node.name") == CAMERA_NODE, "the camera node")

    # ---- the real mutter ScreenCast ----

    def start_mutter(self) -> subprocess.Popen[bytes]:
        """A headless mutter (Wayland only, virtual monitor Meta-0) on the session bus and this
        PipeWire; returns once org.gnome.Mutter.ScreenCast is on the bus."""
        proc = self._spawn("mutter", [
            "mutter", "--headless", "--wayland", "--no-x11", "--virtual-monitor", "1280x720",
            "--wayland-display", f"psoas-wl-{self.desktop.token[:8]}"])
        bus = self.desktop.bus()

        def owned() -> bool:
            if proc.poll() is not None:
                raise RuntimeError(f"mutter exited: {self.desktop.log_text(proc)}")
            return bus.name_has_owner("org.gnome.Mutter.ScreenCast")

        wait_for(owned, DEADLINE_S, what="org.gnome.Mutter.ScreenCast on the bus",
                 interval_s=0.05)
        return proc

    def mutter_screencast(self) -> tuple[subprocess.Popen[bytes], int]:
        """A real ScreenCast session of monitor Meta-0, held by tests/desktop/screencast.py;
        returns the holder (stop it to end the cast: it calls Session.Stop) and the PipeWire
        node id mutter announced."""
        proc = self._spawn("screencast", [sys.executable, "-m", "tests.desktop.screencast"],
                           service=True, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                           stderr=subprocess.DEVNULL)
        assert proc.stdout is not None
        ready, _, _ = select.select([proc.stdout], [], [], DEADLINE_S)
        line = proc.stdout.readline().decode() if ready else ""
        if not line.startswith("node "):
            self.desktop.stop(proc)
            raise RuntimeError(f"mutter gave no screencast node (holder said {line!r})")
        return proc, int(line.split()[1])
