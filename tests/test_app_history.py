"""The running app's history: a quit closes the open sit, old days go with history_keep_days,
and `stats` sees what the app recorded."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import pytest

from psoas_break.adapters.history import SqliteHistory
from psoas_break.adapters.history.sqlite_history import count_events, read_events
from psoas_break.core.events import RecordEvent
from tests.app_harness import start_app
from tests.desktop.session import DesktopSession
from tests.desktop.waiting import wait_for

pytestmark = pytest.mark.desktop



def test_quit_closes_the_sit_and_stats_see_it(desk: DesktopSession) -> None:
    app = start_app(desk, extra_env={"PSOAS_SECONDS_PER_MINUTE": "0.5"})
    db = app.home / "data" / "psoas-break" / "history.sqlite3"
    app.wait_title("Sitting 4 min", timeout_s=10)
    assert app.cli("quit").returncode == 0
    assert app.proc.wait(5) == 0
    now = datetime.now().astimezone()
    events = read_events(db, now - timedelta(hours=1), now + timedelta(hours=1))
    kinds = [e.kind for e in events]
    assert kinds[0] == "sit_start"
    assert kinds[-1] == "sit_end"
    assert events[-1].data["reason"] == "quit"
    assert events[-1].data["sit_s"] >= 4 * 0.5
    stats = app.cli("stats", "--json", "--days", "1")
    assert stats.returncode == 0, stats.stderr
    today = json.loads(stats.stdout)["today"]
    assert today["sits"] == 1
    assert today["sitting_s"] >= 4 * 0.5
    assert today["stand_ups"] == 0  # a quit is not a stand-up


def test_history_keep_days_forgets_old_days(desk: DesktopSession, tmp_path: object) -> None:
    app = start_app(desk, config="history_keep_days = 30\n", ready=False)
    db = app.home / "data" / "psoas-break" / "history.sqlite3"
    app.stop()
    # Seed: one event 400 days ago, one yesterday; then start the app with retention on.
    store = SqliteHistory(db)
    now = datetime.now().astimezone()
    store.record(RecordEvent("sit_start", now - timedelta(days=400), 1.0, {}))
    store.record(RecordEvent("sit_start", now - timedelta(days=1), 2.0, {}))
    store.close()
    assert count_events(db) == 2
    again = start_app(desk, config="history_keep_days = 30\n", home=app.home)
    try:
        def old_gone() -> bool:
            events = read_events(db, now - timedelta(days=800), now + timedelta(days=1))
            return all(e.wall > now - timedelta(days=31) for e in events) and len(events) >= 1

        wait_for(old_gone, 10, what="events older than 30 days removed")
    finally:
        again.stop()
