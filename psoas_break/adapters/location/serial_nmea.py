"""An NMEA 0183 receiver read directly from a serial port, for when there is no gpsd.

pyserial opens the port; pynmeagps (maintained, typed, no dependencies) checks each sentence's
checksum and parses RMC. One daemon thread ("psoas-nmea"):

- Reading: `read(1)` blocks with no timeout (no wake-ups while the receiver is silent), then
  `read(in_waiting)` takes the rest of the burst: one wake-up per burst, not per byte.
- Speeds: RMC status A (mode not N) gives knots x 0.514444 m/s; status V or mode N gives None
  (only after a speed, never twice in a row). Other sentences are ignored, and only status and
  speed of RMC are read: never a position. Lines are never logged.
- Rate: unknown at first; `probe_baud` tries 9600, 4800, 38400 and 115200 and keeps the first
  that gives a sentence with a valid checksum (a USB CDC-ACM receiver ignores the rate).
- Unplugged (SerialException/OSError): None, then reopened with a backoff (1 s doubling to
  60 s); no permission: said in `status` ("dialout group?"), retried the same way.
- Stop: `cancel_read()` (pyserial >= 3.1, POSIX and Windows) ends the blocked read at once.

Discovery (`find_receivers`) ranks ports by what they say about themselves; only a port that
names itself a GPS receiver (score >= AUTO_SCORE) is opened unasked: opening a port toggles
DTR, which resets an Arduino, and a modem's AT port is not ours to read. Anything else is read
only when the user names it (the `gps_device` setting).
"""

from __future__ import annotations

import contextlib
import glob
import logging
import os
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from psoas_break.adapters.location.relay import SpeedRelay

log = logging.getLogger(__name__)

KNOT_MPS = 0.514444
BACKOFF_FIRST_S = 1.0
BACKOFF_MAX_S = 60.0
MAX_LINE = 512  # an NMEA sentence has at most 82 characters; anything longer is noise
COMMON_BAUDS = (9600, 4800, 38400, 115200)
PROBE_PER_BAUD_S = 2.5  # a receiver sends at least one burst a second
STOP_JOIN_S = 5.0
AUTO_SCORE = 50

UBLOX_VID = 0x1546
GPS_WORDS = ("gps", "gnss", "u-blox", "ublox", "sirf", "globalsat", "navisys", "garmin", "nmea")
#: USB-serial bridges GPS pucks are built on (the BU-353 on Prolific): they say nothing about
#: what is behind them, so they rank below a receiver that names itself.
BRIDGE_VIDS = {0x067B: "Prolific", 0x10C4: "Silicon Labs CP210x", 0x0403: "FTDI",
               0x1A86: "WCH CH340"}


def speed_from_sentence(line: bytes) -> tuple[bool, float | None]:
    """(is_rmc, m/s or None for no fix) from one raw sentence; (False, None) for anything else,
    including a bad checksum."""
    if b"RMC," not in line[:8]:
        return False, None
    from pynmeagps import NMEAReader

    try:
        msg = NMEAReader.parse(line.strip())
    except Exception:  # noqa: BLE001 - pynmeagps raises several types for bad input
        return False, None
    if msg is None or getattr(msg, "msgID", "") != "RMC":
        return False, None
    knots = getattr(msg, "spd", "")
    if (getattr(msg, "status", "") != "A" or getattr(msg, "posMode", "") == "N"
            or isinstance(knots, bool) or not isinstance(knots, (int, float))):
        return True, None
    return True, float(knots) * KNOT_MPS


@dataclass(frozen=True)
class Receiver:
    """A serial port that may be a GPS receiver: the stable /dev/serial/by-id path when there
    is one, its score and why."""

    device: str
    score: int
    why: str


def _by_id_links() -> dict[str, str]:
    links = {}
    for link in glob.glob("/dev/serial/by-id/*"):
        with contextlib.suppress(OSError):
            links[os.path.realpath(link)] = link
    return links


def find_receivers(ports: Iterable[Any] | None = None,
                   by_id: Mapping[str, str] | None = None) -> list[Receiver]:
    """Serial ports that look like GPS receivers, best first (`ports`: pyserial ListPortInfo)."""
    if ports is None:
        from serial.tools import list_ports

        ports = list_ports.comports()
    by_id = _by_id_links() if by_id is None else by_id
    found = []
    for port in ports:
        link = by_id.get(os.path.realpath(port.device), "")
        text = " ".join(str(x) for x in (port.description, port.manufacturer, port.product, link)
                        if x).lower()
        score, why = 0, []
        if port.vid == UBLOX_VID:
            score += 100
            why.append("u-blox USB id")
        if any(word in text for word in GPS_WORDS):
            score += 50
            why.append("names itself a GPS receiver")
        if port.vid in BRIDGE_VIDS:
            score += 10
            why.append(f"{BRIDGE_VIDS[port.vid]} USB-serial bridge")
        if score:
            found.append(Receiver(link or port.device, score, ", ".join(why)))
    return sorted(found, key=lambda r: -r.score)


def probe_baud(ser: Any, bauds: Iterable[int] = COMMON_BAUDS,
               per_baud_s: float = PROBE_PER_BAUD_S) -> int | None:
    """The first rate at which the open port `ser` gives a sentence with a valid checksum."""
    from pynmeagps import NMEAReader

    for baud in bauds:
        ser.baudrate = baud
        ser.timeout = 0.2
        ser.reset_input_buffer()
        deadline = time.monotonic() + per_baud_s
        pending = b""
        while time.monotonic() < deadline:
            pending += ser.read(256)
            *lines, pending = pending.split(b"\n")
            pending = pending[-MAX_LINE:]
            for line in lines:
                with contextlib.suppress(Exception):
                    if line.startswith(b"$") and NMEAReader.parse(line.strip()) is not None:
                        return int(baud)
    return None


class SerialSource:
    """LocationSource over an NMEA receiver on a serial port (see module docstring)."""

    name = "serial"

    def __init__(self, device: str, why: str = "") -> None:
        self.device = device
        self.why = why
        self.status = f"{device}, not started"
        self._emit = SpeedRelay("serial GPS")
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._ser: Any = None
        self._thread: threading.Thread | None = None
        self.baud: int | None = None
        self.opens = 0

    def start(self, on_speed: Callable[[float | None], None]) -> None:
        self._emit.start(on_speed)
        self._thread = threading.Thread(target=self._run, name="psoas-nmea", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        with self._lock:
            ser = self._ser
        if ser is not None:
            with contextlib.suppress(Exception):
                ser.cancel_read()
        if self._thread is not None:
            self._thread.join(STOP_JOIN_S)

    def _run(self) -> None:
        import serial

        delay = BACKOFF_FIRST_S
        while not self._stop.is_set():
            try:
                ser = serial.Serial(self.device, self.baud or COMMON_BAUDS[0], timeout=None)
            except (serial.SerialException, OSError) as exc:
                denied = getattr(exc, "errno", None) == 13 or "ermission denied" in str(exc)
                self.status = (f"no permission to open {self.device} (are you in the dialout "
                               "group?)" if denied else f"cannot open {self.device}")
                log.info("serial GPS: %s", self.status)
                if self._stop.wait(delay):
                    break
                delay = min(delay * 2, BACKOFF_MAX_S)
                continue
            with self._lock:
                self._ser = ser
            self.opens += 1
            try:
                if self.baud is None:
                    self.status = f"{self.device}: finding its rate"
                    self.baud = probe_baud(ser)
                    if self.baud is None:
                        raise serial.SerialException("no NMEA sentence at any common rate")
                    ser.baudrate, ser.timeout = self.baud, None
                self.status = f"reading {self.device} at {self.baud} baud"
                log.info("serial GPS: %s", self.status)
                delay = BACKOFF_FIRST_S
                self._read(ser)
            except (serial.SerialException, OSError, TypeError) as exc:
                # Unplugged: "device reports readiness to read but returned no data"; a port
                # closed under a read: TypeError. Either way: reopen.
                self.status = f"{self.device}: {type(exc).__name__}"
                log.info("serial GPS: %s", self.status)
            finally:
                with self._lock:
                    self._ser = None
                with contextlib.suppress(Exception):
                    ser.close()
            self._emit(None)
            if self._stop.wait(delay):
                break
            delay = min(delay * 2, BACKOFF_MAX_S)
        self.status = f"{self.device}, stopped"

    def _read(self, ser: Any) -> None:
        pending = b""
        while not self._stop.is_set():
            chunk = ser.read(1)  # blocks until a byte arrives or cancel_read()
            if not chunk:
                continue
            waiting = ser.in_waiting
            if waiting:
                chunk += ser.read(waiting)
            pending += chunk
            *lines, pending = pending.split(b"\n")
            if len(pending) > MAX_LINE:
                pending = b""
            for line in lines:
                is_rmc, speed = speed_from_sentence(line)
                if is_rmc:
                    self._emit(speed)
