"""The `psoas-break` command: starts the tray app (default) and its subcommands.

Exit codes: 0 ok, 1 failed, 2 bad arguments or input, 3 the app is not running (control commands).
"""

from __future__ import annotations

import sys
from typing import Any

from psoas_break.adapters.files.paths import AppPaths
from psoas_break.core import i18n
from psoas_break.core.i18n import _

RUN_FLAGS = frozenset({"run", "-v", "--verbose"})


def __getattr__(name: str) -> Any:
    # The parser lives in cli/parser.py: argparse is not imported when the app starts.
    if name in ("build_parser", "_Parser"):
        from psoas_break.cli import parser

        return getattr(parser, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def main(argv: list[str] | None = None) -> int:
    try:
        return _main(argv)
    except BrokenPipeError:
        # `psoas-break exercises | head`: the reader left; that is not an error.
        import os

        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # the last net: a person never sees a traceback (the log has it)
        import logging

        from psoas_break.core.plain_text import one_line

        logging.getLogger(__name__).error("unexpected error", exc_info=True)
        print(f"psoas-break: unexpected error ({type(exc).__name__}: "
              f"{one_line(str(exc), 200)}); please report it", file=sys.stderr)
        return 1


def _quiet_logging(verbose: bool) -> None:
    """A subcommand prints its own one-line messages: without -v, what the modules log must
    not reach stderr a second time (Python prints warnings of an unconfigured logging there)."""
    import logging

    root = logging.getLogger()
    if verbose:
        logging.basicConfig(level=logging.DEBUG, format="%(levelname)s %(name)s: %(message)s")
    elif not root.handlers:
        root.addHandler(logging.NullHandler())


def _main(argv: list[str] | None = None) -> int:
    # The language for everything this process shows, once, from LANGUAGE/LC_ALL/LANG.
    i18n.install()
    args_list = sys.argv[1:] if argv is None else argv
    if set(args_list) <= RUN_FLAGS and args_list.count("run") <= 1:
        # Starting the app (also at login): skip importing every subcommand's module; the
        # icon shows sooner and the process stays smaller.
        from psoas_break.app import run_app

        verbose = "-v" in args_list or "--verbose" in args_list
        return run_app(AppPaths.default(), verbose=verbose)
    from psoas_break.cli import autostart, config, control, desktop, exercises, speech, stats
    from psoas_break.cli.parser import build_parser

    parser = build_parser()
    args = parser.parse_args(argv)
    _quiet_logging(args.verbose)
    paths = AppPaths.default()
    command = args.command or "run"
    if command == "config":
        return config.run(args, paths, notify_app=lambda: control.notify_reload(paths))
    if command in control.COMMANDS:
        return control.run(args, paths)
    if command == "autostart":
        return autostart.run(args)
    if command in desktop.COMMANDS:
        return desktop.run(args, paths)
    if command == "doctor":
        from psoas_break.cli import doctor  # imports the adapter families: only for doctor

        return doctor.run(paths)
    if command == "exercises":
        return exercises.run(args, paths, notify_app=lambda: control.notify_reload(paths))
    if command == "stats":
        return stats.run(args, paths)
    if command == "say":
        return speech.run(args)
    if command == "run":
        from psoas_break.app import run_app

        return run_app(paths, verbose=args.verbose)
    parser.error(_("unknown command {command}", command=repr(command)))
    return 2
