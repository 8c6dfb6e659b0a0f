"""The long-lived core both faces drive: state, refreshes, health, records, events.

:class:`PortalMonitor` owns the fetcher, the cache and the latest snapshot of
each dashboard. The console calls :meth:`refresh` from workers and listens
for :class:`MonitorEvent`; ``check`` calls it once. It never imports Textual.

Painting restored snapshots needs none of the network side: the fetcher (and
with it httpx) and the refresh cycle are imported on first use, which keeps
them off the console's cold start.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from portal_tui.config import Config, Secrets
from portal_tui.consistency import ConsistencyChecker, OpenFinding
from portal_tui.consistency import Verdict as ConsistencyVerdict
from portal_tui.consistency.engine import DigestMemo
from portal_tui.consistency.upstream import WINDOW as SLOW_WINDOW
from portal_tui.dashboards.registry import dashboard_for, dashboard_names, ttl_of
from portal_tui.dashboards.snapshot import DashboardSnapshot
from portal_tui.engine.alerting import AlertSender
from portal_tui.engine.apart import run_apart
from portal_tui.engine.memory import cycle_finished, release_free_memory
from portal_tui.engine.recording import cycle_record
from portal_tui.engine.standing import HysteresisPolicy, WorkspaceTransition
from portal_tui.engine.verdict import Verdict, judge
from portal_tui.fetch.breaker import BreakerState, BreakerStatus
from portal_tui.fetch.cache import CacheStats, TtlCache
from portal_tui.fetch.events import RetryStatus
from portal_tui.shared.tier import OFF, TierStatus, redis_location
from portal_tui.store.consistency_records import ResponseTimes
from portal_tui.store.database import Store
from portal_tui.store.health_records import TREND_CYCLES, HealthRecords, RecordedHealth
from portal_tui.store.records import CycleRecord, WorkspaceState
from portal_tui.upstream.endpoints import RequestKey
from portal_tui.vocabulary.clock import Clock
from portal_tui.vocabulary.errors import StoreError
from portal_tui.vocabulary.freshness import Freshness
from portal_tui.vocabulary.names import DashboardName

log = logging.getLogger(__name__)

if TYPE_CHECKING:
    import httpx

    from portal_tui.engine.cycle import CycleOutcome
    from portal_tui.fetch.fetcher import Fetched, Fetcher
    from portal_tui.shared.loads import SharedLoads

_NO_RECORDS = HealthRecords((), (), (), 0, {}, (), None)


def _fetched_at(fetched: Fetched) -> datetime | None:
    return fetched.fetched_at


@dataclass(frozen=True, slots=True)
class SnapshotUpdated:
    """A dashboard has a new snapshot."""

    dashboard: DashboardName


@dataclass(frozen=True, slots=True)
class RefreshStarted:
    """A cycle began for these dashboards."""

    dashboards: tuple[DashboardName, ...]


@dataclass(frozen=True, slots=True)
class RefreshFinished:
    """A cycle ended; ``outcome`` has its details."""

    dashboards: tuple[DashboardName, ...]
    outcome: CycleOutcome


@dataclass(frozen=True, slots=True)
class CallStatusChanged:
    """A request's retry status changed (wraps :class:`RetryStatus`)."""

    status: RetryStatus


MonitorEvent = (
    SnapshotUpdated | RefreshStarted | RefreshFinished | WorkspaceTransition | CallStatusChanged
)
EventListener = Callable[[MonitorEvent], None]


@dataclass(slots=True)
class _Inflight:
    dashboards: set[DashboardName]
    task: asyncio.Future[CycleOutcome]


class PortalMonitor:
    """Fetches, computes, records and publishes the four dashboards."""

    def __init__(
        self,
        config: Config,
        *,
        secrets: Secrets,
        clock: Clock,
        store: Store,
        transports: Mapping[str, httpx.AsyncBaseTransport] | None = None,
        hysteresis: HysteresisPolicy | None = None,
        demo: bool = False,
        share_through: Path | None = None,
    ) -> None:
        """``share_through``: the records file through which this process shares
        responses and master-token locks with the others on it (and Redis, with
        ``[shared] redis_url``); None fetches alone (the demo's in-process upstream)."""
        self.config = config
        self.clock = clock
        self.store = store
        self.demo = demo
        self._secrets = secrets
        self._transports = transports
        self.cache: TtlCache[RequestKey, Fetched] = TtlCache(
            clock, max_staleness=config.ttl.max_staleness, fetched_at_of=_fetched_at
        )
        self._share_through = share_through if config.shared.enabled else None
        self.sources: dict[str, dict[str, int]] = {}
        """Per dashboard, where its last refresh's requests came from: ``here``,
        ``shared`` (another process, through the shared tier), ``cache``, ``failed``."""
        self.snapshots: dict[DashboardName, DashboardSnapshot] = {}
        self.last_outcome: CycleOutcome | None = None
        self.judge_apart = False
        """Judge each cycle in a forked child (:mod:`portal_tui.engine.apart`): the console."""
        """The last cycle's outcome, with ``results`` and ``api_calls`` left empty
        (:meth:`refresh` returns the whole of it)."""
        self.unreachable: dict[str, str] = {}
        if hysteresis is None and config.alerts:
            # gatus-style thresholds: the alert targets' hysteresis (the strictest one).
            hysteresis = HysteresisPolicy(
                fail_after=max(a.failure_threshold for a in config.alerts),
                recover_after=max(a.success_threshold for a in config.alerts),
            )
        self._hysteresis = hysteresis or HysteresisPolicy()
        self.alerts = AlertSender(
            config.alerts, store=store, clock=clock, env=secrets.alert_urls(config)
        )
        """Delivers the records' alert events after each recorded cycle (SPEC section 10)."""
        self._failing_since: dict[tuple[str, int | None, DashboardName], datetime] = {}
        # The records the verdict is judged from (read after each cycle and by
        # reload_health); None until the first read.
        self._records: HealthRecords | None = None
        self.restored_health: RecordedHealth | None = None
        """The verdict the last recorded cycle ended on, until this process records its own."""
        self._listeners: list[EventListener] = []
        self._inflight: list[_Inflight] = []
        self.consistency = ConsistencyChecker()
        self._judging = asyncio.Lock()

    @cached_property
    def fetcher(self) -> Fetcher:
        """The instances' clients, limiters and breakers (built on first use)."""
        from portal_tui.fetch.fetcher import Fetcher

        shared = self.shared
        fetcher = Fetcher(
            self.config,
            self._secrets,
            self.clock,
            transports=self._transports,
            token_guard=shared.token_guard if shared is not None else None,
        )
        fetcher.subscribe(lambda status: self._emit(CallStatusChanged(status)))
        return fetcher

    @cached_property
    def shared(self) -> SharedLoads | None:
        """The shared tier (built with the fetcher), or None when this process fetches alone."""
        if self._share_through is None:
            return None
        from portal_tui.shared.build import build_shared

        return build_shared(self.config, self._share_through, self.clock, self._secrets)

    def shared_status(self) -> TierStatus:
        """Where responses are shared and whether that works right now."""
        if self._share_through is None:
            return OFF
        if "shared" in self.__dict__ and self.shared is not None:
            return self.shared.status()
        redis = self.config.shared.redis_url
        if redis:
            return TierStatus("redis", redis_location(redis), healthy=True)
        return TierStatus("sqlite", str(self._share_through), healthy=True)

    def _prepare_network(self) -> None:
        import portal_tui.engine.cycle  # noqa: F401 - imported here, off the event loop

        self.fetcher.prepare()

    def _fetcher_built(self) -> bool:
        return "fetcher" in self.__dict__  # cached_property's slot

    # -- lifecycle ----------------------------------------------------------------------

    async def restore(self) -> int:
        """Load the last snapshots and the recorded verdict so the faces can paint at once."""
        await self.reload_health()
        if self._records is not None:
            self.restored_health = self._records.last_recorded
        await self.consistency.load(self.store)
        restored = 0
        for name, record in (await self.store.load_snapshots()).items():
            try:
                board = dashboard_for(name)  # a dashboard no longer registered: KeyError
                snap = DashboardSnapshot.loads(record.payload, board.row_model)
            except (ValueError, KeyError, TypeError):
                continue  # an old or damaged snapshot is skipped; the next refresh replaces it
            self.snapshots[snap.name] = snap
            restored += 1
            self._emit(SnapshotUpdated(snap.name))
        return restored

    async def aclose(self) -> None:
        """Close network pools (the store is closed by its owner)."""
        tasks = [flight.task for flight in self._inflight]
        for task in tasks:
            task.cancel()
        # Wait for the cancelled cycles to unwind before the pools close under them.
        await asyncio.gather(*tasks, return_exceptions=True)
        if self._fetcher_built():
            await self.fetcher.aclose()
        if "shared" in self.__dict__ and self.shared is not None:
            await self.shared.aclose()

    def subscribe(self, listener: EventListener) -> Callable[[], None]:
        """Call ``listener`` on every event; returns the unsubscribe function."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener) if listener in self._listeners else None

    # -- refresh ------------------------------------------------------------------------

    @property
    def refreshing(self) -> set[DashboardName]:
        """Dashboards with a cycle in flight."""
        return {d for f in self._inflight for d in f.dashboards}

    async def refresh(
        self,
        names: Iterable[DashboardName] | None = None,
        *,
        force: bool = False,
        triggered_by: str = "manual",
    ) -> CycleOutcome | None:
        """Refresh ``names`` (default all); a dashboard already refreshing is joined."""
        every = dashboard_names()
        wanted = [n for n in every if n in set(names or every)]
        busy = self.refreshing
        joined = [f.task for f in self._inflight if f.dashboards & set(wanted)]
        todo = [n for n in wanted if n not in busy]
        if not todo:
            results = await asyncio.gather(*joined)
            return results[-1] if results else None
        loop = asyncio.get_running_loop()
        task = loop.create_task(self._run(todo, force, triggered_by))
        flight = _Inflight(set(todo), task)
        self._inflight.append(flight)
        task.add_done_callback(lambda _t: self._inflight.remove(flight))
        self._emit(RefreshStarted(tuple(todo)))
        # shield: a caller that gives up (a worker cancelled) leaves the cycle to finish.
        outcome = await asyncio.shield(task)
        if joined:
            await asyncio.gather(*joined, return_exceptions=True)
        return outcome

    async def _run(
        self, names: list[DashboardName], force: bool, triggered_by: str
    ) -> CycleOutcome:
        if not self._fetcher_built():
            # The first refresh: import the network side and build the connection pools
            # (~0.2 s) in a worker thread, not on the loop a console is drawing from.
            await asyncio.to_thread(self._prepare_network)
        from portal_tui.engine.cycle import RefreshCycle

        self._seed_failing_since()
        cycle = RefreshCycle(
            self.config,
            self.fetcher,
            self.cache,
            self.clock,
            previous=dict(self.snapshots),
            failing_since=self._failing_since,
            shared=self.shared,
        )
        outcome = await cycle.run(names, force=force, triggered_by=triggered_by)
        del cycle  # it holds the previous snapshots: let them go once this cycle's replace them
        self._absorb(outcome)
        # This cycle's view: another cycle may absorb its snapshots while this one is judged.
        snapshots = dict(self.snapshots)
        async with self._judging:  # verdicts apply in turn: each rule reads the last one's state
            await self.consistency.load(self.store)
            # The last hour's attempts before this cycle's (rule slow-upstream).
            since = outcome.finished_at - SLOW_WINDOW
            times = {t.instance: t for t in await self.store.response_times_since(since)}
            # The rules' digests and the snapshot text take ~1.5 s at 50,000 mailboxes:
            # a worker thread, so the loop (and a console sharing it) keeps running.
            verdict, record = await asyncio.to_thread(self._judge, outcome, snapshots, times)
            self.consistency.commit(verdict)
        recorded = await self.store.record(record)
        del record
        # The verdict this cycle ends on, from the records every process shares.
        health = await self.reload_health()
        await self.store.record_health(
            recorded.cycle_id, health.score, health.level, health.reasons
        )
        self._count_in_trend(health, record_at=outcome.finished_at)
        self.restored_health = None
        await self.store.prune_if_due()  # at most once per 6 h per file; never raises
        await self._deliver_alerts()
        for transition in recorded.transitions:
            self._emit(transition)
        cycle_finished(self.clock.monotonic())  # a paced full collection, if one is due
        await asyncio.to_thread(release_free_memory)  # the record's text and parameters
        # Without its results (every payload of the cycle, ~100 MB at 50,000 mailboxes,
        # alive while the next cycle loads its own) nor its attempts (7,000 records
        # at 1,000 workspaces; they are in SQLite, and listeners got them with
        # RefreshFinished).
        self.last_outcome = replace(outcome, results={}, api_calls=[])
        for name in outcome.snapshots:
            self._emit(SnapshotUpdated(name))
        self._emit(RefreshFinished(outcome.dashboards, outcome))
        return outcome

    async def _deliver_alerts(self) -> None:
        """Send the records' pending alert events (this cycle's and any left over)."""
        try:
            await self.alerts.deliver()
        except StoreError as exc:  # the records are busy or broken: the next pass retries
            log.warning("alert delivery pass skipped: %s", exc)

    def _judge(
        self,
        outcome: CycleOutcome,
        snapshots: Mapping[DashboardName, DashboardSnapshot],
        response_times: Mapping[str, ResponseTimes],
    ) -> tuple[ConsistencyVerdict, CycleRecord]:
        """The consistency verdict and the cycle's record (runs in a worker thread: it reads
        the finished outcome and snapshots, which nothing changes any more)."""
        # The fetch has just replaced the old cache entries: hand their pages back before
        # this thread's own arena (or a child's copy of this process) grows.
        release_free_memory()
        checker = self.consistency

        def work() -> tuple[ConsistencyVerdict, CycleRecord, DigestMemo]:
            times = response_times
            verdict = checker.evaluate(outcome, snapshots, self.config, response_times=times)
            record = cycle_record(
                outcome, self.config, consistency=verdict.record, hysteresis=self._hysteresis
            )
            return verdict, record, checker.digest_memo  # the memo evaluate filled

        verdict, record, checker.digest_memo = run_apart(work, apart=self.judge_apart)
        return verdict, record

    def _absorb(self, outcome: CycleOutcome) -> None:
        self.snapshots.update(outcome.snapshots)
        self.sources.update(outcome.sources)
        self.unreachable = {k: v.message for k, v in outcome.unreachable.items()}
        for snap in outcome.snapshots.values():
            failing_now = {(f.instance, f.workspace_id, f.dashboard) for f in snap.failures}
            for key in failing_now:
                self._failing_since.setdefault(key, outcome.finished_at)
            for key in [
                k for k in self._failing_since if k[2] == snap.name and k not in failing_now
            ]:
                del self._failing_since[key]

    # -- reading state ------------------------------------------------------------------

    def ttl(self, name: DashboardName) -> float:
        """The dashboard's TTL in seconds."""
        return ttl_of(self.config, name)

    def freshness(self, name: DashboardName) -> Freshness:
        """State, overlays and age of one dashboard now."""
        snap = self.snapshots.get(name)
        now = self.clock.now()
        if snap is None:
            return Freshness.of(None, now, self.ttl(name), refreshing=name in self.refreshing)
        return Freshness.of(
            snap.fetched_at,
            now,
            self.ttl(name),
            refreshing=name in self.refreshing,
            warning=bool(snap.warnings or snap.issues),
            error=snap.error is not None,
        )

    @property
    def findings(self) -> list[OpenFinding]:
        """Open consistency findings, most severe first, then oldest first."""
        return self.consistency.findings

    def failing_workspaces(self) -> list[tuple[str, str, WorkspaceState]]:
        """Workspaces the records call FAILING (after hysteresis), longest-failing first."""
        return [
            (f.instance, f.workspace, WorkspaceState.FAILING)
            for f in self.health().failing
            if f.confirmed
        ]

    @property
    def health_trend(self) -> tuple[int, ...]:
        """The health score of the last recorded cycles (any process's), oldest first."""
        return self._records.trend if self._records else ()

    def _count_in_trend(self, health: Verdict, *, record_at: datetime) -> None:
        # The records were read before this cycle's verdict was written: add it, as a
        # read now would (and as the next reload will).
        if self._records is not None:
            self._records = replace(
                self._records,
                trend=(*self._records.trend, health.score)[-TREND_CYCLES:],
                last_recorded=RecordedHealth(
                    record_at, health.score, health.level, health.reasons
                ),
            )

    async def reload_health(self) -> Verdict:
        """Read the records again (other processes may have written) and judge them now."""
        self._records = await self.store.health_records(self.clock.now())
        return self.health()

    def _seed_failing_since(self) -> None:
        # "Failing since" is the first failure of the current streak, whoever recorded it.
        for standing in self._records.standings if self._records else ():
            if standing.failing_since is None:
                continue
            for board in standing.dashboards:
                with contextlib.suppress(ValueError):
                    key = (standing.instance, standing.workspace_id, DashboardName(board))
                    self._failing_since.setdefault(key, standing.failing_since)

    def health(self) -> Verdict:
        """The verdict of the records as last read, judged now (cheap: no I/O)."""
        records = self._records or _NO_RECORDS
        return judge(records, self.clock.now())

    def breakers(self) -> list[BreakerStatus]:
        """Breaker status per instance."""
        if not self._fetcher_built():  # nothing sent yet: every breaker is closed
            return [
                BreakerStatus(instance.name, BreakerState.CLOSED, 0, None, 0, None)
                for instance in self.config.instances
            ]
        return self.fetcher.breakers()

    def on_the_wire(self) -> int:
        """Requests holding a concurrency slot right now (at most each instance's concurrency)."""
        if not self._fetcher_built():
            return 0
        return sum(self.fetcher.limiter(i.name).in_flight for i in self.config.instances)

    def active_calls(self) -> list[RetryStatus]:
        """Requests in flight or waiting to retry, right now."""
        return list(self.fetcher.active.values()) if self._fetcher_built() else []

    def cache_stats(self) -> CacheStats:
        """Entries, ages, hits, misses, in-flight loads."""
        return self.cache.stats()

    def clear_cache(self, name: DashboardName | None = None) -> int:
        """Drop one dashboard's cached responses, or all; the snapshots stay on screen."""
        return self.cache.clear(name.value if name else None)

    def _emit(self, event: MonitorEvent) -> None:
        for listener in list(self._listeners):
            listener(event)


__all__ = [
    "CallStatusChanged",
    "HysteresisPolicy",
    "MonitorEvent",
    "PortalMonitor",
    "RefreshFinished",
    "RefreshStarted",
    "SnapshotUpdated",
    "WorkspaceState",
    "WorkspaceTransition",
]
