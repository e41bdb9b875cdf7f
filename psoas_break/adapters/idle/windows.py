"""Idle time on Windows: `GetLastInputInfo` + `GetTickCount64`, in-process via ctypes.

LASTINPUTINFO.dwTime is a 32-bit GetTickCount() value: it wraps every 2**32 ms (49.7 days of
uptime). GetTickCount64() does not wrap, and its low 32 bits are GetTickCount(). So the idle
time is the difference of the low 32 bits modulo 2**32 (`idle_ms_from_ticks`), exact as long
as the idle time itself is under 49.7 days. Reading order matters: last input first, then the
tick count, so the input can never look newer than "now"; a difference within a minute below
2**32 (an input that raced the reads) is taken as 0 rather than as 49.7 days.
"""

from __future__ import annotations

import ctypes
import sys
from typing import Any

from psoas_break.ports import Unavailable

TICK_MODULUS = 1 << 32
# A "negative" difference this close to the modulus is a race between the two reads.
_RACE_WINDOW_MS = 60_000


def idle_ms_from_ticks(now_tick64_ms: int, last_input_tick32_ms: int) -> int:
    """Milliseconds since the last input, from GetTickCount64() and LASTINPUTINFO.dwTime
    (wrap-around handled, see module docstring). Pure."""
    if not 0 <= last_input_tick32_ms < TICK_MODULUS:
        raise ValueError(f"dwTime must be a 32-bit unsigned value, not {last_input_tick32_ms}")
    diff = (now_tick64_ms - last_input_tick32_ms) % TICK_MODULUS
    if diff > TICK_MODULUS - _RACE_WINDOW_MS:
        return 0
    return diff


class _LASTINPUTINFO(ctypes.Structure):
    _fields_ = [("cbSize", ctypes.c_uint), ("dwTime", ctypes.c_uint32)]


class WindowsIdleSource:
    """IdleSource over GetLastInputInfo (user32) and GetTickCount64 (kernel32)."""

    name = "windows"
    # Declared here: mypy checks this module as Linux, where the code after the platform check
    # in __init__ is unreachable and the attributes would have no type.
    _user32: Any
    _kernel32: Any
    _info: _LASTINPUTINFO

    def __init__(self) -> None:
        windll = getattr(ctypes, "windll", None)
        if sys.platform != "win32" or windll is None:
            raise Unavailable("only on Windows")
        self._user32 = windll.user32
        self._kernel32 = windll.kernel32
        self._kernel32.GetTickCount64.restype = ctypes.c_uint64
        self._user32.GetLastInputInfo.argtypes = [ctypes.POINTER(_LASTINPUTINFO)]
        self._user32.GetLastInputInfo.restype = ctypes.c_int
        self._info = _LASTINPUTINFO()
        self._info.cbSize = ctypes.sizeof(_LASTINPUTINFO)

    @classmethod
    def open(cls) -> WindowsIdleSource:
        """The source, checked with one read; raises Unavailable."""
        source = cls()
        if source.idle_seconds() is None:
            raise Unavailable("GetLastInputInfo failed")
        return source

    def idle_seconds(self) -> float | None:
        """Seconds since the last input in this session, or None if the call failed (e.g. on
        a locked secure desktop)."""
        if not self._user32.GetLastInputInfo(ctypes.byref(self._info)):
            return None
        now_ms = int(self._kernel32.GetTickCount64())
        return idle_ms_from_ticks(now_ms, int(self._info.dwTime)) / 1000.0

    def close(self) -> None:
        """Nothing to release."""
