"""`psoas-break doctor` on a real test desktop, and on a machine with no desktop at all."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.desktop.session import DesktopSession


def doctor(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "psoas_break", "doctor"], env=env,
                          capture_output=True, text=True, timeout=60, check=False)


def test_doctor_on_a_desktop_names_every_choice(desk: DesktopSession) -> None:
    desk.start_notification_server()
    out = doctor(dict(desk.env))
    assert out.returncode == 0, out.stdout + out.stderr
    lines = out.stdout.splitlines()
    assert "tray: sni" in lines
    assert "  not appindicator: not needed: sni answered first" in lines
    assert "notifier: dbus" in lines
    assert "idle: x11" in lines
    assert any(line.startswith("session: ") and line != "session: none" for line in lines)
    assert any(line.startswith("quiet: ") and "fullscreen-x11" in line for line in lines)
    assert any(line.startswith("speech: ") for line in lines)
    assert "Traceback" not in out.stderr


def test_doctor_without_a_desktop_fails_with_a_fix() -> None:
    env = {k: v for k, v in os.environ.items()
           if k not in ("DISPLAY", "WAYLAND_DISPLAY", "DBUS_SESSION_BUS_ADDRESS")}
    out = doctor(env)
    assert out.returncode == 1
    assert "tray: none" in out.stdout
    assert "  not gtk: no display (DISPLAY is not set)" in out.stdout
    assert "fix:" in out.stdout.splitlines()[-1]
    assert "Traceback" not in out.stderr


def test_doctor_without_a_panel_yet_chooses_sni_and_says_it_waits(desktop: DesktopSession
                                                                  ) -> None:
    """No StatusNotifierWatcher and no XEmbed tray (a session whose panel starts after us, or
    GNOME before its AppIndicator extension is on): sni, which registers once a watcher comes."""
    out = doctor(dict(desktop.env))
    lines = out.stdout.splitlines()
    assert "tray: sni" in lines, out.stdout
    assert any(line.startswith("  note: no panel shows StatusNotifierItems yet") for line in lines)


def test_doctor_with_only_an_xembed_tray_chooses_gtk(desktop: DesktopSession) -> None:
    desktop.start_trayer()
    lines = doctor(dict(desktop.env)).stdout.splitlines()
    assert "tray: gtk" in lines
    assert any(line.startswith("  not sni: no StatusNotifierWatcher") for line in lines)
