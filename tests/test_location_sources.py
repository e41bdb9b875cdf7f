"""Location sources against the real components: Debian's gpsd fed through a pty
(tests/road/gpsd_feed.py), the real GeoClue daemon on a private system bus with the demo agent
(tests/road/geoclue_bus.py; needs root for its private namespaces), and the serial NMEA reader
on a pseudo-terminal pair. Then the factory's choice and reasons, and the service that turns
speeds into commands. Nothing here reads a coordinate: the privacy tests feed positions and
look for them where they must never be.
"""

from __future__ import annotations

import ast
import logging
import os
import queue
import socket
import subprocess
import threading
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pytest

from psoas_break.adapters.location import (
    LocationService,
    NullLocationSource,
    _open_serial,
    make_location_source,
)
from psoas_break.adapters.location.gpsd import GpsdSource, parse_address, probe, speed_of
from psoas_break.adapters.location.serial_nmea import (
    KNOT_MPS,
    SerialSource,
    find_receivers,
    speed_from_sentence,
)
from psoas_break.core.commands import Command, LocationState, RoadSample
from psoas_break.core.road import KEEPALIVE_S
from psoas_break.ports import Choice, LocationSource, Unavailable
from tests.desktop.waiting import wait_for
from tests.fakes import ScriptedClock
from tests.road import journeys as nj
from tests.road.gpsd_feed import PacedGpsd, free_port, gpsd_installed, raw_pty

pytestmark = pytest.mark.timeout(120)

needs_gpsd = pytest.mark.skipif(
    not gpsd_installed() and not os.environ.get("CI"),
    reason="needs gpsd (bash .ci/system-deps test installs it)")

LAT = "4808.2292"  # how the journeys write the start latitude (48.137154 N) in NMEA


def fix(speed_mps: float | None) -> str:
    """One fix (RMC + GGA) at the journeys' start position."""
    return nj.fix_texts([nj.Segment("nofix", 1) if speed_mps is None
                         else nj.Segment("drive", 1, speed_mps, 0.0)], 1.0)[0]


class Speeds:
    """A source's on_speed, kept with arrival times."""

    def __init__(self) -> None:
        self.items: queue.Queue[float | None] = queue.Queue()
        self.seen: list[float | None] = []

    def __call__(self, speed: float | None) -> None:
        self.items.put(speed)

    def next(self, timeout_s: float = 10.0) -> float | None:
        value = self.items.get(timeout=timeout_s)
        self.seen.append(value)
        return value

    def until(self, predicate: object, timeout_s: float = 15.0) -> float | None:
        deadline = time.monotonic() + timeout_s
        while True:
            value = self.next(max(0.01, deadline - time.monotonic()))
            if callable(predicate) and predicate(value):
                return value


# ---- gpsd -------------------------------------------------------------------------------------


@needs_gpsd
def test_gpsd_speeds_in_mps_a_lost_fix_once_and_no_position_anywhere(
        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    with PacedGpsd() as gpsd:
        assert probe("127.0.0.1", gpsd.port).startswith("3.")
        source = GpsdSource("127.0.0.1", gpsd.port)
        speeds = Speeds()
        source.start(speeds)
        try:
            wait_for(lambda: source.connects == 1, 10, what="the source to connect")
            gpsd.idle(fix(15.0), 0.05)
            assert speeds.until(lambda v: v is not None) == pytest.approx(15.0, abs=0.01)
            gpsd.idle(fix(None), 0.05)  # a tunnel: RMC V, GGA quality 0
            assert speeds.until(lambda v: v is None) is None
            gpsd.idle(fix(3.0), 0.05)
            assert speeds.until(lambda v: v is not None) == pytest.approx(3.0, abs=0.01)
            between = speeds.seen[speeds.seen.index(None):]
            assert between.count(None) == 1  # said once, not per report
            assert "gpsd 3." in source.status
        finally:
            started = time.monotonic()
            source.stop()  # its read blocks with no timeout: shutting the socket ends it
            assert time.monotonic() - started < 1.0
    text = caplog.text + source.status
    assert LAT not in text and "48.1" not in text and "lat" not in text.lower()


@needs_gpsd
def test_gpsd_comes_back_after_the_daemon_restarts() -> None:
    port = free_port()
    speeds = Speeds()
    source = GpsdSource("127.0.0.1", port)
    with PacedGpsd(port) as gpsd:
        source.start(speeds)
        gpsd.idle(fix(10.0), 0.05)
        assert speeds.until(lambda v: v is not None) == pytest.approx(10.0, abs=0.01)
    try:
        assert speeds.until(lambda v: v is None) is None  # gone: no fix
        assert "gpsd" in source.status
        with PacedGpsd(port) as gpsd:  # back on the same port: reconnected (1 s backoff)
            gpsd.idle(fix(20.0), 0.05)
            assert speeds.until(lambda v: v is not None, 20) == pytest.approx(20.0, abs=0.01)
            assert source.connects == 2
    finally:
        source.stop()


def test_gpsd_probe_names_what_is_wrong() -> None:
    port = free_port()
    with pytest.raises(Unavailable, match="not running"):
        probe("127.0.0.1", port)
    with socket.socket() as server:  # something that is not gpsd
        server.bind(("127.0.0.1", 0))
        server.listen(1)

        def hello() -> None:
            conn, _ = server.accept()
            conn.sendall(b"SSH-2.0-OpenSSH\r\n")
            conn.close()

        threading.Thread(target=hello, daemon=True).start()
        with pytest.raises(Unavailable, match="not gpsd"):
            probe("127.0.0.1", server.getsockname()[1])
    assert parse_address(None) == ("127.0.0.1", 2947)
    assert parse_address("10.0.0.2:3000") == ("10.0.0.2", 3000)
    with pytest.raises(Unavailable):
        parse_address("host:port")


@pytest.mark.parametrize(("tpv", "speed"), [
    ({"class": "TPV", "mode": 3, "speed": 12.5}, 12.5),
    ({"class": "TPV", "mode": 2, "speed": 0}, 0.0),
    ({"class": "TPV", "mode": 1, "speed": 12.5}, None),  # no fix
    ({"class": "TPV", "mode": 3}, None),  # the first report may lack speed
    ({"class": "TPV", "mode": 3, "speed": float("nan")}, None),
    ({"class": "TPV", "mode": 3, "speed": -1}, None),
    ({"class": "TPV", "mode": True, "speed": 3.0}, None),
    ({"class": "TPV", "mode": "3", "speed": 3.0}, None),
])
def test_speed_of_a_report(tpv: dict[str, object], speed: float | None) -> None:
    assert speed_of(tpv) == speed


# ---- serial NMEA through a pty ----------------------------------------------------------------


def test_serial_receiver_through_a_pseudo_terminal(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    master, slave, path = raw_pty()
    source = SerialSource(path, "a pty")
    speeds = Speeds()
    stop_feed = threading.Event()
    feeding: list[str] = [fix(12.0)]

    def feed() -> None:  # a receiver sends a burst a second; faster here
        while not stop_feed.wait(0.05):
            try:
                os.write(master, feeding[0].encode("ascii"))
            except OSError:
                return

    threading.Thread(target=feed, daemon=True).start()
    source.start(speeds)
    try:
        assert speeds.until(lambda v: v is not None) == pytest.approx(12.0, abs=0.01)
        assert source.baud == 9600  # the first rate tried gave a valid sentence
        feeding[0] = "$GPRMC,bad*00\r\n" + fix(None)  # a bad checksum is ignored; no fix: None
        assert speeds.until(lambda v: v is None) is None
        feeding[0] = fix(4.0)
        assert speeds.until(lambda v: v is not None) == pytest.approx(4.0, abs=0.01)
        stop_feed.set()
        os.close(master)  # unplugged
        master = -1
        assert speeds.until(lambda v: v is None) is None
        wait_for(lambda: "cannot open" in source.status or "Error" in source.status, 10,
                 what="the source to notice")
    finally:
        stop_feed.set()
        started = time.monotonic()
        source.stop()
        assert time.monotonic() - started < 2.0
        for fd in (master, slave):
            if fd >= 0:
                os.close(fd)
    assert LAT not in caplog.text and "48.1" not in caplog.text


def test_rmc_parsing_status_mode_and_checksums() -> None:
    assert speed_from_sentence(fix(10.0).split("\r\n")[0].encode()) == (
        True, pytest.approx(10.0, abs=0.001))
    assert speed_from_sentence(fix(None).split("\r\n")[0].encode()) == (True, None)
    assert speed_from_sentence(fix(10.0).split("\r\n")[1].encode()) == (False, None)  # GGA
    line = fix(10.0).split("\r\n")[0]
    broken = line[:-2] + ("00" if line[-2:] != "00" else "11")
    assert speed_from_sentence(broken.encode()) == (False, None)
    gn = "GNRMC,060000.00,A,4808.2292,N,01134.5674,E,19.438,90.0,060524,,,A"
    assert speed_from_sentence(nj.sentence(gn).encode()) == (True, pytest.approx(
        19.438 * KNOT_MPS))


@dataclass
class Port:
    """Just what pyserial's ListPortInfo gives find_receivers."""

    device: str
    vid: int | None = None
    description: str = ""
    manufacturer: str | None = None
    product: str | None = None


def test_only_a_port_that_names_itself_a_gps_is_opened_unasked(tmp_path: Path) -> None:
    ports = [
        Port("/dev/ttyACM0", 0x2341, "Arduino Uno", "Arduino (www.arduino.cc)"),
        Port("/dev/ttyUSB0", 0x067B, "USB-Serial Controller", "Prolific"),  # a BU-353 puck?
        Port("/dev/ttyACM1", 0x1546, "u-blox 7 - GPS/GNSS Receiver", "u-blox AG"),
        Port("/dev/ttyS0"),
    ]
    by_id = {"/dev/ttyACM1": "/dev/serial/by-id/usb-u-blox_AG_-_www.u-blox.com_u-blox_7_-_GPS"
                             "_GNSS_Receiver-if00"}
    found = find_receivers(ports, by_id)
    assert [(r.device, r.score) for r in found] == [
        (by_id["/dev/ttyACM1"], 150), ("/dev/ttyUSB0", 10)]
    with pytest.raises(Unavailable, match="does not exist"):
        _open_serial(str(tmp_path / "ttyGONE"))  # named, but not plugged in
    master, slave, path = raw_pty()
    try:
        named = _open_serial(path)  # named: read whatever it says about itself
        assert isinstance(named, SerialSource) and named.device == path
    finally:
        os.close(master)
        os.close(slave)


# ---- GeoClue, the real daemon -----------------------------------------------------------------


def _geoclue_skip() -> str | None:
    from tests.road.geoclue_bus import geoclue_runnable

    return geoclue_runnable()


needs_geoclue = pytest.mark.skipif(
    _geoclue_skip() is not None and not os.environ.get("CI"),
    reason=str(_geoclue_skip()))


@needs_geoclue
def test_geoclue_speed_only_skipping_its_unknown_and_following_a_restart(
        tmp_path: Path) -> None:
    from psoas_break.adapters.location.geoclue import open_geoclue
    from tests.road.geoclue_bus import GeoClueHarness

    with GeoClueHarness() as gc:
        monitor_log = tmp_path / "monitor.txt"
        with monitor_log.open("w") as out:
            monitor = subprocess.Popen(["dbus-monitor", "--address", gc.address],
                                       stdout=out, stderr=subprocess.STDOUT)
        try:
            source = open_geoclue({"DBUS_SYSTEM_BUS_ADDRESS": gc.address})
            speeds = Speeds()
            source.start(speeds)
            ours = source._bus.unique_name  # our connection, to pick its calls from the traffic
            try:
                # A first fix from GGA alone has no speed: GeoClue says -1 (measured), which
                # must be skipped; then fixes with a speed, their time advancing.
                texts = nj.fix_texts([nj.drive(4, 8.0, 0.0)], 1.0)
                gc.feed([texts[0].split("\r\n")[1] + "\r\n", *texts[1:]], 0.05)
                assert speeds.until(lambda v: v is not None, 20) == pytest.approx(8.0, abs=0.1)
                for _ in range(5):
                    assert speeds.next() == pytest.approx(8.0, abs=0.1)
                assert all(v is None or v >= 0 for v in speeds.seen)
                gc.kill_geoclue()
                assert speeds.until(lambda v: v is None) is None
                gc.start_geoclue()
                gc.wait_geoclue()
                gc.feed(nj.fix_texts([nj.drive(4, 5.0, 0.0)], 1.0), 0.05)
                assert speeds.until(lambda v: v is not None and v < 6, 30) == pytest.approx(
                    5.0, abs=0.01)
                assert "GeoClue" in source.status
            finally:
                source.stop()
        finally:
            monitor.terminate()
            monitor.wait(5)
    blocks, block = [], ""
    for line in monitor_log.read_text(errors="replace").splitlines():
        if line and not line[0].isspace():
            blocks.append(block)
            block = ""
        block += line + "\n"
    blocks.append(block)
    traffic = "".join(b for b in blocks if f"sender={ours} " in b.split("\n", 1)[0])
    assert '"Speed"' in traffic  # the monitor did see our calls ...
    for never in ('"Latitude"', '"Longitude"', '"Altitude"', "member=GetAll"):
        assert never not in traffic  # ... and none ever asked for a position


@needs_geoclue
def test_geoclue_without_gps_grade_accuracy_is_not_a_speed_source(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Wifi or IP location only (here: no source at all): no speed to read, so not chosen."""
    from psoas_break.adapters.location.geoclue import open_geoclue
    from tests.road import geoclue_bus

    monkeypatch.setattr(geoclue_bus, "GEOCLUE_CONF", geoclue_bus.GEOCLUE_CONF.replace(
        "[network-nmea]\nenable=true", "[network-nmea]\nenable=false"))
    with geoclue_bus.GeoClueHarness() as gc, pytest.raises(Unavailable, match="no GPS here"):
        open_geoclue({"DBUS_SYSTEM_BUS_ADDRESS": gc.address})


# ---- the factory and the service --------------------------------------------------------------


@needs_gpsd
def test_the_factory_picks_gpsd_first_and_says_why_not_the_others(tmp_path: Path) -> None:
    lone_bus = f"unix:path={tmp_path / 'no-bus'}"
    with PacedGpsd() as gpsd:
        source, choice = make_location_source(
            "", {"PSOAS_GPSD": gpsd.address, "DBUS_SYSTEM_BUS_ADDRESS": lone_bus},
            platform="linux")
        assert isinstance(source, GpsdSource) and choice.chosen == "gpsd"
        assert dict(choice.rejected)["geoclue"] == "not needed: gpsd answered first"
    source, choice = make_location_source(
        "", {"PSOAS_GPSD": gpsd.address, "DBUS_SYSTEM_BUS_ADDRESS": lone_bus},
        platform="linux")
    reasons = dict(choice.rejected)
    assert isinstance(source, NullLocationSource) and choice.chosen == "none"
    assert "gpsd is not running" in reasons["gpsd"]
    assert "system bus" in reasons["geoclue"] or "connect" in reasons["geoclue"]
    assert "serial" in reasons and reasons["windows"] == "only on Windows"
    assert choice.fix is not None and "gpsd" in choice.fix
    forced, why = make_location_source("", {"PSOAS_LOCATION_BACKEND": "none"})
    assert why.chosen == "none" and isinstance(forced, NullLocationSource)


@needs_gpsd
def test_the_service_posts_gated_samples_and_lets_the_source_go() -> None:
    posted: queue.Queue[Command] = queue.Queue()
    clock = ScriptedClock(datetime.now().astimezone())
    with PacedGpsd() as gpsd:
        def open_source(device: str) -> tuple[LocationSource, Choice]:
            return make_location_source(device, {"PSOAS_GPSD": gpsd.address,
                                                 "PSOAS_LOCATION_BACKEND": "gpsd"})

        service = LocationService(clock, posted.put, open_source)
        service.want("")
        state = posted.get(timeout=10)
        assert state == LocationState("gpsd", state.detail)  # type: ignore[union-attr]
        gpsd.idle(fix(15.0), 0.02)  # 50 reports a second, the clock standing still
        first = posted.get(timeout=10)
        assert isinstance(first, RoadSample) and first.speed_mps == pytest.approx(15.0, abs=0.01)
        time.sleep(1.0)
        assert posted.empty()  # the same band, no time passed: nothing more to say
        clock.mono_s += KEEPALIVE_S  # the keep-alive is due
        assert posted.get(timeout=5) == RoadSample(pytest.approx(15.0, abs=0.01),
                                                   clock.mono_s)
        gpsd.idle(fix(0.4), 0.02)  # a new band: at once
        assert posted.get(timeout=5).speed_mps == pytest.approx(0.4, abs=0.01)  # type: ignore[union-attr]
        threads = {t.name for t in threading.enumerate()}
        assert {"psoas-location", "psoas-gpsd"} <= threads
        service.want(None)
        wait_for(lambda: "psoas-gpsd" not in {t.name for t in threading.enumerate()}, 10,
                 what="the gpsd reader to stop")
        service.close()
        assert "psoas-location" not in {t.name for t in threading.enumerate()}


def test_the_service_looks_again_while_no_source_works() -> None:
    posted: queue.Queue[Command] = queue.Queue()
    clock = ScriptedClock(datetime.now().astimezone(), scale=60.0)
    calls: list[str] = []

    def open_source(device: str) -> tuple[LocationSource, Choice]:
        calls.append(device)
        return make_location_source(device, {"PSOAS_LOCATION_BACKEND": "none"})

    service = LocationService(clock, posted.put, open_source)
    try:
        service.want("/dev/ttyUSB9")
        first = posted.get(timeout=5)
        assert isinstance(first, LocationState) and first.source == "none"
        # RETRY_S is 5 engine minutes: 5 real seconds at this clock's scale.
        again = posted.get(timeout=15)
        assert isinstance(again, LocationState) and again.source == "none"
        assert calls == ["/dev/ttyUSB9", "/dev/ttyUSB9"]
    finally:
        service.close()


def test_no_source_asks_for_a_position() -> None:
    """A static backstop to the traffic and log checks above: no code in the location family
    names a position (docstrings may explain what is not read)."""
    folder = Path(__file__).resolve().parent.parent / "psoas_break" / "adapters" / "location"
    for path in folder.glob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        docstrings = {id(node.body[0].value) for node in ast.walk(tree)
                      if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef))
                      and node.body and isinstance(node.body[0], ast.Expr)}
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and id(node) not in docstrings:
                assert node.value not in ("Latitude", "Longitude", "GetAll", "lat", "lon"), path
            if isinstance(node, ast.Attribute):
                assert node.attr not in ("latitude", "longitude", "point", "coordinate_point"), (
                    path, node.attr)


def test_every_source_relays_speeds_the_same_way(caplog: pytest.LogCaptureFixture) -> None:
    """One relay for all five sources: no "no fix" before a first speed, a lost fix once a
    speed was seen, and a callback that raises is logged without ending the reader."""
    from psoas_break.adapters.location.relay import SpeedRelay

    got: list[float | None] = []
    fresh = SpeedRelay("serial GPS")
    fresh.start(got.append)
    fresh(None)
    fresh(12.5)
    fresh(None)
    assert got == [12.5, None]

    def broken(_speed: float | None) -> None:
        raise RuntimeError("boom")

    failing = SpeedRelay("GeoClue")
    failing.start(broken)
    with caplog.at_level(logging.ERROR):
        failing(1.0)
    assert "GeoClue: the speed callback failed" in caplog.text
