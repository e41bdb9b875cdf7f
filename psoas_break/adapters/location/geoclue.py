"""GeoClue2 (the Linux desktop's location service, system bus): ground speed only.

Through the app's one D-Bus layer (psoas_break.adapters.dbus). The API, as geoclue 2.6 has it:

    Manager (/org/freedesktop/GeoClue2/Manager): AvailableAccuracyLevel (u), GetClient() -> o
    Client: DesktopId (s, set before Start), RequestedAccuracyLevel (u, 8 = exact: GPS, a
        modem's GPS or an NMEA source), DistanceThreshold (u, 0 = every update); Start(),
        Stop(); signal LocationUpdated(o old, o new)
    Location: Speed (d, m/s; -1 when unknown)

What this relies on, measured against the real daemon:
- GeoClue gives a speed only from a GPS-grade source; wifi or IP location has Speed -1. So the
  candidate opens only when AvailableAccuracyLevel is exact (8).
- GetClient does not answer until a location agent for the user is registered (GNOME Shell, or
  the geoclue demo agent elsewhere): the calls run on this source's own thread, never on the
  bus's receiver thread, and wait at most SETUP_TIMEOUT_S.
- Speed -1 ("unknown": e.g. a first fix from a GGA sentence, which has no speed, with nothing
  to compute one from) is skipped, not a lost fix. Without a fix GeoClue publishes nothing: the
  core's stale_s turns the silence into a lost fix. GeoClue leaving the bus gives None; when
  it comes back, the client is made again (the old one died with it).
- Only `Speed` is ever read: never Latitude, Longitude or GetAll.
"""

from __future__ import annotations

import contextlib
import logging
import math
import queue
import threading
from collections.abc import Callable, Mapping
from typing import Any

from psoas_break.adapters.dbus import PROPERTIES_IFACE, Bus, CallFailed, Signal
from psoas_break.adapters.location.relay import SpeedRelay
from psoas_break.ports import Unavailable

log = logging.getLogger(__name__)

GEOCLUE = "org.freedesktop.GeoClue2"
MANAGER_PATH = "/org/freedesktop/GeoClue2/Manager"
ACCURACY_EXACT = 8
PROBE_TIMEOUT_S = 5.0  # includes starting the daemon by bus activation
SETUP_TIMEOUT_S = 30.0  # GetClient waits for the location agent
CALL_TIMEOUT_S = 2.0
DESKTOP_ID = "psoas-break"
_STOP = object()


def open_geoclue(env: Mapping[str, str]) -> GeoClueSource:
    """A GeoClueSource if GeoClue offers exact (GPS-grade) accuracy here; Unavailable if not."""
    bus = Bus.open(env, "system")
    try:
        (level,) = bus.call(GEOCLUE, MANAGER_PATH, PROPERTIES_IFACE, "Get", "ss",
                            (f"{GEOCLUE}.Manager", "AvailableAccuracyLevel"), PROBE_TIMEOUT_S)
    except CallFailed as exc:
        bus.close()
        if exc.name.endswith(("ServiceUnknown", "NameHasNoOwner")):
            raise Unavailable("GeoClue is not installed or not running") from None
        raise Unavailable(f"GeoClue did not answer ({exc.name or exc})") from None
    except BaseException:
        bus.close()
        raise
    if not isinstance(level, int) or level < ACCURACY_EXACT:
        bus.close()
        raise Unavailable(f"GeoClue has no GPS here (best accuracy level {level!r} of "
                          f"{ACCURACY_EXACT}): wifi or IP location has no speed")
    return GeoClueSource(bus)


class GeoClueSource:
    """LocationSource over GeoClue2 (see module docstring). Owns `bus` (a handle)."""

    name = "geoclue"

    def __init__(self, bus: Bus) -> None:
        self._bus = bus
        self.status = "GeoClue, not started"
        self._emit = SpeedRelay("GeoClue")
        self._inbox: queue.Queue[Any] = queue.Queue()
        self._client: str | None = None
        self._thread: threading.Thread | None = None
        self._tokens: list[object] = []

    def start(self, on_speed: Callable[[float | None], None]) -> None:
        self._emit.start(on_speed)
        self._thread = threading.Thread(target=self._run, name="psoas-geoclue", daemon=True)
        self._thread.start()
        # Receiver-thread callbacks only queue; the calls they lead to run on our thread.
        self._tokens = [
            self._bus.subscribe(lambda signal: self._inbox.put(("location", signal)),
                                sender=GEOCLUE, interface=f"{GEOCLUE}.Client",
                                member="LocationUpdated"),
            self._bus.watch_name(GEOCLUE, lambda owner: self._inbox.put(("owner", owner))),
        ]

    def stop(self) -> None:
        for token in self._tokens:
            self._bus.unsubscribe(token)
        self._inbox.put(_STOP)
        if self._thread is not None:
            self._thread.join(CALL_TIMEOUT_S + 1.0)
        self._bus.close()

    def _run(self) -> None:
        owner = ""
        while True:
            item = self._inbox.get()
            if item is _STOP:
                break
            kind, value = item
            if kind == "owner":
                if value == owner:
                    continue
                owner, self._client = value, None
                if owner:
                    self._setup()
                else:
                    self.status = "GeoClue left the bus"
                    self._emit(None)
            elif kind == "location" and isinstance(value, Signal):
                self._location(value)
        client = self._client
        if client is not None:
            # GeoClue also drops a client whose connection goes away.
            with contextlib.suppress(CallFailed):
                self._bus.call(GEOCLUE, client, f"{GEOCLUE}.Client", "Stop",
                               timeout_s=CALL_TIMEOUT_S)

    def _setup(self) -> None:
        """GetClient, set it up, Start; a refusal only sets `status` (and the log)."""
        bus, client_iface = self._bus, f"{GEOCLUE}.Client"
        try:
            (path,) = bus.call(GEOCLUE, MANAGER_PATH, f"{GEOCLUE}.Manager", "GetClient",
                               timeout_s=SETUP_TIMEOUT_S)
            for prop, signature, value in (("DesktopId", "s", DESKTOP_ID),
                                           ("RequestedAccuracyLevel", "u", ACCURACY_EXACT),
                                           ("DistanceThreshold", "u", 0)):
                bus.call(GEOCLUE, str(path), PROPERTIES_IFACE, "Set", "ssv",
                         (client_iface, prop, (signature, value)), CALL_TIMEOUT_S)
            bus.call(GEOCLUE, str(path), client_iface, "Start", timeout_s=SETUP_TIMEOUT_S)
        except CallFailed as exc:
            # AccessDenied: location services off, or the agent refused this app; NoReply: no
            # location agent is running for this user.
            self.status = f"GeoClue refused: {exc.name or exc}"
            log.warning("%s", self.status)
            return
        self._client = str(path)
        self.status = "GeoClue (exact accuracy)"
        log.info("GeoClue client %s started", path)

    def _location(self, signal: Signal) -> None:
        if self._client is None or signal.path != self._client or len(signal.body) < 2:
            return
        try:
            (speed,) = self._bus.call(GEOCLUE, str(signal.body[1]), PROPERTIES_IFACE, "Get",
                                      "ss", (f"{GEOCLUE}.Location", "Speed"), CALL_TIMEOUT_S)
        except CallFailed:
            return  # replaced meanwhile: the next update will do
        if isinstance(speed, float) and math.isfinite(speed) and speed >= 0:
            self._emit(speed)
