"""Quiet reasons on Windows from `SHQueryUserNotificationState` (shell32, Vista+): Windows' own
answer to "may an app pop something up now?", a QUERY_USER_NOTIFICATION_STATE (the constants
below). `reasons_from_notification_state` is the pure mapping; QUNS_QUIET_TIME is deliberately
not a reason (it is Windows' onboarding hour, not the user asking for quiet).
"""

from __future__ import annotations

import ctypes
import logging
import sys
from typing import Any

from psoas_break.ports import Unavailable

log = logging.getLogger(__name__)

QUNS_NOT_PRESENT = 1  # screen saver, locked, or another user's session is active
QUNS_BUSY = 2  # a fullscreen app is running, or presentation settings are on
QUNS_RUNNING_D3D_FULL_SCREEN = 3  # a fullscreen (exclusive mode) Direct3D app is running
QUNS_PRESENTATION_MODE = 4  # the user turned on presentation settings
QUNS_ACCEPTS_NOTIFICATIONS = 5  # none of the above
QUNS_QUIET_TIME = 6  # the first hour after a user's first ever sign-in (Windows 7+)
QUNS_APP = 7  # a fullscreen Windows Store app is running (Windows 8+)

_REASONS: dict[int, tuple[str, ...]] = {
    QUNS_NOT_PRESENT: ("away",),
    QUNS_BUSY: ("fullscreen",),
    QUNS_RUNNING_D3D_FULL_SCREEN: ("fullscreen",),
    QUNS_PRESENTATION_MODE: ("presentation",),
    QUNS_ACCEPTS_NOTIFICATIONS: (),
    QUNS_QUIET_TIME: (),
    QUNS_APP: ("fullscreen",),
}


def reasons_from_notification_state(state: int) -> tuple[str, ...]:
    """Quiet reasons for a QUERY_USER_NOTIFICATION_STATE value; () for unknown values."""
    return _REASONS.get(state, ())


class WindowsStateDetector:
    """QuietDetector over shell32's SHQueryUserNotificationState."""

    name = "windows-state"

    def __init__(self, query: Any) -> None:
        self._query = query

    @classmethod
    def open(cls) -> WindowsStateDetector:
        """Raises Unavailable off Windows or when shell32 lacks the call."""
        windll = getattr(ctypes, "windll", None)
        if sys.platform != "win32" or windll is None:
            raise Unavailable("only on Windows")
        try:
            query = windll.shell32.SHQueryUserNotificationState
        except AttributeError:
            raise Unavailable("shell32 has no SHQueryUserNotificationState") from None
        query.argtypes = [ctypes.POINTER(ctypes.c_int)]
        query.restype = ctypes.c_long  # HRESULT
        return cls(query)

    def state(self) -> int | None:
        """The QUERY_USER_NOTIFICATION_STATE now, or None when the call fails."""
        value = ctypes.c_int(0)
        hresult = self._query(ctypes.byref(value))
        return int(value.value) if hresult == 0 else None

    def reasons(self) -> tuple[str, ...]:
        """Quiet reasons for the state now; never raises."""
        try:
            state = self.state()
        except Exception:
            log.debug("SHQueryUserNotificationState failed", exc_info=True)
            return ()
        return () if state is None else reasons_from_notification_state(state)

    def close(self) -> None:
        """Nothing is kept open."""
