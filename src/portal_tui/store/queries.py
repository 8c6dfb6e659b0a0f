"""Read queries: each takes a connection inside the store's read transaction."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import aiosqlite

from portal_tui.fetch.events import ApiCallRecord
from portal_tui.store.records import (
    ApiCallCount,
    CacheMetadataRecord,
    CycleSummary,
    HealthSummary,
    SnapshotRecord,
    StateTransition,
    ValidationErrorRow,
    from_epoch,
    to_epoch,
)
from portal_tui.store.schema import HEALTH_VIEW_COLUMNS


async def _rows(conn: aiosqlite.Connection, sql: str, params: Sequence[Any] = ()) -> list[Any]:
    # execute_fetchall exhausts the statement, so no read lock outlives the call.
    return list(await conn.execute_fetchall(sql, params))


def _names(text: str) -> tuple[str, ...]:
    return tuple(n for n in text.split(", ") if n)


async def health_summary(conn: aiosqlite.Connection) -> HealthSummary:
    """The single row of ``dashboard_health_summary``."""
    columns = ", ".join(HEALTH_VIEW_COLUMNS)
    (row,) = await _rows(conn, f"SELECT {columns} FROM dashboard_health_summary")
    return HealthSummary(
        score=int(row[0]),
        reason=str(row[1]),
        error_dashboards=int(row[2]),
        failed_calls_5m=int(row[3]),
        critical_errors_1h=int(row[4]),
        stale_dashboards=int(row[5]),
        error_dashboard_names=_names(row[6]),
        stale_dashboard_names=_names(row[7]),
        computed_at=from_epoch(row[8]),
    )


async def failed_calls_since(conn: aiosqlite.Connection, since: datetime) -> int:
    """Failed attempts logged at or after ``since``."""
    rows = await _rows(
        conn,
        "SELECT count(*) FROM api_health_logs WHERE success = 0 AND timestamp >= ?",
        (to_epoch(since),),
    )
    return int(rows[0][0])


_VALIDATION_COLUMNS = """
    id, source_dashboard, workspace, error_type, field_name, expected, actual, message,
    severity, occurrences, first_occurrence, last_occurrence, resolved, resolved_at
"""


def _validation_row(row: Any) -> ValidationErrorRow:
    return ValidationErrorRow(
        id=row[0],
        dashboard=row[1],
        workspace=row[2],
        error_type=row[3],
        field_name=row[4],
        expected=row[5],
        actual=row[6],
        message=row[7],
        severity=row[8],
        occurrences=row[9],
        first_occurrence=from_epoch(row[10]),
        last_occurrence=from_epoch(row[11]),
        resolved=bool(row[12]),
        resolved_at=None if row[13] is None else from_epoch(row[13]),
    )


async def validation_errors(
    conn: aiosqlite.Connection,
    *,
    dashboard: str | None,
    workspace: str | None,
    resolved: bool,
) -> list[ValidationErrorRow]:
    """Open (or resolved) validation errors, most severe then most recent first."""
    where: list[str] = ["resolved = ?"]
    params: list[Any] = [int(resolved)]
    if dashboard is not None:
        where.append("source_dashboard = ?")
        params.append(str(dashboard))
    if workspace is not None:
        where.append("workspace = ?")
        params.append(workspace)
    sql = f"""
        SELECT {_VALIDATION_COLUMNS} FROM data_validation_errors
        WHERE {" AND ".join(where)}
        ORDER BY CASE severity WHEN 'critical' THEN 0 WHEN 'error' THEN 1
                 WHEN 'warning' THEN 2 ELSE 3 END,
                 last_occurrence DESC, id DESC
    """
    return [_validation_row(r) for r in await _rows(conn, sql, params)]


async def recent_api_calls(
    conn: aiosqlite.Connection,
    *,
    since: datetime | None,
    limit: int,
    instance: str | None,
    workspace: str | None,
    failures_only: bool,
) -> list[ApiCallRecord]:
    """The newest attempts first, filtered."""
    where: list[str] = []
    params: list[Any] = []
    if since is not None:
        where.append("timestamp >= ?")
        params.append(to_epoch(since))
    if instance is not None:
        where.append("instance = ?")
        params.append(instance)
    if workspace is not None:
        where.append("workspace = ?")
        params.append(workspace)
    if failures_only:
        where.append("success = 0")
    clause = f"WHERE {' AND '.join(where)}" if where else ""
    sql = f"""
        SELECT instance, endpoint, method, workspace, status_code, response_time_ms, success,
               error_type, error_message, attempt, triggered_by, timestamp
        FROM api_health_logs {clause}
        ORDER BY timestamp DESC, id DESC LIMIT ?
    """
    return [
        ApiCallRecord(
            instance=r[0],
            endpoint=r[1],
            method=r[2],
            workspace=r[3],
            status_code=r[4],
            response_time_ms=r[5],
            success=bool(r[6]),
            error_type=r[7],
            error_message=r[8],
            attempt=r[9],
            triggered_by=r[10],
            timestamp=from_epoch(r[11]),
        )
        for r in await _rows(conn, sql, [*params, max(0, limit)])
    ]


async def state_transitions(
    conn: aiosqlite.Connection, *, since: datetime, workspace: str | None
) -> list[StateTransition]:
    """Transitions at or after ``since``, oldest first."""
    sql = """
        SELECT instance, workspace, dashboard, from_state, to_state, reason, at
        FROM workspace_state_transitions WHERE at >= ?
    """
    params: list[Any] = [to_epoch(since)]
    if workspace is not None:
        sql += " AND workspace = ?"
        params.append(workspace)
    sql += " ORDER BY at, id"
    return [
        StateTransition(
            instance=r[0],
            workspace=r[1],
            dashboard=r[2],
            from_state=r[3],
            to_state=r[4],
            reason=r[5],
            at=from_epoch(r[6]),
        )
        for r in await _rows(conn, sql, params)
    ]


async def cache_metadata(conn: aiosqlite.Connection) -> list[CacheMetadataRecord]:
    """Every cache entry, by key."""
    sql = """
        SELECT cache_key, dashboard, last_updated, last_fetch_duration_ms, record_count,
               data_size_bytes, status, error_message, ttl_seconds, version
        FROM data_cache_metadata ORDER BY cache_key
    """
    return [
        CacheMetadataRecord(
            cache_key=r[0],
            dashboard=r[1],
            last_updated=None if r[2] is None else from_epoch(r[2]),
            last_fetch_duration_ms=r[3],
            record_count=r[4],
            data_size_bytes=r[5],
            status=r[6],
            error_message=r[7],
            ttl_seconds=r[8],
            version=r[9],
        )
        for r in await _rows(conn, sql)
    ]


async def snapshots(conn: aiosqlite.Connection) -> list[SnapshotRecord]:
    """Every stored snapshot (integrity not yet checked)."""
    sql = """
        SELECT dashboard, payload, fetched_at, refreshed_at, row_count, checksum, schema_version
        FROM dashboard_snapshots ORDER BY dashboard
    """
    return [
        SnapshotRecord(
            dashboard=r[0],
            payload=r[1],
            fetched_at=from_epoch(r[2]),
            refreshed_at=from_epoch(r[3]),
            row_count=r[4],
            checksum=r[5],
            schema_version=r[6],
        )
        for r in await _rows(conn, sql)
    ]


async def recent_cycles(conn: aiosqlite.Connection, *, limit: int) -> list[CycleSummary]:
    """The newest committed cycles first."""
    sql = """
        SELECT id, triggered_by, started_at, finished_at, dashboards, requests, failures
        FROM refresh_cycles ORDER BY finished_at DESC, id DESC LIMIT ?
    """
    return [
        CycleSummary(
            id=r[0],
            triggered_by=r[1],
            started_at=from_epoch(r[2]),
            finished_at=from_epoch(r[3]),
            dashboards=tuple(json.loads(r[4])),
            requests=r[5],
            failures=r[6],
        )
        for r in await _rows(conn, sql, (max(0, limit),))
    ]


async def api_call_counts(conn: aiosqlite.Connection, *, since: datetime) -> list[ApiCallCount]:
    """Attempts per instance, then failed attempts per ``(instance, error_type, status)``."""
    at = (to_epoch(since),)
    totals = await _rows(
        conn,
        "SELECT instance, count(*), count(*) - coalesce(sum(success), 0)"
        " FROM api_health_logs WHERE timestamp >= ? GROUP BY instance ORDER BY instance",
        at,
    )
    errors = await _rows(
        conn,
        "SELECT instance, coalesce(error_type, 'unknown'), status_code, count(*)"
        " FROM api_health_logs WHERE timestamp >= ? AND success = 0"
        " GROUP BY 1, 2, 3 ORDER BY 1, 4 DESC, 2, 3",
        at,
    )
    return [ApiCallCount(r[0], None, None, r[1], r[2]) for r in totals] + [
        ApiCallCount(r[0], r[1], r[2], r[3], r[3]) for r in errors
    ]
