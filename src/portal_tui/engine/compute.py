"""A dashboard's snapshot from one cycle's responses: the compute step of a refresh.

fetch → validate → compute: :class:`SnapshotComputer` takes the responses a
cycle gathered and the last snapshots (a failed workspace keeps its last good
row, flagged stale) and builds each dashboard's :class:`DashboardSnapshot`.
:func:`gather` is the one place that says whether a workspace has every input a
dashboard needs (the cold-start preview uses it too).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from portal_tui.config import Config
from portal_tui.dashboards.base import (
    ComputeContext,
    Need,
    WorkspaceRow,
    issues_from_validation_error,
)
from portal_tui.dashboards.registry import dashboard_for
from portal_tui.dashboards.snapshot import DashboardSnapshot, RowMeta, WorkspaceFailure, json_safe
from portal_tui.dashboards.windows import ReportWindows
from portal_tui.engine.outcome import CycleOutcome
from portal_tui.fetch.cache import CacheResult
from portal_tui.fetch.fetcher import Fetched
from portal_tui.upstream.client import PayloadError
from portal_tui.upstream.endpoints import RequestKey
from portal_tui.upstream.workspaces import WorkspaceRef
from portal_tui.vocabulary.clock import Clock
from portal_tui.vocabulary.errors import ErrorType, UpstreamError
from portal_tui.vocabulary.names import DashboardName, Severity
from portal_tui.vocabulary.validation import ValidationErrorType, ValidationIssue

COMPUTE_SLICE = 0.02
"""Seconds of computing between yields to the event loop: at 1,000 workspaces and
50,000 mailboxes a dashboard takes about a second to compute, and the console
shares this loop (its keys must not wait for the whole of it)."""

Results = Mapping[RequestKey, CacheResult[Fetched] | BaseException]


class SnapshotComputer:
    """Builds the snapshots of one cycle."""

    def __init__(
        self,
        config: Config,
        clock: Clock,
        *,
        previous: Mapping[DashboardName, DashboardSnapshot],
        failing_since: Mapping[tuple[str, int | None, DashboardName], datetime],
    ) -> None:
        self._config = config
        self._clock = clock
        self._previous = previous
        self._failing_since = failing_since

    def context(
        self,
        name: DashboardName,
        windows: ReportWindows,
        now: datetime,
        current: Mapping[DashboardName, DashboardSnapshot],
    ) -> ComputeContext:
        """What ``name``'s rows are computed with: its dependencies' snapshots (this
        cycle's in ``current``, else the last ones)."""
        board = dashboard_for(name)
        upstream: dict[DashboardName, DashboardSnapshot] = {}
        for dependency in board.depends_on:
            found = current.get(dependency) or self._previous.get(dependency)
            if found is not None:
                upstream[dependency] = found
        return board.prepare(
            ComputeContext(windows=windows, config=self._config, now=now, upstream=upstream)
        )

    async def compute(
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
        ctx = self.context(name, windows, now, outcome.snapshots)
        needs = board.needs(windows)
        for instance, error in outcome.unreachable.items():
            snap.failures.append(self.failure(instance, None, name, error, "upstream unreachable"))
        for instance, error in outcome.list_errors.items():
            snap.failures.append(self.failure(instance, None, name, error, "list workspaces"))
        rows: list[WorkspaceRow] = []
        slice_start = time.perf_counter()
        for ws in refs:
            if time.perf_counter() - slice_start > COMPUTE_SLICE:
                await asyncio.sleep(0)  # let keypresses and redraws in
                slice_start = time.perf_counter()
            got = gather(ws, needs, outcome.results, outcome.unreachable)
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
                    failure = self.failure(ws.instance, ws, name, got.error, got.request)
                    snap.failures.append(failure)
                    if isinstance(got.error, PayloadError):
                        snap.issues.extend(_payload_issues(got.error, name, ws.name, got.request))
            if row is not None:
                assert got.fetched_at is not None
                rows.append(row)
                stale = got.error is not None
                snap.row_meta[ws.key] = RowMeta(got.fetched_at, stale, error_text(got.error))
            elif previous is not None and ws.key in kept and ws.key in previous.row_meta:
                # Failed or rejected: keep the last good row, flagged stale with its own age.
                rows.append(kept[ws.key])
                snap.row_meta[ws.key] = RowMeta(
                    previous.row_meta[ws.key].fetched_at, True, error_text(got.error)
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

    def failure(
        self,
        instance: str,
        ws: WorkspaceRef | None,
        name: DashboardName,
        error: UpstreamError,
        request: str,
    ) -> WorkspaceFailure:
        """The failure of ``ws`` (None: the whole instance) on ``name``, failing since the
        first failure of its current streak."""
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


@dataclass(slots=True)
class Gathered:
    """One workspace's inputs for one dashboard, and the first thing that went wrong."""

    values: dict[str, Any] = field(default_factory=dict)
    fetched_at: datetime | None = None
    error: UpstreamError | None = None
    request: str = ""
    complete: bool = False


def gather(
    ws: WorkspaceRef,
    needs: Mapping[str, Need],
    results: Results,
    unreachable: Mapping[str, UpstreamError],
) -> Gathered:
    """``ws``'s responses for ``needs``; ``complete`` when every one has a value."""
    got = Gathered()
    for label, need in needs.items():
        key = RequestKey(ws.instance, ws.id, need.endpoint, need.params)
        result = results.get(key)
        if result is None or isinstance(result, BaseException):
            got.error = _as_upstream(result, unreachable.get(ws.instance))
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


def error_text(error: BaseException | None) -> str | None:
    """``HTTP 503: ...`` for a row's meta, None without an error."""
    if error is None:
        return None
    if isinstance(error, UpstreamError):
        return f"{error.label}: {error.message}"
    return f"{type(error).__name__}: {error}"


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


def _as_upstream(error: BaseException | None, unreachable: UpstreamError | None) -> UpstreamError:
    if isinstance(error, UpstreamError):
        return error
    if error is None:
        return unreachable or UpstreamError(ErrorType.NETWORK, "not fetched")
    return UpstreamError(ErrorType.NETWORK, f"{type(error).__name__}: {error}")
