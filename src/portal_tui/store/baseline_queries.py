"""Reads for the rules that compare across cycles: their baselines, and response times.

Results are read by column name (``_named``: the same contract as the store's
shared row reader), never by position.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import aiosqlite

from portal_tui.store import consistency_queries, rollup_reads
from portal_tui.store.consistency_records import BaselineRecord, ConsistencyState, ResponseTimes
from portal_tui.store.records import from_epoch, to_epoch
from portal_tui.store.rollup import RAW_MICROS


async def _named(
    conn: aiosqlite.Connection, sql: str, params: Sequence[Any] = ()
) -> list[dict[str, Any]]:
    """Every row as ``{column: value}`` (the statement runs to its end)."""
    cursor = await conn.execute(sql, params)
    found = list(await cursor.fetchall())
    names = [str(column[0]) for column in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in found]


async def consistency_state(conn: aiosqlite.Connection) -> ConsistencyState:
    """Open findings, checksums, known fields and baselines, in one read transaction."""
    state = await consistency_queries.consistency_state(conn)
    return dataclasses.replace(state, baselines=await baselines(conn))


async def baselines(conn: aiosqlite.Connection) -> list[BaselineRecord]:
    """Every rule's baselines; a damaged one is skipped (the next cycle writes a new one)."""
    sql = (
        "SELECT rule, subject, value, recorded_at FROM consistency_baselines ORDER BY rule, subject"
    )
    found: list[BaselineRecord] = []
    for row in await _named(conn, sql):
        try:
            value = json.loads(row["value"])
        except ValueError:
            continue
        if isinstance(value, dict):
            found.append(
                BaselineRecord(row["rule"], row["subject"], value, from_epoch(row["recorded_at"]))
            )
    return found


async def response_times_since(
    conn: aiosqlite.Connection, *, since: datetime
) -> list[ResponseTimes]:
    """Per instance: attempts logged at or after ``since`` and their summed response time.

    Attempts refused by an open breaker are left out: no request was made. Raw
    and rolled-up attempts together, summed in whole microseconds.
    """
    sql = f"""
        SELECT instance, count(*) AS attempts, coalesce(sum({RAW_MICROS}), 0) AS total_us
        FROM api_health_logs
        WHERE timestamp >= ? AND (error_type IS NULL OR error_type != 'breaker_open')
        GROUP BY instance
    """
    at = to_epoch(since)
    found = {
        row["instance"]: [int(row["attempts"]), int(row["total_us"])]
        for row in await _named(conn, sql, (at,))
    }
    rolled = await rollup_reads.instance_times(conn, at, skip_kind="breaker_open")
    for instance, times in rolled.items():
        both = found.setdefault(instance, [0, 0])
        both[0] += times.count
        both[1] += times.total_us
    return [
        ResponseTimes(instance, n, total / 1000)
        for instance, (n, total) in sorted(found.items())
        if n
    ]
