"""gpsd (the usual daemon for USB GPS pucks): ground speed from its JSON protocol.

`gpsdclient` (PyPI, MIT, pure Python) does the connection, the ?WATCH request, gpsd's VERSION
banner check and line framing; around it, one daemon thread ("psoas-gpsd"):

- Speeds: a TPV with mode >= 2 and "speed" gives m/s (gpsd converts RMC knots). Mode 0/1, a
  TPV without speed, a device deactivated, an empty device list and a lost connection give
  None -- only after a speed, never twice in a row. The first fix may come twice (mode 2, then
  3), DEVICES may be [] at start, the first TPV may lack speed: all are taken leniently.
- Only "class", "mode" and "speed" are read. TPV also carries latitude and longitude: no line,
  report or exception text that could hold one is ever logged or kept.
- TPV "time" is the receiver's UTC from the sentence (a replay's log time): not used; the
  service stamps samples with the app's clock.
- Reads block with no timeout: an idle source costs no wake-ups. A receiver that falls silent
  while gpsd keeps it open sends nothing; the core's stale_s turns that into a lost fix.
- Reconnect: refused or dropped, retried after 1 s doubling to 60 s; the backoff resets once
  gpsd answered. `stop()` shuts the socket down, which ends a blocked read at once.
"""

from __future__ import annotations

import contextlib
import json
import logging
import socket
import threading
from collections.abc import Callable
from typing import Any

from psoas_break.adapters.location.relay import SpeedRelay
from psoas_break.ports import Unavailable

log = logging.getLogger(__name__)

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 2947
BACKOFF_FIRST_S = 1.0
BACKOFF_MAX_S = 60.0
CONNECT_TIMEOUT_S = 5.0  # also bounds the wait for gpsd's VERSION banner
PROBE_TIMEOUT_S = 1.0
STOP_JOIN_S = 5.0


def parse_address(text: str | None) -> tuple[str, int]:
    """ "host:port" (PSOAS_GPSD) as (host, port); the defaults for what is left out."""
    if not text:
        return DEFAULT_HOST, DEFAULT_PORT
    host, _, port = text.strip().rpartition(":")
    if not host:
        return port or DEFAULT_HOST, DEFAULT_PORT
    try:
        return host, int(port)
    except ValueError:
        raise Unavailable(f"PSOAS_GPSD={text!r} is not host:port") from None


def probe(host: str, port: int, timeout_s: float = PROBE_TIMEOUT_S) -> str:
    """gpsd's release if gpsd answers at host:port (its VERSION banner); Unavailable if not."""
    try:
        with socket.create_connection((host, port), timeout=timeout_s) as sock:
            sock.settimeout(timeout_s)
            banner = sock.recv(512)
    except ConnectionRefusedError:
        raise Unavailable(f"gpsd is not running at {host}:{port}") from None
    except OSError as exc:
        raise Unavailable(f"gpsd at {host}:{port} did not answer ({type(exc).__name__})") from None
    try:
        hello = json.loads(banner.split(b"\n", 1)[0])
    except ValueError:
        hello = None
    if not isinstance(hello, dict) or hello.get("class") != "VERSION":
        raise Unavailable(f"something at {host}:{port} is not gpsd (no VERSION banner)")
    return str(hello.get("release", "?"))


class GpsdSource:
    """LocationSource over gpsd (see module docstring)."""

    name = "gpsd"

    def __init__(self, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT) -> None:
        self.host, self.port = host, int(port)
        self.status = f"gpsd at {host}:{port}, not started"
        self._emit = SpeedRelay("gpsd")
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._client: Any = None  # the gpsdclient.GPSDClient of the connection being read
        self._thread: threading.Thread | None = None
        self.connects = 0

    def start(self, on_speed: Callable[[float | None], None]) -> None:
        self._emit.start(on_speed)
        self._thread = threading.Thread(target=self._run, name="psoas-gpsd", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        with self._lock:
            sock = getattr(self._client, "sock", None)
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        if self._thread is not None:
            self._thread.join(STOP_JOIN_S)

    def _run(self) -> None:
        where = f"{self.host}:{self.port}"
        delay = BACKOFF_FIRST_S
        while not self._stop.is_set():
            answered = False
            try:
                answered = self._session()
                if not self._stop.is_set():
                    self.status = f"gpsd at {where} closed the connection"
            except TimeoutError:
                self.status = f"gpsd at {where} did not answer"
            except ConnectionRefusedError:
                self.status = f"gpsd is not running at {where}"
            except ValueError:  # a line that is not JSON: never logged (it may hold a position)
                self.status = f"gpsd at {where} sent a line that is not JSON"
            except OSError as exc:
                # gpsdclient raises a bare OSError when the banner is not gpsd's; the class
                # name only, as str() of some errors carries data.
                self.status = (f"no gpsd at {where} (not its banner)" if exc.errno is None
                               else f"gpsd connection failed ({type(exc).__name__})")
            if self._stop.is_set():
                break
            self._emit(None)
            if answered:
                delay = BACKOFF_FIRST_S
            log.info("gpsd: %s; trying again in %.0f s", self.status, delay)
            if self._stop.wait(delay):
                break
            delay = min(delay * 2, BACKOFF_MAX_S)
        self.status = f"gpsd at {where}, stopped"

    def _session(self) -> bool:
        """One connection until it ends; True once gpsd answered. Raises OSError/ValueError."""
        from gpsdclient.client import GPSDClient  # the package's __init__ has no __all__

        client = GPSDClient(self.host, self.port, timeout=CONNECT_TIMEOUT_S)
        answered = False
        try:
            with self._lock:
                if self._stop.is_set():
                    return False
                self._client = client
            for line in client.json_stream(filter=["TPV", "DEVICE", "DEVICES", "VERSION"]):
                if self._stop.is_set():
                    break
                msg = json.loads(line)
                kind = msg.get("class") if isinstance(msg, dict) else None
                if kind == "VERSION":
                    answered = True
                    self.connects += 1
                    self.status = f"gpsd {msg.get('release', '?')} at {self.host}:{self.port}"
                    log.info("%s", self.status)
                    client.sock.settimeout(None)  # idle reads block without wake-ups
                elif kind == "TPV":
                    self._emit(speed_of(msg))
                elif ((kind == "DEVICE" and msg.get("activated") == 0)
                      or (kind == "DEVICES" and not msg.get("devices"))):
                    self._emit(None)  # the receiver went away (unplugged, end of a replay)
        finally:
            with self._lock:
                self._client = None
            client.close()  # type: ignore[no-untyped-call]  # gpsdclient 1.3.2
        return answered


def speed_of(tpv: dict[str, Any]) -> float | None:
    """Speed over ground in m/s from a TPV, or None without a 2D/3D fix or without speed."""
    mode, speed = tpv.get("mode", 0), tpv.get("speed")
    if isinstance(mode, bool) or not isinstance(mode, int) or mode < 2:
        return None
    if isinstance(speed, bool) or not isinstance(speed, (int, float)):
        return None
    if speed != speed or speed < 0 or speed == float("inf"):  # NaN, nonsense
        return None
    return float(speed)
