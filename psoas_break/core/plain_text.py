"""Bounded, printable text for messages that quote what a user (or a file) gave us.

Pure. Every message that echoes input goes through here, so a hostile value never makes a
message long, multi-line, or able to drive a terminal:

    escape_controls(t)  control characters written as escapes, nothing shortened
    one_line(text)      control characters (newline, ESC, bidi overrides, ...) written as
                        escapes like \\n, \\x1b, \\u202e; then shortened to `limit` characters
    show_value(raw)     a TOML-ish value as a person reads it ("text", 12, true, [1, 2]),
                        shortened, at most `MAX_SHOWN_DEPTH` levels deep (no recursion limit
                        can be reached), a huge integer as its size instead of its digits

`shorten` keeps the head of a text and marks the cut with "…".
"""

from __future__ import annotations

import math
from collections.abc import Mapping

#: Characters shown for one quoted value in a message line.
VALUE_LIMIT = 60
#: Characters of one whole message line (problems, notices).
LINE_LIMIT = 300
#: Levels of nested lists/tables shown before "…".
MAX_SHOWN_DEPTH = 4
#: Integers longer than this many bits are shown by their size (Python refuses to turn an int
#: of more than 4,300 digits into text; such a number is never a valid setting anyway).
_MAX_SHOWN_INT_BITS = 256
ELLIPSIS = "…"

_NAMED_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escape_char(char: str) -> str:
    named = _NAMED_ESCAPES.get(char)
    if named is not None:
        return named
    code = ord(char)
    if code < 0x100:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def _needs_escape(char: str) -> bool:
    # Cc: C0/C1 controls and DEL; Cf: format characters such as bidi overrides and zero-width
    # joiners, which can make a line read differently from what it holds; Zl/Zp: line and
    # paragraph separators (new lines for some terminals and viewers); Cs: lone surrogates
    # (from undecodable file names), which cannot even be printed. ASCII printables need no
    # table: unicodedata (0.4 MiB) is imported when other text comes by.
    if " " <= char <= "~":
        return False
    import unicodedata

    return unicodedata.category(char) in ("Cc", "Cf", "Zl", "Zp", "Cs")


def shorten(text: str, limit: int = VALUE_LIMIT) -> str:
    """`text` cut to at most `limit` characters, the cut marked with "…"."""
    if len(text) <= limit:
        return text
    return text[: max(0, limit - 1)] + ELLIPSIS


def escape_controls(text: str) -> str:
    """`text` with every control or format character written as an escape (\\n, \\x1b, ...)."""
    return "".join(_escape_char(c) if _needs_escape(c) else c for c in text)


def one_line(text: str, limit: int = LINE_LIMIT) -> str:
    """`text` with every control or format character escaped, shortened to `limit`."""
    # Look at no more of a huge text than can be shown.
    escaped = escape_controls(text[:limit])
    if len(text) > limit or len(escaped) > limit:
        return escaped[: max(0, limit - 1)] + ELLIPSIS
    return escaped


def _show_int(value: int) -> str:
    bits = value.bit_length()
    if bits <= _MAX_SHOWN_INT_BITS:
        return repr(value)
    digits = int(bits * math.log10(2)) + 1
    return f"(a number of about {digits} digits)"


def show_value(raw: object, limit: int = VALUE_LIMIT) -> str:
    """A value as a person reads it in a one-line message, at most `limit` characters."""
    parts: list[str] = []
    budget = [limit + 1]  # characters still worth producing

    def emit(text: str) -> None:
        parts.append(text)
        budget[0] -= len(text)

    def walk(value: object, depth: int) -> None:
        if budget[0] <= 0:
            return
        if isinstance(value, str):
            emit('"' + one_line(value, budget[0] + 1) + '"')
        elif isinstance(value, bool):
            emit("true" if value else "false")
        elif isinstance(value, int):
            emit(_show_int(value))
        elif isinstance(value, (list, tuple)):
            if depth >= MAX_SHOWN_DEPTH:
                emit("[" + ELLIPSIS + "]")
                return
            emit("[")
            for i, item in enumerate(value):
                if budget[0] <= 0:
                    return
                if i:
                    emit(", ")
                walk(item, depth + 1)
            emit("]")
        elif isinstance(value, Mapping):
            if depth >= MAX_SHOWN_DEPTH:
                emit("{" + ELLIPSIS + "}")
                return
            emit("{")
            for i, (key, item) in enumerate(value.items()):
                if budget[0] <= 0:
                    return
                if i:
                    emit(", ")
                emit(one_line(str(key), budget[0] + 1) + " = ")
                walk(item, depth + 1)
            emit("}")
        else:
            emit(one_line(str(value), budget[0] + 1))

    walk(raw, 0)
    return shorten("".join(parts), limit)
