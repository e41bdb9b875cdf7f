"""A fake `org.kde.StatusNotifierWatcher` (the registry a tray panel runs), for tests.

Server side: `python -m tests.desktop.sni_watcher [--no-host]` owns org.kde.StatusNotifierWatcher
and exports /StatusNotifierWatcher with:
- RegisterStatusNotifierItem(s): an object path (what libayatana-appindicator sends) is combined
  with the caller's unique name; a bus name gets the default path "/StatusNotifierItem". The
  entry stored is "<bus name><path>", as KDE's watcher stores it. Duplicates are ignored.
- RegisterStatusNotifierHost(s) (recorded; emits StatusNotifierHostRegistered).
- properties RegisteredStatusNotifierItems (as), IsStatusNotifierHostRegistered (b, true unless
  --no-host: then apps like appindicator fall back to XEmbed), ProtocolVersion (i, 0).
- signals StatusNotifierItemRegistered(s) / StatusNotifierItemUnregistered(s).
- an item is dropped (and Unregistered emitted) when its bus name leaves the bus
  (NameOwnerChanged with an empty new owner).

Test side: `SniWatcher`, returned by `DesktopSession.start_sni_watcher()`.

(No `from __future__ import annotations` in the service modules: dbus-fast reads the D-Bus
signatures from the annotations of the ServiceInterface methods.)
"""

import argparse
from typing import TYPE_CHECKING, Annotated

from dbus_fast import Message, PropertyAccess
from dbus_fast.aio import MessageBus
from dbus_fast.annotations import DBusBool, DBusInt32, DBusSignature, DBusStr
from dbus_fast.service import ServiceInterface, dbus_method, dbus_property, dbus_signal

from . import _service
from .handle import ServiceHandle
from .waiting import wait_for

if TYPE_CHECKING:
    from .bus import SignalRecorder

StrList = Annotated[list[str], DBusSignature("as")]

WATCHER_NAME = "org.kde.StatusNotifierWatcher"
WATCHER_PATH = "/StatusNotifierWatcher"
WATCHER_IFACE = "org.kde.StatusNotifierWatcher"


class _Watcher(ServiceInterface):
    def __init__(self, bus: MessageBus, host_registered: bool) -> None:
        super().__init__(WATCHER_IFACE)
        self._sender = _service.SenderTracker(bus)
        self._items: list[str] = []
        self._owner_of: dict[str, str] = {}  # item entry -> bus name whose departure drops it
        self._hosts: list[str] = []
        self._host_registered = host_registered
        bus.add_message_handler(self._on_message)

    def _on_message(self, msg: Message) -> None:
        if (
            msg.member == "NameOwnerChanged"
            and msg.interface == "org.freedesktop.DBus"
            and msg.body
            and msg.body[2] == ""
        ):
            gone = msg.body[0]
            for entry in [e for e, owner in self._owner_of.items() if owner == gone]:
                self._items.remove(entry)
                del self._owner_of[entry]
                self.emit_properties_changed({"RegisteredStatusNotifierItems": self._items})
                self.StatusNotifierItemUnregistered(entry)
            if gone in self._hosts:
                self._hosts.remove(gone)
                self.StatusNotifierHostUnregistered()
        return None

    @dbus_method()
    def RegisterStatusNotifierItem(self, service: DBusStr) -> None:
        sender = self._sender.sender
        if service.startswith("/"):
            name, path = sender, service
        else:
            name, path = service, "/StatusNotifierItem"
        entry = name + path
        if entry in self._items:
            return
        self._items.append(entry)
        self._owner_of[entry] = name
        self.emit_properties_changed({"RegisteredStatusNotifierItems": self._items})
        self.StatusNotifierItemRegistered(entry)

    @dbus_method()
    def RegisterStatusNotifierHost(self, service: DBusStr) -> None:
        self._hosts.append(self._sender.sender)
        self.StatusNotifierHostRegistered()

    @dbus_property(access=PropertyAccess.READ)
    def RegisteredStatusNotifierItems(self) -> StrList:
        return list(self._items)

    @dbus_property(access=PropertyAccess.READ)
    def IsStatusNotifierHostRegistered(self) -> DBusBool:
        return self._host_registered

    @dbus_property(access=PropertyAccess.READ)
    def ProtocolVersion(self) -> DBusInt32:
        return 0

    @dbus_signal()
    def StatusNotifierItemRegistered(self, entry: str) -> DBusStr:
        return entry

    @dbus_signal()
    def StatusNotifierItemUnregistered(self, entry: str) -> DBusStr:
        return entry

    @dbus_signal()
    def StatusNotifierHostRegistered(self) -> None:
        return None

    @dbus_signal()
    def StatusNotifierHostUnregistered(self) -> None:
        return None


def _parser() -> argparse.ArgumentParser:
    parser = _service.base_parser("fake org.kde.StatusNotifierWatcher for tests")
    parser.add_argument(
        "--no-host",
        action="store_true",
        help="report IsStatusNotifierHostRegistered=false (apps then fall back to XEmbed)",
    )
    return parser


def main(argv: list[str] | None = None) -> None:
    """Entry point of the service subprocess."""
    args = _parser().parse_args(argv)

    async def setup(bus: MessageBus, args: argparse.Namespace) -> None:
        bus.export(WATCHER_PATH, _Watcher(bus, host_registered=not args.no_host))
        await _service.add_match(
            bus,
            "type='signal',sender='org.freedesktop.DBus',interface='org.freedesktop.DBus',"
            "member='NameOwnerChanged'",
        )

    _service.run_service(args, setup, [WATCHER_NAME])


class SniWatcher(ServiceHandle):
    """Test-side handle of the fake watcher (see module docstring for the protocol)."""

    bus_name = WATCHER_NAME
    module = "tests.desktop.sni_watcher"

    def items(self) -> list[str]:
        """The RegisteredStatusNotifierItems property: entries "<bus name><object path>"."""
        return list(self.bus.get_property(WATCHER_NAME, WATCHER_PATH, WATCHER_IFACE,
                                          "RegisteredStatusNotifierItems"))

    def wait_for_items(self, count: int = 1, timeout_s: float = 10.0) -> list[str]:
        """Wait until at least `count` items are registered; return them."""

        def enough() -> list[str] | None:
            items = self.items()
            return items if len(items) >= count else None

        return wait_for(
            enough,
            timeout_s,
            what=f"{count} StatusNotifierItem(s) registered with the watcher",
        )

    def subscribe(self, member: str | None = None) -> "SignalRecorder":
        """Record the watcher's signals (e.g. member="StatusNotifierItemUnregistered")."""
        return self.bus.subscribe(interface=WATCHER_IFACE, path=WATCHER_PATH, member=member)


if __name__ == "__main__":
    main()
