"""KWin fake-input helper process: binds org_kde_kwin_fake_input, moves the pointer on demand.

Run by a *copy* of the interpreter at a path of its own (`wayland_input.trusted_python`): KWin
lets a client bind its restricted globals when a desktop file's Exec names the client's
/proc/PID/exe with X-KDE-Wayland-Interfaces (KWin's own authorisation, as KDE Connect and krfb
use it). /usr/bin/python3.11 is already the Exec of Debian's python3.11.desktop, which KWin may
find first: authorisation then failed every other run.
stdout: "ready" once bound, or "error TEXT"; stdin: "nudge" -> one relative motion, answers "ok".
"""

from __future__ import annotations

import sys
from typing import Any


def main() -> int:
    from pywayland.client.display import Display

    from tests.desktop.wayland_protocols.fake_input import OrgKdeKwinFakeInput

    display = Display()
    display.connect()
    registry = display.get_registry()
    found: dict[str, tuple[int, int]] = {}

    def on_global(_registry: Any, name: int, iface: str, version: int) -> None:
        found.setdefault(iface, (name, version))

    registry.dispatcher["global"] = on_global
    display.roundtrip()
    if "org_kde_kwin_fake_input" not in found:
        print("error org_kde_kwin_fake_input is not offered to this executable", flush=True)
        return 1
    name, version = found["org_kde_kwin_fake_input"]
    fake = registry.bind(name, OrgKdeKwinFakeInput, min(version, 4))
    fake.authenticate("psoas-break tests", "input to test idle detection")
    display.roundtrip()
    print("ready", flush=True)
    for line in sys.stdin:
        if line.strip() == "nudge":
            fake.pointer_motion(3.0, 2.0)
            display.roundtrip()
            print("ok", flush=True)
    display.disconnect()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
