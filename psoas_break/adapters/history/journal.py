"""Events waiting for the history database: a private file beside it, so none is dropped.

When the database cannot be written (something else is in its place, another program's file,
a newer psoas-break's file, locked by another process), the writer appends the waiting events
here instead of holding them in memory, and adds them to the database (and removes this file)
as soon as a write works again, at the latest at the next start. Only when this file cannot be
written either (a full disk, a read-only file system) do events wait in memory.

    <database>.pending      e.g. history.sqlite3.pending, mode 0600
    one JSON array per line: [t_utc_s, utc_offset_s, mono_s, kind, data]  (a database row)

`append` writes whole lines only (a write that fails part way is cut back) and fsyncs.
`rows` reads lines back, skipping any that is not such an array (and lines over MAX_LINE).
Importing is idempotent: a row already in the database is not added again (see the writer),
so a crash between the commit and the removal of this file duplicates nothing.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
from collections.abc import Iterator, Sequence
from pathlib import Path

SUFFIX = ".pending"
#: Longer lines are not events this app wrote.
MAX_LINE = 1024 * 1024

Row = tuple[float, int, float, str, str]


def journal_path(db: Path) -> Path:
    """Where the events waiting for `db` are kept."""
    return Path(f"{db}{SUFFIX}")


def append(path: Path, rows: Sequence[Row]) -> None:
    """Append `rows` durably (fsync), whole lines only. Raises OSError (nothing added then)."""
    if not rows:
        return
    data = "".join(
        json.dumps(list(row), separators=(",", ":"), ensure_ascii=False) + "\n" for row in rows
    ).encode("utf-8")
    flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND | getattr(os, "O_CLOEXEC", 0) | getattr(
        os, "O_BINARY", 0)
    fd = os.open(path, flags, 0o600)
    try:
        start = os.fstat(fd).st_size
        try:
            view = memoryview(data)
            while view:
                written = os.write(fd, view)
                view = view[written:]
            os.fsync(fd)
        except OSError:
            with contextlib.suppress(OSError):
                os.ftruncate(fd, start)  # no half line for the next reader
            raise
    finally:
        os.close(fd)


def finite_number(value: object) -> float | None:
    """A finite float from a decoded cell (JSON here, SQLite in sqlite_history), None for
    text, blobs, null, bools, NaN and infinities."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    try:
        number = float(value)
    except OverflowError:
        return None
    return number if math.isfinite(number) else None


def _row(value: object) -> Row | None:
    if not isinstance(value, list) or len(value) != 5:
        return None
    t, offset, mono = (finite_number(v) for v in value[:3])
    kind, data = value[3], value[4]
    if t is None or offset is None or mono is None:
        return None
    if not isinstance(kind, str) or not isinstance(data, str):
        return None
    return t, round(offset), mono, kind, data


def rows(path: Path, skipped: list[int]) -> Iterator[Row]:
    """The rows in the file, in order; `skipped[0]` counts the lines that were not rows.

    Raises OSError when the file cannot be opened.
    """
    with open(path, "rb") as handle:
        while True:
            line = handle.readline(MAX_LINE + 1)
            if not line:
                return
            if len(line) > MAX_LINE:
                skipped[0] += 1
                while line and not line.endswith(b"\n"):  # the rest of the long line
                    line = handle.readline(MAX_LINE + 1)
                continue
            try:
                row = _row(json.loads(line))
            except (ValueError, RecursionError):
                row = None
            if row is None:
                if line.strip():
                    skipped[0] += 1
                continue
            yield row
