"""Ports: what the runtime needs from the outside world, as typing.Protocols.

Every family has a factory in `psoas_break/adapters/<family>/__init__.py` that tries candidates
in order, honours an environment override, records why each candidate was rejected (for
`psoas-break doctor`) and falls back to a null object, so the app always runs.

Errors: adapters translate OS errors at the boundary; the runtime only ever sees
`AdapterError` (and its subclasses), whose str() is a plain sentence for the user.

    AdapterError
     ├── Unavailable      the backend cannot work on this system (missing library, no server)
     └── DeliveryFailed   it worked before but this call failed (timeout, server went away)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol, runtime_checkable


class AdapterError(Exception):
    """Base of every error an adapter raises; str() is a plain sentence."""


class Unavailable(AdapterError):
    """This backend cannot work here (reason in the message)."""


class DeliveryFailed(AdapterError):
    """The backend works but this call failed (timeout, server gone)."""


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
