"""`psoas-break install-desktop` / `uninstall-desktop`: the launcher, icon and AppStream
metainfo in your data folder (adapters/desktop_install.py), e.g. after `pipx install`.

Exit codes: 0 done, 1 a file could not be written or removed, or a launcher psoas-break did not
write is in the way.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from psoas_break.adapters.files.paths import AppPaths
from psoas_break.core.i18n import _
from psoas_break.ports import StorageError

COMMANDS = frozenset({"install-desktop", "uninstall-desktop"})


def add_subcommands(subparsers: Any) -> None:
    """Add both commands to the top-level `psoas-break` subparsers."""
    subparsers.add_parser("install-desktop", help=_(
        "add psoas-break to your applications menu (launcher, icon, AppStream metainfo)"))
    subparsers.add_parser("uninstall-desktop", help=_(
        "remove what install-desktop added"))


def run(args: argparse.Namespace, paths: AppPaths) -> int:
    from psoas_break.adapters import desktop_install

    try:
        if args.command == "install-desktop":
            report = desktop_install.install(paths.desktop_manifest)
        else:
            report = desktop_install.uninstall(paths.desktop_manifest)
    except StorageError as exc:
        print(f"psoas-break: {exc}", file=sys.stderr)
        return 1
    for note in report.notes:
        print(f"psoas-break: {note}", file=sys.stderr)
    for path in report.done:
        print(path)
    for path, why in report.left:
        print(_("left alone: {path} ({why})", path=path, why=why), file=sys.stderr)
    if args.command == "install-desktop":
        print(_("psoas-break is in your applications menu now; `psoas-break uninstall-desktop` "
                "removes it."))
    elif not report.done:
        print(_("nothing to remove: install-desktop wrote nothing here"))
    return 0
