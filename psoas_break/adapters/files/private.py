"""Personal data readable by its owner only: folders 0700, files 0600 (POSIX; a no-op elsewhere).

    private_dir(path)          create (with parents) or narrow a folder to 0700
    private_file(path)         narrow an existing file to 0600
    create_private_file(path)  create an empty file 0600 if there is none (SQLite then gives its
                               -wal and -shm files the same mode)
    make_private(folders)      at start: each folder created 0700, or fixed with secure_tree
    secure_tree(folder)        the start-up fix for installs made by older versions (history and
                               logs were 0644 in 0755 folders): the folder and everything in it
                               narrowed, without following symbolic links

Only what this user owns is changed; a failure is logged, never raised (a permission fix must
not stop the app).
"""

from __future__ import annotations

import contextlib
import logging
import os
import stat
from pathlib import Path

log = logging.getLogger(__name__)

DIR_MODE = 0o700
FILE_MODE = 0o600
#: secure_tree looks at no more entries than this (a cache folder is small).
MAX_TREE_ENTRIES = 10_000


def _posix() -> bool:
    return os.name == "posix"


def _narrow(path: Path, st: os.stat_result, mode: int) -> None:
    if st.st_uid != os.getuid():
        return
    if stat.S_IMODE(st.st_mode) & ~mode & 0o777:
        # The caller's lstat saw a regular file or folder, not a link (Linux has no lchmod).
        try:
            os.chmod(path, stat.S_IMODE(st.st_mode) & mode)
        except OSError as exc:
            log.warning("cannot make %s private: %s", path, exc)


def private_dir(path: Path) -> None:
    """Create `path` (and parents) if needed; narrow it to 0700. Raises OSError if it cannot
    be created."""
    path.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
    if not _posix():
        return
    with contextlib.suppress(OSError):
        st = os.lstat(path)
        if stat.S_ISDIR(st.st_mode):
            _narrow(path, st, DIR_MODE)


def private_file(path: Path) -> None:
    """Narrow an existing regular file to 0600 (links are not followed; missing is fine)."""
    if not _posix():
        return
    with contextlib.suppress(OSError):
        st = os.lstat(path)
        if stat.S_ISREG(st.st_mode):
            _narrow(path, st, FILE_MODE)


def create_private_file(path: Path) -> None:
    """Create `path` empty with mode 0600 unless something is there already. Raises OSError."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags, FILE_MODE)
    except FileExistsError:
        return
    os.close(fd)


def secure_tree(folder: Path) -> int:
    """Narrow `folder` to 0700 and what is under it to 0700 (folders) / 0600 (files).

    Symbolic links are neither followed nor changed. Returns how many entries were looked at.
    """
    if not _posix():
        return 0
    try:
        st = os.lstat(folder)
    except OSError:
        return 0
    if not stat.S_ISDIR(st.st_mode):
        return 0
    _narrow(folder, st, DIR_MODE)
    seen = 0
    stack = [folder]
    while stack and seen < MAX_TREE_ENTRIES:
        current = stack.pop()
        try:
            entries = list(os.scandir(current))
        except OSError:
            continue
        for entry in entries:
            seen += 1
            if seen > MAX_TREE_ENTRIES:
                log.warning("%s holds more than %d entries; the rest keep their modes",
                            folder, MAX_TREE_ENTRIES)
                break
            try:
                est = entry.stat(follow_symlinks=False)
            except OSError:
                continue
            path = Path(entry.path)
            if stat.S_ISDIR(est.st_mode):
                _narrow(path, est, DIR_MODE)
                stack.append(path)
            elif stat.S_ISREG(est.st_mode):
                _narrow(path, est, FILE_MODE)
    return seen


def make_private(folders: tuple[Path, ...]) -> None:
    """At start: create each folder 0700, or narrow it and what it holds (secure_tree). Never
    raises: a folder that cannot be made is reported by whoever writes into it."""
    for folder in folders:
        try:
            private_dir(folder)
        except OSError as exc:
            log.warning("cannot create %s: %s", folder, exc)
            continue
        secure_tree(folder)
