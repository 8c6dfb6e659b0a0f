"""The ``portal-tui`` command line.

Importing this module is cheap: the console (Textual) and the simulator are
imported only by the subcommands that use them. Every expected failure is
one clear line on stderr and a documented exit code, never a traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence
from typing import NoReturn

from portal_tui import __version__
from portal_tui.errors import ConfigError, ExitCode, PortalError, StoreError

DASHBOARD_CHOICES = ("kpi", "volume", "revenue", "infrastructure")


class _Parser(argparse.ArgumentParser):
    """argparse that exits 3 (UNKNOWN) on usage errors, per the check convention."""

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(ExitCode.UNKNOWN, f"{self.prog}: error: {message}\n")


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config",
        metavar="PATH",
        help="config TOML (default: $PORTAL_TUI_CONFIG, then the user config dir)",
    )
    parser.add_argument(
        "--demo", action="store_true", help="use the built-in simulator: no network, no tokens"
    )
    parser.add_argument(
        "--db",
        metavar="PATH",
        help="SQLite file (default: from the config, else the user data dir)",
    )


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (exposed for tests and help text)."""
    parser = _Parser(
        prog="portal-tui",
        description="Incident console for the Performance Spotlight Portal's Email Bison data.",
    )
    parser.add_argument("--version", action="version", version=f"portal-tui {__version__}")
    _common(parser)
    sub = parser.add_subparsers(dest="command", parser_class=_Parser)

    check = sub.add_parser(
        "check", help="one refresh cycle, no UI; exit 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN"
    )
    _common(check)
    check.add_argument("--json", action="store_true", help="print the report as JSON")
    check.add_argument(
        "--dashboard",
        choices=DASHBOARD_CHOICES,
        action="append",
        help="limit to a dashboard (repeatable)",
    )

    sim = sub.add_parser("simulate", help="serve the Email Bison simulator over HTTP on loopback")
    sim.add_argument("--host", default="127.0.0.1")
    sim.add_argument("--port", type=int, default=8765)
    sim.add_argument("--workspaces", type=int, default=27)
    sim.add_argument("--seed", type=int, default=7)
    sim.add_argument(
        "--faults", default="", metavar="SPEC", help="fault spec, e.g. '5xx=0.1,revoked@3'"
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the exit code."""
    args = build_parser().parse_args(argv)
    try:
        if args.command == "check":
            return _check(args)
        if args.command == "simulate":
            return _simulate(args)
        return _console(args)
    except ConfigError as exc:
        print(f"portal-tui: config error: {exc}", file=sys.stderr)
        return ExitCode.UNKNOWN
    except StoreError as exc:
        print(f"portal-tui: local database error: {exc}", file=sys.stderr)
        return ExitCode.UNKNOWN
    except PortalError as exc:
        print(f"portal-tui: {exc}", file=sys.stderr)
        return ExitCode.UNKNOWN
    except KeyboardInterrupt:
        print("portal-tui: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # a bug: one line for the user, the details in a file
        where = _write_crash_report(exc)
        print(
            f"portal-tui: internal error ({type(exc).__name__}: {exc}); this is a bug. "
            f"Details: {where}",
            file=sys.stderr,
        )
        return ExitCode.UNKNOWN


def _write_crash_report(exc: BaseException) -> str:
    """Write the traceback (redacted) beside the database; return where it went."""
    import traceback
    from datetime import UTC, datetime

    from portal_tui.locations import data_dir
    from portal_tui.upstream.client import redact

    text = redact("".join(traceback.format_exception(exc)))
    try:
        folder = data_dir()
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / "crash.log"
        with path.open("a", encoding="utf-8") as handle:
            handle.write(f"--- {datetime.now(UTC).isoformat()}\n{text}\n")
        return str(path)
    except OSError:
        return "(could not write crash.log; run with PYTHONFAULTHANDLER=1 for more)"


def _check(args: argparse.Namespace) -> int:
    from portal_tui.check import print_human, print_json, run_check
    from portal_tui.dashboards.base import DashboardName
    from portal_tui.runtime import open_runtime

    async def go() -> int:
        runtime = await open_runtime(config_arg=args.config, demo=args.demo, db_arg=args.db)
        try:
            for notice in getattr(runtime.store, "notices", []):
                print(f"portal-tui: {notice}", file=sys.stderr)
            names = [DashboardName(d) for d in args.dashboard] if args.dashboard else None
            code, report = await run_check(runtime.monitor, names)
        finally:
            await runtime.aclose()
        (print_json if args.json else print_human)(report)
        return int(code)

    return asyncio.run(go())


def _simulate(args: argparse.Namespace) -> int:
    from portal_tui.simulator.server import run

    try:
        run(
            host=args.host,
            port=args.port,
            workspaces=args.workspaces,
            faults=args.faults,
            seed=args.seed,
        )
    except ValueError as exc:
        print(f"portal-tui simulate: {exc}", file=sys.stderr)
        return ExitCode.UNKNOWN
    return ExitCode.OK


def _console(args: argparse.Namespace) -> int:
    try:
        from portal_tui.console.app import run_console
    except ImportError:
        print(
            "portal-tui: the console is not built yet; use 'portal-tui check --demo' "
            "or 'portal-tui check --config PATH'",
            file=sys.stderr,
        )
        return ExitCode.UNKNOWN
    return run_console(config_arg=args.config, demo=args.demo, db_arg=args.db)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
