"""The shipped exercise library: every field, the counts the issue asks for, the health rules.

Loads the real packaged data file (importlib.resources), and feeds broken copies of it to the
validator to check each rule fails with one bounded line naming the exercise and the field.
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
    PLACE_TAGS,
    PROMPT_MAX_CHARS,
    SIDES,
    TAGS,
    VEHICLE_TAGS,
    Exercise,
    ExerciseDataError,
    ExerciseLibrary,
    banned_words,
    parse_exercise,
    parse_library,
    render_side,
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
        assert not e.user and e.picture is None, e.id
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


def test_the_dose_comes_first_and_only_once(library: ExerciseLibrary) -> None:
    """The dose leads the body (a collapsed notification drops the end first); the prompt
    itself does not repeat it."""
    for e in library:
        for side in ("left", "right") if e.per_side else (None,):
            body = notification_body(Selection(e, side))  # type: ignore[arg-type]
            assert body.startswith(f"{e.dose_text()}. "), (e.id, body)
        dose_in_prompt = str(e.dose_text()) in e.prompt or "each side" in e.prompt or (
            e.hold_s is not None and re.search(rf"\b{e.hold_s} ?(s|seconds)\b", e.prompt))
        assert not dose_in_prompt, f"{e.id}: the dose is added in front, not in the prompt"
        if e.per_side:
            assert "each side" in e.dose_text(), e.id


def test_sides_are_named_by_the_limb_that_moves_or_is_stretched(
    library: ExerciseLibrary,
) -> None:
    """Per side: the prompt names the side's limb ("left knee down ... your left hip") for the
    side of the picture, and the right version is the same with the sides swapped."""
    for e in library:
        if not e.per_side:
            assert "{" not in " ".join(t for _f, t in e.texts()), e.id
            continue
        for side, other in (("left", "right"), ("right", "left")):
            texts = e.texts_for(side)  # type: ignore[arg-type]
            assert re.search(rf"\b{side}\b", texts.prompt, re.IGNORECASE), (e.id, texts.prompt)
            assert texts.working is not None and f"your {side} " in texts.working, e.id
            assert "{" not in texts.prompt + " ".join(texts.steps)
            swapped = re.sub(r"\b(left|right|Left|Right)\b", lambda m: {
                "left": "right", "right": "left", "Left": "Right", "Right": "Left"}[m.group(1)],
                e.texts_for(other).prompt)  # type: ignore[arg-type]
            assert swapped == texts.prompt, e.id
    hug = library.get("half_kneeling_hip_flexor")
    assert hug is not None
    assert hug.texts_for("left").prompt.startswith(
        "Left knee down on a cushion, right foot forward")
    assert hug.texts_for("left").prompt.endswith("front of your left hip stretches.")


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
        # the missing classics of issue #17
        "side_lying_quad_stretch", "thomas_stretch_bed", "prone_press_up", "knee_rolls",
        "seated_hamstring_stretch", "seated_knee_to_chest", "seated_chest_stretch",
        "seated_twist", "seated_ankle_pumps", "split_stance_rock",
        # drivers: walk around, lunge with a hand on the vehicle, a foot on a kerb, posture
        "walk_around_vehicle", "vehicle_lunge", "kerb_hip_flexor", "cab_posture_reset",
        "drive_sit_tall",
    }
    assert typical <= ids, typical - ids
    # the parked-cab versions of the NHS sitting exercises
    assert {"cab_chest_stretch", "cab_twist"} <= ids


def test_notification_bodies_fit_for_every_side(library: ExerciseLibrary) -> None:
    for e in library:
        for side in ("left", "right") if e.per_side else (None,):
            for spoken in (False, True):
                body = notification_body(Selection(e, side), spoken=spoken)  # type: ignore[arg-type]
                assert len(body) <= 200, (e.id, len(body))
                assert not body.endswith("\u2026"), f"{e.id}: the body had to be cut"
            spoken_body = notification_body(Selection(e, side), spoken=True)  # type: ignore[arg-type]
            # speech writes units out: espeak reads "30 s" as "thirty ess"
            assert not re.search(r"\d+ ?s\b|\bmin\b", spoken_body), spoken_body


_VEHICLE_WORDS = re.compile(r"\b(vehicle|cab|truck|lorry|parked|parking|engine|wheel|drive\w*)\b",
                            re.IGNORECASE)


def test_desk_exercises_never_mention_a_vehicle(library: ExerciseLibrary) -> None:
    for e in library:
        assert (e.tags <= set(PLACE_TAGS) or e.tags <= set(VEHICLE_TAGS)
                or e.tags == {"driving_safe"}), e.id
        if e.tags <= set(PLACE_TAGS):
            for field, text in e.texts():
                assert not _VEHICLE_WORDS.search(text), (e.id, field, text)


def test_beside_the_vehicle_says_level_ground_traffic_engine_off_parking_brake(
    library: ExerciseLibrary,
) -> None:
    for e in library:
        text = " ".join(t for _f, t in e.texts()).lower()
        if "beside_vehicle" in e.tags:
            for needed in ("level ground", "traffic", "engine off", "parking brake on"):
                assert needed in text, (e.id, needed)
        if "parked_cab" in e.tags:
            assert "parked" in text and "engine off" in text and "parking brake on" in text, e.id


def test_no_cab_steps_no_fatigue_no_circulation_claims(library: ExerciseLibrary) -> None:
    claims = re.compile(r"\b(circulat\w*|blood|clot\w*|dvt|thrombo\w*|swell\w*|varicose)\b",
                        re.IGNORECASE)
    for e in library:
        for field, text in e.texts():
            assert not re.search(r"cab step|step-up|grab handle", text, re.IGNORECASE), (
                e.id, field)
            assert not re.search(r"fatigu|tired|sleep|drows", text, re.IGNORECASE), (e.id, field)
            assert not claims.search(text), (e.id, field, text)
    assert "driver fatigue" not in (library.get("drive_slow_breaths") or library).source  # type: ignore[union-attr]


def test_balances_holding_a_chair_say_without_wheels(library: ExerciseLibrary) -> None:
    for e in library:
        text = " ".join(t for _f, t in e.texts())
        if re.search(r"\bchair\b", text) and "standing" in e.tags:
            assert "without wheels" in text, e.id
    # sitting sideways on the corner of the seat needs a chair that cannot roll either
    edge = library.get("seated_hip_flexor_edge")
    assert edge is not None and "without wheels" in " ".join(edge.steps) + edge.caution


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
        ("prompt", "{Side} " + "x" * 200, "at most 200"),
        ("prompt", "x" * 5000, "at most 200"),
        ("prompt", "{Side} knee down" + ", and breathe" * 13, "with the dose in front"),
        ("prompt", "This cures tight hips. Hold 30 s.", "banned claim word"),
        ("steps", ["only one"], "2 to 8 steps"),
        ("steps", ["1. Kneel", "2. Stand"], "must not start with a number"),
        ("hold_s", 45, "from 20 to 30"),
        ("hold_s", True, "from 20 to 30"),
        ("reps", 5, "from 2 to 3"),
        ("sides", "left", "left_right, alternate, both, none"),
        ("sides", ["left"] * 2000, "left_right, alternate, both, none"),
        ("tags", ["desk"], "allowed: seated"),
        ("tags", [], "non-empty list"),
        ("kind", "yoga", "stretch, posture, move"),
        ("focus", ["psoas"], "allowed: hip_flexor"),
        ("caution", "  padded ", "one line"),
        ("pose", "Half Kneel", "pose id"),
        ("working", _DELETE, "non-empty"),
        ("working", "the kneeling leg", "must name the side"),
        ("prompt", "Kneel on one knee and ease forward.", "must name the side"),
        ("prompt", "{Side} knee down, {left} foot forward.", "side placeholders"),
        ("caution", "Stop if tired.", "tiredness or sleepiness"),
        ("steps", ["Hold the grab handle.", "Step up."], "cab steps"),
        ("tags", ["floor", "parked_cab"], "one family only"),
        ("title", "A\u0007bell", "control characters"),
        ("picture", "mine.png", "unknown field"),
        ("colour", "red", "unknown field"),
    ],
)
def test_bad_data_is_one_line_naming_exercise_and_field(
    field: str, value: Any, expected: str
) -> None:
    with pytest.raises(ExerciseDataError) as info:
        parse_library(_broken(field, value))
    message = str(info.value)
    assert "\n" not in message and len(message) <= 400, message
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
    assert texts["chin_tucks"] == "8 times, about 30 s"
    assert texts["knee_rolls"] == "8 times each side, about 60 s"
    spoken = {e.id: e.dose_text(spoken=True) for e in library}
    assert spoken["half_kneeling_hip_flexor"] == "Hold 30 seconds, 2 times each side"
    assert spoken["constructive_rest"] == "About 3 minutes"


def test_render_side_fills_in_both_sides() -> None:
    text = "{Side} knee down, {other} foot forward: your {side} hip. {Other} last."
    assert render_side(text, "left") == (
        "Left knee down, right foot forward: your left hip. Right last.")
    assert render_side(text, "right") == (
        "Right knee down, left foot forward: your right hip. Left last.")
    assert render_side(text, None) == render_side(text, "left")


def test_user_tables_may_name_a_picture_and_leave_out_the_pose() -> None:
    raw = copy.deepcopy(_raw()["exercise"][0])
    del raw["pose"]
    raw["picture"] = "my_kneel.png"
    exercise = parse_exercise(raw, user=True)
    assert exercise.user and exercise.picture == "my_kneel.png" and exercise.pose == ""
    for bad in ("../x.png", "/etc/passwd.png", "a/b.png", "x.jpg", "..png", "C:\\x.png", ""):
        raw["picture"] = bad
        with pytest.raises(ExerciseDataError, match="PNG file in the same folder"):
            parse_exercise(raw, user=True)


def test_exercise_is_immutable(library: ExerciseLibrary) -> None:
    e = library.get("glute_bridge")
    assert isinstance(e, Exercise)
    with pytest.raises(AttributeError):
        e.title = "x"  # type: ignore[misc]
