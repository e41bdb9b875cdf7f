"""Text-to-speech: the factory `make_speaker`, `speak_to_file`, and the `SpeechWorker`.

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

Use it like this:

    speaker, choice = make_speaker()
    speech = SpeechWorker(speaker, on_failure=...) if choice.chosen != "none" else None
    speech.submit("Sit tall and relax your shoulders.")
"""

from __future__ import annotations

import logging
import os
import shutil
import sys
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path

from psoas_break.adapters.speech.command import (
    ENGINES,
    CommandSpeaker,
    Engine,
    engine_named,
    max_duration_s,
)
from psoas_break.adapters.speech.wav import WavStats, wav_stats
from psoas_break.adapters.speech.worker import SpeechWorker
from psoas_break.ports import AdapterError, Choice, DeliveryFailed, Speaker, Unavailable

log = logging.getLogger(__name__)

FAMILY = "speech"
ENV_VAR = "PSOAS_SPEECH_BACKEND"

__all__ = [
    "ENGINES",
    "ENV_VAR",
    "CommandSpeaker",
    "FallbackSpeaker",
    "NullSpeaker",
    "SpeechWorker",
    "WavStats",
    "make_speaker",
    "speak_to_file",
    "wav_stats",
]


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


def _platform_key(platform: str) -> str:
    for key in ("linux", "freebsd", "openbsd", "netbsd", "darwin", "win32"):
        if platform.startswith(key):
            return key
    return platform


def _find_engines(
    environ: Mapping[str, str], platform: str
) -> tuple[list[tuple[Engine, str]], list[tuple[str, str]]]:
    """Engines for `platform` found on PATH (with their paths), and why the others are not."""
    found: list[tuple[Engine, str]] = []
    rejected: list[tuple[str, str]] = []
    key = _platform_key(platform)
    path = environ.get("PATH", os.defpath)
    for engine in ENGINES:
        if key not in engine.platforms:
            continue
        exe = shutil.which(engine.exe, path=path)
        if exe is None:
            hint = f" ({engine.install_hint})" if engine.install_hint else ""
            rejected.append((engine.name, f"`{engine.exe}` not found on PATH{hint}"))
        else:
            found.append((engine, exe))
    return found, rejected


def make_speaker(
    env: Mapping[str, str] | None = None, *, platform: str = sys.platform
) -> tuple[Speaker, Choice]:
    """Pick the speech engines for this system; never raises, never speaks.

    Returns a `FallbackSpeaker` over every engine found (in order), or a `NullSpeaker` with
    the reason, and the Choice (chosen engine, rejected ones with reasons, a fix hint).
    `env` (default os.environ) gives PATH and PSOAS_SPEECH_BACKEND.
    """
    environ = os.environ if env is None else env
    found, rejected = _find_engines(environ, platform)
    wanted = environ.get(ENV_VAR, "").strip().lower()
    known = {e.name for e in ENGINES} | {"plyer", "none"}
    if wanted and wanted not in known:
        message = f"{wanted!r} is not one of {', '.join(sorted(known))}; using the automatic order"
        log.warning("%s=%s", ENV_VAR, message)
        rejected.insert(0, (ENV_VAR, message))
        wanted = ""
    if wanted:
        rejected += [(e.name, f"not used: {ENV_VAR}={wanted}") for e, _ in found
                     if e.name != wanted]
        found = [(e, exe) for e, exe in found if e.name == wanted]
        if wanted not in ("plyer", "none") and not found:
            rejected.append((wanted, f"{ENV_VAR}={wanted} but it is not installed here"))

    speakers: list[Speaker] = [CommandSpeaker.for_engine(e, exe) for e, exe in found]
    key = _platform_key(platform)
    plyer_runs_own = key in ("linux", "freebsd", "openbsd", "netbsd", "darwin", "win32")
    if wanted == "plyer" or (not wanted and not speakers and not plyer_runs_own):
        try:
            from psoas_break.adapters.speech.plyer_speaker import PlyerSpeaker

            speakers.append(PlyerSpeaker())
        except Unavailable as exc:
            rejected.append(("plyer", str(exc)))
    elif not wanted and plyer_runs_own:
        rejected.append(("plyer", "its engines here are the ones above, run with a timeout"))

    if wanted == "none":
        reason = f"{ENV_VAR}=none"
        return NullSpeaker(reason), Choice(FAMILY, "none", tuple(rejected))
    if not speakers:
        names = ", ".join(name for name, _ in rejected if name != "plyer") or "none known"
        reason = f"no speech engine found ({names})"
        fix = "sudo apt install espeak-ng (or speech-dispatcher)" if key == "linux" else None
        log.info("speech: none (%s)", reason)
        return NullSpeaker(reason), Choice(FAMILY, "none", tuple(rejected), fix=fix)
    speaker = FallbackSpeaker(speakers)
    choice = Choice(FAMILY, speakers[0].name, tuple(rejected))
    log.info("speech: %s (fallbacks: %s)", choice.chosen,
             ", ".join(s.name for s in speakers[1:]) or "none")
    return speaker, choice


def speak_to_file(
    text: str,
    path: Path,
    env: Mapping[str, str] | None = None,
    *,
    platform: str = sys.platform,
) -> Path:
    """Synthesize `text` into the WAV file `path` with the first engine that can write files
    (espeak-ng, espeak, flite; say on macOS; SAPI on Windows). Honours PSOAS_SPEECH_BACKEND.
    Raises Unavailable when no such engine is installed, DeliveryFailed when it failed."""
    environ = os.environ if env is None else env
    found, rejected = _find_engines(environ, platform)
    wanted = environ.get(ENV_VAR, "").strip().lower()
    if wanted and engine_named(wanted) is not None:
        found = [(e, exe) for e, exe in found if e.name == wanted]
    writers = [(e, exe) for e, exe in found if e.to_file is not None]
    if not writers:
        missing = "; ".join(f"{n}: {r}" for n, r in rejected) or "none for this platform"
        raise Unavailable(f"no speech engine that can write audio files ({missing})")
    engine, exe = writers[0]
    return CommandSpeaker.for_engine(engine, exe).to_file(text, Path(path))
