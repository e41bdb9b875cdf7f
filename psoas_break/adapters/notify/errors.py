"""Notifier errors that say "the notification server itself is the problem", and the mapping
from D-Bus error names to them.

Several backends on Linux (the direct D-Bus notifier, plyer, pystray's own notify) talk to the
same org.freedesktop.Notifications server. When that server is missing or hung, trying the next
backend that uses it only costs time, so the chain skips every backend sharing that server.
"""

from __future__ import annotations

from psoas_break.ports import AdapterError, DeliveryFailed, Unavailable

#: The `server` label of backends that talk to org.freedesktop.Notifications.
FDO_SERVER = "org.freedesktop.Notifications"
NO_SERVER_MESSAGE = (f"no notification server is running (nothing owns {FDO_SERVER} on the "
                     "session bus)")

_ERROR = "org.freedesktop.DBus.Error."
NO_SERVER_ERRORS = frozenset(_ERROR + n for n in ("ServiceUnknown", "NameHasNoOwner"))
TIMEOUT_ERRORS = frozenset(_ERROR + n for n in ("NoReply", "Timeout", "TimedOut"))
BUS_GONE_ERRORS = frozenset(_ERROR + n for n in (
    "Disconnected", "NoServer", "FileNotFound", "NoNetwork", "BadAddress", "AuthFailed"))


class NoServer(Unavailable):
    """Nothing answers at the notification server's name (or the bus is unreachable)."""


class ServerTimeout(DeliveryFailed):
    """The notification server did not answer in time (hung or overloaded)."""




def error_for(name: str, text: str, method: str, timeout_s: float | None) -> AdapterError:
    """The AdapterError for a D-Bus error reply `name` ("org.freedesktop.DBus.Error.X")."""
    if name in NO_SERVER_ERRORS:
        return NoServer(NO_SERVER_MESSAGE)
    if name in TIMEOUT_ERRORS:
        within = f" within {timeout_s:g} s" if timeout_s else ""
        return ServerTimeout(f"the notification server did not answer {method}{within}")
    if name in BUS_GONE_ERRORS:
        return NoServer(f"the D-Bus session bus is unreachable: {text}")
    if name.startswith(_ERROR + "Spawn"):
        return NoServer(f"the notification server could not be started: {text}")
    return DeliveryFailed(f"the notification server refused {method}: {name}: {text}")
