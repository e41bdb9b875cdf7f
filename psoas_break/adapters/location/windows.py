"""Windows' location service (WinRT Geolocator): ground speed only. ON PAPER: written from
Microsoft's documentation and PyWinRT's generated API, never run (no Windows here).

PyWinRT's per-namespace packages (`pip install psoas-break[location]` on Windows:
winrt-Windows.Devices.Geolocation, winrt-Windows.Foundation, winrt-runtime):

- `Geolocator.request_access_async()` once (Windows asks the user the first time; desktop apps
  also need Settings > Privacy > Location > "Let desktop apps access your location"):
  anything but ALLOWED -> Unavailable with where to switch it on.
- DesiredAccuracy HIGH and ReportInterval 1000 ms; the PositionChanged event (a WinRT thread)
  gives `args.position.coordinate.speed`: m/s, or None/NaN when unknown (skipped, as GeoClue's
  -1: a wifi or IP position has no speed). StatusChanged NO_DATA/DISABLED/NOT_AVAILABLE -> None.
- Only the speed is read, never the coordinate's latitude or longitude.
A USB puck on Windows is usually a COM port without a location driver: the serial candidate
(`gps_device` = "COM3") reads it.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable
from typing import Any

from psoas_break.adapters.location.relay import SpeedRelay
from psoas_break.ports import Unavailable

REPORT_INTERVAL_MS = 1000
_FIX = ("Settings > Privacy & security > Location: turn on location services and "
        "\"Let desktop apps access your location\" (ms-settings:privacy-location)")


def open_windows() -> WindowsLocationSource:
    """The Geolocator when this user allows location; Unavailable otherwise."""
    try:
        from winrt.windows.devices import geolocation
    except ImportError as exc:
        raise Unavailable(f"cannot import PyWinRT's geolocation ({exc}); "
                          "pip install 'psoas-break[location]'") from None
    status = asyncio.run(_request_access(geolocation))
    if status != geolocation.GeolocationAccessStatus.ALLOWED:
        raise Unavailable(f"location is not allowed for this app: {_FIX}")
    return WindowsLocationSource(geolocation)


async def _request_access(geolocation: Any) -> Any:
    return await geolocation.Geolocator.request_access_async()


class WindowsLocationSource:
    """LocationSource over WinRT's Geolocator (see module docstring)."""

    name = "windows"

    def __init__(self, geolocation: Any) -> None:
        self._geo = geolocation
        self._locator: Any = None
        self._tokens: list[tuple[str, Any]] = []
        self._emit = SpeedRelay("Windows location")
        self.status = "Windows location, not started"

    def start(self, on_speed: Callable[[float | None], None]) -> None:
        self._emit.start(on_speed)
        locator = self._geo.Geolocator()
        locator.desired_accuracy = self._geo.PositionAccuracy.HIGH
        locator.report_interval = REPORT_INTERVAL_MS
        self._tokens = [
            ("position", locator.add_position_changed(self._position_changed)),
            ("status", locator.add_status_changed(self._status_changed)),
        ]
        self._locator = locator
        self.status = "Windows location (high accuracy)"

    def stop(self) -> None:
        locator, self._locator = self._locator, None
        if locator is None:
            return
        for kind, token in self._tokens:
            if kind == "position":
                locator.remove_position_changed(token)
            else:
                locator.remove_status_changed(token)

    def _position_changed(self, _sender: Any, args: Any) -> None:
        speed = args.position.coordinate.speed
        if isinstance(speed, float) and math.isfinite(speed) and speed >= 0:
            self._emit(speed)

    def _status_changed(self, _sender: Any, args: Any) -> None:
        lost = (self._geo.PositionStatus.NO_DATA, self._geo.PositionStatus.DISABLED,
                self._geo.PositionStatus.NOT_AVAILABLE)
        if args.status in lost:
            self.status = f"Windows location: {args.status}"
            self._emit(None)
