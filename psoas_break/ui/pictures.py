"""Exercise pictures: the committed PNGs, installed as package data (never rendered at run time).

The PNGs live in `icons/exercises/` of the repository and install as the data package
`psoas_break.data.pictures` (the mapping is in pyproject.toml; an editable install maps the same
name onto the repository's folder). `python -m icons.generator` writes them, from a checkout.

File names:

    <id>.png          every exercise; for a per-side exercise this is the left-side picture
    <id>-left.png     per-side exercises only: the left side (the figure's left working limb
                      highlighted)
    <id>-right.png    per-side exercises only: the mirror image, for the right side

A person's own exercises have their pictures in their folder (adapters/files/exercise_library
checked them); `picture_finder(user)` looks there for those and here for the shipped ones.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

from psoas_break.core.exercises import Exercise, Side

if TYPE_CHECKING:
    from psoas_break.adapters.files.exercise_library import UserExercises

PictureFinder = Callable[[Exercise, Side | None], Path | None]

log = logging.getLogger(__name__)

PICTURES_PACKAGE = "psoas_break.data.pictures"


def picture_file_name(exercise_id: str, side: Side | None = None) -> str:
    """`<id>.png`, or `<id>-left.png` / `<id>-right.png` for a side."""
    return f"{exercise_id}-{side}.png" if side else f"{exercise_id}.png"


def picture_files(exercise: Exercise) -> list[tuple[str, Side | None]]:
    """Every (file name, side) shipped for an exercise (the generator writes exactly these)."""
    if exercise.per_side:
        return [
            (picture_file_name(exercise.id), "left"),
            (picture_file_name(exercise.id, "left"), "left"),
            (picture_file_name(exercise.id, "right"), "right"),
        ]
    return [(picture_file_name(exercise.id), None)]


def picture_path(exercise: Exercise, side: Side | None) -> Path | None:
    """The installed PNG of `exercise` for `side` (ignored unless the exercise is per side).

    A cheap file look-up, safe on any thread; never raises. None, with a log line, when the
    picture is not installed (the caller shows the app icon instead), the pictures package is
    missing (a checkout never installed: `pip install -e .`) or not on the file system (a zip).
    """
    if exercise.user:
        return None  # the shipped pictures are not theirs; see picture_finder
    name = picture_file_name(exercise.id, side if exercise.per_side else None)
    try:
        found = resources.files(PICTURES_PACKAGE).joinpath(name)
        if isinstance(found, Path) and found.is_file():
            return found
    except (ImportError, OSError) as exc:
        log.warning("cannot look up the picture %s in %s: %s", name, PICTURES_PACKAGE, exc)
        return None
    log.warning("no picture %s for exercise %s in %s", name, exercise.id, PICTURES_PACKAGE)
    return None


def picture_finder(user: UserExercises | None) -> PictureFinder:
    """The picture look-up for the running app: a user's own exercise gets its PNG from their
    folder (or None: the caller shows the app icon), a shipped one the installed PNG."""

    def find(exercise: Exercise, side: Side | None) -> Path | None:
        if exercise.user:
            return user.picture(exercise, side) if user is not None else None
        return picture_path(exercise, side)

    return find
