"""Read queries for consistency findings and the state the rules compare against."""

from __future__ import annotations

from datetime import datetime

import aiosqlite

from portal_tui.store.consistency_records import (
    ChecksumRecord,
    ConsistencyState,
    FieldRecord,
    FindingRow,
)
from portal_tui.store.records import from_epoch, to_epoch
from portal_tui.store.rows import Row, rows

_COLUMNS = """
    id, rule, severity, scope, subject, message, first_seen, last_seen, occurrences,
    resolved, resolved_at
"""
_ORDER = """
    ORDER BY CASE severity WHEN 'critical' THEN 0 WHEN 'error' THEN 1
             WHEN 'warning' THEN 2 ELSE 3 END, first_seen, id
"""


def _finding(row: Row) -> FindingRow:
    resolved_at = row["resolved_at"]
    return FindingRow(
        id=row["id"],
        rule=row["rule"],
        severity=row["severity"],
        scope=row["scope"],
        subject=row["subject"],
        message=row["message"],
        first_seen=from_epoch(row["first_seen"]),
        last_seen=from_epoch(row["last_seen"]),
        occurrences=row["occurrences"],
        resolved=bool(row["resolved"]),
        resolved_at=None if resolved_at is None else from_epoch(resolved_at),
    )


async def open_findings(conn: aiosqlite.Connection) -> list[FindingRow]:
    """Unresolved findings, most severe first, then oldest first."""
    sql = f"SELECT {_COLUMNS} FROM consistency_findings WHERE resolved = 0 {_ORDER}"
    return [_finding(r) for r in await rows(conn, sql)]


async def findings_since(conn: aiosqlite.Connection, *, since: datetime) -> list[FindingRow]:
    """Findings opened, seen or resolved at or after ``since`` (open or not), oldest first."""
    at = to_epoch(since)
    sql = f"""
        SELECT {_COLUMNS} FROM consistency_findings
        WHERE first_seen >= ?1 OR last_seen >= ?1 OR resolved_at >= ?1
        ORDER BY first_seen, id
    """
    return [_finding(r) for r in await rows(conn, sql, (at,))]


async def consistency_state(conn: aiosqlite.Connection) -> ConsistencyState:
    """Open findings, checksums and known fields, in one read transaction."""
    checksums = [
        ChecksumRecord(
            dashboard=r["dashboard"],
            checksum=r["checksum"],
            source_digest=r["source_digest"],
            changed_at=from_epoch(r["changed_at"]),
            checked_at=from_epoch(r["checked_at"]),
            unchanged_refreshes=r["unchanged_refreshes"],
        )
        for r in await rows(
            conn,
            "SELECT dashboard, checksum, source_digest, changed_at, checked_at,"
            " unchanged_refreshes FROM dashboard_checksums ORDER BY dashboard",
        )
    ]
    fields = [
        FieldRecord(
            endpoint=r["endpoint"],
            field=r["field"],
            first_seen=from_epoch(r["first_seen"]),
            last_seen=from_epoch(r["last_seen"]),
        )
        for r in await rows(
            conn,
            "SELECT endpoint, field, first_seen, last_seen FROM schema_fields"
            " ORDER BY endpoint, field",
        )
    ]
    return ConsistencyState(await open_findings(conn), checksums, fields)
