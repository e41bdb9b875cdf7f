"""`psoas-break config ...` through a real subprocess with a private XDG config dir."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest


def run_cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "psoas_break", *args],
        capture_output=True, text=True, env=env, timeout=60, check=False,
    )


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    e = dict(os.environ)
    e["XDG_CONFIG_HOME"] = str(tmp_path / "config")
    e["XDG_CONFIG_DIRS"] = str(tmp_path / "site")
    e["XDG_DATA_HOME"] = str(tmp_path / "data")
    e["XDG_STATE_HOME"] = str(tmp_path / "state")
    e["XDG_RUNTIME_DIR"] = str(tmp_path / "run")
    return e


def test_set_get_show_reset(env: dict[str, str], tmp_path: Path) -> None:
    out = run_cli(env, "config", "set", "stretch_every_min", "45")
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "stretch_every_min = 45"
    assert run_cli(env, "config", "get", "stretch_every_min").stdout.strip() == "45"
    show = run_cli(env, "config", "show").stdout
    assert "stretch_every_min = 45    # set by you; a whole number from 10 to 180" in show
    assert "break_min = 2    # default" in show
    path = run_cli(env, "config", "path").stdout.splitlines()[0]
    assert path == str(tmp_path / "config" / "psoas-break" / "settings.toml")
    assert run_cli(env, "config", "reset", "stretch_every_min").returncode == 0
    assert run_cli(env, "config", "get", "stretch_every_min").stdout.strip() == "30"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("config", "set", "stretch_every_min", "5"),
         "stretch_every_min = 5 is not allowed: use a whole number from 10 to 180"),
        (("config", "set", "profile", "bus"), 'profile = "bus" is not allowed: use one of'),
        (("config", "set", "nope", "1"), "unknown setting 'nope'; known settings: profile"),
        (("config", "get", "nope"), "unknown setting 'nope'"),
        (("config", "frobnicate"), "invalid choice: 'frobnicate'"),
        (("config", "set", "voice"), "the following arguments are required: VALUE"),
        (("config", "set", "quiet_when", "camera,calls"),
         'quiet_when has "calls", which is not one of them: use a list of any of "camera"'),
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    env: dict[str, str], args: tuple[str, ...], message: str
) -> None:
    out = run_cli(env, *args)
    assert out.returncode == 2
    assert message in out.stderr
    assert "Traceback" not in out.stderr
    assert not (Path(env["XDG_CONFIG_HOME"]) / "psoas-break" / "settings.toml").exists()


def test_quiet_when_from_the_command_line(env: dict[str, str]) -> None:
    out = run_cli(env, "config", "set", "quiet_when", "microphone, screen_sharing")
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "quiet_when = microphone, screen-sharing"
    saved = (Path(env["XDG_CONFIG_HOME"]) / "psoas-break" / "settings.toml").read_text()
    assert 'quiet_when = [\n    "microphone",\n    "screen-sharing",\n]' in saved or (
        'quiet_when = ["microphone", "screen-sharing"]' in saved), saved
    assert run_cli(env, "config", "set", "quiet_when", "none").stdout.strip() == (
        "quiet_when = (none)")
    assert run_cli(env, "config", "get", "quiet_when").stdout.strip() == "(none)"
    assert run_cli(env, "config", "reset", "quiet_when").returncode == 0
    assert run_cli(env, "config", "get", "quiet_when").stdout.strip() == (
        "camera, microphone, screen-sharing, fullscreen, do-not-disturb")


def test_locked_key_refused(env: dict[str, str]) -> None:
    site = Path(env["XDG_CONFIG_DIRS"]) / "psoas-break"
    site.mkdir(parents=True)
    (site / "settings.toml").write_text('stretch_every_min = 60\nlocked = ["stretch_every_min"]\n')
    out = run_cli(env, "config", "set", "stretch_every_min", "20")
    assert out.returncode == 2
    assert "stretch_every_min is locked by your administrator" in out.stderr
    assert run_cli(env, "config", "get", "stretch_every_min").stdout.strip() == "60"
    assert "locked by site" in run_cli(env, "config", "show").stdout


def test_corrupt_file_reported_not_crashed(env: dict[str, str]) -> None:
    cfg = Path(env["XDG_CONFIG_HOME"]) / "psoas-break"
    cfg.mkdir(parents=True)
    (cfg / "settings.toml").write_text("this is = = not toml")
    out = run_cli(env, "config", "show")
    assert out.returncode == 0
    assert "is not valid TOML" in out.stderr
    assert "Traceback" not in out.stderr
