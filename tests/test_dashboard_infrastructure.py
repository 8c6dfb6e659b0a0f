"""Infrastructure dashboard: mailbox rows, workspace totals, completeness, duplicates, scale."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from pydantic import TypeAdapter

from portal_tui.config import ClientEntry, Config
from portal_tui.dashboards.base import ComputeContext, MailboxCost, Need
from portal_tui.dashboards.infrastructure import (
    INFRASTRUCTURE,
    InfrastructureRow,
    MailboxRow,
    mailbox_costs,
    provider_of,
)
from portal_tui.dashboards.windows import report_windows
from portal_tui.upstream.endpoints import Endpoint
from portal_tui.upstream.mailboxes import MailboxCollection
from portal_tui.upstream.models import PageMeta, SenderEmail
from portal_tui.upstream.workspaces import WorkspaceRef
from portal_tui.vocabulary.validation import ValidationErrorType

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
CTX = ComputeContext(windows=report_windows(NOW, ZoneInfo("UTC")), config=Config(), now=NOW)
MAILBOXES = TypeAdapter(list[SenderEmail])


def box(
    email: str,
    tags: list[str],
    status: str = "Connected",
    limit: int = 30,
    sent: int = 0,
    unique: int = 0,
    replied: int | None = None,
    bounced: int = 0,
    mailbox_id: int = 1,
    kind: str | None = None,
) -> dict[str, Any]:
    return {
        "id": mailbox_id,
        "email": email,
        "status": status,
        "daily_limit": limit,
        "type": kind,
        "tags": [{"id": n, "name": t} for n, t in enumerate(tags, start=1)],
        "emails_sent_count": sent,
        "total_replied_count": unique if replied is None else replied,
        "unique_replied_count": unique,
        "bounced_count": bounced,
    }


def collection(
    boxes: list[dict[str, Any]], total: int | None = None, pages: int = 1, last_page: int = 1
) -> MailboxCollection:
    meta = PageMeta(
        current_page=pages,
        last_page=last_page,
        per_page=15,
        total=len(boxes) if total is None else total,
    )
    return MailboxCollection(MAILBOXES.validate_python(boxes), meta, pages)


def ws(name: str = "Acme", wid: int = 7, registry: bool = True) -> WorkspaceRef:
    entry = ClientEntry(name=name) if registry else None
    return WorkspaceRef(instance="main", id=wid, name=name, registry=entry)


def row_of(workspace: WorkspaceRef, boxes: MailboxCollection) -> InfrastructureRow:
    outcome = INFRASTRUCTURE.compute(workspace, {"mailboxes": boxes}, CTX)
    assert outcome.issues == []
    assert outcome.row is not None
    return outcome.row


KNOWN = [
    box("a@alpha.com", ["CheapInboxes"], sent=200, unique=4, replied=5, bounced=2, mailbox_id=1),
    box("b@alpha.com", ["Zapmail", "Google", "healthy"], sent=100, bounced=5, mailbox_id=2),
    box("c@beta.io", ["Mailr"], status="Not connected", limit=20, sent=40, mailbox_id=3),
    box("d@scaled.co", ["ScaledMail"], limit=25, mailbox_id=4),
    box("e@scaled.co", ["scaledmail"], limit=25, mailbox_id=5),
    box("f@gw.com", ["Google", "warming"], status="error", sent=60, unique=3, mailbox_id=6),
    box("g@other.net", ["Outlook"], sent=50, unique=1, bounced=3, mailbox_id=7),
    box("h@gone.com", ["Google"], sent=10, mailbox_id=8, kind="google_oauth"),
]


def test_known_workspace_every_number_by_hand() -> None:
    outcome = INFRASTRUCTURE.compute(ws(), {"mailboxes": collection(KNOWN)}, CTX)
    assert outcome.issues == []
    assert outcome.warnings == [
        "mailbox status not Connected: 2 mailboxes: c@beta.io (Not connected), f@gw.com (error)",
        "pricing needs review: 1 mailbox without a known reseller tag: g@other.net",
    ]
    row = outcome.row
    assert row is not None
    assert row.model_dump(exclude={"mailboxes"}) == {
        "instance": "main",
        "workspace_id": 7,
        "workspace": "Acme",
        "complete": True,
        "mailbox_count": 8,
        "expected_mailboxes": 8,
        "pages_fetched": 1,
        "connected": 6,
        "not_connected": 2,
        "status_counts": {"Connected": 6, "Not connected": 1, "error": 1},
        "daily_capacity": 220,  # 30 + 30 + 20 + 25 + 25 + 30 + 30 + 30
        "connected_daily_capacity": 170,  # 220 - 20 (c) - 30 (f)
        "emails_sent": 460,  # 200 + 100 + 40 + 0 + 0 + 60 + 50 + 10
        "unique_replied": 8,  # 4 + 3 + 1
        "bounced": 10,  # 2 + 5 + 3
        "reply_rate": pytest.approx(8 / 460 * 100),
        "bounce_rate": pytest.approx(10 / 460 * 100),
        "zero_reply_mailboxes": 1,  # b: 100 sent, 0 replies (c and h sent < 50)
        "mailbox_cost": 59.91,  # 3 + 3 + 0.91 + 25 + 25 + 3 + 0 + 0
        "needs_review": 1,
    }
    by_address = {m.address: m for m in row.mailboxes}
    assert by_address["a@alpha.com"] == MailboxRow(
        id=1,
        address="a@alpha.com",
        workspace="Acme",
        status="Connected",
        daily_limit=30,
        sent=200,
        replied=5,
        unique_replied=4,
        bounced=2,
        reply_rate=2.0,  # 4 / 200 * 100
        provider="Unknown",
        reseller="CheapInboxes",
        price=3.0,
        needs_review=False,
    )
    expected = {  # address: (provider, reseller, price, reply rate, needs review, share)
        "b@alpha.com": ("Google", "Zapmail", 3.0, 0.0, False, 0),
        "c@beta.io": ("Unknown", "Mailr", 0.91, 0.0, False, 0),
        "d@scaled.co": ("Unknown", "ScaledMail", 25.0, 0.0, False, 2),  # 50 / 2
        "e@scaled.co": ("Unknown", "ScaledMail", 25.0, 0.0, False, 2),
        "f@gw.com": ("Google", "Google", 3.0, 5.0, False, 0),  # 3 / 60 * 100
        "g@other.net": ("Microsoft", None, 0.0, 2.0, True, 0),  # 1 / 50 * 100
        "h@gone.com": ("Google", "Google", 0.0, 0.0, False, 0),
    }
    for address, values in expected.items():
        m = by_address[address]
        got = (m.provider, m.reseller, m.price, m.reply_rate, m.needs_review, m.domain_share)
        assert got == values, address
    assert [m.connected for m in row.mailboxes].count(False) == 2
    dumped = json.loads(row.model_dump_json())
    assert dumped["mailboxes"][0]["address"] == "a@alpha.com"
    assert len(dumped["mailboxes"]) == 8


def test_needs_every_sender_email_page() -> None:
    assert dict(INFRASTRUCTURE.needs(CTX.windows)) == {"mailboxes": Need(Endpoint.SENDER_EMAILS)}


@pytest.mark.parametrize(
    ("tags", "kind", "provider"),
    [
        (["Gmail"], None, "Google"),
        (["Google Workspace"], None, "Google"),
        (["office365"], None, "Microsoft"),
        ([], "microsoft_oauth", "Microsoft"),
        ([], "Google", "Google"),
        ([], "imap_smtp", "SMTP"),
        (["CheapInboxes"], None, "Unknown"),
    ],
)
def test_provider_rule(tags: list[str], kind: str | None, provider: str) -> None:
    assert provider_of(tags, kind) == provider


def test_incomplete_fetch_is_flagged_never_complete() -> None:
    boxes = [box(f"m{i}@x.com", ["Zapmail"], mailbox_id=i) for i in range(5)]
    outcome = INFRASTRUCTURE.compute(
        ws(), {"mailboxes": collection(boxes, total=10, pages=1, last_page=2)}, CTX
    )
    assert outcome.row is not None
    assert outcome.row.complete is False
    assert (outcome.row.mailbox_count, outcome.row.expected_mailboxes) == (5, 10)
    assert outcome.warnings == ["incomplete mailbox fetch: 5 of 10 mailboxes (1 of 2 pages)"]
    # Every page fetched but fewer mailboxes than meta.total: still incomplete.
    short = INFRASTRUCTURE.compute(
        ws(), {"mailboxes": collection(boxes, total=6, pages=2, last_page=2)}, CTX
    )
    assert short.row is not None and short.row.complete is False


def test_quiet_workspace_has_no_warnings() -> None:
    boxes = [box("a@x.com", ["Zapmail"], sent=49), box("b@x.com", ["Mailr"], status=" connected")]
    outcome = INFRASTRUCTURE.compute(ws(), {"mailboxes": collection(boxes)}, CTX)
    assert outcome.warnings == []
    assert outcome.row is not None
    assert outcome.row.zero_reply_mailboxes == 0  # 49 sent is below the 50 threshold


def test_registry_less_and_odd_mailboxes_warn() -> None:
    boxes = [
        box("a@x.com", ["Zapmail"], sent=-1, mailbox_id=1),
        box("dup@x.com", ["Zapmail"], mailbox_id=2),
        box("DUP@x.com", ["Zapmail"], mailbox_id=3),
    ]
    outcome = INFRASTRUCTURE.compute(ws(registry=False), {"mailboxes": collection(boxes)}, CTX)
    assert outcome.row is not None
    assert outcome.warnings == [
        "no registry entry",
        "negative mailbox counts: 1 mailbox: a@x.com",
        "duplicate address within workspace: dup@x.com (2 times)",
    ]
    assert outcome.row.mailbox_count == 3  # nothing de-duplicated


def test_long_lists_are_cut_in_warnings() -> None:
    boxes = [box(f"m{i}@x.com", [], status="disabled", mailbox_id=i) for i in range(8)]
    outcome = INFRASTRUCTURE.compute(ws(), {"mailboxes": collection(boxes)}, CTX)
    assert outcome.warnings[0] == (
        "mailbox status not Connected: 8 mailboxes: m0@x.com (disabled), m1@x.com (disabled), "
        "m2@x.com (disabled), m3@x.com (disabled), m4@x.com (disabled) and 3 more"
    )
    assert outcome.warnings[1].startswith("pricing needs review: 8 mailboxes without")


def test_wrong_or_missing_input_excludes() -> None:
    missing = INFRASTRUCTURE.compute(ws(), {}, CTX)
    assert missing.row is None
    assert [(i.field_name, i.error_type) for i in missing.issues] == [
        ("mailboxes", ValidationErrorType.MISSING_FIELD)
    ]
    wrong = INFRASTRUCTURE.compute(ws(), {"mailboxes": [{"email": "a@x.com"}]}, CTX)
    assert wrong.row is None
    assert [(i.field_name, i.error_type) for i in wrong.issues] == [
        ("mailboxes", ValidationErrorType.SCHEMA_MISMATCH)
    ]


def test_duplicate_address_across_workspaces_warns_on_both() -> None:
    a = row_of(ws("A", 1), collection([box("x@dup.com", ["Zapmail"]), box("a@a.com", ["Mailr"])]))
    b = row_of(ws("B", 2), collection([box("X@Dup.com", ["Zapmail"])]))
    c = row_of(ws("C", 3), collection([box("c@c.com", ["Zapmail"])]))
    summary = INFRASTRUCTURE.summarize([a, b, c], CTX)
    assert summary.warnings == {
        "A": ["duplicate address across workspaces: x@dup.com (also in B)"],
        "B": ["duplicate address across workspaces: x@dup.com (also in A)"],
    }
    assert summary.totals["duplicate_addresses"] == 1
    assert summary.totals["mailboxes"] == 4  # both copies counted


def test_duplicate_across_instances_names_the_instance() -> None:
    a = row_of(ws("A", 1), collection([box("x@dup.com", ["Zapmail"])]))
    other = WorkspaceRef(instance="second", id=1, name="A2", registry=None)
    b = row_of(other, collection([box("x@dup.com", ["Zapmail"])]))
    summary = INFRASTRUCTURE.summarize([a, b], CTX)
    assert summary.warnings["A"] == [
        "duplicate address across workspaces: x@dup.com (also in A2 on second)"
    ]


def test_per_domain_price_counted_in_two_workspaces_is_flagged() -> None:
    a = row_of(
        ws("A", 1),
        collection([box("s1@shared.co", ["ScaledMail"]), box("s2@shared.co", ["ScaledMail"])]),
    )
    b = row_of(ws("B", 2), collection([box("s3@shared.co", ["ScaledMail"])]))
    assert (a.mailbox_cost, b.mailbox_cost) == (50.0, 50.0)  # 2 x 25; 1 x 50
    summary = INFRASTRUCTURE.summarize([a, b], CTX)
    assert summary.warnings == {
        "A": [
            "per-domain price counted in each workspace: shared.co (ScaledMail $50.00, also in B)"
        ],
        "B": [
            "per-domain price counted in each workspace: shared.co (ScaledMail $50.00, also in A)"
        ],
    }
    assert summary.totals["shared_domains"] == 1
    assert summary.totals["shared_domain_overcount"] == 50.0
    assert summary.totals["mailbox_cost"] == 100.0


def test_summarize_totals_and_rank() -> None:
    known = row_of(ws("Known", 1), collection(KNOWN))
    clean = row_of(ws("Clean", 2), collection([box("z@z.com", ["Zapmail"], sent=100, unique=10)]))
    partial = row_of(
        ws("Partial", 3), collection([box("p@p.com", ["Mailr"])], total=3, pages=1, last_page=2)
    )
    summary = INFRASTRUCTURE.summarize([clean, known, partial], CTX)
    assert summary.warnings == {}
    assert summary.totals == {
        "workspaces": 3,
        "incomplete_workspaces": 1,
        "mailboxes": 10,  # 8 + 1 + 1
        "connected": 8,  # 6 + 1 + 1
        "not_connected": 2,
        "daily_capacity": 280,  # 220 + 30 + 30
        "connected_daily_capacity": 230,  # 170 + 30 + 30
        "emails_sent": 560,  # 460 + 100
        "reply_rate": pytest.approx(18 / 560 * 100),  # (8 + 10) / 560
        "bounce_rate": pytest.approx(10 / 560 * 100),
        "zero_reply_mailboxes": 1,
        "mailbox_cost": 63.82,  # 59.91 + 3 + 0.91
        "needs_review": 1,
        "duplicate_addresses": 0,
        "shared_domains": 0,
        "shared_domain_overcount": 0.0,
    }
    assert [r.workspace for r in INFRASTRUCTURE.rank([clean, known, partial])] == [
        "Partial",  # incomplete first
        "Known",  # 2 not connected
        "Clean",
    ]


def test_mailbox_costs_for_revenue() -> None:
    known = row_of(ws("Known", 1), collection(KNOWN))
    assert mailbox_costs([known], NOW) == {
        ("main", 1): MailboxCost(amount=59.91, as_of=NOW, needs_review=1)
    }


def test_fifty_thousand_mailboxes_over_a_thousand_workspaces() -> None:
    # Per workspace, mailbox i: reseller by i % 5 (CheapInboxes 3, Zapmail 3, Mailr 0.91,
    # Google+healthy 3, none -> review); every 10th is Not connected; sent 100, 2 unique
    # replies, 1 bounce; limit 30. The last workspace's first mailbox copies the first's.
    resellers = [["CheapInboxes"], ["Zapmail"], ["Mailr"], ["Google", "healthy"], []]
    refs: list[WorkspaceRef] = []
    collections: list[MailboxCollection] = []
    for w in range(1000):
        boxes = [
            box(
                f"m{i}@w{w}.example" if (w, i) != (999, 0) else "m0@w0.example",
                resellers[i % 5],
                status="Not connected" if i % 10 == 0 else "Connected",
                sent=100,
                unique=2,
                bounced=1,
                mailbox_id=w * 50 + i,
            )
            for i in range(50)
        ]
        refs.append(ws(f"W{w:04d}", w + 1))
        collections.append(collection(boxes))

    rows = []
    for ref, boxes_of in zip(refs, collections, strict=True):
        outcome = INFRASTRUCTURE.compute(ref, {"mailboxes": boxes_of}, CTX)
        assert outcome.row is not None
        rows.append(outcome.row)
    summary = INFRASTRUCTURE.summarize(rows, CTX)
    ranked = INFRASTRUCTURE.rank(rows)

    assert rows[0].mailbox_cost == 99.1  # 10 * 3 + 10 * 3 + 10 * 0.91 + 10 * 3 + 10 * 0
    assert rows[0].not_connected == 5
    totals = summary.totals
    assert totals["mailboxes"] == 50_000
    assert totals["not_connected"] == 5_000  # 5 per workspace
    assert totals["connected_daily_capacity"] == 1_350_000  # 45 * 30 * 1000
    assert totals["emails_sent"] == 5_000_000  # 50000 * 100
    assert totals["reply_rate"] == pytest.approx(2.0)  # 2 / 100 * 100
    assert totals["bounce_rate"] == pytest.approx(1.0)
    assert totals["mailbox_cost"] == pytest.approx(99_100.0)  # 99.1 * 1000
    assert totals["needs_review"] == 10_000  # 10 per workspace
    assert totals["duplicate_addresses"] == 1
    assert summary.warnings == {
        "W0000": ["duplicate address across workspaces: m0@w0.example (also in W0999)"],
        "W0999": ["duplicate address across workspaces: m0@w0.example (also in W0000)"],
    }
    assert len(ranked) == 1000
    assert ranked[0].workspace == "W0000"  # all tie on trouble: by name
