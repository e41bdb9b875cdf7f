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
class above. Older names are kept as the same class, not as subclasses: SettingError,
ExerciseDataError, WorkingHoursError, QuietSettingError and NoExerciseError are InputError
(core); InstanceLockError is StorageError; ControlServerError and ControlError are AdapterError
(the names app.py and cli/control.py import).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol, runtime_checkable

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
    """What a factory picked and why the others were rejected (shown by `doctor`)."""

    family: str
    chosen: str
    rejected: tuple[tuple[str, str], ...] = ()
    fix: str | None = None


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
