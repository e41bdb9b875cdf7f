"""`psoas-break config show|get|set|reset|path`: read and change settings from a terminal.

Exit codes: 0 done, 2 bad input (unknown key, value not allowed, locked key), 1 could not save
(also: the file cannot be read completely, so it is not rewritten; the line says what to fix).

Every problem is printed once, as one line, with values shortened and control characters
escaped (core/plain_text); `show` escapes what it prints from the file the same way.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from typing import Any

from psoas_break.adapters.files.paths import AppPaths
from psoas_break.adapters.files.settings_store import SettingsStore
from psoas_break.core.i18n import _
from psoas_break.core.plain_text import one_line
from psoas_break.core.settings import SPECS, SettingError, describe, parse_cli_value
from psoas_break.ports import StorageError


def add_subcommands(subparsers: Any) -> None:
    config = subparsers.add_parser("config", help=_("show or change settings"))
    sub = config.add_subparsers(dest="config_command", metavar="ACTION")
    sub.required = True
    sub.add_parser("show", help=_("every setting, its value, where it comes from and its range"))
    get = sub.add_parser("get", help=_("print one setting's value"))
    get.add_argument("key", metavar="KEY")
    set_ = sub.add_parser("set", help=_("change one setting (the running app picks it up)"))
    set_.add_argument("key", metavar="KEY")
    set_.add_argument("value", metavar="VALUE")
    reset = sub.add_parser("reset", help=_("back to the default (one key, or all)"))
    reset.add_argument("key", metavar="KEY", nargs="?")
    sub.add_parser("path", help=_("where the settings files are"))


def _format(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, str)):
        return one_line(str(value))
    return one_line(describe(value))


def _say(line: str) -> None:
    print(f"psoas-break: {one_line(line)}", file=sys.stderr)


def run(
    args: argparse.Namespace,
    paths: AppPaths,
    notify_app: Callable[[], object] | None = None,
) -> int:
    """Carry out one `config` action; `notify_app` tells a running app to reload settings."""
    store = SettingsStore(paths.settings_file, paths.site_settings_files)
    action = args.config_command
    if action == "path":
        print(paths.settings_file)
        for site in paths.site_settings_files:
            print(_("{path} (site defaults, present)", path=site) if os.path.isfile(site)
                  else _("{path} (site defaults, absent)", path=site))
        return 0
    result = store.load()
    for line in result.problems:
        # set/reset refuse a file they cannot rewrite with a line of their own that names
        # the same problem: say it once.
        if action in ("show", "get") or line != store.file_problem:
            _say(line)
    if action == "show":
        for key, spec in SPECS.items():
            value = getattr(result.settings, key)
            if key in result.locked:
                source = _("locked by site")
            elif store.user_value(key) is not None:
                source = _("set by you")
            else:
                source = _("default")
            print(f"{key} = {_format(value)}    # {source}; {spec.allowed()}: {spec.help}")
        for key in result.unknown:
            print(_("# unknown key kept in the file: {key}", key=one_line(key, 80)))
        return 0
    if action == "get":
        if args.key not in SPECS:
            print(_("psoas-break: unknown setting {key}; known settings: {known}",
                    key=one_line(repr(args.key), 60), known=", ".join(SPECS)), file=sys.stderr)
            return 2
        print(_format(getattr(result.settings, args.key)))
        return 0
    try:
        if action == "set":
            value = parse_cli_value(args.key, args.value, getattr(result.settings, args.key, None))
            result = store.save(args.key, value)
            print(f"{args.key} = {_format(getattr(result.settings, args.key))}")
        else:
            result = store.reset(args.key)
            keys = [args.key] if args.key else list(SPECS)
            for key in keys:
                print(f"{key} = {_format(getattr(result.settings, key))}")
    except SettingError as exc:
        _say(str(exc))
        return 2
    except StorageError as exc:
        _say(str(exc))
        return 1
    if notify_app is not None:
        notify_app()
    return 0
