"""The desktop matrix (psoas_break/cli/desktops.py): every "tested" cell names a test that
exists, the README carries the same table, and doctor shows the row of the session it runs in."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from psoas_break.cli.desktops import DESKTOPS, FEATURES, MATRIX, desktop_of, markdown

REPO = Path(__file__).resolve().parent.parent


def _tests_in(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    return {node.name for node in ast.walk(tree)
            if isinstance(node, ast.FunctionDef) and node.name.startswith("test_")}


def test_every_cell_is_filled_and_every_named_test_exists() -> None:
    assert set(MATRIX) == {(d, f) for d in DESKTOPS for f in FEATURES}
    for key, cell in MATRIX.items():
        assert bool(cell.test) != bool(cell.not_tested), key  # one or the other, never both
        if cell.test:
            file, name = cell.test.split("::")
            assert name in _tests_in(REPO / file), f"{key}: {cell.test} does not exist"
        else:
            assert cell.not_tested and cell.not_tested.startswith("not tested"), key


def test_the_readme_has_the_same_matrix() -> None:
    readme = (REPO / "README.md").read_text()
    start, end = "<!-- desktops:start -->\n", "\n<!-- desktops:end -->"
    assert start in readme and end in readme
    copy = readme.split(start, 1)[1].split(end, 1)[0]
    assert copy == markdown(), "README's desktop matrix is stale: paste cli.desktops.markdown()"


@pytest.mark.parametrize(("env", "row"), [
    ({"DISPLAY": ":0"}, "X11"),
    ({"WAYLAND_DISPLAY": "wayland-0", "XDG_CURRENT_DESKTOP": "ubuntu:GNOME"}, "GNOME Wayland"),
    ({"XDG_SESSION_TYPE": "wayland", "XDG_CURRENT_DESKTOP": "KDE"}, "KDE Wayland"),
    ({"WAYLAND_DISPLAY": "wayland-1", "XDG_CURRENT_DESKTOP": "sway"}, "wlroots Wayland"),
    ({"WAYLAND_DISPLAY": "wayland-1", "XDG_CURRENT_DESKTOP": "Hyprland"}, "wlroots Wayland"),
])
def test_the_session_picks_its_row(env: dict[str, str], row: str) -> None:
    assert desktop_of(env) == row
