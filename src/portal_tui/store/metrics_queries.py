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

from portal_tui.store.records import to_epoch
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
    """Per instance, attempts logged at or after ``since`` at or under each bound (ms)."""
    buckets = "".join(
        f", coalesce(sum(response_time_ms <= ?), 0) AS b{i}" for i in range(len(bounds_ms))
    )
    found = await rows(
        conn,
        "SELECT instance, count(*) AS n, coalesce(sum(response_time_ms), 0.0) AS total"
        f"{buckets} FROM api_health_logs WHERE timestamp >= ? GROUP BY instance ORDER BY instance",
        (*bounds_ms, to_epoch(since)),
    )
    return [
        ResponseTimes(
            instance=str(r["instance"]),
            count=int(r["n"]),
            sum_ms=float(r["total"]),
            cumulative=tuple(int(r[f"b{i}"]) for i in range(len(bounds_ms))),
        )
        for r in found
    ]
