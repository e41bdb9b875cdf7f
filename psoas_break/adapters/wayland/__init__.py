"""Wayland: the app's one client connection to the compositor, and the protocols it speaks.

- connection.py: one connection per display per process, served by one thread that sleeps in
  poll() while the compositor sends nothing; features (the idle source, the fullscreen
  detector) attach to it and detach. pywayland is imported only there, lazily.
- protocols/: the XML of the protocols pywayland does not ship (org_kde_kwin_idle,
  zwlr_foreign_toplevel_manager_v1) or ships at another version (ext_idle_notifier_v1), with
  the modules generated from them (.ci/wayland_bindings.py; `make test` checks they are fresh).

Licences: the XML and the module generated from it keep the XML's licence in their header:
ext-idle-notify (MIT), wlr-foreign-toplevel-management (HPND-style permissive) and KDE's idle
protocol (LGPL-2.1-or-later: shipped unmodified as protocol text beside the MIT app).
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from psoas_break.ports import Unavailable

# Its wheels are x86_64-only (pyproject leaves it out elsewhere): there it is built from source.
PYWAYLAND_FIX = ("install pywayland into the app's environment (pipx inject psoas-break "
                 "'pywayland>=0.4.19,<0.5'; off x86_64 it is built: libwayland-dev and a C "
                 "compiler first)")


def display_path(env: Mapping[str, str]) -> str:
    """The Wayland socket of this session as an absolute path (libwayland's own rule: a
    relative WAYLAND_DISPLAY lives in XDG_RUNTIME_DIR); raises Unavailable when there is none."""
    name = env.get("WAYLAND_DISPLAY", "")
    if not name:
        raise Unavailable("not a Wayland session (WAYLAND_DISPLAY is not set)")
    if os.path.isabs(name):
        return name
    runtime = env.get("XDG_RUNTIME_DIR", "")
    if not runtime:
        raise Unavailable(f"WAYLAND_DISPLAY={name} but XDG_RUNTIME_DIR is not set")
    return os.path.join(runtime, name)
