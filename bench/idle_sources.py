"""Benchmark: what polling each Linux idle source costs, on the real headless test desktop.

For each source that works under the test desktop (x11 via XScreenSaver in-process; mutter and
screensaver via one synchronous D-Bus call on a kept-open connection), two measurements:

1. Compressed: `--polls` calls back to back on one thread. Own-thread CPU per poll
   (CLOCK_THREAD_CPUTIME_ID) and context switches per poll (/proc/self/task/<tid>/status),
   plus the CPU the call costs its peers (Xvfb, dbus-daemon, the fake service) from their
   /proc times. Converted to "per idle minute" at the app's 15 s interval (4 polls a minute).
   A reference row spawns /bin/true once per poll: the least a subprocess-per-poll design
   (Safe Eyes runs `xprintidle` every 2 s) pays, before the child does any work; its "peer"
   column is the children's own CPU (RUSAGE_CHILDREN).
2. Real schedule: every source polls on its own thread every `--interval-s` for `--window-s`
   seconds, next to a floor thread that only sleeps on the same schedule (Event.wait); own-
   thread CPU and context switches per idle minute, and ratios to the floor.

Usage: .venv/bin/python bench/idle_sources.py [--polls 2000] [--window-s 60] [--interval-s 15]
Prints a plain-text table (and JSON with --json). Needs Xvfb and dbus-daemon (as the tests).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from psoas_break.adapters.idle.mutter import MutterIdleSource  # noqa: E402
from psoas_break.adapters.idle.screensaver import ScreenSaverIdleSource  # noqa: E402
from psoas_break.adapters.idle.x11 import X11IdleSource  # noqa: E402
from tests.desktop import DesktopSession  # noqa: E402
from tests.desktop.proc_figures import context_switches  # noqa: E402

POLLS_PER_MIN_AT_15S = 4.0
CLK_TCK = os.sysconf("SC_CLK_TCK")


def _proc_cpu_s(pid: int) -> float:
    """utime + stime of process `pid` in seconds (clock-tick resolution)."""
    with open(f"/proc/{pid}/stat") as fh:
        fields = fh.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


@dataclass
class Compressed:
    source: str
    polls: int
    cpu_us_per_poll: float
    ctx_per_poll: float
    peer_cpu_us_per_poll: float
    cpu_ms_per_idle_min: float
    ctx_per_idle_min: float


@dataclass
class Window:
    source: str
    polls: int
    cpu_ms_per_idle_min: float
    ctx_per_idle_min: float
    cpu_ratio_to_floor: float | None
    ctx_ratio_to_floor: float | None


def _in_thread(body: Callable[[], dict[str, float]]) -> dict[str, float]:
    out: dict[str, float] = {}

    def run() -> None:
        out.update(body())

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    return out


def _children_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def compressed(
    name: str, poll: Callable[[], object], polls: int, peers: list[int] | None
) -> Compressed:
    """Poll back to back on a fresh thread; own-thread CPU/ctx and peers' CPU per poll.

    `peers` are the processes serving the call; None means "the children we spawn" (their
    CPU, from RUSAGE_CHILDREN, once they have been waited for).
    """

    def peer_cpu_s() -> float:
        if peers is None:
            return _children_cpu_s()
        return sum(_proc_cpu_s(p) for p in peers)

    def body() -> dict[str, float]:
        poll()  # warm up (first call may fault pages in)
        tid = threading.get_native_id()
        peer0 = peer_cpu_s()
        ctx0 = context_switches(tid)
        c0 = time.thread_time_ns()
        for _ in range(polls):
            poll()
        c1 = time.thread_time_ns()
        ctx1 = context_switches(tid)
        peer1 = peer_cpu_s()
        return {"cpu_ns": c1 - c0, "ctx": ctx1 - ctx0, "peer_s": peer1 - peer0}

    r = _in_thread(body)
    cpu_us = r["cpu_ns"] / 1000 / polls
    ctx = r["ctx"] / polls
    return Compressed(
        source=name, polls=polls, cpu_us_per_poll=round(cpu_us, 1), ctx_per_poll=round(ctx, 2),
        peer_cpu_us_per_poll=round(r["peer_s"] * 1e6 / polls, 1),
        cpu_ms_per_idle_min=round(cpu_us * POLLS_PER_MIN_AT_15S / 1000, 4),
        ctx_per_idle_min=round(ctx * POLLS_PER_MIN_AT_15S, 2),
    )


def window(
    pollers: dict[str, Callable[[], object] | None], window_s: float, interval_s: float
) -> list[Window]:
    """Every poller on its own thread on the real schedule; None is the sleeping floor."""
    results: dict[str, dict[str, float]] = {}
    start = threading.Barrier(len(pollers))

    def run(name: str, poll: Callable[[], object] | None) -> None:
        tid = threading.get_native_id()
        stop = threading.Event()
        start.wait()
        ctx0 = context_switches(tid)
        c0 = time.thread_time_ns()
        t_end = time.monotonic() + window_s
        polls = 0
        while True:
            if poll is not None:
                poll()
            polls += 1
            remaining = t_end - time.monotonic()
            if remaining <= 0:
                break
            stop.wait(min(interval_s, remaining))
        c1 = time.thread_time_ns()
        ctx1 = context_switches(tid)
        results[name] = {"cpu_ns": c1 - c0, "ctx": ctx1 - ctx0, "polls": polls}

    threads = [threading.Thread(target=run, args=(n, p)) for n, p in pollers.items()]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    per_min = 60.0 / window_s
    floor = results["floor"]
    out = []
    for name, r in results.items():
        cpu_ms = r["cpu_ns"] / 1e6 * per_min
        ctx = r["ctx"] * per_min
        floor_cpu = floor["cpu_ns"] / 1e6 * per_min
        floor_ctx = floor["ctx"] * per_min
        out.append(Window(
            source=name, polls=int(r["polls"]),
            cpu_ms_per_idle_min=round(cpu_ms, 4), ctx_per_idle_min=round(ctx, 2),
            cpu_ratio_to_floor=round(cpu_ms / floor_cpu, 1) if floor_cpu else None,
            ctx_ratio_to_floor=round(ctx / floor_ctx, 2) if floor_ctx else None,
        ))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--polls", type=int, default=2000)
    parser.add_argument("--window-s", type=float, default=60.0)
    parser.add_argument("--interval-s", type=float, default=15.0)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)

    with DesktopSession() as desktop:
        mutter = desktop.start_mutter_idle_monitor(idle_ms=60_000)
        saver = desktop.start_screensaver(flavor="kde", idle_ms=60_000)
        procs = {desktop._names.get(p.pid): p.pid for p in desktop._procs}  # noqa: SLF001
        xvfb_pid, session_bus_pid = procs["Xvfb"], procs["dbus-session"]
        sources = {
            "x11": X11IdleSource.open(desktop.display),
            "mutter": MutterIdleSource.open(desktop.env),
            "screensaver": ScreenSaverIdleSource.open(desktop.env),
        }
        peers = {
            "x11": [xvfb_pid],
            "mutter": [session_bus_pid, mutter.pid],
            "screensaver": [session_bus_pid, saver.pid],
        }
        try:
            rows = [
                compressed(name, src.idle_seconds, args.polls, peers[name])
                for name, src in sources.items()
            ]
            spawn_polls = max(20, args.polls // 20)
            rows.append(compressed(
                "spawn /bin/true", lambda: subprocess.run(["/bin/true"], check=True),
                spawn_polls, None,
            ))
            win: list[Window] = []
            if args.window_s > 0:
                pollers: dict[str, Callable[[], object] | None] = {"floor": None}
                pollers.update({n: s.idle_seconds for n, s in sources.items()})
                win = window(pollers, args.window_s, args.interval_s)
        finally:
            for src in sources.values():
                src.close()

    if args.json:
        print(json.dumps({"compressed": [asdict(r) for r in rows],
                          "window": [asdict(w) for w in win],
                          "window_s": args.window_s, "interval_s": args.interval_s}, indent=2))
        return 0
    print("Compressed: polls back to back; per idle minute = 4 polls (15 s interval)")
    print(f"{'source':<16}{'polls':>7}{'cpu µs/poll':>13}{'ctx/poll':>10}"
          f"{'peer cpu µs/poll':>18}{'cpu ms/idle min':>17}{'ctx/idle min':>14}")
    for r in rows:
        print(f"{r.source:<16}{r.polls:>7}{r.cpu_us_per_poll:>13}{r.ctx_per_poll:>10}"
              f"{r.peer_cpu_us_per_poll:>18}{r.cpu_ms_per_idle_min:>17}{r.ctx_per_idle_min:>14}")
    if win:
        print(f"\nReal schedule: {args.window_s:g} s window, a poll every {args.interval_s:g} s, "
              "own-thread figures per idle minute")
        print(f"{'thread':<16}{'polls':>7}{'cpu ms/min':>12}{'ctx/min':>10}"
              f"{'cpu × floor':>13}{'ctx × floor':>13}")
        for w in win:
            print(f"{w.source:<16}{w.polls:>7}{w.cpu_ms_per_idle_min:>12}{w.ctx_per_idle_min:>10}"
                  f"{str(w.cpu_ratio_to_floor):>13}{str(w.ctx_ratio_to_floor):>13}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
