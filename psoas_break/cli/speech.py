"""`psoas-break say [--wav FILE] [--engine NAME] TEXT`: check the voice prompts from a terminal.

Without --wav it speaks TEXT with the engine the app would use (the same timeout and fallback)
and names the engine. With --wav it writes the speech to FILE instead (no sound card needed)
and prints its length and loudness, so a test or a user can see that real audio came out.

Exit codes: 0 done, 1 no engine / the engine failed / the audio is silent, 2 bad input.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from psoas_break.core.i18n import _
from psoas_break.core.plain_text import one_line

#: Below this RMS (of full scale) a WAV counts as silence.
SILENCE_RMS = 0.005


def add_subcommands(subparsers: Any) -> None:
    """Add the `say` subcommand to the top-level subparsers."""
    say = subparsers.add_parser(
        "say", help=_("speak TEXT the way voice prompts do (a check of the speech engine)"),
        description=_("Speak TEXT with the voice-prompt engine, or write it to a WAV file."))
    say.add_argument("--wav", metavar="FILE", type=Path,
                     help=_("write the speech to this WAV file instead of playing it"))
    say.add_argument("--engine", metavar="NAME",
                     help=_("use this engine only ({engines}); default: the first one found",
                            engines="espeak-ng, espeak, spd-say, flite, say, sapi, plyer"))
    say.add_argument("text", metavar="TEXT", nargs="+", help=_("the words to speak"))


def run(args: argparse.Namespace) -> int:
    """Carry out `say`; prints one line of result (stdout) or of error (stderr)."""
    from psoas_break.adapters.speech import ENV_VAR, NullSpeaker, make_speaker, speak_to_file
    from psoas_break.adapters.speech.command import ENGINES
    from psoas_break.adapters.speech.wav import wav_stats
    from psoas_break.ports import AdapterError

    text = " ".join(" ".join(args.text).split())
    if not text:
        print(_("psoas-break say: TEXT is empty; give the words to speak, "
                "e.g. psoas-break say 'Sit tall'"), file=sys.stderr)
        return 2
    env = dict(os.environ)
    if args.engine:
        allowed = sorted({e.name for e in ENGINES} | {"plyer"})
        if args.engine not in allowed:
            print(_("psoas-break say: unknown engine {engine}; allowed: {allowed}",
                    engine=one_line(repr(args.engine), 60), allowed=", ".join(allowed)),
                  file=sys.stderr)
            return 2
        env[ENV_VAR] = args.engine

    if args.wav is not None:
        path: Path = args.wav
        if path.is_dir() or not path.parent.is_dir():
            print(_("psoas-break say: cannot write {path}: give a file in an existing folder",
                    path=path), file=sys.stderr)
            return 2
        try:
            speak_to_file(text, path, env)
            stats = wav_stats(path)
        except AdapterError as exc:
            print(f"psoas-break say: {exc}", file=sys.stderr)
            return 1
        print(_("{path}: {seconds:.2f} s of audio at {rate} Hz, RMS {rms:.3f}, peak {peak:.3f}",
                path=path, seconds=stats.duration_s, rate=stats.sample_rate, rms=stats.rms,
                peak=stats.peak))
        if stats.rms < SILENCE_RMS:
            print(_("psoas-break say: {path} is silent", path=path), file=sys.stderr)
            return 1
        return 0

    speaker, choice = make_speaker(env)
    if isinstance(speaker, NullSpeaker):
        line = _("psoas-break say: {reason}", reason=speaker.reason)
        if choice.fix:
            line += "; " + _("fix: {fix}", fix=choice.fix)
        print(line, file=sys.stderr)
        return 1
    try:
        speaker.say(text)
    except AdapterError as exc:
        print(f"psoas-break say: {exc}", file=sys.stderr)
        return 1
    print(_("spoke with {engine}", engine=speaker.name))
    return 0
