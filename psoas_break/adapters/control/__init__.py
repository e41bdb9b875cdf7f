"""The local control channel: the CLI (and scripts) talking to the running app.

protocol.py     the request/reply language (pure: stdlib + core)
server.py       `ControlServer`, the app's side on Linux/macOS: a Unix socket in the per-user
                runtime dir (0600, peers of another uid refused)
client.py       `send()`, the CLI's side of that socket; the error classes of both channels
pipe_server.py  `PipeControlServer`, the app's side on Windows: a per-user named pipe through
                `multiprocessing.connection` (HMAC handshake with a per-user key); the same
                code runs over AF_UNIX elsewhere, which is how it is tested
pipe_client.py  `send()`, the CLI's side of that channel
pipe_common.py  pipe names, the per-user key file, the bounded handshake

Pick a channel only through this module, so the app and the CLI always agree:

    server = make_control_server(paths, handler)    # app: ControlServer | PipeControlServer
    reply = send_control(paths, {"cmd": "status"}, timeout_s=5.0)   # CLI
    control_backend()      "unix" on Linux/macOS, "pipe" on Windows (sys.platform == "win32");
                           PSOAS_CONTROL_BACKEND=unix|pipe overrides (pipe on Linux = AF_UNIX
                           through multiprocessing.connection, for tests)
    control_address(paths) the socket path (unix), or the pipe address: \\\\.\\pipe\\
                           psoas-break-<user SID> on Windows, <runtime>/control-pipe.sock else
    control_key_file(paths) <runtime>/control.key, the pipe channel's per-user key

Both servers raise `server.ControlServerError` from start() (str() is one line); both clients
raise `client.NotRunning` / `client.ControlError`. "unix" on Windows has no AF_UNIX and raises
the `ControlUnavailable` subclasses, as before.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from psoas_break.adapters.control.pipe_server import PipeControlServer
    from psoas_break.adapters.control.server import ControlServer
    from psoas_break.adapters.files.paths import AppPaths

log = logging.getLogger(__name__)

BACKEND_ENV = "PSOAS_CONTROL_BACKEND"
BACKENDS = ("unix", "pipe")
PIPE_SOCKET_NAME = "control-pipe.sock"
KEY_FILE_NAME = "control.key"


def control_backend(
    env: Mapping[str, str] | None = None, platform: str | None = None
) -> str:
    """"unix" or "pipe": the environment override if valid, else the platform's channel.

    An unknown override is ignored with one warning naming the allowed values.
    """
    env = os.environ if env is None else env
    platform = sys.platform if platform is None else platform
    wanted = env.get(BACKEND_ENV, "").strip().lower()
    if wanted in BACKENDS:
        return wanted
    if wanted:
        log.warning("%s=%r is not known; use one of: %s", BACKEND_ENV, env[BACKEND_ENV],
                    ", ".join(BACKENDS))
    return "pipe" if platform == "win32" else "unix"


def control_address(paths: AppPaths, backend: str | None = None) -> str | Path:
    """Where the chosen channel listens: a socket path, or a pipe name on Windows."""
    backend = backend or control_backend()
    if backend == "unix":
        return paths.control_socket
    if sys.platform == "win32":  # pragma: no cover - Windows only
        from psoas_break.adapters.control.pipe_common import windows_pipe_name, windows_user_id

        return windows_pipe_name(windows_user_id())
    return paths.runtime_dir / PIPE_SOCKET_NAME


def control_key_file(paths: AppPaths) -> Path:
    """The pipe channel's per-user key file (in the private runtime folder)."""
    return paths.runtime_dir / KEY_FILE_NAME


def make_control_server(
    paths: AppPaths, handler: Callable[[dict[str, Any]], dict[str, Any]], **options: Any
) -> ControlServer | PipeControlServer:
    """The app's control server for this system (not started). `options` go to its class."""
    backend = control_backend()
    if backend == "unix":
        from psoas_break.adapters.control.server import ControlServer

        return ControlServer(paths.control_socket, handler, **options)
    from psoas_break.adapters.control.pipe_server import PipeControlServer

    return PipeControlServer(control_address(paths, backend), handler,
                             key_file=control_key_file(paths), **options)


def send_control(
    paths: AppPaths, request: dict[str, Any], timeout_s: float = 5.0
) -> dict[str, Any]:
    """Send one request to the running app over this system's channel; return its reply.

    Raises client.NotRunning, client.ControlError (and ControlUnavailable where none exists).
    """
    backend = control_backend()
    if backend == "unix":
        from psoas_break.adapters.control.client import send

        return send(paths.control_socket, request, timeout_s=timeout_s)
    from psoas_break.adapters.control import pipe_client

    return pipe_client.send(control_address(paths, backend), request, timeout_s=timeout_s,
                            key_file=control_key_file(paths))
