"""Quiet reason "do-not-disturb": the desktop's notifications are inhibited.

Two sources, each asked only when a prompt is due:

- `NotificationsInhibitedDetector`: the `Inhibited` property of org.freedesktop.Notifications
  (Desktop Notifications spec 1.2+: "do not disturb" on servers that have it, e.g. KDE
  Plasma), or else dunst's own `paused` property (org.dunstproject.cmd0; dunst 1.9 says it
  implements spec 1.2 but has no `Inhibited`, measured). One Properties.Get with a short
  timeout on the app's shared session-bus connection (psoas_break.adapters.dbus).
- `GnomeBannersDetector`: GNOME's own switch, `org.gnome.desktop.notifications show-banners`
  (false = Do Not Disturb in GNOME's calendar menu). GNOME Shell does not export `Inhibited`,
  so this is the only signal there. Read with one `gsettings get` (1 s timeout): a
  subprocess per check, but checks are rare (a due prompt, then every 30 s while one is held),
  and it reads dconf fresh every time, where an in-process Gio.Settings needs a GLib main loop
  to see changes.

Contract: `open(...)` raises `Unavailable` with a plain reason; `reasons()` returns
("do-not-disturb",) or () and never raises (a server that cannot be asked counts as not quiet:
better a prompt than a silent app).
"""

from __future__ import annotations

import logging
import shutil
import subprocess
from collections.abc import Mapping

from psoas_break.adapters.dbus import PROPERTIES_IFACE, Bus, CallFailed
from psoas_break.adapters.notify.errors import NO_SERVER_ERRORS
from psoas_break.ports import Unavailable

log = logging.getLogger(__name__)

REASON = "do-not-disturb"
NOTIFY_NAME = "org.freedesktop.Notifications"
NOTIFY_PATH = "/org/freedesktop/Notifications"
DEFAULT_TIMEOUT_S = 0.5

# Error names meaning "this server has no Inhibited property" (older than spec 1.2).
_NO_PROPERTY = frozenset("org.freedesktop.DBus.Error." + name for name in (
    "UnknownProperty", "InvalidArgs", "UnknownInterface", "UnknownMethod", "UnknownObject"))


# (interface, property) pairs meaning "do not disturb", asked in this order: the spec's
# own, then dunst's pause (`dunstctl set-paused true`; dunst 1.9 has no `Inhibited`).
INHIBIT_PROPERTIES = ((NOTIFY_NAME, "Inhibited"), ("org.dunstproject.cmd0", "paused"))


class NotificationsInhibitedDetector:
    """QuietDetector over the notification server's `Inhibited` (or dunst's `paused`)."""

    name = "notifications-inhibited"

    def __init__(self, bus: Bus, timeout_s: float = DEFAULT_TIMEOUT_S) -> None:
        self._bus = bus
        self._timeout_s = timeout_s
        self._order = list(INHIBIT_PROPERTIES)

    @classmethod
    def open(cls, env: Mapping[str, str], *,
             timeout_s: float = DEFAULT_TIMEOUT_S) -> NotificationsInhibitedDetector:
        """Connect to the session bus and ask the server once. Raises Unavailable when there is
        no bus or no jeepney, or when the running server answers without any of the
        properties; no server at all is accepted (one may start later: login races)."""
        detector = cls(Bus.open(env), timeout_s)
        try:
            detector._read()
        except CallFailed as exc:
            if exc.name in _NO_PROPERTY:
                server = detector._server_name()
                detector.close()
                raise Unavailable(f"the notification server{server} reports neither Inhibited "
                                  "(notification spec 1.2+) nor dunst's paused") from None
            if exc.name not in NO_SERVER_ERRORS:  # no server yet: it may start later
                log.info("notification server did not answer for Inhibited yet: %s", exc)
        return detector

    def _server_name(self) -> str:
        try:
            info = self._bus.call(NOTIFY_NAME, NOTIFY_PATH, NOTIFY_NAME, "GetServerInformation",
                                  timeout_s=self._timeout_s)
        except CallFailed:
            return ""
        return f" ({info[0]})" if info else ""

    def _read(self) -> bool:
        """The first property the server has; raises CallFailed (the last error)."""
        error: CallFailed | None = None
        for index, (interface, prop) in enumerate(self._order):
            try:
                (value,) = self._bus.call(NOTIFY_NAME, NOTIFY_PATH, PROPERTIES_IFACE, "Get", "ss",
                                          (interface, prop), timeout_s=self._timeout_s)
            except CallFailed as exc:
                if exc.name not in _NO_PROPERTY:
                    raise
                error = exc
                continue
            if index:
                # Ask this one first from now on (one call per check).
                self._order.insert(0, self._order.pop(index))
            return bool(value)
        assert error is not None
        raise error

    def inhibited(self) -> bool | None:
        """True/False as the server says; None when it cannot be asked now."""
        try:
            return self._read()
        except CallFailed as exc:
            log.debug("Inhibited not readable: %s", exc)
            return None
        except Exception:  # a reply of an unexpected shape: not quiet
            log.debug("Inhibited reply not understood", exc_info=True)
            return None

    def reasons(self) -> tuple[str, ...]:
        """("do-not-disturb",) when the server says so, else (); never raises."""
        return (REASON,) if self.inhibited() else ()

    def close(self) -> None:
        """Release the bus connection."""
        self._bus.close()


GNOME_SCHEMA = "org.gnome.desktop.notifications"
GNOME_KEY = "show-banners"


def is_gnome_desktop(env: Mapping[str, str]) -> bool:
    """True when XDG_CURRENT_DESKTOP names GNOME (or a GNOME-based shell using its settings)."""
    desktops = env.get("XDG_CURRENT_DESKTOP", "").lower().split(":")
    return any(d in ("gnome", "unity", "gnome-classic", "gnome-flashback", "budgie")
               for d in desktops)


class GnomeBannersDetector:
    """QuietDetector over GNOME's `show-banners` setting (false = Do Not Disturb)."""

    name = "gnome-banners"

    def __init__(self, gsettings: str, env: Mapping[str, str], timeout_s: float = 1.0) -> None:
        self._argv = [gsettings, "get", GNOME_SCHEMA, GNOME_KEY]
        self._env = dict(env)
        self._timeout_s = timeout_s

    @classmethod
    def open(cls, env: Mapping[str, str], *, timeout_s: float = 1.0) -> GnomeBannersDetector:
        """Find `gsettings` and read the key once; raises Unavailable (no gsettings, no schema)."""
        path = shutil.which("gsettings", path=env.get("PATH"))
        if path is None:
            raise Unavailable("gsettings is not installed (Debian: libglib2.0-bin)")
        detector = cls(path, env, timeout_s)
        value, error = detector._read()
        if value is None:
            raise Unavailable(f"cannot read {GNOME_SCHEMA} {GNOME_KEY}: {error}")
        return detector

    def _read(self) -> tuple[bool | None, str]:
        try:
            result = subprocess.run(self._argv, env=self._env, capture_output=True, text=True,
                                    timeout=self._timeout_s, check=False)
        except (OSError, subprocess.TimeoutExpired) as exc:
            return None, str(exc)
        text = result.stdout.strip()
        if result.returncode != 0 or text not in ("true", "false"):
            return None, (result.stderr.strip() or text or f"exit status {result.returncode}")
        return text == "true", ""

    def reasons(self) -> tuple[str, ...]:
        """("do-not-disturb",) when banners are off, else (); never raises."""
        shown, error = self._read()
        if shown is None:
            log.debug("show-banners not readable: %s", error)
            return ()
        return () if shown else (REASON,)

    def close(self) -> None:
        """Nothing is kept open."""
