"""Plumbing shared by the fake D-Bus services in this package (server side only).

Every fake service is a small program run as `python -m tests.desktop.<module> ...` in a
subprocess started by `DesktopSession`. A subprocess (rather than a thread in the test process)
is used because it is what a desktop really has: a separate peer with its own unique name that
can hang, crash, be killed and be restarted, and whose teardown is a plain SIGTERM.

Contract of `run_service`: connect to the bus named by the environment (DBUS_SESSION_BUS_ADDRESS
or DBUS_SYSTEM_BUS_ADDRESS), let the module export its objects, own the well-known names (exit
with status 3 if a name is taken), then serve until SIGTERM/SIGINT or until the bus goes away.
Errors go to stderr, which the session captures into the service's log file.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import signal
import sys
from collections.abc import Awaitable, Callable, Iterable

from dbus_fast import Message, MessageType, NameFlag, RequestNameReply
from dbus_fast.aio import MessageBus

log = logging.getLogger(__name__)

#: Name of the private control interfaces the fake services export next to the real ones, so a
#: test can drive them (set an idle time, emit a signal) the way the real desktop would.
CONTROL_PREFIX = "org.psoas_break.Test"

Setup = Callable[[MessageBus, argparse.Namespace], Awaitable[None]]


class SenderTracker:
    """Remembers the sender of the method call being dispatched right now.

    dbus-fast does not pass the calling message to `ServiceInterface` methods, but it runs user
    message handlers synchronously just before dispatching, so a plain (non-async) method can
    read `tracker.sender` to learn who called it. Not valid inside `async` methods after an await.
    """

    def __init__(self, bus: MessageBus) -> None:
        self.sender = ""
        bus.add_message_handler(self._remember)

    def _remember(self, msg: Message) -> None:
        if msg.message_type is MessageType.METHOD_CALL:
            self.sender = msg.sender or ""
        return None


async def own_names(bus: MessageBus, names: Iterable[str]) -> None:
    """Own every name in `names` or exit with status 3 (the name is already taken)."""
    for name in names:
        reply = await bus.request_name(name, NameFlag.DO_NOT_QUEUE)
        if reply not in (RequestNameReply.PRIMARY_OWNER, RequestNameReply.ALREADY_OWNER):
            log.error("could not own %s: %s", name, reply)
            sys.exit(3)


async def add_match(bus: MessageBus, rule: str) -> None:
    """Ask the bus daemon to route signals matching `rule` to this connection."""
    reply = await bus.call(
        Message(
            destination="org.freedesktop.DBus",
            path="/org/freedesktop/DBus",
            interface="org.freedesktop.DBus",
            member="AddMatch",
            signature="s",
            body=[rule],
        )
    )
    if reply.message_type is MessageType.ERROR:
        raise RuntimeError(f"AddMatch {rule!r} failed: {reply.body}")


def base_parser(description: str) -> argparse.ArgumentParser:
    """An argument parser with the options every fake service accepts."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument(
        "--system", action="store_true", help="serve on DBUS_SYSTEM_BUS_ADDRESS instead"
    )
    return parser


def run_service(
    args: argparse.Namespace,
    setup: Setup,
    names: Iterable[str],
    *,
    negotiate_unix_fd: bool = False,
) -> None:
    """Connect, call `setup(bus, args)` to export objects, own `names`, serve until stopped."""
    logging.basicConfig(
        level=logging.INFO,
        stream=sys.stderr,
        format="%(asctime)s %(name)s %(levelname)s %(message)s",
    )
    var = "DBUS_SYSTEM_BUS_ADDRESS" if args.system else "DBUS_SESSION_BUS_ADDRESS"
    address = os.environ.get(var)
    if not address:
        log.error("%s is not set; a fake service only runs on a private test bus", var)
        sys.exit(2)

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
        bus = await MessageBus(bus_address=address, negotiate_unix_fd=negotiate_unix_fd).connect()
        await setup(bus, args)
        await own_names(bus, names)
        log.info("serving %s on %s as %s", ", ".join(names), var, bus.unique_name)
        stopped = asyncio.ensure_future(stop.wait())
        gone = asyncio.ensure_future(bus.wait_for_disconnect())  # type: ignore[no-untyped-call]
        await asyncio.wait({stopped, gone}, return_when=asyncio.FIRST_COMPLETED)
        for fut in (stopped, gone):
            fut.cancel()
        with contextlib.suppress(Exception):
            bus.disconnect()
        log.info("stopped")

    asyncio.run(main())
