"""The settings model: typed, frozen, with a range for every key and one-line error messages.

Pure: it validates mappings (as parsed from TOML by the store adapter) and CLI strings. It never
touches files. Defaults are chosen from the evidence in shared/health-content.md; README explains.

Layering (see `layer_settings`): built-in defaults <- site defaults (managed desktops) <- user
file, except that keys the site file lists in `locked` keep the site value.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from psoas_break.core.errors import InputError
from psoas_break.core.exercise_selection import (
    DEFAULT_PLACES,
    parse_hidden_text,
    parse_places_text,
    validate_hidden,
    validate_places,
)
from psoas_break.core.plain_text import one_line, show_value
from psoas_break.core.quiet_gate import (
    QUIET_KINDS,
    parse_quiet_apps_text,
    parse_quiet_when_text,
    validate_max_defer_min,
    validate_quiet_apps,
    validate_quiet_when,
)
from psoas_break.core.working_hours import (
    WorkingHours,
    parse_working_hours_text,
    validate_working_hours,
)

SCHEMA_VERSION = 1


@dataclass(frozen=True)
class Settings:
    """Every user setting. Units are in the names; all intervals are minutes of sitting."""

    profile: str = "desk"
    stretch_every_min: int = 30
    break_min: int = 2
    posture_every_min: int = 20
    snooze_min: int = 5
    natural_break_min: int = 5
    voice: bool = False
    max_snoozes: int = 3
    short_away: str = "count"
    driver_rules: str = "eu"
    driving_detect: str = "auto"
    gps_device: str = ""
    working_hours: WorkingHours = WorkingHours()
    quiet_apps: tuple[str, ...] = ()
    max_defer_min: int = 60
    history_keep_days: int = 0
    places: tuple[str, ...] = DEFAULT_PLACES
    hidden_exercises: tuple[str, ...] = ()
    quiet_when: tuple[str, ...] = QUIET_KINDS

    def with_value(self, key: str, value: Any) -> Settings:
        """A copy with one key changed (value already validated)."""
        return dataclasses.replace(self, **{key: value})

    def as_dict(self) -> dict[str, Any]:
        """Every key with its value as it is written to TOML."""
        return {key: to_raw(key, getattr(self, key)) for key in SPECS}


@dataclass(frozen=True)
class KeySpec:
    """What a key allows. `choices` for text keys; `low`..`high` (and `zero_ok`) for ints."""

    key: str
    kind: type
    help: str
    low: int = 0
    high: int = 0
    zero_ok: bool = False
    choices: tuple[str, ...] = ()
    # Structured keys (tables, lists) validate, parse CLI text and write TOML through these.
    validator: Callable[[object], Any] | None = None
    text_parser: Callable[[str, Any], Any] | None = None
    writer: Callable[[Any], Any] | None = None
    allowed_text: str = ""

    def allowed(self) -> str:
        """Human text for what this key allows, used in every error line."""
        if self.allowed_text:
            return self.allowed_text
        if self.kind is bool:
            return "true or false"
        if self.kind is str:
            return "one of " + ", ".join(f'"{c}"' for c in self.choices)
        text = f"a whole number from {self.low} to {self.high}"
        return text + (" (0 = off)" if self.zero_ok else "")


def validate_device(raw: object) -> str:
    """A serial device path for `gps_device` ("" for none); ValueError (one line) otherwise."""
    if (isinstance(raw, str) and len(raw) <= 200 and raw == raw.strip()
            and raw.isprintable()):
        return raw
    raise ValueError(f"gps_device = {show_value(raw)} is not allowed: use \"\" or a device "
                     "path of at most 200 printable characters, e.g. \"/dev/ttyUSB0\"")


SPECS: dict[str, KeySpec] = {
    spec.key: spec
    for spec in (
        KeySpec("profile", str, "desk: keyboard idle counts as a break; driver: it never does",
                choices=("desk", "driver")),
        KeySpec("stretch_every_min", int, "minutes of sitting before a stretch break", 10, 180),
        KeySpec("break_min", int, "length of a stretch break in minutes", 1, 30),
        KeySpec("posture_every_min", int, "minutes of sitting between posture prompts", 5, 120,
                zero_ok=True),
        KeySpec("snooze_min", int, "minutes a snooze postpones the stretch prompt", 1, 60),
        KeySpec("natural_break_min", int,
                "minutes away (idle, locked, asleep) that count as a break by themselves", 2, 60),
        KeySpec("voice", bool, "speak prompts aloud as well as showing them"),
        KeySpec("max_snoozes", int, "snoozes in a row before the prompt stops offering it", 0, 10),
        KeySpec("short_away", str,
                "what a lock or sleep shorter than a natural break does to sitting time",
                choices=("count", "pause")),
        KeySpec("driver_rules", str,
                "break planning in the driver profile (an aid, not a tachograph)",
                choices=("eu", "us", "off")),
        KeySpec("driving_detect", str,
                "driver profile: auto = a GPS source when there is one; gps = tell me when "
                "there is none; manual = only the menu says when you stop",
                choices=("auto", "gps", "manual")),
        KeySpec("gps_device", str,
                "a serial GPS receiver to read when there is no gpsd, e.g. /dev/ttyUSB0 or COM3 "
                '("" = one that names itself a GPS)',
                validator=validate_device, text_parser=lambda text, _current: validate_device(text),
                allowed_text='"" or a device path of at most 200 characters, e.g. "/dev/ttyUSB0"'),
        KeySpec("working_hours", WorkingHours,
                "outside these hours the app is quietly paused",
                validator=validate_working_hours,
                text_parser=lambda text, current: parse_working_hours_text(text, current),
                writer=lambda value: value.to_config(),
                allowed_text='"always", "weekdays_9_17", or a table of days like '
                             'mon = ["09:00-12:30", "13:30-17:30"]'),
        KeySpec("quiet_apps", tuple,
                "programs whose running means do not disturb (e.g. zoom, obs)",
                validator=validate_quiet_apps,
                text_parser=lambda text, _current: parse_quiet_apps_text(text),
                writer=list,
                allowed_text="a list of program names, e.g. [\"zoom\", \"obs\"]"),
        KeySpec("history_keep_days", int,
                "days of history to keep; older days are deleted (0 = keep everything)",
                30, 3650, zero_ok=True),
        KeySpec("max_defer_min", int,
                "minutes a prompt may wait during fullscreen, calls or do-not-disturb", 5, 240,
                zero_ok=True, validator=validate_max_defer_min),
        KeySpec("places", tuple,
                "where you can exercise at your desk or at home (floor: somewhere to lie down)",
                validator=validate_places,
                text_parser=lambda text, _current: parse_places_text(text),
                writer=list,
                allowed_text='a list of one or more of "seated", "standing", "floor"'),
        KeySpec("hidden_exercises", tuple,
                "exercises never to show again (psoas-break exercises hide/unhide ID)",
                validator=validate_hidden,
                text_parser=lambda text, _current: parse_hidden_text(text),
                writer=list,
                allowed_text="a list of exercise ids from `psoas-break exercises`"),
        KeySpec("quiet_when", tuple,
                "what holds prompts back: camera, microphone (a call), screen-sharing, "
                "fullscreen, do-not-disturb",
                validator=validate_quiet_when,
                text_parser=lambda text, _current: parse_quiet_when_text(text),
                writer=list,
                allowed_text="a list of any of " + ", ".join(f'"{k}"' for k in QUIET_KINDS)
                             + ' ([] or "none": none of them)'),
    )
}


def to_raw(key: str, value: Any) -> Any:
    """`value` of `key` as written to TOML."""
    spec = SPECS[key]
    return spec.writer(value) if spec.writer is not None else value


def describe(value: Any) -> str:
    """A value as a person reads it (CLI output, error lines)."""
    text = getattr(value, "describe", None)
    if callable(text):
        return str(text())
    if isinstance(value, tuple):
        return ", ".join(str(v) for v in value) or "(none)"
    return show_value(value)

# Keys that are part of the file but not settings.
META_KEYS = frozenset({"schema_version", "locked"})


#: A value a key does not allow; str() is the one line shown to the user (see ports.py).
SettingError = InputError


def _key(key: object) -> str:
    """A key name someone typed or a file holds, quoted, one line, shortened."""
    return one_line(repr(key), 60)


def validate_value(key: str, raw: object) -> Any:
    """The validated value for `key`; SettingError names the key, the value and what's allowed."""
    spec = SPECS.get(key)
    if spec is None:
        raise SettingError(f"unknown setting {_key(key)}; known settings: {', '.join(SPECS)}")
    if spec.validator is not None:
        if isinstance(raw, spec.kind) and not isinstance(raw, (str, int)):
            return raw  # already validated (a WorkingHours, a tuple of names)
        try:
            return spec.validator(raw)
        except ValueError as exc:
            raise SettingError(str(exc)) from None
    if spec.kind is bool:
        if isinstance(raw, bool):
            return raw
    elif spec.kind is int:
        if (
            isinstance(raw, int)
            and not isinstance(raw, bool)
            and ((spec.zero_ok and raw == 0) or spec.low <= raw <= spec.high)
        ):
            return raw
    elif spec.kind is str and isinstance(raw, str) and raw in spec.choices:
        return raw
    raise SettingError(f"{key} = {show_value(raw)} is not allowed: use {spec.allowed()}")


def parse_cli_value(key: str, text: str, current: Any = None) -> Any:
    """Parse the text a user typed for `key` (CLI `config set`) and validate it."""
    spec = SPECS.get(key)
    if spec is None:
        raise SettingError(f"unknown setting {_key(key)}; known settings: {', '.join(SPECS)}")
    if spec.text_parser is not None:
        try:
            return spec.text_parser(text, current)
        except ValueError as exc:
            raise SettingError(str(exc)) from None
    raw: object = text
    if spec.kind is bool:
        lowered = text.strip().lower()
        truthy = {"true": True, "on": True, "yes": True, "1": True}
        falsy = {"false": False, "off": False, "no": False, "0": False}
        raw = truthy.get(lowered, falsy.get(lowered, text))
    elif spec.kind is int:
        try:
            raw = int(text.strip())
        except ValueError:
            raw = text
    return validate_value(key, raw)


@dataclass(frozen=True)
class LoadResult:
    """Settings built from a mapping, plus what was wrong with it.

    problems: one line per bad value (that key fell back); unknown: keys kept but not understood.
    """

    settings: Settings
    problems: tuple[str, ...] = ()
    unknown: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    locked: frozenset[str] = frozenset()

    def summary(self) -> str | None:
        """One bounded line for a notice: the first problem, and how many more (or None)."""
        if not self.problems:
            return None
        first = one_line(self.problems[0], 200)
        more = len(self.problems) - 1
        return f"{first} (and {more} more: see `psoas-break config show`)" if more else first


def settings_from_mapping(data: Mapping[str, Any], base: Settings | None = None) -> LoadResult:
    """Apply every valid key of `data` over `base`; bad keys fall back to base's value."""
    settings = base or Settings()
    problems: list[str] = []
    unknown: dict[str, Any] = {}
    for key, raw in data.items():
        if key in META_KEYS:
            continue
        if key not in SPECS:
            unknown[key] = raw
            continue
        try:
            settings = settings.with_value(key, validate_value(key, raw))
        except SettingError as exc:
            fallback = describe(getattr(settings, key))
            problems.append(f"{exc}; using {fallback}")
    version = data.get("schema_version", SCHEMA_VERSION)
    if not isinstance(version, int) or isinstance(version, bool) or version > SCHEMA_VERSION:
        problems.append(
            f"schema_version = {show_value(version)} is not one this version understands "
            f"(1 to {SCHEMA_VERSION}); reading the keys it knows"
        )
    return LoadResult(settings, tuple(problems), unknown)


def locked_keys(site: Mapping[str, Any]) -> tuple[frozenset[str], tuple[str, ...]]:
    """The keys a site file locks, and one line per entry of `locked` that is not a setting."""
    raw = site.get("locked", [])
    if not isinstance(raw, list) or not all(isinstance(k, str) for k in raw):
        return frozenset(), (
            f"locked = {show_value(raw)} is not allowed: use a list of setting names",)
    bad = tuple(
        f"locked names {_key(k)}, which is not a setting; known settings: {', '.join(SPECS)}"
        for k in raw
        if k not in SPECS
    )
    return frozenset(k for k in raw if k in SPECS), bad


def layer_settings(site: Mapping[str, Any], user: Mapping[str, Any]) -> LoadResult:
    """Defaults <- site <- user, with site-locked keys kept at the site's value."""
    site_result = settings_from_mapping(site)
    locked, lock_problems = locked_keys(site)
    user_result = settings_from_mapping(user, base=site_result.settings)
    settings = user_result.settings
    problems = [f"site defaults: {p}" for p in (*site_result.problems, *lock_problems)]
    problems.extend(user_result.problems)
    for key in sorted(locked):
        if key in user and getattr(settings, key) != getattr(site_result.settings, key):
            problems.append(f"{key} is locked by your administrator; keeping the site value")
        settings = settings.with_value(key, getattr(site_result.settings, key))
    for key in site_result.unknown:
        problems.append(f"site defaults: unknown setting {_key(key)} ignored")
    return LoadResult(settings, tuple(problems), user_result.unknown, locked)
