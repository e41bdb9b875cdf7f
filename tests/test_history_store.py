"""The SQLite history store, for real: files, WAL, a writer thread, kill -9, damaged files,
a file-size limit standing in for a full disk, an unwritable folder, a locked database."""

from __future__ import annotations

import json
import logging
import os
import random
import re
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pytest

from psoas_break.adapters.history import (
    SqliteHistory,
    default_db_path,
    forget_before,
    read_events,
)
from psoas_break.adapters.history import sqlite_history as sh
from psoas_break.core.events import RecordEvent

REPO = Path(__file__).resolve().parents[1]
LOGGER = "psoas_break.adapters.history.sqlite_history"
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=timezone(timedelta(hours=1)))
EVERYTHING = (datetime(1970, 1, 2, tzinfo=timezone.utc), datetime(2100, 1, 1, tzinfo=timezone.utc))


def ev(i: int, kind: str = "prompt", **data: object) -> RecordEvent:
    return RecordEvent(kind, T0 + timedelta(seconds=i), 1000.0 + i, {"seq": i, **data})


def rows(db: Path) -> int:
    conn = sqlite3.connect(db)
    try:
        return int(conn.execute("SELECT count(*) FROM events").fetchone()[0])
    finally:
        conn.close()


def warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records
            if r.name == LOGGER and r.levelno >= logging.WARNING]


# ---- basics ----


def test_round_trip_schema_wal_and_index(tmp_path: Path) -> None:
    db = tmp_path / "sub" / "history.sqlite3"
    berlin_summer = timezone(timedelta(hours=2))
    events = [
        RecordEvent("sit_start", T0.replace(microsecond=123457), 5.5),
        RecordEvent("sit_end", T0 + timedelta(minutes=31), 1865.25,
                    {"reason": "break", "sit_s": 1859.75}),
        RecordEvent("pause", datetime(2026, 7, 1, 12, 0, tzinfo=berlin_summer), 9.0,
                    {"pause_s": 60.0, "until": "2026-07-01T12:01:00+02:00"}),
        RecordEvent("natural_break", datetime(2026, 7, 1, 1, 0, tzinfo=timezone.utc), 10.0,
                    {"source": "suspend", "away_s": 3600.0}),
    ]
    h = SqliteHistory(db)
    for e in events:
        h.record(e)
    h.close()
    assert read_events(db, *EVERYTHING) == events
    back = read_events(db, *EVERYTHING)
    assert back[2].wall.utcoffset() == timedelta(hours=2)  # the local offset is kept
    conn = sqlite3.connect(db)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA user_version").fetchone()[0] == sh.SCHEMA_VERSION
    plan = " ".join(str(r) for r in conn.execute(
        "EXPLAIN QUERY PLAN SELECT * FROM events WHERE t_utc_s >= 1 AND t_utc_s < 2"))
    assert "events_by_time" in plan
    conn.close()
    # Range reads: [start, end) on the instant whatever the offsets, in recorded order.
    only = read_events(db, datetime(2026, 7, 1, 1, 0, tzinfo=timezone.utc),
                       datetime(2026, 7, 1, 10, 0, 1, tzinfo=timezone.utc))
    assert [e.kind for e in only] == ["pause", "natural_break"]
    only = read_events(db, datetime(2026, 7, 1, 1, 0, tzinfo=timezone.utc),
                       datetime(2026, 7, 1, 10, 0, tzinfo=timezone.utc))
    assert [e.kind for e in only] == ["natural_break"]
    only = read_events(db, datetime(2026, 7, 1, 1, 0, 1, tzinfo=timezone.utc),
                       datetime(2026, 7, 1, 10, 0, 1, tzinfo=timezone.utc))
    assert [e.kind for e in only] == ["pause"]


def test_reading_a_missing_file_creates_nothing(tmp_path: Path) -> None:
    db = tmp_path / "none.sqlite3"
    assert read_events(db, *EVERYTHING) == []
    assert sh.count_events(db) == 0 and forget_before(db, date(2030, 1, 1)) == 0
    assert sh.first_event_time(db) is None
    assert not db.exists()


def test_default_path_honours_xdg_data_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                            ) -> None:
    if sys.platform != "linux":
        pytest.skip("XDG_DATA_HOME is a Linux convention")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    assert default_db_path() == tmp_path / "psoas-break" / "history.sqlite3"


def test_writes_are_batched_into_one_transaction(tmp_path: Path) -> None:
    db = tmp_path / "h.sqlite3"
    commits: list[int] = []
    h = SqliteHistory(db, flush_interval_s=3600, batch_max=1000, on_commit=commits.append)
    assert h.wait_ready()
    for i in range(250):
        h.record(ev(i))
    time.sleep(0.2)
    assert rows(db) == 0  # nothing due yet: neither the interval nor batch_max reached
    assert h.flush()
    assert rows(db) == 250 and commits == [250]
    # batch_max commits without being asked.
    for i in range(250, 1250):
        h.record(ev(i))
    deadline = time.monotonic() + 10
    while rows(db) < 1250 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert rows(db) == 1250 and commits[1] == 1250
    # The interval commits too.
    h2_commits: list[int] = []
    h.close()
    h2 = SqliteHistory(db, flush_interval_s=0.05, batch_max=10_000, on_commit=h2_commits.append)
    h2.record(ev(2000))
    deadline = time.monotonic() + 10
    while not h2_commits and time.monotonic() < deadline:
        time.sleep(0.02)
    assert h2_commits == [1]
    h2.close()
    h2.close()  # twice is fine
    h2.record(ev(3000))  # after close: dropped quietly, no exception
    assert rows(db) == 1251


def test_close_writes_what_is_queued(tmp_path: Path) -> None:
    db = tmp_path / "h.sqlite3"
    h = SqliteHistory(db, flush_interval_s=3600, batch_max=10_000)
    for i in range(500):
        h.record(ev(i, note={"nested": [1, 2]}, when=datetime(2026, 1, 1, tzinfo=timezone.utc)))
    h.close()
    back = read_events(db, *EVERYTHING)
    assert len(back) == 500
    assert back[7].data["note"] == {"nested": [1, 2]}
    assert back[7].data["when"] == "2026-01-01 00:00:00+00:00"  # not JSON: stored as text


def test_record_never_blocks_while_another_process_holds_the_lock(tmp_path: Path) -> None:
    db = tmp_path / "h.sqlite3"
    h = SqliteHistory(db, flush_interval_s=0.01, batch_max=50, retry_s=0.1)
    assert h.wait_ready()
    h.record(ev(0))
    assert h.flush()
    other = sqlite3.connect(db, isolation_level=None)
    other.execute("BEGIN EXCLUSIVE")
    # The writer is stuck on the lock; record() must still return at once, every time (if it
    # waited for the writer, this loop would hang until pytest's timeout).
    for i in range(1, 5001):
        h.record(ev(i))
    time.sleep(0.3)
    other.execute("ROLLBACK")
    other.close()
    assert h.flush(timeout_s=30)
    h.close()
    assert [e.data["seq"] for e in read_events(db, *EVERYTHING)] == list(range(5001))


def test_two_stores_opening_a_new_file_at_once_both_work(tmp_path: Path) -> None:
    db = tmp_path / "h.sqlite3"
    stores: list[SqliteHistory] = []
    threads = [threading.Thread(target=lambda: stores.append(SqliteHistory(db)))
               for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for n, s in enumerate(stores):
        s.record(ev(n))
        assert s.flush()
        assert s.last_notice is None
    for s in stores:
        s.close()
    assert rows(db) == 2


OPENER_CHILD = r"""
import json, logging, sys, time
from datetime import datetime, timezone
from pathlib import Path
sys.path.insert(0, sys.argv[5])
from psoas_break.adapters.history.sqlite_history import SqliteHistory
from psoas_break.core.events import RecordEvent

logging.basicConfig(level=logging.WARNING, stream=sys.stderr, format="%(levelname)s %(message)s")
folder, who = Path(sys.argv[1]), int(sys.argv[2])
files, slot_s = int(sys.argv[3]), float(sys.argv[4])
print("ready", flush=True)
start = float(sys.stdin.readline())  # a time.monotonic() instant (one clock for the machine)
results = []
for k in range(files):
    # Every process opens file k at start + k * slot: sleep to just before it, then spin.
    at = start + k * slot_s
    while at - time.monotonic() > 0.003:
        time.sleep(at - time.monotonic() - 0.003)
    while time.monotonic() < at:
        pass
    notices = []
    store = SqliteHistory(folder / f"history-{k}.sqlite3", on_notice=notices.append)
    store.record(RecordEvent("prompt", datetime.now(timezone.utc), float(k), {"who": who}))
    ok = store.flush(timeout_s=60)
    store.close(timeout_s=60)
    results.append({"ok": ok, "notices": notices})
print(json.dumps(results))
"""


def test_processes_opening_new_files_at_the_same_instant_all_work_with_no_notice(
    tmp_path: Path,
) -> None:
    # Several processes create each new history at the same instant (they agree on the
    # instants through a pipe), many times over: each one opens, writes and closes with no
    # notice and no warning. On a busy machine some instants are missed; that only makes a
    # round easier, never a false failure.
    processes, files, slot_s = 4, 20, 0.04
    script = tmp_path / "opener.py"
    script.write_text(OPENER_CHILD)
    children = [
        subprocess.Popen(
            [sys.executable, str(script), str(tmp_path), str(who), str(files), str(slot_s),
             str(REPO)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        for who in range(processes)
    ]
    try:
        for child in children:
            assert child.stdout is not None and child.stdin is not None
            assert child.stdout.readline() == "ready\n", child.stderr
        start = time.monotonic() + 0.3  # every child is waiting on its pipe by now
        for child in children:
            assert child.stdin is not None
            child.stdin.write(f"{start!r}\n")
            child.stdin.flush()
        outputs = [child.communicate(timeout=120) for child in children]
    finally:
        for child in children:
            if child.poll() is None:
                child.kill()
                child.wait(timeout=30)
    for child, (out, err) in zip(children, outputs, strict=True):
        assert child.returncode == 0, err
        assert err == "", err  # no warning: no "database is locked", nothing moved aside
        assert json.loads(out) == [{"ok": True, "notices": []}] * files
    for k in range(files):
        db = tmp_path / f"history-{k}.sqlite3"
        assert not list(tmp_path.glob(f"history-{k}.sqlite3.corrupt-*"))
        assert sorted(e.data["who"] for e in read_events(db, *EVERYTHING)) == list(
            range(processes))
        conn = sqlite3.connect(db)
        try:
            assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
            assert conn.execute("PRAGMA user_version").fetchone()[0] == sh.SCHEMA_VERSION
        finally:
            conn.close()


def test_forget_before_uses_the_local_day_of_each_event(tmp_path: Path) -> None:
    db = tmp_path / "h.sqlite3"
    plus1, minus5 = timezone(timedelta(hours=1)), timezone(timedelta(hours=-5))
    h = SqliteHistory(db)
    # Local 2026-03-01 23:30 at +01:00 is 22:30 UTC on the 1st; local 2026-03-01 22:00 at
    # -05:00 is 03:00 UTC on the 2nd: both belong to March 1st.
    h.record(RecordEvent("sit_start", datetime(2026, 3, 1, 23, 30, tzinfo=plus1), 1.0))
    h.record(RecordEvent("sit_start", datetime(2026, 3, 1, 22, 0, tzinfo=minus5), 2.0))
    h.record(RecordEvent("sit_start", datetime(2026, 3, 2, 0, 0, tzinfo=plus1), 3.0))
    h.record(RecordEvent("sit_start", datetime(2026, 3, 2, 0, 30, tzinfo=minus5), 4.0))
    h.close()
    assert forget_before(db, date(2026, 3, 2)) == 2
    assert [e.mono_s for e in read_events(db, *EVERYTHING)] == [3.0, 4.0]
    assert forget_before(db, date(2026, 3, 2)) == 0
    assert forget_before(db, date(2026, 3, 3)) == 2
    assert sh.count_events(db) == 0


# ---- damaged files ----


def test_not_a_database_is_moved_aside_with_its_wal_and_a_fresh_one_works(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    db = tmp_path / "history.sqlite3"
    junk = b"this is not an SQLite file\n" * 400
    db.write_bytes(junk)
    Path(f"{db}-wal").write_bytes(b"old wal")
    Path(f"{db}-shm").write_bytes(b"old shm")
    notices: list[str] = []
    h = SqliteHistory(db, on_notice=notices.append)
    assert h.wait_ready()
    h.record(ev(1))
    assert h.flush()
    h.close()
    moved = h.moved_aside_to
    assert moved is not None and moved.parent == tmp_path
    assert moved.name.startswith("history.sqlite3.corrupt-")
    stamp = moved.name.removeprefix("history.sqlite3.corrupt-")
    assert re.fullmatch(r"20\d{6}-\d{6}", stamp)
    assert moved.read_bytes() == junk  # kept, byte for byte
    assert Path(f"{moved}-wal").read_bytes() == b"old wal"
    assert Path(f"{moved}-shm").exists()  # only an index SQLite rebuilds; the WAL is the data
    assert len(notices) == 1 and moved.name in notices[0] and "damaged" in notices[0]
    assert len(warnings(caplog)) == 1 and "moved it aside" in warnings(caplog)[0]
    assert [e.data["seq"] for e in read_events(db, *EVERYTHING)] == [1]


def test_malformed_database_is_moved_aside(tmp_path: Path) -> None:
    db = tmp_path / "history.sqlite3"
    h = SqliteHistory(db, batch_max=500)
    for i in range(3000):
        h.record(ev(i, pad="x" * 100))
    h.close()  # the last connection closes: the WAL is checkpointed into the file
    assert not Path(f"{db}-wal").exists() or Path(f"{db}-wal").stat().st_size == 0
    data = bytearray(db.read_bytes())
    page = 4096
    assert len(data) > 20 * page
    # Scribble over pages 2..9: the events table's root and the first index pages.
    data[page:9 * page] = bytes([0xA5]) * (8 * page)
    db.write_bytes(bytes(data))
    notices: list[str] = []
    h = SqliteHistory(db, on_notice=notices.append)
    h.record(ev(1))
    assert h.flush()
    h.close()
    assert h.moved_aside_to is not None and h.moved_aside_to.read_bytes() == bytes(data)
    assert notices and "moved aside" in notices[0]
    assert rows(db) == 1


def test_a_second_damaged_file_in_the_same_second_gets_its_own_name(tmp_path: Path) -> None:
    db = tmp_path / "history.sqlite3"
    when = datetime(2026, 3, 2, 9, 0, 0, tzinfo=timezone.utc)
    db.write_bytes(b"one")
    first = sh.move_aside(db, when)
    db.write_bytes(b"two")
    second = sh.move_aside(db, when)
    assert first != second and first.read_bytes() == b"one" and second.read_bytes() == b"two"
    assert second.name == "history.sqlite3.corrupt-20260302-090000-1"


def test_empty_file_is_a_valid_empty_database(tmp_path: Path) -> None:
    db = tmp_path / "history.sqlite3"
    db.write_bytes(b"")
    h = SqliteHistory(db)
    h.record(ev(1))
    assert h.flush()
    h.close()
    assert h.moved_aside_to is None and rows(db) == 1


def test_newer_schema_is_left_alone_and_said_so(tmp_path: Path,
                                                caplog: pytest.LogCaptureFixture) -> None:
    db = tmp_path / "history.sqlite3"
    conn = sqlite3.connect(db)
    conn.execute("CREATE TABLE future (x)")
    conn.execute("PRAGMA user_version = 99")
    conn.commit()
    conn.close()
    before = db.read_bytes()
    notices: list[str] = []
    h = SqliteHistory(db, on_notice=notices.append, retry_s=0.05)
    h.record(ev(1))
    assert not h.flush()
    assert not h.flush()
    h.close()
    assert h.moved_aside_to is None
    assert db.read_bytes() == before
    assert len(notices) == 1 and "newer psoas-break" in notices[0]
    assert len(warnings(caplog)) == 1  # "newer" once; the event waits in the journal (#19)
    assert len(Path(f"{db}.pending").read_text().splitlines()) == 1


# ---- outside trouble: unwritable folder, full disk ----


def test_unwritable_location_keeps_events_in_memory_and_logs_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # /proc refuses new files even to root: a real unwritable place on any Linux.
    if not Path("/proc/self").exists():
        pytest.skip("needs /proc")
    caplog.set_level(logging.INFO, logger=LOGGER)
    db = Path("/proc/psoas-break-test/history.sqlite3")
    notices: list[str] = []
    h = SqliteHistory(db, retry_s=0.01, memory_cap=50, on_notice=notices.append)
    assert h.wait_ready()
    for i in range(120):
        h.record(ev(i))
    for _ in range(5):
        assert not h.flush(timeout_s=5)
    h.close(timeout_s=5)
    texts = warnings(caplog)
    assert sum("cannot open the history database" in t for t in texts) == 1
    assert sum("dropping the oldest" in t for t in texts) == 1
    assert sum("could not be written before exit" in t for t in texts) == 1
    assert len(notices) == 1 and "not being saved" in notices[0]


DISK_FULL_CHILD = r"""
import json, logging, os, resource, signal, sys
from datetime import datetime, timedelta, timezone
from pathlib import Path
sys.path.insert(0, sys.argv[2])
from psoas_break.adapters.history.sqlite_history import SqliteHistory
from psoas_break.core.events import RecordEvent

signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG
logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(levelname)s %(message)s")
db = Path(sys.argv[1])
t0 = datetime(2026, 3, 2, tzinfo=timezone.utc)
def ev(i):
    return RecordEvent("prompt", t0 + timedelta(seconds=i), float(i), {"seq": i, "pad": "x" * 2000})
notices = []
h = SqliteHistory(db, flush_interval_s=3600, batch_max=10**6, retry_s=0.05, memory_cap=300,
                  on_notice=notices.append)
for i in range(10):
    h.record(ev(i))
ok = [h.flush()]
size = max(os.path.getsize(p) for p in (db, f"{db}-wal") if os.path.exists(p))
soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
resource.setrlimit(resource.RLIMIT_FSIZE, (size + 4096, hard))
for i in range(10, 400):
    h.record(ev(i))
ok += [h.flush(), h.flush(), h.flush()]
resource.setrlimit(resource.RLIMIT_FSIZE, (hard, hard))
ok.append(h.flush())
h.close()
print(json.dumps({"ok": ok, "notices": notices}))
"""


@pytest.mark.skipif(sys.platform == "win32", reason="RLIMIT_FSIZE is POSIX")
def test_full_disk_keeps_events_retries_and_recovers(tmp_path: Path) -> None:
    db = tmp_path / "history.sqlite3"
    script = tmp_path / "child.py"
    script.write_text(DISK_FULL_CHILD)
    proc = subprocess.run([sys.executable, str(script), str(db), str(REPO)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert result["ok"] == [True, False, False, False, True]
    log_lines = [ln for ln in proc.stderr.splitlines() if ln.startswith(("WARNING", "INFO"))]
    failing = [ln for ln in log_lines if "cannot write the history database" in ln]
    assert len(failing) == 1, proc.stderr  # logged once, not once per retry
    assert sum("dropping the oldest" in ln for ln in log_lines) == 1
    assert sum("writable again" in ln for ln in log_lines) == 1
    assert len(result["notices"]) == 2  # "not being saved", then "being saved again"
    # The first 10, then the newest 300 of the 390 queued while the disk was full.
    seqs = [e.data["seq"] for e in read_events(db, *EVERYTHING)]
    assert seqs == list(range(10)) + list(range(100, 400))
    conn = sqlite3.connect(db)
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    conn.close()


# ---- kill -9 during heavy writes ----

KILL_CHILD = r"""
import os, sys, time
from datetime import datetime, timedelta, timezone
from pathlib import Path
sys.path.insert(0, sys.argv[4])
from psoas_break.adapters.history.sqlite_history import SqliteHistory
from psoas_break.core.events import RecordEvent

db, run, report = Path(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
fd = os.open(report, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
def committed(total):
    # One write() per line: after SIGKILL the file holds whole lines only.
    os.write(fd, f"{total}\n".encode())
h = SqliteHistory(db, flush_interval_s=0.005, batch_max=64, on_commit=committed)
t0 = datetime(2026, 3, 2, tzinfo=timezone.utc)
i = 0
while True:
    h.record(RecordEvent("prompt", t0 + timedelta(seconds=i), float(i),
                         {"run": run, "seq": i, "pad": "y" * 300}))
    i += 1
    if i % 32 == 0:
        time.sleep(0.0005)
"""


def _committed(report: Path) -> int:
    if not report.exists():
        return 0
    lines = report.read_text().split("\n")[:-1]  # only whole lines
    return max((int(x) for x in lines), default=0)


def test_kill_9_during_heavy_writes_loses_no_committed_event(tmp_path: Path) -> None:
    db = tmp_path / "history.sqlite3"
    script = tmp_path / "writer.py"
    script.write_text(KILL_CHILD)
    rng = random.Random(20260302)
    runs = 14
    for run in range(runs):
        report = tmp_path / f"committed-{run}.txt"
        proc = subprocess.Popen([sys.executable, str(script), str(db), str(run), str(report),
                                 str(REPO)])
        try:
            if run % 5 == 4:
                time.sleep(rng.uniform(0.0, 0.15))  # sometimes during start-up and open
            else:
                deadline = time.monotonic() + 30
                while _committed(report) == 0 and time.monotonic() < deadline:
                    assert proc.poll() is None, "writer died by itself"
                    time.sleep(0.005)
                assert _committed(report) > 0, "writer never committed"
                time.sleep(rng.uniform(0.0, 0.3))
        finally:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)
        assert proc.returncode == -signal.SIGKILL
        reported = _committed(report)
        conn = sqlite3.connect(db)
        try:
            assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
            seqs = [r[0] for r in conn.execute(
                "SELECT json_extract(data, '$.seq') FROM events "
                "WHERE json_extract(data, '$.run') = ? ORDER BY id", (run,))]
        finally:
            conn.close()
        # Every event reported committed is there, and what is there has no holes (batches
        # commit in order, whole or not at all).
        assert len(seqs) >= reported
        assert seqs == list(range(len(seqs)))
    # The store opens the survivor normally: nothing judged damaged, nothing moved aside.
    notices: list[str] = []
    h = SqliteHistory(db, on_notice=notices.append)
    h.record(ev(0))
    assert h.flush()
    h.close()
    assert notices == [] and h.moved_aside_to is None
    assert not list(tmp_path.glob("*.corrupt-*"))
