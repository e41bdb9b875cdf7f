"""Idle time from threshold events ("idle for at least T" / "active again"), thread-safe.

Shared by the event-driven sources (Wayland's ext-idle-notify and org_kde_kwin_idle, Mutter's
watches): they learn the moment each threshold T is crossed, never the idle time in between:
- no threshold crossed since the last input: 0.0 (0 s cannot be told from T - 1 s: give the
  thresholds the values that matter, the natural-break and break lengths);
- threshold T crossed at monotonic t0: T + (now - t0), from the largest crossed one;
- `crossed(T, at=...)` takes an earlier moment when the exact idle time is known (Mutter's
  GetIdletime).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable

#: Until the runtime says which thresholds matter (`IdleEvents.watch`): the default natural
#: break and break lengths (core/settings.py), in seconds.
DEFAULT_THRESHOLDS_S = (300.0, 120.0)


def clean_thresholds(thresholds_s: Iterable[float]) -> tuple[float, ...]:
    """Distinct positive thresholds, ascending; raises ValueError when none is left."""
    values = tuple(sorted({float(t) for t in thresholds_s if float(t) > 0}))
    if not values:
        raise ValueError("idle thresholds must be positive seconds")
    return values


class IdleThresholds:
    """The state behind idle_seconds() of a threshold-event source."""

    def __init__(self, thresholds_s: Iterable[float],
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.thresholds_s = clean_thresholds(thresholds_s)
        self._clock = clock
        self._lock = threading.Lock()
        self._crossed_at: dict[float, float] = {}

    def now(self) -> float:
        return self._clock()

    def crossed(self, threshold_s: float, at: float | None = None) -> bool:
        """Idle reached `threshold_s` (now, or at monotonic `at`); True if that is news. An
        earlier `at` for a threshold already crossed corrects its moment."""
        moment = self._clock() if at is None else at
        with self._lock:
            if threshold_s in self._crossed_at:
                self._crossed_at[threshold_s] = min(moment, self._crossed_at[threshold_s])
                return False
            self._crossed_at[threshold_s] = moment
            return True

    def active(self) -> bool:
        """Input happened: every threshold starts over. True if any had been crossed."""
        with self._lock:
            was_idle = bool(self._crossed_at)
            self._crossed_at.clear()
            return was_idle

    def is_idle(self) -> bool:
        """Whether some threshold is crossed."""
        with self._lock:
            return bool(self._crossed_at)

    def seconds(self) -> float:
        """Seconds without input as far as the crossed thresholds tell."""
        now = self._clock()
        with self._lock:
            return max((t + max(0.0, now - at) for t, at in self._crossed_at.items()),
                       default=0.0)

    def describe(self) -> str:
        """"300, 120 s" for doctor and the log."""
        return ", ".join(f"{t:g}" for t in sorted(self.thresholds_s, reverse=True)) + " s"
