"""`PipeControlServer`: the running app's end of the control channel on Windows (a named pipe).

    server = PipeControlServer(address, handler, key_file=runtime_dir / "control.key")
    server.start()          # raises ControlServerError (str() is one line) if it cannot listen
    ...
    server.close()          # stops, lets replies in flight finish (bounded), frees the address

It is built on `multiprocessing.connection` from the standard library: family "AF_PIPE" (a
real named pipe, `\\\\.\\pipe\\psoas-break-<user SID>`) on Windows, and the very same code with
family "AF_UNIX" elsewhere, which is how it is tested on Linux (PSOAS_CONTROL_BACKEND=pipe).

Contract (the same as `server.ControlServer`):
- `handler(request) -> reply` receives only requests validated and normalised by
  `protocol.parse_request` and returns a dict with a boolean "ok". It runs on a per-connection
  worker thread, never on the accept thread. An exception in it is logged and becomes an
  error reply. At most `max_clients` connections are served at once; more are closed at once
  (the client reports "closed the connection"; nothing can be said before the handshake).
- One request per connection. After the handshake the client sends ONE message (via
  `send_bytes`) holding one JSON line, and reads one reply message (one JSON line). Only
  `send_bytes` / `recv_bytes` are used: nothing is ever unpickled. A message longer than
  `max_request_bytes` (+1 for the newline), a second line, or no request within
  `read_timeout_s` (one deadline for handshake + request, waited with `conn.poll`) gets an
  error reply and the connection is closed; malformed JSON or an unknown command gets an
  error reply. Nothing a client sends stops the server.
- A watchdog per connection aborts I/O that a `poll` cannot bound — an AF_UNIX client that
  sends a frame header and then stalls, or a client that never reads a reply: the socket is
  shut down (POSIX) or its pending I/O cancelled with CancelIoEx (Windows).

Who may talk to it:
- Every connection must pass `multiprocessing.connection`'s HMAC challenge-response in both
  directions with the per-user key from `key_file` (see pipe_common: KEY_BYTES random bytes,
  mode 0600 in the 0700 runtime folder; on Windows private through the profile's inherited
  ACL). A peer without the key is refused before its request is read, on both families.
- AF_UNIX: the socket file is mode 0600 in a 0700 folder, so other users cannot even connect.
- AF_PIPE: the first instance is created with FILE_FLAG_FIRST_PIPE_INSTANCE, so if any other
  process already holds the name, `start()` fails instead of sharing it. CreateNamedPipe with a
  NULL security descriptor (what `multiprocessing.connection.Listener` passes) gives the pipe
  the default DACL, which per Microsoft's "Named Pipe Security and Access Rights" "grant[s]
  full control to the LocalSystem account, administrators, and the creator owner" and "read
  access to members of the Everyone group and the anonymous account". Read access would let
  another user connect and read our challenge (harmless: it cannot answer without the key,
  and without write access it cannot even send). To narrow that anyway, the pipe is created
  through `_private_pipe_listener`: the library's PipeListener with its `_new_handle` swapped
  for one that passes a SECURITY_ATTRIBUTES built with ctypes from the SDDL
  "D:P(A;;GA;;;SY)(A;;GA;;;<user SID>)" (protected DACL: LocalSystem and this user only) and
  adds PIPE_REJECT_REMOTE_CLIENTS. Other instances are created by us against that DACL, so
  nobody else can add a server instance. If the SID or ctypes route fails, it falls back to the
  library's default DACL with a warning in the log; the key still keeps other users out.
  NOT verified on Windows here (no Windows machine); the AF_UNIX path is tested for real.
- Windows limits: an elevated app's pipe may carry a High integrity label that a non-elevated
  CLI cannot write to; the security descriptor is kept for the process's life (a few hundred
  bytes) rather than freed while instances may still be created.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import stat
import sys
import threading
import time
from collections.abc import Callable
from multiprocessing.connection import Client, Listener
from pathlib import Path
from typing import Any

from psoas_break.adapters.control.pipe_common import (
    SID_RE,
    HandshakeError,
    KeyFileError,
    load_or_create_key,
    pipe_family,
    server_handshake,
)
from psoas_break.adapters.control.protocol import (
    MAX_REPLY_BYTES,
    MAX_REQUEST_BYTES,
    ProtocolError,
    answer_request,
    encode,
    error_reply,
)
from psoas_break.adapters.control.server import ControlServerError
from psoas_break.adapters.files.single_instance import InstanceLockError, ensure_private_dir

log = logging.getLogger(__name__)

Handler = Callable[[dict[str, Any]], dict[str, Any]]

# Windows constants not all exported by _winapi.
_PIPE_REJECT_REMOTE_CLIENTS = 0x00000008
_ERROR_ACCESS_DENIED = 5
_BACKLOG = 16
# The watchdog fires this long after a deadline that poll() should already have enforced.
_WATCHDOG_GRACE_S = 1.0


class _Reject(Exception):
    """A request we answer with an error and then close the connection."""


def pipe_sddl(sid: str) -> str:
    """The SDDL of the pipe's protected DACL: full access for LocalSystem and `sid` only."""
    if not SID_RE.fullmatch(sid):
        raise ValueError(f"not a SID: {sid!r}")
    return f"D:P(A;;GA;;;SY)(A;;GA;;;{sid})"


class PipeControlServer:
    """Serves control requests over multiprocessing.connection from its own daemon threads."""

    def __init__(
        self,
        address: str | Path,
        handler: Handler,
        *,
        key_file: Path | None = None,
        family: str | None = None,
        read_timeout_s: float = 2.0,
        write_timeout_s: float = 2.0,
        max_request_bytes: int = MAX_REQUEST_BYTES,
        max_clients: int = 8,
        drain_timeout_s: float = 3.0,
    ) -> None:
        self.family = family or pipe_family()
        self.address = str(address)
        if key_file is None:
            from psoas_break.adapters.control import control_key_file
            from psoas_break.adapters.files.paths import AppPaths

            key_file = control_key_file(AppPaths.default())
        self.key_file = Path(key_file)
        self._handler = handler
        self._read_timeout_s = read_timeout_s
        self._write_timeout_s = write_timeout_s
        self._max_request_bytes = max_request_bytes
        self._max_clients = max_clients
        self._drain_timeout_s = drain_timeout_s
        self._key = b""
        self._listener: Any = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._workers: set[threading.Thread] = set()
        self._closing = threading.Event()
        self._keepalive: list[Any] = []  # ctypes security descriptor (Windows)

    # ---- lifecycle ----

    def start(self) -> None:
        """Create the key and the listener and start serving. Raises ControlServerError."""
        if self._thread is not None:
            return
        try:
            ensure_private_dir(self.key_file.parent)
            if self.family == "AF_UNIX":
                ensure_private_dir(Path(self.address).parent)
        except InstanceLockError as exc:
            raise ControlServerError(str(exc)) from exc
        if self.family == "AF_UNIX":
            self._claim_socket_path()
        # The listener first: if another app answers, its key must stay as it is.
        self._listener = self._listen()
        try:
            self._key = load_or_create_key(self.key_file)
        except KeyFileError as exc:
            self._listener.close()
            self._listener = None
            raise ControlServerError(str(exc)) from exc
        self._thread = threading.Thread(
            target=self._accept_loop, name="psoas-control-pipe", daemon=True
        )
        self._thread.start()
        log.info("control channel (%s) listening on %s", self.family, self.address)

    def close(self) -> None:
        """Stop accepting, let replies in flight finish (bounded), free the address."""
        if self._thread is None or self._closing.is_set():
            return
        self._closing.set()
        self._wake_accept()
        self._thread.join(timeout=5.0)
        if self._thread.is_alive():
            log.warning("control server: the accept thread did not stop")
        with contextlib.suppress(Exception):
            self._listener.close()  # AF_UNIX: also removes the socket file
        with self._lock:
            workers = [w for w in self._workers if w is not threading.current_thread()]
        deadline = time.monotonic() + self._drain_timeout_s
        for worker in workers:
            worker.join(timeout=max(0.0, deadline - time.monotonic()))
        log.info("control channel closed")

    @property
    def active_connections(self) -> int:
        """Connections being served right now (for diagnostics and tests)."""
        with self._lock:
            return len(self._workers)

    def __enter__(self) -> PipeControlServer:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # ---- listening ----

    def _listen(self) -> Any:
        if self.family == "AF_PIPE":  # pragma: no cover - Windows only
            return self._listen_pipe()
        try:
            listener = Listener(self.address, family=self.family, backlog=_BACKLOG)
        except OSError as exc:
            raise ControlServerError(
                f"cannot listen on {self.address}: {exc.strerror or exc}"
            ) from exc
        if self.family == "AF_UNIX":
            try:
                os.chmod(self.address, 0o600)  # the 0700 folder already keeps others out
            except OSError as exc:
                listener.close()
                raise ControlServerError(
                    f"cannot make {self.address} private: {exc.strerror or exc}"
                ) from exc
        return listener

    def _listen_pipe(self) -> Any:  # pragma: no cover - Windows only
        try:
            return _private_pipe_listener(self.address, self._keepalive)
        except PermissionError as exc:
            raise self._pipe_taken() from exc
        except Exception as exc:
            log.warning("control pipe: cannot set a per-user DACL (%s); using the default "
                        "one (the key still refuses other users)", exc)
        try:
            return Listener(self.address, family="AF_PIPE", backlog=_BACKLOG)
        except PermissionError as exc:
            raise self._pipe_taken() from exc
        except OSError as exc:
            raise ControlServerError(
                f"cannot listen on {self.address}: {exc.strerror or exc}"
            ) from exc

    def _pipe_taken(self) -> ControlServerError:
        # FILE_FLAG_FIRST_PIPE_INSTANCE: ERROR_ACCESS_DENIED when the name already exists.
        return ControlServerError(
            f"another psoas-break (or another program) already holds {self.address}"
        )

    def _claim_socket_path(self) -> None:
        """Remove a stale socket file; refuse if someone answers on it or it is no socket."""
        if sys.platform == "win32":  # pragma: no cover - no AF_UNIX family there
            raise ControlServerError("Unix sockets are not available on this system")
        path = self.address
        try:
            st = os.lstat(path)
        except FileNotFoundError:
            return
        except OSError as exc:
            raise ControlServerError(f"cannot inspect {path}: {exc.strerror}") from exc
        if not stat.S_ISSOCK(st.st_mode):
            raise ControlServerError(f"{path} exists and is not a socket; remove it")
        probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        probe.settimeout(1.0)
        try:
            probe.connect(path)
        except (ConnectionRefusedError, FileNotFoundError):
            log.info("control server: replacing the stale socket %s", path)
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)
            return
        except OSError as exc:
            raise ControlServerError(f"cannot check {path}: {exc.strerror or exc}") from exc
        finally:
            probe.close()
        raise ControlServerError(f"another psoas-break is answering on {path}")

    def _wake_accept(self) -> None:
        # accept() blocks with no timeout (a pipe's ConnectNamedPipe wait is INFINITE): a
        # connection of our own is what wakes it on both families.
        try:
            conn = Client(self.address, family=self.family)
        except Exception as exc:
            log.debug("control server: could not wake the accept thread: %s", exc)
            return
        conn.close()

    # ---- accept thread ----

    def _accept_loop(self) -> None:
        while not self._closing.is_set():
            try:
                conn = self._listener.accept()
            except Exception as exc:
                if self._closing.is_set():
                    return
                # e.g. EMFILE: the pending connection stays queued, so back off, don't spin.
                log.warning("control server: accept failed: %s", exc)
                self._closing.wait(0.1)
                continue
            if self._closing.is_set():
                conn.close()
                return
            try:
                self._dispatch(conn)
            except Exception:  # never let one connection end the accept loop
                log.exception("control server: could not serve a connection")
                with contextlib.suppress(Exception):
                    conn.close()

    def _dispatch(self, conn: Any) -> None:
        with self._lock:
            if len(self._workers) >= self._max_clients:
                busy = True
            else:
                busy = False
                worker = threading.Thread(
                    target=self._serve_connection, args=(conn,),
                    name="psoas-control-pipe-conn", daemon=True,
                )
                self._workers.add(worker)
        if busy:
            # Nothing can be said before the handshake: closing is the answer.
            log.warning("control server: too many connections; closing a new one")
            conn.close()
            return
        try:
            worker.start()
        except Exception:
            with self._lock:
                self._workers.discard(worker)
            raise

    # ---- worker threads ----

    def _serve_connection(self, conn: Any) -> None:
        watchdog = _Watchdog(conn)
        try:
            deadline_s = time.monotonic() + self._read_timeout_s
            watchdog.arm(self._read_timeout_s + _WATCHDOG_GRACE_S)
            try:
                server_handshake(conn, self._key, deadline_s)
            except HandshakeError as exc:
                log.warning("control server: refused a connection: %s", exc)
                return
            try:
                data = self._read_request(conn, deadline_s)
            except _Reject as exc:
                reply = error_reply(str(exc))
            else:
                if data is None or self._closing.is_set():
                    return
                watchdog.disarm()
                reply = self._answer(data)
            watchdog.arm(self._write_timeout_s)
            self._send(conn, reply)
        except Exception:
            if watchdog.fired:
                log.warning("control server: a connection took too long and was dropped")
            else:
                log.exception("control server: error while serving a connection")
        finally:
            watchdog.disarm()
            with contextlib.suppress(Exception):
                conn.close()
            with self._lock:
                self._workers.discard(threading.current_thread())

    def _read_request(self, conn: Any, deadline_s: float) -> bytes | None:
        """The request line (without its newline); None if the client went away.

        Raises _Reject when it is too long, has a second line or does not come in time.
        """
        limit = self._max_request_bytes
        remaining_s = deadline_s - time.monotonic()
        if remaining_s <= 0 or not conn.poll(remaining_s):
            raise _Reject(
                f"request timed out: send one JSON line within {self._read_timeout_s:g} s"
            )
        try:
            data: bytes = conn.recv_bytes(maxlength=limit + 1)
        except EOFError:
            return None
        except OSError:
            # recv_bytes marks the connection unreadable when the message exceeds maxlength.
            if not conn.closed and not conn.readable:
                raise _Reject(f"request too large: at most {limit} bytes") from None
            return None
        line, newline, rest = data.partition(b"\n")
        if len(line) > limit:
            raise _Reject(f"request too large: at most {limit} bytes")
        if newline and rest.strip():
            raise _Reject("send one JSON line per request")
        return line

    def _answer(self, data: bytes) -> dict[str, Any]:
        return answer_request(data, self._handler)

    def _send(self, conn: Any, reply: dict[str, Any]) -> None:
        try:
            data = encode(reply)
        except ProtocolError:
            log.error("control server: reply is not JSON-serialisable: %r", reply)
            data = encode(error_reply("internal error in psoas-break (reply not JSON)"))
        if len(data) > MAX_REPLY_BYTES:
            log.error("control server: reply too large (%d bytes)", len(data))
            data = encode(error_reply("internal error in psoas-break (reply too large)"))
        try:
            conn.send_bytes(data)
        except (OSError, EOFError) as exc:  # the client went away or does not read
            log.debug("control server: could not send the reply: %s", exc)


class _Watchdog:
    """Aborts a connection's blocking I/O if it is still armed when its timer fires."""

    def __init__(self, conn: Any) -> None:
        self._conn = conn
        self._lock = threading.Lock()
        self._timer: threading.Timer | None = None
        self.fired = False

    def arm(self, timeout_s: float) -> None:
        self.disarm()
        timer = threading.Timer(timeout_s, self._fire)
        timer.daemon = True
        with self._lock:
            self._timer = timer
        timer.start()

    def disarm(self) -> None:
        """Stop the timer; once this returns the connection is never touched by it again."""
        with self._lock:
            timer, self._timer = self._timer, None
        if timer is not None:
            timer.cancel()

    def _fire(self) -> None:
        # Under the lock, so the worker cannot close (and the OS reuse) the handle meanwhile:
        # the worker always disarms before it closes.
        with self._lock:
            if self._timer is not threading.current_thread():
                return
            self._timer = None
            self.fired = True
            try:
                _abort_io(self._conn)
            except Exception as exc:
                log.debug("control server: could not abort a connection: %s", exc)


def _abort_io(conn: Any) -> None:
    """Make a blocked recv_bytes/send_bytes on `conn` return with an error, from any thread."""
    handle = conn.fileno()
    if sys.platform == "win32":  # pragma: no cover - Windows only
        import ctypes

        ctypes_any: Any = ctypes  # typeshed declares WinDLL only on win32
        kernel32 = ctypes_any.WinDLL("kernel32", use_last_error=True)
        kernel32.CancelIoEx.argtypes = [ctypes.c_void_p, ctypes.c_void_p]
        kernel32.CancelIoEx(handle, None)
        return
    # shutdown() wakes a thread blocked in read()/write() on the socket; close() would not.
    # The family is read from the descriptor; the duplicate shares the socket.
    fd = os.dup(handle)
    try:
        sock = socket.socket(fileno=fd)
    except OSError:
        os.close(fd)
        raise
    with sock:
        sock.shutdown(socket.SHUT_RDWR)


def _private_pipe_listener(address: str, keepalive: list[Any]) -> Any:  # pragma: no cover
    """The library's PipeListener whose pipe instances get a per-user DACL (Windows only).

    Raises PermissionError if the pipe name exists (FILE_FLAG_FIRST_PIPE_INSTANCE), or
    RuntimeError / ValueError if the security descriptor cannot be built (the caller falls
    back to the library's default DACL).
    """
    import ctypes
    import importlib
    from ctypes import wintypes

    from psoas_break.adapters.control.pipe_common import windows_user_id

    # Any: typeshed only declares these on win32, and this runs only there.
    winapi: Any = importlib.import_module("_winapi")
    mpc: Any = importlib.import_module("multiprocessing.connection")
    ctypes_any: Any = ctypes
    sddl = pipe_sddl(windows_user_id())  # ValueError when only a user name was found

    class SecurityAttributes(ctypes.Structure):
        _fields_ = [
            ("nLength", wintypes.DWORD),
            ("lpSecurityDescriptor", ctypes.c_void_p),
            ("bInheritHandle", wintypes.BOOL),
        ]

    try:
        advapi32 = ctypes_any.WinDLL("advapi32", use_last_error=True)
        convert = advapi32.ConvertStringSecurityDescriptorToSecurityDescriptorW
        convert.argtypes = [wintypes.LPCWSTR, wintypes.DWORD, ctypes.POINTER(ctypes.c_void_p),
                            ctypes.c_void_p]
        convert.restype = wintypes.BOOL
        descriptor = ctypes.c_void_p()
        if not convert(sddl, 1, ctypes.byref(descriptor), None):  # 1 = SDDL_REVISION_1
            raise ctypes_any.WinError(ctypes_any.get_last_error())
    except Exception as exc:  # not a PermissionError for the caller: that means "name taken"
        raise RuntimeError(f"cannot build the security descriptor: {exc}") from exc
    attributes = SecurityAttributes(ctypes.sizeof(SecurityAttributes), descriptor.value, False)
    keepalive.extend([descriptor, attributes])
    attributes_ptr = ctypes.addressof(attributes)

    class PrivatePipeListener(mpc.PipeListener):  # type: ignore[misc]
        # Mirrors PipeListener._new_handle (3.8-3.13) with our security attributes (the
        # library passes NULL) and PIPE_REJECT_REMOTE_CLIENTS.
        def _new_handle(self, first: bool = False) -> int:
            flags = winapi.PIPE_ACCESS_DUPLEX | winapi.FILE_FLAG_OVERLAPPED
            if first:
                flags |= winapi.FILE_FLAG_FIRST_PIPE_INSTANCE
            handle: int = winapi.CreateNamedPipe(
                self._address, flags,
                winapi.PIPE_TYPE_MESSAGE | winapi.PIPE_READMODE_MESSAGE
                | winapi.PIPE_WAIT | _PIPE_REJECT_REMOTE_CLIENTS,
                winapi.PIPE_UNLIMITED_INSTANCES, mpc.BUFSIZE, mpc.BUFSIZE,
                winapi.NMPWAIT_WAIT_FOREVER, attributes_ptr,
            )
            return handle

    try:
        return PrivatePipeListener(address, _BACKLOG)
    except OSError as exc:
        if getattr(exc, "winerror", None) == _ERROR_ACCESS_DENIED:
            raise PermissionError(str(exc)) from exc
        raise
