"""`DesktopSession`: a private, real, headless desktop for one test (or one test module).

What it starts (about 0.5 s on a 2-core machine):
- `Xvfb` on a free display number (`-displayfd`, so two sessions never race for a number),
  `-nolisten tcp -noreset`, checked with a real X connection;
- a private session bus and a private "system" bus: `dbus-daemon` with config files written to
  the session folder whose only <servicedir> is an empty folder, so nothing can be
  auto-activated (dunst is installed here and would otherwise answer Notify);
- private XDG_RUNTIME_DIR / XDG_CONFIG_HOME / XDG_DATA_HOME / XDG_STATE_HOME / XDG_CACHE_HOME
  and HOME (mode 0700) in one temp folder.

`env` is the environment to start anything "inside" the desktop (see `_build_env`). `spawn()`
starts a tracked process in it with its output in a log file. On close every tracked process is
stopped in reverse start order (SIGTERM to its process group, SIGKILL after ~3 s), then every
process still carrying this session's marker variable (children, double-forked daemons) is
killed and reported: `close()` raises `LeakedProcessError`, so a leak fails the test loudly.

Call spawn/start_* from the main thread: processes get a parent-death signal (so a killed
pytest does not leave Xvfb behind), and Linux ties that signal to the spawning thread.
"""

from __future__ import annotations

import contextlib
import logging
import os
import select
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .bus import BusClient
from .waiting import DEFAULT_TIMEOUT_S, wait_for

if TYPE_CHECKING:
    from Xlib.display import Display

    from .dbusmenu import TrayClient
    from .idle import MutterIdleMonitor, ScreenSaver
    from .logind import Logind
    from .notifications import NotificationServer
    from .pipewire import PipeWireStack
    from .sni_watcher import SniWatcher
    from .x11 import X11Window

log = logging.getLogger(__name__)

#: The repository root: put on PYTHONPATH of the fake services (`python -m tests.desktop.x`).
REPO_ROOT = Path(__file__).resolve().parents[2]
#: Every process started in a session carries MARKER_VAR=<token>: how leaks are found.
MARKER_VAR = "PSOAS_DESKTOP_TEST_SESSION"
#: Executables a session cannot start without.
REQUIRED_TOOLS = ("Xvfb", "dbus-daemon")

# Host desktop variables that must not leak into the private desktop (they would point apps at
# the developer's real session, a Wayland compositor, or pick a backend behind the test's back).
_SCRUBBED_VARS = (
    "WAYLAND_DISPLAY",
    "WAYLAND_SOCKET",
    "DBUS_STARTER_ADDRESS",
    "DBUS_STARTER_BUS_TYPE",
    "XAUTHORITY",
    "SESSION_MANAGER",
    "AT_SPI_BUS_ADDRESS",
    "XDG_CURRENT_DESKTOP",
    "XDG_SESSION_DESKTOP",
    "DESKTOP_SESSION",
    "GNOME_DESKTOP_SESSION_ID",
    "KDE_FULL_SESSION",
    "XDG_SEAT",
    "XDG_VTNR",
    "PYSTRAY_BACKEND",
)

_BUS_CONFIG = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>{bus_type}</type>
  <listen>unix:path={socket}</listen>
  <auth>EXTERNAL</auth>
  <!-- The only service directory is empty: nothing (e.g. dunst) can be auto-activated. -->
  <servicedir>{servicedir}</servicedir>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
"""


class DesktopUnavailable(RuntimeError):
    """This machine cannot run a private desktop (a required executable is missing)."""


class DesktopStartError(RuntimeError):
    """Xvfb or a bus daemon did not come up; the message includes its log."""


class LeakedProcessError(AssertionError):
    """Processes of the session survived teardown (they have been SIGKILLed since)."""


def missing_tools() -> list[str]:
    """Names from REQUIRED_TOOLS not found on PATH (empty when a session can start)."""
    return [tool for tool in REQUIRED_TOOLS if shutil.which(tool) is None]


def _read_line_from_fd(fd: int, timeout_s: float, what: str) -> str:
    """Read one line a child writes to the pipe `fd`, waiting at most `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    data = b""
    while b"\n" not in data:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise DesktopStartError(f"{what}: nothing written within {timeout_s:g} s")
        ready, _, _ = select.select([fd], [], [], remaining)
        if not ready:
            continue
        chunk = os.read(fd, 4096)
        if not chunk:
            raise DesktopStartError(f"{what}: exited before writing ({data!r})")
        data += chunk
    return data.split(b"\n", 1)[0].decode().strip()


def _pids_with_marker(token: str) -> list[int]:
    """Live (non-zombie) processes whose environment holds MARKER_VAR=token."""
    needle = f"{MARKER_VAR}={token}".encode()
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/environ", "rb") as fh:
                environ = fh.read().split(b"\0")
            if needle not in environ:
                continue
            with open(f"/proc/{entry}/stat", "rb") as fh:
                state = fh.read().rsplit(b")", 1)[1].split()[0]
        except OSError:  # gone meanwhile, or not ours to read
            continue
        if state not in (b"Z", b"X"):
            found.append(int(entry))
    return found


def _describe_pid(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            cmd = fh.read().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        cmd = "?"
    return f"pid {pid}: {cmd}"


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class DesktopSession:
    """A private Xvfb + session bus + system bus + XDG dirs; a context manager.

    Contract: `start()` (or `with`) brings everything up or raises DesktopStartError after
    cleaning up; `close()` tears everything down and raises LeakedProcessError if any process
    of the session survived (`keep_root=True` keeps the temp folder and its logs even when
    all went well; on a leak it is always kept). Attributes after start: `display` (":N"),
    `env`, `root` (the session's temp folder), `session_bus_address`, `system_bus_address`,
    `logs_dir`.
    """

    def __init__(self, *, screen: str = "1024x768x24", keep_root: bool = False) -> None:
        self.screen = screen
        self.keep_root = keep_root
        self.token = uuid.uuid4().hex
        self.root = Path()
        self.display = ""
        self.session_bus_address = ""
        self.system_bus_address = ""
        self.env: dict[str, str] = {}
        self._procs: list[subprocess.Popen[bytes]] = []
        self._names: dict[int, str] = {}
        self._logs: dict[int, Path] = {}
        self._bus: BusClient | None = None
        self._system_bus: BusClient | None = None
        self._xdisplay: Display | None = None
        self._started = False
        self._closed = False

    # -- folders and environment ----------------------------------------------------------

    @property
    def logs_dir(self) -> Path:
        """Folder holding one log file per spawned process."""
        return self.root / "logs"

    def _dir(self, name: str) -> Path:
        path = self.root / name
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
        path.chmod(0o700)  # mkdir's mode is filtered by the umask
        return path

    def _base_env(self) -> dict[str, str]:
        env = dict(os.environ)
        for var in _SCRUBBED_VARS:
            env.pop(var, None)
        # Never DISPLAY without a private bus address: libdbus would autolaunch a bus via X11.
        env.pop("DISPLAY", None)
        env.pop("DBUS_SESSION_BUS_ADDRESS", None)
        env["DBUS_SYSTEM_BUS_ADDRESS"] = "unix:path=/nonexistent/psoas-test-no-system-bus"
        env[MARKER_VAR] = self.token
        return env

    def _build_env(self) -> dict[str, str]:
        env = self._base_env()
        env.update(
            {
                "DISPLAY": self.display,
                "DBUS_SESSION_BUS_ADDRESS": self.session_bus_address,
                "DBUS_SYSTEM_BUS_ADDRESS": self.system_bus_address,
                "HOME": str(self._dir("home")),
                "XDG_RUNTIME_DIR": str(self._dir("runtime")),
                "XDG_CONFIG_HOME": str(self._dir("config")),
                "XDG_DATA_HOME": str(self._dir("data")),
                "XDG_STATE_HOME": str(self._dir("state")),
                "XDG_CACHE_HOME": str(self._dir("cache")),
                "XDG_SESSION_TYPE": "x11",
                # The fake logind's session id, as a real login session exports it.
                "XDG_SESSION_ID": "1",
                "NO_AT_BRIDGE": "1",
                "GDK_BACKEND": "x11",
                # The first GTK client on a fresh Xvfb otherwise maps Mesa/LLVM (slow, 111 MB).
                "GDK_GL": "disable",
                # No dconf-service on a private bus: keep GSettings in memory, without warnings.
                "GSETTINGS_BACKEND": "memory",
                "GIO_USE_VFS": "local",
            }
        )
        return env

    # -- processes --------------------------------------------------------------------------

    def spawn(
        self,
        argv: Sequence[str | os.PathLike[str]],
        *,
        name: str | None = None,
        env: dict[str, str] | None = None,
        cwd: str | os.PathLike[str] | None = None,
        service: bool = False,
        unset: Sequence[str] = (),
        **popen_kw: Any,
    ) -> subprocess.Popen[bytes]:
        """Start `argv` inside the desktop and track it for teardown; returns the Popen.

        `env` holds variables to add to (or override in) the session environment, `unset`
        names to remove from it (DISPLAY for a Wayland-only client). stdout and
        stderr go to a log file (`log_text(proc)`) unless given in `popen_kw`. The process
        leads its own process group, so stopping it also stops its children. `service=True`
        puts the repository on PYTHONPATH (for `python -m tests.desktop.<module>`).
        """
        if not self._started or self._closed:
            raise RuntimeError("DesktopSession is not running")
        full_env = dict(self.env)
        full_env.update(env or {})
        for name in unset:
            full_env.pop(name, None)
        if service:
            old = full_env.get("PYTHONPATH")
            full_env["PYTHONPATH"] = str(REPO_ROOT) + (os.pathsep + old if old else "")
        return self._popen(argv, name=name, env=full_env, cwd=cwd, **popen_kw)

    def _popen(
        self,
        argv: Sequence[str | os.PathLike[str]],
        *,
        name: str | None,
        env: dict[str, str],
        cwd: str | os.PathLike[str] | None = None,
        **popen_kw: Any,
    ) -> subprocess.Popen[bytes]:
        label = name or Path(str(argv[0])).name
        log_path = self.logs_dir / f"{len(self._procs):02d}-{label}.log"
        cmd = [str(a) for a in argv]
        if threading.current_thread() is threading.main_thread() and shutil.which("setpriv"):
            # Die with the test process even if it is SIGKILLed (no teardown runs then).
            cmd = ["setpriv", "--pdeathsig", "TERM", *cmd]
        with open(log_path, "wb") as log_fh:
            popen_kw.setdefault("stdout", log_fh)
            popen_kw.setdefault("stderr", subprocess.STDOUT)
            popen_kw.setdefault("stdin", subprocess.DEVNULL)
            proc = subprocess.Popen(
                cmd, env=env, cwd=cwd, start_new_session=True, **popen_kw
            )
        self._procs.append(proc)
        self._names[proc.pid] = label
        self._logs[proc.pid] = log_path
        log.debug("started %s (pid %d)", label, proc.pid)
        return proc

    def live_pids(self) -> list[int]:
        """Every live process carrying this session's marker: what teardown must stop
        (includes children and daemons that left their process group)."""
        return _pids_with_marker(self.token)

    def log_text(self, proc: subprocess.Popen[bytes] | None) -> str:
        """The captured output of a process started by this session ("" if none)."""
        if proc is None or proc.pid not in self._logs:
            return ""
        try:
            return self._logs[proc.pid].read_text(errors="replace")
        except OSError:
            return ""

    def stop(self, proc: subprocess.Popen[bytes], timeout_s: float = 3.0) -> int | None:
        """SIGTERM `proc`'s process group, SIGKILL after `timeout_s`; return its exit status.

        Also stops what is left of the group (children) once the leader exited.
        """
        pgid = proc.pid
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pgid, signal.SIGTERM)
            try:
                proc.wait(timeout_s)
            except subprocess.TimeoutExpired:
                log.warning("%s did not stop on SIGTERM; killing it", self._names.get(pgid))
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(pgid, signal.SIGKILL)
                proc.wait(5.0)
        if _group_alive(pgid):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pgid, signal.SIGTERM)
            deadline = time.monotonic() + timeout_s
            while _group_alive(pgid) and time.monotonic() < deadline:
                time.sleep(0.02)
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pgid, signal.SIGKILL)
        return proc.returncode

    # -- start / close ------------------------------------------------------------------------

    def start(self) -> DesktopSession:
        """Bring up Xvfb and both buses; returns self. Cleans up and raises on failure."""
        if self._started:
            return self
        missing = missing_tools()
        if missing:
            raise DesktopUnavailable(
                "cannot start a private desktop: missing " + ", ".join(missing)
                + " (Debian: apt-get install xvfb dbus x11-utils)"
            )
        self._started = True
        self.root = Path(tempfile.mkdtemp(prefix="psoas-desktop-"))
        self._dir("logs")
        try:
            self._start_processes()
        except BaseException:
            self._teardown(check_leaks=False)
            raise
        return self

    def _start_processes(self) -> None:
        base = self._base_env()
        empty_servicedir = self._dir("bus/services-empty")
        pipes: dict[str, tuple[int, int]] = {}

        x_read, x_write = os.pipe()
        pipes["xvfb"] = (x_read, x_write)
        xvfb = self._popen(
            [
                "Xvfb", "-displayfd", str(x_write), "-screen", "0", self.screen,
                "-nolisten", "tcp", "-noreset",
            ],
            name="Xvfb",
            env=base,
            pass_fds=(x_write,),
        )
        buses: dict[str, subprocess.Popen[bytes]] = {}
        for bus_type in ("session", "system"):
            conf = self.root / "bus" / f"{bus_type}.conf"
            conf.write_text(
                _BUS_CONFIG.format(
                    bus_type=bus_type,
                    socket=self.root / "bus" / f"{bus_type}_bus_socket",
                    servicedir=empty_servicedir,
                )
            )
            b_read, b_write = os.pipe()
            pipes[bus_type] = (b_read, b_write)
            buses[bus_type] = self._popen(
                [
                    "dbus-daemon", f"--config-file={conf}", "--nofork", "--nopidfile",
                    f"--print-address={b_write}",
                ],
                name=f"dbus-{bus_type}",
                env=base,
                pass_fds=(b_write,),
            )
        for _, write_end in pipes.values():
            os.close(write_end)
        try:
            self.session_bus_address = self._read_ready(pipes["session"][0], buses["session"],
                                                        "session bus")
            self.system_bus_address = self._read_ready(pipes["system"][0], buses["system"],
                                                       "system bus")
            number = self._read_ready(x_read, xvfb, "Xvfb")
        finally:
            for read_end, _ in pipes.values():
                os.close(read_end)
        self.display = f":{number}"
        self.env = self._build_env()
        self._wait_x_answers(xvfb)

    def _read_ready(self, fd: int, proc: subprocess.Popen[bytes], what: str) -> str:
        try:
            return _read_line_from_fd(fd, DEFAULT_TIMEOUT_S, what)
        except DesktopStartError as exc:
            raise DesktopStartError(f"{exc}; its log:\n{self.log_text(proc)}") from None

    def _wait_x_answers(self, xvfb: subprocess.Popen[bytes]) -> None:
        from Xlib.display import Display

        def connect() -> bool:
            if xvfb.poll() is not None:
                raise DesktopStartError(f"Xvfb exited; its log:\n{self.log_text(xvfb)}")
            Display(self.display).close()
            return True

        wait_for(connect, DEFAULT_TIMEOUT_S, what=f"Xvfb {self.display} to answer",
                 ignore=(Exception,))

    def close(self) -> None:
        """Tear everything down (idempotent); raises LeakedProcessError on leaks."""
        if not self._started or self._closed:
            return
        self._teardown(check_leaks=True)

    def _teardown(self, *, check_leaks: bool) -> None:
        self._closed = True
        for client in (self._bus, self._system_bus):
            if client is not None:
                client.close()
        self._bus = self._system_bus = None
        if self._xdisplay is not None:
            with contextlib.suppress(Exception):  # the X server may already be gone
                self._xdisplay.close()
            self._xdisplay = None
        survivors = []
        for proc in reversed(self._procs):
            self.stop(proc)
            if proc.poll() is None:
                survivors.append(f"pid {proc.pid}: {self._names.get(proc.pid)}")
        leaked_pids = _pids_with_marker(self.token)
        leaked = [_describe_pid(pid) for pid in leaked_pids]
        for pid in leaked_pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        failed = survivors + leaked
        if not failed and not self.keep_root:
            shutil.rmtree(self.root, ignore_errors=True)
        if check_leaks and failed:
            raise LeakedProcessError(
                "processes of the test desktop survived teardown (now SIGKILLed): "
                + "; ".join(failed) + f". Logs are in {self.logs_dir}"
            )

    def __enter__(self) -> DesktopSession:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- clients --------------------------------------------------------------------------------

    def bus(self) -> BusClient:
        """A shared client on the private session bus (closed at teardown)."""
        if self._bus is None:
            self._bus = BusClient(self.session_bus_address)
        return self._bus

    def system_bus(self) -> BusClient:
        """A shared client on the private system bus (closed at teardown)."""
        if self._system_bus is None:
            self._system_bus = BusClient(self.system_bus_address)
        return self._system_bus

    def x_display(self) -> Display:
        """A shared python-xlib connection to the session's X server (closed at teardown)."""
        if self._xdisplay is None:
            from Xlib.display import Display

            self._xdisplay = Display(self.display)
        return self._xdisplay

    def tray(self) -> TrayClient:
        """A panel-side client for StatusNotifierItems and their dbusmenu (see dbusmenu.py)."""
        from .dbusmenu import TrayClient

        return TrayClient(self.bus())

    # -- fake services ----------------------------------------------------------------------------

    def start_sni_watcher(self, *, host_registered: bool = True) -> SniWatcher:
        """Start the fake org.kde.StatusNotifierWatcher (before any appindicator icon!)."""
        from .sni_watcher import SniWatcher

        watcher = SniWatcher(self, [] if host_registered else ["--no-host"])
        watcher.start()
        return watcher

    def start_notification_server(
        self, *, mode: str = "normal", capabilities: Sequence[str] | None = None
    ) -> NotificationServer:
        """Start the recording org.freedesktop.Notifications; mode "normal" or "hang"."""
        from .notifications import NotificationServer

        server = NotificationServer(self, mode=mode, capabilities=capabilities)
        server.start()
        return server

    def start_mutter_idle_monitor(self, *, idle_ms: int = 0) -> MutterIdleMonitor:
        """Start the fake org.gnome.Mutter.IdleMonitor reporting `idle_ms` (frozen)."""
        from .idle import MutterIdleMonitor

        monitor = MutterIdleMonitor(self, ["mutter", "--idle-ms", str(idle_ms)])
        monitor.start()
        return monitor

    def start_screensaver(
        self, *, flavor: str = "kde", idle_ms: int = 0, active: bool = False
    ) -> ScreenSaver:
        """Start a fake screensaver service; see idle.py for the flavors and their units."""
        from .idle import ScreenSaver

        saver = ScreenSaver(self, flavor=flavor, idle_ms=idle_ms, active=active)
        saver.start()
        return saver

    def start_pipewire(self, *, camera: bool = False, audio_devices: bool = True,
                       pulse: bool = True) -> PipeWireStack:
        """Start a real PipeWire (pipewire, wireplumber, pipewire-pulse) in this desktop, with
        a test sink and microphone (and a fake camera node); see pipewire.py."""
        from .pipewire import PipeWireStack

        return PipeWireStack(self, camera=camera).start(audio_devices=audio_devices,
                                                         pulse=pulse)

    def start_logind(self) -> Logind:
        """Start the fake org.freedesktop.login1 on the private system bus."""
        from .logind import Logind

        logind = Logind(self)
        logind.start()
        return logind

    # -- X helpers (see x11.py) ------------------------------------------------------------------

    def xdotool(self, *args: str) -> str:
        """Run `xdotool ARGS` on this display; return its stdout."""
        from . import x11

        return x11.xdotool(self, *args)

    def x_idle_ms(self) -> int:
        """The X server's idle time in ms (XScreenSaverQueryInfo through libXss)."""
        from . import x11

        return x11.x_idle_ms(self.display)

    def start_openbox(self) -> subprocess.Popen[bytes]:
        """Start openbox and wait until it manages the screen."""
        from . import x11

        return x11.start_openbox(self)

    def start_trayer(self) -> subprocess.Popen[bytes]:
        """Start trayer (an XEmbed tray) and wait for the _NET_SYSTEM_TRAY_S0 owner."""
        from . import x11

        return x11.start_trayer(self)

    def open_window(self, *, title: str = "psoas test window",
                    fullscreen: bool = False) -> X11Window:
        """Open a real top-level window from a separate client process."""
        from . import x11

        return x11.open_window(self, title=title, fullscreen=fullscreen)

    def screenshot(self, path: str | os.PathLike[str]) -> Path:
        """Save the whole screen as a PNG at `path`; returns the path."""
        from . import x11

        return x11.screenshot(self, path)

