"""Volume dashboard: emails sent against each client's monthly sending target (SPEC section 3).

Inputs per workspace: the MTD, 7-day and 30-day stats (the very same requests
as KPI's, from :func:`portal_tui.dashboards.kpi.stats_needs`) and the sending
schedules for today and tomorrow. Percentages are percent (75.0 = 75 %) and
unrounded; the console formats them. Without a target every percentage is 0
and the status is ``No Target`` rather than a misleading ``Behind``.

Volume's sanity checks are soft: odd numbers (a negative count, MTD above the
30-day total, ...) are warnings and the row is still shown. Only a payload
that does not parse excludes the workspace.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from enum import StrEnum
from typing import Any

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
from portal_tui.dashboards.kpi import stats_needs
from portal_tui.dashboards.windows import ReportWindows
from portal_tui.upstream.endpoints import Endpoint
from portal_tui.upstream.models import SchedulesResponse, StatsResponse
from portal_tui.upstream.workspaces import WorkspaceRef
from portal_tui.vocabulary.names import DashboardName

MAX_MTD_EMAILS = 1_000_000
MAX_SCHEDULED_EMAILS = 100_000
MAX_TARGET_PERCENTAGE = 200.0

STATS_LABELS = ("stats_mtd", "stats_7d", "stats_30d")
SCHEDULE_LABELS = ("schedules_today", "schedules_tomorrow")


class PaceStatus(StrEnum):
    """Where the month's projection lands against the target."""

    ON_PACE = "On Pace"  # projected >= 100 % of target
    NEAR_TARGET = "Near Target"  # projected >= 80 %
    BEHIND = "Behind"
    NO_TARGET = "No Target"  # no sending target in the registry


class VolumeRow(WorkspaceRow):
    """One workspace on the Volume pane (and in ``check --json``).

    Counts are not constrained: a negative count is a warning here, not an exclusion.
    """

    emails: int = Field(description="MTD emails sent.")
    emails_today: int = Field(description="Sum of emails_being_sent, today's schedules.")
    emails_tomorrow: int = Field(description="Sum of emails_being_sent, tomorrow's schedules.")
    emails_last_7_days: int
    emails_last_30_days: int
    target: int = Field(ge=0, description="Emails per month (registry).")
    projection: int = Field(description="round(emails / day * dim).")
    target_percentage: float = Field(description="emails / target * 100; 0 without a target.")
    projected_percentage: float = Field(description="projection / target * 100.")
    daily_quota: int = Field(description="round(target / dim).")
    expected_by_now: int = Field(description="round(daily_quota * day).")
    is_on_track: bool = Field(description="emails >= expected_by_now.")
    status: PaceStatus


def percentage(value: int, target: int) -> float:
    """``value / target * 100``, or 0 when there is no target."""
    return value / target * 100 if target > 0 else 0.0


def pace_status(projected_percentage: float, target: int) -> PaceStatus:
    """On Pace at >= 100 % projected, Near Target at >= 80 %, else Behind."""
    if target <= 0:
        return PaceStatus.NO_TARGET
    if projected_percentage >= 100:
        return PaceStatus.ON_PACE
    if projected_percentage >= 80:
        return PaceStatus.NEAR_TARGET
    return PaceStatus.BEHIND


def soft_checks(row: VolumeRow) -> list[str]:
    """Volume's warnings for one row (SPEC section 3)."""
    warnings: list[str] = []
    for field_name in (
        "emails",
        "emails_today",
        "emails_tomorrow",
        "emails_last_7_days",
        "emails_last_30_days",
    ):
        value = getattr(row, field_name)
        if value < 0:
            warnings.append(f"negative count: {field_name} = {value}")
    if row.emails > row.emails_last_30_days:
        warnings.append(
            f"MTD emails exceed 30-day emails: {row.emails} > {row.emails_last_30_days}"
        )
    if row.emails_last_7_days > row.emails_last_30_days:
        warnings.append(
            "7-day emails exceed 30-day emails: "
            f"{row.emails_last_7_days} > {row.emails_last_30_days}"
        )
    if row.emails > MAX_MTD_EMAILS:
        warnings.append(f"unusually high MTD emails: {row.emails}")
    for day, value in (("today", row.emails_today), ("tomorrow", row.emails_tomorrow)):
        if value > MAX_SCHEDULED_EMAILS:
            warnings.append(f"unusually high scheduled emails {day}: {value}")
    if row.emails == 0 and row.target > 0:
        warnings.append("zero emails sent but has a target")
    if row.target_percentage > MAX_TARGET_PERCENTAGE:
        warnings.append(f"at {row.target_percentage:.0f}% of target")
    return warnings


COLUMNS = (
    ColumnSpec("Pace", "status", "text"),
    ColumnSpec("MTD", "emails"),
    ColumnSpec("Target", "target"),
    ColumnSpec("Tgt%", "target_percentage", "pct"),
    ColumnSpec("Proj%", "projected_percentage", "pct"),
    ColumnSpec("Today", "emails_today"),
    ColumnSpec("Tmrw", "emails_tomorrow"),
    ColumnSpec("7d", "emails_last_7_days"),
    ColumnSpec("30d", "emails_last_30_days"),
    ColumnSpec("Quota/d", "daily_quota"),
    ColumnSpec("Expected", "expected_by_now"),
    ColumnSpec("On track", "is_on_track", "bool"),
)

TOTALS = TotalsSpec(
    kinds={
        "workspaces": "int",
        "emails": "int",
        "emails_today": "int",
        "emails_tomorrow": "int",
        "emails_last_7_days": "int",
        "emails_last_30_days": "int",
        "target": "int",
        "projection": "int",
        "target_percentage": "pct",
        "projected_percentage": "pct",
        "on_track": "int",
        "zero_emails": "int",
        # one count per PaceStatus
        "on_pace": "int",
        "near_target": "int",
        "behind": "int",
        "no_target": "int",
    },
    line="sent MTD {emails} of {target} · on pace {on_pace} · near {near_target}"
    " · behind {behind} · zero sent {zero_emails}",
)


class VolumeDashboard:
    """Emails sent and scheduled against the monthly sending target, per workspace."""

    name: DashboardName = DashboardName.VOLUME
    title: str = "Volume"
    tab_label: str = "Volume"
    default_ttl: float = 120.0
    columns: tuple[ColumnSpec, ...] = COLUMNS
    totals: TotalsSpec = TOTALS
    depends_on: tuple[DashboardName, ...] = ()
    row_model: type[VolumeRow] = VolumeRow

    def prepare(self, ctx: ComputeContext) -> ComputeContext:
        """The context as given: Volume reads no other dashboard."""
        return ctx

    def needs(self, windows: ReportWindows) -> Mapping[str, Need]:
        """``stats_mtd``, ``stats_7d``, ``stats_30d`` (KPI's requests), ``schedules_today``,
        ``schedules_tomorrow``."""
        stats = stats_needs(windows)
        needs: dict[str, Need] = {label: stats[label] for label in STATS_LABELS}
        needs["schedules_today"] = Need(Endpoint.SCHEDULES, (("day", "today"),))
        needs["schedules_tomorrow"] = Need(Endpoint.SCHEDULES, (("day", "tomorrow"),))
        return needs

    def compute(
        self, workspace: WorkspaceRef, inputs: Mapping[str, Any], ctx: ComputeContext
    ) -> RowOutcome[VolumeRow]:
        """One workspace's Volume row; soft checks become warnings."""
        outcome: RowOutcome[VolumeRow] = RowOutcome(row=None)
        if workspace.registry is None:
            outcome.warnings.append("no registry entry")
        stats: dict[str, StatsResponse] = {}
        for label in STATS_LABELS:
            payload, issues = read_input(
                inputs, label, StatsResponse, dashboard=self.name, workspace=workspace.name
            )
            outcome.issues.extend(issues)
            if payload is not None:
                stats[label] = payload
        scheduled: dict[str, int] = {}
        for label in SCHEDULE_LABELS:
            schedules, issues = read_input(
                inputs, label, SchedulesResponse, dashboard=self.name, workspace=workspace.name
            )
            outcome.issues.extend(issues)
            if schedules is not None:
                scheduled[label] = sum(s.emails_being_sent for s in schedules.data)
        if outcome.issues:
            return outcome

        day, dim = ctx.windows.day, ctx.windows.dim
        target = workspace.registry.monthly_sending_target if workspace.registry else 0
        emails = stats["stats_mtd"].data.emails_sent
        projection = round(emails / day * dim)
        projected_percentage = percentage(projection, target)
        daily_quota = round(target / dim)
        expected_by_now = round(daily_quota * day)
        values = {
            "instance": workspace.instance,
            "workspace_id": workspace.id,
            "workspace": workspace.name,
            "emails": emails,
            "emails_today": scheduled["schedules_today"],
            "emails_tomorrow": scheduled["schedules_tomorrow"],
            "emails_last_7_days": stats["stats_7d"].data.emails_sent,
            "emails_last_30_days": stats["stats_30d"].data.emails_sent,
            "target": target,
            "projection": projection,
            "target_percentage": percentage(emails, target),
            "projected_percentage": projected_percentage,
            "daily_quota": daily_quota,
            "expected_by_now": expected_by_now,
            "is_on_track": emails >= expected_by_now,
            "status": pace_status(projected_percentage, target),
        }
        try:
            row = VolumeRow.model_validate(values)
        except ValidationError as exc:
            outcome.issues = issues_from_validation_error(
                exc, dashboard=self.name, workspace=workspace.name
            )
            return outcome
        outcome.row = row
        outcome.warnings.extend(soft_checks(row))
        return outcome

    def summarize(self, rows: Sequence[VolumeRow], ctx: ComputeContext) -> Summary:
        """Sums across workspaces, overall percentages and a count per status."""
        emails = sum(r.emails for r in rows)
        target = sum(r.target for r in rows)
        projection = sum(r.projection for r in rows)
        totals: dict[str, Any] = {
            "workspaces": len(rows),
            "emails": emails,
            "emails_today": sum(r.emails_today for r in rows),
            "emails_tomorrow": sum(r.emails_tomorrow for r in rows),
            "emails_last_7_days": sum(r.emails_last_7_days for r in rows),
            "emails_last_30_days": sum(r.emails_last_30_days for r in rows),
            "target": target,
            "projection": projection,
            "target_percentage": percentage(emails, target),
            "projected_percentage": percentage(projection, target),
            "on_track": sum(1 for r in rows if r.is_on_track),
            "zero_emails": sum(1 for r in rows if r.emails == 0),
        }
        for status in PaceStatus:
            key = status.value.lower().replace(" ", "_")
            totals[key] = sum(1 for r in rows if r.status is status)
        return Summary(totals=totals)

    def rank(self, rows: Sequence[VolumeRow]) -> list[VolumeRow]:
        """On Pace first by target % descending; then Near Target, Behind and No Target,
        each by target % ascending (furthest behind first); workspaces that sent
        nothing this month last. Ties by name, instance and id."""
        group = {
            PaceStatus.ON_PACE: 0,
            PaceStatus.NEAR_TARGET: 1,
            PaceStatus.BEHIND: 2,
            PaceStatus.NO_TARGET: 3,
        }

        def key(r: VolumeRow) -> tuple[bool, int, float, str, str, int]:
            sign = -1.0 if r.status is PaceStatus.ON_PACE else 1.0
            zero = r.emails == 0
            return (
                zero,
                0 if zero else group[r.status],
                sign * r.target_percentage,
                r.workspace.casefold(),
                r.instance,
                r.workspace_id,
            )

        return sorted(rows, key=key)


VOLUME = VolumeDashboard()
"""The Volume dashboard."""
