"""Event-loop lag while the core refreshes: what a UI sharing the loop would feel.

A probe sleeps 10 ms at a time on the loop and records how late it wakes;
meanwhile :meth:`PortalMonitor.refresh` runs a full refresh (with its SQLite
write and consistency checks) of 1,000 workspaces / 50,000 mailboxes over
loopback HTTP. Every millisecond the probe wakes late is a millisecond a
keypress would wait.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from collections.abc import Awaitable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from bench.scenario import Upstream, client_config
from bench.stats import percentile
from bench.upstream import simulator_process
from portal_tui.engine.monitor import PortalMonitor
from portal_tui.store.database import Store
from portal_tui.vocabulary.clock import SystemClock

PROBE_INTERVAL = 0.010
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Lag:
    """Probe lateness over one refresh, in milliseconds."""

    p50: float
    p99: float
    max: float
    samples: int
    refresh_seconds: float


async def probe_while(work: Awaitable[T]) -> tuple[T, list[float]]:
    """Run ``work`` while sampling the loop's lateness (seconds); its result and the samples."""
    samples: list[float] = []
    done = asyncio.Event()

    async def probe() -> None:
        while not done.is_set():
            start = time.perf_counter()
            await asyncio.sleep(PROBE_INTERVAL)
            samples.append(max(0.0, time.perf_counter() - start - PROBE_INTERVAL))

    task = asyncio.ensure_future(probe())
    try:
        result = await work
    finally:
        done.set()
        await task
    return result, samples


def summarize(samples: list[float], seconds: float) -> Lag:
    """Milliseconds: p50, p99 and max of the probe's lateness."""
    ms = [s * 1000 for s in samples]
    return Lag(percentile(ms, 50), percentile(ms, 99), max(ms, default=0.0), len(ms), seconds)


async def core_loop_lag(upstream: Upstream, runs: int) -> list[Lag]:
    """``runs`` cold full refreshes through the monitor (with a store), lag probed in each."""
    out: list[Lag] = []
    async with simulator_process(
        workspaces=upstream.workspaces,
        mailboxes=upstream.mailboxes,
        per_page=upstream.per_page,
        latency=upstream.latency_spec,
    ) as sim:
        for run in range(runs):
            await sim.reset(2000 + run)
            config, secrets = client_config(upstream, sim.base_url)
            clock = SystemClock()
            with tempfile.TemporaryDirectory() as tmp:
                store = await Store.open(Path(tmp) / "lag.sqlite3", clock=clock)
                monitor = PortalMonitor(config, secrets=secrets, clock=clock, store=store)
                try:
                    start = time.perf_counter()
                    _, samples = await probe_while(monitor.refresh(force=True))
                    out.append(summarize(samples, time.perf_counter() - start))
                finally:
                    await monitor.aclose()
                    await store.close()
    return out
