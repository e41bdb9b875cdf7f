"""The control protocol: JSON requests to Commands, durations, replies."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from psoas_break.adapters.control.protocol import (
    COMMANDS,
    MAX_REQUEST_BYTES,
    ProtocolError,
    encode,
    error_reply,
    format_duration,
    ok_reply,
    parse_duration,
    parse_reply,
    parse_request,
    reply_for,
    status_payload,
)
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
from psoas_break.core.engine import NextPrompt, Status
from psoas_break.core.stats import Summary


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (b'{"cmd": "status"}', GetStatus()),
        (b'{"cmd": "status"}\n', GetStatus()),
        ('{"cmd":"break-now"}', TakeBreak()),
        ({"cmd": "end-break"}, EndBreak()),
        ({"cmd": "snooze"}, Snooze()),
        ({"cmd": "snooze", "minutes": None}, Snooze()),
        # One unit inside, as the menu has it: seconds.
        ({"cmd": "snooze", "minutes": 10}, Snooze(600.0)),
        ({"cmd": "snooze", "minutes": 10.0}, Snooze(600.0)),
        ({"cmd": "skip"}, Skip()),
        ({"cmd": "pause", "seconds": 1800}, Pause(1800.0)),
        ({"cmd": "pause", "seconds": 90.5}, Pause(90.5)),
        ({"cmd": "pause", "until": "tomorrow"}, PauseUntilTomorrow()),
        ({"cmd": "resume"}, Resume()),
        ({"cmd": "quit"}, Quit()),
        ({"cmd": "reload-settings"}, ReloadSettings()),
    ],
)
def test_valid_requests_become_commands(raw: Any, expected: Command) -> None:
    assert parse_request(raw) == expected


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"\xff\xfe", "request is not UTF-8 text"),
        (b"{cmd: status}", "request is not valid JSON"),
        (b"", "request is not valid JSON"),
        (b"[1, 2]", "request must be a JSON object"),
        (b'"status"', "request must be a JSON object"),
        (b"{}", "unknown command null; known commands: status, break-now"),
        (b'{"cmd": "nap"}', "unknown command 'nap'; known commands:"),
        (b'{"cmd": 5}', "unknown command 5;"),
        (b'{"cmd": "status", "x": 1}', "unknown field 'x' for 'status'; it takes no other fields"),
        (b'{"cmd": "snooze", "seconds": 1}', "unknown field 'seconds' for 'snooze'; it takes "
                                             "fields: minutes"),
        (b'{"cmd": "snooze", "minutes": 0}', "snooze minutes 0 is not allowed: use a whole "
                                             "number from 1 to 120"),
        (b'{"cmd": "snooze", "minutes": 121}', "snooze minutes 121 is not allowed"),
        (b'{"cmd": "snooze", "minutes": 2.5}', "snooze minutes 2.5 is not allowed"),
        (b'{"cmd": "snooze", "minutes": true}', "snooze minutes true is not allowed"),
        (b'{"cmd": "snooze", "minutes": "10"}', "snooze minutes '10' is not allowed"),
        (b'{"cmd": "pause"}', 'pause takes exactly one of "seconds" or "until"'),
        (b'{"cmd": "pause", "seconds": 60, "until": "tomorrow"}', "pause takes exactly one"),
        (b'{"cmd": "pause", "seconds": 59}', "pause seconds 59 is not allowed: use a number "
                                             "from 60 to 86400"),
        (b'{"cmd": "pause", "seconds": 86401}', "pause seconds 86401 is not allowed"),
        (b'{"cmd": "pause", "seconds": 1e999}', "pause seconds Infinity is not allowed"),
        (b'{"cmd": "pause", "seconds": NaN}', "pause seconds NaN is not allowed"),
        (b'{"cmd": "pause", "seconds": 1' + b"0" * 400 + b"}", "pause seconds 1000000000"),
        (b'{"cmd": "snooze", "minutes": 1' + b"0" * 400 + b"}", "snooze minutes 100000000"),
        (b'{"cmd": "pause", "until": "friday"}', "pause until 'friday' is not allowed: use "
                                                 '"tomorrow"'),
        (b"[" * 5000, "request too large: at most 4096 bytes"),
        (b"[" * 3000 + b"]" * 3000, "request too large"),
        (b"[" * 2000 + b"]" * 2000, "request is not valid JSON"),  # too deep: RecursionError
    ],
)
def test_bad_requests_give_one_line(raw: bytes, message: str) -> None:
    with pytest.raises(ProtocolError) as info:
        parse_request(raw)
    text = str(info.value)
    assert message in text
    assert "\n" not in text
    assert len(text) < 200


def test_long_values_are_cut_in_messages() -> None:
    with pytest.raises(ProtocolError) as info:
        parse_request({"cmd": "x" * 1000})
    assert "..." in str(info.value)
    assert len(str(info.value)) < 200


@given(st.binary(max_size=MAX_REQUEST_BYTES + 10))
def test_any_bytes_give_a_request_or_protocol_error(raw: bytes) -> None:
    try:
        command = parse_request(raw)
    except ProtocolError as exc:
        assert "\n" not in str(exc)
    else:
        assert isinstance(command, REQUEST_COMMANDS)


REQUEST_COMMANDS = (GetStatus, TakeBreak, EndBreak, Snooze, Skip, Pause, PauseUntilTomorrow,
                    Resume, ReloadSettings, Quit)

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner,
                                                                max_size=4),
    max_leaves=12,
)


@given(
    st.dictionaries(
        st.sampled_from(["cmd", "minutes", "seconds", "until", "x"]),
        st.sampled_from(list(COMMANDS)) | json_values,
        max_size=4,
    )
)
def test_near_valid_objects_never_escape_as_other_errors(obj: dict[str, Any]) -> None:
    try:
        command = parse_request(obj)
    except ProtocolError:
        return
    assert set(obj) <= {"cmd", *COMMANDS[obj["cmd"]]}
    assert isinstance(command, REQUEST_COMMANDS)
    if isinstance(command, Snooze) and command.seconds is not None:
        assert command.seconds == obj["minutes"] * 60
    if isinstance(command, Pause):
        assert command.seconds == obj["seconds"]


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("30m", 1800), ("1h30m", 5400), ("2h", 7200), ("45", 2700), ("90s", 90),
        ("1h30m15s", 5415), ("  30M ", 1800), ("24h", 86400), ("1m", 60), ("60s", 60),
        ("1440", 86400), ("30min", 1800), ("tomorrow", "tomorrow"), ("Tomorrow", "tomorrow"),
        # Every script's digits, as `snooze` reads them too (#19 item 22).
        ("३०", 1800), ("٣٠", 1800), ("１h", 3600),
    ],
)
def test_durations(text: str, seconds: int | str) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize(
    "text",
    ["", "0", "59s", "24h1s", "1441", "25h", "5y", "1.5h", "-30m", "m", "h30", "30 m", "1h 30m",
     "noon", "9999999999", "३०x", "٣٠٠٠٠٠٠"],
)
def test_bad_durations_name_what_is_allowed(text: str) -> None:
    with pytest.raises(ProtocolError) as info:
        parse_duration(text)
    assert str(info.value) == (
        f"duration {text!r} is not allowed: use minutes (45), 30m, 1h30m, 2h, 90s or tomorrow, "
        "from 1 minute to 24 hours"
    )


@given(st.text(max_size=20))
def test_duration_parser_is_total(text: str) -> None:
    try:
        value = parse_duration(text)
    except ProtocolError:
        return
    assert value == "tomorrow" or (isinstance(value, int) and 60 <= value <= 86400)
    # Whatever the CLI accepts, the server accepts too.
    request = {"cmd": "pause", "until": value} if value == "tomorrow" else {
        "cmd": "pause", "seconds": value
    }
    assert parse_request(request) == (
        PauseUntilTomorrow() if value == "tomorrow" else Pause(float(value)))


def test_format_duration() -> None:
    assert format_duration(0) == "0 s"
    assert format_duration(45) == "45 s"
    assert format_duration(90) == "2 min"
    assert format_duration(1800) == "30 min"
    assert format_duration(3600) == "1 h"
    assert format_duration(5400) == "1 h 30 min"


def test_replies_round_trip() -> None:
    line = encode(ok_reply(state="sitting", note="café"))
    assert line.endswith(b"\n") and line.count(b"\n") == 1
    assert parse_reply(line.rstrip(b"\n")) == {"ok": True, "state": "sitting", "note": "café"}
    err = error_reply("two\nlines   here")
    assert err == {"ok": False, "error": "two lines here"}
    assert parse_reply(encode(err)) == err
    with pytest.raises(ProtocolError, match="not serialisable"):
        encode({"ok": True, "x": object()})
    with pytest.raises(ProtocolError, match="not serialisable"):
        encode({"ok": True, "x": float("nan")})
    with pytest.raises(ProtocolError, match="not valid JSON"):
        parse_reply(b"{")
    with pytest.raises(ProtocolError, match='without "ok"'):
        parse_reply(b'{"state": "sitting"}')
    assert parse_reply(b'{"ok": false}')["error"]


def test_status_payload_fields() -> None:
    tz = timezone(timedelta(hours=2))
    status = Status(
        state="paused", profile="driver", sitting_s=754.26,
        next_prompt=NextPrompt("stretch", 300.04),
        paused_until=datetime(2024, 5, 1, 14, 30, tzinfo=tz), pause_left_s=1799.99,
        break_left_s=None, snoozes_in_row=1, snoozed=True, locked=False,
    )
    today = Summary(date(2024, 5, 1), date(2024, 5, 1), sitting_s=3600.0, breaks_taken=2)
    backends = {"tray": "appindicator", "notifier": "plyer-dbus", "idle": "xss"}
    payload = status_payload(StatusReport(status, "Paused", today, None, 12.5, backends, pid=42))
    assert payload["state"] == "paused"
    assert payload["profile"] == "driver"
    assert payload["sitting_s"] == 754.3
    assert payload["next_prompt"] == {"kind": "stretch", "in_s": 300.0}
    assert payload["paused_until"] == "2024-05-01T14:30:00+02:00"
    assert payload["pause_left_s"] == 1800.0
    assert payload["break_left_s"] is None
    assert payload["today"]["breaks_taken"] == 2
    assert payload["today"]["day"] == "2024-05-01"
    assert (payload["tray"], payload["notifier"], payload["idle"]) == (
        "appindicator", "plyer-dbus", "xss"
    )
    assert payload["pid"] == 42
    assert (payload["text"], payload["mono_s"], payload["time_scale"]) == ("Paused", 12.5, 1.0)
    assert json.loads(encode(ok_reply(**payload)))["ok"] is True
    none_next = status_payload(StatusReport(
        Status("on_break", "desk", 0.0, None, None, None, 60.0, 0, False, False),
        "On a break", Summary(date(2024, 5, 1), date(2024, 5, 1)), None, 0.0, {}))
    assert none_next["next_prompt"] is None and none_next["paused_until"] is None
    assert (none_next["tray"], none_next["notifier"], none_next["idle"]) == (
        "none", "log", "none")


def test_replies_for_outcomes() -> None:
    assert reply_for(Outcome()) == {"ok": True}
    assert reply_for(Outcome(notices=("Nothing to skip while paused.", "x"))) == {
        "ok": True, "message": "Nothing to skip while paused."}
