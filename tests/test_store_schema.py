"""Schema creation, user_version, migrations and refusing files that are not ours."""

from __future__ import annotations

import asyncio
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest

from portal_tui.store import SCHEMA_VERSION, Store, schema
from portal_tui.vocabulary.clock import FakeClock
from portal_tui.vocabulary.errors import StoreError
from support import file_at_version

TABLES = {
    "data_cache_metadata",
    "api_health_logs",
    "data_validation_errors",
    "dashboard_snapshots",
    "workspace_state_transitions",
    "refresh_cycles",
}


def clock() -> FakeClock:
    return FakeClock(datetime(2026, 11, 21, 12, 0, tzinfo=UTC))


def objects(path: Path) -> dict[str, set[str]]:
    with sqlite3.connect(path) as raw:
        rows = raw.execute("SELECT type, name FROM sqlite_master").fetchall()
    found: dict[str, set[str]] = {}
    for kind, name in rows:
        found.setdefault(kind, set()).add(name)
    return found


def pragma(path: Path, name: str) -> object:
    raw = sqlite3.connect(path)
    try:
        return raw.execute(f"PRAGMA {name}").fetchone()[0]
    finally:
        raw.close()


async def test_fresh_file_gets_every_table_the_view_and_the_version(tmp_path: Path) -> None:
    path = tmp_path / "nested" / "dir" / "records.sqlite3"
    async with await Store.open(path, clock=clock()) as store:
        assert store.notices == []
        assert store.path == path
    found = objects(path)
    assert found["table"] >= TABLES
    assert found["view"] == {"dashboard_health_summary"}
    assert "uq_data_validation_errors_open" in found["index"]
    assert "idx_api_health_logs_timestamp" in found["index"]
    assert "idx_api_health_logs_workspace" not in found["index"]  # dropped in version 3
    assert "store_maintenance" in found["table"]
    assert "workspace_standing" in found["table"]  # version 5
    assert {"consistency_baselines", "verify_results"} <= found["table"]  # issue 19
    assert {"shared_leases", "shared_responses"} <= found["table"]  # issue 18
    assert {"alert_outbox", "alert_levels"} <= found["table"]  # issue 17
    assert pragma(path, "user_version") == SCHEMA_VERSION == 13
    assert "alert_outbox_subject" in found["index"]  # version 10: reminders
    assert "api_call_rollups" in found["table"]  # issue 20: version 11
    assert {"operator_actions", "finding_acks"} <= found["table"]  # issue 19: version 12
    assert pragma(path, "application_id") == schema.APPLICATION_ID
    assert pragma(path, "journal_mode") == "wal"


async def test_view_has_the_documented_columns(tmp_path: Path) -> None:
    path = tmp_path / "records.sqlite3"
    await (await Store.open(path, clock=clock())).close()
    with sqlite3.connect(path) as raw:
        cursor = raw.execute("SELECT * FROM dashboard_health_summary")
        columns = tuple(d[0] for d in cursor.description)
        assert cursor.fetchall()[0][0] == 100
    assert columns == schema.HEALTH_VIEW_COLUMNS


async def test_reopening_is_idempotent_and_keeps_data(tmp_path: Path) -> None:
    path = tmp_path / "records.sqlite3"
    for _ in range(3):
        store = await Store.open(path, clock=clock())
        await store.close()
    with sqlite3.connect(path) as raw:
        raw.execute(
            "INSERT INTO refresh_cycles (triggered_by, started_at, finished_at)"
            " VALUES ('check', 1, 2)"
        )
    async with await Store.open(path, clock=clock()) as store:
        assert len(await store.recent_cycles()) == 1
    assert pragma(path, "user_version") == SCHEMA_VERSION


async def test_two_processes_opening_a_fresh_file_at_once_both_work(tmp_path: Path) -> None:
    path = tmp_path / "records.sqlite3"
    stores = await asyncio.gather(*(Store.open(path, clock=clock()) for _ in range(4)))
    try:
        for store in stores:
            assert (await store.health_summary()).score == 100
    finally:
        for store in stores:
            await store.close()


async def test_a_new_migration_applies_only_what_is_pending(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "records.sqlite3"
    await (await Store.open(path, clock=clock())).close()
    nxt = SCHEMA_VERSION + 1
    extra = schema.Migration(
        nxt, "add a note column", ("ALTER TABLE refresh_cycles ADD COLUMN note TEXT",)
    )
    monkeypatch.setattr(schema, "MIGRATIONS", (*schema.MIGRATIONS, extra))
    assert [m.version for m in schema.pending(SCHEMA_VERSION)] == [nxt]
    for _ in range(2):  # the second open must not re-apply it
        await (await Store.open(path, clock=clock())).close()
    assert pragma(path, "user_version") == nxt
    with sqlite3.connect(path) as raw:
        columns = [r[1] for r in raw.execute("PRAGMA table_info(refresh_cycles)")]
    assert columns.count("note") == 1


async def test_a_failing_migration_leaves_the_old_version(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "records.sqlite3"
    await (await Store.open(path, clock=clock())).close()
    broken = schema.Migration(
        SCHEMA_VERSION + 1, "broken", ("CREATE TABLE extra (x)", "THIS IS NOT SQL")
    )
    monkeypatch.setattr(schema, "MIGRATIONS", (*schema.MIGRATIONS, broken))
    with pytest.raises(StoreError, match="upgrading the schema"):
        await Store.open(path, clock=clock())
    assert pragma(path, "user_version") == SCHEMA_VERSION
    assert "extra" not in objects(path)["table"]


async def test_newer_user_version_is_refused_and_the_file_left_untouched(tmp_path: Path) -> None:
    path = tmp_path / "records.sqlite3"
    with sqlite3.connect(path) as raw:
        raw.execute("CREATE TABLE future (x)")
        raw.execute("PRAGMA user_version = 99")
    raw.close()
    before = path.read_bytes()
    with pytest.raises(StoreError) as info:
        await Store.open(path, clock=clock())
    message = str(info.value)
    assert str(path) in message and "99" in message and "newer" in message
    assert path.read_bytes() == before
    assert list(tmp_path.iterdir()) == [path]  # nothing moved aside, no WAL created


async def test_another_programs_database_is_refused_untouched(tmp_path: Path) -> None:
    path = tmp_path / "other.db"
    with sqlite3.connect(path) as raw:
        raw.execute("CREATE TABLE invoices (id INTEGER PRIMARY KEY)")
    raw.close()
    before = path.read_bytes()
    with pytest.raises(StoreError, match="another program"):
        await Store.open(path, clock=clock())
    assert path.read_bytes() == before


def test_migrations_are_numbered_from_one() -> None:
    assert [m.version for m in schema.MIGRATIONS] == list(range(1, SCHEMA_VERSION + 1))
    assert schema.latest_version() == SCHEMA_VERSION


async def test_a_version_3_file_keeps_its_snapshots_and_sqlite_stops_reparsing_them(
    tmp_path: Path,
) -> None:
    """Version 4 drops the json_valid CHECK (~23 MB of peak memory per cycle at 50,000
    mailboxes): the rows come across unchanged, and the payload is stored as given."""
    path = tmp_path / "v3.sqlite3"
    payload = '{"format":2,"rows":[]}'
    with file_at_version(path, 3) as raw:
        raw.execute(
            "INSERT INTO dashboard_snapshots (dashboard, payload, fetched_at, refreshed_at,"
            " row_count, checksum) VALUES ('kpi', ?, 1, 2, 0, ?)",
            (payload, "a" * 64),
        )
        with pytest.raises(sqlite3.IntegrityError):  # version 3 parsed every payload
            raw.execute("UPDATE dashboard_snapshots SET payload = 'not json'")
    raw.close()
    async with await Store.open(path, clock=clock()) as store:
        assert await store.schema_version() == SCHEMA_VERSION
        assert await store.integrity_check() == []
    with sqlite3.connect(path) as raw:
        rows = raw.execute(
            "SELECT dashboard, payload, fetched_at, refreshed_at, row_count, checksum,"
            " schema_version FROM dashboard_snapshots"
        ).fetchall()
        (table_sql,) = raw.execute(
            "SELECT sql FROM sqlite_master WHERE name = 'dashboard_snapshots'"
        ).fetchone()
    raw.close()
    assert rows == [("kpi", payload, 1.0, 2.0, 0, "a" * 64, 1)]
    assert "json_valid" not in table_sql and "length(checksum) = 64" in table_sql


async def test_a_version_12_standing_keeps_its_run_and_ignores_cycles_older_than_it(
    tmp_path: Path,
) -> None:
    """Version 13 records where each run began; of the runs before it nothing is known,
    so their start is taken as their last observation (a late cycle is ignored, as in 12)."""
    path = tmp_path / "v12.sqlite3"
    with file_at_version(path, 12) as raw:
        raw.execute(
            "INSERT INTO workspace_standing (instance, workspace_id, workspace, state,"
            " failures_in_row, successes_in_row, failing_since, state_since, updated_at)"
            " VALUES ('main', 7, 'Acme', 'failing', 0, 1, NULL, 100, 500)"
        )
    raw.close()
    async with await Store.open(path, clock=clock()) as store:
        [row] = await store.standings()
    assert (row.state, row.successes_in_row) == ("failing", 1)
    assert row.updated_at == row.run_after == datetime.fromtimestamp(500, UTC)
