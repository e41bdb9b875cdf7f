"""Quiet reason "app:<name>": a program on the user's `quiet_apps` list is running.

Linux: one pass over `/proc/<pid>/comm` (the kernel's process name, cut to 15 bytes) and the
basename of `/proc/<pid>/exe` (the full executable name; unreadable for other users'
processes, where comm still works). No psutil. A name matches case-insensitively, ignoring a
".exe" suffix; a name longer than 15 characters also matches a comm equal to its first 15
(the kernel's cut), so "zoom-test-meeting" is found whether it was started through a symlink
(comm only) or as a copy (exe too).

Windows and macOS: not implemented (would need a process list API: Toolhelp32 / libproc);
the factory reports the gap. `proc_root` is a parameter for tests.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Iterator

from psoas_break.core.quiet_gate import normalise_app_name
from psoas_break.ports import Unavailable

log = logging.getLogger(__name__)

DEFAULT_PROC_ROOT = "/proc"
COMM_LEN = 15  # TASK_COMM_LEN - 1


def running_programs(proc_root: str = DEFAULT_PROC_ROOT) -> Iterator[tuple[int, str, str]]:
    """(pid, comm, exe basename or "") of every process we can see."""
    try:
        entries = list(os.scandir(proc_root))
    except OSError as exc:
        log.debug("cannot list %s: %s", proc_root, exc)
        return
    for entry in entries:
        if not entry.name.isdigit():
            continue
        try:
            with open(os.path.join(entry.path, "comm"), encoding="utf-8",
                      errors="replace") as f:
                comm = f.read().rstrip("\n")
        except OSError:
            continue  # exited meanwhile
        try:
            exe = os.readlink(os.path.join(entry.path, "exe"))
        except OSError:
            exe = ""  # another user's process, or a kernel thread
        if exe.endswith(" (deleted)"):
            exe = exe[: -len(" (deleted)")]  # upgraded while running: same program
        yield int(entry.name), comm, os.path.basename(exe)


def matches(name: str, comm: str, exe_base: str) -> bool:
    """True when normalised `name` is this process (see module docstring)."""
    wanted = normalise_app_name(name)
    if not wanted:
        return False
    if exe_base and normalise_app_name(exe_base) == wanted:
        return True
    comm_name = comm.strip().lower()
    if comm_name == wanted or normalise_app_name(comm_name) == wanted:
        return True
    return len(comm_name) == COMM_LEN and len(wanted) > COMM_LEN and wanted[:COMM_LEN] == comm_name


def running_quiet_apps(
    names: Iterable[str], proc_root: str = DEFAULT_PROC_ROOT, exclude_pids: Iterable[int] = ()
) -> list[str]:
    """The names from `names` (normalised, in their order) that have a running process."""
    wanted = [normalise_app_name(n) for n in names if normalise_app_name(n)]
    if not wanted:
        return []
    excluded = set(exclude_pids)
    found: set[str] = set()
    for pid, comm, exe_base in running_programs(proc_root):
        if pid in excluded:
            continue
        for name in wanted:
            if name not in found and matches(name, comm, exe_base):
                found.add(name)
        if len(found) == len(wanted):
            break
    return [n for n in wanted if n in found]


class QuietAppsDetector:
    """QuietDetector: reasons ("app:<name>", ...) for each listed program that is running."""

    name = "quiet-apps"

    def __init__(self, names: Iterable[str] = (), proc_root: str = DEFAULT_PROC_ROOT) -> None:
        self.proc_root = proc_root
        self._names: tuple[str, ...] = ()
        self.set_names(names)

    @classmethod
    def open(cls, names: Iterable[str] = (), proc_root: str = DEFAULT_PROC_ROOT
             ) -> QuietAppsDetector:
        """Raises Unavailable when `proc_root` is not a procfs (not Linux)."""
        if not os.path.isfile(os.path.join(proc_root, "self", "comm")):
            raise Unavailable(
                f"no process list at {proc_root} (quiet_apps works on Linux only for now)"
            )
        return cls(names, proc_root)

    @property
    def names(self) -> tuple[str, ...]:
        return self._names

    def set_names(self, names: Iterable[str]) -> None:
        """New `quiet_apps` setting (engine thread)."""
        self._names = tuple(dict.fromkeys(
            normalise_app_name(n) for n in names if normalise_app_name(n)
        ))

    def reasons(self) -> tuple[str, ...]:
        """("app:zoom", ...) for each listed program running now; () if none; never raises."""
        if not self._names:
            return ()
        try:
            running = running_quiet_apps(self._names, self.proc_root, (os.getpid(),))
        except Exception:
            log.debug("quiet_apps scan failed", exc_info=True)
            return ()
        return tuple(f"app:{name}" for name in running)

    def close(self) -> None:
        """Nothing is kept open."""
