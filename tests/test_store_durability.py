"""Durability: corrupt files moved aside, bad locations, concurrent writers, locks, retention."""

from __future__ import annotations

import asyncio
import logging
import os
import sqlite3
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from portal_tui.fetch.events import ApiCallRecord
from portal_tui.store import CycleRecord, StateTransition, Store, connection, pruning, transactions
from portal_tui.vocabulary.clock import FakeClock
from portal_tui.vocabulary.errors import StoreError
from portal_tui.vocabulary.names import DashboardName
from portal_tui.vocabulary.validation import ValidationErrorType, ValidationIssue

START = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
DAY = timedelta(days=1)


def clock() -> FakeClock:
    return FakeClock(START)


def calls(n: int, at: datetime, workspace: str = "Acme") -> list[ApiCallRecord]:
    return [
        ApiCallRecord(
            "send", "stats", "GET", f"{workspace}-{i}", 200, 10.0, True, None, None, 1, "auto", at
        )
        for i in range(n)
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


def aside_files(directory: Path) -> list[Path]:
    return sorted(p for p in directory.iterdir() if ".corrupt-" in p.name)


async def test_garbage_file_is_moved_aside_with_its_bytes_and_a_fresh_file_works(
    tmp_path: Path,
) -> None:
    path = tmp_path / "records.sqlite3"
    garbage = os.urandom(64) + b"this is not an SQLite file" * 200
    path.write_bytes(garbage)
    Path(f"{path}-wal").write_bytes(b"stale wal")
    async with await Store.open(path, clock=clock()) as store:
        (notice,) = store.notices
        await store.record_cycle(cycle(START, api_calls=calls(3, START)))
        assert len(await store.recent_api_calls()) == 3
    aside = tmp_path / "records.sqlite3.corrupt-20261121T120000Z"
    assert aside.read_bytes() == garbage
    assert Path(f"{aside}-wal").read_bytes() == b"stale wal"
    assert str(path) in notice and str(aside) in notice and "moved aside" in notice
    assert "Nothing was deleted" in notice


async def test_damaged_pages_fail_the_quick_check_and_are_moved_aside(tmp_path: Path) -> None:
    path = tmp_path / "records.sqlite3"
    async with await Store.open(path, clock=clock()) as store:
        await store.record_cycle(cycle(START, api_calls=calls(2000, START)))
    data = bytearray(path.read_bytes())
    data[4096:] = b"\xab" * (len(data) - 4096)  # keep the header page, ruin the rest
    path.write_bytes(bytes(data))
    async with await Store.open(path, clock=clock()) as store:
        assert len(store.notices) == 1
        assert await store.recent_api_calls() == []
        assert await store.integrity_check() == []
    (aside,) = aside_files(tmp_path)
    assert aside.read_bytes() == bytes(data)
    # A second damaged file the same second gets its own name; nothing is overwritten.
    path.write_bytes(b"garbage" * 1000)
    await (await Store.open(path, clock=clock())).close()
    assert len(aside_files(tmp_path)) == 2
    assert aside.read_bytes() == bytes(data)


async def test_a_parent_that_is_a_file_gives_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "data"
    blocker.write_text("not a directory")
    with pytest.raises(StoreError) as info:
        await Store.open(blocker / "records.sqlite3", clock=clock())
    assert str(blocker) in str(info.value) and "[storage] path" in str(info.value)


async def test_a_directory_at_the_path_gives_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="is a directory"):
        await Store.open(tmp_path, clock=clock())


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores directory permissions")
async def test_a_read_only_directory_gives_a_clear_error(tmp_path: Path) -> None:
    locked = tmp_path / "locked"
    locked.mkdir()
    existing = locked / "records.sqlite3"
    await (await Store.open(existing, clock=clock())).close()
    locked.chmod(0o500)
    try:
        with pytest.raises(StoreError, match="not writable"):
            await Store.open(existing, clock=clock())
        with pytest.raises(StoreError, match="cannot create the directory"):
            await Store.open(locked / "sub" / "records.sqlite3", clock=clock())
    finally:
        locked.chmod(0o700)


async def test_an_unwritable_location_is_reported_with_path_and_fix(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Root ignores permissions, so simulate what a normal user would meet.
    real_access = os.access
    locked = tmp_path / "locked"
    locked.mkdir()

    def access(path: str | os.PathLike[str], mode: int) -> bool:
        if Path(path) == locked and mode & os.W_OK:
            return False
        return real_access(path, mode)

    monkeypatch.setattr(os, "access", access)
    with pytest.raises(StoreError) as info:
        await Store.open(locked / "records.sqlite3", clock=clock())
    message = str(info.value)
    assert str(locked) in message and "not writable" in message and "[storage] path" in message
    assert list(locked.iterdir()) == []


async def test_using_a_closed_store_raises_store_error(tmp_path: Path) -> None:
    store = await Store.open(tmp_path / "records.sqlite3", clock=clock())
    await store.close()
    await store.close()  # twice is fine
    with pytest.raises(StoreError, match="closed"):
        await store.health_summary()


async def test_two_stores_on_one_file_write_concurrently(tmp_path: Path) -> None:
    path = tmp_path / "records.sqlite3"
    first = await Store.open(path, clock=clock())
    second = await Store.open(path, clock=clock())
    try:
        jobs = [
            store.record_cycle(
                cycle(
                    START + timedelta(seconds=i),
                    api_calls=calls(50, START, f"{n}-{i}"),
                    validation_issues=[issue(f"{n}-{i}")],
                )
            )
            for i in range(15)
            for n, store in (("a", first), ("b", second))
        ]
        reads = [s.health_summary() for s in (first, second) for _ in range(5)]
        results = await asyncio.gather(*jobs, *reads)
        cycle_ids = results[: len(jobs)]
        assert len(set(cycle_ids)) == 30
        for store in (first, second):
            assert len(await store.recent_cycles(limit=100)) == 30
            assert len(await store.recent_api_calls(limit=10_000)) == 1500
            assert len(await store.open_validation_errors()) == 30
    finally:
        await first.close()
        await second.close()


class BackoffWatch(FakeClock):
    """Virtual time that moves only when told, and says when someone sleeps on it."""

    def __init__(self) -> None:
        super().__init__(START, autojump=False)
        self.sleeps: list[float] = []
        self.asleep = asyncio.Event()

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.asleep.set()
        await super().sleep(seconds)


async def test_a_write_waits_out_another_process_holding_the_lock(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(connection, "BUSY_TIMEOUT_MS", 50)  # force our own retry loop to run
    monkeypatch.setattr(transactions, "BUSY_ATTEMPTS", 40)  # ~35 s: longer than any wait here
    caplog.set_level(logging.INFO, logger=transactions.__name__)
    path = tmp_path / "records.sqlite3"
    clock = BackoffWatch()
    async with await Store.open(path, clock=clock) as store:
        holder = sqlite3.connect(path, isolation_level=None)
        holder.execute("BEGIN IMMEDIATE")
        write = asyncio.create_task(store.record_cycle(cycle(START, api_calls=calls(3, START))))
        # The first try waited out SQLite's 50 ms busy timeout; the backoff before the
        # next sleeps on the store's clock, which only the test moves.
        await asyncio.wait_for(clock.asleep.wait(), 10)
        assert not write.done()
        assert clock.sleeps and 0.025 <= clock.sleeps[0] <= 0.05  # 50 ms × [½, 1]
        holder.execute("COMMIT")
        holder.close()
        clock.advance(1.0)
        await asyncio.wait_for(write, 10)
        assert len(clock.sleeps) == 1  # the second try found the file free
        assert len(await store.recent_api_calls()) == 3


async def test_a_lock_held_too_long_gives_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(connection, "BUSY_TIMEOUT_MS", 20)
    monkeypatch.setattr(transactions, "BUSY_ATTEMPTS", 2)
    path = tmp_path / "records.sqlite3"
    async with await Store.open(path, clock=clock()) as store:
        holder = sqlite3.connect(path, isolation_level=None)
        holder.execute("BEGIN IMMEDIATE")
        try:
            with pytest.raises(StoreError, match="stayed locked"):
                await store.record_cycle(cycle(START))
        finally:
            holder.execute("ROLLBACK")
            holder.close()
        await store.record_cycle(cycle(START))  # and it recovers once the lock is gone
        assert len(await store.recent_cycles()) == 1


async def test_prune_respects_both_retentions(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pruning, "PRUNE_BATCH", 7)  # several batches per table
    path = tmp_path / "records.sqlite3"
    async with await Store.open(
        path, clock=clock(), retention_days=30, resolved_retention_days=90
    ) as store:

        def moved(at: datetime, ws: str) -> list[StateTransition]:
            return [StateTransition("send", ws, "kpi", "ok", "failing", "5xx", at)]

        for age in (40, 31, 29, 1):
            at = START - age * DAY
            await store.record_cycle(cycle(at, api_calls=calls(10, at), transitions=moved(at, "A")))
        # Resolved 100 days ago (goes), resolved 50 days ago (stays), open since 200 days (stays).
        for ws, seen, resolved in (("Old", 101, 100), ("Mid", 51, 50)):
            await store.record_cycle(cycle(START - seen * DAY, validation_issues=[issue(ws)]))
            await store.record_cycle(cycle(START - resolved * DAY, validated={("kpi", ws)}))
        await store.record_cycle(cycle(START - 200 * DAY, validation_issues=[issue("Open")]))

        deleted = await store.prune()
        assert deleted == {
            "api_health_logs": 20,
            "api_call_rollups": 0,  # issue 20
            "workspace_state_transitions": 2,
            "refresh_cycles": 2 + 5,  # the two old cycles and the five validation-only ones
            "data_validation_errors": 1,
            "consistency_findings": 0,
            "consistency_baselines": 0,  # issue 19
            "verify_results": 0,  # issue 19
            "alert_outbox": 0,
            "operator_actions": 0,  # issue 19 (actions)
        }
        assert len(await store.recent_api_calls(limit=1000)) == 20
        assert {r.workspace for r in await store.resolved_validation_errors()} == {"Mid"}
        assert [r.workspace for r in await store.open_validation_errors()] == ["Open"]
        assert await store.prune() == dict.fromkeys(deleted, 0)
        assert await store.integrity_check() == []
        assert await store.size_bytes() > 0


_WRITER = """
import asyncio, sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from portal_tui.vocabulary.clock import SystemClock
from portal_tui.fetch.events import ApiCallRecord
from portal_tui.store import CycleRecord, Store

async def main(path: str, name: str) -> None:
    now = datetime.now(UTC)
    async with await Store.open(Path(path), clock=SystemClock()) as store:
        for i in range(20):
            calls = [ApiCallRecord("send", "stats", "GET", f"{name}-{i}-{n}", 200, 5.0, True,
                                   None, None, 1, "check", now) for n in range(25)]
            await store.record_cycle(CycleRecord("check", now, now, api_calls=calls))
            await store.health_summary()

asyncio.run(main(sys.argv[1], sys.argv[2]))
"""


async def test_separate_processes_share_a_fresh_file(tmp_path: Path) -> None:
    path = tmp_path / "records.sqlite3"
    procs = [
        await asyncio.create_subprocess_exec(
            sys.executable, "-c", _WRITER, str(path), name, stderr=asyncio.subprocess.PIPE
        )
        for name in ("console-1", "console-2", "cron")
    ]
    errors = [(await p.communicate())[1].decode() for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0], errors
    async with await Store.open(path, clock=clock()) as store:
        assert len(await store.recent_cycles(limit=100)) == 60
        assert len(await store.recent_api_calls(limit=10_000)) == 1500
        assert store.notices == []
