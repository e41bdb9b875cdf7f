"""`psoas-break exercises`, `show ID`, `hide ID`, `unhide ID`, `folder`: in-process and in a real
subprocess, with private folders (your own exercises, your settings)."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

import pytest

from psoas_break.adapters.files.exercise_library import load_builtin_library
from psoas_break.adapters.files.paths import AppPaths
from psoas_break.cli.exercises import add_subcommands, run
from tests.test_cli_control import make_paths

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

LIBRARY = load_builtin_library()
REPO = Path(__file__).resolve().parent.parent

RUNNER = """
import argparse, sys
from psoas_break.cli.exercises import add_subcommands, run
parser = argparse.ArgumentParser(prog="psoas-break")
add_subcommands(parser.add_subparsers(dest="command"))
sys.exit(run(parser.parse_args(sys.argv[1:])))
"""

MINE = """schema_version = 1

[[exercise]]
id = "my_wall_stretch"
title = "My wall stretch"
kind = "stretch"
tags = ["standing"]
focus = ["chest"]
sides = "both"
hold_s = 20
reps = 2
prompt = "Stand by a wall and open your chest."
steps = ["Stand by a wall.", "Open your chest gently."]
caution = "Stop if it hurts."
source = "My physio."
"""


def _parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="psoas-break")
    add_subcommands(parser.add_subparsers(dest="command"))
    return parser.parse_args(argv)


@pytest.fixture
def paths(tmp_path: Path) -> AppPaths:
    return make_paths(tmp_path)


def test_list_prints_every_exercise_with_title_and_tags(
    capsys: pytest.CaptureFixture[str], paths: AppPaths
) -> None:
    assert run(_parse(["exercises"]), paths) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == len(LIBRARY)
    for line, exercise in zip(lines, LIBRARY, strict=True):
        assert line.startswith(exercise.id + " ")
        assert exercise.title in line
        assert line.rstrip().endswith(", ".join(sorted(exercise.tags)))


def test_show_prints_steps_hold_caution_and_an_existing_picture(
    capsys: pytest.CaptureFixture[str], paths: AppPaths
) -> None:
    assert run(_parse(["exercises", "show", "standing_lunge_tuck", "--side", "right"]),
               paths) == 0
    out = capsys.readouterr().out
    exercise = LIBRARY.get("standing_lunge_tuck")
    assert exercise is not None
    assert out.startswith("Standing lunge stretch, pelvis tucked (standing_lunge_tuck)\n")
    for number, step in enumerate(exercise.texts_for("right").steps, start=1):
        assert f"{number}. {step}\n" in out
    assert "1. Stand tall and take a short step back with your right foot" in out
    assert "{" not in out
    assert "Hold 30 s, 2 times each side" in out
    assert f"Caution: {exercise.caution}" in out
    assert "Side: right first (your right leg, behind you)" in out
    picture = Path(out.split("Picture: ", 1)[1].splitlines()[0])
    assert picture.name == "standing_lunge_tuck-right.png" and picture.is_file()


def test_show_without_side_uses_left_and_unsided_has_no_side(
    capsys: pytest.CaptureFixture[str], paths: AppPaths
) -> None:
    assert run(_parse(["exercises", "show", "vehicle_lunge"]), paths) == 0
    assert "vehicle_lunge-left.png" in capsys.readouterr().out
    assert run(_parse(["exercises", "show", "short_walk", "--side", "right"]), paths) == 0
    out = capsys.readouterr().out
    assert "Side:" not in out and out.rstrip().endswith("short_walk.png")


def test_unknown_id_is_one_line_on_stderr_and_exit_2(
    capsys: pytest.CaptureFixture[str], paths: AppPaths
) -> None:
    assert run(_parse(["exercises", "show", "x"]), paths) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == "unknown exercise 'x': run `psoas-break exercises` to list them\n"


def test_hide_and_unhide_persist_in_the_settings_and_tell_the_app(
    capsys: pytest.CaptureFixture[str], paths: AppPaths
) -> None:
    told: list[str] = []
    assert run(_parse(["exercises", "hide", "glute_bridge"]), paths,
               notify_app=lambda: told.append("reload")) == 0
    assert run(_parse(["exercises", "hide", "knee_rolls"]), paths) == 0
    saved = tomllib.loads(paths.settings_file.read_text())
    assert saved["hidden_exercises"] == ["glute_bridge", "knee_rolls"]
    assert told == ["reload"]
    capsys.readouterr()
    assert run(_parse(["exercises"]), paths) == 0
    listed = {line.split()[0]: line for line in capsys.readouterr().out.splitlines()}
    assert listed["glute_bridge"].endswith("(hidden)")
    assert not listed["short_walk"].endswith("(hidden)")
    assert run(_parse(["exercises", "unhide", "glute_bridge"]), paths) == 0
    assert tomllib.loads(paths.settings_file.read_text())["hidden_exercises"] == ["knee_rolls"]
    assert run(_parse(["exercises", "unhide", "all"]), paths) == 0
    assert tomllib.loads(paths.settings_file.read_text())["hidden_exercises"] == []
    assert run(_parse(["exercises", "hide", "no_such_one"]), paths) == 2
    assert "unknown exercise 'no_such_one'" in capsys.readouterr().err


def test_your_own_exercises_are_listed_shown_and_their_problems_said(
    capsys: pytest.CaptureFixture[str], paths: AppPaths
) -> None:
    folder = paths.data_dir / "exercises"
    folder.mkdir(parents=True)
    (folder / "mine.toml").write_text(MINE)
    (folder / "broken.toml").write_text(MINE.replace('hold_s = 20', 'hold_s = "long"')
                                        .replace("my_wall_stretch", "my_broken"))
    assert run(_parse(["exercises", "folder"]), paths) == 0
    assert capsys.readouterr().out.strip() == str(folder)
    assert run(_parse(["exercises"]), paths) == 0
    captured = capsys.readouterr()
    mine = [line for line in captured.out.splitlines() if line.startswith("my_wall_stretch ")]
    assert len(mine) == 1 and mine[0].endswith("(yours)")
    assert captured.err == (
        "psoas-break: your exercises: broken.toml: exercise 'my_broken': field 'hold_s': must "
        "be a whole number from 20 to 30, got 'long'\n")
    assert run(_parse(["exercises", "show", "my_wall_stretch"]), paths) == 0
    out = capsys.readouterr().out
    assert "1. Stand by a wall." in out and "Picture: none (put my_wall_stretch.png" in out


def test_real_subprocess_list_show_and_unknown(tmp_path: Path) -> None:
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path / "cache"), "PYTHONPATH": str(REPO),
           "XDG_DATA_HOME": str(tmp_path / "data"), "XDG_CONFIG_HOME": str(tmp_path / "config")}
    folder = tmp_path / "data" / "psoas-break" / "exercises"
    folder.mkdir(parents=True)
    (folder / "mine.toml").write_text(MINE)

    def call(*argv: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-c", RUNNER, *argv], capture_output=True,
                              text=True, timeout=60, env=env, cwd=tmp_path, check=False)

    listed = call("exercises")
    assert listed.returncode == 0, listed.stderr
    assert "drive_sit_tall" in listed.stdout and listed.stderr == ""
    assert "my_wall_stretch" in listed.stdout
    shown = call("exercises", "show", "glute_bridge")
    assert shown.returncode == 0, shown.stderr
    assert "1. Lie on your back" in shown.stdout and "glute_bridge.png" in shown.stdout
    unknown = call("exercises", "show", "nope")
    assert unknown.returncode == 2
    assert unknown.stdout == ""
    assert unknown.stderr == "unknown exercise 'nope': run `psoas-break exercises` to list them\n"
    bad_side = call("exercises", "show", "glute_bridge", "--side", "up")
    assert bad_side.returncode == 2 and "invalid choice" in bad_side.stderr
    hidden = call("exercises", "hide", "my_wall_stretch")
    assert hidden.returncode == 0, hidden.stderr
    settings = tmp_path / "config" / "psoas-break" / "settings.toml"
    assert tomllib.loads(settings.read_text())["hidden_exercises"] == ["my_wall_stretch"]


def test_places_from_the_real_command_line(tmp_path: Path) -> None:
    """`psoas-break config set places ...` (the real entry point): saved as a list, read back,
    and a bad place is one line with exit 2."""
    env = {**os.environ, "XDG_CONFIG_HOME": str(tmp_path / "config"),
           "XDG_CONFIG_DIRS": str(tmp_path / "site"), "XDG_DATA_HOME": str(tmp_path / "data"),
           "XDG_STATE_HOME": str(tmp_path / "state"), "XDG_RUNTIME_DIR": str(tmp_path / "run")}

    def cli(*argv: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "psoas_break", *argv], capture_output=True,
                              text=True, env=env, timeout=60, check=False)

    assert cli("config", "get", "places").stdout.strip() == "seated, standing"
    done = cli("config", "set", "places", "floor, seated")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "places = seated, floor"
    saved = tomllib.loads((tmp_path / "config" / "psoas-break" / "settings.toml").read_text())
    assert saved["places"] == ["seated", "floor"]
    bad = cli("config", "set", "places", "sofa")
    assert bad.returncode == 2
    assert bad.stderr.strip() == (
        'psoas-break: places has "sofa", which is not a place: use a list of one or more of '
        '"seated", "standing", "floor", e.g. ["seated", "standing"]')
