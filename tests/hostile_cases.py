"""Hypothesis strategies for hostile input, shared by tests/test_hostile_suite.py and
bench/hostile_input.py.

Settings files: valid TOML built from settings and unknown keys (nested tables and lists,
strings with control characters, markup and escapes, huge and tiny numbers, dates), then
possibly mutated the way files go wrong: a byte-order mark, Windows line ends, UTF-16, a
duplicated line, a typo, a cut, stray bytes, deep nesting, a number of more than 4,300 digits,
dotted keys thousands deep. Each case carries its class name, for the counts.

CLI arguments: every subcommand with values from the same hostile alphabet.
History cells: any SQLite value (text, blob, NULL, huge and non-finite numbers) for any column.
"""

from __future__ import annotations

import math
import string
import sys
from dataclasses import dataclass
from datetime import date, datetime, time, timezone
from typing import Any

import tomli_w
from hypothesis import strategies as st

from psoas_break.core.settings import SPECS

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib


@dataclass(frozen=True)
class SettingsCase:
    """One settings file: its bytes, its class, and the mapping it means (None: not TOML)."""

    kind: str
    data: bytes
    meaning: dict[str, Any] | None

    def __repr__(self) -> str:  # hypothesis prints failing cases: keep them readable
        head = self.data[:160]
        return f"SettingsCase({self.kind!r}, {len(self.data)} bytes, {head!r}...)"


# Text people and programs put where they should not: terminal escapes, bidi overrides, markup,
# formula starts, path tricks, quotes, every control character.
NASTY = [
    "\x1b[2J\x1b]0;pwned\x07", "\u202etxt.exe", "<b>x</b>&amp;", "=HYPERLINK(\"http://x\")",
    "@SUM(1)", "+1", "-1+2", "\t", "\r", "\n", "../../etc/passwd", "%s%n%x", "{key}", "\\",
    "'\"", "\x00", "\ufeff", "\u2028", "x" * 300, "日本語", "🙂",
]
_ALPHABET = st.characters(codec="utf-8", exclude_categories=("Cs",))
hostile_text = st.one_of(
    st.sampled_from(NASTY),
    st.text(_ALPHABET, max_size=40),
    st.text(st.sampled_from(string.printable + "\x00\x07\x1b\x7f\u0085\u2028\u202e"),
            max_size=80),
    st.builds(lambda s, n: s * n, st.sampled_from(["x", "é", "\n"]), st.integers(1, 5000)),
)
hostile_key = st.one_of(
    st.sampled_from(list(SPECS)),
    st.sampled_from(["schema_version", "locked", "", " ", "a.b", "working_hours.mon"]),
    hostile_text.filter(lambda s: len(s) < 200),
)

_scalars = st.one_of(
    hostile_text,
    st.booleans(),
    st.integers(),
    st.integers(min_value=-(2**80), max_value=2**80),
    st.floats(allow_nan=True, allow_infinity=True),
    st.dates(min_value=date(1, 1, 1), max_value=date(9999, 12, 31)),
    st.datetimes(timezones=st.sampled_from([timezone.utc, None])),
    st.times(),
)


def _values(depth: int = 4) -> st.SearchStrategy[Any]:
    return st.recursive(
        _scalars,
        lambda inner: st.one_of(
            st.lists(inner, max_size=6),
            st.dictionaries(hostile_key, inner, max_size=5),
        ),
        max_leaves=20,
    )


# Values that are often right for a known key, so that later keys are reached and applied.
_plausible = {
    "profile": st.sampled_from(["desk", "driver", "bus", ""]),
    "stretch_every_min": st.integers(-5, 400),
    "break_min": st.integers(-5, 40),
    "posture_every_min": st.integers(-5, 200),
    "voice": st.one_of(st.booleans(), st.sampled_from(["yes", 1])),
    "working_hours": st.one_of(
        st.sampled_from(["always", "weekdays_9_17", "custom", "never"]),
        st.dictionaries(st.sampled_from(["mon", "tue", "sun", "preset", "xyz"]),
                        st.lists(st.sampled_from(["09:00-12:00", "13:00-17:00", "25:00-26:00",
                                                  "12:00-09:00", "09:00-09:01", "x"]),
                                 max_size=6), max_size=4),
    ),
    "quiet_apps": st.lists(hostile_text, max_size=5),
    "history_keep_days": st.integers(-1, 5000),
}


@st.composite
def settings_mapping(draw: st.DrawFn) -> dict[str, Any]:
    mapping: dict[str, Any] = {}
    for key in draw(st.lists(st.sampled_from(list(SPECS)), max_size=6, unique=True)):
        strategy = _plausible.get(key, _values())
        mapping[key] = draw(st.one_of(strategy, _values()))
    mapping.update(draw(st.dictionaries(hostile_key, _values(), max_size=4)))
    return mapping


def _dump(mapping: dict[str, Any]) -> str | None:
    try:
        return tomli_w.dumps(mapping)
    except (ValueError, TypeError, RecursionError):
        return None


MUTATIONS = (
    "none", "bom", "crlf", "utf16", "duplicate", "typo", "cut", "stray_bytes", "deep_array",
    "deep_table", "deep_dotted", "huge_int", "huge_hex", "nul",
)


@st.composite
def settings_case(draw: st.DrawFn, mutation: str | None = None) -> SettingsCase:
    """A settings file a hostile user, a broken editor or a bad disk could leave; `mutation`
    (one of MUTATIONS) picks the class, else it is drawn too."""
    mapping = draw(settings_mapping())
    text = _dump(mapping)
    if text is None:
        mapping, text = {}, ""
    if mutation is None:
        mutation = draw(st.sampled_from(MUTATIONS))
    lines = text.splitlines(keepends=True)
    data = text.encode("utf-8")
    if mutation == "bom":
        data = b"\xef\xbb\xbf" + data
    elif mutation == "crlf":
        data = text.replace("\n", "\r\n").encode("utf-8")
    elif mutation == "utf16":
        data = text.encode("utf-16")
    elif mutation == "duplicate" and lines:
        line = draw(st.sampled_from(lines))
        data = (text + line).encode("utf-8")
    elif mutation == "typo" and text:
        at = draw(st.integers(0, len(text) - 1))
        data = (text[:at] + draw(st.sampled_from(["=", "[", "\"", "]]", "\\"])) +
                text[at:]).encode("utf-8")
    elif mutation == "cut" and data:
        data = data[: draw(st.integers(0, len(data)))]
    elif mutation == "stray_bytes":
        junk = draw(st.binary(min_size=1, max_size=8))
        at = draw(st.integers(0, len(data)))
        data = data[:at] + junk + data[at:]
    elif mutation == "deep_array":
        depth = draw(st.sampled_from([20, 40, 400, 600]))
        data += f"\ndeep = {'[' * depth}{']' * depth}\n".encode()
    elif mutation == "deep_table":
        depth = draw(st.sampled_from([20, 40, 400, 600]))
        data += f"\ndeep = {'{a = ' * depth}1{'}' * depth}\n".encode()
    elif mutation == "deep_dotted":
        depth = draw(st.sampled_from([30, 40, 2000]))
        data = f"{'.'.join(['q'] * depth)} = 1\n".encode() + data
    elif mutation == "huge_int":
        data = f"zz = {'9' * draw(st.sampled_from([4300, 4301, 6000]))}\n".encode() + data
    elif mutation == "huge_hex":
        data = f"zz = 0x{'f' * 5000}\n".encode() + data
    elif mutation == "nul":
        data = data + b"\x00"
    meaning = _meaning(data)
    return SettingsCase(mutation, data, meaning)


def _meaning(data: bytes) -> dict[str, Any] | None:
    """What the file says as TOML (BOM allowed), or None when it is not TOML."""
    try:
        return tomllib.loads(data.decode("utf-8-sig"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError, ValueError, RecursionError):
        return None


def same(a: Any, b: Any) -> bool:
    """Equal as TOML values (NaN equals NaN; tables and lists compared deeply, iteratively)."""
    stack = [(a, b)]
    while stack:
        x, y = stack.pop()
        if isinstance(x, float) and isinstance(y, float) and math.isnan(x) and math.isnan(y):
            continue
        if isinstance(x, dict) and isinstance(y, dict):
            if x.keys() != y.keys():
                return False
            stack.extend((x[k], y[k]) for k in x)
        elif isinstance(x, list) and isinstance(y, list):
            if len(x) != len(y):
                return False
            stack.extend(zip(x, y, strict=True))
        elif type(x) is not type(y) or x != y:
            return False
    return True


# ---- CLI arguments ----

_numbers = st.one_of(
    st.integers(-10, 100_000).map(str),
    st.sampled_from(["١٠", "３０", "1e3", "0x10", "1_0", "+5", " 7 ", "", "9" * 5000, "nan",
                     "30m", "1h30m", "tomorrow", "-0", "٣٠m"]),
)
_cli_values = st.one_of(hostile_text.filter(lambda s: "\x00" not in s), _numbers)


@st.composite
def cli_args(draw: st.DrawFn) -> list[str]:
    """One hostile `psoas-break` command line (never `run`, which would start the app)."""
    kind = draw(st.sampled_from([
        "config_set", "config_get", "config_reset", "stats", "snooze", "pause", "garbage",
    ]))
    value = draw(_cli_values)
    key = draw(hostile_key.filter(lambda s: "\x00" not in s and not s.startswith("-")))
    if kind == "config_set":
        return ["config", "set", key, value]
    if kind == "config_get":
        return ["config", "get", key]
    if kind == "config_reset":
        return ["config", "reset", key]
    if kind == "stats":
        option = draw(st.sampled_from(["--days", "--now", "--theme", "--forget-before"]))
        extra = draw(st.sampled_from([[], ["--json"], ["--csv", "-"]]))
        return ["stats", option, value, *extra]
    if kind == "snooze":
        return ["snooze", value]
    if kind == "pause":
        return ["pause", value]
    return [draw(_cli_values.filter(lambda s: s not in ("run", "-v", "--verbose"))), value]


# ---- history cells ----

sqlite_value = st.one_of(
    st.none(),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=False),
    st.sampled_from([float("inf"), float("-inf"), 1e308, -1e308, 86400.0, -86400.0, 200000]),
    hostile_text,
    st.binary(max_size=16),
    st.sampled_from(["{}", "[]", "{\"sit_s\": 1e308}", "{\"prompt_id\": " + "9" * 400 + "}",
                     "{\"away_s\": -1e300}", "{\"response\": \"=1+1\"}", "not json", "{" * 500]),
)
history_column = st.sampled_from(["t_utc_s", "utc_offset_s", "mono_s", "kind", "data"])


def wall_in_day(day: date, minute: int) -> datetime:
    return datetime.combine(day, time(minute // 60, minute % 60), tzinfo=timezone.utc)
