"""`ControlServer`: the running app's end of the control channel, over either transport.

    server = ControlServer(paths.control_socket, handler)                        # "unix"
    server = ControlServer(address, handler, key_file=runtime_dir / "control.key")  # "pipe"
    server.start()          # raises StorageError (str() is one line) if it cannot listen
    ...
    server.close()          # stops, lets replies in flight finish, removes the socket file

The transport is the only difference between the two channels:
- "unix" (no key file; Linux and macOS): an AF_UNIX stream socket. The client sends one JSON
  line (or one message and EOF) and reads one reply line.
- "pipe" (a key file): `multiprocessing.connection`'s framed messages after its HMAC handshake
  in both directions with the per-user key (pipe.py). A named pipe on Windows (windows.py); the
  same AF_UNIX socket as "unix" elsewhere, which is how it is tested. Only send_bytes and
  recv_bytes are used: nothing is ever unpickled. A message holds one JSON line.

Contract:
- `handler(request) -> reply` receives only requests already validated and normalised:
  the raw request goes to `protocol.answer_request(data, handler)`, and what it returns is the
  reply written. The handler runs on a worker thread, at most `max_clients` at once, so a slow
  handler (one that waits ~2 s for the engine) blocks nobody else; a request that finds them
  all busy gets {"ok": false, "error": "busy ..."} at once.
- Until its request is complete, a connection is served by the one selector thread, without a
  thread of its own: an idle connection costs a file descriptor, never a worker, so idle
  connections cannot starve a real request. At most `max_pending` wait at once; past that the
  one waiting longest is dropped. Each must deliver its request within `read_timeout_s` (one
  deadline for the handshake and the request, so a client trickling bytes is dropped too), or
  it gets a "request timed out" error (before the handshake: it is closed).
- One request per connection. One longer than `max_request_bytes`, or a second line in a
  "pipe" message, gets an error reply and no more is read: what the client still sends is
  drained until it closes (POSIX), so its writes do not fail before it reads the reply.
  Malformed JSON or an unknown command gets an error reply. Nothing a client sends stops the
  server.
- No read or write blocks for long: on POSIX the socket carries kernel timeouts (a "pipe"
  message must arrive whole within _MESSAGE_WAIT_S of its first byte, a reply be taken within
  `write_timeout_s`); on Windows a message-mode pipe reports only whole messages, and a reply
  still unsent after `write_timeout_s` is cancelled (CancelIoEx).

Who may talk:
- POSIX: the socket lives in a folder only this user can enter (made 0700) and has mode 0600.
  It is bound under a temporary name, chmod-ed, then renamed into place, so it is never
  reachable with wider permissions; this avoids changing the process-wide umask while other
  threads run. Peers of another uid are refused (SO_PEERCRED on Linux, LOCAL_PEERCRED on
  macOS). `start()` replaces an existing socket file only if nobody answers on it (a stale
  file left by a killed app); if someone answers it raises. Take the single instance lock
  first: it is what keeps two apps from starting at the same time.
- "pipe": a connection must prove the key before its request is read. The key is read or made
  after the listener exists, so an app that finds another one listening leaves its key alone.
  Windows: the pipe's own DACL and first-instance flag, see windows.py.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import queue
import selectors
import socket
import stat
import struct
import sys
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from psoas_break.adapters.control.protocol import (
    MAX_REPLY_BYTES,
    MAX_REQUEST_BYTES,
    ProtocolError,
    answer_request,
    encode,
    error_reply,
)
from psoas_break.adapters.files.single_instance import ensure_private_dir
from psoas_break.core.errors import InputError
from psoas_break.ports import DeliveryFailed, StorageError, Unavailable

log = logging.getLogger(__name__)

#: What `protocol.answer_request` calls with the parsed request (the server only passes it on).
Handler = Callable[[Any], dict[str, Any]]

#: What start() raises (StorageError: cannot listen; Unavailable: no such transport here),
#: under the name app.py imports.

# sun_path is 108 bytes on Linux and 104 on macOS (including the terminating NUL).
_MAX_SOCKET_PATH_BYTES = 103 if sys.platform == "darwin" else 107
# A client writes each message at once: only a stalled one makes the selector wait this long.
_MESSAGE_WAIT_S = 0.5
_BACKLOG = 16


class _LineSession:
    """"unix": the request is one line, or the bytes before EOF."""

    can_speak = True

    def __init__(self, sock: socket.socket, limit: int) -> None:
        self.conn = sock
        self._limit = limit
        self._buf = bytearray()

    def feed(self) -> bytes | None:
        """Read what arrived: the request once complete, else None. Raises InputError (too
        large), EOFError (closed before sending anything) or OSError."""
        chunk = self.conn.recv(self._limit + 2 - len(self._buf))
        if not chunk and not self._buf:
            raise EOFError
        self._buf += chunk
        line, newline, _rest = self._buf.partition(b"\n")
        if len(line) > self._limit:
            raise InputError(f"request too large: at most {self._limit} bytes")
        return bytes(line) if newline or not chunk else None

    def send(self, data: bytes) -> None:
        self.conn.sendall(data)

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.conn.shutdown(socket.SHUT_RDWR)
        self.conn.close()


class _Drain:
    """A connection answered with an error while its client may still be sending: half-closed,
    it reads and drops the rest, so the client's writes do not fail before it reads the reply."""

    can_speak = False

    def __init__(self, sock: socket.socket) -> None:
        self.conn = sock

    def feed(self) -> bytes | None:
        if not self.conn.recv(65536):
            raise EOFError
        return None

    def send(self, data: bytes) -> None:
        """Nothing more is said."""

    def close(self) -> None:
        self.conn.close()


if TYPE_CHECKING:
    from psoas_break.adapters.control.pipe import PipeSession

    _Session = _LineSession | PipeSession | _Drain


class ControlServer:
    """Serves control requests from one selector thread; handlers run on worker threads."""

    def __init__(
        self,
        address: str | Path,
        handler: Handler,
        *,
        key_file: Path | None = None,
        read_timeout_s: float = 2.0,
        write_timeout_s: float = 2.0,
        max_request_bytes: int = MAX_REQUEST_BYTES,
        max_clients: int = 8,
        max_pending: int = 64,
        drain_timeout_s: float = 3.0,
    ) -> None:
        self.address = str(address)
        self.path = Path(address)
        self.key_file = Path(key_file) if key_file is not None else None
        self._handler = handler
        self._read_timeout_s = read_timeout_s
        self._write_timeout_s = write_timeout_s
        self._max_request_bytes = max_request_bytes
        self._max_clients = max_clients
        self._max_pending = max_pending
        self._drain_timeout_s = drain_timeout_s
        # A named pipe: only the "pipe" transport on Windows; everything else is a socket.
        self._pipe = key_file is not None and sys.platform == "win32"
        self._key = b""
        self._listener: Any = None
        self._identity: tuple[int, int] | None = None
        self._wake_r: Any = None
        self._wake_w: Any = None
        self._threads: list[threading.Thread] = []
        self._accepted: queue.SimpleQueue[Any] = queue.SimpleQueue()  # from the pipe acceptor
        self._pending: dict[Any, tuple[_Session, float]] = {}  # selector thread only
        self._lock = threading.Lock()
        self._workers: set[threading.Thread] = set()
        self._closing = threading.Event()
        self._keepalive: list[Any] = []  # the pipe's security descriptor (Windows)

    # ---- lifecycle ----

    def start(self) -> None:
        """Listen and start serving. Raises StorageError, or Unavailable for "unix" without
        AF_UNIX (Windows)."""
        if self._threads:
            return
        if not self._pipe and not hasattr(socket, "AF_UNIX"):
            raise Unavailable(
                "controlling the app from the command line is not available on this system yet"
            )
        folders = [] if self._pipe else [self.path.parent]
        for folder in folders + ([self.key_file.parent] if self.key_file else []):
            ensure_private_dir(folder)
        if self._pipe:  # pragma: no cover - Windows only
            from psoas_break.adapters.control import windows

            self._listener = windows.listen(self.address, self._keepalive)
        else:
            self._listener = self._listen_socket()
        if self.key_file is not None:
            from psoas_break.adapters.control.pipe import load_or_create_key

            try:
                self._key = load_or_create_key(self.key_file)
            except StorageError:
                self._close_listener()
                raise
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._start_thread(self._serve, "psoas-control")
        if self._pipe:  # pragma: no cover - Windows only
            self._start_thread(self._accept_pipes, "psoas-control-accept")
        log.info("control channel (%s) listening on %s",
                 "unix" if self.key_file is None else "pipe", self.address)

    def close(self) -> None:
        """Stop accepting, let replies in flight finish (bounded), remove our socket file."""
        if not self._threads or self._closing.is_set():
            return
        self._closing.set()
        self._wake()
        if self._pipe:  # pragma: no cover - Windows only
            # accept() waits on ConnectNamedPipe with no timeout: our own connection wakes it.
            from multiprocessing.connection import Client

            with contextlib.suppress(Exception):
                Client(self.address, family="AF_PIPE").close()
        for thread in self._threads:
            thread.join(timeout=5.0)
            if thread.is_alive():
                log.warning("control server: the %s thread did not stop", thread.name)
        self._close_listener()
        with self._lock:
            workers = [w for w in self._workers if w is not threading.current_thread()]
        deadline = time.monotonic() + self._drain_timeout_s
        for worker in workers:
            worker.join(timeout=max(0.0, deadline - time.monotonic()))
        for end in (self._wake_r, self._wake_w):
            end.close()
        log.info("control channel closed")

    @property
    def active_connections(self) -> int:
        """Connections open right now: waiting for their request or being answered."""
        with self._lock:
            return len(self._pending) + len(self._workers)

    def __enter__(self) -> ControlServer:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _start_thread(self, target: Callable[[], None], name: str) -> None:
        thread = threading.Thread(target=target, name=name, daemon=True)
        self._threads.append(thread)
        thread.start()

    def _wake(self) -> None:
        with contextlib.suppress(OSError):
            self._wake_w.send(b"x")

    # ---- the selector thread ----

    def _serve(self) -> None:
        pending = self._pending
        try:
            while not self._closing.is_set():
                deadline = min((d for _s, d in pending.values()), default=None)
                timeout = None if deadline is None else max(0.0, deadline - time.monotonic())
                waitables = [self._wake_r, *pending]
                if not self._pipe:
                    waitables.append(self._listener)
                for ready in _wait(waitables, timeout):
                    if ready is self._wake_r:
                        with contextlib.suppress(OSError):
                            self._wake_r.recv(4096)
                    elif ready is self._listener:
                        self._accept_sockets()
                    elif ready in pending:
                        self._read(ready)
                while not self._accepted.empty():
                    self._admit(self._accepted.get())
                now = time.monotonic()
                for conn, (session, deadline_s) in list(pending.items()):
                    if deadline_s <= now:
                        self._drop(conn)
                        self._finish(session, error_reply(
                            "request timed out: send one JSON line within "
                            f"{self._read_timeout_s:g} s"))
        except Exception:  # pragma: no cover - a bug here must still close the connections
            log.exception("control server: the selector thread failed")
        finally:
            for conn in list(pending):
                self._drop(conn).close()

    def _drop(self, conn: Any) -> _Session:
        with self._lock:
            return self._pending.pop(conn)[0]

    def _accept_sockets(self) -> None:
        while True:
            try:
                sock, _addr = self._listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:
                log.warning("control server: accept failed: %s", exc)
                if exc.errno in (errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM):
                    # The pending connection stays queued: back off instead of spinning.
                    self._closing.wait(0.1)
                return
            self._admit(sock)

    def _accept_pipes(self) -> None:  # pragma: no cover - Windows only
        while not self._closing.is_set():
            try:
                conn = self._listener.accept()
            except Exception as exc:
                if self._closing.is_set():
                    return
                log.warning("control server: accept failed: %s", exc)
                self._closing.wait(0.1)  # e.g. out of handles: back off, don't spin
                continue
            if self._closing.is_set():  # our own connection from close()
                conn.close()
                return
            self._accepted.put(conn)
            self._wake()

    def _admit(self, raw: Any) -> None:
        """Start serving a new connection (a socket, or a pipe connection on Windows)."""
        try:
            if isinstance(raw, socket.socket):
                raw.setblocking(True)
                _bound_io(raw, _MESSAGE_WAIT_S, self._write_timeout_s)
                refusal = _refusal(raw)
                if refusal is not None:
                    if self.key_file is None:
                        self._finish(_LineSession(raw, 0), error_reply(refusal))
                    else:
                        raw.close()
                    return
            if self.key_file is None:
                session: _Session = _LineSession(raw, self._max_request_bytes)
            else:
                from psoas_break.adapters.control import pipe

                conn = pipe.connect(raw) if isinstance(raw, socket.socket) else raw
                session = pipe.PipeSession(conn, self._key, self._max_request_bytes,
                                           self._write_timeout_s)
        except Exception as exc:  # never let one connection end the selector thread
            log.warning("control server: could not serve a connection: %s", exc)
            with contextlib.suppress(Exception):
                raw.close()
            return
        if len(self._pending) >= self._max_pending:
            log.warning("control server: %d connections sent nothing yet; dropping the oldest",
                        len(self._pending))
            self._drop(next(iter(self._pending))).close()
        with self._lock:
            self._pending[session.conn] = (session, time.monotonic() + self._read_timeout_s)

    def _read(self, conn: Any) -> None:
        session = self._pending[conn][0]
        try:
            request = session.feed()
        except InputError as exc:
            self._drop(conn)
            self._reject(session, str(exc))
            return
        except DeliveryFailed as exc:
            log.warning("control server: refused a connection: %s", exc)
            self._drop(conn).close()
            return
        except (EOFError, OSError):  # gone, or a stalled message
            self._drop(conn).close()
            return
        if request is None:
            return
        self._drop(conn)
        with self._lock:
            busy = len(self._workers) >= self._max_clients or self._closing.is_set()
            if not busy:
                worker = threading.Thread(target=self._answer, args=(session, request),
                                          name="psoas-control-answer", daemon=True)
                self._workers.add(worker)
        if busy:
            self._finish(session, error_reply("busy: too many control connections; try again"))
            return
        worker.start()

    def _reject(self, session: _Session, message: str) -> None:
        """Answer a bad request with `message`; then, on POSIX, drain what the client is still
        sending until it closes or the read deadline passes (see _Drain)."""
        if self._pipe:  # pragma: no cover - a message pipe has no half-close
            self._finish(session, error_reply(message))
            return
        try:
            session.send(_encoded(error_reply(message)))
            sock = socket.socket(fileno=os.dup(session.conn.fileno()))
        except OSError:
            session.close()
            return
        if isinstance(session.conn, socket.socket):
            session.conn.close()  # the socket stays open through `sock`
        else:
            session.close()
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_WR)
        sock.setblocking(False)
        with self._lock:
            self._pending[sock] = (_Drain(sock), time.monotonic() + self._read_timeout_s)

    # ---- workers ----

    def _answer(self, session: _Session, request: bytes) -> None:
        try:
            self._finish(session, answer_request(request, self._handler))
        finally:
            with self._lock:
                self._workers.discard(threading.current_thread())

    def _finish(self, session: _Session, reply: dict[str, Any]) -> None:
        """Send `reply` if the client may be told anything, then close."""
        try:
            if session.can_speak:
                session.send(_encoded(reply))
        except (OSError, EOFError) as exc:  # the client went away or does not read
            log.debug("control server: could not send the reply: %s", exc)
        finally:
            session.close()

    # ---- the socket file ----

    def _listen_socket(self) -> socket.socket:
        self._check_existing()
        # os.urandom, not secrets: secrets imports hashlib and maps OpenSSL (~3 MiB RSS).
        tmp = self.path.with_name(f".{self.path.name}.{os.urandom(4).hex()}")
        if len(os.fsencode(tmp)) > _MAX_SOCKET_PATH_BYTES:
            raise StorageError(f"the control socket path is too long for this system: {self.path}")
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            listener.bind(os.fsencode(tmp))
            os.chmod(tmp, 0o600)
            listener.listen(_BACKLOG)
            listener.setblocking(False)
            os.replace(tmp, self.path)
            st = os.lstat(self.path)
        except OSError as exc:
            listener.close()
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise StorageError(f"cannot listen on {self.path}: {exc.strerror or exc}") from exc
        self._identity = (st.st_dev, st.st_ino)
        return listener

    def _check_existing(self) -> None:
        try:
            st = os.lstat(self.path)
        except FileNotFoundError:
            return
        except OSError as exc:
            raise StorageError(f"cannot inspect {self.path}: {exc.strerror}") from exc
        if not stat.S_ISSOCK(st.st_mode):
            raise StorageError(f"{self.path} exists and is not a socket; remove it")
        probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        probe.settimeout(1.0)
        try:
            probe.connect(os.fsencode(self.path))
        except (ConnectionRefusedError, FileNotFoundError):
            log.info("control server: replacing the stale socket %s", self.path)
            return
        except OSError as exc:
            raise StorageError(f"cannot check {self.path}: {exc.strerror or exc}") from exc
        finally:
            probe.close()
        raise StorageError(f"another psoas-break is answering on {self.path}")

    def _close_listener(self) -> None:
        if self._listener is None:
            return
        self._listener.close()
        self._listener = None
        if self._pipe:  # pragma: no cover - a pipe's name is gone with its last handle
            return
        # Only our own file: if another app has since replaced it, it is not ours to remove.
        with contextlib.suppress(OSError):
            st = os.lstat(self.path)
            if (st.st_dev, st.st_ino) == self._identity:
                os.unlink(self.path)


def _wait(objects: Sequence[Any], timeout_s: float | None) -> list[Any]:
    """Those of `objects` (sockets, connections) that are readable, waiting up to timeout_s."""
    if sys.platform == "win32":  # pragma: no cover - pipe handles need the library's wait
        from multiprocessing.connection import wait

        return wait(objects, timeout_s)
    # poll(), not epoll: nothing to open and close each round (as multiprocessing does).
    with getattr(selectors, "PollSelector", selectors.SelectSelector)() as selector:
        for obj in objects:
            selector.register(obj, selectors.EVENT_READ)
        return [key.fileobj for key, _events in selector.select(timeout_s)]


def _encoded(reply: dict[str, Any]) -> bytes:
    try:
        data = encode(reply)
    except ProtocolError:
        log.error("control server: reply is not JSON-serialisable: %r", reply)
        data = encode(error_reply("internal error in psoas-break (reply not JSON)"))
    if len(data) > MAX_REPLY_BYTES:
        log.error("control server: reply too large (%d bytes)", len(data))
        data = encode(error_reply("internal error in psoas-break (reply too large)"))
    return data


def _bound_io(sock: socket.socket, recv_s: float, send_s: float) -> None:
    """Kernel timeouts on blocking reads and writes; they bound a Connection over `sock` too."""
    for option, seconds in ((socket.SO_RCVTIMEO, recv_s), (socket.SO_SNDTIMEO, send_s)):
        whole = int(seconds)
        timeval = struct.pack("@ll", whole, int((seconds - whole) * 1_000_000))
        sock.setsockopt(socket.SOL_SOCKET, option, timeval)


def _refusal(conn: socket.socket) -> str | None:
    """None if the peer may talk to us, else the reason (one line)."""
    uid = _peer_uid(conn)
    if uid is None or uid == os.getuid():
        return None
    log.warning("control server: refused a connection from uid %d", uid)
    return "refused: this psoas-break belongs to another user"


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
