"""The idle source the app uses: the chosen one while it works, the next best when it is lost.

An event-driven source can be lost for good: the compositor or Mutter went away (crashed,
restarted, the session is ending). Then this wrapper asks the factory again (on a thread of its
own: the probes make connections) and uses what it gets, polled or none, so the app keeps
running; and while that is not event-driven it asks again after 1 s, doubling to a minute, so
a compositor or Mutter that comes back is used again. `name` is always the live source's: what
`psoas-break status` shows. Each change calls the runtime's on_change, so the engine reads the
new source at once.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence

from psoas_break.ports import Choice, IdleEvents, IdleSource

log = logging.getLogger(__name__)

RETRY_FIRST_S = 1.0
RETRY_MAX_S = 60.0


class LiveIdleSource:
    """IdleSource and IdleEvents: the current source, chosen again when it is lost."""

    def __init__(self, source: IdleSource, choose: Callable[[], tuple[IdleSource, Choice]], *,
                 retry_first_s: float = RETRY_FIRST_S, retry_max_s: float = RETRY_MAX_S) -> None:
        self._current = source
        self.name = source.name  # the live source's
        self._choose = choose
        self._retry_first_s = retry_first_s
        self._retry_max_s = retry_max_s
        # Serialises watch() and swaps (both may block; a source's watch() may call back).
        self._watch_lock = threading.RLock()
        self._thresholds_s: tuple[float, ...] | None = None
        self._on_change: Callable[[], None] = lambda: None
        self._closed = threading.Event()
        self._retrying: threading.Thread | None = None
        self.lost: str | None = None  # the wrapper itself never is
        self.history: list[str] = [source.name]  # the sources used, in order (tests, log)

    @property
    def current(self) -> IdleSource:
        return self._current

    @property
    def event_driven(self) -> bool:
        current = self._current
        return isinstance(current, IdleEvents) and current.event_driven

    def idle_seconds(self) -> float | None:
        return self._current.idle_seconds()

    def watch(self, thresholds_s: Sequence[float], on_change: Callable[[], None]) -> None:
        """Remember the thresholds and the callback, and pass them to the live source."""
        with self._watch_lock:
            self._thresholds_s, self._on_change = tuple(thresholds_s), on_change
            current = self._current
            if isinstance(current, IdleEvents):
                current.watch(self._thresholds_s, self._changed)

    def _changed(self) -> None:
        current = self._current
        if isinstance(current, IdleEvents) and current.lost is not None:
            self._start_retrying(f"{current.name}: {current.lost}")
        self._notify()

    def _notify(self) -> None:
        try:
            self._on_change()
        except Exception:
            log.exception("idle on_change failed")

    def _start_retrying(self, why: str) -> None:
        with self._watch_lock:
            if self._retrying is not None or self._closed.is_set():
                return
            log.warning("idle source lost (%s); choosing again", why)
            self._retrying = threading.Thread(target=self._retry, name="psoas-idle-retry",
                                              daemon=True)
            self._retrying.start()

    def _retry(self) -> None:
        delay_s, first = self._retry_first_s, True
        while not self._closed.is_set():
            source, choice = self._choose()
            driven = isinstance(source, IdleEvents) and source.lost is None
            if first or driven:
                self._swap(source, choice)
                first = False
                if driven:
                    with self._watch_lock:
                        self._retrying = None  # a later loss starts a new round
                    if isinstance(source, IdleEvents) and source.lost is not None:
                        self._start_retrying(f"{source.name}: {source.lost}")  # lost already
                    return
            else:
                source.close()  # the same fallback again: keep the one in use
            if self._closed.wait(delay_s):
                return
            delay_s = min(self._retry_max_s, delay_s * 2)

    def _swap(self, source: IdleSource, choice: Choice) -> None:
        with self._watch_lock:
            if self._closed.is_set():
                source.close()
                return
            if isinstance(source, IdleEvents) and self._thresholds_s is not None:
                source.watch(self._thresholds_s, self._changed)
            old, self._current = self._current, source
            self.name = source.name
            self.history.append(source.name)
        why = "; ".join(f"{n}: {r}" for n, r in choice.rejected if not r.startswith("only on"))
        log.warning("idle source is now %s (%s)", source.name, why or "its first choice")
        try:
            old.close()
        except Exception:
            log.debug("closing the lost idle source failed", exc_info=True)
        self._notify()

    def close(self) -> None:
        """Stop choosing again and close the live source."""
        self._closed.set()
        with self._watch_lock:
            current, thread = self._current, self._retrying
        if thread is not None and thread is not threading.current_thread():
            thread.join(5.0)
        current.close()
