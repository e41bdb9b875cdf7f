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

Install records what it wrote (path and sha256) in a manifest in the app's private data folder
(AppPaths.desktop_manifest, 0600). `uninstall` removes exactly those files, and only while they
are unchanged (or hold exactly what install writes, e.g. after an install older than the
manifest); the launcher is ours by its ownership key. Install never replaces an icon or
metainfo file that is not ours (a user's own same-named icon is how an app's icon is themed):
it leaves it alone and says so. Neither ever writes or reads through a symbolic link at one of
these paths: a link is left alone (a linked launcher is refused). Both return the paths they
touched; errors are StorageError with one plain line (ports.py).
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

from psoas_break.adapters.autostart import launch_argv
from psoas_break.adapters.autostart.xdg import escape_string, exec_value, read_desktop_entry
from psoas_break.adapters.files.atomic_file import UnsafeFile, read_small_file, write_atomic
from psoas_break.adapters.files.private import private_dir
from psoas_break.ports import StorageError

DESKTOP_ID = "psoas-break"
COMPONENT_ID = "io.github.psoas_break.psoas_break"
SCRIPT = "psoas-break"
MARKER_KEY = "X-psoas-break-Installed"
METAINFO_MARK = "<!-- Written by `psoas-break install-desktop`"
#: The hicolor theme's fixed-size folders a launcher icon goes into.
ICON_SIZES_PX = (16, 22, 24, 32, 48, 64, 128, 256, 512)
MANIFEST_VERSION = 1
MAX_MANIFEST_BYTES = 64 * 1024
#: A file at one of our paths larger than this is not one psoas-break wrote (the 512 px icon
#: is far smaller).
MAX_OWN_FILE_BYTES = 4 * 1024 * 1024

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
    """What `install`/`uninstall` did: files written or removed, files left alone (and why),
    and notes (one line each, e.g. a manifest that could not be used)."""

    done: list[Path] = field(default_factory=list)
    left: list[tuple[Path, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


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


def install(manifest: Path, home: Path | None = None) -> Report:
    """Write the launcher, icons and metainfo, and the manifest of what was written.

    An icon or metainfo file already there is replaced only when it is ours (its sha256 is in
    `manifest`, or it holds exactly what would be written); else, and for a symbolic link, it
    is left alone and reported. StorageError when the launcher is a link or psoas-break did
    not write it, or a file cannot be written."""
    launcher, planned = _planned(home or data_home())
    report = Report()
    recorded = _read_manifest(manifest, report)
    state = _current(launcher)
    if isinstance(state, str):
        raise StorageError(f"{launcher} {state}; remove or rename it first")
    if state is not None and not _is_our_launcher(launcher):
        raise StorageError(f"{launcher} exists and was not written by psoas-break; "
                           "remove or rename it first")
    files = [(launcher, desktop_entry(command()).encode("utf-8"))]
    for path, data in planned:
        state = _current(path)
        if isinstance(state, str):
            report.left.append((path, state))
        elif state is None or _ours(path, state, recorded, data):
            files.append((path, data))
        else:
            report.left.append((path, "not written by psoas-break"))
    written: dict[str, str] = {}
    try:
        for path, data in files:
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                # The path itself is replaced: a link that appeared since is not followed.
                write_atomic(path, data, mode=0o644, follow_links=False)
            except OSError as exc:
                raise StorageError(f"cannot write {path}: {exc.strerror or exc}") from exc
            written[str(path)] = _sha256(data)
            report.done.append(path)
    finally:
        if written:  # also after a failure part way: uninstall then removes what got written
            _write_manifest(manifest, written)
    return report


def uninstall(manifest: Path, home: Path | None = None) -> Report:
    """Remove what `install` wrote and nobody changed since (the manifest's sha256, or exactly
    what install writes; the launcher by its ownership key), then the manifest. Links and
    other files are left alone and reported; StorageError when a file cannot be removed."""
    launcher, planned = _planned(home or data_home())
    report = Report()
    recorded = _read_manifest(manifest, report)
    ours: list[Path] = []
    state = _current(launcher)
    if isinstance(state, str):
        report.left.append((launcher, state))
    elif state is not None:
        if _is_our_launcher(launcher):
            ours.append(launcher)
        else:
            report.left.append((launcher, "not written by psoas-break"))
    for path, data in planned:
        state = _current(path)
        if isinstance(state, str):
            report.left.append((path, state))
        elif state is not None:
            if _ours(path, state, recorded, data):
                ours.append(path)
            else:
                report.left.append((path, "changed since psoas-break wrote it, or not ours"))
    for path in ours:
        try:
            path.unlink()
        except FileNotFoundError:
            continue
        except OSError as exc:
            raise StorageError(f"cannot remove {path}: {exc.strerror or exc}") from exc
        report.done.append(path)
    try:
        manifest.unlink()  # a link is removed, never what it points to
    except (FileNotFoundError, IsADirectoryError):
        pass
    except OSError as exc:
        raise StorageError(f"cannot remove {manifest}: {exc.strerror or exc}") from exc
    return report


def _planned(home: Path) -> tuple[Path, list[tuple[Path, bytes]]]:
    """The launcher's path, and each icon and metainfo path with the bytes install writes."""
    from psoas_break.ui.icon import APP_LOOK, icon_rgba, png_bytes

    launcher, icons, metainfo = paths(home)
    return launcher, [*((icon, png_bytes(icon_rgba(APP_LOOK, n), n))
                        for icon, n in zip(icons, ICON_SIZES_PX, strict=True)),
                      (metainfo, METAINFO.encode("utf-8"))]


def _current(path: Path) -> bytes | str | None:
    """The bytes of the regular file at `path` (a link is not followed), None when nothing is
    there, or one line saying why it cannot be ours ("is a symbolic link, not a regular
    file")."""
    try:
        return read_small_file(path, MAX_OWN_FILE_BYTES, follow_links=False)
    except FileNotFoundError:
        return None
    except UnsafeFile as exc:
        return exc.reason
    except OSError as exc:
        return f"cannot be read: {exc.strerror or exc}"


def _is_our_launcher(launcher: Path) -> bool:
    entry = read_desktop_entry(launcher)
    return entry is not None and entry.get(MARKER_KEY, "").lower() == "true"


def _ours(path: Path, current: bytes, recorded: dict[str, str], planned: bytes) -> bool:
    return current == planned or recorded.get(str(path)) == _sha256(current)


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _read_manifest(manifest: Path, report: Report) -> dict[str, str]:
    """{path: sha256} from the manifest; {} when there is none. A manifest that cannot be read
    or was not written by us adds one line to `report.notes` and counts as empty: it can only
    ever make fewer files ours, since only the paths install writes are looked up in it."""
    try:
        raw = read_small_file(manifest, MAX_MANIFEST_BYTES, follow_links=False)
    except FileNotFoundError:
        return {}
    except UnsafeFile as exc:
        return _garbled(manifest, exc.reason, report)
    except OSError as exc:
        return _garbled(manifest, f"cannot be read ({exc.strerror or exc})", report)
    try:
        doc = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        return _garbled(manifest, "is not JSON", report)
    files = doc.get("files") if isinstance(doc, dict) and doc.get("version") == 1 else None
    if not isinstance(files, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in files.items()):
        return _garbled(manifest, "is not a manifest psoas-break wrote", report)
    return files


def _garbled(manifest: Path, reason: str, report: Report) -> dict[str, str]:
    report.notes.append(f"{manifest} {reason[:120]}; ignored: only files identical to what "
                        "install-desktop writes count as ours")
    return {}


def _write_manifest(manifest: Path, written: dict[str, str]) -> None:
    """The manifest, 0600 in the app's 0700 data folder. Raises StorageError."""
    text = json.dumps({"version": MANIFEST_VERSION, "files": written}, indent=1)
    try:
        private_dir(manifest.parent)
        write_atomic(manifest, text.encode("utf-8"), mode=0o600, follow_links=False)
    except OSError as exc:
        raise StorageError(f"cannot write {manifest}: {exc.strerror or exc}") from exc
