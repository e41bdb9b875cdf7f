"""Speech for real: espeak-ng writes audio we measure (with Python's wave and, independently,
sox), the speech worker never overlaps two real engine runs and kills a stuck one, and without
an engine on PATH the factory returns the null speaker with the reason."""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from psoas_break.adapters.speech import NullSpeaker, make_speaker, speak_to_file
from psoas_break.adapters.speech.command import CommandSpeaker
from psoas_break.adapters.speech.wav import wav_stats
from psoas_break.adapters.speech.worker import SpeechWorker
from psoas_break.cli import speech as cli_speech
from psoas_break.ports import Unavailable
from tests.desktop.waiting import wait_for

pytestmark = pytest.mark.timeout(60)

ESPEAK = shutil.which("espeak-ng")
needs_espeak = pytest.mark.skipif(
    ESPEAK is None and not os.environ.get("CI"),
    reason="espeak-ng is not installed (bash .ci/system-deps test installs it)",
)

SHORT = "Sit tall."
LONG = "Sit tall, relax your shoulders, and breathe out slowly while you count to five."


def _sox_stat(path: Path) -> dict[str, float]:
    """`sox FILE -n stat`: an independent measurement of the same file."""
    done = subprocess.run(["sox", str(path), "-n", "stat"], capture_output=True, text=True,
                          timeout=30, check=True)
    stats = {}
    for line in done.stderr.splitlines():
        match = re.match(r"^(.+?):\s+(-?[\d.]+)$", line.strip())
        if match:
            stats[match.group(1).strip()] = float(match.group(2))
    return stats


@needs_espeak
def test_speak_to_file_writes_real_speech(tmp_path: Path) -> None:
    short = speak_to_file(SHORT, tmp_path / "short.wav")
    long = speak_to_file(LONG, tmp_path / "long.wav")
    s, lng = wav_stats(short), wav_stats(long)
    assert 0.4 < s.duration_s < 5
    assert lng.duration_s > 3 * s.duration_s  # the words really were spoken, all of them
    for st in (s, lng):
        assert st.rms > 0.02 and st.peak > 0.2  # loud enough to be speech, not noise/silence
        assert 0.3 < st.voiced_fraction < 1.0  # speech with pauses between words
    if shutil.which("sox"):
        sox = _sox_stat(long)
        assert sox["Length (seconds)"] == pytest.approx(lng.duration_s, rel=0.01)
        assert sox["RMS     amplitude"] == pytest.approx(lng.rms, rel=0.02)


@needs_espeak
def test_cli_say_wav_reports_length_and_loudness(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    parser = argparse.ArgumentParser(prog="psoas-break")
    cli_speech.add_subcommands(parser.add_subparsers(dest="command"))
    out = tmp_path / "say.wav"
    assert cli_speech.run(parser.parse_args(["say", "--wav", str(out), "Sit", "tall."])) == 0
    line = capsys.readouterr().out.strip()
    seconds = float(re.search(r": ([\d.]+) s of audio", line).group(1))  # type: ignore[union-attr]
    assert seconds == pytest.approx(wav_stats(out).duration_s, abs=0.01)

    assert cli_speech.run(parser.parse_args(["say", "--wav", str(out), "  "])) == 2
    assert "TEXT is empty" in capsys.readouterr().err
    args = parser.parse_args(["say", "--engine", "gramophone", "hi"])
    assert cli_speech.run(args) == 2
    assert "unknown engine 'gramophone'" in capsys.readouterr().err
    args = parser.parse_args(["say", "--wav", str(tmp_path / "no" / "such.wav"), "hi"])
    assert cli_speech.run(args) == 2


def _logging_espeak(log: Path, *, linger_s: float = 0.0, timeout_s: float | None = None
                    ) -> CommandSpeaker:
    """A real espeak-ng run (audio to /dev/null) that logs when it starts, ends, or is killed
    (SIGTERM to its process group; the trap runs once `sleep` died of the same signal).
    After speaking it waits until the file LOG.go exists (at most 20 s), so a test decides
    when it ends, then lingers `linger_s`."""
    script = (
        't=$(cat); '
        'trap \'echo "killed $(date +%s.%N) $t" >> "$0"; exit 143\' TERM; '
        'echo "start $(date +%s.%N) $t" >> "$0"; '
        'printf %s "$t" | espeak-ng --stdout --stdin > /dev/null; '
        'n=0; while [ ! -e "$0.go" ] && [ $n -lt 400 ]; do sleep 0.05; n=$((n+1)); done; '
        f"sleep {linger_s}; "
        'echo "end $(date +%s.%N) $t" >> "$0"'
    )
    return CommandSpeaker("espeak-ng-logged", ["sh", "-c", script, str(log)], timeout_s=timeout_s)


def _runs(log: Path) -> list[tuple[str, float, str]]:
    rows = []
    for line in log.read_text().splitlines():
        kind, stamp, text = line.split(" ", 2)
        rows.append((kind, float(stamp), text))
    return rows


@needs_espeak
def test_worker_speaks_one_at_a_time_and_newest_replaces_queued(tmp_path: Path) -> None:
    log = tmp_path / "runs.log"
    worker = SpeechWorker(_logging_espeak(log))
    try:
        worker.submit(LONG)
        # While the first utterance runs (it waits for the go file), queue three: only the
        # newest stays queued.
        wait_for(lambda: log.exists() and log.read_text(), what="the first utterance to start")
        worker.submit("first queued")
        worker.submit("second queued")
        worker.submit("newest")
        Path(f"{log}.go").touch()
        assert worker.wait_idle(20)
    finally:
        worker.stop()
    rows = _runs(log)
    assert [(kind, text) for kind, _, text in rows] == [
        ("start", LONG), ("end", LONG), ("start", "newest"), ("end", "newest")]
    assert rows[1][1] <= rows[2][1]  # the second began after the first ended: no overlap
    assert worker.coalesced == 2 and worker.delivered == 2


@needs_espeak
def test_stuck_utterance_is_killed_before_the_next_starts(tmp_path: Path) -> None:
    log = tmp_path / "runs.log"
    failures: list[str] = []
    # Each run lingers 30 s after speaking; the speaker allows 1 s, so each is killed.
    worker = SpeechWorker(_logging_espeak(log, linger_s=30, timeout_s=1.0),
                          on_failure=failures.append)
    Path(f"{log}.go").touch()
    try:
        worker.submit("stuck one")
        wait_for(lambda: log.exists() and log.read_text(), what="the first utterance to start")
        worker.submit("next one")  # queued behind the stuck one
        wait_for(lambda: "next one" in log.read_text(), what="the next utterance to start")
        assert "did not finish within 1 s" in failures[0]
    finally:
        worker.stop()  # kills "next one" while it lingers
    rows = _runs(log)
    assert [(kind, text) for kind, _, text in rows] == [
        ("start", "stuck one"), ("killed", "stuck one"), ("start", "next one"),
        ("killed", "next one")]
    assert rows[1][1] <= rows[2][1]  # the stuck one was dead before the next one began
    # No process of either run is left (the whole process group was killed).
    leftover = subprocess.run(["pgrep", "-f", str(log)], capture_output=True, text=True)
    assert leftover.stdout == ""


def test_without_an_engine_on_path_the_null_speaker_says_why(tmp_path: Path) -> None:
    speaker, choice = make_speaker(env={"PATH": str(tmp_path)})
    assert isinstance(speaker, NullSpeaker) and choice.chosen == "none"
    reasons = dict(choice.rejected)
    assert reasons["espeak-ng"].startswith("`espeak-ng` not found on PATH")
    assert "espeak-ng" in speaker.reason and choice.fix
    with pytest.raises(Unavailable, match="no speech engine"):
        speaker.say("hello")
    with pytest.raises(Unavailable, match="no speech engine that can write audio files"):
        speak_to_file("hello", tmp_path / "x.wav", env={"PATH": str(tmp_path)})

    failures: list[str] = []
    worker = SpeechWorker(speaker, on_failure=failures.append)
    try:
        worker.submit("one")
        assert worker.wait_idle(5)
        worker.submit("two")
        assert worker.wait_idle(5)
    finally:
        worker.stop()
    assert len(failures) == 1 and "no speech engine" in failures[0]  # told once


@needs_espeak
def test_factory_finds_the_engine_through_path(tmp_path: Path) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "espeak-ng").symlink_to(ESPEAK)  # type: ignore[arg-type]
    speaker, choice = make_speaker(env={"PATH": str(bin_dir)})
    assert choice.chosen == "espeak-ng"
    assert dict(choice.rejected)["espeak"].startswith("`espeak` not found")
    out = speak_to_file(SHORT, tmp_path / "x.wav", env={"PATH": str(bin_dir)})
    assert wav_stats(out).rms > 0.02

    _, choice = make_speaker(env={"PATH": str(bin_dir), "PSOAS_SPEECH_BACKEND": "none"})
    assert choice.chosen == "none"
