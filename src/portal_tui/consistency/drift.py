"""Rule: schema drift, a field an endpoint starts or stops sending.

Which fields a response *sent* is read from the validated payload itself:
pydantic records the fields present in the input (``model_fields_set``,
extras included, since the payload models keep unknown fields). For a
response that failed validation because a required field was absent, the
validation error names it. Only the top-level fields of ``data`` objects are
compared (one stats object; each schedule, mailbox or workspace); up to
:data:`SAMPLE` objects are sampled evenly per response, which covers a
typical workspace's mailboxes whole. A value of the wrong type is not drift
of the field set: it is a validation error, recorded in
``data_validation_errors``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import BaseModel

from portal_tui.consistency.model import CheckContext, Finding, RuleResult, capped
from portal_tui.dashboards.mailboxes import listing
from portal_tui.fetch.cache import CacheResult
from portal_tui.store.consistency_records import FieldRecord
from portal_tui.upstream.endpoints import Endpoint, RequestKey
from portal_tui.upstream.mailboxes import MailboxCollection
from portal_tui.upstream.models import ApiWorkspace, SenderEmail, SendingSchedule, WorkspaceStats
from portal_tui.vocabulary.names import Severity

if TYPE_CHECKING:
    from portal_tui.upstream.client import PayloadError

SAMPLE = 200
"""Objects of one response whose field sets are read."""

FORGET_AFTER = timedelta(days=7)
"""A field not sent for this long is no longer expected (its "missing" finding resolves)."""

ITEM_MODELS: dict[Endpoint, type[BaseModel]] = {
    Endpoint.LIST_WORKSPACES: ApiWorkspace,
    Endpoint.STATS: WorkspaceStats,
    Endpoint.SCHEDULES: SendingSchedule,
    Endpoint.SENDER_EMAILS: SenderEmail,
}
"""The model of one ``data`` object per endpoint: the fields portal-tui knows."""


@dataclass(slots=True)
class _Seen:
    """What one endpoint's responses sent this cycle."""

    responses: int = 0
    present: dict[str, list[str]] = field(default_factory=dict)  # field -> workspaces sending it
    lacking: dict[str, list[str]] = field(default_factory=dict)  # field -> workspaces lacking it


def sent_fields(payload: Any) -> list[frozenset[str]]:
    """Top-level field names of each (sampled) ``data`` object of a validated payload."""
    if isinstance(payload, MailboxCollection):
        items: Sequence[Any] = payload.mailboxes
    elif isinstance(payload, BaseModel) and "data" in type(payload).model_fields:
        data = payload.data  # type: ignore[attr-defined]
        items = data if isinstance(data, list) else [data]
    else:
        return []
    if len(items) > SAMPLE:
        step = len(items) / SAMPLE
        items = [items[int(i * step)] for i in range(SAMPLE)]
    # Cached mailboxes share one field-name set per shape (fetch/compact.py): freeze
    # each distinct set once, not once per mailbox.
    frozen: dict[int, frozenset[str]] = {}
    out: list[frozenset[str]] = []
    for item in items:
        if isinstance(item, BaseModel):
            own = item.model_fields_set
            names = frozen.get(id(own))
            if names is None:
                names = frozen[id(own)] = frozenset(own)
            out.append(names)
    return out


def missing_required(error: PayloadError) -> set[str]:
    """Top-level ``data`` fields a failed validation reported missing."""
    if error.validation is None:
        return set()
    found: set[str] = set()
    for problem in error.validation.errors(include_url=False):
        loc = problem["loc"]
        if problem["type"] != "missing" or len(loc) < 2 or loc[0] != "data":
            continue
        name = loc[1] if isinstance(loc[1], str) else loc[2] if len(loc) == 3 else None
        if isinstance(name, str):
            found.add(name)
    return found


class FieldDrift:
    """Report, once per field, an endpoint starting or stopping to send a field.

    Source of truth: the payload models (the fields SPEC section 1 reads) and
    every field each endpoint has been seen sending before, with when
    (persisted in ``schema_fields``). A field the models do not know is
    "new" (a warning: it is kept, not read); a known or required field absent
    from a response is "missing" (an error when the model requires it, as
    the workspace's row is then rejected; an optional one counts only once it
    has been seen sent). One finding per endpoint and field, opened when
    first seen and resolved when the drift stops.
    """

    name: ClassVar[str] = "schema-drift"
    severity: ClassVar[Severity] = Severity.ERROR
    source: ClassVar[str] = "the payload models and the fields each endpoint sent before"

    def run(self, ctx: CheckContext) -> RuleResult:
        """Collect this cycle's field sets per endpoint and compare with what was known."""
        # Here, not at the top: a refresh has loaded the client (and httpx) by now, and
        # restoring findings at start-up should not.
        from portal_tui.upstream.client import PayloadError

        result = RuleResult()
        seen: dict[str, _Seen] = {}
        known = {e.value: _known(ctx, e) for e in ITEM_MODELS}
        for key, got in ctx.outcome.results.items():
            if key.endpoint not in ITEM_MODELS:
                continue
            who = self._who(ctx, key)
            endpoint = key.endpoint.value
            if isinstance(got, CacheResult) and got.stale and isinstance(got.error, PayloadError):
                got = got.error  # the new response failed; the cache served the old one
            if isinstance(got, PayloadError):
                absent = missing_required(got)
                if absent:
                    entry = seen.setdefault(endpoint, _Seen())
                    entry.responses += 1
                    for name in absent:
                        entry.lacking.setdefault(name, []).append(who)
                continue
            if not isinstance(got, CacheResult) or got.from_cache or got.stale:
                continue  # a cached response was judged when it arrived
            items = set(sent_fields(got.value.payload))  # the distinct shapes are enough
            if not items:
                continue
            entry = seen.setdefault(endpoint, _Seen())
            entry.responses += 1
            sent = frozenset().union(*items)
            everywhere = frozenset.intersection(*items)
            for name in sent:
                entry.present.setdefault(name, []).append(who)
            for name in known[endpoint] - everywhere:
                entry.lacking.setdefault(name, []).append(who)
        for endpoint, entry in sorted(seen.items()):
            result.covered.add(endpoint)
            result.findings.extend(
                capped(self._judge(ctx, endpoint, entry), rule=self.name, scope=endpoint)
            )
            for name in entry.present:
                before = ctx.previous.fields.get(endpoint, {}).get(name)
                first = before.first_seen if before is not None else ctx.now
                result.fields.append(FieldRecord(endpoint, name, first, ctx.now))
        return result

    def _who(self, ctx: CheckContext, key: RequestKey) -> str:
        if key.workspace_id is None:
            return f"{key.instance} (instance)"
        return ctx.workspace_name((key.instance, key.workspace_id))

    def _judge(self, ctx: CheckContext, endpoint: str, entry: _Seen) -> list[Finding]:
        model = ITEM_MODELS[Endpoint(endpoint)]
        history = ctx.previous.fields.get(endpoint, {})
        found: list[Finding] = []
        for name, where in sorted(entry.present.items()):
            if name in model.model_fields:
                continue
            before = history.get(name)
            since = _when(ctx, before.first_seen if before else None)
            found.append(
                Finding(
                    self.name,
                    Severity.WARNING,
                    endpoint,
                    f"{endpoint}.{name} (new)",
                    f"{endpoint} sends a field portal-tui does not know: {name} (kept, not read); "
                    f"first seen {since}; in {len(where)} of {entry.responses} responses: "
                    f"{listing(sorted(set(where)))}",
                )
            )
        for name, where in sorted(entry.lacking.items()):
            required = name in model.model_fields and model.model_fields[name].is_required()
            before = history.get(name)
            last = f"; last seen {_when(ctx, before.last_seen)}" if before else ""
            found.append(
                Finding(
                    self.name,
                    Severity.ERROR if required else Severity.WARNING,
                    endpoint,
                    f"{endpoint}.{name} (missing)",
                    f"{endpoint} stopped sending {name}"
                    + (" (required: those rows are rejected)" if required else "")
                    + f" in {len(where)} of {entry.responses} responses: "
                    f"{listing(sorted(set(where)))}{last}",
                )
            )
        return found


def _known(ctx: CheckContext, endpoint: Endpoint) -> frozenset[str]:
    """Fields an endpoint is expected to send: those the model requires, and the model's
    optional ones it was seen sending within :data:`FORGET_AFTER` (after that, absence
    is the new normal). A field the model does not know is never expected: when it
    stops, its "new" finding simply resolves."""
    model = ITEM_MODELS[endpoint]
    required = {n for n, f in model.model_fields.items() if f.is_required()}
    recent = {
        name
        for name, record in ctx.previous.fields.get(endpoint.value, {}).items()
        if name in model.model_fields and ctx.now - record.last_seen <= FORGET_AFTER
    }
    return frozenset(required | recent)


def _when(ctx: CheckContext, at: datetime | None) -> str:
    """An absolute time (the message is stored; "3 min ago" would go stale with it)."""
    if at is None:
        return f"{ctx.now.astimezone(UTC):%Y-%m-%d %H:%M}Z (this cycle)"
    return f"{at.astimezone(UTC):%Y-%m-%d %H:%M}Z"
