"""Translations: the catalog files agree with the source, German is complete, and the running
app shows its tray menu in German when the locale asks for it (read over D-Bus like a panel).
"""

from __future__ import annotations

import ast
import gettext
import os
import re
import shutil
import string
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import pytest

from psoas_break.core import i18n
from psoas_break.core.commands import Snooze
from psoas_break.core.events import ShowNotice
from psoas_break.core.settings import Settings
from psoas_break.core.tray_view import MenuEntry, TrayFacts, build_view
from psoas_break.ports import Notification
from psoas_break.runtime.presenter import Presenter
from tests.engine_driver import BERLIN, Driver

REPO = Path(__file__).resolve().parent.parent
LOCALE = REPO / "psoas_break" / "locale"
POT = LOCALE / "psoas-break.pot"
DE_PO = LOCALE / "de" / "LC_MESSAGES" / "psoas-break.po"
DE_MO = LOCALE / "de" / "LC_MESSAGES" / "psoas-break.mo"


@pytest.fixture(autouse=True)
def english_after() -> Iterator[None]:
    """Every test leaves the process in English, whatever it installed."""
    yield
    i18n.reset()


# ---- a small .po reader (the format is simple; no third-party package needed) ----


@dataclass
class Entry:
    msgid: str = ""
    msgid_plural: str | None = None
    msgstr: list[str] = field(default_factory=list)
    flags: set[str] = field(default_factory=set)


def parse_po(path: Path) -> list[Entry]:
    """Entries of a .po/.pot file, header included (msgid ""); obsolete (#~) ones skipped."""
    entries: list[Entry] = []
    cur: Entry | None = None
    key: str | None = None
    for raw in path.read_text(encoding="utf-8").splitlines() + [""]:
        line = raw.strip()
        if not line or line.startswith("#~"):
            if cur is not None and key is not None:
                entries.append(cur)
            cur, key = None, None
            continue
        if line.startswith("#"):
            cur = cur or Entry()
            if line.startswith("#,"):
                cur.flags |= {f.strip() for f in line[2:].split(",")}
            continue
        if line.startswith('"'):
            assert cur is not None and key is not None, f"{path}: stray line {raw!r}"
            value = ast.literal_eval(line)
            if key == "msgid":
                cur.msgid += value
            elif key == "msgid_plural":
                cur.msgid_plural = (cur.msgid_plural or "") + value
            else:
                cur.msgstr[-1] += value
            continue
        word, _sep, rest = line.partition(" ")
        value = ast.literal_eval(rest)
        cur = cur or Entry()
        if word == "msgid":
            cur.msgid, key = value, "msgid"
        elif word == "msgid_plural":
            cur.msgid_plural, key = value, "msgid_plural"
        elif word.startswith("msgstr"):
            cur.msgstr.append(value)
            key = "msgstr"
        else:
            raise AssertionError(f"{path}: unexpected line {raw!r}")
    return entries


def messages(path: Path) -> dict[tuple[str, str | None], Entry]:
    return {(e.msgid, e.msgid_plural): e for e in parse_po(path) if e.msgid}


def fields(text: str) -> list[tuple[str, str]]:
    """The {name:spec} placeholders of a str.format template, sorted."""
    return sorted((name, spec or "") for _lit, name, spec, _conv in string.Formatter().parse(text)
                  if name is not None)


# ---- the files ----


def test_pot_is_up_to_date_with_the_source(tmp_path: Path) -> None:
    """`make pot` run now extracts exactly the messages of the committed template."""
    if shutil.which("xgettext") is None or shutil.which("make") is None:
        pytest.skip("xgettext (Debian package gettext) is not installed")
    fresh = tmp_path / "fresh.pot"
    # PO_FILES= : extract only; do not merge into the committed .po files.
    subprocess.run(["make", "-s", "-C", str(REPO), "pot", f"POT={fresh}", "PO_FILES="],
                   check=True, capture_output=True, timeout=60)
    assert set(messages(fresh)) == set(messages(POT)), "run `make pot` and translate"


def test_german_translates_every_message_with_the_same_placeholders() -> None:
    template = messages(POT)
    german = messages(DE_PO)
    assert len(template) > 200
    assert set(german) == set(template), "run `make pot` (msgmerge) and translate"
    for key, entry in german.items():
        assert "fuzzy" not in entry.flags, key
        assert entry.msgstr and all(s.strip() for s in entry.msgstr), f"untranslated: {key}"
        forms = [entry.msgid] if entry.msgid_plural is None else [entry.msgid_plural]
        for text in entry.msgstr:
            assert fields(text) == fields(forms[0]), (key, text)
        if entry.msgid_plural is not None:
            assert len(entry.msgstr) == 2, key  # German: nplurals=2
            assert fields(entry.msgid) == fields(entry.msgid_plural), key


def test_committed_mo_holds_exactly_the_po() -> None:
    """The .mo `make run` uses (no gettext tools needed) is the compiled .po, not a stale one."""
    with DE_MO.open("rb") as fh:
        catalog = gettext.GNUTranslations(fh)
    assert catalog.info()["language"] == "de"
    for (msgid, plural), entry in messages(DE_PO).items():
        if plural is None:
            assert catalog.gettext(msgid) == entry.msgstr[0], msgid
        else:
            assert catalog.ngettext(msgid, plural, 1) == entry.msgstr[0], msgid
            assert catalog.ngettext(msgid, plural, 5) == entry.msgstr[1], msgid
    compiled = {k for k in catalog._catalog if k != ""}  # type: ignore[attr-defined]
    expected: set[object] = set()
    for msgid, plural in messages(DE_PO):
        expected |= {msgid} if plural is None else {(msgid, 0), (msgid, 1)}
    assert compiled == expected


def test_msgfmt_accepts_the_po_with_format_checks(tmp_path: Path) -> None:
    if shutil.which("msgfmt") is None:
        pytest.skip("msgfmt (Debian package gettext) is not installed")
    out = subprocess.run(
        ["msgfmt", "--check", "--statistics", "-o", str(tmp_path / "x.mo"), str(DE_PO)],
        capture_output=True, text=True, check=False, timeout=60,
    )
    assert out.returncode == 0, out.stderr
    assert "fuzzy" not in out.stderr and "untranslated" not in out.stderr, out.stderr


# German forms of the banned claim words of shared/health-content.md (the English list is in
# core.exercises.banned_words): heal, cure, treat(ment), therapy, relieve/relief, remedy,
# detox, supplement, trauma, emotional release.
_GERMAN_CLAIMS = re.compile(
    r"heil|kurier|behandl|therap|linder|heilmittel|entgift|nahrungserg|trauma|"
    r"emotion\w*\s+(?:los|frei)", re.IGNORECASE)


def test_german_makes_no_health_claims() -> None:
    for key, entry in messages(DE_PO).items():
        for text in entry.msgstr:
            assert not _GERMAN_CLAIMS.search(text), (key, text)


# ---- choosing the language ----


def _probe(env_extra: dict[str, str]) -> str:
    env = {k: v for k, v in os.environ.items()
           if k not in ("LANGUAGE", "LC_ALL", "LC_MESSAGES", "LANG")}
    env.update(env_extra)
    code = ("from psoas_break.core import i18n; from psoas_break.core.tray_view import "
            "status_text; print(i18n.install(), i18n._('Take a break now'))")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                         text=True, check=True, timeout=60, cwd=REPO)
    return out.stdout.strip()


@pytest.mark.parametrize(("env", "expected"), [
    ({"LANGUAGE": "de"}, "de Jetzt Pause machen"),
    ({"LANG": "de_DE.UTF-8"}, "de Jetzt Pause machen"),
    ({"LC_ALL": "de_AT.UTF-8", "LANG": "en_GB.UTF-8"}, "de Jetzt Pause machen"),
    ({"LANGUAGE": "fr:de", "LANG": "fr_FR.UTF-8"}, "de Jetzt Pause machen"),  # first found
    ({"LANG": "C.UTF-8"}, "en Take a break now"),
    ({"LANG": "fr_FR.UTF-8"}, "en Take a break now"),  # no French catalog: English
    ({}, "en Take a break now"),
])
def test_language_comes_from_the_locale(env: dict[str, str], expected: str) -> None:
    assert _probe(env) == expected


def test_core_is_english_without_install() -> None:
    """Nothing is translated until the app installs a language, whatever the environment."""
    env = dict(os.environ, LANGUAGE="de", LANG="de_DE.UTF-8")
    code = ("from psoas_break.core import i18n; print(i18n.language(), "
            "i18n._('Take a break now'))")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                         text=True, check=True, timeout=60, cwd=REPO)
    assert out.stdout.strip() == "en Take a break now"


def test_a_translation_with_wrong_placeholders_falls_back_to_english(tmp_path: Path) -> None:
    if shutil.which("msgfmt") is None:
        pytest.skip("msgfmt (Debian package gettext) is not installed")
    po = tmp_path / "bad.po"
    po.write_text(
        'msgid ""\nmsgstr "Content-Type: text/plain; charset=UTF-8\\nLanguage: xx\\n"\n\n'
        'msgid "Sitting {minutes} min"\nmsgstr "Sitzzeit {minuten} Min."\n',
        encoding="utf-8")
    target = tmp_path / "xx" / "LC_MESSAGES"
    target.mkdir(parents=True)
    # No --check: msgfmt itself would refuse this file, which is what the .po tests ensure.
    subprocess.run(["msgfmt", "-o", str(target / "psoas-break.mo"), str(po)], check=True)
    assert i18n.install(["xx"], localedir=tmp_path) == "xx"
    assert i18n._("Sitting {minutes} min", minutes=5) == "Sitting 5 min"
    assert i18n.install(["de"]) == "de"
    assert i18n._("Sitting {minutes} min", minutes=5) == "Sitzzeit 5 Min."


# ---- what the user sees ----


def _labels(entries: tuple[MenuEntry, ...]) -> list[str]:
    out: list[str] = []
    for e in entries:
        if e.label != "-":
            out.append(e.label)
        out.extend(_labels(e.children))
    return out


def _views() -> tuple[object, object]:
    d = Driver(start=datetime(2026, 5, 4, 9, 0, tzinfo=BERLIN))
    d.sit(12)
    facts = TrayFacts(autostart_enabled=True, can_show_week=True, can_show_stretch=True)
    english = build_view(d.status, Settings(profile="driver"), d.wall, facts)
    i18n.install(["de"])
    german = build_view(d.status, Settings(profile="driver"), d.wall, facts)
    return english, german


def test_tray_view_in_german() -> None:
    english, german = _views()
    assert german.title == "Sitzzeit 12 Min. · Haltungscheck in 8 Min."  # type: ignore[attr-defined]
    top = [e.label for e in german.menu  # type: ignore[attr-defined]
           if e.label != "-" and e.visible]
    assert top[1:] == [
        "Angehalten — Pause machen", "Später erinnern", "Diese Pause überspringen",
        "Pausieren", "Diese Dehnübung zeigen", "Heute", "Diese Woche", "Einstellungen",
        "Bei der Anmeldung starten", "Über psoas-break", "Beenden",
    ]
    # Every line with words in it changed language (nothing left in English by accident).
    pairs = list(zip(_labels(english.menu), _labels(german.menu), strict=True))  # type: ignore[attr-defined]
    assert len(pairs) > 50
    for en, de in pairs:
        if re.search(r"[A-Za-z]{2}", en):
            assert en != de, en


def test_quiet_title_weekday_and_working_hours_in_german() -> None:
    from psoas_break.core.quiet_gate import quiet_title
    from psoas_break.core.working_hours import WorkingHours, resume_label

    i18n.install(["de"])
    assert quiet_title(["fullscreen", "camera", "app:zoom"]) == (
        "Ruhe: Vollbild, Kamera aktiv, zoom läuft")
    monday = datetime(2026, 5, 4, 18, 0, tzinfo=BERLIN)
    assert resume_label(monday, datetime(2026, 5, 5, 9, 0, tzinfo=BERLIN)) == "morgen 09:00"
    assert resume_label(monday, datetime(2026, 5, 7, 9, 0, tzinfo=BERLIN)) == "Do 09:00"
    assert WorkingHours("weekdays_9_17", None).label == "Werktags 9–17"


@dataclass
class RecordingSink:
    """The presenter's notification port, recording what it would show."""

    shown: list[Notification] = field(default_factory=list)

    def submit(self, notification: Notification) -> None:
        self.shown.append(notification)

    def close(self, tag: str) -> None:
        return None


def test_engine_notices_stay_english_for_the_driving_check_and_show_in_german() -> None:
    """The driving-safety check reads English words; a German notice must not slip past it."""
    i18n.install(["de"])
    d = Driver(settings=Settings(max_snoozes=1, stretch_every_min=10))
    d.sit(10)
    d.cmd(Snooze())
    d.sit(5)
    effects = d.cmd(Snooze())
    notice = next(e for e in effects if isinstance(e, ShowNotice))
    assert notice.text == "Snoozed 1 times in a row already: take the break or skip it."

    sink = RecordingSink()
    presenter = Presenter(sink)
    presenter.show_notice(notice.text, driving=True)  # asks for a click: never while driving
    assert sink.shown == []
    presenter.show_notice(notice.text, driving=False)
    assert [n.body for n in sink.shown] == [
        "Schon 1-mal hintereinander verschoben: Mach die Pause oder überspring sie."]


def test_driving_planner_notice_is_localized_only_when_shown() -> None:
    from psoas_break.core.driving import BreakWarning, warning_text
    from psoas_break.core.driving_prompts import notice_from_planner

    i18n.install(["de"])
    effect = BreakWarning("p1:warn30", 30, text=warning_text(30, 45, False),
                          speech="Thirty minutes of driving left before your 45 minute break.")
    notice = notice_from_planner(effect)
    assert notice is not None and notice.body == (
        "30 min of driving left before your 45 min break.")
    sink = RecordingSink()
    Presenter(sink).announce_driving(notice, False)  # at a stop: shown
    assert sink.shown[0].body == "Noch 30 Min. Lenkzeit bis zu deiner Pause von 45 Min."


# ---- the running app, read over D-Bus ----


@pytest.fixture(scope="module")
def desk() -> Iterator[object]:
    from tests.desktop.session import DesktopSession, missing_tools

    if missing_tools():
        pytest.skip(f"missing {missing_tools()}")
    with DesktopSession() as d:
        d.start_sni_watcher()
        yield d


def _click(menu: object, *path: str) -> None:
    """pystray rebuilds the menu (new ids) after a change; an id gone meanwhile is retried,
    as in test_tray_app."""
    from tests.desktop.bus import DBusCallError

    for attempt in range(5):
        try:
            menu.click(*path)  # type: ignore[attr-defined]
            return
        except DBusCallError as exc:
            if "does not refer to a menu item" not in str(exc) or attempt == 4:
                raise
            time.sleep(0.2)


@pytest.mark.desktop
def test_running_app_shows_its_tray_menu_in_german(desk: object) -> None:
    from tests.app_harness import start_app

    # Real minutes: the labels below do not change while the test reads them.
    app = start_app(desk, extra_env={  # type: ignore[arg-type]
        "LANGUAGE": "de", "LANG": "de_DE.UTF-8", "PSOAS_SECONDS_PER_MINUTE": "60",
    })
    try:
        item = app.item()
        assert item.title == "Sitzzeit 0 Min. · Haltungscheck in 20 Min.", item.title
        menu = item.menu()
        root = menu.layout()
        top = [c.label for c in root.children if not c.is_separator and c.visible]
        assert top[0] == item.title
        assert top[1:] == [
            "Jetzt Pause machen", "Später erinnern", "Diese Pause überspringen", "Pausieren",
            "Heute", "Diese Woche", "Einstellungen", "Bei der Anmeldung starten",
            "Über psoas-break", "Beenden",
        ]
        pause = [c.label for c in menu.find("Pausieren").children]
        assert pause == ["30 Min.", "1 Std.", "2 Std.", "Bis morgen"]
        hours = [c.label for c in menu.find("Einstellungen", "Arbeitszeiten").children]
        assert hours == ["Immer", "Werktags 9–17", "Eigene (aus der Konfiguration)"]
        # A click on a German label works like the English one.
        _click(menu, "Jetzt Pause machen")
        app.wait_title("Pause · noch 2 Min.")
        assert not menu.find("Jetzt Pause machen").enabled
        # The command line follows the same locale.
        status = app.cli("status")
        assert status.returncode == 0, status.stderr
        assert status.stdout.startswith("psoas-break läuft"), status.stdout
    finally:
        app.stop()


@pytest.mark.desktop
def test_running_app_stays_english_in_an_english_locale(desk: object) -> None:
    from tests.app_harness import start_app

    app = start_app(desk, extra_env={  # type: ignore[arg-type]
        "LANGUAGE": "", "LANG": "en_US.UTF-8", "PSOAS_SECONDS_PER_MINUTE": "60",
    })
    try:
        item = app.item()
        assert item.title == "Sitting 0 min · posture check in 20 min", item.title
        labels = [c.label for c in item.menu().layout().children if not c.is_separator]
        assert "Take a break now" in labels and "Quit" in labels
    finally:
        app.stop()
