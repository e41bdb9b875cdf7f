"""The real app as a Wayland client of a real compositor (no DISPLAY; no panel either, so its
StatusNotifierItem waits for one): driven and observed through `psoas-break status --json`,
`doctor` and its history file.

The compositor runs on the test desktop's session bus, as in a real session: the app, the
compositor's own D-Bus services (Mutter's IdleMonitor, KWin's scripting and screen locker) and
the recording notification server meet there. Used by tests/test_app_wayland_*.py.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from typing import Any

from psoas_break.adapters.history.sqlite_history import read_events
from tests.app_harness import RunningApp, real_s, start_app
from tests.desktop.notifications import NotificationServer, is_stretch_prompt
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


def assert_back_at_the_keyboard_ends_the_break(app: RunningApp, poke: Callable[[], None]
                                               ) -> None:
    """After the app went away on idle: input again, and staying there (on a loaded machine one
    `status` may take longer than the second of sitting a single key press buys), is sitting,
    and the one natural break recorded is idle's."""
    with keep_active(poke):
        wait_state(app, "sitting", 10)
        assert quit_and_read_breaks(app) == ["idle"]


def assert_input_keeps_sitting_counted(desktop: DesktopSession, comp: Compositor,
                                       poke: Callable[[], None]) -> None:
    """Real input to `comp` throughout: two natural-break lengths later the app is still
    sitting, and no natural break is recorded."""
    with keep_active(poke):
        app = start_wayland_app(desktop, comp, config=ACTIVE_CONFIG)
        time.sleep(6.0)  # two natural-break lengths of input
        data = status(app)
        assert data["state"] == "sitting", app.log()[-2000:]
        assert real_s(data, "sitting_s") >= 5.0
        assert quit_and_read_breaks(app) == []


#: One "minute" is 0.3 s: the prompt is due after 3 s; natural break and break lengths far
#: away, and input meanwhile, so idle plays no part.
FULLSCREEN_CONFIG = ("stretch_every_min = 10\nposture_every_min = 0\nsnooze_min = 60\n"
                     "natural_break_min = 60\nbreak_min = 30\n")


def assert_fullscreen_holds_then_releases_one(
    desktop: DesktopSession, comp: Compositor, server: NotificationServer, window: Any,
    poke: Callable[[], None], detector: str,
) -> None:
    """`window` (a ToyWindow shown fullscreen on `comp`) holds the due prompt; leaving
    fullscreen releases exactly one. `detector`: the quiet detector doctor must name (doctor
    probes while the app runs: it must leave the app's own watch alone)."""
    def prompts() -> int:
        return len([c for c in server.calls() if is_stretch_prompt(c)])

    with keep_active(poke, every_s=0.5):
        app = start_wayland_app(desktop, comp, config=FULLSCREEN_CONFIG,
                                extra_env={"PSOAS_SECONDS_PER_MINUTE": "0.3"})
        assert detector in app.cli("doctor").stdout
        wait_state(app, "prompt_due")
        time.sleep(1.5)  # ten gate checks' worth: still held
        assert prompts() == 0, server.calls()
        window.send("unfullscreen")
        wait_for(lambda: prompts() == 1, 10, what="one prompt released")
        time.sleep(1.0)
        assert prompts() == 1
        assert app.stop() == 0
