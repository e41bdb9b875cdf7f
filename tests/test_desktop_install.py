"""`psoas-break install-desktop` / `uninstall-desktop` for real: the files land in a private
XDG_DATA_HOME, Debian's desktop-file-validate and appstreamcli (appstream) accept them, GLib
starts the launcher as GNOME would, and uninstall removes exactly what install wrote."""

from __future__ import annotations

import hashlib
import json
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


def manifest_of(home: Path) -> Path:
    """Where the CLI keeps its manifest when XDG_DATA_HOME is `home` (platformdirs)."""
    return home / "psoas-break" / "desktop-install.json"


@needs_tools
def test_install_writes_valid_launcher_icons_and_metainfo(tmp_path: Path) -> None:
    home = tmp_path / "share"
    out = cli(home, "install-desktop")
    assert out.returncode == 0, out.stderr
    launcher, icons, metainfo = desktop_install.paths(home)
    assert files_under(home) == {launcher, *icons, metainfo, manifest_of(home)}
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


def test_a_same_named_icon_of_the_users_own_survives_install_and_uninstall(
        tmp_path: Path) -> None:
    home = tmp_path / "share"
    _launcher, icons, _metainfo = desktop_install.paths(home)
    theirs = icons[4]  # 48x48: a user's own icon for the app, the usual way to theme it
    theirs.parent.mkdir(parents=True)
    theirs.write_bytes(b"my own icon")
    out = cli(home, "install-desktop")
    assert out.returncode == 0, out.stderr
    assert theirs.read_bytes() == b"my own icon"
    assert f"left alone: {theirs}" in out.stderr
    assert all(icon.is_file() for icon in icons)
    out = cli(home, "uninstall-desktop")
    assert out.returncode == 0, out.stderr
    assert files_under(home) == {theirs} and theirs.read_bytes() == b"my own icon"


def test_a_metainfo_file_of_someone_else_survives_install_and_uninstall(tmp_path: Path) -> None:
    home = tmp_path / "share"
    _launcher, _icons, metainfo = desktop_install.paths(home)
    metainfo.parent.mkdir(parents=True)
    # Even one carrying our comment: only what install wrote (the manifest) counts as ours.
    foreign = desktop_install.METAINFO.replace("psoas-break</name>", "my fork</name>")
    metainfo.write_text(foreign)
    out = cli(home, "install-desktop")
    assert out.returncode == 0, out.stderr
    assert metainfo.read_text() == foreign and f"left alone: {metainfo}" in out.stderr
    assert cli(home, "uninstall-desktop").returncode == 0
    assert files_under(home) == {metainfo} and metainfo.read_text() == foreign


def test_installing_again_replaces_our_own_files_and_uninstall_still_removes_them(
        tmp_path: Path) -> None:
    home = tmp_path / "share"
    launcher, icons, metainfo = desktop_install.paths(home)
    assert cli(home, "install-desktop").returncode == 0
    manifest = manifest_of(home)
    assert manifest.is_file()
    assert oct(manifest.stat().st_mode & 0o777) == oct(0o600)
    assert oct(manifest.parent.stat().st_mode & 0o777) == oct(0o700)
    # What an older version wrote: another icon. The manifest knows it was ours.
    icons[0].write_bytes(b"an older psoas-break icon")
    recorded = json.loads(manifest.read_text())
    recorded["files"][str(icons[0])] = hashlib.sha256(b"an older psoas-break icon").hexdigest()
    manifest.write_text(json.dumps(recorded))
    out = cli(home, "install-desktop")
    assert out.returncode == 0 and "left alone" not in out.stderr, out.stderr
    assert icons[0].read_bytes() != b"an older psoas-break icon"
    out = cli(home, "uninstall-desktop")
    assert out.returncode == 0 and "left alone" not in out.stderr, out.stderr
    assert files_under(home) == set()
    assert not (launcher.exists() or metainfo.exists() or manifest.exists())


@pytest.mark.parametrize("garbage", [
    b"\xff\xfe not json at all" * 100,
    b'{"version": 1, "files": ["not", "a", "mapping"]}',
    # Hostile: claims a file outside what install writes, with its true hash.
    None,
])
def test_a_garbled_or_hostile_manifest_gives_one_line_and_deletes_nothing_foreign(
        tmp_path: Path, garbage: bytes | None) -> None:
    home = tmp_path / "share"
    _launcher, icons, _metainfo = desktop_install.paths(home)
    outside = tmp_path / "precious.txt"
    outside.write_bytes(b"keep me")
    assert cli(home, "install-desktop").returncode == 0
    icons[1].write_bytes(b"the user's own icon now")
    if garbage is None:
        garbage = json.dumps({"version": 1, "files": {
            str(outside): hashlib.sha256(b"keep me").hexdigest(),
            str(icons[1]): hashlib.sha256(b"the user's own icon now").hexdigest() + "x",
        }}).encode()
    manifest_of(home).write_bytes(garbage)
    out = cli(home, "uninstall-desktop")
    assert out.returncode == 0, out.stderr
    assert outside.read_bytes() == b"keep me"
    assert icons[1].read_bytes() == b"the user's own icon now"
    assert files_under(home) == {icons[1]}
    lines = out.stderr.splitlines()
    assert all(len(line) < 300 for line in lines), lines
    if garbage.startswith(b"\xff") or b"[" in garbage:
        assert sum("desktop-install.json" in line for line in lines) == 1, lines


def test_symbolic_links_are_never_written_through(tmp_path: Path) -> None:
    home = tmp_path / "share"
    launcher, icons, metainfo = desktop_install.paths(home)
    outside = tmp_path / "outside"
    outside.mkdir()
    target = outside / "precious.png"
    target.write_bytes(b"not an icon of ours")
    icons[2].parent.mkdir(parents=True)
    icons[2].symlink_to(target)
    metainfo.parent.mkdir(parents=True)
    metainfo.symlink_to(outside / "dangling.xml")
    out = cli(home, "install-desktop")
    assert out.returncode == 0, out.stderr
    assert target.read_bytes() == b"not an icon of ours"
    assert not (outside / "dangling.xml").exists()
    assert sorted(p.name for p in outside.iterdir()) == ["precious.png"]
    assert f"left alone: {icons[2]}" in out.stderr and f"left alone: {metainfo}" in out.stderr
    assert cli(home, "uninstall-desktop").returncode == 0
    assert target.read_bytes() == b"not an icon of ours"
    assert icons[2].is_symlink() and metainfo.is_symlink()


def test_a_dangling_launcher_link_is_refused_not_followed(tmp_path: Path) -> None:
    home = tmp_path / "share"
    launcher, _icons, _metainfo = desktop_install.paths(home)
    launcher.parent.mkdir(parents=True)
    elsewhere = tmp_path / "outside" / "psoas-break.desktop"
    elsewhere.parent.mkdir()
    launcher.symlink_to(elsewhere)
    out = cli(home, "install-desktop")
    assert out.returncode == 1
    assert "symbolic link" in out.stderr and len(out.stderr.splitlines()) == 1, out.stderr
    assert not elsewhere.exists() and launcher.is_symlink()
