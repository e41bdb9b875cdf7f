"""What every location source does with a speed it read: hand it to the app, the same way."""

from __future__ import annotations

import logging
from collections.abc import Callable

log = logging.getLogger(__name__)


class SpeedRelay:
    """Hands a source's speeds (m/s; None = no fix) to the callback given at `start`.

    A None goes out only after a speed (a source that never had a fix says nothing: the app
    keeps its "no location yet"), and a callback that raises is logged, never the end of the
    source's reader thread."""

    def __init__(self, label: str) -> None:
        self.label = label
        self._on_speed: Callable[[float | None], None] = lambda _speed: None
        self._last: float | None = None  # the last speed sent

    def start(self, on_speed: Callable[[float | None], None]) -> None:
        self._on_speed = on_speed

    def __call__(self, speed: float | None) -> None:
        if speed is None and self._last is None:
            return
        self._last = speed
        try:
            self._on_speed(speed)
        except Exception:
            log.exception("%s: the speed callback failed", self.label)
