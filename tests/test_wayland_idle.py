"""The Wayland idle source against real kwin_wayland 5.27 and sway 1.7 (headless, see
tests/desktop/wayland.py): ext-idle-notify-v1 on KWin, org_kde_kwin_idle on sway, real input
resetting it, idle inhibitors counting as presence, the compositor dying, and no wakeups."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from psoas_break.adapters.idle import make_idle_source
from psoas_break.adapters.idle.live import LiveIdleSource
from psoas_break.adapters.idle.wayland import EXT_IDLE, KDE_IDLE, WaylandIdleSource
from psoas_break.adapters.wayland.connection import attach
from psoas_break.ports import Unavailable
from tests.desktop import wayland
from tests.desktop.waiting import wait_for
from tests.desktop.wayland import Compositor, thread_figures
from tests.desktop.wayland_input import KWinFakeInput, ToyWindow, sway_type, trusted_python

pytestmark = [pytest.mark.desktop, pytest.mark.timeout(120)]

T = 1.0  # the idle threshold: short for quick tests, long enough for a busy CPU
DEADLINE = 10.0


@pytest.fixture
def kwin() -> Iterator[Compositor]:
    yield from wayland.fixture("kwin")


@pytest.fixture
def sway() -> Iterator[Compositor]:
    yield from wayland.fixture("sway")


@pytest.fixture
def mutter() -> Iterator[Compositor]:
    yield from wayland.fixture("mutter")


class Changes:
    def __init__(self, source: WaylandIdleSource) -> None:
        self.source = source
        self.seen: list[float | None] = []

    def __call__(self) -> None:
        self.seen.append(self.source.idle_seconds())


def open_source(comp: Compositor, thresholds: tuple[float, ...] = (T,),
                **kwargs: object) -> tuple[WaylandIdleSource, Changes]:
    source = WaylandIdleSource.open(comp.client_env, thresholds, **kwargs)  # type: ignore[arg-type]
    changes = Changes(source)
    source.watch(thresholds, changes)
    return source, changes


def idle_reached(source: WaylandIdleSource) -> bool:
    value = source.idle_seconds()
    return value is not None and value >= T


def test_kwin_offers_ext_idle_notify_and_the_idle_time_grows(kwin: Compositor) -> None:
    source, changes = open_source(kwin)
    try:
        assert source.protocol == EXT_IDLE and source.version == 1  # KWin 5.27: v1 only
        assert "honours idle inhibitors" in source.detail and source.detail.endswith("live")
        assert source.idle_seconds() == 0.0 and source.event_driven
        wait_for(lambda: idle_reached(source), DEADLINE, what="idled from KWin")
        first = source.idle_seconds()
        assert first is not None
        time.sleep(0.3)
        later = source.idle_seconds()
        assert later is not None and later >= first + 0.25  # grows with the monotonic clock
        assert len(changes.seen) == 1 and changes.seen[0] is not None and changes.seen[0] >= T
    finally:
        source.close()


def test_kwin_also_serves_the_older_org_kde_kwin_idle(kwin: Compositor) -> None:
    source, _changes = open_source(kwin, prefer=(KDE_IDLE,))
    try:
        assert source.protocol == KDE_IDLE
        wait_for(lambda: idle_reached(source), DEADLINE, what="idle from org_kde_kwin_idle")
    finally:
        source.close()


def test_kwin_fake_input_resets_idle(tmp_path: Path) -> None:
    """KWin's own authorisation (a desktop file for the client's executable) lets a trusted
    copy of the interpreter move the pointer: real input as KWin sees it."""
    python = trusted_python(str(tmp_path))
    with wayland.compositor("kwin", trusted_exe=python) as comp:
        source, changes = open_source(comp)
        fake = KWinFakeInput(comp, python)
        try:
            wait_for(lambda: idle_reached(source), DEADLINE, what="idle")
            fake.nudge_pointer()
            wait_for(lambda: source.idle_seconds() == 0.0, DEADLINE, what="input seen")
            assert changes.seen[1] == 0.0  # told: idle, then back (then maybe idle again)
        finally:
            fake.close()
            source.close()


def test_kwin_hides_fake_input_from_other_clients(kwin: Compositor) -> None:
    def setup(_display: object, _registry: object, offered: object) -> None:
        if "org_kde_kwin_fake_input" not in offered:  # type: ignore[operator]
            raise Unavailable("not offered to this client")

    with pytest.raises(Unavailable, match="not offered"):
        attach(kwin.socket, setup)


def test_sway_offers_org_kde_kwin_idle_only(sway: Compositor) -> None:
    with pytest.raises(Unavailable, match="none of ext_idle_notifier_v1"):
        WaylandIdleSource.open(sway.client_env, prefer=(EXT_IDLE,))
    source, _changes = open_source(sway)
    try:
        assert source.protocol == KDE_IDLE  # ext-idle-notify arrived in sway 1.8
    finally:
        source.close()


def test_sway_typing_resets_idle(sway: Compositor) -> None:
    source, changes = open_source(sway)
    try:
        wait_for(lambda: idle_reached(source), DEADLINE, what="idle")
        sway_type(sway)
        wait_for(lambda: source.idle_seconds() == 0.0, DEADLINE, what="typing seen")
        assert changes.seen[1] == 0.0  # told: idle, then back
    finally:
        source.close()


def test_mutter_offers_neither_protocol(mutter: Compositor) -> None:
    with pytest.raises(Unavailable, match="IdleMonitor"):
        WaylandIdleSource.open(mutter.client_env)


def test_no_compositor_is_one_plain_line(tmp_path: Path) -> None:
    with pytest.raises(Unavailable, match="cannot connect to the Wayland display"):
        WaylandIdleSource.open({"WAYLAND_DISPLAY": str(tmp_path / "nothing-here")})


@pytest.mark.parametrize("kind", ["kwin", "sway"])
def test_an_idle_inhibitor_is_presence_not_a_break(kind: str) -> None:
    """The decision (README, "Idle inhibitors"): a visible window holding an idle inhibitor (a
    video) keeps the person present, so no natural break while it plays; once it goes, idle
    counts. Both compositors honour inhibitors for the requests the source uses."""
    with wayland.compositor(kind) as comp:
        window = ToyWindow(comp, "--inhibit")
        try:
            window.wait_mapped()
            source, changes = open_source(comp)
            try:
                time.sleep(T * 2.5)  # the claim is that nothing happens: wait past it
                assert source.idle_seconds() == 0.0 and changes.seen == []
                window.send("uninhibit")
                wait_for(lambda: idle_reached(source), DEADLINE, what="idle once uninhibited")
            finally:
                source.close()
        finally:
            window.close()


@pytest.mark.parametrize("kind", ["kwin", "sway"])
def test_the_compositor_dying_is_seen_and_the_thread_ends(kind: str) -> None:
    with wayland.compositor(kind) as comp:
        source, changes = open_source(comp)
        tid = source.thread_id
        assert tid is not None
        comp.kill()
        wait_for(lambda: source.idle_seconds() is None, DEADLINE, what="None after the kill")
        assert source.lost is not None and "went away" in source.lost
        assert "went away" in source.detail and not source.event_driven
        assert changes.seen and changes.seen[-1] is None  # told once, so it can fall back
        # the thread has ended: nothing left that could spin on a dead socket
        wait_for(lambda: not os.path.exists(f"/proc/self/task/{tid}"), DEADLINE,
                 what="the Wayland thread to end")
        source.close()


def test_the_factory_falls_back_when_the_compositor_dies_and_returns_to_it(
    sway: Compositor,
) -> None:
    source, choice = make_idle_source(sway.client_env)
    try:
        assert choice.chosen == "wayland" and isinstance(source, LiveIdleSource)
        seen: list[str] = []
        source.watch((60.0,), lambda: seen.append(source.name))
        sway.kill()
        wait_for(lambda: source.name == "none", DEADLINE, what="falling back")
        assert source.idle_seconds() is None
        # The same compositor again on the same socket (as a crashed one restarted).
        again = wayland.start("sway", sway.tmp, bus_address=sway.bus_address)
        try:
            assert again.socket == sway.socket
            wait_for(lambda: source.name == "wayland", DEADLINE, what="the source back")
            assert source.idle_seconds() == 0.0 and source.event_driven
            assert source.history == ["wayland", "none", "wayland"]
        finally:
            again.stop()
    finally:
        source.close()


@pytest.mark.parametrize("kind", ["kwin", "sway"])
def test_no_wakeup_while_nothing_happens(kind: str) -> None:
    with wayland.compositor(kind) as comp:
        source, _changes = open_source(comp, (60.0,))  # nothing due during the test
        try:
            tid = source.thread_id
            assert tid is not None
            time.sleep(0.2)
            before = thread_figures(tid)
            time.sleep(2.0)
            after = thread_figures(tid)
            assert after[0] - before[0] == 0, "the Wayland thread woke up"
        finally:
            source.close()


def test_idle_and_fullscreen_share_one_connection_and_survive_each_other(
    sway: Compositor,
) -> None:
    """pywayland 0.4.19 attaches proxies made in events (toplevel handles) to the first
    connection it knows: two connections in one process once crashed the garbage collector.
    Both features ride one connection, which outlives either of them."""
    import gc

    from psoas_break.adapters.quiet.fullscreen_wlr import WlrFullscreenDetector

    source, _changes = open_source(sway, (60.0,))
    window = ToyWindow(sway, "--fullscreen")
    try:
        window.wait_mapped()
        detector = WlrFullscreenDetector.open(sway.client_env)
        assert detector.thread_id == source.thread_id  # one connection, one thread
        wait_for(lambda: detector.reasons() == ("fullscreen",), DEADLINE, what="fullscreen")
        detector.close()  # while the toplevel still exists
        gc.collect()
        assert source.event_driven  # the idle source keeps the connection
        source.close()
        gc.collect()  # used to segfault in wl_proxy_destroy here
        again = WlrFullscreenDetector.open(sway.client_env)
        try:
            wait_for(lambda: again.reasons() == ("fullscreen",), DEADLINE, what="again")
        finally:
            again.close()
        gc.collect()
    finally:
        window.close()
        source.close()


def test_closing_is_prompt(kwin: Compositor) -> None:
    source, _changes = open_source(kwin, (60.0,))
    tid = source.thread_id
    t0 = time.monotonic()
    source.close()
    assert time.monotonic() - t0 < 0.5
    wait_for(lambda: not os.path.exists(f"/proc/self/task/{tid}"), 2.0, what="thread gone")
    assert source.idle_seconds() is None
