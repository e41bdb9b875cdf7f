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
The app hands the chain to a `NotificationWorker`, which keeps every call off its thread.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from collections.abc import Callable, Mapping

from psoas_break.adapters.backends import LINUX_BSD, Candidate, plan
from psoas_break.adapters.notify.chain import DEFAULT_RETRY_AFTER_S, FAMILY, Link, NotifierChain
from psoas_break.adapters.notify.delivery import NotificationWorker
from psoas_break.adapters.notify.errors import FDO_SERVER, NoServer
from psoas_break.adapters.notify.simple import LogNotifier, TrayNotifier
from psoas_break.ports import Choice, Notifier, Unavailable

log = logging.getLogger(__name__)

ENV_VAR = "PSOAS_NOTIFY_BACKEND"
DBUS_FIX = ("start your desktop's notification service (on a bare X session e.g. `dunst &`); "
            "without one, prompts show only in the tray")

__all__ = ["ENV_VAR", "NoServer", "NotificationWorker", "NotifierChain", "make_notifier"]


def make_notifier(
    env: Mapping[str, str] | None = None, tray_notify: Callable[[str, str], None] | None = None,
    *, on_action: Callable[[str, str], None] | None = None,
    on_closed: Callable[[str, int], None] | None = None, platform: str = sys.platform,
    retry_after_s: float = DEFAULT_RETRY_AFTER_S, call_timeout_s: float = 3.0,
    clock: Callable[[], float] = time.monotonic,
) -> tuple[NotifierChain, Choice]:
    """Build the notifier chain for this system and say what it chose. Never raises.

    `env` (default os.environ) gives PSOAS_NOTIFY_BACKEND and DBUS_SESSION_BUS_ADDRESS;
    `tray_notify(title, body)` comes from the tray icon when its backend has notifications.
    `on_action(tag, action_key)` is called when the user clicks a button of a notification
    shown by the dbus backend (key "default" = the notification itself), `on_closed(tag,
    reason)` when the server closed it (1 expired, 2 dismissed, 3 closed by us); both run on
    the D-Bus thread: only post to a queue. Without `on_action` no buttons are sent.
    Takes a few ms: it asks only the bus daemon whether a notification server is there. The
    chain re-checks on every notification: `chain.choice()` is the current Choice.
    """
    environ = os.environ if env is None else env
    freedesktop = platform.startswith(LINUX_BSD)

    def dbus() -> Notifier:
        try:
            from psoas_break.adapters.notify.dbus_notifier import DbusNotifier
        except ImportError as exc:
            raise Unavailable(f"jeepney is not installed (pip install jeepney): {exc}") from exc
        return DbusNotifier(environ, call_timeout_s=call_timeout_s, on_action=on_action,
                            on_closed=on_closed)

    def plyer() -> Notifier:
        from psoas_break.adapters.notify.plyer_notifier import PlyerNotifier

        return PlyerNotifier()

    def tray() -> Notifier:
        if tray_notify is None:
            raise Unavailable("the tray icon shows no notifications (pystray's backend has no "
                              "HAS_NOTIFICATION, e.g. xorg, or no tray icon)")
        return TrayNotifier(tray_notify, server=FDO_SERVER if freedesktop else None)

    candidates = {
        "dbus": Candidate("dbus", dbus, LINUX_BSD, fix=DBUS_FIX),
        "plyer": Candidate("plyer", plyer),
        "tray": Candidate("tray", tray),
    }
    # On Windows pystray's balloon first: plyer's balloon call sleeps for the display time.
    order = ("dbus", "tray", "plyer") if platform.startswith("win") else ("dbus", "plyer", "tray")
    chosen = plan(FAMILY, [candidates[name] for name in order], env_var=ENV_VAR, env=environ,
                  platform=platform, null="log")
    links = [
        Link(c.name, c.open, fix=c.fix, lazy=c.name == "plyer",  # plyer's import costs memory
             server=FDO_SERVER if c.name == "dbus" or freedesktop else None)
        for c in chosen.todo
    ]
    chain = NotifierChain([*links, Link("log", LogNotifier)], log_is_chosen=chosen.forced_null,
                          retry_after_s=retry_after_s, clock=clock, notes=chosen.rejected)
    try:
        chain.probe()
    except Exception:  # noqa: BLE001 - a factory never raises; the chain still falls back
        log.exception("probing the notifiers failed")
    choice = chain.choice()
    log.info("notifier: %s (rejected: %s)", choice.chosen,
             "; ".join(f"{n}: {r}" for n, r in choice.rejected) or "none")
    return chain, choice
