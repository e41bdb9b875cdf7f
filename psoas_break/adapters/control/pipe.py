"""The "pipe" transport: multiprocessing.connection messages after an HMAC handshake.

Imported only when that transport is used (multiprocessing costs the idle app ~3 MiB RSS).

    load_or_create_key(path)     server: the per-user key, made if missing or not private
    read_key(path)               client: the key; FileNotFoundError, or StorageError if unusable
    connect(socket or pipe name) a library connection, for either side
    PipeSession(conn, key, ...)  server: one connection, fed one message at a time
    exchange(conn, data, ...)    client: handshake, one request message, one reply message

Messages are framed by the library (`send_bytes` / `recv_bytes(maxlength)`); nothing is ever
pickled. Each connection opens with the library's challenge-response handshake in both
directions, keyed by the per-user secret, so the server proves it knows the key too; then one
message holds one JSON line each way.

The key file holds KEY_BYTES random bytes. It is created with O_EXCL in mode 0600 under a
temporary name and renamed into place, in the runtime folder that `ensure_private_dir` keeps
0700. On Windows the mode bits mean nothing: the file is private because the runtime folder
(platformdirs: under %LOCALAPPDATA%) inherits the user profile's ACL, which grants only the
user, SYSTEM and Administrators.

Both sides run the library's own `deliver_challenge` / `answer_challenge`, so the digest is
whatever this Python's library uses. The client runs them on its connection, each receive
bounded by the deadline. The server does not wait inside them (one thread serves every
connection until its request is in): it runs them on a scripted stand-in connection to learn
the challenge to send and the answers to expect, and checks the real messages as they come.
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
from multiprocessing import AuthenticationError
from multiprocessing.connection import Client, Connection, answer_challenge, deliver_challenge
from pathlib import Path
from typing import Any, Protocol

from psoas_break.adapters.control.protocol import MAX_REPLY_BYTES
from psoas_break.core.errors import InputError
from psoas_break.ports import DeliveryFailed, StorageError

log = logging.getLogger(__name__)

KEY_BYTES = 32
# multiprocessing.connection's wire constants (the same in every Python version).
WELCOME = b"#WELCOME#"
FAILURE = b"#FAILURE#"
#: Longest handshake message read (the library's own limit).
HANDSHAKE_BYTES = 256


class _Conn(Protocol):
    def send_bytes(self, buf: bytes) -> None: ...
    def recv_bytes(self, maxlength: int | None = None) -> bytes: ...
    def poll(self, timeout: float | None = 0.0) -> bool: ...


# ---- the per-user key ----


def load_or_create_key(path: Path) -> bytes:
    """The server's key: read from `path` if it is private and well-formed, else a new one.

    A file that another user owns, that others may read, or that has the wrong size is not
    trusted: it is replaced (atomically) by a fresh random key. The folder must exist and be
    private already. Raises StorageError.
    """
    try:
        return read_key(path)
    except FileNotFoundError:
        pass
    except StorageError as exc:
        log.warning("replacing the control key: %s", exc)
    key = os.urandom(KEY_BYTES)
    tmp = path.with_name(f".{path.name}.{os.urandom(4).hex()}")
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    try:
        fd = os.open(tmp, flags | getattr(os, "O_BINARY", 0), 0o600)
        try:
            if sys.platform != "win32":
                os.fchmod(fd, 0o600)  # exactly 0600, whatever the umask
            os.write(fd, key)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise StorageError(f"cannot write the control key {path}: {exc.strerror or exc}") from exc
    return key


def read_key(path: Path) -> bytes:
    """The key in `path`. Raises FileNotFoundError if there is none, StorageError if it is
    not a private regular file of this user with exactly KEY_BYTES bytes."""
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_BINARY", 0)
    try:
        fd = os.open(path, flags)
    except FileNotFoundError:
        raise
    except OSError as exc:
        raise StorageError(f"cannot read the control key {path}: {exc.strerror or exc}") from exc
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise StorageError(f"the control key {path} is not a regular file")
        if sys.platform != "win32":
            if st.st_uid != os.getuid():
                raise StorageError(f"the control key {path} belongs to another user")
            if stat.S_IMODE(st.st_mode) & 0o077:
                raise StorageError(
                    f"the control key {path} is readable by others "
                    f"(mode {stat.S_IMODE(st.st_mode):o}); only 600 is allowed"
                )
        data = os.read(fd, KEY_BYTES + 1)
    finally:
        os.close(fd)
    if len(data) != KEY_BYTES:
        raise StorageError(f"the control key {path} has the wrong size")
    return data


# ---- the handshake ----


class _Script:
    """A stand-in connection for the library's handshake functions: it hands them the given
    messages, keeps what they send, and ends them (EOFError) when it has nothing more."""

    def __init__(self, *incoming: bytes) -> None:
        self.incoming = list(incoming)
        self.sent: list[bytes] = []

    def send_bytes(self, buf: bytes) -> None:
        self.sent.append(bytes(buf))

    def recv_bytes(self, maxlength: int | None = None) -> bytes:
        if not self.incoming:
            raise EOFError
        return self.incoming.pop(0)


def _sent(step: Callable[[Any, bytes], None], key: bytes, *incoming: bytes) -> bytes:
    """The first message the library's `step` sends when it is given `incoming`."""
    script = _Script(*incoming)
    try:
        step(script, key)
    except EOFError:
        pass
    except (AuthenticationError, AssertionError, ValueError) as exc:
        # AssertionError: Python <= 3.11's answer_challenge asserts the challenge prefix.
        raise DeliveryFailed(
            f"the control key did not match ({exc or type(exc).__name__})"
        ) from None
    return script.sent[0]


class PipeSession:
    """The server's side of one connection: the handshake, then one message holding one JSON
    line. `feed()` is called each time a message is waiting; nothing here waits for one.

    can_speak: False until the client proved the key (nothing is said to it before).
    """

    def __init__(self, conn: Any, key: bytes, limit: int, write_timeout_s: float) -> None:
        self.conn = conn
        self.can_speak = False
        self._key = key
        self._limit = limit
        self._write_timeout_s = write_timeout_s
        self._step = 0
        challenge = _sent(deliver_challenge, key)
        self._expected = _sent(answer_challenge, key, challenge)
        conn.send_bytes(challenge)

    def feed(self) -> bytes | None:
        """Take the waiting message: the request once the handshake is done, else None.
        Raises DeliveryFailed (the key did not match), InputError (a request that is too
        long or has a second line), EOFError or OSError."""
        if not self.can_speak:
            self._handshake(self.conn.recv_bytes(HANDSHAKE_BYTES))
            return None
        too_large = InputError(f"request too large: at most {self._limit} bytes")
        try:
            data: bytes = self.conn.recv_bytes(self._limit + 1)
        except OSError:
            # recv_bytes marks the connection unreadable when the message exceeds maxlength.
            if not self.conn.closed and not self.conn.readable:
                raise too_large from None
            raise
        line, newline, rest = data.partition(b"\n")
        if len(line) > self._limit:
            raise too_large
        if newline and rest.strip():
            raise InputError("send one JSON line per request")
        return line

    def _handshake(self, message: bytes) -> None:
        import hmac  # here: it maps OpenSSL, which the "unix" transport never needs

        self._step += 1
        if self._step == 1:  # the client's answer to our challenge
            if not hmac.compare_digest(message, self._expected):
                self.conn.send_bytes(FAILURE)
                raise DeliveryFailed("the control key did not match")
            self.conn.send_bytes(WELCOME)
        elif self._step == 2:  # the client's own challenge
            self.conn.send_bytes(_sent(answer_challenge, self._key, message, WELCOME))
        elif message != WELCOME:  # the client's verdict on our answer
            raise DeliveryFailed("the client did not accept our answer")
        else:
            self.can_speak = True

    def send(self, data: bytes) -> None:
        """Send one reply message; bounded by the socket's SO_SNDTIMEO (POSIX) or cancelled
        after `write_timeout_s` (Windows)."""
        if sys.platform != "win32":
            self.conn.send_bytes(data)
            return
        from psoas_break.adapters.control.windows import cancel_io  # pragma: no cover

        timer = threading.Timer(self._write_timeout_s, cancel_io, (self.conn,))
        timer.start()
        try:
            self.conn.send_bytes(data)
        finally:
            timer.cancel()
            timer.join()  # never cancel I/O on a handle that close() may hand to someone else

    def close(self) -> None:
        self.conn.close()


class _DeadlineConn:
    """The client's connection for the library's handshake: each receive waits at most until
    the deadline (monotonic seconds), then raises TimeoutError."""

    def __init__(self, conn: _Conn, deadline_s: float) -> None:
        self._conn = conn
        self._deadline_s = deadline_s

    def send_bytes(self, buf: bytes) -> None:
        self._conn.send_bytes(buf)

    def recv_bytes(self, maxlength: int | None = None) -> bytes:
        remaining_s = self._deadline_s - time.monotonic()
        if remaining_s <= 0 or not self._conn.poll(remaining_s):
            raise TimeoutError
        return self._conn.recv_bytes(maxlength)


def connect(target: socket.socket | str) -> Any:
    """A library connection over `target`: a connected AF_UNIX socket (either side), or a
    pipe name to open (the client on Windows)."""
    if isinstance(target, str):  # pragma: no cover - Windows only
        return Client(target, family="AF_PIPE")
    target.setblocking(True)
    return Connection(target.detach())


def exchange(conn: Any, data: bytes, key_file: Path, deadline_s: float, timeout_s: float
             ) -> bytes:
    """The client's side: prove the key, send the request `data`, return the reply line.

    Raises DeliveryFailed (str() says what happened) or StorageError (the key file)."""
    try:
        key = read_key(key_file)
    except FileNotFoundError:
        raise DeliveryFailed(
            f"psoas-break answers but its control key {key_file} is missing; restart it"
        ) from None
    late = DeliveryFailed(f"psoas-break did not answer within {timeout_s:g} s")
    try:
        # Any: typeshed wants a real Connection; the library only calls send_bytes/recv_bytes.
        bounded: Any = _DeadlineConn(conn, deadline_s)
        answer_challenge(bounded, key)
        deliver_challenge(bounded, key)
    except TimeoutError:
        raise late from None
    except EOFError:
        raise DeliveryFailed("psoas-break closed the connection (it may be busy); try again"
                             ) from None
    except AuthenticationError:
        raise DeliveryFailed("psoas-break refused the connection: the control key did not "
                             "match (is it another user's psoas-break?)") from None
    # AssertionError: Python <= 3.11's answer_challenge asserts the challenge prefix.
    except (OSError, ValueError, AssertionError) as exc:
        raise DeliveryFailed("psoas-break refused the connection: the authentication "
                             f"handshake failed: {exc or type(exc).__name__}") from None
    # It may have answered (e.g. an error) and closed: the reply is still readable.
    with contextlib.suppress(OSError):
        conn.send_bytes(data)
    remaining_s = deadline_s - time.monotonic()
    try:
        if remaining_s <= 0 or not conn.poll(remaining_s):
            raise late
        raw: bytes = conn.recv_bytes(maxlength=MAX_REPLY_BYTES)
    except EOFError:
        raise DeliveryFailed("psoas-break closed the connection without answering") from None
    except OSError as exc:
        if not conn.closed and not conn.readable:
            raise DeliveryFailed("psoas-break sent a reply that is too large") from None
        raise DeliveryFailed(f"the connection to psoas-break broke: {exc}") from None
    return raw.partition(b"\n")[0]
