"""Being the user on a real compositor: input it sees as a person's, and windows that go
fullscreen or inhibit idle.

- mutter: org.gnome.Mutter.RemoteDesktop (CreateSession, Start, NotifyPointerMotionRelative,
  NotifyKeyboardKeysym); bare mutter needs no dialog for it.
- sway: `wtype` (zwp_virtual_keyboard_manager_v1), as root with the absolute socket path.
- kwin 5.27: org_kde_kwin_fake_input is hidden unless KWin trusts the client's executable (a
  desktop file, see tests/desktop/kwin_fake_input.py): `KWinFakeInput` runs that helper with a
  private copy of the interpreter that `wayland.start(..., trusted_exe=...)` made KWin trust.
- `ToyWindow`: tests/desktop/toy_window.py as a child process, driven by lines.
"""

from __future__ import annotations

import contextlib
import os
import select
import shutil
import subprocess
import sys
import sysconfig
import time
from typing import Any

from tests.desktop.session import REPO_ROOT
from tests.desktop.wayland import Compositor

XK_SHIFT_L = 0xFFE1
DEADLINE_S = 10.0


class LineReader:
    """Lines from a child's stdout pipe, with deadlines. Not select() + readline(): when
    several lines come in one chunk, readline() keeps the rest in Python's buffer and the next
    select() waits for data that already arrived (a flaky miss seen while building this)."""

    def __init__(self, fd: int) -> None:
        self._fd = fd
        self._buf = b""

    def readline(self, timeout_s: float = DEADLINE_S) -> str | None:
        deadline = time.monotonic() + timeout_s
        while b"\n" not in self._buf:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            ready, _, _ = select.select([self._fd], [], [], remaining)
            if ready:
                chunk = os.read(self._fd, 4096)
                if not chunk:
                    return None
                self._buf += chunk
        line, self._buf = self._buf.split(b"\n", 1)
        return line.decode().strip()

    def wait_for_line(self, prefix: str, timeout_s: float = DEADLINE_S) -> bool:
        deadline = time.monotonic() + timeout_s
        while True:
            line = self.readline(max(0.0, deadline - time.monotonic()))
            if line is None:
                return False
            if line.startswith(prefix):
                return True


class MutterRemoteInput:
    """A RemoteDesktop session on Mutter that moves the pointer and taps keys."""

    def __init__(self, bus_address: str) -> None:
        from jeepney import DBusAddress
        from jeepney.io.blocking import open_dbus_connection

        self._conn = open_dbus_connection(bus_address)
        self._remote = DBusAddress("/org/gnome/Mutter/RemoteDesktop",
                                   "org.gnome.Mutter.RemoteDesktop",
                                   "org.gnome.Mutter.RemoteDesktop")
        self._monitor = DBusAddress("/org/gnome/Mutter/IdleMonitor/Core",
                                    "org.gnome.Mutter.IdleMonitor",
                                    "org.gnome.Mutter.IdleMonitor")
        (path,) = self._call(self._remote, "CreateSession")
        self._session = DBusAddress(path, "org.gnome.Mutter.RemoteDesktop",
                                    "org.gnome.Mutter.RemoteDesktop.Session")
        self._call(self._session, "Start")

    def _call(self, address: Any, member: str, signature: str | None = None,
              body: tuple[Any, ...] = ()) -> Any:
        from jeepney import MessageType, new_method_call

        reply = self._conn.send_and_get_reply(new_method_call(address, member, signature, body),
                                              timeout=DEADLINE_S)
        if reply.header.message_type == MessageType.error:
            raise RuntimeError(f"{member}: {reply.body}")
        return reply.body

    def idle_ms(self) -> int:
        return int(self._call(self._monitor, "GetIdletime")[0])

    def nudge_pointer(self) -> None:
        """Relative pointer motion, then one GetIdletime: it wakes Mutter's main loop, where
        its user-active watch fires (a headless quirk, see adapters/idle/mutter.py)."""
        self._call(self._session, "NotifyPointerMotionRelative", "dd", (3.0, 2.0))
        self.idle_ms()

    def tap_key(self, keysym: int = XK_SHIFT_L) -> None:
        self._call(self._session, "NotifyKeyboardKeysym", "ub", (keysym, True))
        self._call(self._session, "NotifyKeyboardKeysym", "ub", (keysym, False))
        self.idle_ms()

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self._call(self._session, "Stop")
        self._conn.close()


def sway_type(comp: Compositor, text: str = "x") -> None:
    """Type `text` on sway with wtype (virtual keyboard protocol)."""
    subprocess.run(["wtype", text], check=True, timeout=DEADLINE_S, capture_output=True,
                   env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"),
                        "WAYLAND_DISPLAY": comp.socket,
                        "XDG_RUNTIME_DIR": str(comp.tmp / "client-rt")})


def trusted_python(folder: str) -> str:
    """A copy of this interpreter at a path no other desktop file names, for KWin to trust."""
    target = os.path.join(folder, "psoas-fake-input-python")
    shutil.copy2(os.path.realpath(sys.executable), target)
    return target


class KWinFakeInput:
    """tests/desktop/kwin_fake_input.py run by the trusted interpreter copy."""

    def __init__(self, comp: Compositor, python_copy: str) -> None:
        site = sysconfig.get_paths()["purelib"]
        env = dict(comp.client_env, PYTHONPATH=os.pathsep.join([str(REPO_ROOT), site]))
        self._proc = subprocess.Popen(
            [python_copy, "-m", "tests.desktop.kwin_fake_input"], env=env,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1)
        assert self._proc.stdout is not None
        self._lines = LineReader(self._proc.stdout.fileno())
        line = self._lines.readline()
        if line != "ready":
            self.close()
            raise RuntimeError(f"fake input helper: {line or 'exited'}")

    def nudge_pointer(self) -> None:
        assert self._proc.stdin is not None
        self._proc.stdin.write("nudge\n")
        self._proc.stdin.flush()
        if self._lines.readline() != "ok":
            raise RuntimeError("the fake input helper did not answer")

    def close(self) -> None:
        if self._proc.stdin is not None:
            with contextlib.suppress(OSError):
                self._proc.stdin.close()
        try:
            self._proc.wait(5)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait(5)


class ToyWindow:
    """A tests/desktop/toy_window.py window on `comp`; `send()` drives it."""

    def __init__(self, comp: Compositor, *args: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tests.desktop.toy_window", *args],
            env=dict(comp.client_env, PYTHONPATH=str(REPO_ROOT)), stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, text=True, bufsize=1)
        assert self.proc.stdout is not None
        self.lines = LineReader(self.proc.stdout.fileno())

    def wait_mapped(self, timeout_s: float = DEADLINE_S) -> None:
        if not self.lines.wait_for_line("mapped", timeout_s):
            raise AssertionError("the toy window was not mapped")

    def send(self, command: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(command + "\n")
        self.proc.stdin.flush()

    def close(self) -> None:
        if self.proc.poll() is None:
            with contextlib.suppress(OSError):
                self.send("quit")
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
