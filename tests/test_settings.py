"""Settings: the model's ranges and messages, and the real files the store reads and writes."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

import pytest

from psoas_break.adapters.files.settings_store import SettingsStore
from psoas_break.core.settings import (
    SPECS,
    SettingError,
    Settings,
    layer_settings,
    parse_cli_value,
    settings_from_mapping,
    validate_value,
)
from psoas_break.ports import StorageError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

NOW = datetime(2026, 11, 24, 10, 30, 5, tzinfo=timezone.utc)


def store_in(tmp_path: Path, site: Path | None = None) -> SettingsStore:
    return SettingsStore(
        tmp_path / "cfg" / "settings.toml", (site,) if site else (), now=lambda: NOW
    )


def test_defaults_are_valid_and_within_ranges() -> None:
    defaults = Settings()
    for key in SPECS:
        assert validate_value(key, getattr(defaults, key)) == getattr(defaults, key)


@pytest.mark.parametrize(
    ("key", "raw", "fragment"),
    [
        ("stretch_every_min", 500, "stretch_every_min = 500 is not allowed: use a whole number "
                                   "from 10 to 180"),
        ("stretch_every_min", "30", 'stretch_every_min = "30" is not allowed'),
        ("stretch_every_min", True, "stretch_every_min = true is not allowed"),
        ("posture_every_min", 3, "use a whole number from 5 to 120 (0 = off)"),
        ("profile", "trucker", 'profile = "trucker" is not allowed: use one of "desk", "driver"'),
        ("voice", "yes", 'voice = "yes" is not allowed: use true or false'),
        ("snooze_min", 2.5, "snooze_min = 2.5 is not allowed"),
    ],
)
def test_bad_values_name_key_value_and_allowed(key: str, raw: object, fragment: str) -> None:
    with pytest.raises(SettingError) as info:
        validate_value(key, raw)
    assert fragment in str(info.value)
    assert "\n" not in str(info.value)


def test_posture_zero_means_off() -> None:
    assert validate_value("posture_every_min", 0) == 0


def test_cli_values_are_parsed() -> None:
    assert parse_cli_value("voice", "on") is True
    assert parse_cli_value("stretch_every_min", " 45 ") == 45
    with pytest.raises(SettingError, match="unknown setting 'stretch'"):
        parse_cli_value("stretch", "45")
    with pytest.raises(SettingError, match="use a whole number from 10 to 180"):
        parse_cli_value("stretch_every_min", "forty")


def test_bad_key_falls_back_rest_applies() -> None:
    result = settings_from_mapping(
        {"stretch_every_min": 999, "break_min": 5, "colour": "blue", "schema_version": 1}
    )
    assert result.settings.stretch_every_min == 30
    assert result.settings.break_min == 5
    assert result.unknown == {"colour": "blue"}
    assert len(result.problems) == 1
    assert result.problems[0].endswith("using 30")


def test_site_locks_keys() -> None:
    site = {"stretch_every_min": 45, "locked": ["stretch_every_min"], "voice": True}
    result = layer_settings(site, {"stretch_every_min": 20, "voice": False})
    assert result.settings.stretch_every_min == 45
    assert result.settings.voice is False  # site default, not locked: user wins
    assert result.locked == frozenset({"stretch_every_min"})
    assert any("locked by your administrator" in p for p in result.problems)


# ---- the store, on real files ----


def test_missing_file_gives_defaults_and_set_creates_it(tmp_path: Path) -> None:
    store = store_in(tmp_path)
    assert store.load().settings == Settings()
    store.save("stretch_every_min", 45)
    data = tomllib.loads(store.user_file.read_text())
    assert data == {"schema_version": 1, "stretch_every_min": 45}
    assert oct(store.user_file.stat().st_mode & 0o777) == "0o600"
    assert store.load().settings.stretch_every_min == 45


def test_bad_value_backed_up_before_first_write(tmp_path: Path) -> None:
    store = store_in(tmp_path)
    store.user_file.parent.mkdir(parents=True)
    original = 'stretch_every_min = 500\nbreak_min = 5\nmystery = "kept"\n'
    store.user_file.write_text(original)
    result = store.load()
    assert result.settings.break_min == 5
    assert result.settings.stretch_every_min == 30
    assert result.problems == (
        "stretch_every_min = 500 is not allowed: use a whole number from 10 to 180; using 30",
    )
    store.save("snooze_min", 10)
    backup = tmp_path / "cfg" / "settings.toml.bad-20261124-103005"
    assert backup.read_text() == original
    data = tomllib.loads(store.user_file.read_text())
    # The user's own words stay (a bad value is not silently "fixed"); unknown keys are kept.
    assert data["stretch_every_min"] == 500
    assert data["mystery"] == "kept"
    assert data["snooze_min"] == 10
    store.save("snooze_min", 15)
    assert len(list((tmp_path / "cfg").glob("settings.toml.bad-*"))) == 1


def test_unparseable_file_uses_defaults_and_is_never_rewritten(tmp_path: Path) -> None:
    """A file that is not TOML keeps every word the user wrote: changes are refused with one
    line saying what to fix, until it is fixed (#19 item 9)."""
    store = store_in(tmp_path)
    store.user_file.parent.mkdir(parents=True)
    store.user_file.write_text("stretch_every_min = = 3\n[[[")
    result = store.load()
    assert result.settings == Settings()
    assert len(result.problems) == 1
    assert "is not valid TOML: invalid value at line 1, column 21" in result.problems[0]
    assert "using the defaults for every key" in result.problems[0]
    with pytest.raises(StorageError, match="^not saved: .* fix that \\(in a text editor"):
        store.save("voice", True)
    assert store.user_file.read_text() == "stretch_every_min = = 3\n[[["
    assert list((tmp_path / "cfg").glob("settings.toml.bad-*")) == []
    # Once fixed, saving works again (the next save sees the change on disk).
    store.user_file.write_text("stretch_every_min = 45\n")
    store.save("voice", True)
    assert store.load().settings.voice is True
    assert store.settings.stretch_every_min == 45


def test_locked_key_cannot_be_set(tmp_path: Path) -> None:
    site = tmp_path / "site.toml"
    site.write_text('break_min = 5\nlocked = ["break_min"]\n')
    store = store_in(tmp_path, site)
    assert store.load().settings.break_min == 5
    with pytest.raises(SettingError, match="break_min is locked"):
        store.save("break_min", 2)
    assert not store.user_file.exists()


def test_reset_one_and_all(tmp_path: Path) -> None:
    store = store_in(tmp_path)
    store.save("break_min", 5)
    store.save("voice", True)
    store.reset("break_min")
    assert store.load().settings.break_min == 2
    assert store.settings.voice is True
    store.reset()
    assert store.load().settings == Settings()


def test_read_only_folder_gives_plain_error_and_keeps_file(tmp_path: Path) -> None:
    if os.geteuid() == 0:
        pytest.skip("root ignores permissions; covered by the disk-full test instead")
    store = store_in(tmp_path)
    store.save("break_min", 5)
    store.user_file.parent.chmod(0o500)
    try:
        with pytest.raises(StorageError, match="read-only or not writable"):
            store.save("break_min", 10)
    finally:
        store.user_file.parent.chmod(0o700)
    assert store.load().settings.break_min == 5


def test_disk_full_gives_plain_error_and_keeps_file(tmp_path: Path) -> None:
    full = Path("/dev/full")
    if not full.exists():
        pytest.skip("no /dev/full")
    store = store_in(tmp_path)
    store.save("break_min", 5)
    # /dev/full fails every write with ENOSPC: a real disk-full error from the kernel.
    import psoas_break.adapters.files.atomic_file as atomic

    real_mkstemp = atomic.tempfile.mkstemp

    def full_mkstemp(*args: object, **kwargs: object) -> tuple[int, str]:
        fd, name = real_mkstemp(*args, **kwargs)  # type: ignore[call-overload]
        os.close(fd)
        return os.open(full, os.O_WRONLY), name

    atomic.tempfile.mkstemp = full_mkstemp  # type: ignore[assignment]
    try:
        with pytest.raises(StorageError, match="the disk is full"):
            store.save("break_min", 10)
    finally:
        atomic.tempfile.mkstemp = real_mkstemp
    assert store.load().settings.break_min == 5
    assert [p.name for p in store.user_file.parent.iterdir()] == ["settings.toml"]


WRITER = """
import sys
from pathlib import Path
from psoas_break.adapters.files.settings_store import SettingsStore
store = SettingsStore(Path(sys.argv[1]))
i = 0
while True:
    store.save("stretch_every_min", 10 + i % 170)
    i += 1
    if i == 3:
        print("ready", flush=True)
"""


def test_kill_during_save_leaves_old_or_new_file(tmp_path: Path) -> None:
    target = tmp_path / "cfg" / "settings.toml"
    allowed = {f"schema_version = 1\nstretch_every_min = {10 + i}\n" for i in range(170)}
    import random
    import signal
    import time

    rng = random.Random(7)
    for _round in range(25):
        proc = subprocess.Popen(
            [sys.executable, "-c", WRITER, str(target)], stdout=subprocess.PIPE, text=True
        )
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "ready"
        time.sleep(rng.uniform(0.0, 0.05))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        proc.stdout.close()
        assert target.read_text() in allowed
    leftovers = [p.name for p in target.parent.iterdir() if p.name != "settings.toml"]
    # A kill can leave a temp file behind; it never replaces the real one.
    assert all(name.startswith(".settings.toml.") for name in leftovers)
