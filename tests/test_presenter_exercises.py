"""What a person sees and hears for an exercise: titles that say what the exercise is, the dose
first, only the places they have, never a hidden one, their own exercise with its picture, and
all of it in German under a German locale (notification, speech, the page)."""

from __future__ import annotations

import random
import re
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest

from psoas_break.adapters.files.exercise_library import load_builtin_library, load_library
from psoas_break.core import i18n
from psoas_break.core.commands import SetSetting, ShowStretch
from psoas_break.core.engine import SittingEngine
from psoas_break.core.events import ShowPrompt
from psoas_break.core.settings import Settings
from psoas_break.core.tray_view import MenuEntry, TrayFacts, build_view
from psoas_break.runtime.presenter import EXERCISE_TITLES, Presenter
from psoas_break.ui.exercise_page import render_exercise_page
from psoas_break.ui.pictures import picture_finder, picture_path
from tests.engine_driver import BERLIN
from tests.fakes import RecordingNotifications, RecordingSpeech
from tests.test_exercise_page import parse
from tests.test_user_exercises import exercise_toml, png, write

LIBRARY = load_builtin_library()


@pytest.fixture(autouse=True)
def english_after() -> Iterator[None]:
    yield
    i18n.reset()


def presenter(library: object = LIBRARY, seed: int = 1, pictures: object = picture_path
              ) -> tuple[Presenter, RecordingNotifications, RecordingSpeech]:
    sink, speech = RecordingNotifications(), RecordingSpeech()
    return (Presenter(sink, speech, library, Path("/app-icon.png"), pictures,  # type: ignore[arg-type]
                      random.Random(seed)), sink, speech)


def prompt(p: Presenter, kind: str, settings: Settings, n: int = 1) -> None:
    status = SittingEngine(settings).status()
    for i in range(n):
        p.show_prompt(ShowPrompt(i + 1, kind), status, settings)  # type: ignore[arg-type]


def test_titles_say_what_the_exercise_is_and_the_dose_comes_first() -> None:
    settings = Settings(voice=True, places=("seated", "standing", "floor"))
    p, sink, speech = presenter()
    for kind in ("stretch", "posture"):
        for _ in range(60):
            prompt(p, kind, settings)
            sel = p.last_selection
            assert sel is not None
            shown = sink.shown[-1]
            exercise = sel.exercise
            assert shown.title == EXERCISE_TITLES[exercise.kind].format(title=exercise.title)
            assert not ("stand up" in shown.title.lower() and "seated" in exercise.tags
                        and "standing" not in exercise.tags), shown.title
            assert shown.body.startswith(f"{exercise.dose_text()}. "), shown.body
            assert len(shown.body) <= 200
            said = speech.said[-1]
            assert said.startswith(f"{shown.title}. {exercise.dose_text(spoken=True)}. ")
            assert not re.search(r"\d+ ?s\b", said), said
    titles = {n.title.split(":")[0] for n in sink.shown}
    assert {"Time to stretch", "Time to move", "Posture check"} <= titles


def test_a_per_side_prompt_names_the_limb_and_shows_that_sides_picture() -> None:
    lunge = LIBRARY.get("standing_lunge_tuck")
    assert lunge is not None
    p, sink, _speech = presenter(library=[lunge])
    settings = Settings(places=("standing",))
    prompt(p, "stretch", settings, n=2)
    first, second = sink.shown
    assert first.body == ("Hold 30 s, 2 times each side. Step your left foot back into a short "
                          "lunge, heel up. Tuck your pelvis under until the front of your left "
                          "hip stretches.")
    assert first.icon is not None and first.icon.name == "standing_lunge_tuck-left.png"
    assert "your right foot back" in second.body  # alternated at the next prompt
    assert second.icon is not None and second.icon.name == "standing_lunge_tuck-right.png"


def test_the_break_title_names_the_exercise() -> None:
    p, sink, _speech = presenter()
    p.show_break(Settings(break_min=5))
    sel = p.last_selection
    assert sel is not None
    assert sink.shown[-1].title == f"Break (5 min): {sel.exercise.title}"
    assert sink.shown[-1].body.startswith(f"{sel.exercise.dose_text()}. ")


def test_places_and_hidden_exercises_are_honoured() -> None:
    p, sink, _speech = presenter()
    hidden = ("seated_figure_four", "seated_hamstring_stretch")
    settings = Settings(places=("seated",), hidden_exercises=hidden)
    prompt(p, "stretch", settings, n=80)
    prompt(p, "posture", settings, n=40)
    picked = {n.title.split(": ", 1)[1] for n in sink.shown}
    titles = {e.title: e for e in LIBRARY}
    for title in picked:
        exercise = titles[title]
        assert "seated" in exercise.tags, title
        assert exercise.id not in hidden
    assert len(picked) >= 6


def test_default_places_never_send_a_desk_user_to_the_floor() -> None:
    p, sink, _speech = presenter(seed=9)
    prompt(p, "stretch", Settings(), n=150)
    prompt(p, "posture", Settings(), n=100)
    titles = {e.title: e for e in LIBRARY}
    for notification in sink.shown:
        exercise = titles[notification.title.split(": ", 1)[1]]
        assert exercise.tags & {"seated", "standing"}, exercise.id


def test_a_users_exercise_is_prompted_with_their_picture(tmp_path: Path) -> None:
    folder = tmp_path / "data" / "exercises"
    write(folder, "mine.toml", exercise_toml(extra='picture = "mine.png"'))
    (folder / "mine.png").write_bytes(png())
    library, user = load_library(tmp_path / "data")
    everything_else = tuple(e.id for e in library if not e.user)
    p, sink, _speech = presenter(library=library, pictures=picture_finder(user))
    prompt(p, "stretch", Settings(places=("seated",), hidden_exercises=everything_else))
    shown = sink.shown[-1]
    assert shown.title == "Time to stretch: My chest opener"
    assert shown.body == "Hold 20 s, 2 times. Sit tall and open your chest."
    assert shown.icon == (folder / "mine.png").resolve()


# ---- "never show this one again" and places, from the tray ----


def _find(entries: tuple[MenuEntry, ...], label: str) -> MenuEntry:
    for entry in entries:
        if entry.label == label:
            return entry
        if entry.children:
            try:
                return _find(entry.children, label)
            except LookupError:
                pass
    raise LookupError(label)


def _view(settings: Settings, current: str | None = "glute_bridge") -> tuple[MenuEntry, ...]:
    now = datetime(2026, 5, 4, 10, 0, tzinfo=BERLIN)
    facts = TrayFacts(can_show_stretch=current is not None, current_exercise=current)
    return build_view(SittingEngine(settings).status(), settings, now, facts).menu


def test_the_tray_offers_never_show_again_next_to_show_this_stretch() -> None:
    menu = _view(Settings(hidden_exercises=("knee_rolls",)))
    labels = [e.label for e in menu]
    show = labels.index("Show this stretch")
    assert labels[show + 1] == "Never show this one again"
    assert menu[show].action == ShowStretch()
    assert menu[show + 1].action == SetSetting("hidden_exercises", ("knee_rolls", "glute_bridge"))
    undo = _find(menu, "Show hidden exercises again (1)")
    assert undo.action == SetSetting("hidden_exercises", ()) and undo.visible
    # nothing shown yet: no entry; already hidden: no entry either
    assert "Never show this one again" not in [e.label for e in _view(Settings(), None)]
    hidden = _view(Settings(hidden_exercises=("glute_bridge",)))
    assert "Never show this one again" not in [e.label for e in hidden]
    assert not _find(_view(Settings()), "Show hidden exercises again (0)").visible


def test_the_tray_sets_places_and_keeps_at_least_one() -> None:
    menu = _view(Settings())
    where = _find(menu, "Where you can exercise")
    seated, standing, floor = where.children
    assert [e.label for e in where.children] == ["Seated", "Standing", "On the floor (at home)"]
    assert seated.checked and standing.checked and not floor.checked
    assert floor.action == SetSetting("places", ("seated", "standing", "floor"))
    assert seated.action == SetSetting("places", ("standing",))
    only = _find(_view(Settings(places=("floor",))), "Where you can exercise")
    assert not only.children[2].enabled and only.children[2].action is None  # the last one
    assert not _find(_view(Settings(profile="driver")), "Where you can exercise").visible


# ---- German ----


def test_every_exercise_text_is_translated_to_german() -> None:
    i18n.install(["de"])
    for exercise in LIBRARY:
        for side in ("left", "right") if exercise.per_side else (None,):
            english = exercise.texts_for(side, translate=False)  # type: ignore[arg-type]
            german = exercise.texts_for(side)  # type: ignore[arg-type]
            pairs = [(english.title, german.title), (english.prompt, german.prompt),
                     (english.caution, german.caution), (english.source, german.source),
                     (english.working, german.working), (english.dose, german.dose),
                     *zip(english.steps, german.steps, strict=True)]
            for en, de in pairs:
                if en is None:
                    continue
                assert de and (de != en or not re.search(r"[a-z]{3}", en)), (exercise.id, en)
            body = german.body()
            assert len(body) <= 200, (exercise.id, side, len(body), body)
            if side is not None:
                word = "link" if side == "left" else "recht"
                assert word in german.prompt.lower(), (exercise.id, side, german.prompt)


def test_the_german_prompt_speech_and_page_read_german() -> None:
    i18n.install(["de"])
    kneel = LIBRARY.get("half_kneeling_hip_flexor")
    assert kneel is not None
    sink, speech = RecordingNotifications(), RecordingSpeech()
    p = Presenter(sink, speech, [kneel], None, picture_path, random.Random(0))
    settings = Settings(voice=True, places=("floor",))
    p.show_prompt(ShowPrompt(1, "stretch"), SittingEngine(settings).status(), settings)
    (shown,) = sink.shown
    assert shown.title == "Zeit zum Dehnen: Hüftbeuger-Dehnung im Halbknien"
    assert shown.body == (
        "30 s halten, 2-mal je Seite. Linkes Knie auf ein Kissen, rechter Fuß nach vorn. "
        "Steißbein einrollen und nach vorn schieben, bis sich die Vorderseite deiner linken "
        "Hüfte dehnt.")
    (said,) = speech.said
    assert said.startswith("Zeit zum Dehnen: Hüftbeuger-Dehnung im Halbknien. "
                           "30 Sekunden halten, 2-mal je Seite. Linkes Knie")
    page = parse(render_exercise_page(kneel, "right", None))
    text = page.all_text()
    assert '<html lang="de">' in render_exercise_page(kneel, "right", None)
    for german in ("Schritte", "Vorsicht:", "rechtes Knie unten, der linke Fuß flach vorn",
                   "Fang mit deiner rechten Seite an: dein rechtes Bein, das Knie auf dem Kissen",
                   "Es ist im Bild orange.", "30 s halten, 2-mal je Seite",
                   "psoas-break exercises hide half_kneeling_hip_flexor"):
        assert german in text, german
    for english in ("Steps", "Caution", "Kneel on", "Start on your", "knee down"):
        assert english not in text, english
    timer = next(a for t, a in page.tags if a.get("id") == "timer")
    assert timer["data-first"] == "Rechte Seite" and timer["data-done"] == "Fertig. Gut bewegt."


def test_german_driving_notice_reads_german_but_is_checked_in_english() -> None:
    from psoas_break.core.driving_prompts import choose_driving_notice, is_safe_while_driving
    from psoas_break.core.exercise_selection import SelectionHistory

    i18n.install(["de"])
    notice, _history = choose_driving_notice(LIBRARY, SelectionHistory(), random.Random(2))
    assert is_safe_while_driving(notice.speech)  # English for the check
    assert "Hands on the wheel, eyes on the road:" in notice.body
    sink, speech = RecordingNotifications(), RecordingSpeech()
    presenter = Presenter(sink, speech)
    presenter.announce_driving(notice, True)  # moving: said only
    assert sink.shown == []
    assert speech.said[0].startswith("Haltungscheck. Etwa ")  # the dose first, in words
    assert "Sekunden. Hände am Lenkrad, Augen auf der Straße:" in speech.said[0]
    presenter.announce_driving(notice, False)  # standing still: on the screen as well
    assert "Hände am Lenkrad, Augen auf der Straße:" in sink.shown[0].body


def test_a_prompts_note_always_shows_after_the_dose_within_200_characters() -> None:
    """A gentle or repeated prompt says why it came (the note), even after the longest body."""
    settings = Settings(places=("seated", "standing", "floor"))
    status = SittingEngine(settings).status()
    note = "When you have a moment, stand up and stretch."
    p, sink, _speech = presenter()
    for i in range(80):
        p.show_prompt(ShowPrompt(i + 1, "stretch", 0, True, note), status, settings)
        body = sink.shown[-1].body
        assert len(body) <= 200, body
        assert body.endswith(note), body
        sel = p.last_selection
        assert sel is not None
        assert body.startswith(f"{sel.exercise.dose_text()}. "), body  # the dose first
