"""macOS' location service (CoreLocation): ground speed only. ON PAPER: written from Apple's
documentation and PyObjC's bridge, never run (no Mac here).

`pip install 'psoas-break[location]'` adds pyobjc-framework-CoreLocation on macOS.
- A CLLocationManager delivers its delegate calls on the run loop of the thread that made it,
  so the source makes it on its own thread and runs a CFRunLoop there until stop().
- `requestWhenInUseAuthorization()`; macOS shows the prompt only for an app bundle whose
  Info.plist has NSLocationWhenInUseUsageDescription: a bare Python process is denied, and
  then this source says so (authorizationStatus denied/restricted -> None and the status).
- `locationManager:didUpdateLocations:` -> CLLocation.speed in m/s, negative when invalid (as
  is speedAccuracy): skipped. Only the speed is read, never the coordinate.
Macs have no GPS of their own (Wi-Fi positions have no speed): a USB puck appears as
/dev/cu.usbmodem* or /dev/cu.usbserial*, which the serial candidate reads.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from psoas_break.adapters.location.relay import SpeedRelay
from psoas_break.ports import Unavailable

_DENIED = (1, 2)  # kCLAuthorizationStatusRestricted, kCLAuthorizationStatusDenied


def open_macos() -> MacLocationSource:
    """The CoreLocation source when location services are on; Unavailable otherwise."""
    try:
        import CoreLocation
    except ImportError as exc:
        raise Unavailable(f"cannot import CoreLocation ({exc}); "
                          "pip install 'psoas-break[location]'") from None
    if not CoreLocation.CLLocationManager.locationServicesEnabled():
        raise Unavailable("location services are off (System Settings > Privacy & Security)")
    return MacLocationSource(CoreLocation)


class MacLocationSource:
    """LocationSource over CoreLocation (see module docstring)."""

    name = "macos"

    def __init__(self, core_location: Any) -> None:
        self._cl = core_location
        self._loop: Any = None
        self._ready = threading.Event()
        self._thread: threading.Thread | None = None
        self._emit = SpeedRelay("CoreLocation")
        self.status = "CoreLocation, not started"

    def start(self, on_speed: Callable[[float | None], None]) -> None:
        self._emit.start(on_speed)
        self._thread = threading.Thread(target=self._run, name="psoas-corelocation",
                                        daemon=True)
        self._thread.start()
        self._ready.wait(5.0)

    def stop(self) -> None:
        from CoreFoundation import CFRunLoopStop

        if self._loop is not None:
            CFRunLoopStop(self._loop)
        if self._thread is not None:
            self._thread.join(5.0)

    def _run(self) -> None:
        from CoreFoundation import CFRunLoopGetCurrent, CFRunLoopRun
        from Foundation import NSObject

        source = self

        class Delegate(NSObject):  # type: ignore[misc]  # PyObjC's classes are untyped
            def locationManager_didUpdateLocations_(self, _manager: Any, locations: Any) -> None:
                speed = float(locations[-1].speed())
                if speed >= 0:
                    source._emit(speed)

            def locationManager_didFailWithError_(self, _manager: Any, error: Any) -> None:
                source.status = f"CoreLocation: {error.localizedDescription()}"
                source._emit(None)

            def locationManagerDidChangeAuthorization_(self, manager: Any) -> None:
                if manager.authorizationStatus() in _DENIED:
                    source.status = "CoreLocation: this app is not allowed the location"
                    source._emit(None)

        manager = self._cl.CLLocationManager.alloc().init()
        delegate = Delegate.alloc().init()
        manager.setDelegate_(delegate)
        manager.setDesiredAccuracy_(self._cl.kCLLocationAccuracyBest)
        manager.requestWhenInUseAuthorization()
        manager.startUpdatingLocation()
        self.status = "CoreLocation"
        self._loop = CFRunLoopGetCurrent()
        self._ready.set()
        CFRunLoopRun()
        manager.stopUpdatingLocation()
