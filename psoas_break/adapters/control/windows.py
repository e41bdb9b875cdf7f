"""The Windows-only parts of the control channel: the pipe's name, its DACL, aborting I/O.

NOT verified on Windows here (no Windows machine): the same server and client code runs over
AF_UNIX elsewhere and is tested for real; what only Windows has is here, and its pure parts
(pipe name, DACL text) are tested as functions.

The pipe: `\\\\.\\pipe\\psoas-break-<user SID>`, one instance per connection, made by
`multiprocessing.connection`'s PipeListener (message mode). Who may open it:
- The first instance is created with FILE_FLAG_FIRST_PIPE_INSTANCE, so if any other process
  already holds the name, `listen()` fails instead of sharing it.
- CreateNamedPipe with a NULL security descriptor (what the library passes) gives the pipe the
  default DACL, which per Microsoft's "Named Pipe Security and Access Rights" "grant[s] full
  control to the LocalSystem account, administrators, and the creator owner" and "read access
  to members of the Everyone group and the anonymous account". Read access would let another
  user connect and read our challenge (harmless: it cannot answer without the key, and
  without write access it cannot even send). To narrow that anyway, `listen()` swaps the
  library's `_new_handle` for one that passes a SECURITY_ATTRIBUTES built with ctypes from
  the SDDL "D:P(A;;GA;;;SY)(A;;GA;;;<user SID>)" (protected DACL: LocalSystem and this user
  only) and adds PIPE_REJECT_REMOTE_CLIENTS. Other instances are created by us against that
  DACL, so nobody else can add a server instance. If the SID or ctypes route fails, it falls
  back to the library's default DACL with a warning in the log; the key still keeps other
  users out.
- An elevated app's pipe may carry a High integrity label that a non-elevated CLI cannot write
  to; the security descriptor is kept for the process's life (a few hundred bytes) rather than
  freed while instances may still be created.
"""

from __future__ import annotations

import logging
import re
import zlib
from multiprocessing.connection import Listener
from typing import Any

from psoas_break.ports import StorageError

log = logging.getLogger(__name__)

PIPE_PREFIX = "\\\\.\\pipe\\"
PIPE_NAME_STEM = "psoas-break-"
# CreateNamedPipe: "The entire pipe name string can be up to 256 characters long."
MAX_PIPE_NAME_CHARS = 256
_SAFE_NAME_RE = re.compile(r"[A-Za-z0-9._-]")
SID_RE = re.compile(r"S-1(?:-[0-9]+){1,15}")
# Windows constants not all exported by _winapi.
_PIPE_REJECT_REMOTE_CLIENTS = 0x00000008
_ERROR_ACCESS_DENIED = 5
_BACKLOG = 16


def listen(address: str, keepalive: list[Any]) -> Any:  # pragma: no cover - Windows only
    """The pipe listener with our per-user DACL (or, failing that, the library's default).

    `keepalive` keeps the security descriptor alive. Raises StorageError when the name is
    taken or the pipe cannot be created."""
    taken = StorageError(f"another psoas-break (or another program) already holds {address}")
    try:
        return _private_listener(address, keepalive)
    except PermissionError as exc:  # FILE_FLAG_FIRST_PIPE_INSTANCE: the name already exists
        raise taken from exc
    except Exception as exc:
        log.warning("control pipe: cannot set a per-user DACL (%s); using the default "
                    "one (the key still refuses other users)", exc)
    try:
        return Listener(address, family="AF_PIPE", backlog=_BACKLOG)
    except PermissionError as exc:
        raise taken from exc
    except OSError as exc:
        raise StorageError(f"cannot listen on {address}: {exc.strerror or exc}") from exc


def cancel_io(conn: Any) -> None:  # pragma: no cover - Windows only
    """Make a send_bytes/recv_bytes blocked on `conn` return with an error, from any thread."""
    import ctypes

    ctypes_any: Any = ctypes  # typeshed declares WinDLL only on win32
    kernel32 = ctypes_any.WinDLL("kernel32", use_last_error=True)
    kernel32.CancelIoEx.argtypes = [ctypes.c_void_p, ctypes.c_void_p]
    kernel32.CancelIoEx(conn.fileno(), None)


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


def pipe_sddl(sid: str) -> str:
    """The SDDL of the pipe's protected DACL: full access for LocalSystem and `sid` only."""
    if not SID_RE.fullmatch(sid):
        raise ValueError(f"not a SID: {sid!r}")
    return f"D:P(A;;GA;;;SY)(A;;GA;;;{sid})"


def _private_listener(address: str, keepalive: list[Any]) -> Any:  # pragma: no cover
    """The library's PipeListener whose pipe instances get a per-user DACL (Windows only).

    Raises PermissionError if the pipe name exists (FILE_FLAG_FIRST_PIPE_INSTANCE), or
    RuntimeError / ValueError if the security descriptor cannot be built (the caller falls
    back to the library's default DACL).
    """
    import ctypes
    import importlib
    from ctypes import wintypes

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
