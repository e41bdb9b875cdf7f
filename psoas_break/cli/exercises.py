"""`psoas-break exercises [show ID [--side left|right] [--open]]`: list or show the exercises.

Exit codes: 0 done, 2 unknown exercise id (argparse also uses 2 for bad arguments), 1 when the
exercise data shipped with the app cannot be loaded.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from psoas_break.adapters.files.exercise_library import load_builtin_library
from psoas_break.core.exercises import Exercise, ExerciseDataError, Side
from psoas_break.core.i18n import N_, _, localized
from psoas_break.core.plain_text import one_line

# The labels are translated; the exercise texts themselves (exercises.toml) are English only.
_SIDES_TEXT = {
    "left_right": N_("one side at a time, left and right"),
    "both": N_("both sides at once"),
    "none": N_("not sided"),
}


def add_subcommands(subparsers: Any) -> None:
    """Register `exercises` (and its `show` action) on an argparse subparsers object."""
    parser = subparsers.add_parser(
        "exercises", help=_("list the exercises (id, title, where), or show one")
    )
    sub = parser.add_subparsers(dest="exercises_command", metavar="ACTION")
    show = sub.add_parser("show",
                          help=_("print an exercise's steps, hold time and picture path"))
    show.add_argument("exercise_id", metavar="ID", help=_("an id from `psoas-break exercises`"))
    show.add_argument(
        "--side", choices=("left", "right"), default=None,
        help=_("for one-side-at-a-time exercises: which side's picture (default left)"),
    )
    show.add_argument(
        "--open", action="store_true", help=_("also open the full page in the web browser")
    )


def _default_cache_dir() -> Path:
    # The same folder as AppPaths.default().cache_dir, without resolving the other folders
    # (the runtime dir warns when XDG_RUNTIME_DIR is unset, which is noise for this command).
    import platformdirs

    from psoas_break.adapters.files.paths import APP_DIR_NAME

    return Path(platformdirs.PlatformDirs(APP_DIR_NAME, appauthor=False).user_cache_dir)


def _list(exercises: list[Exercise]) -> None:
    id_w = max(len(e.id) for e in exercises)
    title_w = max(len(e.title) for e in exercises)
    for e in exercises:
        tags = ", ".join(sorted(e.tags))
        print(f"{e.id:<{id_w}}  {e.title:<{title_w}}  {tags}")


def _show(exercise: Exercise, side: Side | None, cache_dir: Path, open_page: bool) -> None:
    from psoas_break.ui.pictures import picture_file_name, picture_path

    if exercise.per_side and side is None:
        side = "left"
    elif not exercise.per_side:
        side = None
    print(f"{exercise.title} ({exercise.id})")
    where = ", ".join(t.replace("_", " ") for t in sorted(exercise.tags))
    print(_("Kind: {kind}; where: {where}; sides: {sides}", kind=exercise.kind, where=where,
            sides=localized(_SIDES_TEXT[exercise.sides])))
    if exercise.per_side:
        print(_("Side: {side} first ({working}), then the other side", side=side,
                working=exercise.working))
    print(exercise.dose_text())
    print()
    for number, step in enumerate(exercise.steps, start=1):
        print(f"{number}. {step}")
    print()
    print(_("Caution: {text}", text=exercise.caution))
    print(_("Source: {text}", text=exercise.source))
    picture = picture_path(exercise, side)
    if picture is not None:
        print(_("Picture: {path}", path=picture))
    else:
        print(_("Picture: not available ({error})", error=picture_file_name(exercise.id, side)))
    if open_page:
        from psoas_break.ui.exercise_page import open_exercise_page, write_exercise_page

        page = write_exercise_page(exercise, side, cache_dir / "pages", picture)
        print(_("Page: {path}", path=page))
        if not open_exercise_page(page):
            print(_("psoas-break: could not start a web browser"), file=sys.stderr)


def run(args: argparse.Namespace, cache_dir: Path | None = None) -> int:
    """Carry out `exercises` (list) or `exercises show ID`; returns the exit code.

    `cache_dir` is where `show --open` writes the exercise's page (default: the user cache
    folder from platformdirs).
    """
    try:
        library = load_builtin_library()
    except (ExerciseDataError, OSError) as exc:
        print(f"psoas-break: {exc}", file=sys.stderr)
        return 1
    if getattr(args, "exercises_command", None) != "show":
        _list(list(library))
        return 0
    exercise = library.get(args.exercise_id)
    if exercise is None:
        print(
            _("unknown exercise {id}: run `psoas-break exercises` to list them",
              id=one_line(repr(args.exercise_id), 60)),
            file=sys.stderr,
        )
        return 2
    _show(exercise, args.side, cache_dir or _default_cache_dir(), bool(args.open))
    return 0
