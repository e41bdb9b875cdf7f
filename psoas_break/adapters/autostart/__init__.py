"""Start at login: one backend per OS behind a common shape, and a factory.

    autostart = make_autostart()          # XdgAutostart / WindowsAutostart / MacAutostart
    autostart.enable()  -> AutostartStatus    (raises StorageError)
    autostart.disable() -> AutostartStatus    (raises StorageError)
    autostart.status()  -> AutostartStatus    (never raises)

Every backend starts *this* installation: `launch_argv()` is the interpreter running now
(`sys.executable`, not resolved, so a virtualenv stays a virtualenv) with `-m psoas_break run`.
`disable()` removes only what `enable()` wrote (each backend has its own ownership check) and
refuses, with a StorageError, to touch an entry someone else made. `status()` reports an
entry whose interpreter no longer exists as `stale` (the tray checkbox shows it unticked; `on`
rewrites it). Errors are `StorageError` (ports.py): str() is one plain line.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from psoas_break.adapters.backends import MACOS, WINDOWS, Candidate, first
from psoas_break.ports import StorageError

MODULE = "psoas_break"
APP_ID = "psoas-break"


@dataclass(frozen=True)
class AutostartStatus:
    """Where the login entry is and whether it works.

    enabled: an entry exists that will start psoas-break at login (even a stale one is not).
    path: where the entry lives (file path, or registry value for Windows).
    stale: an entry of ours exists but its interpreter is missing: it would fail at login.
    detail: one line for people (`autostart status`, the log).
    ours: False when the entry at `path` was not written by psoas-break.
    """

    enabled: bool
    path: str
    stale: bool
    detail: str
    ours: bool = True


class Autostart(Protocol):
    """What every backend provides (see the module docstring)."""

    name: str

    def enable(self) -> AutostartStatus: ...

    def disable(self) -> AutostartStatus: ...

    def status(self) -> AutostartStatus: ...


def launch_argv(executable: str | None = None) -> list[str]:
    """The command that starts this installation: [interpreter, "-m", "psoas_break", "run"]."""
    exe = executable if executable is not None else sys.executable
    if not exe:
        raise StorageError(
            "cannot tell which Python runs psoas-break (sys.executable is empty)"
        )
    return [os.path.abspath(exe), "-m", MODULE, "run"]


def interpreter_problem(argv: list[str]) -> str | None:
    """Why `argv[0]` cannot start at login (missing, not executable), or None if it can."""
    if not argv:
        return "the entry has no command"
    exe = Path(argv[0])
    if not exe.is_file():
        return f"its interpreter {argv[0]} no longer exists"
    if os.name == "posix" and not os.access(exe, os.X_OK):
        return f"its interpreter {argv[0]} is not executable"
    return None


def make_autostart(platform: str | None = None) -> Autostart:
    """The backend for `platform` (default: this one); the XDG entry wherever the others are not.
    """
    # Each backend's module is imported only when it is tried (plistlib, winreg stay out).
    def windows() -> Autostart:
        from psoas_break.adapters.autostart.windows import WindowsAutostart

        return WindowsAutostart()

    def macos() -> Autostart:
        from psoas_break.adapters.autostart.macos import MacAutostart

        return MacAutostart()

    def xdg() -> Autostart:
        from psoas_break.adapters.autostart.xdg import XdgAutostart

        return XdgAutostart()

    candidates: tuple[Candidate[Autostart], ...] = (
        Candidate("windows", windows, WINDOWS),
        Candidate("macos", macos, MACOS),
        Candidate("xdg", xdg),
    )
    backend, _choice = first("autostart", candidates, platform=platform)
    return backend
