"""The driver profile's runtime side: the break planner, fed by the road and by the engine.

Engine thread only. "Stopped — taking a break" is the engine's TakeBreak (a driver's break is
open-ended) and "Back on the road" its EndBreak; their history events drive the planner, as do
natural breaks from a suspend or a gap (laptop closed at a stop). A screen lock alone does not:
a cab laptop locks itself while nobody touches it on the road. The planner works on monotonic
time only, so crossing time zones changes nothing.

The road (driving_detect auto or gps, with a location source in use): RoadSample commands feed
the core's RoadDetector, and its changes act exactly as the menu does. A stop takes the
planner back to when the vehicle stopped (`stop(since_s)`), then the engine gets TakeBreak;
driving again resumes the planner from when the vehicle moved, then EndBreak. While "driving"
waits out its 20 s hold the planner's clock is held at the hold's start, so a stop cut short
never reaches a length that counts. Who reported the current stop wins: a stop reported by
hand holds while the road looks driven (a ferry, a car train) until the road has been seen
stopped and then driving again, or the driver says "Back on the road"; a "Back on the road"
holds while the vehicle stands still. Before any driving is seen, a vehicle standing still is
parked, not on a break. Without a source the profile assumes driving from the start, as
before. Each road change is recorded (kind "road": the state and how long it has held), never
a position.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from psoas_break.core.commands import EndBreak, LocationState, RoadSample, TakeBreak
from psoas_break.core.events import Effect, RecordEvent, Tick
from psoas_break.core.i18n import N_, _
from psoas_break.core.settings import Settings
from psoas_break.ports import Location

if TYPE_CHECKING:  # imported when the driver profile is first used: desk users never pay
    from psoas_break.core.driving import BreakPlanner, DrivingEffect
    from psoas_break.core.driving_prompts import DrivingNotice
    from psoas_break.core.road import RoadChange, RoadDetector, RoadEvent

log = logging.getLogger(__name__)

#: What the road asks of the engine (a stop, driving on), and the history events it records.
RoadOutput = TakeBreak | EndBreak | RecordEvent

ROAD_TITLE = N_("Stop detection")
NO_SOURCE = N_("No GPS receiver found: stops count only when you report them.")
NO_SOURCE_SPEECH = N_("No GPS receiver found. Stops count only when you report them.")
FELL_BACK = N_("No GPS signal for 10 min: until it is back, stops count only when you report "
               "them.")
FELL_BACK_SPEECH = N_("No GPS signal for ten minutes. Until it is back, stops count only when "
                      "you report them.")


class DrivingControl:
    """Holds a BreakPlanner (and, with a location source, a RoadDetector) while the profile is
    "driver"; None of it exists otherwise."""

    def __init__(self, announce: Callable[[DrivingNotice, bool], None],
                 on_first_start: Callable[[], None] | None = None,
                 location: Location | None = None) -> None:
        self._announce = announce
        self._on_first_start = on_first_start
        self._location = location
        self.planner: BreakPlanner | None = None
        self.road: RoadDetector | None = None
        self._detect = "manual"
        self._device: str | None = None  # what the location source was last asked for
        self._source: str | None = None  # the source in use; None until the first answer
        self._manual_stop = False  # the current stop was reported by hand
        self._told_no_source = False
        self._now = 0.0

    @property
    def driving(self) -> bool:
        """True while the vehicle may be moving: prompts are then spoken only."""
        planner, road = self.planner, self.road
        if planner is None:
            return False
        if road is not None and road.pending is not None and road.pending[0] == "driving":
            return True  # moving, not confirmed yet
        if planner.phase == "stopped":
            return False
        return not (planner.phase == "not_started" and road is not None
                    and road.state == "stopped")

    def sync(self, settings: Settings, tick: Tick) -> None:
        """Follow the profile, rules and detection settings (start, stop or re-rule the
        planner; ask for the location source or let it go)."""
        self._now = tick.mono_s
        driver = settings.profile == "driver"
        detect = settings.driving_detect if driver and self._location is not None else "manual"
        device = settings.gps_device if detect != "manual" else None
        if device != self._device and self._location is not None:
            self._device = device
            self._location.want(device)
            self._source, self.road = None, None  # until the service answers
        if device is None:
            self._source, self.road = "none", None
        self._detect = detect
        if not driver:
            self.planner = None
            return
        if self.planner is None:
            from psoas_break.core.driving import BreakPlanner

            self.planner = BreakPlanner(settings.driver_rules)
            if self._on_first_start is not None:
                self._on_first_start()
        elif self.planner.rules != settings.driver_rules:
            self._emit(self.planner.set_rules(settings.driver_rules, tick.mono_s))
        if self.planner.phase == "not_started" and self._source == "none":
            # Nothing tells when the vehicle moves: assume it does, as the menu's default.
            self._emit(self.planner.start_driving(tick.mono_s))

    def location_state(self, state: LocationState, tick: Tick) -> None:
        """The location service found a source, or none."""
        self._now = tick.mono_s
        if self._device is None:
            return  # an answer to a request taken back since
        log.info("location source: %s (%s)", state.source, state.detail)
        self._source = state.source
        if state.source == "none":
            self.road = None
            if self._detect == "gps" and not self._told_no_source and self.planner is not None:
                self._told_no_source = True
                self._say("no_source", NO_SOURCE, NO_SOURCE_SPEECH)
            return
        self._told_no_source = False
        if self.road is None:
            from psoas_break.core.road import RoadDetector

            self.road = RoadDetector()

    def sample(self, sample: RoadSample, tick: Tick) -> list[RoadOutput]:
        """A speed from the location source (stamped on its thread)."""
        if self.road is None or self.planner is None:
            return []
        return self._follow(self.road.sample(sample.mono_s, sample.speed_mps), tick)

    def hold_stop(self) -> None:
        """The driver said "Stopped — taking a break" (again, during a stop the road reported:
        aboard a ferry): the stop is theirs now and holds while the road looks driven."""
        if self.planner is not None and self.planner.phase == "stopped":
            self._manual_stop = True

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
                # A stop the road reported has stopped the planner already; any other is the
                # driver's own, and holds until they (or the road) end it.
                if planner.phase != "stopped":
                    self._manual_stop = True
                self._emit(planner.stop(tick.mono_s))
            elif effect.kind == "break_end":
                self._manual_stop = False
                self._emit(planner.resume(tick.mono_s))
            elif effect.kind == "pause" and float(effect.data.get("pause_s", 0.0)) >= 3 * 3600:
                # "Until tomorrow" at the end of the day: the truck is parked for the night.
                self._emit(planner.stop(tick.mono_s))

    def tick(self, tick: Tick) -> list[RoadOutput]:
        """Time passes: road decisions that fell due, then the planner (held while "driving"
        waits out its hold after a stop)."""
        self._now = tick.mono_s
        out: list[RoadOutput] = []
        if self.road is not None and self.planner is not None:
            out = self._follow(self.road.advance(tick.mono_s), tick)
        if self.planner is not None:
            horizon = tick.mono_s if self.road is None else self.road.planner_horizon(tick.mono_s)
            self._emit(self.planner.tick(horizon))
        return out

    def seconds_until_next_event(self) -> float | None:
        candidates: list[float] = []
        road, planner = self.road, self.planner
        if road is not None and (due := road.next_deadline()) is not None:
            candidates.append(max(0.0, due - self._now))
        held = road is not None and road.planner_horizon(self._now) < self._now
        if planner is not None and not held:
            nxt = planner.seconds_until_next_event()
            if nxt is not None:
                candidates.append(nxt)
        return min(candidates) if candidates else None

    def summary(self) -> str | None:
        """`psoas-break status` line in the driver profile, else None."""
        if self.planner is None:
            return None
        from psoas_break.core.driving import summary_text

        return summary_text(self.planner.status()) + self._road_note()

    def title(self) -> str | None:
        """The tray title in the driver profile, else None."""
        if self.planner is None:
            return None
        from psoas_break.core.driving import title_text

        return title_text(self.planner.status()) + self._road_note()

    def road_report(self) -> dict[str, object] | None:
        """For `status` (driver profile): the location source in use, the road's state and
        the planner's figures in seconds."""
        if self.planner is None:
            return None
        state = "manual" if self.road is None or self.road.manual else self.road.state
        status = self.planner.status()
        return {"detect": self._detect, "source": self._source or "starting", "state": state,
                "phase": status.phase, "driving_s": round(status.driving_s, 1),
                "day_driving_s": round(status.daily_driving_s, 1),
                "stop_s": None if status.stop_s is None else round(status.stop_s, 1)}

    # ---- internals ----

    def _road_note(self) -> str:
        if self.road is not None and self.road.manual:
            return " · " + _("no GPS signal")
        if self._detect == "gps" and self._source == "none":
            return " · " + _("no GPS")
        return ""

    def _follow(self, events: list[RoadEvent], tick: Tick) -> list[RoadOutput]:
        from psoas_break.core.road import FellBackToManual, RoadChange

        out: list[RoadOutput] = []
        for event in events:
            if isinstance(event, RoadChange):
                out.append(RecordEvent("road", tick.wall, tick.mono_s, {
                    "state": event.state, "held_s": max(0.0, tick.mono_s - event.since_s)}))
                out.extend(self._road_change(event))
            elif isinstance(event, FellBackToManual):
                out.append(RecordEvent("road", tick.wall, tick.mono_s, {
                    "state": "unknown", "held_s": max(0.0, tick.mono_s - event.lost_since_s)}))
                self._say("fell_back", FELL_BACK, FELL_BACK_SPEECH)
            else:
                log.info("GPS fix regained: detecting the road again")
        return out

    def _road_change(self, change: RoadChange) -> list[TakeBreak | EndBreak]:
        planner = self.planner
        assert planner is not None
        if change.state == "stopped":
            if planner.phase == "driving":
                self._manual_stop = False
                self._emit(planner.stop(change.since_s))
                return [TakeBreak()]
            # Stopped by hand already: the road agrees, so its next driving ends the stop. Not
            # started: parked before the day's driving, which is no break.
            self._manual_stop = False
            return []
        if self._manual_stop:
            log.info("the road looks driven, but the stop was reported by hand: it holds")
            return []
        if planner.phase == "driving":
            return []
        # Resumed from the moment the vehicle moved: the stop ends there (and if it was too
        # short to count, the planner says so now).
        self._emit(planner.tick(change.since_s))
        self._emit(planner.start_driving(change.since_s))
        return [EndBreak()]

    def _say(self, source_id: str, text: str, speech: str) -> None:
        from psoas_break.core.driving_prompts import DrivingNotice

        self._announce(DrivingNotice(source_id, ROAD_TITLE, text, speech), self.driving)

    def _emit(self, effects: list[DrivingEffect]) -> None:
        from psoas_break.core.driving_prompts import notice_from_planner

        for effect in effects:
            notice = notice_from_planner(effect)
            if notice is None:
                log.warning("planner effect %s not safe to announce while driving", effect)
                continue
            self._announce(notice, self.driving)
