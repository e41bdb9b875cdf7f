"""The CLI's end of the control channel: send one request, read one reply, over either transport.

    reply = send(paths.control_socket, {"cmd": "status"}, timeout_s=5.0)          # "unix"
    reply = send(address, {"cmd": "status"}, key_file=runtime_dir / "control.key")  # "pipe"

Errors (str() is one plain line; the tree is drawn in ports.py):

    NotRunning      nothing listens: no socket or pipe, connection refused (exit code 3)
    DeliveryFailed  talking to the app failed (timeout, refused, broken reply, ...)
    StorageError    the pipe channel's key file cannot be used
    Unavailable     this system has no such channel (a Unix socket on Windows)

A reply with "ok": false is returned, not raised: the caller shows its "error".
Never blocks much longer than `timeout_s` in total. (Opening a Windows pipe whose every
instance is busy is the library's: it retries for up to 20 s, which needs a stuck app.)
"""

from __future__ import annotations

import contextlib
import errno
import os
import socket
import sys
import time
from pathlib import Path
from typing import Any

from psoas_break.adapters.control.protocol import (
    MAX_REPLY_BYTES,
    ProtocolError,
    encode,
    parse_reply,
)
from psoas_break.ports import DeliveryFailed, Unavailable

#: The base of every error `send` raises, under its old name (cli/control.py imports it).

# Errors from connect() that mean "no app behind this address".
_NOT_RUNNING_ERRNOS = {errno.ENOENT, errno.ECONNREFUSED, errno.ENOTSOCK, errno.ENOTDIR}


class NotRunning(DeliveryFailed):
    """No psoas-break answers on the control channel (the CLI exits with code 3)."""


def send(
    address: str | Path,
    request: dict[str, Any],
    timeout_s: float = 5.0,
    *,
    key_file: Path | None = None,
) -> dict[str, Any]:
    """Send `request` to the app at `address` and return its reply (a dict with "ok").

    `key_file` given: the "pipe" transport with that key, else "unix" (see server.py).
    Raises NotRunning, DeliveryFailed, StorageError or Unavailable (module docstring).
    """
    try:
        data = encode(request)
    except ProtocolError as exc:
        raise DeliveryFailed(str(exc)) from None
    deadline_s = time.monotonic() + timeout_s
    try:
        conn = _connect(str(address), key_file is not None, timeout_s)
    except OSError as exc:
        if exc.errno in _NOT_RUNNING_ERRNOS:
            raise NotRunning(f"psoas-break is not running (no answer on {address})") from None
        if isinstance(exc, PermissionError):
            raise DeliveryFailed(
                f"cannot open {address}: permission denied (does it belong to another user?)"
            ) from None
        if isinstance(exc, TimeoutError):
            raise DeliveryFailed(f"psoas-break did not accept within {timeout_s:g} s") from None
        raise DeliveryFailed(f"cannot reach psoas-break: {exc.strerror or exc}") from None
    try:
        if key_file is None:
            raw = _exchange_line(conn, data, deadline_s, timeout_s)
        else:
            from psoas_break.adapters.control import pipe

            raw = pipe.exchange(conn, data, key_file, deadline_s, timeout_s)
    finally:
        with contextlib.suppress(OSError):
            conn.close()
    try:
        return parse_reply(raw)
    except ProtocolError as exc:
        raise DeliveryFailed(str(exc)) from None


def _connect(address: str, pipe: bool, timeout_s: float) -> Any:
    """A connected AF_UNIX socket ("unix"), or the pipe transport's library connection."""
    if pipe and sys.platform == "win32":  # pragma: no cover - Windows only
        from psoas_break.adapters.control.pipe import connect

        return connect(address)
    if not hasattr(socket, "AF_UNIX"):
        raise Unavailable(
            "controlling psoas-break from the command line is not available on this system yet"
        )
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.settimeout(timeout_s)
        sock.connect(os.fsencode(address))
    except BaseException:
        sock.close()
        raise
    if not pipe:
        return sock
    from psoas_break.adapters.control.pipe import connect

    return connect(sock)


def _exchange_line(sock: socket.socket, data: bytes, deadline_s: float, timeout_s: float
                   ) -> bytes:
    """"unix": send the request line, return the reply line (without its newline)."""
    buf = bytearray()
    try:
        # The app may answer at once without reading (busy, refused) and close: its reply is
        # then still waiting to be read.
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            sock.sendall(data)
        while b"\n" not in buf:
            remaining_s = deadline_s - time.monotonic()
            if remaining_s <= 0:
                raise TimeoutError
            sock.settimeout(remaining_s)
            chunk = sock.recv(65536)
            if not chunk:
                if not buf:
                    raise DeliveryFailed("psoas-break closed the connection without answering")
                break
            buf += chunk
            if len(buf) > MAX_REPLY_BYTES:
                raise DeliveryFailed("psoas-break sent a reply that is too large")
    except TimeoutError:
        raise DeliveryFailed(f"psoas-break did not answer within {timeout_s:g} s") from None
    except OSError as exc:
        raise DeliveryFailed(
            f"the connection to psoas-break broke: {exc.strerror or exc}"
        ) from None
    return bytes(buf.split(b"\n", 1)[0])
