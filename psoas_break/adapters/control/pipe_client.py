"""The CLI's end of the pipe control channel (see pipe_server.py): one request, one reply.

    reply = send(address, {"cmd": "status"}, timeout_s=5.0, key_file=runtime_dir / "control.key")

Errors are those of client.py (str() is one plain line):

    ControlError           talking to the app failed (timeout, refused, broken reply, ...)
     └── NotRunning        nothing listens: no pipe / socket, connection refused

A reply with "ok": false is returned, not raised: the caller shows its "error".

Timing: the handshake and the reply are each waited for with `conn.poll(remaining)`, so a
running app that does not answer costs at most about `timeout_s`. Opening the connection is
the library's: on Windows `PipeClient` retries for up to 20 s while every pipe instance is
busy (the server always keeps one waiting, so that needs a stuck app).
"""

from __future__ import annotations

import contextlib
import errno
import time
from multiprocessing.connection import Client
from pathlib import Path
from typing import Any

from psoas_break.adapters.control.client import ControlError, NotRunning
from psoas_break.adapters.control.pipe_common import (
    HandshakeError,
    KeyFileError,
    client_handshake,
    pipe_family,
    read_key,
)
from psoas_break.adapters.control.protocol import (
    MAX_REPLY_BYTES,
    ProtocolError,
    encode,
    parse_reply,
)

# connect() errors that mean "no app behind this address".
_NOT_RUNNING_ERRNOS = {errno.ENOENT, errno.ECONNREFUSED, errno.ENOTSOCK, errno.ENOTDIR}


def send(
    address: str | Path,
    request: dict[str, Any],
    timeout_s: float = 5.0,
    *,
    key_file: Path | None = None,
    family: str | None = None,
) -> dict[str, Any]:
    """Send `request` to the app listening on `address`; return its reply (a dict with "ok").

    `key_file` defaults to the per-user key in this user's runtime folder; `family` to the
    system's (AF_PIPE on Windows, else AF_UNIX). Raises NotRunning or ControlError.
    """
    family = family or pipe_family()
    if key_file is None:
        from psoas_break.adapters.control import control_key_file
        from psoas_break.adapters.files.paths import AppPaths

        key_file = control_key_file(AppPaths.default())
    try:
        data = encode(request)
    except ProtocolError as exc:
        raise ControlError(str(exc)) from None
    deadline_s = time.monotonic() + timeout_s
    try:
        conn = Client(str(address), family=family)
    except OSError as exc:
        if exc.errno in _NOT_RUNNING_ERRNOS:
            raise NotRunning(f"psoas-break is not running (no answer on {address})") from None
        if isinstance(exc, PermissionError):
            raise ControlError(
                f"cannot open {address}: permission denied (does it belong to another user?)"
            ) from None
        raise ControlError(f"cannot reach psoas-break: {exc.strerror or exc}") from None
    try:
        return _exchange(conn, data, key_file, deadline_s, timeout_s)
    finally:
        with contextlib.suppress(OSError):
            conn.close()


def _exchange(
    conn: Any, data: bytes, key_file: Path, deadline_s: float, timeout_s: float
) -> dict[str, Any]:
    try:
        key = read_key(key_file)
    except FileNotFoundError:
        raise ControlError(
            f"psoas-break answers but its control key {key_file} is missing; restart it"
        ) from None
    except KeyFileError as exc:
        raise ControlError(str(exc)) from None
    try:
        client_handshake(conn, key, deadline_s)
    except HandshakeError as exc:
        if exc.kind == "timeout":
            raise ControlError(f"psoas-break did not answer within {timeout_s:g} s") from None
        if exc.kind == "closed":
            raise ControlError(
                "psoas-break closed the connection (it may be busy); try again"
            ) from None
        if exc.kind == "refused":
            raise ControlError(
                "psoas-break refused the connection: the control key did not match "
                "(is it another user's psoas-break?)"
            ) from None
        raise ControlError(f"psoas-break refused the connection: {exc}") from None
    # It may have answered (e.g. an error) and closed: the reply is still readable.
    with contextlib.suppress(OSError):
        conn.send_bytes(data)
    remaining_s = deadline_s - time.monotonic()
    try:
        if remaining_s <= 0 or not conn.poll(remaining_s):
            raise ControlError(f"psoas-break did not answer within {timeout_s:g} s")
        raw: bytes = conn.recv_bytes(maxlength=MAX_REPLY_BYTES)
    except EOFError:
        raise ControlError("psoas-break closed the connection without answering") from None
    except OSError as exc:
        if not conn.closed and not conn.readable:
            raise ControlError("psoas-break sent a reply that is too large") from None
        raise ControlError(f"the connection to psoas-break broke: {exc}") from None
    try:
        return parse_reply(raw.partition(b"\n")[0])
    except ProtocolError as exc:
        raise ControlError(str(exc)) from None
