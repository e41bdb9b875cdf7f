"""A recording `org.freedesktop.Notifications` server for tests (spec 1.2 plus `Inhibited`).

Server side: `python -m tests.desktop.notifications --record FILE [--mode normal|hang]
[--capabilities a,b,c]` owns org.freedesktop.Notifications at /org/freedesktop/Notifications:
- Notify(susssasa{sv}i) -> u: appends one JSON line to FILE (see `record` below) and returns
  increasing ids (replaces_id of a shown notification is returned unchanged, as the spec says).
  In mode "hang" the call is recorded but never answered: the caller waits for its timeout
  (libdbus default 25 s), as with a wedged real server.
- CloseNotification(u): recorded; emits NotificationClosed(id, 3).
- GetCapabilities() -> as, GetServerInformation() -> ssss.
- property Inhibited (b, read-only, spec 1.2+ "do not disturb"); changes emit PropertiesChanged.
- signals NotificationClosed(uu), ActionInvoked(us).
Private control interface org.psoas_break.Test.Notifications on the same path, for the test:
SetInhibited(b), InvokeAction(u id, s key) (emits ActionInvoked, then NotificationClosed(id, 2)
unless the notification has the "resident" hint), Close(u id, u reason).

A JSON record: {"call": "Notify", "id", "sender", "app_name", "replaces_id", "app_icon",
"summary", "body", "actions": [[key, label], ...], "hints": {...}, "expire_timeout", "t"} or
{"call": "CloseNotification", "id", "sender", "t"}; "t" is when the call came (time.time()).
Image hints (image-data, image_data, icon_data) are summarised as {"width", "height",
"rowstride", "has_alpha", "bits_per_sample", "channels", "bytes", "sha256"}; other byte arrays
as {"bytes", "sha256"}.

Test side: `NotificationServer`, from `DesktopSession.start_notification_server()`.
"""

import argparse
import asyncio
import hashlib
import json
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

from dbus_fast import DBusError, PropertyAccess, Variant
from dbus_fast.aio import MessageBus
from dbus_fast.annotations import (
    DBusBool,
    DBusDict,
    DBusInt32,
    DBusSignature,
    DBusStr,
    DBusUInt32,
)
from dbus_fast.service import ServiceInterface, dbus_method, dbus_property, dbus_signal

from . import _service
from .handle import ServiceHandle
from .waiting import DEFAULT_TIMEOUT_S, wait_for

if TYPE_CHECKING:
    from .bus import SignalRecorder
    from .session import DesktopSession

NOTIFY_NAME = "org.freedesktop.Notifications"
NOTIFY_PATH = "/org/freedesktop/Notifications"
NOTIFY_IFACE = "org.freedesktop.Notifications"
CONTROL_IFACE = f"{_service.CONTROL_PREFIX}.Notifications"

DEFAULT_CAPABILITIES = ("actions", "body", "body-markup", "icon-static", "persistence")
SERVER_INFO = ("psoas-test-notifications", "psoas-break tests", "1.0", "1.2")

StrList = Annotated[list[str], DBusSignature("as")]
ServerInfo = Annotated[tuple[str, str, str, str], DBusSignature("ssss")]
_IMAGE_HINTS = ("image-data", "image_data", "icon_data")

# Reasons of NotificationClosed, from the spec.
REASON_EXPIRED = 1
REASON_DISMISSED = 2
REASON_CLOSED_BY_CALL = 3


def is_stretch_prompt(note: dict[str, Any]) -> bool:
    """A recorded Notify call that is a stretch prompt: it carries the "I'm up" button
    ("break-now"). Titles name the exercise ("Time to stretch: ...", "Time to move: ...")."""
    return any(pair[0] == "break-now" for pair in note.get("actions", []))


def _summarise(key: str, value: Any) -> Any:
    """A JSON-friendly form of one hint value: no raw image bytes in the record."""
    if isinstance(value, Variant):
        value = value.value
    if key in _IMAGE_HINTS and isinstance(value, (list, tuple)) and len(value) == 7:
        width, height, rowstride, has_alpha, bits, channels, data = value
        data = bytes(data)
        return {
            "width": width,
            "height": height,
            "rowstride": rowstride,
            "has_alpha": bool(has_alpha),
            "bits_per_sample": bits,
            "channels": channels,
            "bytes": len(data),
            "sha256": hashlib.sha256(data).hexdigest(),
        }
    if isinstance(value, (bytes, bytearray)):
        return {"bytes": len(value), "sha256": hashlib.sha256(bytes(value)).hexdigest()}
    if isinstance(value, (list, tuple)):
        return [_summarise("", v) for v in value]
    if isinstance(value, dict):
        return {k: _summarise(k, v) for k, v in value.items()}
    return value


class _Notifications(ServiceInterface):
    def __init__(self, bus: MessageBus, record: Path, hang: bool, caps: list[str]) -> None:
        super().__init__(NOTIFY_IFACE)
        self._sender = _service.SenderTracker(bus)
        self._record = record
        self._hang = hang
        self._caps = caps
        self._next_id = 1
        self._shown: dict[int, dict[str, Any]] = {}
        self._inhibited = False
        self._forever: asyncio.Future[None] | None = None

    def _write(self, entry: dict[str, Any]) -> None:
        with self._record.open("a", encoding="utf-8") as fh:
            fh.write(json.dumps(entry, sort_keys=True) + "\n")

    # dbus-fast runs an async method as a task, so "hang" can await forever without blocking
    # the other calls (GetCapabilities keeps answering, as a wedged real server might).
    @dbus_method()
    async def Notify(
        self,
        app_name: DBusStr,
        replaces_id: DBusUInt32,
        app_icon: DBusStr,
        summary: DBusStr,
        body: DBusStr,
        actions: StrList,
        hints: DBusDict,
        expire_timeout: DBusInt32,
    ) -> DBusUInt32:
        sender = self._sender.sender  # read before any await (see SenderTracker)
        if replaces_id and replaces_id in self._shown:
            nid = replaces_id
        else:
            nid = self._next_id
            self._next_id += 1
        entry = {
            "call": "Notify",
            "id": nid,
            "sender": sender,
            "app_name": app_name,
            "replaces_id": replaces_id,
            "app_icon": app_icon,
            "summary": summary,
            "body": body,
            # An odd trailing key without a label is dropped, as real servers do.
            "actions": [list(p) for p in zip(actions[::2], actions[1::2], strict=False)],
            "hints": {k: _summarise(k, v) for k, v in hints.items()},
            "expire_timeout": expire_timeout,
            "t": time.time(),
        }
        self._shown[nid] = entry
        self._write(entry)
        if self._hang:
            self._forever = asyncio.get_running_loop().create_future()
            await self._forever
        return nid

    @dbus_method()
    def CloseNotification(self, nid: DBusUInt32) -> None:
        self._write({"call": "CloseNotification", "id": nid, "sender": self._sender.sender,
                     "t": time.time()})
        if self._shown.pop(nid, None) is not None:
            self.NotificationClosed(nid, REASON_CLOSED_BY_CALL)

    @dbus_method()
    def GetCapabilities(self) -> StrList:
        return list(self._caps)

    @dbus_method()
    def GetServerInformation(self) -> ServerInfo:
        return SERVER_INFO

    @dbus_property(access=PropertyAccess.READ)
    def Inhibited(self) -> DBusBool:
        return self._inhibited

    @dbus_signal()
    def NotificationClosed(
        self, nid: int, reason: int
    ) -> Annotated[tuple[int, int], DBusSignature("uu")]:
        return (nid, reason)

    @dbus_signal()
    def ActionInvoked(
        self, nid: int, key: str
    ) -> Annotated[tuple[int, str], DBusSignature("us")]:
        return (nid, key)

    # -- driven by the control interface --

    def set_inhibited(self, value: bool) -> None:
        if value != self._inhibited:
            self._inhibited = value
            self.emit_properties_changed({"Inhibited": value})

    def invoke_action(self, nid: int, key: str) -> None:
        entry = self._shown.get(nid)
        if entry is None:
            raise DBusError("org.psoas_break.Test.Error.NoSuchNotification", f"no {nid} shown")
        keys = [pair[0] for pair in entry["actions"]]
        if key not in keys:
            raise DBusError(
                "org.psoas_break.Test.Error.NoSuchAction", f"{key!r} not among {keys}"
            )
        self.ActionInvoked(nid, key)
        if not entry["hints"].get("resident"):
            del self._shown[nid]
            self.NotificationClosed(nid, REASON_DISMISSED)

    def close(self, nid: int, reason: int) -> None:
        if self._shown.pop(nid, None) is None:
            raise DBusError("org.psoas_break.Test.Error.NoSuchNotification", f"no {nid} shown")
        self.NotificationClosed(nid, reason)


class _Control(ServiceInterface):
    def __init__(self, server: _Notifications) -> None:
        super().__init__(CONTROL_IFACE)
        self._server = server

    @dbus_method()
    def SetInhibited(self, value: DBusBool) -> None:
        self._server.set_inhibited(value)

    @dbus_method()
    def InvokeAction(self, nid: DBusUInt32, key: DBusStr) -> None:
        self._server.invoke_action(nid, key)

    @dbus_method()
    def Close(self, nid: DBusUInt32, reason: DBusUInt32) -> None:
        self._server.close(nid, reason)


def main(argv: list[str] | None = None) -> None:
    """Entry point of the service subprocess."""
    parser = _service.base_parser("recording org.freedesktop.Notifications for tests")
    parser.add_argument("--record", required=True, type=Path, help="JSON-lines file to append")
    parser.add_argument("--mode", choices=("normal", "hang"), default="normal")
    parser.add_argument("--capabilities", default=",".join(DEFAULT_CAPABILITIES))
    args = parser.parse_args(argv)

    async def setup(bus: MessageBus, args: argparse.Namespace) -> None:
        caps = [c for c in args.capabilities.split(",") if c]
        server = _Notifications(bus, args.record, args.mode == "hang", caps)
        bus.export(NOTIFY_PATH, server)
        bus.export(NOTIFY_PATH, _Control(server))

    _service.run_service(args, setup, [NOTIFY_NAME])


class NotificationServer(ServiceHandle):
    """Test-side handle of the recording notification server."""

    bus_name = NOTIFY_NAME
    module = "tests.desktop.notifications"

    def __init__(
        self,
        desktop: "DesktopSession",
        *,
        mode: str = "normal",
        capabilities: Sequence[str] | None = None,
    ) -> None:
        """A handle (not started yet) recording into a fresh file in the session folder."""
        if mode not in ("normal", "hang"):
            raise ValueError(f"mode must be 'normal' or 'hang', not {mode!r}")
        count = len(list(desktop.root.glob("notifications-*.jsonl")))
        self.record_path: Path = desktop.root / f"notifications-{count}.jsonl"
        self.record_path.touch()
        self.mode = mode
        caps = DEFAULT_CAPABILITIES if capabilities is None else tuple(capabilities)
        args = ["--record", str(self.record_path), "--mode", mode]
        args += ["--capabilities", ",".join(caps)]
        super().__init__(desktop, args)

    def calls(self, call: str | None = "Notify") -> list[dict[str, Any]]:
        """Recorded calls in order; `call=None` returns Notify and CloseNotification alike."""
        lines = self.record_path.read_text(encoding="utf-8").splitlines()
        entries = [json.loads(line) for line in lines if line.strip()]
        return [e for e in entries if call is None or e["call"] == call]

    def wait_for_notification(
        self,
        predicate: Callable[[dict[str, Any]], bool] | None = None,
        timeout_s: float = DEFAULT_TIMEOUT_S,
    ) -> dict[str, Any]:
        """Wait for a recorded Notify matching `predicate` (any if None) and return it."""

        def found() -> dict[str, Any] | None:
            for entry in self.calls("Notify"):
                if predicate is None or predicate(entry):
                    return entry
            return None

        return wait_for(found, timeout_s, what="a recorded Notify call")

    def _control(self, member: str, signature: str, body: list[Any]) -> None:
        self.bus.call(NOTIFY_NAME, NOTIFY_PATH, CONTROL_IFACE, member, signature, body)

    def set_inhibited(self, value: bool) -> None:
        """Set the Inhibited property ("do not disturb"); emits PropertiesChanged."""
        self._control("SetInhibited", "b", [value])

    def invoke_action(self, nid: int, key: str = "default") -> None:
        """Act as if the user clicked action `key` of shown notification `nid`."""
        self._control("InvokeAction", "us", [nid, key])

    def close(self, nid: int, reason: int = REASON_EXPIRED) -> None:
        """Close shown notification `nid` as the server would (emits NotificationClosed)."""
        self._control("Close", "uu", [nid, reason])

    def subscribe(self, member: str | None = None) -> "SignalRecorder":
        """Record the server's signals (NotificationClosed, ActionInvoked) on the test's bus."""
        return self.bus.subscribe(interface=NOTIFY_IFACE, path=NOTIFY_PATH, member=member)


if __name__ == "__main__":
    main()
