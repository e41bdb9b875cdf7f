"""`SpeechWorker`: speak off the engine thread, one utterance at a time, newest wins.

Contract: `submit(text)` returns at once. Utterances never overlap: one runs at a time on the
worker thread, and one that outlives its timeout is killed (`speaker.cancel()`) before the next
starts. A newer utterance replaces any still queued (a posture cue from ten minutes ago is
worthless now). `on_failure(reason)` fires once when speaking starts failing (e.g. no sound
device), `on_recovered(engine)` when it works again; both on the worker's thread.
"""

from __future__ import annotations

from collections.abc import Callable

from psoas_break.adapters.notify.delivery import Job, SerialWorker
from psoas_break.ports import Speaker

#: Extra time the worker gives a speaker beyond its own timeout before abandoning it.
MARGIN_S = 2.0
DEFAULT_TIMEOUT_S = 60.0


class SpeechWorker(SerialWorker):
    """Runs `speaker.say()` on a worker thread (see module docstring)."""

    def __init__(self, speaker: Speaker, *, on_failure: Callable[[str], None] | None = None,
                 on_recovered: Callable[[str], None] | None = None) -> None:
        super().__init__(name="psoas-speech", on_failure=on_failure, on_recovered=on_recovered)
        self.speaker = speaker

    def _cancel(self) -> None:
        cancel = getattr(self.speaker, "cancel", None)
        if callable(cancel):
            cancel()

    def submit(self, text: str, key: str = "speech") -> None:
        """Queue `text`, replacing a queued utterance with the same key; never blocks."""
        text = " ".join(text.split())
        if not text:
            return

        def run() -> str:
            self.speaker.say(text)
            return self.speaker.name

        own = getattr(self.speaker, "max_duration_s", None)
        timeout_s = float(own(text)) + MARGIN_S if callable(own) else DEFAULT_TIMEOUT_S
        self.submit_job(Job(key, f"say {text[:40]!r}", run, timeout_s, on_abandon=self._cancel))

    def stop(self, timeout_s: float = 1.0) -> None:
        """Drop queued utterances, stop the one being spoken, stop the worker."""
        super().stop(0.0)
        self._cancel()
        super().stop(timeout_s)
