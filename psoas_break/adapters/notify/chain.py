"""`NotifierChain`: try notifiers in order, remember why each failed, come back to the better one.

Contract of `notify(n)`: tries the links in order, skipping those permanently unavailable
and those cooling down after a failure, and returns after the first that showed it. A failure
is remembered with its reason (for `doctor` and `choice()`). A failure that took long (a hung
server: `ServerTimeout`, or longer than `SLOW_FAILURE_S`) puts the link on a cool-down of
`retry_after_s`; a quick failure (e.g. no server running) costs nothing to repeat, so that
link is tried again on the next notification - a notification server that starts after
the app (a common login race) is used as soon as it is there.
When the server itself is missing or hung (`NoServer`, `ServerTimeout`), every link talking
to the same server is skipped too. If only the log could take it, the chain logs it and raises
`DeliveryFailed` naming every reason (unless the log was chosen on purpose).

`close(tag)` closes the notification with that tag on the backend that showed it.
`abandon_current()` is called by the delivery worker when a call took longer than its timeout:
the link in flight is marked as failing (cool-down) and the stuck call, if it ever returns,
changes nothing and tries no further link.
Thread-safe: one call at a time is expected (the worker), plus late returns of abandoned calls.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from psoas_break.adapters.notify.errors import NoServer, ServerTimeout
from psoas_break.ports import (
    AdapterError,
    Choice,
    DeliveryFailed,
    Notification,
    Notifier,
    Unavailable,
)

log = logging.getLogger(__name__)

FAMILY = "notifier"
DEFAULT_RETRY_AFTER_S = 300.0
SLOW_FAILURE_S = 0.5


@dataclass
class Link:
    """One link of the chain. `make` builds the notifier on first use (Unavailable = never)."""

    name: str
    make: Callable[[], Notifier]
    server: str | None = None
    fix: str | None = None
    #: Lazy links are built only when first needed (plyer: an import that costs memory).
    lazy: bool = False
    notifier: Notifier | None = None
    reason: str | None = None
    permanent: bool = False
    retry_at: float = 0.0

    def get(self) -> Notifier:
        """The notifier, built on first use; raises Unavailable (and remembers it for good)."""
        if self.notifier is None:
            try:
                self.notifier = self.make()
            except Unavailable as exc:
                self.permanent = True
                self.reason = str(exc)
                raise
            server = getattr(self.notifier, "server", self.server)
            self.server = server if isinstance(server, str) else None
        return self.notifier


class _Attempt:
    def __init__(self) -> None:
        self.abandoned = False
        self.link: Link | None = None


class NotifierChain:
    """A Notifier that delegates to the first working link (see module docstring).

    `last_used`: name of the link that delivered the last notification ("" before any).
    `choice()`: what would be used now and why the others are not (a `ports.Choice`).
    """

    name = "chain"

    def __init__(self, links: list[Link], *, log_is_chosen: bool = False,
                 retry_after_s: float = DEFAULT_RETRY_AFTER_S,
                 clock: Callable[[], float] = time.monotonic,
                 notes: tuple[tuple[str, str], ...] = ()) -> None:
        if not links or links[-1].name != "log":
            raise ValueError("a notifier chain must end with the log link")
        self.links = links
        self.log_is_chosen = log_is_chosen
        self.retry_after_s = retry_after_s
        self._clock = clock
        self._notes = notes
        self._lock = threading.RLock()
        self._attempt: _Attempt | None = None
        self._shown_by: dict[str, Link] = {}
        self.last_used = ""

    def _fail(self, cand: Link, reason: str, retry_at: float) -> None:
        with self._lock:
            cand.reason = reason
            cand.retry_at = retry_at
        log.info("notifier %s failed: %s", cand.name, reason)

    def _same_server(self, cand: Link, reason: str | None, retry_at: float) -> None:
        """Mark every other link talking to `cand`'s server as failing for `reason`, or as
        working again (None)."""
        if cand.server is None:
            return
        with self._lock:
            for other in self.links:
                if other is not cand and other.server == cand.server and not other.permanent:
                    other.reason = reason and f"same notification server as {cand.name}: {reason}"
                    other.retry_at = retry_at

    def probe(self) -> None:
        """Cheap start-up check: build each non-lazy link and run its `probe()` if it has
        one (the D-Bus one asks only the bus daemon, never a possibly hung server). Records
        the reasons."""
        for cand in self.links:
            if cand.permanent or (cand.lazy and cand.notifier is None):
                continue
            try:
                notifier = cand.get()
            except Unavailable:
                continue
            probe = getattr(notifier, "probe", None)
            if not callable(probe):
                continue
            try:
                probe()
            except AdapterError as exc:
                self._fail(cand, str(exc), 0.0)
                if isinstance(exc, NoServer):
                    self._same_server(cand, str(exc), 0.0)
            except Exception as exc:  # noqa: BLE001 - a bug in a probe must not hide the others
                log.exception("probing notifier %s failed", cand.name)
                self._fail(cand, f"could not be checked: {type(exc).__name__}: {exc}", 0.0)
            else:
                with self._lock:
                    cand.reason = None

    def choice(self) -> Choice:
        """The link believed to work now (first without a recorded failure) and the
        reasons of every link with one. `fix` is a hint when only the log is left."""
        with self._lock:
            chosen = next((c for c in self.links if not c.permanent and c.reason is None),
                          self.links[-1])
            rejected = tuple(self._notes) + tuple(
                (c.name, c.reason) for c in self.links if c is not chosen and c.reason)
            fix = None
            if chosen.name == "log" and not self.log_is_chosen:
                fix = next((c.fix for c in self.links if c.fix and c.reason), None)
        return Choice(family=FAMILY, chosen=chosen.name, rejected=rejected, fix=fix)

    def failures(self) -> dict[str, str]:
        """Link name -> why it failed last (only those with a recorded failure)."""
        with self._lock:
            return {c.name: c.reason for c in self.links if c.reason}

    def notify(self, notification: Notification) -> None:
        """Deliver through the first working link (see module docstring)."""
        attempt = _Attempt()
        with self._lock:
            self._attempt = attempt
            links = list(self.links)
        down: dict[str, str] = {}  # server -> reason, learned during this call
        for cand in links:
            if attempt.abandoned:
                raise DeliveryFailed("abandoned after the delivery timeout")
            if cand.permanent or self._clock() < cand.retry_at:
                continue
            try:
                notifier = cand.get()
            except Unavailable:
                continue
            if cand.server is not None and cand.server in down:
                continue
            with self._lock:
                attempt.link = cand
            started = self._clock()
            try:
                notifier.notify(notification)
            except Exception as exc:  # noqa: BLE001 - any failure moves on to the next one
                if attempt.abandoned:
                    raise DeliveryFailed(f"abandoned after the delivery timeout ({exc})") from exc
                if not isinstance(exc, AdapterError):
                    log.error("notifier %s raised unexpectedly", cand.name, exc_info=exc)
                reason = str(exc) or type(exc).__name__
                slow = (isinstance(exc, ServerTimeout)
                        or self._clock() - started >= SLOW_FAILURE_S)
                retry_at = self._clock() + self.retry_after_s if slow else 0.0
                self._fail(cand, reason, retry_at)
                if isinstance(exc, (NoServer, ServerTimeout)) and cand.server is not None:
                    down[cand.server] = reason
                    self._same_server(cand, reason, retry_at)
                continue
            if attempt.abandoned:
                raise DeliveryFailed("delivered only after the delivery timeout")
            self._same_server(cand, None, 0.0)  # their server works again
            with self._lock:
                cand.reason = None
                cand.retry_at = 0.0
                self.last_used = cand.name
                self._shown_by[notification.tag] = cand
                self._attempt = None
            if cand.name == "log" and not self.log_is_chosen:
                reasons = "; ".join(f"{n}: {r}" for n, r in self.failures().items())
                raise DeliveryFailed(f"no notifier could show it ({reasons or 'none available'})")
            return
        raise DeliveryFailed("no notifier is left to try")  # unreachable: log never fails

    def close(self, tag: str) -> None:
        """Close the notification shown with `tag` on the backend that showed it (if it can).
        A backend whose server is gone is ignored: its notifications are gone too."""
        with self._lock:
            cand = self._shown_by.pop(tag, None)
        if cand is None or cand.notifier is None:
            return
        close = getattr(cand.notifier, "close", None)
        if not callable(close):
            return
        with contextlib.suppress(NoServer):
            close(tag)

    def shutdown(self) -> None:
        """Release every built backend (the D-Bus one's thread and connection). The chain
        still works afterwards: a backend reconnects when used again."""
        for cand in self.links:
            shutdown = getattr(cand.notifier, "shutdown", None)
            if callable(shutdown):
                try:
                    shutdown()
                except Exception:  # noqa: BLE001 - quitting must go on
                    log.debug("shutting down notifier %s failed", cand.name, exc_info=True)

    def abandon_current(self) -> None:
        """The worker gave up on the call in flight: mark its link as failing."""
        with self._lock:
            attempt, self._attempt = self._attempt, None
            if attempt is None:
                return
            attempt.abandoned = True
            cand = attempt.link
        if cand is None:
            return
        reason = "did not answer within the delivery timeout (server hung?)"
        retry_at = self._clock() + self.retry_after_s
        self._fail(cand, reason, retry_at)
        self._same_server(cand, reason, retry_at)
