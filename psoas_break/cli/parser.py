"""The `psoas-break` command line's parser (argparse: imported only for a subcommand)."""

from __future__ import annotations

import argparse
import sys

from psoas_break import __version__
from psoas_break.core.i18n import _


class _Parser(argparse.ArgumentParser):
    """argparse that prints one usage line and one bounded error line, exit 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        from psoas_break.core.plain_text import one_line

        self.print_usage(sys.stderr)
        # argparse quotes the offending argument whole: keep the line short and inert.
        print(f"{self.prog}: {one_line(message)}", file=sys.stderr)
        raise SystemExit(2)


def build_parser() -> argparse.ArgumentParser:
    from psoas_break.cli import autostart, config, control, desktop, exercises, speech, stats

    parser = _Parser(prog="psoas-break", description=_(
        "Times how long you sit and prompts hip-flexor stretches and posture changes."))
    parser.add_argument("--version", action="version", version=f"psoas-break {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help=_("log to stderr as well"))
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.add_parser("run", help=_("start the tray app (the default)"))
    config.add_subcommands(sub)
    control.add_subcommands(sub)
    autostart.add_subcommands(sub)
    desktop.add_subcommands(sub)
    sub.add_parser("doctor",
                   help=_("which tray, notifier, idle source and speech engine work here"))
    exercises.add_subcommands(sub)
    stats.add_subcommands(sub)
    speech.add_subcommands(sub)
    return parser
