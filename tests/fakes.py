"""Test doubles for the ports (psoas_break/ports.py), shared by the unit tests.

Real code that implements the Protocols, as httpx's `MockTransport` is for its own tests: a
scripted clock, an idle source, an in-memory settings store and history, recording sinks for
notifications and speech, a job worker that runs jobs when told, a recording tray and pages.
`RuntimeRig` builds a real `Runtime` from them and steps it synchronously, the way its thread
would (`step`, `sleep_s`), so a test drives days of time without sleeping.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from typing import Any

from psoas_break.core.commands import Command, Outcome
from psoas_break.core.engine import SittingEngine
from psoas_break.core.events import RecordEvent
from psoas_break.core.exercise_selection import Selection
from psoas_break.core.settings import LoadResult, SettingError, Settings
from psoas_break.core.tray_view import TrayView
from psoas_break.ports import Notification, QuietDetector
from psoas_break.runtime.driving import DrivingControl
from psoas_break.runtime.loop import Collaborators, Inbox, Runtime
from psoas_break.runtime.presenter import Presenter
from psoas_break.runtime.quiet import QuietControl


class ScriptedClock:
    """ports.Clock: wall follows mono in real (UTC) seconds; a test moves `mono_s` itself."""

    def __init__(self, start: datetime, scale: float = 1.0) -> None:
        self.start_utc = start.astimezone(timezone.utc)
        self.tz = start.tzinfo
        self.mono_s = 1000.0
        self._mono0_s = self.mono_s
        self.slept_s = 0.0
        self.wall_offset = timedelta(0)
        self.scale = scale

    def wall_at(self, mono_s: float) -> datetime:
        moved = self.start_utc + timedelta(seconds=mono_s - self._mono0_s) + self.wall_offset
        return moved.astimezone(self.tz)

    def mono_at(self, wall: datetime) -> float:
        return self._mono0_s + (wall.astimezone(timezone.utc) - self.start_utc).total_seconds()

    def read(self) -> tuple[datetime, float, float]:
        return self.wall_at(self.mono_s), self.mono_s, self.slept_s

    def engine_s(self, real_s: float) -> float:
        return real_s * self.scale

    def real_s(self, engine_s: float) -> float:
        return engine_s / self.scale


class ScriptedIdle:
    """ports.IdleSource: idle 0 while the user is at the keyboard, growing once they left."""

    name = "scripted"

    def __init__(self, clock: ScriptedClock) -> None:
        self.clock = clock
        self.left_at_s: float | None = None

    def idle_seconds(self) -> float | None:
        if self.left_at_s is None:
            return 0.0
        return self.clock.mono_s - self.left_at_s

    def close(self) -> None:
        return None


class EventIdle(ScriptedIdle):
    """ports.IdleSource and IdleEvents, as the Wayland and Mutter sources behave: idle reads 0
    until the source *says* a threshold was reached (`reached()`), then grows; `come_back()`
    and `lose()` call on_change too, as those sources' threads do. `reads` counts idle_seconds()
    calls (a poll would show there)."""

    name = "events"

    def __init__(self, clock: ScriptedClock) -> None:
        super().__init__(clock)
        self.thresholds_s: tuple[float, ...] = ()
        self.watched = 0
        self.reads = 0
        self.told = False
        self.lost: str | None = None
        self._on_change: Callable[[], None] = lambda: None

    @property
    def event_driven(self) -> bool:
        return self.watched > 0 and self.lost is None

    def watch(self, thresholds_s: Sequence[float], on_change: Callable[[], None]) -> None:
        self.thresholds_s, self._on_change = tuple(thresholds_s), on_change
        self.watched += 1

    def idle_seconds(self) -> float | None:
        self.reads += 1
        if self.lost is not None:
            return None
        return super().idle_seconds() if self.told else 0.0

    def leave(self) -> None:
        """The user stops touching anything now (the source says nothing yet)."""
        self.left_at_s = self.clock.mono_s

    def reached(self) -> None:
        """A threshold is reached: the source's event."""
        self.told = True
        self._on_change()

    def come_back(self) -> None:
        self.left_at_s, self.told = None, False
        self._on_change()

    def lose(self, reason: str = "the compositor went away") -> None:
        self.lost = reason
        self._on_change()


class MemorySettings:
    """ports.SettingsStore in memory; `fail_with` makes the next saves raise (disk full...)."""

    def __init__(self, settings: Settings | None = None,
                 locked: frozenset[str] = frozenset()) -> None:
        self._result = LoadResult(settings or Settings(), locked=locked)
        self.saved: list[tuple[str, Any]] = []
        self.loads = 0
        self.fail_with: Exception | None = None

    @property
    def result(self) -> LoadResult:
        return self._result

    def load(self) -> LoadResult:
        self.loads += 1
        return self._result

    def save(self, key: str, value: Any) -> LoadResult:
        if self.fail_with is not None:
            raise self.fail_with
        if key in self._result.locked:
            raise SettingError(f"{key} is locked")
        self.saved.append((key, value))
        self._result = LoadResult(self._result.settings.with_value(key, value),
                                  locked=self._result.locked)
        return self._result


class MemoryHistory:
    """ports.History in memory (the real SqliteHistory has its own tests)."""

    def __init__(self) -> None:
        self.events: list[RecordEvent] = []
        self.forgotten: list[date] = []

    def record(self, event: RecordEvent) -> None:
        self.events.append(event)

    def forget_before(self, day: date) -> None:
        self.forgotten.append(day)

    def read_events(self, start: datetime, end: datetime) -> list[RecordEvent]:
        return [e for e in self.events if start <= e.wall < end]

    def flush(self, timeout_s: float = 10.0) -> bool:
        return True

    def close(self, timeout_s: float = 10.0) -> None:
        return None


class RecordingNotifications:
    """ports.NotificationSink: keeps every notification submitted and every close."""

    def __init__(self) -> None:
        self.shown: list[Notification] = []
        self.closed: list[str] = []

    def submit(self, notification: Notification) -> None:
        self.shown.append(notification)

    def close(self, tag: str) -> None:
        self.closed.append(tag)


class RecordingSpeech:
    """ports.SpeechSink: keeps every text submitted."""

    def __init__(self) -> None:
        self.said: list[str] = []

    def submit(self, text: str) -> None:
        self.said.append(text)


class HeldJobs:
    """ports.Jobs that runs nothing until the test calls `run_all()` (a job thread that is
    slower than the engine: what a test of "nothing blocks the engine thread" needs)."""

    def __init__(self) -> None:
        self.pending: list[tuple[str, Callable[[], None]]] = []
        self.names: list[str] = []

    def submit(self, name: str, job: Callable[[], None]) -> None:
        self.names.append(name)
        self.pending = [(n, j) for n, j in self.pending if n != name]  # newest wins, as real
        self.pending.append((name, job))

    def run_all(self) -> int:
        count = 0
        while self.pending:
            _name, job = self.pending.pop(0)
            job()
            count += 1
        return count


@dataclass
class RecordingPages:
    """ports.Pages: records what would have been opened."""

    opened: list[tuple[str, Any]] = field(default_factory=list)

    def show_week(self, now: datetime, live_sit_s: float | None) -> None:
        self.opened.append(("week", live_sit_s))

    def show_about(self, backends: Mapping[str, str], driver: bool) -> None:
        self.opened.append(("about", driver))

    def show_exercise(self, selection: Selection) -> None:
        self.opened.append(("exercise", selection.exercise.id))


class RecordingTray:
    """ports.Tray: keeps the last view rendered and counts renders (keeping every view would
    make a week-long test hold megabytes of menus)."""

    name = "recording"
    has_menu = True
    has_notification = False

    def __init__(self) -> None:
        self.view: TrayView | None = None
        self.renders = 0

    def render(self, view: TrayView) -> None:
        self.view = view
        self.renders += 1

    def run(self, setup: Callable[[], None]) -> None:
        setup()

    def stop(self) -> None:
        return None

    def notify(self, title: str, message: str) -> None:
        return None


class FixedQuiet:
    """ports.QuietDetector whose answer the test sets."""

    name = "fixed"

    def __init__(self, *reasons: str) -> None:
        self.now: tuple[str, ...] = reasons
        self.asked = 0

    def reasons(self) -> tuple[str, ...]:
        self.asked += 1
        return self.now

    def close(self) -> None:
        return None


class RecordingLocation:
    """ports.Location: records what the runtime asked for; a test posts the RoadSample and
    LocationState commands a real LocationService would (tests/test_location_*.py run the
    real sources)."""

    def __init__(self) -> None:
        self.wanted: list[str | None] = []
        self.closed = False

    def want(self, device: str | None) -> None:
        self.wanted.append(device)

    def close(self) -> None:
        self.closed = True


class RuntimeRig:
    """A real Runtime wired to the doubles above, stepped synchronously by the test."""

    def __init__(
        self,
        start: datetime,
        settings: Settings | None = None,
        *,
        detectors: tuple[QuietDetector, ...] = (),
        history: Any = None,
        presenter: Presenter | None = None,
        store: MemorySettings | None = None,
        clock: ScriptedClock | None = None,
        event_idle: bool = False,
        location: RecordingLocation | None = None,
    ) -> None:
        self.clock = clock or ScriptedClock(start)
        self.idle = EventIdle(self.clock) if event_idle else ScriptedIdle(self.clock)
        self.store = store or MemorySettings(settings)
        self.history = history if history is not None else MemoryHistory()
        self.notifications = RecordingNotifications()
        self.speech = RecordingSpeech()
        self.presenter = presenter or Presenter(self.notifications, self.speech)
        self.jobs = HeldJobs()
        self.pages = RecordingPages()
        self.tray = RecordingTray()
        self.inbox = Inbox()
        self.quit_requested = 0
        self.runtime = Runtime(
            self.inbox,
            SittingEngine(self.store.result.settings),
            Collaborators(
                clock=self.clock, idle=self.idle, store=self.store, history=self.history,
                presenter=self.presenter,
                quiet=QuietControl(detectors, self.jobs, self.inbox.post,
                                   self.store.result.settings.max_defer_min * 60.0,
                                   self.store.result.settings.quiet_when),
                driving=DrivingControl(self.presenter.announce_driving, location=location),
                jobs=self.jobs, pages=self.pages, tray=self.tray,
                backends={"tray": "recording", "notifier": "recording", "idle": self.idle.name},
                on_quit=self._on_quit,
            ),
        )

    def _on_quit(self) -> None:
        self.quit_requested += 1

    def step(self, command: Command | None = None) -> Outcome:
        """One pass of the loop: the command (or time passing), then what it queued."""
        outcome = self.runtime.step(command)
        self.drain()
        self.runtime.render()
        return outcome

    def drain(self) -> int:
        """Step every command waiting in the inbox (what the jobs posted); returns how many."""
        count = 0
        while True:
            item = self.inbox.get(0)
            if item is None:
                return count
            self.runtime.step(item)
            count += 1

    def work(self) -> None:
        """Let the job thread catch up, then the engine thread."""
        while self.jobs.run_all():
            self.drain()
        self.runtime.render()

    def advance(self, seconds: float) -> None:
        """Let time pass, waking the runtime whenever its loop would."""
        end_s = self.clock.mono_s + seconds
        while True:
            wake_s = self.clock.mono_s + self.runtime.sleep_s()
            if wake_s > end_s:
                self.clock.mono_s = end_s
                return
            self.clock.mono_s = wake_s
            self.step(None)

