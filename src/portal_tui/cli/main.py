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
from datetime import timedelta
from typing import Any, NoReturn

from portal_tui import __version__
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

    _offline_commands(sub)
    add_verify_command(sub, _common)  # issue 19: portal_tui.cli.verify_command
    _metrics_command(sub)

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


def _span(text: str) -> timedelta:
    """argparse type for ``--since``: ``30m``, ``1h``, ``24h``, ``7d`` (bad → exit 3)."""
    from portal_tui.vocabulary.timespan import parse_span

    try:
        return parse_span(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 < value <= 120:
        raise argparse.ArgumentTypeError(f"invalid seconds {text!r}: a number in (0, 120]")
    return value


def _offline_commands(sub: argparse._SubParsersAction[_Parser]) -> None:
    """``export``, ``history`` and ``doctor``."""
    export = sub.add_parser(
        "export",
        help="incident report from the local records alone (no network, no tokens)",
        description="Health, dashboard states and ages, failing workspaces, open consistency "
        "findings and validation errors, API errors and the timeline, from SQLite alone.",
    )
    _common(export, after=True)
    export.add_argument("--format", choices=("md", "json"), default="md", help="default: md")
    export.add_argument(
        "-o", "--output", metavar="FILE", help="write FILE (atomically) instead of stdout"
    )
    export.add_argument(
        "--since", type=_span, default="1h", metavar="SPAN", help="window, e.g. 1h (default), 24h"
    )

    history = sub.add_parser(
        "history",
        help="per instance and workspace: success rate, p50/p95, errors, transitions",
    )
    _common(history, after=True)
    history.add_argument(
        "--since", type=_span, default="24h", metavar="SPAN", help="1h, 24h (default), 7d, ..."
    )
    history.add_argument("--workspace", metavar="NAME", help="one workspace (any case)")
    history.add_argument("--json", action="store_true", help="print JSON")

    doctor = sub.add_parser(
        "doctor",
        help="check config, tokens, data dir, database and upstream; exit codes as check",
    )
    _common(doctor, after=True)
    doctor.add_argument("--json", action="store_true", help="print JSON")
    doctor.add_argument(
        "--timeout", type=_seconds, default=5.0, metavar="SECONDS", help="per upstream probe"
    )


# -- metrics (issue 17, item 6) -------------------------------------------------------------


def _metrics_command(sub: argparse._SubParsersAction[_Parser]) -> None:
    metrics = sub.add_parser(
        "metrics",
        help="OpenMetrics from the local records alone (no network, no tokens)",
        description="Health score and level, dashboard ages, failing workspaces, open findings "
        "and validation errors, API attempts and response times, read from SQLite alone.",
    )
    _common(metrics, after=True)
    metrics.add_argument(
        "--textfile",
        metavar="PATH",
        help="write PATH atomically (Prometheus text format, for node_exporter's textfile "
        "collector) instead of printing OpenMetrics",
    )
    metrics.add_argument(
        "--since",
        dest="window",
        type=_span,
        default="5m",
        metavar="SPAN",
        help="window of the API attempt and response-time numbers (default: 5m)",
    )


def _metrics(args: argparse.Namespace) -> int:
    from pathlib import Path

    from portal_tui.reports.export import write_atomically
    from portal_tui.reports.metrics import read_snapshot, render_openmetrics, render_text
    from portal_tui.reports.records_file import locate_records, open_records
    from portal_tui.vocabulary.clock import SystemClock

    location = locate_records(config_arg=args.config, demo=args.demo, db_arg=args.db)
    target = Path(args.textfile).expanduser() if args.textfile else None
    if target is not None and (target.is_dir() or not target.parent.is_dir()):
        why = "it is a directory" if target.is_dir() else f"no directory {target.parent}"
        print(f"portal-tui metrics: cannot write {target}: {why}", file=sys.stderr)
        return ExitCode.UNKNOWN

    async def go() -> str:
        clock = SystemClock()
        store = await open_records(location, clock)
        try:
            for notice in store.notices:
                print(f"portal-tui: {notice}", file=sys.stderr)
            snapshot = await read_snapshot(store, clock.now(), window=args.window)
        finally:
            await store.close()
        return render_text(snapshot) if target is not None else render_openmetrics(snapshot)

    text = asyncio.run(go())
    if target is None:
        sys.stdout.write(text)
        return ExitCode.OK
    try:
        write_atomically(target, text)
    except OSError as exc:
        print(f"portal-tui metrics: cannot write {target}: {exc.strerror or exc}", file=sys.stderr)
        return ExitCode.UNKNOWN
    return ExitCode.OK


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
            return _export(args)
        if args.command == "history":
            return _history(args)
        if args.command == "doctor":
            return _doctor(args)
        if args.command == "verify":
            return run_verify_command(args)
        if args.command == "metrics":
            return _metrics(args)
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
            code, report = await run_check(runtime.monitor, names)
        finally:
            await runtime.aclose()
        (print_json if args.json else print_human)(report)
        return int(code)

    return asyncio.run(go())


def _export(args: argparse.Namespace) -> int:
    from pathlib import Path

    from portal_tui.reports.export import build_report, render_json, write_atomically
    from portal_tui.reports.export_markdown import render_markdown
    from portal_tui.reports.records_file import locate_records, open_records
    from portal_tui.vocabulary.clock import SystemClock

    location = locate_records(config_arg=args.config, demo=args.demo, db_arg=args.db)
    target = Path(args.output).expanduser() if args.output else None
    if target is not None and (target.is_dir() or not target.parent.is_dir()):
        print(
            f"portal-tui export: cannot write {target}: "
            + ("it is a directory" if target.is_dir() else f"no directory {target.parent}"),
            file=sys.stderr,
        )
        return ExitCode.UNKNOWN

    async def go() -> dict[str, object]:
        clock = SystemClock()
        store = await open_records(location, clock)
        try:
            for notice in store.notices:
                print(f"portal-tui: {notice}", file=sys.stderr)
            return await build_report(store, location, now=clock.now(), since=args.since)
        finally:
            await store.close()

    report = asyncio.run(go())
    text = render_json(report) if args.format == "json" else render_markdown(report)
    if target is None:
        sys.stdout.write(text)
    else:
        try:
            write_atomically(target, text)
        except OSError as exc:
            print(
                f"portal-tui export: cannot write {target}: {exc.strerror or exc}", file=sys.stderr
            )
            return ExitCode.UNKNOWN
        print(f"portal-tui export: wrote {target}", file=sys.stderr)
    return ExitCode.OK


def _history(args: argparse.Namespace) -> int:
    from portal_tui.reports.history import build_history, print_history, print_history_json
    from portal_tui.reports.records_file import locate_records, open_records
    from portal_tui.vocabulary.clock import SystemClock

    location = locate_records(config_arg=args.config, demo=args.demo, db_arg=args.db)

    async def go() -> dict[str, Any]:
        clock = SystemClock()
        store = await open_records(location, clock)
        try:
            for notice in store.notices:
                print(f"portal-tui: {notice}", file=sys.stderr)
            return await build_history(
                store, now=clock.now(), since=args.since, workspace=args.workspace
            )
        finally:
            await store.close()

    doc = asyncio.run(go())
    if args.workspace and not doc["workspaces"]:
        known = ", ".join(doc["known_workspaces"][:15]) or "none"
        print(
            f"portal-tui history: nothing recorded for workspace {args.workspace!r} in the last "
            f"{doc['window']}; workspaces with records: {known}",
            file=sys.stderr,
        )
    (print_history_json if args.json else print_history)(doc, sys.stdout)
    return ExitCode.OK


def _doctor(args: argparse.Namespace) -> int:
    from portal_tui.reports.doctor import print_doctor, print_doctor_json, run_doctor

    report = asyncio.run(
        run_doctor(
            config_arg=args.config, demo=args.demo, db_arg=args.db, probe_seconds=args.timeout
        )
    )
    (print_doctor_json if args.json else print_doctor)(report, sys.stdout)
    return int(report.exit_code)


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

    return run_console(config_arg=args.config, demo=args.demo, db_arg=args.db)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
