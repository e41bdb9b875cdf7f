"""Benchmark: ten years of history, then the 7-day stats and the chart.

    .venv/bin/python bench/stats_bench.py [--years 10] [--runs 15] [--keep FILE]

Fills a temporary SQLite file through the real store (SqliteHistory) with synthetic but
realistic working days (sits of 5-120 min, posture and stretch prompts, ignored and snoozed
prompts, breaks, idle/lock natural breaks, lunch; weekends mostly empty), then times (median
of --runs):

- the floors: `SELECT count(*)` over the whole table, and reading the 7 days of rows
  (the same range query the report does, without computing anything);
- `load_report(db, now, 7)`: read + bouts + per-day figures + today's timeline (the CLI's
  `psoas-break stats`, the tray's "This week"); also 30 and 365 days for comparison;
- the chart: render + PNG encode of the 7-day chart with today's timeline, and its floor
  (a blank image of the same size encoded to PNG);
- the store opening the big file (quick_check + migrations) once, as the app does at start.

Targets: 7-day report < 50 ms, chart < 300 ms. Timings are printed, never asserted.
"""

from __future__ import annotations

import argparse
import io
import json
import random
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from PIL import Image  # noqa: E402

from psoas_break.adapters.history.sqlite_history import (  # noqa: E402
    SqliteHistory,
    open_for_writing,
)
from psoas_break.cli import stats as cli_stats
from psoas_break.core import stats  # noqa: E402
from psoas_break.core.events import RecordEvent  # noqa: E402
from psoas_break.ui import chart as stats_chart  # noqa: E402

TZ = ZoneInfo("Europe/Berlin")


def working_day(rng: random.Random, day: date, mono0: float) -> Iterator[RecordEvent]:
    """One day of events as the engine would record them (times advance in real seconds)."""
    weekend = day.weekday() >= 5
    if (weekend and rng.random() < 0.8) or (not weekend and rng.random() < 0.06):
        return  # a day off
    start = datetime(day.year, day.month, day.day, 8, 0, tzinfo=TZ) + timedelta(
        minutes=rng.randint(0, 90))
    length_s = (rng.uniform(1.5, 4) if weekend else rng.uniform(7.5, 9.5)) * 3600
    t0 = start.timestamp()
    t = 0.0
    prompt_id = 0
    lunch_done = weekend

    def at(sec: float) -> datetime:
        return datetime.fromtimestamp(t0 + sec, TZ)

    def e(kind: str, sec: float, **data: object) -> RecordEvent:
        return RecordEvent(kind, at(sec), mono0 + sec, dict(data))

    while t < length_s:
        yield e("sit_start", t)
        sit_s = min(rng.lognormvariate(3.75, 0.5) * 60, 150 * 60)  # median ~42 min
        # Posture prompts every 5 min of sitting (the busiest setting: the most events).
        for k in range(1, int(sit_s // 300) + 1):
            prompt_id += 1
            yield e("prompt", t + k * 300, prompt_kind="posture", prompt_id=prompt_id,
                    escalation=0)
        # Stretch prompts from minute 30, repeated every 5 min until the sit ends.
        esc = 0
        s = 1800.0
        last_id = None
        while s <= sit_s:
            if last_id is not None:
                answer = "snoozed" if rng.random() < 0.2 else "ignored"
                yield e("response", t + s, prompt_kind="stretch", prompt_id=last_id,
                        response=answer)
            prompt_id += 1
            last_id = prompt_id
            yield e("prompt", t + s, prompt_kind="stretch", prompt_id=prompt_id, escalation=esc)
            esc += 1
            s += 300
        end = t + sit_s
        if not lunch_done and at(end).hour >= 12:
            lunch_done = True
            yield e("natural_break", end + 300, source="idle", away_s=300.0)
            yield e("sit_end", end + 300, reason="natural", sit_s=sit_s)
            t = end + rng.uniform(35, 60) * 60
            continue
        r = rng.random()
        if r < 0.15:
            source = "lock" if rng.random() < 0.5 else "idle"
            yield e("natural_break", end + 300, source=source, away_s=300.0)
            yield e("sit_end", end + 300, reason="natural", sit_s=sit_s)
            t = end + rng.uniform(6, 25) * 60
            continue
        if last_id is not None:
            yield e("response", end, prompt_kind="stretch", prompt_id=last_id, response="taken")
        yield e("sit_end", end, reason="break", sit_s=sit_s)
        yield e("break_start", end, planned_s=120.0, prompted=last_id is not None)
        brk = rng.uniform(60, 400)
        yield e("break_end", end + brk, break_s=brk, completed=brk >= 120)
        t = end + brk
    # The laptop is suspended for the night: the next day's first tick ends this sit.


def timed(fn: Callable[[], object], runs: int) -> float:
    """Median wall time of `fn` in milliseconds (one warm-up call first)."""
    fn()
    samples = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - t) * 1000)
    return statistics.median(samples)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--years", type=int, default=10)
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--keep", metavar="FILE", help="write the database here and keep it")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args(argv)

    tmp = tempfile.TemporaryDirectory()
    db = Path(args.keep) if args.keep else Path(tmp.name) / "history.sqlite3"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    last_day = date(2026, 3, 27)  # a Friday
    first_day = last_day - timedelta(days=round(365.25 * args.years))
    rng = random.Random(2026)

    t = time.perf_counter()
    history = SqliteHistory(db, flush_interval_s=1.0, batch_max=5000)
    n = 0
    mono = 0.0
    d = first_day
    while d <= last_day:
        for ev in working_day(rng, d, mono):
            history.record(ev)
            n += 1
        mono += 86400
        d += timedelta(days=1)
        if n % 50_000 < 400:
            time.sleep(0)  # let the writer keep up
    history.close(timeout_s=600)
    fill_s = time.perf_counter() - t
    days = (last_day - first_day).days + 1
    size_mb = db.stat().st_size / 1e6
    print(f"filled {n} events over {days} days ({n / days:.0f}/day on average, "
          f"{n / (days * 5 / 7 * 0.94):.0f} per working day) in {fill_s:.1f} s; "
          f"file {size_mb:.0f} MB", file=sys.stderr if args.json else sys.stdout)

    now = datetime(last_day.year, last_day.month, last_day.day, 16, 30, tzinfo=TZ)
    first7, last7 = stats.day_range(now.date(), 7)

    def count_all() -> int:
        conn = sqlite3.connect(db)
        try:
            return int(conn.execute("SELECT count(*) FROM events").fetchone()[0])
        finally:
            conn.close()

    def read_raw(n_days: int) -> Callable[[], int]:
        """The report's own range query for n_days, rows fetched, nothing computed."""
        lo, hi = stats.query_window(*stats.day_range(now.date(), n_days))

        def read() -> int:
            conn = sqlite3.connect(db)
            try:
                return len(conn.execute(
                    "SELECT t_utc_s, utc_offset_s, mono_s, kind, data FROM events "
                    "WHERE t_utc_s >= ? AND t_utc_s < ? ORDER BY id",
                    (lo.timestamp(), hi.timestamp())).fetchall())
            finally:
                conn.close()
        return read

    read_7_days_raw = read_raw(7)

    assert count_all() == n
    rows7 = read_7_days_raw()
    report = cli_stats.load_report(db, now, 7)

    def chart() -> None:
        buf = io.BytesIO()
        stats_chart.render_chart(report.days, report.today).save(buf, format="PNG")

    def blank_png() -> None:
        buf = io.BytesIO()
        Image.new("RGB", stats_chart.DEFAULT_SIZE, (255, 255, 255)).save(buf, format="PNG")

    def reopen() -> None:
        conn, _moved = open_for_writing(db)
        conn.close()

    runs = args.runs
    floor_count = timed(count_all, runs)
    floor_read = timed(read_7_days_raw, runs)
    q7 = timed(lambda: cli_stats.load_report(db, now, 7), runs)
    floor_30 = timed(read_raw(30), max(3, runs // 3))
    q30 = timed(lambda: cli_stats.load_report(db, now, 30), max(3, runs // 3))
    floor_365 = timed(read_raw(365), max(3, runs // 5))
    q365 = timed(lambda: cli_stats.load_report(db, now, 365), max(3, runs // 5))
    c = timed(chart, max(5, runs // 2))
    floor_png = timed(blank_png, max(5, runs // 2))
    open_ms = timed(reopen, 3)

    if args.json:
        print(json.dumps({
            "events": n, "floor_read_7d_ms": floor_read, "stats_7d_ms": q7,
            "floor_png_ms": floor_png, "chart_ms": c, "floor_count_ms": floor_count,
            "stats_30d_ms": q30, "stats_365d_ms": q365, "store_open_ms": open_ms,
        }))
        tmp.cleanup()
        return 0
    print(f"7-day window: {rows7} rows read ({first7} .. {last7} plus one day of lookback)")
    print(f"{'measure':44s} {'median ms':>10s} {'x floor':>8s} {'target':>8s}")
    lines = [
        ("floor: SELECT count(*) over all rows", floor_count, None, None),
        ("floor: read the 7 days of rows, no maths", floor_read, None, None),
        ("stats, 7 days (load_report)", q7, q7 / floor_read, "< 50"),
        ("floor: read the 30 days of rows", floor_30, None, None),
        ("stats, 30 days", q30, q30 / floor_30, ""),
        ("floor: read the 365 days of rows", floor_365, None, None),
        ("stats, 365 days", q365, q365 / floor_365, ""),
        ("floor: blank 1000x640 PNG encode", floor_png, None, None),
        ("chart, 7 days + today (render + PNG)", c, c / floor_png, "< 300"),
        ("store open: quick_check + migrate", open_ms, None, None),
    ]
    for name, ms, ratio, target in lines:
        r = f"{ratio:8.1f}" if ratio is not None else f"{'':8s}"
        print(f"{name:44s} {ms:10.2f} {r} {target or '':>8s}")
    ok = q7 < 50 and c < 300
    print("targets met" if ok else "TARGETS MISSED")
    tmp.cleanup()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
