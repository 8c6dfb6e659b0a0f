"""KPI dashboard: interested leads against each client's monthly KPI (SPEC section 3).

Inputs per workspace are four stats windows (MTD, last 7 days, last 30 days,
last month). ``leads_generated`` is the MTD ``interested`` count; the month is
projected linearly: ``round(leads / day * dim)``. Ratios are plain ratios
(0.4 = 40 %); a workspace without a KPI target has both ratios at 0.

Validation: the row is built through :class:`KpiRow`, whose constraints are
the SPEC's (names non-empty, counts non-negative integers, ratios in
[0, 10]). A row that fails is excluded and every failing field is reported;
the other workspaces go on.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Annotated, Any

from pydantic import Field, ValidationError

from portal_tui.dashboards.base import (
    ComputeContext,
    Need,
    RowOutcome,
    Summary,
    WorkspaceRow,
    issues_from_validation_error,
    read_input,
)
from portal_tui.dashboards.declaration import ColumnSpec, TotalsSpec
from portal_tui.dashboards.windows import ReportWindows
from portal_tui.upstream.endpoints import Endpoint
from portal_tui.upstream.models import StatsResponse
from portal_tui.upstream.workspaces import WorkspaceRef
from portal_tui.vocabulary.names import DashboardName

UNUSUALLY_HIGH_LEADS = 1000
"""More MTD interested leads than this is suspicious ("unusually high leads: N")."""

NON_NEGATIVE = Annotated[int, Field(ge=0)]
RATIO = Annotated[float, Field(ge=0.0, le=10.0)]

STATS_LABELS = ("stats_mtd", "stats_7d", "stats_30d", "stats_last_month")


def stats_needs(windows: ReportWindows) -> dict[str, Need]:
    """Every stats window a dashboard may read, by label.

    KPI, Volume and Revenue all take their stats needs from here, so equal
    labels are equal requests and the cycle fetches each window once.
    """
    return {
        "stats_mtd": Need(Endpoint.STATS, windows.mtd.params()),
        "stats_7d": Need(Endpoint.STATS, windows.last_7_days.params()),
        "stats_30d": Need(Endpoint.STATS, windows.last_30_days.params()),
        "stats_last_month": Need(Endpoint.STATS, windows.last_month.params()),
    }


class KpiRow(WorkspaceRow):
    """One workspace on the KPI pane (and in ``check --json``)."""

    leads_generated: NON_NEGATIVE = Field(description="MTD interested leads.")
    projected_replies: NON_NEGATIVE = Field(description="round(leads / day * dim).")
    monthly_kpi: NON_NEGATIVE = Field(description="Interested leads per month (registry).")
    current_progress: RATIO = Field(description="leads / kpi; 0 without a target.")
    replies_progress: RATIO = Field(description="projected / kpi; 0 without a target.")
    positive_replies_last_7_days: NON_NEGATIVE
    positive_replies_last_30_days: NON_NEGATIVE
    positive_replies_current_month: NON_NEGATIVE
    positive_replies_last_month: NON_NEGATIVE
    emails_sent: NON_NEGATIVE = Field(description="MTD emails sent.")
    bounced: NON_NEGATIVE = Field(description="MTD bounces.")


def progress(value: int, target: int) -> float:
    """``value / target``, or 0 when there is no target."""
    return value / target if target > 0 else 0.0


COLUMNS = (
    ColumnSpec("Leads", "leads_generated"),
    ColumnSpec("KPI", "monthly_kpi"),
    ColumnSpec("Prog", "current_progress", "ratio"),
    ColumnSpec("Proj", "projected_replies"),
    ColumnSpec("Proj%", "replies_progress", "ratio"),
    ColumnSpec("7d", "positive_replies_last_7_days"),
    ColumnSpec("30d", "positive_replies_last_30_days"),
    ColumnSpec("LastMo", "positive_replies_last_month"),
    ColumnSpec("Sent", "emails_sent"),
    ColumnSpec("Bounced", "bounced"),
)

TOTALS = TotalsSpec(
    kinds={
        "workspaces": "int",
        "without_target": "int",
        "leads_generated": "int",
        "monthly_kpi": "int",
        "projected_replies": "int",
        "current_progress": "ratio",
        "replies_progress": "ratio",
        "positive_replies_last_7_days": "int",
        "positive_replies_last_30_days": "int",
        "positive_replies_current_month": "int",
        "positive_replies_last_month": "int",
        "emails_sent": "int",
        "bounced": "int",
    },
    line="leads {leads_generated} of KPI {monthly_kpi} · projected {projected_replies}"
    " · no target {without_target}",
)


class KpiDashboard:
    """Interested leads against the monthly KPI, per workspace."""

    name: DashboardName = DashboardName.KPI
    title: str = "KPI"
    tab_label: str = "KPI"
    default_ttl: float = 120.0
    columns: tuple[ColumnSpec, ...] = COLUMNS
    totals: TotalsSpec = TOTALS
    depends_on: tuple[DashboardName, ...] = ()
    row_model: type[KpiRow] = KpiRow

    def prepare(self, ctx: ComputeContext) -> ComputeContext:
        """The context as given: KPI reads no other dashboard."""
        return ctx

    def needs(self, windows: ReportWindows) -> Mapping[str, Need]:
        """``stats_mtd``, ``stats_7d``, ``stats_30d``, ``stats_last_month``."""
        return stats_needs(windows)

    def compute(
        self, workspace: WorkspaceRef, inputs: Mapping[str, Any], ctx: ComputeContext
    ) -> RowOutcome[KpiRow]:
        """One workspace's KPI row, or its exclusion with field-level issues."""
        warnings: list[str] = []
        if workspace.registry is None:
            # Without an entry the KPI is 0 by construction; one warning says why.
            warnings.append("no registry entry")
        stats: dict[str, StatsResponse] = {}
        outcome: RowOutcome[KpiRow] = RowOutcome(row=None, warnings=warnings)
        for label in STATS_LABELS:
            payload, issues = read_input(
                inputs, label, StatsResponse, dashboard=self.name, workspace=workspace.name
            )
            outcome.issues.extend(issues)
            if payload is not None:
                stats[label] = payload
        if outcome.issues:
            return outcome

        mtd = stats["stats_mtd"].data
        kpi = workspace.registry.monthly_kpi if workspace.registry is not None else 0
        leads = mtd.interested
        projected = round(leads / ctx.windows.day * ctx.windows.dim)
        values = {
            "instance": workspace.instance,
            "workspace_id": workspace.id,
            "workspace": workspace.name,
            "leads_generated": leads,
            "projected_replies": projected,
            "monthly_kpi": kpi,
            "current_progress": progress(leads, kpi),
            "replies_progress": progress(projected, kpi),
            "positive_replies_last_7_days": stats["stats_7d"].data.interested,
            "positive_replies_last_30_days": stats["stats_30d"].data.interested,
            "positive_replies_current_month": leads,
            "positive_replies_last_month": stats["stats_last_month"].data.interested,
            "emails_sent": mtd.emails_sent,
            "bounced": mtd.bounced,
        }
        if workspace.registry is not None and kpi == 0:
            warnings.append("no KPI target set")
        if leads > UNUSUALLY_HIGH_LEADS:
            warnings.append(f"unusually high leads: {leads}")
        try:
            outcome.row = KpiRow.model_validate(values)
        except ValidationError as exc:
            outcome.issues = issues_from_validation_error(
                exc, dashboard=self.name, workspace=workspace.name
            )
        return outcome

    def summarize(self, rows: Sequence[KpiRow], ctx: ComputeContext) -> Summary:
        """Sums across workspaces; overall ratios are total leads over total KPI."""
        leads = sum(r.leads_generated for r in rows)
        kpi = sum(r.monthly_kpi for r in rows)
        projected = sum(r.projected_replies for r in rows)
        totals: dict[str, Any] = {
            "workspaces": len(rows),
            "without_target": sum(1 for r in rows if r.monthly_kpi == 0),
            "leads_generated": leads,
            "monthly_kpi": kpi,
            "projected_replies": projected,
            "current_progress": progress(leads, kpi),
            "replies_progress": progress(projected, kpi),
            "positive_replies_last_7_days": sum(r.positive_replies_last_7_days for r in rows),
            "positive_replies_last_30_days": sum(r.positive_replies_last_30_days for r in rows),
            "positive_replies_current_month": sum(r.positive_replies_current_month for r in rows),
            "positive_replies_last_month": sum(r.positive_replies_last_month for r in rows),
            "emails_sent": sum(r.emails_sent for r in rows),
            "bounced": sum(r.bounced for r in rows),
        }
        return Summary(totals=totals)

    def rank(self, rows: Sequence[KpiRow]) -> list[KpiRow]:
        """Worst first: workspaces with a KPI by projected progress ascending, then
        workspaces without a KPI; ties by name, instance and id."""
        return sorted(
            rows,
            key=lambda r: (
                r.monthly_kpi == 0,
                r.replies_progress,
                r.current_progress,
                r.workspace.casefold(),
                r.instance,
                r.workspace_id,
            ),
        )


KPI = KpiDashboard()
"""The KPI dashboard."""
