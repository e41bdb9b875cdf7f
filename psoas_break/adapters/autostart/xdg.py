"""Start at login on Linux and other XDG desktops: `$XDG_CONFIG_HOME/autostart/psoas-break.desktop`.

The entry's Exec starts this installation (`launch_argv()`), written per the Desktop Entry
Specification (1.5, "The Exec key"): an argument with a reserved character is put in double
quotes with `"`, `` ` ``, `$` and `\\` backslash-escaped, a literal `%` is written `%%`, and then
the whole value gets the key-file string escapes (`\\` -> `\\\\`, ...). So a path such as
`/home/me/my python $x/bin/python` works. `TryExec` names the interpreter too, so a desktop
skips (instead of failing on) an entry whose interpreter was removed.

An interpreter path with a `%` is started through `/bin/sh -c 'exec "$0" "$@"' PATH ...`:
GLib (GNOME's launcher) checks that Exec's program exists before turning `%%` back into `%`,
so the program itself must have none. (Older versions used /usr/bin/env, which reads a path
containing `=` as a variable setting; `status` reports such an entry as broken.)

Ownership: the file carries `X-psoas-break-Autostart=true`; `disable()` removes the file only
when that key is there, and `enable()` refuses to overwrite a file without it.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from psoas_break.adapters.autostart import (
    APP_ID,
    MODULE,
    AutostartStatus,
    interpreter_problem,
    launch_argv,
)
from psoas_break.adapters.files.atomic_file import write_atomic
from psoas_break.ports import StorageError

FILE_NAME = f"{APP_ID}.desktop"
MARKER_KEY = "X-psoas-break-Autostart"
GROUP = "Desktop Entry"

# Desktop Entry Spec: arguments containing any of these must be quoted.
_RESERVED = frozenset(" \t\n\"'\\><~|&;$*?#()`")
# Inside double quotes these four need a backslash.
_ESCAPE_IN_QUOTES = frozenset('"`$\\')
# Field codes an implementation expands (or, for the deprecated ones, drops).
_FIELD_CODES = frozenset("fFuUdDnNickvm")
_ENV = "/usr/bin/env"
_SH = "/bin/sh"
_SH_SCRIPT = 'exec "$0" "$@"'


class XdgAutostart:
    """The XDG autostart backend. `config_home` defaults to $XDG_CONFIG_HOME or ~/.config."""

    name = "xdg"

    def __init__(self, config_home: Path | None = None, executable: str | None = None) -> None:
        self._config_home = config_home
        self._executable = executable

    @property
    def path(self) -> Path:
        """The autostart file (read from the environment at each call unless given)."""
        home = self._config_home if self._config_home is not None else config_home()
        return home / "autostart" / FILE_NAME

    def desktop_entry(self) -> str:
        """The file's text for this installation. Raises StorageError for unusable paths."""
        argv = launch_argv(self._executable)
        exec_argv = argv
        if "%" in argv[0] and os.path.isfile(_SH):
            # GLib (GNOME's launcher) checks that Exec's program exists *before* turning `%%`
            # back into `%`, so it rejects an entry whose program path has a `%`. A program
            # without one, sh, avoids that; the spec-quoted path is then its $0. (Not env: it
            # takes a path with `=` for a variable setting.)
            exec_argv = [_SH, "-c", _SH_SCRIPT, *argv]
        lines = [
            f"[{GROUP}]",
            "Type=Application",
            "Name=psoas-break",
            "GenericName=Sitting break reminder",
            "Comment=Times how long you sit and prompts hip-flexor stretches",
            f"Exec={exec_value(exec_argv)}",
            f"TryExec={escape_string(_checked(argv[0]))}",
            f"Icon={APP_ID}",
            "Terminal=false",
            "StartupNotify=false",
            "X-GNOME-Autostart-enabled=true",
            f"{MARKER_KEY}=true",
        ]
        return "\n".join(lines) + "\n"

    def enable(self) -> AutostartStatus:
        path = self.path
        entry = read_desktop_entry(path)
        if entry is not None and not _is_ours(entry):
            raise StorageError(
                f"{path} exists and was not written by psoas-break; remove or rename it first"
            )
        data = self.desktop_entry().encode("utf-8")
        try:
            write_atomic(path, data, mode=0o644)
        except OSError as exc:
            raise StorageError(f"cannot write {path}: {exc.strerror or exc}") from exc
        return self.status()

    def disable(self) -> AutostartStatus:
        path = self.path
        entry = read_desktop_entry(path)
        if entry is None:
            if path.exists():
                raise StorageError(f"{path} is not a desktop entry; not removing it")
            return self.status()
        if not _is_ours(entry):
            raise StorageError(
                f"not removing {path}: it was not written by psoas-break"
            )
        try:
            path.unlink()
        except FileNotFoundError:
            pass
        except OSError as exc:
            raise StorageError(f"cannot remove {path}: {exc.strerror or exc}") from exc
        return self.status()

    def status(self) -> AutostartStatus:
        path = self.path
        entry = read_desktop_entry(path)
        if entry is None:
            if path.exists():
                return AutostartStatus(False, str(path), False,
                                       f"off: {path} is not a readable desktop entry", False)
            return AutostartStatus(False, str(path), False, "off: no login entry")
        disabled = (
            entry.get("Hidden", "").lower() == "true"
            or entry.get("X-GNOME-Autostart-enabled", "").lower() == "false"
        )
        if not _is_ours(entry):
            state = "off" if disabled else "on"
            return AutostartStatus(
                not disabled, str(path), False,
                f"{state}: {path} exists but was not written by psoas-break", False,
            )
        try:
            argv = _without_wrapper(split_exec(entry.get("Exec", "")))
        except ValueError as exc:
            return AutostartStatus(False, str(path), True, f"stale: its Exec line is broken: {exc}")
        problem = interpreter_problem(argv)
        if problem is not None:
            return AutostartStatus(
                False, str(path), True,
                f"stale: {problem}; `psoas-break autostart on` rewrites it",
            )
        if disabled:
            return AutostartStatus(False, str(path), False, f"off: {path} is disabled (Hidden)")
        detail = f"on: {path} starts {argv[0]} -m {MODULE} at login"
        with contextlib.suppress(StorageError):
            current = launch_argv(self._executable)[0]
            if argv[0] != current:
                detail += f" (another Python than the one running now, {current})"
        return AutostartStatus(True, str(path), False, detail)


def _without_wrapper(argv: list[str]) -> list[str]:
    """The command without the leading `/bin/sh -c ...` (see desktop_entry), or an older
    version's `/usr/bin/env`. Raises ValueError when env would misread the command."""
    if len(argv) > 3 and argv[:3] == [_SH, "-c", _SH_SCRIPT]:
        return argv[3:]
    if len(argv) > 1 and argv[0] == _ENV:
        if "=" in argv[1]:
            raise ValueError(
                f"{_ENV} would read {argv[1]!r} as a variable setting, not as the program; "
                "`psoas-break autostart on` rewrites it"
            )
        return argv[1:]
    return argv


def config_home() -> Path:
    """$XDG_CONFIG_HOME if set to an absolute path (per the Base Directory spec), else ~/.config."""
    value = os.environ.get("XDG_CONFIG_HOME", "")
    if value and os.path.isabs(value):
        return Path(value)
    return Path.home() / ".config"


# ---- Desktop Entry encoding ----


def _checked(arg: str) -> str:
    try:
        arg.encode("utf-8")
    except UnicodeEncodeError:
        raise StorageError(
            f"the path {arg!r} is not valid UTF-8 and cannot go into a desktop entry"
        ) from None
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in arg):
        raise StorageError(
            f"the path {arg!r} contains control characters and cannot go into a desktop entry"
        )
    return arg


def quote_exec_arg(arg: str) -> str:
    """One argument in Exec syntax (before the key-file string escapes)."""
    arg = _checked(arg).replace("%", "%%")
    if arg and not any(c in _RESERVED for c in arg):
        return arg
    return '"' + "".join("\\" + c if c in _ESCAPE_IN_QUOTES else c for c in arg) + '"'


def escape_string(value: str) -> str:
    """Key-file escapes for a value of type string (backslash first)."""
    out = value.replace("\\", "\\\\").replace("\n", "\\n").replace("\t", "\\t")
    out = out.replace("\r", "\\r")
    if out.startswith(" "):
        out = "\\s" + out[1:]
    return out


def exec_value(argv: list[str]) -> str:
    """The Exec value (as written in the file) that runs exactly `argv`."""
    return escape_string(" ".join(quote_exec_arg(a) for a in argv))


def unescape_string(value: str) -> str:
    """Undo the key-file string escapes (\\s \\n \\t \\r \\\\); others are kept as they are."""
    out: list[str] = []
    i = 0
    table = {"s": " ", "n": "\n", "t": "\t", "r": "\r", "\\": "\\"}
    while i < len(value):
        c = value[i]
        if c == "\\" and i + 1 < len(value) and value[i + 1] in table:
            out.append(table[value[i + 1]])
            i += 2
            continue
        out.append(c)
        i += 1
    return "".join(out)


def split_exec(value: str) -> list[str]:
    """The argv an Exec value (as written in the file) runs, per the spec; field codes dropped.

    Raises ValueError for an unterminated quote or a lone `%` at the end.
    """
    text = unescape_string(value)
    args: list[str] = []  # raw arguments, field codes not yet expanded
    current: list[str] = []
    in_arg = False
    i = 0
    while i < len(text):
        c = text[i]
        if c in " \t\n":
            if in_arg:
                args.append("".join(current))
                current, in_arg = [], False
            i += 1
            continue
        in_arg = True
        if c == '"':
            i += 1
            while True:
                if i >= len(text):
                    raise ValueError("unterminated double quote")
                q = text[i]
                if q == '"':
                    i += 1
                    break
                if q == "\\" and i + 1 < len(text) and text[i + 1] in _ESCAPE_IN_QUOTES:
                    current.append(text[i + 1])
                    i += 2
                    continue
                current.append(q)
                i += 1
            continue
        if c == "\\" and i + 1 < len(text):
            # Not allowed unquoted by the spec; read it the way a shell-style parser does.
            current.append(text[i + 1])
            i += 2
            continue
        current.append(c)
        i += 1
    if in_arg:
        args.append("".join(current))
    argv: list[str] = []
    for raw in args:
        expanded = _expand_field_codes(raw)
        if expanded is not None:
            argv.append(expanded)
    return argv


def _expand_field_codes(arg: str) -> str | None:
    """`%%` -> `%`; other field codes vanish (None when the argument was only a code)."""
    out: list[str] = []
    i = 0
    had_code = False
    while i < len(arg):
        c = arg[i]
        if c == "%":
            if i + 1 >= len(arg):
                raise ValueError("a lone % at the end of an argument")
            code = arg[i + 1]
            if code == "%":
                out.append("%")
            elif code in _FIELD_CODES:
                had_code = True
            else:
                raise ValueError(f"unknown field code %{code}")
            i += 2
            continue
        out.append(c)
        i += 1
    if had_code and not out:
        return None
    return "".join(out)


def read_desktop_entry(path: Path) -> dict[str, str] | None:
    """The unlocalised keys of the [Desktop Entry] group (values still escaped), or None."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None
    entry: dict[str, str] = {}
    group: str | None = None
    seen_group = False
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("[") and line.endswith("]"):
            group = line[1:-1]
            seen_group = seen_group or group == GROUP
            continue
        if group != GROUP or "=" not in line:
            continue
        key, _, value = line.partition("=")
        key = key.strip()
        if "[" in key:
            continue  # localised variants
        entry.setdefault(key, value.strip())
    return entry if seen_group else None


def _is_ours(entry: dict[str, str]) -> bool:
    return entry.get(MARKER_KEY, "").lower() == "true"
