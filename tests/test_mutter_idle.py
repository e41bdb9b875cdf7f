"""The Mutter idle source against real mutter 43 (headless, see tests/desktop/wayland.py): idle
and user-active watches over the app's D-Bus layer, RemoteDesktop input, Mutter going away and
coming back, and no wakeups while nothing happens."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest

from psoas_break.adapters.idle import make_idle_source
from psoas_break.adapters.idle.live import LiveIdleSource
from psoas_break.adapters.idle.mutter import MutterIdleSource
from psoas_break.ports import Unavailable
from tests.desktop import wayland
from tests.desktop.waiting import wait_for
from tests.desktop.wayland import Compositor, thread_figures
from tests.desktop.wayland_input import MutterRemoteInput

pytestmark = [pytest.mark.desktop, pytest.mark.timeout(120)]

T = 1.0
DEADLINE = 10.0


@pytest.fixture
def mutter() -> Iterator[Compositor]:
    yield from wayland.fixture("mutter")


@pytest.fixture
def remote(mutter: Compositor) -> Iterator[MutterRemoteInput]:
    session = MutterRemoteInput(mutter.bus_address)
    yield session
    session.close()


def watched(comp: Compositor, thresholds: tuple[float, ...] = (T,)
            ) -> tuple[MutterIdleSource, list[float | None]]:
    source = MutterIdleSource.open(comp.client_env)
    seen: list[float | None] = []
    source.watch(thresholds, lambda: seen.append(source.idle_seconds()))
    return source, seen


def idle_reached(source: MutterIdleSource) -> bool:
    value = source.idle_seconds()
    return value is not None and value >= T


def test_idle_watch_fires_and_pointer_input_ends_it(mutter: Compositor,
                                                    remote: MutterRemoteInput) -> None:
    remote.nudge_pointer()  # start from "just active"
    source, seen = watched(mutter)
    try:
        assert source.event_driven and source.detail.endswith("live")
        wait_for(lambda: idle_reached(source), DEADLINE, what="the idle watch")
        remote.nudge_pointer()
        assert remote.idle_ms() < 500  # RemoteDesktop input is input to Mutter
        wait_for(lambda: source.idle_seconds() == 0.0, DEADLINE, what="the user-active watch")
        assert seen[0] is not None and seen[0] >= T and seen[1] == 0.0  # idle, then back
    finally:
        source.close()


def test_keyboard_input_ends_it(mutter: Compositor, remote: MutterRemoteInput) -> None:
    source, _seen = watched(mutter)
    try:
        wait_for(lambda: idle_reached(source), DEADLINE, what="idle")
        remote.tap_key()  # ends with a GetIdletime: wakes Mutter's main loop (headless quirk)
        wait_for(lambda: source.idle_seconds() == 0.0, DEADLINE, what="a key seen")
    finally:
        source.close()


def test_a_user_idle_already_is_idle_at_once(mutter: Compositor,
                                             remote: MutterRemoteInput) -> None:
    wait_for(lambda: remote.idle_ms() >= 1500, DEADLINE, what="Mutter idle 1.5 s")
    source, _seen = watched(mutter)
    try:
        value = source.idle_seconds()
        assert value is not None and value >= 1.4  # from GetIdletime, not from a watch
    finally:
        source.close()


def test_not_gnome_is_one_plain_line() -> None:
    with wayland.compositor("kwin") as kwin, pytest.raises(Unavailable, match="not GNOME"):
        MutterIdleSource.open(kwin.client_env)


def test_mutter_gone_is_lost_and_the_factory_comes_back_to_it(mutter: Compositor) -> None:
    source, choice = make_idle_source(mutter.client_env)
    try:
        assert choice.chosen == "mutter" and isinstance(source, LiveIdleSource)
        names: list[str] = []
        source.watch((T,), lambda: names.append(source.name))
        wait_for(lambda: source.event_driven, DEADLINE, what="watched")
        mutter.kill()  # the bus stays: Mutter's name goes
        wait_for(lambda: source.name == "none", DEADLINE, what="falling back")
        assert source.idle_seconds() is None
        again = wayland.start("mutter", mutter.tmp / "again", bus_address=mutter.bus_address)
        try:
            wait_for(lambda: source.name == "mutter" and source.event_driven, DEADLINE,
                     what="Mutter back")
            wait_for(lambda: (source.idle_seconds() or 0) >= T, DEADLINE,
                     what="the new Mutter's watches")
            assert source.history == ["mutter", "none", "mutter"]
        finally:
            again.stop()
    finally:
        source.close()


def test_no_wakeup_while_nothing_happens(mutter: Compositor) -> None:
    source, _seen = watched(mutter, (60.0,))
    try:
        (receiver,) = [t for t in threading.enumerate() if t.name == "psoas-dbus-session"]
        assert receiver.native_id is not None
        time.sleep(0.2)
        before = thread_figures(receiver.native_id)
        time.sleep(2.0)
        after = thread_figures(receiver.native_id)
        assert after[0] - before[0] == 0, "the bus thread woke up"
        assert source.idle_seconds() == 0.0
    finally:
        source.close()
