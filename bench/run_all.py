"""`make bench`: run every benchmark in turn and collect what each printed into one report.

Each benchmark measures its own floor in the same run and prints figures and ratios; this
runner only sequences them (they share two cores, so never in parallel) and writes
bench/out/RESULTS.md. Run: .venv/bin/python bench/run_all.py [--quick]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="shorter windows, fewer runs")
    args = parser.parse_args()
    window = "20" if args.quick else "60"
    runs: list[tuple[str, list[str]]] = [
        ("Tray app at idle vs a bare pystray icon",
         [str(HERE / "tray_idle.py"), "--window-s", window]),
        ("Prompt lateness: due time to notification received",
         [str(HERE / "prompt_lateness.py"), "--prompts", "4" if args.quick else "8"]),
        ("Idle sources: cost per poll and per idle minute",
         [str(HERE / "idle_sources.py"), "--window-s", window]),
        ("History: ten years of events, 7-day stats and chart",
         [str(HERE / "stats_bench.py"), *(["--years", "2", "--runs", "3"] if args.quick else [])]),
    ]
    out_dir = HERE / "out"
    out_dir.mkdir(exist_ok=True)
    sections = [f"# psoas-break benchmarks\n\nRun {time.strftime('%Y-%m-%d %H:%M %Z')} on "
                f"this machine; each figure has its floor from the same run.\n"]
    failed = 0
    for title, argv in runs:
        print(f"== {title}", flush=True)
        done = subprocess.run([sys.executable, *argv], capture_output=True, text=True,
                              check=False)
        text = done.stdout.strip() or done.stderr.strip()
        print(text, flush=True)
        if done.returncode != 0:
            failed += 1
            text += f"\n(exit code {done.returncode})"
        sections.append(f"## {title}\n\n```\n{text}\n```\n")
    report = out_dir / "RESULTS.md"
    report.write_text("\n".join(sections), encoding="utf-8")
    print(f"written: {report}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
