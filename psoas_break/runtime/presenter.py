"""From engine prompts to what a person sees and hears: the exercise, the notification, speech.

`Presenter` implements runtime.PromptPresenter. It picks the exercise (pure selection in core),
writes the notification (title by kind, body = the exercise's one-line prompt, the exercise's
picture as icon), and hands it to the notification worker; with voice on (or while driving) it
also hands the text to the speech worker. Both workers run off the engine thread.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from psoas_break.core.engine import Status
from psoas_break.core.events import ShowPrompt
from psoas_break.core.i18n import N_, _, localized
from psoas_break.core.settings import Settings
from psoas_break.ports import Notification

log = logging.getLogger(__name__)


class NotificationSink(Protocol):
    def submit(self, notification: Notification) -> None: ...

    def close(self, tag: str) -> None: ...


class SpeechSink(Protocol):
    def submit(self, text: str) -> None: ...


class LogNotifications:
    """The null notification sink: the log is the last resort."""

    name = "log"

    def submit(self, notification: Notification) -> None:
        log.info("prompt: %s — %s", notification.title, notification.body)

    def close(self, tag: str) -> None:
        return None


# English values; shown with `localized()`. Exercise texts (titles, steps) stay English.
TITLES = {
    "stretch": N_("Time to stand up and stretch"),
    "posture": N_("Posture check"),
    "break": N_("Break time: here is a stretch"),
}


class Presenter:
    """Shows prompts and notices. Engine thread only; never blocks (workers do the waiting)."""

    def __init__(
        self,
        notifications: NotificationSink,
        speech: SpeechSink | None = None,
        library: Any = None,
        app_icon: Path | None = None,
        cache_dir: Path | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self._notifications = notifications
        self._speech = speech
        self._library = library
        self._app_icon = app_icon
        self._cache_dir = cache_dir
        self._rng = rng or random.Random()
        self._history: Any = None
        self.last_selection: Any = None
        # Set by the app: True while a driver is on the road (only hands-free prompts then).
        self.is_driving: Callable[[], bool] = lambda: False
        if library is not None:
            from psoas_break.core.exercise_selection import SelectionHistory

            self._history = SelectionHistory()

    def set_outputs(self, notifications: NotificationSink, speech: SpeechSink | None) -> None:
        """Engine not yet running: the real notification and speech workers."""
        self._notifications = notifications
        self._speech = speech

    def set_library(self, library: Any) -> None:
        self._library = library
        if library is not None and self._history is None:
            from psoas_break.core.exercise_selection import SelectionHistory

            self._history = SelectionHistory()

    def _select(self, kind: str, settings: Settings, stopped: bool) -> Any:
        if self._library is None:
            return None
        from psoas_break.core.exercise_selection import select_exercise, situation_for

        try:
            selection = select_exercise(
                self._library, kind, settings.profile,
                situation_for(settings.profile, stopped=stopped), self._history, self._rng,
            )
        except Exception:
            log.exception("choosing an exercise failed")
            return None
        self._history = self._history.recorded(selection)
        self.last_selection = selection
        return selection

    def show_break(self, status: Status, settings: Settings) -> None:
        """A break started: show the stretch to do during it (no buttons needed)."""
        selection = self._select("stretch", settings, stopped=True)
        body, icon = self._body_and_icon(selection, "stretch")
        minutes = settings.break_min
        self._notifications.submit(
            Notification(
                title=_("{title} ({minutes} min)", title=TITLES["break"], minutes=minutes),
                body=body[:200], icon=icon,
                tag="prompt",
            )
        )
        if self._speech is not None and settings.voice:
            self._speech.submit(_("Break time. {text}", text=body))

    def _body_and_icon(self, selection: Any, kind: str) -> tuple[str, Path | None]:
        if selection is not None:
            from psoas_break.core.exercise_selection import notification_body

            return notification_body(selection), self._exercise_icon(selection) or self._app_icon
        body = (
            _("Stand up, step one foot back and gently tuck your pelvis: hold 20–30 s a side.")
            if kind == "stretch"
            else _("Sit tall, relax your shoulders and breathe out slowly.")
        )
        return body, self._app_icon

    def announce_driving(self, notice: Any) -> None:
        """A notice for the road: plain (no buttons), and always spoken in the driver profile.

        Its texts were checked for driving safety in English; they are localized only here."""
        self._notifications.submit(
            Notification(title=localized(notice.title), body=localized(notice.body)[:200],
                         icon=self._app_icon, tag="driving")
        )
        if self._speech is not None:
            self._speech.submit(localized(notice.speech))

    def _show_driving_prompt(self) -> None:
        from psoas_break.core.driving_prompts import choose_driving_notice
        from psoas_break.core.exercise_selection import SelectionHistory

        notice, self._history = choose_driving_notice(
            self._library or (), self._history or SelectionHistory(), self._rng
        )
        self._notifications.submit(
            Notification(title=localized(notice.title), body=localized(notice.body)[:200],
                         icon=self._app_icon, tag="prompt")
        )
        if self._speech is not None:
            self._speech.submit(localized(notice.speech))

    def show_prompt(self, prompt: ShowPrompt, status: Status, settings: Settings) -> None:
        if settings.profile == "driver" and self.is_driving():
            # Hands on the wheel, eyes on the road: a posture change, said aloud, no buttons.
            self._show_driving_prompt()
            return
        stopped = status.state == "on_break"
        selection = self._select(prompt.kind, settings, stopped)
        title = localized(TITLES.get(prompt.kind, "psoas-break"))
        if selection is not None:
            title = f"{title}: {selection.exercise.title}"
        body, icon = self._body_and_icon(selection, prompt.kind)
        if prompt.note:
            body = f"{localized(prompt.note)} {body}"
        actions: tuple[tuple[str, str], ...] = ()
        if prompt.kind == "stretch":
            actions = (("break-now", _("I'm up")),)
            if prompt.snooze_allowed:
                actions += (("snooze", _("Snooze")),)
            actions += (("skip", _("Skip")),)
        notification = Notification(
            title=title,
            body=body[:200],
            icon=icon,
            urgent=prompt.kind == "stretch" and prompt.escalation > 0,
            actions=actions,
            tag="prompt",
        )
        self._notifications.submit(notification)
        if self._speech is not None and (settings.voice or settings.profile == "driver"):
            self._speech.submit(f"{title}. {body}")

    def _exercise_icon(self, selection: Any) -> Path | None:
        from psoas_break.ui.pictures import picture_path

        return picture_path(selection.exercise, selection.side)

    def show_last_exercise(self) -> Path | None:
        """Open the page of the current/last prompt's exercise (off the engine thread)."""
        selection = self.last_selection
        if selection is None or self._cache_dir is None:
            return None
        from psoas_break.ui.exercise_page import show_exercise

        path: Path = show_exercise(selection.exercise, selection.side, self._cache_dir)
        return path

    def close_prompt(self, prompt_id: int) -> None:
        self._notifications.close("prompt")

    def show_notice(self, text: str) -> None:
        if self.is_driving():
            from psoas_break.core.driving_prompts import safe_notice_text

            # The check reads English words: an engine notice is an `N_` message whose value
            # is English, so this holds whatever language it is shown in.
            if safe_notice_text(text) is None:
                log.info("notice not shown while driving: %s", text)
                return
        self._notifications.submit(
            Notification(title="psoas-break", body=localized(text), icon=self._app_icon,
                         tag="notice", timeout_s=8)
        )
