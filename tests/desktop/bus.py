"""A small synchronous D-Bus client for tests, built on dbus-fast.

dbus-fast is asyncio-only, and tests are plain synchronous functions, so a `BusClient` runs one
asyncio loop on a private daemon thread with one connection, and every public method submits a
coroutine to that loop and blocks (with a timeout) for its result. It is safe to use from any
thread. Signals are collected by `SignalRecorder`s, which tests poll with `wait_for`.

Values come back "unwrapped": every `dbus_fast.Variant` (also nested in lists, dicts and
structs) is replaced by its plain Python value, so tests compare with ordinary literals.
To send a variant, pass a `dbus_fast.Variant` yourself.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Callable, Coroutine, Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

from dbus_fast import Message, MessageType, Variant
from dbus_fast.aio import MessageBus

from .waiting import DEFAULT_TIMEOUT_S, wait_for

T = TypeVar("T")

DBUS_NAME = "org.freedesktop.DBus"
DBUS_PATH = "/org/freedesktop/DBus"
PROPERTIES_IFACE = "org.freedesktop.DBus.Properties"


class DBusCallError(Exception):
    """A D-Bus method call was answered with an error reply.

    `name` is the D-Bus error name (e.g. "org.freedesktop.DBus.Error.ServiceUnknown"),
    `text` the error message the peer sent.
    """

    def __init__(self, name: str, text: str) -> None:
        super().__init__(f"{name}: {text}")
        self.name = name
        self.text = text


def unwrap(value: Any) -> Any:
    """Return `value` with every `Variant` replaced by its value, recursively; lists stay lists,
    tuples stay tuples, dicts stay dicts."""
    if isinstance(value, Variant):
        return unwrap(value.value)
    if isinstance(value, list):
        return [unwrap(v) for v in value]
    if isinstance(value, tuple):
        return tuple(unwrap(v) for v in value)
    if isinstance(value, dict):
        return {k: unwrap(v) for k, v in value.items()}
    return value


@dataclass(frozen=True)
class Signal:
    """One received D-Bus signal; `body` is unwrapped (see `unwrap`)."""

    sender: str
    path: str
    interface: str
    member: str
    body: list[Any]


class SignalRecorder:
    """Collects the signals that match one match rule, in arrival order, from the bus thread.

    Contract: `signals` is a snapshot list; `wait(...)` polls until a matching signal arrived
    (also one that arrived before the call) and returns it. Close it (or its BusClient) when done.
    """

    def __init__(
        self,
        client: BusClient,
        rule: str,
        *,
        path: str | None,
        interface: str | None,
        member: str | None,
        sender: str | None,
    ) -> None:
        self._client = client
        self.rule = rule
        self._path = path
        self._interface = interface
        self._member = member
        # A well-known sender name is resolved by the bus daemon (the message carries the
        # unique name), so only a unique name can be filtered again locally.
        self._sender = sender if sender and sender.startswith(":") else None
        self._lock = threading.Lock()
        self._signals: list[Signal] = []
        self.closed = False

    def _accepts(self, msg: Message) -> bool:
        return (
            (self._path is None or msg.path == self._path)
            and (self._interface is None or msg.interface == self._interface)
            and (self._member is None or msg.member == self._member)
            and (self._sender is None or msg.sender == self._sender)
        )

    def _add(self, signal: Signal) -> None:
        with self._lock:
            self._signals.append(signal)

    @property
    def signals(self) -> list[Signal]:
        """All signals recorded so far (a copy)."""
        with self._lock:
            return list(self._signals)

    def clear(self) -> None:
        """Forget the signals recorded so far."""
        with self._lock:
            self._signals.clear()

    def wait(
        self,
        predicate: Callable[[Signal], bool] | None = None,
        timeout_s: float = DEFAULT_TIMEOUT_S,
    ) -> Signal:
        """Return the first recorded signal satisfying `predicate` (any signal if None), waiting
        up to `timeout_s`; raises `WaitTimeout` listing what was recorded instead."""

        def first() -> Signal | None:
            for sig in self.signals:
                if predicate is None or predicate(sig):
                    return sig
            return None

        return wait_for(first, timeout_s, what=f"a signal matching {self.rule!r}")

    def close(self) -> None:
        """Remove the match rule from the bus and stop recording."""
        if not self.closed:
            self.closed = True
            self._client._drop_recorder(self)


class BusClient:
    """A synchronous client connection to one D-Bus bus (see module docstring).

    Contract: constructing it connects (raises on failure within `timeout_s`); `close()`
    disconnects and stops the thread; every call has a timeout and raises `TimeoutError` when
    the peer does not answer in time, `DBusCallError` for an error reply.
    """

    def __init__(self, address: str, *, timeout_s: float = DEFAULT_TIMEOUT_S) -> None:
        self.address = address
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="BusClient", daemon=True
        )
        self._thread.start()
        self._recorders: list[SignalRecorder] = []
        self._lock = threading.Lock()
        self._closed = False
        try:
            self._bus: MessageBus = self._run(self._connect(address), timeout_s)
        except BaseException:
            self._stop_loop()
            raise
        self._bus.add_message_handler(self._on_message)

    # -- plumbing -------------------------------------------------------------------------

    @staticmethod
    async def _connect(address: str) -> MessageBus:
        # MessageBus binds to the running loop when constructed, so build it on the loop thread.
        return await MessageBus(bus_address=address).connect()

    def _run(self, coro: Coroutine[Any, Any, T], timeout_s: float) -> T:
        if self._closed:
            coro.close()
            raise RuntimeError("BusClient is closed")
        fut = asyncio.run_coroutine_threadsafe(asyncio.wait_for(coro, timeout_s), self._loop)
        try:
            # The inner wait_for enforces the timeout; the outer one only guards a wedged loop.
            return fut.result(timeout_s + 5.0)
        except asyncio.TimeoutError as exc:  # also concurrent.futures.TimeoutError on 3.11+
            fut.cancel()
            raise TimeoutError(f"no answer on the bus within {timeout_s:g} s") from exc

    def _on_message(self, msg: Message) -> None:
        if msg.message_type is not MessageType.SIGNAL:
            return None
        with self._lock:
            recorders = list(self._recorders)
        if not recorders:
            return None
        signal = Signal(
            sender=msg.sender or "",
            path=msg.path or "",
            interface=msg.interface or "",
            member=msg.member or "",
            body=unwrap(list(msg.body)),
        )
        for rec in recorders:
            if rec._accepts(msg):
                rec._add(signal)
        return None

    def _stop_loop(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5.0)
        if not self._thread.is_alive():
            self._loop.close()

    # -- public API -----------------------------------------------------------------------

    @property
    def unique_name(self) -> str:
        """This connection's unique bus name (":1.N")."""
        return str(self._bus.unique_name)

    def call(
        self,
        destination: str,
        path: str,
        interface: str,
        member: str,
        signature: str = "",
        body: Iterable[Any] = (),
        *,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        raw: bool = False,
    ) -> list[Any]:
        """Call a method and return the reply's body as a list (unwrapped unless `raw`).

        Raises `DBusCallError` for an error reply, `TimeoutError` after `timeout_s`.
        """
        msg = Message(
            destination=destination,
            path=path,
            interface=interface,
            member=member,
            signature=signature,
            body=list(body),
        )
        reply = self._run(self._bus.call(msg), timeout_s)
        if reply.message_type is MessageType.ERROR:
            text = str(reply.body[0]) if reply.body else ""
            raise DBusCallError(reply.error_name or "unknown", text)
        out = list(reply.body)
        return out if raw else unwrap(out)

    def get_property(
        self, destination: str, path: str, interface: str, name: str, **kw: Any
    ) -> Any:
        """Return one property's (unwrapped) value through org.freedesktop.DBus.Properties."""
        return self.call(
            destination, path, PROPERTIES_IFACE, "Get", "ss", [interface, name], **kw
        )[0]

    def get_all_properties(
        self, destination: str, path: str, interface: str, **kw: Any
    ) -> dict[str, Any]:
        """Return all properties of `interface` as a dict of unwrapped values."""
        return dict(
            self.call(destination, path, PROPERTIES_IFACE, "GetAll", "s", [interface], **kw)[0]
        )

    def set_property(
        self, destination: str, path: str, interface: str, name: str, value: Variant, **kw: Any
    ) -> None:
        """Set one property; `value` must be a `Variant` with the property's signature."""
        self.call(
            destination, path, PROPERTIES_IFACE, "Set", "ssv", [interface, name, value], **kw
        )

    def _dbus(self, member: str, signature: str = "", body: Iterable[Any] = ()) -> Any:
        out = self.call(DBUS_NAME, DBUS_PATH, DBUS_NAME, member, signature, body)
        return out[0] if out else None

    def name_has_owner(self, name: str) -> bool:
        """True when some connection owns `name` now (org.freedesktop.DBus.NameHasOwner)."""
        return bool(self._dbus("NameHasOwner", "s", [name]))

    def get_name_owner(self, name: str) -> str:
        """The unique name owning `name`; DBusCallError NameHasNoOwner when nobody does."""
        return str(self._dbus("GetNameOwner", "s", [name]))

    def list_names(self) -> list[str]:
        """Names currently on the bus (unique and well-known)."""
        return list(self._dbus("ListNames"))

    def list_activatable_names(self) -> list[str]:
        """Names the bus daemon could auto-start (from its service directories)."""
        return list(self._dbus("ListActivatableNames"))

    def connection_pid(self, name: str) -> int:
        """The process id of the connection owning `name`."""
        return int(self._dbus("GetConnectionUnixProcessID", "s", [name]))

    def wait_for_name(self, name: str, timeout_s: float = DEFAULT_TIMEOUT_S) -> None:
        """Wait until `name` has an owner (WaitTimeout otherwise)."""
        wait_for(lambda: self.name_has_owner(name), timeout_s, what=f"{name} on the bus")

    def wait_for_name_gone(self, name: str, timeout_s: float = DEFAULT_TIMEOUT_S) -> None:
        """Wait until `name` has no owner (WaitTimeout otherwise)."""
        wait_for(
            lambda: not self.name_has_owner(name), timeout_s, what=f"{name} to leave the bus"
        )

    def subscribe(
        self,
        *,
        member: str | None = None,
        interface: str | None = None,
        path: str | None = None,
        sender: str | None = None,
    ) -> SignalRecorder:
        """Start recording signals matching the given fields (AddMatch); returns the recorder.

        Signals sent before this call returns are not seen, so subscribe before triggering.
        """
        parts = ["type='signal'"]
        for key, value in (
            ("sender", sender),
            ("interface", interface),
            ("member", member),
            ("path", path),
        ):
            if value is not None:
                parts.append(f"{key}='{value}'")
        rule = ",".join(parts)
        rec = SignalRecorder(
            self, rule, path=path, interface=interface, member=member, sender=sender
        )
        with self._lock:
            self._recorders.append(rec)
        self._dbus("AddMatch", "s", [rule])
        return rec

    def _drop_recorder(self, rec: SignalRecorder) -> None:
        with self._lock:
            if rec in self._recorders:
                self._recorders.remove(rec)
        if not self._closed:
            # The bus may already be gone at teardown; nothing is left to undo then.
            with contextlib.suppress(DBusCallError, TimeoutError, EOFError, OSError):
                self._dbus("RemoveMatch", "s", [rec.rule])

    async def _disconnect(self) -> None:
        # disconnect() only shuts the socket down; the library closes it once its reader sees
        # the end, so wait for that (briefly) before the loop stops.
        self._bus.disconnect()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._bus.wait_for_disconnect(), 2.0)  # type: ignore[no-untyped-call]
        tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def close(self) -> None:
        """Disconnect and stop the client's thread. Idempotent."""
        if self._closed:
            return
        self._closed = True
        fut = asyncio.run_coroutine_threadsafe(self._disconnect(), self._loop)
        with contextlib.suppress(Exception):
            fut.result(5.0)
        self._stop_loop()

    def __enter__(self) -> BusClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
