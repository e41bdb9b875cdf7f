"""Real Wayland compositors, headless, for tests: mutter 43, kwin_wayland 5.27, sway 1.7.

`running(kind, tmp, bus_address=...)` starts one and yields a `Compositor` once it accepts
clients, then stops it and checks nothing survived. No fixed sleeps:
- readiness is an event: kwin starts an "application" once it serves and sway runs a config
  `exec`, each writing a line into a FIFO we poll; mutter has neither, so its D-Bus names are
  awaited (a NameOwnerChanged match; it creates its socket before it takes them). Every name a
  test uses is awaited (mutter takes each on its own: RemoteDesktop came a few ms after
  IdleMonitor and a test calling it at once failed once in three runs);
- a compositor dying during start-up is noticed at once through a pidfd in the same poll;
- every wait has a deadline (30 s: a busy 2-core CI box can be slow) and a failure carries the
  compositor's log tail.

Isolation: the compositor's bus is the test desktop's session bus when `bus_address` is given
(the app under test, the fake notification server and the compositor then share it, as in a
real session), else a private dbus-daemon (own config, empty service dir). Own XDG_RUNTIME_DIR
(0700), HOME and XDG dirs in `tmp`; DISPLAY and WAYLAND_DISPLAY unset for the compositor.
`Compositor.client_env` is what a client needs: WAYLAND_DISPLAY as an absolute socket path
(libwayland accepts that), the bus address, and no DISPLAY.

Cheap on a shared CPU: sway renders with pixman, kwin with QPainter (KWIN_COMPOSE=Q: no
llvmpipe GL start-up), mutter with LP_NUM_THREADS=1 (its surfaceless renderer uses llvmpipe).

Set-up done here (root only; `available()` says why a kind cannot run):
- kwin_wayland: Debian ships it with the file capability cap_sys_resource, and exec then fails
  with EPERM in containers like CI's: `setcap -r` once (also in .ci/system-deps).
- sway refuses to run as root: as root it runs as the system user SWAY_USER (created with
  useradd when missing) through Popen(user=...); root clients still reach its socket. Not
  runuser: on SIGTERM runuser forwards it and then sleeps 2 s before exiting.
Every process gets PR_SET_PDEATHSIG, so a pytest killed hard takes the compositors with it.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import pwd
import select
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from .proc_figures import context_switches

SWAY_USER = "psoaswl"
DEFAULT_TIMEOUT_S = 30.0
KINDS = ("mutter", "kwin", "sway")
TOOLS = {"mutter": "mutter", "kwin": "kwin_wayland", "sway": "sway"}


class StartError(RuntimeError):
    """A compositor or bus did not come up; the message includes its log tail."""


@dataclass
class Compositor:
    """A running compositor: its socket, bus, processes and log."""

    kind: str
    socket: str
    bus_address: str
    tmp: Path
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)
    log_path: Path | None = None
    runtime_dir: Path | None = None
    startup_s: float = 0.0
    swaysock: str = ""
    own_bus: bool = True

    @property
    def main(self) -> subprocess.Popen[bytes]:
        """The compositor process (started last)."""
        return self.procs[-1]

    @property
    def client_env(self) -> dict[str, str]:
        """Environment for a Wayland client of this compositor (no DISPLAY, its bus)."""
        env = {k: v for k, v in os.environ.items()
               if k not in ("DISPLAY", "WAYLAND_DISPLAY", "WAYLAND_SOCKET", "XDG_SESSION_TYPE")}
        env["WAYLAND_DISPLAY"] = self.socket
        env["DBUS_SESSION_BUS_ADDRESS"] = self.bus_address
        env["XDG_RUNTIME_DIR"] = str(self.tmp / "client-rt")
        env["XDG_SESSION_TYPE"] = "wayland"
        return env

    def log_tail(self, lines: int = 30) -> str:
        if self.log_path is None or not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def kill(self) -> None:
        """SIGKILL the compositor only (its bus stays): what a crash looks like to clients."""
        _signal_group(self.main, signal.SIGKILL)
        self.main.wait(10)

    def stop(self) -> list[str]:
        """SIGTERM every process in reverse order, SIGKILL after 5 s; the survivors' names."""
        survivors = []
        for proc in reversed(self.procs):
            if proc.poll() is None:
                _signal_group(proc, signal.SIGTERM)
                try:
                    proc.wait(5)
                except subprocess.TimeoutExpired:
                    _signal_group(proc, signal.SIGKILL)
                    proc.wait(5)
                    survivors.append(str(proc.args))
        return survivors


def available(kind: str) -> str | None:
    """None when `kind` can be started here, else why not (a skip reason)."""
    tool = TOOLS[kind]
    if shutil.which(tool) is None:
        return f"{tool} is not installed (bash .ci/system-deps test)"
    root = os.geteuid() == 0
    if kind == "kwin" and not root and _has_file_caps(shutil.which(tool) or ""):
        return "kwin_wayland carries a file capability (exec fails here): run `setcap -r " \
               "/usr/bin/kwin_wayland` as root (.ci/system-deps test does)"
    return None


def _has_file_caps(path: str) -> bool:
    try:
        return bool(os.getxattr(path, "security.capability"))
    except OSError:
        return False


def _die_with_parent() -> None:
    """preexec_fn: SIGTERM when the test process dies, even by SIGKILL or a segfault (Linux ties
    it to the forking *thread*: start compositors from the main thread, as fixtures do)."""
    pr_set_pdeathsig = 1
    ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM, 0, 0, 0)


def _signal_group(proc: subprocess.Popen[bytes], sig: int) -> None:
    # Each process leads its own session: its helpers (kwin's notifier shell) go too.
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, sig)


def _wait_fifo(fifo: Path, proc: subprocess.Popen[bytes], timeout_s: float, what: str) -> str:
    """The first line written to `fifo`; StartError when `proc` exits or time runs out."""
    fd = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
    pidfd = os.pidfd_open(proc.pid)
    try:
        poller = select.poll()
        poller.register(fd, select.POLLIN)
        poller.register(pidfd, select.POLLIN)
        deadline = time.monotonic() + timeout_s
        data = b""
        while b"\n" not in data:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise StartError(f"{what}: no readiness signal within {timeout_s:g} s")
            events = dict(poller.poll(int(remaining * 1000) + 1))
            if fd in events:
                chunk = os.read(fd, 4096)
                data += chunk
                if not chunk and events[fd] & select.POLLHUP:
                    # a writer opened and closed without a line: wait for a real one
                    poller.unregister(fd)
                    os.close(fd)
                    fd = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
                    poller.register(fd, select.POLLIN)
            if pidfd in events:
                raise StartError(f"{what}: exited during start-up (status {proc.wait()})")
        return data.decode().strip()
    finally:
        os.close(fd)
        os.close(pidfd)


# ---- buses ----

_BUS_CONF = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:dir={dir}</listen>
  <auth>EXTERNAL</auth>
  <servicedir>{services}</servicedir>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
    <allow user="*"/>
  </policy>
</busconfig>
"""


def start_bus(tmp: Path, timeout_s: float = DEFAULT_TIMEOUT_S
              ) -> tuple[subprocess.Popen[bytes], str]:
    """A private session bus (process, address); ready once it prints its address. Any user
    may connect (sway runs as another one)."""
    for sub in ("bus-services", "bus"):
        (tmp / sub).mkdir(exist_ok=True)
    os.chmod(tmp / "bus", 0o755)
    conf = tmp / "bus.conf"
    conf.write_text(_BUS_CONF.format(dir=tmp / "bus", services=tmp / "bus-services"))
    read_fd, write_fd = os.pipe()
    proc = subprocess.Popen(
        ["dbus-daemon", "--nofork", f"--config-file={conf}", f"--print-address={write_fd}"],
        pass_fds=(write_fd,), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL, start_new_session=True, preexec_fn=_die_with_parent)
    os.close(write_fd)
    try:
        poller = select.poll()
        poller.register(read_fd, select.POLLIN)
        address = (os.read(read_fd, 4096).decode().strip()
                   if poller.poll(int(timeout_s * 1000)) else "")
    finally:
        os.close(read_fd)
    if not address:
        proc.kill()
        proc.wait(5)
        raise StartError("dbus-daemon printed no address")
    return proc, address


def wait_bus_name(address: str, name: str, proc: subprocess.Popen[bytes],
                  timeout_s: float = DEFAULT_TIMEOUT_S) -> None:
    """Block until `name` has an owner (a NameOwnerChanged match, then NameHasOwner to close
    the race); StartError when `proc` exits first or time runs out."""
    from jeepney import DBusAddress, MatchRule, new_method_call
    from jeepney.bus_messages import message_bus
    from jeepney.io.blocking import open_dbus_connection

    conn = open_dbus_connection(address)
    try:
        rule = MatchRule(type="signal", sender="org.freedesktop.DBus",
                         interface="org.freedesktop.DBus", member="NameOwnerChanged")
        rule.add_arg_condition(0, name)
        conn.send_and_get_reply(message_bus.AddMatch(rule), timeout=timeout_s)
        dbus = DBusAddress("/org/freedesktop/DBus", "org.freedesktop.DBus",
                           "org.freedesktop.DBus")
        with conn.filter(rule) as matches:
            reply = conn.send_and_get_reply(new_method_call(dbus, "NameHasOwner", "s", (name,)),
                                            timeout=timeout_s)
            if reply.body[0]:
                return
            deadline = time.monotonic() + timeout_s
            while True:
                remaining = deadline - time.monotonic()
                if remaining <= 0 or proc.poll() is not None:
                    raise StartError(f"{name} never appeared on the bus")
                try:  # short slices, so a dead compositor is noticed
                    msg = conn.recv_until_filtered(matches, timeout=min(remaining, 0.5))
                except TimeoutError:
                    continue
                if msg.body[2]:
                    return
    finally:
        conn.close()


# ---- compositors ----


def _env(tmp: Path, runtime: Path, bus: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("DISPLAY", "WAYLAND_DISPLAY", "WAYLAND_SOCKET", "XDG_SESSION_TYPE",
                        "SWAYSOCK", "XDG_CURRENT_DESKTOP")}
    home = tmp / "home"
    for sub in ("", ".config", ".local/share", ".cache"):
        (home / sub).mkdir(parents=True, exist_ok=True)
    env.update(HOME=str(home), XDG_CONFIG_HOME=str(home / ".config"),
               XDG_DATA_HOME=str(home / ".local/share"), XDG_CACHE_HOME=str(home / ".cache"),
               XDG_RUNTIME_DIR=str(runtime), DBUS_SESSION_BUS_ADDRESS=bus, NO_AT_BRIDGE="1",
               GSETTINGS_BACKEND="memory")
    return env


def _runtime_dir(tmp: Path, owner: pwd.struct_passwd | None = None) -> Path:
    runtime = tmp / "rt"
    runtime.mkdir(mode=0o700, exist_ok=True)
    os.chmod(runtime, 0o700)
    if owner is not None:
        os.chown(runtime, owner.pw_uid, owner.pw_gid)
    (tmp / "client-rt").mkdir(mode=0o700, exist_ok=True)
    return runtime


def _popen(argv: list[str], log_path: Path, **kw: object) -> subprocess.Popen[bytes]:
    with open(log_path, "ab") as log_file:
        return subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log_file,
                                stderr=subprocess.STDOUT, start_new_session=True,
                                preexec_fn=_die_with_parent, **kw)


def start_mutter(comp: Compositor, timeout_s: float) -> None:
    """mutter --headless --wayland --no-x11 with a virtual monitor."""
    runtime = _runtime_dir(comp.tmp)
    env = _env(comp.tmp, runtime, comp.bus_address)
    env["LP_NUM_THREADS"] = "1"
    comp.runtime_dir, comp.socket = runtime, str(runtime / "wayland-psoas")
    comp.procs.append(_popen(["mutter", "--headless", "--wayland", "--no-x11",
                              "--virtual-monitor", "1280x720", "--wayland-display",
                              "wayland-psoas"], comp.tmp / "mutter.log", env=env))
    for name in ("org.gnome.Mutter.IdleMonitor", "org.gnome.Mutter.RemoteDesktop"):
        wait_bus_name(comp.bus_address, name, comp.main, timeout_s)
    if not os.path.exists(comp.socket):
        raise StartError("mutter owns its bus names but has no Wayland socket")


def start_kwin(comp: Compositor, timeout_s: float, *, trusted_exe: str | None = None,
               lockscreen: bool = False) -> None:
    """kwin_wayland --virtual. `lockscreen`: keep KWin's screen locker (it then owns
    org.freedesktop.ScreenSaver). `trusted_exe`: an executable KWin lets bind its restricted
    globals (fake input), by KWin's own rule: a desktop file naming it (tests only)."""
    tool = shutil.which("kwin_wayland") or "/usr/bin/kwin_wayland"
    if os.geteuid() == 0 and _has_file_caps(tool):
        subprocess.run(["setcap", "-r", tool], check=True)
    runtime = _runtime_dir(comp.tmp)
    env = _env(comp.tmp, runtime, comp.bus_address)
    env.update(KWIN_COMPOSE="Q", QT_LOGGING_RULES="*.debug=false")
    if trusted_exe is not None:
        apps = Path(env["XDG_DATA_HOME"]) / "applications"
        apps.mkdir(parents=True, exist_ok=True)
        (apps / "psoas-test-input.desktop").write_text(
            "[Desktop Entry]\nType=Application\nName=psoas test input\n"
            f"Exec={trusted_exe}\nNoDisplay=true\n"
            "X-KDE-Wayland-Interfaces=org_kde_kwin_fake_input\n")
        # KWin looks the executable up in KService's sycoca cache: build it for this private
        # XDG_DATA_HOME first, or the lookup misses.
        subprocess.run(["kbuildsycoca5", "--noincremental"], env=env, check=False, timeout=60,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    comp.runtime_dir, comp.socket = runtime, str(runtime / "wayland-psoas")
    fifo = comp.tmp / "kwin-ready.fifo"
    fifo.unlink(missing_ok=True)  # from an earlier start in the same folder
    os.mkfifo(fifo)
    # The last argument is ONE command line KWin runs once it serves (`sh -c` as separate
    # words would be taken as KWin's own options).
    comp.procs.append(_popen(
        ["kwin_wayland", "--virtual", *([] if lockscreen else ["--no-lockscreen"]),
         "--no-global-shortcuts", "--socket", "wayland-psoas", "--width", "1280", "--height",
         "720", f'sh -c "echo up > {fifo}"'], comp.tmp / "kwin.log", env=env))
    _wait_fifo(fifo, comp.main, timeout_s, "kwin_wayland")
    if lockscreen:
        wait_bus_name(comp.bus_address, "org.freedesktop.ScreenSaver", comp.main, timeout_s)


def ensure_user(name: str = SWAY_USER) -> pwd.struct_passwd:
    """An unprivileged system user for sway (created once; harmless to keep)."""
    try:
        return pwd.getpwnam(name)
    except KeyError:
        subprocess.run(["useradd", "--system", "--no-create-home", "--shell",
                        "/usr/sbin/nologin", name], check=True)
        return pwd.getpwnam(name)


def start_sway(comp: Compositor, timeout_s: float) -> None:
    """sway headless (pixman); as root it runs as SWAY_USER. sway 1.7 cannot be told its
    socket name: the config's `exec` reports the one it took."""
    user = ensure_user() if os.geteuid() == 0 else None
    os.chmod(comp.tmp, 0o755)
    runtime = _runtime_dir(comp.tmp, owner=user)
    fifo = comp.tmp / "sway-ready.fifo"
    fifo.unlink(missing_ok=True)  # from an earlier start in the same folder
    os.mkfifo(fifo, 0o600)
    config = comp.tmp / "sway.config"
    config.write_text("xwayland disable\noutput HEADLESS-1 resolution 1280x720\n"
                      f"exec sh -c 'echo \"$WAYLAND_DISPLAY $SWAYSOCK\" > {fifo}'\n")
    os.chmod(config, 0o644)
    env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": str(runtime),
           "XDG_RUNTIME_DIR": str(runtime), "WLR_BACKENDS": "headless",
           "WLR_LIBINPUT_NO_DEVICES": "1", "WLR_RENDERER": "pixman",
           "DBUS_SESSION_BUS_ADDRESS": comp.bus_address}
    kw: dict[str, object] = {}
    if user is not None:
        os.chown(fifo, user.pw_uid, user.pw_gid)
        kw = {"user": user.pw_uid, "group": user.pw_gid, "extra_groups": []}
    comp.runtime_dir = runtime
    comp.procs.append(_popen(["sway", "-c", str(config)], comp.tmp / "sway.log", env=env,
                             cwd=str(runtime), **kw))
    name, comp.swaysock = _wait_fifo(fifo, comp.main, timeout_s, "sway").split()
    comp.socket = str(runtime / name)


def start(kind: str, tmp: Path, *, bus_address: str | None = None,
          timeout_s: float = DEFAULT_TIMEOUT_S, **kwargs: object) -> Compositor:
    """Start compositor `kind` in folder `tmp` (on `bus_address`, else a private bus)."""
    tmp.mkdir(parents=True, exist_ok=True)
    t0 = time.monotonic()
    procs: list[subprocess.Popen[bytes]] = []
    if bus_address is None:
        bus_proc, bus_address = start_bus(tmp, timeout_s)
        procs.append(bus_proc)
    comp = Compositor(kind, "", bus_address, tmp, procs, tmp / f"{kind}.log",
                      own_bus=bool(procs))
    try:
        if kind == "mutter":
            start_mutter(comp, timeout_s)
        elif kind == "kwin":
            start_kwin(comp, timeout_s, **kwargs)
        else:
            start_sway(comp, timeout_s)
    except Exception as exc:
        comp.stop()
        raise StartError(f"{kind}: {exc}\n{comp.log_tail()}") from None
    comp.startup_s = time.monotonic() - t0
    return comp


@contextlib.contextmanager
def running(kind: str, tmp: Path, **kwargs: object) -> Iterator[Compositor]:
    """Start a compositor (see `start`), yield it, stop it; fails when a process survived."""
    comp = start(kind, tmp, **kwargs)
    try:
        yield comp
    finally:
        survivors = comp.stop()
        if survivors:
            raise RuntimeError(f"processes survived SIGTERM: {survivors}")


@contextlib.contextmanager
def compositor(kind: str, **kwargs: object) -> Iterator[Compositor]:
    """Compositor `kind` in a short fresh folder (AF_UNIX paths must stay under 108 bytes),
    stopped afterwards. Skips where it cannot run here (a failure on CI)."""
    import tempfile

    import pytest

    why = available(kind)
    if why:
        if os.environ.get("CI"):
            pytest.fail(why)
        pytest.skip(why)
    tmp = Path(tempfile.mkdtemp(prefix=f"psoas-{kind}-"))
    try:
        with running(kind, tmp, **kwargs) as comp:
            yield comp
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def fixture(kind: str, **kwargs: object) -> Iterator[Compositor]:
    """Body of a pytest fixture: `yield from wayland.fixture("sway")`."""
    with compositor(kind, **kwargs) as comp:
        yield comp


def thread_figures(tid: int) -> tuple[int, float]:
    """(context switches, CPU seconds) of thread `tid` of this process, from /proc."""
    switches = context_switches(tid)
    with open(f"/proc/self/task/{tid}/stat") as fh:
        fields = fh.read().rsplit(")", 1)[1].split()
    return switches, (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
