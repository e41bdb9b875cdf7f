"""Speech engines run as subprocesses with a timeout: the engines plyer would run, done safely.

plyer's text-to-speech runs `espeak`/`flite` (Linux), `say` (macOS) or `espeak.exe` (Windows)
with `subprocess.call` and no timeout, so a stuck engine would block its caller forever and
could not be stopped. `CommandSpeaker` runs such a command in its own process group, feeds the
text on stdin (or as an argument where the engine has no stdin mode), waits at most
`max_duration_s(text)`, and kills the whole group on timeout or `cancel()`, so two utterances
never overlap. `ENGINES` lists what the factory tries, per platform.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from psoas_break.ports import DeliveryFailed, Unavailable

#: Upper bound of one utterance: generous for 6 characters a second (espeak's default is ~14).
BASE_TIMEOUT_S = 10.0
TIMEOUT_PER_CHAR_S = 0.16
MAX_TIMEOUT_S = 120.0

_SAPI = ("Add-Type -AssemblyName System.Speech; "
         "$s = New-Object System.Speech.Synthesis.SpeechSynthesizer; ")
_SAPI_SPEAK = _SAPI + "$s.Speak([Console]::In.ReadToEnd())"
_SAPI_TO_FILE = (_SAPI + "$s.SetOutputToWaveFile($args[0]); $s.Speak([Console]::In.ReadToEnd()); "
                 "$s.Dispose()")
_UNIX = ("linux", "freebsd", "openbsd", "netbsd")


@dataclass(frozen=True)
class Engine:
    """How to run one speech engine. "{text}" / "{path}" in the argument lists are replaced;
    without "{text}" the text goes to stdin. `to_file` is None when it cannot write audio."""

    name: str
    exe: str
    speak: tuple[str, ...]
    to_file: tuple[str, ...] | None = None
    platforms: tuple[str, ...] = _UNIX
    install_hint: str = ""


ENGINES: tuple[Engine, ...] = (
    # speech-dispatcher first: it speaks with the voice, rate and volume the user set for the
    # desktop, and queues behind a screen reader instead of talking over it.
    Engine("spd-say", "spd-say", ("--wait", "--application-name", "psoas-break", "--", "{text}"),
           install_hint="sudo apt install speech-dispatcher"),
    Engine("espeak-ng", "espeak-ng", ("--stdin",), ("-w", "{path}", "--stdin"),
           platforms=(*_UNIX, "darwin", "win32"), install_hint="sudo apt install espeak-ng"),
    Engine("espeak", "espeak", ("--stdin",), ("-w", "{path}", "--stdin"),
           platforms=(*_UNIX, "darwin", "win32"), install_hint="sudo apt install espeak-ng-espeak"),
    Engine("flite", "flite", ("-t", "{text}"), ("-t", "{text}", "-o", "{path}"),
           install_hint="sudo apt install flite"),
    Engine("say", "say", (), ("-o", "{path}", "--file-format=WAVE", "--data-format=LEI16@22050"),
           platforms=("darwin",)),
    Engine("sapi", "powershell", ("-NoProfile", "-NonInteractive", "-Command", _SAPI_SPEAK),
           ("-NoProfile", "-NonInteractive", "-Command", _SAPI_TO_FILE, "{path}"),
           platforms=("win32",)),
)


def max_duration_s(text: str) -> float:
    """How long speaking `text` may take before it counts as stuck."""
    return min(MAX_TIMEOUT_S, BASE_TIMEOUT_S + TIMEOUT_PER_CHAR_S * len(text))


def _fill(args: Sequence[str], text: str, path: str = "") -> tuple[list[str], bool]:
    """Arguments with placeholders filled, and whether the text went into them."""
    used = any("{text}" in a for a in args)
    return [a.replace("{text}", text).replace("{path}", path) for a in args], used


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    """Stop `proc` and everything it started (SIGTERM, SIGKILL after 0.5 s)."""
    if proc.poll() is not None:
        return
    if sys.platform == "win32":
        proc.kill()
    else:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(0.5)
            return
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(2.0)


def _last_line(data: bytes) -> str:
    lines = [ln.strip() for ln in data.decode(errors="replace").splitlines() if ln.strip()]
    return lines[-1] if lines else ""


def run_engine(argv: Sequence[str], text: str, *, stdin_text: bool, timeout_s: float, name: str,
               on_start: Callable[[subprocess.Popen[bytes]], None] | None = None) -> bytes:
    """Run one engine command; return its stderr. Raises Unavailable when it cannot start or
    reports an audio error, DeliveryFailed on a non-zero exit or when `timeout_s` passed
    (the process group is killed first)."""
    kwargs: dict[str, object] = {}
    if sys.platform != "win32":
        kwargs["start_new_session"] = True  # its own group: a kill reaches its children too
    try:
        proc = subprocess.Popen(  # type: ignore[call-overload]
            list(argv), stdin=subprocess.PIPE if stdin_text else subprocess.DEVNULL,
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, **kwargs)
    except OSError as exc:
        raise Unavailable(f"{name} could not be started: {exc}") from exc
    if on_start is not None:
        on_start(proc)
    try:
        err: bytes
        _, err = proc.communicate(input=text.encode("utf-8") if stdin_text else None,
                                  timeout=timeout_s)
    except subprocess.TimeoutExpired as exc:
        _kill_group(proc)
        raise DeliveryFailed(f"{name} did not finish within {timeout_s:g} s; stopped it") from exc
    except BaseException:
        _kill_group(proc)
        raise
    if proc.returncode < 0:
        raise DeliveryFailed(f"{name} was stopped (signal {-proc.returncode})")
    if proc.returncode != 0:
        detail = _last_line(err)
        raise DeliveryFailed(f"{name} exited with status {proc.returncode}"
                             + (f": {detail}" if detail else ""))
    return err


class CommandSpeaker:
    """Speaker running `argv` (text on stdin unless an argument contains "{text}").

    say(text): blocks until spoken; raises DeliveryFailed on failure or after
    `max_duration_s(text)` (the process is killed), Unavailable when the engine cannot start
    or cannot open the sound device. cancel(): kills the utterance in progress (any thread).
    to_file(text, path): writes a WAV when `file_argv` is given.
    """

    def __init__(self, name: str, argv: Sequence[str], *, file_argv: Sequence[str] | None = None,
                 timeout_s: float | None = None) -> None:
        self.name = name
        self.argv = list(argv)
        self.file_argv = list(file_argv) if file_argv is not None else None
        self._timeout_s = timeout_s
        self._lock = threading.Lock()
        self._proc: subprocess.Popen[bytes] | None = None
        self._cancelled = False

    @classmethod
    def for_engine(cls, engine: Engine, exe_path: str) -> CommandSpeaker:
        """A speaker for `engine`, its executable found at `exe_path`."""
        file_argv = [exe_path, *engine.to_file] if engine.to_file is not None else None
        return cls(engine.name, [exe_path, *engine.speak], file_argv=file_argv)

    def max_duration_s(self, text: str) -> float:
        """The timeout for `text` (the delivery worker waits a little longer)."""
        return self._timeout_s if self._timeout_s is not None else max_duration_s(text)

    def _started(self, proc: subprocess.Popen[bytes]) -> None:
        with self._lock:
            self._proc = proc
            cancelled = self._cancelled
        if cancelled:
            _kill_group(proc)

    def say(self, text: str) -> None:
        """Speak `text` and return when done (see class docstring)."""
        argv, in_args = _fill(self.argv, text)
        with self._lock:
            self._cancelled = False
        try:
            err = run_engine(argv, text, stdin_text=not in_args,
                             timeout_s=self.max_duration_s(text), name=self.name,
                             on_start=self._started)
        finally:
            with self._lock:
                self._proc = None
        problem = _audio_problem(err)
        if problem:
            raise Unavailable(f"{self.name} could not play audio (no sound device?): {problem}")

    def cancel(self) -> None:
        """Stop the utterance in progress, if any (say() then raises DeliveryFailed)."""
        with self._lock:
            self._cancelled = True
            proc = self._proc
        if proc is not None:
            _kill_group(proc)

    def to_file(self, text: str, path: Path) -> Path:
        """Write `text` as speech to the WAV file `path`; returns `path`."""
        if self.file_argv is None:
            raise Unavailable(f"{self.name} cannot write audio to a file")
        argv, in_args = _fill(self.file_argv, text, str(path))
        run_engine(argv, text, stdin_text=not in_args, timeout_s=self.max_duration_s(text),
                   name=self.name)
        if not path.is_file() or path.stat().st_size <= 44:  # 44 bytes = an empty WAV header
            raise DeliveryFailed(f"{self.name} wrote no audio to {path}")
        return path


def _audio_problem(stderr: bytes) -> str:
    """espeak-ng exits 0 even when it could not open the sound device; its stderr says so."""
    text = stderr.decode(errors="replace")
    if "error" in text.lower() or "cannot" in text.lower():
        return _last_line(stderr)
    return ""
