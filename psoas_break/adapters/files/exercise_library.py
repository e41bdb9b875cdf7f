"""Read the exercise library's TOML (non-core: it reads files and needs tomli on Python 3.10).

`load_builtin_library()` reads `psoas_break/data/exercises.toml` through importlib.resources (so it
works from a wheel or a zip too) and validates it with `psoas_break.core.exercises.parse_library`.
Errors are `ExerciseDataError` with one line naming the exercise and the field.
"""

from __future__ import annotations

import sys
from importlib import resources

from psoas_break.core.exercises import ExerciseDataError, ExerciseLibrary, parse_library

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10 uses the tomli backport (a dependency there)
    import tomli as tomllib

DATA_PACKAGE = "psoas_break"
DATA_FILE = ("data", "exercises.toml")


def parse_library_text(text: str) -> ExerciseLibrary:
    """Parse TOML text and validate it (see `parse_library`)."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ExerciseDataError(f"exercise data: not valid TOML: {exc}") from exc
    return parse_library(data)


def builtin_library_text() -> str:
    """The text of the exercise data shipped in the package."""
    folder, name = DATA_FILE
    return resources.files(DATA_PACKAGE).joinpath(folder).joinpath(name).read_text("utf-8")


def load_builtin_library() -> ExerciseLibrary:
    """The library shipped in the package, validated. Raises ExerciseDataError or OSError."""
    return parse_library_text(builtin_library_text())
