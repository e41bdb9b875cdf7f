"""A real panel on a `DesktopSession`: Debian's xfce4-panel 4.18, an SNI host and XEmbed tray.

`start_xfce_panel(desktop)` brings up xfconfd and a panel holding only the systray plugin (top
of the screen, 32 px high, black, icons 22 px) and returns an `XfcePanel` once the plugin owns
org.kde.StatusNotifierWatcher (about 0.2 s). Then the panel draws StatusNotifierItems from
their IconPixmap, calls Activate on a left click and opens their dbusmenu menu on a right
click (libdbusmenu-gtk): what users see.

Facts that shaped it (found the hard way, /work/notes/sni.md):
- xfconfd exits after 300 s idle and expects D-Bus activation; without it the systray plugin
  cannot save "known-items" and silently draws no new item. So its service file goes into the
  session bus's service folder (the only one it may activate), with the session's XDG folders
  in the bus's activation environment, and xfconfd is also started at once by hand.
- The systray plugin runs in a child `wrapper-2.0` process, which owns the watcher: the panel
  leads its own process group and `stop()` ends the group.
- `--disable-wm-check`: otherwise the panel waits ~5 s for a window manager.

Screen helpers: `screenshot()` (python-xlib GetImage, ~10 ms), `find_colour()` (bounding box
of pixels near a colour), `click(x, y, button)` and `key(...)` through xdotool. Menu rows are
found by keyboard: `Down` highlights the next enabled row in GTK's default theme colour
(Adwaita #3584e4), and `highlighted_row()` finds it.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from .waiting import DEFAULT_TIMEOUT_S, wait_for

if TYPE_CHECKING:
    from PIL import Image

    from .session import DesktopSession

XFCONF_SERVICE = Path("/usr/share/dbus-1/services/org.xfce.Xfconf.service")
XFCONFD_DIRS = ("/usr/lib/x86_64-linux-gnu/xfce4/xfconf", "/usr/lib/aarch64-linux-gnu/xfce4/xfconf",
                "/usr/lib/xfce4/xfconf")
PANEL_HEIGHT = 32
HIGHLIGHT = (53, 132, 228)  # Adwaita's selected menu row, #3584e4
MENU_WHITE = (255, 255, 255)

PANEL_XML = """<?xml version="1.0" encoding="UTF-8"?>
<channel name="xfce4-panel" version="1.0">
  <property name="configver" type="int" value="2"/>
  <property name="panels" type="array">
    <value type="int" value="1"/>
    <property name="panel-1" type="empty">
      <property name="position" type="string" value="p=6;x=0;y=0"/>
      <property name="length" type="uint" value="100"/>
      <property name="position-locked" type="bool" value="true"/>
      <property name="size" type="uint" value="32"/>
      <property name="background-style" type="uint" value="1"/>
      <property name="background-rgba" type="array">
        <value type="double" value="0.0"/><value type="double" value="0.0"/>
        <value type="double" value="0.0"/><value type="double" value="1.0"/>
      </property>
      <property name="plugin-ids" type="array"><value type="int" value="1"/></property>
    </property>
  </property>
  <property name="plugins" type="empty">
    <property name="plugin-1" type="string" value="systray">
      <property name="square-icons" type="bool" value="false"/>
      <property name="icon-size" type="int" value="22"/>
    </property>
  </property>
</channel>
"""

Box = tuple[int, int, int, int]  # left, top, right, bottom (inclusive)


def missing() -> list[str]:
    """What this machine lacks to run the panel (Debian: xfce4-panel xfconf xdotool)."""
    out = [tool for tool in ("xfce4-panel", "xdotool") if shutil.which(tool) is None]
    if _xfconfd() is None or not XFCONF_SERVICE.exists():
        out.append("xfconf")
    return out


def _xfconfd() -> str | None:
    return next((f"{d}/xfconfd" for d in XFCONFD_DIRS if Path(f"{d}/xfconfd").exists()), None)


def find_colour(image: Image.Image, rgb: tuple[int, int, int], box: Box | None = None,
                tolerance: int = 0) -> tuple[int, Box] | None:
    """(how many pixels, their bounding box) of the pixels within `tolerance` of `rgb` in
    `box` (screen coordinates), or None when there are none."""
    from PIL import ImageChops

    left, top = (box[0], box[1]) if box else (0, 0)
    region = (image.crop((box[0], box[1], box[2] + 1, box[3] + 1)) if box else image)
    bands = region.convert("RGB").split()
    hit = None
    for band, want in zip(bands, rgb, strict=True):
        mask = band.point(lambda v, w=want: 255 if abs(v - w) <= tolerance else 0)
        hit = mask if hit is None else ImageChops.multiply(hit, mask)
    assert hit is not None
    bbox = hit.getbbox()
    if bbox is None:
        return None
    count = hit.histogram()[255]
    return count, (left + bbox[0], top + bbox[1], left + bbox[2] - 1, top + bbox[3] - 1)


def centre(box: Box) -> tuple[int, int]:
    return (box[0] + box[2]) // 2, (box[1] + box[3]) // 2


@dataclass
class XfcePanel:
    """A running xfce4-panel (see module docstring)."""

    desktop: DesktopSession
    proc: subprocess.Popen[bytes]
    started_s: float

    def screenshot(self) -> Image.Image:
        from PIL import Image
        from Xlib import X

        root = self.desktop.x_display().screen().root
        geo = root.get_geometry()
        raw = root.get_image(0, 0, geo.width, geo.height, X.ZPixmap, 0xFFFFFFFF)
        data = raw.data if isinstance(raw.data, bytes) else bytes(raw.data, "latin-1")
        return Image.frombytes("RGB", (geo.width, geo.height), data, "raw", "BGRX")

    def strip(self) -> Box:
        """The panel's area of the screen."""
        width = self.desktop.x_display().screen().width_in_pixels
        return (0, 0, width - 1, PANEL_HEIGHT - 1)

    def wait_icon(self, rgb: tuple[int, int, int], *, tolerance: int = 10, min_px: int = 8,
                  timeout_s: float = DEFAULT_TIMEOUT_S) -> Box:
        """The bounding box of `rgb` pixels drawn in the panel, once there are `min_px`."""
        def drawn() -> Box | None:
            hit = find_colour(self.screenshot(), rgb, self.strip(), tolerance)
            return hit[1] if hit and hit[0] >= min_px else None

        return wait_for(drawn, timeout_s, what=f"{rgb} drawn in the panel")

    def wait_no_icon(self, rgb: tuple[int, int, int], *, tolerance: int = 10,
                     timeout_s: float = DEFAULT_TIMEOUT_S) -> None:
        wait_for(lambda: find_colour(self.screenshot(), rgb, self.strip(), tolerance) is None,
                 timeout_s, what=f"{rgb} gone from the panel")

    def click(self, x: int, y: int, button: int = 1) -> None:
        self.desktop.xdotool("mousemove", str(x), str(y), "click", str(button))

    def key(self, *keys: str) -> None:
        self.desktop.xdotool("key", *keys)

    def wait_menu(self, box: Box, min_px: int = 2000) -> None:
        """Until a menu (a white area of at least `min_px`) shows inside `box`."""
        wait_for(lambda: (find_colour(self.screenshot(), MENU_WHITE, box) or (0,))[0] >= min_px,
                 DEFAULT_TIMEOUT_S, what="the menu to open")

    def highlighted_row(self, box: Box, not_top: int | None = None) -> Box:
        """The highlighted menu row inside `box` (one whose top is not `not_top`)."""
        def row() -> Box | None:
            hit = find_colour(self.screenshot(), HIGHLIGHT, box)
            return hit[1] if hit and hit[1][1] != not_top else None

        return wait_for(row, DEFAULT_TIMEOUT_S, what="a highlighted menu row")

    def restart(self) -> None:
        """Stop the panel (its plugin, the watcher, goes with it) and start it again."""
        self.desktop.stop(self.proc)
        self.desktop.bus().wait_for_name_gone("org.kde.StatusNotifierWatcher")
        self.proc = _spawn_panel(self.desktop)


def _spawn_panel(desktop: DesktopSession) -> subprocess.Popen[bytes]:
    proc = desktop.spawn(["xfce4-panel", "--disable-wm-check"], name="xfce4-panel")
    desktop.bus().wait_for_name("org.kde.StatusNotifierWatcher", timeout_s=DEFAULT_TIMEOUT_S)
    return proc


def start_xfce_panel(desktop: DesktopSession) -> XfcePanel:
    """xfconfd and xfce4-panel in `desktop` (see module docstring); returns once the panel's
    systray owns the StatusNotifierWatcher."""
    import time

    started = time.monotonic()
    env = desktop.env
    channel = Path(env["XDG_CONFIG_HOME"]) / "xfce4/xfconf/xfce-perchannel-xml"
    channel.mkdir(parents=True, exist_ok=True)
    (channel / "xfce4-panel.xml").write_text(PANEL_XML)
    services = desktop.root / "bus" / "services-empty"
    shutil.copy(XFCONF_SERVICE, services)
    bus = desktop.bus()
    bus.call("org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus",
             "ReloadConfig")
    bus.call("org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus",
             "UpdateActivationEnvironment", "a{ss}",
             [{k: env[k] for k in ("XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_CACHE_HOME",
                                   "XDG_RUNTIME_DIR", "HOME", "DISPLAY")}])
    xfconfd = _xfconfd()
    assert xfconfd is not None, "xfconf is not installed"
    desktop.spawn([xfconfd], name="xfconfd")
    bus.wait_for_name("org.xfce.Xfconf", timeout_s=DEFAULT_TIMEOUT_S)
    return XfcePanel(desktop, _spawn_panel(desktop), started)
