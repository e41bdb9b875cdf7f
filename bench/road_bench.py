"""Benchmark: what following the road costs (issue #16), against floors from the same run.

    .venv/bin/python bench/road_bench.py [--seconds 10] [--json]

- engine wake-ups per driven hour: a receiver reports once a second; the location service
  forwards only what core.road.SampleGate wants (a band change, or a keep-alive every 15 s).
  Floor: every report forwarded (3,600 an hour). Counted over a scripted hour of driving with
  two stops, the real gate.
- engine thread per RoadSample: a real Runtime (tests/fakes.RuntimeRig, driver profile, a
  detector running) stepping one sample, median µs. Floor: the same Runtime stepping a
  command that does nothing (Sleep): the cost of any input at all.
- the gpsd reader: a real gpsd (Debian's, fed through a pty, tests/road/gpsd_feed.py) sending
  50 reports a second for --seconds; CPU time of this process per report while the app's
  GpsdSource reads them. Floor: a bare socket reader of the same gpsd stream (?WATCH, line
  split, json.loads), no classification, no callback.

Timings on a shared 2-core machine are noisy; nothing here is asserted.
"""

from __future__ import annotations

import argparse
import json
import socket
import statistics
import sys
import threading
import time
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from psoas_break.adapters.location.gpsd import GpsdSource  # noqa: E402
from psoas_break.core.commands import LocationState, RoadSample, Sleep  # noqa: E402
from psoas_break.core.road import SampleGate  # noqa: E402
from psoas_break.core.settings import Settings  # noqa: E402
from tests.fakes import RecordingLocation, RuntimeRig  # noqa: E402
from tests.road import journeys as nj  # noqa: E402
from tests.road.gpsd_feed import PacedGpsd, gpsd_installed  # noqa: E402


def wakeups_per_hour() -> dict[str, float]:
    gate = SampleGate()
    forwarded = 0
    speeds = [22.0] * 1500 + [0.4] * 900 + [22.0] * 1000 + [0.3] * 200
    for t, speed in enumerate(speeds):
        forwarded += gate.wanted(float(t), speed)
    return {"floor": float(len(speeds)), "app": float(forwarded)}


def engine_step_us(n: int = 2000) -> dict[str, float]:
    rig = RuntimeRig(datetime(2026, 5, 4, 6, 0, tzinfo=ZoneInfo("Europe/Berlin")),
                     Settings(profile="driver"), location=RecordingLocation())
    rig.step()
    rig.step(LocationState("gpsd", "bench"))

    def timed(make: Any) -> float:
        samples = []
        for _ in range(n):
            rig.clock.mono_s += 1.0
            command = make()
            started = time.perf_counter()
            rig.runtime.step(command)
            rig.runtime.render()
            samples.append(time.perf_counter() - started)
        return statistics.median(samples) * 1e6

    floor = timed(lambda: Sleep(False))
    app = timed(lambda: RoadSample(22.0, rig.clock.mono_s))
    return {"floor": floor, "app": app}


def gpsd_reader_us(seconds: float) -> dict[str, float] | None:
    if not gpsd_installed():
        return None
    fix = nj.fix_texts([nj.drive(1, 22.0, 0.0)], 60.0)[0]
    out: dict[str, float] = {}
    with PacedGpsd() as gpsd:
        gpsd.idle(fix, 0.02)
        time.sleep(2.0)  # gpsd identifies its receiver

        def bare() -> int:
            count = 0
            deadline = time.monotonic() + seconds
            with socket.create_connection(("127.0.0.1", gpsd.port)) as sock:
                sock.sendall(b'?WATCH={"enable":true,"json":true}\n')
                for line in sock.makefile("rb"):
                    if json.loads(line).get("class") == "TPV":
                        count += 1
                    if time.monotonic() > deadline:
                        return count
            return count

        cpu0 = time.process_time()
        reports = bare()
        out["floor"] = (time.process_time() - cpu0) / max(1, reports) * 1e6
        got = []
        source = GpsdSource("127.0.0.1", gpsd.port)
        done = threading.Event()
        cpu0 = time.process_time()
        source.start(got.append)
        done.wait(seconds)
        source.stop()
        out["app"] = (time.process_time() - cpu0) / max(1, len(got)) * 1e6
        out["reports"] = float(len(got))
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    result = {"wakeups_per_hour": wakeups_per_hour(), "step_us": engine_step_us(),
              "gpsd_us_per_report": gpsd_reader_us(args.seconds)}
    if args.json:
        print(json.dumps(result))
    else:
        for key, value in result.items():
            print(key, value)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
