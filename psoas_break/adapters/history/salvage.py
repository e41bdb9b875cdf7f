"""What can still be read from a damaged history file, copied into a fresh one.

SQLite's own recovery (`.recover`) lives in the sqlite3 command-line shell and its C extension;
Python's sqlite3 module offers neither, and the shell is not installed by default on most
desktops (nor on Windows). So this reads the damaged file with plain SQL, tolerating damage:

- it walks the events table in rowid order (`WHERE id >= ? ORDER BY id`, the table's own
  b-tree, never the index, which may be the damaged part);
- when a read fails, the rows up to the damage are read one statement each (a statement reads
  a row ahead), then the damaged stretch is stepped over: starts further and further ahead
  (1, 2, 4, ... rowids) are tried until one reads, then bisection finds the first readable start
  after the damage, and the walk goes on from there. A damaged leaf page costs the rows on it;
  every other page is read. A damaged root or schema page costs everything (nothing can be
  found without them), and the file is still kept as it was.

The damaged file is only ever opened read-only (its -wal is read too when SQLite can; else the
file alone, with `immutable=1`). Rows are copied as they are: reading tolerates odd cells.
"""

from __future__ import annotations

import contextlib
import logging
import sqlite3
from collections.abc import Iterator
from pathlib import Path

log = logging.getLogger(__name__)

_MIN_ID = -(2**63)
_MAX_ID = 2**63 - 1
_COLUMNS = "t_utc_s, utc_offset_s, mono_s, kind, data"
_INSERT = f"INSERT INTO events ({_COLUMNS}) VALUES (?, ?, ?, ?, ?)"
#: Reads tried in all (a bound on the time one badly damaged file can take).
MAX_PROBES = 20_000
_BATCH = 2000
#: Rows read one at a time after a failed scan, before scanning fast again.
_CAREFUL_ROWS = 64

Row = tuple[object, object, object, object, object]


def _open_read_only(path: Path, immutable: bool) -> sqlite3.Connection:
    uri = f"{path.absolute().as_uri()}?mode=ro" + ("&immutable=1" if immutable else "")
    return sqlite3.connect(uri, uri=True, isolation_level=None, check_same_thread=False)


def _readable(conn: sqlite3.Connection) -> bool:
    try:
        conn.execute("SELECT id FROM events LIMIT 0").fetchall()
        return True
    except sqlite3.Error:
        return False


def _start_ok(conn: sqlite3.Connection, start: int) -> bool:
    """True when a walk can begin at rowid `start` (its first row, if any, reads)."""
    try:
        conn.execute(f"SELECT id, {_COLUMNS} FROM events WHERE id >= ? ORDER BY id LIMIT 1",
                     (start,)).fetchall()
        return True
    except sqlite3.DatabaseError:
        return False


class _Walk:
    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        self.probes = 0
        self.skipped_regions = 0

    def rows(self) -> Iterator[Row]:
        start = _MIN_ID
        while self.probes < MAX_PROBES:
            # Fast: one statement over the rest of the table, until it fails.
            self.probes += 1
            last: int | None = None
            try:
                cursor = self.conn.execute(
                    f"SELECT id, {_COLUMNS} FROM events WHERE id >= ? ORDER BY id", (start,))
                for row in cursor:
                    last = int(row[0])
                    yield row[1], row[2], row[3], row[4], row[5]
                return  # the end of the table
            except sqlite3.DatabaseError:
                pass
            # Careful: one row per statement (a statement reads a row ahead, so the rows just
            # before the damage are only reached this way), until one fails.
            position = start if last is None else last + 1
            for _ in range(_CAREFUL_ROWS):
                if position > _MAX_ID or self.probes >= MAX_PROBES:
                    return
                self.probes += 1
                try:
                    found = self.conn.execute(
                        f"SELECT id, {_COLUMNS} FROM events WHERE id >= ? ORDER BY id LIMIT 1",
                        (position,)).fetchone()
                except sqlite3.DatabaseError:
                    break
                if found is None:
                    return
                yield found[1], found[2], found[3], found[4], found[5]
                position = int(found[0]) + 1
            else:
                start = position  # no damage here after all: fast again
                continue
            following = self._next_start(position)
            if following is None:
                return
            self.skipped_regions += 1
            start = following

    def _next_start(self, bad: int) -> int | None:
        """The smallest rowid after `bad` where a walk can begin again, or None."""
        step = 1
        good: int | None = None
        while self.probes < MAX_PROBES:
            candidate = min(bad + step, _MAX_ID)
            self.probes += 1
            if _start_ok(self.conn, candidate):
                good = candidate
                break
            if candidate == _MAX_ID:
                return None
            step *= 2
        if good is None:
            return None
        low = bad  # a walk from `low` fails, from `good` it works: bisect between them
        while good - low > 1 and self.probes < MAX_PROBES:
            middle = (low + good) // 2
            self.probes += 1
            if _start_ok(self.conn, middle):
                good = middle
            else:
                low = middle
        return good


def salvage_into(damaged: Path, target: sqlite3.Connection) -> int:
    """Copy every readable event of the file at `damaged` into `target` (migrated, open, no
    transaction running), in one transaction. Returns how many were copied (0 when nothing
    could be read). Raises sqlite3.Error when writing to `target` fails (then nothing is kept).
    """
    source: sqlite3.Connection | None = None
    for immutable in (False, True):
        try:
            candidate = _open_read_only(damaged, immutable)
        except sqlite3.Error:
            continue
        if _readable(candidate):
            source = candidate
            break
        candidate.close()
    if source is None:
        return 0
    walk = _Walk(source)
    copied = 0
    try:
        target.execute("BEGIN IMMEDIATE")
        try:
            batch: list[Row] = []
            for row in walk.rows():
                batch.append(row)
                if len(batch) >= _BATCH:
                    target.executemany(_INSERT, batch)
                    copied += len(batch)
                    batch = []
            if batch:
                target.executemany(_INSERT, batch)
                copied += len(batch)
            target.execute("COMMIT")
        except BaseException:
            with contextlib.suppress(sqlite3.Error):
                target.execute("ROLLBACK")
            raise
    finally:
        source.close()
    log.info("history salvage: %d events read from %s (%d damaged stretches stepped over, "
             "%d reads)", copied, damaged, walk.skipped_regions, walk.probes)
    return copied
