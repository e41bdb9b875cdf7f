"""A real gpsd (Debian's /usr/sbin/gpsd) fed NMEA through a pseudo-terminal at an exact pace.

    with PacedGpsd() as gpsd:                 # gpsd on a free port, its device a pty
        gpsd.idle(rest_fix, period_s=0.1)     # a parked receiver until the journey starts
        ... start the client, wait until it reads ...
        gpsd.play(fix_texts, period_s=0.033)  # fix k at t0 + k * period_s
        gpsd.wait_done(timeout_s)

Why not gpsfake (Debian gpsd-clients): it sleeps `-c` seconds before each sentence, so its
delays add up (a replay ran 2-17 % slow on this shared machine: a 25-minute stop measured as 29),
and the package pulls in 484 MB (matplotlib, scipy, GTK) for that one script. This does what
gpsfake does for gpsd (`gpsd -N -n -b -S PORT -F CTL DEVICE`, a pty as the device) and writes
fix k at t0 + k * period_s on absolute deadlines, so lateness never accumulates (measured:
-0.08 % drift, a write at most a few ms late). gpsd is the real daemon either way.

Private: its own port (never 2947, which a system gpsd.socket may own), its own control
socket, GPSD_SHM_KEY derived from the port as gpsfake does. gpsd drops root to its own user,
so the pty is made readable by everyone. "unable to connect to the DBUS system bus" on its
stderr is harmless. The device stays open and silent until `idle` or `play`: gpsd then
identifies it from the first sentences (about a second), which is why a test warms it up
with a parked receiver before the journey proper.
"""

from __future__ import annotations

import contextlib
import os
import pty
import shutil
import signal
import socket
import stat
import subprocess
import tempfile
import termios
import threading
import time
from collections.abc import Sequence

GPSD = "/usr/sbin/gpsd"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def gpsd_installed() -> bool:
    return os.access(shutil.which("gpsd") or GPSD, os.X_OK)


def raw_pty() -> tuple[int, int, str]:
    """A pseudo-terminal pair in raw mode (no echo, no CR/LF mangling): master, slave, path."""
    master, slave = pty.openpty()
    attrs = termios.tcgetattr(slave)
    attrs[0] = attrs[1] = attrs[3] = 0
    termios.tcsetattr(slave, termios.TCSANOW, attrs)
    return master, slave, os.ttyname(slave)


class PacedGpsd:
    """A private gpsd whose receiver is a pty this object writes into (see module docstring)."""

    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self.tmpdir = tempfile.mkdtemp(prefix="pacedgpsd-")
        self.proc: subprocess.Popen[bytes] | None = None
        self.master = self.slave = -1
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._done = threading.Event()
        self._idle: tuple[str, float] | None = None
        self._journey: tuple[list[str], float] | None = None
        self.late_s: list[float] = []  # per journey fix: how late its write was
        self.started_at: float | None = None  # monotonic time of the journey's fix 0
        self._thread: threading.Thread | None = None

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> PacedGpsd:
        self.master, self.slave, path = raw_pty()
        os.chmod(path, stat.S_IRUSR | stat.S_IWUSR | stat.S_IRGRP | stat.S_IWGRP
                 | stat.S_IROTH | stat.S_IWOTH)
        env = dict(os.environ, GPSD_SHM_KEY=f"0x4770{self.port:04X}")
        with open(os.path.join(self.tmpdir, "gpsd.err"), "wb") as err:
            self.proc = subprocess.Popen(
                [shutil.which("gpsd") or GPSD, "-N", "-n", "-b", "-S", str(self.port), "-F",
                 os.path.join(self.tmpdir, "gpsd.sock"), path],
                env=env, stdout=subprocess.DEVNULL, stderr=err, start_new_session=True)
        self._wait_banner()
        self._thread = threading.Thread(target=self._feed, daemon=True, name="paced-nmea")
        self._thread.start()
        return self

    def _wait_banner(self, timeout_s: float = 15.0) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise RuntimeError(f"gpsd exited {self.proc.returncode}: {self.stderr()}")
            with contextlib.suppress(OSError), socket.create_connection(
                    ("127.0.0.1", self.port), timeout=0.5) as sock:
                sock.settimeout(2.0)
                if sock.recv(200).startswith(b'{"class":"VERSION"'):
                    return
            time.sleep(0.05)
        raise TimeoutError(f"gpsd on port {self.port} did not answer in {timeout_s} s")

    def idle(self, text: str, period_s: float) -> None:
        """Write `text` (one fix) every `period_s` until `play` (or `silence`)."""
        with self._lock:
            self._idle = (text, period_s)
        self._wake.set()

    def silence(self) -> None:
        """The receiver stops sending (gpsd keeps the device open)."""
        with self._lock:
            self._idle = None
        self._wake.set()

    def play(self, fixes: Sequence[str], period_s: float) -> None:
        """Start the journey now: fix k at now + k * period_s; then silence."""
        with self._lock:
            self._journey = (list(fixes), period_s)
            self._idle = None
        self._done.clear()
        self._wake.set()

    def wait_done(self, timeout_s: float) -> bool:
        return self._done.wait(timeout_s)

    def _write(self, text: str) -> None:
        with contextlib.suppress(OSError):
            os.write(self.master, text.encode("ascii"))

    def _feed(self) -> None:
        while not self._stop.is_set():
            with self._lock:
                journey, self._journey = self._journey, None
                idle = self._idle
            if journey is not None:
                self._play(*journey)
                continue
            if idle is None:
                self._wake.wait()
                self._wake.clear()
                continue
            self._write(idle[0])
            if self._wake.wait(idle[1]):
                self._wake.clear()

    def _play(self, fixes: list[str], period_s: float) -> None:
        t0 = self.started_at = time.monotonic()
        for k, text in enumerate(fixes):
            due = t0 + k * period_s
            delay = due - time.monotonic()
            if delay > 0 and self._stop.wait(delay):
                return
            self.late_s.append(time.monotonic() - due)
            self._write(text)
        self._done.set()

    def stderr(self) -> str:
        with contextlib.suppress(OSError), open(os.path.join(self.tmpdir, "gpsd.err"),
                                                encoding="utf-8", errors="replace") as fh:
            return fh.read()
        return ""

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(5)
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)  # the group we made: gpsd alone
                self.proc.wait(5)
        for fd in (self.master, self.slave):
            if fd >= 0:
                os.close(fd)
        self.master = self.slave = -1
        shutil.rmtree(self.tmpdir, ignore_errors=True)

    def __enter__(self) -> PacedGpsd:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
