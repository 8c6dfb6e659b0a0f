"""Consistency rules on crafted data: a real cycle's outcome, then one thing made wrong.

Some faults cannot come out of the real pipeline (dashboards share one response,
so they cannot disagree); the rules must still catch them if a bug ever lets
them through.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from portal_tui.consistency.model import CheckContext, Finding
from portal_tui.consistency.numbers import SameSourceNumbers, WindowSanity
from portal_tui.consistency.pages import MailboxPageCounts
from portal_tui.consistency.workspaces import DashboardRows
from portal_tui.dashboards.base import WorkspaceRow
from portal_tui.dashboards.snapshot import RowMeta
from portal_tui.engine.cycle import CycleOutcome
from portal_tui.upstream.endpoints import Endpoint, RequestKey
from portal_tui.upstream.mailboxes import MailboxCollection
from portal_tui.vocabulary.names import DashboardName
from support import rig
from test_consistency import full_registry

KPI, VOLUME, REVENUE, INFRA = (
    DashboardName.KPI,
    DashboardName.VOLUME,
    DashboardName.REVENUE,
    DashboardName.INFRASTRUCTURE,
)
ACME, GLOBEX = ("sim", 2), ("sim", 3)


async def clean_outcome(tmp_path: Path) -> tuple[CycleOutcome, Any]:
    async with rig(tmp_path, clients=full_registry()) as r:
        outcome = await r.monitor.refresh()
        assert outcome is not None
        return outcome, r.monitor.config


def with_rows(
    outcome: CycleOutcome, board: DashboardName, change: Any, *, meta: bool = True
) -> CycleOutcome:
    """``outcome`` with ``board``'s rows replaced by ``change(rows)``."""
    snap = outcome.snapshots[board]
    rows = change(list(snap.rows))
    row_meta = dict(snap.row_meta)
    if meta:
        for row in rows:
            row_meta.setdefault(row.key, RowMeta(outcome.finished_at))
    snapshots = {**outcome.snapshots, board: replace(snap, rows=rows, row_meta=row_meta)}
    return replace(outcome, snapshots=snapshots)


def edit(rows: list[WorkspaceRow], key: tuple[str, int], **update: Any) -> list[WorkspaceRow]:
    return [r.model_copy(update=update) if r.key == key else r for r in rows]


def run(rule: Any, outcome: CycleOutcome, config: Any) -> list[Finding]:
    return list(rule.run(CheckContext(outcome, outcome.snapshots, config)).findings)


async def test_same_source_numbers_agree_on_a_real_cycle(tmp_path: Path) -> None:
    outcome, config = await clean_outcome(tmp_path)
    result = SameSourceNumbers().run(CheckContext(outcome, outcome.snapshots, config))
    assert result.findings == [] and result.covered == {"kpi", "volume", "revenue"}


async def test_kpi_leads_disagreeing_with_revenue_and_the_source(tmp_path: Path) -> None:
    outcome, config = await clean_outcome(tmp_path)
    # The portal's incident: KPI said 29 leads where Revenue said 27 (here the source says 10).
    bad = with_rows(outcome, KPI, lambda rows: edit(rows, ACME, leads_generated=29))
    (finding,) = run(SameSourceNumbers(), bad, config)
    assert finding.scope == "kpi" and finding.subject == "sim/Acme Corp leads_generated"
    assert finding.message == (
        "KPI leads_generated is 29 but the MTD stats response it was computed from says "
        "interested = 10 (Revenue leads = 10 from the same response)"
    )
    volume = with_rows(outcome, VOLUME, lambda rows: edit(rows, GLOBEX, emails=1))
    (finding,) = run(SameSourceNumbers(), volume, config)
    assert "Volume emails is 1" in finding.message and "KPI emails_sent = 2000" in finding.message


async def test_a_stale_row_is_not_compared_with_this_cycles_response(tmp_path: Path) -> None:
    outcome, config = await clean_outcome(tmp_path)
    bad = with_rows(outcome, KPI, lambda rows: edit(rows, ACME, leads_generated=29))
    snap = bad.snapshots[KPI]
    snap.row_meta[ACME] = RowMeta(snap.row_meta[ACME].fetched_at, stale=True, error="5xx 503")
    assert run(SameSourceNumbers(), bad, config) == []


async def test_dashboard_rows_missing_duplicated_and_extra(tmp_path: Path) -> None:
    outcome, config = await clean_outcome(tmp_path)
    assert run(DashboardRows(), outcome, config) == []

    def mangle(rows: list[WorkspaceRow]) -> list[WorkspaceRow]:
        acme = next(r for r in rows if r.key == ACME)
        stranger = acme.model_copy(update={"workspace_id": 77, "workspace": "Stranger"})
        return [r for r in rows if r.key != GLOBEX] + [acme, stranger]

    found = {f.subject: f for f in run(DashboardRows(), with_rows(outcome, KPI, mangle), config)}
    assert set(found) == {"sim/Acme Corp", "sim/Globex", "sim/Stranger"}
    assert "2 rows" in found["sim/Acme Corp"].message
    assert "silently missing (3 of 3 workspaces shown)" in found["sim/Globex"].message
    assert found["sim/Stranger"].severity == "warning"


async def test_a_failed_workspace_without_a_row_is_not_silently_missing(tmp_path: Path) -> None:
    async with rig(tmp_path, clients=full_registry(), faults="revoked@3") as r:
        outcome = await r.monitor.refresh([KPI])  # Globex fails, with no earlier row
        assert outcome is not None
        assert GLOBEX not in {row.key for row in outcome.snapshots[KPI].rows}
        assert run(DashboardRows(), outcome, r.monitor.config) == []


async def test_incomplete_fetch_shown_as_complete_and_dropped_pages(tmp_path: Path) -> None:
    outcome, config = await clean_outcome(tmp_path)
    key = RequestKey("sim", 2, Endpoint.SENDER_EMAILS)
    got = outcome.results[key]
    assert not isinstance(got, BaseException)
    whole = got.value.payload
    assert isinstance(whole, MailboxCollection) and whole.meta is not None
    # Page 2 of 2 silently lost: one mailbox short of meta.total, and the row says complete.
    short = MailboxCollection(whole.mailboxes[:2], whole.meta, pages_fetched=1)
    results = {**outcome.results, key: replace(got, value=replace(got.value, payload=short))}
    bad = with_rows(
        replace(outcome, results=results),
        INFRA,
        lambda rows: edit(rows, ACME, mailbox_count=2, mailboxes=()),
    )
    found = {f.subject: f for f in run(MailboxPageCounts(), bad, config)}
    assert found["sim/Acme Corp shown complete"].severity == "critical"
    assert "1 of 2 pages counted: 1 page(s) dropped" in found["sim/Acme Corp pages"].message
    assert "2 mailboxes gathered but meta.total says 3" in found["sim/Acme Corp count"].message
    assert "SHOWN AS COMPLETE" in found["sim/Acme Corp count"].message
    assert "is 5 but the rows add up to 4" in found["(totals) mailboxes"].message


async def test_window_sanity_holds_on_the_31st(tmp_path: Path) -> None:
    outcome, config = await clean_outcome(tmp_path)
    # On 31 October the MTD window (10-01..10-31) and the 30-day window (today-30 ..
    # today) are the same days: equal counts are sane; more MTD than 30-day is not.
    on_31st = replace(outcome, started_at=datetime(2026, 10, 31, 23, 0, tzinfo=UTC))
    equal = with_rows(on_31st, VOLUME, lambda rows: edit(rows, ACME, emails_last_30_days=1500))
    assert run(WindowSanity(), equal, config) == []
    more = with_rows(on_31st, VOLUME, lambda rows: edit(rows, ACME, emails_last_30_days=1400))
    (finding,) = run(WindowSanity(), more, config)
    assert finding.subject == "sim/Acme Corp emails <= emails_last_30_days"
