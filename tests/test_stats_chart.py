"""The Pillow chart: real PNGs, checked pixel by pixel where the bars and marks must be."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
from PIL import Image

from psoas_break.adapters.history import read_events
from psoas_break.core import stats
from psoas_break.core.stats import Summary
from psoas_break.ui import chart as stats_chart
from tests.test_stats import CET, Script, week_db

RGB = tuple[int, int, int]


def day(d: date, buckets: tuple[float, float, float] = (0.0, 0.0, 0.0), taken: int = 0
        ) -> Summary:
    return Summary(first_day=d, last_day=d, sitting_s=sum(buckets), sitting_by_bucket_s=buckets,
                   breaks_taken=taken, longest_sit_s=max(buckets))


def column(img: Image.Image, x: float, y0: float, y1: float) -> list[RGB]:
    px = img.load()
    assert px is not None
    return [px[round(x), y] for y in range(round(y0), round(y1))]  # type: ignore[misc]


def count(img: Image.Image, colour: RGB, box: tuple[int, int, int, int] | None = None) -> int:
    region = img.crop(box) if box else img
    return sum(n for n, c in region.getcolors(maxcolors=1 << 24) or [] if c == colour)


WEEK_START = date(2026, 3, 2)
H = 3600.0
DAYS = [
    day(WEEK_START, (1800.0, 2700.0, 5400.0), taken=3),   # Mon: all three buckets
    day(WEEK_START + timedelta(1), (3600.0, 0.0, 0.0), taken=5),
    day(WEEK_START + timedelta(2)),                        # Wed: nothing
    day(WEEK_START + timedelta(3), (0.0, 0.0, 4 * H), taken=0),
    day(WEEK_START + timedelta(4), (900.0, 0.0, 0.0), taken=1),
    day(WEEK_START + timedelta(5)),
    day(WEEK_START + timedelta(6), (1200.0, 3000.0, 0.0), taken=2),
]


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_bars_are_where_the_sitting_is(theme: str) -> None:
    th = stats_chart.THEMES[theme]
    img = stats_chart.render_chart(DAYS, None, theme=theme)
    assert img.size == (1000, 640) and img.mode == "RGB"
    assert img.getpixel((2, 2)) == th.background
    lay = stats_chart.chart_layout(img.size, len(DAYS), with_timeline=False)
    top_h = stats_chart.scale_top_h(DAYS)
    assert top_h == 4.0  # Thursday's 4 h is the most
    span = lay.bars_bottom - lay.plot_top
    for i, d in enumerate(DAYS):
        col = column(img, lay.bar_center(i), lay.plot_top - 40 * lay.scale, lay.bars_bottom)
        for colour, part_s in zip(th.buckets, d.sitting_by_bucket_s, strict=True):
            expected_px = span * (part_s / 3600.0) / top_h
            assert abs(col.count(colour) - expected_px) <= 2, (i, colour)
        if d.sitting_s == 0:
            assert not set(col) & set(th.buckets)
        else:
            # Stacked from the shortest bouts up: the pixel on the baseline has the colour of
            # the first non-empty bucket.
            first = next(c for c, s in zip(th.buckets, d.sitting_by_bucket_s, strict=True) if s)
            assert column(img, lay.bar_center(i), lay.bars_bottom - 2, lay.bars_bottom)[0] == first
        # The green marker sits above the bars of days with breaks taken, and only there.
        assert (th.taken in col) == (d.breaks_taken > 0), i


def test_timeline_draws_sits_pauses_and_prompts() -> None:
    s = Script(day=date(2026, 3, 8))
    s.ev("09:00", "sit_start")
    s.ev("09:30", "prompt", prompt_kind="stretch", prompt_id=1, escalation=0)
    s.ev("09:30", "response", prompt_kind="stretch", prompt_id=1, response="snoozed")
    s.ev("09:50", "pause", pause_s=1800.0, until="x")
    s.ev("10:20", "resume", reason="expired")
    s.ev("11:30", "sit_end", reason="break", sit_s=2 * H)  # 150 min span - 30 min paused
    s.ev("11:30", "break_start", planned_s=300.0, prompted=False)
    s.ev("11:35", "break_end", break_s=300.0, completed=True)
    s.ev("11:35", "sit_start")
    now = s.at("12:00")
    days = stats.summarize_days(s.events, *stats.day_range(s.day, 7), now=now)
    tl = stats.timeline(s.events, s.day, now, tz=CET)
    th = stats_chart.THEMES["light"]
    img = stats_chart.render_chart(days, tl)
    lay = stats_chart.chart_layout(img.size, 7, with_timeline=True)
    band = (0, round(lay.timeline_top), 1000, 640)
    assert count(img, th.buckets[2], band) > 1000   # the 2-hour sit
    assert count(img, th.buckets[0], band) > 100    # the 25-min sit still running
    assert count(img, th.pause, band) > 100
    assert count(img, th.taken, band) > 20          # the break (and the legend swatch)
    assert count(img, th.snoozed, band) > 20        # the snoozed prompt's mark
    # Today's bar in the top panel: 2 h (> 60 min bucket) + 25 min (<= 30 min bucket).
    col = column(img, lay.bar_center(6), lay.plot_top, lay.bars_bottom)
    assert col.count(th.buckets[2]) > 0 and col.count(th.buckets[0]) > 0


def test_empty_history_is_a_blank_chart_with_a_message(tmp_path: Path) -> None:
    days = [day(WEEK_START + timedelta(i)) for i in range(7)]
    empty_tl = stats.timeline([], WEEK_START + timedelta(6))
    for theme, th in stats_chart.THEMES.items():
        path = stats_chart.save_chart(tmp_path / f"empty-{theme}.png", days, empty_tl,
                                      theme=theme, empty_message="No sitting recorded yet")
        img = Image.open(path).convert("RGB")
        assert img.size == (1000, 640)
        for colour in (*th.buckets, th.taken, th.pause, th.away):
            assert count(img, colour) == 0, colour
        w, h = img.size
        # Text in the middle (the message) ...
        middle = img.crop((0, h // 2 - 60, w, h // 2 + 40))
        assert sum(n for n, c in middle.getcolors(1 << 24) or [] if c != th.background) > 300
        # ... and nothing else below the title.
        for box in ((0, 90, w, h // 2 - 60), (0, h // 2 + 40, w, h)):
            assert img.crop(box).getcolors(1 << 24) == [(
                (box[2] - box[0]) * (box[3] - box[1]), th.background)], box


def test_other_sizes_scale_and_many_days_still_show_every_bar() -> None:
    days = [day(WEEK_START + timedelta(i), (0.0, 0.0, 2 * H) if i % 3 == 0 else (0.0,) * 3)
            for i in range(365)]
    img = stats_chart.render_chart(days, None, size=(1600, 1000))
    assert img.size == (1600, 1000)
    lay = stats_chart.chart_layout(img.size, 365, with_timeline=False)
    th = stats_chart.THEMES["light"]
    hit = [th.buckets[2] in column(img, lay.bar_center(i), lay.plot_top, lay.bars_bottom)
           for i in range(365)]
    assert sum(hit) >= 120  # 122 days with sitting; a neighbour may share a pixel column
    assert all(hit[i] for i in range(0, 365, 3))


def test_font_is_scalable() -> None:
    small, big = stats_chart.font(12), stats_chart.font(24)
    assert big.getbbox("Mon 12")[2] > 1.5 * small.getbbox("Mon 12")[2]


def test_chart_of_the_engine_week(tmp_path: Path) -> None:
    db, driver, _ = week_db(tmp_path)
    now = driver.wall
    first, last = stats.day_range(now.date(), 7)
    events = read_events(db, *stats.query_window(first, last))
    live = driver.status.sitting_s
    days = stats.summarize_days(events, first, last, now, live)
    tl = stats.timeline(events, last, now, live, tz=now.tzinfo)
    out = stats_chart.save_chart(tmp_path / "week.png", days, tl, theme="dark")
    img = Image.open(out).convert("RGB")
    th = stats_chart.THEMES["dark"]
    lay = stats_chart.chart_layout(img.size, 7, with_timeline=True)
    with_sitting = [any(c in th.buckets for c in column(img, lay.bar_center(i), lay.plot_top,
                                                        lay.bars_bottom)) for i in range(7)]
    # Mon-Thu and Sun sat; Fri and Sat did not.
    assert with_sitting == [True, True, True, True, False, False, True]
    assert datetime.fromisoformat("2026-03-29T03:50:00+02:00") == now
