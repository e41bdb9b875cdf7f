"""Composition root: pick the adapters, start the engine thread, run the tray on the main thread.

Shutdown (Quit, SIGTERM, SIGINT): the engine thread stops, history is flushed, the sitting
state is saved, the control socket and instance lock are released, the icon is removed, and the
process exits 0 — all within about two seconds.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from psoas_break import APP_NAME, __version__
from psoas_break.adapters.files.logging_setup import setup_logging
from psoas_break.adapters.files.paths import AppPaths
from psoas_break.adapters.files.settings_store import SettingsStore
from psoas_break.adapters.tray import choose_backend
from psoas_break.core.engine import SittingEngine
from psoas_break.core.i18n import N_
from psoas_break.core.tray_view import TrayFacts, TrayView
from psoas_break.ports import Choice
from psoas_break.runtime.loop import Hooks, Runtime
from psoas_break.runtime.presenter import LogNotifications, Presenter
from psoas_break.ui.icon import app_icon

log = logging.getLogger(__name__)


def minute_length_s(env: dict[str, str] | os._Environ[str]) -> float:
    """Seconds per "minute" of every setting: 60, unless a test shortens it.

    PSOAS_SECONDS_PER_MINUTE lets the real-desktop tests watch a 30-minute cycle in 30 seconds
    with every other part of the app real. Out-of-range values are ignored with a warning.
    """
    raw = env.get("PSOAS_SECONDS_PER_MINUTE")
    if not raw:
        return 60.0
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not 0.05 <= value <= 60.0:
        log.warning("PSOAS_SECONDS_PER_MINUTE=%r ignored: use a number from 0.05 to 60", raw)
        return 60.0
    return value


@dataclass
class App:
    """Everything the running app holds, for the tray callbacks and shutdown."""

    paths: AppPaths
    store: SettingsStore
    runtime: Runtime
    choices: dict[str, Choice] = field(default_factory=dict)
    notice: str | None = None
    closers: list[Callable[[], None]] = field(default_factory=list)
    quit_event: threading.Event = field(default_factory=threading.Event)
    tray: Any = None
    presenter: Any = None
    history: Any = None
    autostart: Any = None
    autostart_enabled: bool | None = None

    def refresh_autostart(self) -> None:
        if self.autostart is None:
            return
        try:
            self.autostart_enabled = bool(self.autostart.status().enabled)
        except Exception:
            log.exception("reading the autostart state failed")
            self.autostart_enabled = None

    def toggle_autostart(self) -> None:
        """Engine thread: flip "Start at login" (a small file write, fast enough here)."""
        if self.autostart is None:
            return
        try:
            if self.autostart.status().enabled:
                self.autostart.disable()
            else:
                self.autostart.enable()
        except Exception as exc:  # AutostartError: one line for the user
            self.presenter.show_notice(str(exc))
        self.refresh_autostart()

    def facts(self) -> TrayFacts:
        runtime = self.runtime
        quiet = runtime.quiet
        tick = runtime.last_tick
        off_until = None
        if tick is not None and runtime.engine.state == "off_hours":
            off_until = runtime.engine.settings.working_hours.next_change(tick.wall)
        return TrayFacts(
            quiet_title=quiet.title() if quiet is not None else None,
            off_hours_until=off_until,
            driver_title=runtime.driver_title(),
            locked_keys=self.store.result.locked,
            has_menu=getattr(self.tray, "has_menu", True),
            notice=self.notice,
            can_show_stretch=self.presenter is not None
            and self.presenter.last_selection is not None,
            can_show_week=True,
            autostart_enabled=self.autostart_enabled,
        )

    def save_setting(self, key: str, value: Any) -> Any:
        return self.store.set(key, value).settings


def _app_icon_file(paths: AppPaths) -> Path | None:
    target = paths.cache_dir / "psoas-break.png"
    try:
        if not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            app_icon(128).save(target)
        return target
    except OSError:
        log.warning("cannot write the app icon to %s", target)
        return None


def _load_library() -> Any:
    try:
        from psoas_break.adapters.files.exercise_library import load_builtin_library

        return load_builtin_library()
    except Exception:
        # Broken packaged data must not stop the reminders: built-in text is used instead.
        log.exception("the exercise library could not be loaded")
        return None


def _open_path(path: Path) -> None:
    import webbrowser

    webbrowser.open(path.as_uri())


def run_app(paths: AppPaths, verbose: bool = False) -> int:
    from psoas_break.adapters.files.single_instance import InstanceLock, InstanceLockError

    # The lock comes first, before pystray is imported: a second copy never shows an icon.
    lock = InstanceLock(paths.lock_file)
    try:
        if not lock.acquire():
            print(f"psoas-break is already running (pid {lock.owner_pid()})")
            return 0
    except InstanceLockError as exc:
        print(f"psoas-break: {exc}", file=sys.stderr)
        return 1
    try:
        return _run_locked(paths, verbose)
    finally:
        lock.release()


def _control_handler(app: App) -> Callable[[dict[str, Any]], dict[str, Any]]:
    """Requests from `psoas-break status|break-now|...`; runs on a server thread."""
    from psoas_break.adapters.control.protocol import (
        error_reply,
        ok_reply,
        status_payload,
        to_command,
    )
    from psoas_break.core.events import ShowNotice

    runtime = app.runtime

    def on_engine(request: dict[str, Any]) -> Callable[[Runtime], dict[str, Any]]:
        def job(rt: Runtime) -> dict[str, Any]:
            cmd = request["cmd"]
            if cmd == "status":
                return ok_reply(**status_payload(
                    rt.engine.status(),
                    tray=app.choices["tray"].chosen,
                    notifier=app.choices["notifier"].chosen if "notifier" in app.choices
                    else "log",
                    idle=app.choices["idle"].chosen,
                    pid=os.getpid(), version=__version__, text=rt.status_line(),
                    driving=rt.driver_summary(),
                    # The engine's clock (CLOCK_BOOTTIME on Linux) at this snapshot, so a
                    # script can turn next_prompt.in_s into an absolute time.
                    mono_s=rt.last_tick.mono_s if rt.last_tick is not None else None,
                ))
            if cmd == "reload-settings":
                result = app.store.load()
                rt.apply_settings(result.settings)
                rt.render()
                if result.problems:
                    return ok_reply(message="; ".join(result.problems))
                return ok_reply()
            command = to_command(request)
            if cmd == "resume" and rt.engine.state == "on_break":
                # `psoas-break resume` on a break means back to work ("Back on the road").
                from psoas_break.core.events import EndBreak

                command = EndBreak()
            if command is None:
                return error_reply(f"unknown command {cmd!r}")
            effects = rt.command(command)
            rt.render()
            notices = [e.text for e in effects if isinstance(e, ShowNotice)]
            return ok_reply(message=notices[0]) if notices else ok_reply()

        return job

    def handle(request: dict[str, Any]) -> dict[str, Any]:
        if request.get("cmd") == "quit":
            runtime.post("quit")
            return ok_reply()
        try:
            reply: dict[str, Any] = runtime.call(on_engine(request), timeout_s=2.0)
            return reply
        except TimeoutError:
            return error_reply("psoas-break is busy; try again")

    return handle


def _run_locked(paths: AppPaths, verbose: bool) -> int:
    """Show the icon as early as possible, then bring up everything else in `late_start`."""
    setup_logging(paths.log_file, verbose)
    log.info("psoas-break %s starting (pid %d)", __version__, os.getpid())
    env = os.environ
    minute_s = minute_length_s(env)
    store = SettingsStore(paths.settings_file, paths.site_settings_files)
    loaded = store.load()
    engine = SittingEngine(loaded.settings, minute_s=minute_s)
    from psoas_break.adapters.clock import read_tick_parts

    icon_file = _app_icon_file(paths)
    presenter = Presenter(LogNotifications(), app_icon=icon_file, cache_dir=paths.cache_dir)
    tray_choice = choose_backend(env)
    app_holder: dict[str, App] = {}

    def render(view: TrayView) -> None:
        tray = app_holder["app"].tray
        if tray is not None:
            tray.render(view)

    def on_quit() -> None:
        app_holder["app"].quit_event.set()
        tray = app_holder["app"].tray
        if tray is not None:
            tray.stop()

    hooks = Hooks(
        render=render,
        presenter=presenter,
        facts=lambda: app_holder["app"].facts(),
        on_quit=on_quit,
        save_setting=lambda k, v: app_holder["app"].save_setting(k, v),
    )
    runtime = Runtime(engine, read_tick_parts, None, hooks)
    app = App(paths, store, runtime, choices={"tray": tray_choice})
    app.presenter = presenter
    app_holder["app"] = app
    if loaded.problems:
        app.notice = N_("settings file has problems (see the log)")
    _install_signal_handlers(lambda: runtime.post("quit"), tray_choice.chosen)

    def late_start() -> None:
        try:
            _late_start(app, hooks)
        except Exception:
            log.exception("starting a part of the app failed; carrying on with what works")
        runtime.start()

    if tray_choice.chosen == "none":
        log.warning("no tray can be shown: %s", "; ".join(r for _, r in tray_choice.rejected))
        late_start()
        while not app.quit_event.wait(0.5):
            pass
    else:
        from psoas_break.adapters.tray.pystray_tray import PystrayTray

        log.info("tray backend: %s", tray_choice.chosen)
        app.tray = PystrayTray(tray_choice.chosen, on_action=runtime.post)
        app.tray.render(runtime.current_view())
        # pystray calls late_start on a helper thread once the icon is up.
        app.tray.run(setup=late_start)
    return _shutdown(app)


# Notification buttons (and a click on the body) map to menu actions.
NOTIFICATION_ACTIONS = {"break-now": "break-now", "snooze": "snooze", "skip": "skip"}


def _late_start(app: App, hooks: Hooks) -> None:
    """Everything that is not needed to show the icon: adapters, history, control channel."""
    paths = app.paths
    runtime = app.runtime
    presenter = app.presenter
    from psoas_break.adapters.history import SqliteHistory
    from psoas_break.adapters.idle import make_idle_source
    from psoas_break.adapters.notify import NotificationWorker, make_notifier
    from psoas_break.adapters.session import make_session_watcher
    from psoas_break.adapters.speech import make_speaker
    from psoas_break.adapters.speech.worker import SpeechWorker

    def notice_later(text: str) -> None:
        # Called from adapter threads: hand over to the engine thread.
        runtime.post_call(lambda _rt: presenter.show_notice(text))

    history = SqliteHistory(paths.history_file, on_notice=notice_later)
    hooks.history = history
    app.closers.append(history.close)

    tray = app.tray

    def on_action(_tag: str, key: str) -> None:
        action = NOTIFICATION_ACTIONS.get(key)
        if action:
            runtime.post(action)

    chain, notifier_choice = make_notifier(
        tray_notify=tray.notify if tray is not None and tray.has_notification else None,
        on_action=on_action,
    )

    def notify_failed(reason: str) -> None:
        log.warning("notifications failing: %s", reason)
        app.notice = N_("notifications unavailable")
        runtime.post("wake")

    def notify_recovered(detail: str) -> None:
        log.info("notifications work again: %s", detail)
        app.notice = None
        runtime.post("wake")

    notifications = NotificationWorker(chain, on_failure=notify_failed,
                                       on_recovered=notify_recovered)
    app.closers.extend([chain.shutdown, notifications.stop])
    speaker, speech_choice = make_speaker()
    speech = SpeechWorker(speaker) if speech_choice.chosen != "none" else None
    if speech is not None:
        app.closers.append(speech.stop)
    presenter.set_outputs(notifications, speech)
    presenter.set_library(_load_library())

    idle, idle_choice = make_idle_source()
    runtime.set_idle(idle)
    app.closers.append(idle.close)
    watcher, session_choice = make_session_watcher()

    def on_sleep(sleeping: bool) -> None:
        # After resume the engine thread's wait may be stretched by the suspend: tick now.
        if not sleeping:
            runtime.post("wake")

    watcher.start(on_lock=lambda locked: runtime.post("lock" if locked else "unlock"),
                  on_sleep=on_sleep)
    app.closers.append(watcher.stop)
    app.choices.update({
        "notifier": notifier_choice, "speech": speech_choice, "idle": idle_choice,
        "session": session_choice,
    })
    log.info("notifier: %s; speech: %s; idle source: %s; session watcher: %s",
             notifier_choice.chosen, speech_choice.chosen, idle_choice.chosen,
             session_choice.chosen)
    app.history = history
    hooks.extra_actions = _extra_actions(app)

    def apply_retention() -> None:
        # Off the engine thread: a delete over years of rows may take a moment.
        keep_days = runtime.engine.settings.history_keep_days
        if keep_days <= 0:
            return

        def forget() -> None:
            cutoff = datetime.now().astimezone().date() - timedelta(days=keep_days)
            try:
                removed = history.forget_before(cutoff)
                log.info("history: removed %d events before %s", removed, cutoff)
            except Exception:
                log.exception("applying history_keep_days failed")

        threading.Thread(target=forget, name="psoas-retention", daemon=True).start()

    hooks.on_new_day = apply_retention
    apply_retention()
    from psoas_break.adapters.quiet import make_quiet_detectors
    from psoas_break.runtime.quiet import QuietControl

    settings = runtime.engine.settings
    detectors, quiet_choice = make_quiet_detectors(quiet_apps=settings.quiet_apps)
    quiet = QuietControl(detectors, settings.max_defer_min * runtime.engine.minute_s,
                         runtime.engine.minute_s)
    runtime.quiet = quiet
    app.closers.append(quiet.close)
    app.choices["quiet"] = quiet_choice
    from psoas_break.runtime.driving import DrivingControl

    def driver_disclaimer() -> None:
        # Said plainly the first time the driver profile starts (and in About, README).
        from psoas_break.core.driving import DRIVER_DISCLAIMER
        from psoas_break.core.driving_prompts import DrivingNotice

        marker = paths.state_dir / "driver-disclaimer-shown"
        if marker.exists():
            return
        presenter.announce_driving(
            DrivingNotice("disclaimer", N_("psoas-break for drivers"), DRIVER_DISCLAIMER,
                          DRIVER_DISCLAIMER)
        )
        try:
            marker.parent.mkdir(parents=True, exist_ok=True)
            marker.touch()
        except OSError:
            log.warning("cannot write %s", marker)

    driving = DrivingControl(runtime.engine.minute_s, presenter.announce_driving,
                             on_first_start=driver_disclaimer)
    runtime.driving = driving
    presenter.is_driving = lambda: driving.driving
    try:
        from psoas_break.adapters.autostart import make_autostart

        app.autostart = make_autostart()
        app.refresh_autostart()
    except Exception:
        log.warning("start at login is not available here", exc_info=True)
    from psoas_break.adapters.control import make_control_server
    from psoas_break.adapters.control.server import ControlServerError

    server = make_control_server(paths, _control_handler(app))
    try:
        server.start()
        app.closers.append(server.close)
    except ControlServerError as exc:
        log.warning("no control channel: %s", exc)


def _extra_actions(app: App) -> dict[str, Callable[[], None]]:
    paths = app.paths
    engine = app.runtime.engine
    presenter = app.presenter

    def in_background(name: str, job: Callable[[], object]) -> Callable[[], None]:
        # Opening a browser or an image viewer may block: never on the engine thread.
        def start() -> None:
            def run() -> None:
                try:
                    job()
                except Exception:
                    log.exception("%s failed", name)

            threading.Thread(target=run, name=name, daemon=True).start()

        return start

    def show_week() -> None:
        from psoas_break.cli import stats as cli_stats

        app.history.flush(2)
        report = cli_stats.load_report(
            paths.history_file, datetime.now().astimezone(), 7,
            live_sit_s=engine.status().sitting_s,
        )
        _open_path(cli_stats.write_chart(paths.cache_dir / "week.png", report))

    def show_about() -> None:
        from psoas_break.ui.about_page import write_about

        backends = {k: c.chosen for k, c in app.choices.items()}
        _open_path(write_about(paths, backends, engine.settings.profile == "driver"))

    return {
        "show-stretch": in_background("show-stretch", presenter.show_last_exercise),
        "show-week": in_background("show-week", show_week),
        "about": in_background("about", show_about),
        "toggle:autostart": app.toggle_autostart,
    }


def _shutdown(app: App) -> int:
    app.runtime.stop(timeout_s=1.5)
    for close in reversed(app.closers):
        try:
            close()
        except Exception:
            log.exception("closing failed")
    log.info("%s stopped", APP_NAME)
    logging.shutdown()
    return 0


def _install_signal_handlers(request_quit: Callable[[], None], backend: str) -> None:
    def handler(_signum: int, _frame: Any) -> None:
        request_quit()

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)
    if backend in ("appindicator", "gtk"):
        # Gtk.main() runs in C: Python handlers only run when Python code runs, so let GLib
        # deliver the signals inside its loop as well.
        try:
            from gi.repository import GLib

            for signum in (signal.SIGTERM, signal.SIGINT):
                GLib.unix_signal_add(GLib.PRIORITY_HIGH, signum, _glib_handler(request_quit))
        except Exception:
            log.debug("GLib signal handlers not installed", exc_info=True)


def _glib_handler(request_quit: Callable[[], None]) -> Callable[[], bool]:
    def on_signal() -> bool:
        request_quit()
        return True

    return on_signal
