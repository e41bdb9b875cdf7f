"""The root of every error psoas-break raises on purpose (the whole tree is drawn in ports.py).

Stdlib only, so the core can raise `InputError` and adapters can derive from `PsoasError`.
"""

from __future__ import annotations


class PsoasError(Exception):
    """Base of every error psoas-break raises on purpose; str() is one plain line for the user."""


class InputError(PsoasError, ValueError):
    """Something a person or a file gave is not allowed; str() names it and what is allowed."""


def value_text(raw: object) -> str:
    """`raw` as the settings file (TOML) writes it, for the one line an InputError shows."""
    if isinstance(raw, str):
        return f'"{raw}"'
    if isinstance(raw, bool):
        return "true" if raw else "false"
    if isinstance(raw, (list, tuple)):
        return "[" + ", ".join(value_text(x) for x in raw) + "]"
    return repr(raw)
