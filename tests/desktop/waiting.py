"""Polling waits for real processes: the one way the harness and its users wait for things.

Real desktop processes (an X server, a bus, a tray icon) become ready at times nobody controls,
so tests never sleep a fixed time: they poll a predicate until it holds or a generous deadline
passes. A timeout is an assertion failure that says what was awaited and the last thing seen.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")

#: Default deadline for anything a real process must do: generous for a loaded 2-core machine.
DEFAULT_TIMEOUT_S = 10.0
#: Default polling period: short enough to keep tests quick, long enough not to hog a core.
DEFAULT_INTERVAL_S = 0.02


class WaitTimeout(AssertionError):
    """A `wait_for` deadline passed before the predicate held (an AssertionError, so a test
    that waits for something that never happens fails rather than errors)."""


def wait_for(
    predicate: Callable[[], T | None],
    timeout_s: float = DEFAULT_TIMEOUT_S,
    *,
    interval_s: float = DEFAULT_INTERVAL_S,
    what: str | None = None,
    ignore: tuple[type[BaseException], ...] = (),
) -> T:
    """Call `predicate` every `interval_s` until it returns a truthy value, and return that value.

    Contract: the predicate is called at least once, even with `timeout_s=0`. Exceptions of the
    types in `ignore` count as "not yet" (e.g. a D-Bus name not owned yet); any other exception
    propagates at once. After `timeout_s` seconds raises `WaitTimeout` naming `what` (default:
    the predicate's name), the last value returned and the last ignored exception.
    """
    deadline = time.monotonic() + timeout_s
    last_value: object = None
    last_exc: BaseException | None = None
    while True:
        try:
            value = predicate()
        except ignore as exc:
            last_exc = exc
        else:
            if value:
                return value
            last_value = value
        if time.monotonic() >= deadline:
            label = what or getattr(predicate, "__name__", repr(predicate))
            detail = f"last value {last_value!r}"
            if last_exc is not None:
                detail += f", last error {type(last_exc).__name__}: {last_exc}"
            raise WaitTimeout(f"timed out after {timeout_s:g} s waiting for {label} ({detail})")
        time.sleep(interval_s)
