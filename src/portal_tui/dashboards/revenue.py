"""Revenue dashboard: what each client brings in and costs this month (SPEC section 3).

Revenue needs only the MTD stats (the same request as KPI's). Its mailbox
costs are not fetched: Revenue depends on Infrastructure (computed before it)
and :meth:`RevenueDashboard.prepare` reads the latest Infrastructure snapshot
into ``ComputeContext.mailbox_costs``; their ``as_of`` time and age are
carried on the row so the console shows how old they are. A Revenue refresh
therefore never forces a full sender-email fetch.

Money is rounded to cents; percentages are percent and unrounded.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import Field, ValidationError

from portal_tui.dashboards.base import (
    ComputeContext,
    MailboxCost,
    Need,
    RowOutcome,
    Summary,
    WorkspaceRow,
    issues_from_validation_error,
    read_input,
)
from portal_tui.dashboards.declaration import ColumnSpec, TotalsSpec
from portal_tui.dashboards.kpi import stats_needs
from portal_tui.dashboards.snapshot import DashboardSnapshot
from portal_tui.dashboards.windows import ReportWindows
from portal_tui.upstream.models import StatsResponse
from portal_tui.upstream.workspaces import WorkspaceRef
from portal_tui.vocabulary.names import DashboardName

LOW_MARGIN = 20.0
"""A margin above 0 and below this percentage is "low profit margin"."""

MONEY = Annotated[float, Field(ge=0.0)]


def cents(amount: float) -> float:
    """Money rounded to cents (always a float, also for an empty sum)."""
    return round(float(amount), 2)


def margin(profit: float, revenue: float) -> float:
    """Profit as a percentage of revenue; 0 when there is no revenue."""
    return profit / revenue * 100 if revenue > 0 else 0.0


class RevenueRow(WorkspaceRow):
    """One workspace on the Revenue pane (and in ``check --json``)."""

    billing_type: Literal["per_lead", "retainer"] | None = Field(
        description="From the registry; None without a registry entry."
    )
    leads: int = Field(ge=0, description="MTD interested leads.")
    price_per_lead: MONEY
    retainer_amount: MONEY
    revenue: MONEY = Field(description="Retainer amount, or leads * price_per_lead.")
    mailbox_costs: MONEY = Field(description="Sum of mailbox prices from Infrastructure.")
    mailbox_costs_as_of: datetime | None = Field(
        description="When that Infrastructure data was fetched; None if there is none yet."
    )
    mailbox_costs_age_seconds: float | None = Field(ge=0.0, description="Age of mailbox_costs.")
    mailbox_costs_needs_review: int = Field(ge=0, description="Mailboxes with unknown price.")
    monthly_costs: MONEY = Field(description="Fixed monthly costs (registry).")
    costs: MONEY = Field(description="mailbox_costs + monthly_costs.")
    profit: float = Field(description="revenue - costs.")
    profit_margin: float = Field(description="profit / revenue * 100; 0 without revenue.")
    monthly_kpi: int = Field(ge=0)
    kpi_progress: float = Field(ge=0.0, description="leads / kpi * 100; 0 without a KPI.")
    leads_remaining: int = Field(ge=0, description="max(0, kpi - leads).")


COLUMNS = (
    ColumnSpec("Billing", "billing_type", "text"),
    ColumnSpec("Leads", "leads"),
    ColumnSpec("Revenue", "revenue", "money"),
    ColumnSpec("Costs", "costs", "money"),
    ColumnSpec("Profit", "profit", "money"),
    ColumnSpec("Margin", "profit_margin", "pct1"),
    ColumnSpec("KPI%", "kpi_progress", "pct"),
    ColumnSpec("Left", "leads_remaining"),
    ColumnSpec("Mailbox $", "mailbox_costs", "money"),
    ColumnSpec("Fixed $", "monthly_costs", "money"),
)

TOTALS = TotalsSpec(
    kinds={
        "clients": "int",
        "leads": "int",
        "revenue": "money",
        "per_lead_revenue": "money",
        "retainer_revenue": "money",
        "mailbox_costs": "money",
        "monthly_costs": "money",
        "costs": "money",
        "profit": "money",
        "profit_margin": "pct1",
        "daily_average_revenue": "money",
        "projected_revenue": "money",
        "leads_remaining": "int",
        "mailbox_costs_oldest_as_of": "time",
        "mailbox_costs_missing": "int",
    },
    line="revenue {revenue} · costs {costs} · profit {profit} ({profit_margin})"
    " · EOM {projected_revenue} · mailbox costs {mailbox_costs_oldest_as_of} old",
)


def mailbox_costs(snapshot: DashboardSnapshot) -> dict[tuple[str, int], MailboxCost]:
    """Per-workspace mailbox costs from an Infrastructure snapshot, with their data's time."""
    costs: dict[tuple[str, int], MailboxCost] = {}
    for row in snapshot.rows:
        key = (row.instance, row.workspace_id)
        meta = snapshot.row_meta.get(key)
        costs[key] = MailboxCost(
            amount=float(getattr(row, "mailbox_cost", 0.0)),
            as_of=meta.fetched_at if meta else snapshot.fetched_at,
            needs_review=int(getattr(row, "needs_review", 0)),
        )
    return costs


class RevenueDashboard:
    """Revenue, costs and profit per client for the month to date."""

    name: DashboardName = DashboardName.REVENUE
    title: str = "Revenue"
    tab_label: str = "Revenue"
    default_ttl: float = 300.0
    columns: tuple[ColumnSpec, ...] = COLUMNS
    totals: TotalsSpec = TOTALS
    depends_on: tuple[DashboardName, ...] = (DashboardName.INFRASTRUCTURE,)
    """Its mailbox costs are Infrastructure's (its stats are KPI's request, shared by the
    plan, not KPI's result: no dependency)."""
    row_model: type[RevenueRow] = RevenueRow

    def prepare(self, ctx: ComputeContext) -> ComputeContext:
        """Mailbox costs from the latest Infrastructure snapshot (none: costs unknown)."""
        infra = ctx.upstream.get(DashboardName.INFRASTRUCTURE)
        return replace(ctx, mailbox_costs=mailbox_costs(infra)) if infra is not None else ctx

    def needs(self, windows: ReportWindows) -> Mapping[str, Need]:
        """``stats_mtd`` only: mailbox costs come from the context, not a fetch."""
        return {"stats_mtd": stats_needs(windows)["stats_mtd"]}

    def compute(
        self, workspace: WorkspaceRef, inputs: Mapping[str, Any], ctx: ComputeContext
    ) -> RowOutcome[RevenueRow]:
        """One workspace's Revenue row, or its exclusion with field-level issues."""
        outcome: RowOutcome[RevenueRow] = RowOutcome(row=None)
        entry = workspace.registry
        if entry is None:
            outcome.warnings.append("no registry entry")
        stats, issues = read_input(
            inputs, "stats_mtd", StatsResponse, dashboard=self.name, workspace=workspace.name
        )
        if stats is None:
            outcome.issues = issues
            return outcome

        leads = stats.data.interested
        price_per_lead = entry.price_per_lead if entry else 0.0
        retainer_amount = entry.retainer_amount if entry else 0.0
        if entry is not None and entry.billing_type == "retainer":
            revenue = cents(retainer_amount)
        else:
            revenue = cents(leads * price_per_lead)
        mailbox = ctx.mailbox_costs.get(workspace.key)
        if mailbox is None:
            outcome.warnings.append("mailbox costs unknown: no Infrastructure data yet")
            mailbox_costs, as_of, needs_review = 0.0, None, 0
        else:
            mailbox_costs = cents(mailbox.amount)
            as_of, needs_review = mailbox.as_of, mailbox.needs_review
            if needs_review:
                outcome.warnings.append(
                    f"mailbox costs incomplete: {needs_review} mailbox"
                    f"{'es' if needs_review != 1 else ''} without a known price"
                )
        age = None if as_of is None else max(0.0, (ctx.now - as_of).total_seconds())
        monthly_costs = cents(entry.monthly_costs) if entry else 0.0
        costs = cents(mailbox_costs + monthly_costs)
        profit = cents(revenue - costs)
        profit_margin = margin(profit, revenue)
        kpi = entry.monthly_kpi if entry else 0
        values = {
            "instance": workspace.instance,
            "workspace_id": workspace.id,
            "workspace": workspace.name,
            "billing_type": entry.billing_type if entry else None,
            "leads": leads,
            "price_per_lead": price_per_lead,
            "retainer_amount": retainer_amount,
            "revenue": revenue,
            "mailbox_costs": mailbox_costs,
            "mailbox_costs_as_of": as_of,
            "mailbox_costs_age_seconds": age,
            "mailbox_costs_needs_review": needs_review,
            "monthly_costs": monthly_costs,
            "costs": costs,
            "profit": profit,
            "profit_margin": profit_margin,
            "monthly_kpi": kpi,
            "kpi_progress": leads / kpi * 100 if kpi > 0 else 0.0,
            "leads_remaining": max(0, kpi - leads),
        }
        if profit_margin < 0:
            outcome.warnings.append(f"negative profit margin: {profit_margin:.1f}%")
        elif 0 < profit_margin < LOW_MARGIN:
            outcome.warnings.append(f"low profit margin: {profit_margin:.1f}%")
        try:
            outcome.row = RevenueRow.model_validate(values)
        except ValidationError as exc:
            outcome.issues = issues_from_validation_error(
                exc, dashboard=self.name, workspace=workspace.name
            )
        return outcome

    def summarize(self, rows: Sequence[RevenueRow], ctx: ComputeContext) -> Summary:
        """Totals across clients, the daily average and the projected month.

        ``daily_average_revenue`` = total revenue / day and ``projected_revenue``
        = daily average * dim, as the portal computes them (note that this
        projects retainers too; ``retainer_revenue`` is given so a reader can
        tell how much of the total is fixed).
        """
        revenue = cents(sum(r.revenue for r in rows))
        costs = cents(sum(r.costs for r in rows))
        profit = cents(revenue - costs)
        daily = revenue / ctx.windows.day
        dated = [r.mailbox_costs_as_of for r in rows if r.mailbox_costs_as_of is not None]
        totals: dict[str, Any] = {
            "clients": len(rows),
            "leads": sum(r.leads for r in rows),
            "revenue": revenue,
            "per_lead_revenue": cents(sum(r.revenue for r in rows if r.billing_type != "retainer")),
            "retainer_revenue": cents(sum(r.revenue for r in rows if r.billing_type == "retainer")),
            "mailbox_costs": cents(sum(r.mailbox_costs for r in rows)),
            "monthly_costs": cents(sum(r.monthly_costs for r in rows)),
            "costs": costs,
            "profit": profit,
            "profit_margin": margin(profit, revenue),
            "daily_average_revenue": cents(daily),
            "projected_revenue": cents(daily * ctx.windows.dim),
            "leads_remaining": sum(r.leads_remaining for r in rows),
            "mailbox_costs_oldest_as_of": min(dated) if dated else None,
            "mailbox_costs_missing": sum(1 for r in rows if r.mailbox_costs_as_of is None),
        }
        return Summary(totals=totals)

    def rank(self, rows: Sequence[RevenueRow]) -> list[RevenueRow]:
        """Least profitable first (losses on top), then by revenue descending;
        ties by name, instance and id."""
        return sorted(
            rows,
            key=lambda r: (
                r.profit,
                -r.revenue,
                r.workspace.casefold(),
                r.instance,
                r.workspace_id,
            ),
        )


REVENUE = RevenueDashboard()
"""The Revenue dashboard."""
