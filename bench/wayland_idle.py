"""Benchmark: what an idle minute costs the real app on each desktop, measured in one run.

The app runs with real minutes (nothing is due in the window: the natural break is 5 minutes,
the stretch 30) and no tray, so the rows differ only in where idle time comes from:
- x11: Xvfb, XScreenSaver polled every 30 s while sitting (the X11 figure, the reference);
- mutter: real mutter 43, Mutter's idle watches (never polled);
- kwin: real kwin_wayland 5.27, ext-idle-notify-v1 (never polled), plus the KWin fullscreen
  script that calls the app only when the active window changes;
- sway: real sway 1.7, org_kde_kwin_idle and wlr-foreign-toplevel on one Wayland connection.
For each: CPU (schedstat, all threads) and wakeups (voluntary + involuntary context switches,
all threads) of the app process per idle minute, its thread count, and the CPU of the display
server itself (Xvfb or the compositor) over the same window, for context.

Usage (as root, like the compositor tests): .venv/bin/python bench/wayland_idle.py
[--window-s 60] [--kinds x11,mutter,kwin,sway] [--json]. A kind that cannot start here is
reported as skipped with the reason. Timings on a shared machine are noisy.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

from tests.app_harness import app_env  # noqa: E402
from tests.desktop import wayland  # noqa: E402
from tests.desktop.proc_figures import thread_figures, window_delta  # noqa: E402
from tests.desktop.session import DesktopSession  # noqa: E402
from tests.desktop.waiting import wait_for  # noqa: E402
from tests.wayland_app import DESKTOP_NAMES  # noqa: E402

KINDS = ("x11", "mutter", "kwin", "sway")
SETTLE_S = 3.0


def proc_cpu_s(pid: int) -> float:
    """utime + stime of a whole process (all threads), in seconds."""
    with open(f"/proc/{pid}/stat") as fh:
        fields = fh.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _app_env(desk: DesktopSession, comp: wayland.Compositor | None) -> dict[str, str]:
    home = Path(tempfile.mkdtemp(prefix="bench-", dir=desk.env["HOME"]))
    extra = {"PSOAS_SECONDS_PER_MINUTE": "60", "PSOAS_TRAY_BACKEND": "none"}
    if comp is None:
        extra["PSOAS_IDLE_BACKEND"] = "x11"
    else:
        extra.update(WAYLAND_DISPLAY=comp.socket, XDG_SESSION_TYPE="wayland",
                     XDG_CURRENT_DESKTOP=DESKTOP_NAMES[comp.kind], PSOAS_IDLE_BACKEND="")
    env = app_env(desk, home, extra)
    if comp is not None:
        env.pop("DISPLAY", None)
    return env


def _status(desk: DesktopSession, env: dict[str, str]) -> dict[str, Any] | None:
    import subprocess

    done = subprocess.run([sys.executable, "-m", "psoas_break", "status", "--json"], env=env,
                          capture_output=True, text=True, timeout=30, check=False)
    return json.loads(done.stdout) if done.returncode == 0 else None


def measure(kind: str, window_s: float) -> dict[str, Any]:
    with DesktopSession() as desk:
        comp_cm = None
        comp: wayland.Compositor | None = None
        if kind != "x11":
            why = wayland.available(kind)
            if why:
                return {"kind": kind, "skipped": why}
            comp_cm = wayland.compositor(kind, bus_address=desk.session_bus_address)
            comp = comp_cm.__enter__()
        try:
            env = _app_env(desk, comp)
            app = desk.spawn([sys.executable, "-m", "psoas_break", "run"], env=env, name="app",
                             unset=("DISPLAY",) if comp is not None else ())
            status = wait_for(lambda: _status(desk, env), 30, what="the app to answer")
            time.sleep(SETTLE_S)
            server_pid = comp.main.pid if comp is not None else next(
                p.pid for p in desk._procs if desk._names.get(p.pid) == "Xvfb")  # noqa: SLF001
            before, server0 = thread_figures(app.pid), proc_cpu_s(server_pid)
            t0 = time.monotonic()
            time.sleep(window_s)
            elapsed = time.monotonic() - t0
            after, server1 = thread_figures(app.pid), proc_cpu_s(server_pid)
            cpu_s, switches = window_delta(before, after)
            per_min = 60.0 / elapsed
            end = _status(desk, env) or {}
            desk.stop(app)
            return {
                "kind": kind, "idle_source": status["idle"], "state": end.get("state"),
                "cpu_ms_per_min": round(cpu_s * 1000 * per_min, 2),
                "wakeups_per_min": round(switches * per_min, 1),
                "threads": len(after),
                "server_cpu_ms_per_min": round((server1 - server0) * 1000 * per_min, 1),
                "window_s": round(elapsed, 1),
            }
        finally:
            if comp_cm is not None:
                comp_cm.__exit__(None, None, None)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--window-s", type=float, default=60.0)
    parser.add_argument("--kinds", default=",".join(KINDS))
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    rows = [measure(kind, args.window_s) for kind in args.kinds.split(",")]
    reference = next((r for r in rows if r["kind"] == "x11" and "skipped" not in r), None)
    for row in rows:
        if reference is not None and "skipped" not in row:
            for key in ("cpu_ms_per_min", "wakeups_per_min"):
                ref = reference[key]
                row[f"{key}_vs_x11"] = round(row[key] / ref, 2) if ref else None
    if args.json:
        print(json.dumps({"rows": rows, "window_s": args.window_s}, indent=2))
        return 0
    print(f"The app at rest, per idle minute ({args.window_s:g} s window, no tray)")
    print(f"{'desktop':<8}{'idle source':<13}{'CPU ms':>8}{'wakeups':>9}{'threads':>9}"
          f"{'× x11 CPU':>11}{'× x11 wakeups':>15}{'server CPU ms':>15}")
    for r in rows:
        if "skipped" in r:
            print(f"{r['kind']:<8}skipped: {r['skipped']}")
            continue
        print(f"{r['kind']:<8}{r['idle_source']:<13}{r['cpu_ms_per_min']:>8}"
              f"{r['wakeups_per_min']:>9}{r['threads']:>9}"
              f"{str(r.get('cpu_ms_per_min_vs_x11')):>11}"
              f"{str(r.get('wakeups_per_min_vs_x11')):>15}{r['server_cpu_ms_per_min']:>15}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
