"""Rows are read by column name: a SELECT listing its columns in another order maps the same.

Every read query of the store is run twice on one records file: on the
connection as it is, and through :class:`ReversedColumns`, which hands every
result back with its columns in reverse order (what each SELECT would return
if its column list were written the other way round). A query that read a
row by position would put values in the wrong fields, or fail, on the second
run; so would a read that bypassed :mod:`portal_tui.store.rows` (the proxy
offers nothing but ``execute``).
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Generator, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

import aiosqlite
import pytest

from portal_tui.fetch.events import ApiCallRecord
from portal_tui.store import (
    CacheMetadataRecord,
    ChecksumRecord,
    ConsistencyRecord,
    CycleRecord,
    FieldRecord,
    FindingRecord,
    SnapshotRecord,
    StateTransition,
    Store,
    connection,
    consistency_queries,
    dashboard_cache_key,
    history,
    queries,
    retention,
)
from portal_tui.store.rows import column_names, in_order, rows, scalar
from portal_tui.vocabulary.clock import FakeClock
from portal_tui.vocabulary.errors import ErrorType
from portal_tui.vocabulary.names import DashboardName, Severity
from portal_tui.vocabulary.validation import ValidationErrorType, ValidationIssue


class _ReversedCursor:
    def __init__(self, cursor: aiosqlite.Cursor) -> None:
        self._cursor = cursor

    @property
    def description(self) -> tuple[Any, ...]:
        return tuple(reversed(self._cursor.description))

    async def fetchall(self) -> list[tuple[Any, ...]]:
        return [tuple(reversed(row)) for row in await self._cursor.fetchall()]

    async def fetchmany(self, size: int) -> list[tuple[Any, ...]]:
        return [tuple(reversed(row)) for row in await self._cursor.fetchmany(size)]


class _Executing:
    """Like aiosqlite's: awaited, the cursor; entered, the cursor closed on leaving."""

    def __init__(self, started: Awaitable[aiosqlite.Cursor]) -> None:
        self._started = started
        self._cursor: aiosqlite.Cursor | None = None

    def __await__(self) -> Generator[Any, None, _ReversedCursor]:
        return self._open().__await__()

    async def _open(self) -> _ReversedCursor:
        self._cursor = await self._started
        return _ReversedCursor(self._cursor)

    async def __aenter__(self) -> _ReversedCursor:
        return await self._open()

    async def __aexit__(self, *exc: object) -> None:
        assert self._cursor is not None
        await self._cursor.close()


class ReversedColumns:
    """A connection whose every result comes back with its columns in reverse order."""

    def __init__(self, conn: aiosqlite.Connection) -> None:
        self._conn = conn

    def execute(self, sql: str, params: Sequence[Any] = ()) -> _Executing:
        return _Executing(self._conn.execute(sql, params))


def _call(
    workspace: str | None, at: datetime, *, ms: float, error: ErrorType | None = None
) -> ApiCallRecord:
    return ApiCallRecord(
        instance="send",
        endpoint="/workspaces/v1.1/stats",
        method="GET",
        workspace=workspace,
        status_code=200 if error is None else 503,
        response_time_ms=ms,
        success=error is None,
        error_type=error,
        error_message=None if error is None else "service unavailable",
        attempt=1 if error is None else 2,
        triggered_by="auto",
        timestamp=at,
    )


def _issue(workspace: str) -> ValidationIssue:
    return ValidationIssue(
        DashboardName.KPI,
        workspace,
        ValidationErrorType.INVALID_TYPE,
        "data.interested",
        "integer",
        "'x'",
        "data.interested: Input should be a valid integer",
        Severity.CRITICAL,
    )


def _finding(subject: str) -> FindingRecord:
    return FindingRecord("sender-email-unique", "error", "infrastructure", subject, "in 2 places")


COVERED = frozenset({("sender-email-unique", "infrastructure")})


@pytest.fixture
async def records(tmp_path: Path) -> tuple[Path, datetime]:
    """A file with a row in every table the reads look at, open and resolved alike."""
    # The health view counts against SQLite's real now, so the records are recent.
    now = datetime.now(UTC).replace(microsecond=0)
    first, second = now - timedelta(minutes=10), now - timedelta(minutes=2)
    path = tmp_path / "records.sqlite3"
    async with await Store.open(path, clock=FakeClock(now)) as store:
        await store.record_cycle(
            CycleRecord(
                "auto",
                first - timedelta(seconds=3),
                first,
                dashboards=["kpi", "revenue"],
                api_calls=[
                    _call("Acme", first, ms=120.0),
                    _call("Acme", first, ms=480.0, error=ErrorType.SERVER_5XX),
                    _call(None, first, ms=35.5),
                ],
                validation_issues=[_issue("Acme"), _issue("Beta")],
                validated={("kpi", "Acme"), ("kpi", "Beta")},
                cache_metadata=[
                    CacheMetadataRecord(
                        dashboard_cache_key("kpi"), "kpi", first, 812.5, 27, 4096, "ok", None, 120.0
                    ),
                    CacheMetadataRecord(
                        "send/12/stats", None, None, 5.0, 0, 0, "error", "boom", None, 3
                    ),
                ],
                snapshots=[
                    SnapshotRecord.build(
                        "kpi",
                        json.dumps({"rows": [{"leads": 3}]}),
                        fetched_at=first - timedelta(seconds=1),
                        refreshed_at=first,
                        row_count=1,
                    )
                ],
                transitions=[
                    StateTransition("send", "Acme", None, None, "ok", "first seen", first),
                    StateTransition("send", "Acme", "kpi", "ok", "failing", "5xx twice", first),
                ],
                consistency=ConsistencyRecord(
                    findings=[_finding("a@x"), _finding("b@x")],
                    covered=COVERED,
                    checksums=[ChecksumRecord("kpi", "a" * 64, "f" * 64, first, first, 3)],
                    fields=[FieldRecord("stats", "interested", first - timedelta(hours=1), first)],
                ),
            )
        )
        # Acme validated clean and b@x no longer seen: both resolved.
        await store.record_cycle(
            CycleRecord(
                "manual",
                second,
                second,
                dashboards=["kpi"],
                api_calls=[_call("Beta", second, ms=90.0)],
                validation_issues=[_issue("Beta")],
                validated={("kpi", "Acme"), ("kpi", "Beta")},
                consistency=ConsistencyRecord(findings=[_finding("a@x")], covered=COVERED),
            )
        )
        assert await store.prune_if_due(now) is not None  # a store_maintenance row
    return path, now


Query = Callable[[Any], Awaitable[Any]]


def every_read(path: Path, now: datetime) -> dict[str, Query]:
    since = now - timedelta(hours=1)
    return {
        "health_summary": queries.health_summary,
        "failed_calls_since": lambda c: queries.failed_calls_since(c, since),
        "open validation_errors": lambda c: queries.validation_errors(
            c, dashboard=None, workspace=None, resolved=False
        ),
        "resolved validation_errors": lambda c: queries.validation_errors(
            c, dashboard="kpi", workspace="Acme", resolved=True
        ),
        "recent_api_calls": lambda c: queries.recent_api_calls(
            c, since=None, limit=50, instance=None, workspace=None, failures_only=False
        ),
        "state_transitions": lambda c: queries.state_transitions(c, since=since, workspace=None),
        "cache_metadata": queries.cache_metadata,
        "snapshots": queries.snapshots,
        "recent_cycles": lambda c: queries.recent_cycles(c, limit=10),
        "api_call_counts": lambda c: queries.api_call_counts(c, since=since),
        "open_findings": consistency_queries.open_findings,
        "findings_since": lambda c: consistency_queries.findings_since(c, since=since),
        "consistency_state": consistency_queries.consistency_state,
        "workspace_history": lambda c: history.workspace_history(
            c, since=since, instance=None, workspace=None, recent=30
        ),
        "pruning due (not yet)": lambda c: retention.due(
            c, now=now.timestamp(), interval=retention.PRUNE_INTERVAL
        ),
        "pruning due (an interval later)": lambda c: retention.due(
            c, now=now.timestamp() + retention.PRUNE_INTERVAL, interval=retention.PRUNE_INTERVAL
        ),
        "inspect": lambda c: connection.inspect(c, path),
    }


async def test_every_read_maps_the_same_whatever_the_column_order(
    records: tuple[Path, datetime],
) -> None:
    path, now = records
    async with aiosqlite.connect(path) as conn:
        for name, query in every_read(path, now).items():
            straight = await query(conn)
            reversed_ = await query(cast(aiosqlite.Connection, ReversedColumns(conn)))
            if name == "health_summary":  # computed_at is SQLite's now at each read
                reversed_ = replace(reversed_, computed_at=straight.computed_at)
            assert reversed_ == straight, name

        # The reads found something to map: every kind of row, optional fields set and not.
        found = {name: await query(conn) for name, query in every_read(path, now).items()}
    health = found["health_summary"]
    assert (health.score, health.critical_errors_1h) == (60, 1), health
    assert found["failed_calls_since"] == 1
    assert [e.workspace for e in found["open validation_errors"]] == ["Beta"]
    (done,) = found["resolved validation_errors"]
    assert done.resolved and done.resolved_at == now - timedelta(minutes=2)
    calls = found["recent_api_calls"]
    assert len(calls) == 4 and {c.workspace for c in calls} == {"Acme", "Beta", None}
    assert {(c.success, c.status_code, c.attempt) for c in calls} == {
        (True, 200, 1),
        (False, 503, 2),
    }
    assert [t.from_state for t in found["state_transitions"]] == [None, "ok"]
    assert [m.last_updated is None for m in found["cache_metadata"]] == [False, True]
    (snapshot,) = found["snapshots"]
    assert snapshot.intact and snapshot.fetched_at < snapshot.refreshed_at
    assert [c.triggered_by for c in found["recent_cycles"]] == ["manual", "auto"]
    assert [(c.error_type, c.attempts) for c in found["api_call_counts"]] == [
        (None, 4),
        ("5xx", 1),
    ]
    assert [f.subject for f in found["open_findings"]] == ["a@x"]
    assert {f.subject: f.resolved_at is not None for f in found["findings_since"]} == {
        "a@x": False,
        "b@x": True,
    }
    state = found["consistency_state"]
    assert state.checksums[0].unchanged_refreshes == 3 and state.fields[0].field == "interested"
    by_workspace = {h.workspace: h for h in found["workspace_history"]}
    assert by_workspace["Acme"].calls == 2 and by_workspace["Acme"].max_ms == 480.0
    assert by_workspace["Acme"].last_error == "5xx 503: service unavailable"
    assert by_workspace["Acme"].recent_ms == (120.0, 480.0)
    assert found["pruning due (not yet)"] is False
    assert found["pruning due (an interval later)"] is True
    assert found["inspect"] == []


async def test_rows_scalar_and_in_order() -> None:
    async with aiosqlite.connect(":memory:") as conn:
        await conn.execute("CREATE TABLE t (a INTEGER, b TEXT)")
        await conn.executemany("INSERT INTO t VALUES (?, ?)", [(1, "x"), (2, "y")])
        assert await rows(conn, "SELECT b, a FROM t ORDER BY a") == [
            {"b": "x", "a": 1},
            {"b": "y", "a": 2},
        ]
        assert await scalar(conn, "SELECT count(*) FROM t WHERE a > ?", (1,)) == 1
        assert await scalar(conn, "SELECT a FROM t WHERE a > 5") is None

        # Two columns of one name: the second would hide the first.
        with pytest.raises(ValueError, match="named twice: a"):
            await rows(conn, "SELECT a, b AS a FROM t")
        with pytest.raises(ValueError, match="one column"):
            await scalar(conn, "SELECT a, b FROM t")

        async with conn.execute("SELECT b, a FROM t ORDER BY a") as cursor:
            description = cursor.description
            fetched = list(await cursor.fetchall())
    assert column_names(description) == ("b", "a")
    as_listed = in_order(description, ("b", "a"))
    assert as_listed(fetched) is fetched  # already in that order: passed through untouched
    assert list(in_order(description, ("a", "b"))(fetched)) == [(1, "x"), (2, "y")]
    assert list(in_order(description, ("a",))(fetched)) == [(1,), (2,)]
    with pytest.raises(ValueError, match="no column c"):
        in_order(description, ("a", "c"))
