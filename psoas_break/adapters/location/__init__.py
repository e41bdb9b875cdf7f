"""Location sources for the driver profile's road detection: ground speed, never a position.

`make_location_source(env, device)` -> (a LocationSource, not started, and its Choice), through
the one backend helper. Candidates, best first:
  gpsd     gpsd answers at PSOAS_GPSD ("host:port", default 127.0.0.1:2947): the usual daemon
           for USB GPS pucks in cabs (location/gpsd.py)
  geoclue  GeoClue2 on the system bus offers exact (GPS-grade) accuracy (location/geoclue.py)
  serial   the `gps_device` setting, else a serial port that names itself a GPS receiver, read
           directly with pyserial and pynmeagps (location/serial_nmea.py)
  windows  WinRT Geolocator (location/windows.py, on paper)
  macos    CoreLocation (location/macos.py, on paper)
PSOAS_LOCATION_BACKEND names one of them, or "none". Nothing works: `NullLocationSource`.

`LocationService` is what the runtime holds: `want(device)` (engine thread, never blocks) keeps
the first source that works running while the driver profile detects the road, and `want(None)`
stops it. Its thread ("psoas-location", made at the first want) opens and stops sources and,
while none works, looks again every RETRY_S. Each source's speeds become `RoadSample` commands
stamped with the app's clock on the source's thread, only those the core's SampleGate wants
(a band change, or a keep-alive a few times a minute), and every change of source a
`LocationState` command.

Privacy: no source reads a latitude or longitude, and nothing here logs a report.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
from collections.abc import Callable, Mapping

from psoas_break.adapters.backends import LINUX_BSD, MACOS, WINDOWS, Candidate, first
from psoas_break.core.commands import Command, LocationState, RoadSample
from psoas_break.core.road import SampleGate
from psoas_break.ports import Choice, Clock, LocationSource, Unavailable

log = logging.getLogger(__name__)

FAMILY = "location"
ENV_VAR = "PSOAS_LOCATION_BACKEND"
GPSD_ENV = "PSOAS_GPSD"
RETRY_S = 300.0  # engine seconds between looks for a source while none works
STOP_JOIN_S = 3.0  # a source still opening (a slow probe) is a daemon thread: not waited for

OpenSource = Callable[[str], tuple[LocationSource, Choice]]


class NullLocationSource:
    """No location source: the driver reports stops by hand."""

    name = "none"
    status = "no location source"

    def start(self, on_speed: Callable[[float | None], None]) -> None:
        """Nothing to start."""

    def stop(self) -> None:
        """Nothing to stop."""


def _candidates(env: Mapping[str, str], device: str) -> tuple[Candidate[LocationSource], ...]:
    def gpsd() -> LocationSource:
        from psoas_break.adapters.location.gpsd import GpsdSource, parse_address, probe

        host, port = parse_address(env.get(GPSD_ENV))
        probe(host, port)
        return GpsdSource(host, port)

    def geoclue() -> LocationSource:
        from psoas_break.adapters.location.geoclue import open_geoclue

        return open_geoclue(env)

    def serial() -> LocationSource:
        return _open_serial(device)

    def windows() -> LocationSource:
        from psoas_break.adapters.location.windows import open_windows

        return open_windows()

    def macos() -> LocationSource:
        from psoas_break.adapters.location.macos import open_macos

        return open_macos()

    return (
        Candidate("gpsd", gpsd, fix="sudo apt install gpsd, and plug the GPS receiver in"),
        Candidate("geoclue", geoclue, LINUX_BSD),
        Candidate("serial", serial, fix="name the receiver's port: psoas-break config set "
                                        "gps_device /dev/ttyUSB0"),
        Candidate("windows", windows, WINDOWS),
        Candidate("macos", macos, MACOS),
    )


def _open_serial(device: str) -> LocationSource:
    try:
        import pynmeagps  # noqa: F401 - only whether it is there
        import serial  # noqa: F401
    except ImportError as exc:
        raise Unavailable(f"cannot read a serial receiver ({exc}); "
                          "pip install pyserial pynmeagps") from None
    from psoas_break.adapters.location.serial_nmea import AUTO_SCORE, SerialSource, find_receivers

    if device:
        if not sys.platform.startswith("win") and not os.path.exists(device):
            raise Unavailable(f"gps_device {device} does not exist (is the receiver plugged in?)")
        return SerialSource(device, "named by gps_device")
    receivers = find_receivers()
    named = [r for r in receivers if r.score >= AUTO_SCORE]
    if named:
        return SerialSource(named[0].device, named[0].why)
    if receivers:
        maybe = ", ".join(f"{r.device} ({r.why})" for r in receivers[:3])
        raise Unavailable(f"no serial port names itself a GPS receiver; {maybe} may be one: "
                          "set gps_device to read it")
    raise Unavailable("no serial port names itself a GPS receiver")


def make_location_source(device: str = "", env: Mapping[str, str] | None = None, *,
                         platform: str | None = None) -> tuple[LocationSource, Choice]:
    """The first location source that works here, not started, and why (see module
    docstring); never raises. `device`: the gps_device setting ("" to find one)."""
    environ = os.environ if env is None else env
    return first(FAMILY, _candidates(environ, device), NullLocationSource, env_var=ENV_VAR,
                 env=environ, platform=platform)


class LocationService:
    """Runs the wanted location source and posts its speeds (see module docstring)."""

    def __init__(self, clock: Clock, post: Callable[[Command], None],
                 open_source: OpenSource = make_location_source) -> None:
        self._clock = clock
        self._post = post
        self._open = open_source
        self._cond = threading.Condition()
        self._wanted: str | None = None
        self._changed = False
        self._closed = False
        self._thread: threading.Thread | None = None

    def want(self, device: str | None) -> None:
        """Run a source (`device`: the gps_device setting, "" to find one), or none (None).
        Any thread; returns at once."""
        with self._cond:
            if self._closed or (device == self._wanted and not self._changed):
                return
            self._wanted, self._changed = device, True
            self._cond.notify()
            if self._thread is None and device is not None:
                self._thread = threading.Thread(target=self._run, name="psoas-location",
                                                daemon=True)
                self._thread.start()

    def close(self) -> None:
        """Stop the source and the thread (waits a few seconds at most)."""
        with self._cond:
            self._closed = True
            self._cond.notify()
            thread = self._thread
        if thread is not None:
            thread.join(STOP_JOIN_S)

    def _run(self) -> None:
        source: LocationSource | None = None
        opened_for: str | None = None
        while True:
            with self._cond:
                while not (self._closed or self._changed):
                    if self._wanted is None or source is not None:
                        self._cond.wait()
                    elif not self._cond.wait(self._clock.real_s(RETRY_S)):
                        break  # time to look for a source again
                closed, wanted, self._changed = self._closed, self._wanted, False
            if source is not None and (closed or wanted != opened_for):
                self._stop(source)
                source = None
            if closed:
                return
            if wanted is not None and source is None:
                source = self._start(wanted)
                opened_for = wanted if source is not None else None

    def _start(self, device: str) -> LocationSource | None:
        try:
            source, choice = self._open(device)
        except Exception:  # noqa: BLE001 - a broken factory must not end the thread
            log.exception("opening a location source failed")
            return None
        reasons = "; ".join(f"{name}: {why}" for name, why in choice.rejected)
        if choice.chosen == "none":
            log.info("location: none (%s)", reasons)
            self._post(LocationState("none", reasons))
            return None
        gate, clock, post = SampleGate(), self._clock, self._post

        def on_speed(speed: float | None) -> None:
            mono_s = clock.read()[1]
            if gate.wanted(mono_s, speed):
                post(RoadSample(speed, mono_s))

        try:
            source.start(on_speed)
        except Exception:  # noqa: BLE001 - its reason goes to the log; looked for again later
            log.exception("starting the %s location source failed", source.name)
            return None
        log.info("location: %s (%s)", source.name, source.status)
        self._post(LocationState(source.name, source.status))
        return source

    @staticmethod
    def _stop(source: LocationSource) -> None:
        try:
            source.stop()
        except Exception:
            log.exception("stopping the %s location source failed", source.name)
