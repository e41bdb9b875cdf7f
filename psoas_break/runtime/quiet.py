"""Quiet during meetings and presentations: the runtime's side of the quiet gate.

Detectors (fullscreen, do-not-disturb, camera in use, quiet apps) are asked only when a
stretch prompt is about to be shown, and then on the gate's slow check cadence while a prompt
is held — never continuously. Engine thread only.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from psoas_break.core.events import ShowPrompt
from psoas_break.core.quiet_gate import GateOutcome, QuietGate

log = logging.getLogger(__name__)

# While a prompt is held, the detectors are asked this often (seconds at the normal minute).
CHECK_EVERY_S = 30.0


class QuietControl:
    """Holds back stretch prompts while it is quiet; releases one when it is not."""

    def __init__(self, detectors: Sequence[Any], max_defer_s: float, minute_s: float) -> None:
        self._detectors = list(detectors)
        self.gate: QuietGate[ShowPrompt] = QuietGate(
            check_every_s=CHECK_EVERY_S * minute_s / 60.0, max_defer_s=max_defer_s
        )

    def reasons(self) -> tuple[str, ...]:
        from psoas_break.adapters.quiet import quiet_reasons

        try:
            return quiet_reasons(self._detectors)
        except Exception:
            log.exception("quiet detection failed; showing prompts as usual")
            return ()

    def offer(self, prompt: ShowPrompt, mono_s: float) -> GateOutcome[ShowPrompt]:
        return self.gate.offer(prompt, self.reasons(), mono_s)

    def check(self, mono_s: float) -> GateOutcome[ShowPrompt] | None:
        """The outcome of a due check, or None when no check is due."""
        if not self.gate.check_due(mono_s):
            return None
        return self.gate.check(self.reasons(), mono_s)

    def busy(self) -> bool:
        """For posture prompts: drop them while holding or quiet (they are not worth a wait)."""
        return self.gate.holding or bool(self.reasons())

    def withdraw(self, prompt_id: int) -> None:
        held = self.gate.held
        if held is not None and held.prompt_id == prompt_id:
            self.gate.withdraw()

    def seconds_until_check(self, mono_s: float) -> float | None:
        return self.gate.seconds_until_check(mono_s)

    def title(self) -> str | None:
        return self.gate.title()

    def apply(self, max_defer_s: float, quiet_apps: Sequence[str]) -> None:
        self.gate.set_limits(max_defer_s=max_defer_s)
        for detector in self._detectors:
            if getattr(detector, "name", "") == "quiet-apps":
                detector.set_names(quiet_apps)

    def close(self) -> None:
        from psoas_break.adapters.quiet import close_detectors

        close_detectors(self._detectors)
