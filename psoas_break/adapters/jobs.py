"""`JobWorker`: the one queue for blocking work the engine thread must not wait for.

Saving settings (fsync), asking the quiet detectors (a /proc scan, D-Bus calls), switching
"Start at login" and opening pages run here, one at a time: a `SerialWorker`, as the
notification and speech workers are. A job reports back by posting a Command to the inbox;
a job that raises is logged and the worker carries on. Jobs are keyed by name: a queued job
is replaced by a newer one with the same name (two quick clicks save once, with the newer
value). Implements ports.Jobs.
"""

from __future__ import annotations

from collections.abc import Callable

from psoas_break.adapters.notify.delivery import Job, SerialWorker

#: A job still running after this long is abandoned (its thread is left to finish alone).
JOB_TIMEOUT_S = 30.0


class JobWorker(SerialWorker):
    """Runs `submit`ted callables on one worker thread (see module docstring)."""

    def __init__(self) -> None:
        super().__init__(name="psoas-jobs")

    def submit(self, name: str, job: Callable[[], None]) -> None:
        """Queue `job`; returns at once."""

        def run() -> str:
            job()
            return name

        self.submit_job(Job(key=name, label=name, run=run, timeout_s=JOB_TIMEOUT_S))
