"""Quiet reason "camera": the webcam is in use (a video call is likely).

Linux (`V4l2CameraDetector`): a video device (`/dev/video*`) is held open by ANOTHER process.
One scan of `/proc/<pid>/fd/*` symlinks, comparing each target with the resolved device paths.
Only processes whose fds we may read are seen (the user's own; all of them as root), which is
the user's own video-call app. Both roots are parameters so a test can point the scan at a real
open file. Known limit: a process that keeps a camera open without streaming (some PipeWire
camera monitors do) looks like a call; `PSOAS_QUIET_DETECTORS` can leave this detector out.

Windows (`WindowsCameraDetector`): the CapabilityAccessManager consent store in the registry,
HKCU\\...\\CapabilityAccessManager\\ConsentStore\\webcam. Each app that used the camera has a
subkey (packaged apps directly; desktop apps under `NonPackaged`, their exe path with "\\"
written as "#") with QWORD FILETIME values `LastUsedTimeStart` and `LastUsedTimeStop`; while the
app uses the camera, `LastUsedTimeStop` is 0. The walk over the keys is pure (`consent_entries`,
over any `ConsentKey`), tested with an in-memory tree; only `_WinregKey` touches winreg.

macOS: no documented API tells whether another process uses the camera (the menu-bar indicator
is drawn by the system; `AVCaptureDevice.isInUseByAnotherApplication` needs PyObjC and camera
permission). Left as a documented gap: the factory reports it.
"""

from __future__ import annotations

import glob
import logging
import os
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Protocol

from psoas_break.ports import Unavailable

log = logging.getLogger(__name__)

REASON = "camera"
DEFAULT_DEV_GLOB = "/dev/video*"
DEFAULT_PROC_ROOT = "/proc"


# ---- Linux ----


@dataclass(frozen=True)
class CameraUser:
    """A process holding a video device open."""

    pid: int
    name: str
    device: str


def _comm(proc_root: str, pid: int) -> str:
    try:
        with open(os.path.join(proc_root, str(pid), "comm"), encoding="utf-8",
                  errors="replace") as f:
            return f.read().strip()
    except OSError:
        return "?"


def video_device_users(dev_glob: str = DEFAULT_DEV_GLOB, proc_root: str = DEFAULT_PROC_ROOT,
                       exclude_pids: Iterable[int] = ()) -> list[CameraUser]:
    """Processes (other than `exclude_pids`) with an fd open on a path matching `dev_glob`;
    unreadable ones (other users', exited mid-scan) are skipped silently."""
    devices = {os.path.realpath(path) for path in glob.glob(dev_glob)}
    if not devices:
        return []
    excluded = set(exclude_pids)
    users: list[CameraUser] = []
    try:
        entries = list(os.scandir(proc_root))
    except OSError as exc:
        log.debug("cannot list %s: %s", proc_root, exc)
        return []
    for entry in entries:
        if not entry.name.isdigit():
            continue
        pid = int(entry.name)
        if pid in excluded:
            continue
        device = _held_device(os.path.join(entry.path, "fd"), devices)
        if device is not None:
            users.append(CameraUser(pid, _comm(proc_root, pid), device))
    return users


def _held_device(fd_dir: str, devices: set[str]) -> str | None:
    try:
        with os.scandir(fd_dir) as fds:
            for fd in fds:
                try:
                    target = os.readlink(fd.path)
                except OSError:
                    continue  # the fd closed meanwhile
                if target in devices:
                    return target
    except OSError:
        return None  # not ours to read, or the process exited
    return None


class V4l2CameraDetector:
    """QuietDetector: a /dev/video* device is open in another process (see module docstring)."""

    name = "camera-v4l2"

    def __init__(self, dev_glob: str = DEFAULT_DEV_GLOB, proc_root: str = DEFAULT_PROC_ROOT,
                 exclude_pids: Iterable[int] | None = None) -> None:
        self.dev_glob = dev_glob
        self.proc_root = proc_root
        self._exclude = tuple(exclude_pids) if exclude_pids is not None else (os.getpid(),)

    @classmethod
    def open(cls, dev_glob: str = DEFAULT_DEV_GLOB,
             proc_root: str = DEFAULT_PROC_ROOT) -> V4l2CameraDetector:
        """Raises Unavailable when `proc_root` cannot be read (no procfs: not Linux)."""
        if not os.path.isdir(os.path.join(proc_root, "self", "fd")):
            raise Unavailable(f"no process list at {proc_root} (needs Linux procfs)")
        return cls(dev_glob, proc_root)

    def users(self) -> list[CameraUser]:
        """Who holds a camera open now (for logs and `doctor`)."""
        return video_device_users(self.dev_glob, self.proc_root, self._exclude)

    def reasons(self) -> tuple[str, ...]:
        """("camera",) when another process holds a video device open; never raises."""
        try:
            users = self.users()
        except Exception:  # a surprise in procfs must not stop a prompt
            log.debug("camera scan failed", exc_info=True)
            return ()
        if users:
            log.debug("camera in use by %s", ", ".join(f"{u.name}[{u.pid}]" for u in users))
            return (REASON,)
        return ()

    def close(self) -> None:
        """Nothing is kept open."""


# ---- Windows ----

CONSENT_STORE_KEY = (
    r"Software\Microsoft\Windows\CurrentVersion\CapabilityAccessManager\ConsentStore\webcam"
)
NON_PACKAGED = "NonPackaged"


@dataclass(frozen=True)
class ConsentEntry:
    """One app's webcam record: its subkey name and the two FILETIME values (None = absent)."""

    key: str
    packaged: bool
    last_used_start: int | None
    last_used_stop: int | None

    @property
    def in_use(self) -> bool:
        """Started and not stopped: Windows writes LastUsedTimeStop = 0 while in use."""
        return bool(self.last_used_start) and self.last_used_stop == 0

    @property
    def app_name(self) -> str:
        """"Zoom.exe" for "C:#Program Files#Zoom#bin#Zoom.exe"; "Microsoft.WindowsCamera"
        for "Microsoft.WindowsCamera_8wekyb3d8bbwe" (the package family without publisher)."""
        if self.packaged:
            return self.key.split("_", 1)[0]
        return self.key.replace("#", "\\").rsplit("\\", 1)[-1]


class ConsentKey(Protocol):
    """The little of a registry key the walk needs (winreg in use, a dict in tests)."""

    def subkeys(self) -> list[str]: ...

    def child(self, name: str) -> ConsentKey: ...

    def qword(self, name: str) -> int | None: ...


def consent_entries(webcam: ConsentKey) -> list[ConsentEntry]:
    """Every readable app record under the consent store's `webcam` key (packaged and
    NonPackaged)."""
    entries: list[ConsentEntry] = []

    def record(parent: ConsentKey, name: str, packaged: bool) -> None:
        try:
            key = parent.child(name)
            entries.append(ConsentEntry(name, packaged, key.qword("LastUsedTimeStart"),
                                        key.qword("LastUsedTimeStop")))
        except OSError:
            log.debug("webcam consent record %s unreadable", name, exc_info=True)

    for name in webcam.subkeys():
        if name == NON_PACKAGED:
            try:
                non_packaged = webcam.child(name)
                names = non_packaged.subkeys()
            except OSError:
                continue
            for exe in names:
                record(non_packaged, exe, False)
        else:
            record(webcam, name, True)
    return entries


def webcam_apps_in_use(entries: Iterable[ConsentEntry], exclude: Iterable[str] = ()) -> list[str]:
    """Names of the apps using the webcam now, minus `exclude` (case-insensitive)."""
    skip = {e.lower() for e in exclude}
    return [e.app_name for e in entries if e.in_use and e.app_name.lower() not in skip]


class _WinregKey:
    """ConsentKey over an open winreg key (Windows only)."""

    def __init__(self, winreg: Any, handle: Any) -> None:
        self._winreg = winreg
        self._handle = handle

    def subkeys(self) -> list[str]:
        names: list[str] = []
        index = 0
        while True:
            try:
                names.append(self._winreg.EnumKey(self._handle, index))
            except OSError:  # ERROR_NO_MORE_ITEMS
                return names
            index += 1

    def child(self, name: str) -> _WinregKey:
        return _WinregKey(self._winreg, self._winreg.OpenKey(self._handle, name))

    def qword(self, name: str) -> int | None:
        try:
            value, kind = self._winreg.QueryValueEx(self._handle, name)
        except OSError:
            return None
        return int(value) if kind == self._winreg.REG_QWORD else None

    def close(self) -> None:
        self._handle.Close()


class WindowsCameraDetector:
    """QuietDetector over the webcam consent store (see module docstring)."""

    name = "camera-windows"

    def __init__(self, winreg: Any) -> None:
        self._winreg = winreg

    @classmethod
    def open(cls) -> WindowsCameraDetector:
        """Raises Unavailable off Windows or when the consent store key is missing
        (Windows before 10 1903)."""
        if sys.platform != "win32":
            raise Unavailable("only on Windows")
        import winreg

        try:
            winreg.OpenKey(winreg.HKEY_CURRENT_USER, CONSENT_STORE_KEY).Close()
        except OSError:
            raise Unavailable("no webcam consent store (needs Windows 10 1903 or later)") from None
        return cls(winreg)

    def apps_in_use(self) -> list[str]:
        """Apps using the webcam now."""
        winreg = self._winreg
        key = _WinregKey(winreg, winreg.OpenKey(winreg.HKEY_CURRENT_USER, CONSENT_STORE_KEY))
        try:
            return webcam_apps_in_use(consent_entries(key))
        finally:
            key.close()

    def reasons(self) -> tuple[str, ...]:
        """("camera",) when an app uses the webcam now; never raises."""
        try:
            return (REASON,) if self.apps_in_use() else ()
        except Exception:
            log.debug("webcam consent store unreadable", exc_info=True)
            return ()

    def close(self) -> None:
        """Nothing is kept open."""
