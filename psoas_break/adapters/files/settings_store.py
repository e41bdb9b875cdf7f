"""Settings on disk: TOML in the user config folder, layered over optional site defaults.

Contract:
- `load()` never raises for bad content: each bad value is one line in `problems`, that key
  falls back, the rest applies; a file that cannot be read gives one line and all defaults.
  Only a regular file of at most MAX_FILE_BYTES is read (a FIFO, a device, a folder or a huge
  file is one line, never a hang); a UTF-8 byte-order mark (Windows Notepad) is accepted.
  Repeated problem lines are said once, and at most MAX_PROBLEMS are listed.
- The user file holds only what the user set (plus unknown keys, kept as they were), so a site
  default changed later still reaches keys the user never touched.
- No key the user wrote is ever dropped. A user file that cannot be read completely (not valid
  TOML, a duplicated key, not UTF-8, not a regular file, too large, nested deeper than
  MAX_DEPTH, a value TOML cannot write back) is never rewritten: `save`/`reset` raise
  `StorageError` with one line naming what to fix, and the file stays exactly as it is. (The
  other way, editing the text without understanding it, could not promise to keep every key.)
- A file that parses but has bad values is copied to `settings.toml.bad-YYYYmmdd-HHMMSS` (0600)
  before it is written for the first time; a copy that fails part way is removed. Writes are
  atomic (see atomic_file) and go through a symbolic link to its target.
- Writing raises `StorageError` with a plain message (disk full, read-only file system,
  permission denied); setting a key the site defaults lock raises `SettingError` (an
  InputError) saying so. Every message is one line, values shortened (core/plain_text).
"""

from __future__ import annotations

import errno
import logging
import os
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import tomli_w

from psoas_break.adapters.files.atomic_file import (
    UnsafeFile,
    backup_copy,
    read_small_file,
    write_atomic,
)
from psoas_break.core.plain_text import one_line, shorten
from psoas_break.core.settings import (
    SCHEMA_VERSION,
    SPECS,
    LoadResult,
    SettingError,
    Settings,
    layer_settings,
    to_raw,
)
from psoas_break.ports import StorageError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

log = logging.getLogger(__name__)

#: The largest settings file read (a real one is a few hundred bytes; parsing the worst 64 KiB
#: of TOML takes under 100 ms, see bench/hostile_input.py).
MAX_FILE_BYTES = 64 * 1024
#: At most this many problem lines are kept (duplicates dropped); the rest are counted.
MAX_PROBLEMS = 20
#: The deepest nesting of tables and lists kept and written back (a real file has 2).
MAX_DEPTH = 32


@dataclass
class _FileState:
    raw: dict[str, Any]
    problem: str | None  # one line about the file as a whole (unreadable: all defaults)
    identity: tuple[int, int, int] | None  # (inode, size, mtime_ns) when read; None: no file
    # Why this file must not be rewritten (it holds something a rewrite would lose), or None.
    unwritable: str | None = None
    data: bytes | None = None  # the bytes read (for the backup)


def _local_now() -> datetime:
    from psoas_break.adapters.clock import local_now

    return local_now()


class SettingsStore:
    """Reads and writes the settings files. One instance per process."""

    def __init__(
        self,
        user_file: Path,
        site_files: tuple[Path, ...] = (),
        now: Callable[[], datetime] = _local_now,
    ) -> None:
        self.user_file = user_file
        self.site_files = site_files
        self._now = now
        self._backed_up = False
        self._result: LoadResult = LoadResult(Settings())
        self._user = _FileState({}, None, None)
        self._site_raw: dict[str, Any] = {}
        self._site_problems: tuple[str, ...] = ()

    # ---- reading ----

    def load(self) -> LoadResult:
        """Read site and user files and return the layered settings with every problem."""
        site_raw: dict[str, Any] = {}
        site_problems: list[str] = []
        for site_file in self.site_files:
            if _present(site_file):
                state = _read_toml(site_file)
                if state.problem:
                    site_problems.append(f"site defaults: {state.problem}")
                site_raw = state.raw
                break
        self._user = _read_toml(self.user_file)
        self._site_raw, self._site_problems = site_raw, tuple(site_problems)
        result = layer_settings(site_raw, self._user.raw)
        problems = list(site_problems)
        if self._user.problem:
            problems.append(self._user.problem)
        problems.extend(result.problems)
        problems = _bounded(problems)
        self._result = LoadResult(result.settings, tuple(problems), result.unknown, result.locked)
        for line in problems:
            log.warning("%s", line)
        return self._result

    @property
    def result(self) -> LoadResult:
        return self._result

    @property
    def settings(self) -> Settings:
        return self._result.settings

    @property
    def file_problem(self) -> str | None:
        """The problem line that keeps the user file from being rewritten, or None."""
        return self._user.problem

    def user_value(self, key: str) -> Any:
        """What the user file says for `key` (None when unset)."""
        return self._user.raw.get(key)

    def _refresh(self) -> None:
        """Re-read the files only if the user file changed since the last read (an editor,
        `psoas-break config set` in a terminal): one stat, so no other change is lost."""
        if _identity(self.user_file) != self._user.identity:
            self.load()

    # ---- writing ----

    def save(self, key: str, value: Any) -> LoadResult:
        """Save one key whose value is already validated (`validate_value`,
        `parse_cli_value`); returns the settings now in effect, without reading the file
        again. Raises SettingError (the key is locked) or StorageError (the file is then
        unchanged)."""
        self._refresh()
        if key in self._result.locked:
            raise SettingError(
                f"{key} is locked by your administrator's site defaults and cannot be changed"
            )
        raw = dict(self._user.raw)
        raw[key] = to_raw(key, value)
        return self._write(raw)

    def reset(self, key: str | None = None) -> LoadResult:
        """Forget the user's value for `key` (or every key) so the default applies again."""
        if key is not None and key not in SPECS:
            raise SettingError(f"unknown setting {one_line(repr(key), 80)}; known settings: "
                               f"{', '.join(SPECS)}")
        self._refresh()
        raw = dict(self._user.raw)
        if key is None:
            raw = {k: v for k, v in raw.items() if k not in SPECS}
        else:
            if key in self._result.locked:
                raise SettingError(f"{key} is locked by your administrator's site defaults")
            raw.pop(key, None)
        return self._write(raw)

    def _write(self, raw: dict[str, Any]) -> LoadResult:
        """Write `raw` as the user file and return the layered settings it gives."""
        if self._user.unwritable is not None:
            raise StorageError(
                f"not saved: {self._user.unwritable}; fix that (in a text editor, or move the "
                "file away to start afresh) and try again — the file was left as it is"
            )
        raw = {"schema_version": SCHEMA_VERSION, **{k: v for k, v in raw.items()
                                                    if k != "schema_version"}}
        text = _dump(raw, self.user_file)
        damaged = any(not p.startswith("site defaults:") for p in self._result.problems)
        if damaged and self._user.identity is not None and not self._backed_up:
            try:
                data = self._user.data
                if data is None:
                    data = read_small_file(self.user_file, MAX_FILE_BYTES)
                backup = backup_copy(self.user_file, "bad", self._now(), data)
            except OSError as exc:
                raise StorageError(
                    f"could not back up {self.user_file} before saving ({os_reason(exc)}); "
                    "nothing was changed"
                ) from exc
            self._backed_up = True
            log.warning("settings file had problems; kept a copy as %s", backup)
        try:
            write_atomic(self.user_file, text.encode("utf-8"))
        except OSError as exc:
            raise StorageError(
                f"could not save settings to {self.user_file}: {os_reason(exc)}; "
                "the previous file is unchanged"
            ) from exc
        # What we wrote is what the file now says: layer it without reading it back.
        self._user = _FileState(raw, None, _identity(self.user_file))
        layered = layer_settings(self._site_raw, raw)
        self._result = LoadResult(layered.settings,
                                  tuple(_bounded([*self._site_problems, *layered.problems])),
                                  layered.unknown, layered.locked)
        return self._result


def _bounded(problems: list[str]) -> list[str]:
    """The problem lines without repeats, at most MAX_PROBLEMS (the rest counted in one)."""
    unique = list(dict.fromkeys(problems))
    if len(unique) <= MAX_PROBLEMS:
        return unique
    more = len(unique) - (MAX_PROBLEMS - 1)
    return [*unique[: MAX_PROBLEMS - 1], f"and {more} more problems like these"]


def os_reason(exc: OSError) -> str:
    """An OS error as a few plain words (no errno numbers, no Python names)."""
    if isinstance(exc, UnsafeFile):
        return str(exc)
    reasons = {
        errno.ENOSPC: "the disk is full",
        errno.EDQUOT: "your disk quota is used up",
        errno.EFBIG: "the file is larger than this system allows",
        errno.EROFS: "the folder is on a read-only file system",
        errno.EACCES: "permission denied",
        errno.EPERM: "not permitted (the file or folder is protected, e.g. immutable)",
        errno.EISDIR: "a folder is in the way",
        errno.ENOTDIR: "a file is in the way where a folder should be",
        errno.ELOOP: "a loop of symbolic links",
    }
    return reasons.get(exc.errno or 0) or one_line(exc.strerror or str(exc), 120)


def _present(path: Path) -> bool:
    """False only when nothing is at `path`; an unreadable place counts as present, so that
    reading it reports why (Path.exists() raises PermissionError there)."""
    try:
        os.stat(path)
    except (FileNotFoundError, NotADirectoryError):
        return False
    except OSError:
        return True
    return True


def _identity(path: Path) -> tuple[int, int, int] | None:
    """(inode, size, mtime_ns) of `path`, None when it cannot be stat'ed."""
    try:
        st = path.stat()
    except OSError:
        return None
    return st.st_ino, st.st_size, st.st_mtime_ns


_WHERE_RE = re.compile(r"\s*\((at line (\d+), column (\d+)|at end of document)\)\s*$")


def _toml_error(exc: Exception) -> str:
    """tomllib's message as plain words: where, then what ("a key is set twice", ...)."""
    text = str(exc)
    match = _WHERE_RE.search(text)
    what = text[: match.start()] if match else text
    where = ""
    if match:
        where = (f"line {match.group(2)}, column {match.group(3)}" if match.group(2)
                 else "the end of the file")
    if what.startswith("Cannot overwrite a value"):
        what = "a key is defined twice (or a key and a table share a name)"
    elif what.startswith("Cannot declare") and what.endswith("twice"):
        what = "a table is defined twice"
    else:
        what = what[:1].lower() + what[1:]
    what = one_line(what, 120)
    return f"{what} at {where}" if where else what


def _read_toml(path: Path) -> _FileState:
    name = one_line(str(path), 200)
    identity = _identity(path)
    try:
        data = read_small_file(path, MAX_FILE_BYTES)
    except FileNotFoundError:
        return _FileState({}, None, None)
    except UnsafeFile as exc:
        return _unreadable(path, f"{name} {exc.reason}", identity)
    except OSError as exc:
        return _unreadable(path, f"{name} cannot be read: {os_reason(exc)}", identity)
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return _unreadable(path, f"{name} is saved as UTF-16; save it as UTF-8", identity)
    try:
        # "utf-8-sig": a byte-order mark at the start (Windows Notepad) is accepted.
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        return _unreadable(path, f"{name} is not UTF-8 text (byte {exc.start + 1})", identity)
    too_deep_at = _nesting_over(text, MAX_DEPTH)
    if too_deep_at is not None:
        # Refused before parsing: how deep the parser could go would depend on the thread's
        # stack and recursion limit, and the answer must be the same everywhere.
        return _unreadable(path, f"{name} nests keys, lists or tables more than {MAX_DEPTH} "
                           f"levels deep (line {too_deep_at})", identity)
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        return _unreadable(path, f"{name} is not valid TOML: {_toml_error(exc)}", identity)
    except RecursionError:
        return _unreadable(path, f"{name} nests lists or tables too deeply to read", identity)
    except ValueError as exc:
        # Python's limit on turning digits into an int (4,300 digits): not a TOMLDecodeError.
        detail = "a number has more than 4300 digits" if "digits" in str(exc) else one_line(
            str(exc), 120)
        return _unreadable(path, f"{name} cannot be read: {detail}", identity)
    deep = _too_deep(raw, MAX_DEPTH)
    if deep is not None:
        line = (f"{name}: the key {deep} is nested more than {MAX_DEPTH} levels deep; the "
                "other keys apply, but psoas-break will not rewrite the file until that is fixed")
        return _FileState(raw, line, identity, unwritable=f"in {name}, the key {deep} is "
                          f"nested more than {MAX_DEPTH} levels deep", data=data)
    return _FileState(raw, None, identity, data=data)


_SCAN = re.compile(r"[\n#\"'\[\]{}=,.]")


def _string_end(text: str, start: int, quote: str) -> int:
    """The index just past the string opened at `start` by `quote` (", ', \"\"\" or '''); a
    one-line string left open ends at its line's end (the parser reports it)."""
    n = len(text)
    j = start + len(quote)
    while True:
        k = text.find(quote, j)
        if len(quote) == 1:
            newline = text.find("\n", j)
            if newline >= 0 and (k < 0 or newline < k):
                return newline
        if k < 0:
            return n
        if quote[0] == '"':
            backslashes = 0
            while k - 1 - backslashes >= j and text[k - 1 - backslashes] == "\\":
                backslashes += 1
            if backslashes % 2:
                j = k + 1
                continue
        return k + len(quote)


def _nesting_over(text: str, limit: int) -> int | None:
    """The line where the text nests deeper than `limit` (lists and tables opened with `[`,
    `{`, or a dotted key such as a.b.c with more parts), or None.

    A linear scan that skips strings and comments, with no recursion: it bounds what the TOML
    parser is given, whose time grows with the square of a dotted key's length and whose
    recursion on `[[[...` depends on the caller's stack.
    """
    stack: list[str] = []
    in_key = True  # at the start of a line, or of an inline table entry: reading a key
    key_parts = 1
    line = 1
    i = 0
    n = len(text)
    while i < n:
        match = _SCAN.search(text, i)
        if match is None:
            break
        i = match.start()
        c = text[i]
        if c in "\"'":
            quote = c * 3 if text.startswith(c * 3, i) else c
            end = _string_end(text, i, quote)
            line += text.count("\n", i, end)
            i = end
            continue
        if c == "#":
            end = text.find("\n", i)
            i = n if end < 0 else end
            continue
        if c == "\n":
            line += 1
            if not stack:
                in_key, key_parts = True, 1
        elif c == "=":
            in_key = False
        elif c in "[{":
            stack.append(c)
            if len(stack) > limit:
                return line
            if c == "{":
                in_key, key_parts = True, 1
        elif c in "]}":
            if stack:
                stack.pop()
        elif c == "," and stack and stack[-1] == "{":
            in_key, key_parts = True, 1
        elif c == "." and in_key:
            key_parts += 1
            if key_parts + len(stack) > limit:
                return line
        i += 1
    return None


def _unreadable(path: Path, reason: str, identity: tuple[int, int, int] | None) -> _FileState:
    return _FileState({}, f"{reason}; using the defaults for every key, and the file is left "
                      "as it is", identity, unwritable=reason)


def _too_deep(raw: dict[str, Any], limit: int) -> str | None:
    """The name (shortened) of the first value nested more than `limit` levels, or None.

    Iterative: a structure deeper than Python's recursion limit is measured safely.
    """
    stack: list[tuple[Any, str, int]] = [(raw, "", 0)]
    while stack:
        value, name, depth = stack.pop()
        if depth > limit:
            return shorten(one_line(name, 60), 40) + "…"
        if len(name) > 100:
            name = name[:100]  # only the head is ever shown
        if isinstance(value, dict):
            stack.extend((v, f"{name}.{k}" if name else str(k), depth + 1)
                         for k, v in value.items())
        elif isinstance(value, list):
            stack.extend((v, f"{name}[{i}]", depth + 1) for i, v in enumerate(value))
    return None


def _dump(raw: dict[str, Any], path: Path) -> str:
    """`raw` as TOML text; StorageError naming the key when a value cannot be written back."""
    try:
        return tomli_w.dumps(raw)
    except (ValueError, TypeError, RecursionError):
        pass
    for key, value in raw.items():
        try:
            tomli_w.dumps({key: value})
        except (ValueError, TypeError, RecursionError) as exc:
            what = ("a number too long to write" if "digits" in str(exc)
                    else one_line(str(exc), 80))
            raise StorageError(
                f"not saved: {one_line(str(path), 200)} holds a value psoas-break cannot write "
                f"back under {one_line(key, 40)} ({what}); fix it in a text editor, then try "
                "again — the file was left as it is"
            ) from None
    raise StorageError(f"not saved: {one_line(str(path), 200)} cannot be written back; the "
                       "file was left as it is")
