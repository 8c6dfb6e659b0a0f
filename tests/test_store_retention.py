"""Automatic retention: pruned once per interval per file, whoever asks, never failing a cycle."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from portal_tui.fetch.events import ApiCallRecord
from portal_tui.store import CycleRecord, Store, pruning, retention, schema
from portal_tui.vocabulary.clock import FakeClock
from portal_tui.vocabulary.names import DashboardName
from portal_tui.vocabulary.validation import ValidationErrorType, ValidationIssue
from support import file_at_version, rig

START = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
DAY = timedelta(days=1)
INTERVAL = timedelta(seconds=retention.PRUNE_INTERVAL)


def calls(n: int, at: datetime, workspace: str = "Acme") -> list[ApiCallRecord]:
    return [
        ApiCallRecord("send", "stats", "GET", workspace, 200, 10.0, True, None, None, 1, "auto", at)
        for _ in range(n)
    ]


def cycle(at: datetime, **parts: Any) -> CycleRecord:
    return CycleRecord("auto", at, at, **parts)


def issue(workspace: str) -> ValidationIssue:
    return ValidationIssue(
        DashboardName.KPI,
        workspace,
        ValidationErrorType.MISSING_FIELD,
        "data.interested",
        "present",
        "",
        "data.interested: missing",
    )


async def logged(store: Store) -> set[str | None]:
    return {c.workspace for c in await store.recent_api_calls(limit=10_000)}


async def test_prunes_once_per_interval_and_is_due_again_after_it(tmp_path: Path) -> None:
    clock = FakeClock(START)
    async with await Store.open(tmp_path / "r.sqlite3", clock=clock) as store:
        await store.record_cycle(cycle(START - 31 * DAY, api_calls=calls(3, START - 31 * DAY)))
        first = await store.prune_if_due()
        assert first is not None and first["api_health_logs"] == 3
        clock.set_now(START + INTERVAL - timedelta(seconds=1))
        old = START + INTERVAL - 31 * DAY
        await store.record_cycle(cycle(old, api_calls=calls(2, old, "Old")))
        assert await store.prune_if_due() is None  # not due: the old rows wait
        assert await logged(store) == {"Old"}
        clock.set_now(START + INTERVAL)
        again = await store.prune_if_due()
        assert again is not None and again["api_health_logs"] == 2
        assert await logged(store) == set()


async def test_two_stores_on_one_file_prune_once_in_total(tmp_path: Path) -> None:
    path = tmp_path / "r.sqlite3"
    clock = FakeClock(START)
    async with (
        await Store.open(path, clock=clock) as console,
        await Store.open(path, clock=clock) as other,
    ):
        assert await console.prune_if_due() is not None
        assert await other.prune_if_due() is None
        clock.advance(INTERVAL.total_seconds() / 2)
        assert await other.prune_if_due() is None
    # A new process (cron's next check) sees the time in the file, not in memory.
    async with await Store.open(path, clock=clock) as check:
        assert await check.prune_if_due() is None
        clock.advance(INTERVAL.total_seconds() / 2)
        assert await check.prune_if_due() is not None


async def test_old_rows_go_recent_rows_and_open_errors_stay(tmp_path: Path) -> None:
    clock = FakeClock(START)
    async with await Store.open(tmp_path / "r.sqlite3", clock=clock) as store:
        for age, ws in ((40, "Gone"), (31, "Gone"), (29, "Kept"), (0, "Kept")):
            at = START - age * DAY
            await store.record_cycle(cycle(at, api_calls=calls(4, at, ws)))
        # Resolved 100 days ago (goes), resolved 50 days ago (stays), open for 200 days (stays).
        for ws, seen, resolved in (("Old", 101, 100), ("Mid", 51, 50)):
            await store.record_cycle(cycle(START - seen * DAY, validation_issues=[issue(ws)]))
            await store.record_cycle(cycle(START - resolved * DAY, validated={("kpi", ws)}))
        await store.record_cycle(cycle(START - 200 * DAY, validation_issues=[issue("Open")]))
        deleted = await store.prune_if_due()
        assert deleted is not None
        assert deleted["api_health_logs"] == 8 and deleted["data_validation_errors"] == 1
        assert await logged(store) == {"Kept"}
        # The 29-day-old ones are rolled up by now (issue 20): counted from their bucket.
        assert sum(h.calls for h in await store.workspace_history(START - 100 * DAY)) == 8
        assert [r.workspace for r in await store.open_validation_errors()] == ["Open"]
        assert [r.workspace for r in await store.resolved_validation_errors()] == ["Mid"]


async def test_a_run_stops_at_its_limit_and_the_next_call_continues(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pruning, "PRUNE_BATCH", 3)
    monkeypatch.setattr(retention, "MAX_ROWS_PER_RUN", 6)
    clock = FakeClock(START)
    async with await Store.open(tmp_path / "r.sqlite3", clock=clock) as store:
        old = START - 60 * DAY
        await store.record_cycle(cycle(old, api_calls=calls(10, old, "Old")))
        await store.record_cycle(cycle(START, api_calls=calls(1, START, "New")))
        runs = []
        while (deleted := await store.prune_if_due()) is not None:  # same instant every time
            runs.append(deleted["api_health_logs"])
            assert len(runs) < 10
        assert runs == [6, 4]  # two batches of 3, then the rest: the backlog did not wait 6 h
        assert await logged(store) == {"New"}


async def test_a_failing_prune_is_noticed_and_keeps_every_row(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken(*_: object, **__: object) -> int:
        raise sqlite3.OperationalError("disk I/O error")

    monkeypatch.setattr(pruning, "delete_batch", broken)
    clock = FakeClock(START)
    async with await Store.open(tmp_path / "r.sqlite3", clock=clock) as store:
        old = START - 60 * DAY
        await store.record_cycle(cycle(old, api_calls=calls(2, old, "Old")))
        assert await store.prune_if_due() is None  # no exception
        clock.advance(INTERVAL.total_seconds())
        assert await store.prune_if_due() is None
        (notice,) = store.notices  # said once, however often it fails
        assert "Pruning old records failed" in notice and "disk I/O error" in notice
        assert await logged(store) == {"Old"}
        assert await store.integrity_check() == []


async def test_the_monitor_prunes_after_a_cycle_and_survives_a_failing_prune(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken(*_: object, **__: object) -> int:
        raise sqlite3.OperationalError("disk I/O error")

    async with rig(tmp_path) as r:
        await r.monitor.refresh([DashboardName.KPI])
        with sqlite3.connect(r.store.path) as raw:
            (ran,) = raw.execute("SELECT last_run_at FROM store_maintenance").fetchone()
        assert ran == r.clock.now().timestamp()
        monkeypatch.setattr(pruning, "delete_batch", broken)
        monkeypatch.setattr(retention, "PRUNE_INTERVAL", 0.0)  # due at every cycle
        outcome = await r.monitor.refresh([DashboardName.KPI], force=True)
        assert outcome is not None
        assert len(await r.store.recent_cycles(10)) == 2
        assert any("Pruning old records failed" in n for n in r.store.notices)


def test_due_rules() -> None:
    hour = 3600.0
    assert retention.is_due(None, False, 100.0, hour)  # never ran
    assert not retention.is_due(100.0, False, 100.0 + hour - 1, hour)
    assert retention.is_due(100.0, False, 100.0 + hour, hour)
    assert retention.is_due(100.0, True, 100.0, hour)  # a backlog continues at once
    assert retention.is_due(100.0 + 2 * hour, False, 100.0, hour)  # clock set back
    assert not retention.is_due(100.0 + 1, False, 100.0, hour)  # a clock a second behind


async def test_a_real_version_2_file_migrates_keeping_its_rows(tmp_path: Path) -> None:
    path = tmp_path / "v2.sqlite3"
    with file_at_version(path, 2) as raw:
        raw.executemany(
            "INSERT INTO api_health_logs (instance, endpoint, method, workspace, status_code,"
            " response_time_ms, success, attempt, triggered_by, timestamp)"
            " VALUES ('send', 'stats', 'GET', ?, 200, 12.5, 1, 1, 'auto', ?)",
            [("Acme", (START - 40 * DAY).timestamp()), ("Acme", START.timestamp())],
        )
    raw.close()
    clock = FakeClock(START)
    async with await Store.open(path, clock=clock) as store:
        assert await store.schema_version() == schema.latest_version() == 13
        (history,) = await store.workspace_history(START - 50 * DAY)
        assert history.calls == 2 and history.p50_ms == 12.5
        deleted = await store.prune_if_due()
        assert deleted is not None and deleted["api_health_logs"] == 1
        assert await store.integrity_check() == []
    with sqlite3.connect(path) as raw:
        indexes = {r[0] for r in raw.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
    raw.close()
    assert "idx_api_health_logs_workspace" not in indexes
    assert "idx_api_health_logs_timestamp" in indexes
