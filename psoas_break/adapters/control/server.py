"""`ControlServer`: the running app's end of the control channel (a Unix socket).

    server = ControlServer(paths.control_socket, handler)
    server.start()          # raises ControlServerError (str() is one line) if it cannot listen
    ...
    server.close()          # stops, lets replies in flight finish, removes the socket file

Contract:
- `handler(request) -> reply` receives only requests already validated and normalised by
  `protocol.parse_request` (a dict such as {"cmd": "snooze", "minutes": 10}) and returns a
  reply dict with a boolean "ok" (use `protocol.ok_reply` / `protocol.error_reply`). It is
  called on a per-connection worker thread, never on the accept thread, so a slow handler
  (one that waits ~2 s for the engine) blocks nobody else. At most `max_clients` connections
  are served at once; more get {"ok": false, "error": "busy ..."} at once. An exception in
  the handler is logged and becomes an error reply.
- One request per connection: the client sends one line (or one message and EOF) and reads
  one reply line. A request longer than `max_request_bytes`, or not complete within
  `read_timeout_s`, gets an error reply and the connection is closed; malformed JSON or an
  unknown command gets an error reply. Nothing a client sends stops the server.
- The socket lives in a folder only this user can enter (made 0700) and has mode 0600. It is
  bound under a temporary name, chmod-ed, then renamed into place, so it is never reachable
  with wider permissions; this avoids changing the process-wide umask while other threads run.
  Peers of another uid are refused (SO_PEERCRED on Linux, LOCAL_PEERCRED on macOS).
- `start()` replaces an existing socket file only if nobody answers on it (a stale file left
  by a killed app); if someone answers it raises `ControlServerError`. Take the single
  instance lock first: it is what keeps two apps from starting at the same time.
- Windows: CPython has no AF_UNIX there; `start()` raises `ControlUnavailable`. The planned
  equivalent is a per-user named pipe. The module imports everywhere.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import selectors
import socket
import stat
import struct
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from psoas_break.adapters.control.protocol import (
    MAX_REPLY_BYTES,
    MAX_REQUEST_BYTES,
    ProtocolError,
    answer_request,
    encode,
    error_reply,
)
from psoas_break.adapters.files.single_instance import InstanceLockError, ensure_private_dir

log = logging.getLogger(__name__)

Handler = Callable[[dict[str, Any]], dict[str, Any]]

# sun_path is 108 bytes on Linux and 104 on macOS (including the terminating NUL).
_MAX_SOCKET_PATH_BYTES = 103 if sys.platform == "darwin" else 107


class ControlServerError(Exception):
    """The control socket cannot be set up; str() is one plain line."""


class ControlUnavailable(ControlServerError):
    """This platform has no control channel yet (Windows)."""


class _Reject(Exception):
    """A request we answer with an error and then close the connection."""


class ControlServer:
    """Serves control requests on a Unix socket from its own daemon threads."""

    def __init__(
        self,
        path: Path,
        handler: Handler,
        *,
        read_timeout_s: float = 2.0,
        write_timeout_s: float = 2.0,
        max_request_bytes: int = MAX_REQUEST_BYTES,
        max_clients: int = 8,
        drain_timeout_s: float = 3.0,
    ) -> None:
        self.path = Path(path)
        self._handler = handler
        self._read_timeout_s = read_timeout_s
        self._write_timeout_s = write_timeout_s
        self._max_request_bytes = max_request_bytes
        self._max_clients = max_clients
        self._drain_timeout_s = drain_timeout_s
        self._listener: socket.socket | None = None
        self._wake_r: socket.socket | None = None
        self._wake_w: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self._identity: tuple[int, int] | None = None
        self._lock = threading.Lock()
        self._reading: set[socket.socket] = set()
        self._workers: set[threading.Thread] = set()
        self._closing = threading.Event()

    # ---- lifecycle ----

    def start(self) -> None:
        """Bind, listen and start serving. Raises ControlServerError / ControlUnavailable."""
        if self._thread is not None:
            return
        if not hasattr(socket, "AF_UNIX"):
            raise ControlUnavailable(
                "controlling the app from the command line is not available on this system yet"
            )
        try:
            ensure_private_dir(self.path.parent)
        except InstanceLockError as exc:
            raise ControlServerError(str(exc)) from exc
        self._check_existing()
        # os.urandom, not secrets: secrets imports hashlib and maps OpenSSL (~3 MiB RSS).
        tmp = self.path.with_name(f".{self.path.name}.{os.urandom(4).hex()}")
        if len(os.fsencode(tmp)) > _MAX_SOCKET_PATH_BYTES:
            raise ControlServerError(
                f"the control socket path is too long for this system: {self.path}"
            )
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            listener.bind(os.fsencode(tmp))
            os.chmod(tmp, 0o600)
            listener.listen(16)
            listener.setblocking(False)
            os.replace(tmp, self.path)
            st = os.lstat(self.path)
        except OSError as exc:
            listener.close()
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise ControlServerError(
                f"cannot listen on {self.path}: {exc.strerror or exc}"
            ) from exc
        self._identity = (st.st_dev, st.st_ino)
        self._listener = listener
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._thread = threading.Thread(
            target=self._accept_loop, name="psoas-control", daemon=True
        )
        self._thread.start()
        log.info("control socket listening on %s", self.path)

    def close(self) -> None:
        """Stop accepting, let replies in flight finish (bounded), remove our socket file."""
        if self._thread is None or self._closing.is_set():
            return
        self._closing.set()
        if self._wake_w is not None:
            with contextlib.suppress(OSError):
                self._wake_w.send(b"x")
        self._thread.join(timeout=5.0)
        self._remove_socket_file()
        if self._listener is not None:
            self._listener.close()
        with self._lock:
            reading = list(self._reading)
            workers = list(self._workers)
        for conn in reading:
            # Nobody waits on these yet: wake their recv() so the workers end now.
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        deadline = time.monotonic() + self._drain_timeout_s
        for worker in workers:
            worker.join(timeout=max(0.0, deadline - time.monotonic()))
        for s in (self._wake_r, self._wake_w):
            if s is not None:
                s.close()
        log.info("control socket closed")

    @property
    def active_connections(self) -> int:
        """Connections being served right now (for diagnostics and tests)."""
        with self._lock:
            return len(self._workers)

    def __enter__(self) -> ControlServer:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # ---- accept thread ----

    def _accept_loop(self) -> None:
        assert self._listener is not None and self._wake_r is not None
        with selectors.DefaultSelector() as sel:
            sel.register(self._listener, selectors.EVENT_READ, "accept")
            sel.register(self._wake_r, selectors.EVENT_READ, "wake")
            while not self._closing.is_set():
                try:
                    events = sel.select()
                except OSError:  # pragma: no cover - only if the selector itself breaks
                    log.exception("control server: select failed")
                    return
                for key, _mask in events:
                    if key.data == "wake":
                        return
                    self._accept_one()

    def _accept_one(self) -> None:
        assert self._listener is not None
        try:
            conn, _addr = self._listener.accept()
        except (BlockingIOError, InterruptedError):
            return
        except OSError as exc:
            log.warning("control server: accept failed: %s", exc)
            if exc.errno in (errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM):
                # The pending connection stays queued: back off instead of spinning.
                self._closing.wait(0.1)
            return
        try:
            conn.setblocking(True)
            with self._lock:
                busy = len(self._workers) >= self._max_clients
                if not busy:
                    worker = threading.Thread(
                        target=self._serve_connection, args=(conn,),
                        name="psoas-control-conn", daemon=True,
                    )
                    self._workers.add(worker)
                    self._reading.add(conn)
            if busy:
                self._send(conn, error_reply("busy: too many control connections; try again"),
                           timeout_s=0.2)
                conn.close()
                return
            worker.start()
        except Exception:  # never let one connection end the accept loop
            log.exception("control server: could not serve a connection")
            with self._lock:
                self._reading.discard(conn)
            conn.close()

    # ---- worker threads ----

    def _serve_connection(self, conn: socket.socket) -> None:
        try:
            refusal = self._refusal(conn)
            if refusal is not None:
                self._done_reading(conn)
                self._send(conn, error_reply(refusal), timeout_s=0.5)
                return
            try:
                data = self._read_request(conn)
            except _Reject as exc:
                self._done_reading(conn)
                self._send(conn, error_reply(str(exc)), timeout_s=0.5)
                return
            self._done_reading(conn)
            if data is None or self._closing.is_set():
                return
            self._send(conn, self._answer(data), timeout_s=self._write_timeout_s)
        except Exception:
            log.exception("control server: error while serving a connection")
        finally:
            self._done_reading(conn)
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
            conn.close()
            with self._lock:
                self._workers.discard(threading.current_thread())

    def _done_reading(self, conn: socket.socket) -> None:
        with self._lock:
            self._reading.discard(conn)

    def _read_request(self, conn: socket.socket) -> bytes | None:
        """One line (without its newline), or the bytes before EOF; None if nothing came.

        Raises _Reject when the line is too long or does not arrive before the deadline (one
        deadline for the whole request, so a client trickling bytes is dropped too).
        """
        limit = self._max_request_bytes
        deadline = time.monotonic() + self._read_timeout_s
        buf = bytearray()
        while True:
            newline = buf.find(b"\n")
            if newline >= 0:
                if newline > limit:
                    raise _Reject(f"request too large: at most {limit} bytes")
                return bytes(buf[:newline])
            if len(buf) > limit:
                raise _Reject(f"request too large: at most {limit} bytes")
            remaining_s = deadline - time.monotonic()
            if remaining_s <= 0:
                raise _Reject(
                    f"request timed out: send one JSON line within {self._read_timeout_s:g} s"
                )
            conn.settimeout(remaining_s)
            try:
                chunk = conn.recv(limit + 2 - len(buf))
            except TimeoutError:
                continue
            except OSError:
                return None
            if not chunk:
                return bytes(buf) if buf else None
            buf += chunk

    def _answer(self, data: bytes) -> dict[str, Any]:
        return answer_request(data, self._handler)

    def _send(self, conn: socket.socket, reply: dict[str, Any], timeout_s: float) -> None:
        try:
            data = encode(reply)
        except ProtocolError:
            log.error("control server: reply is not JSON-serialisable: %r", reply)
            data = encode(error_reply("internal error in psoas-break (reply not JSON)"))
        if len(data) > MAX_REPLY_BYTES:
            log.error("control server: reply too large (%d bytes)", len(data))
            data = encode(error_reply("internal error in psoas-break (reply too large)"))
        try:
            conn.settimeout(timeout_s)
            conn.sendall(data)
        except OSError as exc:  # the client went away or does not read: its problem
            log.debug("control server: could not send the reply: %s", exc)

    # ---- security ----

    def _refusal(self, conn: socket.socket) -> str | None:
        """None if the peer may talk to us, else the reason (one line)."""
        uid = _peer_uid(conn)
        if uid is None or uid == os.getuid():
            return None
        log.warning("control server: refused a connection from uid %d", uid)
        return "refused: this psoas-break belongs to another user"

    # ---- socket file ----

    def _check_existing(self) -> None:
        try:
            st = os.lstat(self.path)
        except FileNotFoundError:
            return
        except OSError as exc:
            raise ControlServerError(f"cannot inspect {self.path}: {exc.strerror}") from exc
        if not stat.S_ISSOCK(st.st_mode):
            raise ControlServerError(f"{self.path} exists and is not a socket; remove it")
        probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        probe.settimeout(1.0)
        try:
            probe.connect(os.fsencode(self.path))
        except (ConnectionRefusedError, FileNotFoundError):
            log.info("control server: replacing the stale socket %s", self.path)
            return
        except OSError as exc:
            raise ControlServerError(f"cannot check {self.path}: {exc.strerror or exc}") from exc
        finally:
            probe.close()
        raise ControlServerError(f"another psoas-break is answering on {self.path}")

    def _remove_socket_file(self) -> None:
        # Only our own file: if another app has since replaced it, it is not ours to remove.
        try:
            st = os.lstat(self.path)
        except OSError:
            return
        if (st.st_dev, st.st_ino) == self._identity:
            with contextlib.suppress(OSError):
                os.unlink(self.path)


def _peer_uid(conn: socket.socket) -> int | None:
    """The connecting process's uid, or None where the OS cannot tell us."""
    so_peercred = getattr(socket, "SO_PEERCRED", None)
    try:
        if so_peercred is not None:  # Linux: struct ucred {pid_t pid; uid_t uid; gid_t gid;}
            raw = conn.getsockopt(socket.SOL_SOCKET, so_peercred, struct.calcsize("3i"))
            _pid, uid, _gid = struct.unpack("3i", raw)
            return int(uid)
        if sys.platform == "darwin":  # pragma: no cover - macOS only
            # SOL_LOCAL=0, LOCAL_PEERCRED=1: struct xucred {u_int cr_version; uid_t cr_uid; ...}
            raw = conn.getsockopt(0, 1, 76)
            _version, uid = struct.unpack_from("=II", raw)
            return int(uid)
    except OSError as exc:  # pragma: no cover - rely on the 0700 folder and 0600 socket
        log.debug("control server: cannot read the peer's credentials: %s", exc)
    return None
