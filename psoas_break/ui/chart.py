"""The statistics chart, drawn with Pillow: sitting per day and today's timeline.

`render_chart(days, today)` returns a PIL image (default 1000x640):

- top panel: one stacked bar per day, sitting time split by bout length (<= 30 min, 30-60 min,
  > 60 min, colours in the legend), hours on the y axis; above each bar a green marker with
  the number of breaks taken that day;
- bottom panel: today's timeline (sits coloured by bout length, breaks, away spans, pauses,
  and prompts as marks coloured by the answer), hours of the day on the x axis.

An empty history gives the same frame with a clear message instead of bars. Two themes:
"light" and "dark". Text is plain ASCII so every font Pillow can find draws it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, time
from functools import lru_cache
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from psoas_break.core.stats import Summary, Timeline

DEFAULT_SIZE = (1000, 640)
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
BUCKET_LABELS = ("sits up to 30 min", "30-60 min", "over 60 min")

FontT = ImageFont.FreeTypeFont | ImageFont.ImageFont


@dataclass(frozen=True)
class Theme:
    """Colours of one theme (RGB)."""

    background: tuple[int, int, int]
    text: tuple[int, int, int]
    muted: tuple[int, int, int]
    grid: tuple[int, int, int]
    buckets: tuple[tuple[int, int, int], tuple[int, int, int], tuple[int, int, int]]
    taken: tuple[int, int, int]
    away: tuple[int, int, int]
    pause: tuple[int, int, int]
    snoozed: tuple[int, int, int]
    skipped: tuple[int, int, int]
    ignored: tuple[int, int, int]


# Bucket colours: Tableau 10 blue / orange / red, told apart with common colour blindness too
# because their lightness differs. No mark uses a neutral grey: anti-aliased text is made of
# those, and a mark must not be mistaken for text (the tests count pixels by colour).
THEMES: dict[str, Theme] = {
    "light": Theme(
        background=(255, 255, 255), text=(33, 33, 33), muted=(110, 110, 110), grid=(226, 226, 226),
        buckets=((78, 121, 167), (242, 142, 43), (200, 55, 60)),
        taken=(46, 140, 60), away=(160, 205, 150), pause=(172, 180, 200),
        snoozed=(242, 142, 43), skipped=(200, 55, 60), ignored=(120, 30, 30)),
    "dark": Theme(
        background=(32, 33, 36), text=(232, 232, 232), muted=(165, 165, 165), grid=(62, 64, 68),
        buckets=((110, 160, 215), (245, 160, 70), (235, 90, 90)),
        taken=(95, 200, 110), away=(60, 110, 70), pause=(96, 104, 128),
        snoozed=(245, 160, 70), skipped=(235, 90, 90), ignored=(255, 150, 150)),
}


@lru_cache(maxsize=16)
def font(size: int) -> FontT:
    """A scalable font of `size` px: DejaVu Sans or Arial if installed, else Pillow's own
    (scalable from Pillow 10.1; older ones only have a tiny bitmap font, the last resort)."""
    for name in ("DejaVuSans.ttf", "Arial.ttf", "arial.ttf", "Helvetica.ttc"):
        try:
            return ImageFont.truetype(name, size)
        except OSError:
            continue
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow < 10.1
        return ImageFont.load_default()


def _fmt_h(seconds: float) -> str:
    minutes = int(round(seconds / 60.0))
    return f"{minutes // 60}h{minutes % 60:02d}" if minutes >= 60 else f"{minutes} min"


def _nice_step_h(max_h: float) -> float:
    for step in (0.5, 1.0, 2.0, 3.0, 4.0, 6.0):
        if max_h / step <= 6:
            return step
    return 12.0


def render_chart(days: Sequence[Summary], today: Timeline | None = None, *, theme: str = "light",
                 size: tuple[int, int] = DEFAULT_SIZE, title: str | None = None,
                 empty_message: str = "No sitting recorded yet") -> Image.Image:
    """Draw the chart for `days` (one Summary per day, oldest first) and today's timeline;
    with no sitting and an empty (or no) timeline, the frame shows `empty_message` instead."""
    th = THEMES.get(theme, THEMES["light"])
    width, height = size
    img = Image.new("RGB", size, th.background)
    draw = ImageDraw.Draw(img)
    scale = min(width / 1000.0, height / 640.0)
    f_title, f_text, f_small = (font(round(22 * scale)), font(round(15 * scale)),
                                font(round(13 * scale)))
    pad = round(24 * scale)

    if title is None and len(days) > 1:
        title = f"Sitting, {days[0].first_day.isoformat()} to {days[-1].last_day.isoformat()}"
    elif title is None:
        title = f"Sitting on {days[0].first_day.isoformat()}" if days else "Sitting"
    draw.text((pad, pad), title, font=f_title, fill=th.text)
    total_s = sum(d.sitting_s for d in days)
    empty = not days or (total_s <= 0 and (today is None or today.empty))
    if not empty:
        taken = sum(d.breaks_taken for d in days)
        longest = max(d.longest_sit_s for d in days)
        summary = f"total {_fmt_h(total_s)}   longest sit {_fmt_h(longest)}   breaks taken {taken}"
        draw.text((width - pad - draw.textlength(summary, font=f_text), pad + round(5 * scale)),
                  summary, font=f_text, fill=th.muted)

    if empty:
        message = empty_message
        sub = "psoas-break records your sits while it runs. Come back after a day of use."
        f_big = font(round(26 * scale))
        mw = draw.textlength(message, font=f_big)
        draw.text(((width - mw) / 2, height / 2 - 30 * scale), message, font=f_big, fill=th.text)
        sw = draw.textlength(sub, font=f_text)
        draw.text(((width - sw) / 2, height / 2 + 10 * scale), sub, font=f_text, fill=th.muted)
        return img

    lay = chart_layout(size, len(days), today is not None)
    x: float = pad
    for colour, label in zip(th.buckets, BUCKET_LABELS, strict=True):
        x = _swatch(draw, x, lay.legend_y, colour, label, f_small, th, scale)
    _swatch(draw, x, lay.legend_y, th.taken, "breaks taken (number)", f_small, th, scale,
            kind="dot")
    _draw_bars(draw, th, days, lay, f_small, scale)
    if today is not None:
        _draw_timeline(draw, th, today, pad, lay.timeline_top, width - pad, height - pad,
                       f_small, f_text, scale)
    return img


@dataclass(frozen=True)
class Layout:
    """Where things go (pixels), shared by the drawing code and the tests that read pixels."""

    scale: float
    left: float
    legend_y: float
    axis_x: float      # the bars' y axis
    right: float
    plot_top: float    # top of the bar area (the tallest bar reaches it)
    bars_bottom: float  # the bars' baseline
    slot: float        # horizontal room per day
    bar_w: float
    timeline_top: float

    def bar_center(self, i: int) -> float:
        return self.axis_x + self.slot * (i + 0.5)


def chart_layout(size: tuple[int, int], n_days: int, with_timeline: bool) -> Layout:
    """The layout of a chart of `size` with `n_days` bars (and the timeline or not)."""
    width, height = size
    scale = min(width / 1000.0, height / 640.0)
    pad = round(24 * scale)
    legend_y = pad + round(44 * scale)
    bars_top = legend_y + round(36 * scale)
    bars_bottom = round(height * (0.53 if with_timeline else 0.86))
    axis_x = pad + round(46 * scale)
    right = width - pad
    slot = (right - axis_x) / max(1, n_days)
    return Layout(scale=scale, left=pad, legend_y=legend_y, axis_x=axis_x, right=right,
                  plot_top=bars_top + round(22 * scale),  # room for the break markers above bars
                  bars_bottom=bars_bottom, slot=slot, bar_w=max(1.0, min(slot * 0.62, 60 * scale)),
                  timeline_top=bars_bottom + round(62 * scale))


def scale_top_h(days: Sequence[Summary]) -> float:
    """The hours at the top of the bar area: a round number above the most sitting."""
    max_h = max(1.0, max((d.sitting_s for d in days), default=0.0) / 3600.0)
    step = _nice_step_h(max_h)
    return step * int(-(-max_h // step))


def _swatch(draw: ImageDraw.ImageDraw, x: float, y: float, colour: tuple[int, int, int],
            label: str, f: FontT, th: Theme, scale: float, kind: str = "box") -> float:
    s = round(12 * scale)
    if kind == "dot":
        draw.ellipse((x, y + 1, x + s, y + s + 1), fill=colour)
    elif kind == "tick":
        draw.rectangle((x + s / 2 - 1.5 * scale, y - 1, x + s / 2 + 1.5 * scale, y + s + 2),
                       fill=colour)
    else:
        draw.rectangle((x, y + 1, x + s, y + s + 1), fill=colour)
    draw.text((x + s + 6 * scale, y - 1), label, font=f, fill=th.text)
    return x + s + 6 * scale + draw.textlength(label, font=f) + 18 * scale


def _draw_bars(draw: ImageDraw.ImageDraw, th: Theme, days: Sequence[Summary], lay: Layout,
                f: FontT, scale: float) -> None:
    x0, right, plot_top, bottom = lay.axis_x, lay.right, lay.plot_top, lay.bars_bottom
    top_h = scale_top_h(days)
    step = _nice_step_h(top_h)
    span = bottom - plot_top

    def y_of(hours: float) -> float:
        return bottom - span * hours / top_h

    h = 0.0
    while h <= top_h + 1e-9:
        y = y_of(h)
        draw.line((x0, y, right, y), fill=th.grid, width=1)
        label = f"{h:g}h"
        draw.text((x0 - 8 * scale - draw.textlength(label, font=f), y - 8 * scale), label, font=f,
                  fill=th.muted)
        h += step
    draw.line((x0, plot_top, x0, bottom), fill=th.muted, width=1)
    draw.line((x0, bottom, right, bottom), fill=th.muted, width=1)

    n = len(days)
    slot, bar_w = lay.slot, lay.bar_w
    last_label_x = -1e9
    for i, d in enumerate(days):
        cx = lay.bar_center(i)
        y = bottom
        for colour, part_s in zip(th.buckets, d.sitting_by_bucket_s, strict=True):
            if part_s <= 0:
                continue
            y_top = y - span * (part_s / 3600.0) / top_h
            # Bars narrower than a pixel (years of days) still show as one pixel column.
            draw.rectangle((cx - bar_w / 2, y_top, max(cx + bar_w / 2, cx - bar_w / 2 + 1), y),
                           fill=colour)
            y = y_top
        if d.breaks_taken > 0 and slot >= 6:
            r = max(2.5, min(9 * scale, slot * 0.3))
            my = y - r - 4 * scale
            draw.ellipse((cx - r, my - r, cx + r, my + r), fill=th.taken)
            if n <= 31:
                label = str(d.breaks_taken)
                draw.text((cx + r + 2 * scale, my - 8 * scale), label, font=f, fill=th.taken)
        label = (f"{WEEKDAYS[d.first_day.weekday()]} {d.first_day.day}" if n <= 14
                 else str(d.first_day.day))
        if n > 62:  # months: label where one starts, if there is room
            if d.first_day.day != 1 and i != 0:
                continue
            label = d.first_day.strftime("%Y-%m")
        elif n > 14 and i % max(1, -(-n // 31)) != 0 and i != n - 1:
            continue
        w = draw.textlength(label, font=f)
        if cx - w / 2 < last_label_x + 8 * scale:
            continue
        draw.text((cx - w / 2, bottom + 6 * scale), label, font=f, fill=th.text)
        last_label_x = cx + w / 2
    if n > 14:
        caption = "month" if n > 62 else "day of month"
        draw.text((right - draw.textlength(caption, font=f), bottom + 24 * scale), caption, font=f,
                  fill=th.muted)
    draw.text((lay.left, plot_top - 22 * scale), "hours sitting", font=f, fill=th.muted)


def _draw_timeline(draw: ImageDraw.ImageDraw, th: Theme, tl: Timeline, left: float,
                   top: float, right: float, bottom: float, f: FontT, f_head: FontT,
                   scale: float) -> None:
    draw.text((left, top - 28 * scale), f"Today ({tl.day.isoformat()})", font=f_head,
              fill=th.text)
    # The hour range covers what you did (sits, breaks, pauses, prompts); an away span (a night,
    # a lunch) only shows where it overlaps that range.
    times: list[datetime] = [b.start for b in tl.sits] + [b.end for b in tl.sits]
    times += [t for iv in tl.intervals if iv.kind != "away" for t in (iv.start, iv.end)]
    times += [p.at for p in tl.prompts]
    if not times:
        times = [t for iv in tl.intervals for t in (iv.start, iv.end)]
    tz = times[0].tzinfo if times else None
    midnight = datetime.combine(tl.day, time(0), tzinfo=tz)

    def hour_of(t: datetime) -> float:
        return (t - midnight).total_seconds() / 3600.0

    lo_h, hi_h = 8.0, 18.0
    if times:
        lo_h = min(lo_h, float(int(min(hour_of(t) for t in times))))
        hi_h = max(hi_h, float(-int(-max(hour_of(t) for t in times) // 1)))
    lo_h, hi_h = max(0.0, lo_h), min(24.0, hi_h)
    axis_w = round(46 * scale)
    x0 = left + axis_w
    row_h = (bottom - top - 30 * scale) / 2

    def x_of(t: datetime) -> float:
        h = min(max(hour_of(t), lo_h), hi_h)
        return x0 + (right - x0) * (h - lo_h) / (hi_h - lo_h)

    sit_y0, sit_y1 = top, top + row_h * 0.9
    mark_y0, mark_y1 = top + row_h * 1.1, top + row_h * 1.9
    draw.text((left, sit_y0 + row_h * 0.3), "sits", font=f, fill=th.muted)
    draw.text((left, mark_y0 + row_h * 0.3), "prompts", font=f, fill=th.muted)
    step = 1 if hi_h - lo_h <= 12 else 2
    h = int(lo_h)
    while h <= hi_h:
        x = x0 + (right - x0) * (h - lo_h) / (hi_h - lo_h)
        draw.line((x, top, x, mark_y1), fill=th.grid, width=1)
        label = f"{h:02d}:00"
        draw.text((x - draw.textlength(label, font=f) / 2, mark_y1 + 4 * scale), label, font=f,
                  fill=th.muted)
        h += step

    def span(start: datetime, end: datetime, inset: float, colour: tuple[int, int, int]) -> None:
        """A bar on the sits row, `inset` of the row height thinner at top and bottom."""
        draw.rectangle((x_of(start), sit_y0 + row_h * inset, max(x_of(end), x_of(start) + 1),
                        sit_y1 - row_h * inset), fill=colour)

    colours = {"break": th.taken, "away": th.away}
    for iv in tl.intervals:
        if iv.kind in colours:
            span(iv.start, iv.end, 0.25, colours[iv.kind])
    for b in tl.sits:
        span(b.start, b.end, 0.0, th.buckets[b.bucket])
    # A pause sits inside a bout (sitting is not counted while paused): drawn over it.
    for iv in tl.intervals:
        if iv.kind == "pause":
            span(iv.start, iv.end, 0.15, th.pause)
    answer = {"taken": th.taken, "taken_idle": th.taken, "snoozed": th.snoozed,
              "skipped": th.skipped, "ignored": th.ignored}
    for p in tl.prompts:
        x = x_of(p.at)
        colour = answer.get(p.response or "", th.muted)
        if p.kind == "posture":
            draw.line((x, mark_y0 + row_h * 0.45, x, mark_y1), fill=th.muted, width=1)
        else:
            draw.rectangle((x - 1.5 * scale, mark_y0, x + 1.5 * scale, mark_y1), fill=colour)
    # The timeline's own legend, under the hour labels.
    lx, ly = x0, mark_y1 + 24 * scale
    for colour, label, kind in (
            (th.taken, "break / prompt taken", "box"), (th.away, "away (natural break)", "box"),
            (th.pause, "paused", "box"), (th.snoozed, "snoozed", "tick"),
            (th.skipped, "skipped", "tick"), (th.ignored, "ignored", "tick"),
            (th.muted, "posture / unanswered", "tick")):
        lx = _swatch(draw, lx, ly, colour, label, f, th, scale, kind=kind)


def save_chart(path: Path, days: Sequence[Summary], today: Timeline | None = None, *,
               theme: str = "light", size: tuple[int, int] = DEFAULT_SIZE,
               empty_message: str = "No sitting recorded yet") -> Path:
    """Render and write a PNG to `path` (folders created); returns the path."""
    img = render_chart(days, today, theme=theme, size=size, empty_message=empty_message)
    path.parent.mkdir(parents=True, exist_ok=True)
    img.save(path, format="PNG", optimize=False)
    return path
