"""``portal-tui init``: write a commented starter config where the loader looks.

Exit codes: 0 written; 3 (the usage/config code) when a file is already
there (never overwritten), when the path cannot be written (a directory in
the way, no permission), or when ``--demo``/``--db`` is given (they do not
apply). Always one line on stderr, never a traceback.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from portal_tui.config.starter import AlreadyThere, init_path, write_starter
from portal_tui.vocabulary.errors import ExitCode


def add_init_command(sub: argparse._SubParsersAction[Any]) -> None:
    """Add ``init [--config PATH]`` to ``sub``."""
    init = sub.add_parser(
        "init",
        help="write a commented starter config (never overwrites); exit 0 written, "
        "3 already there or not writable",
    )
    init.add_argument(
        "--config",
        metavar="PATH",
        dest="after_config",
        default=argparse.SUPPRESS,
        help="write here (default: $PORTAL_TUI_CONFIG, then the user config dir, "
        "where portal-tui looks)",
    )


def run_init_command(args: argparse.Namespace) -> int:
    """Write the starter config; the exit code (see the module's docstring)."""
    for name in ("demo", "db"):
        if getattr(args, name, None):
            print(
                f"portal-tui init: --{name} does not apply to 'init'; leave it out", file=sys.stderr
            )
            return ExitCode.UNKNOWN
    path = init_path(args.config).absolute()
    try:
        write_starter(path)
    except AlreadyThere:
        print(
            f"portal-tui init: {path} already exists; not overwriting it (edit it, or move "
            "it away and run init again)",
            file=sys.stderr,
        )
        return ExitCode.UNKNOWN
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        where = f" ({exc.filename})" if exc.filename and str(exc.filename) != str(path) else ""
        print(f"portal-tui init: cannot write {path}: {reason}{where}", file=sys.stderr)
        return ExitCode.UNKNOWN
    print(f"wrote a starter config to {path}")
    print("next: set base_url in it, export EMAILBISON_MASTER_TOKEN (your master token),")
    print("      then run `portal-tui doctor` and `portal-tui check`; or try `portal-tui --demo`")
    return ExitCode.OK
