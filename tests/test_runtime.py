"""The runtime (engine thread) with the shared test doubles of tests/fakes.py.

One way in: every input is a Command, each command takes one tick, blocking work goes to the
job thread and comes back as a Command, the day's figures come from the same code as
`psoas-break stats`.
"""

from __future__ import annotations

import ast
import threading
import time
from dataclasses import fields, is_dataclass
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from psoas_break.adapters.control.protocol import parse_request
from psoas_break.adapters.history import SqliteHistory
from psoas_break.core import commands
from psoas_break.core.commands import (
    EndBreak,
    GetStatus,
    Notice,
    NotifierState,
    Pause,
    QuietChanged,
    Quit,
    Resume,
    ScreenLock,
    SetAutostart,
    SetSetting,
    ShowAbout,
    ShowStretch,
    ShowWeek,
    Skip,
    Snooze,
    TakeBreak,
)
from psoas_break.core.settings import Settings
from psoas_break.core.tray_view import MenuEntry, TrayView
from psoas_break.ports import StorageError
from psoas_break.runtime.loop import Inbox
from psoas_break.ui.report import load_report
from tests.fakes import FixedQuiet, MemorySettings, RuntimeRig

BERLIN = ZoneInfo("Europe/Berlin")
MONDAY_9 = datetime(2026, 5, 4, 9, 0, tzinfo=BERLIN)
MIN = 60.0


def entries(view: TrayView) -> list[MenuEntry]:
    out: list[MenuEntry] = []
    todo = list(view.menu)
    while todo:
        entry = todo.pop()
        out.append(entry)
        todo.extend(entry.children)
    return out


def find(view: TrayView, *labels: str) -> MenuEntry:
    items = view.menu
    found: MenuEntry | None = None
    for label in labels:
        found = next(e for e in items if e.label == label)
        items = found.children
    assert found is not None
    return found


def click(rig: RuntimeRig, *labels: str) -> None:
    """What the tray does with a click: post the entry's Command."""
    view = rig.runtime.render()
    action = find(view, *labels).action
    assert action is not None, labels
    rig.inbox.post(action)
    rig.drain()
    rig.runtime.render()


# ---- one vocabulary ---------------------------------------------------------------------------


def test_every_menu_entry_holds_a_command_or_nothing() -> None:
    rig = RuntimeRig(MONDAY_9, Settings(profile="driver"))
    rig.step()
    command_types = tuple(
        obj for obj in vars(commands).values()
        if isinstance(obj, type) and is_dataclass(obj) and obj.__module__ == commands.__name__
        and obj not in (commands.StatusReport, commands.Outcome)
    )
    clickable = [e for e in entries(rig.runtime.render()) if e.action is not None]
    assert len(clickable) > 30
    for entry in clickable:
        assert isinstance(entry.action, command_types), entry


def test_menu_and_control_channel_make_the_same_commands_in_the_same_units() -> None:
    rig = RuntimeRig(MONDAY_9)
    rig.step()
    view = rig.runtime.render()
    assert find(view, "Snooze", "10 min").action == parse_request(
        {"cmd": "snooze", "minutes": 10}) == Snooze(600.0)
    assert find(view, "Pause", "30 min").action == parse_request(
        {"cmd": "pause", "seconds": 1800}) == Pause(1800.0)
    assert find(view, "Skip this break").action == parse_request({"cmd": "skip"}) == Skip()
    assert find(view, "Take a break now").action == parse_request(
        {"cmd": "break-now"}) == TakeBreak()


def test_no_string_actions_are_parsed_anywhere() -> None:
    """The old "set:key:value" strings are gone: nothing in the package splits an action."""
    package = Path(__file__).resolve().parent.parent / "psoas_break"
    for path in package.rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                assert not node.value.startswith(("set:", "hours:", "toggle:", "pause:")), (
                    path, node.value)


# ---- one tick per command, nothing blocks ----------------------------------------------------


class CountingClock:
    def __init__(self, rig: RuntimeRig) -> None:
        self.reads = 0
        original = rig.clock.read

        def read() -> tuple[datetime, float, float]:
            self.reads += 1
            return original()

        rig.clock.read = read  # type: ignore[method-assign]


def test_each_command_takes_one_tick() -> None:
    rig = RuntimeRig(MONDAY_9)
    rig.step()
    counter = CountingClock(rig)
    for command in (TakeBreak(), EndBreak(), Snooze(), Skip(), Pause(600.0), Resume(),
                    ScreenLock(True), ScreenLock(False), GetStatus()):
        before = counter.reads
        rig.runtime.step(command)
        assert counter.reads - before == 1, command


def test_a_menu_setting_is_validated_once_saved_off_the_engine_thread_then_applied() -> None:
    store = MemorySettings()
    rig = RuntimeRig(MONDAY_9, store=store)
    rig.step()
    click(rig, "Settings", "Stretch every", "45 min")
    # Not saved yet (the job thread is slower than the engine): the app keeps the old value,
    # as the file does.
    assert rig.jobs.names == ["save:stretch_every_min"]
    assert store.saved == [] and rig.runtime.engine.settings.stretch_every_min == 30
    assert find(rig.runtime.render(), "Settings", "Stretch every", "30 min").checked
    rig.work()
    assert store.saved == [("stretch_every_min", 45)]
    assert store.loads == 0  # no file read on the way
    assert rig.runtime.engine.settings.stretch_every_min == 45
    assert find(rig.runtime.render(), "Settings", "Stretch every", "45 min").checked


def test_a_failed_save_keeps_the_old_value_and_says_why_once() -> None:
    store = MemorySettings()
    store.fail_with = StorageError("could not save settings: the disk is full")
    rig = RuntimeRig(MONDAY_9, store=store)
    rig.step()
    click(rig, "Settings", "Voice prompts")
    rig.work()
    assert rig.runtime.engine.settings.voice is False
    assert [n.body for n in rig.notifications.shown] == [
        "could not save settings: the disk is full"]


def test_a_locked_key_is_not_saved() -> None:
    rig = RuntimeRig(MONDAY_9, store=MemorySettings(locked=frozenset({"voice"})))
    rig.step()
    outcome = rig.step(SetSetting("voice", True))
    assert rig.jobs.names == []
    assert outcome.notices == ("voice is locked by your administrator's site defaults",)


def test_a_bad_value_gets_one_line_and_no_save() -> None:
    rig = RuntimeRig(MONDAY_9)
    rig.step()
    outcome = rig.step(SetSetting("stretch_every_min", 5000))
    assert rig.jobs.names == []
    assert outcome.notices == (
        "stretch_every_min = 5000 is not allowed: use a whole number from 10 to 180",)


def test_pages_and_autostart_run_on_the_job_thread() -> None:
    rig = RuntimeRig(MONDAY_9)
    rig.step()
    rig.step(ShowWeek())
    rig.step(ShowAbout())
    rig.step(ShowStretch())  # nothing shown yet: nothing to open
    rig.step(SetAutostart(True))  # no autostart backend in the rig: nothing to do
    assert rig.pages.opened == []
    rig.work()
    assert rig.pages.opened == [("week", 0.0), ("about", False)]


def test_quiet_detectors_are_asked_off_the_engine_thread_and_one_prompt_comes_after() -> None:
    quiet = FixedQuiet("camera")
    rig = RuntimeRig(MONDAY_9, Settings(posture_every_min=0), detectors=(quiet,))
    rig.step()
    rig.advance(30 * MIN + 1)
    assert rig.runtime.engine.state == "prompt_due"
    assert quiet.asked == 0 and rig.notifications.shown == []  # parked, the job not run yet
    rig.work()
    assert quiet.asked == 1
    assert rig.notifications.shown == []  # held: in a call
    assert rig.runtime.render().title == "Quiet: camera in use"
    for _ in range(4):  # 2 minutes of holding: a check every 30 s, still quiet
        rig.advance(30.5)
        rig.work()
    assert quiet.asked == 5 and rig.notifications.shown == []
    quiet.now = ()
    rig.advance(30.5)
    rig.work()
    prompts = [n for n in rig.notifications.shown if n.tag == "prompt"]
    assert len(prompts) == 1 and prompts[0].title.startswith("Time to stand up")
    rig.advance(60)
    rig.work()
    assert len([n for n in rig.notifications.shown if n.tag == "prompt"]) == 1


def test_a_watching_detector_releases_at_once_and_the_prompt_says_how_long_the_call_was(
) -> None:
    """A call starts 10 minutes in (the detector posts QuietChanged: one check, nothing held),
    the prompt comes due at 30 minutes and is held, the call ends at 62 minutes: the detector's
    change releases the prompt at once, without waiting for the next 30-s check, and the one
    prompt says the call was 52 minutes."""
    quiet = FixedQuiet()
    rig = RuntimeRig(MONDAY_9, Settings(posture_every_min=0), detectors=(quiet,))
    rig.step()
    rig.advance(10 * MIN)
    quiet.now = ("microphone",)
    rig.step(QuietChanged("fixed"))
    rig.work()
    assert quiet.asked == 1 and rig.notifications.shown == []
    rig.advance(20 * MIN + 1)
    rig.work()
    assert rig.runtime.render().title == "Quiet: in a call"
    rig.advance(32 * MIN)
    rig.work()  # the checks meanwhile: still in the call
    assert rig.notifications.shown == []
    asked = quiet.asked
    quiet.now = ()
    rig.step(QuietChanged("fixed"))  # no time passes: not the 30-s check
    rig.work()
    assert quiet.asked == asked + 1
    prompts = [n for n in rig.notifications.shown if n.tag == "prompt"]
    assert [p.title for p in prompts] == [
        "That call was 52 minutes. Time to stand up and stretch"]
    rig.advance(5 * MIN)
    rig.work()
    assert len([n for n in rig.notifications.shown if n.tag == "prompt"]) == 1


def test_a_change_during_a_check_asks_once_more_after_it() -> None:
    quiet = FixedQuiet("microphone")
    rig = RuntimeRig(MONDAY_9, Settings(posture_every_min=0), detectors=(quiet,))
    rig.step()
    rig.advance(30 * MIN + 1)  # due: a check is asked (the job has not run yet)
    rig.step(QuietChanged("fixed"))  # its answer may predate the change: ask again after it
    assert rig.jobs.names.count("quiet-check") == 1
    rig.work()
    assert rig.jobs.names.count("quiet-check") == 2 and quiet.asked == 2


def test_quiet_when_leaves_out_the_kinds_switched_off() -> None:
    quiet = FixedQuiet("microphone")
    rig = RuntimeRig(MONDAY_9, Settings(posture_every_min=0, quiet_when=("camera",)),
                     detectors=(quiet,))
    rig.step()
    rig.advance(30 * MIN + 1)
    rig.work()
    assert len([n for n in rig.notifications.shown if n.tag == "prompt"]) == 1
    entry = find(rig.runtime.render(), "Settings", "Hold prompts during",
                 "Calls (microphone in use)")
    assert entry.toggle == "check" and not entry.checked
    click(rig, "Settings", "Hold prompts during", "Calls (microphone in use)")
    rig.work()
    assert rig.store.result.settings.quiet_when == ("camera", "microphone")
    rig.step(TakeBreak())
    rig.advance(40 * MIN)
    rig.work()
    assert rig.runtime.render().title == "Quiet: in a call"


def test_notifier_state_shows_in_the_title_until_it_recovers() -> None:
    rig = RuntimeRig(MONDAY_9)
    rig.step()
    rig.step(NotifierState(False, "no server"))
    assert rig.runtime.render().title.endswith("· notifications unavailable")
    rig.step(NotifierState(True, "dbus"))
    assert "notifications unavailable" not in rig.runtime.render().title


def test_a_notice_from_another_thread_reaches_the_user() -> None:
    rig = RuntimeRig(MONDAY_9)
    rig.step()
    rig.inbox.post(Notice("History is being saved again."))
    rig.drain()
    assert [n.body for n in rig.notifications.shown] == ["History is being saved again."]


def test_quit_asks_the_composition_root_to_stop() -> None:
    rig = RuntimeRig(MONDAY_9)
    rig.step()
    click(rig, "Quit")
    assert rig.quit_requested == 1


def test_resume_during_a_break_ends_the_break() -> None:
    rig = RuntimeRig(MONDAY_9)
    rig.step()
    rig.step(TakeBreak())
    assert rig.runtime.engine.state == "on_break"
    rig.step(Resume())
    assert rig.runtime.engine.state == "sitting"


# ---- the thread ------------------------------------------------------------------------------


def test_the_engine_thread_answers_calls_and_stops_on_close() -> None:
    rig = RuntimeRig(MONDAY_9)
    rig.runtime.start()
    try:
        outcome = rig.inbox.call(GetStatus(), timeout_s=5.0)
        assert outcome.report is not None and outcome.report.status.state == "sitting"
        assert outcome.report.backends["idle"] == "scripted"
        # Other threads never touch the engine: they post and wait.
        answers: list[str] = []

        def ask() -> None:
            report = rig.inbox.call(GetStatus(), timeout_s=5.0).report
            assert report is not None
            answers.append(report.status.state)

        askers = [threading.Thread(target=ask) for _ in range(8)]
        for t in askers:
            t.start()
        for t in askers:
            t.join(10)
        assert answers == ["sitting"] * 8
    finally:
        rig.runtime.stop(timeout_s=5.0)
    thread = rig.runtime.thread
    assert thread is not None and not thread.is_alive()
    # The open sit was closed in the history on the way out.
    assert rig.history.events[-1].kind == "sit_end"
    assert rig.history.events[-1].data["reason"] == "quit"


def test_a_call_to_a_stopped_engine_times_out_with_one_line() -> None:
    with pytest.raises(TimeoutError, match="did not answer in time"):
        Inbox().call(GetStatus(), timeout_s=0.05)


def test_a_burst_of_clicks_renders_once() -> None:
    rig = RuntimeRig(MONDAY_9)
    rig.runtime.start()
    try:
        rig.inbox.call(GetStatus(), timeout_s=5.0)
        time.sleep(0.2)
        before = rig.tray.renders
        for _ in range(20):
            rig.inbox.post(Snooze(60.0))
        rig.inbox.call(GetStatus(), timeout_s=5.0)
        time.sleep(0.2)
        assert 1 <= rig.tray.renders - before <= 3  # one per drained batch, not one per click
    finally:
        rig.runtime.stop(timeout_s=5.0)


# ---- one source for the day's figures -------------------------------------------------------


def test_todays_figures_in_the_tray_equal_psoas_break_stats(tmp_path: Path) -> None:
    history = SqliteHistory(tmp_path / "history.sqlite3")
    rig = RuntimeRig(MONDAY_9, Settings(posture_every_min=20), history=history)
    rig.step()
    rig.advance(31 * MIN)  # a stretch prompt at 30 min
    rig.step(Snooze())
    rig.advance(6 * MIN)
    rig.step(TakeBreak())
    rig.advance(3 * MIN)  # the break is over
    rig.advance(40 * MIN)  # prompted again, ignored, repeated
    rig.step(Skip())
    rig.idle.left_at_s = rig.clock.mono_s  # lunch: a natural break
    rig.advance(45 * MIN)
    rig.idle.left_at_s = None
    rig.advance(25 * MIN)
    report = rig.step(GetStatus()).report
    assert report is not None
    assert history.flush()
    now = rig.clock.read()[0]
    live = report.status.sitting_s
    stats_today = load_report(history.path, now, 1, live_sit_s=live).days[-1]
    tray_today = report.today
    assert (tray_today.breaks_taken, tray_today.snoozed, tray_today.skipped,
            tray_today.natural_breaks) == (1, 1, 1, 1)
    for field in fields(tray_today):
        assert getattr(tray_today, field.name) == pytest.approx(
            getattr(stats_today, field.name)), field.name
    today_menu = [e.label for e in find(rig.runtime.render(), "Today").children]
    assert today_menu[2:] == ["Breaks taken: 1", "Snoozed: 1 · skipped: 1", "Natural breaks: 1"]
    history.close()


def test_quit_command_type_is_in_the_vocabulary() -> None:
    assert isinstance(parse_request({"cmd": "quit"}), Quit)


def test_never_show_this_one_again_from_the_tray_keeps_it_out_of_later_prompts() -> None:
    """Tray click -> SetSetting -> saved off the engine thread -> applied -> selection."""
    import random

    from psoas_break.adapters.files.exercise_library import load_builtin_library
    from psoas_break.core.events import ShowPrompt
    from psoas_break.runtime.presenter import Presenter
    from tests.fakes import RecordingNotifications

    sink = RecordingNotifications()
    presenter = Presenter(sink, None, load_builtin_library(), None, None, random.Random(4))
    store = MemorySettings(Settings(stretch_every_min=10, posture_every_min=0,
                                    places=("seated",)))
    rig = RuntimeRig(MONDAY_9, store=store, presenter=presenter)
    rig.step()
    rig.advance(10 * MIN + 1)
    first = presenter.last_exercise_id()
    assert first is not None and sink.shown[-1].tag == "prompt"
    click(rig, "Never show this one again")
    rig.work()
    assert store.saved == [("hidden_exercises", (first,))]
    settings = rig.runtime.engine.settings
    assert settings.hidden_exercises == (first,)
    assert "Never show this one again" not in [e.label for e in rig.runtime.render().menu]
    assert find(rig.runtime.render(), "Settings", "Show hidden exercises again (1)").visible
    status = rig.runtime.engine.status()
    for i in range(40):
        presenter.show_prompt(ShowPrompt(100 + i, "stretch"), status, settings)
        assert presenter.last_exercise_id() != first
