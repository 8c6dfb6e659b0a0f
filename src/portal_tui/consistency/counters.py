"""Rule: a month-to-date count never goes down within its month."""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar

from portal_tui.consistency.baselines import (
    ACCEPT_AFTER,
    fetched,
    held_since,
    holding,
    older_than,
    stamp,
)
from portal_tui.consistency.model import CheckContext, Finding, RuleResult, subject_of
from portal_tui.store.consistency_records import BaselineRecord
from portal_tui.vocabulary.names import Severity

EVENT_COUNTS = (
    "emails_sent",
    "total_leads_contacted",
    "opened",
    "unique_opens_per_contact",
    "unique_replies_per_contact",
    "bounced",
)
"""Counts of things that happened: sent is sent; only deleted data lowers them (error)."""

LABEL_COUNTS = ("interested", "unsubscribed")
"""Counts of leads by a label someone can take back (a lead un-marked interested): warning."""


class MonthToDateCounters:
    """The month-to-date counts of a workspace never go down within the month.

    Source of truth: the highest MTD stats counts seen for the workspace since
    the month (in the reporting time zone) began, remembered per workspace in
    ``consistency_baselines``. The MTD window only grows within a month, so
    every count in it can only stay or rise; a lower count means the upstream
    recounted, lost or deleted data. Event counts going down (emails sent,
    opened, bounced, ...) are errors; counts of labelled leads (interested,
    unsubscribed), which an operator can take back, are warnings. The
    highest counts are held while the drop lasts (the finding stays open) for
    up to 24 hours; then the new counts are accepted. A new month starts
    afresh. Judged per workspace on a good MTD response (not a failed or stale
    one).
    """

    name: ClassVar[str] = "mtd-counters"
    severity: ClassVar[Severity] = Severity.ERROR
    source: ClassVar[str] = "the highest month-to-date counts seen this month, per workspace"

    def run(self, ctx: CheckContext) -> RuleResult:
        """Compare each workspace's MTD counts with the highest seen this month."""
        result = RuleResult()
        month = ctx.windows.mtd.start.isoformat()
        for key, ws_name in sorted(ctx.outcome.workspace_names.items()):
            stats = ctx.stats(key, "stats_mtd")
            if stats is None:
                continue
            memory = f"{key[0]}/{key[1]}"
            before = ctx.previous.baseline(self.name, memory)
            at = ctx.stats_fetched_at(key, "stats_mtd")
            if older_than(before, at):
                continue  # older than what another process already compared: not judged
            scope = subject_of(key[0], ws_name)
            result.covered.add(scope)
            counts = {f: int(getattr(stats, f)) for f in (*EVENT_COUNTS, *LABEL_COUNTS)}
            highest = _highest(before, month)
            lower = {
                f: (highest[f], n) for f, n in counts.items() if f in highest and n < highest[f]
            }
            since = held_since(before) if lower else None
            if lower and (since is None or ctx.now - since < ACCEPT_AFTER):
                since = since or ctx.now
                kept = {f: max(highest.get(f, n), n) for f, n in counts.items()}
                value = holding({"month_start": month, "counts": kept}, since)
                result.findings.append(self._finding(scope, ws_name, lower, before, since))
            else:
                value = {"month_start": month, "counts": counts}
            result.baselines.append(BaselineRecord(self.name, memory, fetched(value, at), ctx.now))
        return result

    def _finding(
        self,
        scope: str,
        ws_name: str,
        lower: dict[str, tuple[int, int]],
        before: BaselineRecord | None,
        since: datetime,
    ) -> Finding:
        severity = Severity.ERROR if any(f in EVENT_COUNTS for f in lower) else Severity.WARNING
        drops = ", ".join(f"{f} {was} → {now}" for f, (was, now) in sorted(lower.items()))
        seen = (
            f" (highest seen this month, last checked {stamp(before.recorded_at)})"
            if before
            else ""
        )
        return Finding(
            self.name,
            severity,
            scope,
            f"{scope} MTD",
            f"{ws_name}: month-to-date counts went down within the month: {drops}{seen}; "
            f"first seen {stamp(since)}. The upstream recounted, lost or deleted data",
        )


def _highest(before: BaselineRecord | None, month: str) -> dict[str, int]:
    """The highest counts remembered for this month (none for another month)."""
    if before is None or before.value.get("month_start") != month:
        return {}
    counts = before.value.get("counts")
    if not isinstance(counts, dict):
        return {}
    return {str(k): int(v) for k, v in counts.items() if isinstance(v, int | float)}
