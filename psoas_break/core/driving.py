"""Driving-break planning for the driver profile: a pure state machine on monotonic seconds.

psoas-break is an aid for comfort, never a tachograph or electronic logging device: nothing here
records or proves anything, and no text it makes claims that the driver keeps the law. The rule
sets only follow the two break rules stated in shared/health-content.md:

    "eu"   Regulation (EC) 561/2006, Art. 7: after 4 h 30 of driving, a break of at least 45 min.
           It may be split: a first part of at least 15 min, followed later by a second part of
           at least 30 min. So 15 then 30 satisfies; 30 then 15 does not (the 30 only counts as
           the first part); a stop under 15 min counts for nothing. Any stop of 45 min or more
           is a full break. A stop that starts once 4 h 30 is reached is never a first part
           (only the whole break will do then). Also the day's driving against 9 h
           (information only).
    "us"   FMCSA 49 CFR 395.3(a)(3)(ii): no driving after 8 cumulative hours of driving without
           an interruption of at least 30 consecutive minutes; here any stop of 30 min or more.
    "off"  No planning: driving time is still counted, no warnings, no limit.

Contract:
- Time enters only as `mono_s` (seconds on a monotonic clock that keeps counting through suspend;
  only differences matter). There is no wall-clock parameter anywhere, so time-zone changes, DST
  and NTP steps cannot affect the plan. A `mono_s` smaller than the last one counts as no time
  passing (never negative time).
- Phases: "not_started" -> start_driving -> "driving" <-> stop / resume <-> "stopped".
  Driving time grows only while "driving". A stop counts when it reaches a qualifying length (at
  the tick that sees it, or at resume), so its effect does not wait for "Back on the road".
- `stop(mono_s)` may name a moment earlier than the last call (a lock noticed late): the driving
  counted since then is taken back, never beyond the start of the current driving stretch.
- `gap(mono_s, away_s)`: the laptop was closed, suspended or locked for `away_s` seconds ending at
  `mono_s`. It is a stop. While driving it ends as the laptop comes back and driving is counted
  again (the conservative guess: counting too much driving only warns earlier); while stopped it
  is part of the stop.
- A stop of at least `NOT_COUNTED_FROM_MIN` that ends (the vehicle moves, "Back on the road")
  before it counted for anything gives `BreakNotCounted` at `resume`: under US rules a stop cut
  short before 30 min is no break, and the driver must hear it, not find out later.
- Break suggestions (the warnings and the limit) end with `FATIGUE_LINE`: sleepiness at the
  wheel is fixed only by stopping and resting, never by an exercise (health-content.md).
- Warnings: 30 and 15 minutes of driving before the limit, each given at most once per driving
  period (the driving between two qualifying breaks), then "limit reached" once, exactly on the
  call at which driving time reaches the limit. One call never yields a burst: when a single step
  jumps past several thresholds, only the most urgent effect is returned and the others count as
  given. Effect ids are stable strings ("p3:warn30", "p3:limit", ...) for the runtime to speak
  each once.
- The daily driving counter resets after one stop of at least `DAILY_RESET_MIN` (9 h: the
  shortest daily rest 561/2006 knows, the reduced daily rest, which is also the long part of a
  split 3 + 9 rest; a shorter threshold would make the counter under-report), never at midnight:
  a driver on the road at midnight is still in the same driving day.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

from psoas_break.core.i18n import N_, _

Rules = Literal["eu", "us", "off"]
Phase = Literal["not_started", "driving", "stopped"]
CountedAs = Literal["first_part", "full"]

RULES: tuple[str, ...] = ("eu", "us", "off")

# Notification texts are `N_` messages: English values (what the driving-safety check in
# core.driving_prompts reads), shown in the user's language by the presenter. Spoken texts
# stay English: they spell numbers out in English words.
DRIVER_DISCLAIMER = N_("psoas-break is an aid for comfort, not a tachograph or electronic "
                       "logging device. Follow the law and your company's rules.")

# Said with every break suggestion, and nothing else about tiredness (health-content.md:
# road-safety bodies say fresh air, music or breathing do not help; only a stop and rest do).
FATIGUE_LINE = N_("If you feel sleepy, stop somewhere safe and rest.")

# A stop this long that ends before it counted is said to have not counted (a traffic jam's
# few still minutes are not a break attempt, and are not worth a word).
NOT_COUNTED_FROM_MIN = 10

# Minutes of driving left at which a spoken warning is given, most distant first.
WARN_BEFORE_MIN: tuple[int, ...] = (30, 15)
# 561/2006 reduced daily rest (also the 9 h part of a split regular daily rest).
DAILY_RESET_MIN = 9 * 60
MINUTE_S = 60.0  # every rule is in minutes; the engine's time is in seconds


@dataclass(frozen=True)
class RuleSet:
    """One rule set in minutes. None means "not part of this rule set"."""

    name: str
    limit_min: int | None  # driving before a break is needed
    full_break_min: int | None  # one stop of this length is the break
    split_first_min: int | None  # first part of a split break
    split_second_min: int | None  # second part, after a first part
    daily_limit_min: int | None  # information only


RULE_SETS: dict[str, RuleSet] = {
    "eu": RuleSet("eu", 270, 45, 15, 30, 9 * 60),
    "us": RuleSet("us", 8 * 60, 30, None, None, None),
    "off": RuleSet("off", None, None, None, None, None),
}


@dataclass(frozen=True)
class BreakWarning:
    """Driving time before the break is running out. Safe to speak while driving."""

    effect_id: str
    minutes_left: int
    text: str
    speech: str


@dataclass(frozen=True)
class LimitReached:
    """Driving time before the break is used up. Safe to speak while driving."""

    effect_id: str
    text: str
    speech: str


@dataclass(frozen=True)
class BreakCounted:
    """The current stop now counts: as the first part of a split break, or as the full break
    (the driving counter starts again at zero)."""

    effect_id: str
    counted_as: CountedAs
    text: str
    speech: str


@dataclass(frozen=True)
class DailyLimitReached:
    """The day's driving reached the rule set's daily figure (information only)."""

    effect_id: str
    text: str
    speech: str


@dataclass(frozen=True)
class BreakNotCounted:
    """The stop ended (the vehicle moved) after `stop_min` minutes, before the `needed_min` it
    needed to count for anything: the break is still to take. Safe to speak while driving."""

    effect_id: str
    stop_min: int
    needed_min: int
    text: str
    speech: str


DrivingEffect = BreakWarning | LimitReached | BreakCounted | DailyLimitReached | BreakNotCounted


@dataclass(frozen=True)
class DrivingStatus:
    """A snapshot as of the last call (call `tick` first for a fresh one).

    driving_s: driving since the last qualifying break (never negative).
    left_s: driving left before the break is needed (0 once reached); None with rules "off".
    next_break_min / next_break: what the next break must be, e.g. 45 / "45 min"; None if "off".
    stop_s: length of the current stop so far; None unless stopped.
    stop_left_s: more stopping needed for this stop to be the full break; None unless stopped
        with rules on (0 once it counts).
    daily_driving_s / daily_limit_s: the driving day's total and its limit (None: no limit).
    """

    rules: str
    phase: Phase
    period: int
    driving_s: float
    limit_s: float | None
    left_s: float | None
    next_break_min: int | None
    next_break: str | None
    first_part_done: bool
    stop_s: float | None
    stop_left_s: float | None
    stop_counted_as: CountedAs | None
    daily_driving_s: float
    daily_limit_s: float | None


def check_rules(rules: str) -> Rules:
    """`rules` if it is a known rule set; ValueError (one line) otherwise."""
    if rules not in RULE_SETS:
        raise ValueError(f"driver_rules = {rules!r} is not allowed: use one of " + ", ".join(RULES))
    return rules  # type: ignore[return-value]  # checked against RULE_SETS above


def _check_seconds(name: str, value: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number of seconds, got {value!r}")
    return float(value)


class BreakPlanner:
    """The driving day and the next break. Not thread-safe: the runtime's thread calls it.

    Every command returns the effects to carry out (possibly none).
    """

    def __init__(self, rules: str = "eu") -> None:
        self._rules: RuleSet = RULE_SETS[check_rules(rules)]
        self._daily_reset_s = DAILY_RESET_MIN * MINUTE_S
        self._phase: Phase = "not_started"
        self._last_mono: float | None = None
        self._driving_s = 0.0
        self._daily_s = 0.0
        self._period = 1
        self._day = 1
        self._issued: set[str] = set()
        self._first_part_done = False
        self._drive_start = 0.0
        self._stop_start = 0.0
        self._stop_first_before = False
        self._stop_may_split = True
        self._stop_counted: CountedAs | None = None
        self._stop_day_reset = False
        self._stops = 0

    @property
    def rules(self) -> str:
        return self._rules.name

    @property
    def phase(self) -> Phase:
        return self._phase

    def set_rules(self, rules: str, mono_s: float) -> list[DrivingEffect]:
        """Switch rule set now; counters are kept, warnings already given are not repeated."""
        new = RULE_SETS[check_rules(rules)]
        effects = self.tick(mono_s)
        self._rules = new
        if new.split_first_min is None:
            self._first_part_done = False
        effects.extend(self._after_change())
        return effects

    def start_driving(self, mono_s: float) -> list[DrivingEffect]:
        """Driving starts (or goes on: the same as `resume` after a stop)."""
        if self._phase == "stopped":
            return self.resume(mono_s)
        effects = self.tick(mono_s)
        if self._phase == "not_started":
            self._phase = "driving"
            self._drive_start = self._now()
        return effects

    def stop(self, mono_s: float) -> list[DrivingEffect]:
        """"Stopped — taking a break": the stop starts at `mono_s` (which may be in the past)."""
        mono_s = _check_seconds("mono_s", mono_s)
        if self._phase != "driving":
            return self.tick(mono_s)
        effects = self.tick(mono_s)
        now = self._now()
        stop_at = min(now, max(mono_s, self._drive_start))
        taken_back_s = now - stop_at
        if taken_back_s > 0:
            # Driving counted after the real start of the stop was not driving.
            self._driving_s = max(0.0, self._driving_s - taken_back_s)
            self._daily_s = max(0.0, self._daily_s - taken_back_s)
        self._begin_stop(stop_at)
        self._settle_stop(now, effects)
        return effects

    def resume(self, mono_s: float) -> list[DrivingEffect]:
        """"Back on the road": the stop ends (and counts for what its length allows)."""
        if self._phase != "stopped":
            return self.start_driving(mono_s)
        effects = self.tick(mono_s)
        effects.extend(self._not_counted())
        self._phase = "driving"
        self._drive_start = self._now()
        return effects

    def gap(self, mono_s: float, away_s: float) -> list[DrivingEffect]:
        """The laptop was closed/suspended/locked for `away_s` seconds, ending at `mono_s`."""
        mono_s = _check_seconds("mono_s", mono_s)
        away_s = _check_seconds("away_s", away_s)
        if away_s < 0:
            raise ValueError(f"away_s must be 0 or more seconds, got {away_s!r}")
        if self._phase != "driving":
            return self.tick(mono_s)
        gap_start = mono_s - away_s
        effects: list[DrivingEffect] = []
        if self._last_mono is not None and gap_start > self._last_mono:
            effects.extend(self.tick(gap_start))
        effects.extend(self.stop(gap_start))
        effects.extend(self.resume(mono_s))
        return effects

    def tick(self, mono_s: float) -> list[DrivingEffect]:
        """Advance to `mono_s`; returns warnings, the limit, counted breaks (at most one each)."""
        mono_s = _check_seconds("mono_s", mono_s)
        effects: list[DrivingEffect] = []
        last = self._last_mono
        if last is None or mono_s <= last:
            if last is None:
                self._last_mono = mono_s
            return effects
        self._last_mono = mono_s
        if self._phase == "driving":
            dt_s = mono_s - last
            self._driving_s += dt_s
            self._daily_s += dt_s
            effects.extend(self._after_change())
        elif self._phase == "stopped":
            self._settle_stop(mono_s, effects)
        return effects

    def seconds_until_next_event(self) -> float | None:
        """Monotonic seconds until the next effect if nothing else happens, or None (the
        runtime sleeps no longer than this, so effects come on time)."""
        rules = self._rules
        candidates: list[float] = []
        if self._phase == "driving":
            limit_s = self._limit_s()
            if limit_s is not None:
                for threshold_s, effect_id in self._thresholds(limit_s):
                    if effect_id not in self._issued:
                        candidates.append(threshold_s - self._driving_s)
            daily_s = self._daily_limit_s()
            if daily_s is not None and self._daily_id() not in self._issued:
                candidates.append(daily_s - self._daily_s)
        elif self._phase == "stopped":
            stop_s = self._now() - self._stop_start
            if self._stop_counted != "full":
                for minutes in (rules.full_break_min, self._second_part_min(),
                                self._first_part_min()):
                    if minutes is not None:
                        candidates.append(minutes * MINUTE_S - stop_s)
            if not self._stop_day_reset:
                candidates.append(self._daily_reset_s - stop_s)
        # Thresholds already passed were dealt with by the call that passed them.
        future = [c for c in candidates if c > 0]
        return min(future) if future else None

    def status(self) -> DrivingStatus:
        """The snapshot as of the last call."""
        limit_s = self._limit_s()
        next_min = self._next_break_min()
        stopped = self._phase == "stopped"
        stop_s = self._now() - self._stop_start if stopped else None
        stop_left_s: float | None = None
        if stop_s is not None and next_min is not None:
            needed_s = self._stop_needed_s()
            stop_left_s = 0.0 if self._stop_counted == "full" else max(0.0, needed_s - stop_s)
        return DrivingStatus(
            rules=self._rules.name, phase=self._phase, period=self._period,
            driving_s=self._driving_s, limit_s=limit_s,
            left_s=None if limit_s is None else max(0.0, limit_s - self._driving_s),
            next_break_min=next_min, next_break=self._next_break_text(),
            first_part_done=self._first_part_done, stop_s=stop_s, stop_left_s=stop_left_s,
            stop_counted_as=self._stop_counted if stopped else None,
            daily_driving_s=self._daily_s, daily_limit_s=self._daily_limit_s())

    def _now(self) -> float:
        return self._last_mono if self._last_mono is not None else 0.0

    def _limit_s(self) -> float | None:
        minutes = self._rules.limit_min
        return None if minutes is None else minutes * MINUTE_S

    def _daily_limit_s(self) -> float | None:
        minutes = self._rules.daily_limit_min
        return None if minutes is None else minutes * MINUTE_S

    def _first_part_min(self) -> int | None:
        # Only a stop that starts with no first part held, and with driving time left, can
        # become one: once the limit is reached, only the whole break will do.
        if self._stop_first_before or not self._stop_may_split or self._stop_counted is not None:
            return None
        return self._rules.split_first_min

    def _second_part_min(self) -> int | None:
        return self._rules.split_second_min if self._stop_first_before else None

    def _next_break_min(self) -> int | None:
        rules = self._rules
        if rules.full_break_min is None:
            return None
        if self._first_part_done and rules.split_second_min is not None:
            return rules.split_second_min
        return rules.full_break_min

    def _next_break_text(self) -> str | None:
        minutes = self._next_break_min()
        if minutes is None:
            return None
        if self._first_part_done and self._rules.split_second_min is not None:
            return N_("{minutes} min (second part of a split break)", minutes=minutes)
        return N_("{minutes} min", minutes=minutes)

    def _stop_needed_s(self) -> float:
        """Length the current stop needs to be the full break."""
        rules = self._rules
        full_min = rules.full_break_min or 0
        if self._stop_first_before and rules.split_second_min is not None:
            full_min = min(full_min, rules.split_second_min)
        return full_min * MINUTE_S

    def _thresholds(self, limit_s: float) -> list[tuple[float, str]]:
        """(driving seconds, effect id), least urgent first; the limit last."""
        warnings = [(limit_s - minutes * MINUTE_S, f"p{self._period}:warn{minutes}")
                    for minutes in WARN_BEFORE_MIN if minutes * MINUTE_S < limit_s]
        return [*warnings, (limit_s, f"p{self._period}:limit")]

    def _daily_id(self) -> str:
        return f"d{self._day}:daily_limit"

    def _after_change(self) -> list[DrivingEffect]:
        """Effects due now that driving time (or the rule set) changed: at most one warning or
        limit, and the daily figure."""
        effects: list[DrivingEffect] = []
        if self._phase != "driving":
            return effects
        limit_s = self._limit_s()
        if limit_s is not None:
            crossed = [effect_id for threshold_s, effect_id in self._thresholds(limit_s)
                       if self._driving_s >= threshold_s and effect_id not in self._issued]
            if crossed:
                # Only the most urgent is said; the ones it overtook count as given.
                self._issued.update(crossed)
                effects.append(self._warning_or_limit(crossed[-1], limit_s))
        daily_s = self._daily_limit_s()
        if daily_s is not None and self._daily_s >= daily_s:
            daily_id = self._daily_id()
            if daily_id not in self._issued:
                self._issued.add(daily_id)
                text = N_("{duration} of driving today.", duration=format_duration(daily_s))
                speech = f"{_hours_words(daily_s / MINUTE_S)} of driving today."
                effects.append(DailyLimitReached(daily_id, text, speech))
        return effects

    def _warning_or_limit(self, effect_id: str, limit_s: float) -> BreakWarning | LimitReached:
        break_min = self._next_break_min() or 0
        second = self._first_part_done and self._rules.split_second_min is not None
        if effect_id.endswith(":limit"):
            return LimitReached(effect_id, _with_fatigue_line(limit_text(break_min, second)),
                                f"{limit_speech(break_min, second)} {FATIGUE_LINE}")
        minutes_left = max(1, math.ceil(max(0.0, limit_s - self._driving_s) / MINUTE_S - 1e-9))
        return BreakWarning(
            effect_id, minutes_left,
            _with_fatigue_line(warning_text(minutes_left, break_min, second)),
            f"{warning_speech(minutes_left, break_min, second)} {FATIGUE_LINE}")

    def _not_counted(self) -> list[DrivingEffect]:
        """`BreakNotCounted` when the stop ending now was long, but not long enough."""
        if self._stop_counted is not None or self._rules.full_break_min is None:
            return []
        stop_min = math.floor((self._now() - self._stop_start) / MINUTE_S + 1e-9)
        if stop_min < NOT_COUNTED_FROM_MIN:
            return []
        first = self._first_part_min()
        needed = first if first is not None else round(self._stop_needed_s() / MINUTE_S)
        text = N_("The stop ended after {minutes} min, before {needed} min: it does not count "
                  "as a break.", minutes=stop_min, needed=needed)
        speech = (f"The stop ended after {_number_words(stop_min)} minutes, before "
                  f"{_number_words(needed)}: it does not count as a break.")
        return [BreakNotCounted(f"p{self._period}:stop{self._stops}:not_counted", stop_min,
                                needed, text, speech)]

    def _begin_stop(self, stop_at: float) -> None:
        self._stops += 1
        self._phase = "stopped"
        self._stop_start = stop_at
        self._stop_first_before = self._first_part_done
        limit_s = self._limit_s()
        self._stop_may_split = limit_s is None or self._driving_s < limit_s
        self._stop_counted = None
        self._stop_day_reset = False

    def _settle_stop(self, now: float, effects: list[DrivingEffect]) -> None:
        """Count the current stop for what its length allows so far (idempotent)."""
        stop_s = now - self._stop_start
        if not self._stop_day_reset and stop_s >= self._daily_reset_s:
            self._stop_day_reset = True
            self._daily_s = 0.0
            self._day += 1
        if self._stop_counted == "full":
            return
        rules = self._rules
        if rules.full_break_min is None:
            return
        if stop_s >= self._stop_needed_s():
            ended = self._period
            split = self._stop_first_before and stop_s < rules.full_break_min * MINUTE_S
            self._stop_counted = "full"
            self._first_part_done = False
            self._driving_s = 0.0
            self._period += 1
            # Ids of the period that ended are never needed again.
            self._issued = {i for i in self._issued if not i.startswith(f"p{ended}:")}
            effects.append(self._counted_effect(f"p{ended}:full", "full", split))
            return
        first_min = self._first_part_min()
        if first_min is not None and stop_s >= first_min * MINUTE_S:
            self._stop_counted = "first_part"
            self._first_part_done = True
            effects.append(self._counted_effect(f"p{self._period}:first_part", "first_part", False))

    def _counted_effect(self, effect_id: str, counted_as: CountedAs, split: bool) -> BreakCounted:
        rules = self._rules
        if counted_as == "first_part":
            first = rules.split_first_min or 0
            second = rules.split_second_min or 0
            text = N_("{first} min stop: counts as the first part of a split break. "
                      "Next break: {second} min.", first=first, second=second)
            speech = (f"{_number_words(first).capitalize()} minutes stopped. That is the first "
                      f"part of a split break. Your next break can be {_number_words(second)} "
                      "minutes.")
            return BreakCounted(effect_id, counted_as, text, speech)
        limit = format_duration(self._limit_s() or 0.0)
        what = "Split break complete" if split else "Break complete"
        if split:
            text = N_("Split break complete. Driving counter back to zero: {duration} before "
                      "the next break.", duration=limit)
        else:
            text = N_("Break complete. Driving counter back to zero: {duration} before the "
                      "next break.", duration=limit)
        speech = f"{what}. The driving count starts again from zero."
        return BreakCounted(effect_id, counted_as, text, speech)


# ---- text helpers (every string free of any claim about the law being kept) ----

_ONES = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
         "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen",
         "eighteen", "nineteen")
_TENS = ("", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety")


def _number_words(n: int) -> str:
    """0..99 in words ("thirty", "forty-five"); larger numbers as digits."""
    if n < 0 or n > 99:
        return str(n)
    if n < 20:
        return _ONES[n]
    tens, ones = divmod(n, 10)
    return _TENS[tens] + (f"-{_ONES[ones]}" if ones else "")


def _hours_words(minutes: float) -> str:
    hours, rest = divmod(int(round(minutes)), 60)
    unit = "hour" if hours == 1 else "hours"
    if rest == 0:
        return f"{_number_words(hours).capitalize()} {unit}"
    return f"{_number_words(hours).capitalize()} {unit} {_number_words(rest)} minutes"


def format_duration(seconds: float, round_up: bool = False) -> str:
    """ "45 min", "4 h", "3 h 10", "1 h 05" (minutes floored, or rounded up with round_up)."""
    raw = seconds / MINUTE_S
    minutes = math.ceil(raw - 1e-9) if round_up else math.floor(raw + 1e-9)
    minutes = max(0, minutes)
    hours, rest = divmod(minutes, 60)
    if hours == 0:
        return N_("{minutes} min", minutes=rest)
    if rest == 0:
        return N_("{hours} h", hours=hours)
    return N_("{hours} h {minutes:02d}", hours=hours, minutes=rest)


def _with_fatigue_line(text: str) -> str:
    """A break suggestion's notification text with FATIGUE_LINE after it (each localized)."""
    return N_("{suggestion} {fatigue_line}", suggestion=text, fatigue_line=FATIGUE_LINE)


def _break_phrase(break_min: int, second_part: bool) -> str:
    minutes = _number_words(break_min)
    if second_part:
        return f"the {minutes} minute second part of your split break"
    return f"your {minutes} minute break"


def warning_text(minutes_left: int, break_min: int, second_part: bool) -> str:
    """Notification text of a warning, e.g. "30 min of driving left before your 45 min break"."""
    if second_part:
        return N_("{minutes} min of driving left before the {break_min} min second part of your "
                  "split break.", minutes=minutes_left, break_min=break_min)
    return N_("{minutes} min of driving left before your {break_min} min break.",
              minutes=minutes_left, break_min=break_min)


def warning_speech(minutes_left: int, break_min: int, second_part: bool) -> str:
    """e.g. "Thirty minutes of driving left before your forty-five minute break." """
    unit = "minute" if minutes_left == 1 else "minutes"
    words = _number_words(minutes_left).capitalize()
    return f"{words} {unit} of driving left before {_break_phrase(break_min, second_part)}."


def limit_text(break_min: int, second_part: bool) -> str:
    if second_part:
        return N_("Driving time used up: time for the {break_min} min second part of your split "
                  "break when it is safe to stop.", break_min=break_min)
    return N_("Driving time used up: time for your {break_min} min break when it is safe to "
              "stop.", break_min=break_min)


def limit_speech(break_min: int, second_part: bool) -> str:
    return (f"Driving time is used up. Time for {_break_phrase(break_min, second_part)} "
            "when it is safe to stop.")


def title_text(status: DrivingStatus) -> str:
    """The tray title in the driver profile, e.g. "Driving 3 h 10 · break in 1 h 20"."""
    if status.phase == "not_started":
        return _("Not driving yet")
    if status.phase == "stopped":
        stop = format_duration(status.stop_s or 0.0)
        if status.next_break_min is None or status.stop_left_s is None:
            return _("Stopped {duration}", duration=stop)
        if status.stop_counted_as == "full":
            return _("Stopped {duration} · break done", duration=stop)
        left = format_duration(status.stop_left_s, round_up=True)
        if status.stop_counted_as == "first_part" and status.rules == "eu":
            return _("Stopped {duration} · first part done, {left} more for a full break",
                     duration=stop, left=left)
        return _("Stopped {duration} · {left} more for the break", duration=stop, left=left)
    if status.left_s is None:
        return _("Driving {duration} today", duration=format_duration(status.daily_driving_s))
    driving = format_duration(status.driving_s)
    if status.left_s <= 0:
        return _("Driving {duration} · break due now", duration=driving)
    left = format_duration(status.left_s, round_up=True)
    return _("Driving {duration} · break in {left}", duration=driving, left=left)


def summary_text(status: DrivingStatus) -> str:
    """A longer line for `status` output and the menu: driving, next break, the day's total."""
    parts = [title_text(status)]
    if status.next_break is not None:
        parts.append(_("next break: {what}", what=status.next_break))
    today = format_duration(status.daily_driving_s)
    if status.daily_limit_s is not None:
        parts.append(_("today {duration} of {limit}", duration=today,
                       limit=format_duration(status.daily_limit_s)))
    else:
        parts.append(_("today {duration}", duration=today))
    return " · ".join(parts)
