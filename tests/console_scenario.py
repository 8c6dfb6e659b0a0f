"""Deterministic demo runtimes for snapshot tests and ``scripts/screenshots.py``.

Same pieces as ``open_runtime(demo=True)``, with the knobs a repeatable
picture needs: a :class:`~portal_tui.vocabulary.clock.FakeClock` that only moves when
told, no simulated latency (a refresh completes without time passing),
chosen faults, and retry jitter off (so "retry 2/4 in 1 s" reads the same
every run).
"""

from __future__ import annotations

import asyncio
import io
import time
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Console
from textual.app import App
from textual.pilot import Pilot

if TYPE_CHECKING:
    from portal_tui.console.app import PortalConsole

from portal_tui.config import RetryConfig, Secrets
from portal_tui.config.alerts import AlertTarget
from portal_tui.engine.monitor import PortalMonitor
from portal_tui.engine.runtime import Runtime
from portal_tui.simulator import FaultSet, LatencyModel, build_demo
from portal_tui.store.database import Store
from portal_tui.vocabulary.clock import FakeClock

SCENARIO_START = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
"""Every scenario starts at this instant (a Saturday, mid-month)."""


def scenario_clock() -> FakeClock:
    """A clock frozen at :data:`SCENARIO_START`; only ``advance`` moves it."""
    return FakeClock(SCENARIO_START, autojump=False)


async def open_scenario(
    db_path: Path,
    clock: FakeClock,
    *,
    workspaces: int = 27,
    seed: int = 7,
    faults: str | FaultSet = "",
    latency: LatencyModel | None = None,
    auto_refresh: bool = True,
    alerts: Sequence[AlertTarget] = (),
) -> Runtime:
    """A demo runtime on ``clock`` with the given faults; ``latency=None`` means instant."""
    setup = build_demo(clock=clock, workspaces=workspaces, seed=seed, faults=faults)
    setup.simulator.latency = latency
    config = setup.config.model_copy(
        update={
            "retry": RetryConfig(jitter=0.0),
            "auto_refresh": auto_refresh,
            "alerts": list(alerts),
        }
    )
    secrets = Secrets(setup.env)
    store = await Store.open(db_path, clock=clock, redact_values=secrets.token_values(config))
    monitor = PortalMonitor(
        config,
        secrets=secrets,
        clock=clock,
        store=store,
        transports={config.instances[0].name: setup.simulator.transport()},
        demo=True,
    )
    return Runtime(config, None, monitor, store, True, setup.simulator)


def demo_tokens(runtime: Runtime) -> list[str]:
    """Every fake token of a scenario (tests check none ever reaches the screen)."""
    dataset = runtime.simulator.dataset
    tokens = [dataset.master_token]
    tokens += [w.token for w in dataset.workspaces if getattr(w, "token", None)]
    return tokens


def screen_text(app: App[object]) -> str:
    """The current screen as plain text, line by line (for assertions and debugging)."""
    width, height = app.size
    console = Console(
        width=width,
        height=height,
        file=io.StringIO(),
        force_terminal=True,
        color_system=None,
        record=True,
        legacy_windows=False,
    )
    update = app.screen._compositor.render_update(
        full=True,
        screen_stack=app._background_screens,
    )
    console.print(update)
    return console.export_text(styles=False)


def _call_state(runtime: Runtime, clock: FakeClock) -> tuple[object, ...]:
    calls = sorted(
        (c.instance, c.workspace or "", c.request, c.phase.value, c.attempt)
        for c in runtime.monitor.active_calls()
    )
    return (tuple(calls), clock.pending_sleepers, clock.now())


async def settle(pilot: Pilot[Any], *, patience: float = 20.0) -> None:
    """Wait for refreshes that need no clock time, then for the UI to catch up.

    On a frozen clock a refresh may wait for time (latency, a retry's
    backoff): when the requests in flight stay the same over a few pauses and
    someone sleeps on the clock, nothing more can happen without time passing,
    and this returns.
    """
    app: Any = pilot.app
    runtime: Runtime = app.runtime
    clock = runtime.monitor.clock
    deadline = time.monotonic() + patience
    previous: tuple[object, ...] | None = None
    unchanged = 0
    while runtime.monitor.refreshing:
        if time.monotonic() >= deadline:
            raise TimeoutError("the refresh did not settle")
        # A plain sleep: pilot.pause() would also make every widget process its queue.
        await asyncio.sleep(0.02)
        if not isinstance(clock, FakeClock):
            continue
        current = _call_state(runtime, clock)
        unchanged = unchanged + 1 if current == previous else 0
        previous = current
        if unchanged >= 3 and clock.pending_sleepers:
            break
    await catch_up(pilot)


async def until(
    pilot: Pilot[Any], done: Callable[[], object], what: str, patience: float = 30.0
) -> None:
    """Let the app run until ``done()``: an event, however long a busy machine takes."""
    deadline = time.monotonic() + patience
    while not done():
        assert time.monotonic() < deadline, f"no {what} within {patience} s"
        await pilot.pause(0.05)


async def catch_up(pilot: Pilot[Any]) -> None:
    """Flush coalesced events and wait for the UI's own workers (mailbox rows, history)."""
    app: Any = pilot.app
    for _ in range(2):
        app.relay.flush()
        await pilot.pause()
        workers = [w for w in app.workers if w.group in ("mailboxes", "history")]
        if workers:
            await asyncio.gather(*(w.wait() for w in workers), return_exceptions=True)
            await pilot.pause()


async def drive(
    pilot: Pilot[Any], clock: FakeClock, *, step: float = 10.0, limit: int = 30
) -> None:
    """Advance ``clock`` in steps until no refresh runs (retry waits pass, none time out).

    ``step`` must exceed the longest backoff (10 s) and stay under the attempt timeout
    (45 s), so each step wakes exactly one round of retries: the end time is repeatable.
    """
    app: Any = pilot.app
    for _ in range(limit):
        await settle(pilot)
        if not app.runtime.monitor.refreshing:
            return
        clock.advance(step)
    raise TimeoutError(f"still refreshing after {limit} steps of {step} s")


@asynccontextmanager
async def running_console(
    db_path: Path,
    *,
    clock: FakeClock | None = None,
    size: tuple[int, int] = (80, 24),
    workspaces: int = 6,
    faults: str = "",
    latency: LatencyModel | None = None,
    settle_first: bool = True,
    **app_options: Any,
) -> AsyncIterator[tuple[PortalConsole, Pilot[int], Runtime, FakeClock]]:
    """A console on a scenario runtime, running headless; closes everything after.

    ``app_options`` go to :class:`PortalConsole` (default: auto-refresh off and
    no signal handlers, so a test decides when anything happens).
    """
    from portal_tui.console.app import PortalConsole

    clock = clock or scenario_clock()
    runtime = await open_scenario(
        db_path, clock, workspaces=workspaces, faults=faults, latency=latency
    )
    app_options.setdefault("auto_refresh", False)
    app_options.setdefault("handle_signals", False)
    app = PortalConsole(runtime, **app_options)
    try:
        async with app.run_test(size=size) as pilot:
            if settle_first:
                await settle(pilot)
            yield app, pilot, runtime, clock
    finally:
        await runtime.aclose()
