"""The local control channel: the CLI (and scripts) talking to the running app.

protocol.py   the request/reply language (pure: stdlib + core)
server.py     `ControlServer`, the app's side: one selector thread, handlers on workers
client.py     `send()`, the CLI's side, and `NotRunning`
pipe.py       the "pipe" transport: per-user key file, HMAC handshake, framed messages
windows.py    what only Windows has: the pipe's name and per-user DACL, cancelling I/O

One server and one client; the transport is the only difference:
    "unix"  an AF_UNIX socket in the per-user runtime dir, one JSON line each way
    "pipe"  multiprocessing.connection messages after an HMAC handshake with a per-user key:
            a per-user named pipe on Windows, the same AF_UNIX socket elsewhere (which is how
            the Windows code path is tested)

Pick the transport only through this module, so the app and the CLI always agree:

    server = make_control_server(paths, handler)                    # app (not started)
    reply = send_control(paths, {"cmd": "status"}, timeout_s=5.0)   # CLI
    control_backend()        "unix" on Linux/macOS, "pipe" on Windows; PSOAS_CONTROL_BACKEND=
                             unix|pipe overrides (an unknown value is ignored with a warning)
    control_address(paths)   the socket path (unix), or the pipe address: \\\\.\\pipe\\
                             psoas-break-<user SID> on Windows, <runtime>/control-pipe.sock else
    control_key_file(paths)  <runtime>/control.key, the pipe channel's per-user key
    diagnose(paths)          why a running app cannot be reached (something else at the socket
                             path, no socket), for the CLI and a second `run`; None if no app
                             runs or nothing looks wrong
"""

from __future__ import annotations

import os
import stat
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from psoas_break.adapters.backends import LINUX_BSD, MACOS, Candidate, first

if TYPE_CHECKING:
    from psoas_break.adapters.control.server import ControlServer
    from psoas_break.adapters.files.paths import AppPaths

BACKEND_ENV = "PSOAS_CONTROL_BACKEND"
PIPE_SOCKET_NAME = "control-pipe.sock"
KEY_FILE_NAME = "control.key"

_CANDIDATES = (
    Candidate("unix", lambda: "unix", (*LINUX_BSD, *MACOS)),
    Candidate("pipe", lambda: "pipe"),
)


def control_backend(
    env: Mapping[str, str] | None = None, platform: str | None = None
) -> str:
    """"unix" or "pipe": the environment override if valid, else the platform's channel."""
    backend, _choice = first("control", _CANDIDATES, env_var=BACKEND_ENV, env=env,
                             platform=platform)
    return backend


def control_address(paths: AppPaths, backend: str | None = None) -> str | Path:
    """Where the chosen channel listens: a socket path, or a pipe name on Windows."""
    backend = backend or control_backend()
    if backend == "unix":
        return paths.control_socket
    if sys.platform == "win32":  # pragma: no cover - Windows only
        from psoas_break.adapters.control.windows import windows_pipe_name, windows_user_id

        return windows_pipe_name(windows_user_id())
    return paths.runtime_dir / PIPE_SOCKET_NAME


def control_key_file(paths: AppPaths) -> Path:
    """The pipe channel's per-user key file (in the private runtime folder)."""
    return paths.runtime_dir / KEY_FILE_NAME


def _channel(paths: AppPaths) -> tuple[str | Path, Path | None]:
    """This system's (address, key file or None for the "unix" transport)."""
    backend = control_backend()
    key_file = control_key_file(paths) if backend == "pipe" else None
    return control_address(paths, backend), key_file


def make_control_server(
    paths: AppPaths, handler: Callable[[Any], dict[str, Any]], **options: Any
) -> ControlServer:
    """The app's control server for this system (not started). `options` go to its class."""
    from psoas_break.adapters.control.server import ControlServer

    address, key_file = _channel(paths)
    return ControlServer(address, handler, key_file=key_file, **options)


def send_control(
    paths: AppPaths, request: dict[str, Any], timeout_s: float = 5.0
) -> dict[str, Any]:
    """Send one request to the running app over this system's channel; return its reply.

    Raises client.NotRunning or another AdapterError (see client.py).
    """
    from psoas_break.adapters.control.client import send

    address, key_file = _channel(paths)
    return send(address, request, timeout_s=timeout_s, key_file=key_file)


def socket_problem(paths: AppPaths) -> str | None:
    """What is wrong at the control socket's path, seen from outside the app, or None."""
    from psoas_break.adapters.files.atomic_file import file_kind

    address = control_address(paths)
    if not isinstance(address, Path):
        return None  # a Windows pipe name: nothing on disk to look at
    try:
        st = os.lstat(address)
    except FileNotFoundError:
        return f"its control socket {address} is missing (its log says why)"
    except OSError as exc:
        return f"its control socket {address} cannot be reached: {exc.strerror or exc}"
    if not stat.S_ISSOCK(st.st_mode):
        return (f"{address} is {file_kind(st.st_mode)}, not its control socket: move it away "
                "and restart psoas-break")
    return None


def starting(paths: AppPaths) -> bool:
    """Whether an app holds the instance lock but does not answer yet, with nothing but a
    socket (or nothing) at its control path: it may be starting (the tray shows before the
    control channel listens, and a socket left by a crash is replaced only then), so a
    moment's wait helps. Something else at that path never goes away by waiting."""
    from psoas_break.adapters.files.single_instance import InstanceLock

    address = control_address(paths)
    if not isinstance(address, Path) or not paths.lock_file.exists():
        return False
    try:
        if not stat.S_ISSOCK(os.lstat(address).st_mode):
            return False
    except FileNotFoundError:
        pass
    except OSError:
        return False
    return InstanceLock(paths.lock_file).someone_holds()


def diagnose(paths: AppPaths) -> str | None:
    """One line when an app holds the instance lock but cannot be reached, else None."""
    from psoas_break.adapters.files.single_instance import InstanceLock

    if not paths.lock_file.exists():
        return None
    lock = InstanceLock(paths.lock_file)
    if not lock.someone_holds():
        return None
    problem = socket_problem(paths) or "it does not answer (it may still be starting)"
    pid = lock.owner_pid()
    who = (f"psoas-break is running (pid {pid})" if pid is not None else
           f"a process holds psoas-break's lock file {paths.lock_file}")
    return f"{who}, but {problem}"
