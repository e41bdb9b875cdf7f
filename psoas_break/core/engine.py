"""The sitting engine: a pure state machine driven by ticks and commands, returning effects.

It never reads a clock. Time enters only through `Tick`: sitting grows by the difference of
`mono_s` between ticks (a monotonic clock that includes suspend), so a wall clock that jumps
(DST, NTP, a time-zone change) changes nothing but calendar things (history timestamps). Every
countdown (stretch, posture, snooze, break, pause) is remaining seconds, never a wall deadline.

States:
    sitting      counting sitting time towards the next stretch break
    prompt_due   a stretch prompt is showing; it repeats every `snooze_min` until answered
    on_break     a break is running for `break_min`
    paused       no prompts and no counting until the pause's countdown ends (or Resume)
    away         idle, locked or asleep for at least `natural_break_min`: a natural break
    off_hours    outside working hours: nothing counts and nothing is shown (reported as the
                 state while it lasts; underneath, the other state is kept)

One long gap between ticks (suspend, a stopped process) of at least `natural_break_min` is a
natural break; one tick never yields more than one prompt, so no burst of overdue prompts.

Profiles: "desk" lets idle input count as a natural break; "driver" never does (a driver does
not touch the laptop while driving), only a lock/suspend/gap does. A driver's break lasts
until "Back on the road" (EndBreak): a stop is as long as the road allows, not `break_min`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, time, timedelta, timezone
from typing import Any, Literal

from psoas_break.core.commands import (
    ApplySettings,
    DeferPrompt,
    EndBreak,
    EngineCommand,
    OffHours,
    Pause,
    PauseUntilTomorrow,
    ReleasePrompt,
    Resume,
    ScreenLock,
    Skip,
    Snooze,
    TakeBreak,
)
from psoas_break.core.events import (
    ClosePrompt,
    Effect,
    PromptKind,
    RecordEvent,
    ShowNotice,
    ShowPrompt,
    Tick,
)
from psoas_break.core.i18n import N_, Message
from psoas_break.core.settings import Settings

State = Literal["sitting", "prompt_due", "on_break", "paused", "away", "off_hours"]

# Notices and prompt notes are `N_` messages: English text (what the driving-safety check and
# the log read) that the presenter shows in the user's language. English values keep the old
# "Nothing to snooze while on break." wording.
_STATE_WORDS: dict[str, Message] = {
    "on_break": N_("on break"),
    "paused": N_("paused"),
    "away": N_("away"),
    "off_hours": N_("off hours"),
}


def _state_words(state: str) -> str:
    return _STATE_WORDS.get(state) or state.replace("_", " ")

# Settings are in minutes; the engine counts seconds.
MINUTE_S = 60.0
# Differences of monotonic readings carry float rounding (1000.525 + 300 - 1000.525 is
# 299.99999999999994): a gap this close to a natural break counts as one.
GAP_TOLERANCE_S = 1e-6

# A posture prompt never comes this close before a stretch break is due (nor while one is
# pending or snoozed): two prompts within a few minutes feel like nagging.
POSTURE_GUARD_S = 180.0


@dataclass(frozen=True)
class NextPrompt:
    kind: PromptKind
    in_s: float


@dataclass(frozen=True)
class Status:
    """A snapshot for the tray, the CLI's `status` and tests (today's figures come from the
    history events, through `core.stats`: one source for the tray and `psoas-break stats`)."""

    state: State
    profile: str
    sitting_s: float
    next_prompt: NextPrompt | None
    paused_until: datetime | None
    pause_left_s: float | None
    break_left_s: float | None
    snoozes_in_row: int
    snoozed: bool
    locked: bool


class SittingEngine:
    """Owns the sitting state. Not thread-safe: one thread (the runtime's) calls it."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._state: State = "sitting"
        self._last: Tick | None = None
        self._sitting_s = 0.0
        self._stretch_in_s = self._stretch_s
        self._posture_in_s = self._posture_s
        self._snoozed = False
        self._snoozes_in_row = 0
        self._escalation = 0
        self._reprompt_in_s = 0.0
        self._prompt_id = 0
        self._open_prompt: int | None = None
        self._break_left_s = 0.0
        self._break_taken_s = 0.0
        self._pause_left_s = 0.0
        self._paused_until: datetime | None = None
        self._locked = False
        self._locked_s = 0.0
        self._off_hours = False
        self._deferred = False

    # ---- derived settings ----

    @property
    def settings(self) -> Settings:
        return self._settings

    @property
    def state(self) -> State:
        return "off_hours" if self._off_hours and self._state != "paused" else self._state

    @property
    def _stretch_s(self) -> float:
        return self._settings.stretch_every_min * MINUTE_S

    @property
    def _posture_s(self) -> float | None:
        minutes = self._settings.posture_every_min
        return minutes * MINUTE_S if minutes > 0 else None

    @property
    def _natural_s(self) -> float:
        return self._settings.natural_break_min * MINUTE_S

    @property
    def _snooze_s(self) -> float:
        return self._settings.snooze_min * MINUTE_S

    @property
    def _idle_counts(self) -> bool:
        return self._settings.profile != "driver"

    # ---- public API ----

    def tick(self, tick: Tick) -> list[Effect]:
        """Advance to `tick`; returns the effects to carry out (at most one prompt)."""
        effects: list[Effect] = []
        last = self._last
        self._last = tick
        if last is None:
            effects.append(self._event(tick, "sit_start"))
        else:
            dt_s = max(0.0, tick.mono_s - last.mono_s)
            slept_s = min(dt_s, max(0.0, tick.slept_s - last.slept_s))
            # A gap of exactly a natural break is one, whatever float rounding did to it.
            if dt_s >= self._natural_s - GAP_TOLERANCE_S:
                self._on_long_gap(tick, dt_s, slept_s, effects)
            else:
                counted_s = dt_s
                if slept_s > 0 and self._settings.short_away == "pause":
                    counted_s -= slept_s
                self._advance(tick, dt_s, counted_s, effects)
        return effects

    def command(self, command: EngineCommand, tick: Tick) -> list[Effect]:
        """Advance to `tick`, then apply `command`."""
        effects = self.tick(tick)
        _COMMANDS[type(command)](self, command, tick, effects)
        return effects

    def shutdown(self, tick: Tick) -> list[Effect]:
        """The app is quitting: close the open sit in the history (reason "quit")."""
        effects = self.tick(tick)
        if self._state in ("sitting", "prompt_due") and not self._off_hours:
            effects.append(self._end_sit(tick, "quit"))
        return effects

    def seconds_until_next_deadline(self) -> float | None:
        """Monotonic seconds until something is due if nothing else happens, or None (the
        runtime sleeps no longer than this, nor than its idle-poll interval)."""
        candidates: list[float] = []
        if self._off_hours and self._state != "paused":
            return None
        if self._state == "paused":
            candidates.append(self._pause_left_s)
        elif self._state == "on_break":
            # A driver's break is open-ended: once its planned length has passed nothing more
            # is due (counting 0 here woke the loop 20 times a second for the rest of a stop).
            if self._break_left_s > 0 or self._settings.profile != "driver":
                candidates.append(self._break_left_s)
        elif self._state == "prompt_due":
            if not self._deferred:
                candidates.append(self._reprompt_in_s)
        elif self._state == "sitting" and not self._locked:
            candidates.append(self._stretch_in_s)
            if self._posture_in_s is not None:
                candidates.append(self._posture_in_s)
        if not candidates:
            return None
        return max(0.0, min(candidates))

    def status(self) -> Status:
        """The current snapshot."""
        paused = self._state == "paused"
        return Status(
            state=self.state, profile=self._settings.profile, sitting_s=self._sitting_s,
            next_prompt=self._next_prompt(),
            paused_until=self._paused_until if paused else None,
            pause_left_s=self._pause_left_s if paused else None,
            break_left_s=self._break_left_s if self._state == "on_break" else None,
            snoozes_in_row=self._snoozes_in_row, snoozed=self._snoozed, locked=self._locked)

    # ---- time passing ----

    def _advance(self, tick: Tick, dt_s: float, counted_s: float, effects: list[Effect]) -> None:
        if self._state == "paused":
            self._pause_left_s -= dt_s
            if self._pause_left_s > 0:
                idle_s = tick.idle_s if self._idle_counts else None
                if idle_s is not None and idle_s >= self._natural_s and self._sitting_s > 0:
                    self._natural_break(tick, "idle", idle_s, effects)
                return
            # Only the part of this step after the pause ended is sitting.
            counted_s = min(counted_s, -self._pause_left_s)
            self._end_pause(tick, "expired", effects)
        if self._state == "on_break":
            self._break_left_s -= dt_s
            self._break_taken_s += dt_s
            # A driver's break is open-ended: it lasts until "Back on the road".
            if self._break_left_s <= 0 and self._settings.profile != "driver":
                self._finish_break(tick, completed=True, effects=effects)
            return
        if self._off_hours:
            return
        if self._locked:
            self._locked_s += dt_s
            if self._state != "away" and self._locked_s >= self._natural_s:
                self._enter_away(tick, "lock", self._locked_s, effects)
            if self._state == "away" or self._settings.short_away == "pause":
                return
        idle_s = tick.idle_s if self._idle_counts else None
        if self._state == "away":
            if self._locked or (idle_s is not None and idle_s >= self._natural_s):
                return
            self._state = "sitting"
            effects.append(self._event(tick, "sit_start"))
            return
        if idle_s is not None and idle_s >= self._natural_s:
            # The idle seconds before this step were counted as sitting; they were not.
            overcount_s = max(0.0, min(self._sitting_s, idle_s - dt_s))
            self._sitting_s -= overcount_s
            self._enter_away(tick, "idle", idle_s, effects)
            return
        if (self._state == "prompt_due" and idle_s is not None
                and idle_s >= self._settings.break_min * MINUTE_S):
            # They got up without clicking: the prompt did its job.
            self._respond(tick, "taken_idle", effects)
            self._reset_sitting(tick, "break", effects)
            return
        self._count_sitting(counted_s)
        self._due_prompts(tick, effects)

    def _count_sitting(self, counted_s: float) -> None:
        if counted_s <= 0:
            return
        self._sitting_s += counted_s
        self._stretch_in_s -= counted_s
        if self._posture_in_s is not None:
            self._posture_in_s -= counted_s
        if self._state == "prompt_due":
            self._reprompt_in_s -= counted_s

    def _due_prompts(self, tick: Tick, effects: list[Effect]) -> None:
        if self._locked:
            return
        if self._state == "sitting" and self._stretch_in_s <= 0:
            self._state = "prompt_due"
            self._snoozed = False
            self._show_stretch(tick, effects)
            return
        if self._state == "prompt_due" and self._reprompt_in_s <= 0 and not self._deferred:
            self._respond(tick, "ignored", effects)
            self._escalation += 1
            self._show_stretch(tick, effects)
            return
        if self._posture_in_s is not None and self._posture_in_s <= 0:
            posture_s = self._posture_s or 0.0
            self._posture_in_s = posture_s
            if (self._state == "sitting" and not self._snoozed
                    and self._stretch_in_s > POSTURE_GUARD_S):
                self._show_posture(tick, effects)

    def _on_long_gap(self, tick: Tick, dt_s: float, slept_s: float, effects: list[Effect]) -> None:
        """A gap of at least a natural break: it was one, whatever state we were in."""
        source = "suspend" if slept_s >= self._natural_s else "gap"
        if self._state == "paused":
            self._pause_left_s -= dt_s
            if self._pause_left_s <= 0:
                self._end_pause(tick, "expired", effects)
        if self._state == "on_break":
            self._break_taken_s += dt_s
            self._finish_break(tick, completed=True, effects=effects)
            return
        if self._state == "paused":
            if self._sitting_s > 0:
                self._natural_break(tick, source, dt_s, effects)
            return
        was_away = self._state == "away"
        if not was_away:
            self._natural_break(tick, source, dt_s, effects)
        idle_s = tick.idle_s if self._idle_counts else None
        still_away = self._locked or (idle_s is not None and idle_s >= self._natural_s)
        if still_away:
            self._state = "away"
        else:
            self._state = "sitting"
            effects.append(self._event(tick, "sit_start"))

    # ---- transitions ----

    def _natural_break(self, tick: Tick, source: str, away_s: float, effects: list[Effect]) -> None:
        effects.append(self._event(tick, "natural_break", source=source, away_s=away_s))
        self._reset_sitting(tick, "natural", effects, start_new=False)

    def _enter_away(self, tick: Tick, source: str, away_s: float, effects: list[Effect]) -> None:
        self._natural_break(tick, source, away_s, effects)
        self._state = "away"

    def _reset_sitting(self, tick: Tick, reason: str, effects: list[Effect],
                       start_new: bool = True) -> None:
        self._close_prompt(effects)
        effects.append(self._end_sit(tick, reason))
        self._sitting_s = 0.0
        self._stretch_in_s = self._stretch_s
        self._posture_in_s = self._posture_s
        self._snoozed = False
        self._snoozes_in_row = 0
        self._escalation = 0
        if self._state not in ("paused",):
            self._state = "sitting"
        if start_new and self._state == "sitting":
            effects.append(self._event(tick, "sit_start"))

    def _show_stretch(self, tick: Tick, effects: list[Effect]) -> None:
        self._deferred = False
        self._prompt_id += 1
        self._close_prompt(effects)
        self._open_prompt = self._prompt_id
        self._reprompt_in_s = self._snooze_s
        allowed = self._snoozes_in_row < self._settings.max_snoozes
        note: str | None = None
        if not allowed and self._settings.max_snoozes > 0:
            note = N_("You have snoozed {count} times in a row: time to get up.",
                      count=self._snoozes_in_row)
        elif self._escalation > 0:
            note = N_("Reminder {number}: you have been sitting a while.",
                      number=self._escalation + 1)
        effects.append(ShowPrompt(self._prompt_id, "stretch", self._escalation, allowed, note))
        effects.append(self._event(tick, "prompt", prompt_kind="stretch",
                                   prompt_id=self._prompt_id, escalation=self._escalation))

    def _show_posture(self, tick: Tick, effects: list[Effect]) -> None:
        self._prompt_id += 1
        effects.append(ShowPrompt(self._prompt_id, "posture", 0, False, None))
        effects.append(self._event(tick, "prompt", prompt_kind="posture",
                                   prompt_id=self._prompt_id, escalation=0))

    def _respond(self, tick: Tick, response: str, effects: list[Effect]) -> None:
        effects.append(self._event(tick, "response", prompt_kind="stretch",
                                   prompt_id=self._prompt_id, response=response))

    def _finish_break(self, tick: Tick, completed: bool, effects: list[Effect]) -> None:
        effects.append(self._event(tick, "break_end", break_s=self._break_taken_s,
                                   completed=completed))
        self._state = "sitting"
        self._break_left_s = 0.0
        effects.append(ShowNotice(N_("Break over. Welcome back.")))
        effects.append(self._event(tick, "sit_start"))

    def _end_pause(self, tick: Tick, reason: str, effects: list[Effect]) -> None:
        self._state = "sitting"
        self._pause_left_s = 0.0
        self._paused_until = None
        effects.append(self._event(tick, "resume", reason=reason))
        if reason == "expired":
            effects.append(ShowNotice(N_("Pause over: reminders are back on.")))

    def _end_sit(self, tick: Tick, reason: str) -> RecordEvent:
        return self._event(tick, "sit_end", reason=reason, sit_s=self._sitting_s)

    def _event(self, tick: Tick, kind: str, **data: object) -> RecordEvent:
        return RecordEvent(kind, tick.wall, tick.mono_s, dict(data))

    def _close_prompt(self, effects: list[Effect]) -> None:
        if self._open_prompt is not None:
            effects.append(ClosePrompt(self._open_prompt))
            self._open_prompt = None

    def _next_prompt(self) -> NextPrompt | None:
        if self._state in ("paused", "away", "on_break") or self._locked or self._off_hours:
            return None
        if self._state == "prompt_due":
            return NextPrompt("stretch", max(0.0, self._reprompt_in_s))
        stretch = NextPrompt("stretch", max(0.0, self._stretch_in_s))
        posture_in = self._posture_in_s
        if (posture_in is not None and not self._snoozed
                and posture_in < self._stretch_in_s - POSTURE_GUARD_S):
            return NextPrompt("posture", max(0.0, posture_in))
        return stretch

    # ---- commands ----

    def _cmd_take_break(self, _cmd: TakeBreak, tick: Tick, effects: list[Effect]) -> None:
        if self._state == "on_break":
            return
        if self._state == "paused":
            self._end_pause(tick, "user", effects)
        prompted = self._state == "prompt_due"
        if prompted:
            self._respond(tick, "taken", effects)
        self._close_prompt(effects)
        if self._state != "away":
            effects.append(self._end_sit(tick, "break"))
        self._state = "on_break"
        self._break_left_s = self._settings.break_min * MINUTE_S
        self._break_taken_s = 0.0
        self._sitting_s = 0.0
        self._stretch_in_s = self._stretch_s
        self._posture_in_s = self._posture_s
        self._snoozed = False
        self._snoozes_in_row = 0
        self._escalation = 0
        effects.append(self._event(tick, "break_start", planned_s=self._break_left_s,
                                   prompted=prompted))

    def _cmd_end_break(self, _cmd: EndBreak, tick: Tick, effects: list[Effect]) -> None:
        if self._state == "on_break":
            self._finish_break(tick, completed=self._break_left_s <= 0, effects=effects)

    def _cmd_snooze(self, cmd: Snooze, tick: Tick, effects: list[Effect]) -> None:
        if self._state not in ("sitting", "prompt_due"):
            effects.append(ShowNotice(N_("Nothing to snooze while {state}.",
                                         state=_state_words(self._state))))
            return
        snooze_s = cmd.seconds if cmd.seconds is not None else self._snooze_s
        if self._state == "prompt_due":
            if self._snoozes_in_row >= self._settings.max_snoozes:
                effects.append(ShowNotice(N_(
                    "Snoozed {count} times in a row already: take the break or skip it.",
                    count=self._snoozes_in_row)))
                return
            self._respond(tick, "snoozed", effects)
            self._snoozes_in_row += 1
            self._escalation += 1
            self._close_prompt(effects)
            self._state = "sitting"
            self._stretch_in_s = snooze_s
        else:
            self._stretch_in_s = max(self._stretch_in_s, 0.0) + snooze_s
        self._snoozed = True

    def _cmd_skip(self, _cmd: Skip, tick: Tick, effects: list[Effect]) -> None:
        if self._state not in ("sitting", "prompt_due"):
            effects.append(ShowNotice(N_("Nothing to skip while {state}.",
                                         state=_state_words(self._state))))
            return
        self._respond(tick, "skipped", effects)
        self._close_prompt(effects)
        self._state = "sitting"
        self._stretch_in_s = self._stretch_s
        if self._posture_in_s is not None:
            # A posture prompt right after a stretch prompt would feel like nagging.
            self._posture_in_s = max(self._posture_in_s, POSTURE_GUARD_S)
        self._snoozed = False
        self._snoozes_in_row = 0
        self._escalation = 0

    def _cmd_pause(self, cmd: Pause, tick: Tick, effects: list[Effect]) -> None:
        self._start_pause(max(1.0, float(cmd.seconds)), tick, effects)

    def _cmd_pause_tomorrow(self, _cmd: PauseUntilTomorrow, tick: Tick,
                            effects: list[Effect]) -> None:
        # "Tomorrow" is the start of the next working period when working hours are set.
        target = self._settings.working_hours.next_start(tick.wall)
        seconds = (seconds_until_next_day(tick.wall) if target is None
                   else real_seconds_between(tick.wall, target))
        self._start_pause(max(1.0, seconds), tick, effects)

    def _start_pause(self, seconds: float, tick: Tick, effects: list[Effect]) -> None:
        if self._state == "on_break":
            self._finish_break(tick, completed=False, effects=effects)
        self._close_prompt(effects)
        if self._state == "prompt_due":
            # The prompt comes back when the pause ends; the pause is not an answer to it.
            self._stretch_in_s = 0.0
        if self._state == "away":
            effects.append(self._event(tick, "sit_start"))
        self._state = "paused"
        self._pause_left_s = seconds
        self._paused_until = add_real_seconds(tick.wall, seconds)
        effects.append(self._event(tick, "pause", pause_s=seconds,
                                   until=self._paused_until.isoformat()))

    def _cmd_resume(self, _cmd: Resume, tick: Tick, effects: list[Effect]) -> None:
        if self._state == "paused":
            self._end_pause(tick, "user", effects)
        elif self._state == "on_break":
            # "Resume" during a break means back to work (a driver's "Back on the road").
            self._finish_break(tick, completed=self._break_left_s <= 0, effects=effects)

    def _cmd_lock(self, cmd: ScreenLock, tick: Tick, effects: list[Effect]) -> None:
        if cmd.locked == self._locked:
            return
        self._locked = cmd.locked
        if cmd.locked:
            # An open prompt stays open (the notification server shows it after unlock);
            # no new prompt is shown while locked, see _due_prompts.
            self._locked_s = 0.0
            return
        if self._state == "away":
            idle_s = tick.idle_s if self._idle_counts else None
            if idle_s is None or idle_s < self._natural_s:
                self._state = "sitting"
                effects.append(self._event(tick, "sit_start"))

    def _cmd_defer(self, cmd: DeferPrompt, tick: Tick, effects: list[Effect]) -> None:
        if self._state == "prompt_due" and cmd.prompt_id == self._open_prompt:
            self._deferred = True
            effects.append(self._event(tick, "prompt_deferred", prompt_id=cmd.prompt_id))

    def _cmd_release(self, cmd: ReleasePrompt, _tick: Tick, _effects: list[Effect]) -> None:
        if self._deferred and cmd.prompt_id == self._open_prompt:
            self._deferred = False
            self._reprompt_in_s = self._snooze_s

    def _cmd_off_hours(self, cmd: OffHours, tick: Tick, effects: list[Effect]) -> None:
        if cmd.active == self._off_hours:
            return
        self._off_hours = cmd.active
        effects.append(self._event(tick, "off_hours", active=cmd.active))
        if cmd.active:
            self._close_prompt(effects)
            if self._state == "prompt_due":
                # The day is over: the prompt does not wait for tomorrow.
                self._state = "sitting"
                self._stretch_in_s = self._stretch_s
            if self._state == "on_break":
                self._finish_break(tick, completed=False, effects=effects)

    def _cmd_apply(self, cmd: ApplySettings, tick: Tick, effects: list[Effect]) -> None:
        new: Settings = cmd.settings
        old_stretch_s = self._stretch_s
        old_posture_s = self._posture_s
        self._settings = new
        if not self._snoozed and self._state == "sitting":
            elapsed_s = old_stretch_s - self._stretch_in_s
            self._stretch_in_s = self._stretch_s - elapsed_s
        new_posture_s = self._posture_s
        if new_posture_s is None:
            self._posture_in_s = None
        elif old_posture_s is None or self._posture_in_s is None:
            self._posture_in_s = new_posture_s
        else:
            elapsed_s = old_posture_s - self._posture_in_s
            self._posture_in_s = max(1.0, new_posture_s - elapsed_s)
        if self._state == "sitting":
            self._due_prompts(tick, effects)


# Each engine command's handler: (engine, command, tick, effects to append to).
_COMMANDS: dict[type, Callable[[SittingEngine, Any, Tick, list[Effect]], None]] = {
    TakeBreak: SittingEngine._cmd_take_break, EndBreak: SittingEngine._cmd_end_break,
    Snooze: SittingEngine._cmd_snooze, Skip: SittingEngine._cmd_skip,
    Pause: SittingEngine._cmd_pause, PauseUntilTomorrow: SittingEngine._cmd_pause_tomorrow,
    Resume: SittingEngine._cmd_resume, ScreenLock: SittingEngine._cmd_lock,
    ApplySettings: SittingEngine._cmd_apply, OffHours: SittingEngine._cmd_off_hours,
    DeferPrompt: SittingEngine._cmd_defer, ReleasePrompt: SittingEngine._cmd_release,
}


def seconds_until_next_day(wall: datetime) -> float:
    """Real seconds from `wall` to the next local midnight of its own time zone (at least 1)."""
    tomorrow = wall.date() + timedelta(days=1)
    target = datetime.combine(tomorrow, time(0), tzinfo=wall.tzinfo)
    return max(1.0, real_seconds_between(wall, target))


def real_seconds_between(start: datetime, end: datetime) -> float:
    """Elapsed seconds between two aware datetimes. (Python subtracts two datetimes that share
    a tzinfo as plain clock readings, an hour off across a DST change; UTC counts real time.)"""
    return (end.astimezone(timezone.utc) - start.astimezone(timezone.utc)).total_seconds()


def add_real_seconds(wall: datetime, seconds: float) -> datetime:
    """`wall` plus real seconds, as a local time in `wall`'s zone (DST-correct)."""
    moved = wall.astimezone(timezone.utc) + timedelta(seconds=seconds)
    return moved.astimezone(wall.tzinfo)
