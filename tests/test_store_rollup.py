"""Roll-ups (issue 20): raw API attempts past the raw window are packed per hour and
workspace, and every face gives the same numbers from them as from the raw rows.

The guard: the same records written twice, one file rolled up and the other not;
History (``workspace_history``, what the pane shows), ``history``, ``export``,
``metrics`` and the health verdict read over windows that start in the raw rows,
inside a bucket's hour, and before every bucket, must agree exactly. Then the
work is bounded (batches and a per-run limit that leaves a backlog), a roll-up
interrupted mid-transaction (an error, and a real SIGKILL) changes no answer,
and two processes rolling up one file at once move each attempt once.
"""

from __future__ import annotations

import asyncio
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import textwrap
from dataclasses import asdict
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from portal_tui.engine.verdict import verdict_from_records
from portal_tui.fetch.events import ApiCallRecord
from portal_tui.reports.export import build_report
from portal_tui.reports.history import build_history
from portal_tui.reports.metrics import read_snapshot
from portal_tui.reports.records_file import RecordsLocation
from portal_tui.store import rollup
from portal_tui.store.database import Store
from portal_tui.store.records import CycleRecord, StateTransition
from portal_tui.vocabulary.clock import FakeClock
from support import NOW

START = NOW - timedelta(days=4)
END = NOW
WORKSPACES = ("Acme Corp", "Globex", "Initech", None)  # None: instance-level calls
FAILURES = (
    ("5xx", 503, "server said 503"),
    ("timeout", None, "read timed out"),
    ("4xx", 401, "token revoked"),
    ("breaker_open", None, "breaker open"),
    ("network", None, None),
)
# Windows that start in the raw rows, inside a rolled-up hour, and before every bucket.
WINDOWS = (
    timedelta(hours=1),
    timedelta(hours=23, minutes=59, seconds=59, microseconds=1),
    timedelta(hours=30, minutes=17, seconds=3, microseconds=250_001),
    timedelta(days=2, hours=5, minutes=59, seconds=59, microseconds=999_999),
    timedelta(days=5),
)


def cycles(seed: int = 20) -> list[CycleRecord]:
    """A cycle every 10 minutes over four days: two instances, four workspace keys each,
    lognormal response times to the nanosecond, ~5 % failures of every kind, and ties
    (several attempts at one microsecond)."""
    rng = random.Random(seed)
    found: list[CycleRecord] = []
    at = START
    n = 0
    while at < END:
        calls = []
        for instance in ("prod", "eu"):
            for ws in WORKSPACES:
                t = at + timedelta(microseconds=rng.randrange(0, 3_000_000))
                for attempt in range(rng.randrange(1, 4)):
                    failed = rng.random() < 0.05
                    kind, code, message = rng.choice(FAILURES) if failed else (None, 200, None)
                    calls.append(
                        ApiCallRecord(
                            instance, "/api/stats", "GET", ws, code,
                            rng.lognormvariate(4.0, 1.0), not failed, kind, message,
                            attempt + 1, "auto", t,
                        )
                    )  # fmt: skip
                    if rng.random() < 0.7:  # else the next attempt is at the same µs
                        t += timedelta(microseconds=rng.randrange(1, 900_000))
        n += 1
        moves = []
        if n % 97 == 0:
            moves.append(StateTransition("prod", "Globex", None, "ok", "failing", "x", at))
        found.append(
            CycleRecord(
                "auto", at, at + timedelta(seconds=4), ("kpi",), calls,
                transitions=moves, failed_requests=sum(1 for c in calls if not c.success),
            )
        )  # fmt: skip
        at += timedelta(minutes=10)
    return found


async def write(path: Path) -> None:
    async with await Store.open(path, clock=FakeClock(END)) as store:
        for record in cycles():
            await store.record_cycle(record)


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("rollup") / "raw.sqlite3"
    asyncio.run(write(path))
    return path


def copy(src: Path, dest: Path) -> Path:
    shutil.copy(src, dest)
    return dest


async def answers(path: Path, since: timedelta) -> dict[str, Any]:
    """Everything the faces show for a window, read from the file at ``path``."""
    async with await Store.open(path, clock=FakeClock(END), create=False) as store:
        start = END - since
        report = await build_report(store, RecordsLocation(path, "--db"), now=END, since=since)
        del report["database"]  # its path and size differ, by design
        snapshot = await read_snapshot(store, END, window=since)
        return {
            "pane": [asdict(h) for h in await store.workspace_history(start)],
            "pane_one": [
                asdict(h)
                for h in await store.workspace_history(start, "Globex", instance="eu", recent=5)
            ],
            "history": await build_history(store, now=END, since=since),
            "history_ws": await build_history(store, now=END, since=since, workspace="acme corp"),
            "export": report,
            "metrics": (snapshot.requests, snapshot.response_times, snapshot.verdict),
            "health": await verdict_from_records(store, END),
            "counts": await store.api_call_counts(start),
            "failed": await store.failed_calls_since(start),
            "slow_rule": await store.response_times_since(start),
        }


def table_count(path: Path, table: str) -> int:
    with sqlite3.connect(path) as conn:
        return int(conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0])


async def test_every_face_gives_the_same_numbers_after_a_roll_up(
    written: Path, tmp_path: Path
) -> None:
    rolled = copy(written, tmp_path / "rolled.sqlite3")
    async with await Store.open(rolled, clock=FakeClock(END), raw_hours=20) as store:
        moved = await store.roll_up(END)
    raw = table_count(written, "api_health_logs")
    assert moved > raw * 0.7 and table_count(rolled, "api_health_logs") == raw - moved
    assert table_count(rolled, "api_call_rollups") > 0
    for since in WINDOWS:
        before, after = await answers(written, since), await answers(rolled, since)
        for face in before:
            assert after[face] == before[face], (since, face)
    # The windows really differ (the guard is not comparing empty answers).
    short, long = await answers(written, WINDOWS[0]), await answers(written, WINDOWS[-1])
    assert 0 < short["history"]["calls"] < long["history"]["calls"]
    assert long["history"]["failed"] > 0 and long["export"]["api"]["errors"]


async def test_a_run_is_bounded_and_the_next_one_continues(
    written: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = copy(written, tmp_path / "bounded.sqlite3")
    monkeypatch.setattr(rollup, "ROLLUP_BATCH", 100)
    monkeypatch.setattr(rollup, "MAX_ROWS_PER_RUN", 300)
    batches: list[int] = []
    real = rollup.roll_up_batch

    async def counted(conn: Any, **kwargs: Any) -> int:
        n = await real(conn, **kwargs)
        batches.append(n)
        return n

    monkeypatch.setattr(rollup, "roll_up_batch", counted)
    async with await Store.open(path, clock=FakeClock(END), raw_hours=20) as store:
        assert await store.roll_up_if_due() == 300  # three batches, then a backlog
        assert batches == [100, 100, 100]
        mid = await answers(path, WINDOWS[-1])
        assert await store.roll_up_if_due() == 300  # the backlog makes it due at once
        total = 600
        while (n := await store.roll_up_if_due()) == 300:
            total += n
        total += n or 0
        assert await store.roll_up_if_due() is None  # caught up: not due for an hour
    assert max(batches) <= 100
    assert table_count(path, "api_health_logs") == table_count(written, "api_health_logs") - total
    assert mid == await answers(written, WINDOWS[-1]) == await answers(path, WINDOWS[-1])


async def test_an_interrupted_batch_leaves_every_answer_as_it_was(
    written: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = copy(written, tmp_path / "interrupted.sqlite3")
    real = rollup._merge_into_bucket
    merged: list[int] = []

    async def failing(conn: Any, *args: Any) -> None:
        await real(conn, *args)
        merged.append(1)
        if len(merged) == 3:  # buckets already written inside the transaction
            raise sqlite3.OperationalError("disk I/O error")

    monkeypatch.setattr(rollup, "_merge_into_bucket", failing)
    async with await Store.open(path, clock=FakeClock(END), raw_hours=20) as store:
        assert await store.roll_up_if_due() is None  # noticed, never raised
        assert any("Rolling up old API attempts failed" in n for n in store.notices)
    assert table_count(path, "api_call_rollups") == 0
    assert table_count(path, "api_health_logs") == table_count(written, "api_health_logs")
    assert await answers(path, WINDOWS[-1]) == await answers(written, WINDOWS[-1])


KILLED = textwrap.dedent(
    """
    import asyncio, os, signal, sys
    from pathlib import Path
    from portal_tui.store import rollup
    from portal_tui.store.database import Store
    from portal_tui.vocabulary.clock import SystemClock

    real_batch, real_merge = rollup.roll_up_batch, rollup._merge_into_bucket
    batches, merged = [], []

    async def counted(conn, **kwargs):
        batches.append(1)
        merged.clear()
        return await real_batch(conn, **kwargs)

    async def merge_then_die(conn, *args):
        await real_merge(conn, *args)
        merged.append(1)
        if (len(batches), len(merged)) == (int(sys.argv[2]), int(sys.argv[3])):
            print("inside", flush=True)  # mid-transaction: buckets written, rows not deleted
            os.kill(os.getpid(), signal.SIGKILL)

    rollup.roll_up_batch, rollup._merge_into_bucket = counted, merge_then_die

    async def main():
        store = await Store.open(Path(sys.argv[1]), clock=SystemClock(), raw_hours=20)
        await store.roll_up(None)

    asyncio.run(main())
    """
)


@pytest.mark.timeout(120)
async def test_a_kill_minus_nine_mid_roll_up_changes_no_answer(
    written: Path, tmp_path: Path
) -> None:
    path = copy(written, tmp_path / "killed.sqlite3")
    script = tmp_path / "killed.py"
    script.write_text(KILLED)
    # Inside the first batch; then past a committed first batch, inside the second.
    for batch, merge in ((1, 2), (2, 3)):
        done = await asyncio.to_thread(
            subprocess.run,
            [sys.executable, str(script), str(path), str(batch), str(merge)],
            capture_output=True, text=True, timeout=100,
        )  # fmt: skip
        assert done.returncode == -signal.SIGKILL, done.stderr[-2000:]
        assert done.stdout.strip() == "inside"
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    assert table_count(path, "api_call_rollups") > 0  # the first batch of the second run stayed
    for since in WINDOWS:
        assert await answers(path, since) == await answers(written, since), since
    assert not [p for p in tmp_path.iterdir() if ".corrupt-" in p.name]
    assert os.path.exists(path)


async def test_two_stores_rolling_up_one_file_move_each_attempt_once(
    written: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = copy(written, tmp_path / "shared.sqlite3")
    monkeypatch.setattr(rollup, "ROLLUP_BATCH", 500)
    one = await Store.open(path, clock=FakeClock(END), raw_hours=20)
    two = await Store.open(path, clock=FakeClock(END), raw_hours=20)
    try:
        moved = await asyncio.gather(one.roll_up(END), two.roll_up(END))
        late = ApiCallRecord(
            "prod", "/x", "GET", "Globex", 200, 12.0, True, None, None, 1, "auto",
            START + timedelta(hours=1),
        )  # fmt: skip
        # A row written late into an hour already rolled up joins that hour's bucket.
        await one.record_cycle(CycleRecord("auto", late.timestamp, late.timestamp, (), [late]))
        assert await two.roll_up(END) == 1
    finally:
        await one.close()
        await two.close()
    assert sum(moved) > 0  # (whichever got the write lock first may have done it all)
    raw = table_count(written, "api_health_logs")
    assert table_count(path, "api_health_logs") == raw - sum(moved)
    with sqlite3.connect(path) as conn:
        rolled = conn.execute("SELECT sum(calls) FROM api_call_rollups").fetchone()[0]
        keys = conn.execute(
            "SELECT count(*), count(DISTINCT hour || instance || ifnull(workspace, '-'))"
            " FROM api_call_rollups"
        ).fetchone()
    assert rolled == sum(moved) + 1 and keys[0] == keys[1]  # one bucket per key


async def test_buckets_go_when_their_whole_hour_is_past_retention(
    written: Path, tmp_path: Path
) -> None:
    path = copy(written, tmp_path / "pruned.sqlite3")
    async with await Store.open(path, clock=FakeClock(END), raw_hours=20) as store:
        await store.roll_up(END)
        hours = await _hours(path)
        # Retention 30 days: at START + 30 days + 30 min, the first hour is not wholly past it.
        cutoff = START + timedelta(days=30, minutes=30)
        assert (await store.prune(cutoff))["api_call_rollups"] == 0
        gone = (await store.prune(START + timedelta(days=30, hours=2)))["api_call_rollups"]
    first = min(hours)
    assert gone == sum(1 for h in hours if h < first + 3600) > 0
    assert min(await _hours(path)) > first


async def _hours(path: Path) -> list[int]:
    with sqlite3.connect(path) as conn:
        return [h for (h,) in conn.execute("SELECT hour FROM api_call_rollups")]


def test_response_times_are_recorded_to_the_microsecond() -> None:
    from portal_tui.store.cycle_writer import to_microsecond

    assert to_microsecond(12.3456789) == 12.346
    assert to_microsecond(-1.0) == 0.0
    assert to_microsecond(float("inf")) == float("inf")
