"""The history store: the engine's `RecordEvent`s in an SQLite file, written by one thread.

Contract for the runtime:

    history = SqliteHistory(default_db_path(), on_notice=show_text)   # starts the writer thread
    history.record(event)      # any thread; never blocks, never raises
    history.close()            # at shutdown: writes what is queued, stops the thread

- Writes are batched: the writer commits what is queued every `flush_interval_s` seconds or as
  soon as `batch_max` events are waiting, in one transaction; `flush()` forces a commit and
  waits for it; `close()` flushes.
- The file is opened (and checked with `PRAGMA quick_check`) on the writer thread. A file that
  is not a database, is malformed or fails the check is moved aside to
  `history.sqlite3.corrupt-YYYYmmdd-HHMMSS` (its `-wal`/`-shm` with it), one warning is logged,
  `on_notice(text)` is called once with a sentence the runtime can show, and a fresh database
  is started. Nothing is deleted.
- A write that fails for an outside reason (disk full, read-only folder, file locked by
  another process) is logged once; the events stay queued in memory (at most `memory_cap`,
  the oldest are dropped beyond that, also logged once) and the write is retried every
  `retry_s` seconds. The writer thread never dies from an SQLite or OS error.
- Several processes may open the same new file at the same instant: each waits for the
  others' locks up to a busy timeout of 5 s (see `_set_wal` for the one step SQLite does not
  wait on by itself), so all of them work with no notice.
- WAL journal, `synchronous=NORMAL`: a committed batch survives the process being killed
  (kill -9); a power cut may lose the last batch or two, which is acceptable for statistics.
- Schema: `PRAGMA user_version` counts the migrations applied; `MIGRATIONS[i]` takes the file
  from version i to i + 1 inside one transaction. A file newer than this code is left alone
  (events stay in memory, a notice says why).

Reading (`read_events`, `count_events`, `forget_before`) opens its own connection per call,
so it works from any thread or process while the writer runs. Times are stored as POSIX
seconds plus the UTC offset the event's wall clock had, so an event keeps the local day it
happened on even after the user changes time zone.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import queue
import sqlite3
import stat
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from psoas_break.adapters.clock import local_now, to_local
from psoas_break.adapters.files.atomic_file import file_kind
from psoas_break.adapters.files.private import create_private_file, private_dir, private_file
from psoas_break.adapters.history import journal
from psoas_break.adapters.history.salvage import salvage_into
from psoas_break.core.events import RecordEvent
from psoas_break.core.plain_text import one_line
from psoas_break.ports import StorageError

log = logging.getLogger(__name__)

DB_FILENAME = "history.sqlite3"
_BUSY_TIMEOUT_MS = 5000

# MIGRATIONS[i] takes a file from user_version i to i + 1. Append only; never edit a shipped one.
MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        """
        CREATE TABLE events (
            id            INTEGER PRIMARY KEY,  -- insertion order = the engine's order
            t_utc_s       REAL    NOT NULL,     -- POSIX seconds of the event's wall time
            utc_offset_s  INTEGER NOT NULL,     -- the wall clock's UTC offset then
            mono_s        REAL    NOT NULL,     -- the engine's monotonic seconds
            kind          TEXT    NOT NULL,     -- RecordEvent.kind (see core/events.py)
            data          TEXT    NOT NULL DEFAULT '{}'  -- RecordEvent.data as JSON
        )
        """,
        # The stats views read a range of days: this keeps that a range scan at any size.
        "CREATE INDEX events_by_time ON events (t_utc_s)",
    ),
)
SCHEMA_VERSION = len(MIGRATIONS)

# SQLite primary result codes that mean "this file is damaged", not "the disk is unhappy".
_SQLITE_CORRUPT = 11
_SQLITE_NOTADB = 26
_SQLITE_BUSY = 5  # "database is locked": another connection holds the lock


def default_db_path() -> Path:
    """`user_data_dir("psoas-break")/history.sqlite3` (honours XDG_DATA_HOME on Linux)."""
    import platformdirs

    from psoas_break.adapters.files.paths import APP_DIR_NAME

    return Path(platformdirs.user_data_dir(APP_DIR_NAME, appauthor=False)) / DB_FILENAME


def is_corruption(exc: BaseException) -> bool:
    """True when an sqlite3 error says the file itself is damaged."""
    if not isinstance(exc, sqlite3.DatabaseError) or isinstance(exc, sqlite3.OperationalError):
        return False
    code = getattr(exc, "sqlite_errorcode", None)  # Python >= 3.11
    if isinstance(code, int):
        return (code & 0xFF) in (_SQLITE_CORRUPT, _SQLITE_NOTADB)
    text = str(exc).lower()
    return "not a database" in text or "malformed" in text


def _connect(path: Path, read_only: bool = False) -> sqlite3.Connection:
    # isolation_level=None: we issue BEGIN/COMMIT ourselves, so a batch is one transaction.
    # timeout= installs SQLite's busy timeout as the file is opened, before any statement.
    target = f"{path.absolute().as_uri()}?mode=ro" if read_only else str(path)
    return sqlite3.connect(
        target, timeout=_BUSY_TIMEOUT_MS / 1000, isolation_level=None, check_same_thread=False,
        uri=read_only,
    )


def _is_busy(exc: sqlite3.OperationalError) -> bool:
    code = getattr(exc, "sqlite_errorcode", None)  # Python >= 3.11
    if isinstance(code, int):
        return (code & 0xFF) == _SQLITE_BUSY
    return "database is locked" in str(exc).lower()


def _set_wal(conn: sqlite3.Connection) -> None:
    """Switch the file to WAL (a no-op when it already is), waiting up to the busy timeout.

    Switching writes the file header: SQLite takes a read lock, then upgrades it to a write
    lock, and a failed upgrade returns SQLITE_BUSY at once without calling the busy handler
    (two connections waiting on each other's read lock would never end). So when several
    processes open a new history at the same instant, all but one get "database is locked"
    whatever the busy timeout; they retry here until the winner has switched the file, after
    which the statement only reads. Raises sqlite3.OperationalError once the timeout is spent.
    """
    deadline = time.monotonic() + _BUSY_TIMEOUT_MS / 1000
    pause_s = 0.002
    while True:
        try:
            mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            break
        except sqlite3.OperationalError as exc:
            if not _is_busy(exc) or time.monotonic() + pause_s > deadline:
                raise
        time.sleep(pause_s)
        pause_s = min(2 * pause_s, 0.1)
    if str(mode).lower() != "wal":  # e.g. a file system without shared memory: still works
        log.warning("history database: journal mode is %s, not WAL", mode)


def _damage(conn: sqlite3.Connection) -> str | None:
    """What is wrong with the file (not a database, malformed, fails the check), or None."""
    try:
        rows = conn.execute("PRAGMA quick_check").fetchall()
    except sqlite3.DatabaseError as exc:
        if is_corruption(exc):
            return str(exc)
        raise
    problems = [str(r[0]) for r in rows if r and r[0] != "ok"]
    return "; ".join(problems[:3]) if problems else None


def _refuse_newer(conn: sqlite3.Connection) -> int:
    """The file's schema version; StorageError for a file this code must not write: one from a
    newer psoas-break, or an SQLite file of another program (version 0 with tables in it)."""
    # One statement, so one snapshot: another process migrating a new file meanwhile is seen
    # either before (version 0, no tables) or after (version 1, tables), never half.
    found, names_text = conn.execute(
        "SELECT (SELECT user_version FROM pragma_user_version), "
        "(SELECT group_concat(name, ', ') FROM (SELECT name FROM sqlite_master "
        "WHERE name NOT LIKE 'sqlite_%' LIMIT 3))"
    ).fetchone()
    found = int(found)
    if found > SCHEMA_VERSION:
        raise StorageError(
            f"the history database was written by a newer psoas-break (schema {found}; "
            f"this version knows up to {SCHEMA_VERSION})"
        )
    if found == 0:
        names = [names_text] if names_text else []
        if names:
            raise StorageError(
                f"{one_line(str(_db_path(conn)), 200)} is an SQLite file of another program "
                f"(it holds {one_line(names[0], 60)}); psoas-break leaves it "
                "alone: move it away to start a history there"
            )
    return found


def _db_path(conn: sqlite3.Connection) -> str:
    for row in conn.execute("PRAGMA database_list"):
        if row[1] == "main":
            return str(row[2])
    return "the history file"


def _refuse_not_a_file(path: Path) -> None:
    """StorageError when something other than a regular file is at `path` (a folder, ...)."""
    try:
        st = path.stat()
    except FileNotFoundError:
        return
    except OSError as exc:
        raise StorageError(f"cannot use {one_line(str(path), 200)}: "
                           f"{one_line(exc.strerror or str(exc), 80)}") from None
    if not stat.S_ISREG(st.st_mode):
        raise StorageError(
            f"{one_line(str(path), 200)} is {file_kind(st.st_mode)}, not the history file: "
            "move it away"
        )


def migrate(conn: sqlite3.Connection) -> int:
    """Bring the schema to SCHEMA_VERSION; return the version found. Raises StorageError
    for a file newer than this code or another program's file (left untouched)."""
    found = _refuse_newer(conn)
    for version in range(found, SCHEMA_VERSION):
        conn.execute("BEGIN IMMEDIATE")
        try:
            # Re-read inside the write lock: another process may have migrated meanwhile.
            now = int(conn.execute("PRAGMA user_version").fetchone()[0])
            if now > version:
                conn.execute("COMMIT")
                continue
            for statement in MIGRATIONS[version]:
                conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {version + 1}")
            conn.execute("COMMIT")
        except BaseException:
            with contextlib.suppress(sqlite3.Error):
                conn.execute("ROLLBACK")
            raise
    return found


def move_aside(path: Path, when: datetime | None = None) -> Path:
    """Rename a damaged database (and its -wal/-shm) to `<name>.corrupt-YYYYmmdd-HHMMSS`.

    The -wal and -shm files go first: a fresh database must never meet the old WAL, whose
    frames SQLite could otherwise replay into it. Returns the new path of the main file.
    """
    stamp = (when or local_now()).strftime("%Y%m%d-%H%M%S")
    target = path.with_name(f"{path.name}.corrupt-{stamp}")
    n = 1
    while any(Path(f"{target}{s}").exists() for s in ("", "-wal", "-shm")):
        target = path.with_name(f"{path.name}.corrupt-{stamp}-{n}")
        n += 1
    for suffix in ("-wal", "-shm"):
        side = Path(f"{path}{suffix}")
        if side.exists():
            os.replace(side, f"{target}{suffix}")
    os.replace(path, target)
    return target


@dataclass(frozen=True)
class Salvaged:
    """A damaged file was moved aside to `moved`; `recovered` events were copied from it into
    the fresh file."""

    moved: Path
    recovered: int


def _secure(path: Path) -> None:
    """The history is personal: its folder 0700, the file and its -wal/-shm 0600 (SQLite
    gives new -wal/-shm files the mode of the database file)."""
    private_dir(path.parent)
    create_private_file(path)
    for suffix in ("", "-wal", "-shm"):
        private_file(Path(f"{path}{suffix}"))


def open_for_writing(path: Path) -> tuple[sqlite3.Connection, Salvaged | None]:
    """Open (creating a private folder and file), check, set WAL and migrate.

    A damaged file is moved aside, a fresh one started, and what can be read of the damaged
    one is copied into it (salvage.py): returns (connection, Salvaged or None). Raises
    StorageError for a file this code must not write (a newer psoas-break's, another
    program's, a folder in the way), or sqlite3/OS errors for outside trouble (unwritable
    folder, full disk, locked file), for the caller to retry later.
    """
    _refuse_not_a_file(path)
    _secure(path)
    conn: sqlite3.Connection | None = None
    damage: str | None = None
    try:
        if path.stat().st_size > 0:
            # Check through a read-only connection: closing a read-write connection to a
            # damaged file makes SQLite delete its -wal and -shm, which we want to keep.
            check = _connect(path, read_only=True)
            try:
                damage = _damage(check)
                if damage is None:
                    # Before anything writes (even the switch to WAL changes the header).
                    _refuse_newer(check)
            finally:
                check.close()
        if damage is None:
            conn = _connect(path)
            try:
                _refuse_newer(conn)
                _set_wal(conn)
                migrate(conn)
            except sqlite3.DatabaseError as exc:
                if not is_corruption(exc):
                    raise
                damage = str(exc)
    except BaseException:
        if conn is not None:
            conn.close()
        raise
    salvaged: Salvaged | None = None
    if damage is not None:
        if conn is not None:
            conn.close()
        conn, salvaged = _start_over(path, damage)
    assert conn is not None  # opened above, on the sound or the fresh file
    conn.execute("PRAGMA synchronous = NORMAL")
    return conn, salvaged


def _start_over(path: Path, damage: str) -> tuple[sqlite3.Connection, Salvaged]:
    """Move the damaged file aside, start a fresh one and copy into it what can be read."""
    moved = move_aside(path)
    _secure(path)
    conn = _connect(path)
    try:
        _set_wal(conn)
        migrate(conn)
        try:
            recovered = salvage_into(moved, conn)
        except sqlite3.Error as exc:
            log.warning("history: copying the readable events of %s failed (%s); it is kept",
                        moved, exc)
            recovered = 0
    except BaseException:
        conn.close()
        raise
    log.warning(
        "history database %s is damaged (%s); moved it aside to %s, started a new one and "
        "recovered %d events into it", path, one_line(damage, 200), moved, recovered,
    )
    return conn, Salvaged(moved, recovered)


def _row_for(event: RecordEvent) -> tuple[float, int, float, str, str]:
    wall = event.wall if event.wall.tzinfo is not None else to_local(event.wall)
    offset = wall.utcoffset() or timedelta(0)
    data = json.dumps(event.data, separators=(",", ":"), sort_keys=True, default=str)
    return (wall.timestamp(), round(offset.total_seconds()), float(event.mono_s), event.kind, data)


# The wall times a datetime can hold in any zone (a day inside its limits on both sides).
_MIN_T_S = datetime(1, 1, 2, tzinfo=timezone.utc).timestamp()
_MAX_T_S = datetime(9999, 12, 30, tzinfo=timezone.utc).timestamp()
_MAX_OFFSET_S = 86400 - 1  # Python's timezone() takes offsets strictly within a day


def _event_from(t_utc_s: object, offset_s: object, mono_s: object, kind: object, data: object,
                zones: dict[int, timezone]) -> RecordEvent | None:
    """The event a row holds, or None for a row with no usable time.

    A row written by another program (or damaged) may hold anything: a UTC offset that is not
    a number or is a day or more reads as UTC; a monotonic time that is not a number reads as
    0; data that is not a JSON object reads as {}. Only a row whose time cannot be placed at
    all is skipped.
    """
    t = journal.finite_number(t_utc_s)
    if t is None or not _MIN_T_S <= t <= _MAX_T_S:
        return None
    offset = journal.finite_number(offset_s)
    whole = round(offset) if offset is not None and abs(offset) <= _MAX_OFFSET_S else 0
    tz = zones.get(whole)
    if tz is None:
        tz = zones[whole] = timezone(timedelta(seconds=whole))
    parsed: Any = {}
    if isinstance(data, str) and data != "{}":
        try:
            parsed = json.loads(data)
        except (ValueError, RecursionError):
            parsed = {}
        if not isinstance(parsed, dict):
            parsed = {}
    try:
        wall = datetime.fromtimestamp(t, tz)
    except (OverflowError, OSError, ValueError):
        return None
    return RecordEvent(str(kind), wall, journal.finite_number(mono_s) or 0.0, parsed)


def _events_from(rows: list[Any]) -> list[RecordEvent]:
    zones: dict[int, timezone] = {}  # one tzinfo per offset, not one per row
    events = [_event_from(r[0], r[1], r[2], r[3], r[4], zones) for r in rows]
    kept = [e for e in events if e is not None]
    if len(kept) < len(events):
        log.warning("history: %d rows have no usable time and were not read",
                    len(events) - len(kept))
    return kept


@contextlib.contextmanager
def _reader(path: Path) -> Iterator[sqlite3.Connection | None]:
    """A read connection, or None when there is no history yet. Errors become StorageError
    (one line; another program's SQLite file or a folder at `path` are named as such)."""
    _refuse_not_a_file(path)  # a folder in the way, or a place this user may not look into
    if not os.path.exists(path):
        yield None
        return
    try:
        conn = _connect(path)
    except sqlite3.Error as exc:
        raise StorageError(f"cannot open the history database {path}: {exc}") from exc
    try:
        yield conn
    except sqlite3.DatabaseError as exc:
        if "no such table" in str(exc):
            _refuse_newer(conn)  # another program's file says so; ours is merely empty
            return  # created but never migrated: an empty history
        if is_corruption(exc):
            raise StorageError(
                f"the history database {path} is damaged ({exc}); psoas-break moves it aside "
                "and starts a new one the next time it starts"
            ) from exc
        raise StorageError(f"cannot read the history database {path}: {exc}") from exc
    finally:
        conn.close()


def read_events(path: Path, start: datetime, end: datetime) -> list[RecordEvent]:
    """Events whose wall time is in [start, end), in the order they were recorded."""
    with _reader(path) as conn:
        if conn is None:
            return []
        rows = conn.execute(
            "SELECT t_utc_s, utc_offset_s, mono_s, kind, data FROM events "
            "WHERE t_utc_s >= ? AND t_utc_s < ? ORDER BY id",
            (start.timestamp(), end.timestamp()),
        ).fetchall()
        return _events_from(rows)
    return []  # the table did not exist


def count_events(path: Path) -> int:
    """How many events the file holds (0 when there is no file yet)."""
    with _reader(path) as conn:
        if conn is None:
            return 0
        return int(conn.execute("SELECT count(*) FROM events").fetchone()[0])
    return 0


def first_event_time(path: Path) -> datetime | None:
    """Wall time of the oldest event, or None for an empty history."""
    with _reader(path) as conn:
        if conn is None:
            return None
        rows = conn.execute(
            "SELECT t_utc_s, utc_offset_s, 0, '', '{}' FROM events "
            "WHERE typeof(t_utc_s) IN ('integer', 'real') ORDER BY t_utc_s LIMIT 1"
        ).fetchall()
        events = _events_from(rows)
        return events[0].wall if events else None
    return None


def forget_before(path: Path, day: date) -> int:
    """Delete every event from a local day before `day`; return how many were deleted.

    "Local day" is the event's own, as recorded (wall time plus its UTC offset), which is the
    day the statistics put it on.
    """
    with _reader(path) as conn:
        if conn is None:
            return 0
        migrate(conn)
        return _delete_before(conn, day)
    return 0


def _delete_before(conn: sqlite3.Connection, day: date) -> int:
    """Delete, in one transaction, the events of local days before `day`; returns how many."""
    # Seconds since the epoch of `day` 00:00 on a naive calendar; compared with each event's
    # local time in the same terms.
    limit_s = (day - date(1970, 1, 1)).days * 86400
    conn.execute("BEGIN IMMEDIATE")
    try:
        cur = conn.execute("DELETE FROM events WHERE t_utc_s + utc_offset_s < ?", (limit_s,))
        conn.execute("COMMIT")
    except BaseException:
        with contextlib.suppress(sqlite3.Error):
            conn.execute("ROLLBACK")
        raise
    return int(cur.rowcount)


@dataclass
class _Flush:
    """A request to commit everything queued before it; `ok` tells whether that worked."""

    done: threading.Event
    ok: bool = False


@dataclass(frozen=True)
class _Forget:
    """A request to delete the events of local days before `day` (history_keep_days)."""

    day: date


_STOP = object()


Row = tuple[float, int, float, str, str]
_INSERT = ("INSERT INTO events (t_utc_s, utc_offset_s, mono_s, kind, data) "
           "VALUES (?, ?, ?, ?, ?)")
# A journal row is added only if the same event is not there already (an import that was
# interrupted after its commit but before the journal was removed).
_INSERT_NEW = (
    "INSERT INTO events (t_utc_s, utc_offset_s, mono_s, kind, data) SELECT ?, ?, ?, ?, ? "
    "WHERE NOT EXISTS (SELECT 1 FROM events WHERE t_utc_s = ? AND mono_s = ? AND kind = ? "
    "AND data = ?)"
)


class SqliteHistory:
    """The history store used by the running app (see the module docstring for the contract).

    path: the database file (folders are created). on_notice(text): called on the writer
    thread with a sentence for the user (a damaged file was moved aside, the history cannot
    be written); must not block. on_commit(total): called on the writer thread after each
    commit with the number of events committed since construction (tests, diagnostics).
    """

    def __init__(
        self,
        path: Path,
        *,
        flush_interval_s: float = 5.0,
        batch_max: int = 200,
        memory_cap: int = 20_000,
        retry_s: float = 30.0,
        on_notice: Callable[[str], None] | None = None,
        on_commit: Callable[[int], None] | None = None,
    ) -> None:
        self.path = Path(path)
        self.journal = journal.journal_path(self.path)
        self._flush_interval_s = flush_interval_s
        self._batch_max = max(1, batch_max)
        self._memory_cap = max(1, memory_cap)
        self._retry_s = retry_s
        self._on_notice = on_notice
        self._on_commit = on_commit
        self._queue: queue.SimpleQueue[object] = queue.SimpleQueue()
        self._ready = threading.Event()
        self._closed = False
        self._conn: sqlite3.Connection | None = None
        self._failing: str | None = None  # why the database cannot be written, while it cannot
        self._told = ""  # the last failure state the user was told about
        self._journal_failing = False
        self._dropped = 0
        self._committed = 0
        self.last_notice: str | None = None
        self.moved_aside_to: Path | None = None
        self._thread = threading.Thread(target=self._run, name="history-writer", daemon=True)
        self._thread.start()

    # ---- API for the runtime ----

    def record(self, event: RecordEvent) -> None:
        """Queue one event for writing. Never blocks, never raises."""
        if self._closed:
            log.debug("history closed; event %s not recorded", event.kind)
            return
        self._queue.put(event)

    def flush(self, timeout_s: float = 10.0) -> bool:
        """Commit everything queued so far; True when it is all in the database within the
        timeout (events kept in the journal instead give False)."""
        if not self._thread.is_alive():
            return False
        request = _Flush(threading.Event())
        self._queue.put(request)
        return request.done.wait(timeout_s) and request.ok

    def close(self, timeout_s: float = 10.0) -> None:
        """Write what is queued (to the database, else the journal) and stop the writer
        thread. Safe to call twice."""
        if self._closed:
            return
        self._closed = True
        self._queue.put(_STOP)
        self._thread.join(timeout_s)
        if self._thread.is_alive():
            log.warning("history writer did not stop within %.0f s; queued events may be lost",
                        timeout_s)

    def wait_ready(self, timeout_s: float = 10.0) -> bool:
        """Wait until the writer has tried to open the file once (tests, `doctor`)."""
        return self._ready.wait(timeout_s)

    @property
    def committed(self) -> int:
        """Events committed since construction."""
        return self._committed

    # ---- reading (own connection per call) ----

    def read_events(self, start: datetime, end: datetime) -> list[RecordEvent]:
        """See the module-level `read_events`."""
        return read_events(self.path, start, end)

    def forget_before(self, day: date) -> None:
        """Queue the deletion of every event from a local day before `day` (see the
        module-level `forget_before`); the writer thread, the one writer, carries it out."""
        if not self._closed:
            self._queue.put(_Forget(day))

    # ---- the writer thread ----

    def _notice(self, text: str) -> None:
        self.last_notice = text
        if self._on_notice is not None:
            try:
                self._on_notice(text)
            except Exception:
                log.exception("history notice callback failed")

    def _ensure_open(self) -> bool:
        if self._conn is not None:
            return True
        try:
            self._conn, salvaged = open_for_writing(self.path)
        except StorageError as exc:  # a file this code must not write
            self._fail(str(exc), exc)
            return False
        except (sqlite3.Error, OSError) as exc:
            self._fail(f"cannot open the history database {self.path}: {_reason(exc)}", exc)
            return False
        if salvaged is not None:
            self._moved(salvaged, None)
        return True

    def _moved(self, salvaged: Salvaged, exc: BaseException | None) -> None:
        if exc is not None:
            log.warning("history database %s became damaged while writing (%s)", self.path,
                        exc)
        self.moved_aside_to = salvaged.moved
        recovered = (f"{salvaged.recovered} events were recovered into a new history file"
                     if salvaged.recovered else "nothing in it could be read; a new history "
                     "file was started")
        self._notice(
            f"Your history database was damaged: {recovered}. The damaged file was moved "
            f"aside to {salvaged.moved} and kept."
        )

    def _fail(self, text: str, exc: BaseException) -> None:
        """The database cannot be written: log it once per episode (the notice comes once
        the journal was tried, see _tell)."""
        if self._failing is None:
            log.warning("%s; retrying every %.0f s", text, self._retry_s,
                        exc_info=not isinstance(exc, StorageError))
        else:
            log.debug("history still failing: %s", text)
        self._failing = one_line(text, 300)

    def _tell(self, state: str, text: str) -> None:
        """One notice each time things get worse (journal < memory < dropping), and one when
        the database works again (state "")."""
        ranks = {"": 0, "journal": 1, "memory": 2, "dropping": 3}
        if (state == "" and self._told) or ranks[state] > ranks[self._told]:
            self._told = state
            self._notice(text)

    def _close_conn(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(sqlite3.Error):
                self._conn.close()
            self._conn = None

    def _write(self, rows: list[Row], retry_corrupt: bool = True) -> bool:
        """Commit the journal's rows and `rows` in one transaction; False (and logged) on
        failure. The journal is removed once its rows are committed."""
        if not self._ensure_open():
            return False
        assert self._conn is not None
        imported = 0
        try:
            self._conn.execute("BEGIN IMMEDIATE")
            imported = self._import_journal(self._conn)
            self._conn.executemany(_INSERT, rows)
            self._conn.execute("COMMIT")
        except sqlite3.Error as exc:
            with contextlib.suppress(sqlite3.Error):
                self._conn.execute("ROLLBACK")
            self._close_conn()
            if is_corruption(exc) and retry_corrupt:
                # Damaged under our feet: start over (salvaging what reads), write again.
                try:
                    self._conn, salvaged = _start_over(self.path, str(exc))
                except (sqlite3.Error, OSError, StorageError) as again:
                    self._fail(f"cannot write the history database {self.path}: "
                               f"{_reason(again)}", again)
                    return False
                self._moved(salvaged, exc)
                return self._write(rows, retry_corrupt=False)
            self._fail(f"cannot write the history database {self.path}: {_reason(exc)}", exc)
            return False
        if imported >= 0 and os.path.exists(self.journal):
            try:
                self.journal.unlink()
            except OSError as exc:  # its rows are in: a second import adds nothing
                log.warning("cannot remove %s: %s", self.journal, exc)
            log.info("history: added %d events that waited in %s", imported, self.journal)
        if self._failing is not None:
            self._failing = None
            log.info("history database writable again; wrote %d waiting events",
                     len(rows) + max(imported, 0))
            self._tell("", "History is being saved again.")
        self._committed += len(rows) + max(imported, 0)
        if self._on_commit is not None:
            try:
                self._on_commit(self._committed)
            except Exception:
                log.exception("history commit callback failed")
        return True

    def _import_journal(self, conn: sqlite3.Connection) -> int:
        """Inside the caller's transaction: add the journal's rows not in the database yet.
        Returns how many rows it held, or -1 when there is none or it cannot be read (then it
        is left for later)."""
        if not os.path.exists(self.journal):
            return -1
        skipped = [0]
        count = 0
        batch: list[tuple[Any, ...]] = []
        try:
            for row in journal.rows(self.journal, skipped):
                batch.append((*row, row[0], row[2], row[3], row[4]))
                count += 1
                if len(batch) >= 1000:
                    conn.executemany(_INSERT_NEW, batch)
                    batch = []
        except OSError as exc:
            log.warning("cannot read %s (%s); its events wait there", self.journal, exc)
            return -1
        if batch:
            conn.executemany(_INSERT_NEW, batch)
        if skipped[0]:
            log.warning("%s: %d lines were not events and were left out", self.journal,
                        skipped[0])
        return count

    def _keep(self, pending: list[Row]) -> list[Row]:
        """The database write failed: put `pending` in the journal, else keep it in memory
        (capped); tell the user where the events are. Returns what stays in memory."""
        reason = self._failing or "the history database cannot be written"
        if pending:
            try:
                private_dir(self.path.parent)
                journal.append(self.journal, pending)
                pending = []
                self._journal_failing = False
            except OSError as exc:
                if not self._journal_failing:
                    log.warning("cannot keep waiting events in %s either: %s", self.journal,
                                _reason(exc))
                self._journal_failing = True
        if not self._journal_failing:
            self._tell("journal", f"History is not being saved to the database: {reason}. "
                       f"Your events wait in {self.journal} and are added once it works "
                       "again; psoas-break keeps retrying.")
            return pending
        if len(pending) <= self._memory_cap:
            self._tell("memory", f"History is not being saved: {reason}, and {self.journal} "
                       f"cannot be written either. Up to {self._memory_cap} events wait in "
                       "memory; psoas-break keeps retrying.")
            return pending
        self._tell("dropping", f"History is not being saved anywhere ({reason}): more than "
                   f"{self._memory_cap} events are waiting, so the oldest are being dropped. "
                   "Free some disk space.")
        return self._cap(pending)

    def _run(self) -> None:
        pending: list[Row] = []
        first_at = 0.0  # monotonic time the oldest pending row arrived
        retry_at = 0.0  # no write attempts before this (after a failure)
        waiters: list[_Flush] = []
        forget: _Forget | None = None
        stopping = False
        try:
            if self._ensure_open() and os.path.exists(self.journal):
                self._write([])  # events that waited in the journal (a previous run)
        except Exception:
            log.exception("history writer could not start; retrying later")
        self._ready.set()
        while True:
            now = time.monotonic()
            timeout: float | None = None
            if pending:
                due = max(first_at + self._flush_interval_s, retry_at)
                timeout = max(0.0, due - now)
            try:
                item: object = self._queue.get(timeout=timeout)
            except queue.Empty:
                item = None
            # Drain whatever else is waiting, so one wake-up handles a burst.
            while item is not None:
                if item is _STOP:
                    stopping = True
                elif isinstance(item, _Flush):
                    waiters.append(item)
                elif isinstance(item, _Forget):
                    forget = item
                elif isinstance(item, RecordEvent):
                    try:
                        if not pending:
                            first_at = time.monotonic()
                        pending.append(_row_for(item))
                        if self._failing and self._journal_failing and (
                                len(pending) > self._memory_cap):
                            pending = self._keep(pending)
                    except Exception:
                        log.exception("history: cannot store event %r; dropped", item.kind)
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    item = None
            now = time.monotonic()
            forced = stopping or bool(waiters) or forget is not None
            due = bool(pending) and (
                len(pending) >= self._batch_max or now >= first_at + self._flush_interval_s
            )
            ok = True
            if (forced or due) and (forced or now >= retry_at):
                try:
                    ok = self._write(pending) if pending else self._ensure_open()
                except Exception:  # never let the writer die
                    log.exception("history writer: unexpected error")
                    self._close_conn()
                    ok = False
                if ok:
                    pending = []
                    self._dropped = 0
                else:
                    retry_at = time.monotonic() + self._retry_s
                    pending = self._keep(pending)
                if ok and forget is not None:
                    self._forget(forget.day)
                    forget = None
                for waiter in waiters:
                    waiter.ok = ok
                    waiter.done.set()
                waiters = []
            if stopping:
                if pending:
                    log.warning("history: %d events could not be written before exit",
                                len(pending))
                self._close_conn()
                return

    def _forget(self, day: date) -> None:
        """Writer thread: delete the events of local days before `day`, in one transaction."""
        if not self._ensure_open():
            return
        assert self._conn is not None
        try:
            removed = _delete_before(self._conn, day)
            log.info("history: removed %d events before %s", removed, day)
        except sqlite3.Error as exc:
            log.warning("applying history_keep_days failed: %s", exc)

    def _cap(self, pending: list[Row]) -> list[Row]:
        """Drop the oldest queued rows beyond memory_cap (logged the first time). Only when
        neither the database nor the journal can be written."""
        excess = len(pending) - self._memory_cap
        if excess <= 0:
            return pending
        if self._dropped == 0:
            log.warning("history: more than %d events waiting to be written and nowhere to "
                        "keep them; dropping the oldest", self._memory_cap)
        self._dropped += excess
        return pending[excess:]


def _reason(exc: BaseException) -> str:
    """An error as one plain line (an OS error without its number)."""
    if isinstance(exc, OSError) and exc.strerror:
        return one_line(exc.strerror, 120)
    return one_line(str(exc), 200)
