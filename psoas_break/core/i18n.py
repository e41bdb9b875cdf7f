"""Translations: every user-facing string goes through here (stdlib gettext, "psoas-break").

Contract:
- `_(msgid, **fields)` -> the text in the active language, `str.format`ted with `fields`.
  Placeholders are named (`{minutes}`), so a translation may reorder them.
- `N_(msgid, **fields)` -> a `Message`: a `str` whose value is the ENGLISH text, which also knows
  how to render itself in the active language (`localized(text)`). Use it for module-level
  constants (translated when shown, not at import) and for texts the program itself inspects
  before showing them: the driving-safety checks (`core.driving_prompts`) match English words,
  so engine notices and planner texts stay English for those checks and are localized only
  where they are displayed (the presenter). Tests comparing such a text with English still pass.
- `ngettext(singular, plural, n, **fields)` -> the plural form for `n` (`n` is also a field).
- `localized(text)` -> a `Message` in the active language; any other `str` unchanged.
- `catalog_text(text)` -> a text from data (the exercise library) looked up as it is.
- `install(languages)` picks the catalog once at start (None: from LANGUAGE, LC_ALL,
  LC_MESSAGES, LANG, the order gettext itself uses); no catalog found -> English. Nothing is
  translated before `install` is called, so the core works (in English) without it.
- Catalogs: `psoas_break/locale/<lang>/LC_MESSAGES/psoas-break.mo`, compiled from the `.po`
  next to it (`make pot`, `make mo`). A translation whose placeholders do not match its msgid
  falls back to the English text (logged), never an exception.

Why one module-level holder (the design guide asks for no module-level mutable state): the
language is a process-wide choice made once at start, exactly gettext's own model
(`gettext.install` even sets a builtin). The alternative, a translator parameter on every
function that makes a label (engine, planner, tray view, presenter, CLI), would thread one
constant value through dozens of signatures. The holder is replaced only by `install()` and
`reset()` (tests), as one reference swap, so a reading thread sees the old or the new catalog.
"""

from __future__ import annotations

import gettext
import logging
from collections.abc import Mapping, Sequence
from pathlib import Path

log = logging.getLogger(__name__)

DOMAIN = "psoas-break"
SOURCE_LANGUAGE = "en"
LOCALE_DIR = Path(__file__).resolve().parent.parent / "locale"


class Translator:
    """The active catalog and its language code; English (no catalog) until `install`. The
    module's `install`, `reset` and `language` are the methods of its one instance."""

    def __init__(self) -> None:
        self._active: tuple[gettext.NullTranslations, str] = (gettext.NullTranslations(),
                                                              SOURCE_LANGUAGE)

    def language(self) -> str:
        """The active language code ("de", ...), "en" when nothing is translated."""
        return self._active[1]

    def install(self, languages: Sequence[str] | None = None,
                localedir: Path | None = None) -> str:
        """Use the first catalog found for `languages` (None: from the environment) in this
        process; returns the language now active, "en" when no catalog matched or it could not
        be read (then logged, and the app carries on in English)."""
        where = str(localedir or LOCALE_DIR)
        wanted = list(languages) if languages is not None else None
        try:
            catalog = gettext.translation(DOMAIN, where, languages=wanted)
        except FileNotFoundError:
            self.reset()
            return SOURCE_LANGUAGE
        except (OSError, ValueError, UnicodeError):
            log.warning("cannot read the %s translation in %s", wanted or "locale's", where,
                        exc_info=True)
            self.reset()
            return SOURCE_LANGUAGE
        language = catalog.info().get("language", "") or SOURCE_LANGUAGE
        self._active = (catalog, language)
        return language

    def reset(self) -> None:
        """Back to English (tests)."""
        self._active = (gettext.NullTranslations(), SOURCE_LANGUAGE)

    def gettext(self, message: str) -> str:
        return self._active[0].gettext(message)

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        return self._active[0].ngettext(singular, plural, n)


_ACTIVE = Translator()
install = _ACTIVE.install
reset = _ACTIVE.reset
language = _ACTIVE.language


def _render(template: str, english: str, fields: Mapping[str, object], localize: bool) -> str:
    if not fields:
        return template
    values = {k: localized(v) if localize and isinstance(v, str) else v
              for k, v in fields.items()}
    try:
        return template.format(**values)
    except (KeyError, IndexError, ValueError, AttributeError):
        if template is english:
            raise  # a bug in the program's own English text: let the tests see it
        log.warning("translation %r does not fit its fields %s; using English", template,
                    sorted(fields))
        return english.format(**values)


def _(message: str, /, **fields: object) -> str:
    """`message` in the active language, formatted with `fields` (named placeholders)."""
    return _render(_ACTIVE.gettext(message), message, fields, localize=True)


def ngettext(singular: str, plural: str, n: int, /, **fields: object) -> str:
    """The singular or plural form for `n` in the active language; `{n}` is available."""
    english = singular if n == 1 else plural
    return _render(_ACTIVE.ngettext(singular, plural, n), english, {"n": n, **fields},
                   localize=True)


class Message(str):
    """English text (the `str` value: what checks, logs and tests see) that can render itself
    in the active language when shown (`localized`). Made by `N_`."""

    _msgid: str
    _fields: dict[str, object]

    def __new__(cls, msgid: str, /, **fields: object) -> Message:
        obj = super().__new__(cls, _render(msgid, msgid, fields, localize=False))
        obj._msgid = msgid
        obj._fields = fields
        return obj

    @property
    def msgid(self) -> str:
        return self._msgid

    def localized(self) -> str:
        """This text in the active language (English when nothing is installed)."""
        return _render(_ACTIVE.gettext(self._msgid), self._msgid, self._fields, localize=True)


def N_(message: str, /, **fields: object) -> Message:
    """Mark `message` for translation but keep it English until shown (see `Message`)."""
    return Message(message, **fields)


def catalog_text(text: str) -> str:
    """`text` looked up in the active catalog as it is, without formatting: for texts that come
    from data rather than from `_()` calls (the shipped exercise library; `make pot` extracts
    them from its TOML). English, or the text itself, when the catalog has no entry."""
    return _ACTIVE.gettext(text)


def localized(text: str) -> str:
    """A `Message` in the active language; any other text unchanged."""
    return text.localized() if isinstance(text, Message) else text


# Weekday abbreviations, Monday first (datetime.weekday() order). Not strftime("%a"): that
# follows the C library's locale, which GTK may or may not have set, not our catalog.
WEEKDAYS_SHORT = (N_("Mon"), N_("Tue"), N_("Wed"), N_("Thu"), N_("Fri"), N_("Sat"), N_("Sun"))


def weekday_short(weekday: int) -> str:
    """ "Mon".."Sun" (datetime.weekday() numbering) in the active language."""
    return localized(WEEKDAYS_SHORT[weekday])
