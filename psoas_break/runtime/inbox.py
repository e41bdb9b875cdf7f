"""The one way in: the queue every input posts its Command to, read by the engine thread.

Apart from runtime/loop.py so that the tray can post its clicks before the runtime (and
everything it imports) is loaded: the icon shows first.
"""

from __future__ import annotations

import queue
import threading
from typing import Any

from psoas_break.core.commands import Command, Outcome
from psoas_break.core.i18n import _


class Call:
    """A command whose caller waits for its `Outcome` (the control channel)."""

    def __init__(self, command: Command) -> None:
        self.command = command
        self.outcome: Outcome | None = None
        self.error: BaseException | None = None
        self.done = threading.Event()


CLOSE = object()  # close the open sit, then stop the loop


class Inbox:
    """The one way in: a thread-safe queue of Commands for the engine thread."""

    def __init__(self) -> None:
        self._queue: queue.Queue[Any] = queue.Queue()

    def post(self, command: Command) -> None:
        """Queue `command`; returns at once (any thread)."""
        self._queue.put(command)

    def call(self, command: Command, timeout_s: float = 2.0) -> Outcome:
        """Queue `command` and wait for the engine thread's answer (any other thread).

        Raises TimeoutError when the engine thread does not answer within `timeout_s`."""
        call = Call(command)
        self._queue.put(call)
        if not call.done.wait(timeout_s):
            raise TimeoutError(_("the app did not answer in time"))
        if call.error is not None:
            raise call.error
        assert call.outcome is not None
        return call.outcome

    def close(self) -> None:
        """Ask the loop to close the open sit and stop."""
        self._queue.put(CLOSE)

    def get(self, timeout_s: float | None) -> Any:
        """The next item, or None after `timeout_s` (0: at once; None: wait for one)."""
        try:
            return self._queue.get(timeout=timeout_s)
        except queue.Empty:
            return None
