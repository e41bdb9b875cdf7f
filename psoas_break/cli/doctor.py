"""`psoas-break doctor`: which tray, notifier, idle source, speech engine and location source
would be used here, and why each other candidate was rejected; what was tested for real on this
kind of desktop (cli/desktops.py); and, when the app runs, what it uses right now (its idle
source changes when a compositor goes away and comes back; its location source). Exit 0 if the
app can run usefully, 1 with the fix.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any

from psoas_break import __version__
from psoas_break.adapters.files.paths import AppPaths, runtime_note
from psoas_break.adapters.files.settings_store import SettingsStore
from psoas_break.adapters.tray import choose_backend, waiting_for_panel
from psoas_break.ports import Choice


def _choice(family: str, make: Callable[[], tuple[Any, Choice]],
            release: Callable[[Any], object] = lambda _backend: None) -> Choice:
    """What `make` (a family's factory) chooses here, with the backend's `detail` when it has
    one (the Wayland protocol and version in use); the backend is released at once."""
    try:
        backend, choice = make()
        detail = getattr(getattr(backend, "current", backend), "detail", None)
        release(backend)
    except Exception as exc:  # a broken probe is itself a finding, never a traceback
        return Choice(family, "none", (("probe", f"failed: {exc}"),))
    return replace(choice, chosen=f"{choice.chosen}: {detail}") if detail else choice


def collect(env: Mapping[str, str] | None = None, gps_device: str = "") -> list[Choice]:
    from psoas_break.adapters.idle import make_idle_source
    from psoas_break.adapters.location import make_location_source
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
        _choice("quiet", lambda: make_quiet_detectors(probe=True), close_detectors),
        _choice("speech", make_speaker),
        # Opened, never started: no client is made, nothing is read.
        _choice("location", lambda: make_location_source(gps_device, environ),
                lambda source: source.stop()),
    ]


def _not_counted(paths: AppPaths) -> list[str]:
    """The quiet kinds the settings switch off (none when the settings cannot be read)."""
    from psoas_break.adapters.files.settings_store import SettingsStore
    from psoas_break.core.quiet_gate import QUIET_KINDS

    try:
        settings = SettingsStore(paths.settings_file, paths.site_settings_files).load().settings
    except Exception:
        return []
    return [kind for kind in QUIET_KINDS if kind not in settings.quiet_when]


def _print_desktop(env: Mapping[str, str]) -> None:
    from psoas_break.cli.desktops import FEATURES, MATRIX, desktop_of

    desktop = desktop_of(env)
    print(f"desktop: {desktop} (what psoas-break uses there and how it was tested; README, "
          "\"Desktops\")")
    for feature in FEATURES:
        print(f"  {feature}: {MATRIX[(desktop, feature)].line()}")


def _print_running_app(paths: AppPaths) -> None:
    """What a running app uses now, from its `status` (nothing when none runs)."""
    from psoas_break.adapters.control import send_control
    from psoas_break.ports import AdapterError

    try:
        reply = send_control(paths, {"cmd": "status"}, timeout_s=2.0)
    except AdapterError:
        return  # not running (or not reachable: `psoas-break status` says why)
    if reply.get("ok"):
        uses = ", ".join(f"{k} {reply[k]}" for k in ("tray", "notifier", "idle") if k in reply)
        print(f"running app (pid {reply.get('pid')}) uses now: {uses}")


def run(paths: AppPaths) -> int:
    settings = SettingsStore(paths.settings_file, paths.site_settings_files).load().settings
    choices = collect(gps_device=settings.gps_device)
    print(f"psoas-break {__version__}")
    for choice in choices:
        print(f"{choice.family}: {choice.chosen}")
        for name, state in choice.details:
            print(f"  {name}: {state}")
        for name, reason in choice.rejected:
            print(f"  not {name}: {reason}")
        if choice.family == "quiet":
            off = _not_counted(paths)
            if off:
                print(f"  not counted (quiet_when setting): {', '.join(off)}")
        if choice.fix:
            print(f"  fix: {choice.fix}")
        if choice.family == "location":
            print(f"  {_location_note(paths, settings.profile, settings.driving_detect)}")
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
    _print_desktop(os.environ)
    _print_running_app(paths)
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


def _location_note(paths: AppPaths, profile: str, detect: str) -> str:
    """What the running app uses for the road, or when this source would be used."""
    from psoas_break.adapters.control import send_control

    try:
        reply = send_control(paths, {"cmd": "status"}, timeout_s=2.0)
    except Exception:  # noqa: BLE001 - not running, or not answering: say when it is used
        reply = {}
    road = reply.get("road") if reply.get("ok") else None
    if isinstance(road, dict):
        return (f"in use by the running app: {road.get('source')} "
                f"(road: {road.get('state')}, driving_detect = {road.get('detect')})")
    if reply.get("ok"):
        return f"the running app does not detect the road (profile {reply.get('profile')})"
    return (f"used in the driver profile with driving_detect auto or gps "
            f"(here: profile {profile}, driving_detect {detect})")
