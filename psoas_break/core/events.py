"""Ticks and effects: what the sitting engine is given and what it asks its runtime to do.

The engine never reads a clock. Every call carries a `Tick`; every reaction is a list of
effects the runtime carries out (show a prompt, record an event, ...). Commands, the other
input, are in `core/commands.py`. Pure: stdlib only.

History events (`RecordEvent.kind`) and their `data` keys, the contract with the history store:

    sit_start      {}
    sit_end        {"reason": "break" | "natural" | "quit", "sit_s": float}
    prompt         {"prompt_kind": "stretch" | "posture", "prompt_id": int, "escalation": int}
    response       {"prompt_kind": "stretch", "prompt_id": int,
                    "response": "taken" | "snoozed" | "skipped" | "ignored" | "taken_idle"}
    break_start    {"planned_s": float, "prompted": bool}
    break_end      {"break_s": float, "completed": bool}
    natural_break  {"source": "idle" | "lock" | "suspend" | "gap", "away_s": float}
    pause          {"pause_s": float, "until": str (ISO 8601 wall time)}
    resume         {"reason": "user" | "expired"}
    off_hours      {"active": bool}
    prompt_deferred {"prompt_id": int}
    road           {"state": "driving" | "stopped" | "unknown", "held_s": float}
                   the driver profile's location source saw the vehicle driving or stopped,
                   a state that began `held_s` seconds before the event (the rule's hold);
                   "unknown": no fix for `held_s` seconds, stops are reported by hand again.
                   Only these intervals are kept: never a position.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

PromptKind = Literal["stretch", "posture"]


@dataclass(frozen=True)
class Tick:
    """One measurement of time, taken by the runtime's clock adapter.

    wall: aware local datetime (used only for calendar things: the day's counters, "until
        tomorrow", history timestamps); it may jump in either direction.
    mono_s: seconds on a monotonic clock that keeps counting through suspend (CLOCK_BOOTTIME
        on Linux); only its differences matter.
    idle_s: seconds since the last keyboard/mouse input, or None when no idle source exists.
    slept_s: cumulative seconds spent suspended (BOOTTIME - MONOTONIC on Linux), 0 if unknown.
    """

    wall: datetime
    mono_s: float
    idle_s: float | None = None
    slept_s: float = 0.0


@dataclass(frozen=True)
class ShowPrompt:
    """Show (or replace) the prompt. `note` explains escalation or the snooze cap; `lead`
    comes first, before the title (a prompt held through a long call: "That call was 52
    minutes.")."""

    prompt_id: int
    kind: PromptKind
    escalation: int = 0
    snooze_allowed: bool = True
    note: str | None = None
    lead: str | None = None


@dataclass(frozen=True)
class ClosePrompt:
    """Withdraw the prompt with this id (it was answered, or is stale)."""

    prompt_id: int


@dataclass(frozen=True)
class ShowNotice:
    """A short message for the user (status line and/or a quiet notification)."""

    text: str


@dataclass(frozen=True)
class RecordEvent:
    """Append one event to the history (see the module docstring for kinds)."""

    kind: str
    wall: datetime
    mono_s: float
    data: dict[str, Any] = field(default_factory=dict)


Effect = ShowPrompt | ClosePrompt | ShowNotice | RecordEvent
