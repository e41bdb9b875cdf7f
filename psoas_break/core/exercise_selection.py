"""Pick the exercise for a prompt: fit to where the person is, varied, sides alternated.

Pure: stdlib only; randomness comes in as a `random.Random`, so a seeded one makes it
deterministic. Contract of `select_exercise`:

- Kinds: a "stretch" break picks kind stretch or move; a "posture" prompt picks posture or move.
- Tags follow the situation (where the person is now; the profile only has to be valid):
  desk -> the `places` the person said they can use (the setting: seated, standing, floor;
  default seated and standing, all three when None is given); driving -> ONLY driving_safe;
  stopped -> parked_cab or beside_vehicle. The tag filter is never relaxed, least of all while
  driving.
- Hidden exercises ("never show this one again", the `hidden_exercises` setting) are left out,
  unless that leaves nothing for the situation: then they come back for that pick, with
  `Selection.fallback` saying so.
- Never empty for a library that passed `parse_library`: when no exercise of the wanted kinds
  fits the situation, any kind that fits is used and `Selection.fallback` says why (a stretch
  break while driving becomes a driving_safe posture change).
- No repeat of the last several: the most recent distinct picks that are in the candidate pool
  are excluded, up to `RECENT_WINDOW` of them and always leaving at least one candidate.
- Sides: a per-side exercise returns the side to start with. It is the opposite of the side used
  the last time this exercise was picked; for an exercise not picked before, the opposite of the
  most recent per-side pick of any exercise; "left" when there is none.
- Stretch breaks favour hip-flexor exercises (weight 2 against 1): that is what the app is for.

`SelectionHistory` is the small, frozen, JSON-friendly memory the runtime keeps between picks
(`recorded()` returns the new history; `to_dict()` / `from_dict()` for saving it).
"""

from __future__ import annotations

import random
import re
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from psoas_break.core.errors import InputError
from psoas_break.core.events import PromptKind
from psoas_break.core.exercises import PLACE_TAGS, Exercise, Side
from psoas_break.core.plain_text import show_value

Profile = Literal["desk", "driver"]
Situation = Literal["desk", "driving", "stopped"]

PROFILES: tuple[str, ...] = ("desk", "driver")
SITUATIONS: tuple[str, ...] = ("desk", "driving", "stopped")
PROMPT_KINDS: tuple[str, ...] = ("stretch", "posture")

KINDS_FOR_PROMPT: Mapping[str, frozenset[str]] = {
    "stretch": frozenset({"stretch", "move"}),
    "posture": frozenset({"posture", "move"}),
}
TAGS_FOR_SITUATION: Mapping[str, frozenset[str]] = {
    "desk": frozenset({"seated", "standing", "floor"}),
    "driving": frozenset({"driving_safe"}),
    "stopped": frozenset({"parked_cab", "beside_vehicle"}),
}
DEFAULT_PLACES: tuple[str, ...] = ("seated", "standing")
MAX_HIDDEN = 200
RECENT_WINDOW = 6
HISTORY_MAX = 24
HIP_FLEXOR_WEIGHT = 2.0


#: No exercise in the library fits the situation at all (the library failed coverage).
NoExerciseError = InputError


@dataclass(frozen=True)
class Pick:
    """One past pick: the exercise id and the side started on (None when not per side)."""

    exercise_id: str
    side: Side | None = None


@dataclass(frozen=True)
class Selection:
    """What to prompt: the exercise, the side to start with, and why the pool was widened."""

    exercise: Exercise
    side: Side | None
    fallback: str | None = None

    @property
    def pick(self) -> Pick:
        return Pick(self.exercise.id, self.side)


@dataclass(frozen=True)
class SelectionHistory:
    """Recent picks, oldest first (at most `HISTORY_MAX`), and each exercise's last side.

    `last_sides` is kept apart from `picks` so side alternation survives picks ageing out.
    """

    picks: tuple[Pick, ...] = ()
    last_sides: tuple[tuple[str, Side], ...] = ()

    def recorded(self, selection: Selection | Pick) -> SelectionHistory:
        """The history after `selection` was shown."""
        pick = selection.pick if isinstance(selection, Selection) else selection
        picks = (*self.picks, pick)[-HISTORY_MAX:]
        sides = dict(self.last_sides)
        if pick.side is not None:
            sides.pop(pick.exercise_id, None)
            sides[pick.exercise_id] = pick.side
        # Keep the most recently used sides; older ones matter less than the list's size.
        last_sides = tuple(sides.items())[-4 * HISTORY_MAX :]
        return SelectionHistory(picks=picks, last_sides=last_sides)

    def last_side_of(self, exercise_id: str) -> Side | None:
        """The side this exercise was last started on, if it is remembered."""
        for pick in reversed(self.picks):
            if pick.exercise_id == exercise_id and pick.side is not None:
                return pick.side
        return dict(self.last_sides).get(exercise_id)

    def last_side_any(self) -> Side | None:
        """The side of the most recent per-side pick of any exercise."""
        for pick in reversed(self.picks):
            if pick.side is not None:
                return pick.side
        return None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-friendly form (lists and strings only)."""
        return {
            "picks": [[p.exercise_id, p.side] for p in self.picks],
            "last_sides": [[i, s] for i, s in self.last_sides],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SelectionHistory:
        """Rebuild from `to_dict()` output; malformed entries are dropped, never raised on."""
        picks: list[Pick] = []
        raw_picks = data.get("picks", [])
        for item in raw_picks if isinstance(raw_picks, list) else []:
            if (
                isinstance(item, (list, tuple))
                and len(item) == 2
                and isinstance(item[0], str)
                and item[1] in ("left", "right", None)
            ):
                picks.append(Pick(item[0], item[1]))
        last_sides: list[tuple[str, Side]] = []
        raw_sides = data.get("last_sides", [])
        for item in raw_sides if isinstance(raw_sides, list) else []:
            if (
                isinstance(item, (list, tuple))
                and len(item) == 2
                and isinstance(item[0], str)
                and item[1] in ("left", "right")
            ):
                last_sides.append((item[0], item[1]))
        return cls(picks=tuple(picks[-HISTORY_MAX:]), last_sides=tuple(last_sides))


def other_side(side: Side) -> Side:
    return "right" if side == "left" else "left"


def situation_tags(situation: str, places: Collection[str] | None = None) -> frozenset[str]:
    """The tags an exercise may have (any one of them) in `situation`; at the desk, only the
    `places` given (None: every desk place)."""
    tags = TAGS_FOR_SITUATION[situation]
    if situation == "desk" and places is not None:
        tags = tags & frozenset(places)
        if not tags:
            raise ValueError(f"places must name at least one of {', '.join(PLACE_TAGS)}")
    return tags


def candidates(
    library: Iterable[Exercise],
    prompt_kind: str,
    situation: str,
    places: Collection[str] | None = None,
    hidden: Collection[str] = (),
) -> tuple[tuple[Exercise, ...], str | None]:
    """The exercises that fit, sorted by id, and the fallback reason if the pool was widened."""
    tags = situation_tags(situation, places)
    kinds = KINDS_FOR_PROMPT[prompt_kind]
    fitting = sorted((e for e in library if e.tags & tags), key=lambda e: e.id)
    if not fitting:
        raise NoExerciseError(
            f"no exercise fits the {situation} situation (tags {', '.join(sorted(tags))})"
        )
    shown = [e for e in fitting if e.id not in hidden]
    hidden_reason = None
    if not shown:
        shown = fitting
        hidden_reason = "every exercise that fits here is hidden: showing one of them anyway"
    pool = tuple(e for e in shown if e.kind in kinds)
    if pool:
        return pool, hidden_reason
    reason = (
        "no stretch is safe while driving: a posture change now, stretch at your next stop"
        if situation == "driving"
        else f"no {prompt_kind} exercise fits the {situation} situation: another kind instead"
    )
    return tuple(shown), hidden_reason or reason


def _check_choice(name: str, value: str, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise ValueError(f"{name} must be one of {', '.join(allowed)}, got {value!r}")


def select_exercise(
    library: Iterable[Exercise],
    prompt_kind: PromptKind | str,
    profile: Profile | str,
    situation: Situation | str,
    history: SelectionHistory,
    rng: random.Random,
    places: Collection[str] | None = None,
    hidden: Collection[str] = (),
) -> Selection:
    """Pick the exercise and side for one prompt (see the module docstring for the contract).

    Raises ValueError for an unknown prompt kind, profile or situation (or no desk place in
    `places`), and NoExerciseError when nothing in `library` fits the situation (impossible for
    a library that passed coverage).
    """
    _check_choice("prompt kind", prompt_kind, PROMPT_KINDS)
    _check_choice("profile", profile, PROFILES)
    _check_choice("situation", situation, SITUATIONS)
    pool, fallback = candidates(library, prompt_kind, situation, places, hidden)

    pool_ids = {e.id for e in pool}
    window = min(RECENT_WINDOW, len(pool) - 1)
    recent: list[str] = []
    for pick in reversed(history.picks):
        if len(recent) >= window:
            break
        if pick.exercise_id in pool_ids and pick.exercise_id not in recent:
            recent.append(pick.exercise_id)
    choices = [e for e in pool if e.id not in recent]

    if prompt_kind == "stretch":
        weights = [HIP_FLEXOR_WEIGHT if "hip_flexor" in e.focus else 1.0 for e in choices]
    else:
        weights = [1.0] * len(choices)
    exercise = rng.choices(choices, weights=weights, k=1)[0]

    side: Side | None = None
    if exercise.per_side:
        last = history.last_side_of(exercise.id) or history.last_side_any()
        side = other_side(last) if last is not None else "left"
    return Selection(exercise=exercise, side=side, fallback=fallback)


def situation_for(profile: Profile | str, stopped: bool = False) -> Situation:
    """The situation to assume: a driver is "driving" unless they said they have stopped.

    Assuming "driving" when unsure keeps every prompt hands-on-wheel, eyes-on-road safe.
    """
    if profile == "driver":
        return "stopped" if stopped else "driving"
    return "desk"


def notification_body(selection: Selection, max_chars: int = 200, spoken: bool = False) -> str:
    """The notification text, dose first: "<dose>. <prompt>" for the selection's side, in the
    active language (`spoken`: the units written out, for speech).

    Sides are named in the prompt itself, by the limb that moves or is stretched. Always at
    most `max_chars` characters (the library and the tests keep bodies short enough; the cut
    with an ellipsis is only a last guard).
    """
    text = selection.exercise.texts_for(selection.side).body(spoken=spoken)
    if len(text) > max_chars:
        text = text[: max_chars - 1].rstrip() + "\u2026"
    return text


# ---- the settings that steer selection (validated here; core/settings.py lists the keys) ----

_EXERCISE_ID_RE = re.compile(r"^[a-z][a-z0-9_]{2,39}$")


#: A `places` or `hidden_exercises` value that is not allowed; str() is one line.
SelectionSettingError = InputError


def validate_places(raw: object, key: str = "places") -> tuple[str, ...]:
    """Where the person can exercise at the desk or at home: a non-empty list of seated,
    standing, floor. Returned in that order, each once."""
    allowed = ('use a list of one or more of "seated", "standing", "floor", '
               'e.g. ["seated", "standing"]')
    if isinstance(raw, str):
        raw = [raw]
    if not isinstance(raw, (list, tuple)) or not raw:
        raise SelectionSettingError(f"{key} = {show_value(raw)} is not allowed: {allowed}")
    for item in raw:
        if item not in PLACE_TAGS:
            raise SelectionSettingError(
                f"{key} has {show_value(item)}, which is not a place: {allowed}")
    return tuple(p for p in PLACE_TAGS if p in raw)


def parse_places_text(text: str, key: str = "places") -> tuple[str, ...]:
    """`config set places seated,standing,floor` (commas and/or spaces)."""
    return validate_places([p for p in re.split(r"[,\s]+", text.strip().lower()) if p], key)


def validate_hidden(raw: object, key: str = "hidden_exercises") -> tuple[str, ...]:
    """Exercise ids never to show again: a list of ids (unknown ids are kept: a user's own
    exercise may come back), each once, at most MAX_HIDDEN."""
    allowed = f'use a list of up to {MAX_HIDDEN} exercise ids, e.g. ["glute_bridge"]'
    if isinstance(raw, str):
        raw = [raw] if raw else []
    if not isinstance(raw, (list, tuple)) or len(raw) > MAX_HIDDEN:
        raise SelectionSettingError(f"{key} = {show_value(raw)} is not allowed: {allowed}")
    out: list[str] = []
    for item in raw:
        if not isinstance(item, str) or not _EXERCISE_ID_RE.match(item):
            raise SelectionSettingError(
                f"{key} has {show_value(item)}, which is not an exercise id: {allowed}")
        if item not in out:
            out.append(item)
    return tuple(out)


def parse_hidden_text(text: str, key: str = "hidden_exercises") -> tuple[str, ...]:
    """`config set hidden_exercises "a, b"`; an empty text shows every exercise again."""
    return validate_hidden([p for p in re.split(r"[,\s]+", text.strip()) if p], key)
