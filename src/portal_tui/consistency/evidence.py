"""The evidence a finding is kept with: the payload it was raised on, as JSON text.

Rules say what is wrong in one line; an engineer asked "show me" needs the
offending payload. After the rules ran, :class:`EvidenceIndex` finds the
workspace a finding is about (its subject names ``instance/workspace``, or
its message starts with the workspace's name) and collects that workspace's
responses of the cycle and its row on the finding's dashboard. Lists are cut
down to the items that contain what the subject quotes (``'jack@ce'``), so
the one bad mailbox is kept rather than the first page. The store redacts
and size-caps the text (:mod:`portal_tui.store.consistency_writer`).
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Mapping
from typing import Any

from portal_tui.consistency.model import CheckContext, Finding
from portal_tui.fetch.cache import CacheResult
from portal_tui.upstream.endpoints import RequestKey
from portal_tui.vocabulary.names import DashboardName

MAX_FINDINGS = 200
"""Findings per cycle given evidence (the rest keep what they were first recorded with)."""

_QUOTED = re.compile(r"'([^']{3,})'")


def plain(value: Any) -> Any:
    """JSON-able form of a payload: pydantic models, dataclasses, sequences, mappings."""
    if hasattr(value, "model_dump"):
        return value.model_dump(mode="json")
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return str(value)


def narrowed(value: Any, needles: tuple[str, ...]) -> Any:
    """``value`` with every list cut to the items that mention one of ``needles``
    (a list none of whose items does is kept whole)."""
    if not needles:
        return value
    if isinstance(value, list):
        hits = [v for v in value if any(n in json.dumps(v, default=str) for n in needles)]
        return [narrowed(v, needles) for v in hits] if hits else value
    if isinstance(value, dict):
        return {k: narrowed(v, needles) for k, v in value.items()}
    return value


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
        requests: dict[str, Any] = {}
        for request in sorted(self._requests.get(key, []), key=RequestKey.describe):
            result = self._ctx.outcome.results.get(request)
            if isinstance(result, CacheResult):
                requests[request.describe()] = narrowed(plain(result.value.payload), needles)
        doc: dict[str, Any] = {"workspace": f"{key[0]}/{self._names[key]}", "requests": requests}
        board = _dashboard(finding.scope)
        snap = self._ctx.snapshots.get(board) if board is not None else None
        if snap is not None:
            row = next((r for r in snap.rows if r.key == key), None)
            if row is not None:
                doc["row"] = narrowed(plain(row), needles)
        return json.dumps(doc, default=str, allow_nan=False)


def _dashboard(scope: str) -> DashboardName | None:
    try:
        return DashboardName(scope)
    except ValueError:
        return None


def with_evidence(findings: list[Finding], ctx: CheckContext) -> list[Finding]:
    """``findings``, the first :data:`MAX_FINDINGS` without evidence given theirs."""
    index: EvidenceIndex | None = None
    given: list[Finding] = []
    for count, finding in enumerate(findings):
        if finding.evidence is None and count < MAX_FINDINGS:
            index = index or EvidenceIndex(ctx)
            try:
                text = index.evidence(finding)
            except (TypeError, ValueError):  # an odd payload: the finding stands without
                text = None
            if text is not None:
                finding = dataclasses.replace(finding, evidence=text)
        given.append(finding)
    return given


__all__ = ["MAX_FINDINGS", "EvidenceIndex", "narrowed", "plain", "with_evidence"]
