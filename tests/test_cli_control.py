"""The control CLI against a real ControlServer (in-process) and with nothing running."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from psoas_break import cli
from psoas_break.adapters.control.protocol import error_reply, ok_reply, request_of
from psoas_break.adapters.control.server import ControlServer
from psoas_break.adapters.files.paths import AppPaths
from psoas_break.cli import control as cli_control
from psoas_break.core.commands import Command

pytestmark = pytest.mark.timeout(120)


def make_parser() -> argparse.ArgumentParser:
    # The same parser class as the real CLI (one usage line + one error line, exit 2).
    parser = cli._Parser(prog="psoas-break")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=cli._Parser)
    cli_control.add_subcommands(sub)
    return parser


def make_paths(root: Path) -> AppPaths:
    return AppPaths(
        config_dir=root / "config", site_config_dirs=(), data_dir=root / "data",
        state_dir=root / "state", log_dir=root / "log", cache_dir=root / "cache",
        runtime_dir=root / "run",
    )


@pytest.fixture
def paths() -> Iterator[AppPaths]:
    with tempfile.TemporaryDirectory(prefix="pb-") as tmp:  # short: AF_UNIX path limit
        yield make_paths(Path(tmp))


STATUS = {
    "state": "sitting", "profile": "desk", "sitting_s": 754.0,
    "next_prompt": {"kind": "stretch", "in_s": 1046.0}, "paused_until": None,
    "pause_left_s": None, "break_left_s": None, "snoozed": False, "snoozes_in_row": 0,
    "locked": False,
    "today": {"day": "2024-05-01", "sitting_s": 5400.0, "longest_sit_s": 1800.0,
              "breaks_taken": 2, "breaks_snoozed": 1, "breaks_skipped": 0,
              "natural_breaks": 1, "stretch_prompts": 3, "posture_prompts": 1},
    "tray": "appindicator", "notifier": "plyer-dbus", "idle": "xscreensaver", "pid": 4242,
}


class App:
    """A stand-in for the app's handler: records requests, answers like the real one will."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.reply: dict[str, Any] | None = None

    def __call__(self, command: Command) -> dict[str, Any]:
        request = request_of(command)  # recorded in the wire form
        self.requests.append(request)
        if self.reply is not None:
            return self.reply
        if request["cmd"] == "status":
            return ok_reply(**STATUS)
        return ok_reply()


@pytest.fixture
def app(paths: AppPaths) -> Iterator[App]:
    handler = App()
    with ControlServer(paths.control_socket, handler):
        yield handler


def run(paths: AppPaths, *argv: str) -> int:
    args = make_parser().parse_args(list(argv))
    return cli_control.run(args, paths)


@pytest.mark.parametrize(
    ("argv", "request_", "out"),
    [
        (["break-now"], {"cmd": "break-now"}, "Break started."),
        (["snooze"], {"cmd": "snooze"}, "Snoozed."),
        (["snooze", "10"], {"cmd": "snooze", "minutes": 10}, "Snoozed for 10 min."),
        (["skip"], {"cmd": "skip"}, "Skipped this break."),
        (["pause", "30m"], {"cmd": "pause", "seconds": 1800}, "Paused for 30 min."),
        (["pause", "1h30m"], {"cmd": "pause", "seconds": 5400}, "Paused for 1 h 30 min."),
        (["pause", "45"], {"cmd": "pause", "seconds": 2700}, "Paused for 45 min."),
        (["pause", "tomorrow"], {"cmd": "pause", "until": "tomorrow"}, "Paused until tomorrow."),
        (["resume"], {"cmd": "resume"}, "Reminders resumed."),
        (["quit"], {"cmd": "quit"}, "psoas-break is quitting."),
        (["status"], {"cmd": "status"}, "psoas-break is running (pid 4242, profile desk)"),
    ],
)
def test_each_command_sends_its_request(
    app: App, paths: AppPaths, capsys: pytest.CaptureFixture[str],
    argv: list[str], request_: dict[str, Any], out: str,
) -> None:
    assert run(paths, *argv) == 0
    assert app.requests == [request_]
    captured = capsys.readouterr()
    assert captured.out.splitlines()[0] == out
    assert captured.err == ""


def test_status_human_text(app: App, paths: AppPaths, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(paths, "status") == 0
    assert capsys.readouterr().out.splitlines() == [
        "psoas-break is running (pid 4242, profile desk)",
        "Sitting for 13 min. Next: stretch break in 17 min.",
        "Today: 2 breaks taken, 1 snoozed, 0 skipped, 1 natural; 1 h 30 min sitting.",
        "Using: tray appindicator, notifier plyer-dbus, idle xscreensaver.",
    ]


@pytest.mark.parametrize(
    ("fields", "line"),
    [
        ({"state": "prompt_due"}, "Stretch break due now (sitting for 13 min)."),
        ({"state": "on_break", "break_left_s": 90.0}, "On a break: 2 min left."),
        ({"state": "away"}, "Away: taking a natural break."),
        ({"state": "sitting", "snoozed": True}, "Sitting for 13 min. Next: stretch break in "
                                                "17 min (snoozed)."),
        ({"state": "sitting", "next_prompt": {"kind": "posture", "in_s": 60}},
         "Sitting for 13 min. Next: posture change in 1 min."),
        ({"state": "sitting", "locked": True, "next_prompt": None},
         "Screen locked. Sitting for 13 min."),
    ],
)
def test_status_lines_per_state(
    app: App, paths: AppPaths, capsys: pytest.CaptureFixture[str],
    fields: dict[str, Any], line: str,
) -> None:
    app.reply = ok_reply(**{**STATUS, **fields})
    assert run(paths, "status") == 0
    assert capsys.readouterr().out.splitlines()[1] == line


def test_status_paused_shows_local_time(
    app: App, paths: AppPaths, capsys: pytest.CaptureFixture[str]
) -> None:
    until = datetime.now().astimezone() + timedelta(minutes=30)
    app.reply = ok_reply(**{**STATUS, "state": "paused",
                            "paused_until": until.isoformat(timespec="seconds"),
                            "pause_left_s": 1800.0})
    assert run(paths, "status") == 0
    line = capsys.readouterr().out.splitlines()[1]
    assert line.startswith("Paused until ")
    assert until.strftime("%H:%M") in line
    assert line.endswith("(30 min left).")


def test_status_json(app: App, paths: AppPaths, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(paths, "status", "--json") == 0
    data = json.loads(capsys.readouterr().out)
    assert data == {"ok": True, **STATUS}
    for key in ("state", "sitting_s", "next_prompt", "paused_until", "profile", "tray",
                "notifier", "idle"):
        assert key in data
    assert set(data["next_prompt"]) == {"kind", "in_s"}


def test_app_message_and_errors(app: App, paths: AppPaths,
                                capsys: pytest.CaptureFixture[str]) -> None:
    app.reply = ok_reply(message="Nothing to snooze while paused.")
    assert run(paths, "snooze") == 0
    assert capsys.readouterr().out == "Nothing to snooze while paused.\n"
    app.reply = error_reply("the engine did not answer in time")
    assert run(paths, "skip") == 1
    captured = capsys.readouterr()
    assert captured.err == "psoas-break: the engine did not answer in time\n"
    assert captured.out == ""


@pytest.mark.parametrize(
    "argv", [["status"], ["status", "--json"], ["break-now"], ["snooze", "5"], ["skip"],
             ["pause", "2h"], ["resume"], ["quit"]],
)
def test_not_running_is_one_line_and_exit_3(
    paths: AppPaths, capsys: pytest.CaptureFixture[str], argv: list[str]
) -> None:
    assert run(paths, *argv) == 3
    captured = capsys.readouterr()
    assert captured.err == "psoas-break is not running (start it with `psoas-break`)\n"
    assert captured.out == ""


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["pause"], "psoas-break pause: the following arguments are required: DURATION"),
        (["pause", "5y"], "psoas-break pause: argument DURATION: duration '5y' is not allowed: "
                          "use minutes (45), 30m, 1h30m, 2h, 90s or tomorrow, from 1 minute "
                          "to 24 hours"),
        (["pause", "25h"], "duration '25h' is not allowed"),
        (["pause", "0"], "duration '0' is not allowed"),
        (["snooze", "abc"], "psoas-break snooze: argument MINUTES: 'abc' is not allowed: use a "
                            "whole number of minutes from 1 to 120"),
        (["snooze", "0"], "argument MINUTES: '0' is not allowed"),
        (["snooze", "500"], "argument MINUTES: '500' is not allowed"),
        (["skip", "now"], "unrecognized arguments: now"),
        (["status", "--yaml"], "unrecognized arguments: --yaml"),
    ],
)
def test_bad_arguments_exit_2_with_usage(
    capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    with pytest.raises(SystemExit) as info:
        make_parser().parse_args(argv)
    assert info.value.code == 2
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 2
    assert err[0].startswith("usage: psoas-break")
    assert message in err[1]


def test_notify_reload(paths: AppPaths, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli_control.notify_reload(paths) is False  # not running: silently nothing
    assert capsys.readouterr() == ("", "")
    handler = App()
    with ControlServer(paths.control_socket, handler):
        assert cli_control.notify_reload(paths) is True
        assert handler.requests == [{"cmd": "reload-settings"}]
        handler.reply = error_reply("settings file is unreadable")
        assert cli_control.notify_reload(paths) is False
    assert capsys.readouterr().err == (
        "psoas-break: saved, but the running app did not reload: settings file is unreadable\n"
    )


# ---- through the real `psoas-break` command, once cli.py dispatches these commands ----


def _wired() -> bool:
    try:
        cli.build_parser().parse_args(["status"])
    except SystemExit:
        return False
    return True


@pytest.mark.skipif(not _wired(), reason="cli.py does not dispatch the control commands yet")
def test_real_command_not_running_bad_args_and_round_trip(paths: AppPaths) -> None:
    xdg_runtime = paths.runtime_dir.parent / "xdg"
    xdg_runtime.mkdir(mode=0o700)  # platformdirs ignores an XDG_RUNTIME_DIR that is not 0700
    env = dict(os.environ, XDG_RUNTIME_DIR=str(xdg_runtime))

    def psoas_break(*argv: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "psoas_break", *argv], env=env,
                              capture_output=True, text=True, timeout=60, check=False)

    out = psoas_break("status")
    assert (out.returncode, out.stdout) == (3, ""), out.stderr
    assert out.stderr == "psoas-break is not running (start it with `psoas-break`)\n"
    out = psoas_break("pause", "5y")
    assert out.returncode == 2
    assert "duration '5y' is not allowed" in out.stderr
    assert "Traceback" not in out.stderr
    handler = App()
    # Where platformdirs puts the runtime dir for this environment on Linux.
    with ControlServer(xdg_runtime / "psoas-break" / "control.sock", handler):
        out = psoas_break("snooze", "10")
        assert (out.returncode, out.stdout, out.stderr) == (0, "Snoozed for 10 min.\n", "")
        out = psoas_break("status", "--json")
        assert out.returncode == 0
        assert json.loads(out.stdout)["state"] == "sitting"
        # `config set` tells the running app to reload at once.
        env["XDG_CONFIG_HOME"] = str(paths.config_dir)
        env["XDG_CONFIG_DIRS"] = str(paths.config_dir.parent / "site")
        out = psoas_break("config", "set", "snooze_min", "10")
        assert (out.returncode, out.stderr) == (0, "")
    assert handler.requests == [
        {"cmd": "snooze", "minutes": 10}, {"cmd": "status"}, {"cmd": "reload-settings"}
    ]
    out = psoas_break("config", "set", "snooze_min", "12")  # not running: silently saved
    assert (out.returncode, out.stdout, out.stderr) == (0, "snooze_min = 12\n", "")


@pytest.mark.parametrize("stale_socket", [False, True])
def test_a_command_waits_for_an_app_that_is_still_starting(
    paths: AppPaths, capsys: pytest.CaptureFixture[str], stale_socket: bool
) -> None:
    """The app holds its lock and shows its icon before its control channel listens (tray up
    first): `status` right then waits for the socket instead of saying it is missing, also
    when a crashed run left its socket behind. The lock is taken in a child process, as the
    app's would be."""
    import socket
    import threading
    import time

    paths.lock_file.parent.mkdir(parents=True, exist_ok=True)
    if stale_socket:
        paths.control_socket.parent.mkdir(parents=True, exist_ok=True)
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as dead:
            dead.bind(str(paths.control_socket))  # closed without unlink: nobody listens
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import sys, time; from pathlib import Path; "
         "from psoas_break.adapters.files.single_instance import InstanceLock; "
         f"lock = InstanceLock(Path({str(paths.lock_file)!r})); assert lock.acquire(); "
         "print('held', flush=True); time.sleep(60)"],
        stdout=subprocess.PIPE, text=True, cwd=Path(__file__).resolve().parents[1])
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        handler = App()
        servers: list[ControlServer] = []

        def listen_later() -> None:
            time.sleep(1.0)
            server = ControlServer(paths.control_socket, handler)
            server.start()
            servers.append(server)

        late = threading.Thread(target=listen_later)
        late.start()
        try:
            assert run(paths, "status") == 0
            assert "psoas-break is running (pid 4242" in capsys.readouterr().out
        finally:
            late.join()
            for server in servers:
                server.close()
    finally:
        holder.kill()
        holder.wait()
