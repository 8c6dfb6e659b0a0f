"""SQLite rows: one cycle's writes at 1,000 workspaces; 30 days of default refreshes at 27.

**One cycle.** A real full refresh of 1,000 workspaces / 50,000 mailboxes
(in-process simulator, no latency) gives the :class:`CycleRecord` the
monitor writes; it is written into fresh files several times and timed.

**30 days.** The real monitor runs one simulated hour of default
refreshes for 27 workspaces on a FakeClock (a tick a minute; every dashboard
whose data is older than its TTL refreshes, as the console's auto-refresh
does), and every :class:`CycleRecord` it writes is captured. Those records
are then replayed through :meth:`Store.record_cycle` hour after hour, their
times shifted, for 30 days and then two more, with :meth:`Store.prune_if_due`
after every cycle as the monitor calls it (so a prune every 6 simulated
hours). Size is read after day 30 and day 32: bounded by retention means it
stops growing.
"""

from __future__ import annotations

import asyncio
import dataclasses
import tempfile
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

from bench.scenario import Upstream, client_config
from portal_tui.dashboards.registry import dashboard_names
from portal_tui.engine.monitor import PortalMonitor
from portal_tui.engine.recording import cycle_record
from portal_tui.simulator import FaultSet, Simulator
from portal_tui.store.database import Store
from portal_tui.store.records import CycleRecord
from portal_tui.vocabulary.clock import FakeClock, SystemClock
from portal_tui.vocabulary.names import DashboardName

T = TypeVar("T")
IN_PROCESS = "http://simulator.local/api"


def shifted(value: T, delta: timedelta) -> T:
    """``value`` with every datetime inside it moved by ``delta`` (records are frozen)."""
    if isinstance(value, datetime):
        return value + delta
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        changes = {
            f.name: shifted(getattr(value, f.name), delta)
            for f in dataclasses.fields(value)
            if f.init
        }
        return dataclasses.replace(value, **changes)
    if isinstance(value, list | tuple):
        return type(value)(shifted(v, delta) for v in value)
    if isinstance(value, dict):
        return {k: shifted(v, delta) for k, v in value.items()}  # type: ignore[return-value]
    return value


def _simulator(upstream: Upstream, clock: Any, latency: bool) -> Simulator:
    from portal_tui.simulator import LatencyModel

    model = LatencyModel.lognormal(0.2, 1.0, 4.0) if latency else None
    return Simulator(
        upstream.dataset(), FaultSet(), clock, max_per_page=upstream.per_page, latency=model
    )


async def one_cycle_record(workspaces: int, mailboxes: int) -> CycleRecord:
    """The record of one real full refresh (in-process simulator, real clock, no latency)."""
    upstream = Upstream(workspaces, mailboxes, per_page=100, median=0.2)
    clock = SystemClock()
    sim = _simulator(upstream, clock, latency=False)
    config, secrets = client_config(upstream, IN_PROCESS, request_deadline=600.0)
    with tempfile.TemporaryDirectory() as tmp:
        store = await Store.open(Path(tmp) / "source.sqlite3", clock=clock)
        monitor = PortalMonitor(
            config, secrets=secrets, clock=clock, store=store, transports={"bench": sim.transport()}
        )
        try:
            outcome = await monitor.refresh(force=True)
            assert outcome is not None
            return cycle_record(outcome, config)
        finally:
            await monitor.aclose()
            await store.close()


async def write_cycle(record: CycleRecord) -> dict[str, float]:
    """Write ``record`` into a fresh file; seconds taken, rows and bytes written."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.sqlite3"
        store = await Store.open(path, clock=SystemClock())
        before = await store.size_bytes()
        start = time.perf_counter()
        await store.record_cycle(record)
        seconds = time.perf_counter() - start
        size = await store.size_bytes() - before
        await store.close()
    rows = len(record.api_calls) + len(record.cache_metadata) + len(record.snapshots) + 1
    payload = sum(len(s.payload) for s in record.snapshots)
    return {"seconds": seconds, "rows": rows, "bytes": size, "snapshot_bytes": payload}


async def _capture_hour(tmp: Path, workspaces: int) -> list[CycleRecord]:
    """One simulated hour of default auto-refreshes; the records the monitor wrote."""
    upstream = Upstream(workspaces, workspaces * 4000 // 27, per_page=15, median=0.2)
    clock = FakeClock()
    sim = _simulator(upstream, clock, latency=True)
    config, secrets = client_config(upstream, IN_PROCESS)
    store = await Store.open(tmp / "capture.sqlite3", clock=clock)
    captured: list[CycleRecord] = []
    write: Callable[[CycleRecord], Any] = store.record

    async def capture(record: CycleRecord) -> Any:
        captured.append(record)
        return await write(record)

    store.record = capture  # type: ignore[method-assign]
    monitor = PortalMonitor(
        config, secrets=secrets, clock=clock, store=store, transports={"bench": sim.transport()}
    )
    try:
        start = clock.now()
        for minute in range(60):
            tick = start + timedelta(minutes=minute)
            if clock.now() < tick:
                clock.set_now(tick)
            due = [n for n in dashboard_names() if _due(monitor, n)]
            if due:
                await monitor.refresh(due, triggered_by="auto")
    finally:
        await monitor.aclose()
        await store.close()
    return captured


def _due(monitor: PortalMonitor, name: DashboardName) -> bool:
    age = monitor.freshness(name).age
    return age is None or age >= monitor.ttl(name)


async def thirty_days(
    days: int = 32, workspaces: int = 27, hours: int = 24, retention_days: float = 30.0
) -> dict[str, Any]:
    """Replay a captured hour ``hours`` times a day for ``days`` days, pruning as the product does.

    After every cycle :meth:`Store.prune_if_due` runs, on the clock of that
    cycle, exactly as ``PortalMonitor`` calls it; the runs that deleted rows
    are timed. At the end, the History pane's query over the last 24 hours.
    """
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        hour = await _capture_hour(tmp, workspaces)
        origin = hour[0].started_at
        clock = FakeClock(origin)
        store = await Store.open(tmp / "thirty.sqlite3", clock=clock, retention_days=retention_days)
        prunes: list[float] = []
        pruned_rows: list[int] = []
        sizes: dict[int, int] = {}
        writes: list[float] = []
        for day in range(days):
            for h in range(hours):
                delta = timedelta(days=day, hours=h)
                for record in hour:
                    moved = shifted(record, delta)
                    if clock.now() < moved.finished_at:
                        clock.set_now(moved.finished_at)
                    start = time.perf_counter()
                    await store.record_cycle(moved)
                    writes.append(time.perf_counter() - start)
                    start = time.perf_counter()
                    deleted = await store.prune_if_due()
                    if deleted is not None and any(deleted.values()):
                        prunes.append(time.perf_counter() - start)
                        pruned_rows.append(sum(deleted.values()))
            sizes[day + 1] = await store.size_bytes()
        history: list[float] = []
        for _ in range(3):
            start = time.perf_counter()
            rows = await store.workspace_history(clock.now() - timedelta(hours=24))
            history.append(time.perf_counter() - start)
        await store.close()
    calls = sum(len(r.api_calls) for r in hour)
    return {
        "cycles_per_hour": len(hour),
        "api_calls_per_hour": calls,
        "sizes": sizes,
        "prune_seconds": prunes,
        "pruned_rows": pruned_rows,
        "write_seconds": writes,
        "history_seconds": history,
        "history_calls": sum(r.calls for r in rows),
    }


if __name__ == "__main__":  # pragma: no cover - manual runs
    print(asyncio.run(thirty_days(2)))
