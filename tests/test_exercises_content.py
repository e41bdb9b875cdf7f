"""The shipped exercise library: every field, the counts the issue asks for, the health rules.

Loads the real packaged data file (importlib.resources), and feeds broken copies of it to the
validator to check each rule fails with one line naming the exercise and the field.
"""

from __future__ import annotations

import copy
import re
import sys
from collections import Counter
from importlib import resources
from typing import Any

import pytest

from psoas_break.adapters.files.exercise_library import load_builtin_library, parse_library_text
from psoas_break.core.exercise_selection import Selection, notification_body
from psoas_break.core.exercises import (
    FOCUS,
    KINDS,
    PROMPT_MAX_CHARS,
    SIDES,
    TAGS,
    Exercise,
    ExerciseDataError,
    ExerciseLibrary,
    banned_words,
    parse_library,
)
from psoas_break.core.safety import DRIVING_NOTE, NOT_MEDICAL_NOTE, SAFETY_NOTE, safety_text

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib


def _raw() -> dict[str, Any]:
    text = resources.files("psoas_break").joinpath("data").joinpath("exercises.toml").read_text()
    return dict(tomllib.loads(text))


@pytest.fixture(scope="module")
def library() -> ExerciseLibrary:
    return load_builtin_library()


def test_library_loads_from_the_package_with_enough_exercises(library: ExerciseLibrary) -> None:
    assert len(library) >= 24
    assert len(set(library.ids())) == len(library)


def test_every_field_is_present_and_in_range(library: ExerciseLibrary) -> None:
    for e in library:
        assert re.fullmatch(r"[a-z][a-z0-9_]{2,39}", e.id), e.id
        assert e.title and len(e.title) <= 60, e.id
        assert 0 < len(e.prompt) <= PROMPT_MAX_CHARS, e.id
        assert 2 <= len(e.steps) <= 8, e.id
        assert all(s and not s[0].isdigit() for s in e.steps), e.id
        assert e.kind in KINDS
        assert e.sides in SIDES
        assert e.tags and e.tags <= set(TAGS), e.id
        assert e.focus and e.focus <= set(FOCUS), e.id
        assert e.caution and e.source and e.pose, e.id
        assert e.hold_s is not None or e.duration_s is not None, e.id
        if e.hold_s is not None:
            # health-content.md: hold 20-30 s, 2-3 times (per side when sided)
            assert 20 <= e.hold_s <= 30, e.id
            assert 2 <= e.reps <= 3, e.id
        if e.per_side:
            assert e.working, e.id
            assert "side" in " ".join(e.steps).lower() or "leg" in " ".join(e.steps).lower()
        else:
            assert e.working is None, e.id


def test_stretches_hold_and_say_so_in_the_prompt(library: ExerciseLibrary) -> None:
    for e in library:
        if e.hold_s is not None:
            assert f"{e.hold_s} s" in e.prompt, f"{e.id}: the prompt should name the hold time"
        if e.per_side and e.hold_s is not None:
            assert "each side" in e.prompt, f"{e.id}: the prompt should say 'each side'"


def test_counts_the_issue_asks_for(library: ExerciseLibrary) -> None:
    hip = [e for e in library if "hip_flexor" in e.focus]
    driving = [e for e in library if "driving_safe" in e.tags]
    beside = [e for e in library if "beside_vehicle" in e.tags]
    assert len(hip) >= 10, [e.id for e in hip]
    assert len(driving) >= 6
    assert all(e.kind == "posture" for e in driving)
    assert len(beside) >= 4
    kinds: Counter[str] = Counter(e.kind for e in library)
    assert all(kinds[k] >= 3 for k in KINDS), kinds


def test_the_typical_set_from_health_content_is_covered(library: ExerciseLibrary) -> None:
    ids = set(library.ids())
    typical = {
        "half_kneeling_hip_flexor", "standing_lunge_tuck", "foot_on_chair_hip_flexor",
        "standing_quad_hold", "seated_figure_four", "glute_bridge", "standing_back_extension",
        "seated_pelvic_tilt", "standing_pelvic_tilt", "march_in_place", "short_walk",
        "calf_raises", "doorway_chest_stretch", "chin_tucks", "constructive_rest",
        "walk_around_vehicle", "vehicle_lunge", "cab_step_ups", "drive_sit_tall",
    }
    assert typical <= ids, typical - ids


def test_notification_bodies_fit_for_every_side(library: ExerciseLibrary) -> None:
    for e in library:
        for side in ("left", "right") if e.per_side else (None,):
            body = notification_body(Selection(e, side))
            assert len(body) <= 200, (e.id, len(body))
            assert not body.endswith("\u2026"), f"{e.id}: the body had to be cut"
            if side:
                assert body.startswith(side.capitalize() + " side first. ")


def test_no_banned_claim_words_anywhere(library: ExerciseLibrary) -> None:
    for e in library:
        for field, text in e.texts():
            assert banned_words(text) == [], (e.id, field, text)
    for text in (SAFETY_NOTE, NOT_MEDICAL_NOTE, DRIVING_NOTE):
        assert banned_words(text) == []


@pytest.mark.parametrize(
    "text, word",
    [
        ("This stretch cures back pain", "cure"),
        ("Heals your hips", "heal"),
        ("A treatment for sitting", "treat"),
        ("Detoxify the psoas", "detox"),
        ("a natural remedy", "remedy"),
        ("trauma release exercise", "trauma"),
        ("it releases stored emotions", "release emotions"),
        ("take a supplement", "supplement"),
        ("therapeutic effect", "therapy"),
        ("relieves pain", "relieve"),
        ("prevents injury", "prevent"),
    ],
)
def test_banned_words_are_caught_as_stems(text: str, word: str) -> None:
    assert word in banned_words(text)


@pytest.mark.parametrize(
    "text", ["Your health matters", "secure footing", "physiotherapy exercise sheets", "treadmill"]
)
def test_banned_words_leave_harmless_words_alone(text: str) -> None:
    assert banned_words(text) == []


# Words that would mean a hand off the wheel, eyes off the road, or feet off the pedals.
_DRIVING_FORBIDDEN = re.compile(
    r"\b(reach\w*|hands?|arms?|elbows?|wrists?|fingers?|look\w*|glanc\w*|turn\w*|twist\w*|"
    r"rotat\w*|tilt\w*|close\w*|eyes?|phone|screen|foot|feet|legs?|knees?|ankles?|toes?|"
    r"stretch\w*|lift\w*|raise\w*|stand\w*|lean\w*|bend\w*|neck roll\w*|shrug\w*|"
    r"let go|off the wheel|down at|sideways)\b",
    re.IGNORECASE,
)
_DRIVING_ALLOWED = ("both hands on the wheel", "hands on the wheel", "eyes on the road")


def _driving_problems(text: str) -> list[str]:
    cleaned = text.lower()
    for phrase in _DRIVING_ALLOWED:
        cleaned = cleaned.replace(phrase, "")
    return list(_DRIVING_FORBIDDEN.findall(cleaned))


@pytest.mark.parametrize(
    "text",
    [
        "Reach for your water bottle",
        "Hands on the wheel, eyes on the road: roll your head slowly and look over your shoulder",
        "Take one hand off the wheel and shake it out",
        "Press your feet into the floor",
        "Glance at the mirror and stretch your neck",
    ],
)
def test_the_driving_heuristic_catches_unsafe_wording(text: str) -> None:
    assert _driving_problems(text)


def test_driving_safe_items_are_posture_only_hands_on_wheel_eyes_on_road(
    library: ExerciseLibrary,
) -> None:
    driving = [e for e in library if "driving_safe" in e.tags]
    for e in driving:
        assert e.tags == {"driving_safe"}, e.id
        assert e.kind == "posture" and not e.per_side, e.id
        assert e.duration_s is not None and e.duration_s <= 60, e.id
        assert e.prompt.startswith("Hands on the wheel, eyes on the road:"), e.id
        assert "hands on the wheel" in e.steps[0] and "eyes on the road" in e.steps[0], e.id
        for field, text in e.texts():
            if field == "source":
                continue
            assert not _driving_problems(text), (e.id, field, _driving_problems(text))


def test_nothing_else_is_tagged_for_driving_and_parked_ones_say_parked(
    library: ExerciseLibrary,
) -> None:
    for e in library:
        if "parked_cab" in e.tags and e.kind != "posture":
            text = (e.caution + " " + " ".join(e.steps)).lower()
            assert "parked" in text or "parking brake" in text, e.id
        if "beside_vehicle" in e.tags:
            text = (e.prompt + " " + e.caution + " " + " ".join(e.steps)).lower()
            assert "vehicle" in text or "cab" in text, e.id


def test_safety_text_has_the_required_points() -> None:
    text = safety_text(include_driving=True).lower()
    for needed in ("hurts", "tingles", "numb", "sciatica", "pregnan", "surgery", "clinician",
                   "not a medical device", "tachograph"):
        assert needed in text, needed


# ---- the validator: broken copies of the real data fail with one clear line ----


def _broken(field: str, value: Any, index: int = 0) -> dict[str, Any]:
    data = copy.deepcopy(_raw())
    if value is _DELETE:
        del data["exercise"][index][field]
    else:
        data["exercise"][index][field] = value
    return data


_DELETE = object()
_FIRST = "half_kneeling_hip_flexor"


@pytest.mark.parametrize(
    "field, value, expected",
    [
        ("title", "", "non-empty"),
        ("title", _DELETE, "non-empty"),
        ("prompt", "x" * 181, "at most 180"),
        ("prompt", "This cures tight hips. Hold 30 s.", "banned claim word"),
        ("steps", ["only one"], "2 to 8 steps"),
        ("steps", ["1. Kneel", "2. Stand"], "must not start with a number"),
        ("hold_s", 45, "from 20 to 30"),
        ("hold_s", True, "from 20 to 30"),
        ("reps", 5, "from 2 to 3"),
        ("sides", "left", "left_right, both, none"),
        ("tags", ["desk"], "allowed: seated"),
        ("tags", [], "non-empty list"),
        ("kind", "yoga", "stretch, posture, move"),
        ("focus", ["psoas"], "allowed: hip_flexor"),
        ("caution", "  padded ", "one line"),
        ("pose", "Half Kneel", "pose id"),
        ("working", _DELETE, "non-empty"),
        ("colour", "red", "unknown field"),
    ],
)
def test_bad_data_is_one_line_naming_exercise_and_field(
    field: str, value: Any, expected: str
) -> None:
    with pytest.raises(ExerciseDataError) as info:
        parse_library(_broken(field, value))
    message = str(info.value)
    assert "\n" not in message
    assert f"exercise '{_FIRST}'" in message
    assert f"'{field}" in message
    assert expected in message


def test_driving_safe_cannot_be_a_stretch_or_share_tags() -> None:
    data = _raw()
    drive = next(i for i, e in enumerate(data["exercise"]) if "driving_safe" in e["tags"])
    with pytest.raises(ExerciseDataError, match="driving_safe must be the only tag"):
        parse_library(_broken("tags", ["driving_safe", "seated"], drive))
    with pytest.raises(ExerciseDataError, match="must be a posture change"):
        parse_library(_broken("kind", "stretch", drive))


def test_duplicate_ids_and_missing_coverage_are_refused() -> None:
    data = _raw()
    data["exercise"].append(copy.deepcopy(data["exercise"][0]))
    with pytest.raises(ExerciseDataError, match="used by another exercise"):
        parse_library(data)
    data = _raw()
    data["exercise"] = [e for e in data["exercise"] if "driving_safe" not in e["tags"]]
    with pytest.raises(ExerciseDataError, match="driving_safe posture"):
        parse_library(data)


def test_bad_toml_and_schema_version() -> None:
    with pytest.raises(ExerciseDataError, match="not valid TOML"):
        parse_library_text("schema_version = = 1")
    with pytest.raises(ExerciseDataError, match="schema_version"):
        parse_library_text("schema_version = 2")


def test_dose_text_reads_naturally(library: ExerciseLibrary) -> None:
    texts = {e.id: e.dose_text() for e in library}
    assert texts["half_kneeling_hip_flexor"] == "Hold 30 s, 2 times each side"
    assert texts["glute_bridge"] == "Hold 20 s, 3 times"
    assert texts["constructive_rest"] == "About 3 min"
    assert texts["chin_tucks"] == "About 30 s"


def test_exercise_is_immutable(library: ExerciseLibrary) -> None:
    e = library.get("glute_bridge")
    assert isinstance(e, Exercise)
    with pytest.raises(AttributeError):
        e.title = "x"  # type: ignore[misc]
