"""Quiet reason "app:<name>": a program on the user's `quiet_apps` list is running.

Linux: one pass over `/proc/<pid>/comm` (the kernel's process name, cut to 15 bytes) and the
basename of `/proc/<pid>/exe` (the full executable name; unreadable for other users'
processes, where comm still works). No psutil here: importing it costs the tray app memory for
nothing procfs does not already give. A name matches case-insensitively, ignoring a ".exe"
suffix; a name longer than the kernel's cut also matches a process name equal to its first
15 characters, so "zoom-test-meeting" is found whether it was started through a symlink (comm
only) or as a copy (exe too).

Windows, macOS and the BSDs: psutil (a runtime dependency there, imported only on that path),
one `process_iter(["name"])` pass. Its name is the executable's basename on Windows ("Zoom.exe"
matches "zoom"), and on macOS the kernel's p_comm (cut to MAXCOMLEN = 16), which psutil widens
from the command line when it can (not for other users' processes: the prefix rule covers
those). On macOS that is the executable inside the bundle: "zoom.us", "Microsoft Teams",
"MSTeams", not "zoom.us.app".

Seams for tests: `proc_root` (the /proc scan) and `platform` (which path `open` picks: any
non-Linux value takes the psutil path, which runs on Linux too, against real processes).
"""

from __future__ import annotations

import importlib
import logging
import os
import sys
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from psoas_break.core.quiet_gate import normalise_app_name
from psoas_break.ports import Unavailable

log = logging.getLogger(__name__)

DEFAULT_PROC_ROOT = "/proc"
COMM_LEN = 15  # Linux: TASK_COMM_LEN - 1
MACOS_COMM_LEN = 16  # macOS: MAXCOMLEN (p_comm)

ProgramLister = Callable[[], Iterable[tuple[int, str, str]]]


def kernel_name_len(platform: str = sys.platform) -> int:
    """How many characters the kernel keeps of a process name on `platform`; 0 = no cut."""
    if platform.startswith("linux"):
        return COMM_LEN
    if platform == "darwin":
        return MACOS_COMM_LEN
    return 0


def running_programs(proc_root: str = DEFAULT_PROC_ROOT) -> Iterator[tuple[int, str, str]]:
    """(pid, comm, exe basename or "") of every process we can see (Linux procfs)."""
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


def running_programs_psutil(psutil: Any) -> Iterator[tuple[int, str, str]]:
    """(pid, name, "") of every process psutil lists (Windows, macOS, BSD).

    Only the name is read: on Windows it is the executable's basename already, on macOS it is
    derived from it; asking for exe too would cost a system call per process for nothing.
    Processes that exit or deny access meanwhile are skipped or listed without a name.
    """
    for proc in psutil.process_iter(["name"], ad_value=""):
        name = proc.info.get("name") or ""
        if name:
            yield int(proc.pid), str(name), ""


def matches(name: str, comm: str, exe_base: str, comm_len: int = COMM_LEN) -> bool:
    """True when normalised `name` is this process (see module docstring).

    `comm_len`: where the kernel cuts process names (0: never), for the prefix rule.
    """
    wanted = normalise_app_name(name)
    if not wanted:
        return False
    if exe_base and normalise_app_name(exe_base) == wanted:
        return True
    comm_name = comm.strip().lower()
    if comm_name == wanted or normalise_app_name(comm_name) == wanted:
        return True
    # Unstripped: a cut can end in a space ("Microsoft Teams classic" -> "microsoft teams ").
    cut = comm.lower()
    return (comm_len > 0 and len(cut) == comm_len and len(wanted) > comm_len
            and wanted[:comm_len] == cut)


def quiet_apps_among(names: Iterable[str], programs: Iterable[tuple[int, str, str]],
                     exclude_pids: Iterable[int] = (), comm_len: int = COMM_LEN) -> list[str]:
    """The names from `names` (normalised, in their order) that match one of `programs`
    ((pid, name, exe basename) triples). Pure."""
    wanted = [normalise_app_name(n) for n in names if normalise_app_name(n)]
    if not wanted:
        return []
    excluded = set(exclude_pids)
    found: set[str] = set()
    for pid, comm, exe_base in programs:
        if pid in excluded:
            continue
        for name in wanted:
            if name not in found and matches(name, comm, exe_base, comm_len):
                found.add(name)
        if len(found) == len(wanted):
            break
    return [n for n in wanted if n in found]


class QuietAppsDetector:
    """QuietDetector: reasons ("app:<name>", ...) for each listed program that is running."""

    name = "quiet-apps"

    def __init__(self, names: Iterable[str] = (), proc_root: str = DEFAULT_PROC_ROOT,
                 lister: ProgramLister | None = None, comm_len: int = COMM_LEN) -> None:
        """Scans `proc_root` unless `lister` is given (then `comm_len` is that lister's cut)."""
        self.proc_root = proc_root
        self._lister: ProgramLister = lister or (lambda: running_programs(self.proc_root))
        self._comm_len = comm_len
        self.source = "procfs" if lister is None else "psutil"
        self._names: tuple[str, ...] = ()
        self.set_names(names)

    @classmethod
    def open(cls, names: Iterable[str] = (), proc_root: str = DEFAULT_PROC_ROOT, *,
             platform: str | None = None) -> QuietAppsDetector:
        """The detector for `platform` (default sys.platform): procfs on Linux, psutil
        elsewhere. Raises Unavailable when procfs is missing on Linux or psutil elsewhere."""
        platform = platform or sys.platform
        if platform.startswith("linux"):
            if not os.path.isfile(os.path.join(proc_root, "self", "comm")):
                raise Unavailable(f"no procfs at {proc_root} "
                                  "(quiet_apps reads /proc on Linux only)")
            return cls(names, proc_root)
        try:
            psutil = importlib.import_module("psutil")
        except ImportError as exc:
            raise Unavailable(f"psutil is not installed ({exc}); install it: "
                              "pip install 'psutil>=5.9'") from None
        # The cut belongs to the kernel psutil reads, which is this machine's, not `platform`.
        return cls(names, proc_root, lister=lambda: running_programs_psutil(psutil),
                   comm_len=kernel_name_len(sys.platform))

    @property
    def names(self) -> tuple[str, ...]:
        return self._names

    def set_names(self, names: Iterable[str]) -> None:
        """New `quiet_apps` setting (engine thread)."""
        self._names = tuple(dict.fromkeys(normalise_app_name(n) for n in names
                                          if normalise_app_name(n)))

    def reasons(self) -> tuple[str, ...]:
        """("app:zoom", ...) for each listed program running now; () if none; never raises."""
        if not self._names:
            return ()
        try:
            running = quiet_apps_among(self._names, self._lister(), (os.getpid(),), self._comm_len)
        except Exception:
            log.debug("quiet_apps scan failed", exc_info=True)
            return ()
        return tuple(f"app:{name}" for name in running)

    def close(self) -> None:
        """Nothing is kept open."""
