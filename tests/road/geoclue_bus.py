"""The real GeoClue daemon (Debian geoclue-2.0 2.6) on a private system bus, fed NMEA.

    with GeoClueHarness() as gc:                # bus, geoclue, demo agent, NMEA socket
        gc.address                              # DBUS_SYSTEM_BUS_ADDRESS for the client
        gc.feed(fix_texts, period_s=0.05)       # stream fixes to geoclue (paced, absolute)

How, and why each piece:
- A private dbus-daemon (type system, permissive policy) on a path socket in a temp folder.
- geoclue reads only /etc/geoclue/geoclue.conf (path compiled in). It runs inside
  `unshare -m -n`: a private mount namespace in which our own config is bind-mounted over that
  path (the real file is never touched), and a network namespace with no network at all (with
  [wifi] on it would ask a web service for a GeoIP fix; here it cannot reach anything). Path
  sockets (the bus, the NMEA socket) still work across the network namespace; abstract ones
  would not. Needs root (CAP_SYS_ADMIN) -- as the tests run here and in CI.
- The only source is [network-nmea] with `nmea-socket=PATH` (2.6: geoclue *connects* to a
  listening UNIX socket and reads NMEA lines; avahi is not needed -- its "Failed to connect to
  avahi service" warning is harmless). Available accuracy: EXACT (8).
- An agent: in 2.6.0 Manager.GetClient() waits (indefinitely, measured 30 s+) until an agent
  for the caller's UID has registered. The real demo agent (/usr/libexec/geoclue-2.0/demos/agent,
  whitelisted as geoclue-demo-agent) registers within ~0.5 s; it authorises non-flatpak
  ("system") apps without asking.
- `-t 0`: geoclue would otherwise exit after 60 s without clients.
- The NMEA socket must be listening *before* a client starts geoclue's NMEA source, and must
  stay open: when the connection ends geoclue drops the service until it is restarted.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Sequence

GEOCLUE = "/usr/libexec/geoclue"
DEMO_AGENT = "/usr/libexec/geoclue-2.0/demos/agent"


def geoclue_runnable() -> str | None:
    """Why the real daemon cannot run here, or None: it needs the Debian package and root
    (unshare's private mount and network namespaces)."""
    missing = [p for p in (GEOCLUE, DEMO_AGENT) if not os.access(p, os.X_OK)]
    if missing or not shutil.which("unshare") or not shutil.which("dbus-daemon"):
        return "needs geoclue-2.0, util-linux and dbus (bash .ci/system-deps test)"
    if os.geteuid() != 0:
        return "needs root for unshare's private mount and network namespaces"
    return None

BUS_CONF = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <listen>unix:path={socket}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/>
    <allow own="*"/>
    <allow send_destination="*"/>
    <allow receive_sender="*"/>
  </policy>
</busconfig>
"""

GEOCLUE_CONF = """[agent]
whitelist=geoclue-demo-agent

[network-nmea]
enable=true
nmea-socket={nmea}

[3g]
enable=false

[cdma]
enable=false

[modem-gps]
enable=false

[wifi]
enable=false

[compass]
enable=false
"""


class GeoClueHarness:
    """The daemon, its bus and agent, and the NMEA socket it reads (see module docstring)."""

    def __init__(self, debug: bool = False) -> None:
        self.tmp = tempfile.mkdtemp(prefix="geoclue-")
        self.bus_socket = os.path.join(self.tmp, "system_bus_socket")
        self.nmea_path = os.path.join(self.tmp, "nmea.sock")
        self.address = f"unix:path={self.bus_socket}"
        self.debug = debug
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self._server: socket.socket | None = None
        self._conn: socket.socket | None = None
        self._connected = threading.Event()
        self._stop = threading.Event()
        self._feeder: threading.Thread | None = None
        self.feed_done = threading.Event()

    # ---- processes ----

    def _spawn(self, name: str, cmd: list[str], env: dict[str, str] | None = None) -> None:
        with open(os.path.join(self.tmp, f"{name}.log"), "wb") as log:
            self.procs[name] = subprocess.Popen(
                cmd, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )

    def log(self, name: str) -> str:
        with contextlib.suppress(OSError), open(os.path.join(self.tmp, f"{name}.log"),
                                                encoding="utf-8", errors="replace") as f:
            return f.read()
        return ""

    def start(self) -> GeoClueHarness:
        with open(os.path.join(self.tmp, "bus.conf"), "w") as f:
            f.write(BUS_CONF.format(socket=self.bus_socket))
        conf = os.path.join(self.tmp, "geoclue.conf")
        with open(conf, "w") as f:
            f.write(GEOCLUE_CONF.format(nmea=self.nmea_path))
        self._listen()
        self._spawn("bus", ["dbus-daemon", "--config-file", os.path.join(self.tmp, "bus.conf"),
                            "--nofork", "--nopidfile"])
        self._wait(lambda: os.path.exists(self.bus_socket), "bus socket")
        self.start_geoclue()
        self.wait_geoclue()
        env = dict(os.environ, DBUS_SYSTEM_BUS_ADDRESS=self.address,
                   DBUS_SESSION_BUS_ADDRESS="unix:path=/nonexistent")  # never autolaunch
        env.pop("DISPLAY", None)
        self._spawn("agent", [DEMO_AGENT], env)
        return self

    def start_geoclue(self) -> None:
        conf = os.path.join(self.tmp, "geoclue.conf")
        env = dict(os.environ, DBUS_SYSTEM_BUS_ADDRESS=self.address)
        if self.debug:
            env["G_MESSAGES_DEBUG"] = "Geoclue"
        script = f'mount --bind "{conf}" /etc/geoclue/geoclue.conf && exec {GEOCLUE} -t 0'
        self._spawn("geoclue", ["unshare", "--mount", "--net", "sh", "-c", script], env)

    def wait_geoclue(self, timeout_s: float = 10.0) -> None:
        """Block until geoclue owns org.freedesktop.GeoClue2 on the private bus."""
        from jeepney.bus_messages import message_bus
        from jeepney.io.blocking import open_dbus_connection

        with open_dbus_connection(bus=self.address) as conn:
            def owned() -> bool:
                msg = message_bus.NameHasOwner("org.freedesktop.GeoClue2")
                reply = conn.send_and_get_reply(msg)
                return bool(reply.body[0])

            self._wait(owned, "geoclue's bus name", timeout_s)

    def kill_geoclue(self) -> None:
        self._terminate("geoclue")
        self._connected.clear()  # the next wait_reader() waits for the next geoclue
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()

    def _terminate(self, name: str) -> None:
        proc = self.procs.pop(name, None)
        if proc is None or proc.poll() is not None:
            return
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)  # the group we created
            proc.wait(5)

    @staticmethod
    def _wait(pred: Callable[[], bool], what: str, timeout_s: float = 10.0) -> None:
        deadline = time.monotonic() + timeout_s
        while not pred():
            if time.monotonic() > deadline:
                raise TimeoutError(f"{what} not ready in {timeout_s} s")
            time.sleep(0.02)

    # ---- the NMEA socket geoclue reads ----

    def _listen(self) -> None:
        srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        srv.bind(self.nmea_path)
        os.chmod(self.nmea_path, 0o666)
        srv.listen(4)
        self._server = srv

        def accept() -> None:
            while not self._stop.is_set():
                try:
                    conn, _ = srv.accept()
                except OSError:
                    return
                old, self._conn = self._conn, conn  # a restarted geoclue connects again
                if old is not None:
                    old.close()
                self._connected.set()

        threading.Thread(target=accept, daemon=True, name="nmea-accept").start()

    def wait_reader(self, timeout_s: float = 10.0) -> None:
        """Block until geoclue has connected to the NMEA socket (a client has started it)."""
        if not self._connected.wait(timeout_s):
            raise TimeoutError("geoclue never connected to the NMEA socket")

    def feed(self, fixes: Sequence[str], period_s: float) -> None:
        """Stream `fixes` (one string per fix) from now on, fix k at now + k * period_s."""
        self.wait_reader()
        self.feed_done.clear()

        def run() -> None:
            t0 = time.monotonic()
            for k, text in enumerate(fixes):
                delay = t0 + k * period_s - time.monotonic()
                if delay > 0 and self._stop.wait(delay):
                    return
                conn = self._conn
                if conn is None:
                    return
                with contextlib.suppress(OSError):
                    conn.sendall(text.encode("ascii"))
            self.feed_done.set()

        self._feeder = threading.Thread(target=run, daemon=True, name="nmea-feed")
        self._feeder.start()

    def stop(self) -> None:
        self._stop.set()
        for name in ("agent", "geoclue", "bus"):
            self._terminate(name)
        for s in (self._conn, self._server):
            if s is not None:
                s.close()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def __enter__(self) -> GeoClueHarness:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
