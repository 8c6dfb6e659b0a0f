"""Monitor state → rows for the Overview, Failures and History panes. Pure functions.

Words and symbols carry every state (``● closed``, ``↻ retrying``,
``✖ CRITICAL``); tones only add colour on top.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from portal_tui.console.format import NONE, clip, fmt_clock, fmt_int, fmt_ms, fmt_pct
from portal_tui.console.render import row_key
from portal_tui.console.table_model import Column, RowWorkspace, TableRow, Tone
from portal_tui.dashboards.registry import pane_position, title_of
from portal_tui.dashboards.snapshot import DashboardSnapshot, WorkspaceFailure
from portal_tui.engine.verdict import Verdict
from portal_tui.fetch.breaker import BreakerState, BreakerStatus
from portal_tui.fetch.events import CallPhase, RetryStatus
from portal_tui.store.health_records import RecordedHealth
from portal_tui.store.records import WorkspaceHistory
from portal_tui.vocabulary.freshness import Freshness, FreshnessState, Overlay, format_age
from portal_tui.vocabulary.names import DashboardName
from portal_tui.vocabulary.trend import sparkline

HEALTH_SYMBOLS = {"OK": "✔", "WARNING": "▲", "CRITICAL": "✖", "UNKNOWN": "?"}
BREAKER_SYMBOLS = {BreakerState.CLOSED: "●", BreakerState.OPEN: "✖", BreakerState.HALF_OPEN: "◐"}
PHASE_SYMBOLS = {
    CallPhase.IN_FLIGHT: "→",
    CallPhase.RETRYING: "↻",
    CallPhase.FAILED: "✗",
    CallPhase.SUCCEEDED: "✔",
}


def health_text(
    report: Verdict, restored: RecordedHealth | None = None, now: datetime | None = None
) -> str:
    """``Health 50/100 ✖ CRITICAL``; while nothing of this process's own is recorded yet,
    with the age of the records it comes from: ``… · restored, last cycle 3m ago``."""
    if report.status == "UNKNOWN":
        return f"Health {HEALTH_SYMBOLS['UNKNOWN']} UNKNOWN"
    text = f"Health {report.score}/100 {HEALTH_SYMBOLS[report.status]} {report.status}"
    return text + restored_suffix(restored, now)


def restored_suffix(restored: RecordedHealth | None, now: datetime | None) -> str:
    """`` · restored, last cycle 3m ago`` for a verdict read from older records, else empty."""
    if restored is None or now is None:
        return ""
    age = format_age(max(0.0, (now - restored.at).total_seconds()))
    return f" · restored, last cycle {age} ago"


_HEALTH_TONES: dict[str, Tone] = {
    "OK": "good",
    "WARNING": "warn",
    "CRITICAL": "bad",
    "UNKNOWN": "muted",
}


def health_tone(report: Verdict) -> Tone:
    """Colour cue for the health line."""
    return _HEALTH_TONES.get(report.status, "bad")


def freshness_tone(fresh: Freshness) -> Tone:
    """Colour cue for a dashboard state."""
    if Overlay.ERROR in fresh.overlays or fresh.state is FreshnessState.EXPIRED:
        return "bad"
    if fresh.state is FreshnessState.FRESH:
        return "warn" if Overlay.WARNING in fresh.overlays else "good"
    return "muted" if fresh.state is FreshnessState.NO_DATA else "warn"


OVERVIEW_COLUMNS = (
    Column("dashboard", "Dashboard", max_width=14, pinned=True),
    Column("age", "Age", align="right", max_width=8),
    Column("state", "State", max_width=40),
    Column("rows", "Rows", align="right", numeric=True),
    Column("failed", "Fail", align="right", numeric=True),
    Column("stale", "Stale", align="right", numeric=True),
    Column("warn", "Warn", align="right", numeric=True),
    Column("invalid", "Inval", align="right", numeric=True),
    Column("next", "Next", max_width=14),
)


def overview_row(
    name: DashboardName,
    snap: DashboardSnapshot | None,
    fresh: Freshness,
    next_refresh: str,
    loading: str | None = None,
) -> TableRow:
    """One dashboard on the Overview: state word and symbol, age, counts, next refresh.

    ``loading``: a cold refresh's progress (``loading 12/27``), shown as the state
    while the dashboard has no data yet."""
    rows = len(snap.rows) if snap else 0
    failed = len(snap.failed_workspaces) if snap else 0
    stale = snap.stale_rows if snap else 0
    warn = snap.warning_count if snap else 0
    invalid = len(snap.issues) if snap else 0
    label = fresh.label + (" (restored)" if snap is not None and snap.restored else "")
    if snap is None and loading is not None:
        label = f"↻ {loading}"
    return TableRow(
        key=name.value,
        cells=(
            title_of(name),
            fresh.age_text,
            label,
            fmt_int(rows),
            fmt_int(failed),
            fmt_int(stale),
            fmt_int(warn),
            fmt_int(invalid),
            next_refresh,
        ),
        sort_values=(
            pane_position(name),
            fresh.age if fresh.age is not None else float("inf"),
            fresh.label,
            rows,
            failed,
            stale,
            warn,
            invalid,
            next_refresh,
        ),
        tones=("", "", freshness_tone(fresh), "", "bad" if failed else "", "warn" if stale else ""),
        target=name.value,
    )


def breaker_line(status: BreakerStatus, now: datetime, unreachable: str | None) -> str:
    """``instance demo: breaker ● closed · upstream reachable``."""
    text = f"instance {status.instance}: breaker {breaker_text(status)}"
    if status.next_probe_at is not None:
        wait = max(0.0, (status.next_probe_at - now).total_seconds())
        text += f" · next probe {fmt_clock(status.next_probe_at)} (in {wait:.0f} s)"
    if status.consecutive_failures:
        text += f" · {status.consecutive_failures} failure(s) in a row"
    text += f" · ✖ UPSTREAM UNREACHABLE: {unreachable}" if unreachable else " · upstream reachable"
    return text


def breaker_text(status: BreakerStatus) -> str:
    """``● closed``, ``✖ open``, ``◐ half-open``."""
    return f"{BREAKER_SYMBOLS[status.state]} {status.state.value}"


FAILURE_COLUMNS = (
    Column("workspace", "Workspace", max_width=24, pinned=True),
    Column("dashboard", "Dashboard", max_width=14),
    Column("error", "Error", max_width=12),
    Column("status", "Status", align="right", numeric=True),
    Column("attempts", "Tries", align="right", numeric=True),
    Column("since", "Failing since", max_width=22),
    Column("message", "Last error", max_width=60),
    Column("request", "Request", max_width=50),
)


def failure_rows(snapshots: Iterable[DashboardSnapshot], now: datetime) -> list[TableRow]:
    """Every (workspace × dashboard) failure of the last refresh of each dashboard."""
    rows: list[TableRow] = []
    for snap in snapshots:
        for f in snap.failures:
            rows.append(_failure_row(f, now))
    rows.sort(key=lambda r: (str(r.sort_values[0]).casefold(), r.sort_values[1]))
    return rows


def _failure_row(f: WorkspaceFailure, now: datetime) -> TableRow:
    who = f.workspace or f"(instance {f.instance})"
    age = format_age((now - f.since).total_seconds())
    return TableRow(
        key=f"{row_key(f.instance, f.workspace_id, f.workspace)}/{f.dashboard.value}",
        cells=(
            f"✗ {who}",
            title_of(f.dashboard),
            f.error_type,
            str(f.status_code) if f.status_code else NONE,
            str(f.attempts),
            f"{fmt_clock(f.since, now)} ({age})",
            f.message,
            f.request,
        ),
        sort_values=(
            who,
            pane_position(f.dashboard),
            f.error_type,
            f.status_code,
            f.attempts,
            f.since,
            f.message,
            f.request,
        ),
        tones=("bad",),
        workspace=RowWorkspace(f.instance, f.workspace, f.workspace_id) if f.workspace else None,
    )


CALL_COLUMNS = (
    Column("workspace", "Workspace", max_width=24, pinned=True),
    Column("phase", "Phase", max_width=12),
    Column("detail", "Status", max_width=44),
    Column("dashboards", "For", max_width=30),
    Column("request", "Request", max_width=50),
)

_PHASE_ORDER = {CallPhase.RETRYING: 0, CallPhase.FAILED: 1, CallPhase.IN_FLIGHT: 2}
_PHASE_TONES: dict[CallPhase, Tone] = {CallPhase.RETRYING: "warn", CallPhase.FAILED: "bad"}


def call_rows(calls: Sequence[RetryStatus], now: datetime) -> list[TableRow]:
    """In-flight and retrying requests, retrying first (``retry 2/4 in 3 s, 503``)."""
    ordered = sorted(
        calls, key=lambda c: (_PHASE_ORDER.get(c.phase, 3), c.workspace or "", c.request)
    )
    rows: list[TableRow] = []
    for index, call in enumerate(ordered):
        tone = _PHASE_TONES.get(call.phase, "")
        who = call.workspace or f"(instance {call.instance})"
        rows.append(
            TableRow(
                key=f"{call.instance}/{who}/{call.request}/{index}",
                cells=(
                    who,
                    f"{PHASE_SYMBOLS[call.phase]} {call.phase.value}",
                    clip(call.describe(now), 60),
                    ", ".join(call.dashboards),
                    call.request,
                ),
                sort_values=(
                    who,
                    _PHASE_ORDER.get(call.phase, 3),
                    call.describe(now),
                    ",".join(call.dashboards),
                    call.request,
                ),
                tones=("", tone, tone),
                workspace=RowWorkspace(call.instance, call.workspace) if call.workspace else None,
            )
        )
    return rows


def calls_summary(calls: Sequence[RetryStatus], on_the_wire: int | None = None) -> str:
    """``5 in flight · 16 waiting · 3 retrying`` (or ``no requests in flight``; no
    ``waiting`` part when nothing waits).

    "In flight" is what holds a concurrency slot (``on_the_wire``, from the
    limiters): at most the configured concurrency. The other started requests
    wait for a slot or for their workspace's session.
    """
    if not calls:
        return "no requests in flight"
    retrying = sum(1 for c in calls if c.phase is CallPhase.RETRYING)
    started = sum(1 for c in calls if c.phase is CallPhase.IN_FLIGHT)
    flying = started if on_the_wire is None else min(on_the_wire, started)
    waiting = started - flying
    queued = f" · {waiting} waiting" if waiting else ""
    return f"{flying} in flight{queued} · {retrying} retrying"


HISTORY_COLUMNS = (
    Column("workspace", "Workspace", max_width=24, pinned=True),
    Column("instance", "Instance", max_width=12),
    Column("calls", "Calls", align="right", numeric=True),
    Column("ok", "OK%", align="right", numeric=True),
    Column("p50", "p50", align="right", numeric=True),
    Column("p95", "p95", align="right", numeric=True),
    Column("max", "Max", align="right", numeric=True),
    Column("trend", "Response times", width=20),
    Column("errors", "Errors", max_width=30),
    Column("last", "Last error", max_width=60),
)


def history_rows(history: Sequence[WorkspaceHistory]) -> list[TableRow]:
    """Per-workspace success rate, p50/p95 and a response-time sparkline, worst first."""
    rows: list[TableRow] = []
    for h in history:
        who = h.workspace or f"(instance {h.instance})"
        errors = ", ".join(f"{k} {v}" for k, v in sorted(h.errors_by_type.items())) or NONE
        rate = h.success_rate * 100
        tone: Tone = "good" if rate >= 99 else ("warn" if rate >= 80 else "bad")
        rows.append(
            TableRow(
                key=f"{h.instance}/{who}",
                cells=(
                    who,
                    h.instance,
                    fmt_int(h.calls),
                    fmt_pct(rate, 1),
                    fmt_ms(h.p50_ms),
                    fmt_ms(h.p95_ms),
                    fmt_ms(h.max_ms),
                    sparkline(h.recent_ms, 20),
                    errors,
                    h.last_error or NONE,
                ),
                sort_values=(
                    who.casefold(),
                    h.instance,
                    h.calls,
                    rate,
                    h.p50_ms,
                    h.p95_ms,
                    h.max_ms,
                    h.p95_ms,
                    h.failures,
                    h.last_error or "",
                ),
                tones=("", "", "", tone),
                workspace=RowWorkspace(h.instance, h.workspace) if h.workspace else None,
            )
        )
    return rows
