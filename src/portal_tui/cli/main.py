"""The ``portal-tui`` command line.

Importing this module is cheap: the console (Textual) and the simulator are
imported only by the subcommands that use them. Every expected failure is
one clear line on stderr and a documented exit code, never a traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Callable, Sequence
from typing import NoReturn

from portal_tui import __version__
from portal_tui.cli import record_commands
from portal_tui.cli.init_command import add_init_command, run_init_command
from portal_tui.cli.verify_command import add_verify_command, run_verify_command
from portal_tui.engine.memory import pace_collections, tune_allocator
from portal_tui.vocabulary.errors import ConfigError, ExitCode, PortalError, StoreError


def dashboard_choice(text: str) -> str:
    """``--dashboard``'s value checked against the dashboard registry.

    The registry (every dashboard module, pydantic models and all) is imported
    only when the option is given: ``history`` or ``--version`` do not pay for it.
    """
    from portal_tui.dashboards.registry import dashboard_names

    known = dashboard_names()
    if text not in known:
        choices = ", ".join(repr(str(name)) for name in known)
        raise argparse.ArgumentTypeError(f"invalid choice: {text!r} (choose from {choices})")
    return text


class _Parser(argparse.ArgumentParser):
    """argparse that exits 3 (UNKNOWN) on usage errors, per the check convention."""

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(ExitCode.UNKNOWN, f"{self.prog}: error: {message}\n")


GLOBAL_OPTIONS = ("config", "db", "demo")
"""Options accepted before or after the subcommand (SPEC 8): never silently ignored."""

_COMMANDS_WITH_GLOBALS: tuple[str, ...] = (
    "check",
    "export",
    "history",
    "doctor",
    "verify",
    "metrics",
)
_AFTER = "after_"  # dest prefix of a global option given after the subcommand


def _common(parser: argparse.ArgumentParser, *, after: bool = False) -> None:
    """``--config``, ``--demo`` and ``--db``; ``after`` for a subcommand's own copy.

    A subcommand's copy stores under another name with no default, so a value
    given before the subcommand is not overwritten by the subparser's default
    (argparse's behaviour with a shared ``dest``); :func:`parse_args` merges them.
    """
    prefix, default = (_AFTER, argparse.SUPPRESS) if after else ("", None)
    parser.add_argument(
        "--config",
        metavar="PATH",
        dest=f"{prefix}config",
        default=default,
        help="config TOML (default: $PORTAL_TUI_CONFIG, then the user config dir)",
    )
    parser.add_argument(
        "--demo",
        action="store_true",
        dest=f"{prefix}demo",
        default=argparse.SUPPRESS if after else False,
        help="use the built-in simulator: no network, no tokens",
    )
    parser.add_argument(
        "--db",
        metavar="PATH",
        dest=f"{prefix}db",
        default=default,
        help="SQLite file (default: from the config, else the user data dir)",
    )


class UsageError(Exception):
    """A command line that parses but cannot be honoured (exit 3, one line)."""


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Parse ``argv``, merging global options given before and after the subcommand.

    ``--config``/``--db`` given in both places with different values, or a
    global option given to a subcommand that has no use for it, raise
    :class:`UsageError`; nothing is dropped silently.
    """
    args = build_parser().parse_args(argv)
    takes_globals = args.command in (None, *_COMMANDS_WITH_GLOBALS)
    for name in GLOBAL_OPTIONS:
        before = getattr(args, name)
        after = getattr(args, _AFTER + name, None)
        if hasattr(args, _AFTER + name):
            delattr(args, _AFTER + name)
        if not takes_globals:
            if before:
                raise UsageError(f"--{name} does not apply to '{args.command}'; leave it out")
            continue
        if name == "demo":
            args.demo = bool(before or after)
        elif before is not None and after is not None and not _same_path(before, after):
            raise UsageError(
                f"--{name} is given twice with different values ({before!r} before "
                f"'{args.command}', {after!r} after it); give it once"
            )
        elif after is not None:
            setattr(args, name, after)
    return args


def _same_path(a: str, b: str) -> bool:
    import os

    def norm(text: str) -> str:
        return os.path.normpath(os.path.abspath(os.path.expanduser(text)))

    return a == b or norm(a) == norm(b)


# issue 17: `watch` and `alert test` take --config/--demo/--db too.
_COMMANDS_WITH_GLOBALS = (*_COMMANDS_WITH_GLOBALS, "watch", "alert")
# issue 19: `init` takes --config (where to write); it refuses --demo/--db itself.
_COMMANDS_WITH_GLOBALS = (*_COMMANDS_WITH_GLOBALS, "init")


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
    _common(check, after=True)
    check.add_argument("--json", action="store_true", help="print the report as JSON")
    check.add_argument(
        "--dashboard",
        type=dashboard_choice,
        action="append",
        metavar="NAME",
        help="limit to a dashboard, e.g. kpi (repeatable; an unknown name lists the known ones)",
    )

    record_commands.add_offline_commands(sub, _common)
    add_verify_command(sub, _common)  # issue 19: portal_tui.cli.verify_command
    add_init_command(sub)  # issue 19: portal_tui.cli.init_command
    record_commands.add_metrics_command(sub, _common)

    # -- issue 17: watch, alert test (self-contained: portal_tui.cli.alerts_cmds) --
    from portal_tui.cli.alerts_cmds import add_alert_commands

    add_alert_commands(sub, _common)

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
    try:
        args = parse_args(argv)
    except UsageError as exc:
        print(f"portal-tui: error: {exc}", file=sys.stderr)
        return ExitCode.UNKNOWN
    tune_allocator()  # before any thread allocates: see portal_tui.engine.memory
    pace_collections()  # full garbage collections between refreshes, not inside them
    try:
        if args.command == "check":
            return _check(args)
        if args.command == "simulate":
            return _simulate(args)
        if args.command == "export":
            return record_commands.run_export(args)
        if args.command == "history":
            return record_commands.run_history(args)
        if args.command == "doctor":
            return record_commands.run_doctor(args)
        if args.command == "verify":
            return run_verify_command(args)
        if args.command == "init":
            return run_init_command(args)
        if args.command == "metrics":
            return record_commands.run_metrics(args)
        if args.command in ("watch", "alert"):  # issue 17
            from portal_tui.cli.alerts_cmds import run_alert_command

            return run_alert_command(args)
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
    except BrokenPipeError:  # stdout closed early (``| head``): not an error worth a word
        _silence_stdout()
        return ExitCode.OK
    except Exception as exc:  # a bug: one line for the user, the details in a file
        scrub = _scrubber(args)
        where = _write_crash_report(exc, scrub)
        print(
            f"portal-tui: internal error ({type(exc).__name__}: {scrub(str(exc))}); this is a "
            f"bug. Details: {where}",
            file=sys.stderr,
        )
        return ExitCode.UNKNOWN


def _silence_stdout() -> None:
    """Point stdout at /dev/null so the interpreter's final flush does not fail again."""
    import os

    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass


def _scrubber(args: argparse.Namespace) -> Callable[[str], str]:
    """Redaction for crash text: bearer headers, token query parameters and token values.

    The values are those of the variables the config names (when it can be
    read) and of any variable whose name says it holds a secret: a crash
    message or traceback may quote a token verbatim.
    """
    import contextlib
    import os
    import re

    from portal_tui.config import Secrets, find_config_path, load_config
    from portal_tui.upstream.client import redact

    secret_name = re.compile(r"(?i)token|secret|passw|api_?key|bearer|auth")
    values = {v for k, v in os.environ.items() if secret_name.search(k) and len(v) >= 8}
    with contextlib.suppress(Exception):  # best effort: the config may be what is broken
        path = find_config_path(getattr(args, "config", None))
        if path is not None:
            config = load_config(path, check_env=False)
            values.update(v for v in Secrets().token_values(config) if len(v) >= 8)
    ordered = sorted(values, key=len, reverse=True)  # a token inside another goes second

    def scrub(text: str) -> str:
        text = redact(text)
        for value in ordered:
            text = text.replace(value, "[redacted]")
        return text

    return scrub


def _write_crash_report(exc: BaseException, scrub: Callable[[str], str]) -> str:
    """Write the traceback (redacted) beside the database; return where it went."""
    import traceback
    from datetime import UTC, datetime

    from portal_tui.vocabulary.locations import data_dir

    text = scrub("".join(traceback.format_exception(exc)))
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
    from portal_tui.cli.alerts_cmds import deliver_before_exit
    from portal_tui.cli.check_progress import CheckProgress
    from portal_tui.engine.runtime import open_runtime
    from portal_tui.reports.check import print_human, print_json, run_check, transport_warnings
    from portal_tui.vocabulary.names import DashboardName

    async def go() -> int:
        runtime = await open_runtime(config_arg=args.config, demo=args.demo, db_arg=args.db)
        try:
            for warning in transport_warnings(runtime.monitor):
                print(f"portal-tui: {warning}", file=sys.stderr)
            for notice in getattr(runtime.store, "notices", []):
                print(f"portal-tui: {notice}", file=sys.stderr)
            names = [DashboardName(d) for d in args.dashboard] if args.dashboard else None
            progress = CheckProgress.on_terminal(runtime.monitor, sys.stderr)
            try:
                code, report = await run_check(runtime.monitor, names)
            finally:
                if progress is not None:
                    progress.stop()
            await deliver_before_exit(runtime.monitor)  # issue 17
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
    from portal_tui.console.app import run_console
    from portal_tui.console.terminal import SWITCH_INTERVAL

    sys.setswitchinterval(SWITCH_INTERVAL)  # keys cross threads (see console.terminal)
    pace_collections(freeze=True)  # sweeps between refreshes walk only what is new
    return run_console(config_arg=args.config, demo=args.demo, db_arg=args.db)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
