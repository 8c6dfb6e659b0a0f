"""``portal-tui history``: per instance and workspace, how the API has been answering.

From the local records alone: attempts, success rate, p50 / p95 / max
response time (nearest rank, every attempt counted), errors by type, the
last error, and each workspace's state transitions, over ``--since``.
``--workspace`` matches a name case-insensitively.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any, TextIO

from portal_tui.reports.export import iso
from portal_tui.store.database import Store
from portal_tui.store.records import StateTransition, WorkspaceHistory
from portal_tui.vocabulary.timespan import describe_span
from portal_tui.vocabulary.trend import health_trend_text

HISTORY_SCHEMA_VERSION = 1
INSTANCE_LEVEL = "(instance)"
"""How calls without a workspace (listing workspaces, the pre-check) are labelled."""


async def build_history(
    store: Store, *, now: datetime, since: timedelta, workspace: str | None = None
) -> dict[str, Any]:
    """The history document (schema :data:`HISTORY_SCHEMA_VERSION`, see the README)."""
    start = now - since
    rows = await store.workspace_history(start)
    transitions = await store.state_transitions(start)
    known = sorted({h.workspace for h in rows if h.workspace} | {t.workspace for t in transitions})
    if workspace is not None:
        wanted = workspace.casefold()
        rows = [h for h in rows if (h.workspace or "").casefold() == wanted]
        transitions = [t for t in transitions if t.workspace.casefold() == wanted]
    by_key: dict[tuple[str, str | None], list[StateTransition]] = {}
    for t in transitions:
        by_key.setdefault((t.instance, t.workspace), []).append(t)
    entries = [_entry(h, by_key.pop((h.instance, h.workspace), [])) for h in rows]
    # A workspace may have changed state without a call in the window (e.g. before it).
    for (instance, name), moved in sorted(
        by_key.items(), key=lambda kv: (kv[0][0], kv[0][1] or "")
    ):
        entries.append(_entry(None, moved, instance=instance, workspace=name))
    # Per instance, worst first (that is what an engineer opens this for); names break ties.
    entries.sort(
        key=lambda e: (
            e["instance"],
            e["success_rate"] is None,
            e["success_rate"] or 0.0,
            -(e["p95_ms"] or 0.0),
            e["workspace"] or "",
        )
    )
    return {
        "schema": HISTORY_SCHEMA_VERSION,
        "generated_at": iso(now),
        "since": iso(start),
        "window": describe_span(since),
        "workspace_filter": workspace,
        "known_workspaces": known,
        "calls": sum(e["calls"] for e in entries),
        "failed": sum(e["failed"] for e in entries),
        "workspaces": entries,
        "health": [
            {"at": iso(p.at), "score": p.score, "level": p.level}
            for p in await store.health_trend(start)
        ],
        "operator_actions": [
            {"at": iso(a.at), "who": a.who, "action": a.action, "detail": a.detail}
            for a in await store.operator_actions(start)
        ],
    }


def _entry(
    h: WorkspaceHistory | None,
    moved: list[StateTransition],
    *,
    instance: str = "",
    workspace: str | None = None,
) -> dict[str, Any]:
    return {
        "instance": h.instance if h else instance,
        "workspace": h.workspace if h else workspace,
        "calls": h.calls if h else 0,
        "failed": h.failures if h else 0,
        "success_rate": round(h.success_rate, 4) if h else None,
        "p50_ms": round(h.p50_ms, 1) if h else None,
        "p95_ms": round(h.p95_ms, 1) if h else None,
        "max_ms": round(h.max_ms, 1) if h else None,
        "errors_by_type": dict(sorted(h.errors_by_type.items())) if h else {},
        "last_call_at": iso(h.last_call_at) if h else None,
        "last_failure_at": iso(h.last_failure_at) if h else None,
        "last_error": h.last_error if h else None,
        "transitions": [
            {
                "at": iso(t.at),
                "dashboard": t.dashboard,
                "from": t.from_state,
                "to": t.to_state,
                "reason": t.reason,
            }
            for t in moved
        ],
    }


def _ms(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value:.0f}ms" if value < 10_000 else f"{value / 1000:.1f}s"


def _at(value: str | None) -> str:
    if not value:
        return "—"
    return f"{datetime.fromisoformat(value):%m-%d %H:%M:%S}Z"


def print_history(doc: dict[str, Any], out: TextIO) -> None:
    """A table per instance, then each workspace's transitions."""
    who = f" for workspace {doc['workspace_filter']!r}" if doc["workspace_filter"] else ""
    out.write(
        f"portal-tui history{who}: last {doc['window']} (since {_at(doc['since'])}), "
        f"{doc['calls']} attempts, {doc['failed']} failed\n"
    )
    trend = health_trend_text([p["score"] for p in doc.get("health", [])])
    if trend:
        last = doc["health"][-1]
        out.write(
            f"health over {len(doc['health'])} recorded cycle(s): {trend}"
            f" (now {last['level']}, since {_at(doc['health'][0]['at'])})\n"
        )
    header = (
        f"\n{'INSTANCE':<12} {'WORKSPACE':<28} {'CALLS':>6} {'OK%':>6} {'P50':>7} {'P95':>7}"
        "  ERRORS\n"
    )
    out.write(header)
    for e in doc["workspaces"]:
        rate = "—" if e["success_rate"] is None else f"{e['success_rate'] * 100:.1f}"
        errors = ", ".join(f"{k}×{n}" for k, n in e["errors_by_type"].items()) or "-"
        name = e["workspace"] or INSTANCE_LEVEL
        out.write(
            f"{e['instance'][:12]:<12} {name[:28]:<28} {e['calls']:>6} {rate:>6} "
            f"{_ms(e['p50_ms']):>7} {_ms(e['p95_ms']):>7}  {errors}\n"
        )
    failing = [e for e in doc["workspaces"] if e["last_error"]]
    if failing:
        out.write("\nLast error:\n")
        for e in failing:
            name = e["workspace"] or INSTANCE_LEVEL
            out.write(
                f"  {e['instance']}/{name} at {_at(e['last_failure_at'])}: {e['last_error']}\n"
            )
    moved = [(e, t) for e in doc["workspaces"] for t in e["transitions"]]
    if moved:
        out.write("\nState transitions:\n")
        for e, t in sorted(moved, key=lambda pair: pair[1]["at"]):
            where = f" [{t['dashboard']}]" if t["dashboard"] else ""
            out.write(
                f"  {_at(t['at'])}  {e['instance']}/{e['workspace']}: {t['from'] or 'new'} → "
                f"{t['to']}{where}  {t['reason']}\n"
            )
    _print_actions(doc, out)


def _print_actions(doc: dict[str, Any], out: TextIO) -> None:
    actions = doc.get("operator_actions") or []
    if actions:
        out.write("\nOperator actions:\n")
        for a in actions:
            detail = f": {a['detail']}" if a["detail"] else ""
            out.write(f"  {_at(a['at'])}  {a['who']} {a['action']}{detail}\n")


def print_history_json(doc: dict[str, Any], out: TextIO) -> None:
    """The document as JSON."""
    json.dump(doc, out, indent=2)
    out.write("\n")
