"""Quiet during meetings and presentations: the engine thread's side of the quiet gate.

The detectors (fullscreen, do-not-disturb, camera, quiet apps, ...) may block briefly (a /proc
scan, a D-Bus call), so they never run on the engine thread: a due prompt is parked here, the
job thread asks the detectors, and their answer comes back through the inbox as a
`QuietChecked` command, which decides (`checked`). While the gate holds a prompt, the next
check is asked for on the gate's slow cadence (every 30 s) — never continuously.

Detectors that watch (a call, a screen share: adapters/quiet) post a `QuietChanged` command
when their answer changes; `changed()` then asks at once, so a held prompt leaves as the call
ends, not up to 30 s later, and the gate learns when a call began (the released prompt says
how long it was). Only the kinds the `quiet_when` setting names count (`counted`).

Engine thread only, except the check job itself.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from psoas_break.core.commands import Command, QuietChecked
from psoas_break.core.events import ShowPrompt
from psoas_break.core.quiet_gate import QUIET_KINDS, QuietGate, counted
from psoas_break.ports import Jobs, QuietDetector

log = logging.getLogger(__name__)

# While a prompt is held, the detectors are asked this often (seconds).
CHECK_EVERY_S = 30.0


@dataclass(frozen=True)
class Show:
    """Show this prompt now; `deferred_s` > 0 when it was held first (`gentle`: the maximum
    deferral ran out while still quiet; `episode`, `episode_s`: what the quiet was and how
    long it lasted, see core.quiet_gate.GateOutcome)."""

    prompt: ShowPrompt
    gentle: bool = False
    deferred_s: float = 0.0
    episode: tuple[str, ...] = ()
    episode_s: float = 0.0


@dataclass(frozen=True)
class Hold:
    """The stretch prompt `prompt_id` is held: the engine must not repeat it meanwhile."""

    prompt_id: int
    reasons: tuple[str, ...]


Decision = Show | Hold


def quiet_reasons(detectors: Iterable[QuietDetector]) -> tuple[str, ...]:
    """Every active reason, de-duplicated in order; a detector that raises despite its contract
    is logged and counts as not quiet. May block briefly: the job thread calls it."""
    found: list[str] = []
    for detector in detectors:
        try:
            reasons = detector.reasons()
        except Exception:
            log.exception("quiet detector %s failed", detector.name)
            continue
        found.extend(r for r in reasons if r not in found)
    return tuple(found)


def close_detectors(detectors: Iterable[QuietDetector]) -> None:
    """Close every detector; failures are logged."""
    for detector in detectors:
        try:
            detector.close()
        except Exception:
            log.debug("closing quiet detector %s failed", detector.name, exc_info=True)


class QuietControl:
    """Holds back stretch prompts while it is quiet; releases one when it is not."""

    def __init__(self, detectors: Sequence[QuietDetector], jobs: Jobs,
                 post: Callable[[Command], None], max_defer_s: float,
                 quiet_when: Sequence[str] = QUIET_KINDS) -> None:
        self._detectors = tuple(detectors)
        self._jobs = jobs
        self._post = post
        self._gate: QuietGate[ShowPrompt] = QuietGate(CHECK_EVERY_S, max_defer_s)
        self._quiet_when = tuple(quiet_when)
        self._pending: ShowPrompt | None = None  # offered, waiting for the detectors' answer
        self._asked_at_s: float | None = None  # a check is under way since then
        self._again = False  # a detector changed while a check was under way: ask once more

    def offer(self, prompt: ShowPrompt, mono_s: float) -> ShowPrompt | None:
        """A prompt is due: returns it when it can be shown at once (no detectors), else parks
        it until the detectors answer (see `checked`). A posture prompt is dropped while a
        stretch prompt is held (it is not worth a wait)."""
        if not self._detectors:
            return prompt
        if prompt.kind == "posture" and self._gate.holding:
            return None
        if self._pending is None or self._pending.kind == "posture" or prompt.kind == "stretch":
            self._pending = prompt
        self._ask(mono_s)
        return None

    def changed(self, mono_s: float) -> None:
        """A watching detector's answer changed: ask the detectors now (after the check under
        way, if one is: its answer may predate the change)."""
        if self._asked_at_s is not None and mono_s < self._asked_at_s + CHECK_EVERY_S:
            self._again = True
            return
        self._ask(mono_s)

    def checked(self, reasons: tuple[str, ...], mono_s: float) -> list[Decision]:
        """The detectors answered with `reasons`: what to show or hold now."""
        self._asked_at_s = None
        if self._again:
            self._again = False
            self._ask(mono_s)
        return self._decide(counted(reasons, self._quiet_when), mono_s)

    def _decide(self, reasons: tuple[str, ...], mono_s: float) -> list[Decision]:
        pending, self._pending = self._pending, None
        if pending is not None and pending.kind == "posture":
            return [Show(pending)] if not reasons and not self._gate.holding else []
        if pending is not None:
            outcome = self._gate.offer(pending, reasons, mono_s)
            if outcome.release is None:
                log.info("prompt %d held: %s", pending.prompt_id, ", ".join(reasons))
                return [Hold(pending.prompt_id, outcome.reasons)]
        else:
            # Held: release or keep holding. Nothing held: only remember what is active.
            outcome = self._gate.check(reasons, mono_s)
        if outcome.release is None:
            return []
        return [Show(outcome.release, outcome.gentle, outcome.deferred_s, outcome.episode,
                     outcome.episode_s)]

    def poll(self, mono_s: float) -> None:
        """Ask the detectors again when the held prompt's next check is due."""
        if self._gate.check_due(mono_s):
            self._ask(mono_s)

    def seconds_until_check(self, mono_s: float) -> float | None:
        """Seconds until the next check is due; None while none is (or one is under way)."""
        if self._asked_at_s is not None:
            # An answer that never came (the job was abandoned) must not stop the checks.
            return max(0.0, self._asked_at_s + CHECK_EVERY_S - mono_s)
        return self._gate.seconds_until_check(mono_s)

    def withdraw(self, prompt_id: int) -> None:
        """The prompt was answered or went stale: forget it, held or parked."""
        if self._pending is not None and self._pending.prompt_id == prompt_id:
            self._pending = None
        held = self._gate.held
        if held is not None and held.prompt_id == prompt_id:
            self._gate.withdraw()

    def withdraw_all(self) -> None:
        """Outside working hours: nothing waits for tomorrow."""
        self._pending = None
        self._gate.withdraw()

    def title(self) -> str | None:
        """The tray title while a prompt is held ("Quiet: fullscreen"), else None."""
        return self._gate.title()

    def apply(self, max_defer_s: float, quiet_apps: Sequence[str],
              quiet_when: Sequence[str] = QUIET_KINDS) -> None:
        """New settings: the deferral limit and the kinds that count now, the program list
        on the job thread (where the detectors run, so a check never sees it half-changed)."""
        self._gate.set_limits(max_defer_s=max_defer_s)
        self._quiet_when = tuple(quiet_when)
        names = tuple(quiet_apps)
        detectors = self._detectors

        def set_names() -> None:
            for detector in detectors:
                setter = getattr(detector, "set_names", None)
                if callable(setter):
                    setter(names)

        self._jobs.submit("quiet-names", set_names)

    def close(self) -> None:
        close_detectors(self._detectors)

    def _ask(self, mono_s: float) -> None:
        if self._asked_at_s is not None and mono_s < self._asked_at_s + CHECK_EVERY_S:
            return
        self._asked_at_s = mono_s
        detectors, post = self._detectors, self._post

        def check() -> None:
            reasons: tuple[str, ...] = ()
            try:
                reasons = quiet_reasons(detectors)
            finally:
                post(QuietChecked(reasons))

        self._jobs.submit("quiet-check", check)
