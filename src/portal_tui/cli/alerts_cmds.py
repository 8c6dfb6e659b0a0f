"""``portal-tui watch`` and ``portal-tui alert test`` (issue 17).

``watch`` is the refresh schedule and the alerts with no screen, for a jump
box that should alert when nobody is logged in: the same monitor as the
console (so the same records, hysteresis and outbox), dashboards revalidated
when their TTL lapses (the console's auto-refresh policy), one line per
cycle on stderr, a clean exit on SIGTERM or SIGINT.

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


def add_alert_commands(sub: argparse._SubParsersAction[Any], common: Any) -> None:
    """Add ``watch`` and ``alert test`` to the subcommands (``common`` adds the shared options)."""
    watch = sub.add_parser(
        "watch",
        help="the refresh schedule and alerts with no screen; one line per cycle on stderr",
        description="Refresh each dashboard when its TTL lapses, record every cycle and "
        "deliver the alerts, with no screen. Stops cleanly on SIGTERM or SIGINT.",
    )
    common(watch, after=True)
    alert = sub.add_parser("alert", help="alert targets: `alert test` sends a test message")
    common(alert, after=True)
    actions = alert.add_subparsers(dest="alert_command", required=True)
    test = actions.add_parser(
        "test", help="send a test message to every [[alerts]] target and report each result"
    )
    common(test, after=True)


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


async def _watch(args: argparse.Namespace) -> int:
    from portal_tui.engine.runtime import open_runtime

    runtime = await open_runtime(config_arg=args.config, demo=args.demo, db_arg=args.db)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        targets = len(runtime.config.alerts)
        print(
            f"portal-tui watch: started; records {runtime.monitor.store.path}, "
            f"{targets} alert target(s); stop with SIGTERM or Ctrl-C",
            file=sys.stderr,
            flush=True,
        )
        cycles = await watch_loop(runtime.monitor, stop, err=sys.stderr)
    finally:
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)
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
