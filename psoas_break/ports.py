"""Ports: what the runtime needs from the outside world, as typing.Protocols.

Every family has a factory in `psoas_break/adapters/<family>/__init__.py` that declares its
candidates as data and lets `adapters/backends.py` choose: environment override, platform
filter, ordered tries with the reason of each rejected one (for `psoas-break doctor`), and a
null object, so the app always runs. The result says what was chosen and why: `Choice`.

Errors: everything psoas-break raises on purpose is a `PsoasError`, whose str() is one plain
line for the user. Adapters translate OS errors at the boundary, so the runtime and the CLI
only ever see this tree (a traceback is a bug; the log has it):

    PsoasError                    core/errors.py (stdlib only, so the core raises it too)
     ├── InputError(ValueError)   something a person or a file gave is not allowed: a setting,
     │                            exercise data, working hours, a control request, a duration
     └── AdapterError             the outside world failed
          ├── Unavailable         this backend cannot work here (missing library, no server)
          │    └── NoServer       nothing owns org.freedesktop.Notifications (notify/errors.py)
          ├── DeliveryFailed      it worked, this call failed (timeout, server gone, D-Bus error)
          │    ├── ServerTimeout  the notification server did not answer (notify/errors.py)
          │    └── NotRunning     no app answers on the control channel (control/client.py)
          └── StorageError        a file, database, lock or socket could not be read or
                                  written: settings, history, instance lock, autostart entry,
                                  control socket and key

Subclasses exist only where a caller must tell them apart: the notifier chain skips every
backend of a server that is missing (NoServer) and cools a hung one down (ServerTimeout); the
CLI exits with code 3 when the app is not running (NotRunning). Everything else raises the
class above. In core, the names that read best where an input is refused are the same class,
not subclasses: SettingError, ExerciseDataError, WorkingHoursError, QuietSettingError and
NoExerciseError are InputError.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    from psoas_break.core.events import RecordEvent
    from psoas_break.core.exercise_selection import Selection
    from psoas_break.core.settings import LoadResult
    from psoas_break.core.tray_view import TrayView

from psoas_break.core.errors import PsoasError


class AdapterError(PsoasError):
    """The outside world failed; str() is a plain sentence."""


class Unavailable(AdapterError):
    """This backend cannot work here (reason in the message)."""


class DeliveryFailed(AdapterError):
    """The backend works but this call failed (timeout, server gone)."""


class StorageError(AdapterError):
    """A file, database, lock or socket could not be read or written (which and why in str())."""


@dataclass(frozen=True)
class Choice:
    """What a factory picked and why the others were rejected (shown by `doctor`);
    `details`: (name, state) of chosen backends whose state matters now ("microphone-pulse",
    "unavailable: no sound server")."""

    family: str
    chosen: str
    rejected: tuple[tuple[str, str], ...] = ()
    fix: str | None = None
    details: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Notification:
    """One desktop notification; a newer one with the same `tag` replaces the one shown."""

    title: str
    body: str
    icon: Path | None = None
    timeout_s: int = 30
    urgent: bool = False
    actions: tuple[tuple[str, str], ...] = field(default_factory=tuple)  # (id, label)
    tag: str = "prompt"


@runtime_checkable
class Notifier(Protocol):
    """Shows desktop notifications. Called from a worker thread; may block up to its timeout.

    name: the backend's name, e.g. "plyer-dbus".
    notify(): raises DeliveryFailed (or Unavailable) on failure; never blocks forever.
    """

    name: str

    def notify(self, notification: Notification) -> None: ...


@runtime_checkable
class Speaker(Protocol):
    """Speaks text aloud. Called from a worker thread; blocks until done or raises."""

    name: str

    def say(self, text: str) -> None: ...


@runtime_checkable
class IdleSource(Protocol):
    """Seconds since the last user input in this session.

    idle_seconds(): float >= 0, or None when it cannot tell right now. Cheap (no subprocess),
    called from the engine thread at most once per poll interval. Raises nothing.
    """

    name: str

    def idle_seconds(self) -> float | None: ...

    def close(self) -> None: ...


@runtime_checkable
class IdleEvents(Protocol):
    """An IdleSource that says when its answer changes, so nobody needs to poll it (Wayland's
    idle protocols, Mutter's watches).

    watch(thresholds_s, on_change): the idle times that matter, in real seconds (replacing
    earlier ones); from then on `on_change()` is called (on the source's thread: post to the
    inbox, nothing more) when idle reaches one of them, when input resumes, and when the source
    is lost. May block briefly (D-Bus calls): call it on the job thread.
    event_driven: True while idle_seconds() is a cheap read that on_change keeps current.
    lost: why the source stopped working for good (the compositor went away), else None.
    """

    @property
    def event_driven(self) -> bool: ...

    @property
    def lost(self) -> str | None: ...

    def watch(self, thresholds_s: Sequence[float], on_change: Callable[[], None]) -> None: ...


@runtime_checkable
class SessionWatcher(Protocol):
    """Screen lock and suspend signals. Calls back from its own thread (post to the queue!).

    start(on_lock, on_sleep): on_lock(True/False) when the screen locks/unlocks;
    on_sleep(True) just before suspend, on_sleep(False) after resume.
    """

    name: str

    def start(
        self, on_lock: Callable[[bool], None], on_sleep: Callable[[bool], None]
    ) -> None: ...

    def stop(self) -> None: ...


@runtime_checkable
class LocationSource(Protocol):
    """Ground speed from a location service (gpsd, GeoClue, a serial receiver); never a position.

    start(on_speed): reports from the source's own thread: on_speed(m/s), or on_speed(None)
    when the fix is known to be lost (only after a speed, never twice in a row); a source
    without a fix may also just fall silent. stop(): ends it within about a second.
    status: what happened last, one line for doctor and the log (never a coordinate).
    """

    name: str
    status: str

    def start(self, on_speed: Callable[[float | None], None]) -> None: ...

    def stop(self) -> None: ...


# ---- the runtime's collaborators (given to it at construction; see runtime/loop.py) ----


class Location(Protocol):
    """The driver profile's location source switch (adapters/location.LocationService).

    want(device): run the first source that works (device: the gps_device setting, "" to find
    one), or none (None). Never blocks; speeds come back as RoadSample commands and each change
    of source as a LocationState command, through the inbox.
    """

    def want(self, device: str | None) -> None: ...

    def close(self) -> None: ...
# Units: seconds; "engine seconds" are real seconds except in tests that shorten the minute
# (PSOAS_SECONDS_PER_MINUTE), where the clock scales them once, at its boundary.


class Clock(Protocol):
    """The only reader of real clocks (adapters/clock.py). Thread-safe, never blocks."""

    def read(self) -> tuple[datetime, float, float]:
        """(aware local wall time, engine seconds on a clock that counts through suspend,
        cumulative engine seconds spent suspended)."""
        ...

    def engine_s(self, real_s: float) -> float:
        """A real duration (an idle time read from the desktop) in engine seconds."""
        ...

    def real_s(self, engine_s: float) -> float:
        """An engine duration (how long to wait) in real seconds."""
        ...


class Tray(Protocol):
    """The tray icon and menu. `render` and `stop` from any thread; `run` blocks the main
    thread until `stop`; menu clicks post the entries' Commands and return at once."""

    name: str
    has_menu: bool
    has_notification: bool

    def render(self, view: TrayView) -> None: ...

    def run(self, setup: Callable[[], None]) -> None: ...

    def stop(self) -> None: ...

    def notify(self, title: str, message: str) -> None: ...


class SettingsStore(Protocol):
    """The settings files (adapters/files/settings_store.py). `load` and `save` do file I/O:
    call them off the engine thread, except `load` at start and on an explicit reload.
    `save` raises SettingError (e.g. a key locked by the site) or an AdapterError whose str()
    is the line to show (disk full, read-only folder); the file is then unchanged."""

    @property
    def result(self) -> LoadResult: ...

    def load(self) -> LoadResult: ...

    def save(self, key: str, value: Any) -> LoadResult: ...


class History(Protocol):
    """The event history (adapters/history). `record` and `forget_before` queue work for the
    one writer thread and return at once; `read_events` reads on the caller's thread."""

    def record(self, event: RecordEvent) -> None: ...

    def forget_before(self, day: date) -> None: ...

    def read_events(self, start: datetime, end: datetime) -> list[RecordEvent]: ...

    def flush(self, timeout_s: float = 10.0) -> bool: ...

    def close(self, timeout_s: float = 10.0) -> None: ...


class NotificationSink(Protocol):
    """Queues notifications for a worker thread (never blocks the caller)."""

    def submit(self, notification: Notification) -> None: ...

    def close(self, tag: str) -> None: ...


class SpeechSink(Protocol):
    """Queues text to be spoken on a worker thread (never blocks the caller)."""

    def submit(self, text: str) -> None: ...


class QuietDetector(Protocol):
    """One reason to hold prompts (fullscreen, camera, a call, ...). `reasons()` may block
    briefly (a /proc scan, a D-Bus call): the runtime calls it on its job thread."""

    name: str

    def reasons(self) -> tuple[str, ...]: ...

    def close(self) -> None: ...


class AutostartState(Protocol):
    """What `Autostart.status()` tells (adapters/autostart.AutostartStatus)."""

    @property
    def enabled(self) -> bool: ...


class Autostart(Protocol):
    """"Start at login". File I/O: called on the job thread. Errors: AdapterError."""

    name: str

    def enable(self) -> object: ...

    def disable(self) -> object: ...

    def status(self) -> AutostartState: ...


class Pages(Protocol):
    """Pages opened for a person (browser, image viewer); may block: job thread only."""

    def show_week(self, now: datetime, live_sit_s: float | None) -> None: ...

    def show_about(self, backends: Mapping[str, str], driver: bool) -> None: ...

    def show_exercise(self, selection: Selection) -> None: ...


class Jobs(Protocol):
    """One worker thread for blocking work the engine thread must not wait for."""

    def submit(self, name: str, job: Callable[[], None]) -> None: ...
