"""ControlServer over a real Unix socket: round trips, permissions, hostile clients, fuzz."""

from __future__ import annotations

import contextlib
import json
import os
import socket
import stat
import subprocess
import tempfile
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from psoas_break.adapters.control.client import NotRunning, send
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
from psoas_break.core.commands import Command
from psoas_break.ports import AdapterError

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

    def __call__(self, command: Command) -> dict[str, Any]:
        request = request_of(command)  # recorded in the wire form the tests send
        with self.lock:
            self.calls.append(request)
        if request["cmd"] == "break-now":
            self.entered.set()
            self.gate.wait(30)
        if request["cmd"] == "status":
            return ok_reply(state="sitting", sitting_s=12.0)
        return ok_reply(echo=request)


@pytest.fixture
def sock_dir() -> Iterator[Path]:
    # AF_UNIX paths are limited to 108 bytes: pytest's tmp_path can be longer.
    with tempfile.TemporaryDirectory(prefix="pb-") as tmp:
        yield Path(tmp) / "run"


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def server(sock_dir: Path, recorder: Recorder) -> Iterator[ControlServer]:
    srv = ControlServer(sock_dir / "control.sock", recorder, read_timeout_s=1.0)
    srv.start()
    yield srv
    recorder.gate.set()
    srv.close()


def raw_exchange(path: Path, data: bytes, *, half_close: bool = True,
                 timeout_s: float = 10.0) -> bytes:
    """Send raw bytes, read until the server closes; returns what came back (b"" = closed)."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout_s)
    try:
        s.connect(str(path))
        try:
            s.sendall(data)
            if half_close:
                s.shutdown(socket.SHUT_WR)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server closed early (oversized): reading shows what it said
        out = bytearray()
        while True:
            try:
                chunk = s.recv(65536)
            except ConnectionResetError:
                break
            if not chunk:
                break
            out += chunk
        return bytes(out)
    finally:
        s.close()


def status_ok(path: Path) -> None:
    assert send(path, {"cmd": "status"}, timeout_s=10) == {
        "ok": True, "state": "sitting", "sitting_s": 12.0
    }


def test_round_trip_and_permissions(server: ControlServer, recorder: Recorder) -> None:
    status_ok(server.path)
    reply = send(server.path, {"cmd": "snooze", "minutes": 10})
    assert reply == {"ok": True, "echo": {"cmd": "snooze", "minutes": 10}}
    reply = send(server.path, {"cmd": "pause", "until": "tomorrow"})
    assert reply["echo"] == {"cmd": "pause", "until": "tomorrow"}
    assert recorder.calls == [
        {"cmd": "status"}, {"cmd": "snooze", "minutes": 10}, {"cmd": "pause", "until": "tomorrow"}
    ]
    st_sock = os.lstat(server.path)
    assert stat.S_ISSOCK(st_sock.st_mode)
    assert stat.S_IMODE(st_sock.st_mode) == 0o600
    assert stat.S_IMODE(server.path.parent.stat().st_mode) == 0o700
    # No temporary names left behind.
    assert os.listdir(server.path.parent) == ["control.sock"]


def test_invalid_requests_get_one_line_errors_and_never_reach_the_handler(
    server: ControlServer, recorder: Recorder
) -> None:
    for data, message in [
        (b"this is not json\n", "request is not valid JSON"),
        (b'{"cmd": "nap"}\n', "unknown command 'nap'"),
        (b'{"cmd": "pause", "seconds": 5}\n', "pause seconds 5 is not allowed"),
        (b"\n", "request is not valid JSON"),
        (b"\xff\xfe\n", "not UTF-8"),
        (b'{"cmd": "status"}', None),  # no newline, EOF ends the request
    ]:
        reply = raw_exchange(server.path, data)
        assert reply.endswith(b"\n") and reply.count(b"\n") == 1
        obj = json.loads(reply)
        if message is None:
            assert obj["ok"] is True
        else:
            assert obj["ok"] is False and message in obj["error"]
    assert recorder.calls == [{"cmd": "status"}]
    # Only the first line counts: one request per connection.
    reply = raw_exchange(server.path, b'{"cmd": "skip"}\n{"cmd": "quit"}\n')
    assert json.loads(reply) == {"ok": True, "echo": {"cmd": "skip"}}
    assert recorder.calls[-1] == {"cmd": "skip"}
    # An empty connection is just closed.
    assert raw_exchange(server.path, b"") == b""
    status_ok(server.path)


def test_oversized_requests_are_refused(server: ControlServer, recorder: Recorder) -> None:
    for data in [
        b"x" * (MAX_REQUEST_BYTES + 1),
        b'{"cmd": "status", "pad": "' + b"x" * 5000 + b'"}\n',
        b"y" * 1_000_000,
    ]:
        reply = raw_exchange(server.path, data)
        if reply:  # an error reply, unless the close overtook it
            obj = json.loads(reply)
            assert obj == {"ok": False, "error": "request too large: at most 4096 bytes"}
    # Exactly at the limit is fine (the handler sees it; the protocol rejects the padding).
    line = b'{"cmd": "status"}'
    line += b" " * (MAX_REQUEST_BYTES - len(line))
    assert len(line) == MAX_REQUEST_BYTES
    assert json.loads(raw_exchange(server.path, line + b"\n"))["ok"] is True
    assert recorder.calls == [{"cmd": "status"}]
    status_ok(server.path)


def test_slow_clients_are_dropped_without_blocking_others(sock_dir: Path,
                                                          recorder: Recorder) -> None:
    with ControlServer(sock_dir / "control.sock", recorder) as srv:  # the default 2 s
        silent = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        silent.connect(str(srv.path))
        silent.sendall(b'{"cmd":')
        # While it dawdles, others are served.
        status_ok(srv.path)
        status_ok(srv.path)
        silent.setblocking(False)
        with pytest.raises(BlockingIOError):
            silent.recv(1)  # still open: the status answers did not wait for its deadline
        silent.settimeout(15)
        reply = silent.recv(4096)
        silent.close()
        assert json.loads(reply) == {
            "ok": False, "error": "request timed out: send one JSON line within 2 s"
        }
    assert recorder.calls == [{"cmd": "status"}, {"cmd": "status"}]


def test_a_trickling_client_meets_one_deadline(sock_dir: Path, recorder: Recorder) -> None:
    with ControlServer(sock_dir / "control.sock", recorder, read_timeout_s=0.5) as srv:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(str(srv.path))
        s.settimeout(15)
        got = b""
        cut_off = False
        try:
            for ch in b'{"cmd": "status"   ' * 100:  # one byte every 20 ms: never finishes
                s.sendall(bytes([ch]))
                time.sleep(0.02)
        except (BrokenPipeError, ConnectionResetError):
            cut_off = True
        with contextlib.suppress(ConnectionResetError):
            got = s.recv(4096)
        s.close()
        assert cut_off
        assert json.loads(got) == {
            "ok": False, "error": "request timed out: send one JSON line within 0.5 s"
        }
        assert recorder.calls == []
        status_ok(srv.path)


def test_a_slow_handler_blocks_nobody_and_busy_is_refused(sock_dir: Path,
                                                          recorder: Recorder) -> None:
    recorder.gate.clear()
    with ControlServer(sock_dir / "control.sock", recorder, max_clients=2) as srv:
        results: list[dict[str, Any]] = []

        def slow() -> None:
            results.append(send(srv.path, {"cmd": "break-now"}, timeout_s=30))

        first = threading.Thread(target=slow)
        first.start()
        assert recorder.entered.wait(10)
        status_ok(srv.path)  # served while break-now waits in the handler
        wait_for(lambda: srv.active_connections == 1)  # the status worker has finished
        # Fill the second worker with another slow request, then one more is "busy".
        second = threading.Thread(target=slow)
        second.start()
        wait_for(lambda: recorder.calls.count({"cmd": "break-now"}) == 2)
        reply = raw_exchange(srv.path, b'{"cmd": "status"}\n')
        assert json.loads(reply) == {
            "ok": False, "error": "busy: too many control connections; try again"
        }
        assert send(srv.path, {"cmd": "skip"})["error"].startswith("busy")  # via the client
        recorder.gate.set()
        first.join(30)
        second.join(30)
        assert results == [{"ok": True, "echo": {"cmd": "break-now"}}] * 2
        wait_for(lambda: srv.active_connections == 0)
        status_ok(srv.path)
        assert {"cmd": "skip"} not in recorder.calls


def test_idle_connections_never_starve_a_request(sock_dir: Path, recorder: Recorder) -> None:
    """60 connections that send nothing hold no worker: status answers every time (#19)."""
    with ControlServer(sock_dir / "control.sock", recorder, read_timeout_s=60) as srv:
        idle = [socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) for _ in range(60)]
        try:
            for s in idle:
                s.connect(str(srv.path))
            wait_for(lambda: srv.active_connections == 60)
            for _ in range(10):
                status_ok(srv.path)
            wait_for(lambda: srv.active_connections == 60)  # the idle ones wait on, unharmed
            assert threading.active_count() < 10  # and no thread each
        finally:
            for s in idle:
                s.close()
        wait_for(lambda: srv.active_connections == 0)
    # Past max_pending the connection that waited longest makes room for the new one.
    with ControlServer(sock_dir / "control.sock", recorder, read_timeout_s=60,
                       max_pending=4) as srv:
        idle = [socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) for _ in range(6)]
        try:
            for s in idle:
                s.connect(str(srv.path))
            wait_for(lambda: srv.active_connections == 4)
            idle[0].settimeout(10)
            assert idle[0].recv(1) == b""  # the oldest was closed, without a word
            status_ok(srv.path)
        finally:
            for s in idle:
                s.close()


def test_handler_failures_become_error_replies(sock_dir: Path) -> None:
    def handler(command: Command) -> Any:
        request = request_of(command)
        if request["cmd"] == "skip":
            raise RuntimeError("boom")
        if request["cmd"] == "resume":
            return "not a dict"
        if request["cmd"] == "quit":
            return {"ok": True, "x": object()}
        if request["cmd"] == "snooze":
            return error_reply("Nothing to snooze while paused.")
        return ok_reply(state="sitting", sitting_s=12.0)

    with ControlServer(sock_dir / "control.sock", handler) as srv:
        assert send(srv.path, {"cmd": "skip"}) == {
            "ok": False, "error": "internal error in psoas-break (details are in its log)"
        }
        assert send(srv.path, {"cmd": "resume"})["error"] == (
            "internal error in psoas-break (bad reply)"
        )
        assert send(srv.path, {"cmd": "quit"})["error"] == (
            "internal error in psoas-break (reply not JSON)"
        )
        assert send(srv.path, {"cmd": "snooze"}) == {
            "ok": False, "error": "Nothing to snooze while paused."
        }
        status_ok(srv.path)


def test_stale_socket_is_replaced_live_one_is_not(sock_dir: Path, recorder: Recorder) -> None:
    path = sock_dir / "control.sock"
    sock_dir.mkdir(mode=0o700)
    dead = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    dead.bind(str(path))
    dead.close()  # the file stays, nobody listens: what a killed app leaves
    assert stat.S_ISSOCK(os.lstat(path).st_mode)
    with pytest.raises(NotRunning):
        send(path, {"cmd": "status"})
    with ControlServer(path, recorder) as first:
        status_ok(path)
        second = ControlServer(path, Recorder())
        with pytest.raises(AdapterError, match="another psoas-break is answering on"):
            second.start()
        status_ok(path)  # the first one is untouched
        assert first.path == path
    assert not path.exists()


def test_a_regular_file_in_the_way_is_not_clobbered(sock_dir: Path, recorder: Recorder) -> None:
    sock_dir.mkdir(mode=0o700)
    path = sock_dir / "control.sock"
    path.write_text("precious")
    with pytest.raises(AdapterError, match="exists and is not a socket; remove it"):
        ControlServer(path, recorder).start()
    assert path.read_text() == "precious"
    with pytest.raises(NotRunning):
        send(path, {"cmd": "status"})


def test_close_removes_only_its_own_socket(sock_dir: Path) -> None:
    path = sock_dir / "control.sock"
    first = ControlServer(path, Recorder())
    first.start()
    os.unlink(path)  # someone removed it; a second app took the name
    second = ControlServer(path, Recorder())
    second.start()
    first.close()
    assert path.exists()
    status_ok(path)  # still the second one
    second.close()
    assert not path.exists()
    with pytest.raises(NotRunning, match="psoas-break is not running"):
        send(path, {"cmd": "status"})


def test_close_lets_a_reply_in_flight_finish(sock_dir: Path, recorder: Recorder) -> None:
    recorder.gate.clear()
    srv = ControlServer(sock_dir / "control.sock", recorder)
    srv.start()
    results: list[dict[str, Any]] = []
    t = threading.Thread(
        target=lambda: results.append(send(srv.path, {"cmd": "break-now"}, timeout_s=30))
    )
    t.start()
    assert recorder.entered.wait(10)
    threading.Timer(0.3, recorder.gate.set).start()
    srv.close()  # waits (bounded) for the handler, like a "quit" reply before exit
    t.join(30)
    assert results == [{"ok": True, "echo": {"cmd": "break-now"}}]
    assert not srv.path.exists()


def test_not_running_cases(sock_dir: Path) -> None:
    with pytest.raises(NotRunning):
        send(sock_dir / "control.sock", {"cmd": "status"})  # folder missing
    sock_dir.mkdir()
    with pytest.raises(NotRunning):
        send(sock_dir / "control.sock", {"cmd": "status"})  # file missing
    (sock_dir / "plain").write_text("x")
    with pytest.raises(NotRunning):
        send(sock_dir / "plain", {"cmd": "status"})  # not a socket


def test_client_times_out_on_a_mute_server(sock_dir: Path) -> None:
    sock_dir.mkdir()
    path = sock_dir / "control.sock"
    mute = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    mute.bind(str(path))
    mute.listen(1)
    try:
        with pytest.raises(AdapterError, match="did not answer within 0.5 s") as info:
            send(path, {"cmd": "status"}, timeout_s=0.5)
        assert not isinstance(info.value, NotRunning)
    finally:
        mute.close()


@pytest.mark.skipif(os.name != "posix" or os.getuid() != 0, reason="needs root to switch uid")
def test_other_users_are_refused_even_with_open_permissions(
    server: ControlServer, recorder: Recorder
) -> None:
    # Open the door wide on purpose: the peer-credential check must still say no.
    os.chmod(server.path.parent.parent, 0o711)
    os.chmod(server.path.parent, 0o711)
    os.chmod(server.path, 0o666)
    script = textwrap.dedent(
        """
        import socket, sys
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(10)
        s.connect(sys.argv[1])
        try:
            s.sendall(b'{"cmd": "quit"}\\n')
        except (BrokenPipeError, ConnectionResetError):
            pass  # refused before we sent: the reply is still there to read
        print(s.recv(4096).decode(), end="")
        """
    )
    out = subprocess.run(
        ["/usr/bin/python3", "-c", script, str(server.path)], user=65534, group=65534,
        capture_output=True, text=True, timeout=60, check=True,
    )
    assert json.loads(out.stdout) == {
        "ok": False, "error": "refused: this psoas-break belongs to another user"
    }
    assert recorder.calls == []
    status_ok(server.path)


# ---- fuzz: thousands of hostile messages, then the server still answers ----

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


def expected_ok(data: bytes) -> bool | None:
    """What the server must answer for `data` (sent then EOF): True/False, None = no reply."""
    if not data:
        return None
    line = data.split(b"\n", 1)[0] if b"\n" in data else data
    if len(line) > MAX_REQUEST_BYTES:
        return False
    try:
        parse_request(line)
    except ProtocolError:
        return False
    return True


def check_exchange(path: Path, data: bytes, recorder: Recorder) -> None:
    before = len(recorder.calls)
    reply = raw_exchange(path, data)
    want = expected_ok(data)
    if want is None:
        assert reply == b""
        return
    if not reply and len(data) > MAX_REQUEST_BYTES:
        return  # oversized: a close is an allowed answer
    assert reply.endswith(b"\n") and reply.count(b"\n") == 1, reply
    obj = json.loads(reply)
    assert obj["ok"] is want, (data[:200], obj)
    if want:
        line = data.split(b"\n", 1)[0]
        assert recorder.calls[before:] == [request_of(parse_request(line))]
    else:
        assert isinstance(obj["error"], str) and obj["error"]
        assert len(recorder.calls) == before


@pytest.fixture(scope="module")
def fuzz_server() -> Iterator[tuple[ControlServer, Recorder]]:
    with tempfile.TemporaryDirectory(prefix="pb-") as tmp:
        rec = Recorder()
        srv = ControlServer(Path(tmp) / "run" / "control.sock", rec)
        srv.start()
        yield srv, rec
        srv.close()


FUZZ = settings(
    max_examples=1500, deadline=None, database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@FUZZ
@given(data=st.binary(max_size=MAX_REQUEST_BYTES + 200))
def test_fuzz_random_bytes(fuzz_server: tuple[ControlServer, Recorder], data: bytes) -> None:
    srv, rec = fuzz_server
    check_exchange(srv.path, data, rec)


@settings(FUZZ, max_examples=1000)
@given(obj=json_values | near_valid, newline=st.booleans())
def test_fuzz_random_json(
    fuzz_server: tuple[ControlServer, Recorder], obj: Any, newline: bool
) -> None:
    srv, rec = fuzz_server
    data = json.dumps(obj).encode() + (b"\n" if newline else b"")
    check_exchange(srv.path, data, rec)


def test_after_the_fuzz_status_still_answers(
    fuzz_server: tuple[ControlServer, Recorder],
) -> None:
    srv, _rec = fuzz_server
    status_ok(srv.path)
    assert stat.S_IMODE(os.lstat(srv.path).st_mode) == 0o600

