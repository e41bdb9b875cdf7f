"""How late a prompt reaches the notification server after it is due, against a timer floor.

The app runs under a headless desktop with a recording notification server and one "minute" of
one second, so a stretch prompt is due 10 s after start and repeats every snooze_min (2 s).
For each prompt: due time = the app's clock in `status --json` plus next_prompt.in_s (both on
CLOCK_BOOTTIME, which this process reads too); arrival = when the Notify call shows up in the
server's record (polled every 2 ms). Floor, in the same run: a thread that sleeps with
Event.wait until the same kind of deadline and notes how late it wakes.
Run: .venv/bin/python bench/prompt_lateness.py
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.app_harness import start_app  # noqa: E402
from tests.desktop.notifications import is_stretch_prompt  # noqa: E402
from tests.desktop.session import DesktopSession  # noqa: E402


def floor_lateness_ms(samples: int, delay_s: float) -> list[float]:
    out = []
    event = threading.Event()
    for _ in range(samples):
        due = time.monotonic() + delay_s
        event.wait(max(0.0, due - time.monotonic()))
        out.append((time.monotonic() - due) * 1000)
    return out


def app_lateness_ms(prompts: int) -> list[float]:
    late: list[float] = []
    with DesktopSession() as desk:
        desk.start_sni_watcher()
        server = desk.start_notification_server()
        app = start_app(desk, config="stretch_every_min = 10\nposture_every_min = 0\n"
                                     "snooze_min = 2\nmax_snoozes = 10\n",
                        extra_env={"PSOAS_SECONDS_PER_MINUTE": "1"})
        seen = 0
        try:
            for _ in range(prompts):
                out = subprocess.run(
                    [sys.executable, "-m", "psoas_break", "status", "--json"], env=app.env,
                    capture_output=True, text=True, timeout=30, check=True)
                data = json.loads(out.stdout)
                # The app's snapshot carries its own clock (CLOCK_BOOTTIME, scaled like every
                # engine second by time_scale): the exact due time in real seconds.
                due = (float(data["mono_s"]) + float(data["next_prompt"]["in_s"])) / float(
                    data["time_scale"])
                while len([c for c in server.calls() if is_stretch_prompt(c)]) <= seen:
                    time.sleep(0.002)
                arrived = time.clock_gettime(time.CLOCK_BOOTTIME)
                seen += 1
                late.append((arrived - due) * 1000)
        finally:
            app.stop()
    return late


def describe(values: list[float]) -> str:
    return (f"median {statistics.median(values):6.1f} ms, max {max(values):6.1f} ms "
            f"(n={len(values)})")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--prompts", type=int, default=6)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    app = app_lateness_ms(args.prompts)
    floor = floor_lateness_ms(args.prompts, 2.0)
    if args.json:
        print(json.dumps({"app_median_ms": statistics.median(app), "app_max_ms": max(app),
                          "floor_median_ms": statistics.median(floor),
                          "floor_max_ms": max(floor), "n": len(app)}))
        return 0
    print(f"timer floor (Event.wait to a deadline): {describe(floor)}")
    print(f"prompt due -> notification received:     {describe(app)}")
    print("(the app's figure includes the notification's D-Bus trip and the 2 ms polling of "
          "the server's record)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
