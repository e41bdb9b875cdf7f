"""Road detection for the driver profile: driving or stopped, from GPS ground speed.

Pure, stdlib only. Time enters only as `mono_s` (monotonic seconds; a value smaller than the
last one counts as no time passing); speeds are m/s. Nothing here sees or keeps a position.

Rules (issue #16), with hysteresis so a standing receiver's 0.2-0.7 m/s of noise never flaps:
- driving: the speed stays >= DRIVE_MPS (2 m/s) for DRIVE_HOLD_S (20 s);
- stopped: the speed stays < STOP_MPS (1 m/s) for STOP_HOLD_S (60 s);
- speeds in between (1 <= v < 2) end any pending change and keep the current state;
- lost fix (tunnel, garage): the state is kept; after FIX_LOST_MAX_S (10 min) without a fix
  the detector reports FellBackToManual once and its state becomes "unknown"; the next fix
  gives FixRegained and detection starts again from "unknown". No fall-back without a fix ever.

Evidence: a sample is the speed from its moment until the next sample, or until it is
`stale_s` old: then the fix counts as lost at that moment (sources that fall silent without a
fix: GeoClue, a serial receiver). Sources send None when they know the fix is gone. "Stays for
20 s" is measured from the first sample that met the rule, and the change happens at exactly
since + hold, whichever call shows that moment first, so extra `advance` calls never change
what is reported. A lost fix ends a pending change. A speed that is not a finite number >= 0
is no fix. Repeating a sample of the same `speed_band` changes nothing but its freshness, so
a source may send only band changes and a keep-alive more often than `stale_s`.

Use: `sample(mono_s, speed)` per report, `advance(mono_s)` as time passes, and sleep no longer
than `next_deadline()`. A RoadChange's `since_s` is when the condition began:
`BreakPlanner.stop(since_s)` takes the stop back to when the vehicle really stopped, and while
"driving" is pending after a stop the planner may be ticked only to `planner_horizon(now)`
(a stop cut short during the 20 s hold must not reach 30 min and count).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

RoadState = Literal["unknown", "driving", "stopped"]

DRIVE_MPS = 2.0
STOP_MPS = 1.0
DRIVE_HOLD_S = 20.0
STOP_HOLD_S = 60.0
FIX_LOST_MAX_S = 600.0
# A sample older than this is a lost fix. Receivers report once a second; the margin covers a
# busy machine, and test replays that send one fix per 10 simulated seconds and whose hiccups
# are magnified by their shortened minutes.
STALE_S = 45.0
# A source forwards a sample of an unchanged band at most this often (see SampleGate).
KEEPALIVE_S = STALE_S / 3

SpeedBand = Literal["none", "slow", "between", "fast"]


def speed_band(speed_mps: float | None) -> SpeedBand:
    """Which side of the rules a sample is on: "fast" (>= 2 m/s), "slow" (< 1), "between",
    or "none" (no fix, or not a finite speed >= 0)."""
    speed = _valid_speed(speed_mps)
    if speed is None:
        return "none"
    if speed >= DRIVE_MPS:
        return "fast"
    return "slow" if speed < STOP_MPS else "between"


def _valid_speed(speed_mps: object) -> float | None:
    if (isinstance(speed_mps, (int, float)) and not isinstance(speed_mps, bool)
            and math.isfinite(speed_mps) and speed_mps >= 0):
        return float(speed_mps)
    return None


@dataclass(frozen=True)
class RoadChange:
    """The vehicle is now `state`; the rule was met from `since_s`, for long enough at `at_s`."""

    state: Literal["driving", "stopped"]
    since_s: float
    at_s: float


@dataclass(frozen=True)
class FellBackToManual:
    """No fix since `lost_since_s` for the whole allowance: driving/stopped is the user's again.

    `last_fix_s`: the last speed seen (a manual stop may be taken back to it)."""

    lost_since_s: float
    at_s: float
    last_fix_s: float


@dataclass(frozen=True)
class FixRegained:
    """A fix after FellBackToManual: detection runs again (from "unknown")."""

    at_s: float


RoadEvent = RoadChange | FellBackToManual | FixRegained


@dataclass(frozen=True)
class _Pending:
    state: Literal["driving", "stopped"]
    since_s: float
    due_s: float


class SampleGate:
    """Which samples a source needs to send: the first of each band, then one per KEEPALIVE_S.

    The detector reads only bands, so dropping the rest changes nothing while raw samples come
    less than STALE_S - KEEPALIVE_S apart (receivers report every second); the engine thread
    then wakes a few times a minute on the road instead of every second."""

    def __init__(self) -> None:
        self._band: SpeedBand | None = None
        self._sent_s = -math.inf

    def wanted(self, mono_s: float, speed_mps: float | None) -> bool:
        """True (and remembered as sent) when this sample must go to the detector."""
        band = speed_band(speed_mps)
        if band == self._band and mono_s - self._sent_s < KEEPALIVE_S:
            return False
        self._band, self._sent_s = band, mono_s
        return True


class RoadDetector:
    """Driving/stopped with hysteresis. Not thread-safe: the engine thread calls it."""

    def __init__(self, stale_s: float | None = STALE_S) -> None:
        if stale_s is not None and not stale_s > 0:
            raise ValueError(f"stale_s must be above 0 or None, got {stale_s!r}")
        self._stale_s = stale_s
        self._state: RoadState = "unknown"
        self._pending: _Pending | None = None
        self._last_mono: float | None = None
        self._last_fix: float | None = None  # the last speed sample's moment
        self._lost_since: float | None = None  # set while a fix, once had, is missing
        self._manual = False  # fell back; until a fix comes back

    # ---- read-outs ----

    @property
    def state(self) -> RoadState:
        return self._state

    @property
    def manual(self) -> bool:
        """True after FellBackToManual until the next fix."""
        return self._manual

    @property
    def fix_lost_since(self) -> float | None:
        return self._lost_since

    @property
    def pending(self) -> tuple[Literal["driving", "stopped"], float] | None:
        """A change being held (state, since_s), or None."""
        return None if self._pending is None else (self._pending.state, self._pending.since_s)

    def planner_horizon(self, mono_s: float) -> float:
        """How far the break planner may be ticked now: `mono_s`, or the start of a pending
        "driving" (until that is decided, the stop, or the parked start of the day, goes on
        only to there: a stop cut short must not reach a length that counts meanwhile)."""
        if self._pending is not None and self._pending.state == "driving":
            return min(mono_s, self._pending.since_s)
        return mono_s

    def next_deadline(self) -> float | None:
        """The monotonic moment of the next decision if no sample comes, or None."""
        due = [d for d in (self._pending_due(), self._stale_due(), self._fallback_due())
               if d is not None]
        return min(due) if due else None

    # ---- inputs ----

    def advance(self, mono_s: float) -> list[RoadEvent]:
        """Time passes to `mono_s` with no new sample."""
        now = self._now(mono_s)
        events: list[RoadEvent] = []
        # Each due moment in time order; a change due at the very moment the fix goes stale
        # still happens (its evidence held until then).
        while True:
            deadline = self.next_deadline()
            if deadline is None or deadline > now:
                return events
            pending = self._pending
            if pending is not None and pending.due_s == deadline:
                self._pending = None
                self._state = pending.state
                events.append(RoadChange(pending.state, pending.since_s, pending.due_s))
            elif deadline == self._stale_due():
                self._lose_fix(deadline)
            else:
                assert self._lost_since is not None and self._last_fix is not None
                self._manual = True
                self._state = "unknown"
                events.append(FellBackToManual(self._lost_since, deadline, self._last_fix))

    def sample(self, mono_s: float, speed_mps: float | None) -> list[RoadEvent]:
        """A report at `mono_s`: ground speed in m/s, or None for no fix."""
        events = self.advance(mono_s)
        now = self._now(mono_s)
        speed_mps = _valid_speed(speed_mps)
        if speed_mps is None:
            self._lose_fix(now)
            return events
        self._last_fix = now
        self._lost_since = None
        if self._manual:
            self._manual = False
            events.append(FixRegained(now))
        if speed_mps >= DRIVE_MPS:
            self._expect("driving", now, DRIVE_HOLD_S)
        elif speed_mps < STOP_MPS:
            self._expect("stopped", now, STOP_HOLD_S)
        else:
            self._pending = None
        return events

    # ---- internals ----

    def _pending_due(self) -> float | None:
        return None if self._pending is None else self._pending.due_s

    def _stale_due(self) -> float | None:
        if self._stale_s is None or self._last_fix is None or self._lost_since is not None:
            return None
        return self._last_fix + self._stale_s

    def _fallback_due(self) -> float | None:
        if self._lost_since is None or self._manual:
            return None
        return self._lost_since + FIX_LOST_MAX_S

    def _lose_fix(self, at_s: float) -> None:
        """No fix from `at_s` on: a pending change ends; the fall-back clock starts once."""
        self._pending = None
        if self._last_fix is not None and self._lost_since is None:
            self._lost_since = at_s

    def _expect(self, state: Literal["driving", "stopped"], now: float, hold_s: float) -> None:
        if self._state == state:
            self._pending = None
        elif self._pending is None or self._pending.state != state:
            self._pending = _Pending(state, now, now + hold_s)

    def _now(self, mono_s: float) -> float:
        if isinstance(mono_s, bool) or not isinstance(mono_s, (int, float)) or not math.isfinite(
            mono_s
        ):
            raise ValueError(f"mono_s must be a finite number of seconds, got {mono_s!r}")
        if self._last_mono is None or mono_s > self._last_mono:
            self._last_mono = float(mono_s)
        return self._last_mono
