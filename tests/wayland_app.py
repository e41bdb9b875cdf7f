"""The real app as a Wayland client of a real compositor (no DISPLAY, so no tray today: it is
driven and observed through `psoas-break status --json`, `doctor` and its history file).

The compositor runs on the test desktop's session bus, as in a real session: the app, the
compositor's own D-Bus services (Mutter's IdleMonitor, KWin's scripting and screen locker) and
the recording notification server meet there. Used by tests/test_app_wayland_*.py.
"""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from typing import Any

from psoas_break.adapters.history.sqlite_history import read_events
from tests.app_harness import RunningApp, start_app
from tests.desktop.session import DesktopSession
from tests.desktop.waiting import wait_for
from tests.desktop.wayland import Compositor

#: One "minute" is 0.5 s: natural_break_min = 2 is one second untouched.
FAST = {"PSOAS_SECONDS_PER_MINUTE": "0.5"}
CONFIG = "natural_break_min = 2\nstretch_every_min = 60\nposture_every_min = 0\n"
#: For tests of input keeping sitting counted: 3 s, so a poke a loaded machine delays by a
#: second or two still arrives in time.
ACTIVE_CONFIG = CONFIG.replace("natural_break_min = 2", "natural_break_min = 6")
DESKTOP_NAMES = {"mutter": "GNOME", "kwin": "KDE", "sway": "sway"}


def start_wayland_app(desktop: DesktopSession, comp: Compositor, *, config: str = CONFIG,
                      extra_env: dict[str, str] | None = None) -> RunningApp:
    """The app in `desktop` with WAYLAND_DISPLAY of `comp` and no DISPLAY; idle chosen by the
    app itself (the harness's default forces none)."""
    env = {**FAST, "WAYLAND_DISPLAY": comp.socket, "XDG_SESSION_TYPE": "wayland",
           "XDG_CURRENT_DESKTOP": DESKTOP_NAMES[comp.kind], "PSOAS_IDLE_BACKEND": "",
           **(extra_env or {})}
    return start_app(desktop, config=config, extra_env=env, unset=("DISPLAY", "GDK_BACKEND"))


def status(app: RunningApp) -> dict[str, Any]:
    done = app.cli("status", "--json")
    assert done.returncode == 0, done.stderr + app.log()[-3000:]
    return json.loads(done.stdout)  # type: ignore[no-any-return]


def natural_breaks(app: RunningApp) -> list[str]:
    db = app.home / "data" / "psoas-break" / "history.sqlite3"
    now = datetime.now().astimezone()
    return [str(e.data["source"]) for e in read_events(db, now - timedelta(days=1),
                                                       now + timedelta(days=1))
            if e.kind == "natural_break"]


def quit_and_read_breaks(app: RunningApp) -> list[str]:
    """Quit (the history is flushed on the way out) and read the natural breaks recorded."""
    assert app.cli("quit").returncode == 0
    assert app.proc.wait(10) == 0, app.log()[-3000:]
    return natural_breaks(app)


@contextlib.contextmanager
def keep_active(poke: Callable[[], None], every_s: float = 0.25) -> Iterator[None]:
    """A person at the keyboard: `poke()` (real input to the compositor) every `every_s`."""
    stop = threading.Event()
    failures: list[BaseException] = []

    def run() -> None:
        while True:
            try:
                poke()
            except BaseException as exc:  # reported after the block
                failures.append(exc)
                return
            if stop.wait(every_s):
                return

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(10)
    if failures:
        raise failures[0]


def wait_state(app: RunningApp, state: str, timeout_s: float = 15.0) -> dict[str, Any]:
    return wait_for(lambda: (lambda s: s if s["state"] == state else None)(status(app)),
                    timeout_s, what=f"state {state}")
