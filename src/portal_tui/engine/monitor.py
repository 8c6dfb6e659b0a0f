"""The long-lived core both faces drive: a facade over refreshes, state and records.

It wires :class:`~portal_tui.engine.scheduler.RefreshScheduler` (cycles in
flight, joining one), :class:`~portal_tui.engine.readmodel.DashboardState`
(snapshots, freshness, the records' verdict: the read model) and
:class:`~portal_tui.engine.recorder.CycleRecorder` (each cycle into the
records), plus the network side, built on first use (off the console's cold
start). The console draws from :meth:`PortalMonitor.view`, a frozen
:class:`~portal_tui.engine.view.MonitorView`; ``check`` calls ``refresh`` once.
It never imports Textual.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable, Mapping
from dataclasses import replace
from datetime import datetime
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from portal_tui.config import Config, Secrets
from portal_tui.consistency import ConsistencyChecker, OpenFinding
from portal_tui.dashboards.snapshot import DashboardSnapshot
from portal_tui.engine.alert_delivery import AlertDelivery
from portal_tui.engine.events import (
    CallStatusChanged,
    EventHub,
    EventListener,
    MonitorEvent,
    RefreshFinished,
    RefreshProgress,
    RefreshStarted,
    SnapshotUpdated,
)
from portal_tui.engine.memory import cycle_finished, release_free_memory
from portal_tui.engine.readmodel import DashboardState
from portal_tui.engine.recorder import CycleRecorder
from portal_tui.engine.scheduler import RefreshScheduler
from portal_tui.engine.standing import HysteresisPolicy, WorkspaceTransition
from portal_tui.engine.verdict import Verdict
from portal_tui.engine.view import Loading, MonitorView, build_view
from portal_tui.fetch.breaker import BreakerState, BreakerStatus
from portal_tui.fetch.cache import CacheStats, TtlCache
from portal_tui.fetch.events import RetryStatus
from portal_tui.shared.tier import OFF, TierStatus, redis_location
from portal_tui.store.database import Store
from portal_tui.store.health_records import RecordedHealth
from portal_tui.store.records import WorkspaceState
from portal_tui.upstream.endpoints import RequestKey
from portal_tui.vocabulary.clock import Clock
from portal_tui.vocabulary.freshness import Freshness
from portal_tui.vocabulary.names import DashboardName

if TYPE_CHECKING:
    import httpx

    from portal_tui.engine.cycle import RefreshCycle
    from portal_tui.engine.outcome import CycleOutcome
    from portal_tui.engine.targeted import Scope
    from portal_tui.fetch.fetcher import Fetched, Fetcher
    from portal_tui.shared.loads import SharedLoads


def _fetched_at(fetched: Fetched) -> datetime | None:
    return fetched.fetched_at


class PortalMonitor:
    """Fetches, computes, records and publishes the dashboards."""

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
        self._config = config
        self.clock = clock
        self.store = store
        self.demo = demo
        self._secrets = secrets
        self._transports = transports
        self.cache: TtlCache[RequestKey, Fetched] = TtlCache(
            clock, max_staleness=config.ttl.max_staleness, fetched_at_of=_fetched_at
        )
        self._share_through = share_through if config.shared.enabled else None
        self._events = EventHub()
        self.consistency = ConsistencyChecker()
        self.state = DashboardState(config, clock)
        """The read model: snapshots, freshness, the records' verdict."""
        self.recorder = CycleRecorder(
            config,
            store=store,
            clock=clock,
            secrets=secrets,
            consistency=self.consistency,
            hysteresis=hysteresis,
        )
        self.scheduler = RefreshScheduler(self._run, self._emit)
        self._views = 0
        self._cycles: list[RefreshCycle] = []
        """Cycles running now (their cold previews are drawn)."""

    @property
    def config(self) -> Config:
        """The configuration every part reads."""
        return self._config

    @config.setter
    def config(self, config: Config) -> None:
        # A changed configuration (tests, a reload) reaches the read model and the recorder.
        self._config = config
        self.state.config = config
        self.recorder.config = config

    # -- the network side, built on first use -------------------------------------------

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
        restored = await self.state.restore(self.store)
        await self.consistency.load(self.store)
        for name in restored:
            self._emit(SnapshotUpdated(name))
        return len(restored)

    async def aclose(self) -> None:
        """Close network pools (the store is closed by its owner)."""
        # Wait for the cancelled cycles to unwind before the pools close under them.
        await self.scheduler.cancel_all()
        await self.alerts.aclose()  # the background delivery, before the store closes
        if self._fetcher_built():
            await self.fetcher.aclose()
        if "shared" in self.__dict__ and self.shared is not None:
            await self.shared.aclose()

    def subscribe(self, listener: EventListener) -> Callable[[], None]:
        """Call ``listener`` on every event; returns the unsubscribe function."""
        return self._events.subscribe(listener)

    def _emit(self, event: MonitorEvent) -> None:
        self._events.emit(event)

    # -- refresh ------------------------------------------------------------------------

    @property
    def refreshing(self) -> set[DashboardName]:
        """Dashboards with a cycle in flight."""
        return self.scheduler.refreshing

    async def refresh(
        self,
        names: Iterable[DashboardName] | None = None,
        *,
        force: bool = False,
        triggered_by: str = "manual",
        scope: Scope | None = None,
    ) -> CycleOutcome | None:
        """Refresh ``names`` (default all; a ``scope``: only its workspaces); see the scheduler."""
        return await self.scheduler.refresh(
            names, force=force, triggered_by=triggered_by, scope=scope
        )

    async def _run(
        self, names: list[DashboardName], force: bool, triggered_by: str, scope: Scope | None
    ) -> CycleOutcome:
        if not self._fetcher_built():
            # The first refresh: import the network side and build the connection pools
            # (~0.2 s) in a worker thread, not on the loop a console is drawing from.
            await asyncio.to_thread(self._prepare_network)
        from portal_tui.engine.cycle import RefreshCycle

        self.state.seed_failing_since()
        cycle = RefreshCycle(
            self.config,
            self.fetcher,
            self.cache,
            self.clock,
            previous=dict(self.state.snapshots),
            failing_since=self.state.failing_since,
            shared=self.shared,
            on_progress=lambda name, done, total: self._emit(RefreshProgress(name, done, total)),
        )
        self._cycles.append(cycle)
        try:
            outcome = await cycle.run(names, force=force, triggered_by=triggered_by, scope=scope)
        finally:
            self._cycles.remove(cycle)
        del cycle  # it holds the previous snapshots: let them go once this cycle's replace them
        self.state.absorb(outcome)
        # This cycle's view: another cycle may absorb its snapshots while this one is judged.
        recorded = await self.recorder.record(outcome, dict(self.state.snapshots))
        # The verdict this cycle ends on, from the records every process shares.
        health = await self.state.reload(self.store)
        await self.recorder.record_health(recorded.cycle_id, health)
        self.state.count_in_trend(health, record_at=outcome.finished_at)
        await self.recorder.after_cycle()
        for transition in recorded.transitions:
            self._emit(transition)
        cycle_finished(self.clock.monotonic())  # a paced full collection, if one is due
        await asyncio.to_thread(release_free_memory)  # the record's text and parameters
        # Kept without its results (~100 MB at 50,000 mailboxes) nor its attempts (in
        # SQLite, and listeners get them with RefreshFinished).
        self.state.last_outcome = replace(outcome, results={}, api_calls=[])
        for name in outcome.snapshots:
            self._emit(SnapshotUpdated(name))
        return outcome  # the scheduler announces RefreshFinished

    # -- reading state (the read model's, for ``check``, ``export`` and tests) ----------

    @property
    def snapshots(self) -> dict[DashboardName, DashboardSnapshot]:
        """The latest complete snapshot of each dashboard (restored or refreshed)."""
        return self.state.snapshots

    @property
    def sources(self) -> dict[str, dict[str, int]]:
        """Per dashboard, where its last refresh's requests came from."""
        return self.state.sources

    @property
    def unreachable(self) -> dict[str, str]:
        """Instances the last cycle could not reach, with why."""
        return self.state.unreachable

    @property
    def last_outcome(self) -> CycleOutcome | None:
        """The last cycle's outcome, with ``results`` and ``api_calls`` left empty
        (:meth:`refresh` returns the whole of it)."""
        return self.state.last_outcome

    @property
    def restored_health(self) -> RecordedHealth | None:
        """The verdict the last recorded cycle ended on, until this process records its own."""
        return self.state.restored_health

    @property
    def alerts(self) -> AlertDelivery:
        """Delivers the records' alert events in the background (SPEC section 10)."""
        return self.recorder.alerts

    def ttl(self, name: DashboardName) -> float:
        """The dashboard's TTL in seconds."""
        return self.state.ttl(name)

    def freshness(self, name: DashboardName) -> Freshness:
        """State, overlays and age of one dashboard now."""
        return self.state.freshness(name, refreshing=name in self.refreshing)

    @property
    def findings(self) -> list[OpenFinding]:
        """Open consistency findings, most severe first, then oldest first."""
        return self.consistency.findings

    def failing_workspaces(self) -> list[tuple[str, str, WorkspaceState]]:
        """Workspaces the records call FAILING (after hysteresis), longest-failing first."""
        return self.state.failing_workspaces()

    @property
    def health_trend(self) -> tuple[int, ...]:
        """The health score of the last recorded cycles (any process's), oldest first."""
        return self.state.health_trend

    async def reload_health(self) -> Verdict:
        """Read the records again (other processes may have written) and judge them now."""
        return await self.state.reload(self.store)

    def health(self) -> Verdict:
        """The verdict of the records as last read, judged now (cheap: no I/O)."""
        return self.state.health()

    # -- the network side's live state ---------------------------------------------------

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

    # -- the faces' frozen view ---------------------------------------------------------

    def view(self, *, cache: bool = True) -> MonitorView:
        """Everything a face draws, frozen at this instant (``cache=False`` leaves out the
        cache's counts, which cost a pass over every cached response)."""
        self._views += 1
        return build_view(
            self.state,
            self.consistency,
            self.config,
            serial=self._views,
            refreshing=self.refreshing,
            preview=self._preview,
            breakers=self.breakers(),
            calls=self.active_calls(),
            on_the_wire=self.on_the_wire(),
            cache=self.cache_stats() if cache else None,
            shared=self.shared_status(),
            demo=self.demo,
            alert_trouble=self.alerts.trouble,
        )

    def _preview(self, name: DashboardName) -> tuple[DashboardSnapshot | None, Loading] | None:
        """A cold dashboard's rows so far and its progress, while a cycle fetches it."""
        for cycle in self._cycles:
            preview = cycle.preview
            loading = preview.progress(name) if preview is not None else None
            if preview is not None and loading is not None:
                return preview.snapshot(name), loading
        return None


__all__ = [
    "CallStatusChanged",
    "HysteresisPolicy",
    "MonitorEvent",
    "PortalMonitor",
    "RefreshFinished",
    "RefreshProgress",
    "RefreshStarted",
    "SnapshotUpdated",
    "WorkspaceState",
    "WorkspaceTransition",
]
