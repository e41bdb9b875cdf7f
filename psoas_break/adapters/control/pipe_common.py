"""Shared by the pipe control server and client: addresses, the per-user key, the handshake.

The "pipe" control channel is `multiprocessing.connection` (standard library): a real named pipe
(family "AF_PIPE") on Windows and a Unix socket (family "AF_UNIX") elsewhere, with one code path
for both. Messages are framed by the library (`send_bytes` / `recv_bytes(maxlength)`); nothing
is ever pickled. Every connection starts with the library's HMAC challenge-response handshake,
keyed by a per-user secret file, in both directions (the server proves it knows the key too).

    pipe_family()                    "AF_PIPE" on Windows, else "AF_UNIX"
    windows_pipe_name(user_id)       \\\\.\\pipe\\psoas-break-<SID or escaped user name>
    windows_user_id()                the current user's SID (ctypes), or the user name
    load_or_create_key(path)         server: the key, made if missing or not private
    read_key(path)                   client: the key, or KeyFileError
    server_handshake / client_handshake(conn, key, deadline_s)   raise HandshakeError

The key file holds KEY_BYTES random bytes. It is created with O_EXCL in mode 0600 under a
temporary name and renamed into place, in the runtime folder that `ensure_private_dir` keeps
0700. On Windows the mode bits mean nothing: the file is private because the runtime folder
(platformdirs: under %LOCALAPPDATA%) inherits the user profile's ACL, which grants only the
user, SYSTEM and Administrators.

Handshake deadlines: the library's `deliver_challenge` / `answer_challenge` block in
`recv_bytes` with no timeout, so they are given a stand-in connection whose `recv_bytes` first
waits with `poll(remaining)` and raises HandshakeError when the deadline passes.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import stat
import sys
import time
import zlib
from multiprocessing import AuthenticationError
from multiprocessing.connection import answer_challenge, deliver_challenge
from pathlib import Path
from typing import Any, Protocol

log = logging.getLogger(__name__)

KEY_BYTES = 32
PIPE_PREFIX = "\\\\.\\pipe\\"
PIPE_NAME_STEM = "psoas-break-"
# CreateNamedPipe: "The entire pipe name string can be up to 256 characters long."
MAX_PIPE_NAME_CHARS = 256

_SAFE_NAME_RE = re.compile(r"[A-Za-z0-9._-]")
SID_RE = re.compile(r"S-1(?:-[0-9]+){1,15}")


class KeyFileError(Exception):
    """The per-user control key cannot be read or written; str() is one plain line."""


class HandshakeError(Exception):
    """The authentication handshake failed; str() is one plain line.

    `kind` is "timeout" (no answer by the deadline), "closed" (the peer hung up), "refused"
    (the key did not match) or "broken" (anything else: garbage, oversize, I/O error).
    """

    def __init__(self, message: str, kind: str = "broken") -> None:
        super().__init__(message)
        self.kind = kind


class _Conn(Protocol):
    def send_bytes(self, buf: bytes) -> None: ...
    def recv_bytes(self, maxlength: int | None = None) -> bytes: ...
    def poll(self, timeout: float | None = 0.0) -> bool: ...


# ---- addresses ----


def pipe_family() -> str:
    """The multiprocessing.connection family of this system's pipe channel."""
    return "AF_PIPE" if sys.platform == "win32" else "AF_UNIX"


def windows_pipe_name(user_id: str) -> str:
    """The per-user pipe name: \\\\.\\pipe\\psoas-break-<user_id, escaped>.

    A SID (S-1-5-21-...) passes through unchanged. Any other character than ASCII letters,
    digits, ".", "_" and "-" becomes "~xx" per UTF-8 byte, so a user name can never add a
    backslash (not allowed in pipe names) or depend on the ANSI code page. A result longer
    than the 256-character limit is cut and suffixed with a CRC of the whole id.
    """
    escaped = "".join(
        ch if _SAFE_NAME_RE.fullmatch(ch) else "".join(f"~{b:02x}" for b in ch.encode("utf-8"))
        for ch in user_id
    ) or "~"
    name = PIPE_PREFIX + PIPE_NAME_STEM + escaped
    if len(name) > MAX_PIPE_NAME_CHARS:
        tag = f"~{zlib.crc32(user_id.encode('utf-8')):08x}"
        name = name[: MAX_PIPE_NAME_CHARS - len(tag)] + tag
    return name


def windows_user_id() -> str:
    """The current Windows user's SID as text; the user name if the SID cannot be read.

    Only meaningful on Windows (it uses advapi32 through ctypes). Never raises.
    """
    try:
        return _windows_user_sid()
    except Exception as exc:  # ctypes/Win32 failure: the name still keeps users apart
        log.warning("cannot read the user's SID (%s); naming the control pipe by user name",
                    exc)
    import getpass

    try:
        return getpass.getuser()
    except Exception:
        return "user"


def _windows_user_sid() -> str:  # pragma: no cover - Windows only
    import ctypes
    from ctypes import wintypes

    ctypes_any: Any = ctypes  # typeshed declares the Windows parts only on win32
    windll = ctypes_any.WinDLL
    advapi32 = windll("advapi32", use_last_error=True)
    kernel32 = windll("kernel32", use_last_error=True)
    kernel32.GetCurrentProcess.restype = wintypes.HANDLE
    kernel32.CloseHandle.argtypes = [wintypes.HANDLE]
    kernel32.LocalFree.argtypes = [ctypes.c_void_p]
    kernel32.LocalFree.restype = ctypes.c_void_p
    advapi32.OpenProcessToken.argtypes = [
        wintypes.HANDLE, wintypes.DWORD, ctypes.POINTER(wintypes.HANDLE)
    ]
    advapi32.OpenProcessToken.restype = wintypes.BOOL
    advapi32.GetTokenInformation.argtypes = [
        wintypes.HANDLE, ctypes.c_int, ctypes.c_void_p, wintypes.DWORD,
        ctypes.POINTER(wintypes.DWORD),
    ]
    advapi32.GetTokenInformation.restype = wintypes.BOOL
    advapi32.ConvertSidToStringSidW.argtypes = [ctypes.c_void_p, ctypes.POINTER(ctypes.c_void_p)]
    advapi32.ConvertSidToStringSidW.restype = wintypes.BOOL
    token_query, token_user = 0x0008, 1

    def fail() -> OSError:
        err: OSError = ctypes_any.WinError(ctypes_any.get_last_error())
        return err

    token = wintypes.HANDLE()
    if not advapi32.OpenProcessToken(kernel32.GetCurrentProcess(), token_query,
                                     ctypes.byref(token)):
        raise fail()
    try:
        size = wintypes.DWORD(0)
        # First call only reports the size (it fails with ERROR_INSUFFICIENT_BUFFER).
        advapi32.GetTokenInformation(token, token_user, None, 0, ctypes.byref(size))
        if size.value == 0:
            raise fail()
        buf = ctypes.create_string_buffer(size.value)
        if not advapi32.GetTokenInformation(token, token_user, buf, size, ctypes.byref(size)):
            raise fail()
        # TOKEN_USER starts with SID_AND_ATTRIBUTES, which starts with the PSID.
        psid = ctypes.cast(buf, ctypes.POINTER(ctypes.c_void_p)).contents.value
        text = ctypes.c_void_p()
        if not advapi32.ConvertSidToStringSidW(psid, ctypes.byref(text)):
            raise fail()
        try:
            sid = ctypes.wstring_at(text.value) if text.value else ""
        finally:
            kernel32.LocalFree(text)
    finally:
        kernel32.CloseHandle(token)
    if not SID_RE.fullmatch(sid):
        raise OSError(f"unexpected SID text {sid!r}")
    return sid


# ---- the per-user key ----


def load_or_create_key(path: Path) -> bytes:
    """The server's key: read from `path` if it is private and well-formed, else a new one.

    A file that another user owns, that others may read, or that has the wrong size is not
    trusted: it is replaced (atomically) by a fresh random key. The folder must exist and be
    private already. Raises KeyFileError.
    """
    try:
        return _read_private(path)
    except FileNotFoundError:
        pass
    except KeyFileError as exc:
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
        raise KeyFileError(f"cannot write the control key {path}: {exc.strerror or exc}") from exc
    return key


def read_key(path: Path) -> bytes:
    """The client's key. Raises FileNotFoundError if there is none, KeyFileError if unusable."""
    return _read_private(path)


def _read_private(path: Path) -> bytes:
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_BINARY", 0)
    try:
        fd = os.open(path, flags)
    except FileNotFoundError:
        raise
    except OSError as exc:
        raise KeyFileError(f"cannot read the control key {path}: {exc.strerror or exc}") from exc
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise KeyFileError(f"the control key {path} is not a regular file")
        if sys.platform != "win32":
            if st.st_uid != os.getuid():
                raise KeyFileError(f"the control key {path} belongs to another user")
            if stat.S_IMODE(st.st_mode) & 0o077:
                raise KeyFileError(
                    f"the control key {path} is readable by others "
                    f"(mode {stat.S_IMODE(st.st_mode):o}); only 600 is allowed"
                )
        if st.st_size != KEY_BYTES:
            raise KeyFileError(f"the control key {path} has the wrong size")
        data = b""
        while len(data) < KEY_BYTES:
            chunk = os.read(fd, KEY_BYTES - len(data))
            if not chunk:
                break
            data += chunk
    finally:
        os.close(fd)
    if len(data) != KEY_BYTES:
        raise KeyFileError(f"the control key {path} has the wrong size")
    return data


# ---- the handshake ----


class _DeadlineConn:
    """A stand-in Connection for the library's handshake: each recv waits at most until the
    deadline (monotonic seconds), then raises HandshakeError."""

    def __init__(self, conn: _Conn, deadline_s: float) -> None:
        self._conn = conn
        self._deadline_s = deadline_s

    def send_bytes(self, buf: bytes) -> None:
        self._conn.send_bytes(buf)

    def recv_bytes(self, maxlength: int | None = None) -> bytes:
        remaining_s = self._deadline_s - time.monotonic()
        if remaining_s <= 0 or not self._conn.poll(remaining_s):
            raise HandshakeError("the authentication handshake timed out", "timeout")
        return self._conn.recv_bytes(maxlength)


def server_handshake(conn: _Conn, key: bytes, deadline_s: float) -> None:
    """Challenge the client, then answer its challenge (as `Listener.accept` does).

    Raises HandshakeError (wrong key, timeout, garbage, closed connection).
    """
    _handshake(conn, key, deadline_s, server=True)


def client_handshake(conn: _Conn, key: bytes, deadline_s: float) -> None:
    """Answer the server's challenge, then challenge it (as `Client(authkey=...)` does)."""
    _handshake(conn, key, deadline_s, server=False)


def _handshake(conn: _Conn, key: bytes, deadline_s: float, *, server: bool) -> None:
    # Any: typeshed wants a real Connection; the library only calls send_bytes/recv_bytes.
    bounded: Any = _DeadlineConn(conn, deadline_s)
    try:
        if server:
            deliver_challenge(bounded, key)
            answer_challenge(bounded, key)
        else:
            answer_challenge(bounded, key)
            deliver_challenge(bounded, key)
    except HandshakeError:
        raise
    except AuthenticationError as exc:
        raise HandshakeError(f"the control key did not match ({exc})", "refused") from None
    except EOFError:
        raise HandshakeError("the other side closed the connection", "closed") from None
    # AssertionError: Python <= 3.11's answer_challenge asserts the challenge prefix.
    except (OSError, ValueError, AssertionError) as exc:
        raise HandshakeError(f"the authentication handshake failed: {exc or type(exc)}") from None
