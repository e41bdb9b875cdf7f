"""Asynchronous delivery: run blocking notifier/speaker calls off the caller's thread.

`SerialWorker` is the generic part (also used by the speech worker and the job thread): jobs run
one at a time, each on a runner thread of its own; `submit` returns at once. Jobs are keyed: a
newer job with the same key replaces a queued older one (coalescing: no pile of stale prompts
after a long absence). A job that runs longer than its timeout is abandoned: its runner thread
is left to finish or die on its own (daemon thread), the next job gets a runner of its own all
the same, and the job counts as a failure. Between jobs only the dispatcher thread exists.

`NotificationWorker` keys notifications by `Notification.tag` and can queue `close(tag)`;
`SpeechWorker` (speech/worker.py) and `JobWorker` (jobs.py) are the other two.

Failure reporting is edge-triggered so the runtime can tell the user once: `on_failure(reason)`
is called when a job fails after a success (or as the first job), `on_recovered(detail)` when a
job succeeds after failures. Both run on the worker's dispatcher thread and must not block.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field

from psoas_break.ports import AdapterError, Notification, Notifier

log = logging.getLogger(__name__)

DEFAULT_NOTIFY_TIMEOUT_S = 5.0


@dataclass
class Job:
    """One unit of work: `run()` returns a short detail for logs (e.g. the backend used)."""

    key: str
    label: str
    run: Callable[[], str | None]
    timeout_s: float
    on_abandon: Callable[[], None] | None = None
    submitted_at: float = field(default_factory=time.monotonic)


class SerialWorker:
    """Runs keyed jobs one at a time, in submission order, with coalescing (a replaced job's
    successor moves to the back) and timeouts (an abandoned job's `on_abandon` is called); see
    the module docstring. `submit_job` never blocks (beyond a lock); `stop()` drops queued jobs.
    The counters (`delivered`, `failed`, `abandoned`, `coalesced`, ...) are for tests."""

    def __init__(self, *, name: str, on_failure: Callable[[str], None] | None = None,
                 on_recovered: Callable[[str], None] | None = None) -> None:
        self.name = name
        self._on_failure = on_failure
        self._on_recovered = on_recovered
        self._cond = threading.Condition()
        self._pending: OrderedDict[str, Job] = OrderedDict()
        self._busy = False
        self._stopping = False
        self._failing = False
        self.runner_threads_started = 0
        self.delivered = 0
        self.failed = 0
        self.abandoned = 0
        self.coalesced = 0
        self._dispatcher = threading.Thread(target=self._dispatch, name=name, daemon=True)
        self._dispatcher.start()

    def submit_job(self, job: Job) -> None:
        """Queue `job`, replacing a queued job with the same key. Returns at once."""
        with self._cond:
            if self._stopping:
                log.debug("%s is stopped; dropping %r", self.name, job.label)
                return
            if self._pending.pop(job.key, None) is not None:
                self.coalesced += 1
                log.debug("%s: %r replaces a queued job with key %r", self.name, job.label, job.key)
            self._pending[job.key] = job
            self._cond.notify_all()

    def drop(self, key: str) -> bool:
        """Remove a queued (not yet running) job; True if one was queued."""
        with self._cond:
            return self._pending.pop(key, None) is not None

    def wait_idle(self, timeout_s: float) -> bool:
        """Wait until nothing is queued or running; False if `timeout_s` passed first."""
        deadline = time.monotonic() + timeout_s
        with self._cond:
            while self._pending or self._busy:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._cond.wait(remaining)
        return True

    def stop(self, timeout_s: float = 1.0) -> None:
        """Drop queued jobs, wait up to `timeout_s` for a running one, then stop the threads."""
        with self._cond:
            self._stopping = True
            self._pending.clear()
            self._cond.notify_all()
        self._dispatcher.join(timeout_s)

    def _dispatch(self) -> None:
        while True:
            with self._cond:
                while not self._pending and not self._stopping:
                    self._cond.wait()
                if self._stopping:
                    break
                _, job = self._pending.popitem(last=False)
                self._busy = True
            try:
                self._run_one(job)
            finally:
                with self._cond:
                    self._busy = False
                    self._cond.notify_all()

    def _run_one(self, job: Job) -> None:
        done, abandoned = threading.Event(), threading.Event()
        result: list[str | None] = []  # the detail on success
        error: list[BaseException] = []

        def run() -> None:
            try:
                result.append(job.run())
            except BaseException as exc:  # noqa: BLE001 - reported by the dispatcher
                error.append(exc)
            done.set()
            if abandoned.is_set():
                log.info("abandoned job %r finished late after %.1f s: %s", job.label,
                         time.monotonic() - job.submitted_at, error[0] if error else "ok")

        self.runner_threads_started += 1
        threading.Thread(target=run, name=f"{self.name}-run{self.runner_threads_started}",
                         daemon=True).start()
        if not done.wait(job.timeout_s):
            abandoned.set()
            self.abandoned += 1
            log.warning("%s: %r took longer than %g s; abandoned it", self.name, job.label,
                        job.timeout_s)
            if job.on_abandon is not None:
                self._call(job.on_abandon)
            self._report_failure(f"no answer within {job.timeout_s:g} s ({job.label})")
            return
        if not error:
            self.delivered += 1
            log.debug("%s: %r done (%s)", self.name, job.label, result[0])
            if self._failing and self._on_recovered is not None:
                self._call(self._on_recovered, result[0] or "ok")
            self._failing = False
        elif isinstance(error[0], AdapterError):
            self._report_failure(str(error[0]))
        else:
            log.error("%s: %r raised", self.name, job.label, exc_info=error[0])
            self._report_failure(f"unexpected error: {error[0]}")

    def _report_failure(self, reason: str) -> None:
        self.failed += 1
        log.info("%s: failed: %s", self.name, reason)
        if not self._failing and self._on_failure is not None:
            self._call(self._on_failure, reason)
        self._failing = True

    def _call(self, hook: Callable[..., None], *args: str) -> None:
        try:
            hook(*args)
        except Exception:  # noqa: BLE001 - a hook must not kill the worker
            log.exception("%s: %s failed", self.name, getattr(hook, "__name__", "a hook"))


class NotificationWorker(SerialWorker):
    """Delivers notifications through `notifier`, one at a time (see module docstring).

    A call taking longer than `timeout_s` is abandoned and reported as a failure; a notifier
    with `abandon_current()` (the chain) is told, so it skips the stuck backend next time.
    """

    def __init__(self, notifier: Notifier, *, timeout_s: float = DEFAULT_NOTIFY_TIMEOUT_S,
                 on_failure: Callable[[str], None] | None = None,
                 on_recovered: Callable[[str], None] | None = None) -> None:
        super().__init__(name="psoas-notify", on_failure=on_failure, on_recovered=on_recovered)
        self.notifier = notifier
        self.timeout_s = timeout_s

    def submit(self, notification: Notification) -> None:
        """Queue `notification`, replacing a queued one with the same tag; never blocks."""

        def run() -> str | None:
            self.notifier.notify(notification)
            return getattr(self.notifier, "last_used", None) or self.notifier.name

        self._queue(notification.tag, f"notify {notification.tag!r}: {notification.title}", run)

    def close(self, tag: str) -> None:
        """Queue closing the notification shown with `tag` (a queued one with that tag is
        dropped); never blocks. A no-op for notifiers without `close(tag)`."""
        close = getattr(self.notifier, "close", None)
        if not callable(close):
            self.drop(tag)
            return

        def run() -> str | None:
            close(tag)
            return None

        self._queue(tag, f"close {tag!r}", run)

    def _queue(self, key: str, label: str, run: Callable[[], str | None]) -> None:
        hook = getattr(self.notifier, "abandon_current", None)
        self.submit_job(Job(key, label, run, self.timeout_s, hook if callable(hook) else None))
