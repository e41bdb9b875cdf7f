"""The engine thread: the one thread that owns the sitting state.

Every input arrives as a `Command` (core/commands.py) in the `Inbox`: menu clicks, notification
buttons, control requests, lock and sleep signals, and the answers of the job thread. For each
one the runtime takes ONE tick from the clock (and the idle source), feeds the pure engine,
carries out the effects (notify, speak, record) and, once the inbox is drained, renders the
tray if the view changed. Between inputs it sleeps on the inbox until the next thing is due:
the engine's next deadline, the next idle poll (only while sitting is counted, and only for a
source that cannot say when it changes: an event-driven one posts `IdleChanged`), the next
minute the title shows, the quiet gate's next check, the driving planner's next event or the
scheduler's next calendar job.

Nothing here blocks: file writes, quiet checks and pages run on the job thread and report back
through the inbox; notifications and speech have their own workers; the history its writer.

`schedule` is used only for calendar-shaped work (the midnight roll-over and working-hours
boundaries), in a private Scheduler whose jobs are wrapped so one failure never stops the loop;
a wall clock that moves backwards re-registers the jobs (schedule would otherwise stall).
"""

from __future__ import annotations

import logging
import math
import os
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any, get_args

import schedule

from psoas_break import __version__
from psoas_break.core.commands import (
    ApplySettings,
    AutostartChanged,
    Command,
    DeferPrompt,
    EndBreak,
    EngineCommand,
    GetStatus,
    IdleChanged,
    LocationState,
    Notice,
    NotifierState,
    OffHours,
    Outcome,
    QuietChanged,
    QuietChecked,
    Quit,
    ReleasePrompt,
    ReloadSettings,
    RoadSample,
    SetAutostart,
    SetSetting,
    SettingsSaved,
    ShowAbout,
    ShowStretch,
    ShowWeek,
    Sleep,
    StatusReport,
    TakeBreak,
)
from psoas_break.core.engine import SittingEngine, real_seconds_between
from psoas_break.core.events import ClosePrompt, Effect, RecordEvent, ShowNotice, ShowPrompt, Tick
from psoas_break.core.i18n import N_
from psoas_break.core.quiet_gate import after_quiet_lead
from psoas_break.core.settings import SettingError, Settings, validate_value
from psoas_break.core.stats import DayLog
from psoas_break.core.tray_view import TrayFacts, TrayView, build_view, status_text
from psoas_break.ports import (
    AdapterError,
    Autostart,
    Clock,
    History,
    IdleEvents,
    IdleSource,
    Jobs,
    Pages,
    SettingsStore,
    Tray,
)
from psoas_break.runtime.driving import DrivingControl
from psoas_break.runtime.inbox import CLOSE, Call, Inbox
from psoas_break.runtime.presenter import Presenter
from psoas_break.runtime.quiet import Hold, QuietControl, Show

log = logging.getLogger(__name__)

# While sitting is counted, a source that cannot tell when it changes is polled this often
# (seconds). The natural break is minutes long, so 30 s is plenty and costs two wakeups a minute.
IDLE_POLL_S = 30.0
# The longest the loop sleeps when nothing at all is due (engine seconds).
MAX_SLEEP_S = 3600.0
# Real seconds: wake this long after a deadline (so the step sees it due), and never sooner
# than MIN_SLEEP_S after the last step.
WAKE_PAD_S = 0.01
MIN_SLEEP_S = 0.05

_ENGINE_COMMANDS: tuple[type, ...] = get_args(EngineCommand)


@dataclass(frozen=True)
class Collaborators:
    """Everything the runtime uses outside the engine, given at construction."""

    clock: Clock
    idle: IdleSource
    store: SettingsStore
    history: History
    presenter: Presenter
    quiet: QuietControl
    driving: DrivingControl
    jobs: Jobs
    pages: Pages
    tray: Tray | None = None
    autostart: Autostart | None = None
    backends: Mapping[str, str] = field(default_factory=dict)
    on_quit: Callable[[], None] = lambda: None


class Runtime:
    """Owns the engine. Only the `Inbox` is shared with other threads."""

    def __init__(self, inbox: Inbox, engine: SittingEngine, ports: Collaborators, *,
                 today: DayLog | None = None, autostart_enabled: bool | None = None,
                 notice: str | None = None) -> None:
        self.engine = engine
        self._inbox = inbox
        self._ports = ports
        self._today = today or DayLog()
        self._autostart_enabled = autostart_enabled
        self._notice = notice  # shown in the title until it clears (e.g. notifications down)
        self._thread: threading.Thread | None = None
        self._last_view: TrayView | None = None
        self._scheduler = schedule.Scheduler()
        self._last_tick: Tick | None = None
        self._last_wall: datetime | None = None
        self._off_hours = False
        idle = ports.idle
        self._idle_events: IdleEvents | None = idle if isinstance(idle, IdleEvents) else None
        self._idle_thresholds_s: tuple[float, ...] = ()
        self._idle_name = idle.name
        self._moving = False
        self.wakeups = 0
        self.renders = 0
        self._handlers: dict[type, Callable[[Any, Tick], Outcome | None]] = {
            SetSetting: self._set_setting,
            SettingsSaved: lambda cmd, tick: self._apply_settings(cmd.settings, tick),
            ReloadSettings: self._reload_settings,
            SetAutostart: self._set_autostart,
            AutostartChanged: self._autostart_changed,
            ShowStretch: self._show_stretch,
            ShowWeek: self._show_week,
            ShowAbout: self._show_about,
            Sleep: lambda _cmd, _tick: None,  # the tick this step took is the point
            IdleChanged: self._idle_changed,
            QuietChecked: self._quiet_checked,
            QuietChanged: self._quiet_changed,
            NotifierState: self._notifier_state,
            Notice: lambda cmd, _tick: self._tell(cmd.text),
            RoadSample: lambda cmd, tick: self._follow_road(
                self._ports.driving.sample(cmd, tick), tick),
            LocationState: lambda cmd, tick: self._ports.driving.location_state(cmd, tick),
            GetStatus: self._get_status,
            Quit: lambda _cmd, _tick: self._ports.on_quit(),
        }
        self._register_jobs()
        self._watch_idle()

    # ---- life cycle ----

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="psoas-engine", daemon=True)
        self._thread.start()

    def stop(self, timeout_s: float = 2.0) -> None:
        """Close the open sit in the history (today's figures stay exact), stop the loop."""
        self._inbox.close()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout_s)

    @property
    def thread(self) -> threading.Thread | None:
        return self._thread

    def _run(self) -> None:
        self.step(None)
        self.apply_retention()
        self.render()
        while True:
            item = self._inbox.get(self._ports.clock.real_s(self.sleep_s()))
            self.wakeups += 1
            # Drain what queued up meanwhile (a burst of clicks) before rendering once.
            while True:
                if item is CLOSE:
                    self._close()
                    return
                self._handle(item)
                item = self._inbox.get(0)
                if item is None:
                    break
            self.render()

    def _handle(self, item: Any) -> None:
        if isinstance(item, Call):
            try:
                item.outcome = self.step(item.command)
            except BaseException as exc:  # handed to the waiting thread
                item.error = exc
            finally:
                item.done.set()
            return
        try:
            self.step(item)
        except Exception:
            log.exception("engine step failed on %r; carrying on", item)

    def _close(self) -> None:
        try:
            tick = self._take_tick()
            self._carry_out(self.engine.shutdown(tick), tick)
        except Exception:
            log.exception("closing the open sit failed")

    # ---- one step ----

    def step(self, command: Command | None) -> Outcome:
        """Take one tick and apply `command` (None: time passing only). Engine thread only."""
        tick = self._take_tick()
        self._follow_working_hours(tick)
        outcome = Outcome()
        if isinstance(command, TakeBreak):  # the driver's own word (the road's are not here)
            self._ports.driving.hold_stop()
        if isinstance(command, _ENGINE_COMMANDS):
            effects = self.engine.command(command, tick)  # type: ignore[arg-type]
            self._carry_out(effects, tick)
            outcome = Outcome(tuple(e.text for e in effects if isinstance(e, ShowNotice)))
        else:
            self._carry_out(self.engine.tick(tick), tick)
            if command is not None:
                outcome = self._handlers[type(command)](command, tick) or outcome
        # The command may have changed the working hours (menu, reloaded settings).
        self._follow_working_hours(tick)
        driving = self._ports.driving
        driving.sync(self.engine.settings, tick)
        self._follow_road(driving.tick(tick), tick)
        if driving.driving and not self._moving:
            self._ports.presenter.clear_screen()  # eyes on the road from now on
        self._moving = driving.driving
        self._ports.quiet.poll(tick.mono_s)
        try:
            self._scheduler.run_pending()
        except Exception:
            log.exception("scheduler failed")
        return outcome

    def _take_tick(self) -> Tick:
        wall, mono_s, slept_s = self._ports.clock.read()
        idle_s = None
        if self._wants_idle():
            try:
                real_idle_s = self._ports.idle.idle_seconds()
            except Exception:
                log.exception("idle source %s failed", self._ports.idle.name)
                real_idle_s = None
            if real_idle_s is not None:
                idle_s = self._ports.clock.engine_s(real_idle_s)
        tick = Tick(wall, mono_s, idle_s, slept_s)
        self._last_tick = tick
        self._check_wall_jump(wall)
        return tick

    def _wants_idle(self) -> bool:
        # No idle polling while paused or on a break: nothing depends on it then.
        return self.engine.state in ("sitting", "prompt_due", "away")

    def sleep_s(self) -> float:
        """Engine seconds until the loop must step again if nothing arrives."""
        clock, tick = self._ports.clock, self._last_tick
        deadlines = [self._next_title_change_s(), self.engine.seconds_until_next_deadline(),
                     self._ports.driving.seconds_until_next_event(),
                     self._ports.quiet.seconds_until_check(tick.mono_s) if tick else None]
        pad_s = clock.engine_s(WAKE_PAD_S)  # just past a deadline: the step then sees it due
        candidates = [MAX_SLEEP_S] + [s + pad_s for s in deadlines if s is not None]
        if self._wants_idle() and self._ports.idle.name != "none" and not self._idle_driven():
            candidates.append(IDLE_POLL_S)
        jobs_s = self._scheduler.idle_seconds
        if jobs_s is not None:  # wall-clock seconds
            candidates.append(clock.engine_s(max(0.5, jobs_s)))
        if tick is not None:
            change = self.engine.settings.working_hours.next_change(tick.wall)
            if change is not None:
                wall_s = max(0.0, real_seconds_between(tick.wall, change))
                candidates.append(clock.engine_s(wall_s + 0.05))
        return max(clock.engine_s(MIN_SLEEP_S), min(candidates))

    def _idle_driven(self) -> bool:
        """Whether the idle source says when it changes (then it is never polled)."""
        return self._idle_events is not None and self._idle_events.event_driven

    def _watch_idle(self) -> None:
        """Tell an event-driven idle source the idle times the engine compares with (the
        natural break and the break, in real seconds), once per change of them."""
        source = self._idle_events
        if source is None:
            return
        clock, settings = self._ports.clock, self.engine.settings
        thresholds_s = tuple(sorted({clock.real_s(settings.natural_break_min * 60.0),
                                     clock.real_s(settings.break_min * 60.0)}))
        if thresholds_s == self._idle_thresholds_s:
            return
        self._idle_thresholds_s = thresholds_s
        post = self._inbox.post
        # D-Bus calls for Mutter's watches: on the job thread.
        self._ports.jobs.submit("idle-watch", lambda: source.watch(
            thresholds_s, lambda: post(IdleChanged())))

    def _idle_changed(self, _cmd: IdleChanged, _tick: Tick) -> None:
        name = self._ports.idle.name
        if name != self._idle_name:
            log.info("idle source: %s (was %s)", name, self._idle_name)
            self._idle_name = name

    def _next_title_change_s(self) -> float:
        """Seconds until a number in the title changes (whole minutes are shown)."""
        status = self.engine.status()
        if status.state == "paused":
            return MAX_SLEEP_S
        values: list[float] = []
        if status.state in ("sitting", "prompt_due"):
            values.append(60.0 - math.fmod(status.sitting_s, 60.0))
        if status.next_prompt is not None and status.state == "sitting":
            rest = math.fmod(status.next_prompt.in_s, 60.0)
            values.append(rest if rest > 0.01 else 60.0)
        if status.break_left_s is not None:
            rest = math.fmod(status.break_left_s, 60.0)
            values.append(rest if rest > 0.01 else 60.0)
        return min(values) if values else MAX_SLEEP_S

    def _follow_working_hours(self, tick: Tick) -> None:
        """Outside working hours the engine is quietly paused (checked every step: ~2 µs)."""
        off = not self.engine.settings.working_hours.is_working(tick.wall)
        if off != self._off_hours:
            self._off_hours = off
            self._carry_out(self.engine.command(OffHours(off), tick), tick)
            if off:
                self._ports.quiet.withdraw_all()

    # ---- effects ----

    def _carry_out(self, effects: list[Effect], tick: Tick) -> None:
        ports = self._ports
        try:
            ports.driving.on_effects(effects, tick)
        except Exception:
            log.exception("driving planner failed")
        for effect in effects:
            try:
                if isinstance(effect, RecordEvent):
                    ports.history.record(effect)
                    self._today.add(effect)
                    if effect.kind == "break_start":
                        # A break deserves a stretch to do: show one as it starts.
                        ports.presenter.show_break(self.engine.settings)
                elif isinstance(effect, ShowPrompt):
                    shown = ports.quiet.offer(effect, tick.mono_s)
                    if shown is not None:
                        self._present(shown)
                elif isinstance(effect, ClosePrompt):
                    ports.quiet.withdraw(effect.prompt_id)
                    ports.presenter.close_prompt(effect.prompt_id)
                elif isinstance(effect, ShowNotice):
                    ports.presenter.show_notice(effect.text, driving=ports.driving.driving)
            except Exception:
                log.exception("carrying out %s failed", type(effect).__name__)

    def _follow_road(self, outputs: list[TakeBreak | EndBreak | RecordEvent], tick: Tick) -> None:
        """What the road decided: a stop or driving on, as the menu would; its history."""
        for output in outputs:
            if isinstance(output, RecordEvent):
                self._carry_out([output], tick)
            elif isinstance(output, EndBreak) or self.engine.state in (
                    "sitting", "prompt_due", "away"):
                self._carry_out(self.engine.command(output, tick), tick)
            else:  # paused or outside working hours: the driver's own choice stands
                log.info("the road stopped while %s: no break started", self.engine.state)

    def _present(self, prompt: ShowPrompt) -> None:
        self._ports.presenter.show_prompt(prompt, self.engine.status(), self.engine.settings,
                                          driving=self._ports.driving.driving)

    # ---- app commands (engine thread; each returns its Outcome or None) ----

    def _set_setting(self, cmd: SetSetting, _tick: Tick) -> Outcome | None:
        store = self._ports.store
        try:
            value = validate_value(cmd.key, cmd.value)
        except SettingError as exc:
            return self._tell(str(exc))
        if cmd.key in store.result.locked:
            return self._tell(N_("{key} is locked by your administrator's site defaults",
                                 key=cmd.key))
        post = self._inbox.post

        def save() -> None:
            # Job thread: write the file (atomic, fsync); the engine applies it once saved,
            # so a failed save keeps the old value in the app as on disk.
            try:
                post(SettingsSaved(store.save(cmd.key, value).settings))
            except (SettingError, AdapterError) as exc:
                post(Notice(str(exc)))
            except OSError as exc:
                log.warning("saving %s failed: %s", cmd.key, exc)
                post(Notice(str(exc)))

        self._ports.jobs.submit(f"save:{cmd.key}", save)
        return None

    def _reload_settings(self, _cmd: ReloadSettings, tick: Tick) -> Outcome:
        # A small, size-capped read of a regular file (the store refuses anything else).
        result = self._ports.store.load()
        self._apply_settings(result.settings, tick)
        summary = result.summary()
        return Outcome(notices=(summary,)) if summary else Outcome()

    def _apply_settings(self, settings: Settings, tick: Tick) -> None:
        self._carry_out(self.engine.command(ApplySettings(settings), tick), tick)
        self._ports.quiet.apply(settings.max_defer_min * 60.0, settings.quiet_apps,
                                settings.quiet_when)
        self._register_jobs()
        self._watch_idle()

    def _set_autostart(self, cmd: SetAutostart, _tick: Tick) -> None:
        autostart, post = self._ports.autostart, self._inbox.post
        if autostart is None:
            return

        def switch() -> None:
            try:
                if cmd.enabled:
                    autostart.enable()
                else:
                    autostart.disable()
            except AdapterError as exc:
                post(Notice(str(exc)))
            try:
                post(AutostartChanged(autostart.status().enabled))
            except AdapterError:
                log.warning("reading the autostart state failed", exc_info=True)

        self._ports.jobs.submit("autostart", switch)

    def _show_stretch(self, _cmd: ShowStretch, _tick: Tick) -> None:
        selection = self._ports.presenter.last_selection
        if selection is not None:
            pages = self._ports.pages
            self._ports.jobs.submit("show-stretch", lambda: pages.show_exercise(selection))

    def _show_week(self, _cmd: ShowWeek, tick: Tick) -> None:
        pages, history = self._ports.pages, self._ports.history
        live_s = self._live_sit_s()

        def show() -> None:
            history.flush(2.0)
            pages.show_week(tick.wall, live_s)

        self._ports.jobs.submit("show-week", show)

    def _show_about(self, _cmd: ShowAbout, _tick: Tick) -> None:
        pages, backends = self._ports.pages, self._live_backends()
        driver = self.engine.settings.profile == "driver"
        self._ports.jobs.submit("about", lambda: pages.show_about(backends, driver))

    def _quiet_checked(self, cmd: QuietChecked, tick: Tick) -> None:
        for decision in self._ports.quiet.checked(cmd.reasons, tick.mono_s):
            if isinstance(decision, Hold):
                self._carry_out(self.engine.command(DeferPrompt(decision.prompt_id), tick), tick)
            elif isinstance(decision, Show):
                self._show_released(decision, tick)

    def _quiet_changed(self, cmd: QuietChanged, tick: Tick) -> None:
        log.debug("quiet detector %s changed: checking now", cmd.detector)
        self._ports.quiet.changed(tick.mono_s)

    def _show_released(self, decision: Show, tick: Tick) -> None:
        prompt = decision.prompt
        if decision.deferred_s > 0 and prompt.kind == "stretch":
            self._carry_out(self.engine.command(ReleasePrompt(prompt.prompt_id), tick), tick)
            if decision.gentle:
                note = N_("When you have a moment, stand up and stretch.")
                prompt = ShowPrompt(prompt.prompt_id, prompt.kind, 0, prompt.snooze_allowed, note)
            else:
                # After a long call: one prompt that says so ("That call was 52 minutes.").
                lead = after_quiet_lead(decision.episode, decision.episode_s)
                prompt = replace(prompt, lead=lead)
        self._present(prompt)

    def _notifier_state(self, cmd: NotifierState, _tick: Tick) -> None:
        if cmd.working:
            log.info("notifications work again: %s", cmd.detail)
            self._notice = None
        else:
            log.warning("notifications failing: %s", cmd.detail)
            self._notice = N_("notifications unavailable")

    def _tell(self, text: str) -> Outcome:
        self._ports.presenter.show_notice(text, driving=self._ports.driving.driving)
        return Outcome(notices=(text,))

    def _get_status(self, _cmd: GetStatus, tick: Tick) -> Outcome:
        status = self.engine.status()
        return Outcome(report=StatusReport(
            status=status, text=status_text(status, tick.wall),
            today=self._today.summary(tick.wall, self._live_sit_s()),
            driving=self._ports.driving.summary(), mono_s=tick.mono_s,
            backends=self._live_backends(), pid=os.getpid(), version=__version__,
            scale=self._ports.clock.engine_s(1.0), road=self._ports.driving.road_report()))

    def _live_backends(self) -> dict[str, str]:
        """The backends chosen at start, with the idle source in use now (it changes when a
        compositor goes away and comes back)."""
        return {**self._ports.backends, "idle": self._ports.idle.name}

    def _autostart_changed(self, cmd: AutostartChanged, _tick: Tick) -> None:
        self._autostart_enabled = cmd.enabled

    # ---- the tray ----

    def render(self) -> TrayView:
        """Build the view; push it to the tray when it changed."""
        view = self.current_view()
        if view != self._last_view:
            self._last_view = view
            self.renders += 1
            if self._ports.tray is not None:
                try:
                    self._ports.tray.render(view)
                except Exception:
                    log.exception("rendering the tray failed")
        return view

    def current_view(self) -> TrayView:
        tick = self._last_tick
        wall = tick.wall if tick is not None else self._ports.clock.read()[0]
        engine = self.engine
        off_until = None
        if engine.state == "off_hours":
            off_until = engine.settings.working_hours.next_change(wall)
        tray = self._ports.tray
        facts = TrayFacts(
            locked_keys=self._ports.store.result.locked, autostart_enabled=self._autostart_enabled,
            has_menu=tray.has_menu if tray is not None else True, notice=self._notice,
            can_show_stretch=self._ports.presenter.last_selection is not None,
            current_exercise=self._ports.presenter.last_exercise_id(),
            can_show_week=True, quiet_title=self._ports.quiet.title(), off_hours_until=off_until,
            driver_title=self._ports.driving.title(),
            today=self._today.summary(wall, self._live_sit_s()))
        return build_view(engine.status(), engine.settings, wall, facts)

    def _live_sit_s(self) -> float | None:
        status = self.engine.status()
        return status.sitting_s if status.state in ("sitting", "prompt_due") else None

    # ---- calendar jobs ----

    def _register_jobs(self) -> None:
        self._scheduler.clear()
        # At local midnight today's figures roll over; a tick + render shows it at once.
        self._scheduler.every().day.at("00:00").do(self._guarded, self.apply_retention)
        # Working-hours boundaries are calendar-shaped too: a job at each wakes the loop
        # (the step then compares is_working() with the engine's state).
        for boundary in self.engine.settings.working_hours.daily_boundaries():
            if boundary not in ("00:00", "24:00"):
                self._scheduler.every().day.at(boundary).do(self._guarded, lambda: None)

    def _guarded(self, job: Callable[[], None]) -> None:
        try:
            job()
        except Exception:
            log.exception("scheduled job failed; it will run again next time")

    def apply_retention(self) -> None:
        """Forget history older than `history_keep_days` (queued to the history's writer)."""
        tick = self._last_tick
        keep_days = self.engine.settings.history_keep_days
        if keep_days <= 0 or tick is None:
            return
        self._ports.history.forget_before(tick.wall.date() - timedelta(days=keep_days))

    def _check_wall_jump(self, wall: datetime) -> None:
        last = self._last_wall
        self._last_wall = wall
        if last is not None and wall < last:
            log.info("wall clock moved back by %.0f s; re-registering calendar jobs",
                     (last - wall).total_seconds())
            self._register_jobs()
