"""`psoas-break doctor`: which tray, notifier, idle source and speech engine would be used here,
and why each other candidate was rejected. Exit 0 if the app can run usefully, 1 with the fix.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping

from psoas_break import __version__
from psoas_break.adapters.files.paths import AppPaths, runtime_note
from psoas_break.adapters.tray import choose_backend
from psoas_break.ports import Choice


def _safe(family: str, probe: Callable[[], Choice]) -> Choice:
    try:
        return probe()
    except Exception as exc:  # a broken probe is itself a finding, never a traceback
        return Choice(family, "none", (("probe", f"failed: {exc}"),))


def _notifier() -> Choice:
    from psoas_break.adapters.notify import make_notifier

    notifier, choice = make_notifier()
    close = getattr(notifier, "shutdown", None)
    if callable(close):
        close()
    return choice


def _idle() -> Choice:
    from psoas_break.adapters.idle import make_idle_source

    source, choice = make_idle_source()
    source.close()
    return choice


def _speech() -> Choice:
    from psoas_break.adapters.speech import make_speaker

    _speaker, choice = make_speaker()
    return choice


def _quiet() -> Choice:
    from psoas_break.adapters.quiet import close_detectors, make_quiet_detectors

    detectors, choice = make_quiet_detectors()
    close_detectors(detectors)
    return choice


def _session() -> Choice:
    from psoas_break.adapters.session import make_session_watcher

    _watcher, choice = make_session_watcher()
    return choice


def collect(env: Mapping[str, str] | None = None) -> list[Choice]:
    env = os.environ if env is None else env
    return [
        _safe("tray", lambda: choose_backend(env)),
        _safe("notifier", _notifier),
        _safe("idle", _idle),
        _safe("session", _session),
        _safe("quiet", _quiet),
        _safe("speech", _speech),
    ]


def choices_summary(choices: list[Choice]) -> dict[str, str]:
    return {c.family: c.chosen for c in choices}


def run(paths: AppPaths) -> int:
    choices = collect()
    print(f"psoas-break {__version__}")
    for choice in choices:
        print(f"{choice.family}: {choice.chosen}")
        for name, reason in choice.rejected:
            print(f"  not {name}: {reason}")
        if choice.fix:
            print(f"  fix: {choice.fix}")
    print(f"settings: {paths.settings_file}")
    print(f"history: {paths.history_file}")
    print(f"log: {paths.log_file}")
    print(f"control: {paths.control_socket}")
    note = runtime_note()
    if note is not None:
        print(f"  note: {note}")
    by_family = {c.family: c for c in choices}
    tray = by_family["tray"]
    notifier = by_family["notifier"]
    if tray.chosen == "none" and notifier.chosen in ("none", "log"):
        print("psoas-break cannot show anything here: no tray and no notifications.")
        fix = tray.fix or notifier.fix
        if fix:
            print(f"fix: {fix}")
        return 1
    return 0
