"""Targeted refreshes: one workspace past the cache, or only what failed last time.

A targeted refresh is a refresh cycle with a :class:`Scope`: the cycle
discovers only the scope's instances, plans and fetches only the scope's
workspaces, and computes their rows; :func:`merge_scoped` then lays those
rows over the last snapshot of each dashboard, so the snapshot that is
published and recorded still holds every workspace. The others keep their
rows, their row ages, failures, warnings and issues exactly as they were:
nothing makes them look freshly fetched (a dashboard's ``fetched_at`` is the
oldest fresh row's, as after any cycle). The consistency rules judge whole
cycles only, so a targeted cycle is recorded without a consistency verdict
(its findings are judged again by the next full cycle).

This module must not import :mod:`portal_tui.engine.cycle` at run time (the
cycle imports it).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from portal_tui.config import Config
from portal_tui.dashboards.base import ComputeContext, WorkspaceRow
from portal_tui.dashboards.registry import compute_order, dashboard_for
from portal_tui.dashboards.snapshot import DashboardSnapshot, WorkspaceFailure, json_safe
from portal_tui.dashboards.windows import report_windows
from portal_tui.upstream.workspaces import WorkspaceRef
from portal_tui.vocabulary.names import DashboardName

if TYPE_CHECKING:
    from portal_tui.engine.outcome import CycleOutcome

Key = tuple[str, int]

REFRESH_WORKSPACE = "refresh-workspace"
RETRY_FAILED = "retry-failed"


@dataclass(frozen=True, slots=True)
class Scope:
    """What a targeted cycle fetches: these workspaces, and every workspace of
    ``whole_instances`` (an instance whose list or connection failed)."""

    kind: str
    workspaces: frozenset[Key] = frozenset()
    whole_instances: frozenset[str] = frozenset()

    @property
    def instances(self) -> frozenset[str]:
        """The instances the cycle discovers."""
        return frozenset({key[0] for key in self.workspaces} | self.whole_instances)

    @property
    def empty(self) -> bool:
        """Nothing to fetch."""
        return not self.workspaces and not self.whole_instances

    def covers(self, instance: str, workspace_id: int | None) -> bool:
        """True for a workspace (or an instance-level failure) this scope fetches again."""
        if instance in self.whole_instances:
            return True
        return workspace_id is not None and (instance, workspace_id) in self.workspaces

    def select(self, refs: Iterable[WorkspaceRef]) -> list[WorkspaceRef]:
        """The workspaces of ``refs`` in this scope, in order."""
        return [ws for ws in refs if self.covers(ws.instance, ws.id)]

    def describe(self, names: Mapping[Key, str] | None = None) -> str:
        """``acme (sim)`` / ``3 workspace(s) and instance sim``: for notices and the timeline."""
        parts: list[str] = []
        if len(self.workspaces) == 1 and names is not None:
            (key,) = self.workspaces
            parts.append(f"{names.get(key, key[1])} ({key[0]})")
        elif self.workspaces:
            parts.append(f"{len(self.workspaces)} workspace(s)")
        if self.whole_instances:
            parts.append("instance " + ", ".join(sorted(self.whole_instances)))
        return " and ".join(parts) or "nothing"


def workspace_scope(instance: str, workspace_id: int) -> Scope:
    """One workspace."""
    return Scope(REFRESH_WORKSPACE, frozenset({(instance, workspace_id)}))


def failed_scope(snapshots: Iterable[DashboardSnapshot]) -> Scope:
    """What failed in the last cycle of each dashboard: its workspaces, and the instances
    that failed as a whole (unreachable, or their workspace list unreadable)."""
    workspaces: set[Key] = set()
    instances: set[str] = set()
    for snap in snapshots:
        for failure in snap.failures:
            if failure.workspace_id is None:
                instances.add(failure.instance)
            else:
                workspaces.add((failure.instance, failure.workspace_id))
    return Scope(RETRY_FAILED, frozenset(workspaces), frozenset(instances))


def failed_dashboards(snapshots: Iterable[DashboardSnapshot]) -> list[DashboardName]:
    """Dashboards whose last cycle had a failure, in compute order."""
    failing = {snap.name for snap in snapshots if snap.failures}
    return [name for name in compute_order() if name in failing]


def merge_scoped(
    outcome: CycleOutcome,
    previous: Mapping[DashboardName, DashboardSnapshot],
    scope: Scope,
    config: Config,
    now: datetime,
) -> None:
    """Lay the scoped cycle's rows over the last snapshots, in place in ``outcome``.

    Dashboards are merged in compute order, so one that reads another (Revenue
    reads Infrastructure's mailbox costs) summarises against the merged one.
    """
    fetched = set(outcome.workspace_names)
    discovered = {name for name in scope.instances if name in outcome.discoveries}
    windows = report_windows(now, config.zone)
    for name in compute_order():
        part = outcome.snapshots.get(name)
        before = previous.get(name)
        if part is None or before is None:
            continue
        upstream = {
            d: outcome.snapshots.get(d) or previous[d]
            for d in dashboard_for(name).depends_on
            if d in outcome.snapshots or d in previous
        }
        ctx = ComputeContext(windows=windows, config=config, now=now, upstream=upstream)
        outcome.snapshots[name] = _merged(before, part, fetched, discovered, ctx)


def _merged(
    before: DashboardSnapshot,
    part: DashboardSnapshot,
    fetched: set[Key],
    discovered: set[str],
    ctx: ComputeContext,
) -> DashboardSnapshot:
    board = dashboard_for(before.name)
    ctx = board.prepare(ctx)
    names = {row.workspace for row in part.rows} | {
        row.workspace for row in before.rows if row.key in fetched
    }
    names |= {f.workspace for f in part.failures if f.workspace}

    def replaced(failure: WorkspaceFailure) -> bool:
        if failure.workspace_id is None:
            return failure.instance in discovered
        return (failure.instance, failure.workspace_id) in fetched

    rows: list[WorkspaceRow] = [r for r in before.rows if r.key not in fetched]
    rows += part.rows
    meta = {k: m for k, m in before.row_meta.items() if k not in fetched}
    meta.update(part.row_meta)
    warnings = {ws: list(w) for ws, w in before.warnings.items() if ws not in names}
    for ws, found in part.warnings.items():
        if ws in names:
            warnings[ws] = list(found)
    summary = board.summarize(rows, ctx)
    for ws, extra in summary.warnings.items():  # cross-workspace warnings, on the fetched ones
        if ws in names:
            have = warnings.setdefault(ws, [])
            have.extend(w for w in extra if w not in have)
    snap = DashboardSnapshot(
        name=before.name,
        rows=list(board.rank(rows)),
        row_meta=meta,
        warnings=warnings,
        issues=[i for i in before.issues if i.workspace not in names] + list(part.issues),
        failures=[f for f in before.failures if not replaced(f)] + list(part.failures),
        totals=json_safe(summary.totals),
        refreshed_at=before.refreshed_at,
        workspaces_expected=max(before.workspaces_expected, len(rows)),
        duration_ms=before.duration_ms,
        restored=before.restored,
    )
    fresh = [m.fetched_at for m in meta.values() if not m.stale]
    snap.fetched_at = min(fresh) if fresh else before.fetched_at
    if not fresh:
        snap.error = before.error or part.error
    return snap


__all__ = [
    "REFRESH_WORKSPACE",
    "RETRY_FAILED",
    "Scope",
    "failed_dashboards",
    "failed_scope",
    "merge_scoped",
    "workspace_scope",
]
