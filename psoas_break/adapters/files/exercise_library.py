"""Read the exercise library's TOML: the shipped file and the user's own files (non-core: it
reads files and needs tomli on Python 3.10).

`load_builtin_library()` reads `psoas_break/data/exercises.toml` through importlib.resources (so it
works from a wheel or a zip too) and validates it with `psoas_break.core.exercises.parse_library`.
Errors are `ExerciseDataError` with one line naming the exercise and the field.

`load_user_exercises(folder, taken_ids)` reads a person's own exercises: every `*.toml` file
directly in `folder` (`<user data dir>/exercises/`, e.g. `~/.local/share/psoas-break/exercises/`
on Linux), in the shipped format, validated with the same rules. It never raises for what is in
the folder: a bad file or exercise is left out with one bounded line per problem naming the
file, the exercise, the field and what is allowed. Pictures are PNG files beside the TOML, named
by an exercise's `picture` key or, without one, `<id>.png` / `<id>-left.png` / `<id>-right.png`.

Hostile folders are expected: only regular files count (no FIFOs or devices, opened with
O_NOFOLLOW | O_NONBLOCK and checked with fstat), a symlink is followed only when its target is a
regular file inside the folder, sizes are capped (TOML files, pictures, the number of files and
of exercises), a picture must start with the PNG signature and be at most MAX_PICTURE_SIDE_PX
on each side (read from its header), and picture names are plain file names (core checks).
"""

from __future__ import annotations

import logging
import os
import stat
import struct
import sys
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from psoas_break.core.exercises import (
    Exercise,
    ExerciseDataError,
    ExerciseLibrary,
    Side,
    parse_library,
    parse_user_exercises,
)

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10 uses the tomli backport (a dependency there)
    import tomli as tomllib

log = logging.getLogger(__name__)

DATA_PACKAGE = "psoas_break"
DATA_FILE = ("data", "exercises.toml")
USER_FOLDER = "exercises"

MAX_FILES = 50
MAX_FILE_BYTES = 256 * 1024
MAX_USER_EXERCISES = 200
MAX_PICTURE_BYTES = 2 * 1024 * 1024
MAX_PICTURE_SIDE_PX = 4096
MAX_PROBLEM_CHARS = 300
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


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


# ---- the user's own exercises ----


@dataclass(frozen=True)
class UserExercises:
    """What the user's folder held: valid exercises, their pictures, and one line per problem."""

    folder: Path
    exercises: tuple[Exercise, ...] = ()
    pictures: Mapping[tuple[str, Side | None], Path] = field(default_factory=dict)
    problems: tuple[str, ...] = ()

    def picture(self, exercise: Exercise, side: Side | None) -> Path | None:
        """The user's PNG for `exercise` on `side` (None: no picture of theirs)."""
        found = self.pictures.get((exercise.id, side if exercise.per_side else None))
        return found or self.pictures.get((exercise.id, None))


def user_exercises_folder(data_dir: Path) -> Path:
    """`<user data dir>/exercises`: where a person puts their own exercise files."""
    return data_dir / USER_FOLDER


def _bounded(line: str) -> str:
    line = " ".join(line.split())  # one line, whatever a TOML error message held
    return line if len(line) <= MAX_PROBLEM_CHARS else line[: MAX_PROBLEM_CHARS - 1] + "\u2026"


def _inside(folder: Path, path: Path) -> Path | None:
    """`path` resolved, when it is a regular file inside `folder` (symlinks followed only
    there); None otherwise."""
    try:
        resolved = path.resolve(strict=True)
        base = folder.resolve(strict=True)
    except (OSError, RuntimeError):  # missing, a loop, no permission
        return None
    if resolved.parent != base and base not in resolved.parents:
        return None
    return resolved


def _read_capped(path: Path, cap: int) -> bytes:
    """At most `cap` bytes of a regular file; raises OSError (or ValueError when too big or
    not a regular file). O_NOFOLLOW: `path` is already resolved, a swap for a link fails."""
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
    flags |= getattr(os, "O_BINARY", 0)
    fd = os.open(path, flags)
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise ValueError("is not a regular file")
        if info.st_size > cap:
            raise ValueError(f"is {info.st_size} bytes, at most {cap} allowed")
        chunks = []
        left = cap + 1
        while left > 0:
            chunk = os.read(fd, min(65536, left))
            if not chunk:
                break
            chunks.append(chunk)
            left -= len(chunk)
        data = b"".join(chunks)
        if len(data) > cap:
            raise ValueError(f"is more than {cap} bytes")
        return data
    finally:
        os.close(fd)


def _png_problem(path: Path) -> str | None:
    """Why `path` is not a usable picture, or None when it is one."""
    try:
        head = _read_capped(path, MAX_PICTURE_BYTES)[:24]
    except (OSError, ValueError) as exc:
        return f"cannot be used ({exc})"
    if not head.startswith(PNG_SIGNATURE) or head[12:16] != b"IHDR":
        return "is not a PNG file"
    width, height = struct.unpack(">II", head[16:24])
    if not (1 <= width <= MAX_PICTURE_SIDE_PX and 1 <= height <= MAX_PICTURE_SIDE_PX):
        return (f"is {width} x {height} pixels; at most {MAX_PICTURE_SIDE_PX} x "
                f"{MAX_PICTURE_SIDE_PX} allowed")
    return None


def _find_pictures(
    folder: Path, exercise: Exercise, label: str, problems: list[str]
) -> dict[tuple[str, Side | None], Path]:
    """The exercise's pictures in `folder`: its `picture` (used for every side), or the
    `<id>[-side].png` files that exist. A named picture that is missing or unusable is a
    problem line (the exercise is kept, without a picture)."""
    found: dict[tuple[str, Side | None], Path] = {}
    if exercise.picture is not None:
        candidates: list[tuple[Side | None, str, bool]] = [(None, exercise.picture, True)]
    else:
        candidates = [(None, f"{exercise.id}.png", False)]
        if exercise.per_side:
            candidates += [("left", f"{exercise.id}-left.png", False),
                           ("right", f"{exercise.id}-right.png", False)]
    for side, name, named in candidates:
        path = folder / name
        if not named and not os.path.lexists(path):
            continue
        where = f"{label}: exercise '{exercise.id}': field 'picture': {name!r}"
        resolved = _inside(folder, path)
        if resolved is None:
            problems.append(_bounded(f"{where} must be a file in {folder} (a link may point only "
                                     "to a file in that folder)"))
            continue
        problem = _png_problem(resolved)
        if problem is not None:
            problems.append(_bounded(f"{where} {problem}"))
            continue
        found[(exercise.id, side)] = resolved
    return found


def load_user_exercises(folder: Path, taken_ids: Collection[str]) -> UserExercises:
    """Read every `*.toml` in `folder` (see the module docstring). Never raises; a missing
    folder is simply no exercises."""
    try:
        names = sorted(e.name for e in os.scandir(folder) if e.name.endswith(".toml"))
    except FileNotFoundError:
        return UserExercises(folder)
    except OSError as exc:
        return UserExercises(folder, problems=(_bounded(f"{folder}: cannot be read ({exc})"),))
    problems: list[str] = []
    exercises: list[Exercise] = []
    pictures: dict[tuple[str, Side | None], Path] = {}
    taken = set(taken_ids)
    if len(names) > MAX_FILES:
        problems.append(f"{folder}: only the first {MAX_FILES} .toml files are read "
                        f"({len(names)} found)")
        names = names[:MAX_FILES]
    for name in names:
        label = name if name.isprintable() else repr(name)
        resolved = _inside(folder, folder / name)
        if resolved is None:
            problems.append(_bounded(f"{label}: not used: it must be a file in {folder} (a link "
                                     "may point only to a file in that folder)"))
            continue
        try:
            text = _read_capped(resolved, MAX_FILE_BYTES).decode("utf-8")
            data = tomllib.loads(text)
        except ValueError as exc:  # too big, not a file, not UTF-8, not TOML
            problems.append(_bounded(f"{label}: not used: {exc}"))
            continue
        except RecursionError:  # tomllib parses nested arrays recursively
            problems.append(f"{label}: not used: nested too deeply")
            continue
        except OSError as exc:
            problems.append(_bounded(f"{label}: cannot be read ({exc.strerror or exc})"))
            continue
        found, lines = parse_user_exercises(data, label, taken)
        problems.extend(_bounded(line) for line in lines)
        for exercise in found:
            if len(exercises) >= MAX_USER_EXERCISES:
                problems.append(f"{label}: only {MAX_USER_EXERCISES} exercises of your own are "
                                "read in all")
                break
            taken.add(exercise.id)
            exercises.append(exercise)
            pictures.update(_find_pictures(folder, exercise, label, problems))
    return UserExercises(folder, tuple(exercises), pictures, tuple(problems))


def load_library(data_dir: Path | None) -> tuple[ExerciseLibrary, UserExercises | None]:
    """The shipped library followed by the user's own exercises from `<data_dir>/exercises`
    (None: the shipped ones only). Raises only for the shipped file (ExerciseDataError,
    OSError); problems with the user's files are in `UserExercises.problems`."""
    builtin = load_builtin_library()
    if data_dir is None:
        return builtin, None
    user = load_user_exercises(user_exercises_folder(data_dir), builtin.ids())
    for line in user.problems:
        log.warning("your exercises: %s", line)
    return builtin.with_exercises(user.exercises), user
