"""Benchmark: time and memory per hostile-input case (#19), against floors from the same run.

    .venv/bin/python bench/hostile_input.py [--runs 5] [--json]

In the process (median time of --runs, peak Python memory by tracemalloc):
- settings: `SettingsStore.load()` of each class the issue reported (deep nesting, huge
  integers, 2,000-deep dotted keys, a FIFO, /dev/zero, a 10 MB file, 100,000 working-hours
  ranges, a BOM, a duplicated key), floor: a normal settings file;
- working hours: 1,440 overlapping ranges (the most a day can hold) through the validator;
- history: salvaging a 10,000-event file with one damaged page, floor: opening the same file
  undamaged; importing 10,000 events from the journal, floor: inserting them directly;
  reading 10,000 rows whose UTC offsets are garbage, floor: the same rows clean;
- the log: formatting one 10 MB record (cut to 16 KiB), floor: a one-line record.
As a real process (wall time, peak RSS of the child): `psoas-break config show` on the worst
settings cases, floor: on a normal file.

Timings on a shared 2-core machine are noisy; nothing here is asserted.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import resource
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from psoas_break.adapters.files.logging_setup import BoundedFormatter  # noqa: E402
from psoas_break.adapters.files.settings_store import SettingsStore  # noqa: E402
from psoas_break.adapters.history import journal  # noqa: E402
from psoas_break.adapters.history.sqlite_history import (  # noqa: E402
    SqliteHistory,
    open_for_writing,
    read_events,
)
from psoas_break.core.events import RecordEvent  # noqa: E402
from psoas_break.core.working_hours import WorkingHoursError, validate_working_hours  # noqa: E402

NORMAL = (
    'profile = "desk"\nstretch_every_min = 45\nbreak_min = 3\nvoice = true\n'
    'quiet_apps = ["zoom", "obs"]\n[working_hours]\nmon = ["09:00-12:30", "13:30-17:30"]\n'
)


def measure(fn: Callable[[], object], runs: int) -> tuple[float, float]:
    """(median ms, peak KiB of Python allocations in one run)."""
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        times.append((time.perf_counter() - started) * 1000)
    tracemalloc.start()
    fn()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return statistics.median(times), peak / 1024


def settings_cases(folder: Path) -> dict[str, Path]:
    """One file (or other object) per class, written once."""
    texts: dict[str, str | bytes] = {
        "normal file (floor)": NORMAL,
        "arrays 500 deep": "a = " + "[" * 500 + "]" * 500 + "\n",
        "inline tables 500 deep": "a = " + "{b = " * 500 + "1" + "}" * 500 + "\n",
        "working_hours 400 deep": "working_hours = " + "[" * 400 + "]" * 400 + "\n",
        "integer of 5,000 digits": "zz = " + "9" * 5000 + "\n" + NORMAL,
        "hex integer of 5,000 digits": "zz = 0x" + "f" * 5000 + "\n" + NORMAL,
        "dotted key 2,000 deep": ".".join(["q"] * 2000) + " = 1\n" + NORMAL,
        "10 MB value (over the size cap)": 'profile = "' + "x" * 10_000_000 + '"\n',
        "60 KB value (under the 64 KiB cap)": 'profile = "' + "x" * 60_000 + '"\n',
        "worst 64 KiB: 10,000 inline tables": "x = [" + ",".join(["{a=1}"] * 10_000) + "]\n",
        "worst 64 KiB: 7,000 tables": "".join(f"[t{i}]\n" for i in range(7_000)),
        "10,000 names in `locked` (site file)": "locked = [" + ",".join(['"x"'] * 10_000) +
        "]\n",
        "100,000 working-hours ranges": "[working_hours]\nmon = [" +
        ", ".join(['"09:00-09:01"'] * 100_000) + "]\n",
        "4,000 working-hours ranges": "[working_hours]\nmon = [" +
        ", ".join(['"09:00-09:01"'] * 4_000) + "]\n",
        "byte-order mark": b"\xef\xbb\xbf" + NORMAL.encode(),
        "duplicated key": NORMAL + "break_min = 4\n",
    }
    paths: dict[str, Path] = {}
    for i, (name, text) in enumerate(texts.items()):
        path = folder / f"case{i}" / "settings.toml"
        path.parent.mkdir()
        path.write_bytes(text if isinstance(text, bytes) else text.encode())
        paths[name] = path
    fifo = folder / "fifo" / "settings.toml"
    fifo.parent.mkdir()
    os.mkfifo(fifo)
    paths["a FIFO"] = fifo
    zero = folder / "zero" / "settings.toml"
    zero.parent.mkdir()
    zero.symlink_to("/dev/zero")
    paths["a link to /dev/zero"] = zero
    return paths


def child(argv: list[str], env: dict[str, str]) -> tuple[float, float]:
    """(wall ms, peak RSS MiB) of one child process."""
    started = time.perf_counter()
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, _status, usage = os.wait4(proc.pid, 0)
    proc.returncode = 0
    return (time.perf_counter() - started) * 1000, usage.ru_maxrss / 1024


def cli_cases(paths: dict[str, Path], names: list[str], runs: int) -> list[dict[str, Any]]:
    rows = []
    for name in names:
        config_home = paths[name].parent.parent / f"xdg-{names.index(name)}"
        (config_home / "psoas-break").mkdir(parents=True)
        target = config_home / "psoas-break" / "settings.toml"
        target.symlink_to(paths[name])
        env = {**os.environ, "XDG_CONFIG_HOME": str(config_home),
               "XDG_CONFIG_DIRS": str(config_home / "none"), "PYTHONPATH": str(REPO)}
        samples = [child([sys.executable, "-m", "psoas_break", "config", "show"], env)
                   for _ in range(max(1, runs // 2))]
        rows.append({"case": name, "ms": statistics.median(s[0] for s in samples),
                     "rss_mib": max(s[1] for s in samples)})
    return rows


def events(n: int) -> list[RecordEvent]:
    t0 = datetime(2026, 3, 2, 8, tzinfo=timezone.utc)
    return [RecordEvent("prompt", t0 + timedelta(minutes=i), float(i),
                        {"prompt_kind": "stretch", "prompt_id": i, "escalation": 0})
            for i in range(n)]


def history_cases(folder: Path, runs: int) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    base = folder / "base.sqlite3"
    history = SqliteHistory(base, flush_interval_s=0.01, batch_max=5000)
    for event in events(10_000):
        history.record(event)
    history.close()
    damaged_bytes = bytearray(base.read_bytes())
    middle = len(damaged_bytes) // 4096 // 2
    damaged_bytes[middle * 4096:(middle + 1) * 4096] = b"\xa5" * 4096

    def fresh(name: str, data: bytes) -> Path:
        target = folder / name
        shutil.rmtree(target, ignore_errors=True)
        target.mkdir()
        db = target / "history.sqlite3"
        db.write_bytes(data)
        return db

    def open_sound() -> None:
        conn, _ = open_for_writing(fresh("sound", base.read_bytes()))
        conn.close()

    def open_damaged() -> None:
        conn, salvaged = open_for_writing(fresh("damaged", bytes(damaged_bytes)))
        conn.close()
        assert salvaged is not None and salvaged.recovered > 9000

    floor_ms, floor_kib = measure(open_sound, runs)
    ms, kib = measure(open_damaged, runs)
    rows.append({"case": "open 10,000 events, one damaged page (salvage)", "floor_ms": floor_ms,
                 "ms": ms, "floor_kib": floor_kib, "kib": kib})

    pending = [(e.wall.timestamp(), 0, e.mono_s, e.kind, "{}") for e in events(10_000)]

    def insert_direct() -> None:
        conn, _ = open_for_writing(fresh("direct", b""))
        conn.execute("BEGIN")
        conn.executemany("INSERT INTO events (t_utc_s, utc_offset_s, mono_s, kind, data) "
                         "VALUES (?, ?, ?, ?, ?)", pending)
        conn.execute("COMMIT")
        conn.close()

    def import_journal() -> None:
        db = fresh("journal", b"")
        journal.append(journal.journal_path(db), pending)
        writer = SqliteHistory(db)
        writer.close()
        assert not journal.journal_path(db).exists()

    floor_ms, floor_kib = measure(insert_direct, runs)
    ms, kib = measure(import_journal, runs)
    rows.append({"case": "10,000 events from the journal (deduplicated)", "floor_ms": floor_ms,
                 "ms": ms, "floor_kib": floor_kib, "kib": kib})

    clean = fresh("clean", base.read_bytes())
    garbage = fresh("garbage", base.read_bytes())
    with sqlite3.connect(garbage) as conn:
        conn.execute("UPDATE events SET utc_offset_s = CASE id % 3 WHEN 0 THEN 'x' "
                     "WHEN 1 THEN 200000 ELSE 1e400 END")
    window = (datetime(2026, 1, 1, tzinfo=timezone.utc), datetime(2027, 1, 1, tzinfo=timezone.utc))
    floor_ms, floor_kib = measure(lambda: read_events(clean, *window), runs)
    ms, kib = measure(lambda: read_events(garbage, *window), runs)
    rows.append({"case": "read 10,000 rows with garbage UTC offsets", "floor_ms": floor_ms,
                 "ms": ms, "floor_kib": floor_kib, "kib": kib})
    return rows


def log_case(runs: int) -> dict[str, Any]:
    formatter = BoundedFormatter("%(message)s")
    big = logging.LogRecord("x", logging.WARNING, __file__, 1, "%s", ("y" * 10_000_000,), None)
    small = logging.LogRecord("x", logging.WARNING, __file__, 1, "%s", ("y",), None)
    floor_ms, floor_kib = measure(lambda: formatter.format(small), runs)
    ms, kib = measure(lambda: formatter.format(big), runs)
    return {"case": "format one 10 MB log record (cut to 16 KiB)", "floor_ms": floor_ms,
            "ms": ms, "floor_kib": floor_kib, "kib": kib}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    logging.disable(logging.CRITICAL)
    with tempfile.TemporaryDirectory(prefix="psoas-hostile-bench-") as tmp:
        folder = Path(tmp)
        paths = settings_cases(folder)
        settings_rows = []
        for name, path in paths.items():
            site = (path,) if "site" in name else ()
            user = path.with_name("none.toml") if site else path
            ms, kib = measure(lambda user=user, site=site: SettingsStore(user, site).load(),
                              args.runs)
            settings_rows.append({"case": name, "ms": ms, "kib": kib})

        def wide_day() -> None:
            with contextlib.suppress(WorkingHoursError):
                validate_working_hours({"mon": ["09:00-09:01"] * 1440})

        ms, kib = measure(wide_day, args.runs)
        settings_rows.append({"case": "1,440 overlapping ranges (validator)", "ms": ms,
                              "kib": kib})
        cli_rows = cli_cases(paths, ["normal file (floor)", "arrays 500 deep",
                                     "integer of 5,000 digits", "10 MB value (over the size cap)",
                                     "100,000 working-hours ranges", "a FIFO"], args.runs)
        history_rows = history_cases(folder, args.runs)
        log_row = log_case(args.runs)
    result = {"settings": settings_rows, "cli": cli_rows, "history": history_rows,
              "log": log_row}
    if args.json:
        print(json.dumps(result))
        return 0
    floor = settings_rows[0]
    print(f"{'settings load (in process)':48} {'ms':>9} {'x floor':>8} {'peak KiB':>10}")
    for row in settings_rows:
        print(f"{row['case']:48} {row['ms']:9.2f} {row['ms'] / floor['ms']:8.1f} "
              f"{row['kib']:10.0f}")
    print()
    cli_floor = cli_rows[0]
    print(f"{'psoas-break config show (process)':48} {'ms':>9} {'x floor':>8} {'RSS MiB':>10}")
    for row in cli_rows:
        print(f"{row['case']:48} {row['ms']:9.1f} {row['ms'] / cli_floor['ms']:8.2f} "
              f"{row['rss_mib']:10.1f}")
    print()
    print(f"{'history and log':48} {'floor ms':>9} {'ms':>9} {'x floor':>8} {'peak KiB':>10}")
    for row in [*history_rows, log_row]:
        print(f"{row['case']:48} {row['floor_ms']:9.2f} {row['ms']:9.2f} "
              f"{row['ms'] / row['floor_ms']:8.1f} {row['kib']:10.0f}")
    _ = resource  # imported for os.wait4's rusage fields' meaning (KiB on Linux)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
