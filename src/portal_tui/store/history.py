"""Per-workspace API history for the History pane and ``portal-tui history``.

Everything is aggregated inside SQLite (counts, nearest-rank percentiles via
window functions, the newest N response times), so a day of a thousand
workspaces returns a few rows per workspace instead of millions of rows.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import aiosqlite

from portal_tui.store.records import WorkspaceHistory, from_epoch, to_epoch

Key = tuple[str, str | None]


def _filter(since: datetime, instance: str | None, workspace: str | None) -> tuple[str, list[Any]]:
    where: list[str] = ["timestamp >= ?"]
    params: list[Any] = [to_epoch(since)]
    if instance is not None:
        where.append("instance = ?")
        params.append(instance)
    if workspace is not None:
        where.append("workspace = ?")
        params.append(workspace)
    return " AND ".join(where), params


async def _rows(conn: aiosqlite.Connection, sql: str, params: Sequence[Any]) -> list[Any]:
    return list(await conn.execute_fetchall(sql, params))


async def workspace_history(
    conn: aiosqlite.Connection,
    *,
    since: datetime,
    instance: str | None,
    workspace: str | None,
    recent: int,
) -> list[WorkspaceHistory]:
    """One :class:`WorkspaceHistory` per (instance, workspace) with calls since ``since``."""
    where, params = _filter(since, instance, workspace)

    totals = await _rows(
        conn,
        f"""
        SELECT instance, workspace, count(*), sum(success), max(response_time_ms),
               max(timestamp), max(CASE WHEN success = 0 THEN timestamp END)
        FROM api_health_logs WHERE {where}
        GROUP BY instance, workspace
        """,
        params,
    )
    if not totals:
        return []

    errors: dict[Key, dict[str, int]] = defaultdict(dict)
    for inst, ws, kind, n in await _rows(
        conn,
        f"""
        SELECT instance, workspace, coalesce(error_type, 'unknown'), count(*)
        FROM api_health_logs WHERE {where} AND success = 0
        GROUP BY 1, 2, 3
        """,
        params,
    ):
        errors[(inst, ws)][kind] = n

    # Nearest rank: p-th percentile is the value at rank ceil(p * n); integer
    # arithmetic because SQLite's math functions are a compile-time option.
    percentiles: dict[Key, dict[str, float]] = defaultdict(dict)
    for inst, ws, p50, p95 in await _rows(
        conn,
        f"""
        SELECT instance, workspace,
               max(CASE WHEN rn = (n + 1) / 2 THEN response_time_ms END),
               max(CASE WHEN rn = (95 * n + 99) / 100 THEN response_time_ms END)
        FROM (
            SELECT instance, workspace, response_time_ms,
                   row_number() OVER w AS rn, count(*) OVER w AS n
            FROM api_health_logs WHERE {where}
            WINDOW w AS (PARTITION BY instance, workspace ORDER BY response_time_ms
                         ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING)
        )
        GROUP BY instance, workspace
        """,
        params,
    ):
        percentiles[(inst, ws)] = {"p50": p50 or 0.0, "p95": p95 or 0.0}

    recent_ms: dict[Key, list[float]] = defaultdict(list)
    for inst, ws, ms in await _rows(
        conn,
        f"""
        SELECT instance, workspace, response_time_ms FROM (
            SELECT instance, workspace, response_time_ms, timestamp, id,
                   row_number() OVER (PARTITION BY instance, workspace
                                      ORDER BY timestamp DESC, id DESC) AS rn
            FROM api_health_logs WHERE {where}
        ) WHERE rn <= ?
        ORDER BY instance, workspace, timestamp, id
        """,
        [*params, max(0, recent)],
    ):
        recent_ms[(inst, ws)].append(ms)

    last_error: dict[Key, str] = {}
    for inst, ws, kind, code, message in await _rows(
        conn,
        f"""
        SELECT instance, workspace, error_type, status_code, error_message FROM (
            SELECT instance, workspace, error_type, status_code, error_message,
                   row_number() OVER (PARTITION BY instance, workspace
                                      ORDER BY timestamp DESC, id DESC) AS rn
            FROM api_health_logs WHERE {where} AND success = 0
        ) WHERE rn = 1
        """,
        params,
    ):
        label = " ".join(str(p) for p in (kind or "error", code) if p is not None)
        last_error[(inst, ws)] = f"{label}: {message}" if message else label

    result: list[WorkspaceHistory] = []
    for inst, ws, calls, successes, max_ms, last_at, last_fail in totals:
        key = (inst, ws)
        result.append(
            WorkspaceHistory(
                instance=inst,
                workspace=ws,
                calls=calls,
                successes=successes or 0,
                p50_ms=percentiles[key].get("p50", 0.0),
                p95_ms=percentiles[key].get("p95", 0.0),
                max_ms=max_ms or 0.0,
                errors_by_type=dict(errors.get(key, {})),
                last_call_at=from_epoch(last_at),
                last_failure_at=None if last_fail is None else from_epoch(last_fail),
                last_error=last_error.get(key),
                recent_ms=tuple(recent_ms.get(key, ())),
            )
        )
    # Worst first: that is what an engineer opens the History pane for.
    result.sort(key=lambda h: (h.success_rate, -h.p95_ms, h.instance, h.workspace or ""))
    return result
