"""Dashboard snapshots → table rows. Pure functions: no Textual, no I/O.

Every row's first cell says its state in a word and a symbol: ``✔ ok``,
``▲ warn``, ``◐ stale 12m`` (kept from an earlier refresh because its
workspace failed, with that data's own age) or ``✗ failed`` (failed and no
earlier data). Failed workspaces without data still get a row, so a pane
never hides a failure by leaving a workspace out.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from portal_tui.console.columns import MAILBOX_COLUMNS, fields_for, totals_line
from portal_tui.console.format import NONE
from portal_tui.console.table_model import Column, RowWorkspace, TableRow, Tone
from portal_tui.dashboards.snapshot import DashboardSnapshot, RowMeta, WorkspaceFailure
from portal_tui.vocabulary.freshness import EXPIRED_AFTER, FreshnessState, classify, format_age
from portal_tui.vocabulary.names import DashboardName

STATE_OK = "✔ ok"
STATE_WARN = "▲ warn"
STATE_FAILED = "✗ failed"

# Sort rank of a row's state: worst first when sorting by the state column.
_RANK_FAILED, _RANK_STALE, _RANK_WARN, _RANK_OK = 0, 1, 2, 3


@dataclass(frozen=True, slots=True)
class RowState:
    """A workspace row's state as shown in its first cell."""

    text: str
    tone: Tone
    rank: int


def row_state(
    meta: RowMeta | None,
    *,
    warnings: Sequence[str],
    failed: bool,
    now: datetime,
    ttl: float,
) -> RowState:
    """The state cell of one workspace row."""
    if meta is None:
        return RowState(STATE_FAILED, "bad", _RANK_FAILED) if failed else RowState(NONE, "", 9)
    if meta.stale:
        age = max(0.0, (now - meta.fetched_at).total_seconds())
        state = classify(age, ttl)
        if state is FreshnessState.FRESH:
            state = FreshnessState.STALE  # its refresh failed: not fresh, whatever its age
        tone: Tone = "bad" if age > EXPIRED_AFTER else "warn"
        rank = _RANK_FAILED if failed else _RANK_STALE
        return RowState(f"{state.symbol} {state.value} {format_age(age)}", tone, rank)
    if warnings:
        return RowState(STATE_WARN, "warn", _RANK_WARN)
    return RowState(STATE_OK, "good", _RANK_OK)


def workspace_columns(name: DashboardName, *, show_instance: bool = False) -> list[Column]:
    """State, workspace (and instance when there are several), then the dashboard's fields."""
    columns = [
        Column("state", "State", max_width=16, pinned=True),
        Column("workspace", "Workspace", max_width=26, pinned=True),
    ]
    if show_instance:
        columns.append(Column("instance", "Instance", max_width=14))
    columns.extend(spec.column() for spec in fields_for(name))
    return columns


def row_key(instance: str, workspace_id: int | None, workspace: str | None = None) -> str:
    """The stable key of a workspace row (cursor position survives repaints by it)."""
    return f"{instance}/{workspace_id if workspace_id is not None else workspace}"


def workspace_rows(
    snap: DashboardSnapshot | None,
    *,
    now: datetime,
    ttl: float,
    show_instance: bool = False,
) -> list[TableRow]:
    """One row per workspace of ``snap``: failed first, then stale, then warned, then the rest,
    each group in the dashboard's ranked order (the failing workspace is never row 27)."""
    if snap is None:
        return []
    fields = fields_for(snap.name)
    failures = {(f.instance, f.workspace_id): f for f in snap.failures if f.workspace}
    rows: list[TableRow] = []
    seen: set[tuple[str, int | None]] = set()
    for row in snap.rows:
        key = row.key
        seen.add(key)
        warnings = snap.warnings.get(row.workspace, [])
        state = row_state(
            snap.row_meta.get(key), warnings=warnings, failed=key in failures, now=now, ttl=ttl
        )
        rows.append(
            _workspace_row(
                row.instance, row.workspace_id, row.workspace, state, show_instance, row, fields
            )
        )
    for failed_key, failure in failures.items():
        if failed_key in seen or failure.workspace is None:
            continue
        state = row_state(None, warnings=(), failed=True, now=now, ttl=ttl)
        rows.append(
            _workspace_row(
                failure.instance,
                failure.workspace_id,
                failure.workspace,
                state,
                show_instance,
                None,
                fields,
            )
        )
    rows.sort(key=lambda r: r.sort_values[0])  # stable: the rank holds within each state
    return rows


def _workspace_row(
    instance: str,
    workspace_id: int | None,
    workspace: str,
    state: RowState,
    show_instance: bool,
    row: Any,
    fields: Sequence[Any],
) -> TableRow:
    cells = [state.text, workspace]
    sorts: list[Any] = [state.rank, workspace.casefold()]
    tones: list[Tone] = [state.tone, ""]
    if show_instance:
        cells.append(instance)
        sorts.append(instance)
        tones.append("")
    for spec in fields:
        text, value = spec.cell(row) if row is not None else (NONE, None)
        cells.append(text)
        sorts.append(value)
        tones.append("")
    return TableRow(
        key=row_key(instance, workspace_id, workspace),
        cells=tuple(cells),
        sort_values=tuple(sorts),
        tones=tuple(tones),
        workspace=RowWorkspace(instance, workspace, workspace_id),
    )


def mailbox_columns() -> list[Column]:
    """The mailbox table's columns (fixed widths)."""
    return list(MAILBOX_COLUMNS)


@dataclass(slots=True)
class PaneNotes:
    """Lines a dashboard pane shows above its table: totals and instance-level failures."""

    totals: str = ""
    problems: list[str] = field(default_factory=list)


def pane_notes(snap: DashboardSnapshot | None, now: datetime) -> PaneNotes:
    """Totals line and instance-level failures ("upstream unreachable") of one dashboard."""
    notes = PaneNotes()
    if snap is None:
        return notes
    notes.totals = totals_line(snap.name, snap.totals, now)
    for failure in snap.failures:
        if failure.workspace is None:
            notes.problems.append(f"✗ instance {failure.instance}: {failure_label(failure)}")
    if snap.error:
        notes.problems.append(f"✗ {snap.error}")
    return notes


def failure_label(failure: WorkspaceFailure) -> str:
    """``5xx 503 after 4 attempts: HTTP 503 ...``."""
    return f"{failure.label} after {failure.attempts} attempt(s): {failure.message}"
