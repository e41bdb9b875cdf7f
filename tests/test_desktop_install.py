"""`psoas-break install-desktop` / `uninstall-desktop` for real: the files land in a private
XDG_DATA_HOME, Debian's desktop-file-validate and appstreamcli (appstream) accept them, GLib
starts the launcher as GNOME would, and uninstall removes exactly what install wrote."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from psoas_break import __version__
from psoas_break.adapters import desktop_install
from psoas_break.adapters.autostart.xdg import read_desktop_entry, split_exec

REPO = Path(__file__).resolve().parents[1]
needs_tools = pytest.mark.skipif(
    not (shutil.which("desktop-file-validate") and shutil.which("appstreamcli")),
    reason="Debian's desktop-file-utils and appstream are not installed")


def cli(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "XDG_DATA_HOME": str(home), "PYTHONPATH": str(REPO)}
    return subprocess.run([sys.executable, "-m", "psoas_break", *args], env=env,
                          capture_output=True, text=True, timeout=120, check=False)


def files_under(home: Path) -> set[Path]:
    return {p for p in home.rglob("*") if p.is_file()}


@needs_tools
def test_install_writes_valid_launcher_icons_and_metainfo(tmp_path: Path) -> None:
    home = tmp_path / "share"
    out = cli(home, "install-desktop")
    assert out.returncode == 0, out.stderr
    launcher, icons, metainfo = desktop_install.paths(home)
    assert files_under(home) == {launcher, *icons, metainfo}
    assert out.stdout.splitlines()[:len(icons) + 2] == [str(launcher), *map(str, icons),
                                                        str(metainfo)]
    check = subprocess.run(["desktop-file-validate", str(launcher)], capture_output=True,
                           text=True, check=False)
    assert check.returncode == 0 and check.stdout == check.stderr == "", check
    meta = subprocess.run(["appstreamcli", "validate", "--no-net", str(metainfo)],
                          capture_output=True, text=True, check=False)
    assert meta.returncode == 0, meta.stdout + meta.stderr
    for icon, size in zip(icons, desktop_install.ICON_SIZES_PX, strict=True):
        with Image.open(icon) as image:
            assert (image.format, image.mode, image.size) == ("PNG", "RGBA", (size, size))
            assert image.getpixel((size // 2, size // 2))[3] == 255  # the ring's opaque centre
    entry = read_desktop_entry(launcher)
    assert entry is not None
    assert entry["Icon"] == "psoas-break" and entry["Type"] == "Application"
    argv = split_exec(entry["Exec"])
    # The script beside this Python, by its absolute path: a desktop session's PATH may not
    # hold ~/.local/bin, where pipx links it.
    assert argv == [str(Path(os.path.abspath(sys.executable)).parent / "psoas-break")]
    assert entry["TryExec"] == argv[0]
    version = subprocess.run([*argv, "--version"], capture_output=True, text=True, timeout=60,
                             check=False)
    assert version.stdout.strip() == f"psoas-break {__version__}"


def test_glib_starts_the_launcher_as_gnome_does(tmp_path: Path) -> None:
    gi = pytest.importorskip("gi")
    gi.require_version("Gio", "2.0")
    gi.require_version("GLib", "2.0")
    from gi.repository import Gio, GLib

    home = tmp_path / "share"
    assert cli(home, "install-desktop").returncode == 0
    launcher = desktop_install.paths(home)[0]
    variant = tmp_path / "variant.desktop"  # the same entry, asking for the version only
    variant.write_text("".join(line + (" --version" if line.startswith("Exec=") else "") + "\n"
                               for line in launcher.read_text().splitlines()))
    info = Gio.DesktopAppInfo.new_from_filename(str(variant))
    assert info is not None, "GLib refused the entry"
    assert info.get_icon().to_string() == "psoas-break"
    read_fd, write_fd = os.pipe()
    pids: list[int] = []
    try:
        ok = info.launch_uris_as_manager_with_fds(
            [], None, GLib.SpawnFlags.DO_NOT_REAP_CHILD, None, None,
            lambda _info, pid, *_a: pids.append(pid), None, -1, write_fd, write_fd)
    finally:
        os.close(write_fd)
    assert ok and len(pids) == 1
    with os.fdopen(read_fd) as pipe:
        output = pipe.read()
    _, status = os.waitpid(pids[0], 0)
    assert os.waitstatus_to_exitcode(status) == 0, output
    assert output.strip() == f"psoas-break {__version__}"


@needs_tools
def test_a_path_with_spaces_and_quotes_survives_the_exec_line(tmp_path: Path) -> None:
    target = tmp_path / "my \"odd\" $dir" / "bin" / "psoas-break"
    launcher = tmp_path / "psoas-break.desktop"
    launcher.write_text(desktop_install.desktop_entry([str(target)]))
    check = subprocess.run(["desktop-file-validate", str(launcher)], capture_output=True,
                           text=True, check=False)
    assert check.returncode == 0 and check.stdout == "", check
    entry = read_desktop_entry(launcher)
    assert entry is not None and split_exec(entry["Exec"]) == [str(target)]


def test_uninstall_removes_exactly_what_install_wrote(tmp_path: Path) -> None:
    home = tmp_path / "share"
    other_icon = home / "icons" / "hicolor" / "48x48" / "apps" / "someone-else.png"
    other_icon.parent.mkdir(parents=True)
    other_icon.write_bytes(b"not ours")
    assert cli(home, "install-desktop").returncode == 0
    out = cli(home, "uninstall-desktop")
    assert out.returncode == 0, out.stderr
    assert files_under(home) == {other_icon}
    again = cli(home, "uninstall-desktop")
    assert again.returncode == 0 and "nothing to remove" in again.stdout


def test_a_launcher_someone_else_wrote_is_never_replaced_or_removed(tmp_path: Path) -> None:
    home = tmp_path / "share"
    launcher, _icons, metainfo = desktop_install.paths(home)
    launcher.parent.mkdir(parents=True)
    foreign = "[Desktop Entry]\nType=Application\nName=Mine\nExec=/usr/bin/true\n"
    launcher.write_text(foreign)
    out = cli(home, "install-desktop")
    assert out.returncode == 1
    assert "was not written by psoas-break" in out.stderr
    assert launcher.read_text() == foreign
    metainfo.parent.mkdir(parents=True)
    metainfo.write_text("<component/>")
    out = cli(home, "uninstall-desktop")
    assert out.returncode == 0
    assert launcher.read_text() == foreign and metainfo.read_text() == "<component/>"
    assert out.stderr.count("left alone") == 2
