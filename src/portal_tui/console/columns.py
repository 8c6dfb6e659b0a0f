"""Which fields each dashboard pane shows, in order, and how each is formatted.

Declarative on purpose: adding a column is adding a line here. The first
two columns of every workspace table (row state and workspace name) are
added by :mod:`portal_tui.console.render`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from typing import Any, Literal

from portal_tui.console.format import (
    NONE,
    fmt_bool,
    fmt_int,
    fmt_money,
    fmt_pct,
    fmt_ratio,
)
from portal_tui.console.table_model import Column
from portal_tui.vocabulary.names import DashboardName

Kind = Literal["int", "pct", "pct1", "ratio", "money", "text", "bool"]


def _text(value: Any) -> str:
    if value is None:
        return NONE
    if isinstance(value, Enum):
        return str(value.value)
    return str(value)


FORMATTERS: dict[Kind, Callable[[Any], str]] = {
    "int": fmt_int,
    "pct": fmt_pct,
    "pct1": lambda v: fmt_pct(v, 1),
    "ratio": fmt_ratio,
    "money": fmt_money,
    "text": _text,
    "bool": fmt_bool,
}


@dataclass(frozen=True, slots=True)
class FieldSpec:
    """One data column: its label, the row attribute it reads, and its kind."""

    label: str
    attr: str
    kind: Kind = "int"

    def column(self) -> Column:
        """The table column for this field."""
        numeric = self.kind not in ("text", "bool")
        return Column(self.attr, self.label, align="right" if numeric else "left", numeric=numeric)

    def cell(self, row: Any) -> tuple[str, Any]:
        """(display text, sort value) for ``row``."""
        value = getattr(row, self.attr, None)
        sort = value.value if isinstance(value, Enum) else value
        return FORMATTERS[self.kind](value), sort


KPI_FIELDS = (
    FieldSpec("Leads", "leads_generated"),
    FieldSpec("KPI", "monthly_kpi"),
    FieldSpec("Prog", "current_progress", "ratio"),
    FieldSpec("Proj", "projected_replies"),
    FieldSpec("Proj%", "replies_progress", "ratio"),
    FieldSpec("7d", "positive_replies_last_7_days"),
    FieldSpec("30d", "positive_replies_last_30_days"),
    FieldSpec("LastMo", "positive_replies_last_month"),
    FieldSpec("Sent", "emails_sent"),
    FieldSpec("Bounced", "bounced"),
)

VOLUME_FIELDS = (
    FieldSpec("Pace", "status", "text"),
    FieldSpec("MTD", "emails"),
    FieldSpec("Target", "target"),
    FieldSpec("Tgt%", "target_percentage", "pct"),
    FieldSpec("Proj%", "projected_percentage", "pct"),
    FieldSpec("Today", "emails_today"),
    FieldSpec("Tmrw", "emails_tomorrow"),
    FieldSpec("7d", "emails_last_7_days"),
    FieldSpec("30d", "emails_last_30_days"),
    FieldSpec("Quota/d", "daily_quota"),
    FieldSpec("Expected", "expected_by_now"),
    FieldSpec("On track", "is_on_track", "bool"),
)

REVENUE_FIELDS = (
    FieldSpec("Billing", "billing_type", "text"),
    FieldSpec("Leads", "leads"),
    FieldSpec("Revenue", "revenue", "money"),
    FieldSpec("Costs", "costs", "money"),
    FieldSpec("Profit", "profit", "money"),
    FieldSpec("Margin", "profit_margin", "pct1"),
    FieldSpec("KPI%", "kpi_progress", "pct"),
    FieldSpec("Left", "leads_remaining"),
    FieldSpec("Mailbox $", "mailbox_costs", "money"),
    FieldSpec("Fixed $", "monthly_costs", "money"),
)

INFRASTRUCTURE_FIELDS = (
    FieldSpec("Boxes", "mailbox_count"),
    FieldSpec("Conn", "connected"),
    FieldSpec("NotConn", "not_connected"),
    FieldSpec("Cap/day", "daily_capacity"),
    FieldSpec("Sent", "emails_sent"),
    FieldSpec("Reply%", "reply_rate", "pct1"),
    FieldSpec("Bounce%", "bounce_rate", "pct1"),
    FieldSpec("0-reply", "zero_reply_mailboxes"),
    FieldSpec("Cost", "mailbox_cost", "money"),
    FieldSpec("Review", "needs_review"),
    FieldSpec("Complete", "complete", "bool"),
)

FIELDS: dict[DashboardName, tuple[FieldSpec, ...]] = {
    DashboardName.KPI: KPI_FIELDS,
    DashboardName.VOLUME: VOLUME_FIELDS,
    DashboardName.REVENUE: REVENUE_FIELDS,
    DashboardName.INFRASTRUCTURE: INFRASTRUCTURE_FIELDS,
}

MAILBOX_COLUMNS = (
    Column("address", "Address", width=30),
    Column("workspace", "Workspace", width=20),
    Column("status", "Status", width=15),
    Column("limit", "Limit", align="right", width=6, numeric=True),
    Column("sent", "Sent", align="right", width=7, numeric=True),
    Column("replied", "Replied", align="right", width=8, numeric=True),
    Column("bounced", "Bounced", align="right", width=8, numeric=True),
    Column("reply", "Reply%", align="right", width=7, numeric=True),
    Column("provider", "Provider", width=12),
    Column("reseller", "Reseller", width=12),
    Column("price", "Price", align="right", width=9, numeric=True),
)
"""Fixed widths: a 50,000-row table is never measured."""
