"""Faults the real app must survive: each keeps it running, loses nothing, and tells the user once.

Every test runs the real app (`python -m psoas_break`) in the test desktop (Xvfb, private buses,
fake watcher, recording notification server) and breaks something outside it for real:

- a read-only config folder (a read-only bind mount; chattr +i; chmod 0500 when not root);
- a full disk under the settings file and under the history database (a small tmpfs);
- the notification server crashing (SIGKILL) and coming back as a new process;
- the StatusNotifierWatcher restarting (the icon must register again);
- SIGTERM while the app is saving settings;
- the wall clock stepped by +3 h and -3 h while it runs (PSOAS_TEST_WALL_OFFSET_FILE).

Mounting needs root (CI runs as root) and CAP_SYS_ADMIN; where that is missing the disk-full
tests are skipped with the reason (there is no other honest way to fill a real disk), and the
read-only test falls back to chattr +i, then to chmod 0500 for a normal user.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from psoas_break.adapters.history.sqlite_history import read_events
from tests.app_harness import RunningApp, start_app
from tests.desktop.bus import DBusCallError
from tests.desktop.notifications import NotificationServer, is_stretch_prompt
from tests.desktop.session import DesktopSession, missing_tools
from tests.desktop.waiting import wait_for

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

pytestmark = [
    pytest.mark.desktop,
    pytest.mark.skipif(bool(missing_tools()), reason=f"missing {missing_tools()}"),
    pytest.mark.timeout(120),
]


@pytest.fixture
def desk(desktop: DesktopSession) -> DesktopSession:
    """The conftest desktop (leak-checked; a failure on CI when Xvfb is missing) + a watcher."""
    desktop.start_sni_watcher()
    return desktop


def new_home(desk: DesktopSession) -> Path:
    """A fresh home for one app, laid out as tests/app_harness.py expects."""
    home = Path(tempfile.mkdtemp(prefix="app-", dir=desk.env["HOME"]))
    for name in ("config", "data", "state", "cache", "run"):
        (home / name).mkdir(mode=0o700)
    return home


def notices(server: NotificationServer, needle: str) -> list[dict[str, Any]]:
    """The app's one-line notices (title "psoas-break") whose body contains `needle`."""
    return [n for n in server.calls("Notify")
            if n["summary"] == "psoas-break" and needle in n["body"]]


def sentinel_prompt(app: RunningApp, server: NotificationServer) -> None:
    """Start a break and wait for its notification on `server`.

    The notification worker delivers in order, so once this arrives every notice queued
    before it has been delivered too: counting them afterwards needs no sleep.
    """
    before = len(server.calls("Notify"))
    result = app.cli("break-now")
    assert result.returncode == 0, result.stderr
    wait_for(lambda: any(n["summary"].startswith("Break (")
                         for n in server.calls("Notify")[before:]),
             10, what="the break notification (sentinel)")


def status(app: RunningApp) -> dict[str, Any]:
    result = app.cli("status", "--json")
    assert result.returncode == 0, f"status failed: {result.stderr}\n{app.log()}"
    payload: dict[str, Any] = json.loads(result.stdout)
    return payload


def assert_no_internal_error(app: RunningApp) -> None:
    """Nothing failed unexpectedly inside the app (log.exception logs at ERROR).

    Expected outside failures (disk full, server gone) are WARNINGs, with the exception in the
    log file for the developer: the user sees only the plain notice.
    """
    text = app.log()
    assert " ERROR " not in text and " CRITICAL " not in text, text


# ---- mounts (root only) ------------------------------------------------------------------------


def _run(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(argv), capture_output=True, text=True, check=False, timeout=30)


def _cannot_mount() -> str | None:
    """None when this process can mount a tmpfs and remount it read-only, else why not."""
    if not sys.platform.startswith("linux"):
        return "mounting a tmpfs needs Linux"
    if os.geteuid() != 0:
        return "mounting a tmpfs needs root (CI runs the suite as root)"
    if shutil.which("mount") is None or shutil.which("umount") is None:
        return "mount/umount are not installed"
    probe = Path(tempfile.mkdtemp(prefix="psoas-mount-probe-"))
    try:
        done = _run("mount", "-t", "tmpfs", "-o", "size=64k,mode=0700", "tmpfs", str(probe))
        if done.returncode != 0:
            return f"mount -t tmpfs failed here: {done.stderr.strip()}"
        again = _run("mount", "-o", "remount,ro", str(probe))
        _run("umount", str(probe))
        if again.returncode != 0:
            return f"mount -o remount,ro failed here: {again.stderr.strip()}"
        return None
    finally:
        with contextlib.suppress(OSError):
            probe.rmdir()


_MOUNT_PROBE: list[str | None] = []


def cannot_mount() -> str | None:
    if not _MOUNT_PROBE:
        _MOUNT_PROBE.append(_cannot_mount())
    return _MOUNT_PROBE[0]


def _umount(path: Path) -> None:
    if _run("umount", str(path)).returncode != 0:
        # Still busy (a process that has not quite exited): detach it now, freed when unused.
        _run("umount", "-l", str(path))


@contextlib.contextmanager
def small_tmpfs(path: Path, size: str) -> Iterator[Path]:
    """A tmpfs of `size` mounted on `path` (created) for the block; skips where impossible."""
    reason = cannot_mount()
    if reason:
        pytest.skip(f"disk-full test needs a real small file system: {reason}")
    path.mkdir(parents=True, exist_ok=True)
    done = _run("mount", "-t", "tmpfs", "-o", f"size={size},mode=0700", "tmpfs", str(path))
    assert done.returncode == 0, done.stderr
    try:
        yield path
    finally:
        _umount(path)


def fill_up(folder: Path) -> Path:
    """Write a filler file in `folder` until the file system refuses (ENOSPC); return it."""
    filler = folder / "filler.bin"
    with open(filler, "wb", buffering=0) as fh:
        for chunk in (64 * 1024, 4096, 512, 1):
            with contextlib.suppress(OSError):
                while True:
                    fh.write(b"\0" * chunk)
    with pytest.raises(OSError) as refused:
        (folder / "probe").write_bytes(b"x" * 4096)
    assert refused.value.errno == errno.ENOSPC
    return filler


class ReadOnlyFolder:
    """Makes a folder really unwritable, also for root, and writable again.

    Root: a read-only bind mount of the folder onto itself, else `chattr +i`; a normal user:
    chmod 0500 (which root ignores). `how` says which; skips when nothing works here.
    """

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.how = ""

    def __enter__(self) -> ReadOnlyFolder:
        f = str(self.folder)
        if os.geteuid() != 0:
            self.folder.chmod(0o500)
            self.how = "chmod 0500"
        elif cannot_mount() is None and _run("mount", "--bind", f, f).returncode == 0:
            if _run("mount", "-o", "remount,bind,ro", f).returncode == 0:
                self.how = "read-only bind mount"
            else:
                _umount(self.folder)
        if (not self.how and os.geteuid() == 0 and shutil.which("chattr")
                and _run("chattr", "+i", f).returncode == 0):
            self.how = "chattr +i"
        if not self.how or self._writable():
            self._undo()
            pytest.skip("cannot make a folder read-only for root here (no mount, no chattr +i); "
                        "as a normal user the test uses chmod 0500")
        return self

    def _writable(self) -> bool:
        probe = self.folder / ".write-probe"
        try:
            probe.write_bytes(b"x")
        except OSError:
            return False
        probe.unlink()
        return True

    def _undo(self) -> None:
        if self.how == "read-only bind mount":
            _umount(self.folder)
        elif self.how == "chattr +i":
            _run("chattr", "-i", str(self.folder))
        elif self.how == "chmod 0500":
            self.folder.chmod(0o700)
        self.how = ""

    def make_writable(self) -> None:
        self._undo()
        assert self._writable()

    def __exit__(self, *exc: object) -> None:
        self._undo()


# ---- 1. read-only config folder ------------------------------------------------------------


def test_read_only_config_folder_keeps_the_old_file_and_says_so_once(
    desk: DesktopSession,
) -> None:
    server = desk.start_notification_server()
    home = new_home(desk)
    folder = home / "config" / "psoas-break"
    folder.mkdir()
    settings_file = folder / "settings.toml"
    settings_file.write_text("stretch_every_min = 45\n")
    before = settings_file.read_bytes()
    with ReadOnlyFolder(folder) as read_only:
        app = start_app(desk, home=home)
        try:
            menu = app.item().menu()
            menu.wait_for("Settings", "Stretch every", "45 min", checked=True)
            menu.click("Settings", "Stretch every", "60 min")
            note = wait_for(lambda: notices(server, "read-only"), 10,
                            what=f"a notice that the folder is read-only ({read_only.how})")[0]
            assert note["body"].startswith(f"could not save settings to {settings_file}")
            assert "the previous file is unchanged" in note["body"]
            sentinel_prompt(app, server)
            assert len(notices(server, "read-only")) == 1, server.calls("Notify")
            # The old file is intact, the app keeps the old value and keeps running.
            assert settings_file.read_bytes() == before
            assert sorted(p.name for p in folder.iterdir()) == ["settings.toml"]
            assert app.proc.poll() is None
            assert status(app)["state"] == "on_break"
            menu.wait_for("Settings", "Stretch every", "45 min", checked=True)
            assert_no_internal_error(app)
            # From a terminal: one plain line on stderr, exit code 1, the file untouched.
            cli = app.cli("config", "set", "stretch_every_min", "60")
            assert (cli.returncode, cli.stdout) == (1, ""), cli
            assert cli.stderr.count("\n") == 1 and "read-only" in cli.stderr, cli.stderr
            assert settings_file.read_bytes() == before

            # Writable again: the same click is saved; nothing was stuck or lost.
            read_only.make_writable()
            menu.click("Settings", "Stretch every", "60 min")
            # The save runs on the app's job thread; the radio item may show the click a few
            # milliseconds before the file is written (GTK toggles it at once): wait for both.
            wait_for(lambda: tomllib.loads(settings_file.read_text())["stretch_every_min"] == 60,
                     10, what="the click saved to the file")
            menu.wait_for("Settings", "Stretch every", "60 min", checked=True)
        finally:
            code = app.stop()
        assert code == 0, app.log()


# ---- 2. disk full ----------------------------------------------------------------------------


def test_disk_full_while_saving_settings_keeps_the_old_file(desk: DesktopSession) -> None:
    server = desk.start_notification_server()
    home = new_home(desk)
    with small_tmpfs(home / "config", "64k") as config_home:
        folder = config_home / "psoas-break"
        folder.mkdir()
        settings_file = folder / "settings.toml"
        settings_file.write_text("stretch_every_min = 45\nbreak_min = 5\n")
        before = settings_file.read_bytes()
        app = start_app(desk, home=home)
        try:
            menu = app.item().menu()
            menu.wait_for("Settings", "Stretch every", "45 min", checked=True)
            filler = fill_up(config_home)
            menu.click("Settings", "Stretch every", "90 min")
            note = wait_for(lambda: notices(server, "disk is full"), 10,
                            what="a notice that the disk is full")[0]
            assert note["body"].startswith(f"could not save settings to {settings_file}")
            assert "the disk is full" in note["body"], note["body"]
            assert "the previous file is unchanged" in note["body"]
            sentinel_prompt(app, server)
            assert len(notices(server, "disk is full")) == 1, server.calls("Notify")
            assert settings_file.read_bytes() == before
            # No half-written temporary file is left behind on the full disk.
            assert sorted(p.name for p in folder.iterdir()) == ["settings.toml"]
            assert app.proc.poll() is None
            menu.wait_for("Settings", "Stretch every", "45 min", checked=True)
            cli = app.cli("config", "set", "stretch_every_min", "90")
            assert (cli.returncode, cli.stdout) == (1, ""), cli
            assert cli.stderr.count("\n") == 1 and "the disk is full" in cli.stderr, cli.stderr
            assert settings_file.read_bytes() == before

            filler.unlink()
            menu.click("Settings", "Stretch every", "90 min")
            wait_for(lambda: tomllib.loads(settings_file.read_text())["stretch_every_min"] == 90,
                     10, what="the click saved to the file")
            menu.wait_for("Settings", "Stretch every", "90 min", checked=True)
            saved = tomllib.loads(settings_file.read_text())
            assert (saved["stretch_every_min"], saved["break_min"]) == (90, 5)
            assert_no_internal_error(app)
        finally:
            code = app.stop()
        assert code == 0, app.log()


def test_disk_full_history_keeps_events_in_memory_until_space_returns(
    desk: DesktopSession,
) -> None:
    server = desk.start_notification_server()
    home = new_home(desk)
    with small_tmpfs(home / "data", "1m") as data_home:
        db = data_home / "psoas-break" / "history.sqlite3"
        app = start_app(desk, home=home)
        try:
            now = datetime.now().astimezone()
            window = (now - timedelta(hours=1), now + timedelta(hours=1))
            # The first sit_start is committed (the writer flushes every 5 s).
            wait_for(lambda: [e.kind for e in read_events(db, *window)] == ["sit_start"], 15,
                     what="the first event on disk")
            filler = fill_up(data_home)
            for command in ("break-now", "resume", "skip"):
                done = app.cli(command)
                assert done.returncode == 0, done.stderr
            note = wait_for(lambda: notices(server, "History is not being saved"), 20,
                            what="a notice that the history cannot be written")[0]
            assert "disk is full" in note["body"], note["body"]
            # More events while the disk is still full; then the user is told nothing new.
            assert app.cli("break-now").returncode == 0
            ends_before = len(notices(server, "Break over"))
            assert app.cli("resume").returncode == 0
            # Delivered in order: once this notice is in, any second history notice would be.
            wait_for(lambda: len(notices(server, "Break over")) > ends_before, 10,
                     what="the second break-over notice (sentinel)")
            assert len(notices(server, "History is not being saved")) == 1
            assert [e.kind for e in read_events(db, *window)] == ["sit_start"]
            assert app.proc.poll() is None
            filler.unlink()
            done = app.cli("quit")
            assert done.returncode == 0, done.stderr
            assert app.proc.wait(10) == 0, app.log()
        finally:
            app.stop()
        events = read_events(db, *window)
        kinds = [e.kind for e in events]
        assert kinds == [
            "sit_start",
            "sit_end", "break_start",           # break-now
            "break_end", "sit_start",           # resume (back from the break)
            "response",                         # skip
            "sit_end", "break_start",           # break-now, disk still full
            "break_end", "sit_start",           # resume
            "sit_end",                          # quit closes the sit
        ], kinds
        assert events[-1].data["reason"] == "quit"
        assert_no_internal_error(app)


# ---- 3. notification server crash -------------------------------------------------------------


def _crash_notification_server(desk: DesktopSession, app: RunningApp,
                               server: NotificationServer) -> int:
    """Wait for a stretch prompt, SIGKILL the server, and wait until the user is told once.

    Returns how many Notify calls the dead server had recorded.
    """
    wait_for(lambda: [n for n in server.calls("Notify") if is_stretch_prompt(n)],
             15, what="a stretch prompt on the first server")
    # The server crashes: no goodbye, its name just leaves the bus.
    os.kill(server.pid, signal.SIGKILL)
    assert server.proc is not None
    server.proc.wait(5)
    desk.bus().wait_for_name_gone("org.freedesktop.Notifications")
    title = app.wait_title("notifications unavailable", timeout_s=15)
    assert title.count("notifications unavailable") == 1, title
    assert app.proc.poll() is None
    assert status(app)["state"] == "prompt_due"
    return len(server.calls("Notify"))


def _start_prompting_app(desk: DesktopSession) -> RunningApp:
    # A stretch prompt every 20 "minutes" of 0.25 s, repeated every 5 while unanswered.
    return start_app(desk, config="stretch_every_min = 20\nposture_every_min = 0\n"
                                  "snooze_min = 5\n",
                     extra_env={"PSOAS_SECONDS_PER_MINUTE": "0.25"})


def test_notification_server_crash_and_return_prompts_resume(desk: DesktopSession) -> None:
    server = desk.start_notification_server()
    app = _start_prompting_app(desk)
    try:
        seen = _crash_notification_server(desk, app, server)
        old_pid = server.pid
        server.start()  # a new process with a new unique name, recording to the same file
        assert server.pid != old_pid
        # Only the new process is alive: whatever is recorded from here on reached it.
        new = wait_for(lambda: [n for n in server.calls("Notify")[seen:]
                                if is_stretch_prompt(n)],
                       15, what="a stretch prompt on the restarted server")[0]
        # A fresh notification, not a replacement of an id the new server never gave out.
        assert new["replaces_id"] == 0
        # The notice goes away by itself once notifications work again.
        app.wait_title(lambda t: "notifications unavailable" not in t, timeout_s=10)
        # Its buttons work on the new server too. The prompt repeats every 1.25 s here, and a
        # repeat replaces it: click the one on screen, as a person would. The break it starts
        # lasts 0.5 s here (shorter than one `status` call on a loaded machine): its own
        # notification ("Break (2 min): ...") says it started.
        before = len(server.calls("Notify"))

        def click_newest() -> bool:
            calls = server.calls("Notify")
            if any(str(n["summary"]).startswith("Break (") for n in calls[before:]):
                return True
            shown = [n for n in calls[seen:] if is_stretch_prompt(n)]
            server.invoke_action(shown[-1]["id"], "break-now")
            return False

        wait_for(click_newest, 20, interval_s=0.5, ignore=(DBusCallError,),
                 what="the break started from the new server's button")
        assert app.proc.poll() is None
        assert_no_internal_error(app)
    finally:
        code = app.stop()
    assert code == 0, app.log()


# ---- 4. StatusNotifierWatcher restart ---------------------------------------------------------


def test_status_notifier_watcher_restart_re_registers_the_icon(desktop: DesktopSession) -> None:
    watcher = desktop.start_sni_watcher()
    desktop.start_notification_server()
    app = start_app(desktop)
    try:
        item = app.item()
        assert watcher.items() == [item.entry]
        watcher.stop()
        assert desktop.tray().entries() == []
        watcher.start()  # a new watcher process: the app must register with it
        entries = watcher.wait_for_items(1, timeout_s=15)
        again = desktop.tray().wait_for_item(id="psoas-break", timeout_s=10)
        assert entries == [again.entry]
        assert again.title.startswith("Sitting")
        # The re-registered icon is the live one: its menu works.
        again.menu().click("Pause", "30 min")
        app.wait_title("Paused until", timeout_s=10)
        assert status(app)["state"] == "paused"
        assert app.proc.poll() is None
        assert_no_internal_error(app)
    finally:
        code = app.stop()
    assert code == 0, app.log()


# ---- 5. SIGTERM during a save ------------------------------------------------------------------


def test_sigterm_during_saves_leaves_a_whole_settings_file(desk: DesktopSession) -> None:
    desk.start_notification_server()
    app = start_app(desk, config="stretch_every_min = 30\n")
    values = (20, 45, 60, 90)
    clicked: list[int] = []  # every value saved, from the menu or the command line
    menu_saves: list[int] = []
    stop_clicking = threading.Event()
    terminated = threading.Event()  # errors after SIGTERM are the icon going away
    errors: list[BaseException] = []

    def click_forever() -> None:
        menu = app.item().menu()
        n = 0
        while not stop_clicking.is_set():
            value = values[n % len(values)]
            n += 1
            try:
                menu.click("Settings", "Stretch every", f"{value} min")
            except DBusCallError as exc:
                if "does not refer to a menu item" in exc.text:
                    # The menu was rebuilt (a `config set` reloaded) between reading the
                    # layout and clicking, as with a real panel: the click did nothing.
                    continue
                if not terminated.is_set():
                    errors.append(exc)
                return
            except Exception as exc:  # the icon goes away once SIGTERM lands
                if not terminated.is_set():
                    errors.append(exc)
                return
            clicked.append(value)
            menu_saves.append(value)

    def cli_sets() -> None:
        n = 0
        while not stop_clicking.is_set():
            value = values[(n + 2) % len(values)]
            n += 1
            done = app.cli("config", "set", "stretch_every_min", str(value))
            if done.returncode == 0:
                clicked.append(value)

    threads = [threading.Thread(target=click_forever, daemon=True),
               threading.Thread(target=cli_sets, daemon=True)]
    for t in threads:
        t.start()
    try:
        wait_for(lambda: len(menu_saves) >= 10 and len(clicked) >= 12, 30,
                 what="a dozen saves under way")
        terminated.set()
        os.kill(app.proc.pid, signal.SIGTERM)  # the app itself, mid-burst
        code = app.proc.wait(10)
    finally:
        stop_clicking.set()
        for t in threads:
            t.join(30)
        app.stop()
    assert not errors, errors
    assert code == 0, app.log()
    saved = tomllib.loads(app.config_file.read_text())
    assert saved["stretch_every_min"] in {30, *clicked}
    leftovers = [p.name for p in app.config_file.parent.iterdir() if p.name != "settings.toml"]
    assert leftovers == [], leftovers
    assert_no_internal_error(app)


# ---- 6. wall clock jumps -----------------------------------------------------------------------


def _sample(app: RunningApp) -> tuple[float, float, dict[str, Any]]:
    """(monotonic before, monotonic after, status) around one `status --json`."""
    before = time.monotonic()
    payload = status(app)
    return before, time.monotonic(), payload


def _assert_moved_with_real_time(
    a: tuple[float, float, dict[str, Any]], b: tuple[float, float, dict[str, Any]],
    slack_s: float,
) -> None:
    """Between samples a and b, sitting grew and the next prompt came closer by real time."""
    shortest = b[0] - a[1] - slack_s
    longest = b[1] - a[0] + slack_s
    grew = b[2]["sitting_s"] - a[2]["sitting_s"]
    came_closer = a[2]["next_prompt"]["in_s"] - b[2]["next_prompt"]["in_s"]
    assert shortest <= grew <= longest, (grew, shortest, longest, a[2], b[2])
    assert shortest <= came_closer <= longest, (came_closer, shortest, longest, a[2], b[2])
    assert a[2]["next_prompt"]["kind"] == b[2]["next_prompt"]["kind"]


def test_wall_clock_jumps_change_neither_sitting_nor_the_next_prompt(
    desk: DesktopSession,
) -> None:
    server = desk.start_notification_server()
    offset_file = desk.root / "wall-offset"
    offset_file.write_text("0")
    # The normal 60-second minute: the stretch is 30 real minutes away, the posture check 20.
    app = start_app(desk, extra_env={"PSOAS_SECONDS_PER_MINUTE": "60",
                                     "PSOAS_TEST_WALL_OFFSET_FILE": str(offset_file)})
    try:
        slack_s = 0.3  # rounding of status (0.1 s) and when the engine reads its clock
        start = _sample(app)
        assert start[2]["next_prompt"]["kind"] == "posture"
        title = app.item().title
        samples = [start]
        for offset_s in (3 * 3600, -3 * 3600, 0):
            offset_file.write_text(str(offset_s))
            samples.append(_sample(app))
            _assert_moved_with_real_time(samples[-2], samples[-1], slack_s)
        _assert_moved_with_real_time(start, samples[-1], slack_s)
        assert samples[-1][2]["state"] == "sitting"
        # Nothing to tell the user: no notice, no prompt, the same title.
        assert server.calls("Notify") == []
        assert app.item().title == title
        # The seam is live: the calendar side (a pause's end) does follow the stepped clock.
        offset_file.write_text(str(3 * 3600))
        assert app.cli("pause", "30m").returncode == 0
        until = datetime.fromisoformat(status(app)["paused_until"])
        expected = datetime.now().astimezone() + timedelta(hours=3, minutes=30)
        assert abs((until - expected).total_seconds()) < 30, (until, expected)
        assert app.proc.poll() is None
        assert_no_internal_error(app)
    finally:
        code = app.stop()
    assert code == 0, app.log()


def test_wall_clock_jump_does_not_move_a_prompt(desk: DesktopSession) -> None:
    """With a short minute, a prompt still comes when sitting reaches it, jumps or not."""
    server = desk.start_notification_server()
    offset_file = desk.root / "wall-offset"
    offset_file.write_text("0")
    app = start_app(desk, config="stretch_every_min = 20\nposture_every_min = 0\n",
                    extra_env={"PSOAS_SECONDS_PER_MINUTE": "0.3",
                               "PSOAS_TEST_WALL_OFFSET_FILE": str(offset_file)})
    try:
        offset_file.write_text(str(3 * 3600))
        before, after, payload = _sample(app)
        due_in_s = payload["next_prompt"]["in_s"] / payload["time_scale"]
        assert payload["next_prompt"]["kind"] == "stretch"
        assert 3.0 <= due_in_s <= 6.0, payload  # 20 x 0.3 s, minus the start-up
        offset_file.write_text(str(-3 * 3600))
        _sample(app)  # the engine reads the stepped-back clock now

        arrived: list[float] = []

        def prompt() -> bool:
            if any(is_stretch_prompt(n) for n in server.calls("Notify")):
                arrived.append(time.monotonic())
                return True
            return False

        wait_for(prompt, due_in_s + 10, what="the stretch prompt")
        # Not early (a wall-clock deadline would have fired at once or 3 h late).
        assert arrived[0] >= before + due_in_s - 0.5, (arrived[0] - after, due_in_s)
        assert status(app)["state"] == "prompt_due"
    finally:
        code = app.stop()
    assert code == 0, app.log()
