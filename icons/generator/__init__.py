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
from .render import render_pose

GENERATOR_VERSION = 1
ICON_SIZE_PX = 256
ICONS_DIR = Path(__file__).resolve().parent.parent / "exercises"


def render_exercise(
    exercise: Exercise, side: Side | None, size_px: int = ICON_SIZE_PX
) -> Image.Image:
    """The picture for an exercise: its pose, mirrored for the right side."""
    pose = POSES.get(exercise.pose)
    if pose is None:
        raise KeyError(f"exercise '{exercise.id}': no pose '{exercise.pose}' in poses.py")
    return render_pose(pose, size_px=size_px, mirror=side == "right")
