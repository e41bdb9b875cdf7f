"""The pure parts of the Windows/macOS adapters and of the clock, tested on any OS.

The Windows tick values are constructed at the 32-bit wrap-around (GetTickCount wraps after
2**32 ms = 49.7 days of uptime); the ioreg text follows the layout of public
`ioreg -c IOHIDSystem` listings (the Root/IOResources tree, `|` gutters, one property per
line, HIDIdleTime in decimal nanoseconds). None of it was captured on a real Windows or Mac by
this project: this is the contract the adapters implement, checked where it can be.
"""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from psoas_break.adapters.clock import (
    SleepEstimator,
    SystemClock,
    read_tick_parts,
    windows_tick_parts,
)
from psoas_break.adapters.idle import NullIdleSource, is_wayland_session, make_idle_source
from psoas_break.adapters.idle.macos import parse_ioreg_hid_idle_ns
from psoas_break.adapters.idle.screensaver import decide_unit
from psoas_break.adapters.idle.windows import TICK_MODULUS, idle_ms_from_ticks
from psoas_break.adapters.session.macos import lock_state_for_notification
from psoas_break.adapters.session.windows import (
    PBT_APMRESUMEAUTOMATIC,
    PBT_APMRESUMESUSPEND,
    PBT_APMSUSPEND,
    WM_POWERBROADCAST,
    WM_WTSSESSION_CHANGE,
    WTS_SESSION_LOCK,
    WTS_SESSION_UNLOCK,
    translate_message,
)

# ---- Windows: GetLastInputInfo + GetTickCount64 ------------------------------------------------

DAY_MS = 86_400_000


def test_idle_without_wrap() -> None:
    # 3 h of uptime, last input 90 s ago.
    now = 3 * 3_600_000
    assert idle_ms_from_ticks(now, now - 90_000) == 90_000


def test_idle_across_the_32_bit_wrap() -> None:
    # Input 2 s before GetTickCount wrapped; read 5 s after the wrap (uptime 49.7 days).
    last_input_tick32 = TICK_MODULUS - 2_000
    now_tick64 = TICK_MODULUS + 5_000
    assert idle_ms_from_ticks(now_tick64, last_input_tick32) == 7_000


def test_idle_after_many_wraps() -> None:
    # 200 days of uptime (four wraps); last input 10 minutes ago.
    now_tick64 = 200 * DAY_MS
    last_input_tick32 = (now_tick64 - 600_000) % TICK_MODULUS
    assert idle_ms_from_ticks(now_tick64, last_input_tick32) == 600_000


def test_an_input_that_raced_the_reads_counts_as_zero_not_49_days() -> None:
    now_tick64 = 10 * DAY_MS
    assert idle_ms_from_ticks(now_tick64, (now_tick64 + 15) % TICK_MODULUS) == 0


def test_dwtime_must_be_32_bit() -> None:
    with pytest.raises(ValueError, match="32-bit"):
        idle_ms_from_ticks(5, TICK_MODULUS)


@given(
    uptime_ms=st.integers(min_value=0, max_value=2_000 * DAY_MS),
    idle_ms=st.integers(min_value=0, max_value=TICK_MODULUS - 60_001),
)
def test_idle_is_exact_below_49_days(uptime_ms: int, idle_ms: int) -> None:
    idle_ms = min(idle_ms, uptime_ms)
    last_input_tick32 = (uptime_ms - idle_ms) % TICK_MODULUS
    assert idle_ms_from_ticks(uptime_ms, last_input_tick32) == idle_ms


# ---- macOS: ioreg -c IOHIDSystem ---------------------------------------------------------------

IOREG_SAMPLE = """\
+-o Root  <class IORegistryEntry, id 0x100000100, retain 29>
  +-o MacBookPro18,3  <class IOPlatformExpertDevice, id 0x100000213, registered, matched, \
active, busy 0 (1542 ms), retain 41>
    +-o IOResources  <class IOResources, id 0x100000110, registered, matched, active, busy 0 \
(0 ms), retain 52>
      +-o IOHIDSystem  <class IOHIDSystem, id 0x1000003ea, registered, matched, active, busy 0 \
(0 ms), retain 22>
        {
          "IOClass" = "IOHIDSystem"
          "CFBundleIdentifier" = "com.apple.iokit.IOHIDFamily"
          "IOProviderClass" = "IOResources"
          "IOResourceMatch" = "IOKit"
          "IOProbeScore" = 0
          "HIDIdleTime" = 183429816667
          "IOMatchCategory" = "IOHIDSystem"
          "IOUserClientClass" = "IOHIDParamUserClient"
          "HIDParameters" = {"HIDClickTime"=500000000,"HIDKeyRepeat"=83333333,\
"HIDInitialKeyRepeat"=250000000}
          "IOGeneralInterest" = "IOCommand is not serializable"
        }
"""


def test_ioreg_idle_time_in_nanoseconds() -> None:
    assert parse_ioreg_hid_idle_ns(IOREG_SAMPLE) == 183_429_816_667  # 183.4 s


def test_ioreg_with_two_hid_systems_takes_the_most_recent_input() -> None:
    second = IOREG_SAMPLE.replace("183429816667", "2500000000")
    assert parse_ioreg_hid_idle_ns(IOREG_SAMPLE + second) == 2_500_000_000


def test_ioreg_without_the_property() -> None:
    assert parse_ioreg_hid_idle_ns('"IOClass" = "IOHIDSystem"\n') is None
    assert parse_ioreg_hid_idle_ns("") is None


# ---- session messages --------------------------------------------------------------------------


def test_windows_messages_map_to_lock_and_sleep() -> None:
    assert translate_message(WM_WTSSESSION_CHANGE, WTS_SESSION_LOCK) == ("lock", True)
    assert translate_message(WM_WTSSESSION_CHANGE, WTS_SESSION_UNLOCK) == ("lock", False)
    assert translate_message(WM_POWERBROADCAST, PBT_APMSUSPEND) == ("sleep", True)
    assert translate_message(WM_POWERBROADCAST, PBT_APMRESUMEAUTOMATIC) == ("sleep", False)
    assert translate_message(WM_POWERBROADCAST, PBT_APMRESUMESUSPEND) == ("sleep", False)
    assert translate_message(WM_WTSSESSION_CHANGE, 0x5) is None  # WTS_SESSION_LOGON
    assert translate_message(0x000F, 0) is None  # WM_PAINT


def test_macos_lock_notifications() -> None:
    assert lock_state_for_notification("com.apple.screenIsLocked") is True
    assert lock_state_for_notification("com.apple.screenIsUnlocked") is False
    assert lock_state_for_notification("com.apple.screensaver.didstart") is None


# ---- screensaver units -------------------------------------------------------------------------


def test_screensaver_unit_decision_order() -> None:
    assert decide_unit("s", "/usr/bin/ksmserver", "KDE")[0] == "s"  # override wins
    assert decide_unit(None, "/usr/bin/ksmserver", "XFCE")[0] == "ms"  # owner beats desktop
    assert decide_unit(None, "/usr/bin/xfce4-screensaver", "KDE")[0] == "s"
    assert decide_unit(None, "python3", "ubuntu:GNOME")[0] == "ms"  # unknown: KDE's ms
    assert decide_unit(None, None, "X-Cinnamon")[0] == "s"
    assert decide_unit(None, None, "KDE")[0] == "ms"
    with pytest.raises(ValueError, match="must be 'ms' or 's', not 'sec'"):
        decide_unit("sec", None, None)


# ---- factory on the other platforms ------------------------------------------------------------


def test_wayland_detection() -> None:
    assert is_wayland_session({"WAYLAND_DISPLAY": "wayland-0"})
    assert is_wayland_session({"XDG_SESSION_TYPE": "Wayland"})
    assert not is_wayland_session({"XDG_SESSION_TYPE": "x11", "DISPLAY": ":0"})


@pytest.mark.parametrize(("platform", "backend"), [("win32", "windows"), ("darwin", "macos")])
def test_factory_on_other_platforms_says_why_nothing_works_here(
    platform: str, backend: str
) -> None:
    source, choice = make_idle_source({}, platform=platform)
    assert isinstance(source, NullIdleSource)
    reasons = dict(choice.rejected)
    assert reasons["x11"] == "only on Linux/BSD"
    assert reasons[backend] == "only on " + ("Windows" if backend == "windows" else "macOS")


# ---- clocks ------------------------------------------------------------------------------------


def test_windows_tick_parts() -> None:
    # 5 h since boot, of which 2 h asleep (100 ns units).
    mono_s, slept_s = windows_tick_parts(5 * 3600 * 10**7, 3 * 3600 * 10**7)
    assert mono_s == 5 * 3600 and slept_s == 2 * 3600
    assert windows_tick_parts(100, 101) == (100 / 10**7, 0.0)  # read-order noise


def test_sleep_estimator_counts_a_sleep() -> None:
    est = SleepEstimator()
    assert est.update(1_000.0, 50.0) == 0.0
    assert est.update(1_015.0, 65.0) == 0.0  # a normal 15 s step
    # Asleep 8 h: the wall clock moved 8 h + 15 s, the monotonic one 15 s.
    assert est.update(1_015.0 + 8 * 3600 + 15, 80.0) == pytest.approx(8 * 3600)
    assert est.update(1_015.0 + 8 * 3600 + 30, 95.0) == pytest.approx(8 * 3600)


def test_sleep_estimator_ignores_backward_jumps_small_steps_and_absurd_ones() -> None:
    est = SleepEstimator(min_sleep_s=5.0, max_sleep_s=30 * 86400.0)
    est.update(10_000.0, 0.0)
    assert est.update(10_000.0 - 3600 + 15, 15.0) == 0.0  # wall back 1 h (DST done wrong, NTP)
    assert est.update(10_000.0 - 3600 + 32, 30.0) == 0.0  # 2 s NTP step forward: noise
    assert est.update(10_000.0 + 365 * 86400.0, 45.0) == 0.0  # clock set a year ahead
    assert est.update(10_000.0 + 365 * 86400.0 + 600 + 15, 60.0) == pytest.approx(600)


@given(steps=st.lists(st.tuples(st.floats(-1e6, 1e7), st.floats(0, 1e5)), max_size=30))
def test_sleep_estimator_never_exceeds_the_wall_clock_movement(
    steps: list[tuple[float, float]],
) -> None:
    est = SleepEstimator()
    wall, mono = 0.0, 0.0
    est.update(wall, mono)
    forward_wall = 0.0
    for wall_step, mono_step in steps:
        wall += wall_step
        mono += mono_step
        forward_wall += max(0.0, wall_step)
        slept = est.update(wall, mono)
        assert 0.0 <= slept <= forward_wall + 1e-6


def test_the_real_clock_on_this_machine() -> None:
    wall1, mono1, slept1 = read_tick_parts()
    time.sleep(0.05)
    wall2, mono2, slept2 = read_tick_parts()
    assert wall1.tzinfo is not None and wall1.utcoffset() is not None
    assert 0.04 <= mono2 - mono1 < 5.0
    assert slept1 >= 0.0 and slept2 >= 0.0
    # This VM cannot suspend: BOOTTIME - MONOTONIC stays (almost) constant.
    assert abs(slept2 - slept1) < 0.01
    assert wall2 - wall1 > timedelta(0)


def test_fallback_clock_synthesizes_sleep_on_unknown_platforms() -> None:
    clock = SystemClock(platform="sunos5")
    assert clock.method == "time.monotonic + SleepEstimator"
    _, mono1, _ = clock.read_tick_parts()
    _, mono2, slept2 = clock.read_tick_parts()
    assert mono2 >= mono1 and slept2 == 0.0
    assert SystemClock().method == "CLOCK_BOOTTIME - CLOCK_MONOTONIC"
