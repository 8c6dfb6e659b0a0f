"""Consistency findings and rules → table rows. Pure functions.

Every severity is a word with a symbol (``✖ critical``, ``✗ error``,
``▲ warning``, ``· info``); the table says when a finding was first and
last seen and in how many refresh cycles.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from portal_tui.consistency import OpenFinding, Rule
from portal_tui.console.format import fmt_clock
from portal_tui.console.table_model import Column, RowWorkspace, TableRow, Tone
from portal_tui.vocabulary.freshness import format_age
from portal_tui.vocabulary.names import Severity

SEVERITY_SYMBOLS = {
    Severity.CRITICAL: "✖",
    Severity.ERROR: "✗",
    Severity.WARNING: "▲",
    Severity.INFO: "·",
}
_SEVERITY_TONES: dict[Severity, Tone] = {
    Severity.CRITICAL: "bad",
    Severity.ERROR: "bad",
    Severity.WARNING: "warn",
    Severity.INFO: "muted",
}
_SEVERITY_RANK = {s: i for i, s in enumerate(SEVERITY_SYMBOLS)}


def severity_text(severity: Severity) -> str:
    """``✗ error``."""
    return f"{SEVERITY_SYMBOLS[severity]} {severity.value}"


FINDING_COLUMNS = (
    Column("severity", "Severity", max_width=11, pinned=True),
    Column("rule", "Rule", max_width=20, pinned=True),
    Column("subject", "Subject", max_width=30),
    Column("message", "Finding", max_width=70),
    Column("scope", "Scope", max_width=16),
    Column("first", "First seen", max_width=22),
    Column("last", "Last seen", max_width=22),
    Column("seen", "Cycles", align="right", numeric=True),
)


def finding_rows(
    findings: Sequence[OpenFinding], now: datetime, instances: Sequence[str] = ()
) -> list[TableRow]:
    """One row per open finding, in the monitor's order (most severe, then oldest, first)."""
    rows: list[TableRow] = []
    for f in findings:
        first_age = format_age((now - f.first_seen).total_seconds())
        last_age = format_age((now - f.last_seen).total_seconds())
        rows.append(
            TableRow(
                key="/".join(f.key),
                cells=(
                    severity_text(f.severity),
                    f.rule,
                    f.subject,
                    f.message,
                    f.scope,
                    f"{fmt_clock(f.first_seen, now)} ({first_age})",
                    f"{fmt_clock(f.last_seen, now)} ({last_age})",
                    str(f.occurrences),
                ),
                sort_values=(
                    _SEVERITY_RANK[f.severity],
                    f.rule,
                    f.subject,
                    f.message,
                    f.scope,
                    f.first_seen,
                    f.last_seen,
                    f.occurrences,
                ),
                tones=(_SEVERITY_TONES[f.severity],),
                workspace=_workspace_of(f.subject, instances),
            )
        )
    return rows


def _workspace_of(subject: str, instances: Sequence[str]) -> RowWorkspace | None:
    """``instance/workspace`` subjects lead to the workspace detail."""
    instance, sep, workspace = subject.partition("/")
    if sep and instance in instances and workspace:
        return RowWorkspace(instance, workspace)
    return None


RULE_COLUMNS = (
    Column("rule", "Rule", max_width=22, pinned=True),
    Column("severity", "Up to", max_width=11),
    Column("open", "Open", align="right", numeric=True),
    Column("source", "Checked against", max_width=70),
)


def rule_rows(rules: Sequence[Rule], findings: Sequence[OpenFinding]) -> list[TableRow]:
    """Every rule, the worst severity it reports, its open findings and its source of truth."""
    rows: list[TableRow] = []
    for rule in rules:
        open_count = sum(1 for f in findings if f.rule == rule.name)
        rows.append(
            TableRow(
                key=rule.name,
                cells=(rule.name, severity_text(rule.severity), str(open_count), rule.source),
                sort_values=(rule.name, _SEVERITY_RANK[rule.severity], open_count, rule.source),
                tones=("", "", "bad" if open_count else "good"),
            )
        )
    return rows


def findings_summary(findings: Sequence[OpenFinding]) -> str:
    """``2 open: ✗ error 1 · ▲ warning 1`` or ``✔ no open findings``."""
    if not findings:
        return "✔ no open findings"
    parts = [
        f"{severity_text(s)} {n}"
        for s in SEVERITY_SYMBOLS
        if (n := sum(1 for f in findings if f.severity is s))
    ]
    return f"{len(findings)} open: " + " · ".join(parts)
