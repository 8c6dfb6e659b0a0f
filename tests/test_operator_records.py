"""Acknowledgements, operator actions and finding evidence in SQLite (issue 19, migration 10)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from portal_tui.store import ConsistencyRecord, CycleRecord, FindingRecord, Store
from portal_tui.store.consistency_writer import EVIDENCE_MAX_CHARS
from portal_tui.store.operator_records import operator_name
from portal_tui.vocabulary.clock import FakeClock
from support import rig

START = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
SECRET = "eyJhbGciOiJIUzI1NiJ9-a-secret-token-value"
RULE, SCOPE, SUBJECT = "sender-address-format", "infrastructure", "sim/Acme 'jack@ce'"
KEY = (RULE, SCOPE, SUBJECT)
COVERED = frozenset({(RULE, SCOPE)})


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    async with await Store.open(
        tmp_path / "records.sqlite3", clock=FakeClock(START), redact_values=[SECRET]
    ) as opened:
        yield opened


def cycle(at: datetime, *findings: FindingRecord) -> CycleRecord:
    record = ConsistencyRecord(findings=list(findings), covered=COVERED)
    return CycleRecord("auto", at, at, consistency=record)


def bad(evidence: str | None = None) -> FindingRecord:
    return FindingRecord(RULE, "warning", SCOPE, SUBJECT, "Acme: malformed", evidence)


async def test_an_acknowledgement_holds_while_open_and_clears_with_the_finding(
    store: Store,
) -> None:
    assert not await store.acknowledge_finding(KEY, "nothing open yet")
    await store.record_cycle(cycle(START, bad()))
    assert await store.acknowledge_finding(KEY, "  ticket   OPS-12, on it ", who="alice")
    (ack,) = (await store.acknowledgements()).values()
    assert (ack.who, ack.note, ack.first_seen) == ("alice", "ticket OPS-12, on it", START)
    # Seen again: still acknowledged.
    await store.record_cycle(cycle(START + timedelta(minutes=1), bad()))
    assert KEY in await store.acknowledgements()
    # Cleared: the acknowledgement goes with it.
    await store.record_cycle(cycle(START + timedelta(minutes=2)))
    assert await store.acknowledgements() == {}
    # A new occurrence after it cleared is unacknowledged.
    await store.record_cycle(cycle(START + timedelta(minutes=3), bad()))
    assert await store.acknowledgements() == {}
    actions = await store.operator_actions(START)
    assert [(a.who, a.action) for a in actions] == [("alice", "acknowledge")]
    assert "OPS-12" in actions[0].detail


async def test_operator_actions_are_recorded_in_order_and_redacted(store: Store) -> None:
    await store.record_operator_action("pause", "auto-refresh", at=START)
    await store.record_operator_action(
        "clear-cache", f"KPI with Bearer {SECRET}", who="bob", at=START + timedelta(seconds=5)
    )
    actions = await store.operator_actions(START)
    assert [(a.action, a.who) for a in actions] == [
        ("pause", operator_name()),
        ("clear-cache", "bob"),
    ]
    assert SECRET not in actions[1].detail
    assert await store.operator_actions(START + timedelta(seconds=6)) == []


async def test_evidence_is_kept_redacted_and_capped(store: Store) -> None:
    payload: dict[str, Any] = {"token": SECRET, "mailboxes": ["x" * 100] * 200}
    await store.record_cycle(cycle(START, bad(json.dumps(payload))))
    evidence = await store.finding_evidence(KEY)
    assert evidence is not None
    assert SECRET not in evidence
    assert len(evidence) <= EVIDENCE_MAX_CHARS
    # A repeat without evidence keeps the first.
    await store.record_cycle(cycle(START + timedelta(minutes=1), bad()))
    assert await store.finding_evidence(KEY) == evidence


async def test_a_finding_keeps_the_offending_mailbox_as_evidence(tmp_path: Path) -> None:
    async with rig(tmp_path, faults="bad_email@2") as r:
        await r.monitor.refresh()
        (finding,) = [f for f in r.monitor.findings if f.rule == "sender-email-format"]
        evidence = await r.store.finding_evidence(finding.key)
        assert evidence is not None
        doc = json.loads(evidence)
        assert doc["workspace"] == "sim/Acme Corp"
        boxes = doc["requests"]["sender-emails"]["mailboxes"]
        kept = [b["email"] for b in boxes if isinstance(b, dict)]
        assert kept == ["a at acme.io"]  # the bad one, not the page
        assert boxes[-1].endswith("more item(s) not kept")
        assert doc["row"]["workspace"] == "Acme Corp"
