"""Reading windows across raw attempts and roll-up buckets (issue 20).

Every query here runs inside the caller's read transaction, so one WAL
snapshot holds each attempt exactly once: raw, or in its bucket. A bucket
wholly inside the window is counted from its totals; the bucket the window
starts in is unpacked and its attempts filtered by time, as the raw rows are.
Sums of response times are taken in whole microseconds (exact), so a total
does not depend on which attempts were rolled up yet.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any

import aiosqlite

from portal_tui.store import rollup_codec
from portal_tui.store.rollup import HOUR, micros
from portal_tui.store.rollup_codec import Attempt

_CHUNK = 500  # buckets per fetch


@dataclass(frozen=True, slots=True)
class Bucket:
    """One roll-up row, as read for a window starting at ``since_us``."""

    hour: int
    instance: str
    workspace: str | None
    calls: int
    failures: int
    total_us: int
    max_us: int
    attempts: bytes
    failed: str
    last_error: str | None
    since_us: int

    @property
    def whole(self) -> bool:
        """Whether every attempt of the bucket is inside the window."""
        return self.hour * 1_000_000 >= self.since_us

    def unpack(self) -> list[Attempt]:
        """The bucket's attempts inside the window, in order."""
        found = rollup_codec.unpack(
            self.hour * 1_000_000, self.calls, self.attempts, self.failed, self.last_error
        )
        return found if self.whole else [a for a in found if a.at_us >= self.since_us]

    def failures_in_window(self) -> Iterator[tuple[str | None, int | None]]:
        """``(error_type, status_code)`` of each failed attempt inside the window."""
        if self.failures == 0:
            return iter(())
        if self.whole:
            return ((kind, code) for _, kind, code in json.loads(self.failed))
        return (a.failure for a in self.unpack() if a.failure is not None)


async def buckets(
    conn: aiosqlite.Connection,
    since: float,
    *,
    instance: str | None = None,
    workspace: str | None = None,
) -> AsyncIterator[Bucket]:
    """Buckets holding attempts at or after ``since``, oldest hour first."""
    since_us = micros(since)
    where = ["hour >= ?"]
    params: list[Any] = [since_us // 1_000_000 // HOUR * HOUR]
    if instance is not None:
        where.append("instance = ?")
        params.append(instance)
    if workspace is not None:
        where.append("workspace = ?")
        params.append(workspace)
    sql = (
        "SELECT hour, instance, workspace, calls, failures, total_us, max_us, attempts, failed,"
        f" last_error FROM api_call_rollups WHERE {' AND '.join(where)}"
        " ORDER BY hour, instance, workspace"
    )
    async with conn.execute(sql, params) as cursor:
        while chunk := await cursor.fetchmany(_CHUNK):
            for row in chunk:
                hour, inst, ws, calls, failures, total, top, blob, failed, last = tuple(row)
                yield Bucket(
                    hour, inst, ws, calls, failures, total, top, blob, failed, last, since_us
                )


def in_window(bucket: Bucket) -> tuple[int, int, int]:
    """``(calls, failures, total_us)`` of a bucket inside its window."""
    if bucket.whole:
        return bucket.calls, bucket.failures, bucket.total_us
    inside = bucket.unpack()
    failed = sum(1 for a in inside if a.failure is not None)
    return len(inside), failed, sum(a.response_us for a in inside)


@dataclass(slots=True)
class InstanceCounts:
    """One instance's rolled-up attempts in a window: all, failed, failed by kind and status."""

    calls: int = 0
    failed: int = 0
    errors: dict[tuple[str, int | None], int] = field(default_factory=dict)


async def instance_counts(conn: aiosqlite.Connection, since: float) -> dict[str, InstanceCounts]:
    """Per instance, the window's rolled-up attempts (``kind`` is ``'unknown'`` when unset)."""
    found: dict[str, InstanceCounts] = {}
    async for bucket in buckets(conn, since):
        counts = found.setdefault(bucket.instance, InstanceCounts())
        if bucket.whole:
            counts.calls += bucket.calls
        else:
            counts.calls += len(bucket.unpack())
        for kind, code in bucket.failures_in_window():
            counts.failed += 1
            key = (kind or "unknown", code)
            counts.errors[key] = counts.errors.get(key, 0) + 1
    return found


@dataclass(slots=True)
class InstanceTimes:
    """One instance's rolled-up attempts in a window: count, total µs, count at or under bounds."""

    count: int
    total_us: int
    cumulative: list[int]


async def instance_times(
    conn: aiosqlite.Connection,
    since: float,
    *,
    bounds_ms: tuple[float, ...] = (),
    skip_kind: str | None = None,
) -> dict[str, InstanceTimes]:
    """Per instance, the window's rolled-up response times (attempts of ``skip_kind`` left out)."""
    found: dict[str, InstanceTimes] = {}
    for_bounds = bool(bounds_ms)
    async for bucket in buckets(conn, since):
        times = found.setdefault(bucket.instance, InstanceTimes(0, 0, [0] * len(bounds_ms)))
        simple = bucket.whole and not for_bounds and (skip_kind is None or not bucket.failures)
        if simple:
            times.count += bucket.calls
            times.total_us += bucket.total_us
            continue
        for a in bucket.unpack():
            if skip_kind is not None and a.failure is not None and a.failure[0] == skip_kind:
                continue
            times.count += 1
            times.total_us += a.response_us
            if for_bounds:
                ms = a.response_us / 1000
                for i, bound in enumerate(bounds_ms):
                    if ms <= bound:
                        times.cumulative[i] += 1
    return found
