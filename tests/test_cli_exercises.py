"""`psoas-break exercises` and `exercises show ID`: in-process and in a real subprocess."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

import pytest

from psoas_break.adapters.files.exercise_library import load_builtin_library
from psoas_break.cli.exercises import add_subcommands, run

LIBRARY = load_builtin_library()
REPO = Path(__file__).resolve().parent.parent

RUNNER = """
import argparse, sys
from psoas_break.cli.exercises import add_subcommands, run
parser = argparse.ArgumentParser(prog="psoas-break")
add_subcommands(parser.add_subparsers(dest="command"))
sys.exit(run(parser.parse_args(sys.argv[1:])))
"""


def _parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="psoas-break")
    add_subcommands(parser.add_subparsers(dest="command"))
    return parser.parse_args(argv)


def test_list_prints_every_exercise_with_title_and_tags(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    assert run(_parse(["exercises"]), cache_dir=tmp_path) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == len(LIBRARY)
    for line, exercise in zip(lines, LIBRARY, strict=True):
        assert line.startswith(exercise.id + " ")
        assert exercise.title in line
        assert line.rstrip().endswith(", ".join(sorted(exercise.tags)))


def test_show_prints_steps_hold_caution_and_an_existing_picture(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    assert run(_parse(["exercises", "show", "standing_lunge_tuck", "--side", "right"]),
               cache_dir=tmp_path) == 0
    out = capsys.readouterr().out
    exercise = LIBRARY.get("standing_lunge_tuck")
    assert exercise is not None
    assert out.startswith("Standing lunge stretch, pelvis tucked (standing_lunge_tuck)\n")
    for number, step in enumerate(exercise.steps, start=1):
        assert f"{number}. {step}\n" in out
    assert "Hold 30 s, 2 times each side" in out
    assert f"Caution: {exercise.caution}" in out
    assert "Side: right first (the back leg)" in out
    picture = Path(out.split("Picture: ", 1)[1].splitlines()[0])
    assert picture.name == "standing_lunge_tuck-right.png" and picture.is_file()


def test_show_without_side_uses_left_and_unsided_has_no_side(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    assert run(_parse(["exercises", "show", "vehicle_lunge"]), cache_dir=tmp_path) == 0
    assert "vehicle_lunge-left.png" in capsys.readouterr().out
    assert run(_parse(["exercises", "show", "short_walk", "--side", "right"]),
               cache_dir=tmp_path) == 0
    out = capsys.readouterr().out
    assert "Side:" not in out and out.rstrip().endswith("short_walk.png")


def test_unknown_id_is_one_line_on_stderr_and_exit_2(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    assert run(_parse(["exercises", "show", "x"]), cache_dir=tmp_path) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == "unknown exercise 'x': run `psoas-break exercises` to list them\n"


def test_real_subprocess_list_show_and_unknown(tmp_path: Path) -> None:
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path / "cache"), "PYTHONPATH": str(REPO)}
    def call(*argv: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-c", RUNNER, *argv], capture_output=True,
                              text=True, timeout=60, env=env, cwd=tmp_path, check=False)

    listed = call("exercises")
    assert listed.returncode == 0, listed.stderr
    assert "drive_sit_tall" in listed.stdout and listed.stderr == ""
    shown = call("exercises", "show", "glute_bridge")
    assert shown.returncode == 0, shown.stderr
    assert "1. Lie on your back" in shown.stdout and "glute_bridge.png" in shown.stdout
    unknown = call("exercises", "show", "nope")
    assert unknown.returncode == 2
    assert unknown.stdout == ""
    assert unknown.stderr == "unknown exercise 'nope': run `psoas-break exercises` to list them\n"
    bad_side = call("exercises", "show", "glute_bridge", "--side", "up")
    assert bad_side.returncode == 2 and "invalid choice" in bad_side.stderr
