"""Rule: a workspace's mailboxes, or an instance's workspaces, do not vanish between cycles."""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar

from portal_tui.consistency.baselines import (
    ACCEPT_AFTER,
    fetched,
    held_since,
    holding,
    older_than,
    share,
    stamp,
)
from portal_tui.consistency.model import CheckContext, Finding, RuleResult, subject_of
from portal_tui.dashboards.mailboxes import InfrastructureRow
from portal_tui.store.consistency_records import BaselineRecord
from portal_tui.vocabulary.names import DashboardName, Severity

MIN_MAILBOXES = 5
"""A workspace with fewer mailboxes than this before is not judged (2 → 0 is ordinary)."""
MIN_WORKSPACES = 3
"""An instance listing fewer workspaces than this before is not judged."""


class SharpDrops:
    """A workspace's mailbox count, or an instance's workspace list, does not collapse
    from one cycle to the next.

    Source of truth: the count the previous cycles saw (remembered per
    workspace and per instance in ``consistency_baselines``) and the
    ``[consistency]`` thresholds: more than ``mailbox_drop_ratio`` (default
    0.5) of a workspace's mailboxes, or more than ``workspace_drop_ratio``
    (default 0.25) of an instance's listed workspaces, gone at once is an
    error: mailboxes disconnected or moved en masse, a token that now sees
    another account, an upstream that answers with empty lists. The count
    before the drop is held while it lasts (up to 24 hours, then the new
    count is the baseline). Mailbox counts are judged on complete fetches
    only (a short fetch is ``mailbox-pages``'s finding); the workspace list when
    it was read well (not a stale copy kept after a failure).
    """

    name: ClassVar[str] = "sharp-drop"
    severity: ClassVar[Severity] = Severity.ERROR
    source: ClassVar[str] = "the counts previous cycles saw, and the [consistency] drop ratios"

    def run(self, ctx: CheckContext) -> RuleResult:
        """Compare mailbox counts (Infrastructure) and workspace lists with the last cycles'."""
        result = RuleResult()
        self._mailboxes(ctx, result)
        self._workspaces(ctx, result)
        return result

    def _mailboxes(self, ctx: CheckContext, result: RuleResult) -> None:
        snap = ctx.outcome.snapshots.get(DashboardName.INFRASTRUCTURE)
        if snap is None:
            return
        ratio = ctx.config.consistency.mailbox_drop_ratio
        for row in snap.rows:
            meta = snap.row_meta.get(row.key)
            if not isinstance(row, InfrastructureRow) or meta is None or meta.stale:
                continue
            if not row.complete:
                continue
            scope = subject_of(row.instance, row.workspace)
            result.covered.add(scope)
            self._judge(
                ctx,
                result,
                scope=scope,
                memory=f"mailboxes {row.instance}/{row.workspace_id}",
                count=row.mailbox_count,
                ratio=ratio,
                least=MIN_MAILBOXES,
                what=f"{row.workspace}: mailboxes",
                subject=f"{scope} mailboxes",
                knob="mailbox_drop_ratio",
                at=meta.fetched_at,
            )

    def _workspaces(self, ctx: CheckContext, result: RuleResult) -> None:
        ratio = ctx.config.consistency.workspace_drop_ratio
        outcome = ctx.outcome
        for instance, found in sorted(outcome.discoveries.items()):
            # Only a list read well this cycle (or fresh from the cache): a stale one
            # after a failure is reported by its failure.
            if not found.listed or instance in outcome.list_errors:
                continue
            if instance in outcome.unreachable:
                continue
            result.covered.add(instance)
            self._judge(
                ctx,
                result,
                scope=instance,
                memory=f"workspaces {instance}",
                count=found.listed_count,
                ratio=ratio,
                least=MIN_WORKSPACES,
                what=f"{instance}: workspaces listed by the API",
                subject=f"{instance} (workspace list)",
                knob="workspace_drop_ratio",
            )

    def _judge(
        self,
        ctx: CheckContext,
        result: RuleResult,
        *,
        scope: str,
        memory: str,
        count: int,
        ratio: float,
        least: int,
        what: str,
        subject: str,
        knob: str,
        at: datetime | None = None,
    ) -> None:
        before = ctx.previous.baseline(self.name, memory)
        if older_than(before, at):
            result.covered.discard(scope)  # overtaken by a fresher fetch: not judged
            return
        was = _count(before)
        dropped = was is not None and was >= least and (was - count) > ratio * was
        since = held_since(before) if dropped else None
        if was is not None and dropped and (since is None or ctx.now - since < ACCEPT_AFTER):
            since = since or ctx.now
            value = holding({"count": was}, since)
            result.findings.append(
                self._finding(scope, subject, what, was, count, ratio, knob, since)
            )
        else:
            value = {"count": count}
        result.baselines.append(BaselineRecord(self.name, memory, fetched(value, at), ctx.now))

    def _finding(
        self,
        scope: str,
        subject: str,
        what: str,
        was: int,
        count: int,
        ratio: float,
        knob: str,
        since: datetime,
    ) -> Finding:
        return Finding(
            self.name,
            self.severity,
            scope,
            subject,
            f"{what} fell from {was} to {count} ({share(was - count, was)} gone; "
            f"{knob} = {ratio:g}) since {stamp(since)}: disconnected or moved en masse, a token "
            "that now sees another account, or an upstream answering with empty lists",
        )


def _count(baseline: BaselineRecord | None) -> int | None:
    value = None if baseline is None else baseline.value.get("count")
    return int(value) if isinstance(value, int | float) else None
