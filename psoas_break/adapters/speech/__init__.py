"""Text-to-speech: the factory `make_speaker` and `speak_to_file` (the worker is worker.py).

Candidates, best first, per platform (command.py has the exact commands):
  Linux/BSD: spd-say (speech-dispatcher: the desktop's voice settings, queues behind a screen
             reader), espeak-ng, espeak, flite
  macOS:     say, espeak-ng, espeak        Windows: sapi (PowerShell System.Speech), espeak-ng,
             espeak (what plyer runs there)
  elsewhere: plyer's tts facade
These are the engines plyer's tts facade runs, run here with a timeout and a kill (plyer's
`subprocess.call` has neither). When none is found: `NullSpeaker`, whose reason `doctor` shows
and whose say() raises Unavailable, so prompts stay notification-only.
`PSOAS_SPEECH_BACKEND` = one engine name (or "none") uses only that one.
"""

from __future__ import annotations

import logging
import os
import shutil
import sys
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path

from psoas_break.adapters.backends import LINUX_BSD, MACOS, WINDOWS, Candidate, every
from psoas_break.adapters.speech.command import ENGINES, CommandSpeaker, Engine, max_duration_s
from psoas_break.ports import AdapterError, Choice, DeliveryFailed, Speaker, Unavailable

log = logging.getLogger(__name__)

FAMILY = "speech"
ENV_VAR = "PSOAS_SPEECH_BACKEND"


class NullSpeaker:
    """Speaks nothing: say() raises Unavailable(reason). `reason` says why (for doctor)."""

    name = "none"

    def __init__(self, reason: str) -> None:
        self.reason = reason

    def say(self, text: str) -> None:
        """Always raises Unavailable with the reason."""
        raise Unavailable(f"no speech engine: {self.reason}")


class FallbackSpeaker:
    """Speaks with the first of `speakers` that works; one that cannot start or cannot reach
    the sound device (Unavailable) hands over to the next, and later calls start from the
    last one that worked. A failure once speaking began (DeliveryFailed: timeout, crash) does
    not fall back, so nothing is said twice. `failures` keeps each engine's last reason."""

    def __init__(self, speakers: Sequence[Speaker]) -> None:
        if not speakers:
            raise ValueError("FallbackSpeaker needs at least one speaker")
        self.speakers = list(speakers)
        #: The engine tried first: the one that worked last.
        self.name = self.speakers[0].name
        self._index = 0
        self._lock = threading.Lock()
        self._current: Speaker | None = None
        self.failures: dict[str, str] = {}

    def max_duration_s(self, text: str) -> float:
        """Time allowed for `text` (the first engine's limit, summed over fallbacks)."""
        total = 0.0
        for speaker in self.speakers[self._index:]:
            own = getattr(speaker, "max_duration_s", None)
            total += float(own(text)) if callable(own) else max_duration_s(text)
        return total

    def say(self, text: str) -> None:
        """Speak `text` (see class docstring); raises the last error when none could."""
        last: AdapterError | None = None
        for index in range(self._index, len(self.speakers)):
            speaker = self.speakers[index]
            with self._lock:
                self._current = speaker
            try:
                speaker.say(text)
            except Unavailable as exc:
                self.failures[speaker.name] = str(exc)
                log.info("speech engine %s failed: %s", speaker.name, exc)
                last = exc
                continue
            finally:
                with self._lock:
                    self._current = None
            self.failures.pop(speaker.name, None)
            self._index = index
            self.name = speaker.name
            return
        self._index = 0  # none worked: start from the best one again next time
        self.name = self.speakers[0].name
        raise last if last is not None else DeliveryFailed("no speech engine could speak")

    def cancel(self) -> None:
        """Stop the engine speaking now, if any."""
        with self._lock:
            current = self._current
        cancel = getattr(current, "cancel", None)
        if callable(cancel):
            cancel()

    def to_file(self, text: str, path: Path) -> Path:
        """Write a WAV with the first engine that can."""
        for speaker in self.speakers:
            if isinstance(speaker, CommandSpeaker) and speaker.file_argv is not None:
                return speaker.to_file(text, path)
        raise Unavailable("none of the speech engines here can write audio to a file")


# Where plyer's tts runs one of the engines above: we run those ourselves, with a timeout.
_PLYER_RUNS_OWN = (*LINUX_BSD, *MACOS, *WINDOWS)
_FIX = "sudo apt install espeak-ng (or speech-dispatcher)"


def _candidates(environ: Mapping[str, str], platform: str) -> tuple[Candidate[Speaker], ...]:
    path = environ.get("PATH", os.defpath)

    def engine_opener(engine: Engine) -> Callable[[], Speaker]:
        def open_engine() -> Speaker:
            exe = shutil.which(engine.exe, path=path)
            if exe is None:
                hint = f" ({engine.install_hint})" if engine.install_hint else ""
                raise Unavailable(f"`{engine.exe}` not found on PATH{hint}")
            return CommandSpeaker.for_engine(engine, exe)
        return open_engine

    def plyer() -> Speaker:
        from psoas_break.adapters.speech.plyer_speaker import PlyerSpeaker

        return PlyerSpeaker()

    def plyer_runs_own() -> str | None:
        if platform.startswith(_PLYER_RUNS_OWN):
            return "its engines here are the ones above, run with a timeout"
        return None

    return (
        *(Candidate(e.name, engine_opener(e), e.platforms,
                    fix=_FIX if e.name == "spd-say" else None) for e in ENGINES),
        Candidate("plyer", plyer, skip=plyer_runs_own),
    )


def make_speaker(env: Mapping[str, str] | None = None, *,
                 platform: str = sys.platform) -> tuple[Speaker, Choice]:
    """A `FallbackSpeaker` over every engine found here (in order), or a `NullSpeaker` with
    the reason, and the Choice; never raises, never speaks. `env` (default os.environ) gives
    PATH and PSOAS_SPEECH_BACKEND."""
    environ = os.environ if env is None else env
    speakers, choice = every(FAMILY, _candidates(environ, platform), env_var=ENV_VAR,
                             env=environ, platform=platform)
    if not speakers:
        names = ", ".join(n for n, _ in choice.rejected if n not in ("plyer", ENV_VAR))
        reason = f"no speech engine found ({names or 'none known'})"
        log.info("speech: none (%s)", reason)
        return NullSpeaker(reason), choice
    log.info("speech: %s (fallbacks: %s)", speakers[0].name,
             ", ".join(s.name for s in speakers[1:]) or "none")
    # The first engine speaks; the others are its fallbacks, not rejected ones.
    return FallbackSpeaker(speakers), replace(choice, chosen=speakers[0].name)


def speak_to_file(text: str, path: Path, env: Mapping[str, str] | None = None, *,
                  platform: str = sys.platform) -> Path:
    """Synthesize `text` into the WAV file `path` with the first engine that can write files
    (espeak-ng, espeak, flite; say on macOS; SAPI on Windows). Honours PSOAS_SPEECH_BACKEND.
    Raises Unavailable when no such engine is installed, DeliveryFailed when it failed."""
    speaker, _choice = make_speaker(env, platform=platform)
    if isinstance(speaker, NullSpeaker):
        raise Unavailable(f"no speech engine that can write audio files ({speaker.reason})")
    assert isinstance(speaker, FallbackSpeaker)
    return speaker.to_file(text, Path(path))
