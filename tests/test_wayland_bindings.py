"""The committed pywayland bindings are what the pinned pywayland makes from the vendored XML
(as test_illustrations.py checks the icons): a pywayland upgrade that changes them, or an XML
edited without regenerating, fails here. `make wayland-bindings` regenerates."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def test_the_committed_bindings_are_up_to_date() -> None:
    done = subprocess.run([sys.executable, str(REPO / ".ci" / "wayland_bindings.py"), "--check"],
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr


def test_each_binding_keeps_the_licence_of_its_xml() -> None:
    folder = REPO / "psoas_break" / "adapters" / "wayland" / "protocols"
    heads = {p.name: p.read_text()[:2000] for p in folder.glob("*.py") if p.name != "__init__.py"}
    assert set(heads) == {"ext_idle_notify_v1.py", "idle.py",
                          "wlr_foreign_toplevel_management_unstable_v1.py"}
    assert "SPDX-License-Identifier: LGPL-2.1-or-later" in heads["idle.py"]
    assert "Permission is hereby granted" in heads["ext_idle_notify_v1.py"]
    assert "Copyright © 2018 Ilia Bozhinov" in heads[
        "wlr_foreign_toplevel_management_unstable_v1.py"]
    for text in heads.values():
        assert "pywayland.protocol.wayland import" in text  # pywayland's own core classes
        assert "from .wayland" not in text


def test_without_pywayland_the_wayland_sources_say_how_to_get_it(tmp_path: Path) -> None:
    """pywayland is imported lazily, on the connection's thread: missing, the app still starts
    and the idle family's reasons (doctor) name the fix."""
    code = (
        "import sys; sys.modules['pywayland'] = None\n"
        "from psoas_break.adapters.idle import make_idle_source\n"
        "from psoas_break.adapters.quiet import make_quiet_detectors\n"
        f"env = {{'WAYLAND_DISPLAY': {str(tmp_path / 'wayland-9')!r}}}\n"
        "source, choice = make_idle_source(env)\n"
        "print(dict(choice.rejected)['wayland'])\n"
        "only = dict(env, PSOAS_QUIET_DETECTORS='fullscreen-wlr')\n"
        "detectors, quiet = make_quiet_detectors(only)\n"
        "print(dict(quiet.rejected)['fullscreen-wlr'])\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60, check=False, cwd=REPO)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert len(lines) == 2
    for line in lines:
        assert "pywayland is not importable" in line and "pipx inject psoas-break" in line
