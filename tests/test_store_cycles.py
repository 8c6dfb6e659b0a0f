"""record_cycle: round trips, atomicity, validation error life cycle, snapshots, history."""

from __future__ import annotations

import asyncio
import contextlib
import json
import sqlite3
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from portal_tui.dashboards.registry import dashboard_names
from portal_tui.fetch.events import ApiCallRecord
from portal_tui.store import (
    CacheMetadataRecord,
    CycleRecord,
    SnapshotRecord,
    StateTransition,
    Store,
    cycle_writer,
    dashboard_cache_key,
)
from portal_tui.store import history as store_history
from portal_tui.vocabulary.clock import FakeClock
from portal_tui.vocabulary.errors import ErrorType, StoreError
from portal_tui.vocabulary.names import DashboardName, Severity
from portal_tui.vocabulary.validation import ValidationErrorType, ValidationIssue

START = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(START)


@pytest.fixture
async def store(tmp_path: Path, clock: FakeClock) -> AsyncIterator[Store]:
    async with await Store.open(tmp_path / "records.sqlite3", clock=clock) as opened:
        yield opened


def call(
    workspace: str | None,
    at: datetime,
    *,
    ms: float = 100.0,
    error: ErrorType | None = None,
    status: int | None = 200,
    message: str | None = None,
    attempt: int = 1,
    instance: str = "send",
) -> ApiCallRecord:
    return ApiCallRecord(
        instance=instance,
        endpoint="/workspaces/v1.1/stats",
        method="get",
        workspace=workspace,
        status_code=status,
        response_time_ms=ms,
        success=error is None,
        error_type=error,
        error_message=message,
        attempt=attempt,
        triggered_by="auto",
        timestamp=at,
    )


def issue(
    workspace: str,
    field: str = "data.interested",
    *,
    severity: Severity = Severity.ERROR,
    actual: str = "'x'",
) -> ValidationIssue:
    return ValidationIssue(
        dashboard=DashboardName.KPI,
        workspace=workspace,
        error_type=ValidationErrorType.INVALID_TYPE,
        field_name=field,
        expected="integer",
        actual=actual,
        message=f"{field}: Input should be a valid integer",
        severity=severity,
    )


def cycle(at: datetime, **parts: Any) -> CycleRecord:
    return CycleRecord(
        triggered_by="auto",
        started_at=at - timedelta(seconds=3),
        finished_at=at,
        dashboards=["kpi"],
        **parts,
    )


def validated(*workspaces: str) -> set[tuple[str, str]]:
    return {("kpi", w) for w in workspaces}


async def open_issues(store: Store) -> list[tuple[str, str, int]]:
    rows = await store.open_validation_errors("kpi")
    return sorted((r.workspace, r.field_name, r.occurrences) for r in rows)


async def test_a_cycle_round_trips(store: Store, clock: FakeClock) -> None:
    now = clock.now()
    snapshot = SnapshotRecord.build(
        "kpi", json.dumps({"rows": [{"leads": 3}]}), fetched_at=now, refreshed_at=now, row_count=1
    )
    meta = CacheMetadataRecord(
        dashboard_cache_key("kpi"), "kpi", now, 812.5, 27, 4096, "ok", None, 120.0
    )
    move = StateTransition("send", "Acme", "kpi", "ok", "failing", "5xx 503 twice", now)
    calls = [
        call("Acme", now, ms=250.0),
        call("Acme", now, error=ErrorType.SERVER_5XX, status=503, message="boom"),
    ]
    cycle_id = await store.record_cycle(
        cycle(now, api_calls=calls, cache_metadata=[meta], snapshots=[snapshot], transitions=[move])
    )

    (summary,) = await store.recent_cycles()
    assert (summary.id, summary.requests, summary.failures) == (cycle_id, 2, 1)
    assert summary.dashboards == ("kpi",) and summary.finished_at == now
    got = await store.recent_api_calls()
    assert {c.success for c in got} == {True, False}
    failed = (await store.recent_api_calls(failures_only=True))[0]
    assert failed.error_type == "5xx" and failed.status_code == 503 and failed.method == "GET"
    assert failed.timestamp == now and failed.timestamp.tzinfo is not None
    assert await store.cache_metadata() == [meta]
    assert await store.load_snapshots() == {"kpi": snapshot}
    assert await store.state_transitions(now - timedelta(minutes=1)) == [move]
    assert await store.failed_calls_since(now - timedelta(seconds=1)) == 1
    assert await store.failed_calls_since(now + timedelta(seconds=1)) == 0


async def test_failed_refresh_keeps_the_time_of_the_last_good_fetch(
    store: Store, clock: FakeClock
) -> None:
    good_at = clock.now()
    key = dashboard_cache_key("volume")
    ok = CacheMetadataRecord(key, "volume", good_at, 10, 5, 100, "ok", None, 120.0)
    await store.record_cycle(cycle(good_at, cache_metadata=[ok]))
    clock.advance(300)
    failed = CacheMetadataRecord(key, "volume", None, 45000, 0, 0, "error", "timeout", 120.0)
    await store.record_cycle(cycle(clock.now(), cache_metadata=[failed]))
    (row,) = await store.cache_metadata()
    assert row.status == "error" and row.error_message == "timeout"
    assert row.last_updated == good_at


async def test_an_older_cycle_never_replaces_newer_data(store: Store, clock: FakeClock) -> None:
    newer_at = clock.now() + timedelta(minutes=5)
    older_at = clock.now()
    newer = SnapshotRecord.build(
        "kpi", '{"v": 2}', fetched_at=newer_at, refreshed_at=newer_at, row_count=2
    )
    older = SnapshotRecord.build(
        "kpi", '{"v": 1}', fetched_at=older_at, refreshed_at=older_at, row_count=1
    )
    await store.record_cycle(cycle(newer_at, snapshots=[newer]))
    await store.record_cycle(cycle(older_at, snapshots=[older]))  # e.g. a slow second console
    assert (await store.load_snapshots())["kpi"].payload == '{"v": 2}'


async def test_a_failing_statement_rolls_back_the_whole_cycle(
    store: Store, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    now = clock.now()
    monkeypatch.setattr(cycle_writer, "_INSERT_TRANSITION", "INSERT INTO no_such_table VALUES (?)")
    move = StateTransition("send", "Acme", "kpi", None, "failing", "x", now)
    with pytest.raises(StoreError, match="recording a refresh cycle"):
        await store.record_cycle(
            cycle(
                now,
                api_calls=[call("Acme", now)],
                validation_issues=[issue("Acme")],
                transitions=[move],
            )
        )
    assert await store.recent_cycles() == []
    assert await store.recent_api_calls() == []
    assert await store.open_validation_errors() == []
    monkeypatch.undo()
    await store.record_cycle(cycle(now, api_calls=[call("Acme", now)]))  # the store still works
    assert len(await store.recent_api_calls()) == 1


async def test_bad_records_are_refused_before_writing(store: Store, clock: FakeClock) -> None:
    now = clock.now()
    with pytest.raises(ValueError, match="naive"):
        await store.record_cycle(cycle(now, api_calls=[call("A", now.replace(tzinfo=None))]))
    with pytest.raises(ValueError, match="error_type"):
        bad = replace(call("A", now), error_type="teapot", success=False)
        await store.record_cycle(cycle(now, api_calls=[bad]))
    with pytest.raises(ValueError, match="checksum"):
        snap = SnapshotRecord("kpi", "{}", now, now, 0, "0" * 64)
        await store.record_cycle(cycle(now, snapshots=[snap]))
    assert await store.recent_cycles() == []


async def test_validation_errors_bump_resolve_and_reopen(store: Store, clock: FakeClock) -> None:
    first = clock.now()
    await store.record_cycle(
        cycle(
            first,
            validation_issues=[issue("Acme"), issue("Beta")],
            validated=validated("Acme", "Beta", "Gamma"),
        )
    )
    assert await open_issues(store) == [
        ("Acme", "data.interested", 1),
        ("Beta", "data.interested", 1),
    ]

    # Seen again: one row each, occurrences bumped, first_occurrence kept.
    clock.advance(120)
    await store.record_cycle(
        cycle(
            clock.now(),
            validation_issues=[issue("Acme"), issue("Acme")],
            validated=validated("Acme"),
        )
    )
    rows = {r.workspace: r for r in await store.open_validation_errors()}
    assert rows["Acme"].occurrences == 2  # counted once per cycle, not per observation
    assert rows["Acme"].first_occurrence == first
    assert rows["Acme"].last_occurrence == clock.now()
    # Beta was not validated this cycle (its fetch failed, say): still open.
    assert rows["Beta"].occurrences == 1 and not rows["Beta"].resolved

    # Validated and clean: resolved.
    clock.advance(120)
    resolved_at = clock.now()
    await store.record_cycle(cycle(resolved_at, validated=validated("Acme")))
    assert await open_issues(store) == [("Beta", "data.interested", 1)]
    (done,) = await store.resolved_validation_errors(workspace="Acme")
    assert done.resolved and done.resolved_at == resolved_at and done.occurrences == 2

    # Comes back: a new open row; the resolved one stays as history.
    clock.advance(120)
    await store.record_cycle(
        cycle(clock.now(), validation_issues=[issue("Acme")], validated=validated("Acme"))
    )
    assert await open_issues(store) == [
        ("Acme", "data.interested", 1),
        ("Beta", "data.interested", 1),
    ]
    assert len(await store.resolved_validation_errors(workspace="Acme")) == 1


async def test_an_older_cycle_does_not_resolve_a_newer_observation(
    store: Store, clock: FakeClock
) -> None:
    later = clock.now() + timedelta(minutes=2)
    await store.record_cycle(
        cycle(later, validation_issues=[issue("Acme")], validated=validated("Acme"))
    )
    await store.record_cycle(cycle(clock.now(), validated=validated("Acme")))
    assert await open_issues(store) == [("Acme", "data.interested", 1)]


async def test_open_errors_are_ordered_most_severe_first(store: Store, clock: FakeClock) -> None:
    issues = [
        issue("A", "a", severity=Severity.WARNING),
        issue("B", "b", severity=Severity.CRITICAL),
        issue("C", "c", severity=Severity.ERROR),
    ]
    await store.record_cycle(cycle(clock.now(), validation_issues=issues))
    assert [r.severity for r in await store.open_validation_errors()] == [
        "critical",
        "error",
        "warning",
    ]
    assert [r.workspace for r in await store.open_validation_errors(workspace="C")] == ["C"]


async def test_a_tampered_snapshot_is_skipped_with_a_notice(
    tmp_path: Path, clock: FakeClock
) -> None:
    path = tmp_path / "records.sqlite3"
    now = clock.now()
    async with await Store.open(path, clock=clock) as store:
        for name in ("kpi", "volume"):
            snap = SnapshotRecord.build(
                name, '{"rows": []}', fetched_at=now, refreshed_at=now, row_count=0
            )
            await store.record_cycle(cycle(now, snapshots=[snap]))
    with sqlite3.connect(path) as raw:
        raw.execute(
            "UPDATE dashboard_snapshots SET payload = '{\"rows\": [1]}' WHERE dashboard = 'kpi'"
        )
    raw.close()
    async with await Store.open(path, clock=clock) as store:
        assert set(await store.load_snapshots()) == {"volume"}
        assert any("kpi snapshot" in n for n in store.notices)


async def test_workspace_history_aggregates_per_workspace(store: Store, clock: FakeClock) -> None:
    now = clock.now()
    calls = [
        call("Acme", now + timedelta(seconds=i), ms=float(ms))
        for i, ms in enumerate(range(10, 210, 10))
    ]  # 20 calls: 10..200 ms
    calls += [
        call("Beta", now, ms=45000.0, error=ErrorType.TIMEOUT, status=None, message="read timeout"),
        call(
            "Beta",
            now + timedelta(seconds=1),
            ms=80.0,
            error=ErrorType.SERVER_5XX,
            status=503,
            message="bad gateway",
            attempt=2,
        ),
        call("Beta", now + timedelta(seconds=2), ms=90.0, attempt=3),
        call(None, now, ms=5.0),  # instance-level call (listing workspaces)
        call("Acme", now - timedelta(hours=2), ms=99999.0),  # outside the window
    ]
    await store.record_cycle(cycle(now + timedelta(seconds=30), api_calls=calls))
    history = await store.workspace_history(now - timedelta(minutes=1))
    by_ws = {h.workspace: h for h in history}
    assert set(by_ws) == {"Acme", "Beta", None}
    assert history[0].workspace == "Beta"  # worst success rate first

    acme = by_ws["Acme"]
    assert (acme.calls, acme.successes, acme.failures, acme.success_rate) == (20, 20, 0, 1.0)
    assert (acme.p50_ms, acme.p95_ms, acme.max_ms) == (100.0, 190.0, 200.0)  # nearest rank
    assert acme.errors_by_type == {} and acme.last_error is None
    assert acme.last_call_at == now + timedelta(seconds=19)

    beta = by_ws["Beta"]
    assert (beta.calls, beta.successes) == (3, 1)
    assert beta.success_rate == pytest.approx(1 / 3)
    assert beta.errors_by_type == {"timeout": 1, "5xx": 1}
    assert beta.last_error == "5xx 503: bad gateway"
    assert beta.last_failure_at == now + timedelta(seconds=1)
    assert beta.recent_ms == (45000.0, 80.0, 90.0)

    only = await store.workspace_history(now - timedelta(minutes=1), "Acme", recent=5)
    assert [h.workspace for h in only] == ["Acme"]
    assert only[0].recent_ms == (160.0, 170.0, 180.0, 190.0, 200.0)
    assert await store.workspace_history(now + timedelta(hours=1)) == []


async def test_workspace_history_orders_by_call_time_across_writers_and_chunks(
    store: Store, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(store_history, "_CHUNK", 3)  # several fetches, groups split across them
    now = clock.now()
    late = [call("Acme", now + timedelta(seconds=10 + i), ms=float(10 + i)) for i in range(5)]
    # Committed second, but its calls happened first (another console's slower cycle).
    early = [call("Acme", now + timedelta(seconds=i), ms=float(100 + i)) for i in range(5)]
    early.append(call("Beta", now, ms=7.0, error=ErrorType.TIMEOUT, status=None))
    await store.record_cycle(cycle(now + timedelta(seconds=20), api_calls=late))
    await store.record_cycle(cycle(now + timedelta(seconds=6), api_calls=early))
    by_ws = {h.workspace: h for h in await store.workspace_history(now, recent=4)}
    acme = by_ws["Acme"]
    assert acme.recent_ms == (11.0, 12.0, 13.0, 14.0)  # the newest calls, oldest of them first
    assert acme.last_call_at == now + timedelta(seconds=14)
    everything = sorted([*(float(10 + i) for i in range(5)), *(float(100 + i) for i in range(5))])
    assert acme.p50_ms == everything[4] and acme.p95_ms == everything[9]  # ranks 5 and 10
    assert (acme.max_ms, by_ws["Beta"].last_failure_at) == (104.0, now)
    assert by_ws["Beta"].p50_ms == by_ws["Beta"].p95_ms == 7.0


async def test_a_thousand_workspace_cycle_is_recorded_whole(store: Store, clock: FakeClock) -> None:
    now = clock.now()
    workspaces = [f"client-{i:04d}" for i in range(1000)]
    calls = [
        call(
            w,
            now,
            ms=float(n),
            error=ErrorType.SERVER_5XX if n == 6 and i % 100 == 0 else None,
            status=503 if n == 6 and i % 100 == 0 else 200,
        )
        for i, w in enumerate(workspaces)
        for n in range(7)
    ]
    issues = [issue(w) for w in workspaces[:50]]
    pairs = {(d, w) for w in workspaces for d in ("kpi", "volume", "revenue", "infrastructure")}
    cycle_id = await store.record_cycle(
        cycle(now, api_calls=calls, validation_issues=issues, validated=pairs)
    )
    (summary,) = await store.recent_cycles()
    assert summary.id == cycle_id and summary.requests == 7000 and summary.failures == 10
    assert len(await store.recent_api_calls(limit=10_000)) == 7000
    assert len(await store.open_validation_errors()) == 50
    history = await store.workspace_history(now - timedelta(minutes=1))
    assert len(history) == 1000 and sum(h.calls for h in history) == 7000
    # Next cycle: clean for every workspace, so all 50 issues resolve.
    clock.advance(120)
    await store.record_cycle(cycle(clock.now(), validated=pairs))
    assert await store.open_validation_errors() == []


async def test_a_cancelled_write_leaves_all_or_nothing_and_the_store_usable(
    store: Store, clock: FakeClock
) -> None:
    now = clock.now()
    big = cycle(now, api_calls=[call(f"ws{i}", now) for i in range(3000)])
    for delay in (0.0, 0.001, 0.01):
        task = asyncio.create_task(store.record_cycle(big))
        await asyncio.sleep(delay)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    await store.record_cycle(cycle(now, api_calls=[call("after", now)]))
    cycles = await store.recent_cycles(limit=10)
    calls = await store.recent_api_calls(limit=100_000)
    assert len(calls) == 3000 * (len(cycles) - 1) + 1


async def test_every_stored_snapshot_is_strict_json_without_sqlite_checking_it(
    tmp_path: Path,
) -> None:
    """Since schema 4 SQLite does not parse payloads; they are valid by construction."""
    from support import rig

    def refuse(constant: str) -> Any:
        raise ValueError(f"{constant} is not JSON")

    async with rig(tmp_path, faults="5xx@1/stats") as r:  # a failure row and stale metadata too
        await r.monitor.refresh()
        stored = await r.store.load_snapshots()
    assert set(stored) == set(dashboard_names())
    for record in stored.values():
        json.loads(record.payload, parse_constant=refuse)
