"""Benchmark: what each quiet detector costs, the new call and screen-share ones (#18) next to
the existing ones, in one run on one headless desktop with a real PipeWire.

1. Per check: `reasons()` called back to back on a fresh thread; its CPU (CLOCK_THREAD_CPUTIME)
   per check, median and p95, and its context switches per check (the "wakeups" one check
   causes on the asking thread). Existing detectors: fullscreen-x11 (two X round trips under
   openbox), notifications-inhibited (one D-Bus call to the notification server),
   gnome-banners (one `gsettings get` process), camera-v4l2 with no /dev/video* and with one
   device path present (then every /proc/<pid>/fd is scanned), quiet-apps (a /proc scan).
   New: microphone-pulse, microphone-pipewire, screen-sharing-pipewire, camera-pipewire,
   which answer from a cache their own thread keeps up to date.
2. Idle, per detector that keeps something running: context switches and CPU per minute of
   the pulse listener thread, the graph reader thread and the pw-dump process, once with
   nothing happening and once during a call (pw-record running); each window starts 7 s after
   the last change (a new stream's negotiation and wireplumber's suspend of an idle source 5 s
   later are one-off events, not idle). The existing detectors keep nothing running: 0.
3. The whole app: the real psoas-break alone on the same desktop, once with every detector and
   once without the four new ones (PSOAS_QUIET_DETECTORS), one after the other: CPU and
   context switches per idle minute (all threads) and RSS.

Usage: .venv/bin/python bench/quiet_detectors.py [--window-s 60] [--json]
Timings come from a shared, busy 2-core machine: they are noisy; compare rows of one run.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.tray_idle import memory_mib  # noqa: E402
from psoas_break.adapters.quiet.camera import V4l2CameraDetector  # noqa: E402
from psoas_break.adapters.quiet.fullscreen_x11 import X11FullscreenDetector  # noqa: E402
from psoas_break.adapters.quiet.microphone_pulse import PulseMicrophoneDetector  # noqa: E402
from psoas_break.adapters.quiet.notifications_inhibited import (  # noqa: E402
    GnomeBannersDetector,
    NotificationsInhibitedDetector,
)
from psoas_break.adapters.quiet.pipewire import (  # noqa: E402
    PipeWireCameraDetector,
    PipeWireMicrophoneDetector,
    ScreenShareDetector,
)
from psoas_break.adapters.quiet.pipewire_graph import PipeWireGraph  # noqa: E402
from psoas_break.adapters.quiet.quiet_apps import QuietAppsDetector  # noqa: E402
from tests.app_harness import app_env  # noqa: E402
from tests.desktop import DesktopSession, wait_for  # noqa: E402
from tests.desktop.proc_figures import context_switches, thread_figures, window_delta  # noqa: E402

SETTLE_S = 7.0
EXISTING = "fullscreen-x11,notifications-inhibited,camera-v4l2,quiet-apps"


def _children_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def per_check(check: Callable[[], object], n: int) -> dict[str, float]:
    """CPU µs per check (median, p95) and context switches per check, on a fresh thread;
    `child_us`: CPU of the processes a check runs (gsettings), per check."""
    out: dict[str, float] = {}

    def run() -> None:
        check()  # warm up
        tid = threading.get_native_id()
        samples = []
        before = context_switches(tid)
        children = _children_cpu_s()
        for _ in range(n):
            t0 = time.thread_time_ns()
            check()
            samples.append((time.thread_time_ns() - t0) / 1000)
        after = context_switches(tid)
        samples.sort()
        out.update(cpu_us=round(statistics.median(samples), 1),
                   p95_us=round(samples[int(n * 0.95)], 1),
                   switches=round((after - before) / n, 2), checks=n,
                   child_us=round((_children_cpu_s() - children) * 1e6 / n, 1))

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    return out


def native_id(name: str) -> int:
    return next(t.native_id for t in threading.enumerate() if t.name == name
                and t.native_id is not None)


def idle_window(threads: dict[str, int], pw_dump: int, window_s: float) -> dict[str, Any]:
    """Switches and CPU per minute of the detector threads and pw-dump over `window_s`."""
    time.sleep(SETTLE_S)
    cpu_paths = {name: f"/proc/self/task/{tid}/schedstat" for name, tid in threads.items()}

    def cpu_s(path: str) -> float:
        return int(Path(path).read_text().split()[0]) / 1e9

    before = {n: context_switches(tid) for n, tid in threads.items()}
    cpu_before = {n: cpu_s(p) for n, p in cpu_paths.items()}
    dump_before = thread_figures(pw_dump)
    time.sleep(window_s)
    per_min = 60.0 / window_s
    out: dict[str, Any] = {}
    for name, tid in threads.items():
        out[name] = {"switches_per_min": round((context_switches(tid) - before[name]) * per_min,
                                               1),
                     "cpu_ms_per_min": round((cpu_s(cpu_paths[name]) - cpu_before[name])
                                             * 1000 * per_min, 3)}
    cpu, sw = window_delta(dump_before, thread_figures(pw_dump))
    out["pw-dump process"] = {"switches_per_min": round(sw * per_min, 1),
                              "cpu_ms_per_min": round(cpu * 1000 * per_min, 3)}
    return out


def apps_window(desk: DesktopSession, pw_env: dict[str, str], window_s: float
                ) -> dict[str, dict[str, float]]:
    """The real app alone on the desktop, once with every detector and once without the four
    new ones, one after the other (two apps side by side disturb each other's figures:
    measured, both then wake hundreds of times a minute)."""
    out: dict[str, dict[str, float]] = {}
    for label, extra in (("with", {}), ("without", {"PSOAS_QUIET_DETECTORS": EXISTING})):
        home = Path(tempfile.mkdtemp(prefix=f"bench-{label}-", dir=desk.env["HOME"]))
        env = app_env(desk, home, {**pw_env, "PSOAS_SECONDS_PER_MINUTE": "60",
                                   "PYSTRAY_BACKEND": "appindicator", **extra})
        proc = desk.spawn([sys.executable, "-m", "psoas_break", "run"], env=env,
                          name=f"app-{label}")
        desk.tray().wait_for_item(id="psoas-break", timeout_s=30)
        time.sleep(SETTLE_S)
        before = thread_figures(proc.pid)
        time.sleep(window_s)
        after = thread_figures(proc.pid)
        cpu, sw = window_delta(before, after)
        rss = memory_mib(proc.pid)["rss_mib"]
        out[label] = {"cpu_ms_per_min": round(cpu * 1000 * 60.0 / window_s, 2),
                      "switches_per_min": round(sw * 60.0 / window_s, 1),
                      "rss_mib": round(rss, 1), "threads": len(after)}
        desk.stop(proc)
        wait_for(lambda: not desk.tray().items(), what="the icon gone")
    return out


def measure(window_s: float) -> dict[str, Any]:
    out: dict[str, Any] = {"window_s": window_s}
    with DesktopSession() as desk:
        desk.start_sni_watcher()
        desk.start_notification_server()
        desk.start_openbox()
        window = desk.open_window()
        window.activate()
        pw = desk.start_pipewire()
        env = dict(desk.env)
        gnome_env = {**env, "XDG_CURRENT_DESKTOP": "GNOME"}
        with tempfile.NamedTemporaryFile(prefix="video") as device:
            graph = PipeWireGraph.open(env)
            detectors: dict[str, Any] = {
                "fullscreen-x11": X11FullscreenDetector.open(desk.display),
                "notifications-inhibited": NotificationsInhibitedDetector.open(env),
                "gnome-banners (one gsettings process)": GnomeBannersDetector.open(gnome_env),
                "camera-v4l2 (no /dev/video*)": V4l2CameraDetector("/nonexistent/video*"),
                "camera-v4l2 (a device: /proc fd scan)": V4l2CameraDetector(device.name),
                "quiet-apps (/proc scan)": QuietAppsDetector.open(["zoom", "teams"]),
                "microphone-pulse": PulseMicrophoneDetector.open(
                    server=pw.client_env["PULSE_SERVER"]),
                "microphone-pipewire": PipeWireMicrophoneDetector(graph),
                "screen-sharing-pipewire": ScreenShareDetector(graph),
                "camera-pipewire": PipeWireCameraDetector(graph),
            }
            try:
                out["procs_scanned"] = sum(1 for p in Path("/proc").iterdir()
                                           if p.name.isdigit())
                out["check"] = {}
                for name, detector in detectors.items():
                    n = 50 if "gsettings" in name else 300 if "scan" in name else 2000
                    out["check"][name] = per_check(detector.reasons, n)
                threads = {"pulse listener thread": native_id("psoas-pulse-microphone"),
                           "graph reader thread": native_id("psoas-pipewire-graph")}
                out["idle"] = {"nothing happening": idle_window(threads, graph.pid or 0,
                                                                window_s)}
                # A call of another program (not our child: the app's own never count).
                rec = desk.spawn(["sh", "-c", "pw-record /dev/null >/dev/null 2>&1 &"],
                                 name="call")
                wait_for(lambda: detectors["microphone-pulse"].reasons() == ("microphone",),
                         what="in a call")
                out["idle"]["during a call"] = idle_window(threads, graph.pid or 0, window_s)
                desk.stop(rec)
            finally:
                for detector in detectors.values():
                    detector.close()
        out["apps"] = apps_window(desk, pw.client_env, window_s)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--window-s", type=float, default=60.0)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    result = measure(args.window_s)
    if args.json:
        print(json.dumps(result, indent=1))
        return 0
    print(f"per check (reasons(), {result['procs_scanned']} processes on the machine)")
    print(f"{'detector':<42}{'µs CPU':>9}{'p95':>9}{'switches':>10}{'child µs':>10}")
    for name, row in result["check"].items():
        print(f"{name:<42}{row['cpu_us']:>9.1f}{row['p95_us']:>9.1f}{row['switches']:>10.2f}"
              f"{row['child_us']:>10.1f}")
    for label, rows in result["idle"].items():
        print(f"idle, {label} (per minute; existing detectors keep nothing running: 0)")
        for name, row in rows.items():
            print(f"  {name:<30}{row['switches_per_min']:>8.1f} switches"
                  f"{row['cpu_ms_per_min']:>10.3f} ms CPU")
    print("the whole app alone, with and without the new detectors (per idle minute)")
    for label, row in result["apps"].items():
        print(f"  {label + ' the new detectors':<30}{row['switches_per_min']:>8.1f} switches"
              f"{row['cpu_ms_per_min']:>10.2f} ms CPU{row['rss_mib']:>8.1f} MiB RSS"
              f"{row['threads']:>4} threads")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
