"""tests/desktop/proc_figures.py, the one /proc reader of context switches and CPU the tests
and benchmarks share, and the benchmarks that use it: they import, and bench/tray_idle.py's
floor icon cannot pass for the app's."""

from __future__ import annotations

import importlib
import os
import re
import sys
import threading
import time

import pytest

from psoas_break.ui.icon import state_colour
from tests.desktop.proc_figures import context_switches, thread_figures, window_delta

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")


def test_a_sleeping_thread_counts_its_wakeups_and_a_blocked_one_none() -> None:
    wake, stop = threading.Event(), threading.Event()
    started: list[int] = []

    def body() -> None:
        started.append(threading.get_native_id())
        wake.wait()
        while not stop.wait(0.01):
            pass

    thread = threading.Thread(target=body)
    thread.start()
    try:
        while not started:
            time.sleep(0.01)
        # Settled in wait() (a loaded machine may take a while to get it there): then a
        # wait with no timeout never wakes it.
        blocked, deadline = -1, time.monotonic() + 30
        while time.monotonic() < deadline:
            now = context_switches(started[0])
            if now == blocked:
                break
            blocked = now
            time.sleep(0.3)
        time.sleep(0.3)
        assert context_switches(started[0]) == blocked
        wake.set()
        deadline = time.monotonic() + 30  # 100 timed waits a second from here
        while context_switches(started[0]) < blocked + 5 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert context_switches(started[0]) >= blocked + 5
    finally:
        wake.set()
        stop.set()
        thread.join()


def test_thread_figures_of_a_process_and_a_window() -> None:
    before = thread_figures(os.getpid())
    assert str(threading.get_native_id()) in before
    deadline = time.thread_time() + 0.05
    while time.thread_time() < deadline:
        pass
    time.sleep(0.01)
    cpu_s, switches = window_delta(before, thread_figures("self"))
    assert cpu_s >= 0.04 and switches >= 1
    # A thread that ended counts nothing; one that started counts all it did.
    assert window_delta({"1": (5.0, 9)}, {"2": (0.5, 3)}) == (0.5, 3)


@pytest.mark.parametrize("name", ["tray_idle", "idle_sources", "quiet_detectors",
                                  "wayland_idle"])
def test_the_benchmarks_import(name: str) -> None:
    importlib.import_module(f"bench.{name}")


def test_the_floor_icon_of_the_tray_benchmark_is_not_the_apps_colour() -> None:
    """The bench waits for the app's teal in the panel: a floor icon of that colour would
    pass the check without the app (review-15 finding 8)."""
    tray_idle = importlib.import_module("bench.tray_idle")
    fills = re.findall(r"fill=\((\d+), (\d+), (\d+)", tray_idle.APPINDICATOR_SCRIPT)
    assert fills
    teal = state_colour("sitting")
    for fill in fills:
        distance = max(abs(int(a) - b) for a, b in zip(fill, teal, strict=True))
        assert distance > 60, (fill, teal)  # xfce.wait_icon matches within 10
