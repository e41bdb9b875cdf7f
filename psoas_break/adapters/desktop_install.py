"""Installed like a desktop app, also from pipx: the launcher, the icon and AppStream metainfo
in the user's data folder ($XDG_DATA_HOME, else ~/.local/share), and out again.

`install(data_home)` writes, for this installation:
- applications/psoas-break.desktop: the shipped menu entry (psoas_break/data) with Exec and
  TryExec set to the absolute path of the `psoas-break` script beside the running Python (pipx
  puts its link in ~/.local/bin, often not on a desktop session's PATH), quoted per the Desktop
  Entry spec (adapters/autostart/xdg.py), plus the ownership key X-psoas-break-Installed. Its
  name matches the notifications' desktop-entry hint, so desktops file them under the app;
- icons/hicolor/NxN/apps/psoas-break.png for the hicolor theme's sizes, drawn by ui/icon.py;
- metainfo/io.github.psoas_break.psoas_break.metainfo.xml (AppStream: a reverse-DNS id as
  `appstreamcli validate` wants, launching psoas-break.desktop).
No cache needs refreshing: desktops watch these folders, and the user's hicolor folder has no
index.theme (gtk-update-icon-cache is only for system themes).

`uninstall(data_home)` removes exactly those files, and only ours: a launcher without the
ownership key, or metainfo without our comment, is left alone (and reported). Both return the
paths they touched; errors are StorageError with one plain line (ports.py).
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

from psoas_break.adapters.autostart import launch_argv
from psoas_break.adapters.autostart.xdg import escape_string, exec_value, read_desktop_entry
from psoas_break.adapters.files.atomic_file import write_atomic
from psoas_break.ports import StorageError

DESKTOP_ID = "psoas-break"
COMPONENT_ID = "io.github.psoas_break.psoas_break"
SCRIPT = "psoas-break"
MARKER_KEY = "X-psoas-break-Installed"
METAINFO_MARK = "<!-- Written by `psoas-break install-desktop`"
#: The hicolor theme's fixed-size folders a launcher icon goes into.
ICON_SIZES_PX = (16, 22, 24, 32, 48, 64, 128, 256, 512)

METAINFO = f"""<?xml version="1.0" encoding="UTF-8"?>
{METAINFO_MARK}; `psoas-break uninstall-desktop` removes it. -->
<component type="desktop-application">
  <id>{COMPONENT_ID}</id>
  <metadata_license>CC0-1.0</metadata_license>
  <project_license>MIT</project_license>
  <name>psoas-break</name>
  <summary>Time your sitting and take hip-flexor breaks</summary>
  <description>
    <p>A small tray utility for people who sit for hours, at a desk or in a truck cab. It times
    how long you have been sitting and, at the right moments, prompts a posture change or a
    hip-flexor (psoas) stretch.</p>
  </description>
  <launchable type="desktop-id">{DESKTOP_ID}.desktop</launchable>
  <icon type="stock">{DESKTOP_ID}</icon>
  <categories><category>Utility</category></categories>
  <provides><binary>{SCRIPT}</binary></provides>
  <content_rating type="oars-1.1"/>
</component>
"""


@dataclass
class Report:
    """What `install`/`uninstall` did: files written or removed, and files left alone."""

    done: list[Path] = field(default_factory=list)
    left: list[tuple[Path, str]] = field(default_factory=list)


def data_home() -> Path:
    """$XDG_DATA_HOME if set to an absolute path (Base Directory spec), else ~/.local/share."""
    value = os.environ.get("XDG_DATA_HOME", "")
    return Path(value) if value and os.path.isabs(value) else Path.home() / ".local" / "share"


def paths(home: Path) -> tuple[Path, list[Path], Path]:
    """(launcher, icons, metainfo) under `home`."""
    icons = [home / "icons" / "hicolor" / f"{n}x{n}" / "apps" / f"{DESKTOP_ID}.png"
             for n in ICON_SIZES_PX]
    return (home / "applications" / f"{DESKTOP_ID}.desktop", icons,
            home / "metainfo" / f"{COMPONENT_ID}.metainfo.xml")


def command() -> list[str]:
    """How the launcher starts this installation: the `psoas-break` script beside the Python
    running now (pip and pipx put both in one bin folder; not resolved, so a venv stays a
    venv), else the script this process was started as, else `python -m psoas_break run`."""
    beside = Path(os.path.abspath(sys.executable)).parent / SCRIPT
    if os.access(beside, os.X_OK):
        return [str(beside)]
    started_as = Path(os.path.abspath(sys.argv[0])) if sys.argv and sys.argv[0] else None
    if started_as is not None and started_as.name == SCRIPT and os.access(started_as, os.X_OK):
        return [str(started_as)]
    return launch_argv()


def desktop_entry(argv: list[str]) -> str:
    """The shipped menu entry with Exec/TryExec running `argv`, and our ownership key."""
    template = (Path(__file__).resolve().parent.parent / "data" / f"{DESKTOP_ID}.desktop")
    lines = []
    for line in template.read_text(encoding="utf-8").splitlines():
        key = line.partition("=")[0]
        if key == "Exec":
            line = f"Exec={exec_value(argv)}"
        elif key == "TryExec":
            line = f"TryExec={escape_string(argv[0])}"
        lines.append(line)
    lines.append(f"{MARKER_KEY}=true")
    return "\n".join(lines) + "\n"


def install(home: Path | None = None) -> Report:
    """Write the launcher, icons and metainfo (replacing ours); StorageError when a launcher
    psoas-break did not write is in the way, or a file cannot be written."""
    from psoas_break.ui.icon import APP_LOOK, icon_rgba, png_bytes

    launcher, icons, metainfo = paths(home or data_home())
    entry = read_desktop_entry(launcher)
    if launcher.exists() and (entry is None or entry.get(MARKER_KEY, "").lower() != "true"):
        raise StorageError(f"{launcher} exists and was not written by psoas-break; "
                           "remove or rename it first")
    report = Report()
    files = [(launcher, desktop_entry(command()).encode("utf-8")),
             *((icon, png_bytes(icon_rgba(APP_LOOK, n), n))
               for icon, n in zip(icons, ICON_SIZES_PX, strict=True)),
             (metainfo, METAINFO.encode("utf-8"))]
    for path, data in files:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            write_atomic(path, data, mode=0o644)
        except OSError as exc:
            raise StorageError(f"cannot write {path}: {exc.strerror or exc}") from exc
        report.done.append(path)
    return report


def uninstall(home: Path | None = None) -> Report:
    """Remove what `install` wrote (only ours); StorageError when a file cannot be removed."""
    launcher, icons, metainfo = paths(home or data_home())
    report = Report()
    entry = read_desktop_entry(launcher)
    ours: list[Path] = [*icons]
    if launcher.exists():
        if entry is not None and entry.get(MARKER_KEY, "").lower() == "true":
            ours.append(launcher)
        else:
            report.left.append((launcher, "not written by psoas-break"))
    if metainfo.exists():
        try:
            mine = METAINFO_MARK in metainfo.read_text(encoding="utf-8", errors="replace")
        except OSError:
            mine = False
        if mine:
            ours.append(metainfo)
        else:
            report.left.append((metainfo, "not written by psoas-break"))
    for path in ours:
        try:
            path.unlink()
        except FileNotFoundError:
            continue
        except OSError as exc:
            raise StorageError(f"cannot remove {path}: {exc.strerror or exc}") from exc
        report.done.append(path)
    return report
