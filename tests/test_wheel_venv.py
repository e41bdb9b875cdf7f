"""Installed as a Python user installs it: the wheel built from this repository, with its
dependencies from PyPI (wheels only), into a plain virtual environment without system
site-packages (as pipx makes one: no Debian python3-gi). Started on a test desktop with a
StatusNotifierWatcher, the tray icon and its whole menu are there, through the sni backend.

Real: pip, the wheel, a venv of Debian's /usr/bin/python3, the app's process. Needs PyPI (or
pip's cache) for the dependencies; about 20 s.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.app_harness import app_env
from tests.desktop import DesktopSession, wait_for

pytestmark = [pytest.mark.desktop, pytest.mark.timeout(600)]

REPO = Path(__file__).resolve().parents[1]
BASE_PYTHON = "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else sys.executable


def run(argv: list[str], **kw: object) -> subprocess.CompletedProcess[str]:
    out = subprocess.run(argv, capture_output=True, text=True, timeout=300, check=False,
                         **kw)  # type: ignore[call-overload]
    assert out.returncode == 0, f"{argv}: {out.stdout[-2000:]}{out.stderr[-3000:]}"
    return out  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def venv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    root = tmp_path_factory.mktemp("wheel")
    run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(root / "dist"),
         str(REPO)])
    (wheel,) = (root / "dist").glob("psoas_break-*.whl")
    env_dir = root / "venv"
    run([BASE_PYTHON, "-m", "venv", str(env_dir)])  # no --system-site-packages
    run([str(env_dir / "bin" / "python"), "-m", "pip", "install", "-q",
         "--disable-pip-version-check", "--only-binary", ":all:", str(wheel)])
    yield env_dir


def clean_env(desktop: DesktopSession, home: Path) -> dict[str, str]:
    env = app_env(desktop, home, {"PSOAS_SECONDS_PER_MINUTE": "60"})
    env.pop("PYTHONPATH")  # the installed wheel, not this checkout
    return env


def test_the_venv_sees_no_system_packages_and_no_gtk(venv: Path) -> None:
    code = ("import importlib.util, json, sys; print(json.dumps({m: importlib.util.find_spec(m)"
            " is not None for m in ('gi', 'psoas_break', 'jeepney', 'pystray')} | "
            "{'prefix': sys.prefix != sys.base_prefix}))")
    found = json.loads(run([str(venv / "bin" / "python"), "-c", code], cwd="/").stdout)
    assert found == {"gi": False, "psoas_break": True, "jeepney": True, "pystray": True,
                     "prefix": True}


def test_the_installed_app_shows_its_full_menu(venv: Path, desktop: DesktopSession,
                                               tmp_path: Path) -> None:
    desktop.start_sni_watcher()
    env = clean_env(desktop, tmp_path)
    script = str(venv / "bin" / "psoas-break")
    doctor = subprocess.run([script, "doctor"], env=env, cwd="/", capture_output=True,
                            text=True, timeout=60, check=False)
    assert "tray: sni" in doctor.stdout.splitlines(), doctor.stdout + doctor.stderr
    app = desktop.spawn([script, "-v", "run"], env=env, cwd="/", name="installed-app")
    try:
        item = desktop.tray().wait_for_item(id="psoas-break", timeout_s=20)
        status = json.loads(run([script, "status", "--json"], env=env, cwd="/").stdout)
        assert status["tray"] == "sni"
        root = item.menu().layout()
        top = [c.label for c in root.children if not c.is_separator]
        assert top[1:] == [
            "Take a break now", "Snooze", "Skip this break", "Pause", "Today", "This week",
            "Settings", "Start at login", "About psoas-break", "Quit",
        ]
        assert top[0] == item.title
        labels = root.labels()
        settings = next(entry for entry in labels if isinstance(entry, list)
                        and entry[0] == "Settings")[1]
        assert [e[0] if isinstance(e, list) else e for e in settings] == [
            "Stretch every", "Break length", "Posture prompts", "Snooze length", "Profile",
            "Working hours", "Voice prompts", "Where you can exercise", "Hold prompts during"]
        assert item.icon_pixmaps()  # the icon, drawn without Pillow in the app
        item.menu().click("Pause", "30 min")
        wait_for(lambda: json.loads(run([script, "status", "--json"], env=env,
                                        cwd="/").stdout)["state"] == "paused",
                 10, what="the menu click reached the installed app")
        log = desktop.log_text(app)
        assert "Traceback" not in log, log[-3000:]
    finally:
        assert desktop.stop(app) == 0, desktop.log_text(app)[-3000:]
