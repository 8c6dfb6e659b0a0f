"""``portal-tui check``: one refresh cycle, no UI, a verdict for cron.

Contract (the monitoring-plugin convention): data on stdout, diagnostics on
stderr; exit 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN (config or usage error,
or the check could not be made).

The verdict is the records' (:mod:`portal_tui.engine.verdict`), the same
every face shows: CRITICAL when the health score is 50 or less (a dashboard
in error, or more than 5 requests that finally failed in 5 minutes, counted
over every process sharing the file) or a critical consistency finding is
open; WARNING when the score is below 100, a workspace is failing or failed
the last refresh, a validation error is open, or an error or warning
consistency finding is open; else OK.
"""

from __future__ import annotations

import json
import sys
from typing import Any, TextIO

from portal_tui.dashboards.registry import dashboard_names, title_of
from portal_tui.engine.monitor import PortalMonitor
from portal_tui.store.records import TriggeredBy
from portal_tui.vocabulary.errors import ExitCode
from portal_tui.vocabulary.freshness import format_age
from portal_tui.vocabulary.names import DashboardName

CHECK_SCHEMA_VERSION = 1


async def run_check(
    monitor: PortalMonitor, dashboards: list[DashboardName] | None
) -> tuple[ExitCode, dict[str, Any]]:
    """Restore the last snapshots, refresh ``dashboards`` once, and judge."""
    await monitor.restore()
    names = dashboards or list(dashboard_names())
    outcome = await monitor.refresh(names, force=True, triggered_by=TriggeredBy.CHECK.value)
    report = build_report(monitor, names)
    if outcome is not None:
        report["requests"] = {
            "made": outcome.requests_made,
            "distinct_needed": outcome.requests_needed,
            "attempts_logged": len(outcome.api_calls),
            "failed_attempts": sum(1 for c in outcome.api_calls if not c.success),
            "failed_requests": outcome.requests_failed,
            "duration_ms": round(outcome.duration_ms, 1),
            # distinct requests by where their data came from (issue 18): fetched here,
            # served by the shared tier (another process fetched it), this one's cache
            "distinct_by_source": {
                k: outcome.source_totals.get(k, 0) for k in ("here", "shared", "cache", "failed")
            },
        }
    return ExitCode[report["status"]], report


def verdict(monitor: PortalMonitor) -> str:
    """``OK``, ``WARNING`` or ``CRITICAL``: the records' verdict (every process's cycles)."""
    return monitor.health().level


def build_report(monitor: PortalMonitor, names: list[DashboardName]) -> dict[str, Any]:
    """The ``check --json`` document (schema version :data:`CHECK_SCHEMA_VERSION`)."""
    health = monitor.health()
    now = monitor.clock.now()
    configs = {i.name: i for i in monitor.config.instances}
    boards: dict[str, Any] = {}
    for name in names:
        snap = monitor.snapshots.get(name)
        fresh = monitor.freshness(name)
        boards[name.value] = {
            "state": fresh.state.value,
            "overlays": sorted(o.value for o in fresh.overlays),
            "label": fresh.label,
            "age_seconds": None if fresh.age is None else round(fresh.age, 1),
            "rows": len(snap.rows) if snap else 0,
            "stale_rows": snap.stale_rows if snap else 0,
            "workspaces_expected": snap.workspaces_expected if snap else 0,
            "error": snap.error if snap else None,
            "failed_workspaces": [
                {
                    "instance": f.instance,
                    "workspace": f.workspace,
                    "error_type": f.error_type,
                    "status_code": f.status_code,
                    "attempts": f.attempts,
                    "message": f.message,
                    "request": f.request,
                    "since": f.since.isoformat(),
                }
                for f in (snap.failures if snap else [])
            ],
            "warnings": snap.warnings if snap else {},
            "validation_errors": [
                {
                    "workspace": i.workspace,
                    "field": i.field_name,
                    "error_type": i.error_type.value,
                    "expected": i.expected,
                    "actual": i.actual,
                    "severity": i.severity.value,
                    "message": i.message,
                }
                for i in (snap.issues if snap else [])
            ],
            "totals": snap.totals if snap else {},
        }
    return {
        "schema": CHECK_SCHEMA_VERSION,
        "status": health.level,
        "checked_at": now.isoformat(),
        "demo": monitor.demo,
        "health": {
            "score": health.score,
            "level": health.level,
            "reasons": list(health.reasons),
            "failing_workspaces": [
                {
                    "instance": f.instance,
                    "workspace": f.workspace,
                    "dashboards": list(f.dashboards),
                    "since": f.since.isoformat() if f.since else None,
                    "confirmed": f.confirmed,
                    "reason": f.reason,
                }
                for f in health.failing
            ],
        },
        "dashboards": boards,
        "instances": [
            {
                "name": b.instance,
                "breaker": b.state.value,
                "consecutive_failures": b.consecutive_failures,
                "next_probe_at": b.next_probe_at.isoformat() if b.next_probe_at else None,
                "unreachable": monitor.unreachable.get(b.instance),
                "verify_tls": configs[b.instance].verify_tls if b.instance in configs else True,
                "plaintext_token": plaintext_token(monitor, b.instance),
            }
            for b in monitor.breakers()
        ],
        "consistency_findings": [
            {
                "rule": f.rule,
                "severity": f.severity.value,
                "scope": f.scope,
                "subject": f.subject,
                "message": f.message,
                "first_seen": f.first_seen.isoformat(),
                "occurrences": f.occurrences,
            }
            for f in monitor.findings
        ],
        "shared": shared_report(monitor),
        "cache": {
            "entries": monitor.cache_stats().entries,
            "hits": monitor.cache_stats().hits,
            "misses": monitor.cache_stats().misses,
        },
    }


def plaintext_token(monitor: PortalMonitor, instance: str) -> bool:
    """Whether ``instance``'s token crosses the network unencrypted (never in the demo,
    whose upstream is in-process)."""
    found = [i for i in monitor.config.instances if i.name == instance]
    return bool(found) and found[0].plaintext_token and not monitor.demo


def transport_warnings(monitor: PortalMonitor) -> list[str]:
    """One line per instance whose token is unprotected on the wire (for stderr)."""
    lines = []
    for inst in monitor.config.instances:
        if plaintext_token(monitor, inst.name):
            lines.append(
                f"WARNING: instance {inst.name}: base_url {inst.base_url} is plain http:// to a "
                "host that is not loopback: the bearer token crosses the network UNENCRYPTED "
                "(use https://)"
            )
        if not inst.verify_tls:
            lines.append(
                f"WARNING: instance {inst.name}: TLS certificate verification is OFF "
                "(verify_tls = false): the token goes to whoever answers"
            )
    return lines


def shared_report(monitor: PortalMonitor) -> dict[str, Any]:
    """The shared tier: which, whether it works, and where each dashboard's data came from."""
    status = monitor.shared_status()
    return {
        "tier": status.kind,
        "where": status.where or None,
        "healthy": status.healthy,
        "problem": status.detail,
        "down_since": status.since.isoformat() if status.since else None,
        "label": status.label,
        "fetched_here": status.fetched_here,
        "served_by_tier": status.served,
        "fetched_here_as_fallback": status.fallbacks,
        "dashboards": {name: dict(counts) for name, counts in monitor.sources.items()},
    }


def print_human(report: dict[str, Any], out: TextIO | None = None) -> None:
    """A summary that reads well in a terminal or a cron mail (default: stdout)."""
    # sys.stdout looked up now, not at import: it may have been replaced since.
    out = out or sys.stdout
    demo = " [DEMO: built-in simulator]" if report["demo"] else ""
    health = report["health"]
    out.write(f"portal-tui check: {report['status']} (health {health['score']}/100){demo}\n")
    for reason in health["reasons"]:
        out.write(f"  - {reason}\n")
    out.write("\n")
    header = (
        f"{'DASHBOARD':<15} {'STATE':<28} {'AGE':>7} {'ROWS':>5} "
        f"{'FAILED':>6} {'WARN':>5} {'INVALID':>7}\n"
    )
    out.write(header)
    for name, board in report["dashboards"].items():
        failed = len({(f["instance"], f["workspace"]) for f in board["failed_workspaces"]})
        warns = sum(len(v) for v in board["warnings"].values())
        out.write(
            f"{title_of(name):<15} {board['label']:<28} "
            f"{format_age(board['age_seconds']):>7} {board['rows']:>5} {failed:>6} "
            f"{warns:>5} {len(board['validation_errors']):>7}\n"
        )
    for inst in report["instances"]:
        line = f"\ninstance {inst['name']}: breaker {inst['breaker']}"
        if inst["next_probe_at"]:
            line += f", next probe {inst['next_probe_at']}"
        if inst["unreachable"]:
            line += f"; UPSTREAM UNREACHABLE: {inst['unreachable']}"
        if not inst.get("verify_tls", True):
            line += "; TLS VERIFICATION OFF (verify_tls = false in the config)"
        if inst.get("plaintext_token"):
            line += "; TOKEN SENT UNENCRYPTED (plain http:// to a non-loopback host)"
        out.write(line + "\n")
    failures = [
        (name, f)
        for name, board in report["dashboards"].items()
        for f in board["failed_workspaces"]
    ]
    if failures:
        out.write("\nFailures:\n")
        for name, f in failures[:50]:
            code = f" {f['status_code']}" if f["status_code"] else ""
            who = f["workspace"] or f"(instance {f['instance']})"
            out.write(
                f"  {title_of(name):<15} {who:<30} {f['error_type']}{code}"
                f"  after {f['attempts']} attempt(s): {f['message']}\n"
            )
        if len(failures) > 50:
            out.write(f"  ... and {len(failures) - 50} more (use --json)\n")
    findings = [f for f in report.get("consistency_findings", []) if f["severity"] != "info"]
    if findings:
        out.write("\nConsistency findings:\n")
        for f in findings[:30]:
            out.write(f"  [{f['severity']}] {f['rule']}: {f['message']}\n")
        if len(findings) > 30:
            out.write(f"  ... and {len(findings) - 30} more (use --json)\n")
    req = report.get("requests")
    if req:
        out.write(
            f"\nrequests: {req['made']} made for {req['distinct_needed']} distinct; "
            f"{req['failed_attempts']} failed attempt(s); {req['duration_ms'] / 1000:.1f} s\n"
        )
    shared = report.get("shared")
    if shared and shared["tier"] != "off":
        line = shared["label"]
        by = (req or {}).get("distinct_by_source")
        if by:
            line += (
                f"; distinct requests: {by['here']} fetched here, {by['shared']} served by "
                f"the tier, {by['cache']} from cache"
            )
        out.write(line + "\n")


def print_json(report: dict[str, Any], out: TextIO | None = None) -> None:
    """The report as one JSON document (default: stdout)."""
    out = out or sys.stdout
    json.dump(report, out, indent=2, sort_keys=False)
    out.write("\n")
