"""A real, headless desktop for tests: Xvfb, private D-Bus buses, fake desktop services.

Start here: `DesktopSession` (or the pytest fixtures `desktop` / `desktop_module` from
tests/conftest.py), then `wait_for` for anything asynchronous. See tests/desktop/README.md.

Importing it needs only the standard library and dbus-fast; python-xlib and Pillow load when
an X helper is first used.
"""

from .bus import BusClient, DBusCallError, Signal, SignalRecorder
from .dbusmenu import DBusMenu, MenuNode, StatusNotifierItem, TrayClient, strip_mnemonic
from .handle import ServiceHandle, ServiceStartError
from .lone_bus import LoneBus
from .session import (
    DesktopSession,
    DesktopStartError,
    DesktopUnavailable,
    LeakedProcessError,
    missing_tools,
)
from .waiting import WaitTimeout, wait_for

__all__ = [
    "BusClient",
    "DBusCallError",
    "DBusMenu",
    "DesktopSession",
    "DesktopStartError",
    "DesktopUnavailable",
    "LeakedProcessError",
    "LoneBus",
    "MenuNode",
    "ServiceHandle",
    "ServiceStartError",
    "Signal",
    "SignalRecorder",
    "StatusNotifierItem",
    "TrayClient",
    "WaitTimeout",
    "missing_tools",
    "strip_mnemonic",
    "wait_for",
]
