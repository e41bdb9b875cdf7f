"""Pictures are data: a wheel ships every committed PNG, and the package never renders one."""

from __future__ import annotations

import ast
import json
import logging
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from PIL import Image

from psoas_break.adapters.files.exercise_library import load_builtin_library
from psoas_break.ui import pictures
from psoas_break.ui.pictures import PICTURES_PACKAGE, picture_file_name, picture_files

REPO = Path(__file__).resolve().parent.parent
PACKAGE_DIR = REPO / "psoas_break"
ICONS = REPO / "icons" / "exercises"
LIBRARY = load_builtin_library()
SHIPPED = sorted({name for e in LIBRARY for name, _side in picture_files(e)})

# Run by the freshly installed package (no dependencies, no system site-packages): the path the
# app's own API gives for every exercise and side.
PROBE = r"""
import json, sys
from psoas_break.adapters.files.exercise_library import load_builtin_library
from psoas_break.ui.pictures import picture_path
found = {}
for exercise in load_builtin_library():
    for side in (None, "left", "right"):
        path = picture_path(exercise, side)
        found[f"{exercise.id} {side}"] = None if path is None else str(path)
json.dump(found, sys.stdout)
"""


def _imported_modules(source: Path) -> list[str]:
    names: list[str] = []
    for node in ast.walk(ast.parse(source.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.append("." * node.level + node.module)
    return names


def test_the_package_never_imports_the_generator() -> None:
    sources = sorted(PACKAGE_DIR.rglob("*.py"))
    assert len(sources) > 50
    for source in sources:
        for name in _imported_modules(source):
            top = name.split(".")[0]
            assert top != "icons" and "illustration" not in name, f"{source}: imports {name}"
    assert not (PACKAGE_DIR / "illustration").exists()


def test_without_the_pictures_package_there_is_no_picture_and_a_log_line(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    exercise = LIBRARY.get("glute_bridge")
    assert exercise is not None and pictures.picture_path(exercise, None) is not None
    monkeypatch.setattr(pictures, "PICTURES_PACKAGE", "psoas_break.data.not_installed")
    with caplog.at_level(logging.WARNING, logger=pictures.__name__):
        assert pictures.picture_path(exercise, None) is None
    assert "glute_bridge.png" in caplog.text and "not_installed" in caplog.text


def _build_wheel(out: Path) -> Path:
    """A wheel built from a copy of the repository (the build leaves nothing in the checkout)."""
    src = out / "src"
    skip = shutil.ignore_patterns("__pycache__", "*.egg-info", "build", "dist")
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(REPO / name, src / name)
    for name in ("psoas_break", "icons"):
        shutil.copytree(REPO / name, src / name, ignore=skip)
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
         "--no-index", "--disable-pip-version-check", "-w", str(out / "dist"), str(src)],
        check=True, capture_output=True, text=True, timeout=300,
    )
    (wheel,) = (out / "dist").glob("psoas_break-*.whl")
    return wheel


def test_a_wheel_from_the_repo_ships_every_picture_and_the_app_finds_them(
    tmp_path: Path,
) -> None:
    wheel = _build_wheel(tmp_path)
    folder = PICTURES_PACKAGE.replace(".", "/")
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        for name in SHIPPED:
            assert archive.read(f"{folder}/{name}") == (ICONS / name).read_bytes(), name
    shipped = {n.rsplit("/", 1)[1] for n in names if n.startswith(f"{folder}/")}
    assert shipped == {*SHIPPED, "__init__.py"}  # no contact sheet, no manifest
    assert not [n for n in names if "generator" in n or "illustration" in n]
    # Installed in a fresh environment: its own package data, not the checkout's.
    venv = tmp_path / "venv"
    base_python = getattr(sys, "_base_executable", sys.executable)
    subprocess.run([base_python, "-m", "venv", "--without-pip", str(venv)],
                   check=True, capture_output=True, timeout=120)
    python = venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "-q", "--no-deps",
         "--no-index", "--disable-pip-version-check", str(wheel)],
        check=True, capture_output=True, text=True, timeout=300,
    )
    out = subprocess.run([str(python), "-I", "-c", PROBE], cwd=tmp_path, capture_output=True,
                         text=True, timeout=120, check=False)
    assert out.returncode == 0, out.stderr
    assert out.stderr == ""  # no "picture missing" line
    found = json.loads(out.stdout)
    assert len(found) == 3 * len(LIBRARY)
    for exercise in LIBRARY:
        for side in (None, "left", "right"):
            where = found[f"{exercise.id} {side}"]
            assert where is not None, (exercise.id, side)
            path = Path(where)
            assert venv in path.parents, path
            expected = picture_file_name(exercise.id, side if exercise.per_side else None)
            assert path.name == expected
    assert {Path(p).name for p in found.values() if p} == set(SHIPPED)
    for where in set(found.values()):
        with Image.open(str(where)) as image:
            image.load()
            assert image.size == (256, 256) and image.mode == "RGBA", where
