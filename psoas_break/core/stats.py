"""Statistics from the history's events: sit bouts, per-day figures, one day's timeline.

Pure (stdlib only, no clock): every function takes the events (`RecordEvent`s in the order
they were recorded, see core/events.py for kinds and data keys) and, where it matters, `now`.

Definitions (README "Statistics" repeats them for users):

- A *sit bout* runs from `sit_start` to the following `sit_end`. Its length is the engine's
  own `sit_s`, except that it is never longer than the bout's span on the engine's monotonic
  clock, minus paused time, minus the `away_s` of the natural break that ended it. (The engine
  keeps counting sitting while you are idle or locked until it knows it was a natural break;
  the span rule takes that back out, and changes nothing when sitting was not counted.)
  A bout ended by a natural break ends on the wall clock `away_s` before its `sit_end`.
- A `sit_end` with no `sit_start` before it (history cut off, or sitting resumed after a pause
  without a new `sit_start`) is a bout of `sit_s` that ended there.
- A bout still open when a new `sit_start` arrives (the app was quit or crashed) ends at the
  last event recorded in it; its end reason is "unknown" and it is not a stand-up.
- The bout still open at the end of the data is counted up to `now`: as `live_sit_s` long when
  the runtime passes the engine's live sitting time, else by the wall clock (minus pauses) but
  never more than `max_silence_s` past the last event recorded in it, so a sit left open by a
  quit app does not grow for days.
- Bouts shorter than one second (a break taken right after another) are ignored.
- Local day: each event's own wall time (its recorded UTC offset). A bout that spans midnight
  is *split*: each day gets the part of the sitting that falls in it (in proportion to the
  wall-clock span). Counts about the whole bout (sits, longest sit, sits > 30 and > 60 min,
  stand-ups) go to the day the bout *started*, so one bout is never counted twice.
- Stand-ups: bouts that ended with a break or a natural break. Stand-ups per hour =
  stand-ups / hours of sitting on that day (None when there was no sitting): how often sitting
  was interrupted, independent of how long the tracked day was.
- Buckets: a bout's sitting goes to "<= 30 min", "30-60 min" or "> 60 min" by its full
  length; "> 30 min" means strictly longer than 30:00.
- Breaks taken: `break_start` events (on a prompt or "I'm up") plus `taken_idle` responses
  (the prompt was answered by getting up without clicking), as the engine's own day counters
  do. Snoozed / skipped / ignored: `response` events. Prompts shown: `prompt` events, each
  showing (a repeated stretch prompt counts again), by kind. Natural breaks by `source`.
  These are attributed to the local day of the event itself.
- Driving seen by GPS (driver profile with a location source): from each `road` event saying
  "driving" (taken back over its `held_s`) to the next `road` event (taken back the same way:
  when the vehicle stood, or the fix was lost), split by day like a sit. Still driving at the
  end of the data: up to `now`, never more than `max_silence_s` past the last event.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta, timezone, tzinfo
from typing import Any

from psoas_break.core.events import RecordEvent

THIRTY_MIN_S = 30 * 60.0
SIXTY_MIN_S = 60 * 60.0
MIN_BOUT_S = 1.0
MAX_SILENCE_S = 4 * 3600.0
BUCKETS = ("<= 30 min", "30-60 min", "> 60 min")
# How far before the first day a stats query reads, to find sits already running at midnight.
LOOKBACK_S = 24 * 3600.0


# Event data larger than this is nonsense (seconds: over 30,000 years; ids: a trillion) and
# would overflow the date arithmetic it feeds: read as missing.
_MAX_DATA_NUMBER = 1e12


def _num(value: object) -> float | None:
    """A finite float from event data, None for anything else (bools are not numbers, nor are
    values beyond _MAX_DATA_NUMBER)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    try:
        f = float(value)
    except OverflowError:
        return None
    return f if abs(f) <= _MAX_DATA_NUMBER else None


def _secs(a: datetime, b: datetime) -> float:
    return (b - a).total_seconds()


@dataclass(frozen=True)
class Bout:
    """One sit bout. `end_reason`: "break", "natural", "unknown" (app quit) or "open"."""

    start: datetime
    end: datetime
    sit_s: float
    end_reason: str

    @property
    def bucket(self) -> int:
        """0: <= 30 min, 1: 30-60 min, 2: > 60 min."""
        if self.sit_s > SIXTY_MIN_S:
            return 2
        return 1 if self.sit_s > THIRTY_MIN_S else 0

    @property
    def stand_up(self) -> bool:
        return self.end_reason in ("break", "natural")


@dataclass(frozen=True)
class PromptRecord:
    """One prompt showing and the first answer to it (None: none recorded)."""

    at: datetime
    kind: str
    prompt_id: int
    escalation: int
    response: str | None = None
    response_at: datetime | None = None


@dataclass(frozen=True)
class Interval:
    """A span on the timeline: kind is "break", "away" (natural break, with `source`), "pause"."""

    kind: str
    start: datetime
    end: datetime
    source: str = ""


@dataclass
class _Pause:
    wall: datetime
    mono_s: float
    pause_s: float
    end_wall: datetime | None = None
    end_mono_s: float | None = None


@dataclass
class _OpenBout:
    start: RecordEvent
    last: RecordEvent
    pauses: list[_Pause] = field(default_factory=list)


def _paused_s(pauses: Sequence[_Pause], start: float, end: float, mono: bool) -> float:
    """Seconds of the pauses inside [start, end], on the mono or the wall axis."""
    total = 0.0
    for p in pauses:
        # An unresumed pause ends by itself after its planned length.
        if mono:
            a = p.mono_s
            b = p.end_mono_s if p.end_mono_s is not None else a + p.pause_s
        else:
            a = p.wall.timestamp()
            b = p.end_wall.timestamp() if p.end_wall is not None else a + p.pause_s
        total += max(0.0, min(b, end) - max(a, start))
    return total


def bouts(events: Sequence[RecordEvent], now: datetime | None = None,
          live_sit_s: float | None = None, max_silence_s: float = MAX_SILENCE_S) -> list[Bout]:
    """The sit bouts in `events` (see the module docstring for every rule), in order.

    now: the present, to count the bout still open at the end of the data (None: it ends at
    its last event, reason "unknown"). live_sit_s: the engine's live sitting seconds for that
    bout; with it and no open bout in the data (sitting resumed after a pause without a
    `sit_start`), a bout of that length ending at `now` is added.
    """
    out: list[Bout] = []
    cur: _OpenBout | None = None
    last_natural: RecordEvent | None = None
    pauses_open: list[_Pause] = []  # pauses seen outside or inside a bout, not yet resumed

    def add(start: datetime, end: datetime, sit_s: float, reason: str) -> None:
        if sit_s >= MIN_BOUT_S:
            out.append(Bout(start, end, sit_s, reason))

    def close_orphan(b: _OpenBout) -> None:
        mono = b.last.mono_s >= b.start.mono_s  # else not one run: trust the wall clock
        lo, hi = ((b.start.mono_s, b.last.mono_s) if mono
                  else (b.start.wall.timestamp(), b.last.wall.timestamp()))
        add(b.start.wall, b.last.wall, max(0.0, hi - lo - _paused_s(b.pauses, lo, hi, mono)),
            "unknown")

    for ev in events:
        kind = ev.kind
        if kind == "sit_start":
            if cur is not None:
                close_orphan(cur)
            # The engine never starts a sit while paused: a pause still open here belongs to
            # a run that was quit while paused.
            pauses_open = []
            cur = _OpenBout(ev, ev)
            last_natural = None
            continue
        if cur is not None:
            cur.last = ev
        if kind == "natural_break":
            last_natural = ev
        elif kind == "pause":
            p = _Pause(ev.wall, ev.mono_s, max(0.0, _num(ev.data.get("pause_s")) or 0.0))
            pauses_open.append(p)
            if cur is not None:
                cur.pauses.append(p)
        elif kind == "resume":
            for p in pauses_open:
                if p.end_wall is None:
                    p.end_wall, p.end_mono_s = ev.wall, ev.mono_s
            pauses_open = []
        elif kind == "sit_end":
            reason = str(ev.data.get("reason", "break"))
            sit_s = _num(ev.data.get("sit_s"))
            away_s = 0.0
            if reason == "natural" and last_natural is not None:
                away_s = max(0.0, _num(last_natural.data.get("away_s")) or 0.0)
            end_wall = ev.wall - timedelta(seconds=away_s)
            if cur is None:
                if sit_s is not None:
                    length = max(0.0, sit_s)
                    add(end_wall - timedelta(seconds=length), end_wall, length, reason)
            else:
                end_mono = ev.mono_s - away_s
                span = end_mono - cur.start.mono_s
                if span >= -1e-6:
                    span -= _paused_s(cur.pauses, cur.start.mono_s, end_mono, True)
                else:  # the monotonic clock went back: not one run; trust the wall clock
                    span = _secs(cur.start.wall, end_wall)
                span = max(0.0, span)
                length = span if sit_s is None else max(0.0, min(sit_s, span))
                add(cur.start.wall, max(cur.start.wall, end_wall), length, reason)
            cur = None
            last_natural = None
    if cur is not None:
        if now is None:
            close_orphan(cur)
        elif live_sit_s is not None:
            add(cur.start.wall, max(now, cur.start.wall), max(0.0, live_sit_s), "open")
        else:
            end_wall = min(now, cur.last.wall + timedelta(seconds=max_silence_s))
            end_wall = max(end_wall, cur.start.wall)
            lo, hi = cur.start.wall.timestamp(), end_wall.timestamp()
            length = max(0.0, hi - lo - _paused_s(cur.pauses, lo, hi, False))
            add(cur.start.wall, end_wall, length, "open" if end_wall == now else "unknown")
    elif now is not None and live_sit_s is not None and live_sit_s >= MIN_BOUT_S:
        add(now - timedelta(seconds=live_sit_s), now, live_sit_s, "open")
    return out


def prompts(events: Iterable[RecordEvent]) -> list[PromptRecord]:
    """Every prompt showing, with the first response recorded for its prompt id."""
    out: list[PromptRecord] = []
    waiting: dict[int, int] = {}  # prompt_id -> index in out still without a response
    for ev in events:
        if ev.kind == "prompt":
            pid = int(_num(ev.data.get("prompt_id")) or 0)
            out.append(PromptRecord(ev.wall, str(ev.data.get("prompt_kind", "stretch")), pid,
                                    int(_num(ev.data.get("escalation")) or 0)))
            waiting[pid] = len(out) - 1
        elif ev.kind == "response":
            pid = int(_num(ev.data.get("prompt_id")) or 0)
            index = waiting.pop(pid, None)
            if index is not None:
                rec = out[index]
                out[index] = replace(rec, response=str(ev.data.get("response", "")),
                                     response_at=ev.wall)
    return out


@dataclass(frozen=True)
class Summary:
    """Figures for one local day, or for a run of days (`first_day`..`last_day`)."""

    first_day: date
    last_day: date
    sitting_s: float = 0.0
    longest_sit_s: float = 0.0
    sits: int = 0
    sits_over_30: int = 0
    sits_over_60: int = 0
    stand_ups: int = 0
    sitting_by_bucket_s: tuple[float, float, float] = (0.0, 0.0, 0.0)
    breaks_taken: int = 0
    breaks_on_prompt: int = 0
    breaks_completed: int = 0
    break_s: float = 0.0
    snoozed: int = 0
    skipped: int = 0
    ignored: int = 0
    natural_breaks: int = 0
    natural_by_source: Mapping[str, int] = field(default_factory=dict)
    stretch_prompts: int = 0
    posture_prompts: int = 0
    sitting_now: bool = False
    driving_s: float = 0.0  # seen by GPS (driver profile)

    @property
    def stand_ups_per_sitting_h(self) -> float | None:
        """Stand-ups per hour of sitting; None without sitting."""
        if self.sitting_s <= 0:
            return None
        return self.stand_ups / (self.sitting_s / 3600.0)

    @property
    def days(self) -> int:
        return (self.last_day - self.first_day).days + 1

    def as_dict(self) -> dict[str, Any]:
        """Plain JSON-ready figures (dates as ISO strings, seconds rounded to 0.1)."""
        per_h = self.stand_ups_per_sitting_h
        return {
            "first_day": self.first_day.isoformat(),
            "last_day": self.last_day.isoformat(),
            "sitting_s": round(self.sitting_s, 1),
            "longest_sit_s": round(self.longest_sit_s, 1),
            "sits": self.sits,
            "sits_over_30_min": self.sits_over_30,
            "sits_over_60_min": self.sits_over_60,
            "stand_ups": self.stand_ups,
            "stand_ups_per_sitting_h": None if per_h is None else round(per_h, 2),
            "sitting_by_bout_length_s": {
                name: round(s, 1) for name, s in zip(BUCKETS, self.sitting_by_bucket_s, strict=True)
            },
            "breaks_taken": self.breaks_taken,
            "breaks_on_prompt": self.breaks_on_prompt,
            "breaks_completed": self.breaks_completed,
            "break_s": round(self.break_s, 1),
            "snoozed": self.snoozed,
            "skipped": self.skipped,
            "ignored": self.ignored,
            "natural_breaks": self.natural_breaks,
            "natural_breaks_by_source": dict(self.natural_by_source),
            "stretch_prompts": self.stretch_prompts,
            "posture_prompts": self.posture_prompts,
            "sitting_now": self.sitting_now,
            "driving_s": round(self.driving_s, 1),
        }


def split_by_day(start: datetime, end: datetime, sit_s: float) -> list[tuple[date, float]]:
    """Share `sit_s` between the local days [start, end] covers, in proportion to wall time
    (midnights in `start`'s UTC offset; a zero-length span goes all to start's day)."""
    span = _secs(start, end)
    day = start.date()
    if span <= 0 or end.astimezone(start.tzinfo).date() == day:
        return [(day, sit_s)]
    out: list[tuple[date, float]] = []
    cursor = start
    while cursor < end:
        nxt = min(end, datetime.combine(cursor.date() + timedelta(days=1), time(0),
                                        tzinfo=start.tzinfo))
        out.append((cursor.date(), sit_s * _secs(cursor, nxt) / span))
        cursor = nxt
    return out


# The `Summary` figures that add up, day by day and across days.
_ADDED = ("sitting_s", "sits", "sits_over_30", "sits_over_60", "stand_ups", "breaks_taken",
          "breaks_on_prompt", "breaks_completed", "break_s", "snoozed", "skipped", "ignored",
          "stretch_prompts", "posture_prompts", "driving_s")


@dataclass
class _Acc:
    """One day's figures while they are counted (names as in `Summary`)."""

    sitting_s: float = 0.0
    longest_sit_s: float = 0.0
    sits: int = 0
    sits_over_30: int = 0
    sits_over_60: int = 0
    stand_ups: int = 0
    buckets: list[float] = field(default_factory=lambda: [0.0, 0.0, 0.0])
    breaks_taken: int = 0
    breaks_on_prompt: int = 0
    breaks_completed: int = 0
    break_s: float = 0.0
    snoozed: int = 0
    skipped: int = 0
    ignored: int = 0
    natural: dict[str, int] = field(default_factory=dict)
    stretch_prompts: int = 0
    posture_prompts: int = 0
    sitting_now: bool = False
    driving_s: float = 0.0


def driving_spans(events: Sequence[RecordEvent], now: datetime | None = None,
                  max_silence_s: float = MAX_SILENCE_S) -> list[tuple[datetime, datetime]]:
    """(start, end) wall times of the driving the road saw (see the module docstring)."""
    spans: list[tuple[datetime, datetime]] = []
    began: datetime | None = None
    for ev in events:
        if ev.kind != "road":
            continue
        # A hold is 20 s to 10 min; anything past a day is nonsense, not a reason to fail.
        held_s = min(max(0.0, _num(ev.data.get("held_s")) or 0.0), 86400.0)
        try:
            at = ev.wall - timedelta(seconds=held_s)
        except OverflowError:
            continue
        if began is not None and at > began:
            spans.append((began, at))
        began = at if ev.data.get("state") == "driving" else None
    if began is not None and now is not None and events:
        end = min(now, events[-1].wall + timedelta(seconds=max_silence_s))
        if end > began:
            spans.append((began, end))
    return spans


def summarize_days(events: Sequence[RecordEvent], first_day: date, last_day: date,
                   now: datetime | None = None, live_sit_s: float | None = None
                   ) -> list[Summary]:
    """One `Summary` per local day from first_day to last_day (days without data are zeros).
    `events` may start up to a day before first_day (see `query_window`), so a sit already
    running at midnight is found; events outside the days only contribute through bouts."""
    n_days = (last_day - first_day).days + 1
    acc = {first_day + timedelta(days=i): _Acc() for i in range(max(0, n_days))}

    for b in bouts(events, now, live_sit_s):
        for day, part_s in split_by_day(b.start, b.end, b.sit_s):
            a = acc.get(day)
            if a is not None:
                a.sitting_s += part_s
                a.buckets[b.bucket] += part_s
                if b.end_reason == "open":
                    a.sitting_now = True
        a = acc.get(b.start.date())
        if a is None:
            continue
        a.sits += 1
        a.longest_sit_s = max(a.longest_sit_s, b.sit_s)
        a.sits_over_30 += b.sit_s > THIRTY_MIN_S
        a.sits_over_60 += b.sit_s > SIXTY_MIN_S
        a.stand_ups += b.stand_up

    for start, end in driving_spans(events, now):
        for day, part_s in split_by_day(start, end, _secs(start, end)):
            if (a := acc.get(day)) is not None:
                a.driving_s += part_s

    for ev in events:
        a = acc.get(ev.wall.date())
        if a is None:
            continue
        kind, data = ev.kind, ev.data
        if kind == "break_start":
            a.breaks_taken += 1
            a.breaks_on_prompt += data.get("prompted") is True
        elif kind == "break_end":
            a.breaks_completed += data.get("completed") is True
            a.break_s += max(0.0, _num(data.get("break_s")) or 0.0)
        elif kind == "response":
            response = data.get("response")
            if response == "taken_idle":
                a.breaks_taken += 1
                a.breaks_on_prompt += 1
            elif response == "snoozed":
                a.snoozed += 1
            elif response == "skipped":
                a.skipped += 1
            elif response == "ignored":
                a.ignored += 1
        elif kind == "natural_break":
            source = str(data.get("source", "gap"))
            a.natural[source] = a.natural.get(source, 0) + 1
        elif kind == "prompt":
            if data.get("prompt_kind") == "posture":
                a.posture_prompts += 1
            else:
                a.stretch_prompts += 1

    return [
        Summary(first_day=day, last_day=day, longest_sit_s=a.longest_sit_s,
                sitting_by_bucket_s=(a.buckets[0], a.buckets[1], a.buckets[2]),
                natural_breaks=sum(a.natural.values()),
                natural_by_source=dict(sorted(a.natural.items())),
                sitting_now=a.sitting_now, **{name: getattr(a, name) for name in _ADDED})
        for day, a in sorted(acc.items())
    ]


def combine(days: Sequence[Summary]) -> Summary:
    """The figures of several days as one (sums; the longest sit is the maximum)."""
    if not days:
        raise ValueError("combine() needs at least one day")
    natural: dict[str, int] = {}
    for d in days:
        for source, n in d.natural_by_source.items():
            natural[source] = natural.get(source, 0) + n
    buckets = [sum(d.sitting_by_bucket_s[i] for d in days) for i in range(3)]
    return Summary(
        first_day=min(d.first_day for d in days), last_day=max(d.last_day for d in days),
        longest_sit_s=max(d.longest_sit_s for d in days),
        sitting_by_bucket_s=(buckets[0], buckets[1], buckets[2]),
        natural_breaks=sum(d.natural_breaks for d in days),
        natural_by_source=dict(sorted(natural.items())),
        sitting_now=any(d.sitting_now for d in days),
        **{name: sum(getattr(d, name) for d in days) for name in _ADDED},
    )


@dataclass(frozen=True)
class Timeline:
    """What happened on one local day, clipped to it: sits, breaks, away, pauses, prompts."""

    day: date
    sits: tuple[Bout, ...]
    intervals: tuple[Interval, ...]
    prompts: tuple[PromptRecord, ...]

    @property
    def empty(self) -> bool:
        return not (self.sits or self.intervals or self.prompts)


def intervals(events: Sequence[RecordEvent], now: datetime | None = None) -> list[Interval]:
    """Breaks (break_start..break_end), away spans (natural break: from `away_s` before it
    until the next sit, break or pause) and pauses (pause..resume, or its planned end)."""
    out: list[Interval] = []
    brk: RecordEvent | None = None
    away: tuple[datetime, str] | None = None
    pause: tuple[datetime, datetime] | None = None

    def close_break(end: datetime) -> None:
        nonlocal brk
        if brk is not None:
            planned = _num(brk.data.get("planned_s")) or 0.0
            end = min(end, brk.wall + timedelta(seconds=max(planned, 0.0) + 3600))
            out.append(Interval("break", brk.wall, max(end, brk.wall)))
            brk = None

    def close_away(end: datetime) -> None:
        nonlocal away
        if away is not None:
            out.append(Interval("away", away[0], max(end, away[0]), away[1]))
            away = None

    def close_pause(end: datetime) -> None:
        nonlocal pause
        if pause is not None:
            out.append(Interval("pause", pause[0], max(pause[0], min(end, pause[1]))))
            pause = None

    for ev in events:
        kind = ev.kind
        if kind == "sit_start":
            close_away(ev.wall)
            close_break(ev.wall)
            if pause is not None and ev.wall >= pause[1]:
                close_pause(ev.wall)
        elif kind == "natural_break":
            close_away(ev.wall)
            away_s = max(0.0, _num(ev.data.get("away_s")) or 0.0)
            away = (ev.wall - timedelta(seconds=away_s), str(ev.data.get("source", "gap")))
        elif kind == "break_start":
            close_away(ev.wall)
            close_break(ev.wall)
            brk = ev
        elif kind == "break_end":
            close_break(ev.wall)
        elif kind == "pause":
            close_pause(ev.wall)
            close_away(ev.wall)
            pause_s = max(0.0, _num(ev.data.get("pause_s")) or 0.0)
            pause = (ev.wall, ev.wall + timedelta(seconds=pause_s))
        elif kind == "resume":
            close_pause(ev.wall)
            close_away(ev.wall)
        elif kind == "prompt":
            close_away(ev.wall)
    end = now if now is not None else (events[-1].wall if events else None)
    if end is not None:
        close_break(end)
        close_away(end)
        close_pause(end)
    return out


def _clip(start: datetime, end: datetime, lo: datetime, hi: datetime
          ) -> tuple[datetime, datetime] | None:
    a, b = max(start, lo), min(end, hi)
    return (a, b) if a < b else None


def timeline(events: Sequence[RecordEvent], day: date, now: datetime | None = None,
             live_sit_s: float | None = None, tz: tzinfo | None = None) -> Timeline:
    """The timeline of local `day` (midnights in `tz`, default: `now`'s offset, else UTC);
    sits and intervals are clipped to the day (a clipped sit keeps its full `sit_s`)."""
    zone = tz or (now.tzinfo if now is not None else None) or timezone.utc
    lo = datetime.combine(day, time(0), tzinfo=zone)
    hi = datetime.combine(day + timedelta(days=1), time(0), tzinfo=zone)
    # Only the day and its lookback matter (as in query_window): a long history given whole
    # is cut down first, which keeps "today" cheap when the caller read a year of events.
    early = lo - timedelta(seconds=LOOKBACK_S)
    if events and events[0].wall < early:
        events = [e for e in events if e.wall >= early]
    sits: list[Bout] = []
    for b in bouts(events, now, live_sit_s):
        span = _clip(b.start, b.end, lo, hi)
        if span is not None:
            sits.append(Bout(span[0], span[1], b.sit_s, b.end_reason))
        elif b.start == b.end and lo <= b.start < hi:
            sits.append(b)
    spans: list[Interval] = []
    for iv in intervals(events, now):
        span = _clip(iv.start, iv.end, lo, hi)
        if span is not None:
            spans.append(Interval(iv.kind, span[0], span[1], iv.source))
    marks = tuple(p for p in prompts(events) if lo <= p.at < hi)
    return Timeline(day, tuple(sits), tuple(spans), marks)


def query_window(first_day: date, last_day: date) -> tuple[datetime, datetime]:
    """The [start, end) instants to read from the store for days first_day..last_day: wide
    enough for any UTC offset (-12 h .. +14 h), plus `LOOKBACK_S` before the first day so a
    sit running at the first midnight is found."""
    start = datetime.combine(first_day, time(0), tzinfo=timezone.utc)
    end = datetime.combine(last_day + timedelta(days=1), time(0), tzinfo=timezone.utc)
    return start - timedelta(hours=14, seconds=LOOKBACK_S), end + timedelta(hours=12)


def day_range(today: date, days: int) -> tuple[date, date]:
    """(first, last) of the `days` local days ending with `today`."""
    return today - timedelta(days=max(1, days) - 1), today


class DayLog:
    """Today's events, kept in memory by the runtime so the tray's "Today" and `status` come
    from the same `summarize_days` as `psoas-break stats` (one source for the day's figures).
    Holds the events since `LOOKBACK_S` before today's first midnight (a sit running at
    midnight must be found) and drops older ones as days pass. Not thread-safe."""

    def __init__(self, events: Iterable[RecordEvent] = ()) -> None:
        self._events: list[RecordEvent] = list(events)
        self._day: date | None = None

    def add(self, event: RecordEvent) -> None:
        self._events.append(event)

    def summary(self, now: datetime, live_sit_s: float | None) -> Summary:
        """Today's figures at `now`; `live_sit_s` is the engine's current sitting time."""
        today = now.date()
        if today != self._day:
            self._day = today
            start, _end = query_window(today, today)
            self._events = [e for e in self._events if e.wall >= start]
        return summarize_days(self._events, today, today, now, live_sit_s)[0]
