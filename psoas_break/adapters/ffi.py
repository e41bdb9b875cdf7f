"""ctypes declarations for the platform adapters (Win32, CoreFoundation, IOKit, Xlib)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any


def declare(lib: Any, functions: Iterable[tuple[str, Any, list[Any]]]) -> None:
    """Give each (name, result type, argument types) to `lib`'s function of that name.

    Every pointer- or handle-sized argument and result must be declared: ctypes' default is a C
    int, which cuts 64-bit pointers and handles. Raises AttributeError for a missing symbol.
    """
    for name, restype, argtypes in functions:
        function = getattr(lib, name)
        function.restype, function.argtypes = restype, argtypes
