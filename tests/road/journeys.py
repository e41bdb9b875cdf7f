"""Scripted NMEA 0183 journeys (GPRMC + GPGGA) for a real gpsd, GeoClue or a serial pty.

Stdlib only; deterministic for a given seed. A journey is a list of segments in simulated
seconds; `fixes()` samples it every `step_s` simulated seconds; `fix_texts()` turns each sample
into one RMC and one GGA sentence whose UTC time advances by `step_s` per fix (gpsd groups the
two into one report). Speeds are m/s here; RMC carries knots (m/s / 0.514444), as NMEA says.
No fix (tunnel): RMC status V, mode N, no position or speed; GGA quality 0. Checksums: the XOR
of the characters between "$" and "*" (checked against the NMEA example and pynmeagps).

    python3 -m tests.road.journeys --list
    python3 -m tests.road.journeys morning_eu --step 10 > morning.nmea
"""

from __future__ import annotations

import argparse
import datetime as dt
import math
import random
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

KNOT_MPS = 0.514444  # 1 knot = 1852 m / 3600 s
EARTH_M_PER_DEG_LAT = 111_320.0


@dataclass(frozen=True)
class Segment:
    """One stretch of a journey.

    kind "drive": speed_mps (+/- noise_mps uniform noise);
    kind "rest": stationary receiver, speed noise uniform in [rest_lo, rest_hi] m/s (a standing
                 receiver reports 0.2-0.7 m/s, never exactly 0);
    kind "nofix": no fix at all (tunnel, garage).
    """

    kind: str
    duration_s: float
    speed_mps: float = 0.0
    noise_mps: float = 0.0
    rest_lo: float = 0.2
    rest_hi: float = 0.7


def drive(minutes: float, speed_mps: float = 22.0, noise_mps: float = 1.5) -> Segment:
    return Segment("drive", minutes * 60, speed_mps, noise_mps)


def rest(minutes: float, lo: float = 0.2, hi: float = 0.7) -> Segment:
    return Segment("rest", minutes * 60, rest_lo=lo, rest_hi=hi)


def nofix(minutes: float) -> Segment:
    return Segment("nofix", minutes * 60)


@dataclass(frozen=True)
class Fix:
    t_s: float  # simulated seconds since the journey start
    speed_mps: float | None  # None: no fix
    lat: float
    lon: float
    course_deg: float


# ---- scripted journeys (simulated minutes) ----

JOURNEYS: dict[str, list[Segment]] = {
    # A morning: EU split break 15 + 30 made of a 16-minute and a 31-minute stop.
    "morning_eu": [rest(2), drive(60), rest(16), drive(90), rest(31), drive(30), rest(3)],
    # US: a 25-minute stop cut short by moving (does not count as the 30-minute break).
    "us_cut_short": [rest(2), drive(45), rest(25), drive(20), rest(3)],
    # A parked vehicle for 30 minutes: jitter 0.2-0.7 m/s must never start driving.
    "jitter_at_rest": [rest(30)],
    # Worst-case jitter just under the stop threshold (0.5 m/s mean, up to 0.95).
    "jitter_hard": [rest(30, lo=0.05, hi=0.95)],
    # Tunnels: no fix for 3 minutes (state kept), later 12 minutes (> 10: back to manual).
    "tunnel": [rest(2), drive(10), nofix(3), drive(10), nofix(12), drive(5), rest(3)],
}


def fixes(
    segments: Iterable[Segment],
    step_s: float = 1.0,
    seed: int = 16,
    lat: float = 48.137154,
    lon: float = 11.576124,
    course_deg: float = 90.0,
) -> Iterator[Fix]:
    """One Fix every `step_s` simulated seconds; positions move with the speed along course."""
    rng = random.Random(seed)
    t_s = 0.0
    for seg in segments:
        n = max(1, round(seg.duration_s / step_s))
        for _ in range(n):
            if seg.kind == "nofix":
                yield Fix(t_s, None, lat, lon, course_deg)
            else:
                if seg.kind == "drive":
                    speed = max(0.0, seg.speed_mps + rng.uniform(-seg.noise_mps, seg.noise_mps))
                else:
                    speed = rng.uniform(seg.rest_lo, seg.rest_hi)
                yield Fix(t_s, speed, lat, lon, course_deg)
                if seg.kind == "drive":  # a parked receiver's noisy speed moves nothing
                    d_m = speed * step_s
                    lat += d_m * math.cos(math.radians(course_deg)) / EARTH_M_PER_DEG_LAT
                    lon += (d_m * math.sin(math.radians(course_deg))
                            / (EARTH_M_PER_DEG_LAT * math.cos(math.radians(lat))))
            t_s += step_s


# ---- sentences ----


def checksum(body: str) -> str:
    """XOR of the characters between '$' and '*', two upper-case hex digits."""
    value = 0
    for ch in body.encode("ascii"):
        value ^= ch
    return f"{value:02X}"


def sentence(body: str) -> str:
    return f"${body}*{checksum(body)}\r\n"


def _lat(value: float) -> tuple[str, str]:
    hemi = "N" if value >= 0 else "S"
    value = abs(value)
    deg = int(value)
    return f"{deg:02d}{(value - deg) * 60:07.4f}", hemi


def _lon(value: float) -> tuple[str, str]:
    hemi = "E" if value >= 0 else "W"
    value = abs(value)
    deg = int(value)
    return f"{deg:03d}{(value - deg) * 60:07.4f}", hemi


def rmc(when: dt.datetime, fix: Fix) -> str:
    hms = when.strftime("%H%M%S.") + f"{when.microsecond // 10000:02d}"
    dmy = when.strftime("%d%m%y")
    if fix.speed_mps is None:
        return sentence(f"GPRMC,{hms},V,,,,,,,{dmy},,,N")
    la, ns = _lat(fix.lat)
    lo, ew = _lon(fix.lon)
    knots = fix.speed_mps / KNOT_MPS
    return sentence(f"GPRMC,{hms},A,{la},{ns},{lo},{ew},{knots:.3f},{fix.course_deg:.1f},{dmy},,,A")


def gga(when: dt.datetime, fix: Fix) -> str:
    hms = when.strftime("%H%M%S.") + f"{when.microsecond // 10000:02d}"
    if fix.speed_mps is None:
        return sentence(f"GPGGA,{hms},,,,,0,00,99.99,,,,,,")
    la, ns = _lat(fix.lat)
    lo, ew = _lon(fix.lon)
    return sentence(f"GPGGA,{hms},{la},{ns},{lo},{ew},1,09,0.9,520.0,M,47.0,M,,")


# A date after gpsd's build (3.22: 2021): earlier dates trip its GPS-week-rollover repair.
DEFAULT_START = dt.datetime(2024, 5, 6, 6, 0, 0, tzinfo=dt.timezone.utc)


def nmea_lines(fix_iter: Iterable[Fix], start: dt.datetime = DEFAULT_START) -> Iterator[str]:
    for fix in fix_iter:
        when = start + dt.timedelta(seconds=fix.t_s)
        yield rmc(when, fix)
        yield gga(when, fix)


def fix_texts(segments: Iterable[Segment], step_s: float, seed: int = 16) -> list[str]:
    """One string per fix (its RMC and GGA sentences, CRLF-terminated)."""
    out = []
    for fix in fixes(segments, step_s, seed):
        when = DEFAULT_START + dt.timedelta(seconds=fix.t_s)
        out.append(rmc(when, fix) + gga(when, fix))
    return out


def write_journey(name: str, path: str, step_s: float = 1.0, seed: int = 16) -> int:
    """Write journey `name` to `path`; returns the number of fixes."""
    count = 0
    with open(path, "w", encoding="ascii", newline="") as out:
        for line in nmea_lines(fixes(JOURNEYS[name], step_s, seed)):
            out.write(line)
            count += 1
    return count // 2


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("journey", nargs="?")
    ap.add_argument("--step", type=float, default=1.0, help="simulated seconds per fix")
    ap.add_argument("--seed", type=int, default=16)
    ap.add_argument("--list", action="store_true")
    args = ap.parse_args(argv)
    if args.list or not args.journey:
        for name, segs in JOURNEYS.items():
            total = sum(s.duration_s for s in segs) / 60
            print(f"{name}: {total:.0f} simulated min: "
                  + ", ".join(f"{s.kind} {s.duration_s / 60:g}" for s in segs))
        return 0
    for line in nmea_lines(fixes(JOURNEYS[args.journey], args.step, args.seed)):
        sys.stdout.write(line)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
