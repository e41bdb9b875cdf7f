"""`psoas-break doctor`: which tray, notifier, idle source and speech engine would be used here,
and why each other candidate was rejected. Exit 0 if the app can run usefully, 1 with the fix.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import Any

from psoas_break import __version__
from psoas_break.adapters.files.paths import AppPaths, runtime_note
from psoas_break.adapters.tray import choose_backend, waiting_for_panel
from psoas_break.ports import Choice


def _choice(family: str, make: Callable[[], tuple[Any, Choice]],
            release: Callable[[Any], object] = lambda _backend: None) -> Choice:
    """What `make` (a family's factory) chooses here; its backend is released at once."""
    try:
        backend, choice = make()
        release(backend)
    except Exception as exc:  # a broken probe is itself a finding, never a traceback
        return Choice(family, "none", (("probe", f"failed: {exc}"),))
    return choice


def collect(env: Mapping[str, str] | None = None) -> list[Choice]:
    from psoas_break.adapters.idle import make_idle_source
    from psoas_break.adapters.notify import make_notifier
    from psoas_break.adapters.quiet import make_quiet_detectors
    from psoas_break.adapters.session import make_session_watcher
    from psoas_break.adapters.speech import make_speaker
    from psoas_break.runtime.quiet import close_detectors

    environ = os.environ if env is None else env
    return [
        _choice("tray", lambda: (None, choose_backend(environ))),
        _choice("notifier", make_notifier, lambda chain: chain.shutdown()),
        _choice("idle", make_idle_source, lambda source: source.close()),
        _choice("session", make_session_watcher),  # not started: nothing to stop
        _choice("quiet", make_quiet_detectors, close_detectors),
        _choice("speech", make_speaker),
    ]


def run(paths: AppPaths) -> int:
    choices = collect()
    print(f"psoas-break {__version__}")
    for choice in choices:
        print(f"{choice.family}: {choice.chosen}")
        for name, reason in choice.rejected:
            print(f"  not {name}: {reason}")
        if choice.fix:
            print(f"  fix: {choice.fix}")
        if choice.family == "tray" and choice.chosen == "sni" and waiting_for_panel():
            print("  note: no panel shows StatusNotifierItems yet (no StatusNotifierWatcher on "
                  "the session bus); the icon appears when one starts (on GNOME: the "
                  "AppIndicator extension)")
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
