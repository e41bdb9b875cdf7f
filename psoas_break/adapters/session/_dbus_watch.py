"""Base of the D-Bus signal watchers: one daemon thread, its own asyncio loop, dbus-fast.

Why a thread with its own loop: the tray's GTK main loop owns the main thread, and the engine
thread must never wait on the bus. The thread sleeps in epoll between signals (no polling).

Resilience: if the bus connection cannot be made or drops, the thread retries with a
backoff (1 s doubling to 60 s) until stopped; a peer service that leaves and comes back needs
nothing (match rules that name a well-known sender follow its current owner), and subclasses
get `on_name_owner(name, new_owner)` to refresh what they derived from the old one.

Contract for subclasses: `match_rules()` (strings for AddMatch), `watched_names()` (names
whose NameOwnerChanged to report), `on_connected(bus)` (async, after the rules are added),
`handle(msg)` (sync, every signal). Callbacks run on the watcher thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Callable

from dbus_fast import BusType, Message, MessageType
from dbus_fast.aio import MessageBus

log = logging.getLogger(__name__)

DBUS_NAME = "org.freedesktop.DBus"
DBUS_PATH = "/org/freedesktop/DBus"
CALL_TIMEOUT_S = 2.0
BACKOFF_FIRST_S = 1.0
BACKOFF_MAX_S = 60.0

LockCallback = Callable[[bool], None]
SleepCallback = Callable[[bool], None]


def _noop(_value: bool) -> None:
    return None


async def call(bus: MessageBus, msg: Message, timeout_s: float = CALL_TIMEOUT_S) -> Message:
    """Send a method call and return its reply (raises TimeoutError)."""
    reply = await asyncio.wait_for(bus.call(msg), timeout_s)
    assert reply is not None
    return reply


class DBusSignalWatcher:
    """A SessionWatcher skeleton over one bus (see module docstring)."""

    name = "dbus"
    bus_type = BusType.SESSION

    def __init__(self, address: str) -> None:
        self.address = address
        self.on_lock: LockCallback = _noop
        self.on_sleep: SleepCallback = _noop
        self.connected = threading.Event()
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._ready = threading.Event()
        self._bus: MessageBus | None = None

    # -- subclass hooks ----------------------------------------------------------------------

    def match_rules(self) -> list[str]:
        return []

    def watched_names(self) -> tuple[str, ...]:
        return ()

    async def on_connected(self, bus: MessageBus) -> None:
        return None

    def on_name_owner(self, name: str, new_owner: str) -> None:
        return None

    def handle(self, msg: Message) -> None:
        return None

    # -- helpers for subclasses ------------------------------------------------------------

    def emit_lock(self, locked: bool) -> None:
        try:
            self.on_lock(locked)
        except Exception:
            log.exception("%s: the lock callback failed", self.name)

    def emit_sleep(self, sleeping: bool) -> None:
        try:
            self.on_sleep(sleeping)
        except Exception:
            log.exception("%s: the sleep callback failed", self.name)

    def spawn(self, coro_factory: Callable[[], object]) -> None:
        """Run a coroutine on the watcher loop (from the loop thread), logging its failure."""
        loop = self._loop
        if loop is None:
            return

        async def guarded() -> None:
            try:
                await coro_factory()  # type: ignore[misc]
            except Exception:
                log.debug("%s: background task failed", self.name, exc_info=True)

        loop.create_task(guarded())

    # -- SessionWatcher ----------------------------------------------------------------------

    def start(self, on_lock: LockCallback, on_sleep: SleepCallback) -> None:
        """Start listening on a daemon thread; callbacks run on that thread."""
        if self._thread is not None:
            raise RuntimeError(f"{self.name} watcher already started")
        self.on_lock = on_lock
        self.on_sleep = on_sleep
        self._thread = threading.Thread(
            target=self._run, name=f"psoas-{self.name}-watch", daemon=True
        )
        self._thread.start()
        self._ready.wait(5.0)

    def stop(self) -> None:
        """Stop listening and join the thread (at most a few seconds). Idempotent."""
        thread, loop, stop = self._thread, self._loop, self._stop
        if thread is None or loop is None or stop is None:
            return
        with contextlib.suppress(RuntimeError):  # loop already closed
            loop.call_soon_threadsafe(stop.set)
        thread.join(5.0)
        if thread.is_alive():
            log.warning("%s watcher thread did not stop in time", self.name)
        self._thread = None

    # -- the thread --------------------------------------------------------------------------

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            loop.run_until_complete(self._main())
        except Exception:
            log.exception("%s watcher stopped by an error", self.name)
        finally:
            with contextlib.suppress(Exception):
                loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()
            self.connected.clear()

    async def _main(self) -> None:
        self._stop = asyncio.Event()
        self._ready.set()
        backoff_s = BACKOFF_FIRST_S
        warned = False
        while not self._stop.is_set():
            try:
                bus = await asyncio.wait_for(
                    MessageBus(bus_address=self.address, bus_type=self.bus_type).connect(),
                    CALL_TIMEOUT_S * 2,
                )
            except Exception as exc:
                level = logging.DEBUG if warned else logging.WARNING
                log.log(level, "%s: cannot connect to %s (%s); retrying", self.name,
                        self.address, exc)
                warned = True
                await self._sleep(backoff_s)
                backoff_s = min(BACKOFF_MAX_S, backoff_s * 2)
                continue
            warned = False
            backoff_s = BACKOFF_FIRST_S
            self._bus = bus
            try:
                await self._serve(bus)
            finally:
                self._bus = None
                self.connected.clear()
                with contextlib.suppress(Exception):
                    bus.disconnect()
            if not self._stop.is_set():
                log.warning("%s: lost the bus connection; reconnecting", self.name)
                await self._sleep(backoff_s)

    async def _sleep(self, seconds: float) -> None:
        assert self._stop is not None
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self._stop.wait(), seconds)

    async def _serve(self, bus: MessageBus) -> None:
        assert self._stop is not None
        bus.add_message_handler(self._dispatch)
        rules = list(self.match_rules())
        for name in self.watched_names():
            rules.append(
                f"type='signal',sender='{DBUS_NAME}',interface='{DBUS_NAME}',"
                f"member='NameOwnerChanged',arg0='{name}'"
            )
        try:
            for rule in rules:
                await self.add_match(bus, rule)
            await self.on_connected(bus)
        except Exception as exc:
            log.warning("%s: setting up the signal watch failed (%s)", self.name, exc)
            return
        self.connected.set()
        stopped = asyncio.ensure_future(self._stop.wait())
        gone = asyncio.ensure_future(bus.wait_for_disconnect())
        await asyncio.wait({stopped, gone}, return_when=asyncio.FIRST_COMPLETED)
        for fut in (stopped, gone):
            fut.cancel()
        with contextlib.suppress(BaseException):
            await gone  # consume the disconnect error, if any

    @staticmethod
    async def add_match(bus: MessageBus, rule: str) -> None:
        reply = await call(bus, Message(
            destination=DBUS_NAME, path=DBUS_PATH, interface=DBUS_NAME,
            member="AddMatch", signature="s", body=[rule],
        ))
        if reply.message_type is MessageType.ERROR:
            raise RuntimeError(f"AddMatch {rule!r} failed: {reply.body}")

    @staticmethod
    async def remove_match(bus: MessageBus, rule: str) -> None:
        with contextlib.suppress(Exception):
            await call(bus, Message(
                destination=DBUS_NAME, path=DBUS_PATH, interface=DBUS_NAME,
                member="RemoveMatch", signature="s", body=[rule],
            ))

    def _dispatch(self, msg: Message) -> None:
        if msg.message_type is not MessageType.SIGNAL:
            return None
        try:
            if (
                msg.member == "NameOwnerChanged"
                and msg.interface == DBUS_NAME
                and msg.body
                and msg.body[0] in self.watched_names()
            ):
                self.on_name_owner(str(msg.body[0]), str(msg.body[2]))
            else:
                self.handle(msg)
        except Exception:
            log.exception("%s: handling %s.%s failed", self.name, msg.interface, msg.member)
        return None
