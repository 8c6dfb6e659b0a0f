"""Roll-ups: raw attempts kept for a short window, then packed per hour (issue 20).

``api_health_logs`` takes ~100 bytes per logged attempt: 27 workspaces at
default refreshes log ~4,900 attempts an hour, 366 MB over 30 days of
retention. Attempts older than the raw window (``raw_hours``, 48 by default)
move into ``api_call_rollups``, one row per (hour, instance, workspace)
holding every attempt packed to ~4 bytes (:mod:`portal_tui.store.rollup_codec`):
the windows the History pane, ``history``, ``export``, ``metrics`` and the
health rules show are answered from raw rows and buckets together with the
same numbers, whatever window they ask for. Only :meth:`Store.recent_api_calls`
(individual attempts: endpoint, method, attempt number) is limited to the raw
window.

Moving is incremental and bounded like pruning: each batch takes the oldest
:data:`ROLLUP_BATCH` raw attempts past the window, merges them into their
buckets and deletes them, in one ``BEGIN IMMEDIATE`` transaction. A process
killed mid-batch leaves the batch undone (never half-moved), and a reader
(one read transaction) sees every attempt exactly once, either raw or in its
bucket. Another process's batch runs after this one commits and selects only
rows still raw, so two processes never move a row twice; a row written late
into an hour already rolled up is merged into that hour's bucket.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial

import aiosqlite

from portal_tui.store import retention, rollup_codec
from portal_tui.store.rollup_codec import Attempt
from portal_tui.store.rows import in_order
from portal_tui.store.transactions import SharedConnection

ROLLUP_TASK = "rollup"
ROLLUP_INTERVAL = 3600.0
"""Seconds between two roll-up runs on one file, across all processes."""
ROLLUP_BATCH = 5000
"""Raw attempts moved per write transaction (about an hour's at 27 workspaces, ~40 ms)."""
MAX_ROWS_PER_RUN = 50_000
"""A run starts no new batch past this many attempts; the rest is a backlog for the next cycle."""
RAW_HOURS = 48.0
"""Default: hours a raw attempt stays in ``api_health_logs`` before it is rolled up."""
HOUR = 3600

_OLDEST = """
SELECT id, instance, workspace, response_time_ms, success, error_type, status_code,
       error_message, timestamp
FROM api_health_logs WHERE timestamp >= ? AND timestamp < ? ORDER BY timestamp, id LIMIT ?
"""
_COLUMNS = (
    "id",
    "instance",
    "workspace",
    "response_time_ms",
    "success",
    "error_type",
    "status_code",
    "error_message",
    "timestamp",
)
_FIND = """
SELECT id, calls, attempts, failed, last_error FROM api_call_rollups
WHERE hour = ? AND instance = ? AND workspace IS ?
"""
_INSERT = """
INSERT INTO api_call_rollups (hour, instance, workspace, calls, failures, total_us, max_us,
    attempts, failed, last_error)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
"""
_UPDATE = """
UPDATE api_call_rollups SET calls = ?, failures = ?, total_us = ?, max_us = ?, attempts = ?,
    failed = ?, last_error = ? WHERE id = ?
"""
_DELETE = "DELETE FROM api_health_logs WHERE id = ?"

Key = tuple[int, str, str | None]


def micros(epoch_seconds: float) -> int:
    """Whole microseconds of a recorded timestamp (they came from datetimes: exact)."""
    return round(epoch_seconds * 1_000_000)


_MAX_US = 1 << 53  # exact as a float, and sums of them fit an SQLite integer


RAW_MICROS = "cast(round(min(response_time_ms, 9007199254740.992) * 1000) AS INTEGER)"
"""SQL: a raw attempt's response time in whole microseconds, as :func:`response_micros`."""


def response_micros(ms: float) -> int:
    """Whole microseconds of a recorded response time (recorded to the microsecond).

    A non-finite time (never measured by a clock) is kept as the largest one a bucket holds.
    """
    return round(ms * 1000) if math.isfinite(ms) else _MAX_US


async def roll_up_batch(
    conn: aiosqlite.Connection, *, cutoff: float, limit: int, expired: float = float("-inf")
) -> int:
    """Inside a write transaction: move up to ``limit`` raw attempts older than ``cutoff``.

    Attempts before ``expired`` (past retention: the next prune deletes them) stay
    as they are. Returns how many moved.
    """
    groups: dict[Key, list[Attempt]] = {}
    ids: list[tuple[int]] = []
    async with conn.execute(_OLDEST, (expired, cutoff, limit)) as cursor:
        arrange = in_order(cursor.description, _COLUMNS)
        for row_id, inst, ws, ms, ok, kind, code, message, at in arrange(await cursor.fetchall()):
            at_us = micros(at)
            hour = at_us // 1_000_000 // HOUR * HOUR
            failure = None if ok else (kind, code)
            groups.setdefault((hour, inst, ws), []).append(
                Attempt(at_us, response_micros(ms), failure, None if ok else message)
            )
            ids.append((row_id,))
    for (hour, inst, ws), attempts in groups.items():
        await _merge_into_bucket(conn, hour, inst, ws, attempts)
    if ids:
        await conn.executemany(_DELETE, ids)
    return len(ids)


async def _merge_into_bucket(
    conn: aiosqlite.Connection, hour: int, inst: str, ws: str | None, new: Sequence[Attempt]
) -> None:
    hour_us = hour * 1_000_000
    async with conn.execute(_FIND, (hour, inst, ws)) as cursor:
        found = await cursor.fetchone()
    if found is None:
        packed = rollup_codec.pack(hour_us, rollup_codec.merge((), new))
        await conn.execute(
            _INSERT,
            (hour, inst, ws, packed.calls, packed.failures, packed.total_us, packed.max_us,
             packed.attempts, packed.failed, packed.last_error),
        )  # fmt: skip
        return
    bucket_id, calls, blob, failed, last_error = found
    existing = rollup_codec.unpack(hour_us, calls, blob, failed, last_error)
    packed = rollup_codec.pack(hour_us, rollup_codec.merge(existing, new))
    await conn.execute(
        _UPDATE,
        (packed.calls, packed.failures, packed.total_us, packed.max_us, packed.attempts,
         packed.failed, packed.last_error, bucket_id),
    )  # fmt: skip


@dataclass(frozen=True, slots=True)
class RollupResult:
    """Attempts moved, and whether every attempt past the raw window is rolled up."""

    rolled: int
    complete: bool


async def roll_up(
    db: SharedConnection,
    *,
    now: float,
    raw_hours: float,
    max_rows: int | None,
    retention_days: float = float("inf"),
) -> RollupResult:
    """Move attempts older than ``raw_hours`` batch by batch, each batch its own transaction.

    Only hours wholly past the raw window move (an attempt stays raw for ``raw_hours``
    to ``raw_hours`` + 1). Attempts already past ``retention_days`` are left for
    pruning to delete.
    """
    # Whole hours only: each bucket is then written once, whole (no merge, no page churn).
    cutoff = (now - raw_hours * HOUR) // HOUR * HOUR
    batch = partial(
        roll_up_batch,
        cutoff=cutoff,
        limit=ROLLUP_BATCH,
        expired=now - retention_days * 86400.0,
    )
    moved = 0
    while True:
        if max_rows is not None and moved >= max_rows:
            return RollupResult(moved, False)
        n = await db.run("rolling up old API attempts", batch)
        moved += n
        if n < ROLLUP_BATCH:
            return RollupResult(moved, True)


async def roll_up_if_due(
    db: SharedConnection, *, now: float, raw_hours: float, retention_days: float
) -> RollupResult | None:
    """Roll up if no process on this file did in the last hour (or one left a backlog).

    Claimed like pruning (:mod:`portal_tui.store.retention`, task ``rollup``):
    of two processes asking at once one runs it. None when not due. Raises
    StoreError; each batch commits whole or not at all.
    """
    due = partial(retention.due, now=now, interval=ROLLUP_INTERVAL, task=ROLLUP_TASK)
    if not await db.run("reading the roll-up schedule", due, mode="read"):
        return None
    claim = partial(retention.claim, now=now, interval=ROLLUP_INTERVAL, task=ROLLUP_TASK)
    if not await db.run("scheduling the roll-up", claim):
        return None  # another process claimed it a moment ago
    result = await roll_up(
        db, now=now, raw_hours=raw_hours, max_rows=MAX_ROWS_PER_RUN, retention_days=retention_days
    )
    if not result.complete:
        backlog = partial(retention.leave_backlog, task=ROLLUP_TASK)
        await db.run("noting a roll-up backlog", backlog)
    return result
