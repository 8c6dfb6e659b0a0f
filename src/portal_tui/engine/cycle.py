"""One refresh cycle: discover, plan, fetch each distinct request once, compute.

Data flows one way: fetch → validate → compute. A cycle never touches the
UI or the store; it returns a :class:`CycleOutcome` that the monitor records
and publishes. One failing workspace never fails its siblings; an
unreachable instance is reported once, not once per workspace.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from portal_tui.config import ClientEntry, Config
from portal_tui.dashboards.base import (
    ComputeContext,
    Need,
    WorkspaceRow,
    issues_from_validation_error,
)
from portal_tui.dashboards.registry import compute_order, dashboard_for, ttl_of
from portal_tui.dashboards.snapshot import DashboardSnapshot, RowMeta, WorkspaceFailure, json_safe
from portal_tui.dashboards.windows import ReportWindows, report_windows
from portal_tui.engine.targeted import Scope, merge_scoped
from portal_tui.fetch.cache import CacheResult, TtlCache
from portal_tui.fetch.events import ApiCallRecord
from portal_tui.fetch.fetcher import CallContext, Fetched, Fetcher
from portal_tui.upstream.client import PayloadError
from portal_tui.upstream.discovery import Discovery, join_registry
from portal_tui.upstream.endpoints import Endpoint, RequestKey
from portal_tui.upstream.mailboxes import MailboxCollection
from portal_tui.upstream.models import ApiWorkspace, WorkspacesResponse
from portal_tui.upstream.workspaces import WorkspaceRef
from portal_tui.vocabulary.clock import Clock
from portal_tui.vocabulary.errors import ErrorType, UpstreamError
from portal_tui.vocabulary.names import DashboardName, Severity
from portal_tui.vocabulary.validation import ValidationErrorType, ValidationIssue

if TYPE_CHECKING:
    from portal_tui.shared.loads import SharedLoads

COMPUTE_SLICE = 0.02
"""Seconds of computing between yields to the event loop: at 1,000 workspaces and
50,000 mailboxes a dashboard takes about a second to compute, and the console
shares this loop (its keys must not wait for the whole of it)."""

START_BATCH = 100
"""Requests started per event-loop iteration when a cycle begins fetching."""

FORCED_GRACE = 5.0
"""Seconds before a forced refresh began from which it still takes another process's
answer through the shared tier: consoles and checks started together share their
first fetch, though one of them reached the upstream a moment before another began."""

@dataclass(slots=True)
class CycleOutcome:
    """Everything one cycle learned, for the monitor to record and publish."""

    dashboards: tuple[DashboardName, ...]
    triggered_by: str
    started_at: datetime
    finished_at: datetime
    snapshots: dict[DashboardName, DashboardSnapshot] = field(default_factory=dict)
    api_calls: list[ApiCallRecord] = field(default_factory=list)
    issues: list[ValidationIssue] = field(default_factory=list)
    validated: set[tuple[str, str]] = field(default_factory=set)
    discoveries: dict[str, Discovery] = field(default_factory=dict)
    unreachable: dict[str, UpstreamError] = field(default_factory=dict)
    results: dict[RequestKey, CacheResult[Fetched] | BaseException] = field(default_factory=dict)
    # (instance, workspace id) -> dashboards that failed for it this cycle (empty: all good)
    workspace_failures: dict[tuple[str, int], set[DashboardName]] = field(default_factory=dict)
    workspace_names: dict[tuple[str, int], str] = field(default_factory=dict)
    unknown_fields: dict[str, set[str]] = field(default_factory=dict)
    # instance -> why its workspace list could not be read (4xx, bad payload)
    list_errors: dict[str, UpstreamError] = field(default_factory=dict)
    requests_needed: int = 0
    requests_made: int = 0
    requests_failed: int = 0
    """Requests that finally failed after their retries (the health score's failed calls)."""
    duration_ms: float = 0.0
    # dashboard -> where its distinct requests' data came from: "here" (this process
    # asked the upstream), "shared" (another process did, via the shared tier), "cache"
    # (this process's memory), "failed"
    sources: dict[str, dict[str, int]] = field(default_factory=dict)
    # the cycle's distinct requests (each counted once) by the same sources
    source_totals: dict[str, int] = field(default_factory=dict)
    scope: Scope | None = None
    """A targeted cycle's workspaces (see :mod:`portal_tui.engine.targeted`); None: all."""



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
    ) -> None:
        self._config = config
        self._shared = shared
        self._forced_at: datetime | None = None
        self._fetcher = fetcher
        self._cache = cache
        self._clock = clock
        self._previous = previous
        self._failing_since = failing_since

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
            snapshot = await self._compute(name, all_refs, windows, outcome, now)
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
        try:
            for key, (ws, tags) in plan.items():
                tasks.append(asyncio.ensure_future(self._get(key, ws, tags, ctx, force)))
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

    # -- compute ------------------------------------------------------------------------

    async def _compute(
        self,
        name: DashboardName,
        refs: Sequence[WorkspaceRef],
        windows: ReportWindows,
        outcome: CycleOutcome,
        now: datetime,
    ) -> DashboardSnapshot:
        """One dashboard's snapshot from this cycle's results (and, for failures, the last one)."""
        board = dashboard_for(name)
        previous = self._previous.get(name)
        kept = {row.key: row for row in previous.rows} if previous else {}
        snap = DashboardSnapshot(name=name, refreshed_at=now, workspaces_expected=len(refs))
        upstream: dict[DashboardName, DashboardSnapshot] = {}
        for dependency in board.depends_on:  # this cycle's snapshot, else the last one
            found = outcome.snapshots.get(dependency) or self._previous.get(dependency)
            if found is not None:
                upstream[dependency] = found
        ctx = board.prepare(
            ComputeContext(windows=windows, config=self._config, now=now, upstream=upstream)
        )
        needs = board.needs(windows)
        for instance, error in outcome.unreachable.items():
            snap.failures.append(self._failure(instance, None, name, error, "upstream unreachable"))
        for instance, error in outcome.list_errors.items():
            snap.failures.append(self._failure(instance, None, name, error, "list workspaces"))
        rows: list[WorkspaceRow] = []
        slice_start = time.perf_counter()
        for ws in refs:
            if time.perf_counter() - slice_start > COMPUTE_SLICE:
                await asyncio.sleep(0)  # let keypresses and redraws in
                slice_start = time.perf_counter()
            got = _gather(ws, needs, outcome)
            row: WorkspaceRow | None = None
            if got.complete:
                result = board.compute(ws, got.values, ctx)
                outcome.validated.add((name.value, ws.name))
                snap.issues.extend(result.issues)
                row = result.row
                if row is None:
                    first = result.issues[0].message if result.issues else "row rejected"
                    got.error = UpstreamError(ErrorType.VALIDATION, f"row rejected: {first}")
                    got.request = "validation"
                elif result.warnings:
                    snap.warnings.setdefault(ws.name, []).extend(result.warnings)
            if got.error is not None:
                outcome.workspace_failures.setdefault(ws.key, set()).add(name)
                if ws.instance not in outcome.unreachable:
                    snap.failures.append(
                        self._failure(ws.instance, ws, name, got.error, got.request)
                    )
                    if isinstance(got.error, PayloadError):
                        snap.issues.extend(_payload_issues(got.error, name, ws.name, got.request))
            if row is not None:
                assert got.fetched_at is not None
                rows.append(row)
                stale = got.error is not None
                snap.row_meta[ws.key] = RowMeta(got.fetched_at, stale, _text(got.error))
            elif previous is not None and ws.key in kept and ws.key in previous.row_meta:
                # Failed or rejected: keep the last good row, flagged stale with its own age.
                rows.append(kept[ws.key])
                snap.row_meta[ws.key] = RowMeta(
                    previous.row_meta[ws.key].fetched_at, True, _text(got.error)
                )
                if previous.warnings.get(ws.name):
                    snap.warnings[ws.name] = list(previous.warnings[ws.name])
        snap.issues = _dedupe(snap.issues)
        summary = board.summarize(rows, ctx)
        for workspace, extra in summary.warnings.items():
            snap.warnings.setdefault(workspace, []).extend(extra)
        snap.totals = json_safe(summary.totals)
        snap.rows = list(board.rank(rows))
        fresh_times = [m.fetched_at for m in snap.row_meta.values() if not m.stale]
        if fresh_times:
            snap.fetched_at = min(fresh_times)
        else:
            snap.fetched_at = previous.fetched_at if previous else None
            if snap.failures:
                snap.error = f"refresh failed: {snap.failures[0].message}"
            elif not refs:
                snap.error = "no workspaces found (check the registry and the master token)"
        return snap

    def _failure(
        self,
        instance: str,
        ws: WorkspaceRef | None,
        name: DashboardName,
        error: UpstreamError,
        request: str,
    ) -> WorkspaceFailure:
        now = self._clock.now()
        since = self._failing_since.get((instance, ws.id if ws else None, name), now)
        return WorkspaceFailure(
            instance=instance,
            workspace=ws.name if ws else None,
            workspace_id=ws.id if ws else None,
            dashboard=name,
            error_type=error.error_type.value,
            status_code=error.status_code,
            attempts=error.attempts,
            message=error.message,
            request=request,
            since=since,
            last_at=now,
        )


def source_of(result: CacheResult[Fetched] | BaseException | None) -> str:
    """``here``, ``shared``, ``cache`` or ``failed``: where a request's data came from."""
    if not isinstance(result, CacheResult):
        return "failed"
    if result.from_cache:
        return "cache"
    return result.value.origin


def _payload_issues(
    error: PayloadError, name: DashboardName, workspace: str, request: str
) -> list[ValidationIssue]:
    if error.validation is not None:
        return issues_from_validation_error(
            error.validation, dashboard=name, workspace=workspace, prefix=request.split(" ")[0]
        )
    return [
        ValidationIssue(
            dashboard=name,
            workspace=workspace,
            error_type=ValidationErrorType.SCHEMA_MISMATCH,
            field_name=request.split(" ")[0],
            expected="JSON document",
            actual="unparseable body",
            message=error.message,
            severity=Severity.CRITICAL,
        )
    ]


def _dedupe(issues: list[ValidationIssue]) -> list[ValidationIssue]:
    seen: set[tuple[str, str, str, str]] = set()
    unique: list[ValidationIssue] = []
    for issue in issues:
        ident = (issue.dashboard.value, issue.workspace, issue.field_name, issue.error_type.value)
        if ident not in seen:
            seen.add(ident)
            unique.append(issue)
    return unique


def _text(error: BaseException | None) -> str | None:
    if error is None:
        return None
    if isinstance(error, UpstreamError):
        return f"{error.label}: {error.message}"
    return f"{type(error).__name__}: {error}"


def _registry_entry(registry: Sequence[ClientEntry], ws_id: int, name: str) -> ClientEntry | None:
    for entry in registry:
        if entry.id == ws_id or entry.name.casefold() == name.casefold():
            return entry
    return None


@dataclass(slots=True)
class _Gathered:
    """One workspace's inputs for one dashboard, and the first thing that went wrong."""

    values: dict[str, Any] = field(default_factory=dict)
    fetched_at: datetime | None = None
    error: UpstreamError | None = None
    request: str = ""
    complete: bool = False


def _gather(ws: WorkspaceRef, needs: Mapping[str, Need], outcome: CycleOutcome) -> _Gathered:
    got = _Gathered()
    for label, need in needs.items():
        key = RequestKey(ws.instance, ws.id, need.endpoint, need.params)
        result = outcome.results.get(key)
        if result is None or isinstance(result, BaseException):
            got.error = _as_upstream(result, outcome.unreachable.get(ws.instance))
            got.request = key.describe()
            return got
        got.values[label] = result.value.payload
        if got.fetched_at is None or result.fetched_at < got.fetched_at:
            got.fetched_at = result.fetched_at
        if result.stale and got.error is None:
            got.error = _as_upstream(result.error, None)
            got.request = key.describe()
    got.complete = True
    return got


def _as_upstream(error: BaseException | None, unreachable: UpstreamError | None) -> UpstreamError:
    if isinstance(error, UpstreamError):
        return error
    if error is None:
        return unreachable or UpstreamError(ErrorType.NETWORK, "not fetched")
    return UpstreamError(ErrorType.NETWORK, f"{type(error).__name__}: {error}")


def _means_unreachable(error: UpstreamError) -> bool:
    return error.error_type in (ErrorType.NETWORK, ErrorType.TIMEOUT, ErrorType.BREAKER_OPEN)
