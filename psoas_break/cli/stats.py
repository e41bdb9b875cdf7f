"""`psoas-break stats`: how much you sat, and whether you took your breaks.

    psoas-break stats                       today and the last 7 days as a table
    psoas-break stats --days 30             the last 30 days (1 to 3650)
    psoas-break stats --json                the same figures as JSON
    psoas-break stats --csv FILE            one row per sit bout and per prompt ("-": stdout)
    psoas-break stats --png FILE            the chart (--theme light|dark)
    psoas-break stats --forget-before DATE  delete events from days before DATE (YYYY-MM-DD)

The history file is `user_data_dir("psoas-break")/history.sqlite3` (XDG_DATA_HOME on Linux);
the hidden `--db FILE` and `--now ISO-TIME` options are for tests. Exit codes: 0 done,
1 the history or an output file could not be read or written, 2 bad arguments.

CSV columns (one row per sit bout and per prompt, oldest first, within the days asked for;
a bout belongs to the day it started):

    record        "sit" or "prompt"
    day           local date (YYYY-MM-DD) the bout started / the prompt was shown
    start         ISO 8601 time with UTC offset: bout start / prompt shown
    end           ISO 8601: bout end (for a natural break, when you left) / when the prompt
                  was answered (empty: no answer recorded)
    duration_s    sit: seconds of sitting counted (pauses excluded); prompt: seconds until
                  the answer (empty: none)
    end_reason    sit: "break", "natural", "unknown" (the app was quit) or "open" (still
                  sitting); prompt: empty
    bout_length   sit: "<=30", "30-60" or ">60" (minutes, as in the chart); prompt: empty
    prompt_kind   prompt: "stretch" or "posture"; sit: empty
    prompt_id     prompt: the engine's prompt number (restarts with the app); sit: empty
    escalation    prompt: 0 for the first showing, 1, 2, ... for repeats; sit: empty
    response      prompt: "taken", "taken_idle" (you got up without clicking), "snoozed",
                  "skipped", "ignored" (shown again later), or empty (posture prompts and
                  unanswered ones); sit: empty

A cell that a spreadsheet would read as a formula (one starting with =, +, -, @, a tab or a
carriage return, OWASP's rule for CSV injection) is written with a leading apostrophe, except a
plain number such as -5; `read_csv` removes that apostrophe again. Control characters in text
recorded by the app (none are, normally) are written as escapes such as \r.

Usage errors (exit 2, one line): an output file whose folder does not exist (nothing is
created), `--csv -` together with `--json` (both would write to standard output), a `--now`
outside the years 1980 to 9000.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import re
import sys
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any, TextIO

from psoas_break.adapters.clock import local_now, to_local
from psoas_break.adapters.files.paths import AppPaths
from psoas_break.adapters.history.sqlite_history import (
    DB_FILENAME,
    default_db_path,
    forget_before,
)
from psoas_break.core.i18n import _, ngettext, weekday_short
from psoas_break.core.plain_text import escape_controls, one_line
from psoas_break.core.stats import Bout, PromptRecord, Summary
from psoas_break.ports import StorageError
from psoas_break.ui.report import Report, load_report, write_chart

MAX_DAYS = 3650
CSV_COLUMNS = (
    "record", "day", "start", "end", "duration_s", "end_reason", "bout_length",
    "prompt_kind", "prompt_id", "escalation", "response",
)
_BUCKET_NAMES = ("<=30", "30-60", ">60")
# --now must leave room for the days before it and the day after (no date overflow).
_NOW_YEARS = (1980, 9000)
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = re.compile(r"[+-]?[0-9]+(\.[0-9]+)?([eE][+-]?[0-9]+)?")


def csv_cell(text: str) -> str:
    """`text` safe for a spreadsheet: control characters escaped (an unquoted carriage return
    would split the row), and a leading apostrophe when it would start a formula."""
    text = escape_controls(text)
    if text.startswith(_FORMULA_STARTS) and not _PLAIN_NUMBER.fullmatch(text):
        return "'" + text
    return text


def _from_cell(text: str) -> str:
    """Undo `csv_cell`."""
    if text.startswith("'") and text[1:].startswith(_FORMULA_STARTS):
        return text[1:]
    return text


def add_subcommands(subparsers: Any) -> None:
    """Add `stats` to the main parser's subcommands."""
    p = subparsers.add_parser("stats", help=_("how much you sat and which breaks you took"))
    p.add_argument("--days", metavar="N", default="7",
                   help=_("how many days up to today (1 to {maximum}; default 7)",
                          maximum=MAX_DAYS))
    p.add_argument("--json", action="store_true", help=_("print the figures as JSON"))
    p.add_argument("--csv", metavar="FILE",
                   help=_("write one row per sit bout and per prompt ('-' for stdout)"))
    p.add_argument("--png", metavar="FILE", help=_("write the chart as a PNG image"))
    p.add_argument("--theme", default="light", help=_("chart colours: light or dark"))
    p.add_argument("--forget-before", metavar="DATE",
                   help=_("delete the history of the days before DATE (YYYY-MM-DD), then stop"))
    p.add_argument("--db", metavar="FILE", help=argparse.SUPPRESS)
    p.add_argument("--now", metavar="ISO-TIME", help=argparse.SUPPRESS)


# ---- formatting ----


def fmt_duration(seconds: float) -> str:
    """"0 min", "42 min", "3h05"."""
    minutes = int(round(max(0.0, seconds) / 60.0))
    return f"{minutes // 60}h{minutes % 60:02d}" if minutes >= 60 else f"{minutes} min"


def _day_name(day: date) -> str:
    return f"{weekday_short(day.weekday())} {day.isoformat()}"


def _per_h(s: Summary) -> str:
    v = s.stand_ups_per_sitting_h
    return "-" if v is None else f"{v:.1f}"


def format_table(report: Report) -> str:
    """The human-readable view: today's figures, then one row per day and a total."""
    t = report.days[-1]
    lines: list[str] = []
    now_note = " " + _("(still sitting: counted up to now)") if t.sitting_now else ""
    lines.append(_("Today, {day}", day=_day_name(t.first_day)))
    lines.append("  " + _(
        "sitting {duration}{note}, longest sit {longest}, sits over 30 min: {over_30}, "
        "over 60 min: {over_60}", duration=fmt_duration(t.sitting_s), note=now_note,
        longest=fmt_duration(t.longest_sit_s), over_30=t.sits_over_30, over_60=t.sits_over_60))
    natural = ", ".join(f"{k} {v}" for k, v in t.natural_by_source.items())
    lines.append("  " + _(
        "breaks taken {taken}, snoozed {snoozed}, skipped {skipped}, ignored {ignored}; "
        "natural breaks {natural}", taken=t.breaks_taken, snoozed=t.snoozed,
        skipped=t.skipped, ignored=t.ignored, natural=t.natural_breaks)
        + (f" ({natural})" if natural else ""))
    lines.append("  " + _(
        "stand-ups per hour of sitting: {per_hour}; prompts shown: {stretch} stretch, "
        "{posture} posture", per_hour=_per_h(t), stretch=t.stretch_prompts,
        posture=t.posture_prompts))
    if t.driving_s > 0:
        lines.append("  " + _("driving seen by GPS {duration}", duration=fmt_duration(t.driving_s)))
    lines.append("")
    n = len(report.days)
    lines.append(ngettext("Last {n} day", "Last {n} days", n))
    header = (_("day"), _("sitting"), _("longest"), ">30min", ">60min", _("ups/h"), _("taken"),
              _("snoozed"), _("skipped"), _("ignored"), _("natural"))
    rows: list[tuple[str, ...]] = [header]
    for s in [*report.days, report.total]:
        label = _("total") if s is report.total else _day_name(s.first_day)
        rows.append((
            label, fmt_duration(s.sitting_s), fmt_duration(s.longest_sit_s),
            str(s.sits_over_30), str(s.sits_over_60), _per_h(s), str(s.breaks_taken),
            str(s.snoozed), str(s.skipped), str(s.ignored), str(s.natural_breaks),
        ))
    widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
    for i, r in enumerate(rows):
        if i == len(rows) - 1:
            lines.append("  ".join("-" * w for w in widths))
        cells = [r[0].ljust(widths[0])] + [c.rjust(w) for c, w in zip(r[1:], widths[1:],
                                                                     strict=True)]
        lines.append("  ".join(cells).rstrip())
    lines.append("")
    lines.append(_("ups/h: stand-ups per hour of sitting. Sits and longest sit count on the day "
                   "they started."))
    if report.history_empty:
        lines.append(_("No history yet in {path}: psoas-break records it while it runs.",
                       path=report.db))
    return "\n".join(lines)


def report_json(report: Report) -> dict[str, Any]:
    """The JSON view: per-day figures, the total and today's, with the file used."""
    return {
        "db": str(report.db),
        "now": report.now.isoformat(),
        "today": report.days[-1].as_dict(),
        "days": [d.as_dict() for d in report.days],
        "total": report.total.as_dict(),
    }


def csv_rows(bouts: Sequence[Bout], prompts: Sequence[PromptRecord]) -> list[dict[str, str]]:
    """The CSV rows (see the module docstring), oldest first."""
    rows: list[tuple[datetime, int, dict[str, str]]] = []
    blank = dict.fromkeys(CSV_COLUMNS, "")
    for b in bouts:
        rows.append((b.start, 0, {
            **blank, "record": "sit", "day": b.start.date().isoformat(),
            "start": b.start.isoformat(), "end": b.end.isoformat(), "duration_s": repr(b.sit_s),
            "end_reason": b.end_reason, "bout_length": _BUCKET_NAMES[b.bucket],
        }))
    for p in prompts:
        rows.append((p.at, 1, {
            **blank, "record": "prompt", "day": p.at.date().isoformat(),
            "start": p.at.isoformat(),
            "end": p.response_at.isoformat() if p.response_at is not None else "",
            "duration_s": repr((p.response_at - p.at).total_seconds())
            if p.response_at is not None else "",
            "prompt_kind": p.kind, "prompt_id": str(p.prompt_id),
            "escalation": str(p.escalation), "response": p.response or "",
        }))
    rows.sort(key=lambda r: (r[0].timestamp(), r[1]))
    return [{k: csv_cell(v) for k, v in r[2].items()} for r in rows]


def write_csv(out: TextIO, bouts: Sequence[Bout], prompts: Sequence[PromptRecord]
              ) -> int:
    """Write header + rows to a text stream; returns the number of data rows."""
    writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    rows = csv_rows(bouts, prompts)
    writer.writerows(rows)
    return len(rows)


def read_csv(text: str) -> tuple[list[Bout], list[PromptRecord]]:
    """Parse what `write_csv` wrote (the round trip of the documented format)."""
    bouts: list[Bout] = []
    prompts: list[PromptRecord] = []
    for raw_row in csv.DictReader(io.StringIO(text)):
        row = {k: _from_cell(v or "") for k, v in raw_row.items()}
        if row["record"] == "sit":
            bouts.append(Bout(datetime.fromisoformat(row["start"]),
                              datetime.fromisoformat(row["end"]),
                              float(row["duration_s"]), row["end_reason"]))
        elif row["record"] == "prompt":
            prompts.append(PromptRecord(
                at=datetime.fromisoformat(row["start"]),
                kind=row["prompt_kind"],
                prompt_id=int(row["prompt_id"]),
                escalation=int(row["escalation"]),
                response=row["response"] or None,
                response_at=datetime.fromisoformat(row["end"]) if row["end"] else None,
            ))
    return bouts, prompts


# ---- the command ----


def _err(text: str) -> None:
    print(_("psoas-break stats: {error}", error=text), file=sys.stderr)


def _parse_days(raw: str) -> int | None:
    try:
        days = int(str(raw).strip())
    except ValueError:
        return None
    return days if 1 <= days <= MAX_DAYS else None


def _parse_now(raw: str | None) -> datetime | None:
    if raw is None:
        return local_now()
    try:
        now = datetime.fromisoformat(raw)
    except ValueError:
        return None
    if not _NOW_YEARS[0] <= now.year <= _NOW_YEARS[1]:
        return None
    return now if now.tzinfo is not None else to_local(now)


def _missing_folder(path: str) -> str | None:
    """The folder an output file would go into, when it does not exist (else None)."""
    folder = os.path.dirname(os.path.abspath(path))
    return None if os.path.isdir(folder) else folder


def run(args: argparse.Namespace, paths: AppPaths | None = None,
        live_sit_s: float | None = None) -> int:
    """Carry out `psoas-break stats` with parsed `args`; returns the exit code."""
    try:
        return _run(args, paths, live_sit_s)
    except BrokenPipeError:
        # `psoas-break stats --csv - | head`: the reader left; that is not an error. Point
        # stdout at devnull so the interpreter's final flush does not complain either.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0


def _run(args: argparse.Namespace, paths: AppPaths | None, live_sit_s: float | None) -> int:
    if args.db:
        db = Path(args.db)
    else:
        db = paths.data_dir / DB_FILENAME if paths is not None else default_db_path()
    now = _parse_now(args.now)
    if now is None:
        _err(_("--now {value} is not an ISO 8601 time from {first} to {last} "
               "(e.g. 2026-03-09T17:30:00+01:00)", value=one_line(repr(args.now), 80),
               first=_NOW_YEARS[0], last=_NOW_YEARS[1]))
        return 2
    days = _parse_days(args.days)
    if days is None:
        _err(_("--days {value} is not allowed: use a whole number from 1 to {maximum}",
               value=one_line(repr(args.days), 80), maximum=MAX_DAYS))
        return 2
    if args.theme not in ("light", "dark"):
        _err(_("--theme {value} is not allowed: use light or dark",
               value=one_line(repr(args.theme), 80)))
        return 2
    if args.csv == "-" and args.json:
        _err(_("--csv - and --json would both write to standard output: use one, or give "
               "--csv a file name"))
        return 2
    for option, target in (("--csv", args.csv), ("--png", args.png)):
        if target and (option == "--png" or target != "-"):
            folder = _missing_folder(target)
            if folder is not None:
                _err(_("{option} {path}: the folder {folder} does not exist (create it first)",
                       option=option, path=one_line(target, 200),
                       folder=one_line(folder, 200)))
                return 2

    if args.forget_before is not None:
        try:
            day = date.fromisoformat(str(args.forget_before).strip())
        except ValueError:
            _err(_("--forget-before {value} is not a date: use YYYY-MM-DD",
                   value=one_line(repr(args.forget_before), 80)))
            return 2
        if day > now.date() + timedelta(days=1):
            _err(_("--forget-before {day} is in the future: use a date up to {latest}",
                   day=day.isoformat(), latest=(now.date() + timedelta(days=1)).isoformat()))
            return 2
        try:
            removed = forget_before(db, day)
        except StorageError as exc:
            _err(str(exc))
            return 1
        print(ngettext("Removed {n} event from before {day}.",
                       "Removed {n} events from before {day}.", removed, day=day.isoformat()))
        return 0

    try:
        report = load_report(db, now, days, live_sit_s)
    except StorageError as exc:
        _err(str(exc))
        return 1
    # Confirmations go to stderr when stdout carries JSON or CSV.
    info = sys.stderr if (args.json or args.csv == "-") else sys.stdout
    if args.csv:
        try:
            if args.csv == "-":
                n = write_csv(sys.stdout, report.bouts, report.prompts)
            else:
                with open(args.csv, "w", newline="", encoding="utf-8") as fh:
                    n = write_csv(fh, report.bouts, report.prompts)
                print(_("Wrote {count} rows to {path}", count=n, path=args.csv), file=info)
        except BrokenPipeError:
            raise
        except OSError as exc:
            _err(_("cannot write {path}: {error}", path=args.csv, error=exc.strerror or exc))
            return 1
    if args.png:
        try:
            write_chart(Path(args.png), report, args.theme)
        except (OSError, ValueError) as exc:
            _err(_("cannot write {path}: {error}", path=args.png,
                   error=getattr(exc, "strerror", None) or exc))
            return 1
        print(_("Wrote the chart to {path}", path=args.png), file=info)
    if args.json:
        json.dump(report_json(report), sys.stdout, indent=2)
        sys.stdout.write("\n")
    elif args.csv != "-" and not (args.csv or args.png):
        print(format_table(report))
    return 0


def main(argv: list[str] | None = None) -> int:
    """Stand-alone entry (tests, until cli.py wires `stats`): `python -m psoas_break.cli.stats`."""
    parser = argparse.ArgumentParser(prog="psoas-break")
    add_subcommands(parser.add_subparsers(dest="command", required=True))
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())
