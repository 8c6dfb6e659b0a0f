"""Writing one refresh cycle: every row prepared first, then inserted in one transaction.

Rows are built (redacted, converted, checked) BEFORE the transaction opens,
so the write lock is held only for the ``executemany`` calls themselves;
two consoles and a cron check share the file.

Concurrent writers are reconciled by time, not by commit order: a cache
entry's ``last_updated`` never goes backwards, an older cycle never replaces
a newer snapshot, and an issue's ``last_occurrence`` only moves forward.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

import aiosqlite

from portal_tui.store.consistency_writer import ConsistencyRows, insert_consistency
from portal_tui.store.outbox import enqueue_transitions
from portal_tui.store.records import (
    CycleRecord,
    Hysteresis,
    WorkspaceObservation,
    snapshot_checksum,
    to_epoch,
)
from portal_tui.store.standing import WorkspaceTransition, apply_observations

Row = tuple[object, ...]

_INSERT_CYCLE = """
INSERT INTO refresh_cycles (triggered_by, started_at, finished_at, dashboards, requests, failures,
    failed_requests, unreachable)
VALUES (?, ?, ?, ?, ?, ?, ?, ?)
"""

_INSERT_CALL = """
INSERT INTO api_health_logs (cycle_id, instance, endpoint, method, workspace, status_code,
    response_time_ms, success, error_type, error_message, attempt, triggered_by, timestamp)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
"""

# A repeat of an open issue bumps it; the conflict target names the partial
# unique index, so resolved rows (history) never absorb a new occurrence.
_UPSERT_ISSUE = """
INSERT INTO data_validation_errors (source_dashboard, workspace, error_type, field_name,
    expected, actual, message, severity, occurrences, first_occurrence, last_occurrence)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, 1, ?, ?)
ON CONFLICT (source_dashboard, workspace, field_name, error_type) WHERE resolved = 0
DO UPDATE SET
    occurrences = occurrences + 1,
    last_occurrence = max(last_occurrence, excluded.last_occurrence),
    expected = excluded.expected,
    actual = excluded.actual,
    message = excluded.message,
    severity = excluded.severity
"""

# Issues seen this cycle now have last_occurrence >= the cycle's time, so
# "older than this cycle" means "not seen this time". A newer observation by
# another console is therefore never resolved by an older cycle.
_RESOLVE_ABSENT = """
UPDATE data_validation_errors SET resolved = 1, resolved_at = ?1
WHERE resolved = 0 AND source_dashboard = ?2 AND workspace = ?3 AND last_occurrence < ?1
"""

_UPSERT_CACHE = """
INSERT INTO data_cache_metadata (cache_key, dashboard, last_updated, last_fetch_duration_ms,
    record_count, data_size_bytes, status, error_message, ttl_seconds, version, updated_at)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (cache_key) DO UPDATE SET
    dashboard = excluded.dashboard,
    last_updated = CASE
        WHEN excluded.last_updated IS NULL THEN last_updated
        WHEN last_updated IS NULL THEN excluded.last_updated
        ELSE max(last_updated, excluded.last_updated) END,
    last_fetch_duration_ms = excluded.last_fetch_duration_ms,
    record_count = excluded.record_count,
    data_size_bytes = excluded.data_size_bytes,
    status = excluded.status,
    error_message = excluded.error_message,
    ttl_seconds = excluded.ttl_seconds,
    version = excluded.version,
    updated_at = excluded.updated_at
WHERE excluded.updated_at >= data_cache_metadata.updated_at
"""

_UPSERT_SNAPSHOT = """
INSERT INTO dashboard_snapshots (dashboard, payload, fetched_at, refreshed_at, row_count,
    checksum, schema_version)
VALUES (?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (dashboard) DO UPDATE SET
    payload = excluded.payload,
    fetched_at = excluded.fetched_at,
    refreshed_at = excluded.refreshed_at,
    row_count = excluded.row_count,
    checksum = excluded.checksum,
    schema_version = excluded.schema_version
WHERE excluded.fetched_at >= dashboard_snapshots.fetched_at
"""

_INSERT_TRANSITION = """
INSERT INTO workspace_state_transitions (instance, workspace, dashboard, from_state, to_state,
    reason, at)
VALUES (?, ?, ?, ?, ?, ?, ?)
"""


def to_microsecond(ms: float) -> float:
    """A response time in ms, to the microsecond (what a roll-up keeps exactly; issue 20)."""
    value = max(0.0, float(ms))
    return round(value * 1000) / 1000 if math.isfinite(value) else value


@dataclass(frozen=True, slots=True)
class CycleRows:
    """A cycle converted to SQL parameters; api call rows lack their cycle id."""

    cycle: Row
    calls: Sequence[Row]
    issues: Sequence[Row]
    resolve: Sequence[Row]
    cache: Sequence[Row]
    snapshots: Sequence[Row]
    transitions: Sequence[Row]
    consistency: ConsistencyRows | None = None
    observations: Sequence[WorkspaceObservation] = ()
    hysteresis: Hysteresis = field(default_factory=Hysteresis)

    @classmethod
    def build(
        cls,
        cycle: CycleRecord,
        redact: Callable[[str], str],
        exact: Callable[[str], str] = str,
    ) -> CycleRows:
        """Convert, redact and check every row (raises ValueError on bad input).

        ``redact`` scrubs free text (and may clip it); ``exact`` only removes
        known secrets, for what must stay whole: names that came from the
        upstream and snapshot JSON.
        """
        started, finished = to_epoch(cycle.started_at), to_epoch(cycle.finished_at)
        if finished < started:
            raise ValueError("a cycle cannot finish before it starts")

        def text(value: str | None) -> str | None:
            return None if value is None else redact(value)

        # Workspace names came from the upstream: each distinct one scrubbed once.
        names: dict[str, str] = {}

        def name(value: str | None) -> str | None:
            if value is None:
                return None
            found = names.get(value)
            if found is None:
                found = names[value] = exact(value)
            return found

        # A cycle repeats a handful of endpoint names thousands of times: redact each once.
        endpoints: dict[str, str] = {}

        def endpoint(value: str) -> str:
            found = endpoints.get(value)
            if found is None:
                found = endpoints[value] = redact(value)
            return found

        calls = [
            (
                c.instance,
                endpoint(c.endpoint),
                c.method.upper(),
                name(c.workspace),
                c.status_code,
                to_microsecond(c.response_time_ms),
                int(c.success),
                None if c.error_type is None else str(c.error_type),
                text(c.error_message),
                max(1, c.attempt),
                str(c.triggered_by),
                to_epoch(c.timestamp),
            )
            for c in cycle.api_calls
        ]
        failures = sum(1 for c in cycle.api_calls if not c.success)
        summary: Row = (
            str(cycle.triggered_by),
            started,
            finished,
            json.dumps([str(d) for d in cycle.dashboards]),
            len(calls),
            failures,
            max(0, cycle.failed_requests),
            ",".join(redact(name) for name in cycle.unreachable),
        )

        # One observation per issue identity per cycle (the last one wins), so
        # ``occurrences`` counts the cycles an issue was seen in.
        latest: dict[tuple[str, str, str, str], Row] = {}
        for issue in cycle.validation_issues:
            dashboard, error_type = str(issue.dashboard), str(issue.error_type)
            workspace, field_name = name(issue.workspace) or "", exact(issue.field_name)
            latest[(dashboard, workspace, field_name, error_type)] = (
                dashboard,
                workspace,
                error_type,
                field_name,
                redact(issue.expected),
                redact(issue.actual),
                redact(issue.message),
                str(issue.severity),
                finished,
                finished,
            )
        pairs = {(str(d), name(w) or "") for d, w in cycle.validated}
        pairs.update((key[0], key[1]) for key in latest)
        resolve: list[Row] = [(finished, d, w) for d, w in sorted(pairs)]

        cache = [
            (
                m.cache_key,
                m.dashboard,
                None if m.last_updated is None else to_epoch(m.last_updated),
                float(m.last_fetch_duration_ms),
                m.record_count,
                m.data_size_bytes,
                str(m.status),
                text(m.error_message),
                m.ttl_seconds,
                m.version,
                finished,
            )
            for m in cycle.cache_metadata
        ]

        snapshots: list[Row] = []
        for s in cycle.snapshots:
            if not s.intact:
                raise ValueError(f"snapshot of {s.dashboard!r}: checksum does not match payload")
            # Whether the payload is JSON is checked by SQLite in the transaction (see
            # insert_cycle): parsing megabytes here would stall the event loop.
            payload, checksum = exact(s.payload), s.checksum
            if payload != s.payload:
                checksum = snapshot_checksum(payload)  # a token was removed
            snapshots.append(
                (
                    s.dashboard,
                    payload,
                    to_epoch(s.fetched_at),
                    to_epoch(s.refreshed_at),
                    s.row_count,
                    checksum,
                    s.schema_version,
                )
            )

        transitions = [
            (
                t.instance,
                name(t.workspace),
                t.dashboard,
                None if t.from_state is None else str(t.from_state),
                str(t.to_state),
                redact(t.reason),
                to_epoch(t.at),
            )
            for t in cycle.transitions
        ]
        consistency = (
            None
            if cycle.consistency is None
            else ConsistencyRows.build(cycle.consistency, finished, redact, exact)
        )
        observations = [
            replace(o, reason=redact(o.reason), workspace=redact(o.workspace))
            for o in cycle.observations
        ]
        return cls(
            summary,
            calls,
            list(latest.values()),
            resolve,
            cache,
            snapshots,
            transitions,
            consistency,
            observations,
            cycle.hysteresis,
        )


async def insert_cycle(
    conn: aiosqlite.Connection, rows: CycleRows
) -> tuple[int, list[WorkspaceTransition]]:
    """Insert a prepared cycle; the caller holds the transaction.

    Returns the cycle id and the standing transitions its observations caused
    (also inserted, in the same transaction).
    """
    cursor = await conn.execute(_INSERT_CYCLE, rows.cycle)
    cycle_id = cursor.lastrowid
    await cursor.close()
    if cycle_id is None:  # pragma: no cover - SQLite always reports the rowid of an INSERT
        raise RuntimeError("SQLite did not report the new refresh cycle id")
    if rows.calls:
        await conn.executemany(_INSERT_CALL, [(cycle_id, *call) for call in rows.calls])
    if rows.issues:
        await conn.executemany(_UPSERT_ISSUE, rows.issues)
    if rows.resolve:
        await conn.executemany(_RESOLVE_ABSENT, rows.resolve)
    if rows.cache:
        await conn.executemany(_UPSERT_CACHE, rows.cache)
    if rows.snapshots:
        await conn.executemany(_UPSERT_SNAPSHOT, rows.snapshots)
    moved = await apply_observations(conn, rows.observations, rows.hysteresis)
    transitions = [*rows.transitions, *(_transition_row(t) for t in moved)]
    if transitions:
        await conn.executemany(_INSERT_TRANSITION, transitions)
    await enqueue_transitions(conn, moved)  # the alerts, committed with their cause
    if rows.consistency is not None:
        await insert_consistency(conn, rows.consistency)
    return cycle_id, moved


def _transition_row(t: WorkspaceTransition) -> Row:
    return (
        t.instance,
        t.workspace,
        ",".join(t.dashboards) or None,
        t.from_state.value,
        t.to_state.value,
        t.reason,
        to_epoch(t.at),
    )
