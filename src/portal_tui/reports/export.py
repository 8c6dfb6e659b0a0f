"""``portal-tui export``: an incident report built from the local SQLite records alone.

No network and no token: everything comes from what the consoles and
``check`` recorded. The report is a JSON-ready dict (schema
:data:`EXPORT_SCHEMA_VERSION`, documented in the README) that
:mod:`portal_tui.reports.export_markdown` renders for a chat channel. ``-o FILE``
is written atomically (a temporary file beside it, then a rename), so a
reader never sees half a report.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from portal_tui.dashboards.registry import dashboard_names
from portal_tui.engine.verdict import verdict_from_records
from portal_tui.reports.records_file import RecordsLocation
from portal_tui.store.database import Store
from portal_tui.store.operator_records import FindingAck
from portal_tui.store.records import DASHBOARD_KEY_PREFIX, CacheMetadataRecord, ValidationErrorRow
from portal_tui.vocabulary.freshness import Freshness, FreshnessState, Overlay

EXPORT_SCHEMA_VERSION = 1
EXPORT_KIND = "portal-tui.incident-report"
RETENTION_LOOKBACK_DAYS = 31
_STALE = (FreshnessState.STALE, FreshnessState.VERY_STALE, FreshnessState.EXPIRED)


def iso(when: datetime | None) -> str | None:
    """ISO-8601 text, or None."""
    return None if when is None else when.isoformat()


async def build_report(
    store: Store, location: RecordsLocation, *, now: datetime, since: timedelta
) -> dict[str, Any]:
    """The whole report as a JSON-ready dict (see the README for its schema)."""
    start = now - since
    metadata = {
        m.cache_key.removeprefix(DASHBOARD_KEY_PREFIX): m
        for m in await store.cache_metadata()
        if m.cache_key.startswith(DASHBOARD_KEY_PREFIX)
    }
    snapshots = {
        name: json.loads(record.payload) for name, record in (await store.load_snapshots()).items()
    }
    validation = await store.open_validation_errors()
    findings = await store.open_findings()
    acks = await store.acknowledgements()
    actions = await store.operator_actions(start)
    dashboards = {
        name.value: _dashboard(metadata.get(name.value), snapshots.get(name.value), now)
        for name in dashboard_names()
    }
    failing = await _failing(store, snapshots, start)
    health = await verdict_from_records(store, now)
    transitions = await store.state_transitions(start)
    cycles = [c for c in await store.recent_cycles(limit=200) if c.finished_at >= start]
    report: dict[str, Any] = {
        "schema": EXPORT_SCHEMA_VERSION,
        "kind": EXPORT_KIND,
        "generated_at": iso(now),
        "since": iso(start),
        "window_seconds": since.total_seconds(),
        "demo": location.demo,
        "database": {
            "path": str(store.path),
            "schema_version": await store.schema_version(),
            "size_bytes": await store.size_bytes(),
        },
        "health": {
            "score": health.score,
            "status": health.level,
            "reasons": list(health.reasons),
            "trend": [
                {"at": iso(p.at), "score": p.score, "level": p.level}
                for p in await store.health_trend(start)
            ],
        },
        "dashboards": dashboards,
        "failing_workspaces": failing,
        "consistency_findings": [
            {
                "rule": f.rule,
                "severity": f.severity,
                "scope": f.scope,
                "subject": f.subject,
                "message": f.message,
                "first_seen": iso(f.first_seen),
                "last_seen": iso(f.last_seen),
                "occurrences": f.occurrences,
                "acknowledged": _ack(acks.get((f.rule, f.scope, f.subject))),
            }
            for f in findings
        ],
        "validation_errors": [
            {
                "dashboard": v.dashboard,
                "workspace": v.workspace,
                "field": v.field_name,
                "error_type": v.error_type,
                "severity": v.severity,
                "expected": v.expected,
                "actual": v.actual,
                "message": v.message,
                "occurrences": v.occurrences,
                "first_seen": iso(v.first_occurrence),
                "last_seen": iso(v.last_occurrence),
            }
            for v in validation
        ],
        "api": await _api(store, start),
        "transitions": [
            {
                "at": iso(t.at),
                "instance": t.instance,
                "workspace": t.workspace,
                "dashboard": t.dashboard,
                "from": t.from_state,
                "to": t.to_state,
                "reason": t.reason,
            }
            for t in transitions
        ],
        "cycles": [
            {
                "id": c.id,
                "finished_at": iso(c.finished_at),
                "triggered_by": c.triggered_by,
                "dashboards": list(c.dashboards),
                "requests": c.requests,
                "failures": c.failures,
                "duration_ms": round((c.finished_at - c.started_at).total_seconds() * 1000, 1),
            }
            for c in cycles
        ],
        # Alert events raised in the window and how their delivery went (issue 17).
        "alerts": [
            {
                "at": iso(e.created_at),
                "kind": e.kind,
                "title": e.title,
                "attempts": e.attempts,
                "delivered_at": None if e.delivered_at is None else iso(e.delivered_at),
                "sent_to": list(e.sent_to),
                "last_error": e.last_error,
            }
            for e in await store.alert_events(limit=200)
            if e.created_at >= start
        ],
    }
    # What engineers did from the consoles (issue 19): who is the OS user name.
    report["operator_actions"] = [
        {"at": iso(a.at), "who": a.who, "action": a.action, "detail": a.detail} for a in actions
    ]
    report["timeline"] = await _timeline(store, report, start, validation)
    return report


def _ack(ack: FindingAck | None) -> dict[str, Any] | None:
    if ack is None:
        return None
    return {"by": ack.who, "at": iso(ack.at), "note": ack.note}


def _dashboard(
    meta: CacheMetadataRecord | None, snap: dict[str, Any] | None, now: datetime
) -> dict[str, Any]:
    """State and age of one dashboard from its metadata row (its last good fetch + TTL)."""
    status = meta.status if meta else "unknown"
    fresh = Freshness.of(
        meta.last_updated if meta else None,
        now,
        (meta.ttl_seconds or 1.0) if meta else 1.0,
        error=status == "error",
        warning=bool(snap and (snap.get("warnings") or snap.get("issues"))),
    )
    return {
        "state": fresh.state.value,
        "overlays": sorted(o.value for o in fresh.overlays if o is not Overlay.REFRESHING),
        "label": fresh.label,
        "status": status,
        "age_seconds": None if fresh.age is None else round(fresh.age, 1),
        "last_updated": iso(meta.last_updated) if meta else None,
        "ttl_seconds": meta.ttl_seconds if meta else None,
        "rows": meta.record_count if meta else 0,
        "error": meta.error_message if meta else None,
    }


async def _failing(
    store: Store, snapshots: dict[str, dict[str, Any]], start: datetime
) -> list[dict[str, Any]]:
    """Workspaces failing in the latest snapshots (or, when no snapshot says, whose last
    logged attempt failed), with their state and failed calls in the window."""
    merged: dict[tuple[str, str | None], dict[str, Any]] = {}
    for name in dashboard_names():
        for f in snapshots.get(name.value, {}).get("failures", []):
            key = (f["instance"], f.get("workspace"))
            entry = merged.setdefault(
                key,
                {
                    "instance": f["instance"],
                    "workspace": f.get("workspace"),
                    "dashboards": [],
                    "error_type": f["error_type"],
                    "status_code": f.get("status_code"),
                    "attempts": f.get("attempts"),
                    "message": f["message"],
                    "request": f.get("request"),
                    "since": f["since"],
                    "last_at": f["last_at"],
                },
            )
            entry["dashboards"].append(name.value)
            entry["since"] = min(entry["since"], f["since"])
            entry["last_at"] = max(entry["last_at"], f["last_at"])
    states: dict[tuple[str, str], str] = {}
    # The latest transition of each workspace (within retention) is its state now.
    for t in await store.state_transitions(start - timedelta(days=RETENTION_LOOKBACK_DAYS)):
        states[(t.instance, t.workspace)] = t.to_state
    calls = {(h.instance, h.workspace): h for h in await store.workspace_history(start)}
    for key, h in calls.items():
        # Whose last attempt failed but who is in no snapshot (a dashboard with no rows at
        # all stores none): known from the API log alone.
        last_failed = h.last_failure_at is not None and h.last_failure_at >= h.last_call_at
        if key not in merged and last_failed:
            kind = max(h.errors_by_type, key=lambda k: h.errors_by_type[k], default="unknown")
            merged[key] = {
                "instance": h.instance,
                "workspace": h.workspace,
                "dashboards": [],
                "error_type": kind,
                "status_code": None,
                "attempts": None,
                "message": h.last_error or "failed",
                "request": None,
                "since": None,
                "last_at": iso(h.last_failure_at),
            }
    # The records' standing: the state after hysteresis, and "failing since" = the first
    # failure of the current streak, whoever recorded it.
    standing = {(s.instance, s.workspace): s for s in await store.standings()}
    for key, entry in merged.items():
        entry["state"] = states.get((key[0], key[1] or ""))
        known = standing.get((key[0], key[1] or ""))
        if known is not None:
            entry["state"] = known.state.value
            if known.failing_since is not None:
                entry["since"] = iso(known.failing_since)
        history = calls.get(key)
        entry["failed_calls"] = history.failures if history else 0
    return sorted(
        merged.values(),
        key=lambda e: (e["workspace"] is not None, e["instance"], e["workspace"] or ""),
    )


async def _api(store: Store, start: datetime) -> dict[str, Any]:
    counts = await store.api_call_counts(start)
    instances: dict[str, dict[str, Any]] = {}
    errors = []
    for c in counts:
        if c.error_type is None:
            instances[c.instance] = {
                "instance": c.instance,
                "calls": c.attempts,
                "failed": c.failed,
                "errors": {},
            }
    for c in counts:
        if c.error_type is None:
            continue
        errors.append(
            {
                "instance": c.instance,
                "error_type": c.error_type,
                "status_code": c.status_code,
                "count": c.failed,
            }
        )
        by_type = instances[c.instance]["errors"]
        by_type[c.error_type] = by_type.get(c.error_type, 0) + c.failed
    return {
        "calls": sum(i["calls"] for i in instances.values()),
        "failed": sum(i["failed"] for i in instances.values()),
        "by_instance": list(instances.values()),
        "errors": errors,
    }


async def _timeline(
    store: Store, report: dict[str, Any], start: datetime, validation: list[ValidationErrorRow]
) -> list[dict[str, Any]]:
    """Everything that happened in the window, oldest first: transitions, findings opened and
    resolved, validation errors first seen, cycles with failed calls."""
    events: list[dict[str, Any]] = []
    for t in report["transitions"]:
        where = f" ({t['dashboard']})" if t["dashboard"] else ""
        events.append(
            {
                "at": t["at"],
                "kind": "transition",
                "text": f"{t['instance']}/{t['workspace']} {t['from'] or 'new'} → "
                f"{t['to']}{where}: {t['reason']}",
            }
        )
    for f in await store.findings_since(start):
        if f.first_seen >= start:
            events.append(
                {
                    "at": iso(f.first_seen),
                    "kind": "finding_opened",
                    "text": f"[{f.severity}] {f.rule} {f.subject}: {f.message}",
                }
            )
        if f.resolved_at is not None and f.resolved_at >= start:
            events.append(
                {
                    "at": iso(f.resolved_at),
                    "kind": "finding_resolved",
                    "text": f"resolved: {f.rule} {f.subject}",
                }
            )
    for v in validation:
        if v.first_occurrence >= start:
            events.append(
                {
                    "at": iso(v.first_occurrence),
                    "kind": "validation_error",
                    "text": f"[{v.severity}] {v.dashboard} {v.workspace}: {v.message}",
                }
            )
    for a in report["operator_actions"]:
        detail = f": {a['detail']}" if a["detail"] else ""
        text = f"{a['who']} {a['action']}{detail}"
        events.append({"at": a["at"], "kind": "operator", "text": text})
    for c in report["cycles"]:
        if c["failures"]:
            events.append(
                {
                    "at": c["finished_at"],
                    "kind": "cycle",
                    "text": f"{c['triggered_by']} refresh of {', '.join(c['dashboards'])}: "
                    f"{c['failures']} of {c['requests']} calls failed",
                }
            )
    return sorted(events, key=lambda e: (datetime.fromisoformat(e["at"]), e["kind"]))


def render_json(report: dict[str, Any]) -> str:
    """The report as indented JSON text."""
    return json.dumps(report, indent=2) + "\n"


def write_atomically(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` via a temporary file and a rename: all or nothing."""
    path = path.expanduser()
    parent = path.parent if str(path.parent) else Path(".")
    handle, temp = tempfile.mkstemp(dir=parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(temp, 0o666 & ~umask)  # mkstemp makes 0600; give it a normal file's mode
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise
