"""What the health verdict is computed from, read from the records in one snapshot.

Every face (console, ``check``, ``export``, ``history``, ``doctor``,
``metrics``) asks the same question of the same file, so the reads live in
one place: :func:`read_health_records` takes one read transaction (a single
WAL snapshot, so two tables never disagree about which cycles they saw) and
returns plain values; :mod:`portal_tui.engine.verdict` judges them.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

import aiosqlite

from portal_tui.store.outbox import enqueue_health_change
from portal_tui.store.records import DASHBOARD_KEY_PREFIX, from_epoch, to_epoch
from portal_tui.store.rows import rows
from portal_tui.store.standing import Standing, read_standings


@dataclass(frozen=True, slots=True)
class DashboardRecord:
    """A dashboard's last recorded refresh (its ``data_cache_metadata`` row)."""

    name: str
    status: str  # ok | partial | error
    last_updated: datetime | None
    ttl_seconds: float | None
    error_message: str | None


@dataclass(frozen=True, slots=True)
class CycleFailures:
    """What one recorded cycle says about failures: requests that finally failed, and attempts."""

    finished_at: datetime
    failed_requests: int
    failed_attempts: int


@dataclass(frozen=True, slots=True)
class RecordedHealth:
    """The verdict a cycle ended on, as it was recorded with the cycle."""

    at: datetime
    score: int
    level: str
    reasons: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class HealthRecords:
    """Every record the verdict reads, as of one read of the file."""

    dashboards: tuple[DashboardRecord, ...]
    cycles: tuple[CycleFailures, ...]
    """Cycles finished in the look-back window, newest first."""
    critical_errors: tuple[datetime, ...]
    """``last_occurrence`` of each open critical validation error in the window."""
    open_validation_errors: int
    open_findings: Mapping[str, int]
    """Open consistency findings by severity."""
    standings: tuple[Standing, ...]
    """Workspaces FAILING, or with a failed cycle in their current run."""
    last_recorded: RecordedHealth | None
    unreachable: tuple[str, ...] = ()
    """Instances the newest cycle in the window found unreachable."""
    trend: tuple[int, ...] = ()
    """The health score of the last :data:`TREND_CYCLES` recorded cycles, oldest first."""


TREND_CYCLES = 30
"""Recorded cycles a trend line shows."""

LOOKBACK_SECONDS = 3600.0
"""How far back the reads go: the longest window a health rule looks at (critical errors)."""


def _when(value: float | None) -> datetime | None:
    return None if value is None else from_epoch(value)


async def read_health_records(conn: aiosqlite.Connection, now: datetime) -> HealthRecords:
    """Read everything :func:`portal_tui.engine.verdict.judge` needs (in one read transaction)."""
    since = to_epoch(now) - LOOKBACK_SECONDS
    boards = await rows(
        conn,
        "SELECT coalesce(dashboard, substr(cache_key, ?)) AS name, status, last_updated,"
        " ttl_seconds, error_message FROM data_cache_metadata"
        " WHERE cache_key LIKE ? ORDER BY name",
        (len(DASHBOARD_KEY_PREFIX) + 1, DASHBOARD_KEY_PREFIX + "%"),
    )
    cycles = await rows(
        conn,
        "SELECT finished_at, failed_requests, failures, unreachable FROM refresh_cycles"
        " WHERE finished_at >= ? ORDER BY finished_at DESC",
        (since,),
    )
    critical = await rows(
        conn,
        "SELECT last_occurrence FROM data_validation_errors"
        " WHERE resolved = 0 AND severity = 'critical' AND last_occurrence >= ?",
        (since,),
    )
    (open_errors,) = await rows(
        conn, "SELECT count(*) AS n FROM data_validation_errors WHERE resolved = 0"
    )
    findings = await rows(
        conn,
        "SELECT severity, count(*) AS n FROM consistency_findings WHERE resolved = 0"
        " GROUP BY severity",
    )
    last = await rows(
        conn,
        "SELECT finished_at, health_score, health_level, health_reasons FROM refresh_cycles"
        " WHERE health_score IS NOT NULL ORDER BY finished_at DESC LIMIT ?",
        (TREND_CYCLES,),
    )
    standings = [
        s for s in await read_standings(conn) if s.state.value == "failing" or s.failures_in_row > 0
    ]
    newest_unreachable = cycles[0]["unreachable"] if cycles else ""
    return HealthRecords(
        trend=tuple(int(row["health_score"]) for row in reversed(last)),
        unreachable=tuple(n for n in newest_unreachable.split(",") if n),
        dashboards=tuple(
            DashboardRecord(
                name=row["name"],
                status=row["status"],
                last_updated=None
                if row["last_updated"] is None
                else from_epoch(row["last_updated"]),
                ttl_seconds=row["ttl_seconds"],
                error_message=row["error_message"],
            )
            for row in boards
        ),
        cycles=tuple(
            CycleFailures(from_epoch(row["finished_at"]), row["failed_requests"], row["failures"])
            for row in cycles
        ),
        critical_errors=tuple(from_epoch(row["last_occurrence"]) for row in critical),
        open_validation_errors=int(open_errors["n"]),
        open_findings={row["severity"]: int(row["n"]) for row in findings},
        standings=tuple(standings),
        last_recorded=(
            RecordedHealth(
                from_epoch(last[0]["finished_at"]),
                int(last[0]["health_score"]),
                str(last[0]["health_level"]),
                tuple(json.loads(last[0]["health_reasons"] or "[]")),
            )
            if last
            else None
        ),
    )


async def record_health(
    conn: aiosqlite.Connection, cycle_id: int, score: int, level: str, reasons: tuple[str, ...]
) -> None:
    """Keep the verdict a cycle ended on with the cycle (the caller holds the transaction)."""
    await conn.execute(
        "UPDATE refresh_cycles SET health_score = ?, health_level = ?, health_reasons = ?"
        " WHERE id = ?",
        (score, level, json.dumps(list(reasons)), cycle_id),
    )
    await enqueue_health_change(conn, cycle_id, score, level, reasons)


@dataclass(frozen=True, slots=True)
class HealthPoint:
    """One recorded cycle's health, for trends."""

    at: datetime
    score: int
    level: str


async def health_trend(conn: aiosqlite.Connection, since: datetime) -> list[HealthPoint]:
    """The health every cycle since ``since`` ended on, oldest first."""
    found = await rows(
        conn,
        "SELECT finished_at, health_score, health_level FROM refresh_cycles"
        " WHERE finished_at >= ? AND health_score IS NOT NULL ORDER BY finished_at",
        (to_epoch(since),),
    )
    return [
        HealthPoint(from_epoch(r["finished_at"]), int(r["health_score"]), str(r["health_level"]))
        for r in found
    ]
