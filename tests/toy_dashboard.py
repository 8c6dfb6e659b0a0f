"""A fifth dashboard, whole, in one module: bounces per workspace, against KPI's leads.

It exists to prove that a dashboard is one module plus one registry line
(``test_fifth_dashboard.py``): nothing in ``src/`` names it. It reads the
MTD stats (the very request KPI makes, so the plan fetches it once) and,
through its declared dependency, the KPI snapshot of the same cycle.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import Field

from portal_tui.dashboards.base import ComputeContext, Need, RowOutcome, Summary, WorkspaceRow
from portal_tui.dashboards.declaration import ColumnSpec, TotalsSpec
from portal_tui.dashboards.kpi import stats_needs
from portal_tui.dashboards.windows import ReportWindows
from portal_tui.upstream.models import StatsResponse
from portal_tui.upstream.workspaces import WorkspaceRef
from portal_tui.vocabulary.names import DashboardName

NAME = DashboardName("bounces")


class BounceRow(WorkspaceRow):
    """One workspace on the Bounces pane."""

    emails_sent: int = Field(ge=0)
    bounced: int = Field(ge=0)
    bounce_rate: float = Field(ge=0.0, description="bounced / sent * 100; 0 when nothing sent.")
    kpi_leads: int | None = Field(description="KPI's leads for the workspace (its snapshot).")


class BounceDashboard:
    """Bounces per workspace (a toy: the test's fifth dashboard)."""

    name: DashboardName = NAME
    title: str = "Bounces"
    tab_label: str = "Bounces"
    default_ttl: float = 240.0
    columns: tuple[ColumnSpec, ...] = (
        ColumnSpec("Sent", "emails_sent"),
        ColumnSpec("Bounced", "bounced"),
        ColumnSpec("Bounce%", "bounce_rate", "pct1"),
        ColumnSpec("KPI leads", "kpi_leads"),
    )
    totals: TotalsSpec = TotalsSpec(
        kinds={"workspaces": "int", "emails_sent": "int", "bounced": "int", "bounce_rate": "pct1"},
        line="bounced {bounced} of {emails_sent} sent ({bounce_rate}) · toy dashboard",
    )
    depends_on: tuple[DashboardName, ...] = (DashboardName.KPI,)
    row_model: type[BounceRow] = BounceRow

    def prepare(self, ctx: ComputeContext) -> ComputeContext:
        """Nothing to derive: :meth:`compute` reads KPI's rows from ``ctx.upstream``."""
        return ctx

    def needs(self, windows: ReportWindows) -> Mapping[str, Need]:
        """``stats_mtd``: KPI's request."""
        return {"stats_mtd": stats_needs(windows)["stats_mtd"]}

    def compute(
        self, workspace: WorkspaceRef, inputs: Mapping[str, Any], ctx: ComputeContext
    ) -> RowOutcome[BounceRow]:
        """One workspace's bounces and its KPI leads."""
        stats = inputs["stats_mtd"]
        assert isinstance(stats, StatsResponse)
        kpi = ctx.upstream.get(DashboardName.KPI)
        leads = {row.key: getattr(row, "leads_generated", None) for row in kpi.rows} if kpi else {}
        sent, bounced = stats.data.emails_sent, stats.data.bounced
        row = BounceRow(
            instance=workspace.instance,
            workspace_id=workspace.id,
            workspace=workspace.name,
            emails_sent=sent,
            bounced=bounced,
            bounce_rate=bounced / sent * 100 if sent else 0.0,
            kpi_leads=leads.get(workspace.key),
        )
        return RowOutcome(row=row)

    def summarize(self, rows: Sequence[BounceRow], ctx: ComputeContext) -> Summary:
        """Sums and the overall rate."""
        sent = sum(r.emails_sent for r in rows)
        bounced = sum(r.bounced for r in rows)
        return Summary(
            totals={
                "workspaces": len(rows),
                "emails_sent": sent,
                "bounced": bounced,
                "bounce_rate": bounced / sent * 100 if sent else 0.0,
            }
        )

    def rank(self, rows: Sequence[BounceRow]) -> list[BounceRow]:
        """Highest bounce rate first."""
        return sorted(rows, key=lambda r: (-r.bounce_rate, r.workspace.casefold()))


BOUNCES = BounceDashboard()
