"""Invariants of the sitting engine over random sequences of ticks and commands (hypothesis)."""

from __future__ import annotations

from datetime import timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from psoas_break.core.commands import EndBreak, Pause, Resume, ScreenLock, Skip, Snooze, TakeBreak
from psoas_break.core.engine import POSTURE_GUARD_S
from psoas_break.core.events import ShowPrompt
from psoas_break.core.settings import Settings
from tests.engine_driver import Driver

SETTINGS = Settings()
NATURAL_S = SETTINGS.natural_break_min * 60

# One step of a scripted life: (what, amount)
steps = st.one_of(
    st.tuples(st.just("sit"), st.floats(min_value=0.1, max_value=40)),
    st.tuples(st.just("away"), st.floats(min_value=0.1, max_value=30)),
    st.tuples(st.just("suspend"), st.floats(min_value=0.1, max_value=600)),
    st.tuples(st.just("stopped"), st.floats(min_value=0.1, max_value=30)),
    st.tuples(st.just("jump"), st.floats(min_value=-6, max_value=6)),
    st.tuples(
        st.just("cmd"),
        st.sampled_from(["break", "end", "snooze", "skip", "pause", "resume", "lock", "unlock"]),
    ),
)

COMMANDS = {
    "break": TakeBreak(),
    "end": EndBreak(),
    "snooze": Snooze(),
    "skip": Skip(),
    "pause": Pause(seconds=1200),
    "resume": Resume(),
    "lock": ScreenLock(True),
    "unlock": ScreenLock(False),
}


def play(d: Driver, script: list[tuple[str, object]], check: bool = True) -> None:
    for what, amount in script:
        if what == "sit":
            d.sit(float(amount))  # type: ignore[arg-type]
        elif what == "away":
            d.away(float(amount))  # type: ignore[arg-type]
        elif what == "suspend":
            before = d.status.state
            d.suspend(float(amount))  # type: ignore[arg-type]
            if check and float(amount) * 60 >= NATURAL_S:  # type: ignore[arg-type]
                # A gap of at least a natural break always resets sitting.
                assert d.status.sitting_s == 0, before
                assert d.status.state != "prompt_due"
        elif what == "stopped":
            d.stopped(float(amount))  # type: ignore[arg-type]
            if check and float(amount) * 60 >= NATURAL_S:  # type: ignore[arg-type]
                assert d.status.sitting_s == 0
        elif what == "jump":
            d.jump_wall(float(amount))  # type: ignore[arg-type]
        else:
            d.cmd(COMMANDS[str(amount)])
        if check:
            assert d.status.sitting_s >= 0
            assert d.today.sitting_s >= 0


@settings(max_examples=150, deadline=None)
@given(st.lists(steps, max_size=40))
def test_invariants_over_random_days(script: list[tuple[str, object]]) -> None:
    d = Driver()
    play(d, script)
    prompts = sorted(d.prompts(), key=lambda tp: tp[0])
    for (t1, p1), (t2, p2) in zip(prompts, prompts[1:], strict=False):
        kinds = {p1.kind, p2.kind}
        if kinds == {"stretch"}:
            # Repeats and snoozes are at least snooze_min apart.
            assert t2 - t1 >= SETTINGS.snooze_min * 60 - 1e-6, (p1, p2)
        elif p1.kind == "posture" and p2.kind == "stretch":
            assert t2 - t1 >= POSTURE_GUARD_S - 1e-6, (p1, p2)
    # Never more than one prompt in the same tick.
    times = [t for t, _ in prompts]
    assert len(times) == len(set(times))


@settings(max_examples=100, deadline=None)
@given(
    st.lists(steps.filter(lambda s: s[0] != "jump"), max_size=30),
    st.lists(st.floats(min_value=-26, max_value=26), min_size=1, max_size=30),
)
def test_wall_clock_jumps_never_change_due_times(
    script: list[tuple[str, object]], jumps: list[float]
) -> None:
    plain = Driver()
    jumped = Driver()
    for i, step in enumerate(script):
        play(plain, [step], check=False)
        play(jumped, [step], check=False)
        jumped.jump_wall(jumps[i % len(jumps)])
    assert [(t, p.kind) for t, p in plain.prompts()] == [(t, p.kind) for t, p in jumped.prompts()]
    a, b = plain.status, jumped.status
    assert (a.state, a.sitting_s, a.next_prompt) == (b.state, b.sitting_s, b.next_prompt)
    assert plain.engine.seconds_until_next_deadline() == jumped.engine.seconds_until_next_deadline()


@settings(max_examples=60, deadline=None)
@given(st.floats(min_value=NATURAL_S / 60, max_value=24 * 60), st.floats(0, 200))
def test_one_long_gap_never_bursts(gap_min: float, sat_min: float) -> None:
    d = Driver()
    d.sit(sat_min)
    before = len(d.prompts())
    effects = d.suspend(gap_min)
    assert not [e for e in effects if isinstance(e, ShowPrompt)]
    assert len(d.prompts()) == before
    assert d.status.sitting_s == 0


def test_jump_helper_really_moves_wall() -> None:
    d = Driver()
    w = d.wall
    d.jump_wall(3)
    assert d.wall - w == timedelta(hours=3)
