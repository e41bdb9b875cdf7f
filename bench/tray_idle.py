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


def proc_figures(pid: int) -> dict[str, float]:
    """CPU seconds, context switches (all threads), RSS and PSS in MiB."""
    clk = os.sysconf("SC_CLK_TCK")
    cpu_s = 0.0
    switches = 0
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            stat = Path(f"/proc/{pid}/task/{tid}/stat").read_text()
            fields = stat.rsplit(")", 1)[1].split()
            cpu_s += (int(fields[11]) + int(fields[12])) / clk
            for line in Path(f"/proc/{pid}/task/{tid}/status").read_text().splitlines():
                if line.startswith(("voluntary_ctxt_switches", "nonvoluntary_ctxt_switches")):
                    switches += int(line.split()[1])
        except FileNotFoundError:
            continue  # a thread ended meanwhile
    rss_kb = pss_kb = 0
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
        if line.startswith("Rss:"):
            rss_kb = int(line.split()[1])
        elif line.startswith("Pss:"):
            pss_kb = int(line.split()[1])
    return {"cpu_s": cpu_s, "switches": switches, "rss_mib": rss_kb / 1024,
            "pss_mib": pss_kb / 1024}


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
        before = {"floor": proc_figures(floor.pid), "app": proc_figures(app.pid)}
        time.sleep(window_s)
        after = {"floor": proc_figures(floor.pid), "app": proc_figures(app.pid)}
        for name, reg in (("floor", reg_floor), ("app", reg_app)):
            a, b = after[name], before[name]
            minutes = window_s / 60.0
            results[name] = {
                "register_s": reg,
                "rss_mib": a["rss_mib"],
                "pss_mib": a["pss_mib"],
                "cpu_s_per_min": (a["cpu_s"] - b["cpu_s"]) / minutes,
                "switches_per_min": (a["switches"] - b["switches"]) / minutes,
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
    print(f"idle window: {args.window_s:.0f} s, backend appindicator, idle source x11")
    print(f"{'measure':<28}{'floor (bare pystray)':>22}{'psoas-break':>14}{'ratio':>9}")
    rows = [
        ("exec to registration (s)", "register_s", "{:.2f}"),
        ("RSS (MiB)", "rss_mib", "{:.1f}"),
        ("PSS (MiB)", "pss_mib", "{:.1f}"),
        ("CPU per idle minute (s)", "cpu_s_per_min", "{:.3f}"),
        ("context switches / minute", "switches_per_min", "{:.0f}"),
    ]
    for label, key, fmt in rows:
        print(f"{label:<28}{fmt.format(f[key]):>22}{fmt.format(a[key]):>14}"
              f"{ratio(a[key], f[key]):>9}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
