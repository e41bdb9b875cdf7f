"""The only module that reads real clocks: what goes into a `Tick` (implements ports.Clock).

`SystemClock.read()` -> (wall, mono_s, slept_s):
- wall: aware local datetime (calendar only; may jump either way);
- mono_s: seconds on a monotonic clock that KEEPS COUNTING THROUGH SUSPEND;
- slept_s: cumulative seconds spent suspended since some origin (only differences matter).

Per platform:
- Linux: mono_s = CLOCK_BOOTTIME; slept_s = CLOCK_BOOTTIME - CLOCK_MONOTONIC (the latter stops
  in suspend, so the difference grows by exactly the suspended time).
- macOS: time.monotonic() is mach_absolute_time and stops in sleep, but Apple's clock_gettime(3)
  has CLOCK_MONOTONIC_RAW, which "continues to increment while the system is asleep", and
  CLOCK_UPTIME_RAW, the same clock that "does not increment while the system is asleep": mono_s
  = the former, slept_s = their difference, exact and with no guessing.
- Windows: QueryInterruptTime counts through sleep and QueryUnbiasedInterruptTime does not
  (both in 100 ns units, from boot): mono_s = the former, slept_s = their difference
  (`windows_tick_parts`). If they cannot be called: time.monotonic() (GetTickCount64 or QPC,
  both count through sleep) and slept_s = 0 (the engine still sees the gap).
- Anything else (or a macOS without those clocks): time.monotonic() + a `SleepEstimator`, which
  synthesizes the suspended time from the wall clock moving ahead of the monotonic one.

Scale (tests only): PSOAS_SECONDS_PER_MINUTE shortens every minute of the app so real-desktop
tests watch a 30-minute cycle in 30 seconds with every other part real. It is applied here and
nowhere else: mono_s and slept_s run `time_scale` times faster, idle readings are scaled by
`engine_s`, and waits are scaled back by `real_s`. The wall clock is never scaled (calendar
things stay true), so everything above this module thinks in plain seconds.

Local time (`local_now`, `to_local`): the C library accepts time zones Python refuses, e.g.
TZ=UTC+25 (an offset of a day or more); there `datetime.astimezone()` raises ValueError. Every
local wall time in the app comes from these two functions, which then use UTC and log one
warning instead of failing.

The estimator's blind spot: a forward step of the wall clock (NTP correcting a badly-set
clock, a user setting the time) looks exactly like a sleep. It uses epoch time (time.time()),
so time-zone and DST changes do not move it; it ignores excesses under `min_sleep_s` (NTP
steps and scheduling jitter) and over `max_sleep_s` (a clock set years ahead, an RTC reset),
and never counts more than the wall clock moved. That bound is why it is only a fallback.
"""

from __future__ import annotations

import functools
import logging
import math
import os
import sys
import threading
import time
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta, timezone
from pathlib import Path

log = logging.getLogger(__name__)

TickParts = tuple[datetime, float, float]
SCALE_ENV = "PSOAS_SECONDS_PER_MINUTE"


def time_scale(env: Mapping[str, str]) -> float:
    """How many engine seconds pass per real second: 1, unless a test shortens the minute.

    PSOAS_SECONDS_PER_MINUTE = real seconds per minute, from 0.05 to 60; anything else is
    ignored with a warning.
    """
    raw = env.get(SCALE_ENV)
    if not raw:
        return 1.0
    try:
        minute_s = float(raw)
    except ValueError:
        minute_s = -1.0
    if not 0.05 <= minute_s <= 60.0:
        log.warning("%s=%r ignored: use a number from 0.05 to 60", SCALE_ENV, raw)
        return 1.0
    return 60.0 / minute_s

_100NS_PER_S = 10_000_000


def windows_tick_parts(interrupt_100ns: int, unbiased_100ns: int) -> tuple[float, float]:
    """(mono_s, slept_s) from QueryInterruptTime and QueryUnbiasedInterruptTime (100 ns units).

    Pure. The unbiased time excludes sleep and hibernation, so the difference is the time spent
    asleep since boot; clamped at 0 against read-order noise.
    """
    mono_s = interrupt_100ns / _100NS_PER_S
    slept_s = max(0, interrupt_100ns - unbiased_100ns) / _100NS_PER_S
    return mono_s, slept_s


class SleepEstimator:
    """Synthesizes suspended time where no clock reports it (see module docstring).

    Pure: `update(wall_epoch_s, mono_s)` takes readings, returns cumulative slept seconds.
    Each step adds max(0, wall_delta - mono_delta) when that excess is in
    [min_sleep_s, max_sleep_s]; a wall clock that moved back adds nothing.
    """

    def __init__(self, min_sleep_s: float = 5.0, max_sleep_s: float = 30 * 86400.0) -> None:
        self.min_sleep_s = min_sleep_s
        self.max_sleep_s = max_sleep_s
        self.slept_s = 0.0
        self._last: tuple[float, float] | None = None

    def update(self, wall_epoch_s: float, mono_s: float) -> float:
        """Account for the step since the previous reading; returns the cumulative total."""
        last = self._last
        self._last = (wall_epoch_s, mono_s)
        if last is None:
            return self.slept_s
        wall_delta_s = wall_epoch_s - last[0]
        mono_delta_s = max(0.0, mono_s - last[1])
        excess_s = wall_delta_s - mono_delta_s
        if self.min_sleep_s <= excess_s <= self.max_sleep_s:
            self.slept_s += excess_s
        return self.slept_s


def to_local(when: datetime) -> datetime:
    """`when` (aware; naive means local) as an aware datetime in the local time zone.

    When the local zone's offset is one Python cannot represent (TZ=UTC+25), or the date is at
    the edge of what datetime holds, the result is in UTC instead (one warning is logged).
    """
    try:
        return when.astimezone()
    except (ValueError, OverflowError, OSError) as exc:
        _zone_unusable(str(exc))
        if when.tzinfo is None:
            when = when.replace(tzinfo=timezone.utc)
        try:
            return when.astimezone(timezone.utc)
        except OverflowError:
            return when


def local_now() -> datetime:
    """The aware local wall time now (UTC when the local zone is unusable: see to_local)."""
    return to_local(datetime.now(timezone.utc))


@functools.lru_cache(maxsize=1)
def _zone_unusable(reason: str) -> None:
    log.warning("the local time zone (TZ=%r) cannot be used (%s); using UTC",
                os.environ.get("TZ"), reason)


class SystemClock:
    """Reads this platform's clocks (one instance per process; thread-safe)."""

    def __init__(self, platform: str | None = None, scale: float = 1.0) -> None:
        self.platform = platform or sys.platform
        self.scale = scale
        self._lock = threading.Lock()
        # Test seam: these VMs cannot suspend (BOOTTIME - MONOTONIC stays 0), so a real-app test
        # names a file holding "seconds asleep so far"; they are added to every clock as a real
        # suspend would. Unset in normal use.
        sleep_file = os.environ.get("PSOAS_TEST_SLEEP_FILE")
        self._sleep_file = Path(sleep_file) if sleep_file else None
        # Test seam: a file holding seconds (either sign) added to the wall clock only, as when
        # NTP or a user steps the clock while the app runs; the monotonic clocks are untouched.
        # Unset in normal use.
        wall_offset_file = os.environ.get("PSOAS_TEST_WALL_OFFSET_FILE")
        self._wall_offset_file = Path(wall_offset_file) if wall_offset_file else None
        self._estimator: SleepEstimator | None = None
        self.method, self._read = self._choose()

    def _choose(self) -> tuple[str, Callable[[], tuple[float, float]]]:
        boottime = getattr(time, "CLOCK_BOOTTIME", None)
        if self.platform.startswith("linux") and boottime is not None:
            return "CLOCK_BOOTTIME - CLOCK_MONOTONIC", self._read_linux
        raw = getattr(time, "CLOCK_MONOTONIC_RAW", None)
        uptime = getattr(time, "CLOCK_UPTIME_RAW", None)
        if self.platform == "darwin" and raw is not None and uptime is not None:
            return "CLOCK_MONOTONIC_RAW - CLOCK_UPTIME_RAW", self._read_macos
        if self.platform == "win32":
            reader = self._windows_reader()
            if reader is not None:
                return "QueryInterruptTime - QueryUnbiasedInterruptTime", reader
            return "time.monotonic (counts through sleep)", self._read_monotonic_only
        self._estimator = SleepEstimator()
        return "time.monotonic + SleepEstimator", self._read_estimated

    @staticmethod
    def _read_linux() -> tuple[float, float]:
        mono_s = time.clock_gettime(time.CLOCK_MONOTONIC)
        boot_s = time.clock_gettime(time.CLOCK_BOOTTIME)  # read second: boot - mono >= slept
        return boot_s, max(0.0, boot_s - mono_s)

    @staticmethod
    def _read_macos() -> tuple[float, float]:
        uptime_clock: int = getattr(time, "CLOCK_UPTIME_RAW")  # noqa: B009 - macOS only
        uptime_s = time.clock_gettime(uptime_clock)
        raw_s = time.clock_gettime(time.CLOCK_MONOTONIC_RAW)
        return raw_s, max(0.0, raw_s - uptime_s)

    @staticmethod
    def _read_monotonic_only() -> tuple[float, float]:
        return time.monotonic(), 0.0

    @staticmethod
    def _windows_reader() -> Callable[[], tuple[float, float]] | None:
        import ctypes  # Windows only: ctypes and libffi cost a Linux tray app memory at rest

        windll = getattr(ctypes, "windll", None)
        if windll is None:
            return None
        try:
            kernelbase = windll.kernelbase  # QueryInterruptTime: Windows 10+
            query = kernelbase.QueryInterruptTime
            query_unbiased = windll.kernel32.QueryUnbiasedInterruptTime
        except (AttributeError, OSError):
            return None

        def read() -> tuple[float, float]:
            interrupt = ctypes.c_uint64()
            unbiased = ctypes.c_uint64()
            query_unbiased(ctypes.byref(unbiased))
            query(ctypes.byref(interrupt))
            return windows_tick_parts(interrupt.value, unbiased.value)

        return read

    def _read_estimated(self) -> tuple[float, float]:
        mono_s = time.monotonic()
        wall_s = time.time()
        assert self._estimator is not None
        slept_s = self._estimator.update(wall_s, mono_s)
        return mono_s + slept_s, slept_s

    def engine_s(self, real_s: float) -> float:
        """A real duration in engine seconds (see the module docstring on scale)."""
        return real_s * self.scale

    def real_s(self, engine_s: float) -> float:
        """An engine duration in real seconds."""
        return engine_s / self.scale

    def read(self) -> TickParts:
        """(aware local wall datetime, engine mono_s including suspend, engine slept_s)."""
        wall, mono_s, slept_s = self.read_tick_parts()
        return wall, mono_s * self.scale, slept_s * self.scale

    def read_tick_parts(self) -> TickParts:
        """(aware local wall datetime, real mono_s including suspend, real slept_s)."""
        with self._lock:
            mono_s, slept_s = self._read()
            wall = local_now()
        if self._sleep_file is not None:
            extra_s = _simulated_sleep_s(self._sleep_file)
            mono_s += extra_s
            slept_s += extra_s
            wall = to_local(wall.astimezone(timezone.utc) + timedelta(seconds=extra_s))
        if self._wall_offset_file is not None:
            offset_s = _wall_offset_s(self._wall_offset_file)
            wall = to_local(wall.astimezone(timezone.utc) + timedelta(seconds=offset_s))
        return wall, mono_s, slept_s


def _simulated_sleep_s(path: Path) -> float:
    try:
        return max(0.0, float(path.read_text().strip() or 0.0))
    except (OSError, ValueError):
        return 0.0


def _wall_offset_s(path: Path) -> float:
    try:
        offset_s = float(path.read_text().strip() or 0.0)
    except (OSError, ValueError):
        return 0.0
    # A typo must not crash the clock: only finite offsets within a year are applied.
    return offset_s if math.isfinite(offset_s) and abs(offset_s) <= 366 * 86400.0 else 0.0


@functools.lru_cache(maxsize=1)
def system_clock() -> SystemClock:
    """The process's clock (one, so the fallback estimator keeps its history)."""
    return SystemClock(scale=time_scale(os.environ))


def read_tick_parts() -> TickParts:
    """(aware local wall datetime, real mono_s including suspend, real slept_s); see module."""
    return system_clock().read_tick_parts()
