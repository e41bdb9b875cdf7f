"""Start at login on Windows: a value under HKCU\\Software\\Microsoft\\Windows\\CurrentVersion\\Run.

The value `psoas-break` (REG_SZ) holds `launch_argv()` joined by `subprocess.list2cmdline`, the
quoting the Microsoft C runtime (and CommandLineToArgvW) reads back, with `pythonw.exe` instead
of `python.exe` when it sits beside it (no console window at login). Explorer runs the value
through CreateProcess, which does no cmd.exe interpretation, so `&`, `^`, `%` need no escaping.

The registry is reached through the small `RunKey` seam: `WinregRunKey` is the real one
(winreg, imported lazily so this module imports everywhere); tests pass their own. Ownership:
a value is ours when it parses to `<python> -m psoas_break ...`. Not testable on Linux beyond
the command line and the seam; see tests/test_autostart.py.
"""

from __future__ import annotations

import importlib
import os
import subprocess
from typing import Any, Protocol

from psoas_break.adapters.autostart import (
    APP_ID,
    MODULE,
    AutostartStatus,
    interpreter_problem,
    launch_argv,
)
from psoas_break.ports import StorageError

RUN_KEY = r"Software\Microsoft\Windows\CurrentVersion\Run"
VALUE_NAME = APP_ID


class RunKey(Protocol):
    """The HKCU Run key. get: the value or None; set/delete raise OSError on failure."""

    def get(self, name: str) -> str | None: ...

    def set(self, name: str, value: str) -> None: ...

    def delete(self, name: str) -> None: ...


class WinregRunKey:  # pragma: no cover - Windows only
    """The real HKCU Run key through winreg."""

    def get(self, name: str) -> str | None:
        winreg = _winreg()
        try:
            with winreg.OpenKey(winreg.HKEY_CURRENT_USER, RUN_KEY) as key:
                value, _type = winreg.QueryValueEx(key, name)
        except FileNotFoundError:
            return None
        return value if isinstance(value, str) else None

    def set(self, name: str, value: str) -> None:
        winreg = _winreg()
        with winreg.CreateKeyEx(
            winreg.HKEY_CURRENT_USER, RUN_KEY, 0, winreg.KEY_SET_VALUE
        ) as key:
            winreg.SetValueEx(key, name, 0, winreg.REG_SZ, value)

    def delete(self, name: str) -> None:
        winreg = _winreg()
        with winreg.OpenKey(winreg.HKEY_CURRENT_USER, RUN_KEY, 0, winreg.KEY_SET_VALUE) as key:
            winreg.DeleteValue(key, name)


def _winreg() -> Any:  # pragma: no cover - Windows only
    # Imported at call time (and typed loosely) so this module imports and type-checks anywhere.
    return importlib.import_module("winreg")


def gui_interpreter(executable: str) -> str:
    """`pythonw.exe` beside `python.exe` if it exists (no console at login), else unchanged."""
    # Plain string surgery keeps the path's own separators (and lets tests run on Linux).
    cut = max(executable.rfind("\\"), executable.rfind("/")) + 1
    if executable[cut:].lower() == "python.exe":
        candidate = executable[:cut] + "pythonw.exe"
        if os.path.isfile(candidate):
            return candidate
    return executable


def command_line(argv: list[str]) -> str:
    """argv quoted for CreateProcess (MS C runtime rules)."""
    return subprocess.list2cmdline(argv)


def split_command_line(cmd: str) -> list[str]:
    """Parse a command line the way CommandLineToArgvW / the MS C runtime (2008+) do.

    argv[0] is special: up to the closing quote if it starts with one (no backslash rules),
    else up to the first space or tab. Then, for each other argument: 2n backslashes before a
    quote give n backslashes and toggle quoting, 2n+1 give n and a literal quote, backslashes
    not before a quote are literal, and `""` inside quotes is one literal quote.
    """
    argv: list[str] = []
    i, n = 0, len(cmd)
    if n == 0:
        return argv
    if cmd[0] == '"':
        end = cmd.find('"', 1)
        end = n if end < 0 else end
        argv.append(cmd[1:end])
        i = end + 1
    else:
        while i < n and cmd[i] not in " \t":
            i += 1
        argv.append(cmd[:i])
    while True:
        while i < n and cmd[i] in " \t":
            i += 1
        if i >= n:
            return argv
        arg: list[str] = []
        in_quotes = False
        while i < n:
            c = cmd[i]
            if c in " \t" and not in_quotes:
                break
            if c == "\\":
                j = i
                while j < n and cmd[j] == "\\":
                    j += 1
                count = j - i
                if j < n and cmd[j] == '"':
                    arg.append("\\" * (count // 2))
                    if count % 2:
                        arg.append('"')
                        i = j + 1
                    else:
                        i = j  # the quote toggles below
                    continue
                arg.append("\\" * count)
                i = j
                continue
            if c == '"':
                if in_quotes and i + 1 < n and cmd[i + 1] == '"':
                    arg.append('"')
                    i += 2
                    continue
                in_quotes = not in_quotes
                i += 1
                continue
            arg.append(c)
            i += 1
        argv.append("".join(arg))


class WindowsAutostart:
    """The HKCU Run backend (see the module docstring)."""

    name = "windows-run"

    def __init__(self, run_key: RunKey | None = None, executable: str | None = None) -> None:
        self._key: RunKey = run_key if run_key is not None else WinregRunKey()
        self._executable = executable

    @property
    def path(self) -> str:
        return f"HKCU\\{RUN_KEY}\\{VALUE_NAME}"

    def command(self) -> str:
        """The value enable() writes."""
        argv = launch_argv(self._executable)
        argv[0] = gui_interpreter(argv[0])
        return command_line(argv)

    def enable(self) -> AutostartStatus:
        current = self._get()
        if current is not None and not _is_ours(current):
            raise StorageError(
                f"{self.path} exists and was not written by psoas-break; remove it first"
            )
        try:
            self._key.set(VALUE_NAME, self.command())
        except OSError as exc:
            raise StorageError(f"cannot write {self.path}: {exc}") from exc
        return self.status()

    def disable(self) -> AutostartStatus:
        current = self._get()
        if current is None:
            return self.status()
        if not _is_ours(current):
            raise StorageError(f"not removing {self.path}: it was not written by psoas-break")
        try:
            self._key.delete(VALUE_NAME)
        except FileNotFoundError:
            pass
        except OSError as exc:
            raise StorageError(f"cannot remove {self.path}: {exc}") from exc
        return self.status()

    def status(self) -> AutostartStatus:
        try:
            current = self._get()
        except StorageError as exc:
            return AutostartStatus(False, self.path, False, f"unknown: {exc}")
        if current is None:
            return AutostartStatus(False, self.path, False, "off: no login entry")
        if not _is_ours(current):
            return AutostartStatus(
                True, self.path, False,
                f"on: {self.path} exists but was not written by psoas-break", False,
            )
        argv = split_command_line(current)
        problem = interpreter_problem(argv)
        if problem is not None:
            return AutostartStatus(
                False, self.path, True, f"stale: {problem}; `psoas-break autostart on` rewrites it"
            )
        return AutostartStatus(True, self.path, False, f"on: runs {current} at login")

    def _get(self) -> str | None:
        try:
            return self._key.get(VALUE_NAME)
        except OSError as exc:
            raise StorageError(f"cannot read {self.path}: {exc}") from exc


def _is_ours(value: str) -> bool:
    argv = split_command_line(value)
    return len(argv) >= 3 and argv[1] == "-m" and argv[2] == MODULE
