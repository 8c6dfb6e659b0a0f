"""Revenue dashboard: hand-computed money, margin warnings, cost age, totals, rank."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from portal_tui.config import ClientEntry, Config
from portal_tui.dashboards.base import ComputeContext, MailboxCost
from portal_tui.dashboards.kpi import KPI
from portal_tui.dashboards.revenue import REVENUE, RevenueRow
from portal_tui.dashboards.windows import report_windows
from portal_tui.upstream.models import StatsResponse
from portal_tui.upstream.workspaces import WorkspaceRef
from portal_tui.vocabulary.validation import ValidationErrorType

# 20 November 2026: day = 20, dim = 30.
NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
WINDOWS = report_windows(NOW, ZoneInfo("UTC"))
FIVE_MINUTES_AGO = NOW - timedelta(minutes=5)


def stats(leads: Any) -> dict[str, Any]:
    fields = (
        "emails_sent",
        "total_leads_contacted",
        "opened",
        "opened_percentage",
        "unique_opens_per_contact",
        "unique_opens_per_contact_percentage",
        "unique_replies_per_contact",
        "unique_replies_per_contact_percentage",
        "bounced",
        "bounced_percentage",
        "unsubscribed",
        "unsubscribed_percentage",
        "interested_percentage",
    )
    data: dict[str, Any] = dict.fromkeys(fields, 0)
    data["interested"] = leads
    return {"stats_mtd": StatsResponse.model_validate({"data": data})}


def ctx(costs: dict[tuple[str, int], MailboxCost] | None = None) -> ComputeContext:
    return ComputeContext(windows=WINDOWS, config=Config(), now=NOW, mailbox_costs=costs or {})


def ws(name: str = "Acme", wid: int = 7, **entry: Any) -> WorkspaceRef:
    registry = ClientEntry(name=name, **entry) if entry else None
    return WorkspaceRef(instance="main", id=wid, name=name, registry=registry)


def cost(amount: float, wid: int = 7, review: int = 0) -> dict[tuple[str, int], MailboxCost]:
    return {("main", wid): MailboxCost(amount=amount, as_of=FIVE_MINUTES_AGO, needs_review=review)}


PER_LEAD: dict[str, Any] = {"price_per_lead": 75.0, "monthly_costs": 1500.0, "monthly_kpi": 100}


def row_of(workspace: WorkspaceRef, leads: int, context: ComputeContext) -> RevenueRow:
    outcome = REVENUE.compute(workspace, stats(leads), context)
    assert outcome.issues == []
    assert outcome.row is not None
    return outcome.row


def test_per_lead_client_every_number_by_hand() -> None:
    outcome = REVENUE.compute(ws(**PER_LEAD), stats(40), ctx(cost(450.0)))
    assert outcome.warnings == []
    assert outcome.issues == []
    assert outcome.row is not None
    assert outcome.row.model_dump() == {
        "instance": "main",
        "workspace_id": 7,
        "workspace": "Acme",
        "billing_type": "per_lead",
        "leads": 40,
        "price_per_lead": 75.0,
        "retainer_amount": 0.0,
        "revenue": 3000.0,  # 40 * 75
        "mailbox_costs": 450.0,
        "mailbox_costs_as_of": FIVE_MINUTES_AGO,
        "mailbox_costs_age_seconds": 300.0,
        "mailbox_costs_needs_review": 0,
        "monthly_costs": 1500.0,
        "costs": 1950.0,  # 450 + 1500
        "profit": 1050.0,  # 3000 - 1950
        "profit_margin": 35.0,  # 1050 / 3000 * 100
        "monthly_kpi": 100,
        "kpi_progress": 40.0,  # 40 / 100 * 100
        "leads_remaining": 60,  # 100 - 40
    }


def test_needs_only_kpis_mtd_stats() -> None:
    assert dict(REVENUE.needs(WINDOWS)) == {"stats_mtd": KPI.needs(WINDOWS)["stats_mtd"]}


def test_retainer_ignores_leads_and_low_margin_warns() -> None:
    entry: dict[str, Any] = {
        "billing_type": "retainer",
        "retainer_amount": 5000.0,
        "price_per_lead": 75.0,
    }
    outcome = REVENUE.compute(ws(monthly_costs=4000.0, **entry), stats(40), ctx(cost(450.0)))
    row = outcome.row
    assert row is not None
    assert row.revenue == 5000.0
    assert row.costs == 4450.0  # 450 + 4000
    assert row.profit == 550.0  # 5000 - 4450
    assert row.profit_margin == 11.0  # 550 / 5000 * 100
    assert outcome.warnings == ["low profit margin: 11.0%"]


@pytest.mark.parametrize(
    ("leads", "price", "mailbox", "fixed", "margin", "warnings"),
    [
        (16, 50.0, 300.0, 600.0, -12.5, ["negative profit margin: -12.5%"]),  # -100 / 800
        (20, 50.0, 280.0, 600.0, 12.0, ["low profit margin: 12.0%"]),  # 120 / 1000
        (20, 50.0, 200.0, 600.0, 20.0, []),  # 200 / 1000: not low
        (0, 50.0, 200.0, 600.0, 0.0, []),  # no revenue: margin 0, no warning
        (20, 50.0, 400.0, 600.0, 0.0, []),  # profit 0: margin exactly 0
    ],
)
def test_margin_warnings(
    leads: int, price: float, mailbox: float, fixed: float, margin: float, warnings: list[str]
) -> None:
    workspace = ws(price_per_lead=price, monthly_costs=fixed)
    outcome = REVENUE.compute(workspace, stats(leads), ctx(cost(mailbox)))
    assert outcome.row is not None
    assert outcome.row.profit_margin == margin
    assert outcome.warnings == warnings


def test_leads_remaining_never_negative_and_no_kpi_progress_is_zero() -> None:
    over = row_of(ws(price_per_lead=10.0, monthly_kpi=100), 120, ctx(cost(0.0)))
    assert over.leads_remaining == 0  # max(0, 100 - 120)
    assert over.kpi_progress == 120.0
    no_kpi = row_of(ws(price_per_lead=10.0), 120, ctx(cost(0.0)))
    assert (no_kpi.kpi_progress, no_kpi.leads_remaining) == (0.0, 0)


def test_without_infrastructure_data_costs_are_unknown_not_silently_zero() -> None:
    outcome = REVENUE.compute(ws(**PER_LEAD), stats(40), ctx())
    row = outcome.row
    assert row is not None
    assert (row.mailbox_costs, row.mailbox_costs_as_of, row.mailbox_costs_age_seconds) == (
        0.0,
        None,
        None,
    )
    assert row.costs == 1500.0
    assert outcome.warnings == ["mailbox costs unknown: no Infrastructure data yet"]


def test_mailboxes_needing_review_are_mentioned() -> None:
    outcome = REVENUE.compute(ws(**PER_LEAD), stats(40), ctx(cost(450.0, review=3)))
    assert outcome.row is not None
    assert outcome.row.mailbox_costs_needs_review == 3
    assert outcome.warnings == ["mailbox costs incomplete: 3 mailboxes without a known price"]


def test_registry_less_workspace() -> None:
    outcome = REVENUE.compute(ws(), stats(40), ctx(cost(90.0)))
    row = outcome.row
    assert row is not None
    assert outcome.warnings == ["no registry entry"]
    assert (row.billing_type, row.revenue, row.monthly_costs, row.costs) == (None, 0.0, 0.0, 90.0)
    assert (row.profit, row.profit_margin, row.monthly_kpi) == (-90.0, 0.0, 0)


def test_negative_leads_exclude_with_field_issues() -> None:
    outcome = REVENUE.compute(ws(**PER_LEAD), stats(-2), ctx(cost(450.0)))
    assert outcome.row is None
    assert {(i.field_name, i.error_type) for i in outcome.issues} == {
        ("leads", ValidationErrorType.RANGE_ERROR),
        ("revenue", ValidationErrorType.RANGE_ERROR),  # -2 * 75
        ("kpi_progress", ValidationErrorType.RANGE_ERROR),  # -2 / 100 * 100
    }


def test_unparseable_stats_exclude() -> None:
    outcome = REVENUE.compute(ws(**PER_LEAD), {"stats_mtd": {"data": {}}}, ctx())
    assert outcome.row is None
    assert ("stats_mtd.data.interested", ValidationErrorType.MISSING_FIELD) in {
        (i.field_name, i.error_type) for i in outcome.issues
    }


def test_summarize_totals_daily_average_and_projection_by_hand() -> None:
    context = ctx({**cost(450.0, wid=1), **cost(450.0, wid=2)})
    a = row_of(ws("A", wid=1, **PER_LEAD), 40, context)  # revenue 3000, costs 1950
    retainer: dict[str, Any] = {
        "billing_type": "retainer",
        "retainer_amount": 5000.0,
        "monthly_costs": 4000.0,
    }
    b = row_of(ws("B", wid=2, monthly_kpi=50, **retainer), 40, context)  # 5000, costs 4450
    c = row_of(ws("C", wid=3), 5, context)  # no registry, no mailbox data
    summary = REVENUE.summarize([a, b, c], context)
    assert summary.warnings == {}
    assert summary.totals == {
        "clients": 3,
        "leads": 85,  # 40 + 40 + 5
        "revenue": 8000.0,  # 3000 + 5000 + 0
        "per_lead_revenue": 3000.0,
        "retainer_revenue": 5000.0,
        "mailbox_costs": 900.0,  # 450 + 450
        "monthly_costs": 5500.0,  # 1500 + 4000
        "costs": 6400.0,  # 1950 + 4450
        "profit": 1600.0,  # 8000 - 6400
        "profit_margin": 20.0,  # 1600 / 8000 * 100
        "daily_average_revenue": 400.0,  # 8000 / 20
        "projected_revenue": 12000.0,  # 400 * 30
        "leads_remaining": 70,  # (100 - 40) + (50 - 40) + 0
        "mailbox_costs_oldest_as_of": FIVE_MINUTES_AGO,
        "mailbox_costs_missing": 1,
    }


def test_rank_least_profitable_first() -> None:
    context = ctx()
    loss = row_of(ws("Loss", wid=1, price_per_lead=10.0, monthly_costs=500.0), 10, context)
    small = row_of(ws("Small", wid=2, price_per_lead=10.0), 10, context)  # profit 100
    big = row_of(ws("Big", wid=3, price_per_lead=100.0), 10, context)  # profit 1000
    even_a = row_of(ws("Even", wid=4, price_per_lead=0.0), 10, context)  # profit 0
    assert [r.workspace for r in REVENUE.rank([big, small, even_a, loss])] == [
        "Loss",
        "Even",
        "Small",
        "Big",
    ]
