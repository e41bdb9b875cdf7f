"""The pure road detector (core/road.py): the hysteresis boundaries exactly, then properties
(hypothesis) over random speed scripts: never driving below 2 m/s, noise under 1 m/s never
flapping, every change backed by samples that met its rule, extra wake-ups changing nothing."""

from __future__ import annotations

import math

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from psoas_break.core.road import (
    DRIVE_HOLD_S,
    FIX_LOST_MAX_S,
    KEEPALIVE_S,
    STALE_S,
    STOP_HOLD_S,
    FellBackToManual,
    FixRegained,
    RoadChange,
    RoadDetector,
    SampleGate,
    speed_band,
)


def feed(det, samples, step_s=1.0, start_s=0.0):
    """Samples every step_s from start_s; returns all events."""
    events = []
    t = start_s
    for speed in samples:
        events += det.sample(t, speed)
        t += step_s
    return events


# ---- examples: the boundaries exactly ----


def test_driving_needs_20_s_of_2_mps_exactly():
    det = RoadDetector(stale_s=None)
    assert feed(det, [2.0] * 20) == []  # samples at 0..19: not yet
    assert det.next_deadline() == 20.0
    assert det.advance(19.999) == []
    assert det.advance(20.0) == [RoadChange("driving", 0.0, 20.0)]
    assert det.state == "driving" and det.next_deadline() is None


def test_just_under_2_mps_never_drives():
    det = RoadDetector()
    feed(det, [1.9999] * 600)
    det.advance(10_000)
    assert det.state == "unknown"


def test_stop_needs_60_s_under_1_mps_and_1_mps_is_not_under():
    det = RoadDetector()
    feed(det, [20.0] * 21)
    assert det.state == "driving"
    assert feed(det, [1.0] * 300, start_s=21) == []  # 1.0 is not < 1
    ev = feed(det, [0.9999] * 61, start_s=321)
    assert ev == [RoadChange("stopped", 321.0, 381.0)]


def test_a_middle_speed_restarts_the_hold():
    det = RoadDetector()
    ev = feed(det, [3.0] * 19 + [1.5] + [3.0] * 19)
    assert ev == [] and det.state == "unknown"
    assert det.advance(20 + 20) == [RoadChange("driving", 20.0, 40.0)]


def test_noise_at_rest_never_starts_driving():
    import random

    rng = random.Random(5)
    det = RoadDetector()
    ev = feed(det, [rng.uniform(0.2, 0.7) for _ in range(3600)])
    assert ev == [RoadChange("stopped", 0.0, 60.0)]


def test_tunnel_keeps_state_for_3_min_and_falls_back_after_10():
    det = RoadDetector()
    feed(det, [25.0] * 30)  # driving from 20
    assert det.state == "driving"
    assert feed(det, [None] * 180, start_s=30) == []  # 3 minutes: kept
    assert det.state == "driving"
    assert feed(det, [25.0] * 30, start_s=210) == []  # out of the tunnel: still driving
    ev = feed(det, [None] * 720, start_s=240)  # 12 minutes
    assert ev == [FellBackToManual(240.0, 840.0, 239.0)]  # exactly once, at 10 min
    assert det.state == "unknown" and det.manual
    ev = feed(det, [25.0] * 21, start_s=960)
    assert ev == [FixRegained(960.0), RoadChange("driving", 960.0, 980.0)]
    assert not det.manual


def test_fallback_boundary_exactly():
    det = RoadDetector(stale_s=None)
    feed(det, [0.3] * 61)
    det.sample(100.0, None)
    assert det.next_deadline() == 100.0 + FIX_LOST_MAX_S
    assert det.advance(699.999) == []
    assert det.advance(700.0) == [FellBackToManual(100.0, 700.0, 60.0)]
    assert det.advance(5000.0) == [] and det.next_deadline() is None


def test_no_fix_before_any_fix_is_no_fall_back():
    det = RoadDetector()
    feed(det, [None] * 2000)
    assert det.advance(1e6) == [] and det.state == "unknown" and not det.manual


def test_no_fix_ends_a_pending_change():
    det = RoadDetector()
    ev = feed(det, [5.0] * 10 + [None] + [5.0] * 19)
    assert ev == [] and det.state == "unknown"
    assert det.advance(31.0) == [RoadChange("driving", 11.0, 31.0)]


def test_sparse_samples_confirm_by_time_passing():
    det = RoadDetector()
    assert det.sample(0.0, 10.0) == []
    assert det.next_deadline() == 20.0
    assert det.advance(25.0) == [RoadChange("driving", 0.0, 20.0)]
    # a late sample shows the moment first: same event
    det2 = RoadDetector(stale_s=None)
    det2.sample(0.0, 10.0)
    assert det2.sample(25.0, 0.0) == [RoadChange("driving", 0.0, 20.0)]
    assert det2.next_deadline() == 85.0


def test_silence_goes_stale_when_asked():
    det = RoadDetector(stale_s=10.0)
    feed(det, [20.0] * 21)  # driving at 20; last fix at 20
    assert det.next_deadline() == 30.0
    assert det.advance(29.999) == [] and det.fix_lost_since is None
    assert det.advance(30.0) == [] and det.fix_lost_since == 30.0  # lost, state kept
    assert det.state == "driving"
    assert det.advance(630.0) == [FellBackToManual(30.0, 630.0, 20.0)]


def test_a_change_needs_fresh_evidence_when_stale_s_is_set():
    det = RoadDetector(stale_s=10.0)
    det.sample(0.0, 20.0)
    det.sample(5.0, 20.0)
    assert det.advance(100.0) == []  # stale at 15, before the 20 s were up
    det2 = RoadDetector(stale_s=20.0)
    det2.sample(0.0, 20.0)
    assert det2.advance(100.0) == [RoadChange("driving", 0.0, 20.0)]  # due at the same moment


def test_the_planner_is_held_only_while_driving_waits_out_its_hold():
    det = RoadDetector(stale_s=None)
    assert det.planner_horizon(5.0) == 5.0
    det.sample(10.0, 20.0)  # pending driving from the parked (unknown) start
    assert det.planner_horizon(25.0) == 10.0
    det.sample(30.0, 20.0)
    assert det.state == "driving" and det.planner_horizon(40.0) == 40.0
    det.sample(50.0, 0.3)  # a pending stop does not hold: stop(since) takes driving back
    assert det.planner_horizon(80.0) == 80.0
    det.sample(110.0, 0.3)
    assert det.state == "stopped"
    det.sample(2000.0, 20.0)  # moving after a long stop: held at the first fast sample
    assert det.planner_horizon(2019.0) == 2000.0
    det.sample(2010.0, 1.5)  # between: nothing pending, the stop goes on
    assert det.planner_horizon(2019.0) == 2019.0


def test_time_going_backwards_is_no_time():
    det = RoadDetector()
    det.sample(100.0, 5.0)
    assert det.sample(50.0, 5.0) == []  # counts as at 100
    assert det.advance(119.0) == []
    assert det.advance(120.0) == [RoadChange("driving", 100.0, 120.0)]


@pytest.mark.parametrize("bad", [math.nan, math.inf, -1.0, True])
def test_nonsense_speed_is_no_fix(bad):
    det = RoadDetector()
    feed(det, [5.0] * 21)
    det.sample(21.0, bad)
    assert det.fix_lost_since == 21.0


def test_bad_time_raises():
    with pytest.raises(ValueError):
        RoadDetector().sample(math.nan, 1.0)
    with pytest.raises(ValueError):
        RoadDetector(stale_s=0)


# ---- properties ----

speeds = st.one_of(
    st.floats(0.0, 0.9999),  # noise at rest
    st.floats(1.0, 1.9999),  # the hysteresis band
    st.floats(2.0, 45.0),  # moving
    st.none(),  # no fix
)
gaps = st.floats(0.0, 40.0)
scripts = st.lists(st.tuples(gaps, speeds), max_size=120)


def run(script, det=None, advance_every=None):
    """Feed (gap, speed) pairs; optionally call advance() at extra moments in between."""
    det = det or RoadDetector(stale_s=None)
    t = 0.0
    events, samples = [], []
    for gap, speed in script:
        if advance_every:
            k = 1
            while k * advance_every < gap:
                events += det.advance(t + k * advance_every)
                k += 1
        t += gap
        samples.append((t, speed))
        events += det.sample(t, speed)
    return det, events, samples, t


def meets(state, speed):
    if speed is None:
        return False
    return speed >= 2.0 if state == "driving" else speed < 1.0


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(gaps, st.one_of(st.floats(0.0, 1.9999), st.none())), max_size=150))
def test_never_drives_below_2_mps(script):
    det, events, _, t = run(script)
    events += det.advance(t + 10_000)
    assert not any(isinstance(e, RoadChange) and e.state == "driving" for e in events)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(gaps, st.floats(0.0, 0.9999)), max_size=150))
def test_noise_under_1_mps_never_flaps(script):
    det, events, _, t = run([(0.0, 30.0)] * 1 + [(25.0, 30.0)] + script)  # start driving
    events += det.advance(t + 10_000)
    changes = [e.state for e in events if isinstance(e, RoadChange)]
    assert changes in (["driving"], ["driving", "stopped"])


@settings(max_examples=500, deadline=None)
@given(scripts)
def test_every_change_is_backed_by_its_rule(script):
    det, events, samples, t = run(script)
    events += det.advance(t + 10_000)
    # Of several samples at one moment the last one counts (the others lasted no time).
    nxt = samples[1:] + [(math.inf, None)]
    samples = [p for p, q in zip(samples, nxt, strict=False) if p[0] != q[0]]
    previous = "unknown"
    for e in events:
        if isinstance(e, RoadChange):
            hold = DRIVE_HOLD_S if e.state == "driving" else STOP_HOLD_S
            assert e.at_s == e.since_s + hold
            assert e.state != previous  # no repeats
            previous = e.state
            # a sample at since_s started it; every sample in [since, at) met the rule
            window = [(ts, s) for ts, s in samples if e.since_s <= ts < e.at_s]
            assert window and window[0][0] == e.since_s
            assert all(meets(e.state, s) for _, s in window)
            # the sample before the window's end is what held until at_s
        elif isinstance(e, FellBackToManual):
            assert e.at_s == e.lost_since_s + FIX_LOST_MAX_S
            assert all(s is None for ts, s in samples if e.lost_since_s <= ts < e.at_s)
            previous = "unknown"


@settings(max_examples=300, deadline=None)
@given(scripts, st.floats(0.5, 15.0), st.sampled_from([None, 7.5, 30.0]))
def test_extra_advance_calls_change_nothing(script, every, stale_s):
    _, plain, _, t1 = run(script, RoadDetector(stale_s=stale_s))
    _, interleaved, _, t2 = run(script, RoadDetector(stale_s=stale_s), advance_every=every)
    assert interleaved == plain


@settings(max_examples=300, deadline=None)
@given(scripts)
def test_stale_evidence_never_confirms(script):
    det, events, samples, t = run(script, RoadDetector(stale_s=7.5))
    events += det.advance(t + 10_000)
    for e in events:
        if isinstance(e, RoadChange):
            times = [ts for ts, _ in samples if e.since_s <= ts <= e.at_s] + [e.at_s]
            assert all(b - a <= 7.5 for a, b in zip(times, times[1:], strict=False))


@settings(max_examples=300, deadline=None)
@given(scripts, st.sampled_from(["driving", "stopped"]), st.integers(1, 200))
def test_a_long_enough_run_always_wins(script, state, n):
    speed = 20.0 if state == "driving" else 0.4
    det, _, _, t = run(script + [(1.0, speed)] * n)
    det.advance(t + 60.0)  # the evidence holds on
    assert det.state == state


@settings(max_examples=200, deadline=None)
@given(scripts)
def test_fallback_once_per_loss(script):
    det, events, _, t = run(script)
    events += det.advance(t + 10_000)
    kinds = [type(e).__name__ for e in events if not isinstance(e, RoadChange)]
    # FellBackToManual and FixRegained alternate, starting with a fall-back
    for a, b in zip(kinds, kinds[1:], strict=False):
        assert a != b
    if kinds:
        assert kinds[0] == "FellBackToManual"


def test_speed_bands_at_the_boundaries() -> None:
    assert [speed_band(v) for v in (2.0, 1.9999, 1.0, 0.9999, 0.0)] == [
        "fast", "between", "between", "slow", "slow"]
    assert {speed_band(v) for v in (None, math.nan, math.inf, -0.1, True)} == {"none"}


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.floats(0.0, STALE_S - KEEPALIVE_S - 0.01), speeds), max_size=150))
@example([(1.0, 0.4)] * 120)  # a stop, one sample a second: the keep-alive keeps it fresh
@example([(0.0, 20.0)] + [(1.0, 20.0)] * 30 + [(1.0, None)] * 700)  # a long tunnel
def test_sending_only_what_the_gate_wants_changes_nothing(script):
    """What a source saves (a sample a second becomes a few a minute) costs no decision."""
    gate, gated = SampleGate(), []
    t = 0.0
    for gap, speed in script:
        t += gap
        if gate.wanted(t, speed):
            gated.append((t, speed))
    det = RoadDetector()
    events = [e for ts, speed in gated for e in det.sample(ts, speed)]
    events += det.advance(t)
    full = RoadDetector()
    expected = [e for ts, speed in _timed(script) for e in full.sample(ts, speed)]
    expected += full.advance(t)
    assert events == expected


def _timed(script):
    t = 0.0
    for gap, speed in script:
        t += gap
        yield t, speed
