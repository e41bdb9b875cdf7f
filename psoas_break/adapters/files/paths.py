"""Where psoas-break keeps its files, from platformdirs (XDG variables are honoured on Linux).

The runtime folder (control socket, instance lock) on Linux and the BSDs is
`$XDG_RUNTIME_DIR/psoas-break` whenever XDG_RUNTIME_DIR names an absolute path, whatever that
folder's mode: platformdirs silently picks another folder when it is not 0700, and an app and a
CLI that disagreed on the folder would each be right about a different one ("not running" and
"already running" at once). Our own folder inside it is made 0700 and must be ours
(single_instance.ensure_private_dir); `runtime_note()` says when XDG_RUNTIME_DIR itself is not
private, for the log and `doctor`.
"""

from __future__ import annotations

import os
import stat
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import platformdirs

APP_DIR_NAME = "psoas-break"
SETTINGS_FILE = "settings.toml"


@dataclass(frozen=True)
class AppPaths:
    """All the folders and files the app uses. Built once by `AppPaths.default()`."""

    config_dir: Path
    site_config_dirs: tuple[Path, ...]
    data_dir: Path
    state_dir: Path
    log_dir: Path
    cache_dir: Path
    runtime_dir: Path

    @property
    def settings_file(self) -> Path:
        return self.config_dir / SETTINGS_FILE

    @property
    def site_settings_files(self) -> tuple[Path, ...]:
        return tuple(d / SETTINGS_FILE for d in self.site_config_dirs)

    @property
    def history_file(self) -> Path:
        return self.data_dir / "history.sqlite3"

    @property
    def desktop_manifest(self) -> Path:
        """What `install-desktop` wrote (paths and sha256), so uninstall removes only that."""
        return self.data_dir / "desktop-install.json"

    @property
    def log_file(self) -> Path:
        return self.log_dir / "psoas-break.log"

    @property
    def private_dirs(self) -> tuple[Path, ...]:
        """The folders holding personal data (history, log, state, pages): kept 0700, their
        files 0600 (adapters/files/private.py). The config folder is the user's own."""
        return (self.data_dir, self.state_dir, self.log_dir, self.cache_dir)

    @property
    def control_socket(self) -> Path:
        return self.runtime_dir / "control.sock"

    @property
    def lock_file(self) -> Path:
        return self.runtime_dir / "instance.lock"

    @classmethod
    def default(cls) -> AppPaths:
        dirs = platformdirs.PlatformDirs(APP_DIR_NAME, appauthor=False)
        site = platformdirs.PlatformDirs(APP_DIR_NAME, appauthor=False, multipath=True)
        site_dirs = tuple(Path(p) for p in site.site_config_dir.split(os.pathsep) if p)
        return cls(
            config_dir=Path(dirs.user_config_dir),
            site_config_dirs=site_dirs,
            data_dir=Path(dirs.user_data_dir),
            state_dir=Path(dirs.user_state_dir),
            log_dir=Path(dirs.user_log_dir),
            cache_dir=Path(dirs.user_cache_dir),
            runtime_dir=_runtime_dir(dirs),
        )


def _xdg_runtime(env: Mapping[str, str]) -> str | None:
    value = env.get("XDG_RUNTIME_DIR", "")
    if sys.platform in ("win32", "darwin") or not os.path.isabs(value):
        return None
    return value


def runtime_note(env: Mapping[str, str] | None = None) -> str | None:
    """One line when XDG_RUNTIME_DIR is not a private folder of this user, else None."""
    value = _xdg_runtime(os.environ if env is None else env)
    if value is None or os.name != "posix":
        return None
    try:
        st = os.stat(value)
    except OSError as exc:
        return f"XDG_RUNTIME_DIR={value} cannot be used: {exc.strerror or exc}"
    if st.st_uid != os.getuid():
        return f"XDG_RUNTIME_DIR={value} belongs to another user (uid {st.st_uid})"
    mode = stat.S_IMODE(st.st_mode)
    if mode & 0o077:
        return (f"XDG_RUNTIME_DIR={value} is not private (mode {mode:04o}, not 0700); "
                f"psoas-break keeps its socket and lock in its own 0700 folder inside it")
    return None


def _runtime_dir(dirs: platformdirs.PlatformDirs) -> Path:
    xdg = _xdg_runtime(os.environ)
    if xdg is not None:
        return Path(xdg) / APP_DIR_NAME
    # platformdirs falls back to /tmp/runtime-$UID style paths when XDG_RUNTIME_DIR is unset;
    # that is still per-user, and we create it 0700 before use.
    import warnings

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # platformdirs warns when it falls back; fine here
            return Path(dirs.user_runtime_dir)
    except Exception:  # pragma: no cover - platforms without a runtime dir concept
        return Path(dirs.user_cache_dir) / "run"
