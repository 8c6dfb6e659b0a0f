"""Full-refresh, sender-email and master-token rows: wall time against the lower bound.

Every run is a cold cycle (fresh fetcher, connection pool and cache; no
previous snapshots) over real loopback HTTP to :mod:`bench.simproc`. Within
one run every schedule is served the same latencies (the simulator is
re-seeded with the run's seed before each), so the ratios between schedules
are measured like for like.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import ClassVar

from bench.scenario import CONCURRENCY, Upstream, client_config
from bench.schedulers import Schedule, make_cycle
from bench.stats import Figure
from bench.upstream import Served, SimProcess, simulator_process
from portal_tui.dashboards.registry import dashboard_names
from portal_tui.fetch.cache import TtlCache
from portal_tui.fetch.fetcher import Fetched, Fetcher
from portal_tui.upstream.endpoints import RequestKey
from portal_tui.vocabulary.clock import SystemClock
from portal_tui.vocabulary.names import DashboardName

ALL = dashboard_names()


@dataclass(frozen=True, slots=True)
class RefreshRun:
    """One cold refresh and what the simulator served for it."""

    wall: float
    cpu: float
    lower_bound: float
    made: int
    needed: int
    failed_workspaces: int
    served: Served
    ideal: float = 0.0
    """The served latencies replayed through an ideal client (:func:`bench.upstream.replay`);
    0 where not modelled (master-token rows)."""
    ideal_service: float = 0.0
    """The same with each request's service time (latency + the simulator's own work)."""


@dataclass(slots=True)
class RefreshRow:
    """Several runs of one (upstream, schedule, token mode, dashboards)."""

    IDEAL_HEADER: ClassVar[tuple[str, ...]] = ("ideal / LB", "simulator's work", "client / ideal")
    FIGURES: ClassVar[tuple[str, ...]] = (
        "wall", "ratio", "ideal_ratio", "simulator_share", "client_ratio",
    )  # fmt: skip
    IDEAL_NOTE: ClassVar[str] = (
        "wall / LB = ideal / LB × simulator's work × client / ideal. *Ideal*: the latencies "
        "served in that run replayed through a zero-overhead, non-clairvoyant sliding window "
        "at the same concurrency and with the same dependencies (workspace list first, a "
        "collection's page 1 before its other pages, a retry after its attempt, with no "
        "backoff); requests that unlock others start first, then arrival order. Its gap to "
        "the bound is what no real scheduler could close (the final drain, the dependency "
        "chains). *Simulator's work*: the same replay with each request's service time "
        "(latency + the simulator's own encoding, which a real upstream counts in its "
        "latency) over the ideal. *Client / ideal*: wall over that replay, the client's "
        "own overhead (HTTP stack, parsing, scheduling, its share of the 2 cores)."
    )

    title: str
    upstream: Upstream
    schedule: Schedule
    runs: list[RefreshRun] = field(default_factory=list)

    def ideal_cells(self) -> list[str]:
        """The cells under :attr:`IDEAL_HEADER`: wall / LB, decomposed."""
        return [self.figure(n).text() + "×" for n in self.FIGURES[2:]]

    def figure(self, name: str) -> Figure:
        """``wall``, ``lower_bound``, ``ratio``, ``cpu_share``, ``requests_ratio``, ..."""
        picks: dict[str, Callable[[RefreshRun], float]] = {
            "wall": lambda r: r.wall,
            "lower_bound": lambda r: r.lower_bound,
            "ratio": lambda r: r.wall / r.lower_bound if r.lower_bound else 0.0,
            "cpu_share": lambda r: 100 * r.cpu / r.wall if r.wall else 0.0,
            "requests_ratio": lambda r: r.made / r.needed if r.needed else 0.0,
            "made": lambda r: float(r.made),
            "needed": lambda r: float(r.needed),
            "failed": lambda r: float(r.failed_workspaces),
            # wall / LB = ideal_ratio × simulator_share × client_ratio
            "ideal_ratio": lambda r: r.ideal / r.lower_bound if r.lower_bound else 0.0,
            "simulator_share": lambda r: r.ideal_service / r.ideal if r.ideal else 0.0,
            "client_ratio": lambda r: r.wall / r.ideal_service if r.ideal_service else 0.0,
        }
        pick = picks[name]
        unit = {"wall": "s", "lower_bound": "s", "cpu_share": "%"}.get(name, "")
        digits = 0 if name in ("made", "needed", "failed", "cpu_share") else 2
        return Figure.of([pick(r) for r in self.runs], unit, digits)


async def refresh_once(
    sim: SimProcess,
    upstream: Upstream,
    schedule: Schedule,
    seed: int,
    *,
    api_user: bool = True,
    dashboards: Sequence[DashboardName] = ALL,
    request_deadline: float | None = None,
) -> RefreshRun:
    """One cold refresh of ``dashboards`` with ``schedule``, the simulator re-seeded first."""
    await sim.reset(seed)
    concurrency = schedule.concurrency or CONCURRENCY
    config, secrets = client_config(
        upstream,
        sim.base_url,
        concurrency=concurrency,
        api_user=api_user,
        request_deadline=request_deadline,
    )
    clock = SystemClock()
    fetcher = Fetcher(config, secrets, clock)
    cache: TtlCache[RequestKey, Fetched] = TtlCache(clock)
    cycle = make_cycle(schedule, config, fetcher, cache, clock)
    gc.collect()
    cpu0, wall0 = time.process_time(), time.perf_counter()
    try:
        outcome = await cycle.run(dashboards, force=True, triggered_by="manual")
        wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    finally:
        await fetcher.aclose()
    served = await sim.served()
    ideal = ideal_service = 0.0
    if api_user:
        bound = served.lower_bound(CONCURRENCY, hang_wait=upstream.attempt_timeout)
        ideal = served.replay(CONCURRENCY, upstream.attempt_timeout)
        ideal_service = served.replay(CONCURRENCY, upstream.attempt_timeout, service=True)
    else:
        bound = served.master_lower_bound(CONCURRENCY)
    failed = sum(
        1 for dashboards_failed in outcome.workspace_failures.values() if dashboards_failed
    )
    made, needed = outcome.requests_made, outcome.requests_needed
    return RefreshRun(wall, cpu, bound, made, needed, failed, served, ideal, ideal_service)


async def compare_schedules(
    upstream: Upstream,
    schedules: Sequence[Schedule],
    runs: int,
    *,
    title: str,
    api_user: bool = True,
    dashboards: Sequence[DashboardName] = ALL,
    request_deadline: float | None = None,
) -> list[RefreshRow]:
    """``runs`` rounds; in each, every schedule once against the same seeded latencies."""
    rows = [RefreshRow(title, upstream, s) for s in schedules]
    async with simulator_process(
        workspaces=upstream.workspaces,
        mailboxes=upstream.mailboxes,
        per_page=upstream.per_page,
        latency=upstream.latency_spec,
        faults=upstream.fault_spec,
        seed=upstream.seed,
    ) as sim:
        for run in range(runs):
            for row in rows:
                row.runs.append(
                    await refresh_once(
                        sim,
                        upstream,
                        row.schedule,
                        seed=1000 + run,
                        api_user=api_user,
                        dashboards=dashboards,
                        request_deadline=request_deadline,
                    )
                )
    return rows


def speedup(faster: RefreshRow, slower: RefreshRow) -> Figure:
    """``slower`` wall / ``faster`` wall, run by run (same seeds, same latencies)."""
    pairs = zip(faster.runs, slower.runs, strict=True)
    return Figure.of([s.wall / f.wall for f, s in pairs if f.wall > 0], "×", 2)
