"""The exercise library: typed, frozen exercises validated from data, with one-line errors.

Pure: stdlib only. `parse_library` validates a mapping (as parsed from TOML by the non-core
loader `psoas_break.adapters.files.exercise_library`, which also finds the copy shipped in
`psoas_break/data/`).
Every problem raises `ExerciseDataError` with one line naming the exercise id, the field, what was
wrong and what is allowed.

Data format (`psoas_break/data/exercises.toml`), one `[[exercise]]` table per exercise:

    id          lower-case letters, digits and "_" (3-40 chars); also the picture's file name
    title       short name (<= 60 chars)
    prompt      the notification body (<= 200 chars; <= 180 for per-side exercises, so that the
                "Left side first. " prefix still fits), second person, plain words
    steps       list of 2-8 steps, in order (numbered when shown; no numbers in the text)
    hold_s      seconds to hold a position: 20-30 (health-content.md), optional
    duration_s  seconds the whole thing takes: 10-600, optional (at least one of the two)
    reps        times per side for a hold (2-3), or repetitions / rounds (1-30) otherwise
    sides       "left_right" (one side at a time, named and alternated), "both" (both sides at
                once) or "none" (not sided)
    working     per-side only: which limb is "the side", e.g. "the back leg" (the picture
                highlights it)
    tags        where it can be done: seated, standing, floor, parked_cab, beside_vehicle,
                driving_safe ("driving_safe" only for hands-on-wheel, eyes-on-road posture
                changes, and then it is the only tag)
    kind        stretch, posture or move
    focus       what it is for: hip_flexor, glutes, back, pelvis, chest, neck, legs, circulation,
                posture, breathing
    caution     one line shown with the exercise
    source      where the exercise and its dose come from
    pose        the illustration's pose id (icons/generator/poses.py)
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from psoas_break.core.errors import InputError

SCHEMA_VERSION = 1

Kind = Literal["stretch", "posture", "move"]
Sides = Literal["left_right", "both", "none"]
Side = Literal["left", "right"]

KINDS: tuple[str, ...] = ("stretch", "posture", "move")
SIDES: tuple[str, ...] = ("left_right", "both", "none")
TAGS: tuple[str, ...] = (
    "seated",
    "standing",
    "floor",
    "parked_cab",
    "beside_vehicle",
    "driving_safe",
)
FOCUS: tuple[str, ...] = (
    "hip_flexor",
    "glutes",
    "back",
    "pelvis",
    "chest",
    "neck",
    "legs",
    "circulation",
    "posture",
    "breathing",
)

PROMPT_MAX_CHARS = 200
SIDE_PREFIX_CHARS = 20  # room kept for "Right side first. " in a per-side notification body
TITLE_MAX_CHARS = 60
STEP_MAX_CHARS = 240
LINE_MAX_CHARS = 240
HOLD_MIN_S = 20
HOLD_MAX_S = 30
HOLD_REPS_MIN = 2
HOLD_REPS_MAX = 3
DURATION_MIN_S = 10
DURATION_MAX_S = 600
DRIVING_SAFE_MAX_S = 60

_ID_RE = re.compile(r"^[a-z][a-z0-9_]{2,39}$")
_NUMBERED_RE = re.compile(r"^\s*(\d+[.)]|step\s+\d+)", re.IGNORECASE)

# Claim words the app must never use (health-content.md). Whole words and their stems only, so
# "health" or "secure" do not trip the "heal" / "cure" entries.
_BANNED_PATTERNS: tuple[tuple[str, str], ...] = (
    ("cure", r"\bcur(?:e|es|ed|ing|ative)\b"),
    ("heal", r"\bheal(?:s|ed|ing|er|ers)?\b"),
    ("treat", r"\btreat(?:s|ed|ing|ment|ments)?\b"),
    ("detox", r"\bdetox\w*"),
    ("remedy", r"\bremed(?:y|ies|ial)\b"),
    ("trauma", r"\btrauma\w*"),
    ("release emotions", r"\brelease[sd]?\s+(?:your\s+|stored\s+|trapped\s+)?emotion\w*"),
    ("emotional release", r"\bemotional\s+release\w*"),
    ("supplement", r"\bsupplement\w*"),
    ("therapy", r"\btherap(?:y|ies|eutic)\b"),
    ("relieve", r"\breliev(?:e|es|ed|ing)\b"),
    ("relief", r"\brelief\b"),
    ("prevent", r"\bprevent\w*"),
    ("guarantee", r"\bguarantee\w*"),
    ("miracle", r"\bmiracle\w*"),
    ("toxin", r"\btoxin\w*"),
)
_BANNED_RES = tuple((word, re.compile(rx, re.IGNORECASE)) for word, rx in _BANNED_PATTERNS)


#: The exercise data is wrong; str() is one line naming the exercise and the field.
ExerciseDataError = InputError


@dataclass(frozen=True)
class Exercise:
    """One exercise. Times are whole seconds; `steps` are in order (numbered when shown)."""

    id: str
    title: str
    prompt: str
    steps: tuple[str, ...]
    hold_s: int | None
    duration_s: int | None
    reps: int
    sides: Sides
    tags: frozenset[str]
    kind: Kind
    focus: frozenset[str]
    caution: str
    source: str
    pose: str
    working: str | None = None

    @property
    def per_side(self) -> bool:
        """True when it is done one side at a time (the side is named and alternated)."""
        return self.sides == "left_right"

    def dose_text(self) -> str:
        """Short dose line, e.g. "Hold 30 s, 2 times each side" or "About 3 min"."""
        if self.hold_s is not None:
            each = " each side" if self.per_side else ""
            return f"Hold {self.hold_s} s, {self.reps} times{each}"
        assert self.duration_s is not None  # validated: one of the two is set
        if self.duration_s >= 120:
            return f"About {round(self.duration_s / 60)} min"
        return f"About {self.duration_s} s"

    def texts(self) -> Iterator[tuple[str, str]]:
        """(field, text) for every human-readable text, for checks like the banned words."""
        yield "title", self.title
        yield "prompt", self.prompt
        for number, step in enumerate(self.steps, start=1):
            yield f"steps[{number}]", step
        yield "caution", self.caution
        yield "source", self.source
        if self.working is not None:
            yield "working", self.working


@dataclass(frozen=True)
class ExerciseLibrary:
    """An ordered, validated set of exercises with unique ids."""

    exercises: tuple[Exercise, ...]

    def __iter__(self) -> Iterator[Exercise]:
        return iter(self.exercises)

    def __len__(self) -> int:
        return len(self.exercises)

    def ids(self) -> tuple[str, ...]:
        return tuple(e.id for e in self.exercises)

    def get(self, exercise_id: str) -> Exercise | None:
        """The exercise with this id, or None."""
        for exercise in self.exercises:
            if exercise.id == exercise_id:
                return exercise
        return None


def banned_words(text: str) -> list[str]:
    """The banned claim words (by their list name) found in `text`; empty when clean."""
    return [word for word, rx in _BANNED_RES if rx.search(text)]


def _fail(exercise_id: str, field: str, problem: str) -> ExerciseDataError:
    return ExerciseDataError(f"exercise '{exercise_id}': field '{field}': {problem}")


def _text(raw: Mapping[str, Any], ex_id: str, field: str, max_chars: int) -> str:
    value = raw.get(field)
    if not isinstance(value, str) or not value.strip():
        raise _fail(ex_id, field, f"must be non-empty text, got {value!r}")
    if value != value.strip() or "\n" in value:
        raise _fail(ex_id, field, "must be one line without leading or trailing spaces")
    if len(value) > max_chars:
        raise _fail(ex_id, field, f"is {len(value)} characters, at most {max_chars} allowed")
    found = banned_words(value)
    if found:
        raise _fail(ex_id, field, f"uses banned claim word(s): {', '.join(found)}")
    return value


def _int(
    raw: Mapping[str, Any], ex_id: str, field: str, low: int, high: int, optional: bool
) -> int | None:
    value = raw.get(field)
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise _fail(ex_id, field, f"must be a whole number from {low} to {high}, got {value!r}")
    return value


def _choice(raw: Mapping[str, Any], ex_id: str, field: str, allowed: Sequence[str]) -> str:
    value = raw.get(field)
    if value not in allowed:
        choices = ", ".join(allowed)
        raise _fail(ex_id, field, f"must be one of {choices}, got {value!r}")
    assert isinstance(value, str)
    return value


def _choices(
    raw: Mapping[str, Any], ex_id: str, field: str, allowed: Sequence[str]
) -> frozenset[str]:
    value = raw.get(field)
    if not isinstance(value, list) or not value:
        raise _fail(ex_id, field, f"must be a non-empty list, got {value!r}")
    for item in value:
        if item not in allowed:
            choices = ", ".join(allowed)
            raise _fail(ex_id, field, f"has {item!r}; allowed: {choices}")
    if len(set(value)) != len(value):
        raise _fail(ex_id, field, "lists an entry twice")
    return frozenset(value)


_FIELDS = frozenset(
    {
        "id",
        "title",
        "prompt",
        "steps",
        "hold_s",
        "duration_s",
        "reps",
        "sides",
        "working",
        "tags",
        "kind",
        "focus",
        "caution",
        "source",
        "pose",
    }
)


def parse_exercise(raw: Mapping[str, Any]) -> Exercise:
    """Validate one exercise table; raise ExerciseDataError naming the id and field."""
    raw_id = raw.get("id")
    if not isinstance(raw_id, str) or not _ID_RE.match(raw_id):
        raise ExerciseDataError(
            f"exercise {raw_id!r}: field 'id': must be 3-40 lower-case letters, digits or '_', "
            "starting with a letter"
        )
    ex_id = raw_id
    unknown = sorted(set(raw) - _FIELDS)
    if unknown:
        raise _fail(ex_id, unknown[0], f"unknown field; allowed: {', '.join(sorted(_FIELDS))}")

    title = _text(raw, ex_id, "title", TITLE_MAX_CHARS)
    sides_value = _choice(raw, ex_id, "sides", SIDES)
    per_side = sides_value == "left_right"
    prompt_max = PROMPT_MAX_CHARS - SIDE_PREFIX_CHARS if per_side else PROMPT_MAX_CHARS
    prompt = _text(raw, ex_id, "prompt", prompt_max)

    raw_steps = raw.get("steps")
    if not isinstance(raw_steps, list) or not 2 <= len(raw_steps) <= 8:
        raise _fail(ex_id, "steps", f"must be a list of 2 to 8 steps, got {raw_steps!r}")
    steps = []
    for number, step in enumerate(raw_steps, start=1):
        field = f"steps[{number}]"
        text = _text({field: step}, ex_id, field, STEP_MAX_CHARS)
        if _NUMBERED_RE.match(text):
            raise _fail(ex_id, field, "must not start with a number (steps are numbered for you)")
        steps.append(text)

    hold_s = _int(raw, ex_id, "hold_s", HOLD_MIN_S, HOLD_MAX_S, optional=True)
    duration_s = _int(raw, ex_id, "duration_s", DURATION_MIN_S, DURATION_MAX_S, optional=True)
    if hold_s is None and duration_s is None:
        raise _fail(ex_id, "hold_s", "give hold_s (20-30 s) or duration_s (10-600 s)")
    if hold_s is not None:
        reps = _int(raw, ex_id, "reps", HOLD_REPS_MIN, HOLD_REPS_MAX, optional=False)
    else:
        reps = _int(raw, ex_id, "reps", 1, 30, optional=False)
    assert reps is not None

    working: str | None = None
    if per_side:
        working = _text(raw, ex_id, "working", 60)
    elif "working" in raw:
        raise _fail(ex_id, "working", "only allowed when sides is left_right")

    tags = _choices(raw, ex_id, "tags", TAGS)
    kind_value = _choice(raw, ex_id, "kind", KINDS)
    focus = _choices(raw, ex_id, "focus", FOCUS)
    caution = _text(raw, ex_id, "caution", LINE_MAX_CHARS)
    source = _text(raw, ex_id, "source", LINE_MAX_CHARS)
    pose = raw.get("pose")
    if not isinstance(pose, str) or not _ID_RE.match(pose):
        raise _fail(ex_id, "pose", f"must be a pose id like 'half_kneel', got {pose!r}")

    if "driving_safe" in tags:
        # Safe while driving means hands on the wheel and eyes on the road: a short posture
        # change and nothing else, so it cannot share a tag with anything that needs a stop.
        if tags != {"driving_safe"}:
            raise _fail(ex_id, "tags", "driving_safe must be the only tag")
        if kind_value != "posture":
            raise _fail(ex_id, "kind", "a driving_safe exercise must be a posture change")
        if per_side:
            raise _fail(ex_id, "sides", "a driving_safe exercise cannot be per side")
        if duration_s is None or duration_s > DRIVING_SAFE_MAX_S:
            raise _fail(
                ex_id, "duration_s", f"a driving_safe exercise takes at most {DRIVING_SAFE_MAX_S} s"
            )

    return Exercise(
        id=ex_id,
        title=title,
        prompt=prompt,
        steps=tuple(steps),
        hold_s=hold_s,
        duration_s=duration_s,
        reps=reps,
        sides=sides_value,  # type: ignore[arg-type]  # checked against SIDES above
        tags=tags,
        kind=kind_value,  # type: ignore[arg-type]  # checked against KINDS above
        focus=focus,
        caution=caution,
        source=source,
        pose=pose,
        working=working,
    )


def parse_library(data: Mapping[str, Any]) -> ExerciseLibrary:
    """Validate a whole library mapping: `schema_version` and a list `exercise` of tables.

    Besides each exercise, it checks ids are unique and that every situation has something to
    offer (at least one driving_safe posture change, one seated/standing/floor exercise and one
    parked_cab/beside_vehicle exercise), so selection never comes back empty.
    """
    version = data.get("schema_version")
    if version != SCHEMA_VERSION:
        raise ExerciseDataError(
            f"exercise data: 'schema_version' must be {SCHEMA_VERSION}, got {version!r}"
        )
    unknown = sorted(set(data) - {"schema_version", "exercise"})
    if unknown:
        raise ExerciseDataError(
            f"exercise data: unknown top-level key {unknown[0]!r}; "
            "allowed: schema_version, exercise"
        )
    raw_list = data.get("exercise")
    if not isinstance(raw_list, list) or not raw_list:
        raise ExerciseDataError("exercise data: needs a non-empty list of [[exercise]] tables")
    exercises: list[Exercise] = []
    seen: set[str] = set()
    for index, raw in enumerate(raw_list, start=1):
        if not isinstance(raw, Mapping):
            raise ExerciseDataError(f"exercise data: entry {index} is not a table")
        exercise = parse_exercise(raw)
        if exercise.id in seen:
            raise _fail(exercise.id, "id", "is used by another exercise too")
        seen.add(exercise.id)
        exercises.append(exercise)
    library = ExerciseLibrary(tuple(exercises))
    _check_coverage(library)
    return library


def _check_coverage(library: ExerciseLibrary) -> None:
    def has(tags: set[str], kinds: set[str]) -> bool:
        return any(e.tags & tags and e.kind in kinds for e in library)

    if not has({"driving_safe"}, {"posture"}):
        raise ExerciseDataError("exercise data: needs at least one driving_safe posture change")
    for label, tags in (
        ("desk", {"seated", "standing", "floor"}),
        ("stopped", {"parked_cab", "beside_vehicle"}),
    ):
        if not has(tags, set(KINDS)):
            raise ExerciseDataError(
                f"exercise data: needs at least one exercise for the {label} situation "
                f"(tags {', '.join(sorted(tags))})"
            )
