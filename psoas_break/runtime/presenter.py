"""From engine prompts to what a person sees and hears: the exercise, the notification, speech.

`Presenter` picks the exercise (pure selection in core, within the person's `places` and
without their hidden exercises), writes the notification (title from the exercise itself:
"Time to stretch: Seated figure-4"; body = dose first, then the exercise's one-line prompt with
the side named by limb; the exercise's picture as icon), and hands it to the notification
worker; with voice on (or in the driver profile) it also hands the text to the speech worker,
with the units written out. Both workers run off the engine thread, so nothing here blocks.

While the vehicle moves (`driving=True`) nothing is put on the screen at all (a pop-up invites
a glance): prompts are hands-free posture changes and road notices, said aloud only; other
notices wait for the log. When the vehicle stops, the normal notifications come back.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable
from pathlib import Path

from psoas_break.core.commands import Command, Skip, Snooze, TakeBreak
from psoas_break.core.driving_prompts import DrivingNotice, choose_driving_notice
from psoas_break.core.engine import Status
from psoas_break.core.events import ShowPrompt
from psoas_break.core.exercise_selection import (
    Selection,
    SelectionHistory,
    notification_body,
    select_exercise,
    situation_for,
)
from psoas_break.core.exercises import Exercise, ExerciseLibrary, Side
from psoas_break.core.i18n import N_, _, localized
from psoas_break.core.settings import Settings
from psoas_break.ports import Notification, NotificationSink, SpeechSink

log = logging.getLogger(__name__)

PictureFinder = Callable[[Exercise, Side | None], Path | None]

# A stretch prompt's buttons: the key a notification server reports for a click, and the
# command it stands for (the app maps clicks back through this table).
PROMPT_ACTIONS: dict[str, Command] = {"break-now": TakeBreak(), "snooze": Snooze(), "skip": Skip()}

# English values; shown with `localized()`. A prompt's title says what the chosen exercise is
# (by its own kind, so a seated stretch never arrives as "stand up", a walk never as a
# stretch); TITLES by prompt kind are for when no exercise could be chosen.
EXERCISE_TITLES = {
    "stretch": N_("Time to stretch: {title}"),
    "move": N_("Time to move: {title}"),
    "posture": N_("Posture check: {title}"),
}
TITLES = {
    "stretch": N_("Time to stand up and stretch"),
    "posture": N_("Posture check"),
}
BREAK_TITLE = N_("Break ({minutes} min): {title}")
BREAK_TITLE_PLAIN = N_("Break time ({minutes} min)")


class LogNotifications:
    """The null notification sink: the log is the last resort."""

    name = "log"

    def submit(self, notification: Notification) -> None:
        log.info("prompt: %s — %s", notification.title, notification.body)

    def close(self, tag: str) -> None:
        return None


class Presenter:
    """Shows prompts and notices. Engine thread only; never blocks (workers do the waiting)."""

    def __init__(
        self,
        notifications: NotificationSink,
        speech: SpeechSink | None = None,
        library: ExerciseLibrary | None = None,
        app_icon: Path | None = None,
        pictures: PictureFinder | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self._notifications = notifications
        self._speech = speech
        self._library = library
        self._app_icon = app_icon
        self._pictures = pictures
        self._rng = rng or random.Random()
        self._history = SelectionHistory()
        self.last_selection: Selection | None = None

    def show_prompt(
        self, prompt: ShowPrompt, status: Status, settings: Settings, driving: bool = False
    ) -> None:
        """Show a stretch or posture prompt (hands-free and spoken while `driving`)."""
        if settings.profile == "driver" and driving:
            # Hands on the wheel, eyes on the road: a posture change, said aloud, no buttons.
            hidden = set(settings.hidden_exercises)
            notice, self._history = choose_driving_notice(
                [e for e in self._library or () if e.id not in hidden], self._history, self._rng
            )
            self._show_plain(notice, tag="prompt", driving=True)
            return
        selection = self._select(prompt.kind, settings, stopped=status.state == "on_break")
        if selection is not None:
            title = _(EXERCISE_TITLES[selection.exercise.kind],
                      title=selection.exercise.texts_for(selection.side).title)
        else:
            title = localized(TITLES.get(prompt.kind, "psoas-break"))
        if prompt.lead:
            title = f"{localized(prompt.lead)} {title}"
        body, icon = self._body_and_icon(selection, prompt.kind)
        spoken = self._spoken_body(selection, body)
        if prompt.note:
            # The dose stays first (a collapsed notification keeps the start) and the note
            # (a repeat, the snooze cap, "when you have a moment") always shows: the steps in
            # between are shortened to make room (the page has them all).
            note = localized(prompt.note)
            room = 200 - len(note) - 2
            if len(body) > room:
                body = body[:room].rstrip() + "…"
            body = f"{body} {note}"
            spoken = f"{spoken} {note}"
        actions: tuple[tuple[str, str], ...] = ()
        if prompt.kind == "stretch":
            actions = (("break-now", _("I'm up")),)
            if prompt.snooze_allowed:
                actions += (("snooze", _("Snooze")),)
            actions += (("skip", _("Skip")),)
        self._notifications.submit(Notification(
            title=title, body=body[:200], icon=icon,
            urgent=prompt.kind == "stretch" and prompt.escalation > 0,
            actions=actions, tag="prompt",
        ))
        if self._speech is not None and (settings.voice or settings.profile == "driver"):
            self._speech.submit(f"{title}. {spoken}")

    def show_break(self, settings: Settings) -> None:
        """A break started: show the stretch (or walk) to do during it (no buttons needed)."""
        selection = self._select("stretch", settings, stopped=True)
        body, icon = self._body_and_icon(selection, "stretch")
        if selection is not None:
            title = _(BREAK_TITLE, minutes=settings.break_min,
                      title=selection.exercise.texts_for(selection.side).title)
        else:
            title = _(BREAK_TITLE_PLAIN, minutes=settings.break_min)
        self._notifications.submit(Notification(
            title=title, body=body[:200], icon=icon, tag="prompt",
        ))
        if self._speech is not None and settings.voice:
            self._speech.submit(_("Break time. {text}",
                                  text=self._spoken_body(selection, body)))

    def announce_driving(self, notice: DrivingNotice, driving: bool = True) -> None:
        """A notice for the road, always spoken in the driver profile; on the screen (plain, no
        buttons) only while the vehicle is known to stand still (`driving` False).

        Its texts were checked for driving safety in English; they are localized only here."""
        self._show_plain(notice, tag="driving", driving=driving)

    def clear_screen(self) -> None:
        """The vehicle moves: withdraw what is still on the screen."""
        for tag in ("prompt", "driving", "notice"):
            self._notifications.close(tag)

    def last_exercise_id(self) -> str | None:
        """The id of the last prompt's exercise (for "Never show this one again")."""
        return self.last_selection.exercise.id if self.last_selection is not None else None

    def close_prompt(self, prompt_id: int) -> None:
        self._notifications.close("prompt")

    def show_notice(self, text: str, driving: bool = False) -> None:
        """One line for the user. `text` is an English `N_` message or plain text."""
        if driving:
            log.info("notice not shown while driving: %s", text)
            return
        self._notifications.submit(Notification(
            title="psoas-break", body=localized(text), icon=self._app_icon, tag="notice",
            timeout_s=8,
        ))

    # ---- internals ----

    def _show_plain(self, notice: DrivingNotice, tag: str, driving: bool) -> None:
        if not driving:
            self._notifications.submit(Notification(
                title=localized(notice.title), body=localized(notice.body)[:200],
                icon=self._app_icon, tag=tag,
            ))
        if self._speech is not None:
            self._speech.submit(localized(notice.speech))

    def _select(self, kind: str, settings: Settings, stopped: bool) -> Selection | None:
        if not self._library:
            return None
        try:
            selection = select_exercise(
                self._library, kind, settings.profile,
                situation_for(settings.profile, stopped=stopped), self._history, self._rng,
                places=settings.places, hidden=settings.hidden_exercises,
            )
        except Exception:
            log.exception("choosing an exercise failed")
            return None
        self._history = self._history.recorded(selection)
        self.last_selection = selection
        return selection

    def _body_and_icon(self, selection: Selection | None, kind: str) -> tuple[str, Path | None]:
        if selection is None:
            body = (
                _("Hold 20–30 s each side: stand up, step one foot back and gently tuck your "
                  "pelvis.")
                if kind == "stretch"
                else _("Sit tall, relax your shoulders and breathe out slowly.")
            )
            return body, self._app_icon
        icon = None
        if self._pictures is not None:
            icon = self._pictures(selection.exercise, selection.side)
        return notification_body(selection), icon or self._app_icon

    @staticmethod
    def _spoken_body(selection: Selection | None, body: str) -> str:
        """What is said: the body with its units written out (espeak reads "30 s" badly)."""
        return notification_body(selection, spoken=True) if selection is not None else body
