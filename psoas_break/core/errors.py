"""The root of every error psoas-break raises on purpose (the whole tree is drawn in ports.py).

Stdlib only, so the core can raise `InputError` and adapters can derive from `PsoasError`.
"""

from __future__ import annotations


class PsoasError(Exception):
    """Base of every error psoas-break raises on purpose; str() is one plain line for the user."""


class InputError(PsoasError, ValueError):
    """Something a person or a file gave is not allowed; str() names it and what is allowed."""
