"""Settings on disk: TOML in the user config folder, layered over optional site defaults.

Contract:
- `load()` never raises for bad content: each bad value is one line in `problems`, that key
  falls back, the rest applies; unparseable TOML gives one line and all defaults.
- The user file holds only what the user set (plus unknown keys, kept as they were), so a site
  default changed later still reaches keys the user never touched.
- A file that had problems is copied to `settings.toml.bad-YYYYmmdd-HHMMSS` before it is
  written for the first time. Writes are atomic (see atomic_file).
- Writing raises `StorageError` with a plain message (disk full, read-only folder); setting a
  key the site defaults lock raises `SettingError` (an InputError) saying so.
"""

from __future__ import annotations

import errno
import logging
import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import tomli_w

from psoas_break.adapters.files.atomic_file import backup_copy, write_atomic
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


@dataclass
class _FileState:
    raw: dict[str, Any]
    problem: str | None  # set when the file could not be parsed at all
    identity: tuple[int, int, int] | None  # (inode, size, mtime_ns) when read; None: no file


def _local_now() -> datetime:
    return datetime.now().astimezone()


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
            if site_file.is_file():
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
            raise SettingError(f"unknown setting {key!r}; known settings: {', '.join(SPECS)}")
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
        damaged = bool(self._user.problem) or any(
            not p.startswith("site defaults:") for p in self._result.problems
        )
        if damaged and self.user_file.exists() and not self._backed_up:
            try:
                backup = backup_copy(self.user_file, "bad", self._now())
            except OSError as exc:
                raise StorageError(
                    f"could not back up {self.user_file} before saving ({_reason(exc)}); "
                    "nothing was changed"
                ) from exc
            self._backed_up = True
            log.warning("settings file had problems; kept a copy as %s", backup)
        raw = {"schema_version": SCHEMA_VERSION, **{k: v for k, v in raw.items()
                                                    if k != "schema_version"}}
        try:
            write_atomic(self.user_file, tomli_w.dumps(raw).encode("utf-8"))
        except OSError as exc:
            raise StorageError(
                f"could not save settings to {self.user_file}: {_reason(exc)}; "
                "the previous file is unchanged"
            ) from exc
        # What we wrote is what the file now says: layer it without reading it back.
        self._user = _FileState(raw, None, _identity(self.user_file))
        layered = layer_settings(self._site_raw, raw)
        self._result = LoadResult(layered.settings, (*self._site_problems, *layered.problems),
                                  layered.unknown, layered.locked)
        return self._result


def _reason(exc: OSError) -> str:
    if exc.errno == errno.ENOSPC:
        return "the disk is full"
    if exc.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
        return "the folder is read-only or not writable"
    return exc.strerror or str(exc)


def _identity(path: Path) -> tuple[int, int, int] | None:
    """(inode, size, mtime_ns) of `path`, None when it cannot be stat'ed."""
    try:
        st = path.stat()
    except OSError:
        return None
    return st.st_ino, st.st_size, st.st_mtime_ns


def _read_toml(path: Path) -> _FileState:
    mtime = _identity(path)
    try:
        text = path.read_bytes().decode("utf-8")
    except FileNotFoundError:
        return _FileState({}, None, None)
    except UnicodeDecodeError:
        return _FileState({}, f"{path} is not UTF-8 text; using defaults for every key", mtime)
    except OSError as exc:
        return _FileState({}, f"cannot read {path} ({_reason(exc)}); using defaults", mtime)
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        return _FileState({}, f"{path} is not valid TOML ({exc}); using defaults for every key",
                          mtime)
    return _FileState(raw, None, mtime)
