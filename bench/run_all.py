"""`make bench`: run every benchmark and write one Markdown table of the figures.

Each benchmark measures its own floor in the same run (a bare pystray icon, a timer, a raw
read of the same rows, a blank PNG) and this runner puts figure, floor and ratio side by side
in bench/out/RESULTS.md. They run one after the other (two cores: never in parallel).
Run: .venv/bin/python bench/run_all.py [--quick]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent


def run_json(script: str, *args: str) -> dict[str, Any]:
    print(f"running {script} {' '.join(args)}", file=sys.stderr, flush=True)
    done = subprocess.run([sys.executable, str(HERE / script), *args, "--json"],
                          capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{script} failed:\n{done.stderr[-2000:]}")
    return json.loads(done.stdout)  # type: ignore[no-any-return]


def ratio(value: float, floor: float) -> str:
    return f"{value / floor:.2f}x" if floor > 0 else "—"


def quiet_rows(quiet: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    """Quiet detectors (#18): a check of each next to the cheapest existing one (a glob that
    finds no camera); the watching detectors' idle wakeups (the others keep nothing running);
    the whole app with and without them, in the same window."""
    checks = quiet["check"]
    floor = checks["camera-v4l2 (no /dev/video*)"]["cpu_us"]
    rows = [(f"quiet check, {name} (µs CPU with the processes it runs; floor = camera-v4l2 "
             "without a device)", f"{floor:.1f}", f"{row['cpu_us'] + row['child_us']:.1f}",
             ratio(row["cpu_us"] + row["child_us"], floor))
            for name, row in checks.items() if not name.startswith("camera-v4l2 (no")]
    for label, threads in quiet["idle"].items():
        total = sum(row["switches_per_min"] for row in threads.values())
        rows.append((f"call/screen detectors' wakeups per idle minute, {label} "
                     "(pulse + graph threads + pw-dump; floor = the others: nothing runs)",
                     "0", f"{total:.1f}", "—"))
    apps = quiet["apps"]
    without, with_ = apps["without"], apps["with"]
    rows += [
        ("app wakeups per idle minute with the call/screen detectors (floor = without)",
         f"{without['switches_per_min']:.1f}", f"{with_['switches_per_min']:.1f}", "—"),
        ("app CPU per idle minute with them (ms; floor = without)",
         f"{without['cpu_ms_per_min']:.2f}", f"{with_['cpu_ms_per_min']:.2f}", "—"),
        ("app RSS with them (MiB; floor = without)", f"{without['rss_mib']:.1f}",
         f"{with_['rss_mib']:.1f}", ratio(with_["rss_mib"], without["rss_mib"])),
    ]
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="shorter windows, fewer runs")
    args = parser.parse_args()
    window = "20" if args.quick else "60"
    tray = run_json("tray_idle.py", "--idle-s", window, "--window-s", window)
    late = run_json("prompt_lateness.py", "--prompts", "4" if args.quick else "8")
    idle = run_json("idle_sources.py", "--window-s", window)
    wl = run_json("wayland_idle.py", "--window-s", window)
    hist = run_json("stats_bench.py", *(["--years", "2", "--runs", "5"] if args.quick else []))
    hostile = run_json("hostile_input.py", "--runs", "3" if args.quick else "7")
    quiet = run_json("quiet_detectors.py", "--window-s", window)
    road = run_json("road_bench.py", "--seconds", "5" if args.quick else "15")
    f, ai, wr, a = tray["floor"], tray["appindicator"], tray["workrave"], tray["app"]
    rows: list[tuple[str, str, str, str]] = [
        ("tray up after exec (s; floor = bare pystray appindicator icon)",
         f"{ai['tray_up_s']:.2f}", f"{a['tray_up_s']:.2f}", ratio(a["tray_up_s"], ai["tray_up_s"])),
        *((f"{kind} at rest (MiB; floor = python + jeepney + Pillow)", f"{f[key]:.1f}",
           f"{a[key]:.1f}", ratio(a[key], f[key]))
          for kind, key in (("RSS", "rss_mib"), ("PSS", "pss_mib"), ("USS", "uss_mib"))),
        ("RSS at rest (MiB; floor = bare pystray appindicator icon)", f"{ai['rss_mib']:.1f}",
         f"{a['rss_mib']:.1f}", ratio(a["rss_mib"], ai["rss_mib"])),
        ("RSS at rest (MiB; floor = Workrave)", f"{wr['rss_mib']:.1f}", f"{a['rss_mib']:.1f}",
         ratio(a["rss_mib"], wr["rss_mib"])),
        ("CPU per idle minute (ms; floor = Workrave)", f"{wr['cpu_ms_per_min']:.2f}",
         f"{a['cpu_ms_per_min']:.2f}", "—"),
        ("wakeups (context switches) per idle minute (floor = Workrave)",
         f"{wr['wakeups_per_min']:.0f}", f"{a['wakeups_per_min']:.0f}", "—"),
        ("prompt lateness, median (ms)", f"{late['floor_median_ms']:.1f}",
         f"{late['app_median_ms']:.1f}", "—"),
        ("prompt lateness, max (ms)", f"{late['floor_max_ms']:.1f}",
         f"{late['app_max_ms']:.1f}", "—"),
    ]
    by_name = {r["source"]: r for r in idle.get("compressed", [])}
    floor_poll = by_name.get("spawn /bin/true") or by_name.get("floor")
    for name in ("x11", "mutter", "screensaver"):
        row = by_name.get(name)
        if row is None:
            continue
        cpu_us = row.get("cpu_us_per_poll")
        floor_us = floor_poll.get("cpu_us_per_poll") if floor_poll else None
        rows.append((f"idle poll, {name} (µs CPU; floor = one subprocess)",
                     f"{floor_us:.1f}" if floor_us else "—", f"{cpu_us:.1f}",
                     ratio(cpu_us, floor_us) if floor_us else "—"))
    x11 = next((r for r in wl["rows"] if r["kind"] == "x11" and "skipped" not in r), None)
    for row in wl["rows"]:
        if row["kind"] == "x11" or x11 is None:
            continue
        if "skipped" in row:
            rows.append((f"app at rest on {row['kind']}", "—", "skipped", row["skipped"]))
            continue
        for key, label in (("cpu_ms_per_min", "CPU per idle minute (ms)"),
                           ("wakeups_per_min", "wakeups per idle minute")):
            rows.append((f"app at rest on {row['kind']} ({row['idle_source']}), {label}; "
                         "floor = the same on X11", f"{x11[key]:g}", f"{row[key]:g}",
                         ratio(row[key], x11[key])))
    rows += [
        (f"7-day stats over {hist['events']:,} events (ms)", f"{hist['floor_read_7d_ms']:.2f}",
         f"{hist['stats_7d_ms']:.2f}", ratio(hist["stats_7d_ms"], hist["floor_read_7d_ms"])),
        ("weekly chart, render + PNG (ms)", f"{hist['floor_png_ms']:.2f}",
         f"{hist['chart_ms']:.2f}", ratio(hist["chart_ms"], hist["floor_png_ms"])),
    ]
    settings_rows = hostile["settings"]
    normal = settings_rows[0]
    worst = max(settings_rows[1:], key=lambda r: r["ms"])
    rows.append((f"settings load, worst hostile file: {worst['case']} (ms; floor = normal file)",
                 f"{normal['ms']:.2f}", f"{worst['ms']:.2f}", ratio(worst["ms"], normal["ms"])))
    rows.append(("settings load, peak memory of the worst (KiB)", f"{normal['kib']:.0f}",
                 f"{max(r['kib'] for r in settings_rows):.0f}", "—"))
    cli_rows = hostile["cli"]
    cli_worst = max(cli_rows[1:], key=lambda r: r["ms"])
    rows.append((f"`config show`, worst hostile file: {cli_worst['case']} (ms)",
                 f"{cli_rows[0]['ms']:.0f}", f"{cli_worst['ms']:.0f}",
                 ratio(cli_worst["ms"], cli_rows[0]["ms"])))
    rows.append(("`config show`, peak RSS over the hostile files (MiB)",
                 f"{cli_rows[0]['rss_mib']:.1f}", f"{max(r['rss_mib'] for r in cli_rows):.1f}",
                 "—"))
    for row in [*hostile["history"], hostile["log"]]:
        rows.append((f"{row['case']} (ms)", f"{row['floor_ms']:.2f}", f"{row['ms']:.2f}",
                     ratio(row["ms"], row["floor_ms"])))
    rows += quiet_rows(quiet)
    wake, step = road["wakeups_per_hour"], road["step_us"]
    rows += [
        ("driving: engine wake-ups per hour from GPS (floor = every 1 Hz report)",
         f"{wake['floor']:.0f}", f"{wake['app']:.0f}", ratio(wake["app"], wake["floor"])),
        ("driving: engine step per RoadSample (µs; floor = a no-op command)",
         f"{step['floor']:.0f}", f"{step['app']:.0f}", ratio(step["app"], step["floor"])),
    ]
    reader = road.get("gpsd_us_per_report")
    if reader:
        rows.append(("gpsd reader CPU per report (µs; floor = bare socket + json)",
                     f"{reader['floor']:.0f}", f"{reader['app']:.0f}",
                     ratio(reader["app"], reader["floor"])))
    lines = [
        f"Run {time.strftime('%Y-%m-%d %H:%M %Z')}; floors measured in the same run "
        "(python + jeepney + Pillow, a bare pystray appindicator icon and Workrave on the same "
        "xfce4-panel; Event.wait timer; one /bin/true per poll; the app on X11 for the "
        "Wayland rows; raw row read; blank PNG; a normal settings file; the same history "
        "undamaged or inserted directly; the cheapest quiet check; the same app without the "
        "call/screen detectors).",
        "",
        "| measure | floor | psoas-break | ratio |",
        "|---|---|---|---|",
        *(f"| {m} | {fl} | {v} | {r} |" for m, fl, v, r in rows),
    ]
    table = "\n".join(lines)
    out_dir = HERE / "out"
    out_dir.mkdir(exist_ok=True)
    (out_dir / "RESULTS.md").write_text(table + "\n", encoding="utf-8")
    print(table)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
