"""Logging: a rotating file in the user log folder, and stderr with -v.

The file holds what the app did, which is personal (when you sat, what you changed): it is
created 0600 in a 0700 folder. Its size is held: at most MAX_BYTES per file and BACKUPS old
files, and no record is longer than MAX_RECORD_CHARS (a record quoting a huge value, or a
huge traceback, is cut), so the folder never holds more than about 4 x 512 KiB.
"""

from __future__ import annotations

import contextlib
import logging
import logging.handlers
import os
import sys
from io import TextIOWrapper
from pathlib import Path

FORMAT = "%(asctime)s %(levelname)s %(threadName)s %(name)s: %(message)s"
MAX_BYTES = 512 * 1024
BACKUPS = 3
#: The longest record written (message and traceback together).
MAX_RECORD_CHARS = 16 * 1024


class BoundedFormatter(logging.Formatter):
    """A formatter whose output is at most MAX_RECORD_CHARS characters (the cut is marked)."""

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        if len(text) <= MAX_RECORD_CHARS:
            return text
        cut = len(text) - MAX_RECORD_CHARS
        return text[: MAX_RECORD_CHARS - 40] + f" … [{cut + 40} characters cut]"


class PrivateRotatingFileHandler(logging.handlers.RotatingFileHandler):
    """RotatingFileHandler whose files are created (and kept) readable by their owner only."""

    def _open(self) -> TextIOWrapper:
        flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND | getattr(os, "O_CLOEXEC", 0)
        fd = os.open(self.baseFilename, flags, 0o600)
        if hasattr(os, "fchmod"):
            with contextlib.suppress(OSError):
                os.fchmod(fd, 0o600)  # a file an older version made 0644
        stream = os.fdopen(fd, "a", encoding=self.encoding, errors=self.errors)
        assert isinstance(stream, TextIOWrapper)
        return stream


def setup_logging(log_file: Path, verbose: bool) -> None:
    root = logging.getLogger()
    root.setLevel(logging.DEBUG if verbose else logging.INFO)
    for handler in list(root.handlers):
        root.removeHandler(handler)
    try:
        log_file.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        file_handler: logging.Handler = PrivateRotatingFileHandler(
            log_file, maxBytes=MAX_BYTES, backupCount=BACKUPS, encoding="utf-8"
        )
        file_handler.setFormatter(BoundedFormatter(FORMAT))
        root.addHandler(file_handler)
    except OSError as exc:
        # A read-only or full disk must not stop the app; say so once on stderr.
        print(f"psoas-break: cannot write the log file {log_file} ({exc.strerror})",
              file=sys.stderr)
    if verbose:
        stream = logging.StreamHandler(sys.stderr)
        stream.setFormatter(BoundedFormatter(FORMAT))
        root.addHandler(stream)
    # pystray logs every menu rebuild at DEBUG; keep our -v output readable.
    logging.getLogger("pystray").setLevel(logging.INFO)
