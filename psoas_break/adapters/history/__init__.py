"""History of the engine's events, kept in SQLite (see `sqlite_history`)."""

from psoas_break.adapters.history.sqlite_history import (
    DB_FILENAME,
    SqliteHistory,
    default_db_path,
    forget_before,
    read_events,
)

__all__ = [
    "DB_FILENAME",
    "SqliteHistory",
    "default_db_path",
    "forget_before",
    "read_events",
]
