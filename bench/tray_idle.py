"""Idle cost of the tray app against a bare pystray icon (the floor), measured in the same run.

Both run under one headless desktop (Xvfb, private session bus, StatusNotifierWatcher) with the
same backend (appindicator). Printed per process:
  - seconds from exec to registration with the StatusNotifierWatcher,
  - RSS and PSS after the idle window (from /proc/PID/smaps_rollup),
  - CPU seconds and context switches (voluntary + involuntary, all threads) over the window,
and the ratios app/floor. Run: .venv/bin/python bench/tray_idle.py [--window-s 60]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import textwrap
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.app_harness import app_env  # noqa: E402
from tests.desktop.session import DesktopSession  # noqa: E402

FLOOR_SCRIPT = textwrap.dedent(
    """
    import pystray
    from PIL import Image, ImageDraw
    img = Image.new("RGBA", (64, 64), (0, 0, 0, 0))
    ImageDraw.Draw(img).ellipse((4, 4, 60, 60), fill=(31, 161, 135, 255))
    icon = pystray.Icon("floor-icon", img, "floor", pystray.Menu(
        pystray.MenuItem("Quit", lambda icon, item: icon.stop())))
    icon.run()
    """
)


def thread_figures(pid: int) -> dict[str, tuple[float, int]]:
    """Per thread: (CPU seconds from schedstat, context switches)."""
    out: dict[str, tuple[float, int]] = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            run_ns = int(Path(f"/proc/{pid}/task/{tid}/schedstat").read_text().split()[0])
            switches = 0
            for line in Path(f"/proc/{pid}/task/{tid}/status").read_text().splitlines():
                if line.startswith(("voluntary_ctxt_switches", "nonvoluntary_ctxt_switches")):
                    switches += int(line.split()[1])
        except (FileNotFoundError, ProcessLookupError):
            continue  # a thread ended meanwhile
        out[tid] = (run_ns / 1e9, switches)
    return out


def memory_mib(pid: int) -> tuple[float, float]:
    rss_kb = pss_kb = 0
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
        if line.startswith("Rss:"):
            rss_kb = int(line.split()[1])
        elif line.startswith("Pss:"):
            pss_kb = int(line.split()[1])
    return rss_kb / 1024, pss_kb / 1024


def window_delta(
    before: dict[str, tuple[float, int]], after: dict[str, tuple[float, int]]
) -> tuple[float, int]:
    """CPU seconds and switches spent in the window (threads that ended count what we saw)."""
    cpu = 0.0
    switches = 0
    for tid, (cpu_a, sw_a) in after.items():
        cpu_b, sw_b = before.get(tid, (0.0, 0))
        cpu += cpu_a - cpu_b
        switches += sw_a - sw_b
    return cpu, switches


def wait_registered(desk: DesktopSession, item_id: str, timeout_s: float = 20) -> float:
    client = desk.tray()
    start = time.monotonic()
    client.wait_for_item(id=item_id, timeout_s=timeout_s)
    return time.monotonic() - start


def measure(window_s: float) -> dict[str, dict[str, float]]:
    results: dict[str, dict[str, float]] = {}
    with DesktopSession() as desk:
        desk.start_sni_watcher()
        # Warm the display once (the first GTK client maps Mesa/LLVM, see desktop-testing.md).
        warm = desk.spawn([sys.executable, "-c", "import gi; gi.require_version('Gtk','3.0');"
                           "from gi.repository import Gtk"], name="warm")
        warm.wait(30)
        home = Path(tempfile.mkdtemp(prefix="bench-", dir=desk.env["HOME"]))
        env = app_env(desk, home, {"PSOAS_SECONDS_PER_MINUTE": "60",
                                   "PSOAS_IDLE_BACKEND": "x11",
                                   "PYSTRAY_BACKEND": "appindicator"})
        started = time.monotonic()
        floor = desk.spawn([sys.executable, "-c", FLOOR_SCRIPT], env=env, name="floor")
        wait_registered(desk, "floor-icon")
        reg_floor = time.monotonic() - started
        started = time.monotonic()
        app = desk.spawn([sys.executable, "-m", "psoas_break", "run"], env=env, name="app")
        wait_registered(desk, "psoas-break")
        reg_app = time.monotonic() - started
        time.sleep(2.0)  # let start-up work settle before the idle window
        pids = {"floor": floor.pid, "app": app.pid}
        before = {name: thread_figures(pid) for name, pid in pids.items()}
        time.sleep(window_s)
        after = {name: thread_figures(pid) for name, pid in pids.items()}
        for name, reg in (("floor", reg_floor), ("app", reg_app)):
            cpu_s, switches = window_delta(before[name], after[name])
            rss, pss = memory_mib(pids[name])
            minutes = window_s / 60.0
            results[name] = {
                "register_s": reg,
                "rss_mib": rss,
                "pss_mib": pss,
                "cpu_s_per_min": cpu_s / minutes,
                "switches_per_min": switches / minutes,
                "threads": float(len(after[name])),
            }
        desk.stop(app)
        desk.stop(floor)
    return results


def ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}x" if b > 0 else "n/a"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--window-s", type=float, default=60.0)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    results = measure(args.window_s)
    if args.json:
        print(json.dumps(results, indent=2))
        return 0
    f, a = results["floor"], results["app"]
    for r in (f, a):
        r["cpu_ms_per_min"] = r["cpu_s_per_min"] * 1000
    print(f"idle window: {args.window_s:.0f} s, backend appindicator, idle source x11")
    print(f"{'measure':<28}{'floor (bare pystray)':>22}{'psoas-break':>14}{'ratio':>9}")
    rows = [
        ("exec to registration (s)", "register_s", "{:.2f}"),
        ("RSS (MiB)", "rss_mib", "{:.1f}"),
        ("PSS (MiB)", "pss_mib", "{:.1f}"),
        ("CPU per idle minute (ms)", "cpu_ms_per_min", "{:.2f}"),
        ("context switches / minute", "switches_per_min", "{:.0f}"),
        ("threads", "threads", "{:.0f}"),
    ]
    for label, key, fmt in rows:
        print(f"{label:<28}{fmt.format(f[key]):>22}{fmt.format(a[key]):>14}"
              f"{ratio(a[key], f[key]):>9}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
