"""Composition root: pick the adapters, build the runtime with them, run the tray.

The order serves a fast first paint: the instance lock, then the settings and the tray icon
(shown at once, its menu clicks already queued in the inbox), and only then, on pystray's
setup thread, everything else: history, notifications, speech, idle, lock and sleep signals,
quiet detectors, the control channel — and the runtime, built with all of them.

Shutdown (Quit, SIGTERM, SIGINT): the engine thread closes the open sit and stops, history is
flushed, the control socket and instance lock are released, the icon is removed, and the
process exits 0 — all within about two seconds. No business rule lives here.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from psoas_break import APP_NAME, __version__
from psoas_break.adapters.clock import system_clock
from psoas_break.adapters.files.logging_setup import setup_logging
from psoas_break.adapters.files.paths import AppPaths, runtime_note
from psoas_break.adapters.files.private import make_private, private_file
from psoas_break.adapters.files.settings_store import SettingsStore
from psoas_break.adapters.tray import choose_backend
from psoas_break.core.commands import Quit, ScreenLock, Sleep
from psoas_break.core.engine import SittingEngine
from psoas_break.core.i18n import N_
from psoas_break.core.settings import LoadResult
from psoas_break.core.tray_view import TrayFacts, build_view
from psoas_break.ports import AdapterError, Autostart, History, Jobs, StorageError, Tray
from psoas_break.runtime.inbox import Inbox

if TYPE_CHECKING:
    # The runtime and what only it uses load on pystray's setup thread, after the icon is up.
    from psoas_break.adapters.files.exercise_library import UserExercises
    from psoas_break.adapters.files.single_instance import InstanceLock
    from psoas_break.core.events import RecordEvent
    from psoas_break.core.exercises import ExerciseLibrary
    from psoas_break.runtime.loop import Runtime
    from psoas_break.runtime.presenter import Presenter

log = logging.getLogger(__name__)


def run_app(paths: AppPaths, verbose: bool = False) -> int:
    from psoas_break.adapters.files.single_instance import InstanceLock

    # The lock comes first, before pystray is imported: a second copy never shows an icon.
    lock = InstanceLock(paths.lock_file)
    try:
        if not lock.acquire():
            _say_already_running(paths, lock)
            return 0
    except StorageError as exc:
        print(f"psoas-break: {exc}", file=sys.stderr)
        return 1
    try:
        return _run_locked(paths, verbose)
    finally:
        lock.release()


def _say_already_running(paths: AppPaths, lock: InstanceLock) -> None:
    from psoas_break.adapters.control import socket_problem

    pid = lock.owner_pid()
    if pid is None:
        print(f"psoas-break is already running: a process holds its lock file {paths.lock_file}"
              " (and wrote no pid in it)")
    else:
        print(f"psoas-break is already running (pid {pid})")
    problem = socket_problem(paths)
    if problem is not None:
        print(f"psoas-break: but {problem}", file=sys.stderr)


def _run_locked(paths: AppPaths, verbose: bool) -> int:
    make_private(paths.private_dirs)  # also fixes installs older versions made 0755/0644
    setup_logging(paths.log_file, verbose)
    log.info("psoas-break %s starting (pid %d)", __version__, os.getpid())
    note = runtime_note()
    if note is not None:
        log.warning("%s", note)
    clock = system_clock()
    store = SettingsStore(paths.settings_file, paths.site_settings_files)
    loaded = store.load()
    inbox = Inbox()
    # What shutdown needs: the runtime once it started, and the closers in start order.
    runtime: Runtime | None = None
    closers: list[Callable[[], None]] = []
    quit_requested = threading.Event()
    tray_choice = choose_backend(os.environ)
    tray: Tray | None = None
    if tray_choice.chosen != "none":
        from psoas_break.adapters.tray.pystray_tray import PystrayTray

        log.info("tray backend: %s", tray_choice.chosen)
        try:
            tray = PystrayTray(tray_choice.chosen, inbox.post)
        except AdapterError as exc:  # sni: the session bus went away since the choice
            log.warning("no tray: the %s backend failed to start: %s", tray_choice.chosen, exc)
            tray_choice = replace(tray_choice, chosen="none")
    if tray is not None:
        # A first view from the settings alone; the runtime renders the full one once up.
        engine_view = SittingEngine(loaded.settings).status()
        tray.render(build_view(engine_view, loaded.settings, clock.read()[0],
                               TrayFacts(locked_keys=loaded.locked)))
    else:
        log.warning("no tray can be shown: %s", "; ".join(r for _, r in tray_choice.rejected))

    def on_quit() -> None:
        quit_requested.set()
        if tray is not None:
            tray.stop()

    signalled = threading.Event()

    def request_quit() -> None:
        # The runtime reads the Quit once it runs (a start under way included) and shuts
        # down in order; before the icon is up, late_start sees the flag instead.
        signalled.set()
        inbox.post(Quit())

    _install_signal_handlers(request_quit, tray_choice.chosen)
    # A start that hangs (a service that never answers, a tray that never calls back) leaves
    # a warning and every thread's stack in the log instead of an icon that never answers.
    watchdog = _start_watchdog(paths)

    def late_start() -> None:
        nonlocal runtime
        try:
            if signalled.is_set():  # stopped before the icon was up: nothing to start
                on_quit()
                return
            runtime = _start_runtime(paths, store, loaded, inbox, tray,
                                     {"tray": tray_choice.chosen}, on_quit, closers)
        except Exception:
            log.exception("starting the app failed")
            on_quit()
        finally:
            watchdog()

    if tray is None:
        late_start()
        # On POSIX a signal interrupts the wait to run its handler (which posts Quit): no
        # timeout, as waking twice a second to look costs 120 wakeups an idle minute.
        while not quit_requested.wait(None if os.name == "posix" else 0.5):
            pass
    else:
        # pystray calls late_start on a helper thread once the icon is up.
        tray.run(setup=late_start)
    return _shutdown(runtime, closers)


def _start_runtime(paths: AppPaths, store: SettingsStore, loaded: LoadResult, inbox: Inbox,
                   tray: Tray | None, backends: dict[str, str], on_quit: Callable[[], None],
                   closers: list[Callable[[], None]]) -> Runtime:
    """Build every collaborator, then the runtime with them, and start it."""
    from psoas_break.adapters.control import make_control_server
    from psoas_break.adapters.control.protocol import command_handler
    from psoas_break.adapters.history import SqliteHistory
    from psoas_break.adapters.idle import make_idle_source
    from psoas_break.adapters.jobs import JobWorker
    from psoas_break.adapters.location import LocationService
    from psoas_break.adapters.notify import NotificationWorker, make_notifier
    from psoas_break.adapters.quiet import make_quiet_detectors
    from psoas_break.adapters.session import make_session_watcher
    from psoas_break.adapters.speech import make_speaker
    from psoas_break.adapters.speech.worker import SpeechWorker
    from psoas_break.core.commands import Notice, NotifierState, QuietChanged
    from psoas_break.core.stats import DayLog
    from psoas_break.runtime.driving import DrivingControl
    from psoas_break.runtime.loop import Collaborators, Runtime
    from psoas_break.runtime.presenter import PROMPT_ACTIONS, Presenter
    from psoas_break.runtime.quiet import QuietControl
    from psoas_break.ui.pages import DesktopPages
    from psoas_break.ui.pictures import picture_finder

    post = inbox.post
    settings = loaded.settings
    clock = system_clock()
    jobs = JobWorker()
    closers.append(jobs.stop)
    history = SqliteHistory(paths.history_file, on_notice=lambda text: post(Notice(text)))
    closers.append(history.close)

    def on_action(_tag: str, key: str) -> None:
        command = PROMPT_ACTIONS.get(key)
        if command is not None:
            post(command)

    chain, notifier_choice = make_notifier(
        tray_notify=tray.notify if tray is not None and tray.has_notification else None,
        on_action=on_action)
    notifications = NotificationWorker(
        chain, on_failure=lambda reason: post(NotifierState(False, reason)),
        on_recovered=lambda detail: post(NotifierState(True, detail)))
    closers.extend([chain.shutdown, notifications.stop])
    speaker, speech_choice = make_speaker()
    speech = SpeechWorker(speaker) if speech_choice.chosen != "none" else None
    if speech is not None:
        closers.append(speech.stop)
    library, user_exercises = _load_library(paths)
    pictures = picture_finder(user_exercises)
    presenter = Presenter(notifications, speech, library, _app_icon_file(paths), pictures)

    idle, idle_choice = make_idle_source()
    closers.append(idle.close)
    watcher, session_choice = make_session_watcher()
    watcher.start(on_lock=lambda locked: post(ScreenLock(locked)),
                  on_sleep=lambda sleeping: post(Sleep(sleeping)))
    closers.append(watcher.stop)
    detectors, quiet_choice = make_quiet_detectors(
        quiet_apps=settings.quiet_apps, on_change=lambda name: post(QuietChanged(name)))
    for name, state in quiet_choice.details:
        log.info("quiet detector %s: %s", name, state)
    quiet = QuietControl(detectors, jobs, post, settings.max_defer_min * 60.0,
                         settings.quiet_when)
    closers.append(quiet.close)
    location = LocationService(clock, post)
    closers.append(location.close)
    driving = DrivingControl(presenter.announce_driving,
                             on_first_start=_driver_disclaimer(paths, presenter, jobs),
                             location=location)
    autostart, autostart_enabled = _autostart()
    chosen = {**backends, "notifier": notifier_choice.chosen, "speech": speech_choice.chosen,
              "idle": idle_choice.chosen, "session": session_choice.chosen,
              "quiet": quiet_choice.chosen}
    log.info("backends: %s", ", ".join(f"{k} {v}" for k, v in chosen.items()))
    ports = Collaborators(
        clock=clock, idle=idle, store=store, history=history, presenter=presenter, quiet=quiet,
        driving=driving, jobs=jobs, pages=DesktopPages(paths, pictures), tray=tray,
        autostart=autostart, backends=chosen, on_quit=on_quit)
    runtime = Runtime(
        inbox, SittingEngine(settings), ports,
        today=DayLog(_recent_events(history, clock.read()[0])),
        autostart_enabled=autostart_enabled, notice=_start_notice(loaded, user_exercises))
    runtime.start()
    server = make_control_server(paths, command_handler(inbox.call))
    try:
        server.start()
        closers.append(server.close)
    except AdapterError as exc:
        log.warning("no control channel: %s", exc)
        post(Notice(f"psoas-break cannot be controlled from a terminal: {exc}"))
    return runtime


def _recent_events(history: History, now: datetime) -> list[RecordEvent]:
    """Today's events (and the day before, for a sit running at midnight) for "Today"."""
    from psoas_break.core.stats import query_window

    start, end = query_window(now.date(), now.date())
    try:
        return history.read_events(start, end + timedelta(days=1))
    except Exception:
        log.warning("reading today's history failed; Today starts from zero", exc_info=True)
        return []


def _autostart() -> tuple[Autostart | None, bool | None]:
    """The "Start at login" backend and whether it is on (None when unknown)."""
    try:
        from psoas_break.adapters.autostart import make_autostart

        autostart = make_autostart()
    except Exception:
        log.warning("start at login is not available here", exc_info=True)
        return None, None
    try:
        return autostart, bool(autostart.status().enabled)
    except Exception:
        log.warning("reading the autostart state failed", exc_info=True)
        return autostart, None


def _driver_disclaimer(paths: AppPaths, presenter: Presenter, jobs: Jobs) -> Callable[[], None]:
    """Said plainly the first time the driver profile starts (and in About, README)."""
    marker = paths.state_dir / "driver-disclaimer-shown"
    shown = os.path.exists(marker)

    def first_start() -> None:
        nonlocal shown
        if shown:
            return
        shown = True
        from psoas_break.core.driving import DRIVER_DISCLAIMER
        from psoas_break.core.driving_prompts import DrivingNotice

        presenter.announce_driving(DrivingNotice(
            "disclaimer", N_("psoas-break for drivers"), DRIVER_DISCLAIMER, DRIVER_DISCLAIMER))

        def remember() -> None:
            try:
                marker.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
                marker.touch(mode=0o600)
            except OSError:
                log.warning("cannot write %s", marker)

        jobs.submit("disclaimer-shown", remember)

    return first_start


def _app_icon_file(paths: AppPaths) -> Path | None:
    from psoas_break.ui.icon import app_icon

    target = paths.cache_dir / "psoas-break.png"
    try:
        if not os.path.exists(target):
            target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            target.write_bytes(app_icon(128))
            private_file(target)
        return target
    except OSError:
        log.warning("cannot write the app icon to %s", target)
        return None


def _load_library(paths: AppPaths) -> tuple[ExerciseLibrary | None, UserExercises | None]:
    """The shipped exercises and the user's own (read once at start; problems are logged)."""
    try:
        from psoas_break.adapters.files.exercise_library import load_library

        return load_library(paths.data_dir)
    except Exception:
        # Broken packaged data must not stop the reminders: built-in text is used instead.
        log.exception("the exercise library could not be loaded")
        return None, None


def _start_notice(loaded: LoadResult, user: UserExercises | None) -> str | None:
    """One line for the tray title when something the user wrote needs a look."""
    if loaded.problems:
        return N_("settings file has problems (see the log)")
    if user is not None and user.problems:
        return N_("your exercise files have problems: run `psoas-break exercises`")
    return None


def _shutdown(runtime: Runtime | None, closers: list[Callable[[], None]]) -> int:
    if runtime is not None:
        runtime.stop(timeout_s=1.5)
    for close in reversed(closers):
        try:
            close()
        except Exception:
            log.exception("closing failed")
    log.info("%s stopped", APP_NAME)
    logging.shutdown()
    return 0


STARTUP_WATCHDOG_S = 30.0


def _start_watchdog(paths: AppPaths) -> Callable[[], None]:
    """After STARTUP_WATCHDOG_S of starting: one warning, then every thread's stack, in the
    log file; returns the function that cancels it (the start is done)."""

    def dump() -> None:
        import faulthandler

        log.warning("still starting after %.0f s: every thread's stack follows",
                    STARTUP_WATCHDOG_S)
        try:
            with open(paths.log_file, "a", encoding="utf-8") as out:
                faulthandler.dump_traceback(file=out)
        except OSError as exc:
            log.warning("the stacks could not be written: %s", exc)

    timer = threading.Timer(STARTUP_WATCHDOG_S, dump)
    timer.name, timer.daemon = "psoas-start-watchdog", True
    timer.start()
    return timer.cancel


def _install_signal_handlers(request_quit: Callable[[], None], backend: str) -> None:
    def handler(_signum: int, _frame: Any) -> None:
        request_quit()

    def on_glib_signal() -> bool:
        request_quit()
        return True  # keep the handler

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)
    if backend in ("appindicator", "gtk"):
        # Gtk.main() runs in C: Python handlers only run when Python code runs, so let GLib
        # deliver the signals inside its loop as well.
        try:
            from gi.repository import GLib

            for signum in (signal.SIGTERM, signal.SIGINT):
                GLib.unix_signal_add(GLib.PRIORITY_HIGH, signum, on_glib_signal)
        except Exception:
            log.debug("GLib signal handlers not installed", exc_info=True)
