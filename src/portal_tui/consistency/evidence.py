"""The evidence a finding is kept with: the payload it was raised on, as JSON text.

Rules say what is wrong in one line; an engineer asked "show me" needs the
offending payload. After the rules ran, :class:`EvidenceIndex` finds the
workspace a finding is about (its subject names ``instance/workspace``, or
its message starts with the workspace's name) and collects that workspace's
responses of the cycle and its row on the finding's dashboard. Lists are cut
down to the items that contain what the subject quotes (``'jack@ce'``), so
the one bad mailbox is kept rather than the first page (else to their first
few items: the store keeps 8,000 characters). The store redacts
and size-caps the text (:mod:`portal_tui.store.consistency_writer`).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import re
from collections.abc import Collection, Mapping
from datetime import date, datetime
from typing import Any

from pydantic import BaseModel

from portal_tui.consistency.model import CheckContext, Finding
from portal_tui.dashboards.registry import dashboard_for, dashboard_names
from portal_tui.fetch.cache import CacheResult
from portal_tui.upstream.endpoints import RequestKey
from portal_tui.vocabulary.names import DashboardName

log = logging.getLogger(__name__)

LIST_ITEMS = 5
"""Items of a list kept when the subject quotes nothing found in it."""

MAX_FINDINGS = 50
"""New findings per cycle given evidence (a repeat keeps what it was first recorded with)."""

_QUOTED = re.compile(r"'([^']{3,})'")


def plain(value: Any, needles: tuple[str, ...] = ()) -> Any:
    """JSON-able form of a payload (pydantic models, dataclasses, sequences, mappings), every
    list cut to the items that mention one of ``needles``, else to its first
    :data:`LIST_ITEMS` (with a note of how many more there were)."""
    if isinstance(value, BaseModel):
        return {k: plain(getattr(value, k), needles) for k in type(value).model_fields}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: plain(getattr(value, f.name), needles) for f in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        return {str(k): plain(v, needles) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        items = list(value)
        hits = [v for v in items if _mentions(v, needles)] if needles else []
        kept = hits or items[:LIST_ITEMS]
        shown: list[Any] = [plain(v, needles) for v in kept]
        if len(kept) < len(items):
            shown.append(f"… {len(items) - len(kept)} more item(s) not kept")
        return shown
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    return str(value)


class EvidenceIndex:
    """The cycle's responses and rows by workspace, to attach to findings."""

    def __init__(self, ctx: CheckContext) -> None:
        self._ctx = ctx
        self._requests: dict[tuple[str, int], list[RequestKey]] = {}
        for key in ctx.outcome.results:
            if key.workspace_id is not None:
                self._requests.setdefault((key.instance, key.workspace_id), []).append(key)
        self._names = dict(ctx.outcome.workspace_names)

    def workspace_of(self, finding: Finding) -> tuple[str, int] | None:
        """The workspace ``finding`` is about, if it names one."""
        for key, name in self._names.items():
            if finding.subject.startswith(f"{key[0]}/{name}") or finding.message.startswith(
                f"{name}:"
            ):
                return key
        return None

    def evidence(self, finding: Finding) -> str | None:
        """The finding's evidence as JSON text, or None when it names no workspace."""
        key = self.workspace_of(finding)
        if key is None:
            return None
        needles = tuple(_QUOTED.findall(finding.subject))
        board = _dashboard(finding.scope)
        wanted = None
        if board is not None:  # the requests the finding's dashboard is computed from
            needs = dashboard_for(board).needs(self._ctx.windows).values()
            wanted = {(n.endpoint, n.params) for n in needs}
        requests: dict[str, Any] = {}
        for request in sorted(self._requests.get(key, []), key=RequestKey.describe):
            if wanted is not None and (request.endpoint, request.params) not in wanted:
                continue
            result = self._ctx.outcome.results.get(request)
            if isinstance(result, CacheResult):
                requests[request.describe()] = plain(result.value.payload, needles)
        doc: dict[str, Any] = {"workspace": f"{key[0]}/{self._names[key]}", "requests": requests}
        snap = self._ctx.snapshots.get(board) if board is not None else None
        if snap is not None:
            row = next((r for r in snap.rows if r.key == key), None)
            if row is not None:
                doc["row"] = plain(row, needles)
        return json.dumps(doc, default=str, allow_nan=False)


def _mentions(value: Any, needles: tuple[str, ...]) -> bool:
    """Whether ``value`` or one of its own text fields contains a needle (not deeper: cheap)."""
    if isinstance(value, str):
        return any(n in value for n in needles)
    if isinstance(value, BaseModel):
        fields: Any = value.__dict__.values()
    elif isinstance(value, Mapping):
        fields = value.values()
    else:
        return False
    return any(isinstance(f, str) and any(n in f for n in needles) for f in fields)


def _dashboard(scope: str) -> DashboardName | None:
    """The dashboard a finding's scope names, if it names a registered one."""
    return next((name for name in dashboard_names() if name.value == scope), None)


def with_evidence(
    findings: list[Finding], ctx: CheckContext, *, known: Collection[tuple[str, str, str]] = ()
) -> list[Finding]:
    """``findings``, the first :data:`MAX_FINDINGS` new ones (not in ``known``: the open
    findings, which keep the evidence they were first recorded with) given evidence."""
    index: EvidenceIndex | None = None
    given: list[Finding] = []
    count = 0
    for finding in findings:
        if finding.evidence is None and finding.key not in known and count < MAX_FINDINGS:
            count += 1
            index = index or EvidenceIndex(ctx)
            try:
                text = index.evidence(finding)
            except Exception as exc:  # evidence must never break the refresh: none then
                log.warning("no evidence for finding %s %s: %r", finding.rule, finding.subject, exc)
                text = None
            if text is not None:
                finding = dataclasses.replace(finding, evidence=text)
        given.append(finding)
    return given


__all__ = ["LIST_ITEMS", "MAX_FINDINGS", "EvidenceIndex", "plain", "with_evidence"]
