"""Rule: a content checksum per dashboard tells changed data from a new timestamp.

Two digests per dashboard and cycle:

* the **content checksum**: SHA-256 over the rows (sorted by workspace,
  every field except times and ages), so a refresh that brings the same
  numbers gives the same checksum whatever its timestamps;
* the **source digest**: SHA-256 over everything those rows are computed
  from: the content of every upstream response the dashboard read (its
  validated payload, hashed; a failure or a stale fallback by its kind), the
  workspace set, the registry, pricing and time zone from the config, and,
  for Revenue, the mailbox costs taken from Infrastructure.

"The source says nothing changed" means: the source digest equals last
cycle's. Then:

* content changed, source unchanged: the rows moved though nothing they are
  computed from did; non-deterministic computation, or an input not
  accounted for. A **warning** (it resolves on the next stable cycle, and the
  record keeps when it happened);
* content unchanged, source changed or re-fetched: "same data, new
  timestamp", the normal case. The checksum's ``changed_at`` stays put and
  refreshes that brought new upstream responses are counted, so a dashboard
  whose numbers have not moved for :data:`FROZEN_AFTER` across at least
  :data:`FROZEN_REFRESHES` fresh fetches is reported (**info**): fresh
  timestamps over frozen data is how a stuck upstream sync looks.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import ClassVar

from pydantic import BaseModel, TypeAdapter

from portal_tui.consistency.model import CheckContext, Finding, RuleResult
from portal_tui.dashboards.registry import dashboard_for, title_of
from portal_tui.dashboards.snapshot import SNAPSHOT_CONTEXT, DashboardSnapshot
from portal_tui.fetch.cache import CacheResult
from portal_tui.store.consistency_records import ChecksumRecord
from portal_tui.upstream.endpoints import RequestKey
from portal_tui.upstream.mailboxes import MailboxCollection
from portal_tui.upstream.models import SenderEmail
from portal_tui.vocabulary.freshness import format_age
from portal_tui.vocabulary.names import DashboardName, Severity

FROZEN_AFTER = timedelta(hours=24)
"""Rows unchanged this long, across new upstream data, are worth a look."""
FROZEN_REFRESHES = 3
"""... and across at least this many refreshes that brought new upstream responses."""

VOLATILE_FIELDS = frozenset({"mailbox_costs_as_of", "mailbox_costs_age_seconds"})
"""Row fields that are times or ages: excluded from the content checksum."""

_MAILBOXES = TypeAdapter(list[SenderEmail])
CHECKSUM_FORM = b"content-checksum v2\n"


def content_checksum(snapshot: DashboardSnapshot) -> str:
    """SHA-256 of the rows' content: sorted by workspace, times and ages left out.

    Rows are dumped in the snapshot's compact form (Infrastructure's mailboxes
    as ``fields`` + ``rows`` instead of one object each): the same content,
    a third of the serialising at 50,000 mailboxes.
    """
    digest = hashlib.sha256()
    for row in sorted(snapshot.rows, key=lambda r: r.key):
        exclude = VOLATILE_FIELDS & type(row).model_fields.keys()
        text = row.model_dump_json(exclude=set(exclude) or None, context=SNAPSHOT_CONTEXT)
        digest.update(text.encode())
        digest.update(b"\n")
    return digest.hexdigest()


def payload_digest(payload: object) -> str:
    """SHA-256 of a validated upstream payload's content."""
    digest = hashlib.sha256()
    if isinstance(payload, MailboxCollection):
        digest.update(_MAILBOXES.dump_json(list(payload.mailboxes)))
        meta = payload.meta.model_dump_json() if payload.meta is not None else "null"
        digest.update(f"|{meta}|{payload.pages_fetched}|{payload.anomalies}".encode())
    elif isinstance(payload, BaseModel):
        digest.update(payload.model_dump_json().encode())
    else:
        digest.update(repr(payload).encode())
    return digest.hexdigest()


class ContentChecksum:
    """Tell "data changed while the source says nothing changed" from "same data, new
    timestamp" (see the module docstring for the digests and thresholds).

    Source of truth: the dashboard's own previous content checksum and source
    digest, persisted per dashboard in ``dashboard_checksums``.
    """

    name: ClassVar[str] = "content-checksum"
    severity: ClassVar[Severity] = Severity.WARNING
    source: ClassVar[str] = "the previous cycle's content checksum and source digest"

    def run(self, ctx: CheckContext) -> RuleResult:
        """Checksum every refreshed dashboard and compare with the previous cycle's."""
        result = RuleResult()
        for board in ctx.refreshed:
            snap = ctx.outcome.snapshots[board]
            result.covered.add(board.value)
            checksum = content_checksum(snap)
            source, fetched = self._source(ctx, board)
            before = ctx.previous.checksums.get(board.value)
            now = ctx.now
            if before is None:
                record = ChecksumRecord(board.value, checksum, source, now, now, 0)
            elif before.checksum != checksum:
                record = ChecksumRecord(board.value, checksum, source, now, now, 0)
                if before.source_digest == source:
                    result.findings.append(
                        Finding(
                            self.name,
                            self.severity,
                            board.value,
                            board.value,
                            f"{title_of(board)} rows changed (checksum {before.checksum[:8]} → "
                            f"{checksum[:8]}) though every upstream response, the workspace set "
                            f"and the config were identical to the previous cycle's (source "
                            f"{source[:8]}): the data changed while the source says nothing did",
                        )
                    )
            else:
                unchanged = before.unchanged_refreshes + (1 if fetched else 0)
                record = ChecksumRecord(
                    board.value, checksum, source, before.changed_at, now, unchanged
                )
                age = now - before.changed_at
                if age >= FROZEN_AFTER and unchanged >= FROZEN_REFRESHES:
                    result.findings.append(
                        Finding(
                            self.name,
                            Severity.INFO,
                            board.value,
                            board.value,
                            f"same data, new timestamp: {title_of(board)} rows unchanged "
                            f"(checksum {checksum[:8]}) for {format_age(age.total_seconds())} "
                            f"across {unchanged} refreshes with new upstream responses; is the "
                            "upstream frozen?",
                        )
                    )
            result.checksums.append(record)
        return result

    def _source(self, ctx: CheckContext, board: DashboardName) -> tuple[str, bool]:
        """The source digest of ``board`` this cycle, and whether any response was new."""
        digest = hashlib.sha256()
        # The checksum's form is part of its source: when the form changes (v2: compact
        # mailboxes) the first new checksum must not read as "rows changed, source not".
        digest.update(CHECKSUM_FORM)
        fetched = False
        needs = dashboard_for(board).needs(ctx.windows)
        refs = sorted(
            (ws.key, ws.name) for d in ctx.outcome.discoveries.values() for ws in d.workspaces
        )
        for (instance, ws_id), ws_name in refs:
            digest.update(f"ws {instance} {ws_id} {ws_name}\n".encode())
            for label, need in sorted(needs.items()):
                key = RequestKey(instance, ws_id, need.endpoint, need.params)
                part, new = self._response(ctx, key)
                fetched = fetched or new
                digest.update(f"{label} {key.cache_key()} {part}\n".encode())
        config = ctx.config.model_dump_json(include={"clients", "pricing", "reporting_timezone"})
        digest.update(config.encode())
        if board == DashboardName.REVENUE:
            digest.update(_costs(ctx.snapshots.get(DashboardName.INFRASTRUCTURE)).encode())
        return digest.hexdigest(), fetched

    def _response(self, ctx: CheckContext, key: RequestKey) -> tuple[str, bool]:
        result = ctx.outcome.results.get(key)
        if result is None:
            return "absent", False
        if not isinstance(result, CacheResult):
            kind = getattr(getattr(result, "error_type", None), "value", type(result).__name__)
            return f"failed:{kind}", False
        cache_key = (key.cache_key(), result.fetched_at)
        digest = ctx.digests.get(cache_key)
        if digest is None:
            digest = ctx.digests[cache_key] = payload_digest(result.value.payload)
        prefix = "stale:" if result.stale else ""
        return prefix + digest, not result.from_cache and not result.stale


def _costs(snapshot: DashboardSnapshot | None) -> str:
    if snapshot is None:
        return "costs:none"
    rows: Iterable[tuple[str, int, object, object]] = sorted(
        (
            r.instance,
            r.workspace_id,
            getattr(r, "mailbox_cost", None),
            getattr(r, "needs_review", 0),
        )
        for r in snapshot.rows
    )
    return "costs:" + ";".join(f"{a}/{b}={c}/{d}" for a, b, c, d in rows)


def prune_digests(digests: dict[tuple[str, datetime], str], now: datetime) -> None:
    """Forget digests no cache can serve again: older than 2 h, or of a response since
    replaced by a newer one of the same request (a cache keeps one response per request).

    Without the second rule a console kept every refresh's digests for two hours:
    ~7,000 a refresh at 1,000 workspaces (~0.45 KB each), one more set every couple of
    minutes while KPI and Volume auto-refresh (issue 20).
    """
    cutoff = now - timedelta(hours=2)
    newest: dict[str, datetime] = {}
    for cache_key, fetched_at in digests:
        if cache_key not in newest or fetched_at > newest[cache_key]:
            newest[cache_key] = fetched_at
    for key in [k for k in digests if k[1] < cutoff or k[1] != newest[k[0]]]:
        del digests[key]
