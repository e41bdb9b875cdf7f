"""A scripted clock that drives the real SittingEngine: the test double for the runtime.

It produces ticks the way the runtime does (every `step_s` seconds of monotonic time), lets a
test move the wall clock independently (DST, NTP, time zones), simulate suspend and idle input,
and collects every effect with the monotonic time it happened at.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone, tzinfo
from zoneinfo import ZoneInfo

from psoas_break.core.commands import EngineCommand
from psoas_break.core.engine import SittingEngine, Status
from psoas_break.core.events import ClosePrompt, Effect, RecordEvent, ShowNotice, ShowPrompt, Tick
from psoas_break.core.settings import Settings
from psoas_break.core.stats import DayLog, Summary

BERLIN = ZoneInfo("Europe/Berlin")


@dataclass
class Driver:
    settings: Settings = field(default_factory=Settings)
    start: datetime = field(default_factory=lambda: datetime(2026, 3, 2, 9, 0, tzinfo=BERLIN))
    step_s: float = 60.0

    def __post_init__(self) -> None:
        self.engine = SittingEngine(self.settings)
        self.mono_s = 1000.0
        self.slept_s = 0.0
        # wall = start + (mono - mono0) + wall_offset, in the zone `tz`.
        self._mono0 = self.mono_s
        self.wall_offset = timedelta(0)
        self.tz: tzinfo = self.start.tzinfo or timezone.utc
        self.idle_s: float | None = 0.0
        self.log: list[tuple[float, Effect]] = []
        # Every second of sitting the engine ever counted (a tally of its sitting_s rising),
        # an upper bound the statistics must never exceed.
        self.counted_sitting_s = 0.0
        self._last_sitting_s = 0.0
        self.tick()

    # ---- time ----

    @property
    def wall(self) -> datetime:
        elapsed = timedelta(seconds=self.mono_s - self._mono0)
        # Elapsed time is added in UTC: adding to a zoned datetime is local wall arithmetic,
        # which would invent or skip an hour at a DST change.
        return (self.start.astimezone(timezone.utc) + elapsed + self.wall_offset).astimezone(
            self.tz
        )

    def make_tick(self) -> Tick:
        return Tick(self.wall, self.mono_s, self.idle_s, self.slept_s)

    def tick(self) -> list[Effect]:
        effects = self.engine.tick(self.make_tick())
        self._record(effects)
        return effects

    def _record(self, effects: list[Effect]) -> None:
        self.log.extend((self.mono_s, e) for e in effects)
        sitting_s = self.engine.status().sitting_s
        self.counted_sitting_s += max(0.0, sitting_s - self._last_sitting_s)
        self._last_sitting_s = sitting_s

    def sit(self, minutes: float, idle_s: float | None = 0.0) -> list[Effect]:
        """Active at the keyboard (idle stays `idle_s`) for `minutes`, ticking every step."""
        return self._run(minutes * 60.0, lambda _elapsed: idle_s)

    def away(self, minutes: float) -> list[Effect]:
        """No input for `minutes`: idle grows with time (desk idle source)."""
        base = self.idle_s or 0.0
        return self._run(minutes * 60.0, lambda elapsed: base + elapsed)

    def no_idle_source(self, minutes: float) -> list[Effect]:
        return self._run(minutes * 60.0, lambda _elapsed: None)

    def _run(self, total_s: float, idle_at: object) -> list[Effect]:
        out: list[Effect] = []
        elapsed = 0.0
        while elapsed < total_s - 1e-9:
            step = min(self.step_s, total_s - elapsed)
            elapsed += step
            self.mono_s += step
            self.idle_s = idle_at(elapsed)  # type: ignore[operator]
            out.extend(self.tick())
        return out

    def suspend(self, minutes: float) -> list[Effect]:
        """Laptop asleep: one gap with no ticks; BOOTTIME - MONOTONIC grows by the same."""
        self.mono_s += minutes * 60.0
        self.slept_s += minutes * 60.0
        self.idle_s = 0.0
        return self.tick()

    def stopped(self, minutes: float) -> list[Effect]:
        """The process was stopped (SIGSTOP) or starved: a gap, but not asleep."""
        self.mono_s += minutes * 60.0
        self.idle_s = 0.0
        return self.tick()

    def jump_wall(self, hours: float) -> None:
        self.wall_offset += timedelta(hours=hours)

    def cmd(self, command: EngineCommand) -> list[Effect]:
        effects = self.engine.command(command, self.make_tick())
        self._record(effects)
        return effects

    # ---- reading ----

    @property
    def status(self) -> Status:
        return self.engine.status()

    @property
    def today(self) -> Summary:
        """Today's figures as the runtime shows them ("Today", `status`): core.stats over the
        recorded events, with the engine's live sitting time for the open sit."""
        status = self.status
        live = status.sitting_s if status.state in ("sitting", "prompt_due") else None
        return DayLog(self.events()).summary(self.wall, live)

    def prompts(self, kind: str | None = None) -> list[tuple[float, ShowPrompt]]:
        return [
            (t, e)
            for t, e in self.log
            if isinstance(e, ShowPrompt) and (kind is None or e.kind == kind)
        ]

    def events(self, kind: str | None = None) -> list[RecordEvent]:
        return [
            e
            for _, e in self.log
            if isinstance(e, RecordEvent) and (kind is None or e.kind == kind)
        ]

    def notices(self) -> list[str]:
        return [e.text for _, e in self.log if isinstance(e, ShowNotice)]

    def closed(self) -> list[int]:
        return [e.prompt_id for _, e in self.log if isinstance(e, ClosePrompt)]

    def minutes_since_start(self, mono_s: float) -> float:
        return (mono_s - self._mono0) / 60.0
