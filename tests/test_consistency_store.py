"""Consistency records in SQLite: the v2 migration, the finding life cycle, state tables."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from portal_tui.store import (
    SCHEMA_VERSION,
    ChecksumRecord,
    ConsistencyRecord,
    CycleRecord,
    FieldRecord,
    FindingRecord,
    Store,
    schema,
)
from portal_tui.vocabulary.clock import FakeClock

START = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
SECRET = "eyJhbGciOiJIUzI1NiJ9-a-secret-token-value"


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    async with await Store.open(
        tmp_path / "records.sqlite3", clock=FakeClock(START), redact_values=[SECRET]
    ) as opened:
        yield opened


def cycle(at: datetime, **parts: Any) -> CycleRecord:
    return CycleRecord("auto", at, at, consistency=ConsistencyRecord(**parts))


def dup(address: str, message: str = "in 2 workspaces") -> FindingRecord:
    return FindingRecord("sender-email-unique", "error", "infrastructure", address, message)


COVERED = frozenset({("sender-email-unique", "infrastructure")})


async def test_findings_open_repeat_resolve_and_reopen(store: Store) -> None:
    await store.record_cycle(cycle(START, findings=[dup("a@x"), dup("b@x")], covered=COVERED))
    later = START + timedelta(minutes=1)
    await store.record_cycle(
        cycle(later, findings=[dup("a@x", "in 3 workspaces")], covered=COVERED)
    )
    (a,) = await store.open_findings()
    assert (a.subject, a.occurrences, a.first_seen, a.last_seen) == ("a@x", 2, START, later)
    assert a.message == "in 3 workspaces"
    history = await store.findings_since(START)
    (b,) = [f for f in history if f.subject == "b@x"]
    assert b.resolved and b.resolved_at == later

    # A cycle that did not judge Infrastructure leaves its findings alone.
    await store.record_cycle(cycle(later + timedelta(minutes=1), covered=frozenset()))
    assert [f.subject for f in await store.open_findings()] == ["a@x"]

    # Back after being resolved: a new row, its own first_seen.
    again = START + timedelta(minutes=5)
    await store.record_cycle(cycle(again, findings=[dup("b@x")], covered=COVERED))
    opened = {f.subject: f for f in await store.open_findings()}
    assert set(opened) == {"b@x"} and opened["b@x"].first_seen == again


async def test_an_older_cycle_never_resolves_a_newer_observation(store: Store) -> None:
    # Two consoles: the newer one saw the finding; the older one's write lands later.
    await store.record_cycle(
        cycle(START + timedelta(minutes=1), findings=[dup("a@x")], covered=COVERED)
    )
    await store.record_cycle(cycle(START, covered=COVERED))
    assert [f.subject for f in await store.open_findings()] == ["a@x"]


async def test_checksums_and_fields_only_move_forward(store: Store) -> None:
    def checksum(at: datetime, digest: str) -> ChecksumRecord:
        return ChecksumRecord("kpi", digest * 64, "f" * 64, START, at, 3)

    later = START + timedelta(minutes=2)
    await store.record_cycle(
        cycle(
            later,
            checksums=[checksum(later, "a")],
            fields=[FieldRecord("stats", "interested", START, later)],
        )
    )
    await store.record_cycle(
        cycle(
            START,
            checksums=[checksum(START, "b")],  # older: ignored
            fields=[FieldRecord("stats", "interested", START - timedelta(hours=1), START)],
        )
    )
    state = await store.consistency_state()
    (stored,) = state.checksums
    assert stored.checksum == "a" * 64 and stored.unchanged_refreshes == 3
    (known,) = state.fields
    assert known.first_seen == START - timedelta(hours=1) and known.last_seen == later


async def test_secrets_are_redacted_and_bad_severities_refused(store: Store) -> None:
    await store.record_cycle(cycle(START, findings=[dup("a@x", f"token {SECRET} leaked")]))
    (found,) = await store.open_findings()
    assert SECRET not in found.message
    bad = FindingRecord("r", "fatal", "s", "x", "m")
    with pytest.raises(ValueError, match="severity 'fatal'"):
        await store.record_cycle(cycle(START, findings=[bad]))


async def test_a_version_1_file_migrates_to_2_keeping_its_data(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "old.sqlite3"
    with monkeypatch.context() as patch:
        patch.setattr(schema, "MIGRATIONS", schema.MIGRATIONS[:1])
        async with await Store.open(path, clock=FakeClock(START)) as old:
            assert await old.schema_version() == 1
    with sqlite3.connect(path) as raw:  # a cycle as version 1 wrote it (today's has more)
        raw.execute(
            "INSERT INTO refresh_cycles (triggered_by, started_at, finished_at) VALUES (?, ?, ?)",
            ("auto", START.timestamp(), START.timestamp()),
        )
    async with await Store.open(path, clock=FakeClock(START)) as new:
        assert await new.schema_version() == SCHEMA_VERSION
        assert len(await new.recent_cycles()) == 1
        await new.record_cycle(cycle(START, findings=[dup("a@x")]))
        assert len(await new.open_findings()) == 1
    with sqlite3.connect(path) as raw:
        tables = {r[0] for r in raw.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"consistency_findings", "dashboard_checksums", "schema_fields"} <= tables


async def test_resolved_findings_are_pruned_with_resolved_errors(store: Store) -> None:
    old = START - timedelta(days=100)
    await store.record_cycle(cycle(old, findings=[dup("a@x")], covered=COVERED))
    await store.record_cycle(cycle(old + timedelta(minutes=1), covered=COVERED))
    await store.record_cycle(cycle(old, findings=[dup("open@x")]))  # open: kept however old
    deleted = await store.prune(START)
    assert deleted["consistency_findings"] == 1
    assert [f.subject for f in await store.open_findings()] == ["open@x"]
