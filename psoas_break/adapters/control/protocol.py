"""The control channel's language: one JSON request line in, one JSON reply line out.

Pure: stdlib and `psoas_break.core` only, so it can be tested without sockets.

Requests (one per connection, UTF-8 JSON object on one line, at most MAX_REQUEST_BYTES):

    {"cmd": "status"}
    {"cmd": "break-now"}                     start a break now
    {"cmd": "end-break"}                     end a running break early
    {"cmd": "snooze"}  /  {"cmd": "snooze", "minutes": 10}      1..MAX_SNOOZE_MIN
    {"cmd": "skip"}
    {"cmd": "pause", "seconds": 1800}        MIN_PAUSE_S..MAX_PAUSE_S
    {"cmd": "pause", "until": "tomorrow"}
    {"cmd": "resume"}
    {"cmd": "reload-settings"}               re-read the settings file(s)
    {"cmd": "quit"}

Replies (one line):

    {"ok": true, ...fields}                  e.g. "message": one line for the user
    {"ok": false, "error": "one line"}

This module is the one place where JSON meets the app's Commands: `parse_request` turns raw
bytes/text/objects into the `Command` a request stands for (durations in seconds, as
everywhere inside: snooze minutes become `Snooze(seconds)`) or raises `ProtocolError`, whose
str() is one line naming what was wrong and what is allowed. `reply_for` turns the engine
thread's `Outcome` into the reply; `status_payload` builds the documented `status` fields.
`parse_duration` is the CLI's reading of `pause DURATION`.
"""

from __future__ import annotations

import json
import logging
import math
import re
import unicodedata
from collections.abc import Callable
from datetime import datetime
from typing import Any

from psoas_break.core.commands import (
    Command,
    EndBreak,
    GetStatus,
    Outcome,
    Pause,
    PauseUntilTomorrow,
    Quit,
    ReloadSettings,
    Resume,
    Skip,
    Snooze,
    StatusReport,
    TakeBreak,
)
from psoas_break.core.errors import InputError
from psoas_break.core.plain_text import one_line

log = logging.getLogger(__name__)

MAX_REQUEST_BYTES = 4096
MAX_REPLY_BYTES = 64 * 1024
MIN_PAUSE_S = 60
MAX_PAUSE_S = 24 * 3600
MAX_SNOOZE_MIN = 120

COMMANDS: dict[str, tuple[str, ...]] = {
    # command -> the optional fields it accepts
    "status": (),
    "break-now": (),
    "end-break": (),
    "snooze": ("minutes",),
    "skip": (),
    "pause": ("seconds", "until"),
    "resume": (),
    "reload-settings": (),
    "quit": (),
}

DURATION_HELP = (
    "use minutes (45), 30m, 1h30m, 2h, 90s or tomorrow, from 1 minute to 24 hours"
)


# A request, reply or duration that is not allowed; str() is one line for the user.
ProtocolError = InputError


# ---- requests ----


# The requests without fields, and the Command each stands for.
_SIMPLE: dict[str, Command] = {
    "status": GetStatus(),
    "break-now": TakeBreak(),
    "end-break": EndBreak(),
    "skip": Skip(),
    "resume": Resume(),
    "reload-settings": ReloadSettings(),
    "quit": Quit(),
}


def parse_request(raw: bytes | str | Any) -> Command:
    """Validate one request and return the Command it stands for; raises ProtocolError.

    `raw` is the bytes of one line (without or with its newline), its text, or an already
    decoded JSON value.
    """
    if isinstance(raw, bytes | bytearray):
        if len(raw) > MAX_REQUEST_BYTES:
            raise ProtocolError(f"request too large: at most {MAX_REQUEST_BYTES} bytes")
        try:
            raw = bytes(raw).decode("utf-8")
        except UnicodeDecodeError:
            raise ProtocolError("request is not UTF-8 text") from None
    if isinstance(raw, str):
        try:
            obj = json.loads(raw)
        except (ValueError, RecursionError):
            raise ProtocolError('request is not valid JSON; send e.g. {"cmd": "status"}') from None
    else:
        obj = raw
    if not isinstance(obj, dict):
        raise ProtocolError('request must be a JSON object such as {"cmd": "status"}')
    cmd = obj.get("cmd")
    if not isinstance(cmd, str) or cmd not in COMMANDS:
        shown = _short(cmd)
        raise ProtocolError(f"unknown command {shown}; known commands: {', '.join(COMMANDS)}")
    allowed = COMMANDS[cmd]
    extra = sorted(str(k) for k in obj if k != "cmd" and k not in allowed)
    if extra:
        what = f"fields: {', '.join(allowed)}" if allowed else "no other fields"
        raise ProtocolError(f"unknown field {_short(extra[0])} for {cmd!r}; it takes {what}")
    if cmd == "snooze":
        return _parse_snooze(obj)
    if cmd == "pause":
        return _parse_pause(obj)
    return _SIMPLE[cmd]


def _parse_snooze(obj: dict[str, Any]) -> Snooze:
    if "minutes" not in obj or obj["minutes"] is None:
        return Snooze()
    minutes = obj["minutes"]
    if not _is_int(minutes) or not 1 <= minutes <= MAX_SNOOZE_MIN:
        raise ProtocolError(
            f"snooze minutes {_short(minutes)} is not allowed: "
            f"use a whole number from 1 to {MAX_SNOOZE_MIN}"
        )
    return Snooze(int(minutes) * 60.0)


def _parse_pause(obj: dict[str, Any]) -> Pause | PauseUntilTomorrow:
    has_seconds = "seconds" in obj
    has_until = "until" in obj
    if has_seconds == has_until:
        raise ProtocolError('pause takes exactly one of "seconds" or "until": "tomorrow"')
    if has_until:
        if obj["until"] != "tomorrow":
            raise ProtocolError(
                f'pause until {_short(obj["until"])} is not allowed: use "tomorrow"'
            )
        return PauseUntilTomorrow()
    seconds = obj["seconds"]
    # A range check, not math.isfinite: NaN and infinities fail it, and a huge int would make
    # isfinite raise OverflowError.
    if not _is_number(seconds) or not MIN_PAUSE_S <= seconds <= MAX_PAUSE_S:
        raise ProtocolError(
            f"pause seconds {_short(seconds)} is not allowed: "
            f"use a number from {MIN_PAUSE_S} to {MAX_PAUSE_S} (1 minute to 24 hours)"
        )
    return Pause(float(seconds))


def request_of(command: Command) -> dict[str, Any]:
    """The request a client sends for `command` (the inverse of `parse_request`); raises
    ProtocolError for a command the control channel does not carry."""
    for name, simple in _SIMPLE.items():
        if command == simple:
            return {"cmd": name}
    if isinstance(command, Snooze):
        if command.seconds is None:
            return {"cmd": "snooze"}
        return {"cmd": "snooze", "minutes": _whole(command.seconds / 60.0)}
    if isinstance(command, PauseUntilTomorrow):
        return {"cmd": "pause", "until": "tomorrow"}
    if isinstance(command, Pause):
        return {"cmd": "pause", "seconds": _whole(command.seconds)}
    raise ProtocolError(f"{type(command).__name__} is not sent over the control channel")


def _whole(value: float) -> int | float:
    return int(value) if float(value).is_integer() else value


# ---- replies ----


def answer_request(
    data: bytes, handler: Callable[[Command], dict[str, Any]]
) -> dict[str, Any]:
    """The reply to one raw request line: parse it, run `handler`, and turn a bad request, a
    handler that raises or a malformed reply into a one-line error reply. Never raises.
    Shared by every control channel (Unix socket, named pipe)."""
    try:
        request = parse_request(data)
    except ProtocolError as exc:
        return error_reply(str(exc))
    try:
        reply = handler(request)
    except Exception:
        log.exception("control server: the handler failed on %r", request)
        return error_reply("internal error in psoas-break (details are in its log)")
    if not isinstance(reply, dict) or not isinstance(reply.get("ok"), bool):
        log.error("control server: the handler returned %r for %r", reply, request)
        return error_reply("internal error in psoas-break (bad reply)")
    return reply


def command_handler(
    call: Callable[[Command, float], Outcome], timeout_s: float = 2.0
) -> Callable[[Command], dict[str, Any]]:
    """The control servers' handler: hand the command to the engine thread (`Inbox.call`)
    and turn its answer into the reply; runs on a server thread."""

    def handle(command: Command) -> dict[str, Any]:
        try:
            outcome = call(command, timeout_s)
        except TimeoutError:
            return error_reply("psoas-break is busy; try again")
        return reply_for(outcome)

    return handle


def reply_for(outcome: Outcome) -> dict[str, Any]:
    """The reply for the engine thread's answer: the status fields, or the first notice as
    "message" (one line for the user)."""
    if outcome.report is not None:
        return ok_reply(**status_payload(outcome.report))
    notices = [n for n in outcome.notices if n]
    return ok_reply(message=notices[0]) if notices else ok_reply()


def ok_reply(**fields: Any) -> dict[str, Any]:
    """A success reply carrying `fields` (JSON-serialisable)."""
    return {"ok": True, **fields}


def error_reply(message: str) -> dict[str, Any]:
    """A failure reply; the message is flattened to one line."""
    return {"ok": False, "error": " ".join(str(message).split()) or "error"}


def encode(message: dict[str, Any]) -> bytes:
    """One JSON line (UTF-8, newline-terminated). Raises ProtocolError if not serialisable."""
    try:
        text = json.dumps(message, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise ProtocolError(f"message is not serialisable as JSON: {exc}") from None
    return text.encode("utf-8") + b"\n"


def parse_reply(raw: bytes) -> dict[str, Any]:
    """Decode one reply line; raises ProtocolError unless it is an object with a boolean ok."""
    try:
        obj = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise ProtocolError("the app sent a reply that is not valid JSON") from None
    if not isinstance(obj, dict) or not isinstance(obj.get("ok"), bool):
        raise ProtocolError('the app sent a reply without "ok"')
    if obj["ok"] is False and not isinstance(obj.get("error"), str):
        obj["error"] = "the app reported an error without a message"
    return obj


def status_payload(report: StatusReport) -> dict[str, Any]:
    """The documented `status` reply fields.

    Fields: state, profile, sitting_s, next_prompt {kind, in_s} | null, paused_until (ISO 8601
    aware wall time) | null, pause_left_s | null, break_left_s | null, snoozed, snoozes_in_row,
    locked, today {...the day's figures, as `psoas-break stats` has them}, tray, notifier,
    idle, pid, version, text (the status line), driving (the driver profile's line) | null,
    road {detect, source (the location source in use), state (driving, stopped, unknown or
    manual), phase, driving_s, day_driving_s, stop_s | null (the break planner's figures)}
    | null (the driver profile only),
    mono_s (the engine's clock at this snapshot, so a script can turn in_s into a time) and
    time_scale (engine seconds per real second: 1 unless a test shortened the minute).
    """
    status, today = report.status, report.today
    nxt = status.next_prompt
    return {
        "state": status.state,
        "profile": status.profile,
        "sitting_s": round(status.sitting_s, 1),
        "next_prompt": (
            None if nxt is None else {"kind": nxt.kind, "in_s": round(nxt.in_s, 1)}
        ),
        "paused_until": _iso(status.paused_until),
        "pause_left_s": _round(status.pause_left_s),
        "break_left_s": _round(status.break_left_s),
        "snoozed": status.snoozed,
        "snoozes_in_row": status.snoozes_in_row,
        "locked": status.locked,
        "today": {
            "day": today.first_day.isoformat(),
            "sitting_s": round(today.sitting_s, 1),
            "longest_sit_s": round(today.longest_sit_s, 1),
            "breaks_taken": today.breaks_taken,
            "breaks_snoozed": today.snoozed,
            "breaks_skipped": today.skipped,
            "natural_breaks": today.natural_breaks,
            "stretch_prompts": today.stretch_prompts,
            "posture_prompts": today.posture_prompts,
        },
        "tray": report.backends.get("tray", "none"),
        "notifier": report.backends.get("notifier", "log"),
        "idle": report.backends.get("idle", "none"),
        "pid": report.pid,
        "version": report.version,
        "text": report.text,
        "driving": report.driving,
        "road": dict(report.road) if report.road is not None else None,
        "mono_s": report.mono_s,
        "time_scale": report.scale,
    }


# ---- durations (CLI) ----

# [0-9], not \d, after `ascii_digits`: every script's decimal digits are read alike (١٠ is 10),
# by `pause` and `snooze` both.
_DURATION_RE = re.compile(r"(?:([0-9]{1,4})h)?(?:([0-9]{1,5})m(?:in)?)?(?:([0-9]{1,6})s)?")
_MINUTES_RE = re.compile(r"[0-9]{1,6}")


def ascii_digits(text: str) -> str:
    """`text` with every decimal digit of any script (Arabic-Indic ٣٠, Devanagari, fullwidth)
    as its ASCII digit; nothing else changes."""
    return "".join(str(unicodedata.decimal(c)) if c.isdecimal() else c for c in text)


def parse_minutes(text: str) -> int | None:
    """A whole number of minutes someone typed (digits of any script), or None."""
    s = ascii_digits(text.strip())
    return int(s) if _MINUTES_RE.fullmatch(s) else None


def parse_duration(text: str) -> int | str:
    """`pause DURATION` as seconds (int, 60..86400) or the string "tomorrow".

    Accepted: a bare whole number of minutes ("45"), "30m", "1h30m", "2h", "90s", "1h30m15s",
    "tomorrow" (any case, surrounding spaces ignored). Raises ProtocolError naming the forms.
    """
    s = ascii_digits(text.strip().lower())
    if s == "tomorrow":
        return "tomorrow"
    if _MINUTES_RE.fullmatch(s):
        seconds = int(s) * 60
    else:
        m = _DURATION_RE.fullmatch(s)
        if not s or m is None or not any(m.groups()):
            raise ProtocolError(f"duration {_quoted(text)} is not allowed: {DURATION_HELP}")
        h, mi, se = (int(g) if g else 0 for g in m.groups())
        seconds = h * 3600 + mi * 60 + se
    if not MIN_PAUSE_S <= seconds <= MAX_PAUSE_S:
        raise ProtocolError(f"duration {_quoted(text)} is not allowed: {DURATION_HELP}")
    return seconds


def format_duration(seconds: float) -> str:
    """Seconds as a short human text: "45 s", "12 min", "1 h 30 min"."""
    s = max(0, int(round(seconds)))
    if s < 60:
        return f"{s} s"
    minutes = (s + 30) // 60
    if minutes < 60:
        return f"{minutes} min"
    h, m = divmod(minutes, 60)
    return f"{h} h {m} min" if m else f"{h} h"


# ---- helpers ----


def _quoted(text: str) -> str:
    return one_line(repr(text), 60)


def _is_int(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return True
    return isinstance(value, float) and math.isfinite(value) and value.is_integer()


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _short(value: Any) -> str:
    """A value quoted for an error line, cut to 40 characters."""
    if isinstance(value, str):
        text = repr(value)
    else:
        try:
            text = json.dumps(value, ensure_ascii=True, default=str)
        except (ValueError, TypeError, RecursionError):
            text = type(value).__name__
    return text if len(text) <= 40 else text[:37] + "..."


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat(timespec="seconds")


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 1)
