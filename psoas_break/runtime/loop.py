"""The engine thread: the one thread that owns the sitting state.

It drains a command queue (menu clicks, control requests, lock/sleep signals), takes a tick from
the clock and idle source, feeds the pure engine, carries out the effects (notify, speak,
record) and renders the tray when the view changed. Between events it sleeps on the queue until
the next thing is due: the engine's next deadline, the next idle poll (only while sitting is
being counted), the next minute the title shows, or the scheduler's next calendar job.

`schedule` is used only for calendar-shaped work (the midnight roll-over of today's figures),
in a private Scheduler whose jobs are wrapped so one failure never stops the loop; a wall
clock that moves backwards re-registers the jobs (schedule would otherwise stall).
"""

from __future__ import annotations

import logging
import math
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

import schedule

from psoas_break.core.engine import SittingEngine, Status
from psoas_break.core.events import (
    ApplySettings,
    ClosePrompt,
    Command,
    DeferPrompt,
    Effect,
    EndBreak,
    OffHours,
    Pause,
    PauseUntilTomorrow,
    RecordEvent,
    ReleasePrompt,
    Resume,
    ScreenLock,
    ShowNotice,
    ShowPrompt,
    Skip,
    Snooze,
    TakeBreak,
    Tick,
)
from psoas_break.core.i18n import N_, _
from psoas_break.core.settings import SettingError, Settings, parse_cli_value
from psoas_break.core.tray_view import TrayFacts, TrayView, build_view, status_text

log = logging.getLogger(__name__)

# While sitting is counted, idle is polled this often (seconds at the normal minute). The
# natural break is minutes long, so 30 s is plenty and costs two wakeups a minute.
IDLE_POLL_S = 30.0


class ClockReader(Protocol):
    def __call__(self) -> tuple[datetime, float, float]:
        """(aware local wall time, monotonic seconds including suspend, slept seconds)."""
        ...


class IdleReader(Protocol):
    name: str

    def idle_seconds(self) -> float | None: ...


class PromptPresenter(Protocol):
    """Turns engine effects into notifications/speech (the app wires the adapters)."""

    def show_prompt(self, prompt: ShowPrompt, status: Status, settings: Settings) -> None: ...

    def close_prompt(self, prompt_id: int) -> None: ...

    def show_notice(self, text: str) -> None: ...

    def show_break(self, status: Status, settings: Settings) -> None: ...


class HistorySink(Protocol):
    def record(self, event: RecordEvent) -> None: ...


@dataclass
class Hooks:
    """What the runtime calls outside the engine. All optional except render."""

    render: Callable[[TrayView], None]
    presenter: PromptPresenter
    history: HistorySink | None = None
    facts: Callable[[], TrayFacts] = TrayFacts
    on_quit: Callable[[], None] = lambda: None
    extra_actions: dict[str, Callable[[], None]] | None = None
    save_setting: Callable[[str, Any], Settings] | None = None
    on_new_day: Callable[[], None] | None = None


_STOP = object()


class Runtime:
    """Owns the engine. `post()` and `call()` are the only thread-safe entry points."""

    def __init__(
        self,
        engine: SittingEngine,
        clock: ClockReader,
        idle: IdleReader | None,
        hooks: Hooks,
        idle_poll_s: float | None = None,
    ) -> None:
        self.engine = engine
        self._clock = clock
        self._idle = idle
        self._hooks = hooks
        minute_s = engine.minute_s
        self._idle_poll_s = idle_poll_s or IDLE_POLL_S * minute_s / 60.0
        self._queue: queue.Queue[Any] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._last_view: TrayView | None = None
        self._scheduler = schedule.Scheduler()
        self._last_wall: datetime | None = None
        self._stopping = False
        self.wakeups = 0
        self.quiet: Any = None  # QuietControl, set by the app before start()
        self.driving: Any = None  # DrivingControl, set by the app before start()
        self._last_tick: Tick | None = None
        self._off_hours = False
        self._register_jobs()

    # ---- thread-safe entry points ----

    def post(self, item: str | Command | Callable[[Runtime], Any]) -> None:
        """Queue a menu action string or an engine command; returns at once."""
        self._queue.put(item)

    def post_call(self, fn: Callable[[Runtime], Any]) -> None:
        """Queue `fn(runtime)` to run on the engine thread; returns at once."""
        self._queue.put(fn)

    def set_idle(self, idle: IdleReader | None) -> None:
        """Before start(): the idle source, once the adapters are up."""
        self._idle = idle

    def call(self, fn: Callable[[Runtime], Any], timeout_s: float = 2.0) -> Any:
        """Run `fn(runtime)` on the engine thread and wait for its result."""
        done = threading.Event()
        box: dict[str, Any] = {}

        def job(rt: Runtime) -> None:
            try:
                box["result"] = fn(rt)
            except Exception as exc:  # handed back to the caller's thread
                box["error"] = exc
            finally:
                done.set()

        self._queue.put(job)
        if not done.wait(timeout_s):
            raise TimeoutError(_("the app did not answer in time"))
        if "error" in box:
            raise box["error"]
        return box.get("result")

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="psoas-engine", daemon=True)
        self._thread.start()

    def stop(self, timeout_s: float = 2.0) -> None:
        if self._thread is not None and self._thread.is_alive():
            # Close the open sit in the history so today's figures are exact after a quit.
            self._queue.put(lambda rt: rt._carry_out(rt.engine.shutdown(rt.read_tick())))
        self._queue.put(_STOP)
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout_s)

    @property
    def thread(self) -> threading.Thread | None:
        return self._thread

    @property
    def last_tick(self) -> Tick | None:
        return self._last_tick

    def driver_summary(self) -> str | None:
        """`psoas-break status` line for the driver profile, else None."""
        if self.driving is None or self.driving.status() is None:
            return None
        from psoas_break.core.driving import summary_text

        return summary_text(self.driving.status(), self.engine.minute_s)

    def driver_title(self) -> str | None:
        """The driving planner's title line (driver profile), else None."""
        return self.driving.title() if self.driving is not None else None

    # ---- the loop ----

    def _run(self) -> None:
        self._step(None)
        while True:
            timeout = self._sleep_s()
            try:
                item = self._queue.get(timeout=timeout)
            except queue.Empty:
                item = None
            self.wakeups += 1
            if item is _STOP:
                break
            try:
                self._step(item)
                # Drain what queued up meanwhile (a burst of clicks) before sleeping again.
                while True:
                    try:
                        item = self._queue.get_nowait()
                    except queue.Empty:
                        break
                    if item is _STOP:
                        return
                    self._step(item)
            except Exception:
                log.exception("engine step failed; carrying on")

    def read_tick(self) -> Tick:
        wall, mono_s, slept_s = self._clock()
        idle_s = None
        if self._idle is not None and self._wants_idle():
            try:
                idle_s = self._idle.idle_seconds()
            except Exception:
                log.exception("idle source %s failed", getattr(self._idle, "name", "?"))
        return Tick(wall, mono_s, idle_s, slept_s)

    def _wants_idle(self) -> bool:
        # No idle polling while paused or on a break: nothing depends on it then.
        return self.engine.state in ("sitting", "prompt_due", "away")

    def _step(self, item: Any) -> None:
        tick = self.read_tick()
        self._last_tick = tick
        self._check_wall_jump(tick.wall)
        self._follow_working_hours(tick)
        if callable(item) and not isinstance(item, str):
            effects = self.engine.tick(tick)
            self._carry_out(effects)
            item(self)
        elif isinstance(item, str):
            effects = self.engine.tick(tick)
            self._carry_out(effects)
            self._action(item, tick)
        elif item is not None:
            self._carry_out(self.engine.command(item, tick))
        else:
            self._carry_out(self.engine.tick(tick))
        # The item may have changed the working hours (menu, reloaded settings): follow at once.
        self._follow_working_hours(tick)
        if self.driving is not None:
            self.driving.sync(self.engine.settings, tick)
            self.driving.tick(tick)
        self._check_quiet(tick)
        self._run_jobs()
        self.render()

    def _follow_working_hours(self, tick: Tick) -> None:
        """Outside working hours the engine is quietly paused (checked every step: ~2 µs)."""
        hours = self.engine.settings.working_hours
        off = not hours.is_working(tick.wall)
        if off != self._off_hours:
            self._off_hours = off
            self._carry_out(self.engine.command(OffHours(off), tick))
            if off and self.quiet is not None and self.quiet.gate.holding:
                self.quiet.gate.withdraw()

    def _check_quiet(self, tick: Tick) -> None:
        if self.quiet is None:
            return
        outcome = self.quiet.check(tick.mono_s)
        if outcome is not None and outcome.release is not None:
            self._show_released(outcome.release, outcome.gentle, tick)

    def _show_released(self, prompt: ShowPrompt, gentle: bool, tick: Tick) -> None:
        self._carry_out(self.engine.command(ReleasePrompt(prompt.prompt_id), tick))
        if gentle:
            note = N_("When you have a moment, stand up and stretch.")
            prompt = ShowPrompt(prompt.prompt_id, prompt.kind, 0, prompt.snooze_allowed, note)
        self._hooks.presenter.show_prompt(prompt, self.engine.status(), self.engine.settings)

    def command(self, command: Command) -> list[Effect]:
        """Apply an engine command now (engine thread only); returns its effects."""
        effects = self.engine.command(command, self.read_tick())
        self._carry_out(effects)
        return effects

    def _sleep_s(self) -> float:
        candidates: list[float] = [3600.0]
        deadline = self.engine.seconds_until_next_deadline()
        if deadline is not None:
            candidates.append(deadline + 0.01)  # just past it: the step then sees it due
        if self._idle is not None and self._wants_idle():
            candidates.append(self._idle_poll_s)
        candidates.append(self._next_title_change_s())
        jobs_s = self._scheduler.idle_seconds
        if jobs_s is not None:
            candidates.append(max(0.5, jobs_s))
        if self.driving is not None:
            driving_s = self.driving.seconds_until_next_event()
            if driving_s is not None:
                candidates.append(driving_s + 0.05)
        tick = self._last_tick
        if tick is not None:
            if self.quiet is not None:
                check_s = self.quiet.seconds_until_check(tick.mono_s)
                if check_s is not None:
                    candidates.append(check_s + 0.05)
            change = self.engine.settings.working_hours.next_change(tick.wall)
            if change is not None:
                from psoas_break.core.engine import real_seconds_between

                candidates.append(max(0.05, real_seconds_between(tick.wall, change) + 0.05))
        return max(0.05, min(candidates))

    def _next_title_change_s(self) -> float:
        """Seconds until a number in the title changes (minutes shown)."""
        status = self.engine.status()
        minute_s = self.engine.minute_s
        if status.state == "paused":
            return 3600.0
        values: list[float] = []
        if status.state in ("sitting", "prompt_due"):
            values.append(minute_s - math.fmod(status.sitting_s, minute_s))
        if status.next_prompt is not None and status.state == "sitting":
            rest = math.fmod(status.next_prompt.in_s, minute_s)
            values.append(rest if rest > 0.01 else minute_s)
        if status.break_left_s is not None:
            rest = math.fmod(status.break_left_s, minute_s)
            values.append(rest if rest > 0.01 else minute_s)
        return max(0.05, min(values)) + 0.02 if values else 3600.0

    # ---- effects ----

    def _carry_out(self, effects: list[Effect]) -> None:
        if self.driving is not None and self._last_tick is not None:
            try:
                self.driving.on_effects(effects, self._last_tick)
            except Exception:
                log.exception("driving planner failed")
        presenter = self._hooks.presenter
        for effect in effects:
            try:
                if isinstance(effect, RecordEvent):
                    if self._hooks.history is not None:
                        self._hooks.history.record(effect)
                    if effect.kind == "break_start":
                        # A break deserves a stretch to do: show one as it starts.
                        presenter.show_break(self.engine.status(), self.engine.settings)
                elif isinstance(effect, ShowPrompt):
                    self._show_prompt(effect)
                elif isinstance(effect, ClosePrompt):
                    if self.quiet is not None:
                        self.quiet.withdraw(effect.prompt_id)
                    presenter.close_prompt(effect.prompt_id)
                elif isinstance(effect, ShowNotice):
                    presenter.show_notice(effect.text)
            except Exception:
                log.exception("carrying out %s failed", type(effect).__name__)

    def _show_prompt(self, prompt: ShowPrompt) -> None:
        presenter = self._hooks.presenter
        quiet = self.quiet
        tick = self._last_tick
        if quiet is None or tick is None:
            presenter.show_prompt(prompt, self.engine.status(), self.engine.settings)
            return
        if prompt.kind == "posture":
            if not quiet.busy():
                presenter.show_prompt(prompt, self.engine.status(), self.engine.settings)
            return
        outcome = quiet.offer(prompt, tick.mono_s)
        if outcome.release is not None:
            if outcome.deferred_s > 0:
                self._show_released(outcome.release, outcome.gentle, tick)
            else:
                presenter.show_prompt(outcome.release, self.engine.status(),
                                      self.engine.settings)
        else:
            log.info("prompt %d held: %s", prompt.prompt_id, ", ".join(outcome.reasons))
            self._carry_out(self.engine.command(DeferPrompt(prompt.prompt_id), tick))

    def render(self) -> TrayView:
        view = self.current_view()
        if view != self._last_view:
            self._last_view = view
            try:
                self._hooks.render(view)
            except Exception:
                log.exception("rendering the tray failed")
        return view

    def current_view(self) -> TrayView:
        wall = self._last_wall or self._clock()[0]
        return build_view(
            self.engine.status(), self.engine.settings, wall, self._hooks.facts(),
            self.engine.minute_s,
        )

    def status_line(self) -> str:
        wall = self._last_wall or self._clock()[0]
        return status_text(self.engine.status(), wall, self.engine.minute_s)

    # ---- menu actions ----

    def _action(self, action: str, tick: Tick) -> None:
        minute_s = self.engine.minute_s
        simple: dict[str, Command] = {
            "break-now": TakeBreak(),
            "end-break": EndBreak(),
            "skip": Skip(),
            "snooze": Snooze(),
            "resume": Resume(),
            "pause:tomorrow": PauseUntilTomorrow(),
            "lock": ScreenLock(True),
            "unlock": ScreenLock(False),
        }
        if action in simple:
            self._carry_out(self.engine.command(simple[action], tick))
        elif action.startswith("snooze:"):
            self._carry_out(self.engine.command(Snooze(int(action.split(":")[1])), tick))
        elif action.startswith("pause:"):
            minutes = int(action.split(":")[1])
            self._carry_out(self.engine.command(Pause(minutes * minute_s), tick))
        elif action.startswith("set:"):
            _prefix, key, text = action.split(":", 2)
            self._set(key, text, tick)
        elif action.startswith("hours:"):
            self._set_working_hours(action.split(":", 1)[1], tick)
        elif action == "toggle:voice":
            self._set("voice", "false" if self.engine.settings.voice else "true", tick)
        elif action == "wake":
            return  # the tick taken for this step is the point
        elif action == "quit":
            self._stopping = True
            self._hooks.on_quit()
        elif self._hooks.extra_actions and action in self._hooks.extra_actions:
            self._hooks.extra_actions[action]()
        else:
            log.warning("unknown menu action %r ignored", action)

    def _set_working_hours(self, preset: str, tick: Tick) -> None:
        try:
            value = self.engine.settings.working_hours.with_preset(preset)
        except ValueError as exc:
            self._hooks.presenter.show_notice(str(exc))
            return
        self._save(("working_hours", value), tick)

    def _set(self, key: str, text: str, tick: Tick) -> None:
        try:
            value = parse_cli_value(key, text)
        except SettingError as exc:
            self._hooks.presenter.show_notice(str(exc))
            return
        self._save((key, value), tick)

    def _save(self, item: tuple[str, Any], tick: Tick) -> None:
        key, value = item
        save = self._hooks.save_setting
        try:
            settings = save(key, value) if save else self.engine.settings.with_value(key, value)
        except SettingError as exc:
            self._hooks.presenter.show_notice(str(exc))
            return
        except Exception as exc:  # disk full, read-only: keep running with the old value
            log.warning("saving %s failed: %s", key, exc)
            self._hooks.presenter.show_notice(str(exc))
            return
        self._carry_out(self.engine.command(ApplySettings(settings), tick))
        self._settings_changed(settings)

    def apply_settings(self, settings: Settings) -> None:
        """Engine thread only: new settings (e.g. reloaded from disk) take effect now."""
        self._carry_out(self.engine.command(ApplySettings(settings), self.read_tick()))
        self._settings_changed(settings)

    def _settings_changed(self, settings: Settings) -> None:
        if self.quiet is not None:
            self.quiet.apply(settings.max_defer_min * self.engine.minute_s, settings.quiet_apps)
        self._register_jobs()

    # ---- calendar jobs ----

    def _register_jobs(self) -> None:
        self._scheduler.clear()
        # At local midnight today's figures roll over; a tick + render shows it at once.
        self._scheduler.every().day.at("00:00").do(self._guarded, self._calendar_tick)
        # Working-hours boundaries are calendar-shaped too: a job at each wakes the loop
        # (the step then compares is_working() with the engine's state).
        for boundary in self.engine.settings.working_hours.daily_boundaries():
            if boundary not in ("00:00", "24:00"):
                self._scheduler.every().day.at(boundary).do(self._guarded, self._calendar_tick)

    def _guarded(self, job: Callable[[], None]) -> None:
        try:
            job()
        except Exception:
            log.exception("scheduled job failed; it will run again next time")

    def _calendar_tick(self) -> None:
        tick = self.read_tick()
        self._carry_out(self.engine.tick(tick))
        if (tick.wall.hour, tick.wall.minute) == (0, 0) and self._hooks.on_new_day is not None:
            self._hooks.on_new_day()

    def _check_wall_jump(self, wall: datetime) -> None:
        last = self._last_wall
        self._last_wall = wall
        if last is not None and wall < last:
            log.info("wall clock moved back by %.0f s; re-registering calendar jobs",
                     (last - wall).total_seconds())
            self._register_jobs()

    def _run_jobs(self) -> None:
        try:
            self._scheduler.run_pending()
        except Exception:
            log.exception("scheduler failed")
