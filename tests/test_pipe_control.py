"""The "pipe" transport of ControlServer / client.send over a real multiprocessing.connection
channel.

On Windows the channel is a named pipe (family AF_PIPE); everything else in the code is the
same, so here it runs for real over AF_UNIX: handshake, framing, limits, hostile clients,
fuzz, the CLI in a subprocess. The Windows-only parts that can be checked without Windows
(pipe name, DACL text, selector) are tested as pure functions.
"""

from __future__ import annotations

import json
import os
import socket
import stat
import struct
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from multiprocessing import AuthenticationError
from multiprocessing.connection import Client, Connection
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from psoas_break.adapters.control import (
    BACKEND_ENV,
    client,
    control_address,
    control_backend,
    control_key_file,
    make_control_server,
    send_control,
)
from psoas_break.adapters.control.client import NotRunning
from psoas_break.adapters.control.pipe import KEY_BYTES, load_or_create_key, read_key
from psoas_break.adapters.control.protocol import (
    COMMANDS,
    MAX_REQUEST_BYTES,
    ProtocolError,
    error_reply,
    ok_reply,
    parse_request,
    request_of,
)
from psoas_break.adapters.control.server import ControlServer
from psoas_break.adapters.control.windows import pipe_sddl, windows_pipe_name
from psoas_break.adapters.files.paths import AppPaths
from psoas_break.core.commands import Command
from psoas_break.ports import AdapterError, StorageError

if TYPE_CHECKING:
    from tests.desktop.session import DesktopSession

pytestmark = pytest.mark.timeout(120)


def wait_for(predicate: Callable[[], bool], timeout_s: float = 10.0) -> None:
    """Poll until `predicate()` holds; a generous deadline for real threads."""
    deadline = time.monotonic() + timeout_s
    while not predicate():
        assert time.monotonic() < deadline, "condition never held"
        time.sleep(0.01)


class Recorder:
    """A handler that records what it got and answers like a tiny app."""

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []
        self.lock = threading.Lock()
        self.gate = threading.Event()
        self.gate.set()
        self.entered = threading.Event()
        self.reply: Any = None

    def __call__(self, command: Command) -> dict[str, Any]:
        request = request_of(command)  # recorded in the wire form the tests send
        with self.lock:
            self.calls.append(request)
        if self.reply is not None:
            if isinstance(self.reply, Exception):
                raise self.reply
            reply: dict[str, Any] = self.reply
            return reply
        if request["cmd"] == "break-now":
            self.entered.set()
            self.gate.wait(30)
        if request["cmd"] == "status":
            return ok_reply(state="sitting", sitting_s=12.0)
        return ok_reply(echo=request)


def make_paths(root: Path) -> AppPaths:
    return AppPaths(
        config_dir=root / "config", site_config_dirs=(), data_dir=root / "data",
        state_dir=root / "state", log_dir=root / "log", cache_dir=root / "cache",
        runtime_dir=root / "run",
    )


@pytest.fixture
def run_dir() -> Iterator[Path]:
    # AF_UNIX paths are limited to 108 bytes: pytest's tmp_path can be longer.
    with tempfile.TemporaryDirectory(prefix="pb-") as tmp:
        yield Path(tmp) / "run"


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


def new_server(run_dir: Path, handler: Any, **options: Any) -> ControlServer:
    return ControlServer(run_dir / "control-pipe.sock", handler,
                         key_file=run_dir / "control.key", **options)


@pytest.fixture
def server(run_dir: Path, recorder: Recorder) -> Iterator[ControlServer]:
    srv = new_server(run_dir, recorder)
    srv.start()
    yield srv
    recorder.gate.set()
    srv.close()


def ask(srv: ControlServer, request: dict[str, Any], **kw: Any) -> dict[str, Any]:
    assert srv.key_file is not None
    return client.send(srv.address, request, key_file=srv.key_file, **{"timeout_s": 10.0, **kw})


def authed(srv: ControlServer) -> Connection:
    """A connection through the library's own Client, authenticated with the user's key."""
    assert srv.key_file is not None
    conn: Connection = Client(srv.address, family="AF_UNIX", authkey=read_key(srv.key_file))
    return conn


def exchange(srv: ControlServer, message: bytes) -> dict[str, Any]:
    """Send one raw message after the handshake and decode the one reply line."""
    with authed(srv) as conn:
        conn.send_bytes(message)
        assert conn.poll(10), "no reply"
        raw = conn.recv_bytes()
    assert raw.endswith(b"\n") and raw.count(b"\n") == 1, raw
    obj: dict[str, Any] = json.loads(raw)
    return obj


def status_ok(srv: ControlServer) -> None:
    assert ask(srv, {"cmd": "status"}) == {"ok": True, "state": "sitting", "sitting_s": 12.0}


# ---- round trips and files ----


def test_round_trip_files_are_private_and_library_client_interoperates(
    server: ControlServer, recorder: Recorder
) -> None:
    status_ok(server)
    assert ask(server, {"cmd": "snooze", "minutes": 10}) == {
        "ok": True, "echo": {"cmd": "snooze", "minutes": 10}
    }
    # The stdlib's own Client(authkey=...) speaks to us: the handshake is the library's.
    assert exchange(server, b'{"cmd": "pause", "until": "tomorrow"}\n') == {
        "ok": True, "echo": {"cmd": "pause", "until": "tomorrow"}
    }
    assert recorder.calls == [
        {"cmd": "status"}, {"cmd": "snooze", "minutes": 10}, {"cmd": "pause", "until": "tomorrow"}
    ]
    sock = Path(server.address)
    assert stat.S_ISSOCK(os.lstat(sock).st_mode)
    assert stat.S_IMODE(os.lstat(sock).st_mode) == 0o600
    assert stat.S_IMODE(server.key_file.stat().st_mode) == 0o600
    assert stat.S_IMODE(sock.parent.stat().st_mode) == 0o700
    assert len(server.key_file.read_bytes()) == KEY_BYTES
    assert sorted(os.listdir(sock.parent)) == ["control-pipe.sock", "control.key"]
    wait_for(lambda: server.active_connections == 0)


def test_key_file_is_made_private_kept_and_replaced_when_untrustworthy(tmp_path: Path) -> None:
    key_file = tmp_path / "control.key"
    with pytest.raises(FileNotFoundError):
        read_key(key_file)
    key = load_or_create_key(key_file)
    assert len(key) == KEY_BYTES and key_file.read_bytes() == key
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert load_or_create_key(key_file) == key  # kept across restarts
    assert read_key(key_file) == key
    # Readable by others: the client refuses it, the server replaces it.
    key_file.chmod(0o644)
    with pytest.raises(StorageError, match="readable by others"):
        read_key(key_file)
    new = load_or_create_key(key_file)
    assert new != key and read_key(key_file) == new
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    # Wrong size and a symlink are not trusted either.
    key_file.write_bytes(b"short")
    with pytest.raises(StorageError, match="wrong size"):
        read_key(key_file)
    assert len(load_or_create_key(key_file)) == KEY_BYTES
    target = tmp_path / "elsewhere"
    target.write_bytes(os.urandom(KEY_BYTES))
    target.chmod(0o600)
    key_file.unlink()
    key_file.symlink_to(target)
    with pytest.raises(StorageError):
        read_key(key_file)
    replaced = load_or_create_key(key_file)
    assert not key_file.is_symlink() and key_file.read_bytes() == replaced
    assert sorted(os.listdir(tmp_path)) == ["control.key", "elsewhere"]  # no temp files left


# ---- who may talk ----


def test_wrong_key_is_refused_before_the_request_is_read(
    server: ControlServer, recorder: Recorder, run_dir: Path
) -> None:
    other_key = run_dir.parent / "other.key"
    load_or_create_key(other_key)
    with pytest.raises(AdapterError, match="control key did not match"):
        client.send(server.address, {"cmd": "quit"}, key_file=other_key, timeout_s=10)
    with pytest.raises(AuthenticationError):
        Client(server.address, family="AF_UNIX", authkey=b"not the key")
    # A client that skips the handshake: its "request" is taken as the digest and refused.
    with Client(server.address, family="AF_UNIX") as conn:
        assert conn.poll(10)
        assert conn.recv_bytes(256).startswith(b"#CHALLENGE#")
        conn.send_bytes(b'{"cmd": "quit"}\n')
        assert conn.poll(10)
        assert conn.recv_bytes(256) == b"#FAILURE#"
        assert conn.poll(10)
        with pytest.raises(EOFError):
            conn.recv_bytes()
    assert recorder.calls == []
    status_ok(server)


def test_client_that_never_answers_the_challenge_is_dropped(
    server: ControlServer, recorder: Recorder
) -> None:
    with Client(server.address, family="AF_UNIX") as silent:
        status_ok(server)  # others are served meanwhile
        assert silent.poll(10)
        assert silent.recv_bytes(256).startswith(b"#CHALLENGE#")
        assert silent.poll(10)  # the server hangs up after its 2 s read timeout
        with pytest.raises(EOFError):
            silent.recv_bytes()
    wait_for(lambda: server.active_connections == 0)
    assert recorder.calls == [{"cmd": "status"}]


# ---- bad requests ----


@pytest.mark.parametrize(("message", "error"), [
    (b"x" * (MAX_REQUEST_BYTES + 2), f"request too large: at most {MAX_REQUEST_BYTES} bytes"),
    (b" " * (MAX_REQUEST_BYTES + 1), f"request too large: at most {MAX_REQUEST_BYTES} bytes"),
    (b"x" * 50_000, f"request too large: at most {MAX_REQUEST_BYTES} bytes"),
    (b"not json\n", "request is not valid JSON"),
    (b"", "request is not valid JSON"),
    (b"\xff\xfe\n", "request is not UTF-8 text"),
    (b"[1, 2]\n", "request must be a JSON object"),
    (b'{"cmd": "rm -rf"}\n', "unknown command 'rm -rf'"),
    (b'{"cmd": "snooze", "minutes": 0}\n', "snooze minutes 0 is not allowed"),
    (b'{"cmd": "status"}\n{"cmd": "quit"}\n', "send one JSON line per request"),
])
def test_bad_requests_get_one_line_errors(
    server: ControlServer, recorder: Recorder, message: bytes, error: str
) -> None:
    reply = exchange(server, message)
    assert reply["ok"] is False
    assert reply["error"].startswith(error), reply
    assert "\n" not in reply["error"]
    assert recorder.calls == []
    status_ok(server)


def test_request_at_the_size_limit_is_read(server: ControlServer) -> None:
    padded = b'{"cmd": "status"' + b" " * (MAX_REQUEST_BYTES - 17) + b"}"
    assert len(padded) == MAX_REQUEST_BYTES
    assert exchange(server, padded + b"\n")["ok"] is True
    assert exchange(server, padded)["ok"] is True  # the newline is optional


def test_slow_request_gets_a_timeout_error(server: ControlServer) -> None:
    with authed(server) as conn:
        status_ok(server)  # not blocked by the silent one
        assert conn.poll(10)
        reply = json.loads(conn.recv_bytes())
    assert reply == {"ok": False, "error": "request timed out: send one JSON line within 2 s"}
    wait_for(lambda: server.active_connections == 0)


def test_stalled_frame_is_dropped_by_the_watchdog(
    server: ControlServer, recorder: Recorder
) -> None:
    """A frame header promising 100 bytes, then nothing: poll() sees data, recv would block."""
    with authed(server) as conn:
        os.write(conn.fileno(), struct.pack("!i", 100) + b'{"cmd"')
        status_ok(server)
        assert conn.poll(15)
        with pytest.raises(EOFError):
            conn.recv_bytes()
    wait_for(lambda: server.active_connections == 0)
    assert recorder.calls == [{"cmd": "status"}]
    status_ok(server)


def test_handler_failures_become_error_replies(
    server: ControlServer, recorder: Recorder
) -> None:
    recorder.reply = RuntimeError("boom")
    assert ask(server, {"cmd": "skip"}) == error_reply(
        "internal error in psoas-break (details are in its log)"
    )
    recorder.reply = {"no": "ok field"}
    assert ask(server, {"cmd": "skip"}) == error_reply("internal error in psoas-break (bad reply)")
    recorder.reply = {"ok": True, "bad": object()}
    assert ask(server, {"cmd": "skip"}) == error_reply(
        "internal error in psoas-break (reply not JSON)"
    )
    recorder.reply = None
    status_ok(server)


def test_too_many_clients_are_told_busy_and_served_again_later(
    run_dir: Path, recorder: Recorder
) -> None:
    recorder.gate.clear()
    with new_server(run_dir, recorder, max_clients=1) as srv:
        replies: list[dict[str, Any]] = []
        first = threading.Thread(target=lambda: replies.append(ask(srv, {"cmd": "break-now"})))
        first.start()
        assert recorder.entered.wait(10)
        # The same server as "unix": after the handshake the client is told why.
        assert ask(srv, {"cmd": "status"}) == error_reply(
            "busy: too many control connections; try again"
        )
        recorder.gate.set()
        first.join(10)
        assert replies == [{"ok": True, "echo": {"cmd": "break-now"}}]
        wait_for(lambda: srv.active_connections == 0)
        status_ok(srv)


def test_idle_connections_never_starve_a_request(run_dir: Path, recorder: Recorder) -> None:
    """60 connections that never answer the challenge hold no worker: status answers (#19)."""
    with new_server(run_dir, recorder, read_timeout_s=60) as srv:
        idle = [Client(srv.address, family="AF_UNIX") for _ in range(60)]
        try:
            wait_for(lambda: srv.active_connections == 60)
            for _ in range(10):
                status_ok(srv)
            wait_for(lambda: srv.active_connections == 60)  # the idle ones wait on, unharmed
        finally:
            for conn in idle:
                conn.close()
        wait_for(lambda: srv.active_connections == 0)


# ---- lifecycle ----


def test_not_running_second_server_stale_socket_and_close(
    run_dir: Path, recorder: Recorder
) -> None:
    address = run_dir / "control-pipe.sock"
    key_file = run_dir / "control.key"
    with pytest.raises(NotRunning):
        client.send(address, {"cmd": "status"}, key_file=key_file)
    srv = new_server(run_dir, recorder)
    srv.start()
    key = key_file.read_bytes()
    with pytest.raises(AdapterError, match="another psoas-break is answering"):
        new_server(run_dir, recorder).start()
    assert key_file.read_bytes() == key  # the loser did not touch the winner's key
    status_ok(srv)
    srv.close()
    srv.close()  # idempotent
    assert not address.exists()
    with pytest.raises(NotRunning):
        client.send(address, {"cmd": "status"}, key_file=key_file)
    # A socket file left by a killed app: nobody answers, so it is replaced.
    stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    stale.bind(str(address))
    stale.close()
    with pytest.raises(NotRunning):
        client.send(address, {"cmd": "status"}, key_file=key_file)
    with new_server(run_dir, recorder) as again:
        status_ok(again)
        assert key_file.read_bytes() == key  # the same key across restarts
    # Something that is not a socket is never removed.
    address.write_text("mine")
    with pytest.raises(AdapterError, match="is not a socket"):
        new_server(run_dir, recorder).start()
    assert address.read_text() == "mine"


def test_close_waits_for_a_reply_in_flight(run_dir: Path, recorder: Recorder) -> None:
    recorder.gate.clear()
    srv = new_server(run_dir, recorder)
    srv.start()
    replies: list[dict[str, Any]] = []
    client = threading.Thread(target=lambda: replies.append(ask(srv, {"cmd": "break-now"})))
    client.start()
    assert recorder.entered.wait(10)
    threading.Timer(0.3, recorder.gate.set).start()
    srv.close()
    client.join(10)
    assert replies == [{"ok": True, "echo": {"cmd": "break-now"}}]


# ---- fuzz: hundreds of hostile messages, then the server still answers ----

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=10), inner,
                                                                max_size=5),
    max_leaves=20,
)
near_valid = st.dictionaries(
    st.sampled_from(["cmd", "minutes", "seconds", "until", "extra"]),
    st.sampled_from([*COMMANDS, "tomorrow"]) | json_values,
    max_size=4,
)


def expected(message: bytes) -> dict[str, Any] | None:
    """The request the handler must get for `message`; None = an error reply."""
    line, newline, rest = message.partition(b"\n")
    if len(line) > MAX_REQUEST_BYTES or (newline and rest.strip()):
        return None
    try:
        return request_of(parse_request(line))
    except ProtocolError:
        return None


@pytest.fixture(scope="module")
def fuzz_server() -> Iterator[tuple[ControlServer, Recorder]]:
    with tempfile.TemporaryDirectory(prefix="pb-") as tmp:
        rec = Recorder()
        with new_server(Path(tmp) / "run", rec) as srv:
            yield srv, rec


def check(srv: ControlServer, rec: Recorder, message: bytes) -> None:
    before = len(rec.calls)
    reply = exchange(srv, message)
    want = expected(message)
    if want is None:
        assert reply["ok"] is False and isinstance(reply["error"], str) and reply["error"]
        assert len(rec.calls) == before
    else:
        assert reply["ok"] is True, (message[:200], reply)
        assert rec.calls[before:] == [want]


FUZZ = settings(
    max_examples=300, deadline=None, database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@FUZZ
@given(message=st.binary(max_size=MAX_REQUEST_BYTES + 200))
def test_fuzz_random_bytes(fuzz_server: tuple[ControlServer, Recorder],
                           message: bytes) -> None:
    check(*fuzz_server, message)


@settings(FUZZ, max_examples=200)
@given(obj=json_values | near_valid, newline=st.booleans())
def test_fuzz_random_json(fuzz_server: tuple[ControlServer, Recorder], obj: Any,
                          newline: bool) -> None:
    check(*fuzz_server, json.dumps(obj).encode() + (b"\n" if newline else b""))


@settings(FUZZ, max_examples=100)
@given(response=st.binary(max_size=300))
def test_fuzz_handshake_garbage(fuzz_server: tuple[ControlServer, Recorder],
                                response: bytes) -> None:
    srv, rec = fuzz_server
    before = len(rec.calls)
    with Client(srv.address, family="AF_UNIX") as conn:
        assert conn.poll(10)
        conn.recv_bytes(256)
        conn.send_bytes(response)
        while conn.poll(10):  # "#FAILURE#" (or nothing), then the server hangs up
            try:
                assert conn.recv_bytes(256) == b"#FAILURE#"
            except EOFError:
                break
    assert len(rec.calls) == before


def test_after_the_fuzz_status_still_answers(
    fuzz_server: tuple[ControlServer, Recorder],
) -> None:
    srv, _rec = fuzz_server
    status_ok(srv)
    wait_for(lambda: srv.active_connections == 0)


# ---- the selector and the CLI ----


def test_selector_picks_the_channel(monkeypatch: pytest.MonkeyPatch, run_dir: Path) -> None:
    assert control_backend({}, "linux") == "unix"
    assert control_backend({}, "darwin") == "unix"
    assert control_backend({}, "win32") == "pipe"
    assert control_backend({BACKEND_ENV: "pipe"}, "linux") == "pipe"
    assert control_backend({BACKEND_ENV: " Unix "}, "win32") == "unix"
    assert control_backend({BACKEND_ENV: "carrier-pigeon"}, "linux") == "unix"
    paths = make_paths(run_dir.parent)
    monkeypatch.delenv(BACKEND_ENV, raising=False)
    assert control_address(paths) == paths.control_socket
    unix = make_control_server(paths, Recorder())
    assert isinstance(unix, ControlServer) and unix.path == paths.control_socket
    monkeypatch.setenv(BACKEND_ENV, "pipe")
    assert control_address(paths) == paths.runtime_dir / "control-pipe.sock"
    assert control_key_file(paths) == paths.runtime_dir / "control.key"
    pipe = make_control_server(paths, Recorder(), read_timeout_s=1.0)
    assert isinstance(pipe, ControlServer) and pipe.key_file == control_key_file(paths)
    assert pipe.address == str(paths.runtime_dir / "control-pipe.sock")
    with pipe:
        assert send_control(paths, {"cmd": "status"}) == {
            "ok": True, "state": "sitting", "sitting_s": 12.0
        }
    with pytest.raises(NotRunning):
        send_control(paths, {"cmd": "status"})


def test_windows_pipe_name_and_dacl_text() -> None:
    sid = "S-1-5-21-1004336348-1177238915-682003330-1001"
    assert windows_pipe_name(sid) == "\\\\.\\pipe\\psoas-break-" + sid
    assert pipe_sddl(sid) == f"D:P(A;;GA;;;SY)(A;;GA;;;{sid})"
    with pytest.raises(ValueError):
        pipe_sddl("alice)(A;;GA;;;WD")  # never splice a user name into SDDL
    # A user name cannot add a backslash, and non-ASCII does not depend on the code page.
    name = windows_pipe_name("DOMAIN\\Zoë Smith")
    assert name == "\\\\.\\pipe\\psoas-break-DOMAIN~5cZo~c3~ab~20Smith"
    assert name.count("\\") == 4
    assert windows_pipe_name("") == "\\\\.\\pipe\\psoas-break-~"
    assert windows_pipe_name("a ") != windows_pipe_name("a~20")  # "~" is escaped too
    long_a, long_b = windows_pipe_name("é" * 300), windows_pipe_name("é" * 299 + "e")
    assert len(long_a) == 256 and len(long_b) == 256 and long_a != long_b


def test_cli_over_the_pipe_channel_in_a_subprocess(run_dir: Path, recorder: Recorder) -> None:
    xdg = run_dir.parent / "xdg"
    xdg.mkdir(mode=0o700)  # platformdirs ignores an XDG_RUNTIME_DIR that is not 0700
    env = dict(os.environ, XDG_RUNTIME_DIR=str(xdg), LANGUAGE="en", **{BACKEND_ENV: "pipe"})

    def psoas_break(*argv: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "psoas_break", *argv], env=env,
                              capture_output=True, text=True, timeout=60, check=False)

    out = psoas_break("status")
    assert (out.returncode, out.stdout) == (3, ""), out.stderr
    assert out.stderr.count("\n") == 1 and "Traceback" not in out.stderr
    # Where platformdirs puts the runtime dir for this environment on Linux.
    runtime = xdg / "psoas-break"
    with ControlServer(runtime / "control-pipe.sock", recorder,
                       key_file=runtime / "control.key"):
        out = psoas_break("status")
        assert out.returncode == 0, out.stderr
        assert out.stdout.splitlines()[1] == "Sitting for 12 s."
        out = psoas_break("status", "--json")
        assert out.returncode == 0, out.stderr
        assert json.loads(out.stdout) == {"ok": True, "state": "sitting", "sitting_s": 12.0}
        out = psoas_break("snooze", "10")
        assert (out.returncode, out.stderr) == (0, ""), out.stderr
        assert not (runtime / "control.sock").exists()  # the Unix socket channel is unused
    assert recorder.calls == [{"cmd": "status"}, {"cmd": "status"},
                              {"cmd": "snooze", "minutes": 10}]


@pytest.mark.desktop
def test_real_app_over_the_pipe_channel(desktop: DesktopSession) -> None:
    """The real app and CLI with PSOAS_CONTROL_BACKEND=pipe: make_control_server is wired."""
    from tests.app_harness import start_app

    desktop.start_sni_watcher()
    app = start_app(desktop, extra_env={BACKEND_ENV: "pipe"})
    try:
        runtime = app.home / "run" / "psoas-break"
        assert (runtime / "control-pipe.sock").exists()
        assert not (runtime / "control.sock").exists()
        assert stat.S_IMODE((runtime / "control.key").stat().st_mode) == 0o600
        out = app.cli("status", "--json")
        assert out.returncode == 0, out.stderr
        assert json.loads(out.stdout)["state"] == "sitting"
        assert app.cli("break-now").returncode == 0
        app.wait_title("On a break")
        assert app.cli("quit").returncode == 0
        assert app.proc.wait(10) == 0
        assert not (runtime / "control-pipe.sock").exists()
    finally:
        app.stop()
