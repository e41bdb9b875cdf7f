"""What may be shown and said WHILE DRIVING: hands on the wheel, eyes on the road, nothing to do.

Pure: stdlib only (plus the core exercise modules). Contract:

- `unsafe_phrases(text)` names every phrase that makes a text unfit while driving: anything that
  asks for the device (press, click, tap, touch, type, swipe, scroll, a button, the screen, the
  laptop, a menu, snooze/skip/dismiss), for the eyes (look at/down/away, glance, read, close your
  eyes), for a hand (reach, hands off, let go, one hand, lift an arm) or for leaving the seat
  (stand, walk, get out), and stretches (those are for stops). "press" is allowed only for a body
  part that is not a hand ("press your lower back into the seat"). `is_safe_while_driving(text)`
  is True when there is none.
- `DrivingNotice` has a title, a body and the speech text, and no actions field at all: a notice
  made here can never carry a button. The presenter says it, and puts it on the screen (plain)
  only while the vehicle stands. An exercise's notice gives the dose first.
- `choose_driving_notice` picks only from exercises tagged exactly `driving_safe`, of kind
  posture, whose title and prompt pass `is_safe_while_driving`, through the shared selection
  (`exercise_selection.select_exercise`, situation "driving": varied, never a recent repeat).
  An empty pool gives one of `GENERIC_DRIVING_PROMPTS`, never anything else.
- `notice_from_planner` turns a driving planner effect into a notice, or None when its words
  are not safe (the runtime logs it and says nothing).
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterable
from dataclasses import dataclass

from psoas_break.core.driving import (
    BreakCounted,
    BreakNotCounted,
    BreakWarning,
    DailyLimitReached,
    DrivingEffect,
    LimitReached,
)
from psoas_break.core.exercise_selection import SelectionHistory, select_exercise
from psoas_break.core.exercises import Exercise
from psoas_break.core.i18n import N_

# Titles stay English for the safety checks and logs; the presenter shows them localized.
DRIVING_TITLE = N_("Posture check")
PLANNER_TITLE = N_("Driving break")

# Used when the library has no usable driving_safe exercise (or none is given).
GENERIC_DRIVING_PROMPTS: tuple[tuple[str, str], ...] = (
    ("generic_sit_tall",
     "Hands on the wheel, eyes on the road: sit tall and let your shoulders drop."),
    ("generic_slow_breath",
     "Hands on the wheel, eyes on the road: breathe out slowly, a little longer than you "
     "breathe in."),
    ("generic_weight_shift",
     "Hands on the wheel, eyes on the road: settle your hips back in the seat and sit evenly."),
)

_HAND = r"(?:hands?|fingers?|thumbs?|palms?|arms?|wrists?)"
# (name shown in problems, pattern). Whole words and their forms, case-insensitive.
_UNSAFE_PATTERNS: tuple[tuple[str, str], ...] = (
    # "press" only for a body part that is not a hand: "press your lower back into the seat".
    ("press", rf"\bpress(?:es|ed|ing)?\b(?!\s+your\s+(?!{_HAND}\b)[a-z])"),
    ("click", r"\bclick\w*"),
    ("tap", r"\btap(?:s|ped|ping)?\b"),
    ("touch", r"\btouch\w*"),
    ("type", r"\btyp(?:e|es|ed|ing)\b"),
    ("swipe", r"\bswip\w*"),
    ("scroll", r"\bscroll\w*"),
    ("button", r"\bbuttons?\b"),
    ("the device", r"\b(?:screens?|displays?|laptops?|phones?|keyboards?|mouse|touchpad|"
                   r"trackpad|notifications?|menus?|tray|icons?|apps?)\b"),
    ("an answer", r"\b(?:snooze|skip|dismiss|confirm|answer|reply)\w*"),
    ("look", r"\blook(?:s|ed|ing)?\s+(?:at|down|away|over|behind|around|round|back)\b"),
    ("glance", r"\bglanc\w*"),
    ("read", r"\bread(?:s|ing)?\b"),
    ("eyes closed", r"\b(?:close|shut)\s+your\s+eyes\b|\beyes\s+(?:closed|shut)\b"),
    ("reach", r"\breach\w*"),
    ("a hand off the wheel",
     rf"\b{_HAND}\s+off\b|\blet\s+go\b|\bone\s+hand\b|\bfree\s+hand\b|"
     r"\btake\s+(?:a|one|your)\s+hand\b|\brelease\s+the\s+wheel\b"),
    ("lift a limb",
     rf"\b(?:lift|raise|swing|circle|shake)\w*\s+(?:your\s+|both\s+|one\s+)?"
     rf"(?:{_HAND}|legs?|knees?|feet|foot)\b"),
    ("stretch", r"\bstretch\w*"),
    ("leave the seat", r"\bstand(?:s|ing)?\b|\bwalk\w*|\bget\s+(?:out|up)\b|\bstep\s+out\b"),
    ("turn around", r"\bturn\w*\s+(?:your\s+)?(?:head|body|torso|around|round)\b|\btwist\w*"),
)
_UNSAFE_RES = tuple((name, re.compile(rx, re.IGNORECASE)) for name, rx in _UNSAFE_PATTERNS)


def unsafe_phrases(text: str) -> list[str]:
    """Names of the unsafe-while-driving phrases in `text` (see the module docstring)."""
    return [name for name, rx in _UNSAFE_RES if rx.search(text)]


def is_safe_while_driving(text: str) -> bool:
    """True when `text` asks for nothing but a posture change with hands and eyes kept on."""
    return not unsafe_phrases(text)


@dataclass(frozen=True)
class DrivingNotice:
    """A plain notice for while driving: show title + body, say `speech`. No actions, ever."""

    source_id: str
    title: str
    body: str
    speech: str


def exercise_problems(exercise: Exercise) -> list[str]:
    """One line per reason this exercise must not be offered while driving (empty: it may)."""
    problems: list[str] = []
    if exercise.tags != frozenset({"driving_safe"}):
        problems.append(f"exercise '{exercise.id}': not tagged only driving_safe")
    if exercise.kind != "posture":
        problems.append(f"exercise '{exercise.id}': kind {exercise.kind}, not posture")
    for field, text in (("title", exercise.title), ("prompt", exercise.prompt),
                        *((f"steps[{n}]", s) for n, s in enumerate(exercise.steps, start=1))):
        found = unsafe_phrases(text)
        if found:
            problems.append(f"exercise '{exercise.id}': field '{field}' is unsafe while driving: "
                            + ", ".join(found))
    return problems


def driving_safe_exercises(library: Iterable[Exercise]) -> tuple[Exercise, ...]:
    """The exercises that may be offered while driving (see `exercise_problems`)."""
    return tuple(e for e in library if not exercise_problems(e))


def notice_from_exercise(exercise: Exercise) -> DrivingNotice | None:
    """The notice for a driving-safe exercise, or None when it is not driving-safe. Dose first
    ("About 20 seconds. Hands on the wheel, ..."), the units written out in the speech."""
    if exercise_problems(exercise):
        return None
    # English for the checks (a Message's str value), shown and said in the active language:
    # the shipped exercise texts are in the translation catalog (`make pot` reads the TOML).
    prompt = N_(exercise.prompt)
    body = N_("{dose}. {prompt}", dose=exercise.dose_text(), prompt=prompt)
    speech = N_("{title}. {dose}. {prompt}", title=DRIVING_TITLE,
                dose=exercise.dose_text(spoken=True), prompt=prompt)
    return DrivingNotice(exercise.id, DRIVING_TITLE, body, speech)


def choose_driving_notice(library: Iterable[Exercise], history: SelectionHistory,
                          rng: random.Random) -> tuple[DrivingNotice, SelectionHistory]:
    """A posture notice to give while driving, and the selection history after it."""
    pool = driving_safe_exercises(library)
    if not pool:
        source_id, text = rng.choice(GENERIC_DRIVING_PROMPTS)
        return DrivingNotice(source_id, DRIVING_TITLE, text, f"{DRIVING_TITLE}. {text}"), history
    selection = select_exercise(pool, "posture", "driver", "driving", history, rng)
    notice = notice_from_exercise(selection.exercise)
    assert notice is not None  # the pool holds only exercises that make one
    return notice, history.recorded(selection)


def notice_from_planner(effect: DrivingEffect) -> DrivingNotice | None:
    """The notice for a planner effect, or None if its words are not safe while driving."""
    if not isinstance(effect, (BreakWarning, LimitReached, BreakCounted, DailyLimitReached,
                               BreakNotCounted)):
        return None
    if not (is_safe_while_driving(effect.text) and is_safe_while_driving(effect.speech)):
        return None
    return DrivingNotice(effect.effect_id, PLANNER_TITLE, effect.text, effect.speech)
