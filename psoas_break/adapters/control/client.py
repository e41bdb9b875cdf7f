"""The CLI's end of the control channel: send one request, read one reply.

    reply = send(paths.control_socket, {"cmd": "status"}, timeout_s=5.0)

Errors (str() is one plain line):

    ControlError           talking to the app failed (timeout, broken reply, ...)
     ├── NotRunning        nothing listens: no socket file, connection refused, not a socket
     └── ControlUnavailable this system has no control channel yet (Windows)

A reply with "ok": false is returned, not raised: the caller shows its "error".
"""

from __future__ import annotations

import contextlib
import errno
import os
import socket
import time
from pathlib import Path
from typing import Any

from psoas_break.adapters.control.protocol import (
    MAX_REPLY_BYTES,
    ProtocolError,
    encode,
    parse_reply,
)

# Errors from connect() that mean "no app behind this path".
_NOT_RUNNING_ERRNOS = {errno.ENOENT, errno.ECONNREFUSED, errno.ENOTSOCK, errno.ENOTDIR}


class ControlError(Exception):
    """Talking to the running app failed; str() is one line."""


class NotRunning(ControlError):
    """No psoas-break is listening on the control socket."""


class ControlUnavailable(ControlError):
    """This platform has no control channel yet."""


def send(path: Path, request: dict[str, Any], timeout_s: float = 5.0) -> dict[str, Any]:
    """Send `request` to the app listening on `path` and return its reply (a dict with "ok").

    Raises NotRunning, ControlUnavailable or ControlError; never blocks longer than about
    `timeout_s` in total.
    """
    if not hasattr(socket, "AF_UNIX"):
        raise ControlUnavailable(
            "controlling psoas-break from the command line is not available on this system yet"
        )
    try:
        data = encode(request)
    except ProtocolError as exc:
        raise ControlError(str(exc)) from None
    deadline = time.monotonic() + timeout_s
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.settimeout(timeout_s)
        try:
            sock.connect(os.fsencode(path))
        except OSError as exc:
            if exc.errno in _NOT_RUNNING_ERRNOS:
                raise NotRunning(f"psoas-break is not running (no answer on {path})") from None
            if isinstance(exc, TimeoutError):
                raise ControlError(f"psoas-break did not accept within {timeout_s:g} s") from None
            raise ControlError(f"cannot reach psoas-break: {exc.strerror or exc}") from None
        try:
            # The app may answer at once without reading (busy, refused) and close: its
            # reply is then still waiting to be read.
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                sock.sendall(data)
            buf = _read_line(sock, deadline, timeout_s)
        except TimeoutError:
            raise ControlError(f"psoas-break did not answer within {timeout_s:g} s") from None
        except OSError as exc:
            raise ControlError(
                f"the connection to psoas-break broke: {exc.strerror or exc}"
            ) from None
    finally:
        sock.close()
    try:
        return parse_reply(buf)
    except ProtocolError as exc:
        raise ControlError(str(exc)) from None


def _read_line(sock: socket.socket, deadline: float, timeout_s: float) -> bytes:
    buf = bytearray()
    while b"\n" not in buf:
        remaining_s = deadline - time.monotonic()
        if remaining_s <= 0:
            raise TimeoutError
        sock.settimeout(remaining_s)
        chunk = sock.recv(65536)
        if not chunk:
            if not buf:
                raise ControlError("psoas-break closed the connection without answering")
            break
        buf += chunk
        if len(buf) > MAX_REPLY_BYTES:
            raise ControlError("psoas-break sent a reply that is too large")
    return bytes(buf.split(b"\n", 1)[0])
