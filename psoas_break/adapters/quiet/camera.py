"""Quiet reason "camera": the webcam is in use (a video call is likely).

Linux (`V4l2CameraDetector`): a video device (`/dev/video*`) is held open by ANOTHER process.
One scan of `/proc/<pid>/fd/*` symlinks, comparing each target with the resolved device paths.
Only processes whose fds we may read are seen (the user's own; all of them as root), which is
the user's own video-call app. Both roots are parameters so a test can point the scan at a real
open file. Known limit: a process that keeps a camera open without streaming (some PipeWire
camera monitors do) looks like a call; `PSOAS_QUIET_DETECTORS` can leave this detector out.

Windows: the webcam consent store in the registry (consent_store.py, which also serves the
microphone).

macOS: no documented API tells whether another process uses the camera (the menu-bar indicator
is drawn by the system; `AVCaptureDevice.isInUseByAnotherApplication` needs PyObjC and camera
permission). Left as a documented gap: the factory reports it.
"""

from __future__ import annotations

import glob
import logging
import os
from collections.abc import Iterable
from dataclasses import dataclass

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
