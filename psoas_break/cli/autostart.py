"""`psoas-break autostart on|off|status`: start psoas-break at login, or stop doing so.

Exit codes: 0 done (for `status`: whatever the state), 1 could not change it (or an entry that
psoas-break did not write is in the way), 2 bad arguments.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from psoas_break.adapters.autostart import Autostart, make_autostart
from psoas_break.core.i18n import _
from psoas_break.ports import StorageError


def add_subcommands(subparsers: Any) -> None:
    """Add `autostart` to the top-level `psoas-break` subparsers."""
    autostart = subparsers.add_parser(
        "autostart", help=_("start psoas-break at login (on|off|status)")
    )
    autostart.add_argument(
        "action", metavar="on|off|status", choices=("on", "off", "status"),
        help=_("on: start at login; off: remove the login entry; status: show it"),
    )


def run(args: argparse.Namespace, backend: Autostart | None = None) -> int:
    """Carry out `autostart <action>`; returns the exit code."""
    autostart = backend if backend is not None else make_autostart()
    try:
        if args.action == "on":
            status = autostart.enable()
        elif args.action == "off":
            status = autostart.disable()
        else:
            status = autostart.status()
    except StorageError as exc:
        print(f"psoas-break: {exc}", file=sys.stderr)
        return 1
    print(_("Start at login: {detail}", detail=status.detail))
    if args.action == "on" and not status.enabled:
        print(_("psoas-break: the login entry was written but does not work: {detail}",
                detail=status.detail), file=sys.stderr)
        return 1
    return 0
