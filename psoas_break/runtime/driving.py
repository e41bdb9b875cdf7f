"""The driver profile's runtime side: the break planner fed from the engine's events.

Engine thread only. "Stopped — taking a break" is the engine's TakeBreak (a driver's break is
open-ended) and "Back on the road" its EndBreak; their history events drive the planner, as do
natural breaks from a suspend or a gap (laptop closed at a stop). A screen lock alone does not:
a cab laptop locks itself while nobody touches it on the road. The planner works on monotonic
time only, so crossing time zones changes nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from psoas_break.core.events import Effect, RecordEvent, Tick
from psoas_break.core.settings import Settings

if TYPE_CHECKING:  # imported when the driver profile is first used: desk users never pay
    from psoas_break.core.driving import BreakPlanner, DrivingEffect
    from psoas_break.core.driving_prompts import DrivingNotice

log = logging.getLogger(__name__)


class DrivingControl:
    """Holds a BreakPlanner while the profile is "driver"; None of it exists otherwise."""

    def __init__(self, announce: Callable[[DrivingNotice], None],
                 on_first_start: Callable[[], None] | None = None) -> None:
        self._announce = announce
        self._on_first_start = on_first_start
        self.planner: BreakPlanner | None = None

    @property
    def driving(self) -> bool:
        """True while the driver is (assumed to be) on the road: only hands-free prompts."""
        return self.planner is not None and self.planner.phase in ("driving", "not_started")

    def sync(self, settings: Settings, tick: Tick) -> None:
        """Follow the profile and rules settings (start, stop or re-rule the planner)."""
        if settings.profile != "driver":
            self.planner = None
            return
        if self.planner is None:
            from psoas_break.core.driving import BreakPlanner

            self.planner = BreakPlanner(settings.driver_rules)
            if self._on_first_start is not None:
                self._on_first_start()
            self._emit(self.planner.start_driving(tick.mono_s))
        elif self.planner.rules != settings.driver_rules:
            self._emit(self.planner.set_rules(settings.driver_rules, tick.mono_s))

    def on_effects(self, effects: Iterable[Effect], tick: Tick) -> None:
        """Feed the planner what the engine did (before `tick` is given to the planner)."""
        planner = self.planner
        if planner is None:
            return
        for effect in effects:
            if not isinstance(effect, RecordEvent):
                continue
            if effect.kind == "natural_break" and effect.data.get("source") in ("suspend", "gap"):
                self._emit(planner.gap(tick.mono_s, float(effect.data.get("away_s", 0.0))))
            elif effect.kind == "break_start":
                self._emit(planner.stop(tick.mono_s))
            elif effect.kind == "break_end":
                self._emit(planner.resume(tick.mono_s))
            elif effect.kind == "pause" and float(effect.data.get("pause_s", 0.0)) >= 3 * 3600:
                # "Until tomorrow" at the end of the day: the truck is parked for the night.
                self._emit(planner.stop(tick.mono_s))

    def tick(self, tick: Tick) -> None:
        if self.planner is not None:
            self._emit(self.planner.tick(tick.mono_s))

    def seconds_until_next_event(self) -> float | None:
        return self.planner.seconds_until_next_event() if self.planner is not None else None

    def summary(self) -> str | None:
        """`psoas-break status` line in the driver profile, else None."""
        if self.planner is None:
            return None
        from psoas_break.core.driving import summary_text

        return summary_text(self.planner.status())

    def title(self) -> str | None:
        """The tray title in the driver profile, else None."""
        if self.planner is None:
            return None
        from psoas_break.core.driving import title_text

        return title_text(self.planner.status())

    def _emit(self, effects: list[DrivingEffect]) -> None:
        from psoas_break.core.driving_prompts import notice_from_planner

        for effect in effects:
            notice = notice_from_planner(effect)
            if notice is None:
                log.warning("planner effect %s not safe to announce while driving", effect)
                continue
            self._announce(notice)
