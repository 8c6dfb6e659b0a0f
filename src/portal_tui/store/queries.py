"""Read queries: each takes a connection inside the store's read transaction."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import aiosqlite

from portal_tui.fetch.events import ApiCallRecord
from portal_tui.store import rollup_reads
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
from portal_tui.store.rows import Row, rows, scalar
from portal_tui.store.schema import HEALTH_VIEW_COLUMNS


def _names(text: str) -> tuple[str, ...]:
    return tuple(n for n in text.split(", ") if n)


async def health_summary(conn: aiosqlite.Connection) -> HealthSummary:
    """The single row of ``dashboard_health_summary``."""
    columns = ", ".join(HEALTH_VIEW_COLUMNS)
    (row,) = await rows(conn, f"SELECT {columns} FROM dashboard_health_summary")
    return HealthSummary(
        score=int(row["score"]),
        reason=str(row["reason"]),
        error_dashboards=int(row["error_dashboards"]),
        failed_calls_5m=int(row["failed_calls_5m"]),
        critical_errors_1h=int(row["critical_errors_1h"]),
        stale_dashboards=int(row["stale_dashboards"]),
        error_dashboard_names=_names(row["error_dashboard_names"]),
        stale_dashboard_names=_names(row["stale_dashboard_names"]),
        computed_at=from_epoch(row["computed_at"]),
    )


async def failed_calls_since(conn: aiosqlite.Connection, since: datetime) -> int:
    """Failed attempts logged at or after ``since``."""
    failed = await scalar(
        conn,
        "SELECT count(*) FROM api_health_logs WHERE success = 0 AND timestamp >= ?",
        (to_epoch(since),),
    )
    rolled = await rollup_reads.instance_counts(conn, to_epoch(since))
    return int(failed) + sum(c.failed for c in rolled.values())


_VALIDATION_COLUMNS = """
    id, source_dashboard, workspace, error_type, field_name, expected, actual, message,
    severity, occurrences, first_occurrence, last_occurrence, resolved, resolved_at
"""


def _validation_row(row: Row) -> ValidationErrorRow:
    resolved_at = row["resolved_at"]
    return ValidationErrorRow(
        id=row["id"],
        dashboard=row["source_dashboard"],
        workspace=row["workspace"],
        error_type=row["error_type"],
        field_name=row["field_name"],
        expected=row["expected"],
        actual=row["actual"],
        message=row["message"],
        severity=row["severity"],
        occurrences=row["occurrences"],
        first_occurrence=from_epoch(row["first_occurrence"]),
        last_occurrence=from_epoch(row["last_occurrence"]),
        resolved=bool(row["resolved"]),
        resolved_at=None if resolved_at is None else from_epoch(resolved_at),
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
    return [_validation_row(r) for r in await rows(conn, sql, params)]


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
            instance=r["instance"],
            endpoint=r["endpoint"],
            method=r["method"],
            workspace=r["workspace"],
            status_code=r["status_code"],
            response_time_ms=r["response_time_ms"],
            success=bool(r["success"]),
            error_type=r["error_type"],
            error_message=r["error_message"],
            attempt=r["attempt"],
            triggered_by=r["triggered_by"],
            timestamp=from_epoch(r["timestamp"]),
        )
        for r in await rows(conn, sql, [*params, max(0, limit)])
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
            instance=r["instance"],
            workspace=r["workspace"],
            dashboard=r["dashboard"],
            from_state=r["from_state"],
            to_state=r["to_state"],
            reason=r["reason"],
            at=from_epoch(r["at"]),
        )
        for r in await rows(conn, sql, params)
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
            cache_key=r["cache_key"],
            dashboard=r["dashboard"],
            last_updated=None if r["last_updated"] is None else from_epoch(r["last_updated"]),
            last_fetch_duration_ms=r["last_fetch_duration_ms"],
            record_count=r["record_count"],
            data_size_bytes=r["data_size_bytes"],
            status=r["status"],
            error_message=r["error_message"],
            ttl_seconds=r["ttl_seconds"],
            version=r["version"],
        )
        for r in await rows(conn, sql)
    ]


async def snapshots(conn: aiosqlite.Connection) -> list[SnapshotRecord]:
    """Every stored snapshot (integrity not yet checked)."""
    sql = """
        SELECT dashboard, payload, fetched_at, refreshed_at, row_count, checksum, schema_version
        FROM dashboard_snapshots ORDER BY dashboard
    """
    return [
        SnapshotRecord(
            dashboard=r["dashboard"],
            payload=r["payload"],
            fetched_at=from_epoch(r["fetched_at"]),
            refreshed_at=from_epoch(r["refreshed_at"]),
            row_count=r["row_count"],
            checksum=r["checksum"],
            schema_version=r["schema_version"],
        )
        for r in await rows(conn, sql)
    ]


async def recent_cycles(conn: aiosqlite.Connection, *, limit: int) -> list[CycleSummary]:
    """The newest committed cycles first."""
    sql = """
        SELECT id, triggered_by, started_at, finished_at, dashboards, requests, failures
        FROM refresh_cycles ORDER BY finished_at DESC, id DESC LIMIT ?
    """
    return [
        CycleSummary(
            id=r["id"],
            triggered_by=r["triggered_by"],
            started_at=from_epoch(r["started_at"]),
            finished_at=from_epoch(r["finished_at"]),
            dashboards=tuple(json.loads(r["dashboards"])),
            requests=r["requests"],
            failures=r["failures"],
        )
        for r in await rows(conn, sql, (max(0, limit),))
    ]


async def api_call_counts(conn: aiosqlite.Connection, *, since: datetime) -> list[ApiCallCount]:
    """Attempts per instance, then failed attempts per ``(instance, error_type, status)``.

    Raw attempts and rolled-up ones together (:mod:`portal_tui.store.rollup_reads`).
    """
    at = (to_epoch(since),)
    totals = await rows(
        conn,
        "SELECT instance, count(*) AS attempts, count(*) - coalesce(sum(success), 0) AS failed"
        " FROM api_health_logs WHERE timestamp >= ? GROUP BY instance",
        at,
    )
    errors = await rows(
        conn,
        "SELECT instance, coalesce(error_type, 'unknown') AS kind, status_code,"
        " count(*) AS failed FROM api_health_logs WHERE timestamp >= ? AND success = 0"
        " GROUP BY instance, kind, status_code",
        at,
    )
    attempts: dict[str, list[int]] = {r["instance"]: [r["attempts"], r["failed"]] for r in totals}
    failed: dict[tuple[str, str, int | None], int] = {
        (r["instance"], r["kind"], r["status_code"]): r["failed"] for r in errors
    }
    for instance, counts in (await rollup_reads.instance_counts(conn, at[0])).items():
        both = attempts.setdefault(instance, [0, 0])
        both[0] += counts.calls
        both[1] += counts.failed
        for (kind, code), n in counts.errors.items():
            failed[(instance, kind, code)] = failed.get((instance, kind, code), 0) + n
    per_instance = [
        ApiCallCount(inst, None, None, n, bad) for inst, (n, bad) in sorted(attempts.items())
    ]
    # As SQL would order them: instance, most failed first, kind, status (NULL first).
    ordered = sorted(
        failed.items(),
        key=lambda kv: (kv[0][0], -kv[1], kv[0][1], kv[0][2] is not None, kv[0][2] or 0),
    )
    per_error = [
        ApiCallCount(instance, kind, code, n, n) for (instance, kind, code), n in ordered
    ]
    return per_instance + per_error
