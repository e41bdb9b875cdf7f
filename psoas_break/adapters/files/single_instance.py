"""One psoas-break per user: an OS file lock held for the life of the process.

`InstanceLock(path)` locks `path` (normally `AppPaths.lock_file`, in the per-user runtime dir):

    lock = InstanceLock(paths.lock_file)
    if not lock.acquire():
        print(f"psoas-break is already running (pid {lock.owner_pid()})")
        return 0
    try: ... run the app ...
    finally: lock.release()

Contract:
- `acquire()` never blocks: True when this process now holds the lock (it then writes its pid
  into the file), False when another process holds it. Raises `StorageError` (str() is a
  plain sentence) when the folder or file cannot be created or opened.
- The lock is the kernel's (flock on Linux/macOS, a byte-range lock via msvcrt on Windows), not
  the file's existence: the kernel drops it when the holder exits in any way, kill -9 included,
  so a file left behind by a dead process never blocks a new start. The file is never deleted
  (deleting a lock file lets two processes lock two different inodes).
- `owner_pid()` is the pid written by the current holder, or None when nobody holds the lock or
  the pid cannot be read. It waits briefly for a holder that has locked but not yet written.
  `someone_holds()` tells the two Nones apart (a lock held by a program that wrote no pid).
- `release()` is idempotent; the descriptor is close-on-exec, so children (espeak, ...) never
  inherit the lock and keep it alive after the app exits.

The Windows code path is kept but not tested here.
"""

from __future__ import annotations

import contextlib
import logging
import os
import stat
import sys
import time
from pathlib import Path

from psoas_break.ports import StorageError

log = logging.getLogger(__name__)

# A holder writes its pid right after locking; a reader that finds the file empty waits this
# long for it (a racing start, or a loaded machine) before giving up.
_PID_WAIT_S = 1.0
_PID_POLL_S = 0.01
# On Windows msvcrt locks are mandatory: lock a byte far past the pid text so readers can still
# read the pid (locking beyond the end of a file is allowed there).
_WIN_LOCK_OFFSET = 1 << 20


#: The old name of StorageError here (app.py imports it); the same class.


def ensure_private_dir(path: Path) -> None:
    """Create `path` (and parents) so that it is a folder only this user can enter.

    A new folder is made 0700. An existing one must belong to this user (POSIX), and so must
    its parent (or root); if its mode lets others in, it is narrowed to 0700. Raises
    `StorageError` otherwise.
    """
    try:
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as exc:
        raise StorageError(f"cannot create the folder {path}: {exc.strerror or exc}") from exc
    if os.name != "posix":
        return
    st = path.stat()
    if not stat.S_ISDIR(st.st_mode):
        raise StorageError(f"{path} is not a folder")
    if st.st_uid != os.getuid():
        raise StorageError(f"the folder {path} belongs to another user (uid {st.st_uid})")
    parent_uid = path.parent.stat().st_uid
    if parent_uid not in (0, os.getuid()):
        # e.g. a /tmp/runtime-<uid> fallback pre-created by someone else: they could swap
        # our folder for theirs.
        raise StorageError(
            f"the folder {path.parent} belongs to another user (uid {parent_uid})"
        )
    if stat.S_IMODE(st.st_mode) & 0o077:
        # Someone (or an old version) made it wider; the socket and lock must not be reachable.
        os.chmod(path, 0o700)


class InstanceLock:
    """An exclusive, non-blocking, per-user lock on one file. See the module docstring."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        """True while this object holds the lock."""
        return self._fd is not None

    def acquire(self) -> bool:
        """Try to take the lock without waiting. True: ours now (pid written). False: taken."""
        if self._fd is not None:
            return True
        fd = self._open()
        try:
            locked = _try_lock(fd)
        except OSError as exc:
            os.close(fd)
            raise StorageError(f"cannot lock {self.path}: {exc.strerror or exc}") from exc
        if not locked:
            os.close(fd)
            return False
        self._fd = fd
        try:
            _write_pid(fd, os.getpid())
        except OSError as exc:  # pragma: no cover - disk full in the runtime dir
            # Still ours: the lock, not the text, is what keeps a second copy out.
            log.warning("could not write the pid into %s: %s", self.path, exc)
        return True

    def owner_pid(self) -> int | None:
        """The pid of the process holding the lock, or None (nobody, or unreadable)."""
        if self._fd is not None:
            return os.getpid()
        deadline = time.monotonic() + _PID_WAIT_S
        while True:
            if not self._someone_holds():
                return None
            pid = self._read_pid()
            # A dead pid is what a killed holder left behind: the new holder has locked but
            # not yet rewritten the file.
            if pid is not None and _pid_alive(pid):
                return pid
            if time.monotonic() >= deadline:
                return None
            time.sleep(_PID_POLL_S)

    def release(self) -> None:
        """Give the lock up (idempotent). The file stays; its pid text is cleared first."""
        fd, self._fd = self._fd, None
        if fd is None:
            return
        with contextlib.suppress(OSError):
            os.ftruncate(fd, 0)
        with contextlib.suppress(OSError):
            _unlock(fd)
        os.close(fd)

    def __enter__(self) -> InstanceLock:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.release()

    # ---- helpers ----

    def _open(self) -> int:
        ensure_private_dir(self.path.parent)
        flags = os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0)
        try:
            # os.open's descriptors are non-inheritable (PEP 446) on every platform.
            return os.open(self.path, flags, 0o600)
        except OSError as exc:
            raise StorageError(f"cannot open {self.path}: {exc.strerror or exc}") from exc

    def someone_holds(self) -> bool:
        """True when another process (or this object) holds the lock now. Never raises."""
        if self._fd is not None:
            return True
        return self._someone_holds()

    def _someone_holds(self) -> bool:
        try:
            fd = self._open()
        except StorageError:
            return False
        try:
            if _try_lock(fd):
                _unlock(fd)
                return False
            return True
        except OSError:
            return False
        finally:
            os.close(fd)

    def _read_pid(self) -> int | None:
        try:
            with open(self.path, "rb") as f:
                text = f.read(32)
        except OSError:
            return None
        try:
            pid = int(text.strip() or b"x")
        except ValueError:
            return None
        return pid if pid > 0 else None


def _pid_alive(pid: int) -> bool:
    if os.name != "posix":
        # os.kill(pid, 0) would terminate the process on Windows; trust the file there.
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # exists but belongs to someone else (EPERM)
    return True


def _write_pid(fd: int, pid: int) -> None:
    os.ftruncate(fd, 0)
    os.lseek(fd, 0, os.SEEK_SET)
    os.write(fd, f"{pid}\n".encode("ascii"))


if sys.platform == "win32":  # pragma: no cover - not testable on Linux
    import msvcrt

    def _try_lock(fd: int) -> bool:
        os.lseek(fd, _WIN_LOCK_OFFSET, os.SEEK_SET)
        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        finally:
            os.lseek(fd, 0, os.SEEK_SET)
        return True

    def _unlock(fd: int) -> None:
        os.lseek(fd, _WIN_LOCK_OFFSET, os.SEEK_SET)
        try:
            msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)
        finally:
            os.lseek(fd, 0, os.SEEK_SET)

else:
    import errno
    import fcntl

    def _try_lock(fd: int) -> bool:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                return False
            raise
        return True

    def _unlock(fd: int) -> None:
        fcntl.flock(fd, fcntl.LOCK_UN)
