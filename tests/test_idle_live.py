"""LiveIdleSource: the chosen event-driven idle source, chosen again when it is lost.

The loss itself is shown on the real compositors (tests/test_wayland_idle.py, and the real app
in tests/test_app_wayland_*.py); here fake sources drive the choosing-again schedule quickly.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence

from psoas_break.adapters.idle import NullIdleSource
from psoas_break.adapters.idle.live import LiveIdleSource
from psoas_break.ports import Choice, IdleEvents, IdleSource
from tests.desktop.waiting import wait_for


class Driven:
    """An event-driven source that can be lost."""

    def __init__(self, name: str = "wayland") -> None:
        self.name = name
        self.lost: str | None = None
        self.thresholds_s: tuple[float, ...] = ()
        self.closed = False
        self._on_change: Callable[[], None] = lambda: None

    @property
    def event_driven(self) -> bool:
        return self.lost is None

    def watch(self, thresholds_s: Sequence[float], on_change: Callable[[], None]) -> None:
        self.thresholds_s, self._on_change = tuple(thresholds_s), on_change

    def idle_seconds(self) -> float | None:
        return None if self.lost else 0.0

    def lose(self) -> None:
        self.lost = "gone"
        self._on_change()

    def close(self) -> None:
        self.closed = True


class Chooser:
    """The factory: hands out what the test queued, else the null source."""

    def __init__(self) -> None:
        self.queue: list[IdleSource] = []
        self.calls = 0
        self.lock = threading.Lock()

    def __call__(self) -> tuple[IdleSource, Choice]:
        with self.lock:
            self.calls += 1
            source = self.queue.pop(0) if self.queue else NullIdleSource()
        return source, Choice("idle", source.name)


def test_a_lost_source_falls_back_and_comes_back_when_it_answers_again() -> None:
    first, chooser, changes = Driven(), Chooser(), []
    live = LiveIdleSource(first, chooser, retry_first_s=0.01, retry_max_s=0.05)
    assert isinstance(live, IdleEvents) and live.name == "wayland"
    live.watch((120.0, 300.0), lambda: changes.append(live.name))
    assert first.thresholds_s == (120.0, 300.0) and live.event_driven
    first.lose()
    wait_for(lambda: live.name == "none", 5, what="the fallback")
    assert first.closed and not live.event_driven and live.idle_seconds() is None
    wait_for(lambda: chooser.calls >= 3, 5, what="asking again while degraded")
    again = Driven()
    chooser.queue.append(again)
    wait_for(lambda: live.name == "wayland" and live.current is again, 5, what="the return")
    assert again.thresholds_s == (120.0, 300.0)  # told the remembered thresholds
    assert live.event_driven and live.history == ["wayland", "none", "wayland"]
    assert "none" in changes and changes[-1] == "wayland"  # the runtime heard each change
    calls = chooser.calls
    threading.Event().wait(0.2)
    assert chooser.calls == calls  # back on an event-driven source: no more asking
    live.close()
    assert again.closed


def test_close_stops_choosing_again() -> None:
    first, chooser = Driven(), Chooser()
    live = LiveIdleSource(first, chooser, retry_first_s=0.01, retry_max_s=0.01)
    live.watch((60.0,), lambda: None)
    first.lose()
    wait_for(lambda: chooser.calls >= 2, 5, what="retries")
    live.close()
    calls = chooser.calls
    threading.Event().wait(0.1)
    assert chooser.calls <= calls + 1
