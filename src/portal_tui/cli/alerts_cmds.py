"""``portal-tui watch`` and ``portal-tui alert test`` (issue 17).

``watch`` is the refresh schedule and the alerts with no screen, for a jump
box that should alert when nobody is logged in: the same monitor as the
console (so the same records, hysteresis and outbox), dashboards revalidated
when their TTL lapses (the console's auto-refresh policy), alerts delivered
in the background (a pass after each cycle and every minute), one line per
cycle on stderr, a clean exit on SIGTERM or SIGINT. ``--metrics-port N``
also serves ``/metrics``; exit 3 when that port cannot be bound.

``alert test`` sends a test message to every ``[[alerts]]`` target and
reports each result; exit 0 when every target took it, 2 when one did not,
3 when there is no target.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
from typing import TYPE_CHECKING, Any, TextIO

from portal_tui.vocabulary.errors import ExitCode

if TYPE_CHECKING:
    from portal_tui.engine.monitor import PortalMonitor

TICK_SECONDS = 5.0
"""How often ``watch`` looks for dashboards whose TTL lapsed."""
STOP_DEADLINE = 10.0
"""Seconds a stopping ``watch`` gives the alerts in flight (the rest wait in the records)."""


def add_alert_commands(sub: argparse._SubParsersAction[Any], common: Any) -> None:
    """Add ``watch`` and ``alert test`` to the subcommands (``common`` adds the shared options)."""
    watch = sub.add_parser(
        "watch",
        help="the refresh schedule and alerts with no screen; one line per cycle on stderr",
        description="Refresh each dashboard when its TTL lapses, record every cycle and "
        "deliver the alerts, with no screen. Stops cleanly on SIGTERM or SIGINT.",
    )
    common(watch, after=True)
    watch.add_argument(
        "--metrics-port",
        type=_port,
        metavar="N",
        help="also serve /metrics (OpenMetrics, read from the records at each scrape) on port "
        "N; exit 3 if it cannot be bound",
    )
    watch.add_argument(
        "--metrics-host",
        default="127.0.0.1",
        metavar="HOST",
        help="the address /metrics listens on (default: 127.0.0.1, loopback only)",
    )
    alert = sub.add_parser("alert", help="alert targets: `alert test` sends a test message")
    common(alert, after=True)
    actions = alert.add_subparsers(dest="alert_command", required=True)
    test = actions.add_parser(
        "test", help="send a test message to every [[alerts]] target and report each result"
    )
    common(test, after=True)


def _port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        port = -1
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"not a port number: {text!r} (0-65535)")
    return port


def run_alert_command(args: argparse.Namespace) -> int:
    """Run ``watch`` or ``alert test``; returns the exit code."""
    if args.command == "watch":
        return asyncio.run(_watch(args))
    return asyncio.run(_alert_test(args))


def _cycle_line(monitor: PortalMonitor, outcome: Any, undelivered: int, level: str) -> str:
    failing = sum(1 for failed in outcome.workspace_failures.values() if failed)
    seconds = (outcome.finished_at - outcome.started_at).total_seconds()
    names = ",".join(str(d) for d in outcome.dashboards)
    return (
        f"portal-tui watch: {outcome.finished_at:%Y-%m-%dT%H:%M:%SZ} refreshed {names} in "
        f"{seconds:.1f}s: health {level}, {failing} workspace(s) failing"
        + (f", {undelivered} alert(s) undelivered" if monitor.config.alerts else "")
    )


async def watch_loop(
    monitor: PortalMonitor, stop: asyncio.Event, *, err: TextIO, tick: float = TICK_SECONDS
) -> int:
    """Refresh due dashboards until ``stop`` is set; returns the number of cycles run."""
    from portal_tui.console.autorefresh import AutoRefreshPolicy, BoardClock
    from portal_tui.dashboards.registry import dashboard_names

    policy = AutoRefreshPolicy(enabled=True)
    clock = monitor.clock
    cycles = 0
    await monitor.restore()
    monitor.alerts.start()  # a delivery pass every minute: retries and reminders
    while not stop.is_set():
        now = clock.now()
        boards = [
            BoardClock(n, monitor.freshness(n).age, monitor.ttl(n), n in monitor.refreshing)
            for n in dashboard_names()
        ]
        due = policy.due(boards, now)
        if due:
            policy.attempted(due, now)
            cycle = asyncio.ensure_future(monitor.refresh(due, triggered_by="auto"))
            halt = asyncio.ensure_future(stop.wait())
            await asyncio.wait({cycle, halt}, return_when=asyncio.FIRST_COMPLETED)
            halt.cancel()
            if not cycle.done():
                cycle.cancel()  # stopping: the monitor's close unwinds the cycle
                with contextlib.suppress(asyncio.CancelledError):
                    await cycle
                break
            outcome = cycle.result()
            cycles += 1
            if outcome is not None:
                undelivered = len(await monitor.store.alert_events(undelivered_only=True))
                level = monitor.health().level
                print(_cycle_line(monitor, outcome, undelivered, level), file=err, flush=True)
        with contextlib.suppress(TimeoutError):
            async with clock.timeout(tick):
                await stop.wait()
    return cycles


async def deliver_before_exit(monitor: PortalMonitor, *, err: TextIO | None = None) -> None:
    """``check``'s alerts, sent before it exits (bounded); what is left is said on ``err``."""
    from portal_tui.engine.alert_delivery import EXIT_DEADLINE

    err = err or sys.stderr
    if not await monitor.alerts.drain(EXIT_DEADLINE):
        print(
            f"portal-tui: alert delivery still running after {EXIT_DEADLINE:.0f}s; "
            "what is not sent stays in the records for the next run",
            file=err,
        )
    for trouble in monitor.alerts.trouble:
        print(f"portal-tui: {trouble.line()}", file=err)


async def _watch(args: argparse.Namespace) -> int:
    from portal_tui.engine.runtime import open_runtime
    from portal_tui.reports.metrics_server import MetricsPortError, MetricsServer, serve_metrics

    runtime = await open_runtime(config_arg=args.config, demo=args.demo, db_arg=args.db)
    metrics: MetricsServer | None = None
    if args.metrics_port is not None:
        try:
            metrics = await serve_metrics(
                runtime.monitor.store, runtime.monitor.clock, args.metrics_host, args.metrics_port
            )
        except MetricsPortError as exc:
            await runtime.aclose()
            print(f"portal-tui watch: {exc}", file=sys.stderr)
            return ExitCode.UNKNOWN
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        targets = len(runtime.config.alerts)
        print(
            f"portal-tui watch: started; records {runtime.monitor.store.path}, "
            f"{targets} alert target(s)"
            + (f"; /metrics on http://{metrics.host}:{metrics.port}" if metrics else "")
            + "; stop with SIGTERM or Ctrl-C",
            file=sys.stderr,
            flush=True,
        )
        cycles = await watch_loop(runtime.monitor, stop, err=sys.stderr)
        await runtime.monitor.alerts.drain(STOP_DEADLINE)  # this cycle's alerts, if they can
    finally:
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)
        if metrics is not None:
            await metrics.aclose()
        await runtime.aclose()
    print(f"portal-tui watch: stopped after {cycles} cycle(s)", file=sys.stderr, flush=True)
    return ExitCode.OK


async def _alert_test(args: argparse.Namespace) -> int:
    from portal_tui.engine.runtime import open_runtime

    runtime = await open_runtime(config_arg=args.config, demo=args.demo, db_arg=args.db)
    try:
        if not runtime.config.alerts:
            print(
                "portal-tui alert test: no [[alerts]] targets in the config "
                "(see config.example.toml)",
                file=sys.stderr,
            )
            return ExitCode.UNKNOWN
        results = await runtime.monitor.alerts.test()
    finally:
        await runtime.aclose()
    for result in results:
        tries = f" after {result.tries} tries" if result.tries else ""
        status = "ok" if result.ok else f"FAILED{tries}: {result.error}"
        print(f"{result.target}: {status}")
    return ExitCode.OK if all(r.ok for r in results) else ExitCode.CRITICAL
