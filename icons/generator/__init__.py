"""The exercise-picture generator: a small Pillow pose renderer (repository tool, not shipped).

`python -m icons.generator` (from the repository root; `make icons`) writes the PNGs named by
`psoas_break.ui.pictures` into `icons/exercises/`, with `manifest.json` and a contact sheet;
`--check` (`make icons-check`) compares instead. The app only reads the committed PNGs; nothing in
`psoas_break/` imports this package (tests/test_pictures_package.py checks it).
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image

from psoas_break.core.exercises import Exercise, Side

from .poses import POSES
from .render import Pose, limb_side, render_pose

GENERATOR_VERSION = 2
ICON_SIZE_PX = 256
ICONS_DIR = Path(__file__).resolve().parent.parent / "exercises"


def picture_pose(exercise: Exercise, side: Side | None) -> tuple[Pose, bool]:
    """The pose of an exercise's picture for `side`, and whether it is drawn mirrored.

    A per-side picture is mirrored exactly when that puts its highlighted (working) limbs on
    the anatomical `side` (None: the left side, the default picture); any other picture is
    drawn as posed. Raises KeyError for an unknown pose and ValueError for a per-side pose
    whose highlighted limbs are not all on one side.
    """
    pose = POSES.get(exercise.pose)
    if pose is None:
        raise KeyError(f"exercise '{exercise.id}': no pose '{exercise.pose}' in poses.py")
    if not exercise.per_side:
        return pose, False
    wanted = side or "left"
    for mirrored in (False, True):
        sides = {limb_side(pose, limb, mirrored) for limb in pose.highlight}
        if sides == {wanted}:
            return pose, mirrored
    raise ValueError(
        f"exercise '{exercise.id}': pose '{exercise.pose}' must highlight the working limb(s) "
        "of one side"
    )


def render_exercise(
    exercise: Exercise, side: Side | None, size_px: int = ICON_SIZE_PX
) -> Image.Image:
    """The picture for an exercise (see `picture_pose`)."""
    pose, mirrored = picture_pose(exercise, side)
    return render_pose(pose, size_px=size_px, mirror=mirrored)
