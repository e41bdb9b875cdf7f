"""Exercise pictures: the committed PNGs in icons/exercises (placeholder until packaged)."""

from __future__ import annotations

from pathlib import Path

from psoas_break.core.exercises import Exercise, Side

_ICONS = Path(__file__).resolve().parent.parent.parent / "icons" / "exercises"


def picture_path(exercise: Exercise, side: Side | None) -> Path | None:
    """The PNG for `exercise` on `side`, or None when there is none."""
    name = f"{exercise.id}-{side}.png" if exercise.per_side and side else f"{exercise.id}.png"
    path = _ICONS / name
    return path if path.is_file() else None
