"""Pages opened from the tray for a person: this week's chart, About, "Show this stretch".

Implements ports.Pages. Every method writes a file into the cache folder and opens it with the
desktop's default viewer; both may block, so the runtime calls them on its job thread. Errors
are logged (a page that cannot open is not worth a notification). The pages show personal
figures: each is made 0600 in a 0700 folder before it is opened.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from datetime import datetime
from pathlib import Path

from psoas_break.adapters.files.paths import AppPaths
from psoas_break.adapters.files.private import private_dir, private_file
from psoas_break.core.exercise_selection import Selection
from psoas_break.core.exercises import Exercise, Side

log = logging.getLogger(__name__)

PictureFinder = Callable[[Exercise, Side | None], Path | None]


def open_in_browser(path: Path) -> None:
    """The default opener: the desktop's browser (or image viewer) for a local file."""
    import webbrowser  # only when a page is opened: 1.3 MB otherwise held at rest

    if not webbrowser.open(path.resolve().as_uri()):
        log.warning("no browser could open %s", path)


class DesktopPages:
    """Writes and opens the pages (see module docstring)."""

    def __init__(self, paths: AppPaths, pictures: PictureFinder,
                 opener: Callable[[Path], None] = open_in_browser) -> None:
        self._paths = paths
        self._pictures = pictures
        self._opener = opener

    def _open(self, page: Path) -> None:
        private_dir(page.parent)
        private_file(page)
        self._opener(page)

    def show_week(self, now: datetime, live_sit_s: float | None) -> None:
        from psoas_break.ui.report import load_report, write_chart

        report = load_report(self._paths.history_file, now, 7, live_sit_s=live_sit_s)
        self._open(write_chart(self._paths.cache_dir / "week.png", report))

    def show_about(self, backends: Mapping[str, str], driver: bool) -> None:
        from psoas_break.ui.about_page import write_about

        self._open(write_about(self._paths, dict(backends), driver))

    def show_exercise(self, selection: Selection) -> None:
        from psoas_break.ui.exercise_page import write_exercise_page

        exercise, side = selection.exercise, selection.side
        picture = self._pictures(exercise, side)
        self._open(write_exercise_page(exercise, side, self._paths.cache_dir / "pages", picture))
