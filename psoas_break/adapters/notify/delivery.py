"""Asynchronous delivery: run blocking notifier/speaker calls off the caller's thread.

`SerialWorker` is the generic part (also used by the speech worker): jobs run one at a time on a
single runner thread; `submit` returns at once. Jobs are keyed: a newer job with the same key
replaces a queued older one (coalescing: no pile of stale prompts after a long absence). A job
that runs longer than its timeout is abandoned: the runner thread is left to finish or die on
its own (daemon thread), a fresh runner takes the next job, and the job counts as a failure.

`NotificationWorker` keys notifications by `Notification.tag` and can queue `close(tag)`.

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


class _Runner:
    """A runner thread executing one job at a time, handed over by the dispatcher."""

    def __init__(self, name: str) -> None:
        self._lock = threading.Lock()
        self._ready = threading.Event()
        self.done = threading.Event()
        self._job: Job | None = None
        self._stop = False
        self.abandoned = False
        self.error: BaseException | None = None
        self.detail: str | None = None
        self.thread = threading.Thread(target=self._loop, name=name, daemon=True)
        self.thread.start()

    def hand(self, job: Job) -> None:
        """Start `job` (the runner must be idle)."""
        with self._lock:
            self.done.clear()
            self.error = None
            self.detail = None
            self._job = job
        self._ready.set()

    def abandon(self) -> None:
        """Detach from a stuck job; the thread exits when (if ever) the job returns."""
        with self._lock:
            self.abandoned = True
            self._stop = True
        self._ready.set()

    def stop(self) -> None:
        """Ask an idle runner to exit."""
        with self._lock:
            self._stop = True
        self._ready.set()

    def _loop(self) -> None:
        while True:
            self._ready.wait()
            self._ready.clear()
            with self._lock:
                job, self._job = self._job, None
                stop = self._stop
            if job is None:
                if stop:
                    return
                continue
            error: BaseException | None = None
            detail: str | None = None
            try:
                detail = job.run()
            except BaseException as exc:  # noqa: BLE001 - reported to the dispatcher
                error = exc
            with self._lock:
                if self.abandoned:
                    log.info(
                        "abandoned job %r finished late after %.1f s: %s",
                        job.label,
                        time.monotonic() - job.submitted_at,
                        error or "ok",
                    )
                    return
                self.error = error
                self.detail = detail
            self.done.set()


class SerialWorker:
    """Runs keyed jobs one at a time on a runner thread, with coalescing and timeouts.

    Contract: `submit_job` never blocks (beyond a lock); jobs run in submission order, except
    that a new job with the key of a queued one replaces it (and moves to the back). A job is
    given `job.timeout_s`; past that it is abandoned (its `on_abandon` hook is called), counted
    as failed, and a fresh runner thread serves the next job. `stop()` drops queued jobs.
    Counters (`delivered`, `failed`, `abandoned`, `coalesced`) are for tests and `doctor`.
    """

    def __init__(
        self,
        *,
        name: str,
        on_failure: Callable[[str], None] | None = None,
        on_recovered: Callable[[str], None] | None = None,
    ) -> None:
        self.name = name
        self._on_failure = on_failure
        self._on_recovered = on_recovered
        self._cond = threading.Condition()
        self._pending: OrderedDict[str, Job] = OrderedDict()
        self._busy = False
        self._stopping = False
        self._failing = False
        self._runner: _Runner | None = None
        self._runner_count = 0
        self.delivered = 0
        self.failed = 0
        self.abandoned = 0
        self.coalesced = 0
        self.last_error: str | None = None
        self._dispatcher = threading.Thread(target=self._dispatch, name=name, daemon=True)
        self._dispatcher.start()

    # -- caller side ------------------------------------------------------------------------

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

    @property
    def runner_threads_started(self) -> int:
        """How many runner threads were started (1 + one per abandoned job)."""
        return self._runner_count

    # -- dispatcher thread ------------------------------------------------------------------

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
        if self._runner is not None:
            self._runner.stop()

    def _run_one(self, job: Job) -> None:
        if self._runner is None:
            self._runner_count += 1
            self._runner = _Runner(f"{self.name}-run{self._runner_count}")
        runner = self._runner
        runner.hand(job)
        if not runner.done.wait(job.timeout_s):
            runner.abandon()
            self._runner = None
            self.abandoned += 1
            log.warning("%s: %r took longer than %g s; abandoned it", self.name, job.label,
                        job.timeout_s)
            if job.on_abandon is not None:
                try:
                    job.on_abandon()
                except Exception:  # noqa: BLE001 - a hook must not kill the worker
                    log.exception("%s: on_abandon hook failed", self.name)
            self._report_failure(f"no answer within {job.timeout_s:g} s ({job.label})")
            return
        if runner.error is None:
            self.delivered += 1
            log.debug("%s: %r done (%s)", self.name, job.label, runner.detail)
            self._report_success(runner.detail or "ok")
        elif isinstance(runner.error, AdapterError):
            self._report_failure(str(runner.error))
        else:
            log.error("%s: %r raised", self.name, job.label, exc_info=runner.error)
            self._report_failure(f"unexpected error: {runner.error}")

    def _report_failure(self, reason: str) -> None:
        self.failed += 1
        self.last_error = reason
        log.info("%s: failed: %s", self.name, reason)
        if self._failing:
            return
        self._failing = True
        if self._on_failure is not None:
            try:
                self._on_failure(reason)
            except Exception:  # noqa: BLE001 - a callback must not kill the worker
                log.exception("%s: on_failure callback failed", self.name)

    def _report_success(self, detail: str) -> None:
        if not self._failing:
            return
        self._failing = False
        self.last_error = None
        if self._on_recovered is not None:
            try:
                self._on_recovered(detail)
            except Exception:  # noqa: BLE001
                log.exception("%s: on_recovered callback failed", self.name)


class NotificationWorker:
    """Delivers notifications through `notifier` on a worker thread (see module docstring).

    submit(n): queue n, replacing a queued one with the same tag; returns at once.
    close(tag): queue closing the shown notification with that tag (drops a queued one with
    that tag first); a no-op for notifiers without `close(tag)`.
    A call taking longer than `timeout_s` is abandoned and reported as a failure; if the
    notifier has `abandon_current()` (the chain does) it is told, so it can mark the stuck
    backend as failing and skip it next time.
    """

    def __init__(
        self,
        notifier: Notifier,
        *,
        timeout_s: float = DEFAULT_NOTIFY_TIMEOUT_S,
        on_failure: Callable[[str], None] | None = None,
        on_recovered: Callable[[str], None] | None = None,
        name: str = "psoas-notify",
    ) -> None:
        self.notifier = notifier
        self.timeout_s = timeout_s
        self._worker = SerialWorker(name=name, on_failure=on_failure, on_recovered=on_recovered)

    def _abandon_hook(self) -> Callable[[], None] | None:
        hook = getattr(self.notifier, "abandon_current", None)
        return hook if callable(hook) else None

    def submit(self, notification: Notification) -> None:
        """Queue `notification` for delivery; never blocks."""

        def run() -> str | None:
            self.notifier.notify(notification)
            return getattr(self.notifier, "last_used", None) or self.notifier.name

        self._worker.submit_job(
            Job(
                key=notification.tag,
                label=f"notify {notification.tag!r}: {notification.title}",
                run=run,
                timeout_s=self.timeout_s,
                on_abandon=self._abandon_hook(),
            )
        )

    def close(self, tag: str) -> None:
        """Queue closing the notification shown with `tag`; never blocks."""
        close = getattr(self.notifier, "close", None)
        if not callable(close):
            self._worker.drop(tag)
            return

        def run() -> str | None:
            close(tag)
            return None

        self._worker.submit_job(
            Job(
                key=tag,
                label=f"close {tag!r}",
                run=run,
                timeout_s=self.timeout_s,
                on_abandon=self._abandon_hook(),
            )
        )

    def wait_idle(self, timeout_s: float) -> bool:
        """Wait until nothing is queued or running (tests, orderly shutdown)."""
        return self._worker.wait_idle(timeout_s)

    def stop(self, timeout_s: float = 1.0) -> None:
        """Drop queued notifications and stop the worker threads (waits at most `timeout_s`)."""
        self._worker.stop(timeout_s)

    @property
    def stats(self) -> SerialWorker:
        """The underlying worker, for its counters (delivered, failed, abandoned, coalesced)."""
        return self._worker
