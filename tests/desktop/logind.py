"""A fake systemd-logind (`org.freedesktop.login1`) on the session's private SYSTEM bus.

Server side: `python -m tests.desktop.logind --system` owns org.freedesktop.login1 and exports:
- /org/freedesktop/login1, interface org.freedesktop.login1.Manager:
  GetSession(s id) -> o (the id "1" or "auto"; else NoSuchSession), GetSessionByPID(u) -> o
  (every pid belongs to session "1"), ListSessions() -> a(susso), LockSession(s),
  UnlockSession(s), LockSessions(), UnlockSessions(), Inhibit(ssss what,who,why,mode) -> h
  (a real file descriptor: the lock is held until every copy of it is closed, as in logind);
  properties PreparingForSleep (b), PreparingForShutdown (b), IdleHint (b);
  signals PrepareForSleep(b), PrepareForShutdown(b).
- /org/freedesktop/login1/session/_31 (and .../session/auto), interface
  org.freedesktop.login1.Session: properties Id "1", Name, Type "x11", Class "user",
  Active, LockedHint, IdleHint (changes emit PropertiesChanged); methods Lock(), Unlock(),
  Activate(), SetLockedHint(b), SetIdleHint(b); signals Lock, Unlock (logind emits them to ask
  the session's screen locker to lock/unlock).
Control interface org.psoas_break.Test.Logind on /org/freedesktop/login1, for the test:
PrepareForSleep(b), PrepareForShutdown(b), EmitLock(), EmitUnlock(), GetInhibitors() ->
a(sssssb) (what, who, why, mode, sender, still held).

The session's environment exports XDG_SESSION_ID=1 to match. Test side: `Logind`, from
`DesktopSession.start_logind()`.
"""

import argparse
import asyncio
import getpass
import os
from typing import TYPE_CHECKING, Annotated, Any

from dbus_fast import DBusError, Message, MessageType, PropertyAccess
from dbus_fast.aio import MessageBus
from dbus_fast.annotations import DBusBool, DBusObjectPath, DBusSignature, DBusStr, DBusUInt32
from dbus_fast.service import ServiceInterface, dbus_method, dbus_property, dbus_signal

from . import _service
from .handle import ServiceHandle

if TYPE_CHECKING:
    from .bus import SignalRecorder

LOGIN1_NAME = "org.freedesktop.login1"
MANAGER_PATH = "/org/freedesktop/login1"
MANAGER_IFACE = "org.freedesktop.login1.Manager"
SESSION_IFACE = "org.freedesktop.login1.Session"
SESSION_ID = "1"
SESSION_PATH = "/org/freedesktop/login1/session/_31"  # "1" escaped as logind does
SESSION_AUTO_PATH = "/org/freedesktop/login1/session/auto"
CONTROL_IFACE = f"{_service.CONTROL_PREFIX}.Logind"

SessionList = Annotated[list[tuple[str, int, str, str, str]], DBusSignature("a(susso)")]
InhibitorList = Annotated[list[tuple[str, str, str, str, str, bool]], DBusSignature("a(sssssb)")]


class _SessionState:
    def __init__(self, user: str) -> None:
        self.user = user
        self.locked = False
        self.idle = False


class _Session(ServiceInterface):
    """The session object; exported at its real path and, as a second instance sharing the
    state, at .../session/auto. Only the real-path instance (`primary`) emits signals."""

    def __init__(self, state: _SessionState, primary: "_Session | None" = None) -> None:
        super().__init__(SESSION_IFACE)
        self.state = state
        self._primary = primary or self

    @dbus_property(access=PropertyAccess.READ)
    def Id(self) -> DBusStr:
        return SESSION_ID

    @dbus_property(access=PropertyAccess.READ)
    def Name(self) -> DBusStr:
        return self.state.user

    @dbus_property(access=PropertyAccess.READ)
    def Type(self) -> DBusStr:
        return "x11"

    @dbus_property(access=PropertyAccess.READ)
    def Class(self) -> DBusStr:
        return "user"

    @dbus_property(access=PropertyAccess.READ)
    def Active(self) -> DBusBool:
        return True

    @dbus_property(access=PropertyAccess.READ)
    def LockedHint(self) -> DBusBool:
        return self.state.locked

    @dbus_property(access=PropertyAccess.READ)
    def IdleHint(self) -> DBusBool:
        return self.state.idle

    @dbus_method()
    def Lock(self) -> None:
        self._primary.Lock_()

    @dbus_method()
    def Unlock(self) -> None:
        self._primary.Unlock_()

    @dbus_method()
    def Activate(self) -> None:
        return None

    @dbus_method()
    def SetLockedHint(self, value: DBusBool) -> None:
        if value != self.state.locked:
            self.state.locked = value
            self._primary.emit_properties_changed({"LockedHint": value})

    @dbus_method()
    def SetIdleHint(self, value: DBusBool) -> None:
        if value != self.state.idle:
            self.state.idle = value
            self._primary.emit_properties_changed({"IdleHint": value})

    # The signals share their names with the methods above: dbus-fast names members after the
    # Python function unless told otherwise.
    @dbus_signal(name="Lock")
    def Lock_(self) -> None:
        return None

    @dbus_signal(name="Unlock")
    def Unlock_(self) -> None:
        return None


class _Manager(ServiceInterface):
    def __init__(self, session: _Session) -> None:
        super().__init__(MANAGER_IFACE)
        self._session = session
        self._sleeping = False
        self._shutting_down = False

    def prepare_for_sleep(self, value: bool) -> None:
        self._sleeping = value
        self.emit_properties_changed({"PreparingForSleep": value})
        self.PrepareForSleep(value)

    def prepare_for_shutdown(self, value: bool) -> None:
        self._shutting_down = value
        self.emit_properties_changed({"PreparingForShutdown": value})
        self.PrepareForShutdown(value)

    @dbus_method()
    def GetSession(self, session_id: DBusStr) -> DBusObjectPath:
        if session_id in (SESSION_ID, "auto", ""):
            return SESSION_PATH
        raise DBusError("org.freedesktop.login1.NoSuchSession", f"No session '{session_id}'")

    @dbus_method()
    def GetSessionByPID(self, pid: DBusUInt32) -> DBusObjectPath:
        return SESSION_PATH

    @dbus_method()
    def ListSessions(self) -> SessionList:
        return [(SESSION_ID, os.getuid(), self._session.state.user, "seat0", SESSION_PATH)]

    @dbus_method()
    def LockSession(self, session_id: DBusStr) -> None:
        self.GetSession(session_id)
        self._session.Lock_()

    @dbus_method()
    def UnlockSession(self, session_id: DBusStr) -> None:
        self.GetSession(session_id)
        self._session.Unlock_()

    @dbus_method()
    def LockSessions(self) -> None:
        self._session.Lock_()

    @dbus_method()
    def UnlockSessions(self) -> None:
        self._session.Unlock_()

    @dbus_property(access=PropertyAccess.READ)
    def PreparingForSleep(self) -> DBusBool:
        return self._sleeping

    @dbus_property(access=PropertyAccess.READ)
    def PreparingForShutdown(self) -> DBusBool:
        return self._shutting_down

    @dbus_property(access=PropertyAccess.READ)
    def IdleHint(self) -> DBusBool:
        return False

    @dbus_signal()
    def PrepareForSleep(self, value: bool) -> DBusBool:
        return value

    @dbus_signal()
    def PrepareForShutdown(self, value: bool) -> DBusBool:
        return value


class _Inhibitors:
    """Manager.Inhibit, done at the message level: dbus-fast's method dispatch cannot tell when
    a passed file descriptor has been sent, and our copy must be closed right after that."""

    def __init__(self, bus: MessageBus) -> None:
        self._bus = bus
        # [what, who, why, mode, sender, held]
        self.entries: list[list[Any]] = []
        bus.add_message_handler(self._handle)

    def _handle(self, msg: Message) -> bool | None:
        if not (
            msg.message_type is MessageType.METHOD_CALL
            and msg.member == "Inhibit"
            and msg.interface == MANAGER_IFACE
            and msg.path == MANAGER_PATH
        ):
            return None
        what, who, why, mode = msg.body
        read_fd, write_fd = os.pipe()
        entry = [what, who, why, mode, msg.sender or "", True]
        self.entries.append(entry)
        loop = asyncio.get_running_loop()

        def released() -> None:
            # EOF on our end: the client closed every copy of the descriptor.
            if not os.read(read_fd, 1):
                entry[5] = False
                loop.remove_reader(read_fd)
                os.close(read_fd)

        loop.add_reader(read_fd, released)
        reply = Message.new_method_return(msg, "h", [0], unix_fds=[write_fd])
        sent = self._bus.send(reply)
        sent.add_done_callback(lambda _: os.close(write_fd))
        return True


class _Control(ServiceInterface):
    def __init__(self, manager: _Manager, session: _Session, inhibitors: _Inhibitors) -> None:
        super().__init__(CONTROL_IFACE)
        self._manager = manager
        self._session = session
        self._inhibitors = inhibitors

    @dbus_method()
    def PrepareForSleep(self, value: DBusBool) -> None:
        self._manager.prepare_for_sleep(value)

    @dbus_method()
    def PrepareForShutdown(self, value: DBusBool) -> None:
        self._manager.prepare_for_shutdown(value)

    @dbus_method()
    def EmitLock(self) -> None:
        self._session.Lock_()

    @dbus_method()
    def EmitUnlock(self) -> None:
        self._session.Unlock_()

    @dbus_method()
    def GetInhibitors(self) -> InhibitorList:
        return [tuple(e) for e in self._inhibitors.entries]


def main(argv: list[str] | None = None) -> None:
    """Entry point of the service subprocess."""
    parser = _service.base_parser("fake org.freedesktop.login1 for tests")
    args = parser.parse_args(argv)

    async def setup(bus: MessageBus, args: argparse.Namespace) -> None:
        session = _Session(_SessionState(getpass.getuser()))
        manager = _Manager(session)
        inhibitors = _Inhibitors(bus)
        bus.export(MANAGER_PATH, manager)
        bus.export(MANAGER_PATH, _Control(manager, session, inhibitors))
        bus.export(SESSION_PATH, session)
        bus.export(SESSION_AUTO_PATH, _Session(session.state, primary=session))

    _service.run_service(args, setup, [LOGIN1_NAME], negotiate_unix_fd=True)


class Logind(ServiceHandle):
    """Test-side handle of the fake logind (on the session's private system bus)."""

    bus_name = LOGIN1_NAME
    module = "tests.desktop.logind"
    system = True

    def _control(self, member: str, signature: str = "", body: list[Any] | None = None) -> Any:
        out = self.bus.call(LOGIN1_NAME, MANAGER_PATH, CONTROL_IFACE, member, signature,
                            body or [])
        return out[0] if out else None

    def prepare_for_sleep(self, value: bool) -> None:
        """Emit PrepareForSleep(value): True just before suspend, False right after resume."""
        self._control("PrepareForSleep", "b", [value])

    def prepare_for_shutdown(self, value: bool) -> None:
        """Emit PrepareForShutdown(value)."""
        self._control("PrepareForShutdown", "b", [value])

    def lock(self) -> None:
        """Emit Session.Lock (logind asking the session to lock its screen)."""
        self._control("EmitLock")

    def unlock(self) -> None:
        """Emit Session.Unlock."""
        self._control("EmitUnlock")

    def inhibitors(self) -> list[dict[str, Any]]:
        """Inhibit() calls so far: dicts with what, who, why, mode, sender, held."""
        keys = ("what", "who", "why", "mode", "sender", "held")
        return [dict(zip(keys, row, strict=True)) for row in self._control("GetInhibitors")]

    def subscribe(self, member: str | None = None) -> "SignalRecorder":
        """Record Manager signals (PrepareForSleep, PrepareForShutdown) on the system bus."""
        return self.bus.subscribe(interface=MANAGER_IFACE, path=MANAGER_PATH, member=member)

    def subscribe_session(self, member: str | None = None) -> "SignalRecorder":
        """Record Session signals (Lock, Unlock, PropertiesChanged is separate)."""
        return self.bus.subscribe(interface=SESSION_IFACE, path=SESSION_PATH, member=member)


if __name__ == "__main__":
    main()
