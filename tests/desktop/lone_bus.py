"""A bus daemon of a test's own, which it can stop and start again on the same socket.

For reconnect tests: the session's own buses must outlive the test (teardown uses them).
`LoneBus(desktop, folder)`; `start()` returns once the daemon accepts connections; `stop()`
ends it (through the session, so teardown's leak check covers it); `proc` is the daemon's
Popen (SIGSTOP it to freeze the bus); `address` and `env` name it to a client.
"""

from __future__ import annotations

import socket
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING

from .waiting import wait_for

if TYPE_CHECKING:
    from .session import DesktopSession

_CONFIG = """<!DOCTYPE busconfig PUBLIC
 "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:path={socket}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
"""


class LoneBus:
    """A restartable private bus daemon (see module docstring)."""

    def __init__(self, desktop: DesktopSession, folder: Path) -> None:
        self.desktop = desktop
        self.socket_path = folder / "bus"
        self.config = folder / "bus.conf"
        self.config.write_text(_CONFIG.format(socket=self.socket_path))
        self.address = f"unix:path={self.socket_path}"
        self.env = {"DBUS_SESSION_BUS_ADDRESS": self.address}
        self.proc: subprocess.Popen[bytes] | None = None

    def _accepts(self) -> bool:
        with socket.socket(socket.AF_UNIX) as probe:
            try:
                probe.connect(str(self.socket_path))
            except OSError:
                return False
        return True

    def start(self) -> None:
        """Start the daemon; returns once it accepts connections."""
        self.socket_path.unlink(missing_ok=True)
        self.proc = self.desktop.spawn(
            ["dbus-daemon", f"--config-file={self.config}", "--nofork", "--nopidfile"],
            name="lone-bus",
        )
        wait_for(self._accepts, timeout_s=10, what="the lone bus to accept connections")

    def stop(self) -> None:
        """Stop the daemon (SIGTERM, then SIGKILL)."""
        assert self.proc is not None
        self.desktop.stop(self.proc)
