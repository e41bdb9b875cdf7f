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
    LONG_EPISODE_S,
    QUIET_KINDS,
    GateOutcome,
    QuietGate,
    QuietSettingError,
    after_quiet_lead,
    counted,
    parse_quiet_apps_text,
    parse_quiet_when_text,
    quiet_title,
    validate_max_defer_min,
    validate_quiet_apps,
    validate_quiet_when,
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


def test_the_episode_counts_from_when_the_call_began() -> None:
    """A call seen at 100 s (a watching detector reported it), a prompt due at 1000 s, the
    call over at 3220 s: the released prompt knows the call lasted 3120 s (52 minutes) and
    what it was, though the prompt waited only 2220 s."""
    gate: QuietGate[str] = QuietGate(CHECK_S, MAX_S)
    gate.observe(["microphone"], 100.0)
    gate.check(["microphone"], 500.0)  # nothing held: only observes (the start stays)
    assert gate.offer("p1", ["microphone"], 1000.0).release is None
    assert gate.check(["microphone", "screen-sharing"], 2000.0).release is None
    assert gate.check(["screen-sharing"], 3000.0).release is None
    out = gate.check([], 3220.0)
    assert out.release == "p1" and not out.gentle
    assert out.deferred_s == 2220.0 and out.episode_s == 3120.0
    assert out.episode == ("microphone", "screen-sharing") and out.reasons == ()
    assert after_quiet_lead(out.episode, out.episode_s) == "That call was 52 minutes."


def test_an_ended_reason_starts_again_when_seen_again() -> None:
    gate: QuietGate[str] = QuietGate(CHECK_S, MAX_S)
    gate.observe(["microphone"], 0.0)
    gate.observe([], 600.0)  # that call ended
    gate.observe(["microphone"], 1200.0)  # a new one
    gate.offer("p1", ["microphone"], 1300.0)
    out = gate.check([], 1400.0)
    assert out.episode_s == 200.0 and out.deferred_s == 100.0
    # A hold without any earlier observation counts from the offer.
    gate.offer("p2", ["fullscreen"], 2000.0)
    out = gate.check([], 2700.0)
    assert out.episode_s == out.deferred_s == 700.0 and out.episode == ("fullscreen",)
    # A withdrawn prompt leaves nothing behind for the next episode.
    gate.offer("p3", ["camera"], 3000.0)
    gate.withdraw()
    gate.offer("p4", ["fullscreen"], 3100.0)
    assert gate.check([], 3200.0).episode == ("fullscreen",)


def test_gentle_release_keeps_the_episode_too() -> None:
    gate: QuietGate[str] = QuietGate(CHECK_S, 100.0)
    gate.observe(["screen-sharing"], 0.0)
    gate.offer("p1", ["screen-sharing"], 50.0)
    out = gate.check(["screen-sharing"], 150.0)
    assert out.release == "p1" and out.gentle
    assert out.episode == ("screen-sharing",) and out.episode_s == 150.0


def test_after_quiet_lead_words() -> None:
    long_s = LONG_EPISODE_S
    assert after_quiet_lead(["microphone"], long_s - 1) is None
    assert after_quiet_lead(["microphone"], long_s) == "That call was 10 minutes."
    assert after_quiet_lead(["camera", "fullscreen"], 3125.0) == "That call was 52 minutes."
    assert after_quiet_lead(["screen-sharing"], 1800.0) == "That screen share was 30 minutes."
    assert after_quiet_lead(["fullscreen", "app:obs"], 4000.0) == (
        "You were busy for 67 minutes.")


def test_quiet_when_counts_only_the_kinds_switched_on() -> None:
    every = ("fullscreen", "presentation", "do-not-disturb", "camera", "microphone",
             "screen-sharing", "away", "app:zoom")
    assert counted(every, QUIET_KINDS) == every
    assert counted(every, ()) == ("away", "app:zoom")
    assert counted(every, ("microphone", "fullscreen")) == (
        "fullscreen", "presentation", "microphone", "away", "app:zoom")


def test_quiet_when_validator() -> None:
    assert validate_quiet_when(list(reversed(QUIET_KINDS))) == QUIET_KINDS
    assert validate_quiet_when([]) == () and validate_quiet_when("") == ()
    assert validate_quiet_when("camera") == ("camera",)
    assert parse_quiet_when_text("screen_sharing, microphone camera") == (
        "camera", "microphone", "screen-sharing")
    assert parse_quiet_when_text("none") == () and parse_quiet_when_text("") == ()
    assert parse_quiet_when_text("ALL") == QUIET_KINDS
    with pytest.raises(QuietSettingError) as info:
        parse_quiet_when_text("camera, calls")
    assert str(info.value) == (
        'quiet_when has "calls", which is not one of them: use a list of any of "camera", '
        '"microphone", "screen-sharing", "fullscreen", "do-not-disturb" (an empty list: none '
        'of them)')
    for bad in (5, {"camera": True}, [None]):
        with pytest.raises(QuietSettingError):
            validate_quiet_when(bad)


def test_titles() -> None:
    assert quiet_title([]) is None
    assert quiet_title(["microphone", "camera"]) == "Quiet: in a call, camera in use"
    assert quiet_title(["screen-sharing"]) == "Quiet: sharing your screen"
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


def _check_episode(out: GateOutcome[str], was_holding: bool) -> None:
    """A release from a hold says what the episode was and lasted at least the hold."""
    if out.release is not None and was_holding:
        assert out.episode == ("fullscreen",)
        assert out.episode_s >= out.deferred_s - 1e-9
    elif out.release is not None:
        assert out.episode == () and out.episode_s == 0.0


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
            _check_episode(out, before)
            calls.append(Call("offer", t, prompt, before, gate.holding, out.release, out.gentle))
            continue
        if wakes and wakes[0] == t:
            wakes.pop(0)
        if gate.check_due(t):
            out = gate.check(reasons, t)
            _check_episode(out, before)
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
