"""Test-side handle of one fake D-Bus service subprocess (base class of every service handle).

A handle knows how to start its service module in a `DesktopSession`, waits until the service
owns its bus name (checked with NameHasOwner and the owner's process id, so a stale owner never
counts), stops it (SIGTERM, then waits until the name left the bus) and restarts it.
"""

from __future__ import annotations

import subprocess
import sys
from typing import TYPE_CHECKING, ClassVar, TypeVar

from .bus import DBusCallError
from .waiting import DEFAULT_TIMEOUT_S, wait_for

if TYPE_CHECKING:
    from .bus import BusClient
    from .session import DesktopSession


H = TypeVar("H", bound="ServiceHandle")


class ServiceStartError(RuntimeError):
    """A fake service exited or never owned its name; the message includes its log."""


class ServiceHandle:
    """Base class: subclasses set `bus_name`, `module` (run with `python -m`) and `system`."""

    bus_name: ClassVar[str]
    module: ClassVar[str]
    #: True for services on the private "system" bus (DBUS_SYSTEM_BUS_ADDRESS), e.g. logind.
    system: ClassVar[bool] = False

    def __init__(self, desktop: DesktopSession, args: list[str] | None = None) -> None:
        self.desktop = desktop
        self.args = list(args or [])
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def bus(self) -> BusClient:
        """The session's shared client on the bus this service lives on."""
        return self.desktop.system_bus() if self.system else self.desktop.bus()

    @property
    def pid(self) -> int:
        """Process id of the running service."""
        if self.proc is None:
            raise RuntimeError(f"{self.module} is not started")
        return self.proc.pid

    def log_text(self) -> str:
        """What the service wrote to stdout/stderr so far."""
        return self.desktop.log_text(self.proc) if self.proc else ""

    def start(self: H, timeout_s: float = DEFAULT_TIMEOUT_S) -> H:
        """Spawn the service and wait until it owns `bus_name`; returns self.

        Raises ServiceStartError (with the service's log) if it exits or times out first.
        """
        if self.proc is not None and self.proc.poll() is None:
            raise RuntimeError(f"{self.module} is already running (pid {self.proc.pid})")
        argv = [sys.executable, "-m", self.module, *self.args]
        if self.system:
            argv.append("--system")
        proc = self.desktop.spawn(argv, name=self.module.rsplit(".", 1)[-1], service=True)
        self.proc = proc

        def owned_by_proc() -> bool:
            if proc.poll() is not None:
                raise ServiceStartError(
                    f"{self.module} exited with status {proc.returncode} before owning "
                    f"{self.bus_name}; its log:\n{self.log_text()}"
                )
            try:
                return self.bus.connection_pid(self.bus_name) == proc.pid
            except DBusCallError:  # NameHasNoOwner: not yet
                return False

        try:
            wait_for(owned_by_proc, timeout_s, what=f"{self.module} to own {self.bus_name}")
        except AssertionError as exc:
            raise ServiceStartError(f"{exc}; its log:\n{self.log_text()}") from None
        return self

    def stop(self, timeout_s: float = 3.0) -> None:
        """SIGTERM the service (SIGKILL after `timeout_s`) and wait until its name is gone."""
        if self.proc is None:
            return
        self.desktop.stop(self.proc, timeout_s=timeout_s)
        self.bus.wait_for_name_gone(self.bus_name)

    def restart(self: H) -> H:
        """Stop, then start again with the same arguments (a fresh process and unique name)."""
        self.stop()
        return self.start()

    @property
    def running(self) -> bool:
        """True while the service process is alive."""
        return self.proc is not None and self.proc.poll() is None
