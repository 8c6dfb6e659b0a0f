"""Verify what is shown: re-fetch a sample of workspaces past the cache and diff each row.

"The customer says the portal is wrong": :func:`verify_workspaces` takes the
rows recorded in SQLite (``dashboard_snapshots``: what every face shows),
picks a random sample of workspaces (or the one asked for), fetches their
inputs again straight from the upstream (the cache is neither read nor
written, so nothing shown changes), recomputes each dashboard row with the
same windows and the same mailbox costs, and compares field by field. The
result is recorded in ``verify_results`` and returned as a :class:`VerifyRun`,
whose :attr:`~VerifyRun.exit_code` follows the ``check`` convention. The
console's detail screen and ``portal-tui verify`` both call it.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

from portal_tui.config import ClientEntry, Config
from portal_tui.dashboards.base import ComputeContext, WorkspaceRow
from portal_tui.dashboards.registry import dashboard_for, dashboard_names
from portal_tui.dashboards.snapshot import DashboardSnapshot
from portal_tui.dashboards.windows import report_windows
from portal_tui.engine.row_diff import FieldDifference, row_differences
from portal_tui.store.verify_records import VerifyResultRecord
from portal_tui.upstream.endpoints import Endpoint, RequestKey
from portal_tui.upstream.workspaces import WorkspaceRef
from portal_tui.vocabulary.errors import ExitCode, PortalError, UpstreamError
from portal_tui.vocabulary.names import DashboardName

if TYPE_CHECKING:
    from portal_tui.engine.monitor import PortalMonitor
    from portal_tui.fetch.fetcher import Fetched

DEFAULT_SAMPLE = 5
"""Workspaces re-fetched when no ``--sample`` is given."""

Status = Literal["match", "differs", "unverified"]


class VerifyError(PortalError):
    """Nothing to verify, or an unknown workspace: a usage problem (exit 3)."""


@dataclass(frozen=True, slots=True)
class WorkspaceVerdict:
    """One workspace on one dashboard: the recorded row against the upstream now."""

    instance: str
    workspace_id: int
    workspace: str
    dashboard: DashboardName
    status: Status
    recorded_at: datetime | None
    fetched_at: datetime | None
    differences: tuple[FieldDifference, ...] = ()
    message: str = ""

    def record(self, run_at: datetime) -> VerifyResultRecord:
        """The ``verify_results`` row."""
        return VerifyResultRecord(
            run_at=run_at,
            instance=self.instance,
            workspace_id=self.workspace_id,
            workspace=self.workspace,
            dashboard=self.dashboard.value,
            status=self.status,
            recorded_at=self.recorded_at,
            fetched_at=self.fetched_at,
            differences=[d.as_dict() for d in self.differences],
            message=self.message,
        )


@dataclass(frozen=True, slots=True)
class VerifyRun:
    """One verify run: what was sampled and what each workspace × dashboard showed."""

    run_at: datetime
    candidates: int  # workspaces with a recorded row
    sampled: tuple[tuple[str, int, str], ...]  # (instance, id, name)
    verdicts: tuple[WorkspaceVerdict, ...]

    @property
    def status(self) -> str:
        """``OK`` (every row matches), ``WARNING`` (some could not be re-fetched) or
        ``DIVERGENCE`` (a recorded row differs from the upstream now)."""
        if any(v.status == "differs" for v in self.verdicts):
            return "DIVERGENCE"
        if any(v.status == "unverified" for v in self.verdicts):
            return "WARNING"
        return "OK"

    @property
    def exit_code(self) -> ExitCode:
        """0 no divergence, 1 warning, 2 divergence (the ``check`` convention)."""
        return {
            "OK": ExitCode.OK,
            "WARNING": ExitCode.WARNING,
            "DIVERGENCE": ExitCode.CRITICAL,
        }[self.status]


async def recorded_snapshots(monitor: PortalMonitor) -> dict[DashboardName, DashboardSnapshot]:
    """The snapshots recorded in SQLite (what every face shows); the monitor's own without
    a store."""
    if monitor.store is None:
        return dict(monitor.snapshots)
    found: dict[DashboardName, DashboardSnapshot] = {}
    for name, record in (await monitor.store.load_snapshots()).items():
        try:
            board = dashboard_for(DashboardName(name))
            found[board.name] = DashboardSnapshot.loads(record.payload, board.row_model)
        except (ValueError, KeyError, TypeError):
            continue  # an old or damaged snapshot: nothing shown to verify
    return found


async def verify_workspaces(
    monitor: PortalMonitor,
    *,
    sample: int = DEFAULT_SAMPLE,
    workspace: str | None = None,
    keys: Sequence[tuple[str, int]] | None = None,
    rng: random.Random | None = None,
    recorded: Mapping[DashboardName, DashboardSnapshot] | None = None,
    record: bool = True,
) -> VerifyRun:
    """Re-fetch ``keys``, or the workspace named ``workspace`` (name or id, any case), or a
    random ``sample``, past the cache; diff against ``recorded`` (default: SQLite's).

    Raises :class:`VerifyError` when nothing is recorded or the workspace is unknown.
    The run is written to ``verify_results`` when ``record`` and the monitor has a store.
    """
    shown = dict(recorded) if recorded is not None else await recorded_snapshots(monitor)
    names: dict[tuple[str, int], str] = {}
    for snap in shown.values():
        for row in snap.rows:
            names.setdefault(row.key, row.workspace)
    if not names:
        where = monitor.store.path if monitor.store is not None else "memory"
        raise VerifyError(
            f"nothing recorded to verify in {where}: run `portal-tui check` or the console first"
        )
    chosen = _choose(names, sample=sample, workspace=workspace, keys=keys, rng=rng)
    results = await asyncio.gather(
        *(_verify_one(monitor, shown, key, names[key]) for key in chosen)
    )
    run = VerifyRun(
        run_at=monitor.clock.now(),
        candidates=len(names),
        sampled=tuple((k[0], k[1], names[k]) for k in chosen),
        verdicts=tuple(v for found in results for v in found),
    )
    if record and monitor.store is not None:
        await monitor.store.record_verification([v.record(run.run_at) for v in run.verdicts])
    return run


def _choose(
    names: Mapping[tuple[str, int], str],
    *,
    sample: int,
    workspace: str | None,
    keys: Sequence[tuple[str, int]] | None,
    rng: random.Random | None,
) -> list[tuple[str, int]]:
    if keys is not None:
        unknown = [k for k in keys if k not in names]
        if unknown:
            raise VerifyError(f"no recorded row for workspace {unknown[0][0]}/{unknown[0][1]}")
        return list(keys)
    if workspace is not None:
        wanted = workspace.strip().casefold()
        found = [
            k for k, n in sorted(names.items()) if n.casefold() == wanted or str(k[1]) == wanted
        ]
        if not found:
            known = ", ".join(sorted(set(names.values()), key=str.casefold)[:15])
            raise VerifyError(
                f"no recorded row for workspace {workspace!r}; recorded workspaces: {known}"
            )
        return found
    if sample < 1:
        raise VerifyError(f"--sample must be at least 1, got {sample}")
    pool = sorted(names)
    return sorted((rng or random.Random()).sample(pool, min(sample, len(pool))))


async def _verify_one(
    monitor: PortalMonitor,
    shown: Mapping[DashboardName, DashboardSnapshot],
    key: tuple[str, int],
    name: str,
) -> list[WorkspaceVerdict]:
    """Every dashboard with a recorded row for ``key``: re-fetch its inputs, recompute, diff."""
    from portal_tui.fetch.fetcher import CallContext  # the network side, on first use

    config = monitor.config
    ws = WorkspaceRef(key[0], key[1], name, _registry_entry(config, key, name))
    plan: list[tuple[DashboardName, WorkspaceRow, datetime | None, ComputeContext]] = []
    requests: dict[RequestKey, None] = {}
    for board_name in dashboard_names():
        snap = shown.get(board_name)
        row = next((r for r in snap.rows if r.key == key), None) if snap else None
        if snap is None or row is None:
            continue
        meta = snap.row_meta.get(key)
        # The windows the row was computed with: its cycle's start (a row kept stale
        # from an earlier cycle: when its data was fetched).
        when = meta.fetched_at if meta is not None and meta.stale else snap.refreshed_at
        when = when or (meta.fetched_at if meta else monitor.clock.now())
        windows = report_windows(when, config.zone)
        board = dashboard_for(board_name)
        # What the dashboard reads of the others (Revenue: Infrastructure's mailbox costs),
        # as shown: the same inputs the recorded row was computed from.
        upstream = {dep: shown[dep] for dep in board.depends_on if dep in shown}
        ctx = board.prepare(
            ComputeContext(windows=windows, config=config, now=when, upstream=upstream)
        )
        plan.append((board_name, row, meta.fetched_at if meta else None, ctx))
        for need in board.needs(windows).values():
            requests[RequestKey(key[0], key[1], need.endpoint, need.params)] = None
    call = CallContext("manual", tuple(sorted({p[0].value for p in plan})))
    fetcher = monitor.fetcher

    async def fetch(request: RequestKey) -> Fetched:
        if request.endpoint is Endpoint.SENDER_EMAILS:
            return await fetcher.fetch_mailboxes(ws, call)
        return await fetcher.fetch(request, ws, call)

    keys = list(requests)
    got = await asyncio.gather(*(fetch(k) for k in keys), return_exceptions=True)
    fetched_at = monitor.clock.now()
    results: dict[RequestKey, Fetched | BaseException] = dict(zip(keys, got, strict=True))
    return [
        _judge(ws, board_name, row, recorded_at, ctx, results, fetched_at)
        for board_name, row, recorded_at, ctx in plan
    ]


def _judge(
    ws: WorkspaceRef,
    board_name: DashboardName,
    row: WorkspaceRow,
    recorded_at: datetime | None,
    ctx: ComputeContext,
    results: Mapping[RequestKey, Any],
    fetched_at: datetime,
) -> WorkspaceVerdict:
    board = dashboard_for(board_name)

    def verdict(
        status: Status, message: str, diffs: Sequence[FieldDifference] = ()
    ) -> WorkspaceVerdict:
        return WorkspaceVerdict(
            ws.instance, ws.id, ws.name, board_name, status, recorded_at, fetched_at,
            tuple(diffs), message,
        )  # fmt: skip

    inputs: dict[str, Any] = {}
    for label, need in board.needs(ctx.windows).items():
        result = results[RequestKey(ws.instance, ws.id, need.endpoint, need.params)]
        if isinstance(result, UpstreamError):
            return verdict("unverified", f"re-fetch failed: {result.label}: {result.message}")
        if isinstance(result, BaseException):
            raise result
        inputs[label] = result.payload
    outcome = board.compute(ws, inputs, ctx)
    if outcome.row is None:
        why = outcome.issues[0].message if outcome.issues else "row rejected"
        return verdict("unverified", f"the re-fetched data was rejected: {why}")
    diffs = row_differences(row, outcome.row)
    if not diffs:
        return verdict("match", "the recorded row matches the upstream now")
    counts = [d for d in diffs if _is_count(d.recorded) and _is_count(d.fetched)]
    grew = bool(counts) and all(d.fetched > d.recorded for d in counts)
    grew = grew and all(_is_count(d.recorded) or isinstance(d.recorded, float) for d in diffs)
    why = (
        "; every count only grew: the upstream moved on since (refresh, then verify again)"
        if grew
        else "; not explained by new activity since it was recorded"
    )
    shown = ", ".join(str(d) for d in diffs[:6]) + (
        f" (+{len(diffs) - 6} more)" if len(diffs) > 6 else ""
    )
    return verdict("differs", f"{len(diffs)} field(s) differ: {shown}{why}", diffs)


def _is_count(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _registry_entry(config: Config, key: tuple[str, int], name: str) -> ClientEntry | None:
    for entry in config.clients_for(key[0]):
        if entry.id == key[1] or (entry.id is None and entry.name.casefold() == name.casefold()):
            return entry if entry.enabled else None
    return None
