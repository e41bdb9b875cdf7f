"""`psoas-break exercises [show ID [--side left|right] [--open] | hide ID | unhide ID | folder]`.

Lists the exercises (the shipped ones, then your own from the folder `exercises folder` prints,
with one line on stderr per problem in your files), shows one, or hides one ("never show this
one again", saved as the `hidden_exercises` setting; the running app picks it up) and brings it
back. Texts are in the active language.

Exit codes: 0 done, 2 unknown exercise id or bad input (argparse also uses 2 for bad arguments),
1 when the exercise data shipped with the app cannot be loaded or the setting cannot be saved.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from psoas_break.adapters.files.exercise_library import (
    UserExercises,
    load_library,
    user_exercises_folder,
)
from psoas_break.adapters.files.paths import AppPaths
from psoas_break.core.exercises import Exercise, ExerciseDataError, ExerciseLibrary, Side
from psoas_break.core.i18n import N_, _, localized
from psoas_break.core.plain_text import one_line

_SIDES_TEXT = {
    "left_right": N_("one side at a time, left and right"),
    "alternate": N_("side to side"),
    "both": N_("both sides at once"),
    "none": N_("not sided"),
}


def add_subcommands(subparsers: Any) -> None:
    """Register `exercises` (and its actions) on an argparse subparsers object."""
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
    hide = sub.add_parser("hide", help=_("never show this exercise again"))
    hide.add_argument("exercise_id", metavar="ID", help=_("an id from `psoas-break exercises`"))
    unhide = sub.add_parser("unhide", help=_("show a hidden exercise again"))
    unhide.add_argument("exercise_id", metavar="ID",
                        help=_("an id from `psoas-break exercises`, or \"all\""))
    sub.add_parser("folder", help=_("where to put your own exercise files"))


def _list(exercises: list[Exercise], hidden: tuple[str, ...]) -> None:
    titles = {e.id: e.texts_for(None).title for e in exercises}
    id_w = max(len(e.id) for e in exercises)
    title_w = max(len(t) for t in titles.values())
    for e in exercises:
        tags = ", ".join(sorted(e.tags))
        marks = ""
        if e.user:
            marks += "  " + _("(yours)")
        if e.id in hidden:
            marks += "  " + _("(hidden)")
        print(f"{e.id:<{id_w}}  {titles[e.id]:<{title_w}}  {tags}{marks}")


def _show(
    exercise: Exercise,
    side: Side | None,
    cache_dir: Path,
    open_page: bool,
    user: UserExercises | None,
) -> None:
    from psoas_break.ui.exercise_page import place_text
    from psoas_break.ui.pictures import picture_file_name, picture_finder

    if exercise.per_side and side is None:
        side = "left"
    elif not exercise.per_side:
        side = None
    texts = exercise.texts_for(side)
    print(f"{texts.title} ({exercise.id})")
    print(_("Kind: {kind}; where: {where}; sides: {sides}", kind=exercise.kind,
            where=place_text(exercise), sides=localized(_SIDES_TEXT[exercise.sides])))
    if exercise.per_side:
        print(_("Side: {side} first ({working}), then the other side", side=side,
                working=texts.working))
    print(texts.dose)
    print()
    for number, step in enumerate(texts.steps, start=1):
        print(f"{number}. {step}")
    print()
    print(_("Caution: {text}", text=texts.caution))
    print(_("Source: {text}", text=texts.source))
    picture = picture_finder(user)(exercise, side)
    if picture is not None:
        print(_("Picture: {path}", path=picture))
    elif exercise.user:
        print(_("Picture: none (put {name} beside your file)",
                name=exercise.picture or picture_file_name(exercise.id, side)))
    else:
        print(_("Picture: not available ({error})", error=picture_file_name(exercise.id, side)))
    if open_page:
        from psoas_break.ui.exercise_page import open_exercise_page, write_exercise_page

        page = write_exercise_page(exercise, side, cache_dir / "pages", picture)
        print(_("Page: {path}", path=page))
        if not open_exercise_page(page):
            print(_("psoas-break: could not start a web browser"), file=sys.stderr)


def _unknown(exercise_id: str) -> int:
    print(_("unknown exercise {id}: run `psoas-break exercises` to list them",
            id=one_line(repr(exercise_id), 60)), file=sys.stderr)
    return 2


def _set_hidden(
    paths: AppPaths,
    library: ExerciseLibrary,
    exercise_id: str,
    hide: bool,
    notify_app: Callable[[], object] | None,
) -> int:
    """Add `exercise_id` to (or take it out of) the `hidden_exercises` setting and save it."""
    from psoas_break.adapters.files.settings_store import SettingsStore
    from psoas_break.core.settings import SettingError
    from psoas_break.ports import StorageError

    store = SettingsStore(paths.settings_file, paths.site_settings_files)
    result = store.load()
    hidden = list(result.settings.hidden_exercises)
    if hide:
        if library.get(exercise_id) is None:
            return _unknown(exercise_id)
        if exercise_id not in hidden:
            hidden.append(exercise_id)
        message = _("{id} will not be shown again (undo: psoas-break exercises unhide {id})",
                    id=exercise_id)
    elif exercise_id == "all":
        hidden = []
        message = _("every exercise can be shown again")
    else:
        if exercise_id not in hidden:
            print(_("{id} is not hidden", id=exercise_id))
            return 0
        hidden.remove(exercise_id)
        message = _("{id} can be shown again", id=exercise_id)
    try:
        store.save("hidden_exercises", tuple(hidden))
    except SettingError as exc:
        print(f"psoas-break: {exc}", file=sys.stderr)
        return 2
    except StorageError as exc:
        print(f"psoas-break: {exc}", file=sys.stderr)
        return 1
    print(message)
    if notify_app is not None:
        notify_app()
    return 0


def run(
    args: argparse.Namespace,
    paths: AppPaths | None = None,
    notify_app: Callable[[], object] | None = None,
    cache_dir: Path | None = None,
) -> int:
    """Carry out one `exercises` action; returns the exit code.

    `paths` finds your own exercises and the settings (default: the platform folders);
    `notify_app` tells a running app to re-read the settings after hide/unhide; `cache_dir` is
    where `show --open` writes the exercise's page (default: the user cache folder).
    """
    paths = paths or AppPaths.default()
    action = getattr(args, "exercises_command", None)
    if action == "folder":
        print(user_exercises_folder(paths.data_dir))
        return 0
    try:
        library, user = load_library(paths.data_dir)
    except (ExerciseDataError, OSError) as exc:
        print(f"psoas-break: {exc}", file=sys.stderr)
        return 1
    if user is not None:
        for line in user.problems:
            print(_("psoas-break: your exercises: {problem}", problem=line), file=sys.stderr)
    if action in ("hide", "unhide"):
        return _set_hidden(paths, library, args.exercise_id, action == "hide", notify_app)
    if action != "show":
        from psoas_break.adapters.files.settings_store import SettingsStore

        hidden = SettingsStore(paths.settings_file, paths.site_settings_files).load()
        _list(list(library), hidden.settings.hidden_exercises)
        return 0
    exercise = library.get(args.exercise_id)
    if exercise is None:
        return _unknown(args.exercise_id)
    _show(exercise, args.side, cache_dir or paths.cache_dir, bool(args.open), user)
    return 0
