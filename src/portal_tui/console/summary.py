"""Plain-text summaries for copying (``y``) and for the workspace detail screen.

Pure functions over the console's frozen view of the monitor: what an engineer
pastes into the incident channel must say the same as the screen, in words.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from portal_tui.console.columns import fields_for
from portal_tui.console.format import fmt_clock, fmt_duration
from portal_tui.console.render import failure_label, row_state
from portal_tui.console.render_status import (
    HEALTH_SYMBOLS,
    breaker_line,
    calls_summary,
    health_text,
    restored_suffix,
)
from portal_tui.console.state import ConsoleState
from portal_tui.console.table_model import Column, Row, RowWorkspace
from portal_tui.dashboards.registry import dashboard_names, title_of
from portal_tui.vocabulary.freshness import format_age
from portal_tui.vocabulary.names import DashboardName


def row_text(columns: Sequence[Column], row: Row) -> str:
    """One row as ``Label: value`` pairs on one line (what ``y`` copies)."""
    pairs = [
        f"{column.label}: {cell}"
        for column, cell in zip(columns, row.cells, strict=False)
        if cell.strip()
    ]
    return " | ".join(pairs)


def incident_summary(state: ConsoleState) -> str:
    """The Overview's ``y``: health, dashboards, instances and failures, for a chat message."""
    view = state.view
    now = state.now
    health = view.health
    lines = [
        f"portal-tui incident summary at {now:%Y-%m-%d %H:%M:%S}Z"
        + (" [DEMO: built-in simulator]" if state.demo else ""),
        health_text(health, view.restored_health, now),
    ]
    lines += [f"  - {reason}" for reason in health.reasons]
    if state.policy.paused:
        lines.append("auto-refresh PAUSED on this console")
    lines.append("Dashboards:")
    for name in dashboard_names():
        fresh = view.freshness(name)
        snap = view.snapshot(name)
        failed = len(snap.failed_workspaces) if snap else 0
        stale = snap.stale_rows if snap else 0
        lines.append(
            f"  {title_of(name):<15} {fresh.label:<30} age {fresh.age_text:>6}"
            f"  failed {failed}  stale rows {stale}"
        )
    for status in view.breakers:
        lines.append(breaker_line(status, now, view.unreachable.get(status.instance)))
    failing = view.failing
    if failing:
        lines.append(
            "Failing workspaces (after hysteresis): "
            + ", ".join(sorted(f"{ws} ({inst})" for inst, ws, _ in failing))
        )
    failures = [f for s in view.snapshots.values() for f in s.failures]
    if failures:
        lines.append("Failures in the last refresh:")
        for f in failures[:20]:
            who = f.workspace or f"(instance {f.instance})"
            lines.append(f"  {title_of(f.dashboard):<15} {who}: {failure_label(f)}")
        if len(failures) > 20:
            lines.append(f"  ... and {len(failures) - 20} more")
    lines.append(f"Requests: {calls_summary(view.calls, view.on_the_wire)}")
    return "\n".join(lines)


def workspace_detail(state: ConsoleState, ref: RowWorkspace) -> list[str]:
    """Everything known about one workspace across the four dashboards, as lines."""
    view = state.view
    now = state.now
    lines = [f"{ref.workspace}  (instance {ref.instance}, id {ref.workspace_id or '?'})", ""]
    for name in dashboard_names():
        snap = view.snapshot(name)
        title = title_of(name)
        if snap is None:
            lines += [f"── {title}: no data yet", ""]
            continue
        row = next(
            (r for r in snap.rows if _matches(ref, r.instance, r.workspace_id, r.workspace)), None
        )
        failures = [
            f for f in snap.failures if _matches(ref, f.instance, f.workspace_id, f.workspace)
        ]
        meta = snap.row_meta.get((row.instance, row.workspace_id)) if row else None
        warnings = snap.warnings.get(ref.workspace, [])
        state_cell = row_state(
            meta, warnings=warnings, failed=bool(failures), now=now, ttl=view.ttl(name)
        )
        age = format_age((now - meta.fetched_at).total_seconds()) if meta else "—"
        lines.append(
            f"── {title}: {state_cell.text}  (data age {age}, "
            f"dashboard {view.freshness(name).label})"
        )
        if row is not None:
            cells = [f"{spec.label} {spec.cell(row)[0]}" for spec in fields_for(name)]
            lines += _wrap(cells)
        for f in failures:
            lines.append(
                f"  ✗ {failure_label(f)} (failing since {fmt_clock(f.since, now)}; "
                f"request {f.request})"
            )
        lines += [f"  ▲ warning: {w}" for w in warnings]
        issues = [i for i in snap.issues if i.workspace == ref.workspace]
        lines += [
            f"  ✗ invalid ({i.severity.value}): {i.field_name}: expected {i.expected}, "
            f"got {i.actual or 'nothing'} — {i.message}"
            for i in issues
        ]
        lines.append("")
    calls = [c for c in view.calls if c.workspace == ref.workspace]
    if calls:
        lines.append("── Requests in flight")
        lines += [f"  {c.request}: {c.describe(now)}" for c in calls]
    return lines


def _matches(
    ref: RowWorkspace, instance: str, workspace_id: int | None, workspace: str | None
) -> bool:
    if instance != ref.instance:
        return False
    if ref.workspace_id is not None and workspace_id is not None:
        return workspace_id == ref.workspace_id
    return workspace == ref.workspace


def _wrap(cells: Sequence[str], width: int = 76) -> list[str]:
    lines: list[str] = []
    current = " "
    for cell in cells:
        if len(current) + len(cell) + 3 > width and current.strip():
            lines.append(current)
            current = " "
        current += f" {cell} ·"
    if current.strip():
        lines.append(current.rstrip(" ·"))
    return lines


def remaining_ttl(state: ConsoleState, name: DashboardName, now: datetime) -> str:
    """The pane bar's TTL note: ``TTL 2m, next in 1m30s``."""
    return f"TTL {fmt_duration(state.view.ttl(name))} · next: {state.next_refresh(name)}"


def header_subtitle(state: ConsoleState) -> str:
    """The header's subtitle: DEMO, what crosses the network unsafely, the health (restored
    while this console has not refreshed), PAUSED, what is refreshing (fits 80 columns)."""
    view = state.view
    health = view.health
    parts = ["DEMO"] if state.demo else []
    # On every pane, not only the Overview's banners: these never go away by themselves.
    if state.plaintext_token():
        parts.append("⚠ TOKEN UNENCRYPTED")
    if state.tls_off():
        parts.append("⚠ TLS OFF")
    if health.status == "UNKNOWN":
        parts.append(f"health {HEALTH_SYMBOLS['UNKNOWN']} UNKNOWN until the first refresh")
    else:
        parts.append(
            f"health {health.score} {HEALTH_SYMBOLS[health.status]} {health.status}"
            + restored_suffix(view.restored_health, state.now)
        )
    if state.policy.paused:
        parts.append("⏸ PAUSED")
    if view.refreshing:
        parts.append(f"↻ refreshing {len(view.refreshing)}/{len(dashboard_names())}")
    return " · ".join(parts)
