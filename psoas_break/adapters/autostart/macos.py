"""Start at login on macOS: a LaunchAgent, `~/Library/LaunchAgents/<LABEL>.plist`.

The plist (written with plistlib, XML) has Label, ProgramArguments = `launch_argv()` (an argv
list: no shell, so no quoting), RunAtLoad = true, ProcessType = Interactive and
LimitLoadToSessionType = Aqua (only in a graphical login, not over ssh). launchd loads it at
the next login; nothing is loaded now, so `enable()` never starts a second copy. Ownership: a
plist at that path whose Label is ours. Not testable on Linux beyond the file itself.
"""

from __future__ import annotations

import plistlib
from pathlib import Path
from typing import Any

from psoas_break.adapters.autostart import (
    AutostartStatus,
    interpreter_problem,
    launch_argv,
)
from psoas_break.adapters.files.atomic_file import write_atomic
from psoas_break.ports import StorageError

LABEL = "io.github.psoas-break"


class MacAutostart:
    """The LaunchAgent backend. `home` defaults to the user's home folder."""

    name = "launchagent"

    def __init__(self, home: Path | None = None, executable: str | None = None) -> None:
        self._home = home
        self._executable = executable

    @property
    def path(self) -> Path:
        home = self._home if self._home is not None else Path.home()
        return home / "Library" / "LaunchAgents" / f"{LABEL}.plist"

    def plist(self) -> dict[str, Any]:
        """The LaunchAgent's contents for this installation."""
        return {
            "Label": LABEL,
            "ProgramArguments": launch_argv(self._executable),
            "RunAtLoad": True,
            "KeepAlive": False,
            "ProcessType": "Interactive",
            "LimitLoadToSessionType": "Aqua",
        }

    def enable(self) -> AutostartStatus:
        path = self.path
        current = _load(path)
        if path.exists() and (current is None or current.get("Label") != LABEL):
            raise StorageError(
                f"{path} exists and was not written by psoas-break; remove it first"
            )
        data = plistlib.dumps(self.plist(), fmt=plistlib.FMT_XML)
        try:
            write_atomic(path, data, mode=0o644)
        except OSError as exc:
            raise StorageError(f"cannot write {path}: {exc.strerror or exc}") from exc
        return self.status()

    def disable(self) -> AutostartStatus:
        path = self.path
        if not path.exists():
            return self.status()
        current = _load(path)
        if current is None or current.get("Label") != LABEL:
            raise StorageError(f"not removing {path}: it was not written by psoas-break")
        try:
            path.unlink()
        except FileNotFoundError:
            pass
        except OSError as exc:
            raise StorageError(f"cannot remove {path}: {exc.strerror or exc}") from exc
        return self.status()

    def status(self) -> AutostartStatus:
        path = self.path
        if not path.exists():
            return AutostartStatus(False, str(path), False, "off: no login entry")
        current = _load(path)
        if current is None or current.get("Label") != LABEL:
            return AutostartStatus(
                False, str(path), False,
                f"unknown: {path} exists but was not written by psoas-break", False,
            )
        args = current.get("ProgramArguments")
        argv = [a for a in args if isinstance(a, str)] if isinstance(args, list) else []
        problem = interpreter_problem(argv)
        if problem is not None:
            return AutostartStatus(
                False, str(path), True, f"stale: {problem}; `psoas-break autostart on` rewrites it"
            )
        if current.get("Disabled") is True:
            return AutostartStatus(False, str(path), False, f"off: {path} is disabled")
        return AutostartStatus(True, str(path), False, f"on: {path} starts {argv[0]} at login")


def _load(path: Path) -> dict[str, Any] | None:
    try:
        with open(path, "rb") as f:
            value = plistlib.load(f)
    except (OSError, plistlib.InvalidFileException, ValueError):
        return None
    return value if isinstance(value, dict) else None
