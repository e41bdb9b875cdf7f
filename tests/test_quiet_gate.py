"""The quiet gate: scripted episodes, settings validators, and hypothesis properties.

The property tests drive the gate the way the runtime does: the engine offers prompts at
arbitrary times, the runtime wakes at the time the gate asks for (or earlier, when something
else woke it) and asks the "detectors" (here a scripted quiet timeline) only then.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from psoas_break.core.quiet_gate import (
    QuietGate,
    QuietSettingError,
    parse_quiet_apps_text,
    quiet_title,
    validate_max_defer_min,
    validate_quiet_apps,
)

CHECK_S = 30.0
MAX_S = 3600.0


def test_not_quiet_shows_at_once() -> None:
    gate: QuietGate[str] = QuietGate(CHECK_S, MAX_S)
    out = gate.offer("p1", [], 100.0)
    assert out.release == "p1" and not out.gentle and out.deferred_s == 0.0
    assert not gate.holding
    assert gate.seconds_until_check(100.0) is None
    assert gate.title() is None


def test_quiet_defers_then_releases_exactly_one_when_it_clears() -> None:
    gate: QuietGate[str] = QuietGate(CHECK_S, MAX_S)
    out = gate.offer("p1", ["fullscreen"], 0.0)
    assert out.release is None
    assert gate.holding and gate.held == "p1"
    assert gate.title() == "Quiet: fullscreen"
    assert gate.seconds_until_check(0.0) == CHECK_S
    assert not gate.check_due(29.9) and gate.check_due(30.0)
    # Still quiet: keep holding; the engine re-prompts twice meanwhile (no pile-up).
    assert gate.check(["fullscreen", "camera"], 30.0).release is None
    assert gate.title() == "Quiet: fullscreen, camera in use"
    assert gate.offer("p2", ["fullscreen"], 45.0).release is None
    assert gate.offer("p3", ["fullscreen"], 50.0).release is None
    assert gate.seconds_until_check(50.0) == pytest.approx(10.0)
    out = gate.check([], 60.0)
    assert out.release == "p3" and not out.gentle and out.deferred_s == 60.0
    assert not gate.holding
    # Nothing left: more checks release nothing.
    assert gate.check([], 90.0).release is None
    assert gate.check(["fullscreen"], 120.0).release is None


def test_max_deferral_gives_one_gentle_prompt() -> None:
    gate: QuietGate[str] = QuietGate(CHECK_S, 100.0)
    gate.offer("p1", ["app:zoom"], 0.0)
    times = [30.0, 60.0, 90.0]
    for t in times:
        assert gate.check(["app:zoom"], t).release is None
    # The check before the deadline is scheduled for the deadline itself, not 120.
    assert gate.seconds_until_check(90.0) == pytest.approx(10.0)
    out = gate.check(["app:zoom"], 100.0)
    assert out.release == "p1" and out.gentle and out.deferred_s == 100.0
    assert out.reasons == ("app:zoom",)
    # A new prompt while still quiet starts a new episode.
    assert gate.offer("p2", ["app:zoom"], 101.0).release is None
    out = gate.check([], 131.0)
    assert out.release == "p2" and not out.gentle and out.deferred_s == 30.0


def test_offer_past_the_deadline_releases_gently() -> None:
    gate: QuietGate[str] = QuietGate(CHECK_S, 100.0)
    gate.offer("p1", ["camera"], 0.0)
    out = gate.offer("p2", ["camera"], 150.0)  # the runtime overslept; the engine re-prompted
    assert out.release == "p2" and out.gentle


def test_offer_during_episode_when_quiet_ended_releases_the_new_prompt() -> None:
    gate: QuietGate[str] = QuietGate(CHECK_S, MAX_S)
    gate.offer("p1", ["do-not-disturb"], 0.0)
    out = gate.offer("p2", [], 10.0)
    assert out.release == "p2" and not out.gentle
    assert not gate.holding


def test_withdraw_ends_the_episode_without_a_prompt() -> None:
    gate: QuietGate[str] = QuietGate(CHECK_S, MAX_S)
    gate.offer("p1", ["fullscreen"], 0.0)
    assert gate.withdraw() == "p1"
    assert not gate.holding
    assert gate.check([], 30.0).release is None
    assert gate.withdraw() is None


def test_zero_max_deferral_switches_deferral_off() -> None:
    gate: QuietGate[str] = QuietGate(CHECK_S, 0.0)
    out = gate.offer("p1", ["fullscreen"], 0.0)
    assert out.release == "p1" and not out.gentle and out.reasons == ("fullscreen",)


def test_lowering_the_maximum_during_an_episode_takes_effect() -> None:
    gate: QuietGate[str] = QuietGate(CHECK_S, MAX_S)
    gate.offer("p1", ["fullscreen"], 0.0)
    gate.set_limits(max_defer_s=20.0)
    assert gate.seconds_until_check(5.0) == pytest.approx(15.0)
    out = gate.check(["fullscreen"], 20.0)
    assert out.release == "p1" and out.gentle


def test_bad_limits_are_refused() -> None:
    with pytest.raises(ValueError):
        QuietGate(0.0, MAX_S)
    with pytest.raises(ValueError):
        QuietGate(CHECK_S, -1.0)


def test_titles() -> None:
    assert quiet_title([]) is None
    assert quiet_title(["fullscreen"]) == "Quiet: fullscreen"
    assert quiet_title(["camera"]) == "Quiet: camera in use"
    assert quiet_title(["do-not-disturb"]) == "Quiet: do not disturb"
    assert quiet_title(["presentation", "app:zoom"]) == "Quiet: presenting, zoom running"
    assert quiet_title(["fullscreen", "fullscreen"]) == "Quiet: fullscreen"


# ---- validators ----


def test_max_defer_min_validator() -> None:
    assert validate_max_defer_min(60) == 60
    assert validate_max_defer_min(0) == 0
    assert validate_max_defer_min(5) == 5 and validate_max_defer_min(240) == 240
    for bad in (4, 241, -1, True, "60", 60.0):
        with pytest.raises(QuietSettingError) as info:
            validate_max_defer_min(bad)
        assert str(info.value).startswith("max_defer_min = ")
        assert "use a whole number from 5 to 240 (0 = never hold a prompt back)" in str(info.value)


def test_quiet_apps_validator() -> None:
    assert validate_quiet_apps(["Zoom", "Teams.exe", "zoom", " obs "]) == ("zoom", "teams", "obs")
    assert validate_quiet_apps([]) == ()
    assert validate_quiet_apps("zoom") == ("zoom",)
    assert parse_quiet_apps_text("zoom, teams,,") == ("zoom", "teams")
    assert parse_quiet_apps_text("") == ()
    with pytest.raises(QuietSettingError) as info:
        validate_quiet_apps(["zoom", "/usr/bin/zoom"])
    assert str(info.value) == (
        'quiet_apps = ["zoom", "/usr/bin/zoom"] is not allowed: "/usr/bin/zoom" is not a '
        'program name; use a list of up to 50 program names (no folders), e.g. '
        '["zoom", "teams", "obs"]'
    )
    for bad in (5, [""], [3], ["x" * 65], ["a"] * 51):
        with pytest.raises(QuietSettingError) as info:
            validate_quiet_apps(bad)
        assert str(info.value).startswith("quiet_apps ")
        assert "\n" not in str(info.value)


# ---- properties ----


@dataclass
class Timeline:
    """Quiet on/off as a step function of monotonic time (starts not quiet)."""

    toggles: list[float]  # sorted times where quiet flips

    def quiet(self, t: float) -> bool:
        return bisect.bisect_right(self.toggles, t) % 2 == 1

    def clear_stretch_from(self, t: float) -> tuple[float, float] | None:
        """The first moment >= t where it is not quiet, and until when it stays clear."""
        i = bisect.bisect_right(self.toggles, t)
        if i % 2 == 0:  # not quiet at t
            start = t
        else:
            if i >= len(self.toggles):
                return None
            start = self.toggles[i]
            i += 1
        end = self.toggles[i] if i < len(self.toggles) else float("inf")
        return start, end


@dataclass
class Call:
    """One call into the gate, as the simulated runtime saw it."""

    kind: str  # "offer" or "check"
    t: float
    prompt: str | None
    holding_before: bool
    holding_after: bool
    release: str | None
    gentle: bool


def simulate(
    gate: QuietGate[str], timeline: Timeline, offer_times: list[float],
    early_wakes: list[float], end_s: float,
) -> list[Call]:
    """Offers at `offer_times`; checks when the gate says (early wakes do not check)."""
    calls: list[Call] = []
    offers = sorted(offer_times)
    wakes = sorted(early_wakes)
    t = 0.0
    for _step in range(100_000):
        candidates = [end_s]
        if offers:
            candidates.append(offers[0])
        if wakes:
            candidates.append(wakes[0])
        wait = gate.seconds_until_check(t)
        if wait is not None:
            candidates.append(t + wait)
        t_next = min(candidates)
        assert t_next >= t
        t = t_next
        if t >= end_s and not offers:
            return calls
        reasons = ["fullscreen"] if timeline.quiet(t) else []
        before = gate.holding
        if offers and offers[0] == t:
            offers.pop(0)
            prompt = f"p{len([c for c in calls if c.kind == 'offer']) + 1}"
            out = gate.offer(prompt, reasons, t)
            calls.append(Call("offer", t, prompt, before, gate.holding, out.release, out.gentle))
            continue
        if wakes and wakes[0] == t:
            wakes.pop(0)
        if gate.check_due(t):
            out = gate.check(reasons, t)
            calls.append(Call("check", t, None, before, gate.holding, out.release, out.gentle))
    raise AssertionError(f"the gate keeps asking for checks without progress at t={t}")


@dataclass
class Episode:
    start: float
    end: float | None = None
    offered: list[str] = field(default_factory=list)
    released: list[tuple[str, bool]] = field(default_factory=list)


def episodes_of(calls: list[Call]) -> tuple[list[Episode], list[str]]:
    """Quiet episodes (from the holding flags) and the prompts shown at once."""
    episodes: list[Episode] = []
    immediate: list[str] = []
    current: Episode | None = None
    for call in calls:
        if current is None:
            if call.kind == "offer" and call.holding_after:
                current = Episode(call.t, offered=[call.prompt or ""])
            elif call.release is not None:
                assert call.kind == "offer" and call.release == call.prompt
                immediate.append(call.release)
            continue
        if call.kind == "offer":
            current.offered.append(call.prompt or "")
        if call.release is not None:
            current.released.append((call.release, call.gentle))
        if not call.holding_after:
            current.end = call.t
            episodes.append(current)
            current = None
    if current is not None:
        episodes.append(current)
    return episodes, immediate


@st.composite
def scenarios(draw: st.DrawFn) -> tuple[Timeline, list[float], list[float], float, float]:
    max_s = draw(st.sampled_from([60.0, 300.0, 3600.0]))
    horizon = draw(st.floats(100.0, 4 * max_s))
    toggles = sorted(set(draw(st.lists(st.floats(0.0, horizon), max_size=12))))
    offers = sorted(set(draw(st.lists(st.floats(0.0, horizon), min_size=1, max_size=8))))
    wakes = draw(st.lists(st.floats(0.0, horizon), max_size=10))
    return Timeline(toggles), offers, wakes, max_s, horizon


@settings(max_examples=300, deadline=None)
@given(scenario=scenarios())
def test_gate_properties(scenario: tuple[Timeline, list[float], list[float], float, float]) -> None:
    timeline, offers, wakes, max_s, horizon = scenario
    gate: QuietGate[str] = QuietGate(CHECK_S, max_s)
    # Run long enough that every episode must end (the maximum is a hard limit).
    calls = simulate(gate, timeline, offers, wakes, horizon + max_s + 2 * CHECK_S)
    assert not gate.holding
    episodes, immediate = episodes_of(calls)
    releases = [c for c in calls if c.release is not None]
    # Every release is an immediate show or the end of one episode: no pile-up.
    assert len(releases) == len(immediate) + sum(len(e.released) for e in episodes)
    assert sum(len(e.offered) for e in episodes) + len(immediate) == len(offers)
    for episode in episodes:
        assert episode.end is not None  # nothing held forever
        # Exactly one release per quiet episode, and it is the newest prompt offered.
        assert len(episode.released) == 1
        prompt, gentle = episode.released[0]
        assert prompt == episode.offered[-1]
        held_s = episode.end - episode.start
        # The maximum deferral is never exceeded by more than one check interval; with a
        # runtime that wakes when asked, not at all (the last check is set on the deadline).
        assert held_s <= max_s + CHECK_S + 1e-6
        assert held_s <= max_s + 1e-6
        if gentle:
            assert held_s >= max_s - 1e-6
            assert timeline.quiet(episode.end)
        else:
            assert not timeline.quiet(episode.end)
        # Released within one check interval after the reasons clear, if they stay clear
        # that long (a flicker shorter than a check may go unseen).
        stretch = timeline.clear_stretch_from(episode.start)
        if stretch is not None:
            clear_s, clear_until = stretch
            if clear_until - clear_s > CHECK_S:
                assert episode.end <= clear_s + CHECK_S + 1e-6, (episode, clear_s)
    # Nothing is released while nothing is held, except an offer shown at once.
    for call in calls:
        if call.kind == "check" and not call.holding_before:
            assert call.release is None
