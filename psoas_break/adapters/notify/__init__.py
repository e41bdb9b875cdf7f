"""Desktop notifications: the factory `make_notifier` and the delivery worker.

Candidates, best first (on Linux/BSD desktops):
  dbus   org.freedesktop.Notifications over jeepney, with replaces_id, close, hints and a
         timeout on every call (dbus_notifier.py; no asyncio, to keep the idle app small)
  plyer  plyer's facade (dbus-python or notify-send on Linux; the portable one elsewhere)
  tray   pystray's own Icon.notify, handed in by the runtime where the backend has it
  log    writes it to the log (the null object; never fails)
On Windows: tray (pystray's balloon, non-blocking), plyer (its balloon call sleeps for the
display time), log. On macOS and others: plyer, tray, log.
`PSOAS_NOTIFY_BACKEND` = dbus | plyer | tray | log uses only that one (then the log).

Use it like this (the worker keeps every call off the caller's thread):

    notifier, choice = make_notifier(tray_notify=lambda t, b: icon.notify(b, t),
                                     tray_remove=icon.remove_notification)
    worker = NotificationWorker(notifier, on_failure=..., on_recovered=...)
    worker.submit(Notification(title=..., body=..., icon=..., tag="stretch"))
    worker.close("stretch")        # the prompt was answered: take it off the screen
    notifier.choice()              # for doctor / tray status: chosen + (name, reason) pairs
"""

from __future__ import annotations

import logging
import os
import sys
import time
from collections.abc import Callable, Mapping

from psoas_break.adapters.notify.chain import (
    DEFAULT_RETRY_AFTER_S,
    Candidate,
    NotifierChain,
)
from psoas_break.adapters.notify.delivery import NotificationWorker, SerialWorker
from psoas_break.adapters.notify.errors import FDO_SERVER, NoServer, ServerTimeout
from psoas_break.adapters.notify.simple import LogNotifier, TrayNotifier
from psoas_break.ports import Choice, Notifier, Unavailable

log = logging.getLogger(__name__)

ENV_VAR = "PSOAS_NOTIFY_BACKEND"
BACKENDS = ("dbus", "plyer", "tray", "log")
_FREEDESKTOP = ("linux", "freebsd", "openbsd", "netbsd", "dragonfly")

__all__ = [
    "BACKENDS",
    "ENV_VAR",
    "Candidate",
    "LogNotifier",
    "NoServer",
    "NotificationWorker",
    "NotifierChain",
    "SerialWorker",
    "ServerTimeout",
    "TrayNotifier",
    "make_notifier",
    "tray_candidate",
]


def is_freedesktop(platform: str) -> bool:
    """True where notifications go through org.freedesktop.Notifications (Linux, BSDs)."""
    return platform.startswith(_FREEDESKTOP)


def tray_candidate(
    tray_notify: Callable[[str, str], None] | None,
    tray_remove: Callable[[], None] | None = None,
    *,
    platform: str = sys.platform,
) -> Candidate:
    """The "tray" link: pystray's Icon.notify as `tray_notify(title, body)`, or a candidate
    that says why there is none."""
    server = FDO_SERVER if is_freedesktop(platform) else None

    def make() -> Notifier:
        if tray_notify is None:
            raise Unavailable(
                "the tray icon shows no notifications (pystray's backend has no "
                "HAS_NOTIFICATION, e.g. xorg, or no tray icon)"
            )
        return TrayNotifier(tray_notify, tray_remove, server=server)

    return Candidate("tray", make, server=server)


def _dbus_candidate(
    env: Mapping[str, str],
    call_timeout_s: float,
    on_action: Callable[[str, str], None] | None,
    on_closed: Callable[[str, int], None] | None,
) -> Candidate:
    def make() -> Notifier:
        try:
            from psoas_break.adapters.notify.dbus_notifier import DbusNotifier
        except ImportError as exc:
            raise Unavailable(f"jeepney is not installed (pip install jeepney): {exc}") from exc
        return DbusNotifier(
            env, call_timeout_s=call_timeout_s, on_action=on_action, on_closed=on_closed
        )

    return Candidate(
        "dbus",
        make,
        server=FDO_SERVER,
        fix="start your desktop's notification service (on a bare X session e.g. `dunst &`); "
        "without one, prompts show only in the tray",
    )


def _plyer_candidate(platform: str) -> Candidate:
    def make() -> Notifier:
        from psoas_break.adapters.notify.plyer_notifier import PlyerNotifier

        return PlyerNotifier()

    server = FDO_SERVER if is_freedesktop(platform) else None
    return Candidate("plyer", make, server=server, lazy=True)


def make_notifier(
    env: Mapping[str, str] | None = None,
    tray_notify: Callable[[str, str], None] | None = None,
    *,
    tray_remove: Callable[[], None] | None = None,
    on_action: Callable[[str, str], None] | None = None,
    on_closed: Callable[[str, int], None] | None = None,
    platform: str = sys.platform,
    retry_after_s: float = DEFAULT_RETRY_AFTER_S,
    call_timeout_s: float = 3.0,
    clock: Callable[[], float] = time.monotonic,
) -> tuple[NotifierChain, Choice]:
    """Build the notifier chain for this system and say what it chose.

    `env` (default os.environ) gives PSOAS_NOTIFY_BACKEND and DBUS_SESSION_BUS_ADDRESS.
    `tray_notify(title, body)` / `tray_remove()` come from the tray icon when its backend has
    notifications (they can also be set later with `chain.set_tray(tray_candidate(...))`).
    `on_action(tag, action_key)` is called when the user clicks a button of a notification
    shown by the dbus backend (key "default" = the notification itself), `on_closed(tag,
    reason)` when the server closed it (1 expired, 2 dismissed, 3 closed by us); both run on
    the notifier's D-Bus thread: only post to a queue. Without `on_action` no buttons are sent.
    Takes a few ms: it asks only the bus daemon whether a notification server is there.
    The chain re-checks on every notification, so `Choice` is the state at start-up; call
    `chain.choice()` for the current one. Never raises.
    """
    environ = os.environ if env is None else env
    by_name: dict[str, Candidate] = {}
    notes: list[tuple[str, str]] = []
    if is_freedesktop(platform):
        order = ["dbus", "plyer", "tray"]
        by_name["dbus"] = _dbus_candidate(environ, call_timeout_s, on_action, on_closed)
    else:
        order = ["tray", "plyer"] if platform.startswith("win") else ["plyer", "tray"]
        notes.append(("dbus", "org.freedesktop.Notifications is for Linux/BSD desktops"))
    by_name["plyer"] = _plyer_candidate(platform)
    by_name["tray"] = tray_candidate(tray_notify, tray_remove, platform=platform)

    wanted = environ.get(ENV_VAR, "").strip().lower()
    log_is_chosen = False
    if wanted and wanted not in BACKENDS:
        message = f"{wanted!r} is not one of {', '.join(BACKENDS)}; using the automatic order"
        log.warning("%s=%s", ENV_VAR, message)
        notes.append((ENV_VAR, message))
    elif wanted == "log":
        log_is_chosen = True
        notes += [(name, f"not used: {ENV_VAR}=log") for name in order]
        order = []
    elif wanted:
        if wanted not in order:  # e.g. dbus on Windows
            notes.append((wanted, f"{ENV_VAR}={wanted} is not available on {platform}"))
        notes += [(name, f"not used: {ENV_VAR}={wanted}") for name in order if name != wanted]
        order = [name for name in order if name == wanted]

    candidates = [by_name[name] for name in order]
    candidates.append(Candidate("log", LogNotifier))
    chain = NotifierChain(
        candidates,
        log_is_chosen=log_is_chosen,
        retry_after_s=retry_after_s,
        clock=clock,
        notes=tuple(notes),
    )
    try:
        chain.probe()
    except Exception:  # noqa: BLE001 - a factory never raises; the chain still falls back
        log.exception("probing the notifiers failed")
    choice = chain.choice()
    log.info("notifier: %s (rejected: %s)", choice.chosen,
             "; ".join(f"{n}: {r}" for n, r in choice.rejected) or "none")
    return chain, choice

