"""Issue #19, item by item: each numbered finding reproduced against the real files, parsers and
CLI processes (and the real app, headless, where the finding was "the app does not start").

The hypothesis-generated suite over the same classes is tests/test_hostile_suite.py; this file
keeps one plain reproduction per item so a regression names the item it brings back.
"""

from __future__ import annotations

import csv
import json
import os
import re
import sqlite3
import stat
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from psoas_break.adapters.files.settings_store import SettingsStore
from psoas_break.adapters.history.sqlite_history import SqliteHistory
from psoas_break.cli.stats import read_csv
from psoas_break.core.events import RecordEvent
from psoas_break.core.settings import Settings
from psoas_break.ports import StorageError
from tests.hostile import REPO, HeadlessApp, Home, cli, one_bounded_message

if TYPE_CHECKING:
    from tests.desktop import DesktopSession

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib


@pytest.fixture
def home(tmp_path: Path) -> Home:
    return Home(tmp_path / "home")


def _store(home: Home) -> SettingsStore:
    return SettingsStore(home.settings)


# ---- 1. deeply nested TOML ----


@pytest.mark.parametrize("text", [
    "a = " + "[" * 500 + "]" * 500,
    "a = " + "{b = " * 500 + "1" + "}" * 500,
    "working_hours = " + "[" * 400 + "]" * 400,
    "[working_hours]\nmon = " + "[" * 400 + '"09:00-10:00"' + "]" * 400,
])
def test_item01_deep_nesting_is_one_line_and_config_show_works(home: Home, text: str) -> None:
    home.write_settings(text + "\nvoice = true\n")
    out = cli(home, "config", "show")
    assert out.returncode == 0, out.stderr[-2000:]
    # At most two facts: the file (or key) cannot be used; it will not be rewritten.
    assert one_bounded_message(out.stderr, max_lines=2), out.stderr[-2000:]
    before = home.settings.read_bytes()
    assert cli(home, "config", "set", "break_min", "5").returncode != 0
    assert home.settings.read_bytes() == before  # nothing the user wrote is dropped


def test_item01_02_the_app_starts_with_a_deep_or_huge_file(home: Home) -> None:
    home.write_settings("a = " + "[" * 500 + "]" * 500 + "\n")
    with HeadlessApp.start(home) as app:
        assert app.alive()
    home.write_settings("zz = " + "9" * 5000 + "\n")
    with HeadlessApp.start(home) as app:
        assert app.alive()
        assert "Traceback" not in app.output()


# ---- 2. an integer of more than 4,300 digits ----


def test_item02_huge_integer_is_one_line(home: Home) -> None:
    home.write_settings("zz = " + "9" * 5000 + "\nbreak_min = 5\n")
    out = cli(home, "config", "show")
    assert out.returncode == 0, out.stderr[-2000:]
    assert one_bounded_message(out.stderr, max_lines=1), out.stderr[-2000:]
    assert "4300" in out.stderr or "digits" in out.stderr


def test_item02_huge_hex_integer_is_shown_by_its_size(home: Home) -> None:
    # Hex parses (no digit limit for powers of two) but cannot be printed as decimal digits.
    home.write_settings("break_min = 0x" + "f" * 5000 + "\n")
    out = cli(home, "config", "show")
    assert out.returncode == 0, out.stderr[-2000:]
    assert one_bounded_message(out.stderr, max_lines=1), out.stderr[-2000:]
    assert "break_min" in out.stderr


# ---- 3. very deep dotted keys ----


def test_item03_deep_dotted_keys_refuse_changes_with_one_line(home: Home) -> None:
    original = ".".join(["q"] * 2000) + " = 1\nvoice = true\n"
    home.write_settings(original)
    for args in (("config", "set", "break_min", "5"), ("config", "reset")):
        out = cli(home, *args)
        assert out.returncode == 1, out.stderr[-2000:]
        assert one_bounded_message(out.stderr, max_lines=2), out.stderr[-2000:]
        assert "recursion" not in out.stderr
        assert home.settings.read_text() == original
    # Not read at all (parsing a dotted key takes time growing with the square of its length):
    # the defaults apply until the file is fixed, and the line says where.
    show = cli(home, "config", "show")
    assert "more than 32 levels deep (line 1)" in show.stderr
    assert cli(home, "config", "get", "voice").stdout.strip() == "false"


# ---- 4. a FIFO, /dev/zero ----


def test_item04_fifo_is_refused_at_once(home: Home) -> None:
    home.config_dir.mkdir(parents=True)
    os.mkfifo(home.settings)
    started = time.monotonic()
    out = cli(home, "config", "show", timeout_s=30)
    assert time.monotonic() - started < 20
    assert out.returncode == 0
    assert "not a regular file" in out.stderr
    assert one_bounded_message(out.stderr, max_lines=1)


def test_item04_symlink_to_dev_zero_is_refused(home: Home) -> None:
    home.config_dir.mkdir(parents=True)
    home.settings.symlink_to("/dev/zero")
    out = cli(home, "config", "show", timeout_s=30)
    assert out.returncode == 0
    assert "not a regular file" in out.stderr
    assert one_bounded_message(out.stderr, max_lines=1)


def test_item04_a_huge_regular_file_is_refused_by_size(home: Home) -> None:
    home.write_settings(b"# " + b"x" * (3 * 1024 * 1024) + b"\nvoice = true\n")
    out = cli(home, "config", "show")
    assert out.returncode == 0
    assert "larger than" in out.stderr
    assert one_bounded_message(out.stderr, max_lines=1)
    assert cli(home, "config", "set", "voice", "false").returncode == 1


def test_item04_the_app_starts_with_a_fifo_for_settings(home: Home) -> None:
    home.config_dir.mkdir(parents=True)
    os.mkfifo(home.settings)
    with HeadlessApp.start(home) as app:
        assert app.alive()


# ---- 9. not valid TOML: a BOM, a duplicated key, a typo ----


def test_item09_a_byte_order_mark_is_accepted(home: Home) -> None:
    home.write_settings(b"\xef\xbb\xbfbreak_min = 5\nmystery = 1\n")
    result = _store(home).load()
    assert result.problems == ()
    assert result.settings.break_min == 5
    _store(home).save("voice", True)
    data = tomllib.loads(home.settings.read_text(encoding="utf-8-sig"))
    assert data["break_min"] == 5 and data["mystery"] == 1 and data["voice"] is True


@pytest.mark.parametrize("text", [
    "break_min = 5\nbreak_min = 6\nmystery = 1\n",          # a duplicated key
    "break_min = 5\nmystery = 1\nvoice = tru\n",             # a typo
    "[working_hours]\nmon = []\n[working_hours]\ntue = []\n",  # a table defined twice
])
def test_item09_an_unparseable_file_is_never_rewritten(home: Home, text: str) -> None:
    home.write_settings(text)
    store = _store(home)
    result = store.load()
    assert len(result.problems) == 1
    assert "line" in result.problems[0]
    with pytest.raises(StorageError, match="fix"):
        store.save("snooze_min", 10)
    with pytest.raises(StorageError, match="fix"):
        store.reset()
    assert home.settings.read_text() == text
    assert list(home.config_dir.iterdir()) == [home.settings]
    out = cli(home, "config", "set", "snooze_min", "10")
    assert out.returncode == 1
    assert one_bounded_message(out.stderr, max_lines=1), out.stderr
    assert home.settings.read_text() == text


def test_item09_duplicated_key_message_says_defined_twice(home: Home) -> None:
    home.write_settings("break_min = 5\nbreak_min = 6\n")
    (line,) = _store(home).load().problems
    assert "twice" in line and "line 2" in line


# ---- 10. a symlinked settings.toml ----


def test_item10_saving_writes_through_a_symlink(home: Home, tmp_path: Path) -> None:
    dotfiles = tmp_path / "dotfiles"
    dotfiles.mkdir()
    target = dotfiles / "psoas.toml"
    target.write_text("break_min = 5\n")
    home.config_dir.mkdir(parents=True)
    home.settings.symlink_to(target)
    out = cli(home, "config", "set", "voice", "true")
    assert out.returncode == 0, out.stderr
    assert home.settings.is_symlink()
    data = tomllib.loads(target.read_text())
    assert data["break_min"] == 5 and data["voice"] is True
    # The temporary file lived beside the target, not beside the link.
    assert sorted(p.name for p in dotfiles.iterdir()) == ["psoas.toml"]


# ---- 11. a failed backup leaves nothing behind ----


def test_item11_a_backup_that_fails_leaves_no_file(home: Home) -> None:
    # A bad value (so the first save makes a backup) in a file larger than the file size
    # limit the process gets: the kernel fails the copy part way, as a full disk does.
    home.write_settings("stretch_every_min = 5000\n# " + "x" * 40_000 + "\n")
    code = (
        "import resource, signal, sys; signal.signal(signal.SIGXFSZ, signal.SIG_IGN); "
        "resource.setrlimit(resource.RLIMIT_FSIZE, (16384, 16384)); "
        "from psoas_break.cli import main; sys.exit(main(sys.argv[1:]))"
    )
    out = subprocess.run([sys.executable, "-c", code, "config", "set", "voice", "true"],
                         env=home.env, capture_output=True, text=True, timeout=60, check=False)
    assert sorted(p.name for p in home.config_dir.iterdir()) == ["settings.toml"]
    assert out.returncode == 1, out.stderr
    assert "back up" in out.stderr
    # Two facts: the bad value, and that nothing was saved because the backup failed.
    assert one_bounded_message(out.stderr, max_lines=2), out.stderr


# ---- 16. control characters in values and unknown keys ----


def test_item16_control_characters_are_escaped_by_config_show(home: Home) -> None:
    home.write_settings(
        'profile = "desk\\nstretch_every_min = 999    # set by you"\n'
        '"evil\\nvoice = true    # forged" = 1\n'
        '"\\u001b[2J\\u001b]0;title\\u0007" = 2\n'
    )
    out = cli(home, "config", "show")
    assert out.returncode == 0
    for stream in (out.stdout, out.stderr):
        assert "\x1b" not in stream and "\x07" not in stream
    assert "forged" not in "".join(
        line for line in out.stdout.splitlines() if line.startswith("voice")
    )
    assert "# unknown key kept in the file: evil\\nvoice" in out.stdout
    assert "\\x1b[2J" in out.stdout
    assert one_bounded_message(out.stderr, max_lines=1), out.stderr


# ---- 19. one line per problem, values shortened, the log capped ----


def test_item19_each_problem_once_and_shortened(home: Home) -> None:
    big = "x" * 60_000  # under the 64 KiB file limit, so the file is read and rewritten
    home.write_settings(f'profile = "{big}"\nbreak_min = 500\n')
    show = cli(home, "config", "show")
    assert show.returncode == 0
    assert len(show.stderr.splitlines()) == 2, show.stderr[:2000]
    assert len(show.stderr) < 1000
    set_ = cli(home, "config", "set", "voice", "true")
    assert set_.returncode == 0, set_.stderr[:2000]
    assert len(set_.stderr.splitlines()) == 2, set_.stderr[:2000]
    assert len(set_.stderr) < 1000
    # The user's words stay, whole.
    assert tomllib.loads(home.settings.read_text())["profile"] == big


def test_item19_a_ten_megabyte_file_is_one_line(home: Home) -> None:
    home.write_settings(f'profile = "{"x" * 10_000_000}"\n')
    for args in (("config", "show"), ("config", "set", "voice", "true")):
        out = cli(home, *args)
        assert len(out.stderr.splitlines()) == 1, out.stderr[:2000]
        assert len(out.stderr) < 1000


def test_item19_the_app_logs_each_problem_shortened(home: Home) -> None:
    home.write_settings(f'profile = "{"x" * 60_000}"\n')
    with HeadlessApp.start(home) as app:
        for _ in range(3):
            assert cli(home, "config", "set", "voice", "true").returncode == 0
        assert app.alive()
    assert home.log_file.stat().st_size < 64 * 1024


def test_item19_the_log_handler_holds_its_cap(tmp_path: Path) -> None:
    """One record longer than the whole cap (a 10 MB message) is cut, and rotation keeps
    four files at most: the documented 512 KiB x 4 holds."""
    import logging

    from psoas_break.adapters.files.logging_setup import setup_logging

    log_file = tmp_path / "log" / "psoas-break.log"
    setup_logging(log_file, verbose=False)
    try:
        logger = logging.getLogger("hostile")
        for _ in range(6):
            logger.warning("%s", "y" * 10_000_000)
        try:
            raise ValueError("z" * 10_000_000)
        except ValueError:
            logger.exception("with a huge traceback")
    finally:
        for handler in list(logging.getLogger().handlers):
            handler.close()
            logging.getLogger().removeHandler(handler)
    files = sorted(log_file.parent.glob("psoas-break.log*"))
    assert len(files) <= 4
    assert all(f.stat().st_size <= 512 * 1024 + 32 * 1024 for f in files)


def test_settings_defaults_still_apply(home: Home) -> None:
    assert _store(home).load().settings == Settings()


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


# ---- history rows and stats (6, 7, 8, 14, 20) ----


def _history_with(path: Path, events: list[RecordEvent]) -> None:
    history = SqliteHistory(path, flush_interval_s=0.01)
    for event in events:
        history.record(event)
    assert history.flush()
    history.close()


def _prompt_events(day: datetime, kind: str = "stretch", response: str = "taken"
                   ) -> list[RecordEvent]:
    return [
        RecordEvent("sit_start", day, 0.0, {}),
        RecordEvent("prompt", day + timedelta(minutes=30), 1800.0,
                    {"prompt_kind": kind, "prompt_id": 1, "escalation": 0}),
        RecordEvent("response", day + timedelta(minutes=31), 1860.0,
                    {"prompt_kind": kind, "prompt_id": 1, "response": response}),
        RecordEvent("sit_end", day + timedelta(minutes=31), 1860.0,
                    {"reason": "break", "sit_s": 1860.0}),
    ]


def test_item06_tz_utc_plus_25_stats_and_app_start(home: Home) -> None:
    now = datetime.now(timezone.utc) - timedelta(hours=1)
    _history_with(home.history, _prompt_events(now))
    env = {"TZ": "UTC+25"}
    out = cli(home, "stats", env=env)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "Traceback" not in out.stderr
    with HeadlessApp.start(home, env=env) as app:
        assert app.alive()
        status = cli(home, "status", env=env)
        assert status.returncode == 0, status.stderr
    assert "Traceback" not in app.output()


@pytest.mark.parametrize("offset", ["200000", "-90000", "'x'", "1e400", "X'00'", "86400"])
def test_item07_stats_survives_a_bad_utc_offset(home: Home, offset: str) -> None:
    now = datetime.now(timezone.utc) - timedelta(hours=2)
    _history_with(home.history, _prompt_events(now))
    with sqlite3.connect(home.history) as conn:
        conn.execute(f"UPDATE events SET utc_offset_s = {offset} WHERE id = 2")
    out = cli(home, "stats", "--json")
    assert out.returncode == 0, out.stderr[-2000:]
    assert "Traceback" not in out.stderr
    assert json.loads(out.stdout)["today"]["breaks_taken"] >= 0


@pytest.mark.parametrize(("column", "value"), [
    ("t_utc_s", "'soon'"), ("t_utc_s", "1e300"), ("mono_s", "'x'"), ("kind", "42"),
    ("data", "'{\"sit_s\": 1e308, \"away_s\": 1e300}'"),
    ("data", "'{\"prompt_id\": " + "9" * 400 + "}'"),
])
def test_item07_stats_survives_other_bad_cells(home: Home, column: str, value: str) -> None:
    now = datetime.now(timezone.utc) - timedelta(hours=2)
    _history_with(home.history, _prompt_events(now))
    with sqlite3.connect(home.history) as conn:
        conn.execute(f"UPDATE events SET {column} = {value} WHERE id IN (2, 4)")
    for args in (("stats",), ("stats", "--json"), ("stats", "--csv", "-")):
        out = cli(home, *args)
        assert out.returncode == 0, out.stderr[-2000:]
        assert "Traceback" not in out.stderr


@pytest.mark.parametrize("when", ["9999-12-31T23:59:59+00:00", "0001-01-01T00:00:00+00:00",
                                  "9999-12-31T23:59:59-23:59"])
def test_item08_stats_now_out_of_range_is_a_usage_error(home: Home, when: str) -> None:
    out = cli(home, "stats", "--now", when)
    assert out.returncode == 2, out.stderr[-2000:]
    assert one_bounded_message(out.stderr, max_lines=1), out.stderr


def test_item14_csv_cells_cannot_become_formulas(home: Home, tmp_path: Path) -> None:
    now = datetime.now(timezone.utc) - timedelta(hours=2)
    events = _prompt_events(now, kind='=HYPERLINK("http://x","y")', response="@SUM(1+1)")
    events += _prompt_events(now + timedelta(minutes=40), kind="+1+cmd", response="\tx")
    events += _prompt_events(now + timedelta(minutes=80), kind="-2+3", response="\r=1")
    _history_with(home.history, events)
    target = tmp_path / "out.csv"
    out = cli(home, "stats", "--csv", str(target))
    assert out.returncode == 0, out.stderr
    with target.open(newline="") as handle:
        rows = list(csv.reader(handle))
    assert len(rows) == 1 + 6  # no cell split its row (a bare carriage return would)
    cells = [cell for row in rows[1:] for cell in row]
    number = re.compile(r"^[+-]?\d+(\.\d+)?([eE][+-]?\d+)?$")
    assert all(not cell or cell[0] not in "=+-@\t\r" or number.match(cell) for cell in cells)
    assert "'=HYPERLINK(\"http://x\",\"y\")" in cells and "'@SUM(1+1)" in cells
    # The documented reader gives the original text back.
    _bouts, prompts = read_csv(target.read_text())
    assert {p.kind for p in prompts} == {'=HYPERLINK("http://x","y")', "+1+cmd", "-2+3"}


def test_item20_png_into_a_missing_folder_is_a_usage_error(home: Home, tmp_path: Path) -> None:
    missing = tmp_path / "nonexistent" / "x.png"
    out = cli(home, "stats", "--png", str(missing))
    assert out.returncode == 2, out.stderr
    assert one_bounded_message(out.stderr, max_lines=3), out.stderr
    assert not missing.parent.exists()


def test_item20_two_outputs_on_stdout_is_a_usage_error(home: Home) -> None:
    out = cli(home, "stats", "--csv", "-", "--json")
    assert out.returncode == 2, out.stderr
    assert out.stdout == ""
    assert one_bounded_message(out.stderr, max_lines=3), out.stderr


# ---- 5. working hours in linear time ----


def test_item05_a_day_of_many_ranges_formats_its_error_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The cause was building the error line (the whole day formatted) for every range: count
    those formattings instead of timing (times are measured in bench/hostile_input.py)."""
    from psoas_break.core import working_hours

    calls = []
    real = working_hours._fmt

    def counting(raw: object) -> str:
        calls.append(1)
        return real(raw)

    monkeypatch.setattr(working_hours, "_fmt", counting)
    # 1,440 ranges (the most a day can hold) that overlap: every one is parsed, one error.
    with pytest.raises(working_hours.WorkingHoursError, match="overlaps"):
        working_hours.validate_working_hours({"mon": ["09:00-09:01"] * 1440})
    assert len(calls) <= 2


@pytest.mark.parametrize("n", [4_000, 100_000])
def test_item05_huge_working_hours_are_refused_through_the_cli(home: Home, n: int) -> None:
    # One command-line argument holds at most 128 KiB on Linux: 10,000 ranges there.
    ranges = ",".join(["09:00-09:01"] * min(n, 10_000))
    out = cli(home, "config", "set", "working_hours", f"mon {ranges}", timeout_s=120)
    assert out.returncode == 2
    assert one_bounded_message(out.stderr, max_lines=1), out.stderr[:2000]
    home.write_settings("[working_hours]\nmon = [" + ", ".join(['"09:00-09:01"'] * n) + "]\n")
    out = cli(home, "config", "show", timeout_s=120)
    assert out.returncode == 0
    assert one_bounded_message(out.stderr, max_lines=1), out.stderr[:2000]


# ---- 12. a damaged history is salvaged ----


def _events(n: int, pad: int = 40) -> list[RecordEvent]:
    t0 = datetime(2026, 3, 2, 8, tzinfo=timezone.utc)
    return [RecordEvent("prompt", t0 + timedelta(minutes=i), float(i),
                        {"seq": i, "pad": "p" * pad}) for i in range(n)]


def _seqs(db: Path) -> list[int]:
    with sqlite3.connect(db) as conn:
        return [json.loads(r[0])["seq"] for r in
                conn.execute("SELECT data FROM events ORDER BY id").fetchall()]


def _scribble(db: Path, page_no: int) -> bytes:
    data = bytearray(db.read_bytes())
    page = 4096
    data[(page_no - 1) * page: page_no * page] = bytes([0xA5]) * page
    db.write_bytes(bytes(data))
    return bytes(data)


def test_item12_a_damaged_index_page_loses_no_event(tmp_path: Path) -> None:
    db = tmp_path / "history.sqlite3"
    _history_with(db, _events(280))
    with sqlite3.connect(db) as conn:
        (index_root,) = conn.execute(
            "SELECT rootpage FROM sqlite_master WHERE name = 'events_by_time'").fetchone()
    damaged = _scribble(db, index_root)
    notices: list[str] = []
    history = SqliteHistory(db, on_notice=notices.append)
    assert history.wait_ready()
    history.close()
    assert history.moved_aside_to is not None
    assert history.moved_aside_to.read_bytes() == damaged  # the original is kept as it was
    assert _seqs(db) == list(range(280))
    assert len(notices) == 1 and "280 events were recovered" in notices[0], notices
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_item12_a_damaged_table_page_keeps_every_other_page(tmp_path: Path) -> None:
    db = tmp_path / "history.sqlite3"
    _history_with(db, _events(600, pad=400))
    with sqlite3.connect(db) as conn:
        pages = conn.execute("PRAGMA page_count").fetchone()[0]
    _scribble(db, pages // 2)
    notices: list[str] = []
    history = SqliteHistory(db, on_notice=notices.append)
    assert history.wait_ready()
    history.close()
    recovered = _seqs(db)
    assert 500 < len(recovered) < 600
    assert recovered == sorted(recovered)
    assert len(notices) == 1 and f"{len(recovered)} events were recovered" in notices[0]


# ---- 13. private files and folders ----


def _modes(root: Path) -> dict[str, int]:
    return {str(p.relative_to(root)): _mode(p) for p in sorted(root.rglob("*"))
            if not p.is_symlink()}


def test_item13_a_new_install_is_private(home: Home) -> None:
    with HeadlessApp.start(home) as app:
        assert cli(home, "break-now").returncode == 0
        assert app.alive()
        wal = Path(f"{home.history}-wal")
        deadline = time.monotonic() + 30
        while not wal.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert wal.exists()  # the running app's write-ahead log, as private as the file
        assert _mode(wal) == 0o600 and _mode(Path(f"{home.history}-shm")) == 0o600
    for folder in (home.data_dir, home.state_dir, home.cache_dir, home.log_file.parent):
        assert _mode(folder) == 0o700, folder
    for base in (home.data_dir, home.state_dir, home.cache_dir):
        for name, mode in _modes(base).items():
            wanted = 0o700 if (base / name).is_dir() else 0o600
            assert mode == wanted, (base, name, oct(mode))
    assert home.history.exists() and home.log_file.exists()


def test_item13_an_old_install_is_made_private_on_start(home: Home) -> None:
    _history_with(home.history, _events(3))
    home.log_file.parent.mkdir(parents=True)
    home.log_file.write_text("old log\n")
    (home.cache_dir / "pages").mkdir(parents=True)
    (home.cache_dir / "pages" / "old.html").write_text("<p>old</p>")
    for path in (home.data_dir, home.state_dir, home.log_file.parent, home.cache_dir,
                 home.cache_dir / "pages"):
        path.chmod(0o755)
    for path in (home.history, home.log_file, home.cache_dir / "pages" / "old.html"):
        path.chmod(0o644)
    with HeadlessApp.start(home) as app:
        assert app.alive()
    for base in (home.data_dir, home.state_dir, home.cache_dir):
        assert _mode(base) == 0o700
        for name, mode in _modes(base).items():
            wanted = 0o700 if (base / name).is_dir() else 0o600
            assert mode == wanted, (base, name, oct(mode))


# ---- 22. smaller findings (history) ----


def test_item22_a_folder_at_the_history_path_is_named_as_such(home: Home) -> None:
    home.history.mkdir(parents=True)
    notices: list[str] = []
    history = SqliteHistory(home.history, on_notice=notices.append, retry_s=3600)
    assert history.wait_ready()
    history.close()
    assert len(notices) == 1 and "is a folder" in notices[0], notices
    assert "disk I/O" not in notices[0]
    out = cli(home, "stats")
    assert out.returncode == 1
    assert "is a folder" in out.stderr and one_bounded_message(out.stderr, max_lines=1)


def test_item22_a_foreign_sqlite_file_is_left_alone(home: Home) -> None:
    home.data_dir.mkdir(parents=True)
    with sqlite3.connect(home.history) as conn:
        conn.execute("CREATE TABLE notes (x TEXT)")
        conn.execute("INSERT INTO notes VALUES ('mine')")
    before = home.history.read_bytes()
    notices: list[str] = []
    history = SqliteHistory(home.history, on_notice=notices.append, retry_s=3600)
    history.record(_events(1)[0])
    assert not history.flush(timeout_s=5)
    history.close()
    assert home.history.read_bytes() == before
    assert len(notices) == 1 and "another program" in notices[0], notices
    for args in (("stats",), ("stats", "--forget-before", "2026-01-01")):
        out = cli(home, *args)
        assert out.returncode == 1, out
        assert "another program" in out.stderr and one_bounded_message(out.stderr, max_lines=1)
    assert home.history.read_bytes() == before


# ---- rule 3: no recorded event is dropped when the history cannot be written ----


def test_rule3_events_wait_in_a_private_journal_and_arrive_later(tmp_path: Path) -> None:
    db = tmp_path / "data" / "history.sqlite3"
    db.mkdir(parents=True)  # something in the way: the database cannot be opened
    history = SqliteHistory(db, retry_s=3600, memory_cap=10)
    for event in _events(50):
        history.record(event)
    assert not history.flush(timeout_s=5)
    history.close()
    journal = Path(f"{db}.pending")
    assert journal.exists() and _mode(journal) == 0o600
    db.rmdir()
    again = SqliteHistory(db)
    assert again.wait_ready()
    again.record(_events(51)[50])
    assert again.flush()
    again.close()
    assert _seqs(db) == list(range(51))
    assert not journal.exists()


def test_rule3_a_journal_imported_twice_adds_nothing(tmp_path: Path) -> None:
    db = tmp_path / "history.sqlite3"
    db.mkdir()
    history = SqliteHistory(db, retry_s=3600)
    for event in _events(20):
        history.record(event)
    history.close()
    journal = Path(f"{db}.pending")
    kept = journal.read_bytes()
    db.rmdir()
    SqliteHistory(db).close()
    journal.write_bytes(kept)  # as if the app died between the commit and the removal
    SqliteHistory(db).close()
    assert _seqs(db) == list(range(20))


# ---- 15. markup in notifications sent through plyer ----

PLYER_MARKUP = """
from psoas_break.adapters.notify.plyer_notifier import PlyerNotifier
from psoas_break.ports import Notification
PlyerNotifier().notify(Notification(title="T", body="<b>bold</b> & <a href='x'>link</a>",
                                    icon=None, timeout_s=5))
"""


def test_item15_plyer_escapes_body_markup(desktop: DesktopSession) -> None:
    """Real: plyer's dbus-python path to the test desktop's recording notification server."""
    server = desktop.start_notification_server()
    env = dict(desktop.env, PYTHONPATH=str(REPO))
    done = subprocess.run([sys.executable, "-c", PLYER_MARKUP], env=env, capture_output=True,
                          text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    entry = server.wait_for_notification()
    assert entry["body"] == "&lt;b&gt;bold&lt;/b&gt; &amp; &lt;a href='x'&gt;link&lt;/a&gt;"


# ---- 18. the control socket path: app and CLI agree and say what is wrong ----


def _wait_running(home: Home, app: HeadlessApp) -> subprocess.CompletedProcess[str]:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert app.alive(), app.output()
        out = cli(home, "status")
        if "running" in out.stderr and "not running" not in out.stderr:
            return out
        time.sleep(0.2)
    raise AssertionError(f"the CLI never saw the app running:\n{app.output()}")


@pytest.mark.parametrize("thing", ["file", "folder"])
def test_item18_something_at_the_socket_path_is_named_by_app_and_cli(home: Home,
                                                                     thing: str) -> None:
    home.runtime_dir.mkdir(mode=0o700, parents=True)
    sock = home.runtime_dir / "control.sock"
    if thing == "file":
        sock.write_text("not a socket")
    else:
        sock.mkdir()
    with HeadlessApp.start(home, ready=False) as app:
        status = _wait_running(home, app)
        assert status.returncode == 1
        kind = "a regular file" if thing == "file" else "a folder"
        assert f"{kind}, not its control socket" in status.stderr, status.stderr
        assert one_bounded_message(status.stderr, max_lines=1), status.stderr
        second = cli(home, "run")
        assert "already running" in second.stdout
        assert f"{kind}, not its control socket" in second.stdout + second.stderr
        assert app.alive()


def test_item18_a_runtime_folder_that_is_not_private_is_still_the_one_used(home: Home) -> None:
    run = home.root / "run"
    run.chmod(0o755)
    with HeadlessApp.start(home) as app:  # status answers: the CLI finds the app's socket
        assert (home.runtime_dir / "control.sock").exists()
        assert _mode(home.runtime_dir) == 0o700
        doctor = cli(home, "doctor")
        assert "not private" in doctor.stdout, doctor.stdout
        assert app.alive()


# ---- 21. autostart with both % and = in the interpreter's path ----
# The entry that starts such an interpreter through GLib's real launcher is checked in
# tests/test_autostart.py (its WEIRD_DIR has both characters since #19).


def test_item21_status_is_not_on_for_an_entry_env_cannot_start(tmp_path: Path) -> None:
    from psoas_break.adapters.autostart.xdg import XdgAutostart, exec_value

    folder = tmp_path / "a%b=c"
    folder.mkdir()
    exe = folder / "python"
    exe.write_text("#!/bin/sh\n")
    exe.chmod(0o755)
    autostart = XdgAutostart(config_home=tmp_path / "config", executable=str(exe))
    # What an older version wrote for this interpreter: env would read the path as NAME=VALUE.
    old = autostart.desktop_entry().splitlines()
    old = [f"Exec={exec_value(['/usr/bin/env', str(exe), '-m', 'psoas_break', 'run'])}"
           if line.startswith("Exec=") else line for line in old]
    autostart.path.parent.mkdir(parents=True)
    autostart.path.write_text("\n".join(old) + "\n")
    status = autostart.status()
    assert not status.enabled and status.stale
    assert "variable setting" in status.detail
    assert autostart.enable().enabled  # `autostart on` rewrites it, through sh
    assert "/bin/sh" in autostart.path.read_text()


# ---- 22. smaller findings ----


LOCK_HOLDER = """
import fcntl, os, sys, time
fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT, 0o600)
fcntl.flock(fd, fcntl.LOCK_EX)
print("held", flush=True)
time.sleep(60)
"""


def test_item22_a_lock_held_by_another_program_is_said_plainly(home: Home) -> None:
    home.runtime_dir.mkdir(mode=0o700, parents=True)
    lock = home.runtime_dir / "instance.lock"
    holder = subprocess.Popen([sys.executable, "-c", LOCK_HOLDER, str(lock)],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        out = cli(home, "run")
        text = out.stdout + out.stderr
        assert "pid None" not in text
        assert "lock file" in text and str(lock) in text, text
    finally:
        holder.kill()
        holder.wait()


@pytest.mark.parametrize(("args", "request_"), [
    (("snooze", "١٠"), {"cmd": "snooze", "minutes": 10}),
    (("pause", "٣٠"), {"cmd": "pause", "seconds": 1800}),
    (("snooze", "10"), {"cmd": "snooze", "minutes": 10}),
    (("pause", "30"), {"cmd": "pause", "seconds": 1800}),
])
def test_item22_digits_are_read_alike_by_snooze_and_pause(
    args: tuple[str, ...], request_: dict[str, object]
) -> None:
    from psoas_break.cli import build_parser
    from psoas_break.cli.control import request_for

    assert request_for(build_parser().parse_args(list(args))) == request_


@pytest.mark.skipif(not Path("/usr/bin/setpriv").exists() and os.geteuid() == 0,
                    reason="root needs setpriv to meet a real permission error")
def test_item22_a_permission_error_is_not_called_read_only(home: Home) -> None:
    home.config_dir.mkdir(parents=True)
    home.settings.write_text("break_min = 5\n")
    if os.geteuid() == 0:
        # Root passes every permission check: run the command as nobody, who may not enter
        # the (root-owned, 0700) folders, which is a real EACCES from the kernel.
        prefix = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
        home.root.chmod(0o755)
        for sub in ("config",):
            (home.root / sub).chmod(0o755)
        home.config_dir.chmod(0o700)
    else:
        prefix = []
        home.config_dir.chmod(0o500)
    try:
        out = subprocess.run([*prefix, sys.executable, "-m", "psoas_break", "config", "set",
                              "voice", "true"], env=home.env, capture_output=True, text=True,
                             timeout=60, check=False)
    finally:
        home.config_dir.chmod(0o700)
    assert out.returncode == 1, out
    assert "permission denied" in out.stderr, out.stderr
    assert "read-only" not in out.stderr


# ---- 17. idle connections cannot starve the control socket ----
# Fixed in #13 (adapters/control/server.py: one selector thread, no thread per connection);
# tests/test_control_server.py::test_idle_connections_never_starve_a_request checks the server
# alone. This is the issue's own reproduction, against the running app and the real CLI.


def test_item17_sixty_idle_connections_do_not_starve_status(home: Home) -> None:
    import socket

    with HeadlessApp.start(home) as app:
        idle = [socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) for _ in range(60)]
        try:
            for s in idle:
                s.connect(str(home.runtime_dir / "control.sock"))
            for _ in range(5):
                out = cli(home, "status")
                assert out.returncode == 0, out.stderr
                assert "busy" not in out.stderr
        finally:
            for s in idle:
                s.close()
        assert app.alive()
