"""The core imports only the standard library: it loads with every GUI/OS library blocked."""

from __future__ import annotations

import ast
import pkgutil
import subprocess
import sys
from pathlib import Path

import psoas_break.core

CORE_DIR = Path(psoas_break.core.__file__).parent

PROBE = r"""
import importlib, pkgutil, sys
BLOCKED = ("pystray", "plyer", "PIL", "schedule", "platformdirs", "tomli_w", "gi", "dbus",
           "dbus_fast", "Xlib", "ctypes")
class Block:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ImportError(f"blocked in this test: {name}")
        return None
sys.meta_path.insert(0, Block())
import psoas_break.core as core
names = [m.name for m in pkgutil.iter_modules(core.__path__)]
for name in names:
    importlib.import_module(f"psoas_break.core.{name}")
from datetime import datetime, timezone
from psoas_break.core.engine import SittingEngine
from psoas_break.core.events import Tick
from psoas_break.core.settings import Settings
e = SittingEngine(Settings())
now = datetime(2026, 1, 1, tzinfo=timezone.utc)
for i in range(40):
    e.tick(Tick(now, 60.0 * i, 0.0))
assert e.status().state == "prompt_due", e.status()
print("ok", len(names))
"""


def test_core_imports_with_gui_libraries_blocked() -> None:
    out = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, check=False, timeout=60
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("ok")
    assert int(out.stdout.split()[1]) >= 3


def test_core_sources_import_only_stdlib_and_core() -> None:
    stdlib = set(sys.stdlib_module_names)
    for module in pkgutil.iter_modules([str(CORE_DIR)]):
        tree = ast.parse((CORE_DIR / f"{module.name}.py").read_text())
        for node in ast.walk(tree):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            for name in names:
                top = name.split(".")[0]
                ok = top in stdlib or name.startswith("psoas_break.core") or top == "__future__"
                assert ok, f"core/{module.name}.py imports {name}"
