"""The week report: the figures and the chart `psoas-break stats` and the tray's "This week"
show, read from the history file (one place, so both show the same)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from psoas_break.adapters.history.sqlite_history import count_events, read_events
from psoas_break.core import stats
from psoas_break.core.events import RecordEvent
from psoas_break.core.stats import Bout, PromptRecord, Summary, Timeline


@dataclass(frozen=True)
class Report:
    """Everything the views need for days first..last (today is `last`)."""

    db: Path
    now: datetime
    days: list[Summary]
    total: Summary
    today: Timeline
    history_empty: bool
    events: list[RecordEvent]
    live_sit_s: float | None = None

    @property
    def bouts(self) -> list[Bout]:
        """The sit bouts that started in the report's days (the CSV's "sit" rows)."""
        first, last = self.days[0].first_day, self.days[-1].last_day
        return [b for b in stats.bouts(self.events, self.now, self.live_sit_s)
                if first <= b.start.date() <= last]

    @property
    def prompts(self) -> list[PromptRecord]:
        """The prompts shown in the report's days (the CSV's "prompt" rows)."""
        first, last = self.days[0].first_day, self.days[-1].last_day
        return [p for p in stats.prompts(self.events) if first <= p.at.date() <= last]


def load_report(db: Path, now: datetime, days: int = 7, live_sit_s: float | None = None
                ) -> Report:
    """The figures of the `days` days ending with now's day, read from the history at `db`;
    `live_sit_s` is the running engine's sitting time (the tray has it, the CLI has not).
    Raises StorageError (one line for the user) when the file cannot be read."""
    first, last = stats.day_range(now.date(), days)
    start, end = stats.query_window(first, last)
    events = read_events(db, start, end)
    summaries = stats.summarize_days(events, first, last, now, live_sit_s)
    return Report(db=db, now=now, days=summaries, total=stats.combine(summaries),
                  today=stats.timeline(events, last, now, live_sit_s, tz=now.tzinfo),
                  history_empty=not events and count_events(db) == 0, events=events,
                  live_sit_s=live_sit_s)


def write_chart(path: Path, report: Report, theme: str = "light") -> Path:
    """Write the report's chart (the tray's "This week" uses this too)."""
    from psoas_break.ui.chart import save_chart

    message = "No sitting recorded yet" if report.history_empty else (
        f"No sitting recorded from {report.days[0].first_day.isoformat()} "
        f"to {report.days[-1].last_day.isoformat()}")
    return save_chart(path, report.days, report.today, theme=theme, empty_message=message)
