"""Start the real psoas-break app inside a test desktop, with its own private folders.

Time is real but shortened: PSOAS_SECONDS_PER_MINUTE makes every "minute" setting that many
seconds, so a 30-minute cycle can be watched in seconds with every other part of the app real.
"""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.desktop.dbusmenu import StatusNotifierItem
from tests.desktop.session import DesktopSession
from tests.desktop.waiting import wait_for

REPO = Path(__file__).resolve().parent.parent


@dataclass
class RunningApp:
    desktop: DesktopSession
    proc: subprocess.Popen[bytes]
    home: Path
    env: dict[str, str]

    @property
    def config_file(self) -> Path:
        return self.home / "config" / "psoas-break" / "settings.toml"

    def item(self, timeout_s: float = 10.0) -> StatusNotifierItem:
        return self.desktop.tray().wait_for_item(id="psoas-break", timeout_s=timeout_s)

    def wait_title(self, predicate: object, timeout_s: float = 10.0) -> str:
        item = self.item()

        def check() -> str | None:
            title = item.title
            ok = predicate(title) if callable(predicate) else str(predicate) in title
            return title if ok else None

        return wait_for(check, timeout_s, what=f"title matching {predicate!r}")

    def wait_ready(self, timeout_s: float = 30.0) -> None:
        """Until the control channel answers: the icon is up and the late start is done."""
        # 30 s: a busy shared CI machine (three test workers on two cores) can take many
        # seconds to start a Python GUI process; a healthy start takes well under one.
        wait_for(lambda: self.cli("status", "--json").returncode == 0, timeout_s,
                 what="the app to answer `status`")

    def log(self) -> str:
        return self.desktop.log_text(self.proc)

    def cli(self, *args: str, timeout_s: float = 30.0) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "psoas_break", *args],
            env=self.env, capture_output=True, text=True, timeout=timeout_s, check=False,
        )

    def stop(self) -> int | None:
        return self.desktop.stop(self.proc)


SPEECH_SHIM = """#!/bin/sh
# Records what psoas-break says: the text, and the real espeak-ng's audio of it.
text=$(cat)
n=$(date +%s%N)
printf '%s\\t%s\\n' "$n" "$text" >> "{folder}/said.tsv"
printf '%s' "$text" | exec {espeak} -w "{folder}/$n.wav" --stdin
"""


@dataclass
class SpeechRecord:
    """What an app said through its own speech path, recorded (see `record_speech`)."""

    folder: Path

    def env(self) -> dict[str, str]:
        return {"PSOAS_SPEECH_BACKEND": "espeak-ng",
                "PATH": f"{self.folder / 'bin'}:{os.environ.get('PATH', '')}"}

    def said(self) -> list[tuple[float, str]]:
        """(time.time(), text) of each utterance, in order."""
        path = self.folder / "said.tsv"
        if not path.exists():
            return []
        out = []
        for line in path.read_text().splitlines():
            stamp, _, text = line.partition("\t")
            out.append((int(stamp) / 1e9, text))
        return out

    def texts(self) -> list[str]:
        return [text for _, text in self.said()]

    def wavs(self) -> list[Path]:
        return sorted(self.folder.glob("*.wav"))


def record_speech(folder: Path) -> SpeechRecord:
    """Speech recorded through the app's own path: PSOAS_SPEECH_BACKEND=espeak-ng runs the
    `espeak-ng` first on PATH, here a script that keeps the text it is given and has the real
    espeak-ng write its audio to a WAV file (one per utterance) for the test to measure."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "bin").mkdir(exist_ok=True)
    shim = folder / "bin" / "espeak-ng"
    shim.write_text(SPEECH_SHIM.format(folder=folder, espeak="/usr/bin/espeak-ng"))
    shim.chmod(shim.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return SpeechRecord(folder)


def real_s(status: dict[str, Any], key: str) -> float:
    """A duration from `status --json` (engine seconds) in real seconds: the app's clock runs
    `time_scale` times faster when a test shortens the minute (PSOAS_SECONDS_PER_MINUTE)."""
    return float(status[key]) / float(status["time_scale"])


def app_env(
    desktop: DesktopSession, home: Path, extra: dict[str, str] | None = None
) -> dict[str, str]:
    env = dict(desktop.env)
    for name in ("config", "data", "state", "cache", "run"):
        (home / name).mkdir(parents=True, exist_ok=True, mode=0o700)
    env.update({
        "XDG_CONFIG_HOME": str(home / "config"),
        "XDG_CONFIG_DIRS": str(home / "site"),
        "XDG_DATA_HOME": str(home / "data"),
        "XDG_STATE_HOME": str(home / "state"),
        "XDG_CACHE_HOME": str(home / "cache"),
        "XDG_RUNTIME_DIR": str(home / "run"),
        "PYTHONPATH": str(REPO),
        "PSOAS_SECONDS_PER_MINUTE": "1",
        # Xvfb gets no input, so its idle time only grows: tests that are not about idle
        # would see every cycle end in a natural break. Idle has its own tests.
        "PSOAS_IDLE_BACKEND": "none",
        # The driver profile's road detection would find a gpsd or GeoClue of this machine:
        # tests that are about the road name their own (tests/test_app_road.py).
        "PSOAS_LOCATION_BACKEND": "none",
    })
    env.update(extra or {})
    return env


def start_app(
    desktop: DesktopSession,
    *,
    config: str | None = None,
    site_config: str | None = None,
    extra_env: dict[str, str] | None = None,
    args: tuple[str, ...] = ("-v", "run"),
    home: Path | None = None,
    ready: bool = True,
    unset: tuple[str, ...] = (),
) -> RunningApp:
    """The real app in `desktop`; `unset` removes variables (DISPLAY for a Wayland client)."""
    home = home or Path(tempfile.mkdtemp(prefix="app-", dir=desktop.env["HOME"]))
    env = app_env(desktop, home, extra_env)
    for name in unset:
        env.pop(name, None)
    if config is not None:
        target = home / "config" / "psoas-break" / "settings.toml"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(config)
    if site_config is not None:
        site = home / "site" / "psoas-break" / "settings.toml"
        site.parent.mkdir(parents=True, exist_ok=True)
        site.write_text(site_config)
    proc = desktop.spawn([sys.executable, "-m", "psoas_break", *args], env=env, name="app",
                         unset=unset)
    running = RunningApp(desktop, proc, home, env)
    if ready:
        running.wait_ready()
    return running
