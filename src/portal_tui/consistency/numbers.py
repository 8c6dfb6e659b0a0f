"""Rules about numbers: the same source agrees everywhere, and windows nest sanely."""

from __future__ import annotations

from typing import Any, ClassVar

from portal_tui.consistency.model import (
    CheckContext,
    Finding,
    RuleResult,
    capped,
    mailbox_value,
    subject_of,
)
from portal_tui.dashboards.base import WorkspaceRow
from portal_tui.dashboards.mailboxes import MailboxRow
from portal_tui.dashboards.registry import title_of
from portal_tui.dashboards.windows import DateWindow
from portal_tui.vocabulary.names import DashboardName, Severity

KPI, VOLUME, REVENUE = DashboardName.KPI, DashboardName.VOLUME, DashboardName.REVENUE

WINDOW_TEXT = {
    "stats_mtd": "MTD",
    "stats_7d": "7-day",
    "stats_30d": "30-day",
    "stats_last_month": "last-month",
}

# (dashboard, row field, stats window label, stats field): the row field is, by
# definition, that field of that window's stats response (SPEC section 3).
SAME_SOURCE: tuple[tuple[DashboardName, str, str, str], ...] = (
    (KPI, "leads_generated", "stats_mtd", "interested"),
    (KPI, "positive_replies_current_month", "stats_mtd", "interested"),
    (KPI, "positive_replies_last_7_days", "stats_7d", "interested"),
    (KPI, "positive_replies_last_30_days", "stats_30d", "interested"),
    (KPI, "positive_replies_last_month", "stats_last_month", "interested"),
    (KPI, "emails_sent", "stats_mtd", "emails_sent"),
    (KPI, "bounced", "stats_mtd", "bounced"),
    (VOLUME, "emails", "stats_mtd", "emails_sent"),
    (VOLUME, "emails_last_7_days", "stats_7d", "emails_sent"),
    (VOLUME, "emails_last_30_days", "stats_30d", "emails_sent"),
    (REVENUE, "leads", "stats_mtd", "interested"),
)


class SameSourceNumbers:
    """Every dashboard number taken from a stats response equals that response's field.

    Source of truth: the workspace's stats response for the window (MTD, 7-day,
    30-day, last month), fetched once per cycle and read by KPI, Volume and
    Revenue alike. So KPI ``leads_generated`` = Revenue ``leads`` = MTD
    ``interested``, and Volume ``emails`` = KPI ``emails_sent`` = MTD
    ``emails_sent``. Judged only for rows computed this cycle from a good
    response; a row kept stale after a failure, or a dashboard refreshed at
    another time from another response, may legitimately differ and is not
    compared.
    """

    name: ClassVar[str] = "same-source-numbers"
    severity: ClassVar[Severity] = Severity.ERROR
    source: ClassVar[str] = "the workspace's stats response for the window, read once per cycle"

    def run(self, ctx: CheckContext) -> RuleResult:
        """Compare each fresh row's number with its stats response, dashboard by dashboard."""
        result = RuleResult()
        fresh = _fresh_rows(ctx, (KPI, VOLUME, REVENUE))
        for board in (KPI, VOLUME, REVENUE):
            if board not in ctx.outcome.snapshots:
                continue
            result.covered.add(board.value)
            found: list[Finding] = []
            for key, row in fresh.get(board, {}).items():
                for pair_board, field, label, source_field in SAME_SOURCE:
                    if pair_board != board:
                        continue
                    stats = ctx.stats(key, label)
                    if stats is None:
                        continue
                    truth = getattr(stats, source_field)
                    shown = getattr(row, field)
                    if shown == truth:
                        continue
                    others = _siblings(fresh, board, key, label, source_field)
                    found.append(
                        Finding(
                            self.name,
                            self.severity,
                            board.value,
                            f"{subject_of(key[0], row.workspace)} {field}",
                            f"{title_of(board)} {field} is {shown} but the "
                            f"{WINDOW_TEXT[label]} stats response it was computed from says "
                            f"{source_field} = {truth}{others}",
                        )
                    )
            result.findings.extend(capped(found, rule=self.name, scope=board.value))
        return result


def _fresh_rows(
    ctx: CheckContext, boards: tuple[DashboardName, ...]
) -> dict[DashboardName, dict[tuple[str, int], WorkspaceRow]]:
    """Rows computed this cycle from good data (not kept stale), per dashboard and key."""
    fresh: dict[DashboardName, dict[tuple[str, int], WorkspaceRow]] = {}
    for board in boards:
        snap = ctx.outcome.snapshots.get(board)
        if snap is None:
            continue
        fresh[board] = {
            row.key: row
            for row in snap.rows
            if (meta := snap.row_meta.get(row.key)) is not None and not meta.stale
        }
    return fresh


def _siblings(
    fresh: dict[DashboardName, dict[tuple[str, int], WorkspaceRow]],
    board: DashboardName,
    key: tuple[str, int],
    label: str,
    source_field: str,
) -> str:
    """`` (Revenue leads = 27 from the same response)``: what the other dashboards show."""
    parts = []
    for other, field, other_label, other_source in SAME_SOURCE:
        if other == board or (other_label, other_source) != (label, source_field):
            continue
        row = fresh.get(other, {}).get(key)
        if row is not None:
            parts.append(f"{title_of(other)} {field} = {getattr(row, field)}")
    return f" ({'; '.join(sorted(set(parts)))} from the same response)" if parts else ""


# (dashboard, narrower field, its window, wider field, its window)
NESTED: tuple[tuple[DashboardName, str, str, str, str], ...] = (
    (VOLUME, "emails", "stats_mtd", "emails_last_30_days", "stats_30d"),
    (VOLUME, "emails_last_7_days", "stats_7d", "emails_last_30_days", "stats_30d"),
    (
        KPI,
        "positive_replies_current_month",
        "stats_mtd",
        "positive_replies_last_30_days",
        "stats_30d",
    ),
    (KPI, "positive_replies_last_7_days", "stats_7d", "positive_replies_last_30_days", "stats_30d"),
)


class WindowSanity:
    """A count over a window is no larger than the same count over a window containing it,
    and no count is negative.

    Source of truth: the date windows themselves (SPEC section 3, cut in the
    reporting time zone). A "≤" is asserted only when the narrower window
    really lies inside the wider one for this cycle's dates: with the SPEC's
    30-day window (today−30 .. today, 31 days) the MTD window always does,
    even on the 31st; were the 30-day window ever cut as 30 days, the MTD
    window on the 31st would be wider and MTD > 30-day would be legitimate,
    so that pair is then skipped instead of raising a false alarm. Judged on
    every row shown, stale ones included: they are what the engineer sees.
    The two responses are fetched moments apart, so a workspace sending in
    between can exceed by a handful; the finding says by how much.
    """

    name: ClassVar[str] = "window-sanity"
    severity: ClassVar[Severity] = Severity.ERROR
    source: ClassVar[str] = "the report date windows: a window inside another counts no more"

    def run(self, ctx: CheckContext) -> RuleResult:
        """Check nesting on KPI and Volume rows, signs on every dashboard refreshed."""
        result = RuleResult()
        windows = {
            "stats_mtd": ctx.windows.mtd,
            "stats_7d": ctx.windows.last_7_days,
            "stats_30d": ctx.windows.last_30_days,
        }
        for board in ctx.refreshed:
            result.covered.add(board.value)
            found: list[Finding] = []
            for row in ctx.outcome.snapshots[board].rows:
                who = subject_of(row.instance, row.workspace)
                for pair_board, narrow, n_label, wide, w_label in NESTED:
                    if pair_board != board or not _inside(windows[n_label], windows[w_label]):
                        continue
                    small, large = getattr(row, narrow), getattr(row, wide)
                    if small > large:
                        found.append(
                            Finding(
                                self.name,
                                Severity.WARNING,
                                board.value,
                                f"{who} {narrow} <= {wide}",
                                f"{title_of(board)}: {WINDOW_TEXT[n_label]} {narrow} = "
                                f"{small} exceeds {WINDOW_TEXT[w_label]} {wide} = {large} "
                                f"by {small - large}, though the {WINDOW_TEXT[n_label]} window "
                                "lies inside the other",
                            )
                        )
                negative = _negative_counts(row)
                if negative:
                    found.append(
                        Finding(
                            self.name,
                            self.severity,
                            board.value,
                            f"{who} negative",
                            f"{title_of(board)}: negative counts: {negative}",
                        )
                    )
            result.findings.extend(capped(found, rule=self.name, scope=board.value))
        return result


def _inside(narrow: DateWindow, wide: DateWindow) -> bool:
    return wide.start <= narrow.start and narrow.end <= wide.end


_MAILBOX_COUNTS = ("sent", "replied", "unique_replied", "bounced", "daily_limit")


def _negative_counts(row: WorkspaceRow) -> str:
    """``emails=-5, bounced=-1`` for every negative integer of the row (and its mailboxes)."""
    values: dict[str, Any] = row.model_dump(exclude={"mailboxes"})
    parts = [
        f"{k}={v}"
        for k, v in values.items()
        if isinstance(v, int) and not isinstance(v, bool) and v < 0
    ]
    mailboxes = getattr(row, "mailboxes", ())
    bad = 0
    for m in mailboxes:  # a hot loop at 50,000 mailboxes: attributes, not getattr
        if isinstance(m, MailboxRow):
            low = min(m.sent, m.replied, m.unique_replied, m.bounced, m.daily_limit)
        else:
            low = min(mailbox_value(m, c) or 0 for c in _MAILBOX_COUNTS)
        bad += low < 0
    if bad:
        parts.append(f"{bad} mailbox{'es' if bad != 1 else ''} with a negative count")
    return ", ".join(parts)
