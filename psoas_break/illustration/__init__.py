"""Exercise pictures: a small Pillow pose renderer and where its PNGs live (non-core).

File names (in `icons/exercises/` of a source checkout, or a cache folder when installed):

    <id>.png          every exercise; for a per-side exercise this is the left-side picture
    <id>-left.png     per-side exercises only: the left side (working limb highlighted)
    <id>-right.png    per-side exercises only: the mirror image, for the right side

`python -m psoas_break.illustration.generate` regenerates them (and `manifest.json`, and a
contact sheet to look at). Pillow is imported lazily, so naming helpers cost nothing.
"""

from __future__ import annotations

import logging
import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from psoas_break.core.exercises import Exercise, Side

if TYPE_CHECKING:
    from PIL import Image

log = logging.getLogger(__name__)

GENERATOR_VERSION = 1
ICON_SIZE_PX = 256


def picture_file_name(exercise_id: str, side: Side | None = None) -> str:
    """`<id>.png`, or `<id>-left.png` / `<id>-right.png` for a side."""
    return f"{exercise_id}-{side}.png" if side else f"{exercise_id}.png"


def picture_files(exercise: Exercise) -> list[tuple[str, Side | None]]:
    """Every (file name, side) the generator writes for an exercise."""
    if exercise.per_side:
        return [
            (picture_file_name(exercise.id), "left"),
            (picture_file_name(exercise.id, "left"), "left"),
            (picture_file_name(exercise.id, "right"), "right"),
        ]
    return [(picture_file_name(exercise.id), None)]


def repo_icons_dir() -> Path:
    """`icons/exercises` beside the package (present in a source checkout, maybe not installed)."""
    return Path(__file__).resolve().parent.parent.parent / "icons" / "exercises"


def render_exercise(
    exercise: Exercise, side: Side | None, size_px: int = ICON_SIZE_PX
) -> Image.Image:
    """The picture for an exercise: its pose, mirrored for the right side."""
    from psoas_break.illustration.poses import POSES
    from psoas_break.illustration.render import render_pose

    pose = POSES.get(exercise.pose)
    if pose is None:
        raise KeyError(f"exercise '{exercise.id}': no pose '{exercise.pose}' in poses.py")
    return render_pose(pose, size_px=size_px, mirror=side == "right")


def picture_path(exercise: Exercise, side: Side | None, cache_dir: Path) -> Path:
    """A PNG of the exercise for `side`: the shipped one if present, else rendered into
    `cache_dir/exercise-pictures-v<N>/` (once; later calls reuse it). Raises OSError when the
    cache folder cannot be written."""
    if not exercise.per_side:
        side = None
    name = picture_file_name(exercise.id, side)
    shipped = repo_icons_dir() / name
    if shipped.is_file():
        return shipped
    folder = cache_dir / f"exercise-pictures-v{GENERATOR_VERSION}"
    target = folder / name
    if target.is_file():
        return target
    folder.mkdir(parents=True, exist_ok=True)
    image = render_exercise(exercise, side)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".png", dir=folder)
    try:
        with os.fdopen(fd, "wb") as handle:
            image.save(handle, format="PNG", optimize=True)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    log.debug("rendered %s", target)
    return target
