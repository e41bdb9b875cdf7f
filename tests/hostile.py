"""Shared by the hostile-input tests and benchmark: private folders, the real CLI, a headless app.

`Home(tmp)` makes the XDG folders of one user (the runtime folder 0700, as a login gives it) and
the environment that points the app and the CLI at them. `cli(home, ...)` runs the real
`psoas-break` command in a subprocess. `HeadlessApp.start(home)` starts the real app with no
tray and no D-Bus (the same start-up code, settings, history, control channel and engine; only
the icon is missing) for the checks that a start survives hostile files; the tests that need
the tray use tests/app_harness.py on the test desktop instead.

`one_bounded_message(text)` is the rule every hostile case is held to: no traceback (nor the
CLI's "unexpected error" net), few lines, every line short.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
#: The longest line any message may have (core/plain_text.LINE_LIMIT plus a prefix).
MAX_LINE = 400


@dataclass
class Home:
    """One user's private folders and the environment naming them."""

    root: Path
    env: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name in ("config", "site", "data", "state", "cache", "run"):
            (self.root / name).mkdir(parents=True, exist_ok=True)
        (self.root / "run").chmod(0o700)
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("XDG_", "PSOAS_")) and k not in ("DISPLAY", "WAYLAND_DISPLAY")}
        env.update({
            "XDG_CONFIG_HOME": str(self.root / "config"),
            "XDG_CONFIG_DIRS": str(self.root / "site"),
            "XDG_DATA_HOME": str(self.root / "data"),
            "XDG_STATE_HOME": str(self.root / "state"),
            "XDG_CACHE_HOME": str(self.root / "cache"),
            "XDG_RUNTIME_DIR": str(self.root / "run"),
            "HOME": str(self.root),
            "PYTHONPATH": str(REPO),
            "LANGUAGE": "en",
            # No desktop: no tray, no bus (a bus address that cannot be reached, so nothing
            # autolaunches one), no idle source.
            "PSOAS_TRAY_BACKEND": "none",
            "PSOAS_IDLE_BACKEND": "none",
            "DBUS_SESSION_BUS_ADDRESS": f"unix:path={self.root}/no-bus",
            "DBUS_SYSTEM_BUS_ADDRESS": f"unix:path={self.root}/no-bus",
        })
        self.env = env

    @property
    def config_dir(self) -> Path:
        return self.root / "config" / "psoas-break"

    @property
    def settings(self) -> Path:
        return self.config_dir / "settings.toml"

    @property
    def data_dir(self) -> Path:
        return self.root / "data" / "psoas-break"

    @property
    def history(self) -> Path:
        return self.data_dir / "history.sqlite3"

    @property
    def state_dir(self) -> Path:
        return self.root / "state" / "psoas-break"

    @property
    def cache_dir(self) -> Path:
        return self.root / "cache" / "psoas-break"

    @property
    def runtime_dir(self) -> Path:
        return self.root / "run" / "psoas-break"

    @property
    def log_file(self) -> Path:
        return self.state_dir / "log" / "psoas-break.log"

    def write_settings(self, data: bytes | str) -> None:
        self.config_dir.mkdir(parents=True, exist_ok=True)
        if isinstance(data, str):
            data = data.encode("utf-8")
        self.settings.write_bytes(data)


def cli(home: Home, *args: str, timeout_s: float = 60.0, env: dict[str, str] | None = None
        ) -> subprocess.CompletedProcess[str]:
    """Run `psoas-break ARGS` as a user would, in `home`."""
    return subprocess.run(
        [sys.executable, "-m", "psoas_break", *args], env={**home.env, **(env or {})},
        capture_output=True, text=True, timeout=timeout_s, check=False,
        errors="replace",
    )


def one_bounded_message(text: str, max_lines: int = 3) -> bool:
    """No traceback, at most `max_lines` lines, each at most MAX_LINE characters."""
    lines = [line for line in text.splitlines() if line.strip()]
    return (
        "Traceback" not in text
        and "unexpected error" not in text  # the CLI's last net caught something: a bug
        and len(lines) <= max_lines
        and all(len(line) <= MAX_LINE for line in lines)
    )


class HeadlessApp:
    """The real app in a subprocess, with no tray (see the module docstring)."""

    def __init__(self, home: Home, proc: subprocess.Popen[bytes], out: Path) -> None:
        self.home = home
        self.proc = proc
        self.out = out

    @classmethod
    def start(cls, home: Home, *, env: dict[str, str] | None = None, ready: bool = True,
              timeout_s: float = 30.0) -> HeadlessApp:
        out = home.root / f"app-{time.monotonic_ns()}.out"
        with out.open("wb") as sink:
            proc = subprocess.Popen(
                [sys.executable, "-m", "psoas_break", "run"], env={**home.env, **(env or {})},
                stdout=sink, stderr=subprocess.STDOUT, start_new_session=True,
            )
        app = cls(home, proc, out)
        if ready:
            app.wait_ready(timeout_s, env)
        return app

    def output(self) -> str:
        try:
            return self.out.read_text(errors="replace")
        except OSError:
            return ""

    def alive(self) -> bool:
        return self.proc.poll() is None

    def wait_ready(self, timeout_s: float = 30.0, env: dict[str, str] | None = None) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if not self.alive():
                raise AssertionError(f"the app exited ({self.proc.returncode}):\n{self.output()}")
            if cli(self.home, "status", env=env).returncode == 0:
                return
            time.sleep(0.2)
        raise AssertionError(f"the app did not answer `status` in {timeout_s} s:\n"
                             f"{self.output()}")

    def stop(self, timeout_s: float = 10.0) -> int | None:
        if self.alive():
            self.proc.terminate()
            try:
                self.proc.wait(timeout_s)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        return self.proc.returncode

    def __enter__(self) -> HeadlessApp:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
