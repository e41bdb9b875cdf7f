"""Start at login: the XDG entry for real (validator, GLib's launcher, a real process), and the
Windows command line and macOS plist against their platforms' rules."""

from __future__ import annotations

import argparse
import os
import plistlib
import shutil
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

import psoas_break
from psoas_break import __version__
from psoas_break.adapters.autostart import launch_argv, make_autostart
from psoas_break.adapters.autostart.macos import LABEL, MacAutostart
from psoas_break.adapters.autostart.windows import (
    VALUE_NAME,
    WindowsAutostart,
    command_line,
    gui_interpreter,
    split_command_line,
)
from psoas_break.adapters.autostart.xdg import (
    MARKER_KEY,
    XdgAutostart,
    exec_value,
    read_desktop_entry,
    split_exec,
)
from psoas_break.cli import autostart as cli_autostart
from psoas_break.ports import StorageError

pytestmark = pytest.mark.timeout(120)

REPO_ROOT = Path(psoas_break.__file__).resolve().parents[1]
# Every character the Desktop Entry spec treats specially in a path, plus a space, and an `=`
# (with the `%`, it once made /usr/bin/env read the path as a variable setting: #19 item 21).
WEIRD_DIR = "my python $x \"q\" `b` 100% a=b \\ it's"
VALIDATOR = shutil.which("desktop-file-validate")
needs_validator = pytest.mark.skipif(VALIDATOR is None, reason="desktop-file-utils not installed")


@dataclass
class WeirdPython:
    """This installation's Python, reached through a path full of special characters."""

    exe: Path
    env: dict[str, str]


@pytest.fixture
def weird_python(tmp_path: Path) -> Iterator[WeirdPython]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["XDG_CONFIG_HOME"] = str(tmp_path / "config")
    exe_real = Path(sys.executable)
    prefix = Path(sys.prefix)
    if sys.prefix != sys.base_prefix and exe_real.is_relative_to(prefix):
        # A virtualenv: link the whole environment, so the linked python still finds its
        # pyvenv.cfg and site-packages (where psoas_break is installed).
        link = tmp_path / WEIRD_DIR
        link.symlink_to(prefix, target_is_directory=True)
        exe = link / exe_real.relative_to(prefix)
    else:
        folder = tmp_path / WEIRD_DIR
        folder.mkdir()
        exe = folder / "python3"
        exe.symlink_to(exe_real)
        env["PYTHONPATH"] = str(REPO_ROOT)  # a plain interpreter running from a checkout
    yield WeirdPython(exe, env)


def autostart_file(env: dict[str, str]) -> Path:
    return Path(env["XDG_CONFIG_HOME"]) / "autostart" / "psoas-break.desktop"


def run_cli_autostart(py: Path, env: dict[str, str], action: str,
                      cwd: Path) -> subprocess.CompletedProcess[str]:
    """`autostart ACTION` run by the given interpreter (so its sys.executable is that path)."""
    code = textwrap.dedent(
        f"""
        import argparse, sys
        from psoas_break.cli import autostart as cli_autostart
        sys.exit(cli_autostart.run(argparse.Namespace(action={action!r})))
        """
    )
    return subprocess.run([str(py), "-c", code], env=env, cwd=cwd, capture_output=True,
                          text=True, timeout=60, check=False)


def validate(path: Path) -> None:
    assert VALIDATOR is not None
    out = subprocess.run([VALIDATOR, str(path)], capture_output=True, text=True, timeout=60,
                         check=False)
    assert out.returncode == 0 and out.stdout == "" and out.stderr == "", out


def glib_launch_version(desktop_file: Path, tmp_path: Path) -> str:
    """Launch a copy of the entry (with `run` -> `--version`) the way GNOME does; its stdout."""
    gi = pytest.importorskip("gi")
    gi.require_version("Gio", "2.0")
    gi.require_version("GLib", "2.0")
    from gi.repository import Gio, GLib

    text = desktop_file.read_text()
    assert text.count(" -m psoas_break run\n") == 1
    variant = tmp_path / "variant.desktop"
    variant.write_text(text.replace(" -m psoas_break run\n", " -m psoas_break --version\n"))
    info = Gio.DesktopAppInfo.new_from_filename(str(variant))
    assert info is not None, "GLib refused to load the entry"
    read_fd, write_fd = os.pipe()
    pids: list[int] = []
    try:
        ok = info.launch_uris_as_manager_with_fds(
            [], None, GLib.SpawnFlags.SEARCH_PATH | GLib.SpawnFlags.DO_NOT_REAP_CHILD,
            None, None, lambda _info, pid, *_a: pids.append(pid), None, -1, write_fd, write_fd,
        )
    finally:
        os.close(write_fd)
    assert ok and len(pids) == 1
    with os.fdopen(read_fd) as f:
        output = f.read()
    _, status = os.waitpid(pids[0], 0)
    assert os.waitstatus_to_exitcode(status) == 0, output
    return output


# ---- XDG, for real ----


@needs_validator
def test_xdg_entry_valid_and_its_exec_starts_this_installation(
    weird_python: WeirdPython, tmp_path: Path
) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    out = run_cli_autostart(weird_python.exe, weird_python.env, "on", elsewhere)
    assert out.returncode == 0, out.stderr
    path = autostart_file(weird_python.env)
    assert out.stdout == (
        f"Start at login: on: {path} starts {weird_python.exe} -m psoas_break at login\n"
    )
    validate(path)
    entry = read_desktop_entry(path)
    assert entry is not None
    assert entry[MARKER_KEY] == "true"
    assert entry["Icon"] == "psoas-break"
    argv = split_exec(entry["Exec"])
    # A `%` in the path makes us start through sh (GLib checks the program before
    # un-escaping `%%`); otherwise the interpreter comes first.
    if argv[0] == "/bin/sh":
        assert argv[1:3] == ["-c", 'exec "$0" "$@"']
        argv = argv[3:]
    assert argv == [str(weird_python.exe), "-m", "psoas_break", "run"]
    # Run exactly that argv, harmlessly: `--version` instead of `run`.
    version = subprocess.run(
        [*argv[:-1], "--version"], env=weird_python.env, cwd=elsewhere, capture_output=True,
        text=True, timeout=60, check=True,
    )
    assert version.stdout == f"psoas-break {__version__}\n"
    # And the way the desktop itself starts it: GLib's launcher parses the Exec line.
    assert glib_launch_version(path, tmp_path) == f"psoas-break {__version__}\n"
    status = run_cli_autostart(weird_python.exe, weird_python.env, "status", elsewhere)
    assert status.returncode == 0
    assert status.stdout.startswith("Start at login: on: ")


def _cli_wired() -> bool:
    from psoas_break import cli

    try:
        cli.build_parser().parse_args(["autostart", "status"])
    except SystemExit:
        return False
    return True


@needs_validator
@pytest.mark.skipif(not _cli_wired(), reason="cli.py does not dispatch `autostart` yet")
def test_real_command_on_status_off(weird_python: WeirdPython, tmp_path: Path) -> None:
    def psoas_break(*argv: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(weird_python.exe), "-m", "psoas_break", *argv],
                              env=weird_python.env, cwd=tmp_path, capture_output=True,
                              text=True, timeout=60, check=False)

    path = autostart_file(weird_python.env)
    out = psoas_break("autostart", "on")
    assert out.returncode == 0, out.stderr
    validate(path)
    assert psoas_break("autostart", "status").stdout.startswith("Start at login: on: ")
    assert psoas_break("autostart", "off").stdout == "Start at login: off: no login entry\n"
    assert not path.exists()
    out = psoas_break("autostart", "maybe")
    assert out.returncode == 2
    assert "invalid choice: 'maybe'" in out.stderr


@needs_validator
def test_plain_path_has_no_env_wrapper(tmp_path: Path) -> None:
    backend = XdgAutostart(config_home=tmp_path / "cfg", executable=sys.executable)
    status = backend.enable()
    assert status.enabled and not status.stale and status.ours
    validate(backend.path)
    entry = read_desktop_entry(backend.path)
    assert entry is not None
    assert split_exec(entry["Exec"]) == launch_argv(sys.executable)


def test_off_removes_exactly_what_on_wrote(weird_python: WeirdPython, tmp_path: Path) -> None:
    folder = autostart_file(weird_python.env).parent
    folder.mkdir(parents=True)
    neighbour = folder / "other-app.desktop"
    neighbour.write_text("[Desktop Entry]\nType=Application\nName=Other\nExec=other\n")
    before = sorted(p.name for p in folder.iterdir())
    assert run_cli_autostart(weird_python.exe, weird_python.env, "on", tmp_path).returncode == 0
    assert sorted(p.name for p in folder.iterdir()) == sorted([*before, "psoas-break.desktop"])
    out = run_cli_autostart(weird_python.exe, weird_python.env, "off", tmp_path)
    assert (out.returncode, out.stdout) == (0, "Start at login: off: no login entry\n")
    assert sorted(p.name for p in folder.iterdir()) == before
    assert neighbour.read_text().startswith("[Desktop Entry]")
    out = run_cli_autostart(weird_python.exe, weird_python.env, "off", tmp_path)
    assert out.returncode == 0  # already off is fine


def test_foreign_entry_is_never_touched(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    backend = XdgAutostart(config_home=tmp_path, executable=sys.executable)
    backend.path.parent.mkdir(parents=True)
    foreign = "[Desktop Entry]\nType=Application\nName=psoas-break\nExec=psoas-break\n"
    backend.path.write_text(foreign)
    status = backend.status()
    assert (status.enabled, status.ours, status.stale) == (True, False, False)
    assert "was not written by psoas-break" in status.detail
    assert cli_autostart.run(argparse.Namespace(action="off"), backend) == 1
    assert capsys.readouterr().err == (
        f"psoas-break: not removing {backend.path}: it was not written by psoas-break\n"
    )
    assert cli_autostart.run(argparse.Namespace(action="on"), backend) == 1
    assert "exists and was not written by psoas-break" in capsys.readouterr().err
    assert backend.path.read_text() == foreign


def test_stale_entry_is_reported_and_on_repairs_it(
    weird_python: WeirdPython, tmp_path: Path
) -> None:
    assert run_cli_autostart(weird_python.exe, weird_python.env, "on", tmp_path).returncode == 0
    path = autostart_file(weird_python.env)
    # The interpreter goes away (a deleted virtualenv, an upgraded Python).
    gone = XdgAutostart(config_home=Path(weird_python.env["XDG_CONFIG_HOME"]),
                        executable=sys.executable)
    (tmp_path / WEIRD_DIR).rename(tmp_path / "moved")
    status = gone.status()
    assert (status.enabled, status.stale, status.ours) == (False, True, True)
    assert status.detail == (
        f"stale: its interpreter {weird_python.exe} no longer exists; "
        "`psoas-break autostart on` rewrites it"
    )
    code = cli_autostart.run(argparse.Namespace(action="status"), gone)
    assert code == 0
    # `on` from a working installation rewrites it; `off` would also remove it.
    repaired = gone.enable()
    assert repaired.enabled and not repaired.stale
    entry = read_desktop_entry(path)
    assert entry is not None
    assert split_exec(entry["Exec"])[0] == sys.executable


def test_xdg_config_home_is_respected(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    assert XdgAutostart().path == tmp_path / "xdg" / "autostart" / "psoas-break.desktop"
    monkeypatch.setenv("XDG_CONFIG_HOME", "relative/not/allowed")
    assert XdgAutostart().path == tmp_path / "home" / ".config" / "autostart" / (
        "psoas-break.desktop"
    )
    monkeypatch.delenv("XDG_CONFIG_HOME")
    assert XdgAutostart().path.parent == tmp_path / "home" / ".config" / "autostart"
    assert isinstance(make_autostart("linux"), XdgAutostart)


def test_hidden_entry_counts_as_off(tmp_path: Path) -> None:
    backend = XdgAutostart(config_home=tmp_path, executable=sys.executable)
    backend.enable()
    backend.path.write_text(backend.path.read_text() + "Hidden=true\n")
    status = backend.status()
    assert not status.enabled and not status.stale
    assert status.detail.startswith("off:")


def test_unrepresentable_paths_are_refused(tmp_path: Path) -> None:
    for exe in ["/opt/py\nthon", "/opt/py\udcffthon"]:
        backend = XdgAutostart(config_home=tmp_path, executable=exe)
        with pytest.raises(StorageError, match="cannot go into a desktop entry"):
            backend.enable()
    assert not (tmp_path / "autostart" / "psoas-break.desktop").exists()


safe_text = st.text(
    st.characters(blacklist_categories=("Cc", "Cs"), blacklist_characters="\x00"),
    min_size=0, max_size=12,
)


@given(st.lists(safe_text, min_size=1, max_size=5))
def test_exec_quoting_round_trips(argv: list[str]) -> None:
    assert split_exec(exec_value(argv)) == argv


@given(st.lists(safe_text.filter(lambda s: "%" not in s), min_size=1, max_size=5))
def test_exec_quoting_matches_glib(argv: list[str]) -> None:
    # GLib is an independent reader of the same rules: key-file unescaping, then shell-style
    # argument splitting (which is what the spec's quoting is).
    gi = pytest.importorskip("gi")
    gi.require_version("GLib", "2.0")
    from gi.repository import GLib

    kf = GLib.KeyFile()
    data = f"[Desktop Entry]\nExec={exec_value(argv)}\n"
    kf.load_from_data(data, len(data.encode()), GLib.KeyFileFlags.NONE)
    value = kf.get_string("Desktop Entry", "Exec")
    ok, parsed = GLib.shell_parse_argv(value)
    assert ok and parsed == argv


# ---- Windows: the Run value's command line ----


class DictRunKey:
    """The registry seam: a dict instead of HKCU\\...\\Run (winreg cannot run here)."""

    def __init__(self) -> None:
        self.values: dict[str, str] = {}

    def get(self, name: str) -> str | None:
        return self.values.get(name)

    def set(self, name: str, value: str) -> None:
        self.values[name] = value

    def delete(self, name: str) -> None:
        del self.values[name]


@pytest.mark.parametrize(
    ("cmd", "argv"),
    [
        # Microsoft's documented examples ("Parsing C++ command-line arguments").
        ('prog "abc" d e', ["prog", "abc", "d", "e"]),
        ('prog a\\\\\\b d"e f"g h', ["prog", "a\\\\\\b", "de fg", "h"]),
        ('prog a\\\\\\"b c d', ["prog", 'a\\"b', "c", "d"]),
        ('prog a\\\\\\\\"b c" d e', ["prog", "a\\\\b c", "d", "e"]),
        ('prog a"b"" c d', ["prog", 'ab" c d']),
        # argv[0]: quotes delimit, backslashes are literal.
        ('"C:\\Program Files\\Python\\python.exe" -m x', [
            "C:\\Program Files\\Python\\python.exe", "-m", "x"]),
        ("C:\\Python\\python.exe -m x", ["C:\\Python\\python.exe", "-m", "x"]),
    ],
)
def test_windows_parser_follows_the_documented_rules(cmd: str, argv: list[str]) -> None:
    assert split_command_line(cmd) == argv


win_arg = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"),
                  max_size=12)


@given(
    st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters='\x00"\t '),
            min_size=1, max_size=20),
    st.lists(win_arg, max_size=5),
)
def test_list2cmdline_round_trips_through_the_windows_rules(exe: str, rest: list[str]) -> None:
    argv = ["C:\\Users\\A B\\" + exe + "\\python.exe", *rest]
    assert split_command_line(command_line(argv)) == argv


def test_windows_run_value(tmp_path: Path) -> None:
    folder = tmp_path / "Program Files" / "Python 3.12"
    folder.mkdir(parents=True)
    python = folder / "python.exe"
    python.write_text("")
    (folder / "pythonw.exe").write_text("")
    for exe in folder.iterdir():
        exe.chmod(0o755)  # the stale check looks for an executable file
    key = DictRunKey()
    backend = WindowsAutostart(run_key=key, executable=str(python))
    status = backend.enable()
    value = key.values[VALUE_NAME]
    pythonw = str(folder / "pythonw.exe")
    assert value == f'"{pythonw}" -m psoas_break run'
    assert split_command_line(value) == [pythonw, "-m", "psoas_break", "run"]
    assert status.enabled and not status.stale
    assert status.path == "HKCU\\Software\\Microsoft\\Windows\\CurrentVersion\\Run\\psoas-break"
    # A stale value: the interpreter is gone.
    (folder / "pythonw.exe").unlink()
    stale = backend.status()
    assert (stale.enabled, stale.stale) == (False, True)
    assert "no longer exists" in stale.detail
    # Off removes it; a foreign value under our name is left alone.
    assert not backend.disable().enabled
    assert key.values == {}
    key.values[VALUE_NAME] = '"C:\\Tools\\other.exe" --tray'
    with pytest.raises(StorageError, match="not written by psoas-break"):
        backend.disable()
    with pytest.raises(StorageError, match="not written by psoas-break"):
        backend.enable()
    assert key.values == {VALUE_NAME: '"C:\\Tools\\other.exe" --tray'}
    assert not backend.status().ours


def test_pythonw_only_replaces_python_exe(tmp_path: Path) -> None:
    assert gui_interpreter(str(tmp_path / "python.exe")) == str(tmp_path / "python.exe")
    (tmp_path / "pythonw.exe").write_text("")
    assert gui_interpreter(str(tmp_path / "python3.12.exe")) == str(tmp_path / "python3.12.exe")


# ---- macOS: the LaunchAgent plist ----


def test_macos_launch_agent(tmp_path: Path) -> None:
    home = tmp_path / "home"
    python = tmp_path / "Python 3.12" / "bin" / "python3"
    python.parent.mkdir(parents=True)
    python.write_text("")
    python.chmod(0o755)
    backend = MacAutostart(home=home, executable=str(python))
    status = backend.enable()
    path = home / "Library" / "LaunchAgents" / f"{LABEL}.plist"
    assert status.path == str(path) and status.enabled and not status.stale
    with open(path, "rb") as f:
        plist = plistlib.load(f)
    assert plist["Label"] == LABEL
    assert plist["ProgramArguments"] == [str(python), "-m", "psoas_break", "run"]
    assert plist["RunAtLoad"] is True
    assert plist["KeepAlive"] is False
    assert plist["LimitLoadToSessionType"] == "Aqua"
    assert path.read_bytes().startswith(b"<?xml")
    # Stale when the interpreter goes.
    python.unlink()
    stale = backend.status()
    assert (stale.enabled, stale.stale) == (False, True)
    # Off removes only our file.
    other = path.parent / "com.example.other.plist"
    other.write_bytes(plistlib.dumps({"Label": "com.example.other"}))
    assert not backend.disable().enabled
    assert not path.exists() and other.exists()
    path.write_bytes(plistlib.dumps({"Label": "com.example.squatter"}))
    with pytest.raises(StorageError, match="not written by psoas-break"):
        backend.disable()
    assert path.exists()
    assert isinstance(make_autostart("darwin"), MacAutostart)


def test_windows_factory_imports_without_winreg() -> None:
    backend = make_autostart("win32")
    assert isinstance(backend, WindowsAutostart)
    assert backend.name == "windows-run"


# ---- the menu entry the app ships ----


@needs_validator
def test_shipped_menu_entry_is_valid() -> None:
    path = REPO_ROOT / "psoas_break" / "data" / "psoas-break.desktop"
    validate(path)
    entry = read_desktop_entry(path)
    assert entry is not None
    assert entry["Icon"] == "psoas-break"
    assert entry["Exec"] == "psoas-break"
    assert entry["Type"] == "Application"
    assert MARKER_KEY not in entry  # a menu entry, not a login entry
