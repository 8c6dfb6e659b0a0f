"""One refresh cycle: discover, plan, fetch each distinct request once, compute.

Data flows one way: fetch → validate → compute. A cycle never touches the
UI or the store; it returns a :class:`CycleOutcome` that the monitor records
and publishes. One failing workspace never fails its siblings; an
unreachable instance is reported once, not once per workspace.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from portal_tui.config import ClientEntry, Config
from portal_tui.dashboards.registry import compute_order, dashboard_for, ttl_of
from portal_tui.dashboards.snapshot import DashboardSnapshot
from portal_tui.dashboards.windows import ReportWindows, report_windows
from portal_tui.engine.compute import SnapshotComputer
from portal_tui.engine.outcome import CycleOutcome
from portal_tui.engine.preview import ColdPreview, ProgressListener
from portal_tui.engine.targeted import Scope, merge_scoped
from portal_tui.fetch.cache import CacheResult, TtlCache
from portal_tui.fetch.fetcher import CallContext, Fetched, Fetcher
from portal_tui.upstream.discovery import Discovery, join_registry
from portal_tui.upstream.endpoints import Endpoint, RequestKey
from portal_tui.upstream.mailboxes import MailboxCollection
from portal_tui.upstream.models import ApiWorkspace, WorkspacesResponse
from portal_tui.upstream.workspaces import WorkspaceRef
from portal_tui.vocabulary.clock import Clock
from portal_tui.vocabulary.errors import ErrorType, UpstreamError
from portal_tui.vocabulary.names import DashboardName

if TYPE_CHECKING:
    from portal_tui.shared.loads import SharedLoads

START_BATCH = 100
"""Requests started per event-loop iteration when a cycle begins fetching."""

FORCED_GRACE = 5.0
"""Seconds before a forced refresh began from which it still takes another process's
answer through the shared tier: consoles and checks started together share their
first fetch, though one of them reached the upstream a moment before another began."""

__all__ = ["START_BATCH", "CycleOutcome", "RefreshCycle", "source_of"]


class RefreshCycle:
    """Runs one cycle for a set of dashboards."""

    def __init__(
        self,
        config: Config,
        fetcher: Fetcher,
        cache: TtlCache[RequestKey, Fetched],
        clock: Clock,
        *,
        previous: Mapping[DashboardName, DashboardSnapshot],
        failing_since: Mapping[tuple[str, int | None, DashboardName], datetime],
        shared: SharedLoads | None = None,
        on_progress: ProgressListener | None = None,
    ) -> None:
        """``on_progress``: preview the dashboards ``previous`` has no snapshot of, calling
        it as each workspace completes (see :mod:`portal_tui.engine.preview`)."""
        self._config = config
        self._shared = shared
        self._forced_at: datetime | None = None
        self._fetcher = fetcher
        self._cache = cache
        self._clock = clock
        self._previous = previous
        self._computer = SnapshotComputer(
            config, clock, previous=previous, failing_since=failing_since
        )
        self._on_progress = on_progress
        self.preview: ColdPreview | None = None
        """The cold dashboards' rows so far, while this cycle fetches (None: nothing cold)."""

    def _ttl(self, name: DashboardName) -> float:
        return ttl_of(self._config, name)

    async def run(
        self,
        names: Sequence[DashboardName],
        *,
        force: bool,
        triggered_by: str,
        scope: Scope | None = None,
    ) -> CycleOutcome:
        """Refresh ``names``; never raises for upstream trouble. With a ``scope``, only its
        workspaces (``force`` then applies to them, not to the workspace lists)."""
        start_mono = self._clock.monotonic()
        now = self._clock.now()
        # A forced refresh takes what another process fetched as it began, not older.
        self._forced_at = now - timedelta(seconds=FORCED_GRACE) if force else None
        made_before = self._fetcher.requests_made
        failed_before = self._fetcher.requests_failed
        outcome = CycleOutcome(tuple(names), triggered_by, now, now, scope=scope)
        ctx = CallContext(triggered_by, tuple(n.value for n in names), outcome.api_calls.append)
        windows = report_windows(now, self._config.zone)
        min_ttl = min(self._ttl(n) for n in names)

        discoveries = await asyncio.gather(
            *(
                self._discover(inst.name, ctx, outcome, force and scope is None, min_ttl)
                for inst in self._config.instances
                if scope is None or inst.name in scope.instances
            )
        )
        refs = [
            ws for d in discoveries for ws in d.workspaces if d.instance not in outcome.unreachable
        ]
        refs = scope.select(refs) if scope is not None else refs
        for d in discoveries:
            outcome.discoveries[d.instance] = d

        plan = self._plan(names, refs, windows)
        self._start_preview(names, refs, windows, outcome, now)
        keys = list(plan)
        results = await self._fetch_planned(plan, ctx, force)
        for key, result in zip(keys, results, strict=True):
            if isinstance(result, asyncio.CancelledError):
                raise result
            outcome.results[key] = result
            where = source_of(result)
            outcome.source_totals[where] = outcome.source_totals.get(where, 0) + 1
            for tag in plan[key][1]:
                board = outcome.sources.setdefault(tag, {})
                board[where] = board.get(where, 0) + 1
            fresh = isinstance(result, CacheResult) and not result.from_cache
            if fresh and isinstance(result, CacheResult) and result.value.unknown_fields:
                outcome.unknown_fields.setdefault(key.endpoint.value, set()).update(
                    result.value.unknown_fields
                )

        outcome.requests_needed = sum(1 for d in discoveries if d.listed) + self._needed(
            plan, outcome.results
        )
        all_refs = [ws for d in discoveries for ws in d.workspaces]
        all_refs = scope.select(all_refs) if scope is not None else all_refs
        for ws in all_refs:
            outcome.workspace_names[ws.key] = ws.name
            outcome.workspace_failures.setdefault(ws.key, set())
        for name in compute_order():  # each dashboard after those it reads
            if name not in names:
                continue
            snapshot = await self._computer.compute(name, all_refs, windows, outcome, now)
            outcome.snapshots[name] = snapshot
        outcome.finished_at = self._clock.now()
        outcome.duration_ms = (self._clock.monotonic() - start_mono) * 1000.0
        outcome.requests_made = self._fetcher.requests_made - made_before
        outcome.requests_failed = self._fetcher.requests_failed - failed_before
        for snapshot in outcome.snapshots.values():
            snapshot.duration_ms = outcome.duration_ms
        if scope is not None:  # every other workspace as the last snapshots have it
            merge_scoped(outcome, self._previous, scope, self._config, now)
        return outcome

    def _start_preview(
        self,
        names: Sequence[DashboardName],
        refs: Sequence[WorkspaceRef],
        windows: ReportWindows,
        outcome: CycleOutcome,
        now: datetime,
    ) -> None:
        cold = [n for n in names if n not in self._previous]
        if self._on_progress is None or not cold:
            return
        self.preview = ColdPreview(cold, self._clock, self._on_progress)
        contexts = {
            name: (
                dashboard_for(name).needs(windows),
                self._computer.context(name, windows, now, {}),
            )
            for name in cold
        }
        self.preview.start(refs, contexts, outcome.unreachable, now)

    # -- discovery ----------------------------------------------------------------------

    async def _discover(
        self, instance: str, ctx: CallContext, outcome: CycleOutcome, force: bool, ttl: float
    ) -> Discovery:
        """The instance's workspaces; records it as unreachable or unlisted on failure."""
        registry = self._config.clients_for(instance)
        listed: list[ApiWorkspace] | None = None
        if self._fetcher.has_master_token(instance):
            key = RequestKey(instance, None, Endpoint.LIST_WORKSPACES)

            async def load() -> Fetched:
                return await self._fetcher.fetch(key, None, ctx)

            try:
                got = await self._cache.get(
                    key, self._shared_load(key, load, ttl), ttl=ttl, force=force,
                    tags=("workspaces",),
                )  # fmt: skip
            except UpstreamError as exc:
                if _means_unreachable(exc):
                    outcome.unreachable[instance] = exc
                else:
                    outcome.list_errors[instance] = exc
            else:
                if got.stale and isinstance(got.error, UpstreamError):
                    if _means_unreachable(got.error):
                        outcome.unreachable[instance] = got.error
                    else:
                        outcome.list_errors[instance] = got.error
                payload = got.value.payload
                assert isinstance(payload, WorkspacesResponse)
                listed = list(payload.data)
        else:
            error = await self._fetcher.probe(instance, ctx)
            if error is not None:
                outcome.unreachable[instance] = error
        found = join_registry(instance, listed, registry)
        if listed is None:
            self._add_known_workspaces(found, registry)
        return found

    def _add_known_workspaces(self, found: Discovery, registry: Sequence[ClientEntry]) -> None:
        """Without the API's list, keep showing the workspaces the last snapshots had."""
        known = {ws.id for ws in found.workspaces}
        for snap in self._previous.values():
            for row in snap.rows:
                if row.instance == found.instance and row.workspace_id not in known:
                    known.add(row.workspace_id)
                    entry = _registry_entry(registry, row.workspace_id, row.workspace)
                    found.workspaces.append(
                        WorkspaceRef(found.instance, row.workspace_id, row.workspace, entry)
                    )

    # -- plan and fetch -----------------------------------------------------------------

    def _plan(
        self, names: Sequence[DashboardName], refs: Sequence[WorkspaceRef], windows: ReportWindows
    ) -> dict[RequestKey, tuple[WorkspaceRef, set[str]]]:
        plan: dict[RequestKey, tuple[WorkspaceRef, set[str]]] = {}
        for name in names:
            needs = dashboard_for(name).needs(windows)
            for ws in refs:
                for need in needs.values():
                    key = RequestKey(ws.instance, ws.id, need.endpoint, need.params)
                    entry = plan.setdefault(key, (ws, set()))
                    entry[1].add(name.value)
        return plan

    async def _fetch_planned(
        self,
        plan: Mapping[RequestKey, tuple[WorkspaceRef, set[str]]],
        ctx: CallContext,
        force: bool,
    ) -> list[CacheResult[Fetched] | BaseException]:
        """Every planned request at once, results in plan order.

        All are started together and the fetcher's per-instance limiter is the
        sliding window: a request starts the moment a slot frees. (This is the
        seam the benchmarks use to compare fixed batches and sequential runs
        over the same client.)

        They are started :data:`START_BATCH` at a time with a yield between:
        a task's first step runs in the loop iteration after it is created, so
        7,000 tasks created at once were one ~0.5 s iteration (no keypress or
        redraw in between).
        """
        tasks: list[asyncio.Future[CacheResult[Fetched]]] = []
        preview = self.preview
        try:
            for key, (ws, tags) in plan.items():
                got = asyncio.ensure_future(self._get(key, ws, tags, ctx, force))
                if preview is not None:
                    got.add_done_callback(functools.partial(_landed, preview, key))
                tasks.append(got)
                if len(tasks) % START_BATCH == 0:
                    await asyncio.sleep(0)
        except BaseException:
            for task in tasks:
                task.cancel()
            raise
        return await asyncio.gather(*tasks, return_exceptions=True)

    async def _get(
        self, key: RequestKey, ws: WorkspaceRef, tags: set[str], ctx: CallContext, force: bool
    ) -> CacheResult[Fetched]:
        ttl = min(self._ttl(DashboardName(t)) for t in tags)
        sub = CallContext(ctx.triggered_by, tuple(sorted(tags)), ctx.record)

        async def load() -> Fetched:
            if key.endpoint is Endpoint.SENDER_EMAILS:
                return await self._fetcher.fetch_mailboxes(ws, sub)
            return await self._fetcher.fetch(key, ws, sub)

        return await self._cache.get(
            key, self._shared_load(key, load, ttl), ttl=ttl, force=force, tags=tags
        )

    def _shared_load(
        self, key: RequestKey, load: Callable[[], Awaitable[Fetched]], ttl: float
    ) -> Callable[[], Awaitable[Fetched]]:
        """``load`` through the shared tier: another process's response if it is young
        enough (or fetched since a forced refresh began), else fetched once for all."""
        shared = self._shared
        if shared is None:
            return load

        async def through_tier() -> Fetched:
            not_before = self._forced_at or self._clock.now() - timedelta(seconds=ttl)
            return await shared.load(key, load, not_before=not_before)

        return through_tier

    def _needed(
        self,
        plan: Mapping[RequestKey, tuple[WorkspaceRef, set[str]]],
        results: Mapping[RequestKey, CacheResult[Fetched] | BaseException],
    ) -> int:
        """Upstream requests the plan needs at the least: every page of every key not
        served from the cache, plus one switch per master-token workspace that needed
        anything (its requests share one session: see :mod:`portal_tui.fetch.sessions`)."""
        needed = 0
        switched: set[tuple[str, int]] = set()
        for key, (ws, _) in plan.items():
            result = results.get(key)
            if source_of(result) in ("cache", "shared"):
                continue
            pages = 1
            if isinstance(result, CacheResult) and isinstance(
                result.value.payload, MailboxCollection
            ):
                meta = result.value.payload.meta
                pages = meta.last_page if meta else 1
            needed += pages
            if self._fetcher.token_mode(ws) == "master":
                switched.add(ws.key)
        return needed + len(switched)


def source_of(result: CacheResult[Fetched] | BaseException | None) -> str:
    """``here``, ``shared``, ``cache`` or ``failed``: where a request's data came from."""
    if not isinstance(result, CacheResult):
        return "failed"
    if result.from_cache:
        return "cache"
    return result.value.origin


def _landed(
    preview: ColdPreview, key: RequestKey, task: asyncio.Future[CacheResult[Fetched]]
) -> None:
    if not task.cancelled():
        error = task.exception()
        preview.landed(key, error if error is not None else task.result())


def _registry_entry(registry: Sequence[ClientEntry], ws_id: int, name: str) -> ClientEntry | None:
    for entry in registry:
        if entry.id == ws_id or entry.name.casefold() == name.casefold():
            return entry
    return None


def _means_unreachable(error: UpstreamError) -> bool:
    return error.error_type in (ErrorType.NETWORK, ErrorType.TIMEOUT, ErrorType.BREAKER_OPEN)
