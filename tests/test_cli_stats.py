"""`psoas-break stats` on the scripted engine week: real SQLite files, real subprocesses."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from datetime import date, datetime
from pathlib import Path

import pytest
from PIL import Image

from psoas_break.cli import stats as cli_stats
from psoas_break.core import stats
from psoas_break.core.events import RecordEvent
from tests.test_stats import week_db

Week = tuple[Path, list[RecordEvent]]

REPO = Path(__file__).resolve().parents[1]
NOW = "2026-03-29T03:50:00+02:00"


@pytest.fixture(scope="module")
def week(tmp_path_factory: pytest.TempPathFactory) -> Week:
    db, _driver, events = week_db(tmp_path_factory.mktemp("week"))
    return db, events


def fresh_copy(week: Week, tmp_path: Path) -> Path:
    db = tmp_path / "history.sqlite3"
    shutil.copy(week[0], db)
    return db


def cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """The real command in a child process (cli.py will call the same add_subcommands/run)."""
    return subprocess.run(
        [sys.executable, "-m", "psoas_break.cli.stats", "stats", *args],
        cwd=REPO, capture_output=True, text=True, timeout=120,
        env={**os.environ, **(env or {})},
    )


def table_rows(out: str) -> dict[str, list[str]]:
    rows = {}
    for line in out.splitlines():
        parts = line.split()
        if parts and (parts[0] == "total" or parts[0] in ("Mon", "Tue", "Wed", "Thu", "Fri",
                                                           "Sat", "Sun")) and len(parts) > 5:
            rows[parts[0] if parts[0] == "total" else parts[1]] = parts[2:] if parts[0] != (
                "total") else parts[1:]
    return rows


def test_table_through_a_real_process(week: Week) -> None:
    p = cli("--db", str(week[0]), "--now", NOW)
    assert p.returncode == 0, p.stderr
    assert p.stderr == ""
    out = p.stdout
    assert "Today, Sun 2026-03-29" in out
    assert ("sitting 1h16 (still sitting: counted up to now), longest sit 40 min, sits over "
            "30 min: 1, over 60 min: 0") in out
    assert "breaks taken 2, snoozed 0, skipped 0, ignored 2; natural breaks 1 (gap 1)" in out
    rows = table_rows(out)
    # sitting, longest, >30, >60, ups/h, taken, snoozed, skipped, ignored, natural
    assert rows["2026-03-23"] == ["4h50", "1h50", "3", "1", "1.2", "4", "1", "1", "15", "3"]
    assert rows["2026-03-24"] == ["3h29", "1h05", "3", "1", "1.7", "4", "3", "0", "7", "2"]
    assert rows["2026-03-25"] == ["2h07", "1h40", "1", "1", "0.9", "2", "0", "1", "11", "1"]
    assert rows["2026-03-27"] == ["0", "min", "0", "min", "0", "0", "-", "0", "0", "0", "0",
                                  "0"]
    assert rows["total"] == ["12h02", "1h50", "8", "3", "1.4", "13", "4", "2", "35", "8"]
    # Aligned: every line of the table is as long as its header.
    lines = out.splitlines()
    start = next(i for i, ln in enumerate(lines) if ln.startswith("day "))
    table = lines[start:start + 10]
    assert len({len(ln) for ln in table}) == 1, table


def test_json(week: Week, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli_stats.main(["stats", "--db", str(week[0]), "--now", NOW, "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert [d["first_day"] for d in data["days"]] == [f"2026-03-{n}" for n in range(23, 30)]
    assert data["days"][0]["sitting_s"] == 17400.0
    assert data["days"][1]["natural_breaks_by_source"] == {"gap": 1, "suspend": 1}
    assert data["total"]["sitting_s"] == 43320.0 and data["total"]["sits_over_60_min"] == 3
    assert data["today"]["sitting_now"] is True and data["today"]["sitting_s"] == 4560.0
    assert data["db"] == str(week[0])
    assert cli_stats.main(["stats", "--db", str(week[0]), "--now", NOW, "--json",
                           "--days", "30"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert len(data["days"]) == 30 and data["total"]["sitting_s"] == 43320.0


@pytest.mark.parametrize("bad", ["0", "3651", "seven", "-3", "1.5", ""])
def test_bad_days_is_one_line_and_exit_2(bad: str, capsys: pytest.CaptureFixture[str],
                                         tmp_path: Path) -> None:
    code = cli_stats.main(["stats", "--db", str(tmp_path / "h.sqlite3"), "--days", bad])
    err = capsys.readouterr()
    assert code == 2 and err.out == ""
    assert err.err.count("\n") == 1
    assert "--days" in err.err and "1 to 3650" in err.err and repr(bad) in err.err


def test_bad_days_through_a_real_process(tmp_path: Path) -> None:
    p = cli("--db", str(tmp_path / "h.sqlite3"), "--days", "4000")
    assert p.returncode == 2 and p.stdout == ""
    assert p.stderr.splitlines() == [
        "psoas-break stats: --days '4000' is not allowed: use a whole number from 1 to 3650"]


def test_csv_round_trip(week: Week, tmp_path: Path) -> None:
    out = tmp_path / "out" / "week.csv"
    out.parent.mkdir()
    p = cli("--db", str(week[0]), "--now", NOW, "--csv", str(out))
    assert p.returncode == 0, p.stderr
    report = cli_stats.load_report(week[0], datetime.fromisoformat(NOW), 7)
    n = len(report.bouts) + len(report.prompts)
    assert p.stdout.strip() == f"Wrote {n} rows to {out}"
    text = out.read_text(encoding="utf-8")
    assert text.splitlines()[0].split(",") == list(cli_stats.CSV_COLUMNS)
    bouts, prompts = cli_stats.read_csv(text)
    assert bouts == report.bouts and prompts == report.prompts
    assert len(bouts) == 7 + 6 + 2 + 1 + 3 and len(prompts) == 20 + 13 + 14 + 4
    assert sum(b.sit_s for b in bouts) == 43320.0  # every bout of the week started in it
    # Every column is documented in the module docstring (which the README section repeats).
    doc = cli_stats.__doc__ or ""
    for column in cli_stats.CSV_COLUMNS:
        assert f"\n    {column} " in doc, column


def test_csv_to_stdout(week: Week, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli_stats.main(["stats", "--db", str(week[0]), "--now", NOW, "--csv", "-",
                           "--days", "1"]) == 0
    out = capsys.readouterr()
    bouts, prompts = cli_stats.read_csv(out.out)
    assert [b.sit_s for b in bouts] == [1800.0, 2400.0, 360.0]
    assert [b.end_reason for b in bouts] == ["break", "break", "open"]
    assert len(prompts) == 4 and "Wrote" not in out.out


def test_png(week: Week, tmp_path: Path) -> None:
    out = tmp_path / "chart.png"
    p = cli("--db", str(week[0]), "--now", NOW, "--png", str(out), "--theme", "dark")
    assert p.returncode == 0, p.stderr
    assert p.stdout.strip() == f"Wrote the chart to {out}"
    with Image.open(out) as img:
        assert img.format == "PNG" and img.size == (1000, 640)


def test_bad_theme_and_now_and_unwritable_output(
    week: Week, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = str(week[0])
    assert cli_stats.main(["stats", "--db", db, "--theme", "neon"]) == 2
    assert capsys.readouterr().err.count("\n") == 1
    assert cli_stats.main(["stats", "--db", db, "--now", "yesterday"]) == 2
    assert capsys.readouterr().err.count("\n") == 1
    missing_dir = tmp_path / "no" / "such" / "dir" / "x.csv"
    # A folder that does not exist is a usage error, found before anything is read (#19).
    assert cli_stats.main(["stats", "--db", db, "--now", NOW, "--csv", str(missing_dir)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "does not exist" in err and "Traceback" not in err
    assert not (tmp_path / "no").exists()
    # A file that cannot be written (here: a folder is in the way) is exit 1.
    (tmp_path / "in-the-way.csv").mkdir()
    assert cli_stats.main(["stats", "--db", db, "--now", NOW, "--csv",
                           str(tmp_path / "in-the-way.csv")]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "cannot write" in err and "Traceback" not in err


def test_forget_before(week: Week, tmp_path: Path,
                       capsys: pytest.CaptureFixture[str]) -> None:
    db = fresh_copy(week, tmp_path)
    recorded = week[1]
    before = date(2026, 3, 25)
    expected = sum(1 for e in recorded if e.wall.date() < before)
    assert expected > 100
    for bad in ("2026-13-01", "soon", "2026-03-31"):
        assert cli_stats.main(["stats", "--db", str(db), "--now", NOW,
                               "--forget-before", bad]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "--forget-before" in err
    assert cli_stats.main(["stats", "--db", str(db), "--now", NOW,
                           "--forget-before", "2026-03-25"]) == 0
    assert capsys.readouterr().out == f"Removed {expected} events from before 2026-03-25.\n"
    report = cli_stats.load_report(db, datetime.fromisoformat(NOW), 7)
    assert report.days[0].sitting_s == 0 and report.days[0].breaks_taken == 0
    assert report.days[2].sitting_s == 7620  # Wednesday is untouched
    assert cli_stats.main(["stats", "--db", str(db), "--now", NOW,
                           "--forget-before", "2026-03-25"]) == 0
    assert capsys.readouterr().out == "Removed 0 events from before 2026-03-25.\n"


def test_default_location_follows_xdg_data_home(week: Week,
                                                tmp_path: Path) -> None:
    if sys.platform != "linux":
        pytest.skip("XDG_DATA_HOME is a Linux convention")
    empty_home = tmp_path / "empty"
    p = cli("--now", NOW, "--json", env={"XDG_DATA_HOME": str(empty_home)})
    assert p.returncode == 0, p.stderr
    data = json.loads(p.stdout)
    assert data["db"] == str(empty_home / "psoas-break" / "history.sqlite3")
    assert data["total"]["sitting_s"] == 0
    assert not empty_home.exists()  # reading never creates the file
    p = cli("--now", NOW, env={"XDG_DATA_HOME": str(empty_home)})
    assert "No history yet" in p.stdout
    home = tmp_path / "data"
    (home / "psoas-break").mkdir(parents=True)
    shutil.copy(week[0], home / "psoas-break" / "history.sqlite3")
    p = cli("--now", NOW, "--json", env={"XDG_DATA_HOME": str(home)})
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout)["total"]["sitting_s"] == 43320.0


def test_damaged_file_is_one_line_and_left_for_the_app(tmp_path: Path) -> None:
    db = tmp_path / "history.sqlite3"
    db.write_bytes(b"garbage, not SQLite\n" * 300)
    p = cli("--db", str(db), "--now", NOW)
    assert p.returncode == 1 and p.stdout == ""
    assert len(p.stderr.splitlines()) == 1 and "damaged" in p.stderr, p.stderr
    assert db.read_bytes() == b"garbage, not SQLite\n" * 300
    assert sorted(x.name for x in tmp_path.iterdir()) == ["history.sqlite3"]


def test_report_with_live_sitting_from_the_runtime(week: Week) -> None:
    # The tray passes the engine's live figure; it replaces the wall-clock estimate.
    report = cli_stats.load_report(week[0], datetime.fromisoformat(NOW), 7, live_sit_s=300.0)
    assert report.days[-1].sitting_s == 1800 + 2400 + 300
    assert report.total.first_day == date(2026, 3, 23)
    assert report.today.day == date(2026, 3, 29)
    assert stats.combine(report.days) == report.total
