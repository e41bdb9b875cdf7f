"""Exercise selection: properties over the real library (hypothesis), plus the edge cases."""

from __future__ import annotations

import json
import random
from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from psoas_break.adapters.files.exercise_library import load_builtin_library
from psoas_break.core.exercise_selection import (
    DEFAULT_PLACES,
    HISTORY_MAX,
    KINDS_FOR_PROMPT,
    PROFILES,
    PROMPT_KINDS,
    RECENT_WINDOW,
    SITUATIONS,
    TAGS_FOR_SITUATION,
    NoExerciseError,
    Pick,
    SelectionHistory,
    candidates,
    notification_body,
    parse_hidden_text,
    parse_places_text,
    select_exercise,
    situation_for,
    validate_hidden,
    validate_places,
)
from psoas_break.core.exercises import PLACE_TAGS, Exercise

LIBRARY = load_builtin_library()
IDS = list(LIBRARY.ids())

picks = st.builds(
    Pick,
    st.sampled_from([*IDS, "retired_exercise"]),
    st.sampled_from(["left", "right", None]),
)
histories = st.lists(picks, max_size=40).map(
    lambda ps: _history_of(ps)
)
combos = st.tuples(
    st.sampled_from(PROMPT_KINDS), st.sampled_from(PROFILES), st.sampled_from(SITUATIONS)
)


def _history_of(ps: list[Pick]) -> SelectionHistory:
    history = SelectionHistory()
    for pick in ps:
        history = history.recorded(pick)
    return history


@settings(max_examples=300, deadline=None)
@given(combo=combos, history=histories, seed=st.integers(0, 2**32 - 1))
def test_filtering_and_kinds_are_never_violated(
    combo: tuple[str, str, str], history: SelectionHistory, seed: int
) -> None:
    prompt_kind, profile, situation = combo
    sel = select_exercise(LIBRARY, prompt_kind, profile, situation, history, random.Random(seed))
    e = sel.exercise
    assert e.tags & TAGS_FOR_SITUATION[situation], (e.id, situation)
    if situation == "driving":
        assert e.tags == {"driving_safe"} and e.kind == "posture"
    if sel.fallback is None:
        assert e.kind in KINDS_FOR_PROMPT[prompt_kind]
    else:
        # widened only when nothing of the wanted kinds fits
        assert not any(
            x.tags & TAGS_FOR_SITUATION[situation] and x.kind in KINDS_FOR_PROMPT[prompt_kind]
            for x in LIBRARY
        )
    assert (sel.side is not None) == e.per_side


@settings(max_examples=300, deadline=None)
@given(combo=combos, history=histories, seed=st.integers(0, 2**32 - 1))
def test_no_repeat_of_the_recent_picks_the_pool_allows(
    combo: tuple[str, str, str], history: SelectionHistory, seed: int
) -> None:
    prompt_kind, _profile, situation = combo
    pool, _ = candidates(LIBRARY, prompt_kind, situation)
    pool_ids = {e.id for e in pool}
    window = min(RECENT_WINDOW, len(pool) - 1)
    recent: list[str] = []
    for pick in reversed(history.picks):
        if pick.exercise_id in pool_ids and pick.exercise_id not in recent:
            recent.append(pick.exercise_id)
    sel = select_exercise(LIBRARY, *combo, history, random.Random(seed))
    assert sel.exercise.id not in recent[:window]
    if history.picks and len(pool) >= 2:
        assert sel.exercise.id != history.picks[-1].exercise_id


@settings(max_examples=300, deadline=None)
@given(combo=combos, history=histories, seed=st.integers(0, 2**32 - 1))
def test_sides_alternate_from_the_last_time(
    combo: tuple[str, str, str], history: SelectionHistory, seed: int
) -> None:
    sel = select_exercise(LIBRARY, *combo, history, random.Random(seed))
    if not sel.exercise.per_side:
        assert sel.side is None
        return
    last = history.last_side_of(sel.exercise.id)
    if last is None:
        last = history.last_side_any()
    expected = "left" if last is None else ("right" if last == "left" else "left")
    assert sel.side == expected


@settings(max_examples=50, deadline=None)
@given(combo=combos, seed=st.integers(0, 2**32 - 1))
def test_a_long_run_alternates_each_exercise_and_never_repeats_back_to_back(
    combo: tuple[str, str, str], seed: int
) -> None:
    rng = random.Random(seed)
    history = SelectionHistory()
    sides_seen: dict[str, list[str]] = {}
    previous = None
    for _ in range(60):
        sel = select_exercise(LIBRARY, *combo, history, rng)
        assert sel.exercise.id != previous
        previous = sel.exercise.id
        if sel.side is not None:
            sides_seen.setdefault(sel.exercise.id, []).append(sel.side)
        history = history.recorded(sel)
    for exercise_id, sides in sides_seen.items():
        for a, b in zip(sides, sides[1:], strict=False):
            assert a != b, (exercise_id, sides)


@settings(max_examples=100, deadline=None)
@given(combo=combos, history=histories, seed=st.integers(0, 2**32 - 1))
def test_deterministic_with_a_seeded_random(
    combo: tuple[str, str, str], history: SelectionHistory, seed: int
) -> None:
    a = select_exercise(LIBRARY, *combo, history, random.Random(seed))
    b = select_exercise(LIBRARY, *combo, history, random.Random(seed))
    assert a == b


def test_never_empty_for_any_valid_combination() -> None:
    for prompt_kind in PROMPT_KINDS:
        for profile in PROFILES:
            for situation in SITUATIONS:
                pool, _ = candidates(LIBRARY, prompt_kind, situation)
                assert len(pool) >= 2, (prompt_kind, situation)
                sel = select_exercise(
                    LIBRARY, prompt_kind, profile, situation, SelectionHistory(),
                    random.Random(1),
                )
                assert sel.exercise in LIBRARY.exercises


def test_a_stretch_break_while_driving_falls_back_to_a_posture_change() -> None:
    sel = select_exercise(
        LIBRARY, "stretch", "driver", "driving", SelectionHistory(), random.Random(3)
    )
    assert sel.exercise.tags == {"driving_safe"}
    assert sel.exercise.kind == "posture"
    assert sel.fallback is not None and "stop" in sel.fallback


def test_a_run_covers_the_whole_pool_and_favours_hip_flexors_for_stretches() -> None:
    rng = random.Random(42)
    history = SelectionHistory()
    counts: Counter[str] = Counter()
    for _ in range(600):
        sel = select_exercise(LIBRARY, "stretch", "desk", "desk", history, rng)
        counts[sel.exercise.id] += 1
        history = history.recorded(sel)
    pool, _ = candidates(LIBRARY, "stretch", "desk")
    assert set(counts) == {e.id for e in pool}
    hip_ids = {e.id for e in LIBRARY if "hip_flexor" in e.focus}
    hip = sum(n for i, n in counts.items() if i in hip_ids)
    assert hip > 600 / 2


def test_known_sequence_for_a_fixed_seed() -> None:
    # Pins the algorithm: a change to selection shows up here, on purpose.
    rng = random.Random(2024)
    history = SelectionHistory()
    got = []
    for _ in range(4):
        sel = select_exercise(LIBRARY, "posture", "driver", "driving", history, rng)
        got.append(sel.exercise.id)
        history = history.recorded(sel)
    assert len(set(got)) == 4
    again_rng = random.Random(2024)
    history = SelectionHistory()
    again = []
    for _ in range(4):
        sel = select_exercise(LIBRARY, "posture", "driver", "driving", history, again_rng)
        again.append(sel.exercise.id)
        history = history.recorded(sel)
    assert got == again


def test_history_round_trips_through_json_and_drops_junk() -> None:
    history = SelectionHistory()
    for pick in [Pick("vehicle_lunge", "left"), Pick("chin_tucks"), Pick("vehicle_lunge", "right")]:
        history = history.recorded(pick)
    data = json.loads(json.dumps(history.to_dict()))
    assert SelectionHistory.from_dict(data) == history
    junk = {"picks": [["x", "up"], 5, ["ok_id", None], ["y"]], "last_sides": [["z", 3]]}
    assert SelectionHistory.from_dict(junk) == SelectionHistory(picks=(Pick("ok_id"),))
    assert SelectionHistory.from_dict({"picks": "nope"}) == SelectionHistory()


def test_history_is_bounded_but_remembers_sides() -> None:
    history = SelectionHistory().recorded(Pick("vehicle_lunge", "left"))
    for _ in range(HISTORY_MAX + 5):
        history = history.recorded(Pick("chin_tucks"))
    assert len(history.picks) == HISTORY_MAX
    assert history.last_side_of("vehicle_lunge") == "left"


def test_bad_arguments_are_one_clear_error() -> None:
    h, r = SelectionHistory(), random.Random(0)
    with pytest.raises(ValueError, match="prompt kind must be one of stretch, posture"):
        select_exercise(LIBRARY, "yoga", "desk", "desk", h, r)
    with pytest.raises(ValueError, match="profile must be one of desk, driver"):
        select_exercise(LIBRARY, "stretch", "pilot", "desk", h, r)
    with pytest.raises(ValueError, match="situation must be one of desk, driving, stopped"):
        select_exercise(LIBRARY, "stretch", "desk", "flying", h, r)


def test_a_library_with_nothing_for_the_situation_raises() -> None:
    desk_only = [e for e in LIBRARY if "driving_safe" not in e.tags]
    with pytest.raises(NoExerciseError, match="driving"):
        select_exercise(desk_only, "posture", "driver", "driving", SelectionHistory(),
                        random.Random(0))


def test_single_candidate_is_allowed_to_repeat() -> None:
    only: list[Exercise] = [e for e in LIBRARY if e.id == "drive_sit_tall"]
    history = SelectionHistory().recorded(Pick("drive_sit_tall"))
    sel = select_exercise(only, "posture", "driver", "driving", history, random.Random(0))
    assert sel.exercise.id == "drive_sit_tall"


def test_situation_for_profiles() -> None:
    assert situation_for("desk") == "desk"
    assert situation_for("driver") == "driving"
    assert situation_for("driver", stopped=True) == "stopped"


def test_notification_body_names_the_side() -> None:
    lunge = LIBRARY.get("vehicle_lunge")
    assert lunge is not None
    sel = select_exercise([lunge], "stretch", "driver", "stopped",
                          SelectionHistory().recorded(Pick("vehicle_lunge", "left")),
                          random.Random(0))
    assert sel.side == "right"
    assert notification_body(sel) == (
        "Hold 30 s, 2 times each side. Face your parked vehicle, hands on it at chest height. "
        "Step your right foot back, heel down, and tuck your pelvis.")
    assert notification_body(sel, spoken=True).startswith(
        "Hold 30 seconds, 2 times each side. Face your parked vehicle")


# ---- places (the `places` setting) and hidden exercises ----

place_sets = st.sets(st.sampled_from(PLACE_TAGS), min_size=1).map(
    lambda s: tuple(p for p in PLACE_TAGS if p in s))


@settings(max_examples=300, deadline=None)
@given(places=place_sets, prompt_kind=st.sampled_from(PROMPT_KINDS), history=histories,
       seed=st.integers(0, 2**32 - 1),
       hidden=st.sets(st.sampled_from(IDS), max_size=12))
def test_desk_picks_only_ever_fit_the_places_the_person_has(
    places: tuple[str, ...], prompt_kind: str, history: SelectionHistory, seed: int,
    hidden: set[str],
) -> None:
    """Whatever places (any non-empty set), history, hidden list and seed: a desk pick can be
    done in one of the person's places, and is hidden only when all that fits is hidden."""
    sel = select_exercise(LIBRARY, prompt_kind, "desk", "desk", history, random.Random(seed),
                          places=places, hidden=hidden)
    assert sel.exercise.tags & set(places), (places, sel.exercise.id, sorted(sel.exercise.tags))
    if sel.exercise.id in hidden:
        assert all(e.id in hidden for e in LIBRARY if e.tags & set(places))
        assert sel.fallback is not None and "hidden" in sel.fallback


def test_default_places_keep_the_floor_out_of_a_desk_day() -> None:
    """The issue's measurement: without `places`, about 1 stretch pick in 4 was a floor one."""
    rng = random.Random(17)
    history = SelectionHistory()
    for _ in range(400):
        sel = select_exercise(LIBRARY, "stretch", "desk", "desk", history, rng,
                              places=DEFAULT_PLACES)
        assert "floor" not in sel.exercise.tags or sel.exercise.tags & {"seated", "standing"}
        history = history.recorded(sel)
    floor_only = [e.id for e in LIBRARY if e.tags == {"floor"}]
    assert floor_only  # the library has them; the setting keeps them out


def test_floor_only_still_gets_a_posture_prompt() -> None:
    sel = select_exercise(LIBRARY, "posture", "desk", "desk", SelectionHistory(),
                          random.Random(5), places=("floor",))
    assert "floor" in sel.exercise.tags


def test_hidden_exercises_are_left_out() -> None:
    pool, _ = candidates(LIBRARY, "stretch", "desk", ("seated",))
    keep = pool[0].id
    hidden = {e.id for e in pool} - {keep}
    for seed in range(20):
        sel = select_exercise(LIBRARY, "stretch", "desk", "desk", SelectionHistory(),
                              random.Random(seed), places=("seated",), hidden=hidden)
        assert sel.exercise.id not in hidden


def test_no_place_at_all_is_an_error() -> None:
    with pytest.raises(ValueError, match="places must name at least one"):
        select_exercise(LIBRARY, "stretch", "desk", "desk", SelectionHistory(),
                        random.Random(0), places=())


@pytest.mark.parametrize(("raw", "expected"), [
    (["floor", "seated"], ("seated", "floor")),
    ("standing", ("standing",)),
    (["seated", "seated"], ("seated",)),
])
def test_places_values(raw: object, expected: tuple[str, ...]) -> None:
    assert validate_places(raw) == expected


@pytest.mark.parametrize("raw", [[], ["desk"], 5, [1], None, ["seated", "parked_cab"]])
def test_bad_places_values_are_one_line(raw: object) -> None:
    with pytest.raises(ValueError) as info:
        validate_places(raw)
    assert "\n" not in str(info.value) and "seated" in str(info.value)


def test_places_and_hidden_from_the_command_line() -> None:
    assert parse_places_text("Floor, seated") == ("seated", "floor")
    assert parse_places_text("standing floor") == ("standing", "floor")
    assert parse_hidden_text("glute_bridge, knee_rolls") == ("glute_bridge", "knee_rolls")
    assert parse_hidden_text("") == ()
    with pytest.raises(ValueError, match="not an exercise id"):
        parse_hidden_text("../etc")
    with pytest.raises(ValueError, match="up to 200"):
        validate_hidden([f"ex_{i}" for i in range(201)])
