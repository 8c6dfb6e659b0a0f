"""Read queries for consistency findings and the state the rules compare against."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import aiosqlite

from portal_tui.store.consistency_records import (
    ChecksumRecord,
    ConsistencyState,
    FieldRecord,
    FindingRow,
)
from portal_tui.store.records import from_epoch, to_epoch

_COLUMNS = """
    id, rule, severity, scope, subject, message, first_seen, last_seen, occurrences,
    resolved, resolved_at
"""
_ORDER = """
    ORDER BY CASE severity WHEN 'critical' THEN 0 WHEN 'error' THEN 1
             WHEN 'warning' THEN 2 ELSE 3 END, first_seen, id
"""


async def _rows(conn: aiosqlite.Connection, sql: str, params: Sequence[Any] = ()) -> list[Any]:
    return list(await conn.execute_fetchall(sql, params))


def _finding(row: Any) -> FindingRow:
    return FindingRow(
        id=row[0],
        rule=row[1],
        severity=row[2],
        scope=row[3],
        subject=row[4],
        message=row[5],
        first_seen=from_epoch(row[6]),
        last_seen=from_epoch(row[7]),
        occurrences=row[8],
        resolved=bool(row[9]),
        resolved_at=None if row[10] is None else from_epoch(row[10]),
    )


async def open_findings(conn: aiosqlite.Connection) -> list[FindingRow]:
    """Unresolved findings, most severe first, then oldest first."""
    sql = f"SELECT {_COLUMNS} FROM consistency_findings WHERE resolved = 0 {_ORDER}"
    return [_finding(r) for r in await _rows(conn, sql)]


async def findings_since(conn: aiosqlite.Connection, *, since: datetime) -> list[FindingRow]:
    """Findings opened, seen or resolved at or after ``since`` (open or not), oldest first."""
    at = to_epoch(since)
    sql = f"""
        SELECT {_COLUMNS} FROM consistency_findings
        WHERE first_seen >= ?1 OR last_seen >= ?1 OR resolved_at >= ?1
        ORDER BY first_seen, id
    """
    return [_finding(r) for r in await _rows(conn, sql, (at,))]


async def consistency_state(conn: aiosqlite.Connection) -> ConsistencyState:
    """Open findings, checksums and known fields, in one read transaction."""
    checksums = [
        ChecksumRecord(
            dashboard=r[0],
            checksum=r[1],
            source_digest=r[2],
            changed_at=from_epoch(r[3]),
            checked_at=from_epoch(r[4]),
            unchanged_refreshes=r[5],
        )
        for r in await _rows(
            conn,
            "SELECT dashboard, checksum, source_digest, changed_at, checked_at,"
            " unchanged_refreshes FROM dashboard_checksums ORDER BY dashboard",
        )
    ]
    fields = [
        FieldRecord(
            endpoint=r[0], field=r[1], first_seen=from_epoch(r[2]), last_seen=from_epoch(r[3])
        )
        for r in await _rows(
            conn,
            "SELECT endpoint, field, first_seen, last_seen FROM schema_fields"
            " ORDER BY endpoint, field",
        )
    ]
    return ConsistencyState(await open_findings(conn), checksums, fields)


async def schema_version(conn: aiosqlite.Connection) -> int:
    """``PRAGMA user_version``."""
    rows = await _rows(conn, "PRAGMA user_version")
    return int(rows[0][0])
