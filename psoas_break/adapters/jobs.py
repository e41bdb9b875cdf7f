"""`JobWorker`: the one thread for blocking work the engine thread must not wait for.

Saving settings (fsync), asking the quiet detectors (a /proc scan, D-Bus calls), switching
"Start at login" and opening pages run here, one at a time, on the same `SerialWorker` the
notification and speech workers use. A job reports back by posting a Command to the inbox;
a job that raises is logged and the worker carries on. Jobs are keyed by name: a queued job
is replaced by a newer one with the same name (two quick clicks save once, with the newer
value). Implements ports.Jobs.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from psoas_break.adapters.notify.delivery import Job, SerialWorker

log = logging.getLogger(__name__)

#: A job still running after this long is abandoned (its thread is left to finish alone).
JOB_TIMEOUT_S = 30.0


class JobWorker:
    """Runs `submit`ted callables on one worker thread (see module docstring)."""

    def __init__(self, name: str = "psoas-jobs") -> None:
        self._worker = SerialWorker(name=name)

    def submit(self, name: str, job: Callable[[], None]) -> None:
        """Queue `job`; returns at once."""

        def run() -> str:
            job()
            return name

        self._worker.submit_job(Job(key=name, label=name, run=run, timeout_s=JOB_TIMEOUT_S))

    def wait_idle(self, timeout_s: float) -> bool:
        """Until nothing is queued or running (tests, orderly shutdown)."""
        return self._worker.wait_idle(timeout_s)

    def stop(self, timeout_s: float = 1.0) -> None:
        self._worker.stop(timeout_s)
