"""waybar's tray on headless sway (Wayland, no X): a real StatusNotifierItem host for tests.

`start_waybar(desktop)` returns a `Waybar` once waybar owns org.kde.StatusNotifierWatcher
(waybar runs its own watcher, ~0.2 s after sway). The app under test joins with
`env` (the bus waybar reads; DISPLAY emptied: a Wayland session without X).

How it runs here (Debian 12: sway 1.7, waybar 0.9.17, grim; /work/notes/sni.md):
- sway refuses to run as root, so sway, waybar and grim run as a normal user (`USER`, created
  when missing) through `runuser`, with their own XDG_RUNTIME_DIR (0700, theirs). Every folder
  above it and the config files must be reachable by that user: a fresh folder under /tmp
  (0755), not the session's 0700 one.
- The bus is a private dbus-daemon of root's in that folder whose policy allows other users
  (`<allow user="*"/>`; without it their Hello gets no answer), so waybar (the user) and the
  app (root) meet on it.
- WLR_BACKENDS=headless, WLR_LIBINPUT_NO_DEVICES=1, WLR_RENDERER=pixman: no GPU, no input
  devices (so nothing can click waybar: sway's seat has no pointer).
- `waybar -l trace` logs each item property it reads ("<Id>.Title = '...'"); `-l debug` does
  not. `screenshot()` is grim's (screencopy), as the user.
Every process is started through the session (leak-checked; the marker variable is passed
through `env -i`), and `close()` removes the folder.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from .bus import BusClient
from .session import MARKER_VAR
from .waiting import DEFAULT_TIMEOUT_S, wait_for

if TYPE_CHECKING:
    from PIL import Image

    from .session import DesktopSession

USER = "psoas-sway"
BAR_HEIGHT = 30
WIDTH = 1024

_BUS_CONFIG = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig><type>session</type><listen>unix:path={socket}</listen><auth>EXTERNAL</auth>
<servicedir>{services}</servicedir>
<policy context="default"><allow send_destination="*" eavesdrop="true"/><allow eavesdrop="true"/>
<allow own="*"/><allow user="*"/></policy></busconfig>
"""
_WAYBAR_CONFIG = ('{"layer": "top", "position": "top", "height": 30, "modules-right": ["tray"],'
                  ' "tray": {"icon-size": 24, "spacing": 4}}')
_WAYBAR_CSS = "window#waybar { background: #000000; }\n"


def missing() -> list[str]:
    """What this machine lacks (Debian: sway waybar grim; util-linux's runuser, useradd)."""
    return [tool for tool in ("sway", "waybar", "grim", "runuser", "useradd")
            if shutil.which(tool) is None]


def _user() -> pwd.struct_passwd:
    try:
        return pwd.getpwnam(USER)
    except KeyError:
        subprocess.run(["useradd", "--create-home", "--shell", "/usr/sbin/nologin", USER],
                       check=True)
        return pwd.getpwnam(USER)


@dataclass
class Waybar:
    """sway + waybar on a private bus (see module docstring)."""

    desktop: DesktopSession
    folder: Path
    address: str
    as_user: list[str]
    wayland_display: str = ""
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)

    @property
    def env(self) -> dict[str, str]:
        """What to add to the app's environment: this bus, and no X display."""
        return {"DBUS_SESSION_BUS_ADDRESS": self.address, "DISPLAY": ""}

    def client(self) -> BusClient:
        """A new panel-side client on this bus (close it)."""
        return BusClient(self.address)

    def log(self) -> str:
        """waybar's trace log so far."""
        return self.desktop.log_text(self.procs[-1])

    def screenshot(self) -> Image.Image:
        from PIL import Image

        out = self.folder / "rt" / "shot.png"
        subprocess.run([*self.as_user, f"WAYLAND_DISPLAY={self.wayland_display}", "grim",
                        str(out)], check=True, timeout=DEFAULT_TIMEOUT_S)
        with Image.open(out) as image:
            return image.convert("RGB")

    def close(self) -> None:
        for proc in reversed(self.procs):
            self.desktop.stop(proc)
        shutil.rmtree(self.folder, ignore_errors=True)


def start_waybar(desktop: DesktopSession) -> Waybar:
    """sway, then waybar, on a new private bus; returns once waybar's watcher is up."""
    user = _user()
    folder = Path(tempfile.mkdtemp(prefix="psoas-sway-"))
    folder.chmod(0o755)
    runtime = folder / "rt"
    runtime.mkdir(mode=0o700)
    os.chown(runtime, user.pw_uid, user.pw_gid)
    (folder / "services").mkdir()
    (folder / "bus.conf").write_text(_BUS_CONFIG.format(socket=folder / "bus",
                                                        services=folder / "services"))
    (folder / "sway.conf").write_text(f"output HEADLESS-1 resolution {WIDTH}x768\n")
    (folder / "waybar.json").write_text(_WAYBAR_CONFIG)
    (folder / "waybar.css").write_text(_WAYBAR_CSS)
    address = f"unix:path={folder / 'bus'}"
    as_user = ["runuser", "-u", USER, "--", "env", "-i", f"HOME={user.pw_dir}", f"USER={USER}",
               "PATH=/usr/bin:/bin", f"XDG_RUNTIME_DIR={runtime}",
               f"DBUS_SESSION_BUS_ADDRESS={address}", "NO_AT_BRIDGE=1",
               f"{MARKER_VAR}={desktop.env[MARKER_VAR]}"]
    bar = Waybar(desktop, folder, address, as_user)
    try:
        bar.procs.append(desktop.spawn(["dbus-daemon", f"--config-file={folder / 'bus.conf'}",
                                        "--nofork", "--nopidfile"], name="sway-bus"))
        wait_for(lambda: (folder / "bus").exists(), DEFAULT_TIMEOUT_S, what="the bus socket")
        bar.procs.append(desktop.spawn(
            [*as_user, "WLR_BACKENDS=headless", "WLR_LIBINPUT_NO_DEVICES=1",
             "WLR_RENDERER=pixman", "sway", "-c", str(folder / "sway.conf")], name="sway"))
        socket = wait_for(lambda: next(iter(runtime.glob("wayland-[0-9]")), None),
                          DEFAULT_TIMEOUT_S, what="sway's Wayland socket")
        bar.wayland_display = socket.name
        bar.procs.append(desktop.spawn(
            [*as_user, f"WAYLAND_DISPLAY={socket.name}", "waybar", "-l", "trace",
             "-c", str(folder / "waybar.json"), "-s", str(folder / "waybar.css")],
            name="waybar"))
        with BusClient(address) as client:
            client.wait_for_name("org.kde.StatusNotifierWatcher")
    except BaseException:
        bar.close()
        raise
    return bar
