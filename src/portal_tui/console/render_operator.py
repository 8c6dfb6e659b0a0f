"""Operator actions, a verify run and a finding's detail → text and rows. Pure functions.

The finding view shows everything about one finding, wrapped and never cut:
its whole message, the workspaces it affects, first/last seen, occurrences,
its acknowledgement and the redacted evidence payload it was raised on.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from portal_tui.consistency import OpenFinding
from portal_tui.console.format import fmt_clock
from portal_tui.console.table_model import Column, TableRow
from portal_tui.store.operator_records import FindingAck, OperatorAction
from portal_tui.vocabulary.freshness import format_age

if TYPE_CHECKING:
    from portal_tui.engine.verification import VerifyRun

OPERATOR_COLUMNS = (
    Column("at", "When", max_width=22),
    Column("who", "Who", max_width=16),
    Column("action", "Action", max_width=18),
    Column("detail", "What", max_width=70),
)


def operator_rows(actions: Sequence[OperatorAction], now: datetime) -> list[TableRow]:
    """Operator actions, newest first."""
    rows: list[TableRow] = []
    for n, a in enumerate(reversed(actions)):
        age = format_age((now - a.at).total_seconds())
        rows.append(
            TableRow(
                key=f"{a.at.timestamp()}/{n}",
                cells=(f"{fmt_clock(a.at, now)} ({age})", a.who, a.action, a.detail),
                sort_values=(-a.at.timestamp(), a.who, a.action, a.detail),
            )
        )
    return rows


def verify_lines(run: VerifyRun) -> list[str]:
    """A verify run as lines: the verdict, then one line per dashboard (and its differences)."""
    at = f"{run.run_at.astimezone(UTC):%H:%M:%S}Z"
    lines = [f"── verify at {at}: {run.status}"]
    for v in run.verdicts:
        said = f" — {v.message}" if v.message else ""
        lines.append(f"  {v.dashboard.value}: {v.status}{said}")
        lines += [f"      {d}" for d in v.differences]
    if not run.verdicts:
        lines.append("  nothing recorded for this workspace to compare")
    return lines


def affected_workspaces(finding: OpenFinding, known: Sequence[tuple[str, str]]) -> list[str]:
    """``instance/workspace`` of every known workspace the finding's subject or message names."""
    text = f"{finding.subject}\n{finding.message}"
    found = [
        f"{instance}/{name}"
        for instance, name in known
        if f"{instance}/{name}" in text or f"{name}:" in text or f"'{name}'" in text
    ]
    return sorted(set(found))


def finding_lines(
    finding: OpenFinding,
    now: datetime,
    *,
    affected: Sequence[str],
    ack: FindingAck | None,
    evidence: str | None,
    evidence_state: str = "",
) -> list[str]:
    """The finding view's text (the Static wraps it to the screen: nothing is cut)."""
    first = format_age((now - finding.first_seen).total_seconds())
    last = format_age((now - finding.last_seen).total_seconds())
    lines = [
        f"{finding.severity.value.upper()} · rule {finding.rule} · scope {finding.scope}",
        f"Subject: {finding.subject}",
        "",
        finding.message,
        "",
        f"Affected workspaces: {', '.join(affected) if affected else '— (not workspace-level)'}",
        f"First seen: {fmt_clock(finding.first_seen, now)} ({first} ago)",
        f"Last seen:  {fmt_clock(finding.last_seen, now)} ({last} ago)",
        f"Occurrences: {finding.occurrences} cycle(s)",
    ]
    if ack is not None:
        age = format_age((now - ack.at).total_seconds())
        lines.append(f"Acknowledged by {ack.who} {age} ago: {ack.note}")
    else:
        lines.append("Not acknowledged (a acknowledges with a note)")
    lines += ["", "── Evidence (redacted)"]
    if evidence is None:
        lines.append(evidence_state or "no evidence recorded for this finding")
    else:
        lines += pretty(evidence).splitlines()
    return lines


def pretty(evidence: str) -> str:
    """Evidence JSON indented (as stored when it was clipped: not JSON any more)."""
    try:
        return json.dumps(json.loads(evidence), indent=2, ensure_ascii=False)
    except ValueError:
        return evidence


ACK_COLUMN = Column("ack", "Acknowledged", max_width=50)


def with_acks(
    rows: list[TableRow],
    findings: Sequence[OpenFinding],
    ack_of: Callable[[tuple[str, str, str]], FindingAck | None],
) -> list[TableRow]:
    """Finding rows with their acknowledgement: ``✓`` before the severity and a last
    ``Acknowledged`` cell (``who: note``); rows in the order of ``findings``."""
    by_key = {"/".join(f.key): f for f in findings}
    for row in rows:
        finding = by_key.get(row.key)
        ack = ack_of(finding.key) if finding is not None else None
        cell = f"{ack.who}: {ack.note}" if ack is not None else ""
        cells = list(row.cells)
        if ack is not None and cells:
            cells[0] = f"✓{cells[0]}"
        row.cells = (*cells, cell)
        row.sort_values = (*row.sort_values, cell)
        row.search = f"{row.search} {cell.casefold()}" if cell else row.search
    return rows
