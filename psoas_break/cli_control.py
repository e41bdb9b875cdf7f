"""Control commands for the running app: status, break-now, snooze, skip, pause, resume, quit.

Exit codes: 0 done, 1 the app refused or did not answer properly, 2 bad arguments (argparse,
one usage line and one error line), 3 the app is not running.

The app's reply may carry "message" (one line for the user); it is printed instead of the
default confirmation. `status --json` prints the reply as JSON for scripts.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime
from typing import Any

from psoas_break.control.client import ControlError, NotRunning, send
from psoas_break.control.protocol import (
    DURATION_HELP,
    MAX_SNOOZE_MIN,
    ProtocolError,
    format_duration,
    parse_duration,
)
from psoas_break.paths import AppPaths

COMMANDS = frozenset({"status", "break-now", "snooze", "skip", "pause", "resume", "quit"})
NOT_RUNNING_LINE = "psoas-break is not running (start it with `psoas-break`)"
EXIT_NOT_RUNNING = 3
DEFAULT_TIMEOUT_S = 5.0
RELOAD_TIMEOUT_S = 3.0


def _minutes(text: str) -> int:
    try:
        value = int(text.strip())
    except ValueError:
        value = 0
    if not 1 <= value <= MAX_SNOOZE_MIN:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not allowed: use a whole number of minutes from 1 to {MAX_SNOOZE_MIN}"
        )
    return value


def _duration(text: str) -> int | str:
    try:
        return parse_duration(text)
    except ProtocolError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def add_subcommands(subparsers: Any) -> None:
    """Add the control commands to the top-level `psoas-break` subparsers."""
    status = subparsers.add_parser("status", help="what the running app is doing")
    status.add_argument("--json", action="store_true", help="print the full status as JSON")
    subparsers.add_parser("break-now", help="start a break now")
    snooze = subparsers.add_parser("snooze", help="postpone the next stretch break")
    snooze.add_argument(
        "minutes", metavar="MINUTES", nargs="?", type=_minutes,
        help=f"1 to {MAX_SNOOZE_MIN} (default: the snooze_min setting)",
    )
    subparsers.add_parser("skip", help="skip this stretch break")
    pause = subparsers.add_parser("pause", help="pause reminders for a while")
    pause.add_argument("duration", metavar="DURATION", type=_duration, help=DURATION_HELP)
    subparsers.add_parser("resume", help="end a pause")
    subparsers.add_parser("quit", help="stop the running app")


def request_for(args: argparse.Namespace) -> dict[str, Any]:
    """The control request for parsed arguments of one of COMMANDS."""
    command = args.command
    if command == "snooze":
        return {"cmd": "snooze"} if args.minutes is None else {
            "cmd": "snooze", "minutes": args.minutes
        }
    if command == "pause":
        if args.duration == "tomorrow":
            return {"cmd": "pause", "until": "tomorrow"}
        return {"cmd": "pause", "seconds": args.duration}
    return {"cmd": command}


def run(args: argparse.Namespace, paths: AppPaths, timeout_s: float = DEFAULT_TIMEOUT_S) -> int:
    """Send the command to the running app and print the outcome. Returns the exit code."""
    request = request_for(args)
    try:
        reply = send(paths.control_socket, request, timeout_s=timeout_s)
    except NotRunning:
        print(NOT_RUNNING_LINE, file=sys.stderr)
        return EXIT_NOT_RUNNING
    except ControlError as exc:
        print(f"psoas-break: {exc}", file=sys.stderr)
        return 1
    if not reply["ok"]:
        print(f"psoas-break: {reply.get('error')}", file=sys.stderr)
        return 1
    if args.command == "status":
        if getattr(args, "json", False):
            print(json.dumps(reply, indent=2, sort_keys=True, ensure_ascii=False))
        else:
            print(format_status(reply))
        return 0
    message = reply.get("message")
    print(message if isinstance(message, str) and message else _confirmation(request))
    return 0


def notify_reload(paths: AppPaths, timeout_s: float = RELOAD_TIMEOUT_S) -> bool:
    """Ask a running app to re-read its settings. True if it confirmed.

    Nothing is printed when the app is not running; a running app that fails to confirm gets
    one warning line on stderr (the new value is saved either way and applies at next start).
    """
    try:
        reply = send(paths.control_socket, {"cmd": "reload-settings"}, timeout_s=timeout_s)
    except NotRunning:
        return False
    except ControlError as exc:
        print(f"psoas-break: saved, but the running app was not told: {exc}", file=sys.stderr)
        return False
    if not reply["ok"]:
        print(f"psoas-break: saved, but the running app did not reload: {reply.get('error')}",
              file=sys.stderr)
        return False
    return True


def _confirmation(request: dict[str, Any]) -> str:
    cmd = request["cmd"]
    if cmd == "snooze":
        minutes = request.get("minutes")
        return f"Snoozed for {minutes} min." if minutes else "Snoozed."
    if cmd == "pause":
        if request.get("until") == "tomorrow":
            return "Paused until tomorrow."
        return f"Paused for {format_duration(request['seconds'])}."
    return {
        "break-now": "Break started.",
        "skip": "Skipped this break.",
        "resume": "Reminders resumed.",
        "quit": "psoas-break is quitting.",
    }.get(cmd, "Done.")


def format_status(reply: dict[str, Any]) -> str:
    """The `status` reply as a few lines for a person. Tolerates missing fields."""
    lines: list[str] = []
    head = "psoas-break is running"
    facts = []
    if isinstance(reply.get("pid"), int):
        facts.append(f"pid {reply['pid']}")
    if reply.get("profile"):
        facts.append(f"profile {reply['profile']}")
    lines.append(f"{head} ({', '.join(facts)})" if facts else head)
    lines.append(_state_line(reply))
    today = reply.get("today")
    if isinstance(today, dict):
        lines.append(
            "Today: {taken} breaks taken, {snoozed} snoozed, {skipped} skipped, "
            "{natural} natural; {sit} sitting.".format(
                taken=today.get("breaks_taken", 0),
                snoozed=today.get("breaks_snoozed", 0),
                skipped=today.get("breaks_skipped", 0),
                natural=today.get("natural_breaks", 0),
                sit=format_duration(_num(today.get("sitting_s"))),
            )
        )
    backends = [f"{k} {reply[k]}" for k in ("tray", "notifier", "idle") if reply.get(k)]
    if backends:
        lines.append("Using: " + ", ".join(backends) + ".")
    return "\n".join(lines)


def _state_line(reply: dict[str, Any]) -> str:
    state = reply.get("state")
    sitting = format_duration(_num(reply.get("sitting_s")))
    nxt = reply.get("next_prompt")
    prefix = "Screen locked. " if reply.get("locked") else ""
    if state == "sitting":
        text = f"Sitting for {sitting}."
        if isinstance(nxt, dict):
            kind = "stretch break" if nxt.get("kind") == "stretch" else "posture change"
            text += f" Next: {kind} in {format_duration(_num(nxt.get('in_s')))}"
            text += " (snoozed)." if reply.get("snoozed") else "."
        return prefix + text
    if state == "prompt_due":
        return prefix + f"Stretch break due now (sitting for {sitting})."
    if state == "on_break":
        return prefix + f"On a break: {format_duration(_num(reply.get('break_left_s')))} left."
    if state == "paused":
        until = _local_time(reply.get("paused_until"))
        left = reply.get("pause_left_s")
        text = "Paused"
        if until:
            text += f" until {until}"
        if isinstance(left, int | float):
            text += f" ({format_duration(left)} left)"
        return prefix + text + "."
    if state == "away":
        return prefix + "Away: taking a natural break."
    return prefix + f"State: {state}."


def _local_time(iso: Any) -> str | None:
    if not isinstance(iso, str):
        return None
    try:
        when = datetime.fromisoformat(iso)
    except ValueError:
        return iso
    if when.tzinfo is None:
        return iso
    local = when.astimezone()
    now = datetime.now(local.tzinfo)
    if local.date() == now.date():
        return local.strftime("%H:%M")
    return local.strftime("%a %d %b %H:%M")


def _num(value: Any) -> float:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else 0.0
