"""Rule: Infrastructure's counts agree with the pages they were gathered from."""

from __future__ import annotations

from typing import ClassVar

from portal_tui.consistency.model import CheckContext, Finding, RuleResult, capped, subject_of
from portal_tui.dashboards.mailboxes import InfrastructureRow
from portal_tui.dashboards.snapshot import DashboardSnapshot
from portal_tui.upstream.endpoints import Endpoint, RequestKey
from portal_tui.upstream.mailboxes import MailboxCollection
from portal_tui.vocabulary.names import DashboardName, Severity

INFRA = DashboardName.INFRASTRUCTURE


class MailboxPageCounts:
    """Mailbox counts agree with ``meta.total``, every page arrived, and an incomplete
    fetch is never shown as complete.

    Source of truth: the sender-emails pagination ``meta`` (``total``,
    ``last_page``) the API sent with page 1. Per workspace: the mailboxes
    gathered equal ``meta.total`` (a cap such as the portal's 1,000 rows shows
    here); pages counted equal ``meta.last_page`` (none silently dropped); the
    row holds as many mailboxes as the pages did; a row whose data is short
    says ``complete = false`` (critical if it claims otherwise); pagination
    anomalies (a ``links.next`` that loops, a page that is another page) are
    reported. The dashboard totals must add up to the rows. Rows kept stale
    after a failure are judged on what they carry.
    """

    name: ClassVar[str] = "mailbox-pages"
    severity: ClassVar[Severity] = Severity.CRITICAL
    source: ClassVar[str] = "sender-emails pagination meta (total, last_page) of page 1"

    def run(self, ctx: CheckContext) -> RuleResult:
        """Judge every row of a refreshed Infrastructure snapshot, then its totals."""
        result = RuleResult()
        snap = ctx.outcome.snapshots.get(INFRA)
        if snap is None:
            return result
        result.covered.add(INFRA.value)
        found: list[Finding] = []
        for row in snap.rows:
            if isinstance(row, InfrastructureRow):
                found.extend(self._row(ctx, snap, row))
        found.extend(self._totals(snap))
        result.findings.extend(capped(found, rule=self.name, scope=INFRA.value))
        return result

    def _finding(self, row: InfrastructureRow, what: str, severity: Severity, text: str) -> Finding:
        return Finding(
            self.name,
            severity,
            INFRA.value,
            f"{subject_of(row.instance, row.workspace)} {what}",
            f"{row.workspace}: {text}",
        )

    def _row(
        self, ctx: CheckContext, snap: DashboardSnapshot, row: InfrastructureRow
    ) -> list[Finding]:
        found: list[Finding] = []
        meta = snap.row_meta.get(row.key)
        stale = meta is None or meta.stale
        kept = " (row kept from earlier data)" if stale else ""
        expected = row.expected_mailboxes
        if expected is not None and row.mailbox_count != expected:
            shown = "shown as incomplete" if not row.complete else "SHOWN AS COMPLETE"
            found.append(
                self._finding(
                    row,
                    "count",
                    Severity.ERROR,
                    f"{row.mailbox_count} mailboxes gathered but meta.total says {expected} "
                    f"({abs(expected - row.mailbox_count)} "
                    f"{'missing' if expected > row.mailbox_count else 'too many'}; {shown})" + kept,
                )
            )
        collection = None if stale else _collection(ctx, row)
        complete = row.complete if collection is None else collection.complete
        if row.complete and (
            not complete or (expected is not None and row.mailbox_count != expected)
        ):
            found.append(
                self._finding(
                    row,
                    "shown complete",
                    Severity.CRITICAL,
                    "an incomplete mailbox fetch is shown as complete",
                )
            )
        if collection is None:
            return found
        if collection.meta is not None and collection.pages_fetched < collection.meta.last_page:
            found.append(
                self._finding(
                    row,
                    "pages",
                    Severity.ERROR,
                    f"{collection.pages_fetched} of {collection.meta.last_page} pages counted: "
                    f"{collection.meta.last_page - collection.pages_fetched} page(s) dropped",
                )
            )
        if row.mailbox_count != len(collection.mailboxes):
            found.append(
                self._finding(
                    row,
                    "row",
                    Severity.ERROR,
                    f"the row counts {row.mailbox_count} mailboxes but its pages held "
                    f"{len(collection.mailboxes)}",
                )
            )
        if collection.anomalies:
            found.append(
                self._finding(
                    row,
                    "pagination",
                    Severity.WARNING,
                    "pagination anomaly: " + "; ".join(collection.anomalies),
                )
            )
        return found

    def _totals(self, snap: DashboardSnapshot) -> list[Finding]:
        rows = [r for r in snap.rows if isinstance(r, InfrastructureRow)]
        checks = (
            ("mailboxes", sum(r.mailbox_count for r in rows)),
            ("incomplete_workspaces", sum(1 for r in rows if not r.complete)),
        )
        found = []
        for total, actual in checks:
            shown = snap.totals.get(total)
            if shown is not None and shown != actual:
                found.append(
                    Finding(
                        self.name,
                        Severity.ERROR,
                        INFRA.value,
                        f"(totals) {total}",
                        f"Infrastructure total {total} is {shown} but the rows add up to {actual}",
                    )
                )
        return found


def _collection(ctx: CheckContext, row: InfrastructureRow) -> MailboxCollection | None:
    got = ctx.good(RequestKey(row.instance, row.workspace_id, Endpoint.SENDER_EMAILS))
    if got is None or not isinstance(got.value.payload, MailboxCollection):
        return None
    return got.value.payload
