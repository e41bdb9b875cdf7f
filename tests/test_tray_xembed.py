"""XEmbed trays (no StatusNotifierWatcher): the gtk backend docked in trayer, and the xorg
backend whose lost clicks pystray 0.19.5 never receives unless the adapter asks for them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PIL import Image

from psoas_break.ui.icon import state_colour
from tests.app_harness import RunningApp, start_app
from tests.desktop.session import DesktopSession
from tests.desktop.waiting import wait_for

pytestmark = pytest.mark.desktop


@pytest.fixture
def xembed_desk(desktop: DesktopSession) -> DesktopSession:
    """No StatusNotifierWatcher, only an XEmbed tray (trayer)."""
    desktop.start_trayer()
    return desktop


def icon_pixels(shot: Path, colour: tuple[int, int, int], tol: int = 16) -> list[tuple[int, int]]:
    with Image.open(shot) as img:
        rgb = img.convert("RGB")
        width, height = rgb.size
        data = rgb.load()
        return [
            (x, y)
            for y in range(height)
            for x in range(width)
            if all(abs(c - e) <= tol for c, e in zip(data[x, y], colour, strict=True))
        ]


def status(app: RunningApp) -> dict[str, object]:
    out = app.cli("status", "--json")
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)  # type: ignore[no-any-return]


def test_gtk_icon_docks_in_trayer_and_is_visible(xembed_desk: DesktopSession,
                                                 tmp_path: Path) -> None:
    app = start_app(xembed_desk)
    try:
        wait_for(lambda: app.cli("status", "--json").returncode == 0, 30, what="app up")
        assert status(app)["tray"] == "gtk"  # no watcher, an XEmbed tray: sni and appindicator wait
        shot = tmp_path / "gtk.png"

        def teal_seen() -> bool:
            xembed_desk.screenshot(shot)
            return len(icon_pixels(shot, state_colour("sitting"))) >= 10

        wait_for(teal_seen, 15, what="the teal icon in the screenshot")
    finally:
        app.stop()


def test_xorg_click_registers(xembed_desk: DesktopSession, tmp_path: Path) -> None:
    app = start_app(xembed_desk, extra_env={"PSOAS_TRAY_BACKEND": "xorg"}, ready=False)
    try:
        try:
            wait_for(lambda: app.cli("status", "--json").returncode == 0, 30, what="app up")
        except AssertionError as exc:
            raise AssertionError(f"{exc}\nlog:\n{app.log()[-5000:]}") from None
        assert status(app)["tray"] == "xorg"
        shot = tmp_path / "xorg.png"
        found: list[tuple[int, int]] = []

        def teal_seen() -> bool:
            xembed_desk.screenshot(shot)
            found[:] = icon_pixels(shot, state_colour("sitting"))
            return len(found) >= 10

        wait_for(teal_seen, 15, what="the xorg icon docked")
        x = sum(p[0] for p in found) // len(found)
        y = sum(p[1] for p in found) // len(found)
        xembed_desk.xdotool("mousemove", str(x), str(y))
        xembed_desk.xdotool("click", "1")
        # Left click = the default item "Take a break now" (xorg has no menu).
        wait_for(lambda: status(app)["state"] == "on_break", 10, what="break started by click")
    finally:
        app.stop()


XORG_PROBE = """
from PIL import Image
from psoas_break.adapters.tray.pystray_tray import _import_pystray

pystray = _import_pystray("xorg")
seen = []


class Probe(pystray.Icon):
    def _mark_ready(self):
        seen.append(hasattr(self, "_thread"))  # what a setup thread starting now would find
        super()._mark_ready()


def setup(icon):
    import threading

    icon.visible = True
    threading.Thread(target=icon.stop).start()


Probe("probe", Image.new("RGBA", (16, 16), (255, 0, 255, 255))).run(setup)
print(seen)
"""


def test_xorg_loop_knows_its_thread_before_the_setup_thread_starts(
        xembed_desk: DesktopSession) -> None:
    """pystray 0.19.5's xorg loop marked the icon ready (starting the setup thread) before it
    recorded its own thread; a setup setting `visible` in that gap died on the missing
    attribute and the app never started (seen once in CI). The moment is probed directly."""
    import subprocess
    import sys

    env = dict(xembed_desk.env, PYTHONPATH=str(Path(__file__).resolve().parents[1]))
    out = subprocess.run([sys.executable, "-c", XORG_PROBE], env=env, capture_output=True,
                         text=True, timeout=60, check=False)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == "[True]", out.stdout + out.stderr[-2000:]
