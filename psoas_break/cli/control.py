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
import time
from datetime import datetime
from typing import Any

from psoas_break.adapters.control import diagnose, send_control, starting
from psoas_break.adapters.control.client import NotRunning
from psoas_break.adapters.control.protocol import (
    DURATION_HELP,
    MAX_SNOOZE_MIN,
    ProtocolError,
    format_duration,
    parse_duration,
    parse_minutes,
    parse_request,
    request_of,
)
from psoas_break.adapters.files.paths import AppPaths
from psoas_break.core.commands import Command, Pause, PauseUntilTomorrow, Snooze
from psoas_break.core.i18n import N_, _, localized
from psoas_break.core.plain_text import one_line
from psoas_break.ports import AdapterError

COMMANDS = frozenset({"status", "break-now", "snooze", "skip", "pause", "resume", "quit"})
NOT_RUNNING_LINE = N_("psoas-break is not running (start it with `psoas-break`)")
EXIT_NOT_RUNNING = 3
DEFAULT_TIMEOUT_S = 5.0
# An app that is starting (its lock held, no control socket yet) gets this long to listen
# (measured: 0.15 s after its icon on an idle machine; much more on a loaded one).
STARTING_WAIT_S = 10.0
RELOAD_TIMEOUT_S = 3.0


def _minutes(text: str) -> int:
    value = parse_minutes(text)  # digits of any script, as `pause` reads them
    if value is None or not 1 <= value <= MAX_SNOOZE_MIN:
        raise argparse.ArgumentTypeError(
            _("{value} is not allowed: use a whole number of minutes from 1 to {maximum}",
              value=one_line(repr(text), 60), maximum=MAX_SNOOZE_MIN)
        )
    return value


def _duration(text: str) -> int | str:
    try:
        return parse_duration(text)
    except ProtocolError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def add_subcommands(subparsers: Any) -> None:
    """Add the control commands to the top-level `psoas-break` subparsers."""
    status = subparsers.add_parser("status", help=_("what the running app is doing"))
    status.add_argument("--json", action="store_true", help=_("print the full status as JSON"))
    subparsers.add_parser("break-now", help=_("start a break now"))
    snooze = subparsers.add_parser("snooze", help=_("postpone the next stretch break"))
    snooze.add_argument(
        "minutes", metavar="MINUTES", nargs="?", type=_minutes,
        help=_("1 to {maximum} (default: the snooze_min setting)", maximum=MAX_SNOOZE_MIN),
    )
    subparsers.add_parser("skip", help=_("skip this stretch break"))
    pause = subparsers.add_parser("pause", help=_("pause reminders for a while"))
    pause.add_argument("duration", metavar="DURATION", type=_duration, help=DURATION_HELP)
    subparsers.add_parser("resume", help=_("end a pause"))
    subparsers.add_parser("quit", help=_("stop the running app"))


def command_for(args: argparse.Namespace) -> Command:
    """The Command parsed arguments of one of COMMANDS stand for (seconds, as everywhere)."""
    if args.command == "snooze":
        return Snooze(None if args.minutes is None else args.minutes * 60.0)
    if args.command == "pause":
        if args.duration == "tomorrow":
            return PauseUntilTomorrow()
        return Pause(float(args.duration))
    return parse_request({"cmd": args.command})


def request_for(args: argparse.Namespace) -> dict[str, Any]:
    """The control request (JSON object) for parsed arguments of one of COMMANDS."""
    return request_of(command_for(args))


def run(args: argparse.Namespace, paths: AppPaths, timeout_s: float = DEFAULT_TIMEOUT_S) -> int:
    """Send the command to the running app and print the outcome. Returns the exit code."""
    request = request_for(args)
    try:
        reply = _send_when_up(paths, request, timeout_s)
    except NotRunning:
        problem = diagnose(paths)
        if problem is not None:  # an app runs (it holds the lock) but cannot be reached
            print(f"psoas-break: {one_line(problem)}", file=sys.stderr)
            return 1
        print(localized(NOT_RUNNING_LINE), file=sys.stderr)
        return EXIT_NOT_RUNNING
    except AdapterError as exc:
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
    # The app sends its notices in English; the ones without numbers are looked up here.
    print(_(message) if isinstance(message, str) and message else _confirmation(request))
    return 0


def _send_when_up(paths: AppPaths, request: dict[str, Any], timeout_s: float) -> dict[str, Any]:
    """send_control, waiting up to STARTING_WAIT_S while the app is still starting."""
    deadline_s = time.monotonic() + STARTING_WAIT_S
    while True:
        try:
            return send_control(paths, request, timeout_s=timeout_s)
        except NotRunning:
            if time.monotonic() >= deadline_s or not starting(paths):
                raise
            time.sleep(0.05)


def notify_reload(paths: AppPaths, timeout_s: float = RELOAD_TIMEOUT_S) -> bool:
    """Ask a running app to re-read its settings. True if it confirmed.

    Nothing is printed when the app is not running; a running app that fails to confirm gets
    one warning line on stderr (the new value is saved either way and applies at next start).
    """
    try:
        reply = send_control(paths, {"cmd": "reload-settings"}, timeout_s=timeout_s)
    except NotRunning:
        return False
    except AdapterError as exc:
        print(_("psoas-break: saved, but the running app was not told: {error}", error=exc),
              file=sys.stderr)
        return False
    if not reply["ok"]:
        print(_("psoas-break: saved, but the running app did not reload: {error}",
                error=reply.get("error")), file=sys.stderr)
        return False
    return True


def _confirmation(request: dict[str, Any]) -> str:
    cmd = request["cmd"]
    if cmd == "snooze":
        minutes = request.get("minutes")
        return _("Snoozed for {minutes} min.", minutes=minutes) if minutes else _("Snoozed.")
    if cmd == "pause":
        if request.get("until") == "tomorrow":
            return _("Paused until tomorrow.")
        return _("Paused for {duration}.", duration=format_duration(request["seconds"]))
    if cmd == "break-now":
        return _("Break started.")
    if cmd == "skip":
        return _("Skipped this break.")
    if cmd == "resume":
        return _("Reminders resumed.")
    if cmd == "quit":
        return _("psoas-break is quitting.")
    return _("Done.")


def format_status(reply: dict[str, Any]) -> str:
    """The `status` reply as a few lines for a person. Tolerates missing fields."""
    lines: list[str] = []
    head = _("psoas-break is running")
    facts = []
    if isinstance(reply.get("pid"), int):
        facts.append(_("pid {pid}", pid=reply["pid"]))
    if reply.get("profile"):
        facts.append(_("profile {profile}", profile=reply["profile"]))
    lines.append(f"{head} ({', '.join(facts)})" if facts else head)
    lines.append(_state_line(reply))
    today = reply.get("today")
    if isinstance(today, dict):
        lines.append(
            _("Today: {taken} breaks taken, {snoozed} snoozed, {skipped} skipped, "
              "{natural} natural; {sit} sitting.",
                taken=today.get("breaks_taken", 0),
                snoozed=today.get("breaks_snoozed", 0),
                skipped=today.get("breaks_skipped", 0),
                natural=today.get("natural_breaks", 0),
                sit=format_duration(_num(today.get("sitting_s"))),
            )
        )
    road = reply.get("road")
    if isinstance(road, dict) and road.get("source"):
        lines.append(_("Road: {state}, seen by {source}.", state=road.get("state"),
                       source=road.get("source")))
    backends = [f"{k} {reply[k]}" for k in ("tray", "notifier", "idle") if reply.get(k)]
    if backends:
        lines.append(_("Using: {backends}.", backends=", ".join(backends)))
    return "\n".join(lines)


def _state_line(reply: dict[str, Any]) -> str:
    state = reply.get("state")
    sitting = format_duration(_num(reply.get("sitting_s")))
    nxt = reply.get("next_prompt")
    prefix = _("Screen locked.") + " " if reply.get("locked") else ""
    if state == "sitting":
        text = _("Sitting for {duration}.", duration=sitting)
        if isinstance(nxt, dict):
            in_text = format_duration(_num(nxt.get("in_s")))
            snoozed = bool(reply.get("snoozed"))
            if nxt.get("kind") == "stretch":
                text += " " + (
                    _("Next: stretch break in {duration} (snoozed).", duration=in_text)
                    if snoozed else _("Next: stretch break in {duration}.", duration=in_text)
                )
            else:
                text += " " + (
                    _("Next: posture change in {duration} (snoozed).", duration=in_text)
                    if snoozed else _("Next: posture change in {duration}.", duration=in_text)
                )
        return prefix + text
    if state == "prompt_due":
        return prefix + _("Stretch break due now (sitting for {duration}).", duration=sitting)
    if state == "on_break":
        return prefix + _("On a break: {duration} left.",
                          duration=format_duration(_num(reply.get("break_left_s"))))
    if state == "paused":
        until = _local_time(reply.get("paused_until"))
        left = reply.get("pause_left_s")
        has_left = isinstance(left, int | float)
        left_text = format_duration(left) if isinstance(left, int | float) else ""
        if until and has_left:
            text = _("Paused until {when} ({duration} left).", when=until, duration=left_text)
        elif until:
            text = _("Paused until {when}.", when=until)
        elif has_left:
            text = _("Paused ({duration} left).", duration=left_text)
        else:
            text = _("Paused.")
        return prefix + text
    if state == "away":
        return prefix + _("Away: taking a natural break.")
    return prefix + _("State: {state}.", state=state)


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
