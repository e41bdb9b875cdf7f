"""Start a REAL screencast in a running mutter (org.gnome.Mutter.ScreenCast) and hold it.

Run as `python -m tests.desktop.screencast [CONNECTOR]` inside a test desktop (the session bus
from DBUS_SESSION_BUS_ADDRESS). Prints one line: "node <id>" once mutter created the PipeWire
stream (Stream.PipeWireStreamAdded), or "error: <text>". Then it keeps its D-Bus connection
(mutter ends a session when the connection that made it leaves the bus, so a one-shot call
would lose it at once) until stdin closes or SIGTERM arrives, and calls Session.Stop.
This is what a portal does for a browser on GNOME.
"""

from __future__ import annotations

import os
import select
import signal
import sys

from jeepney import DBusAddress, MatchRule, new_method_call
from jeepney.io.blocking import open_dbus_connection

BUS_NAME = "org.gnome.Mutter.ScreenCast"
SC_PATH = "/org/gnome/Mutter/ScreenCast"
SESSION_IFACE = "org.gnome.Mutter.ScreenCast.Session"
STREAM_IFACE = "org.gnome.Mutter.ScreenCast.Stream"


def main() -> int:
    connector = sys.argv[1] if len(sys.argv) > 1 else "Meta-0"
    conn = open_dbus_connection(bus="SESSION")
    try:
        screencast = DBusAddress(SC_PATH, bus_name=BUS_NAME, interface=BUS_NAME)
        (session_path,) = conn.send_and_get_reply(
            new_method_call(screencast, "CreateSession", "a{sv}", ({},)), timeout=10).body
        session = DBusAddress(session_path, bus_name=BUS_NAME, interface=SESSION_IFACE)
        (stream_path,) = conn.send_and_get_reply(
            new_method_call(session, "RecordMonitor", "sa{sv}", (connector, {})),
            timeout=10).body
        rule = MatchRule(type="signal", interface=STREAM_IFACE, member="PipeWireStreamAdded",
                         path=stream_path)
        dbus = DBusAddress("/org/freedesktop/DBus", bus_name="org.freedesktop.DBus",
                           interface="org.freedesktop.DBus")
        conn.send_and_get_reply(new_method_call(dbus, "AddMatch", "s", (rule.serialise(),)),
                                timeout=10)
        with conn.filter(rule) as queue:
            conn.send_and_get_reply(new_method_call(session, "Start"), timeout=10)
            message = conn.recv_until_filtered(queue, timeout=20)
    except Exception as exc:
        print(f"error: {type(exc).__name__}: {exc}", flush=True)
        conn.close()
        return 1
    print(f"node {message.body[0]}", flush=True)

    stop = False

    def on_term(_signum: int, _frame: object) -> None:
        nonlocal stop
        stop = True

    signal.signal(signal.SIGTERM, on_term)
    wake_read, wake_write = os.pipe()
    os.set_blocking(wake_write, False)
    signal.set_wakeup_fd(wake_write)
    while not stop:
        ready, _, _ = select.select([sys.stdin, wake_read], [], [])
        if sys.stdin in ready and not sys.stdin.readline():
            break
    try:
        conn.send_and_get_reply(new_method_call(session, "Stop"), timeout=5)
    finally:
        conn.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
