"""One instance, the CLI controlling the running app, and start at login — real processes on the
test desktop, checked through what the tray shows over D-Bus."""

from __future__ import annotations

import json
import os
import random
import signal
import socket
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from psoas_break.adapters.autostart.xdg import read_desktop_entry, split_exec
from tests.app_harness import RunningApp, app_env, start_app
from tests.desktop.session import DesktopSession
from tests.desktop.waiting import wait_for

pytestmark = pytest.mark.desktop


@pytest.fixture(scope="module")
def desk(desktop_module: DesktopSession) -> DesktopSession:
    desktop_module.start_sni_watcher()
    return desktop_module


@pytest.fixture
def app(desk: DesktopSession) -> Iterator[RunningApp]:
    running = start_app(desk, extra_env={"PSOAS_SECONDS_PER_MINUTE": "3"})
    running.item()
    yield running
    running.stop()


def socket_path(app: RunningApp) -> Path:
    return app.home / "run" / "psoas-break" / "control.sock"


def test_ten_at_once_exactly_one_runs(desk: DesktopSession, tmp_path: Path) -> None:
    home = tmp_path / "home"
    env = app_env(desk, home)
    for _round in range(2):
        procs = [
            subprocess.Popen(
                [sys.executable, "-m", "psoas_break", "run"], env=env,
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            )
            for _ in range(10)
        ]
        try:
            def nine_gave_up(procs: list[subprocess.Popen[str]] = procs) -> bool:
                return sum(p.poll() is not None for p in procs) >= 9

            wait_for(nine_gave_up, 30, what="nine copies to give up")
            running = [p for p in procs if p.poll() is None]
            assert len(running) == 1
            winner = running[0]
            for p in procs:
                if p is winner:
                    continue
                out, err = p.communicate()
                assert p.returncode == 0, err
                assert out.strip() == f"psoas-break is already running (pid {winner.pid})"
            wait_for(lambda: len(desk.tray().entries()) == 1, 10, what="one tray item")
            time.sleep(0.3)
            assert len(desk.tray().entries()) == 1
        finally:
            for p in procs:
                if p.poll() is None:
                    p.send_signal(signal.SIGTERM)
                    assert p.wait(5) == 0
            for p in procs:
                for stream in (p.stdout, p.stderr):
                    if stream:
                        stream.close()
        wait_for(lambda: not desk.tray().entries(), 10, what="item gone")


def test_kill_9_then_restart(desk: DesktopSession, tmp_path: Path) -> None:
    first = start_app(desk, home=tmp_path / "h")
    first.item()
    os.kill(first.proc.pid, signal.SIGKILL)
    first.proc.wait(5)
    wait_for(lambda: not desk.tray().entries(), 10, what="killed item dropped")
    second = start_app(desk, home=tmp_path / "h")
    try:
        second.item()
        status = second.cli("status", "--json")
        assert status.returncode == 0, status.stderr
        assert json.loads(status.stdout)["pid"] == second.proc.pid
    finally:
        second.stop()


def test_cli_commands_round_trip_and_change_the_tray(app: RunningApp) -> None:
    out = app.cli("status", "--json")
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    for key in ("state", "sitting_s", "next_prompt", "paused_until", "profile", "tray",
                "notifier", "idle"):
        assert key in data
    assert data["state"] == "sitting"
    assert data["tray"] == "sni"
    assert data["idle"] == "none"
    assert set(data["next_prompt"]) >= {"kind", "in_s"}

    assert app.cli("break-now").returncode == 0
    app.wait_title("On a break")
    assert json.loads(app.cli("status", "--json").stdout)["state"] == "on_break"

    assert app.cli("pause", "1h30m").returncode == 0
    app.wait_title("Paused until")
    data = json.loads(app.cli("status", "--json").stdout)
    assert data["state"] == "paused" and data["paused_until"]
    human = app.cli("status")
    assert human.returncode == 0 and "Paused" in human.stdout

    assert app.cli("resume").returncode == 0
    app.wait_title(lambda t: t.startswith("Sitting"))
    assert app.cli("snooze", "10").returncode == 0
    app.wait_title("Snoozed")
    assert app.cli("skip").returncode == 0
    app.wait_title(lambda t: t.startswith("Sitting") and "Snoozed" not in t)

    assert app.cli("pause", "tomorrow").returncode == 0
    app.wait_title("Paused until")

    # A setting changed from the CLI reaches the running app at once.
    assert app.cli("config", "set", "stretch_every_min", "60").returncode == 0
    menu = app.item().menu()
    wait_for(
        lambda: [c.label for c in menu.find("Settings", "Stretch every").children
                 if c.checked] == ["60 min"],
        10, what="radio follows config set",
    )

    assert app.cli("quit").returncode == 0
    assert app.proc.wait(5) == 0


def test_bad_arguments_and_not_running(desk: DesktopSession, tmp_path: Path) -> None:
    env = app_env(desk, tmp_path / "nobody")

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "psoas_break", *args], env=env,
                              capture_output=True, text=True, timeout=30, check=False)

    out = cli("status")
    assert out.returncode == 3
    assert out.stderr.strip().startswith("psoas-break is not running")
    for args, fragment in [
        (("pause", "forever"), "pause"),
        (("snooze", "0"), "snooze"),
        (("pause",), "DURATION"),
    ]:
        bad = cli(*args)
        assert bad.returncode == 2, bad
        assert fragment in bad.stderr
        assert "Traceback" not in bad.stderr


def test_fuzzed_socket_leaves_the_app_unchanged(app: RunningApp) -> None:
    path = socket_path(app)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    before = json.loads(app.cli("status", "--json").stdout)
    rng = random.Random(1234)
    samples: list[bytes] = [
        b"", b"\n", b"{}\n", b"[]\n", b"null\n", b'{"cmd": 5}\n', b'{"cmd": "pause"}\n',
        b'{"cmd": "pause", "seconds": -1}\n', b'{"cmd": "snooze", "minutes": 1e9}\n',
        b"{" * 5000, b"\xff\xfe\n", b'{"cmd": "status"' + b" " * 5000 + b"}\n",
    ]
    samples += [bytes(rng.randrange(256) for _ in range(rng.randrange(1, 300)))
                for _ in range(300)]
    for payload in samples:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(3)
            s.connect(str(path))
            try:
                s.sendall(payload)
                s.shutdown(socket.SHUT_WR)
                reply = s.recv(65536)
            except OSError:
                continue  # a closed connection is an allowed answer
            if reply:
                assert json.loads(reply.decode()).get("ok") is False, payload[:60]
    after = json.loads(app.cli("status", "--json").stdout)
    assert after["state"] == before["state"] == "sitting"
    assert after["paused_until"] is None
    assert app.proc.poll() is None


def test_autostart_entry_is_valid_and_starts_the_app(desk: DesktopSession, tmp_path: Path) -> None:
    home = tmp_path / "auto"
    env = app_env(desk, home)

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "psoas_break", *args], env=env,
                              capture_output=True, text=True, timeout=30, check=False)

    assert cli("autostart", "on").returncode == 0
    entry = home / "config" / "autostart" / "psoas-break.desktop"
    check = subprocess.run(["desktop-file-validate", str(entry)], capture_output=True,
                           text=True, check=False)
    assert check.returncode == 0, check.stdout + check.stderr
    fields = read_desktop_entry(entry)
    assert fields is not None
    argv = split_exec(fields["Exec"])
    assert argv[-3:] == ["-m", "psoas_break", "run"]
    proc = desk.spawn(argv, env=env, name="autostarted")
    try:
        item = desk.tray().wait_for_item(id="psoas-break", timeout_s=15)
        assert item.title.startswith("Sitting")
    finally:
        assert desk.stop(proc) == 0
    assert cli("autostart", "status").stdout.startswith("Start at login: on")
    assert cli("autostart", "off").returncode == 0
    assert not entry.exists()


def test_start_at_login_checkbox(desk: DesktopSession, tmp_path: Path) -> None:
    running = start_app(desk, home=tmp_path / "cb")
    entry = running.home / "config" / "autostart" / "psoas-break.desktop"
    try:
        menu = running.item().menu()
        assert menu.find("Start at login").checked is False
        menu.click("Start at login")
        wait_for(entry.exists, 5, what="autostart file")
        wait_for(lambda: running.item().menu().find("Start at login").checked, 5,
                 what="checkbox on")
        time.sleep(0.3)
        running.item().menu().click("Start at login")
        wait_for(lambda: not entry.exists(), 5, what="autostart file removed")
    finally:
        running.stop()
