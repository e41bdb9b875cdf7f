"""The app's one D-Bus layer (psoas_break/adapters/dbus.py) against real bus daemons.

Real here: the private session bus of the test desktop, a bus daemon of the test's own that it
stops and starts again (tests/desktop/lone_bus.py), a second process using the layer as a
client, and two independent peers: `dbus-send` and the harness's dbus-fast client.
Tested elsewhere with the layer's users: a hung service (NoReply in time, the connection
survives), Disconnected and reconnect-on-call, a frozen daemon at open
(test_no_dbus_python.py); the watchers (test_session_watch.py); the notifier (test_notify.py).
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from psoas_break.adapters.dbus import (
    ERROR_INVALID_ARGS,
    ERROR_PROPERTY_READ_ONLY,
    ERROR_UNENCODABLE,
    ERROR_UNKNOWN_METHOD,
    ERROR_UNKNOWN_OBJECT,
    ERROR_UNKNOWN_PROPERTY,
    Bus,
    CallFailed,
    Interface,
    Method,
    Property,
    Signal,
    session_bus_address,
)
from psoas_break.ports import AdapterError, DeliveryFailed, Unavailable
from tests.desktop import DesktopSession, LoneBus, wait_for
from tests.desktop.proc_figures import context_switches
from tests.desktop.session import REPO_ROOT

pytestmark = pytest.mark.timeout(60)

SESSION_THREAD = "psoas-dbus-session"
DBUS = ("org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus")
IFACE = "org.example.Psoas"
PATH = "/org/example/Psoas"


def _session_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == SESSION_THREAD]


def _emit_elsewhere(address: str, member: str, *args: str) -> None:
    """Emit IFACE.member from a connection of another process (dbus-send)."""
    subprocess.run(["dbus-send", f"--bus={address}", "--type=signal", PATH,
                    f"{IFACE}.{member}", *args], check=True, timeout=10)


class Recorder:
    """A callback that records what it got and on which thread."""

    def __init__(self) -> None:
        self.got: list[Any] = []
        self.threads: set[str] = set()

    def __call__(self, value: Any) -> None:
        self.threads.add(threading.current_thread().name)
        self.got.append(value.body if isinstance(value, Signal) else value)


# ---- opening ----------------------------------------------------------------------------------


def test_open_needs_a_unix_address_and_never_guesses(tmp_path: Path) -> None:
    assert issubclass(CallFailed, DeliveryFailed) and issubclass(Unavailable, AdapterError)
    with pytest.raises(Unavailable, match="no D-Bus session bus"):
        Bus.open({"DISPLAY": ":0"})  # where libdbus would autolaunch one through X11
    with pytest.raises(Unavailable, match="cannot connect to the session bus"):
        Bus.open({"DBUS_SESSION_BUS_ADDRESS": "tcp:host=localhost,port=1"})
    with pytest.raises(Unavailable, match="cannot connect to the system bus"):
        Bus.open({"DBUS_SYSTEM_BUS_ADDRESS": f"unix:path={tmp_path / 'none'}"}, "system")
    # systemd's per-user bus socket counts when the variable is unset.
    (tmp_path / "bus").touch()
    assert session_bus_address({"XDG_RUNTIME_DIR": str(tmp_path)}) == (
        f"unix:path={tmp_path / 'bus'}")
    assert _session_threads() == []  # failed opens leave no thread behind


def test_handles_share_one_connection_and_its_thread_ends_with_the_last(
    desktop: DesktopSession,
) -> None:
    before = len(_session_threads())
    first = Bus.open(desktop.env)
    second = Bus.open(desktop.env)
    try:
        assert first.unique_name == second.unique_name != ""
        assert len(_session_threads()) == before + 1
        first.close()
        assert second.call(*DBUS, "GetId") == (second.bus_id,)
        with pytest.raises(CallFailed, match="closed"):
            first.call(*DBUS, "GetId")
    finally:
        second.close()
    assert len(_session_threads()) == before  # joined at close: ended promptly


# ---- signals and names ------------------------------------------------------------------------


def test_signals_follow_their_rules_and_stop_after_unsubscribe(desktop: DesktopSession) -> None:
    address = desktop.session_bus_address
    bus = Bus.open(desktop.env)
    anyone, named, tagged = Recorder(), Recorder(), Recorder()
    try:
        anyone_token = bus.subscribe(anyone, interface=IFACE, member="Ping")
        bus.subscribe(named, sender="org.example.Emitter", interface=IFACE, member="Ping")
        bus.subscribe(tagged, interface=IFACE, member="Tagged", arg0="mine")
        bus.request_name("org.example.Emitter")

        bus.emit(PATH, IFACE, "Ping", "i", (7,))  # from the owner of org.example.Emitter
        _emit_elsewhere(address, "Ping", "int32:8")  # from a connection that owns nothing
        _emit_elsewhere(address, "Tagged", "string:other")
        bus.emit(PATH, IFACE, "Tagged", "sv", ("mine", ("as", ["x", "y"])))
        wait_for(lambda: len(anyone.got) == 2 and tagged.got, what="the signals")
        assert anyone.got == [(7,), (8,)]
        assert named.got == [(7,)]  # the bus daemon applied the well-known sender
        assert tagged.got == [("mine", ["x", "y"])]  # arg0 matched; the variant unwrapped
        assert anyone.threads == {SESSION_THREAD}

        bus.unsubscribe(anyone_token)
        bus.emit(PATH, IFACE, "Ping", "i", (9,))
        wait_for(lambda: named.got == [(7,), (9,)], what="the second Ping")
        assert anyone.got == [(7,), (8,)]
    finally:
        bus.close()


def test_watch_name_reports_the_owner_now_and_at_each_change(desktop: DesktopSession) -> None:
    name = "org.gnome.Mutter.IdleMonitor"
    owners = Recorder()
    bus = Bus.open(desktop.env)
    try:
        bus.watch_name(name, owners)
        wait_for(lambda: owners.got == [""], what="the owner now (none)")
        monitor = desktop.start_mutter_idle_monitor()
        first = desktop.bus().get_name_owner(name)
        wait_for(lambda: owners.got[-1] == first, what="the new owner")
        monitor.stop()
        wait_for(lambda: owners.got[-1] == "", what="the owner gone")
        monitor.start()
        second = desktop.bus().get_name_owner(name)
        wait_for(lambda: owners.got[-1] == second != first, what="the next owner")
        assert owners.threads == {SESSION_THREAD}
    finally:
        bus.close()


def test_a_callback_may_call_and_later_signals_wait_their_turn(desktop: DesktopSession) -> None:
    bus = Bus.open(desktop.env)
    events: list[tuple[str, Any]] = []

    def on_ping(signal: Signal) -> None:
        (n,) = signal.body
        events.append(("start", n))
        if n == 1:  # the receiver thread reads the bus itself until the reply comes
            events.append(("reply", bus.call(*DBUS, "GetId")[0]))
        events.append(("end", n))

    try:
        bus.subscribe(on_ping, interface=IFACE, member="Ping")
        bus.emit(PATH, IFACE, "Ping", "i", (1,))
        bus.emit(PATH, IFACE, "Ping", "i", (2,))
        wait_for(lambda: len(events) == 5, what="both signals handled")
        assert events == [("start", 1), ("reply", bus.bus_id), ("end", 1),
                          ("start", 2), ("end", 2)]
    finally:
        bus.close()


# ---- serving ----------------------------------------------------------------------------------

CLIENT = """
import json, os
from psoas_break.adapters.dbus import Bus, CallFailed

NAME, PATH, IFACE = "org.example.Psoas", "/org/example/Psoas", "org.example.Psoas"
PROPS = "org.freedesktop.DBus.Properties"
bus = Bus.open(os.environ)
signals = []
bus.subscribe(lambda s: signals.append(s.body), interface=IFACE, member="Changed")
out = {"add": bus.call(NAME, PATH, IFACE, "Add", "i", (5,)),
       "info": bus.call(NAME, PATH, IFACE, "Info"),
       "get": bus.call(NAME, PATH, PROPS, "Get", "ss", (IFACE, "Count")),
       "all": bus.call(NAME, PATH, PROPS, "GetAll", "s", (IFACE,)),
       "ping": bus.call(NAME, PATH, "org.freedesktop.DBus.Peer", "Ping"),
       "root": bus.call(NAME, "/", "org.freedesktop.DBus.Introspectable", "Introspect")[0],
       "xml": bus.call(NAME, PATH, "org.freedesktop.DBus.Introspectable", "Introspect")[0]}
errors = {}
for label, args in {
    "method": (PATH, IFACE, "NoSuch", "", ()),
    "args": (PATH, IFACE, "Add", "s", ("five",)),
    "set": (PATH, PROPS, "Set", "ssv", (IFACE, "Count", ("i", 1))),
    "property": (PATH, PROPS, "Get", "ss", (IFACE, "NoSuch")),
    "object": ("/elsewhere", IFACE, "Add", "i", (1,)),
    "handler": (PATH, IFACE, "Fail", "", ()),
}.items():
    try:
        bus.call(NAME, *args)
    except CallFailed as exc:
        errors[label] = exc.name
out["errors"] = errors
import time
deadline = time.monotonic() + 10
while not signals and time.monotonic() < deadline:
    time.sleep(0.02)
out["signals"] = signals
bus.close()
print("RESULT=" + json.dumps(out))
"""


def test_an_exported_object_serves_another_process(desktop: DesktopSession) -> None:
    count = {"n": 0}
    handler_threads: set[str] = set()
    bus = Bus.open(desktop.env)

    def add(k: int) -> tuple[int]:
        handler_threads.add(threading.current_thread().name)
        count["n"] += k
        bus.emit(PATH, IFACE, "Changed", "i", (count["n"],))
        return (count["n"],)

    def fail() -> None:
        raise CallFailed("org.example.Psoas.Error.Nope", "refused on purpose")

    psoas = Interface(
        IFACE,
        methods={"Add": Method("i", "i", add),
                 "Info": Method("", "sa{sv}", lambda: ("psoas", {"n": ("i", count["n"]),
                                                                  "tags": ("as", ["a"])})),
                 "Fail": Method("", "", fail)},
        properties={"Count": Property("i", lambda: count["n"]),
                    "Label": Property("s", lambda: "stretch")},
        signals={"Changed": "i"},
    )
    try:
        bus.export(PATH, psoas)
        bus.request_name(IFACE)
        assert desktop.bus().get_name_owner(IFACE) == bus.unique_name
        env = dict(desktop.env, PYTHONPATH=str(REPO_ROOT))
        done = subprocess.run([sys.executable, "-c", CLIENT], env=env, cwd=REPO_ROOT,
                              capture_output=True, text=True, timeout=30)
        assert done.returncode == 0, done.stderr
        (line,) = [ln for ln in done.stdout.splitlines() if ln.startswith("RESULT=")]
        out = json.loads(line.removeprefix("RESULT="))
        assert out["add"] == [5]
        assert out["info"] == ["psoas", {"n": 5, "tags": ["a"]}]  # variants unwrapped
        assert out["get"] == [5]
        assert out["all"] == [{"Count": 5, "Label": "stretch"}]
        assert out["ping"] == []
        assert out["signals"] == [[5]]
        assert out["errors"] == {
            "method": ERROR_UNKNOWN_METHOD, "args": ERROR_INVALID_ARGS,
            "set": ERROR_PROPERTY_READ_ONLY, "property": ERROR_UNKNOWN_PROPERTY,
            "object": ERROR_UNKNOWN_OBJECT, "handler": "org.example.Psoas.Error.Nope",
        }
        assert '<node name="org"/>' in out["root"]
        assert ('<method name="Add"><arg type="i" direction="in"/>'
                '<arg type="i" direction="out"/></method>') in out["xml"]
        assert '<property name="Count" type="i" access="read"/>' in out["xml"]
        assert handler_threads == {SESSION_THREAD}
        # An independent implementation (dbus-fast) reads the same object.
        client = desktop.bus()
        assert client.call(IFACE, PATH, IFACE, "Add", "i", [2]) == [7]
        assert client.get_all_properties(IFACE, PATH, IFACE) == {"Count": 7, "Label": "stretch"}
        bus.unexport(PATH)
        with pytest.raises(CallFailed) as gone:
            bus.call(IFACE, PATH, IFACE, "Add", "i", (1,))
        assert gone.value.name == ERROR_UNKNOWN_OBJECT
    finally:
        bus.close()
    desktop.bus().wait_for_name_gone(IFACE)  # closing released the name


def test_an_answer_that_cannot_be_encoded_is_an_error_and_the_connection_stays(
        desktop: DesktopSession) -> None:
    """A handler of ours answering with the wrong type (or a lone surrogate in a string) is our
    bug: the caller gets an error reply, the connection keeps its unique name and serves on."""
    bus = Bus.open(desktop.env)
    try:
        bus.export(PATH, Interface(IFACE, methods={
            "Wrong": Method("", "s", lambda: (5,)),
            "Surrogate": Method("", "s", lambda: ("bad \udc80",)),
            "Echo": Method("s", "s", lambda s: (s,))}))
        bus.request_name(IFACE)
        before = bus.unique_name
        client = desktop.bus()
        for member in ("Wrong", "Surrogate"):
            with pytest.raises(Exception, match="could not be encoded"):
                client.call(IFACE, PATH, IFACE, member, "", [])
        assert client.call(IFACE, PATH, IFACE, "Echo", "s", ["still here"]) == ["still here"]
        assert bus.unique_name == before
        with pytest.raises(CallFailed) as unencodable:  # our own outgoing call: refused early
            bus.call(IFACE, PATH, IFACE, "Echo", "s", ("bad \udc80",))
        assert unencodable.value.name == ERROR_UNENCODABLE
        assert bus.unique_name == before
    finally:
        bus.close()


# ---- a bus that restarts ----------------------------------------------------------------------


def test_after_the_bus_daemon_restarts_rules_names_and_objects_come_back(
    desktop: DesktopSession, tmp_path: Path
) -> None:
    lone = LoneBus(desktop, tmp_path)
    lone.start()
    name = "org.example.Psoas"
    pings, owners = Recorder(), Recorder()
    bus = Bus.open(lone.env)
    try:
        bus.subscribe(pings, interface=IFACE, member="Ping")
        bus.watch_name(name, owners)
        bus.export(PATH, Interface(IFACE, methods={"Echo": Method("s", "s", lambda s: (s,))}))
        bus.request_name(name)
        assert bus.connected.wait(10)
        first_id, first_name = bus.bus_id, bus.unique_name
        wait_for(lambda: owners.got[-1:] == [first_name], what="our own name watched")

        lone.stop()
        wait_for(lambda: not bus.connected.is_set(), what="the loss noticed")
        lone.start()
        assert bus.connected.wait(15), "no reconnect"
        assert bus.bus_id != first_id  # really the new daemon
        wait_for(lambda: owners.got[-1:] == [bus.unique_name], what="the name owned again")
        _emit_elsewhere(lone.address, "Ping", "int32:1")
        wait_for(lambda: pings.got == [(1,)], what="the rule in place again")
        assert bus.call(name, PATH, IFACE, "Echo", "s", ("back",)) == ("back",)
    finally:
        bus.close()


# ---- what waiting costs -----------------------------------------------------------------------


def test_the_receiver_thread_never_wakes_while_the_bus_is_quiet(
    desktop: DesktopSession,
) -> None:
    before = set(_session_threads())
    bus = Bus.open(desktop.env)
    pings = Recorder()
    try:
        bus.subscribe(pings, interface=IFACE, member="Ping")
        bus.watch_name("org.example.Nobody", lambda _owner: None)
        bus.export(PATH, Interface(IFACE, properties={"N": Property("i", lambda: 1)}))
        assert bus.connected.wait(10)
        (thread,) = set(_session_threads()) - before
        assert thread.native_id is not None
        time.sleep(0.5)  # let the setup replies settle
        start = context_switches(thread.native_id)
        time.sleep(3.0)
        assert context_switches(thread.native_id) == start  # blocked with no timeout: zero wakeups
        # The control: one signal does wake it, and the measure sees that.
        bus.emit(PATH, IFACE, "Ping", "i", (1,))
        wait_for(lambda: pings.got, what="the ping")
        assert context_switches(thread.native_id) > start
    finally:
        started = time.monotonic()
        bus.close()
    assert time.monotonic() - started < 1.0  # stops promptly (interrupted, not timed out)
    assert set(_session_threads()) == before
