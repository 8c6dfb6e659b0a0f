"""The commands that read the records file: ``export``, ``history``, ``doctor``, ``metrics``.

Their arguments and their runs, kept apart from :mod:`portal_tui.cli.main` so
each module stays one concept. Imports of the reports happen inside the runs:
the command line stays cheap to import.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from portal_tui.vocabulary.errors import ExitCode


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


def add_offline_commands(
    sub: argparse._SubParsersAction[Any], common: Callable[..., None]
) -> None:
    """``export``, ``history`` and ``doctor``."""
    export = sub.add_parser(
        "export",
        help="incident report from the local records alone (no network, no tokens)",
        description="Health, dashboard states and ages, failing workspaces, open consistency "
        "findings and validation errors, API errors and the timeline, from SQLite alone.",
    )
    common(export, after=True)
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
    common(history, after=True)
    history.add_argument(
        "--since", type=_span, default="24h", metavar="SPAN", help="1h, 24h (default), 7d, ..."
    )
    history.add_argument("--workspace", metavar="NAME", help="one workspace (any case)")
    history.add_argument("--json", action="store_true", help="print JSON")

    doctor = sub.add_parser(
        "doctor",
        help="check config, tokens, data dir, database and upstream; exit codes as check",
    )
    common(doctor, after=True)
    doctor.add_argument("--json", action="store_true", help="print JSON")
    doctor.add_argument(
        "--timeout", type=_seconds, default=5.0, metavar="SECONDS", help="per upstream probe"
    )


# -- metrics (issue 17, item 6) -------------------------------------------------------------


def add_metrics_command(
    sub: argparse._SubParsersAction[Any], common: Callable[..., None]
) -> None:
    metrics = sub.add_parser(
        "metrics",
        help="OpenMetrics from the local records alone (no network, no tokens)",
        description="Health score and level, dashboard ages, failing workspaces, open findings "
        "and validation errors, API attempts and response times, read from SQLite alone.",
    )
    common(metrics, after=True)
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


def run_metrics(args: argparse.Namespace) -> int:
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


def run_export(args: argparse.Namespace) -> int:
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


def run_history(args: argparse.Namespace) -> int:
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


def run_doctor(args: argparse.Namespace) -> int:
    from portal_tui.reports.doctor import print_doctor, print_doctor_json, run_doctor

    report = asyncio.run(
        run_doctor(
            config_arg=args.config, demo=args.demo, db_arg=args.db, probe_seconds=args.timeout
        )
    )
    (print_doctor_json if args.json else print_doctor)(report, sys.stdout)
    return int(report.exit_code)


