"""Crash-safe file replacement, timestamped backups, and careful reading of small files.

A reader sees either the old file or the new one, never a mix: the data goes to a temporary
file in the same folder, is fsynced, then os.replace()d over the target, and the folder is
fsynced so the rename itself survives a power cut. A path that is a symbolic link (a settings
file kept in a dotfiles repository) is written through to the file it points to: the temporary
file goes beside that file, and the link stays a link. With `follow_links=False` (files the app
generates in shared folders) the path itself is replaced, link or not: nothing is ever written
where a link points.

`read_small_file` reads only a regular file, and only up to a size: a FIFO, a device
(/dev/zero), a folder or a huge file at a path the app reads is an error with a plain message,
never a hang or an exhausted memory.
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from datetime import datetime
from pathlib import Path


class UnsafeFile(OSError):
    """The path is not a regular file, or is larger than the caller reads; str() is one line
    ("<path> is a named pipe (FIFO), not a regular file"), `reason` the same without the path."""

    def __init__(self, path: Path, reason: str) -> None:
        super().__init__(f"{path} {reason}")
        self.reason = reason


_KINDS = (
    (stat.S_ISDIR, "a folder"),
    (stat.S_ISFIFO, "a named pipe (FIFO)"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


def file_kind(mode: int) -> str:
    """"a folder", "a named pipe (FIFO)", ... for a stat mode; "a regular file" for one."""
    for test, name in _KINDS:
        if test(mode):
            return name
    return "a regular file" if stat.S_ISREG(mode) else "not a regular file"


def read_small_file(path: Path, limit_bytes: int, follow_links: bool = True) -> bytes:
    """The bytes of the regular file at `path` (links followed unless `follow_links` is
    False: then a link is UnsafeFile), at most `limit_bytes`.

    Raises FileNotFoundError, UnsafeFile (not a regular file, or larger than the limit) or
    another OSError. Never blocks on a FIFO and never reads more than `limit_bytes` + 1 bytes.
    """
    st = os.stat(path) if follow_links else os.lstat(path)
    if stat.S_ISLNK(st.st_mode):
        raise UnsafeFile(path, "is a symbolic link, not a regular file")
    if not stat.S_ISREG(st.st_mode):
        raise UnsafeFile(path, f"is {file_kind(st.st_mode)}, not a regular file")
    # O_NONBLOCK: if a FIFO replaced the file since the stat, opening it still returns at once;
    # O_NOFOLLOW: if a link replaced it, opening fails (ELOOP).
    flags = (os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
             | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_BINARY", 0)
             | (0 if follow_links else getattr(os, "O_NOFOLLOW", 0)))
    fd = os.open(path, flags)
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise UnsafeFile(path, f"is {file_kind(st.st_mode)}, not a regular file")
        if st.st_size > limit_bytes:
            raise UnsafeFile(path, f"is larger than {_size(limit_bytes)}")
        chunks: list[bytes] = []
        total = 0
        while total <= limit_bytes:
            chunk = os.read(fd, limit_bytes + 1 - total)
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
        if total > limit_bytes:  # it grew after the fstat
            raise UnsafeFile(path, f"is larger than {_size(limit_bytes)}")
        return b"".join(chunks)
    finally:
        os.close(fd)


def _size(n_bytes: int) -> str:
    if n_bytes % (1024 * 1024) == 0:
        return f"{n_bytes // (1024 * 1024)} MiB"
    if n_bytes % 1024 == 0:
        return f"{n_bytes // 1024} KiB"
    return f"{n_bytes} bytes"


def real_target(path: Path) -> Path:
    """Where writing `path` must land: the file a symbolic link points to (any depth), or
    `path` itself. A dangling link gives the path it names."""
    return Path(os.path.realpath(path)) if os.path.islink(path) else path


def write_atomic(path: Path, data: bytes, mode: int = 0o600, follow_links: bool = True) -> None:
    """Replace `path` (or, for a symbolic link and `follow_links`, the file it points to) with
    `data` atomically. Raises OSError (disk full, read-only, ...)."""
    if follow_links:
        path = real_target(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as tmp:
            tmp.write(data)
            tmp.flush()
            os.fsync(tmp.fileno())
        os.chmod(tmp_name, mode)
        os.replace(tmp_name, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp_name)
        raise
    _fsync_dir(path.parent)


def backup_copy(path: Path, label: str, now: datetime, data: bytes | None = None) -> Path:
    """Copy `path` beside itself as `<name>.<label>-YYYYmmdd-HHMMSS` (never overwriting), 0600.

    `data`: the bytes to keep, when the caller already read them (else the file is read).
    A copy that fails part way (disk full) is removed: no empty or partial backup is left.
    Raises OSError.
    """
    if data is None:
        data = path.read_bytes()
    stamp = now.strftime("%Y%m%d-%H%M%S")
    target = path.with_name(f"{path.name}.{label}-{stamp}")
    counter = 1
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0) | getattr(
        os, "O_BINARY", 0)
    while True:
        try:
            fd = os.open(target, flags, 0o600)
            break
        except FileExistsError:
            target = path.with_name(f"{path.name}.{label}-{stamp}-{counter}")
            counter += 1
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(target)
        raise
    return target


def _fsync_dir(folder: Path) -> None:
    # Windows cannot open a directory for fsync; there the rename is already durable enough.
    if os.name != "posix":
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
