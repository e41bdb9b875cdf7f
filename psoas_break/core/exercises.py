"""The exercise library: typed, frozen exercises validated from data, with one-line errors.

Pure: stdlib only. `parse_library` validates a mapping (as parsed from TOML by the non-core
loader `psoas_break.adapters.files.exercise_library`, which also finds the copy shipped in
`psoas_break/data/` and a user's own files); `parse_user_exercises` validates a user's file with
the same rules, collecting one line per problem instead of stopping at the first.
Every problem is `ExerciseDataError` with one bounded line naming the exercise id, the field,
what was wrong and what is allowed.

Data format (`psoas_break/data/exercises.toml`), one `[[exercise]]` table per exercise:

    id          lower-case letters, digits and "_" (3-40 chars); also the picture's file name
    title       short name (<= 60 chars)
    prompt      the notification text after the dose (the body is "<dose>. <prompt>", at most
                200 characters), second person, plain words, no dose in it
    steps       list of 2-8 steps, in order (numbered when shown; no numbers in the text)
    hold_s      seconds to hold a position: 20-30 (health-content.md), optional
    duration_s  seconds the whole thing takes: 10-600, optional (at least one of the two)
    reps        times per side for a hold (2-3), or repetitions / rounds (1-30) otherwise
    sides       "left_right" (one side at a time, named and alternated between prompts),
                "alternate" (side to side within one go, e.g. knee rolls), "both" (both sides
                at once) or "none" (not sided)
    working     per-side only: which limb is "the side", e.g. "your {side} leg, behind you"
                (the picture highlights it)
    tags        where it can be done, from ONE family: desk places seated, standing, floor
                (floor = somewhere to lie down at home: a floor mat, or a bed where a step says
                so); vehicle places parked_cab, beside_vehicle; or driving_safe alone (only for
                hands-on-wheel, eyes-on-road posture changes)
    kind        stretch, posture or move
    focus       what it is for: hip_flexor, glutes, back, pelvis, chest, neck, legs, circulation,
                posture, breathing
    caution     one line shown with the exercise
    source      where the exercise and its dose come from
    pose        the illustration's pose id (icons/generator/poses.py); a user's file may leave
                it out (its pictures are PNG files, see `picture`)
    picture     a user's file only: the name of a PNG file in the same folder ("my.png")

Sides are named by the limb that moves or is stretched. In a per-side exercise every text may
say `{side}` / `{Side}` (the side being worked, "left" / "Left") and `{other}` / `{Other}` (the
other one), e.g. "{Side} knee down, {other} foot forward: this stretches the front of your
{side} hip."; the prompt and `working` must name the side. `texts_for(side)` fills them in
(and translates the texts of the shipped library through the gettext catalog).
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from psoas_break.core.errors import InputError
from psoas_break.core.i18n import N_, catalog_text, localized

SCHEMA_VERSION = 1

Kind = Literal["stretch", "posture", "move"]
Sides = Literal["left_right", "alternate", "both", "none"]
Side = Literal["left", "right"]

KINDS: tuple[str, ...] = ("stretch", "posture", "move")
SIDES: tuple[str, ...] = ("left_right", "alternate", "both", "none")
#: Places at a desk or at home: the `places` setting chooses among these.
PLACE_TAGS: tuple[str, ...] = ("seated", "standing", "floor")
VEHICLE_TAGS: tuple[str, ...] = ("parked_cab", "beside_vehicle")
TAGS: tuple[str, ...] = (*PLACE_TAGS, *VEHICLE_TAGS, "driving_safe")
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

PROMPT_MAX_CHARS = 200  # the whole notification body: "<dose>. <prompt>"
TITLE_MAX_CHARS = 60
STEP_MAX_CHARS = 240
LINE_MAX_CHARS = 240
WORKING_MAX_CHARS = 80
HOLD_MIN_S = 20
HOLD_MAX_S = 30
HOLD_REPS_MIN = 2
HOLD_REPS_MAX = 3
DURATION_MIN_S = 10
DURATION_MAX_S = 600
DRIVING_SAFE_MAX_S = 60
PICTURE_NAME_MAX_CHARS = 100

_ID_RE = re.compile(r"^[a-z][a-z0-9_]{2,39}$")
_NUMBERED_RE = re.compile(r"^\s*(\d+[.)]|step\s+\d+)", re.IGNORECASE)
_PICTURE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,95}\.[Pp][Nn][Gg]$")
SIDE_FIELDS = ("{side}", "{Side}", "{other}", "{Other}")
_PLACEHOLDER_RE = re.compile(r"\{(?:side|Side|other|Other)\}")

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

# Sleepiness at the wheel is fixed only by stopping and resting (health-content.md): no exercise
# may be offered as an answer to it, so no exercise text talks about it at all.
_FATIGUE_RE = re.compile(
    r"\bfatigu\w*|\btired\w*|\bsleep\w*|\bdrows\w*|\bwake\s+(?:you\s+|yourself\s+)?up\b|"
    r"\bdozy\b|\bnodding\s+off\b|\bstay\s+awake\b|\bkeep\s+you\s+awake\b",
    re.IGNORECASE,
)
# No exercise may involve climbing the cab steps (UK HSE: vehicle access steps are among the
# most common places of falls from vehicles).
_CAB_STEP_RE = re.compile(
    r"\b(?:cab|vehicle|truck|lorry|lorry's|truck's|vehicle's)\s+steps?\b|"
    r"\bsteps?\s+(?:of|on|into|up\s+(?:to|into))\s+(?:the|your)\s+(?:cab|vehicle|truck|lorry)\b|"
    r"\bgrab\s+handles?\b|\bstep[- ]ups?\b",
    re.IGNORECASE,
)


#: The exercise data is wrong; str() is one line naming the exercise and the field.
ExerciseDataError = InputError


def render_side(text: str, side: Side | None) -> str:
    """`text` with its side placeholders filled in for `side` (None: the left side)."""
    if "{" not in text:
        return text
    side = side or "left"
    other = "right" if side == "left" else "left"
    return (
        text.replace("{side}", side)
        .replace("{Side}", side.capitalize())
        .replace("{other}", other)
        .replace("{Other}", other.capitalize())
    )


@dataclass(frozen=True)
class ExerciseTexts:
    """An exercise's texts for one side, ready to show (in the active language)."""

    title: str
    prompt: str
    steps: tuple[str, ...]
    caution: str
    source: str
    working: str | None
    dose: str
    spoken_dose: str

    def body(self, spoken: bool = False) -> str:
        """The notification body, dose first: "<dose>. <prompt>"."""
        return f"{self.spoken_dose if spoken else self.dose}. {self.prompt}"


@dataclass(frozen=True)
class Exercise:
    """One exercise. Times are whole seconds; `steps` are in order (numbered when shown).

    The text fields are English (for the shipped library) with side placeholders; show them
    through `texts_for(side)`. `user` marks an exercise from the user's own files (never
    translated); `picture` is such an exercise's PNG file name, if it named one.
    """

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
    picture: str | None = None
    user: bool = False

    @property
    def per_side(self) -> bool:
        """True when it is done one side at a time (the side is named and alternated)."""
        return self.sides == "left_right"

    def dose_text(self, spoken: bool = False) -> str:
        """The dose, e.g. "Hold 30 s, 2 times each side" or "About 3 min" (a `Message`: English
        as a str, `localized()` when shown). `spoken` writes the units out for speech."""
        if self.hold_s is not None:
            if self.per_side:
                if spoken:
                    return N_("Hold {seconds} seconds, {reps} times each side",
                              seconds=self.hold_s, reps=self.reps)
                return N_("Hold {seconds} s, {reps} times each side", seconds=self.hold_s,
                          reps=self.reps)
            if spoken:
                return N_("Hold {seconds} seconds, {reps} times", seconds=self.hold_s,
                          reps=self.reps)
            return N_("Hold {seconds} s, {reps} times", seconds=self.hold_s, reps=self.reps)
        assert self.duration_s is not None  # validated: one of the two is set
        seconds = self.duration_s
        if seconds >= 120:
            minutes = round(seconds / 60)
            amount = (N_("{minutes} minutes", minutes=minutes) if spoken
                      else N_("{minutes} min", minutes=minutes))
        else:
            amount = (N_("{seconds} seconds", seconds=seconds) if spoken
                      else N_("{seconds} s", seconds=seconds))
        if self.reps > 1:
            if self.per_side or self.sides == "alternate":
                return N_("{reps} times each side, about {duration}", reps=self.reps,
                          duration=amount)
            return N_("{reps} times, about {duration}", reps=self.reps, duration=amount)
        return N_("About {duration}", duration=amount)

    def texts(self) -> Iterator[tuple[str, str]]:
        """(field, text) for every human-readable text as written in the data (placeholders
        left in), for checks like the banned words."""
        yield "title", self.title
        yield "prompt", self.prompt
        for number, step in enumerate(self.steps, start=1):
            yield f"steps[{number}]", step
        yield "caution", self.caution
        yield "source", self.source
        if self.working is not None:
            yield "working", self.working

    def english_texts(self) -> list[str]:
        """Every text as it can be shown (placeholders filled in for each side), each once, in
        order: exactly the strings the translation catalog needs for this exercise."""
        seen: dict[str, None] = {}
        sides: tuple[Side | None, ...] = ("left", "right") if self.per_side else (None,)
        for _field, text in self.texts():
            for side in sides:
                seen.setdefault(render_side(text, side), None)
        return list(seen)

    def texts_for(self, side: Side | None, translate: bool = True) -> ExerciseTexts:
        """The texts to show for `side` (ignored unless per side; None: left), in the active
        language unless `translate` is false or this is a user's own exercise."""
        side = (side or "left") if self.per_side else None

        def show(text: str) -> str:
            text = render_side(text, side)
            return catalog_text(text) if translate and not self.user else text

        dose, spoken = self.dose_text(), self.dose_text(spoken=True)
        return ExerciseTexts(
            title=show(self.title),
            prompt=show(self.prompt),
            steps=tuple(show(step) for step in self.steps),
            caution=show(self.caution),
            source=show(self.source),
            working=show(self.working) if self.working is not None else None,
            dose=localized(dose) if translate else dose,
            spoken_dose=localized(spoken) if translate else spoken,
        )


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

    def with_exercises(self, more: Sequence[Exercise]) -> ExerciseLibrary:
        """This library followed by `more` (ids already checked unique by the caller)."""
        return ExerciseLibrary((*self.exercises, *more))


def banned_words(text: str) -> list[str]:
    """The banned claim words (by their list name) found in `text`; empty when clean."""
    return [word for word, rx in _BANNED_RES if rx.search(text)]


def short(value: object, limit: int = 40) -> str:
    """A value's repr for an error line, cut to `limit` characters."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "\u2026"


def _fail(exercise_id: str, field: str, problem: str) -> ExerciseDataError:
    return ExerciseDataError(f"exercise '{exercise_id}': field '{field}': {problem}")


def _text(
    raw: Mapping[str, Any], ex_id: str, field: str, max_chars: int, per_side: bool
) -> str:
    value = raw.get(field)
    if not isinstance(value, str) or not value.strip():
        raise _fail(ex_id, field, f"must be non-empty text, got {short(value)}")
    if value != value.strip() or "\n" in value or "\r" in value:
        raise _fail(ex_id, field, "must be one line without leading or trailing spaces")
    if any(ord(c) < 32 or 0x7F <= ord(c) < 0xA0 for c in value):
        raise _fail(ex_id, field, "must not contain control characters")
    if len(value) > max_chars:
        raise _fail(ex_id, field, f"is {len(value)} characters, at most {max_chars} allowed")
    rest = _PLACEHOLDER_RE.sub("", value)
    if "{" in rest or "}" in rest:
        raise _fail(ex_id, field, "braces are only allowed in the side placeholders "
                                  + ", ".join(SIDE_FIELDS))
    if rest != value and not per_side:
        raise _fail(ex_id, field, "side placeholders need sides = \"left_right\"")
    found = banned_words(value)
    if found:
        raise _fail(ex_id, field, f"uses banned claim word(s): {', '.join(found)}")
    if _FATIGUE_RE.search(value):
        raise _fail(ex_id, field, "must not talk about tiredness or sleepiness: only stopping "
                                  "to rest helps with that, never an exercise")
    if _CAB_STEP_RE.search(value):
        raise _fail(ex_id, field, "must not involve climbing the cab steps (UK HSE: vehicle "
                                  "access steps are among the most common places of falls "
                                  "from vehicles)")
    return value


def _int(
    raw: Mapping[str, Any], ex_id: str, field: str, low: int, high: int, optional: bool
) -> int | None:
    value = raw.get(field)
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise _fail(ex_id, field,
                    f"must be a whole number from {low} to {high}, got {short(value)}")
    return value


def _choice(raw: Mapping[str, Any], ex_id: str, field: str, allowed: Sequence[str]) -> str:
    value = raw.get(field)
    if not isinstance(value, str) or value not in allowed:
        choices = ", ".join(allowed)
        raise _fail(ex_id, field, f"must be one of {choices}, got {short(value)}")
    return value


def _choices(
    raw: Mapping[str, Any], ex_id: str, field: str, allowed: Sequence[str]
) -> frozenset[str]:
    value = raw.get(field)
    if not isinstance(value, list) or not value:
        raise _fail(ex_id, field, f"must be a non-empty list, got {short(value)}")
    for item in value:
        if not isinstance(item, str) or item not in allowed:
            choices = ", ".join(allowed)
            raise _fail(ex_id, field, f"has {short(item)}; allowed: {choices}")
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
_USER_FIELDS = _FIELDS | {"picture"}


def _check_tags(ex_id: str, tags: frozenset[str]) -> None:
    if "driving_safe" in tags and tags != {"driving_safe"}:
        raise _fail(ex_id, "tags", "driving_safe must be the only tag")
    families = (frozenset(PLACE_TAGS), frozenset(VEHICLE_TAGS), frozenset({"driving_safe"}))
    if not any(tags <= family for family in families):
        raise _fail(
            ex_id, "tags",
            "use tags of one family only: desk places (seated, standing, floor), vehicle "
            "places (parked_cab, beside_vehicle) or driving_safe alone; make a separate "
            "exercise for the other place (desk texts never mention a vehicle)",
        )


def parse_exercise(raw: Mapping[str, Any], user: bool = False) -> Exercise:
    """Validate one exercise table; raise ExerciseDataError naming the id and field.

    `user` is true for a table from the user's own files: `pose` may be left out and
    `picture` is allowed; the rules are otherwise the same.
    """
    raw_id = raw.get("id")
    if not isinstance(raw_id, str) or not _ID_RE.match(raw_id):
        raise ExerciseDataError(
            f"exercise {short(raw_id)}: field 'id': must be 3-40 lower-case letters, digits "
            "or '_', starting with a letter"
        )
    ex_id = raw_id
    allowed = _USER_FIELDS if user else _FIELDS
    unknown = sorted(str(k) for k in set(raw) - allowed)
    if unknown:
        raise _fail(ex_id, short(unknown[0], 30).strip("'\""),
                    f"unknown field; allowed: {', '.join(sorted(allowed))}")

    sides_value = _choice(raw, ex_id, "sides", SIDES)
    per_side = sides_value == "left_right"
    title = _text(raw, ex_id, "title", TITLE_MAX_CHARS, per_side=False)
    prompt = _text(raw, ex_id, "prompt", PROMPT_MAX_CHARS, per_side)

    raw_steps = raw.get("steps")
    if not isinstance(raw_steps, list) or not 2 <= len(raw_steps) <= 8:
        raise _fail(ex_id, "steps", f"must be a list of 2 to 8 steps, got {short(raw_steps)}")
    steps = []
    for number, step in enumerate(raw_steps, start=1):
        field = f"steps[{number}]"
        text = _text({field: step}, ex_id, field, STEP_MAX_CHARS, per_side)
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
        working = _text(raw, ex_id, "working", WORKING_MAX_CHARS, per_side)
        for field, text in (("prompt", prompt), ("working", working)):
            if "{side}" not in text and "{Side}" not in text:
                raise _fail(ex_id, field, "must name the side being worked: write {side} (or "
                                          "{Side} to start a sentence) where it goes, e.g. "
                                          "\"{Side} knee down\"")
    elif "working" in raw:
        raise _fail(ex_id, "working", "only allowed when sides is left_right")

    tags = _choices(raw, ex_id, "tags", TAGS)
    _check_tags(ex_id, tags)
    kind_value = _choice(raw, ex_id, "kind", KINDS)
    focus = _choices(raw, ex_id, "focus", FOCUS)
    caution = _text(raw, ex_id, "caution", LINE_MAX_CHARS, per_side)
    source = _text(raw, ex_id, "source", LINE_MAX_CHARS, per_side)
    pose = raw.get("pose", "" if user else None)
    if not isinstance(pose, str) or not (_ID_RE.match(pose) or (user and pose == "")):
        raise _fail(ex_id, "pose", f"must be a pose id like 'half_kneel', got {short(pose)}")
    picture: str | None = None
    if "picture" in raw:
        value = raw["picture"]
        if not isinstance(value, str) or not _PICTURE_RE.match(value) or ".." in value:
            raise _fail(ex_id, "picture", "must be the name of a PNG file in the same folder, "
                                          f"like \"my_stretch.png\" (no folders), got "
                                          f"{short(value)}")
        picture = value

    if "driving_safe" in tags:
        # Safe while driving means hands on the wheel and eyes on the road: a short posture
        # change and nothing else, so it cannot share a tag with anything that needs a stop.
        if tags != {"driving_safe"}:
            raise _fail(ex_id, "tags", "driving_safe must be the only tag")
        if kind_value != "posture":
            raise _fail(ex_id, "kind", "a driving_safe exercise must be a posture change")
        if sides_value in ("left_right", "alternate"):
            raise _fail(ex_id, "sides", "a driving_safe exercise cannot be per side")
        if duration_s is None or duration_s > DRIVING_SAFE_MAX_S:
            raise _fail(
                ex_id, "duration_s", f"a driving_safe exercise takes at most {DRIVING_SAFE_MAX_S} s"
            )

    exercise = Exercise(
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
        picture=picture,
        user=user,
    )
    # The body is "<dose>. <prompt>": it must fit a notification (English; translations are
    # checked by the tests), for each side.
    for side in ("left", "right") if per_side else (None,):
        body = f"{exercise.dose_text()}. {render_side(prompt, side)}"
        if len(body) > PROMPT_MAX_CHARS:
            raise _fail(ex_id, "prompt",
                        f"with the dose in front the notification is {len(body)} characters, "
                        f"at most {PROMPT_MAX_CHARS} allowed")
    return exercise


def _library_data(data: Mapping[str, Any], label: str) -> list[Any]:
    version = data.get("schema_version")
    if version != SCHEMA_VERSION:
        raise ExerciseDataError(
            f"{label}: 'schema_version' must be {SCHEMA_VERSION}, got {short(version)}"
        )
    unknown = sorted(str(k) for k in set(data) - {"schema_version", "exercise"})
    if unknown:
        raise ExerciseDataError(
            f"{label}: unknown top-level key {short(unknown[0])}; "
            "allowed: schema_version, exercise"
        )
    raw_list = data.get("exercise")
    if not isinstance(raw_list, list) or not raw_list:
        raise ExerciseDataError(f"{label}: needs a non-empty list of [[exercise]] tables")
    return raw_list


def parse_library(data: Mapping[str, Any]) -> ExerciseLibrary:
    """Validate a whole library mapping: `schema_version` and a list `exercise` of tables.

    Besides each exercise, it checks ids are unique and that every situation has something to
    offer (at least one driving_safe posture change, an exercise for each desk place, and one
    parked_cab/beside_vehicle exercise), so selection never comes back empty.
    """
    raw_list = _library_data(data, "exercise data")
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


MAX_USER_EXERCISES_PER_FILE = 100


def parse_user_exercises(
    data: Mapping[str, Any], label: str, taken_ids: Collection[str]
) -> tuple[list[Exercise], list[str]]:
    """A user's file (same format as the shipped one): its valid exercises, and one line per
    problem (each starting with `label`, the file's name). Never raises for bad content.

    An exercise with a problem is left out; the others are kept. Ids must not clash with
    `taken_ids` (the shipped ones and those read before) or each other.
    """
    try:
        raw_list = _library_data(data, label)
    except ExerciseDataError as exc:
        return [], [str(exc)]
    exercises: list[Exercise] = []
    problems: list[str] = []
    seen = set(taken_ids)
    for index, raw in enumerate(raw_list, start=1):
        if index > MAX_USER_EXERCISES_PER_FILE:
            problems.append(f"{label}: only the first {MAX_USER_EXERCISES_PER_FILE} exercises "
                            "of a file are read")
            break
        if not isinstance(raw, Mapping):
            problems.append(f"{label}: entry {index} is not an [[exercise]] table")
            continue
        try:
            exercise = parse_exercise(raw, user=True)
        except ExerciseDataError as exc:
            problems.append(f"{label}: {exc}")
            continue
        if exercise.id in seen:
            problems.append(f"{label}: exercise '{exercise.id}': field 'id': is already used "
                            "(by a shipped exercise or another of yours); choose another id")
            continue
        seen.add(exercise.id)
        exercises.append(exercise)
    return exercises, problems


def _check_coverage(library: ExerciseLibrary) -> None:
    def has(tags: set[str], kinds: set[str]) -> bool:
        return any(e.tags & tags and e.kind in kinds for e in library)

    if not has({"driving_safe"}, {"posture"}):
        raise ExerciseDataError("exercise data: needs at least one driving_safe posture change")
    for label, tags in (
        *((f"desk ({place})", {place}) for place in PLACE_TAGS),
        ("stopped", {"parked_cab", "beside_vehicle"}),
    ):
        if not has(tags, set(KINDS)):
            raise ExerciseDataError(
                f"exercise data: needs at least one exercise for the {label} situation "
                f"(tags {', '.join(sorted(tags))})"
            )
