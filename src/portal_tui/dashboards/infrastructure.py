"""Infrastructure dashboard: every sender email (mailbox) of every workspace (SPEC section 3).

The input per workspace is the whole sender-email collection
(:class:`~portal_tui.upstream.mailboxes.MailboxCollection`). Each mailbox
becomes a :class:`~portal_tui.dashboards.mailboxes.MailboxRow` and each
workspace an :class:`~portal_tui.dashboards.mailboxes.InfrastructureRow`
carrying its mailboxes (both in :mod:`portal_tui.dashboards.mailboxes`).

Provider and reseller come from the mailbox's tags (case-insensitive):

* provider: a tag naming one (``Google``, ``Gmail``, ``Google Workspace``,
  ``GSuite`` -> Google; ``Microsoft``, ``Outlook``, ``Office365``, ``O365``,
  ``Microsoft 365`` -> Microsoft), else the sender's ``type`` when it says
  google / microsoft / outlook, ``SMTP`` when it says smtp or imap, else
  ``Unknown``;
* reseller and price: :mod:`portal_tui.dashboards.pricing`.

An incomplete collection (pages missing, or fewer mailboxes than
``meta.total``) is shown with ``complete = False`` and a warning, never as
complete. Duplicate addresses across workspaces are found in
:meth:`InfrastructureDashboard.summarize` and reported on every workspace
that holds one; nothing is de-duplicated.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from portal_tui.dashboards.base import (
    ComputeContext,
    MailboxCost,
    Need,
    RowOutcome,
    Summary,
    issues_from_validation_error,
    read_input,
)
from portal_tui.dashboards.declaration import ColumnSpec, TotalsSpec
from portal_tui.dashboards.mailboxes import (
    InfrastructureRow,
    MailboxRow,
    is_connected,
    listing,
    percent,
    plural,
    provider_of,
)
from portal_tui.dashboards.pricing import PriceTable, domain_of
from portal_tui.dashboards.windows import ReportWindows
from portal_tui.upstream.endpoints import Endpoint
from portal_tui.upstream.mailboxes import MailboxCollection
from portal_tui.upstream.workspaces import WorkspaceRef
from portal_tui.vocabulary.names import DashboardName

ZERO_REPLY_MIN_SENT = 50
"""A mailbox with no reply after this many sends counts as a zero-reply mailbox."""

COLUMNS = (
    ColumnSpec("Boxes", "mailbox_count"),
    ColumnSpec("Conn", "connected"),
    ColumnSpec("NotConn", "not_connected"),
    ColumnSpec("Cap/day", "daily_capacity"),
    ColumnSpec("Sent", "emails_sent"),
    ColumnSpec("Reply%", "reply_rate", "pct1"),
    ColumnSpec("Bounce%", "bounce_rate", "pct1"),
    ColumnSpec("0-reply", "zero_reply_mailboxes"),
    ColumnSpec("Cost", "mailbox_cost", "money"),
    ColumnSpec("Review", "needs_review"),
    ColumnSpec("Complete", "complete", "bool"),
)

TOTALS = TotalsSpec(
    kinds={
        "workspaces": "int",
        "incomplete_workspaces": "int",
        "mailboxes": "int",
        "connected": "int",
        "not_connected": "int",
        "daily_capacity": "int",
        "connected_daily_capacity": "int",
        "emails_sent": "int",
        "reply_rate": "pct1",
        "bounce_rate": "pct1",
        "zero_reply_mailboxes": "int",
        "mailbox_cost": "money",
        "needs_review": "int",
        "duplicate_addresses": "int",
        "shared_domains": "int",
        "shared_domain_overcount": "money",
    },
    line="{mailboxes} mailboxes · {not_connected} not connected · {daily_capacity}/day"
    " · cost {mailbox_cost} · dup addresses {duplicate_addresses}",
)


class InfrastructureDashboard:
    """Mailboxes, their health and their cost, per workspace."""

    name: DashboardName = DashboardName.INFRASTRUCTURE
    title: str = "Infrastructure"
    tab_label: str = "Infra"
    default_ttl: float = 600.0
    columns: tuple[ColumnSpec, ...] = COLUMNS
    totals: TotalsSpec = TOTALS
    depends_on: tuple[DashboardName, ...] = ()
    row_model: type[InfrastructureRow] = InfrastructureRow

    def prepare(self, ctx: ComputeContext) -> ComputeContext:
        """The context as given: Infrastructure reads no other dashboard."""
        return ctx

    def needs(self, windows: ReportWindows) -> Mapping[str, Need]:
        """``mailboxes``: every page of sender-emails."""
        return {"mailboxes": Need(Endpoint.SENDER_EMAILS)}

    def compute(
        self, workspace: WorkspaceRef, inputs: Mapping[str, Any], ctx: ComputeContext
    ) -> RowOutcome[InfrastructureRow]:
        """One workspace's Infrastructure row with its mailbox rows."""
        outcome: RowOutcome[InfrastructureRow] = RowOutcome(row=None)
        warnings = outcome.warnings
        if workspace.registry is None:
            warnings.append("no registry entry")
        collection, issues = read_input(
            inputs, "mailboxes", MailboxCollection, dashboard=self.name, workspace=workspace.name
        )
        if collection is None:
            outcome.issues = issues
            return outcome

        boxes = collection.mailboxes
        name = workspace.name
        table = PriceTable(ctx.config.pricing)
        tag_names = [tuple([t.name for t in m.tags]) for m in boxes]
        prices = table.prices([m.email for m in boxes], [table.match(t) for t in tag_names])
        providers: dict[tuple[tuple[str, ...], str | None], str] = {}
        rows: list[MailboxRow] = []
        statuses: dict[str, int] = {}
        not_connected: list[str] = []
        review: list[str] = []
        negative: list[str] = []
        capacity = connected_capacity = sent_total = unique_total = bounced_total = 0
        zero_reply = 0
        cost = 0.0
        # One pass, few calls: this loop is the cost of the cycle at 50,000 mailboxes.
        for m, names, p in zip(boxes, tag_names, prices, strict=True):
            sent, unique, bounced = m.emails_sent_count, m.unique_replied_count, m.bounced_count
            replied, limit, status = m.total_replied_count, m.daily_limit, m.status
            provider = providers.get((names, m.type))
            if provider is None:
                provider = providers[(names, m.type)] = provider_of(names, m.type)
            rows.append(
                MailboxRow(
                    m.id,
                    m.email,
                    name,
                    status,
                    limit,
                    sent,
                    replied,
                    unique,
                    bounced,
                    unique / sent * 100 if sent > 0 else 0.0,
                    provider,
                    p.reseller,
                    p.price,
                    p.needs_review,
                    p.domain_share,
                )
            )
            statuses[status] = statuses.get(status, 0) + 1
            capacity += limit
            if status == "Connected" or is_connected(status):
                connected_capacity += limit
            else:
                not_connected.append(f"{m.email} ({status})")
            sent_total += sent
            unique_total += unique
            bounced_total += bounced
            if unique == 0 and sent >= ZERO_REPLY_MIN_SENT:
                zero_reply += 1
            cost += p.price
            if p.needs_review:
                review.append(m.email)
            if sent < 0 or unique < 0 or replied < 0 or bounced < 0 or limit < 0:
                negative.append(m.email)

        meta = collection.meta
        complete = collection.complete
        if not complete:
            expected = f"{meta.total}" if meta is not None else "?"
            pages = f"{meta.last_page}" if meta is not None else "?"
            warnings.append(
                f"incomplete mailbox fetch: {len(boxes)} of {expected} mailboxes "
                f"({collection.pages_fetched} of {pages} pages)"
            )
        warnings.extend(f"pagination anomaly: {a}" for a in collection.anomalies)
        if not_connected:
            warnings.append(
                f"mailbox status not Connected: {plural(len(not_connected), 'mailbox')}: "
                f"{listing(not_connected)}"
            )
        if review:
            warnings.append(
                f"pricing needs review: {plural(len(review), 'mailbox')} without a known "
                f"reseller tag: {listing(review)}"
            )
        if negative:
            warnings.append(
                f"negative mailbox counts: {plural(len(negative), 'mailbox')}: {listing(negative)}"
            )
        addresses = [m.email.strip().casefold() for m in boxes]
        if len(set(addresses)) != len(addresses):
            repeated = Counter(addresses)
            twice = [f"{a} ({n} times)" for a, n in repeated.items() if n > 1]
            warnings.append(f"duplicate address within workspace: {listing(twice)}")

        values = {
            "instance": workspace.instance,
            "workspace_id": workspace.id,
            "workspace": name,
            "complete": complete,
            "mailbox_count": len(rows),
            "expected_mailboxes": meta.total if meta is not None else None,
            "pages_fetched": collection.pages_fetched,
            "connected": len(rows) - len(not_connected),
            "not_connected": len(not_connected),
            "status_counts": statuses,
            "daily_capacity": capacity,
            "connected_daily_capacity": connected_capacity,
            "emails_sent": sent_total,
            "unique_replied": unique_total,
            "bounced": bounced_total,
            "reply_rate": percent(unique_total, sent_total),
            "bounce_rate": percent(bounced_total, sent_total),
            "zero_reply_mailboxes": zero_reply,
            "mailbox_cost": round(cost, 2),
            "needs_review": len(review),
            "mailboxes": tuple(rows),
        }
        try:
            outcome.row = InfrastructureRow.model_validate(values)
        except ValidationError as exc:
            outcome.issues = issues_from_validation_error(exc, dashboard=self.name, workspace=name)
        return outcome

    def summarize(self, rows: Sequence[InfrastructureRow], ctx: ComputeContext) -> Summary:
        """Totals, plus the findings that need every workspace: the same address in
        several workspaces (on each of them) and per-domain prices counted in
        several workspaces."""
        summary = Summary()
        duplicates = _duplicate_addresses(rows, summary)
        shared, overcount = _shared_domains(rows, summary)
        sent = sum(r.emails_sent for r in rows)
        summary.totals = {
            "workspaces": len(rows),
            "incomplete_workspaces": sum(1 for r in rows if not r.complete),
            "mailboxes": sum(r.mailbox_count for r in rows),
            "connected": sum(r.connected for r in rows),
            "not_connected": sum(r.not_connected for r in rows),
            "daily_capacity": sum(r.daily_capacity for r in rows),
            "connected_daily_capacity": sum(r.connected_daily_capacity for r in rows),
            "emails_sent": sent,
            "reply_rate": percent(sum(r.unique_replied for r in rows), sent),
            "bounce_rate": percent(sum(r.bounced for r in rows), sent),
            "zero_reply_mailboxes": sum(r.zero_reply_mailboxes for r in rows),
            "mailbox_cost": round(sum((r.mailbox_cost for r in rows), 0.0), 2),
            "needs_review": sum(r.needs_review for r in rows),
            "duplicate_addresses": duplicates,
            "shared_domains": shared,
            "shared_domain_overcount": overcount,
        }
        return summary

    def rank(self, rows: Sequence[InfrastructureRow]) -> list[InfrastructureRow]:
        """Trouble first: incomplete fetches, then most mailboxes not Connected, then
        highest bounce rate; ties by name, instance and id."""
        return sorted(
            rows,
            key=lambda r: (
                r.complete,
                -r.not_connected,
                -r.bounce_rate,
                r.workspace.casefold(),
                r.instance,
                r.workspace_id,
            ),
        )


def _label(row: InfrastructureRow, seen_from: InfrastructureRow) -> str:
    if row.instance == seen_from.instance:
        return row.workspace
    return f"{row.workspace} on {row.instance}"


def _duplicate_addresses(rows: Sequence[InfrastructureRow], summary: Summary) -> int:
    """Warn on every workspace holding an address another workspace also holds."""
    first: dict[str, int] = {}
    holders: dict[str, list[int]] = {}
    for index, row in enumerate(rows):
        for mailbox in row.mailboxes:
            address = mailbox.address.strip().casefold()
            owner = first.setdefault(address, index)
            if owner == index:
                continue
            found = holders.setdefault(address, [owner])
            if found[-1] != index:
                found.append(index)
    per_row: dict[int, list[str]] = {}
    for address, indexes in holders.items():
        for index in indexes:
            others = [_label(rows[i], rows[index]) for i in indexes if i != index]
            per_row.setdefault(index, []).append(f"{address} (also in {', '.join(others)})")
    for index, found_here in per_row.items():
        summary.warnings.setdefault(rows[index].workspace, []).append(
            f"duplicate address across workspaces: {listing(found_here)}"
        )
    return len(holders)


def _shared_domains(rows: Sequence[InfrastructureRow], summary: Summary) -> tuple[int, float]:
    """Warn where a per-domain price is counted in several workspaces; return the
    number of such domains and the money counted more than once."""
    groups: dict[tuple[str, str], dict[int, float]] = {}
    for index, row in enumerate(rows):
        for mailbox in row.mailboxes:
            if mailbox.domain_share > 0 and mailbox.reseller is not None:
                key = (mailbox.reseller, domain_of(mailbox.address))
                groups.setdefault(key, {})[index] = mailbox.price * mailbox.domain_share
    shared = 0
    overcount = 0.0
    for (reseller, domain), by_row in groups.items():
        if len(by_row) < 2:
            continue
        shared += 1
        price = max(by_row.values())
        overcount += price * (len(by_row) - 1)
        for index in by_row:
            others = [_label(rows[i], rows[index]) for i in by_row if i != index]
            summary.warnings.setdefault(rows[index].workspace, []).append(
                f"per-domain price counted in each workspace: {domain} ({reseller} "
                f"${price:.2f}, also in {', '.join(others)})"
            )
    return shared, round(overcount, 2)


def mailbox_costs(
    rows: Iterable[InfrastructureRow], as_of: datetime | None
) -> dict[tuple[str, int], MailboxCost]:
    """``ComputeContext.mailbox_costs`` from Infrastructure rows fetched at ``as_of``."""
    return {
        (r.instance, r.workspace_id): MailboxCost(r.mailbox_cost, as_of, r.needs_review)
        for r in rows
    }


INFRASTRUCTURE = InfrastructureDashboard()
"""The Infrastructure dashboard."""
