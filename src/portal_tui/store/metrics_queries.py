"""Aggregates for ``portal-tui metrics``: response times per instance, bucketed in SQL.

The exporter reads the records alone (SPEC section 5); this is the one read
it needs that the other faces do not: a histogram of logged attempts'
response times over a window, counted by SQLite so no row leaves the file.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import aiosqlite

from portal_tui.store import rollup_reads
from portal_tui.store.records import to_epoch
from portal_tui.store.rollup import RAW_MICROS
from portal_tui.store.rows import rows


@dataclass(frozen=True, slots=True)
class ResponseTimes:
    """Logged attempts of one instance in a window: count, total and cumulative buckets."""

    instance: str
    count: int
    sum_ms: float
    cumulative: tuple[int, ...]
    """Attempts at or under each bound (the bounds asked for, in order)."""


async def response_times(
    conn: aiosqlite.Connection, *, since: datetime, bounds_ms: Sequence[float]
) -> list[ResponseTimes]:
    """Per instance, attempts logged at or after ``since`` at or under each bound (ms).

    Raw and rolled-up attempts together; the sum is taken in whole microseconds.
    """
    bounds = tuple(bounds_ms)
    buckets = "".join(
        f", coalesce(sum(response_time_ms <= ?), 0) AS b{i}" for i in range(len(bounds))
    )
    at = to_epoch(since)
    found = await rows(
        conn,
        f"SELECT instance, count(*) AS n, coalesce(sum({RAW_MICROS}), 0) AS total_us"
        f"{buckets} FROM api_health_logs WHERE timestamp >= ? GROUP BY instance",
        (*bounds, at),
    )
    merged = {
        str(r["instance"]): rollup_reads.InstanceTimes(
            int(r["n"]), int(r["total_us"]), [int(r[f"b{i}"]) for i in range(len(bounds))]
        )
        for r in found
    }
    rolled = await rollup_reads.instance_times(conn, at, bounds_ms=bounds)
    for instance, times in rolled.items():
        into = merged.setdefault(instance, rollup_reads.InstanceTimes(0, 0, [0] * len(bounds)))
        into.count += times.count
        into.total_us += times.total_us
        into.cumulative = [a + b for a, b in zip(into.cumulative, times.cumulative, strict=False)]
    return [
        ResponseTimes(
            instance=instance,
            count=t.count,
            sum_ms=t.total_us / 1000,
            cumulative=tuple(t.cumulative),
        )
        for instance, t in sorted(merged.items())
        if t.count
    ]
